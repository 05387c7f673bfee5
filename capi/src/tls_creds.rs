//! `QCryptoTLSCreds`: TLS credentials (QEMU's `tls-creds-anon`, `tls-creds-psk` and
//! `tls-creds-x509` objects), made by constructors and shared by reference.

use std::ffi::{CStr, OsStr};
use std::os::raw::c_char;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use glib_sys::{gboolean, GError, GFALSE, GTRUE};
use qio::crypto::tls::{Creds, Endpoint};

use crate::boundary::ffi_guard;
use crate::ffi::{
    decode, enum_arg, handle, opt_c_str, opt_handle, opt_utf8, ref_handle, unref_handle, Castable,
    Shared, Tag,
};
use crate::secret::QCryptoSecret;

/// Which end of a connection credentials are for; QEMU's values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QCryptoTLSCredsEndpoint {
    QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT = 0,
    QCRYPTO_TLS_CREDS_ENDPOINT_SERVER = 1,
    QCRYPTO_TLS_CREDS_ENDPOINT__MAX = 2,
}

enum_arg! {
    /// A `QCryptoTLSCredsEndpoint` as C passed it: any int, decoded before use.
    EndpointArg(QCryptoTLSCredsEndpoint) => Endpoint {
        QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT => Endpoint::Client,
        QCRYPTO_TLS_CREDS_ENDPOINT_SERVER => Endpoint::Server,
    }
}

/// TLS credentials, shared: qcrypto_tls_creds_ref() and qcrypto_tls_creds_unref().
pub struct QCryptoTLSCreds {
    _private: [u8; 0],
}

impl Castable for QCryptoTLSCreds {
    type Ownership = Shared;
    type Rust = Creds;
    const NAME: &'static str = "QCryptoTLSCreds";
    const TAG: Tag = Tag::new(b"QTLC");
}

/// A directory argument as a path (any bytes but NUL).
fn path(text: Option<&CStr>) -> Option<&Path> {
    text.map(|t| Path::new(OsStr::from_bytes(t.to_bytes())))
}

/// Anonymous credentials: encryption without authentication (a server may use
/// @dir/dh-params.pem; a client needs no files, and @dir may be NULL). @priority is a
/// gnutls priority string, NULL for "NORMAL:-VERS-TLS1.1:-VERS-TLS1.0" (TLS 1.2 and later);
/// "-VERS-TLS1.3:-KX-ALL:+ANON-DH" is appended.
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
        let endpoint = decode!(endpoint);
        let (dir, priority) = (path(opt_c_str!(dir)), opt_utf8!(priority, "Priority"));
        Ok(crate::ffi::new(Creds::anon(endpoint, dir, priority)?))
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
        let endpoint = decode!(endpoint);
        let dir = path(opt_c_str!(dir));
        let username = opt_utf8!(username, "Username");
        let priority = opt_utf8!(priority, "Priority");
        Ok(crate::ffi::new(Creds::psk(
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
        let endpoint = decode!(endpoint);
        let (dir, priority) = (path(opt_c_str!(dir)), opt_utf8!(priority, "Priority"));
        let password = opt_handle!(key_password).map(|secret| secret.bytes());
        Ok(crate::ffi::new(Creds::x509(
            endpoint,
            dir,
            verify_peer != GFALSE,
            priority,
            sanity_check != GFALSE,
            password,
        )?))
    })
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
        handle!(creds).check_endpoint(decode!(endpoint))?;
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
        Ok(crate::ffi::g_string(&handle!(creds).priority()))
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
        handle!(creds).reload()?;
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
    ffi_guard!(std::ptr::null_mut(), { ref_handle!(creds) })
}

/// Drops a reference to @creds; sessions made with them keep what they use. NULL is
/// ignored.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_tls_creds_unref(creds: *mut QCryptoTLSCreds) {
    ffi_guard!((), { unref_handle!(creds) })
}
