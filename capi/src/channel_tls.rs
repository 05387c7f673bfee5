//! `QIOChannelTLS`: TLS over any channel (QEMU's `io/channel-tls.h`).

use std::os::raw::c_char;
use std::sync::Arc;

use glib_sys::{gpointer, GDestroyNotify, GError, GMainContext};
use qio::io::{Channel, Tls};

use crate::authz::QAuthZ;
use crate::boundary::{ffi_guard, Fail};
use crate::channel::{borrow, borrow_typed, into_handle, QIOChannel};
use crate::task::{self, QIOTaskFunc};
use crate::tls_creds::{self, QCryptoTLSCreds};
use crate::tls_session::QCryptoTLSSession;

/// A TLS channel; a #QIOChannel through QIO_CHANNEL().
pub struct QIOChannelTLS {
    _private: [u8; 0],
}

/// # Safety
/// `ioc` is NULL or a channel handle the caller holds a reference to.
unsafe fn tls(ioc: *mut QIOChannelTLS) -> Result<std::mem::ManuallyDrop<Arc<Channel<Tls>>>, Fail> {
    // SAFETY: the caller's contract.
    unsafe { borrow_typed::<Tls, _>(ioc, "ioc", "QIO_IS_CHANNEL_TLS") }
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
        // SAFETY: the caller's handles, checked.
        let (master, creds) = unsafe { (borrow(master, "master")?, tls_creds::borrow(creds)?) };
        let authz = match authz.is_null() {
            true => None,
            // SAFETY: as above.
            false => Some(unsafe { crate::authz::borrow(authz, "authz")? }.clone()),
        };
        Ok(into_handle(Tls::new_server(
            Arc::clone(&master),
            creds,
            authz,
        )?))
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
        // SAFETY: the caller's handles and string, checked.
        let (master, creds, hostname) = unsafe {
            (
                borrow(master, "master")?,
                tls_creds::borrow(creds)?,
                crate::ffi::opt_str(hostname, "Hostname")?,
            )
        };
        Ok(into_handle(Tls::new_client(
            Arc::clone(&master),
            creds,
            hostname,
        )?))
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
        // SAFETY: the caller's handle, checked.
        let channel = Arc::clone(&*unsafe { tls(ioc)? });
        let done = task::completion(channel.upcast(), func, opaque, destroy);
        // SAFETY: the caller's context.
        unsafe { channel.handshake(context, done) };
        Ok(())
    })
}

/// Sends the TLS closure alert, waiting on the master channel while it would block;
/// nothing before the handshake completed. (QEMU may fill @error from a later
/// callback; qio completes here.)
#[no_mangle]
pub unsafe extern "C" fn qio_channel_tls_bye(ioc: *mut QIOChannelTLS, error: *mut *mut GError) {
    ffi_guard!((), error, {
        // SAFETY: the caller's handle, checked.
        unsafe { tls(ioc)? }.bye()?;
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
        // SAFETY: the caller's handle, checked; the session lives inside the channel.
        let channel = unsafe { tls(ioc)? };
        Ok(channel.imp().session() as *const _ as *mut QCryptoTLSSession)
    })
}
