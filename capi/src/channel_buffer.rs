//! `QIOChannelBuffer`: a growable memory buffer as a channel (QEMU's
//! `io/channel-buffer.h`); the fields QEMU exposes are read through functions.

use qio::io::Buffer;

use crate::boundary::ffi_guard;
use crate::channel::{channel, channel_type, new_handle};
use crate::ffi::out;

/// A memory buffer channel; a #QIOChannel through QIO_CHANNEL().
pub struct QIOChannelBuffer {
    _private: [u8; 0],
}

channel_type!(
    QIOChannelBuffer,
    Buffer,
    b"QChb",
    "QIO_IS_CHANNEL_BUFFER",
    c"qio-channel-buffer"
);

/// A new empty buffer with room for @capacity bytes. Reads consume from the offset
/// (set with qio_channel_io_seek()) up to the usage; writes append at the usage.
/// @capacity is a hint: when that much memory cannot be had the buffer starts empty,
/// and a write the system cannot find memory for fails with an error; nothing aborts.
///
/// Returns: (transfer full): the channel, to drop with qio_channel_unref().
#[no_mangle]
pub extern "C" fn qio_channel_buffer_new(capacity: usize) -> *mut QIOChannelBuffer {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(new_handle(Buffer::new_channel(capacity)))
    })
}

/// The bytes written to @bioc so far; their count is stored in @usage.
///
/// Returns: (transfer full) (nullable): a g_malloc'd copy to g_free() (NULL-terminated
/// for convenience; NULL only on misuse).
#[no_mangle]
pub unsafe extern "C" fn qio_channel_buffer_dup_data(
    bioc: *mut QIOChannelBuffer,
    usage: *mut usize,
) -> *mut u8 {
    ffi_guard!(std::ptr::null_mut(), {
        let (channel, usage) = (channel!(bioc), out!(usage));
        Ok(channel.imp().with_data(|data| {
            *usage = data.len();
            crate::ffi::g_bytes(data)
        }))
    })
}
