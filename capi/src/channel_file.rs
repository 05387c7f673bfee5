//! `QIOChannelFile`: files, pipes and character devices (QEMU's `io/channel-file.h`).

use std::ffi::OsStr;
use std::os::fd::BorrowedFd;
use std::os::raw::{c_char, c_int};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use glib_sys::GError;
use qio::io::File;

use crate::boundary::{ffi_guard, require};
use crate::channel::{channel, channel_type, new_handle};
use crate::ffi::{adopt_fd, c_str};

/// A file channel; a #QIOChannel through QIO_CHANNEL().
pub struct QIOChannelFile {
    _private: [u8; 0],
}

channel_type!(
    QIOChannelFile,
    File,
    b"QChf",
    "QIO_IS_CHANNEL_FILE",
    c"qio-channel-file"
);

/// A channel that takes over @fd (closed with the channel); seekable if lseek() works
/// on it.
///
/// Returns: (transfer full): the channel.
#[no_mangle]
pub extern "C" fn qio_channel_file_new_fd(fd: c_int) -> *mut QIOChannelFile {
    ffi_guard!(std::ptr::null_mut(), {
        require!(fd >= 0, "fd >= 0");
        adopt_fd(fd, |fd| Ok(new_handle(File::new_channel(fd))))
    })
}

/// The file's descriptor, which the channel keeps owning (QEMU code reads `fioc->fd`).
///
/// Returns: the descriptor; -1 after it is closed, and (with a critical) if @fioc is not
/// a file channel.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_file_get_fd(fioc: *mut QIOChannelFile) -> c_int {
    ffi_guard!(-1, { Ok(channel!(fioc).imp().raw_fd()) })
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
        Ok(new_handle(File::new_dupfd(fd)?))
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
        let path = Path::new(OsStr::from_bytes(c_str!(path).to_bytes()));
        Ok(new_handle(File::new_path(path, flags, mode)?))
    })
}
