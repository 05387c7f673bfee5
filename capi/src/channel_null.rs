//! `QIOChannelNull`: discards writes, reads end-of-file (QEMU's `io/channel-null.h`).

use qio::io::Null;

use crate::boundary::ffi_guard;
use crate::channel::{channel_type, new_handle};

/// A null channel; a #QIOChannel through QIO_CHANNEL().
pub struct QIOChannelNull {
    _private: [u8; 0],
}

channel_type!(
    QIOChannelNull,
    Null,
    b"QChn",
    "QIO_IS_CHANNEL_NULL",
    c"qio-channel-null"
);

/// A new open null channel: writes succeed in full, reads return end-of-file, every
/// watch condition is ready; after qio_channel_close() I/O fails.
///
/// Returns: (transfer full): the channel, to drop with qio_channel_unref().
#[no_mangle]
pub extern "C" fn qio_channel_null_new() -> *mut QIOChannelNull {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(new_handle(Null::new_channel()))
    })
}
