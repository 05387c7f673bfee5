//! `QIOChannelWebsock`: websockets over any channel (QEMU's `io/channel-websock.h`,
//! plus the client end QEMU lacks).

use std::os::raw::{c_char, c_uint};
use std::sync::Arc;

use glib_sys::{gpointer, GDestroyNotify, GError};
use qio::io::Websock;

use crate::boundary::ffi_guard;
use crate::channel::{channel, channel_type, handshake_timeout, new_handle, QIOChannel};
use crate::ffi::{c_str_array, handle, keep_handle, to_utf8, utf8};
use crate::task::{self, QIOTaskFunc};

/// A websocket channel; a #QIOChannel through QIO_CHANNEL().
pub struct QIOChannelWebsock {
    _private: [u8; 0],
}

channel_type!(
    QIOChannelWebsock,
    Websock,
    b"QChw",
    "QIO_IS_CHANNEL_WEBSOCK",
    c"qio-channel-websock"
);

/// The server end of a websocket over @master: it reads a client's upgrade request
/// (`GET /`, RFC 6455 version 13, optionally asking for the `binary` subprotocol) in
/// qio_channel_websock_handshake(), then carries binary frames. Once it is open,
/// qio_channel_close() and qio_channel_shutdown() both ways send the peer a close
/// frame (1000), as far as @master takes it without blocking, before acting on
/// @master.
///
/// Returns: (transfer full): the channel, holding a reference on @master.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_websock_new_server(
    master: *mut QIOChannel,
) -> *mut QIOChannelWebsock {
    ffi_guard!(std::ptr::null_mut(), {
        let master = Arc::clone(&handle!(master).channel);
        Ok(new_handle(Websock::new_server(master)))
    })
}

/// The client end of a websocket over @master: qio_channel_websock_handshake() asks
/// @host for @path (starting with `/`) offering @protocols (a NULL-terminated list of
/// subprotocol names, or NULL for none), then it carries binary frames, masked, and
/// closes as the server does.
///
/// Returns: (transfer full) (nullable): the channel, holding a reference on @master,
/// or NULL with @error set when a name could not go in a request as it is.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_websock_new_client(
    master: *mut QIOChannel,
    host: *const c_char,
    path: *const c_char,
    protocols: *const *const c_char,
    error: *mut *mut GError,
) -> *mut QIOChannelWebsock {
    ffi_guard!(std::ptr::null_mut(), error, {
        let (host, path) = (utf8!(host, "Host"), utf8!(path, "Path"));
        let master = Arc::clone(&handle!(master).channel);
        let names = c_str_array!(protocols)
            .into_iter()
            .map(|name| to_utf8(name, "Protocol"))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(new_handle(Websock::new_client(master, host, path, &names)?))
    })
}

/// Limits how long the next qio_channel_websock_handshake() may take, counted from its
/// start: a peer that has not completed it within @timeout_ms milliseconds (one that
/// sends its request a byte at a time, say) makes it fail with %QIO_ERROR_TIMED_OUT,
/// reported through the task. 0, the default as in QEMU, waits for the peer
/// indefinitely. (Whatever the timeout, the handshake never blocks the main loop, even
/// over a blocking master.)
#[no_mangle]
pub unsafe extern "C" fn qio_channel_websock_set_handshake_timeout(
    ioc: *mut QIOChannelWebsock,
    timeout_ms: c_uint,
) {
    ffi_guard!((), {
        channel!(ioc).set_handshake_timeout(handshake_timeout(timeout_ms));
        Ok(())
    })
}

/// Runs the opening handshake from the default main context, then calls @func with a
/// task (source: @ioc) whose error says how it went, and frees the task (running
/// @destroy on @opaque). A server refusing a request sends its 4xx reply first. @func
/// runs exactly once, possibly before this returns, unless @ioc is closed first; the
/// task holds a reference on @ioc until then.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_websock_handshake(
    ioc: *mut QIOChannelWebsock,
    func: QIOTaskFunc,
    opaque: gpointer,
    destroy: GDestroyNotify,
) {
    ffi_guard!((), {
        let channel = channel!(ioc);
        channel.handshake(task::completion(
            keep_handle!(ioc).into(),
            func,
            opaque,
            destroy,
        ));
        Ok(())
    })
}

/// Returns: (transfer full) (nullable): the subprotocol the handshake agreed on
/// (a server's is "binary" when the client asked for it), or NULL for none; free with
/// g_free().
#[no_mangle]
pub unsafe extern "C" fn qio_channel_websock_get_protocol(
    ioc: *mut QIOChannelWebsock,
) -> *mut c_char {
    ffi_guard!(std::ptr::null_mut(), {
        let protocol = channel!(ioc).imp().protocol();
        Ok(protocol.map_or(std::ptr::null_mut(), |p| crate::ffi::g_string(&p)))
    })
}
