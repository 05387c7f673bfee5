//! `QIOChannelFile`: a channel over a file, pipe or character device descriptor
//! (QEMU's `io/channel-file.c`).

use std::ffi::CString;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;

use crate::io::channel::{Base, Channel, ChannelImpl, Feature, RecvFds};
use crate::io::fd::{self, FdSlot};
use crate::io::watch::{Condition, Readiness};
use crate::{Error, Result};

/// The file channel's state: its descriptor.
pub struct File {
    fd: FdSlot,
}

impl File {
    /// A channel owning `fd` (`qio_channel_file_new_fd`); seekable if `lseek` works on it.
    pub fn new_channel(fd: OwnedFd) -> Arc<Channel<File>> {
        // SAFETY: lseek on a descriptor we own.
        let seekable =
            unsafe { libc::lseek(std::os::fd::AsRawFd::as_raw_fd(&fd), 0, libc::SEEK_CUR) } >= 0;
        let features: &[Feature] = if seekable { &[Feature::Seekable] } else { &[] };
        Channel::with_features(
            File {
                fd: FdSlot::new(Some(fd)),
            },
            features,
        )
    }

    /// The descriptor's number now (-1 after close); the channel keeps owning it.
    pub fn raw_fd(&self) -> RawFd {
        self.fd.raw()
    }

    /// A channel owning a duplicate of `fd` (`qio_channel_file_new_dupfd`).
    pub fn new_dupfd(fd: BorrowedFd<'_>) -> Result<Arc<Channel<File>>> {
        let dup = fd.try_clone_to_owned().map_err(|e| {
            Error::os(
                &format!("Could not dup FD {}", std::os::fd::AsRawFd::as_raw_fd(&fd)),
                e.raw_os_error().unwrap_or(0),
            )
        })?;
        Ok(File::new_channel(dup))
    }

    /// A channel on the file at `path` opened with `open(2)` `flags` (close-on-exec is
    /// added) and `mode` (`qio_channel_file_new_path`).
    pub fn new_path(path: &Path, flags: i32, mode: u32) -> Result<Arc<Channel<File>>> {
        let verb = if flags & libc::O_CREAT != 0 {
            "create"
        } else {
            "open"
        };
        let failed = |errno| Error::os(&format!("Could not {verb} '{}'", path.display()), errno);
        let c_path = CString::new(path.as_os_str().as_bytes()).map_err(|_| failed(libc::EINVAL))?;
        let raw = fd::retry_errno(|| {
            // SAFETY: a NUL-terminated path; the mode is read only with O_CREAT.
            unsafe { libc::open(c_path.as_ptr(), flags | libc::O_CLOEXEC, mode) as isize }
        })
        .map_err(failed)?;
        // SAFETY: open returned a new descriptor we now own.
        Ok(File::new_channel(unsafe {
            OwnedFd::from_raw_fd(raw as RawFd)
        }))
    }
}

impl ChannelImpl for File {
    fn readv(&self, iov: &mut [IoSliceMut<'_>], _: RecvFds<'_>, _: u32) -> Result<usize> {
        self.fd.readv(iov, "Unable to read from file")
    }

    fn writev(&self, iov: &[IoSlice<'_>], _: &[BorrowedFd<'_>], _: u32) -> Result<usize> {
        self.fd.writev(iov, "Unable to write to file")
    }

    fn set_blocking(&self, enabled: bool) -> Result<()> {
        self.fd.with(|fd| fd::set_blocking(fd, enabled))
    }

    fn close(&self, _: &Base) -> Result<()> {
        fd::close(self.fd.take(), "Unable to close file")
    }

    fn readiness(&self, _: Condition) -> Readiness {
        Readiness::Fd(self.fd.raw())
    }

    fn positioned_io(&self) -> bool {
        true
    }

    fn preadv(&self, iov: &mut [IoSliceMut<'_>], offset: i64) -> Result<usize> {
        self.fd.with(|fd| {
            // SAFETY: IoSliceMut is ABI-compatible with iovec; the buffers are writable.
            fd::retry("Unable to read from file", || unsafe {
                libc::preadv(fd, iov.as_ptr().cast(), iov.len() as i32, offset)
            })
        })
    }

    fn pwritev(&self, iov: &[IoSlice<'_>], offset: i64) -> Result<usize> {
        self.fd.with(|fd| {
            // SAFETY: IoSlice is ABI-compatible with iovec; the buffers are readable.
            fd::retry("Unable to write to file", || unsafe {
                libc::pwritev(fd, iov.as_ptr().cast(), iov.len() as i32, offset)
            })
        })
    }

    fn seek(&self, offset: i64, whence: i32) -> Result<i64> {
        self.fd.with(|fd| {
            // SAFETY: lseek on a descriptor number; failures are reported.
            match unsafe { libc::lseek(fd, offset, whence) } {
                -1 => Err(Error::os(
                    &format!("Unable to seek to offset {offset} whence {whence} in file"),
                    fd::errno(),
                )),
                pos => Ok(pos),
            }
        })
    }
}
