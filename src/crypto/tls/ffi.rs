//! The gnutls TLS functions qio calls, declared here rather than taken from gnutls-sys:
//! its 2016 bindings model C enums as Rust enums, so a function returning a value they
//! do not list would be undefined behaviour. Enums cross as `c_int`/`c_uint`, handles
//! as opaque pointers. Everything here is in gnutls 3.6, and Debian 12 ships 3.7.

#![allow(non_camel_case_types)]

use std::os::raw::{c_char, c_int, c_uint, c_void};

pub type gnutls_session_t = *mut c_void;
pub type gnutls_anon_client_credentials_t = *mut c_void;
pub type gnutls_anon_server_credentials_t = *mut c_void;
pub type gnutls_psk_client_credentials_t = *mut c_void;
pub type gnutls_psk_server_credentials_t = *mut c_void;
pub type gnutls_dh_params_t = *mut c_void;
pub type gnutls_transport_ptr_t = *mut c_void;

#[repr(C)]
pub struct gnutls_datum_t {
    pub data: *mut u8,
    pub size: c_uint,
}

impl gnutls_datum_t {
    /// A datum viewing `bytes`, for calls that only read it; a view longer than
    /// gnutls can count is cut short, never overread.
    pub fn of(bytes: &[u8]) -> gnutls_datum_t {
        gnutls_datum_t {
            data: bytes.as_ptr().cast_mut(),
            size: c_uint::try_from(bytes.len()).unwrap_or(c_uint::MAX),
        }
    }
}

/// `gnutls_push_func`: sends bytes for the session, or -1 with the errno set through
/// `gnutls_transport_set_errno`.
pub type gnutls_push_func =
    unsafe extern "C" fn(gnutls_transport_ptr_t, *const c_void, usize) -> isize;
/// `gnutls_vec_push_func`: sends the buffers of an iovec array, as the push function.
pub type gnutls_vec_push_func =
    unsafe extern "C" fn(gnutls_transport_ptr_t, *const libc::iovec, c_int) -> isize;
/// `gnutls_pull_func`: receives bytes for the session, as the push function sends.
pub type gnutls_pull_func =
    unsafe extern "C" fn(gnutls_transport_ptr_t, *mut c_void, usize) -> isize;

// gnutls_init flags.
pub const GNUTLS_SERVER: c_uint = 1;
pub const GNUTLS_CLIENT: c_uint = 1 << 1;
// gnutls_credentials_type_t.
pub const GNUTLS_CRD_ANON: c_int = 2;
pub const GNUTLS_CRD_PSK: c_int = 4;
// gnutls_close_request_t.
pub const GNUTLS_SHUT_WR: c_int = 1;
// gnutls_x509_crt_fmt_t.
pub const GNUTLS_X509_FMT_PEM: c_int = 1;
// gnutls_psk_key_flags.
pub const GNUTLS_PSK_KEY_HEX: c_int = 1;
// gnutls_sec_param_t: 112-bit security, a 2048-bit Diffie-Hellman group.
pub const GNUTLS_SEC_PARAM_MEDIUM: c_int = 35;
// gnutls_protocol_t.
pub const GNUTLS_TLS1_3: c_int = 5;
// gnutls_cipher_algorithm_t.
pub const GNUTLS_CIPHER_CHACHA20_POLY1305: c_int = 23;

pub const GNUTLS_E_AGAIN: c_int = -28;
pub const GNUTLS_E_INTERRUPTED: c_int = -52;
pub const GNUTLS_E_PREMATURE_TERMINATION: c_int = -110;

#[link(name = "gnutls")]
extern "C" {
    pub fn gnutls_strerror(error: c_int) -> *const c_char;

    pub fn gnutls_dh_params_init(params: *mut gnutls_dh_params_t) -> c_int;
    pub fn gnutls_dh_params_deinit(params: gnutls_dh_params_t);
    pub fn gnutls_dh_params_import_pkcs3(
        params: gnutls_dh_params_t,
        pkcs3: *const gnutls_datum_t,
        format: c_int,
    ) -> c_int;

    pub fn gnutls_anon_allocate_client_credentials(
        sc: *mut gnutls_anon_client_credentials_t,
    ) -> c_int;
    pub fn gnutls_anon_free_client_credentials(sc: gnutls_anon_client_credentials_t);
    pub fn gnutls_anon_allocate_server_credentials(
        sc: *mut gnutls_anon_server_credentials_t,
    ) -> c_int;
    pub fn gnutls_anon_free_server_credentials(sc: gnutls_anon_server_credentials_t);
    pub fn gnutls_anon_set_server_dh_params(
        res: gnutls_anon_server_credentials_t,
        dh_params: gnutls_dh_params_t,
    );
    pub fn gnutls_anon_set_server_known_dh_params(
        res: gnutls_anon_server_credentials_t,
        sec_param: c_int,
    ) -> c_int;

    pub fn gnutls_psk_allocate_client_credentials(
        sc: *mut gnutls_psk_client_credentials_t,
    ) -> c_int;
    pub fn gnutls_psk_free_client_credentials(sc: gnutls_psk_client_credentials_t);
    pub fn gnutls_psk_set_client_credentials(
        res: gnutls_psk_client_credentials_t,
        username: *const c_char,
        key: *const gnutls_datum_t,
        flags: c_int,
    ) -> c_int;
    pub fn gnutls_psk_allocate_server_credentials(
        sc: *mut gnutls_psk_server_credentials_t,
    ) -> c_int;
    pub fn gnutls_psk_free_server_credentials(sc: gnutls_psk_server_credentials_t);
    pub fn gnutls_psk_set_server_credentials_file(
        res: gnutls_psk_server_credentials_t,
        password_file: *const c_char,
    ) -> c_int;
    pub fn gnutls_psk_set_server_dh_params(
        res: gnutls_psk_server_credentials_t,
        dh_params: gnutls_dh_params_t,
    );
    pub fn gnutls_psk_set_server_known_dh_params(
        res: gnutls_psk_server_credentials_t,
        sec_param: c_int,
    ) -> c_int;
}

#[link(name = "gnutls")]
extern "C" {
    pub fn gnutls_init(session: *mut gnutls_session_t, flags: c_uint) -> c_int;
    pub fn gnutls_deinit(session: gnutls_session_t);
    pub fn gnutls_priority_set_direct(
        session: gnutls_session_t,
        priorities: *const c_char,
        err_pos: *mut *const c_char,
    ) -> c_int;
    pub fn gnutls_credentials_set(
        session: gnutls_session_t,
        kind: c_int,
        cred: *mut c_void,
    ) -> c_int;
    pub fn gnutls_transport_set_ptr(session: gnutls_session_t, ptr: gnutls_transport_ptr_t);
    pub fn gnutls_transport_set_push_function(session: gnutls_session_t, push: gnutls_push_func);
    pub fn gnutls_transport_set_pull_function(session: gnutls_session_t, pull: gnutls_pull_func);
    pub fn gnutls_transport_set_vec_push_function(
        session: gnutls_session_t,
        push: gnutls_vec_push_func,
    );
    pub fn gnutls_transport_set_errno(session: gnutls_session_t, err: c_int);
    pub fn gnutls_handshake(session: gnutls_session_t) -> c_int;
    pub fn gnutls_record_get_direction(session: gnutls_session_t) -> c_int;
    pub fn gnutls_record_send(session: gnutls_session_t, data: *const c_void, size: usize)
        -> isize;
    pub fn gnutls_record_recv(session: gnutls_session_t, data: *mut c_void, size: usize) -> isize;
    pub fn gnutls_record_check_pending(session: gnutls_session_t) -> usize;
    pub fn gnutls_bye(session: gnutls_session_t, how: c_int) -> c_int;
    pub fn gnutls_cipher_get(session: gnutls_session_t) -> c_int;
    pub fn gnutls_cipher_get_key_size(algorithm: c_int) -> usize;
    pub fn gnutls_protocol_get_version(session: gnutls_session_t) -> c_int;
    pub fn gnutls_protocol_get_name(version: c_int) -> *const c_char;
    pub fn gnutls_cipher_get_name(algorithm: c_int) -> *const c_char;
}

pub type gnutls_certificate_credentials_t = *mut c_void;
pub type gnutls_x509_crt_t = *mut c_void;

pub const GNUTLS_CRD_CERTIFICATE: c_int = 1;
pub const GNUTLS_X509_FMT_DER: c_int = 0;
// gnutls_certificate_request_t.
pub const GNUTLS_CERT_REQUEST: c_int = 1;
// gnutls_certificate_status_t.
pub const GNUTLS_CERT_INVALID: c_uint = 1 << 1;
pub const GNUTLS_CERT_REVOKED: c_uint = 1 << 5;
pub const GNUTLS_CERT_SIGNER_NOT_FOUND: c_uint = 1 << 6;
pub const GNUTLS_CERT_INSECURE_ALGORITHM: c_uint = 1 << 8;

#[link(name = "gnutls")]
extern "C" {
    /// gnutls' deallocator for what it returns (a variable holding a function).
    pub static gnutls_free: Option<unsafe extern "C" fn(*mut c_void)>;

    pub fn gnutls_certificate_allocate_credentials(
        res: *mut gnutls_certificate_credentials_t,
    ) -> c_int;
    pub fn gnutls_certificate_free_credentials(sc: gnutls_certificate_credentials_t);
    pub fn gnutls_certificate_set_x509_trust_mem(
        res: gnutls_certificate_credentials_t,
        ca: *const gnutls_datum_t,
        format: c_int,
    ) -> c_int;
    pub fn gnutls_certificate_set_x509_crl_mem(
        res: gnutls_certificate_credentials_t,
        crl: *const gnutls_datum_t,
        format: c_int,
    ) -> c_int;
    pub fn gnutls_certificate_set_x509_key_mem2(
        res: gnutls_certificate_credentials_t,
        cert: *const gnutls_datum_t,
        key: *const gnutls_datum_t,
        format: c_int,
        pass: *const c_char,
        flags: c_uint,
    ) -> c_int;
    pub fn gnutls_certificate_set_dh_params(
        res: gnutls_certificate_credentials_t,
        dh_params: gnutls_dh_params_t,
    );
    pub fn gnutls_certificate_set_known_dh_params(
        res: gnutls_certificate_credentials_t,
        sec_param: c_int,
    ) -> c_int;
    pub fn gnutls_certificate_server_set_request(session: gnutls_session_t, req: c_int);
    pub fn gnutls_certificate_verify_peers2(
        session: gnutls_session_t,
        status: *mut c_uint,
    ) -> c_int;
    pub fn gnutls_certificate_get_peers(
        session: gnutls_session_t,
        list_size: *mut c_uint,
    ) -> *const gnutls_datum_t;

    pub fn gnutls_x509_crt_init(cert: *mut gnutls_x509_crt_t) -> c_int;
    pub fn gnutls_x509_crt_deinit(cert: gnutls_x509_crt_t);
    pub fn gnutls_x509_crt_import(
        cert: gnutls_x509_crt_t,
        data: *const gnutls_datum_t,
        format: c_int,
    ) -> c_int;
    pub fn gnutls_x509_crt_get_expiration_time(cert: gnutls_x509_crt_t) -> libc::time_t;
    pub fn gnutls_x509_crt_get_activation_time(cert: gnutls_x509_crt_t) -> libc::time_t;
    pub fn gnutls_x509_crt_get_dn2(cert: gnutls_x509_crt_t, dn: *mut gnutls_datum_t) -> c_int;
    pub fn gnutls_x509_crt_export2(
        cert: gnutls_x509_crt_t,
        format: c_int,
        out: *mut gnutls_datum_t,
    ) -> c_int;
    pub fn gnutls_x509_crt_check_hostname(
        cert: gnutls_x509_crt_t,
        hostname: *const c_char,
    ) -> c_uint;
}

pub const GNUTLS_E_SHORT_MEMORY_BUFFER: c_int = -51;
pub const GNUTLS_E_REQUESTED_DATA_NOT_AVAILABLE: c_int = -56;
pub const GNUTLS_KEY_DIGITAL_SIGNATURE: c_uint = 128;
pub const GNUTLS_KEY_KEY_CERT_SIGN: c_uint = 4;

#[link(name = "gnutls")]
extern "C" {
    pub fn gnutls_x509_crt_list_import2(
        certs: *mut *mut gnutls_x509_crt_t,
        size: *mut c_uint,
        data: *const gnutls_datum_t,
        format: c_int,
        flags: c_uint,
    ) -> c_int;
    pub fn gnutls_x509_crt_get_basic_constraints(
        cert: gnutls_x509_crt_t,
        critical: *mut c_uint,
        ca: *mut c_uint,
        pathlen: *mut c_int,
    ) -> c_int;
    pub fn gnutls_x509_crt_get_key_usage(
        cert: gnutls_x509_crt_t,
        key_usage: *mut c_uint,
        critical: *mut c_uint,
    ) -> c_int;
    pub fn gnutls_x509_crt_get_key_purpose_oid(
        cert: gnutls_x509_crt_t,
        indx: c_uint,
        oid: *mut c_void,
        oid_size: *mut usize,
        critical: *mut c_uint,
    ) -> c_int;
    pub fn gnutls_x509_crt_check_issuer(
        cert: gnutls_x509_crt_t,
        issuer: gnutls_x509_crt_t,
    ) -> c_uint;
    pub fn gnutls_x509_crt_list_verify(
        cert_list: *const gnutls_x509_crt_t,
        cert_list_length: c_uint,
        ca_list: *const gnutls_x509_crt_t,
        ca_list_length: c_uint,
        crl_list: *const c_void,
        crl_list_length: c_uint,
        flags: c_uint,
        verify: *mut c_uint,
    ) -> c_int;
}
