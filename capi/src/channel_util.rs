//! `qio_channel_new_fd` (QEMU's `io/channel-util.h`): a channel of the right type for a
//! descriptor.

use std::os::raw::c_int;

use glib_sys::GError;
use qio::io::{File, Socket};

use crate::boundary::{ffi_guard, require};
use crate::channel::{new_handle, QIOChannel};
use crate::channel_file::QIOChannelFile;
use crate::channel_socket::QIOChannelSocket;
use crate::ffi::adopt_fd;

/// Wraps @fd, which it takes over: a #QIOChannelSocket if it is a socket, else a
/// #QIOChannelFile.
///
/// Returns: (transfer full) (nullable): the channel, or NULL with @error set (@fd then
/// stays the caller's).
#[no_mangle]
pub extern "C" fn qio_channel_new_fd(fd: c_int, error: *mut *mut GError) -> *mut QIOChannel {
    ffi_guard!(std::ptr::null_mut(), error, {
        require!(fd >= 0, "fd >= 0");
        let channel = adopt_fd(fd, qio::io::new_fd)?;
        Ok(match channel.downcast::<Socket>() {
            Ok(socket) => new_handle::<QIOChannelSocket>(socket).cast(),
            Err(channel) => match channel.downcast::<File>() {
                Ok(file) => new_handle::<QIOChannelFile>(file).cast(),
                Err(_) => unreachable!("new_fd makes sockets and files"),
            },
        })
    })
}
