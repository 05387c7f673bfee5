//! `QIOChannelCommand`: a child process's stdin and stdout (QEMU's
//! `io/channel-command.h`).

use std::ffi::OsStr;
use std::os::raw::{c_char, c_int};
use std::os::unix::ffi::OsStrExt;

use glib_sys::GError;
use qio::io::Command;

use crate::boundary::{ffi_guard, require};
use crate::channel::{channel_type, new_handle};
use crate::ffi::c_str_array;

/// A command channel; a #QIOChannel through QIO_CHANNEL().
pub struct QIOChannelCommand {
    _private: [u8; 0],
}

channel_type!(
    QIOChannelCommand,
    Command,
    b"QChc",
    "QIO_IS_CHANNEL_COMMAND",
    c"qio-channel-command"
);

/// Runs @argv (NULL-terminated; the program is searched in PATH) with pipes on its
/// stdin and stdout: @flags is O_RDONLY (stdin from /dev/null), O_WRONLY (stdout to
/// /dev/null) or O_RDWR; stderr is inherited. qio_channel_close() waits for the child;
/// the last unref kills it if it is still running. qio_channel_shutdown() closes the
/// child's stdin (WRITE: it sees end-of-file) or stdout (READ), which QEMU's cannot.
///
/// Returns: (transfer full) (nullable): the channel, or NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_command_new_spawn(
    argv: *const *const c_char,
    flags: c_int,
    error: *mut *mut GError,
) -> *mut QIOChannelCommand {
    ffi_guard!(std::ptr::null_mut(), error, {
        require!(!argv.is_null(), "argv != NULL");
        let args: Vec<&OsStr> = c_str_array!(argv)
            .into_iter()
            .map(|arg| OsStr::from_bytes(arg.to_bytes()))
            .collect();
        require!(!args.is_empty(), "argv[0] != NULL");
        Ok(new_handle(Command::spawn(&args, flags)?))
    })
}
