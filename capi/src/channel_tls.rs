//! `QIOChannelTLS`: TLS over any channel (QEMU's `io/channel-tls.h`).

use std::os::raw::{c_char, c_uint};
use std::sync::Arc;

use glib_sys::{gpointer, GDestroyNotify, GError, GMainContext};
use qio::io::{Channel, Tls};

use crate::authz::QAuthZ;
use crate::boundary::{ffi_guard, Fail};
use crate::channel::{channel, channel_type, handshake_timeout, new_handle_with, QIOChannel};
use crate::ffi::{handle, keep_handle, main_context, opt_handle, opt_utf8, OwnedHandle};
use crate::task::{self, QIOTaskFunc};
use crate::tls_creds::QCryptoTLSCreds;
use crate::tls_session::{QCryptoTLSSession, SessionHandle};

/// A TLS channel; a #QIOChannel through QIO_CHANNEL().
pub struct QIOChannelTLS {
    _private: [u8; 0],
}

channel_type!(
    QIOChannelTLS,
    Tls,
    b"QCht",
    "QIO_IS_CHANNEL_TLS",
    c"qio-channel-tls"
);

/// The handle of a new TLS channel, which lends C its session's handle.
fn new_handle(tls: Arc<Channel<Tls>>) -> *mut QIOChannelTLS {
    let session = OwnedHandle::<QCryptoTLSSession>::new(SessionHandle::Channel(tls.clone()));
    new_handle_with(tls, Some(Box::new(session)))
}

/// The server end of TLS over @master with server @creds. With x509 credentials that
/// verify the peer, the client's certificate DN must pass @authz (when given). Start
/// it with qio_channel_tls_handshake().
///
/// Returns: (transfer full) (nullable): the channel, holding a reference on @master,
/// or NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_tls_new_server(
    master: *mut QIOChannel,
    creds: *mut QCryptoTLSCreds,
    authz: *mut QAuthZ,
    error: *mut *mut GError,
) -> *mut QIOChannelTLS {
    ffi_guard!(std::ptr::null_mut(), error, {
        let (master, creds) = (Arc::clone(&handle!(master).channel), handle!(creds));
        let authz = opt_handle!(authz).cloned();
        Ok(new_handle(Tls::new_server(master, creds, authz)?))
    })
}

/// The client end of TLS over @master with client @creds. With x509 credentials that
/// verify the peer, the server's certificate must name @hostname, which is then
/// required.
///
/// Returns: (transfer full) (nullable): the channel, holding a reference on @master,
/// or NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_tls_new_client(
    master: *mut QIOChannel,
    creds: *mut QCryptoTLSCreds,
    hostname: *const c_char,
    error: *mut *mut GError,
) -> *mut QIOChannelTLS {
    ffi_guard!(std::ptr::null_mut(), error, {
        let (master, creds) = (Arc::clone(&handle!(master).channel), handle!(creds));
        let hostname = opt_utf8!(hostname, "Hostname");
        Ok(new_handle(Tls::new_client(master, creds, hostname)?))
    })
}

/// Runs the TLS handshake from the thread iterating @context (NULL: the default
/// context), then checks the peer's credentials, then calls @func with a task (source:
/// @ioc) whose error says how it went, and frees the task (running @destroy on
/// @opaque). @func runs exactly once, possibly before this returns, unless @ioc is
/// closed first; the task holds a reference on @ioc until then.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_tls_handshake(
    ioc: *mut QIOChannelTLS,
    func: QIOTaskFunc,
    opaque: gpointer,
    destroy: GDestroyNotify,
    context: *mut GMainContext,
) {
    ffi_guard!((), {
        let channel = channel!(ioc);
        let done = task::completion(keep_handle!(ioc).into(), func, opaque, destroy);
        channel.handshake(&main_context!(context), done);
        Ok(())
    })
}

/// Limits how long the next qio_channel_tls_handshake() may take, counted from its
/// start: a peer that has not completed it within @timeout_ms milliseconds makes it
/// fail with %QIO_ERROR_TIMED_OUT, reported through the task. 0, the default as in
/// QEMU, waits for the peer indefinitely. (Whatever the timeout, the handshake never
/// blocks the main loop, even over a blocking master.)
#[no_mangle]
pub unsafe extern "C" fn qio_channel_tls_set_handshake_timeout(
    ioc: *mut QIOChannelTLS,
    timeout_ms: c_uint,
) {
    ffi_guard!((), {
        channel!(ioc).set_handshake_timeout(handshake_timeout(timeout_ms));
        Ok(())
    })
}

/// Sends the TLS closure alert, waiting on the master channel while it would block;
/// nothing before the handshake completed. (QEMU may fill @error from a later
/// callback; qio completes here.)
#[no_mangle]
pub unsafe extern "C" fn qio_channel_tls_bye(ioc: *mut QIOChannelTLS, error: *mut *mut GError) {
    ffi_guard!((), error, {
        channel!(ioc).bye()?;
        Ok(())
    })
}

/// Returns: (transfer none): the channel's TLS session, valid while @ioc is; not to
/// be freed.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_tls_get_session(
    ioc: *mut QIOChannelTLS,
) -> *mut QCryptoTLSSession {
    ffi_guard!(std::ptr::null_mut(), {
        let session = handle!(ioc).part::<OwnedHandle<QCryptoTLSSession>>();
        let session = session.ok_or(Fail::Precondition("QIO_IS_CHANNEL_TLS (ioc)".into()))?;
        Ok(session.as_ptr())
    })
}
