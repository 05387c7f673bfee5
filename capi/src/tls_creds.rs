//! `QCryptoTLSCreds`: TLS credentials (QEMU's `tls-creds-anon`, `tls-creds-psk` and
//! `tls-creds-x509` objects), made by constructors and shared by reference.

use std::ffi::OsStr;
use std::os::raw::{c_char, c_int};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use glib_sys::{gboolean, GError, GFALSE, GTRUE};
use qio::crypto::tls::{Creds, Endpoint};

use crate::boundary::{ffi_guard, Fail};
use crate::ffi::{self, opt_str, Castable};
use crate::secret::QCryptoSecret;

/// Which end of a connection credentials are for; QEMU's values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QCryptoTLSCredsEndpoint {
    QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT = 0,
    QCRYPTO_TLS_CREDS_ENDPOINT_SERVER = 1,
    QCRYPTO_TLS_CREDS_ENDPOINT__MAX = 2,
}

/// A `QCryptoTLSCredsEndpoint` as C passed it, validated before use.
#[repr(transparent)]
pub struct EndpointArg(c_int);

impl EndpointArg {
    pub(crate) fn get(self) -> Result<Endpoint, Fail> {
        match self.0 {
            0 => Ok(Endpoint::Client),
            1 => Ok(Endpoint::Server),
            _ => Err(Fail::Precondition(
                "endpoint is a QCryptoTLSCredsEndpoint".into(),
            )),
        }
    }
}

/// TLS credentials, shared: qcrypto_tls_creds_ref() and qcrypto_tls_creds_unref().
pub struct QCryptoTLSCreds {
    _private: [u8; 0],
}

impl Castable for QCryptoTLSCreds {
    type Rust = Creds;
    const NAME: &'static str = "QCryptoTLSCreds";
    const TAG: u32 = u32::from_be_bytes(*b"QTLC");
}

/// # Safety
/// `text` is NULL or a NUL-terminated string.
unsafe fn opt_path<'a>(text: *const c_char) -> Option<&'a Path> {
    // SAFETY: the caller's contract.
    unsafe { ffi::opt_c_str(text) }.map(|t| Path::new(OsStr::from_bytes(t.to_bytes())))
}

/// Anonymous credentials: encryption without authentication (a server may use
/// @dir/dh-params.pem; a client needs no files, and @dir may be NULL). @priority is a
/// gnutls priority string, NULL for "NORMAL"; "-VERS-TLS1.3:-KX-ALL:+ANON-DH" is appended.
///
/// Returns: (transfer full) (nullable): the credentials, to drop with
/// qcrypto_tls_creds_unref(), or NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_creds_anon_new(
    endpoint: EndpointArg,
    dir: *const c_char,
    priority: *const c_char,
    error: *mut *mut GError,
) -> *mut QCryptoTLSCreds {
    ffi_guard!(std::ptr::null_mut(), error, {
        let endpoint = endpoint.get()?;
        // SAFETY: the caller's strings.
        let (dir, priority) = unsafe { (opt_path(dir), opt_str(priority, "Priority")?) };
        Ok(ffi::arc_into_handle(Creds::anon(endpoint, dir, priority)?))
    })
}

/// Pre-shared key credentials from @dir/keys.psk (`username:hexkey` lines, as psktool
/// writes them): a server accepts every user in the file and must not be given a
/// @username; a client uses the key of @username, NULL for "qemu". @priority as for
/// qcrypto_tls_creds_anon_new(), with "-KX-ALL:+ECDHE-PSK:+DHE-PSK:+PSK" appended.
///
/// Returns: (transfer full) (nullable): the credentials, to drop with
/// qcrypto_tls_creds_unref(), or NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_creds_psk_new(
    endpoint: EndpointArg,
    dir: *const c_char,
    username: *const c_char,
    priority: *const c_char,
    error: *mut *mut GError,
) -> *mut QCryptoTLSCreds {
    ffi_guard!(std::ptr::null_mut(), error, {
        let endpoint = endpoint.get()?;
        // SAFETY: the caller's strings.
        let (dir, username, priority) = unsafe {
            (
                opt_path(dir),
                opt_str(username, "Username")?,
                opt_str(priority, "Priority")?,
            )
        };
        Ok(ffi::arc_into_handle(Creds::psk(
            endpoint, dir, username, priority,
        )?))
    })
}

/// x509 credentials from @dir (QEMU's layout): ca-cert.pem, one or more CA
/// certificates; for a server, server-cert.pem and server-key.pem, then optionally
/// server-cert-0.pem/server-key-0.pem up to -3 (the first ones preferred), ca-crl.pem
/// and dh-params.pem; for a client, optionally client-cert.pem and client-key.pem (and
/// -0 to -3). A cert file may hold a chain, leaf first. With @verify_peer, sessions
/// check the peer's certificate; with @sanity_check, our own certificates are checked
/// against QEMU's rules when loaded. Encrypted keys open with @key_password.
///
/// Returns: (transfer full) (nullable): the credentials, to drop with
/// qcrypto_tls_creds_unref(), or NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_creds_x509_new(
    endpoint: EndpointArg,
    dir: *const c_char,
    verify_peer: gboolean,
    priority: *const c_char,
    sanity_check: gboolean,
    key_password: *const QCryptoSecret,
    error: *mut *mut GError,
) -> *mut QCryptoTLSCreds {
    ffi_guard!(std::ptr::null_mut(), error, {
        let endpoint = endpoint.get()?;
        // SAFETY: the caller's strings and handle, checked.
        let (dir, priority) = unsafe { (opt_path(dir), opt_str(priority, "Priority")?) };
        let password = match key_password.is_null() {
            true => None,
            // SAFETY: a handle the caller holds a reference to, checked.
            false => Some(unsafe { ffi::arc_borrow(key_password, "key_password")? }.bytes()),
        };
        Ok(ffi::arc_into_handle(Creds::x509(
            endpoint,
            dir,
            verify_peer != GFALSE,
            priority,
            sanity_check != GFALSE,
            password,
        )?))
    })
}

/// # Safety
/// `creds` is NULL or a handle the caller holds a reference to.
pub(crate) unsafe fn borrow<'a>(creds: *const QCryptoTLSCreds) -> Result<&'a Creds, Fail> {
    // SAFETY: the caller's contract; checked by arc_borrow.
    unsafe { ffi::arc_borrow(creds, "creds") }
}

/// Checks that @creds are for @endpoint.
///
/// Returns: TRUE, or FALSE with @error set ("Expected TLS credentials for a server
/// endpoint").
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_creds_check_endpoint(
    creds: *mut QCryptoTLSCreds,
    endpoint: EndpointArg,
    error: *mut *mut GError,
) -> gboolean {
    ffi_guard!(GFALSE, error, {
        // SAFETY: the caller's handle, checked.
        unsafe { borrow(creds)? }.check_endpoint(endpoint.get()?)?;
        Ok(GTRUE)
    })
}

/// The gnutls priority string sessions with @creds use.
///
/// Returns: (transfer full): a string to g_free(); NULL (and a critical) on misuse.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_creds_get_priority(
    creds: *mut QCryptoTLSCreds,
) -> *mut c_char {
    ffi_guard!(std::ptr::null_mut(), {
        // SAFETY: the caller's handle, checked.
        Ok(ffi::g_string(&unsafe { borrow(creds)? }.priority()))
    })
}

/// Loads the credentials' files again (with the sanity check if they were made with
/// it) for new sessions; on failure the current ones stay. Only x509 credentials can.
///
/// Returns: TRUE, or FALSE with @error set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_creds_reload(
    creds: *mut QCryptoTLSCreds,
    error: *mut *mut GError,
) -> gboolean {
    ffi_guard!(GFALSE, error, {
        // SAFETY: the caller's handle, checked.
        unsafe { borrow(creds)? }.reload()?;
        Ok(GTRUE)
    })
}

/// Adds a reference to @creds.
///
/// Returns: (transfer full): @creds.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_creds_ref(
    creds: *mut QCryptoTLSCreds,
) -> *mut QCryptoTLSCreds {
    // SAFETY: the caller's handle, checked.
    ffi_guard!(std::ptr::null_mut(), {
        unsafe { ffi::arc_ref(creds, "creds") }
    })
}

/// Drops a reference to @creds; sessions made with them keep what they use. NULL is
/// ignored.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_creds_unref(creds: *mut QCryptoTLSCreds) {
    // SAFETY: the caller's handle, checked.
    ffi_guard!((), { unsafe { ffi::arc_unref(creds, "creds") } })
}
