//! What the descriptor-based channels (socket, file, command) share: the descriptor
//! slot that keeps `close` from racing I/O, and the system calls, retried on `EINTR`,
//! with `EAGAIN` mapped to [`ErrorKind::WouldBlock`](crate::ErrorKind::WouldBlock).

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};
use std::sync::{PoisonError, RwLock};

use crate::{Error, Result};

/// A channel's descriptor. I/O runs with the slot read-locked, so `close` (which takes
/// the descriptor out under the write lock) waits for I/O in flight instead of letting
/// the number be reused under it. Once closed, calls see -1 and fail with `EBADF`, the
/// error QEMU's channels give.
pub(crate) struct FdSlot(RwLock<Option<OwnedFd>>);

impl FdSlot {
    pub(crate) fn new(fd: Option<OwnedFd>) -> Self {
        FdSlot(RwLock::new(fd))
    }

    /// Runs `f` on the descriptor (-1 once closed), keeping `close` out meanwhile.
    pub(crate) fn with<R>(&self, f: impl FnOnce(RawFd) -> R) -> R {
        let fd = self.0.read().unwrap_or_else(PoisonError::into_inner);
        f(fd.as_ref().map_or(-1, AsRawFd::as_raw_fd))
    }

    /// One `readv` from the descriptor; `message` heads its error.
    pub(crate) fn readv(&self, iov: &mut [IoSliceMut<'_>], message: &str) -> Result<usize> {
        self.with(|fd| readv(fd, iov, message))
    }

    /// One `writev` to the descriptor; `message` heads its error.
    pub(crate) fn writev(&self, iov: &[IoSlice<'_>], message: &str) -> Result<usize> {
        self.with(|fd| writev(fd, iov, message))
    }

    /// The descriptor's number now, for polling (-1 once closed).
    pub(crate) fn raw(&self) -> RawFd {
        self.with(|fd| fd)
    }

    /// Stores `fd` in an empty slot; gives it back if the slot is in use.
    pub(crate) fn put(&self, fd: OwnedFd) -> std::result::Result<(), OwnedFd> {
        let mut slot = self.0.write().unwrap_or_else(PoisonError::into_inner);
        match *slot {
            Some(_) => Err(fd),
            None => {
                *slot = Some(fd);
                Ok(())
            }
        }
    }

    /// Takes the descriptor out, leaving the slot closed.
    pub(crate) fn take(&self) -> Option<OwnedFd> {
        self.0
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}

/// The calling thread's `errno`.
pub(crate) fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

/// Runs a system call until it is not interrupted: its result, or `errno`.
pub(crate) fn retry_errno(mut call: impl FnMut() -> isize) -> std::result::Result<usize, i32> {
    loop {
        let ret = call();
        if ret >= 0 {
            return Ok(ret as usize);
        }
        match errno() {
            libc::EINTR => continue,
            errno => return Err(errno),
        }
    }
}

/// As [`retry_errno`], with a failure reported as `message: <strerror>`, or
/// WouldBlock for `EAGAIN`.
pub(crate) fn retry(message: &str, call: impl FnMut() -> isize) -> Result<usize> {
    retry_errno(call).map_err(|errno| match errno {
        libc::EAGAIN => Error::would_block_error(),
        errno => Error::os(message, errno),
    })
}

/// `readv(2)`.
fn readv(fd: RawFd, iov: &mut [IoSliceMut<'_>], message: &str) -> Result<usize> {
    // SAFETY: IoSliceMut is ABI-compatible with iovec; the buffers are writable.
    retry(message, || unsafe {
        libc::readv(fd, iov.as_ptr().cast(), iov.len() as i32)
    })
}

/// `writev(2)`.
fn writev(fd: RawFd, iov: &[IoSlice<'_>], message: &str) -> Result<usize> {
    // SAFETY: IoSlice is ABI-compatible with iovec; the buffers are readable.
    retry(message, || unsafe {
        libc::writev(fd, iov.as_ptr().cast(), iov.len() as i32)
    })
}

/// Whether `O_NONBLOCK` is clear; `false` for a descriptor that is not open.
pub(crate) fn is_blocking(fd: RawFd) -> bool {
    // SAFETY: fcntl on a descriptor number; a failure is reported as -1.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    flags >= 0 && flags & libc::O_NONBLOCK == 0
}

/// Sets or clears `O_NONBLOCK`.
pub(crate) fn set_blocking(fd: RawFd, enabled: bool) -> Result<()> {
    // SAFETY: fcntl on a descriptor number; failures are reported.
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags < 0 {
            return Err(Error::os("Unable to get file status flags", errno()));
        }
        let new = match enabled {
            true => flags & !libc::O_NONBLOCK,
            false => flags | libc::O_NONBLOCK,
        };
        if new != flags && libc::fcntl(fd, libc::F_SETFL, new) < 0 {
            return Err(Error::os("Unable to set file status flags", errno()));
        }
    }
    Ok(())
}

/// Closes `fd` (taken from its slot) reporting `close(2)`'s error; `Ok` if it was
/// already closed.
pub(crate) fn close(fd: Option<OwnedFd>, message: &str) -> Result<()> {
    let Some(fd) = fd else { return Ok(()) };
    let raw = std::os::fd::IntoRawFd::into_raw_fd(fd);
    // SAFETY: we own `raw`; it is closed exactly once, here.
    match unsafe { libc::close(raw) } {
        0 => Ok(()),
        _ => Err(Error::os(message, errno())),
    }
}
