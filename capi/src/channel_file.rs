//! `QIOChannelFile`: files, pipes and character devices (QEMU's `io/channel-file.h`).

use std::ffi::OsStr;
use std::os::fd::BorrowedFd;
use std::os::raw::{c_char, c_int};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use glib_sys::GError;
use qio::io::File;

use crate::boundary::{ffi_guard, require, Fail};
use crate::channel::into_handle;

/// A file channel; a #QIOChannel through QIO_CHANNEL().
pub struct QIOChannelFile {
    _private: [u8; 0],
}

/// A channel that takes over @fd (closed with the channel); seekable if lseek() works
/// on it.
///
/// Returns: (transfer full): the channel.
#[no_mangle]
pub extern "C" fn qio_channel_file_new_fd(fd: c_int) -> *mut QIOChannelFile {
    ffi_guard!(std::ptr::null_mut(), {
        require!(fd >= 0, "fd >= 0");
        // SAFETY: the caller hands the descriptor over.
        let fd = unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        Ok(into_handle(File::new_channel(fd)))
    })
}

/// A channel on a duplicate of @fd, which stays the caller's.
///
/// Returns: (transfer full) (nullable): the channel, or NULL with @error set.
#[no_mangle]
pub extern "C" fn qio_channel_file_new_dupfd(
    fd: c_int,
    error: *mut *mut GError,
) -> *mut QIOChannelFile {
    ffi_guard!(std::ptr::null_mut(), error, {
        require!(fd >= 0, "fd >= 0");
        // SAFETY: borrowed for the duplication only; an invalid number fails it.
        let fd = unsafe { BorrowedFd::borrow_raw(fd) };
        Ok(into_handle(File::new_dupfd(fd)?))
    })
}

/// A channel on the file at @path, opened with open(2) @flags (O_CLOEXEC is added) and
/// @mode (for O_CREAT).
///
/// Returns: (transfer full) (nullable): the channel, or NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_file_new_path(
    path: *const c_char,
    flags: c_int,
    mode: libc::mode_t,
    error: *mut *mut GError,
) -> *mut QIOChannelFile {
    ffi_guard!(std::ptr::null_mut(), error, {
        // SAFETY: the caller's string.
        let path = unsafe { crate::ffi::opt_c_str(path) }
            .ok_or(Fail::Precondition("path != NULL".into()))?;
        let path = Path::new(OsStr::from_bytes(path.to_bytes()));
        Ok(into_handle(File::new_path(path, flags, mode)?))
    })
}
