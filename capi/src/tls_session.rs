//! `QCryptoTLSSession`: one TLS connection's gnutls state over I/O callbacks (QEMU's
//! `crypto/tlssession.h`). A session from qcrypto_tls_session_new() is the caller's to
//! free; one from qio_channel_tls_get_session() belongs to its channel.

use std::os::raw::{c_char, c_int, c_void};
use std::sync::Arc;

use glib_sys::{gpointer, GError};
use libc::ssize_t;
use qio::crypto::tls::{Progress, Received, Session, Transport};
use qio::io::{Channel, Tls};

use crate::authz::QAuthZ;
use crate::boundary::ffi_guard;
use crate::callback::UserData;
use crate::ffi::{
    bytes, bytes_mut, call_c, callback, decode, free_handle, handle, opt_handle, opt_utf8,
    Castable, Owned, Tag,
};
use crate::tls_creds::{EndpointArg, QCryptoTLSCreds};

/// A TLS session.
pub struct QCryptoTLSSession {
    _private: [u8; 0],
}

/// What qcrypto_tls_session_read() and _write() return when the transport would block.
pub const QCRYPTO_TLS_SESSION_ERR_BLOCK: ssize_t = -2;
/// What qcrypto_tls_session_read() returns when the peer closed without close_notify.
pub const QCRYPTO_TLS_SESSION_PREMATURE_TERMINATION: ssize_t = -3;

/// Where a handshake stands; QEMU's values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QCryptoTLSSessionHandshakeStatus {
    QCRYPTO_TLS_HANDSHAKE_COMPLETE = 0,
    QCRYPTO_TLS_HANDSHAKE_SENDING = 1,
    QCRYPTO_TLS_HANDSHAKE_RECVING = 2,
}

/// Where a closure alert stands; QEMU's values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QCryptoTLSSessionByeStatus {
    QCRYPTO_TLS_BYE_COMPLETE = 0,
    QCRYPTO_TLS_BYE_SENDING = 1,
    QCRYPTO_TLS_BYE_RECVING = 2,
}

/// Sends @len bytes of @buf for the session; returns the count sent,
/// %QCRYPTO_TLS_SESSION_ERR_BLOCK, or -1 with @errp set.
pub type QCryptoTLSSessionWriteFunc = Option<
    unsafe extern "C" fn(
        buf: *const c_char,
        len: usize,
        opaque: *mut c_void,
        errp: *mut *mut GError,
    ) -> ssize_t,
>;

/// Receives up to @len bytes into @buf; returns the count (0 at end-of-file),
/// %QCRYPTO_TLS_SESSION_ERR_BLOCK, or -1 with @errp set.
pub type QCryptoTLSSessionReadFunc = Option<
    unsafe extern "C" fn(
        buf: *mut c_char,
        len: usize,
        opaque: *mut c_void,
        errp: *mut *mut GError,
    ) -> ssize_t,
>;

/// What a session handle holds: a session of the caller's, which
/// qcrypto_tls_session_free() frees, or a TLS channel's, which the channel lends.
pub(crate) enum SessionHandle {
    Caller(Session),
    Channel(Arc<Channel<Tls>>),
}

impl std::ops::Deref for SessionHandle {
    type Target = Session;

    fn deref(&self) -> &Session {
        match self {
            SessionHandle::Caller(session) => session,
            SessionHandle::Channel(tls) => tls.imp().session(),
        }
    }
}

impl Castable for QCryptoTLSSession {
    type Ownership = Owned;
    type Rust = SessionHandle;
    const NAME: &'static str = "QCryptoTLSSession";
    const TAG: Tag = Tag::new(b"QTSs");

    fn lent_by(value: &SessionHandle) -> Option<&'static str> {
        matches!(value, SessionHandle::Channel(_)).then_some("TLS channel")
    }
}

/// A session for @endpoint with @creds, which must be for that endpoint. With x509
/// credentials that verify the peer, a client's peer must match @hostname (required)
/// and a server's peer DN must pass @authz (when given). Set its I/O with
/// qcrypto_tls_session_set_callbacks().
///
/// Returns: (transfer full) (nullable): the session, to free with
/// qcrypto_tls_session_free(), or NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_session_new(
    creds: *mut QCryptoTLSCreds,
    hostname: *const c_char,
    authz: *mut QAuthZ,
    endpoint: EndpointArg,
    error: *mut *mut GError,
) -> *mut QCryptoTLSSession {
    ffi_guard!(std::ptr::null_mut(), error, {
        let (creds, authz) = (handle!(creds), opt_handle!(authz).cloned());
        let hostname = opt_utf8!(hostname, "Hostname");
        let session = Session::new(creds, hostname, authz, decode!(endpoint))?;
        Ok(crate::ffi::new(SessionHandle::Caller(session)))
    })
}

/// Frees a session made by qcrypto_tls_session_new(); NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_session_free(session: *mut QCryptoTLSSession) {
    ffi_guard!((), { free_handle!(session) })
}

/// The session's I/O through C callbacks.
struct Callbacks {
    write: unsafe extern "C" fn(*const c_char, usize, *mut c_void, *mut *mut GError) -> ssize_t,
    read: unsafe extern "C" fn(*mut c_char, usize, *mut c_void, *mut *mut GError) -> ssize_t,
    opaque: UserData,
}

/// A callback's result: a count, would-block, or its GError as a qio error.
fn callback_result(ret: ssize_t, gerror: *mut GError) -> qio::Result<usize> {
    if ret >= 0 {
        return Ok(ret as usize);
    }
    if ret == QCRYPTO_TLS_SESSION_ERR_BLOCK {
        return Err(qio::Error::would_block_error());
    }
    let message = crate::error::message_or(gerror, || "TLS session I/O callback failed".into());
    // SAFETY: NULL or the callback's GError, which we free.
    unsafe { glib_sys::g_clear_error(&mut { gerror }) };
    Err(qio::Error::new(qio::ErrorKind::Failed, message))
}

impl Transport for Callbacks {
    fn push(&self, buf: &[u8]) -> qio::Result<usize> {
        let mut gerror = std::ptr::null_mut();
        let ret = call_c!(self.write(
            buf.as_ptr().cast(),
            buf.len(),
            self.opaque.get(),
            &mut gerror
        ));
        callback_result(ret, gerror)
    }

    fn pull(&self, buf: &mut [u8]) -> qio::Result<usize> {
        let mut gerror = std::ptr::null_mut();
        let ret = call_c!(self.read(
            buf.as_mut_ptr().cast(),
            buf.len(),
            self.opaque.get(),
            &mut gerror
        ));
        callback_result(ret, gerror)
    }
}

/// Makes @write_func and @read_func, with @opaque, the session's I/O.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_session_set_callbacks(
    session: *mut QCryptoTLSSession,
    write_func: QCryptoTLSSessionWriteFunc,
    read_func: QCryptoTLSSessionReadFunc,
    opaque: gpointer,
) {
    ffi_guard!((), {
        let session = handle!(session);
        let (write, read) = (callback!(write_func), callback!(read_func));
        session.set_transport(Box::new(Callbacks {
            write,
            read,
            opaque: UserData(opaque),
        }));
        Ok(())
    })
}

fn progress(p: Progress) -> c_int {
    p as c_int
}

/// Runs the handshake as far as the I/O allows.
///
/// Returns: a #QCryptoTLSSessionHandshakeStatus, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_session_handshake(
    session: *mut QCryptoTLSSession,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, { Ok(progress(handle!(session).handshake()?)) })
}

/// Sends the closure alert as far as the I/O allows; nothing before the handshake.
///
/// Returns: a #QCryptoTLSSessionByeStatus, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_session_bye(
    session: *mut QCryptoTLSSession,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, { Ok(progress(handle!(session).bye()?)) })
}

/// Checks the peer after the handshake: for x509 credentials that verify the peer, its
/// certificate chain and validity, its DN against the authz and its names against the
/// hostname. Nothing for anonymous and PSK sessions.
///
/// Returns: 0, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_session_check_credentials(
    session: *mut QCryptoTLSSession,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        handle!(session).check_credentials()?;
        Ok(0)
    })
}

/// Encrypts and sends up to @len bytes of @buf.
///
/// Returns: the count sent, %QCRYPTO_TLS_SESSION_ERR_BLOCK, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_session_write(
    session: *mut QCryptoTLSSession,
    buf: *const c_char,
    len: usize,
    error: *mut *mut GError,
) -> ssize_t {
    ffi_guard!(-1, error, {
        match handle!(session).write(bytes!(buf, len)) {
            Ok(n) => Ok(n as ssize_t),
            Err(e) if e.would_block() => Ok(QCRYPTO_TLS_SESSION_ERR_BLOCK),
            Err(e) => Err(e.into()),
        }
    })
}

/// Receives and decrypts up to @len bytes into @buf.
///
/// Returns: the count (0 at the peer's orderly close), %QCRYPTO_TLS_SESSION_ERR_BLOCK,
/// %QCRYPTO_TLS_SESSION_PREMATURE_TERMINATION, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_session_read(
    session: *mut QCryptoTLSSession,
    buf: *mut c_char,
    len: usize,
    error: *mut *mut GError,
) -> ssize_t {
    ffi_guard!(-1, error, {
        match handle!(session).read(bytes_mut!(buf, len)) {
            Ok(Received::Bytes(n)) => Ok(n as ssize_t),
            Ok(Received::PrematureEof) => Ok(QCRYPTO_TLS_SESSION_PREMATURE_TERMINATION),
            Err(e) if e.would_block() => Ok(QCRYPTO_TLS_SESSION_ERR_BLOCK),
            Err(e) => Err(e.into()),
        }
    })
}

/// Returns: the bytes gnutls has decrypted and not handed out yet.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_session_check_pending(
    session: *mut QCryptoTLSSession,
) -> usize {
    ffi_guard!(0, { Ok(handle!(session).check_pending()) })
}

/// Returns: the negotiated cipher's key size in bytes, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_session_get_key_size(
    session: *mut QCryptoTLSSession,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, { Ok(handle!(session).key_size()? as c_int) })
}

/// Returns: (transfer full) (nullable): the peer certificate's DN in certificate order
/// (`C=UK,CN=qemu`) once the credentials were checked, to g_free(); else NULL.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_session_get_peer_name(
    session: *mut QCryptoTLSSession,
) -> *mut c_char {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(handle!(session)
            .peer_name()
            .map_or(std::ptr::null_mut(), |name| crate::ffi::g_string(&name)))
    })
}

/// Returns: (transfer full) (nullable): the negotiated protocol version's name
/// (`TLS1.3`) to g_free(), or NULL with @error set before the handshake completed.
/// qio's addition, for logs and status displays.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_session_get_protocol_name(
    session: *mut QCryptoTLSSession,
    error: *mut *mut GError,
) -> *mut c_char {
    ffi_guard!(std::ptr::null_mut(), error, {
        Ok(crate::ffi::g_string(handle!(session).protocol_name()?))
    })
}

/// Returns: (transfer full) (nullable): the negotiated record cipher's name
/// (`AES-256-GCM`) to g_free(), or NULL with @error set before the handshake completed.
/// qio's addition, for logs and status displays.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_session_get_cipher_name(
    session: *mut QCryptoTLSSession,
    error: *mut *mut GError,
) -> *mut c_char {
    ffi_guard!(std::ptr::null_mut(), error, {
        Ok(crate::ffi::g_string(handle!(session).cipher_name()?))
    })
}

/// Serializes record I/O where gnutls needs it (TLS 1.3 with AES, gnutls bug 1717),
/// for sessions read and written from two threads at once; call before the handshake.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_session_require_thread_safety(
    session: *mut QCryptoTLSSession,
) {
    ffi_guard!((), {
        handle!(session).require_thread_safety();
        Ok(())
    })
}
