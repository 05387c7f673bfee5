//! Test certificates made at run time with gnutls' x509 API (nothing committed can
//! expire): a key per certificate, ECDSA P-256, signed with SHA-256.

#![allow(non_camel_case_types)]

use std::ffi::CString;
use std::os::raw::{c_char, c_int, c_uint, c_void};

use super::super::ffi::{self, gnutls_datum_t, gnutls_x509_crt_t, GNUTLS_X509_FMT_PEM};

type gnutls_x509_privkey_t = *mut c_void;

const GNUTLS_PK_ECDSA: c_int = 4;
const GNUTLS_DIG_SHA256: c_int = 6;
const GNUTLS_SAN_DNSNAME: c_int = 1;
const GNUTLS_SAN_IPADDRESS: c_int = 4;
const GNUTLS_FSAN_APPEND: c_uint = 1;
const GNUTLS_PKCS_PBES2_AES_256: c_uint = 1 << 7;
pub const KEY_DIGITAL_SIGNATURE: c_uint = 128;
pub const KEY_CERT_SIGN: c_uint = 4;
pub const KEY_CRL_SIGN: c_uint = 2;
pub const PURPOSE_SERVER: &str = "1.3.6.1.5.5.7.3.1";
pub const PURPOSE_CLIENT: &str = "1.3.6.1.5.5.7.3.2";

#[link(name = "gnutls")]
extern "C" {
    fn gnutls_x509_privkey_init(key: *mut gnutls_x509_privkey_t) -> c_int;
    fn gnutls_x509_privkey_deinit(key: gnutls_x509_privkey_t);
    fn gnutls_x509_privkey_generate(
        key: gnutls_x509_privkey_t,
        algo: c_int,
        bits: c_uint,
        flags: c_uint,
    ) -> c_int;
    fn gnutls_x509_privkey_export2(
        key: gnutls_x509_privkey_t,
        format: c_int,
        out: *mut gnutls_datum_t,
    ) -> c_int;
    fn gnutls_x509_privkey_export2_pkcs8(
        key: gnutls_x509_privkey_t,
        format: c_int,
        password: *const c_char,
        flags: c_uint,
        out: *mut gnutls_datum_t,
    ) -> c_int;
    fn gnutls_x509_crt_set_version(crt: gnutls_x509_crt_t, version: c_uint) -> c_int;
    fn gnutls_x509_crt_set_serial(
        crt: gnutls_x509_crt_t,
        serial: *const c_void,
        size: usize,
    ) -> c_int;
    fn gnutls_x509_crt_set_activation_time(crt: gnutls_x509_crt_t, t: libc::time_t) -> c_int;
    fn gnutls_x509_crt_set_expiration_time(crt: gnutls_x509_crt_t, t: libc::time_t) -> c_int;
    fn gnutls_x509_crt_set_dn_by_oid(
        crt: gnutls_x509_crt_t,
        oid: *const c_char,
        raw: c_uint,
        name: *const c_void,
        size: c_uint,
    ) -> c_int;
    fn gnutls_x509_crt_set_key(crt: gnutls_x509_crt_t, key: gnutls_x509_privkey_t) -> c_int;
    fn gnutls_x509_crt_set_basic_constraints(
        crt: gnutls_x509_crt_t,
        ca: c_uint,
        path_len: c_int,
    ) -> c_int;
    fn gnutls_x509_crt_set_key_usage(crt: gnutls_x509_crt_t, usage: c_uint) -> c_int;
    fn gnutls_x509_crt_set_key_purpose_oid(
        crt: gnutls_x509_crt_t,
        oid: *const c_void,
        critical: c_uint,
    ) -> c_int;
    fn gnutls_x509_crt_set_subject_alt_name(
        crt: gnutls_x509_crt_t,
        kind: c_int,
        data: *const c_void,
        size: c_uint,
        flags: c_uint,
    ) -> c_int;
    fn gnutls_x509_crt_sign2(
        crt: gnutls_x509_crt_t,
        issuer: gnutls_x509_crt_t,
        issuer_key: gnutls_x509_privkey_t,
        dig: c_int,
        flags: c_uint,
    ) -> c_int;
    fn gnutls_x509_crt_export2(
        crt: gnutls_x509_crt_t,
        format: c_int,
        out: *mut gnutls_datum_t,
    ) -> c_int;
}

fn ok(rc: c_int) {
    assert!(rc >= 0, "gnutls: {}", super::super::strerror(rc));
}

/// gnutls-allocated output as text, freed.
fn take(datum: gnutls_datum_t) -> String {
    // SAFETY: gnutls filled `size` bytes, which we free with gnutls_free.
    unsafe {
        let text =
            String::from_utf8_lossy(std::slice::from_raw_parts(datum.data, datum.size as usize))
                .into_owned();
        (ffi::gnutls_free.unwrap())(datum.data.cast());
        text
    }
}

fn empty() -> gnutls_datum_t {
    gnutls_datum_t {
        data: std::ptr::null_mut(),
        size: 0,
    }
}

/// What a certificate says about itself.
pub struct Request<'a> {
    pub country: Option<&'a str>,
    pub cn: &'a str,
    pub dns: &'a [&'a str],
    pub ips: &'a [[u8; 4]],
    pub ca: bool,
    pub key_usage: c_uint,
    pub purpose: Option<&'a str>,
    pub purpose_critical: bool,
    /// Validity relative to now, in hours.
    pub start_hours: i64,
    pub end_hours: i64,
}

impl Request<'_> {
    pub fn ca(cn: &str) -> Request<'_> {
        Request {
            country: Some("UK"),
            cn,
            dns: &[],
            ips: &[],
            ca: true,
            key_usage: KEY_CERT_SIGN | KEY_CRL_SIGN,
            purpose: None,
            purpose_critical: false,
            start_hours: -1,
            end_hours: 24,
        }
    }

    pub fn leaf<'a>(cn: &'a str, purpose: &'a str, dns: &'a [&'a str]) -> Request<'a> {
        Request {
            country: Some("UK"),
            cn,
            dns,
            ips: &[],
            ca: false,
            key_usage: KEY_DIGITAL_SIGNATURE,
            purpose: Some(purpose),
            purpose_critical: false,
            start_hours: -1,
            end_hours: 24,
        }
    }
}

/// A certificate with its private key, both kept for signing and as PEM.
pub struct Cert {
    crt: gnutls_x509_crt_t,
    key: gnutls_x509_privkey_t,
    pub cert_pem: String,
}

impl Drop for Cert {
    fn drop(&mut self) {
        // SAFETY: our handles, freed once.
        unsafe {
            ffi::gnutls_x509_crt_deinit(self.crt);
            gnutls_x509_privkey_deinit(self.key);
        }
    }
}

impl Cert {
    /// Makes the certificate `req` describes, signed by `issuer` (self-signed if none).
    pub fn new(req: &Request<'_>, issuer: Option<&Cert>) -> Cert {
        // SAFETY: every handle is initialized before use and freed by Drop; strings
        // and buffers live across the calls that read them.
        unsafe {
            let mut key = std::ptr::null_mut();
            ok(gnutls_x509_privkey_init(&mut key));
            ok(gnutls_x509_privkey_generate(key, GNUTLS_PK_ECDSA, 256, 0));
            let mut crt = std::ptr::null_mut();
            ok(ffi::gnutls_x509_crt_init(&mut crt));
            let mut cert = Cert {
                crt,
                key,
                cert_pem: String::new(),
            };
            ok(gnutls_x509_crt_set_version(crt, 3));
            static SERIAL: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
            let serial = SERIAL
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                .to_be_bytes();
            ok(gnutls_x509_crt_set_serial(
                crt,
                serial.as_ptr().cast(),
                serial.len(),
            ));
            let now = libc::time(std::ptr::null_mut());
            ok(gnutls_x509_crt_set_activation_time(
                crt,
                now + req.start_hours * 3600,
            ));
            ok(gnutls_x509_crt_set_expiration_time(
                crt,
                now + req.end_hours * 3600,
            ));
            let mut dn = vec![];
            if let Some(country) = req.country {
                dn.push(("2.5.4.6", country));
            }
            dn.push(("2.5.4.3", req.cn));
            for (oid, value) in dn {
                let oid = CString::new(oid).unwrap();
                ok(gnutls_x509_crt_set_dn_by_oid(
                    crt,
                    oid.as_ptr(),
                    0,
                    value.as_ptr().cast(),
                    value.len() as c_uint,
                ));
            }
            ok(gnutls_x509_crt_set_key(crt, key));
            ok(gnutls_x509_crt_set_basic_constraints(
                crt,
                req.ca as c_uint,
                -1,
            ));
            ok(gnutls_x509_crt_set_key_usage(crt, req.key_usage));
            if let Some(purpose) = req.purpose {
                let oid = CString::new(purpose).unwrap();
                ok(gnutls_x509_crt_set_key_purpose_oid(
                    crt,
                    oid.as_ptr().cast(),
                    req.purpose_critical as c_uint,
                ));
            }
            for name in req.dns {
                ok(gnutls_x509_crt_set_subject_alt_name(
                    crt,
                    GNUTLS_SAN_DNSNAME,
                    name.as_ptr().cast(),
                    name.len() as c_uint,
                    GNUTLS_FSAN_APPEND,
                ));
            }
            for ip in req.ips {
                ok(gnutls_x509_crt_set_subject_alt_name(
                    crt,
                    GNUTLS_SAN_IPADDRESS,
                    ip.as_ptr().cast(),
                    4,
                    GNUTLS_FSAN_APPEND,
                ));
            }
            let (issuer_crt, issuer_key) = issuer.map_or((crt, key), |i| (i.crt, i.key));
            ok(gnutls_x509_crt_sign2(
                crt,
                issuer_crt,
                issuer_key,
                GNUTLS_DIG_SHA256,
                0,
            ));
            let mut out = empty();
            ok(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &mut out));
            cert.cert_pem = take(out);
            cert
        }
    }

    /// The private key as PEM, encrypted with `password` when given.
    pub fn key_pem(&self, password: Option<&str>) -> String {
        let mut out = empty();
        // SAFETY: a live key; the password string outlives the call.
        unsafe {
            match password {
                None => ok(gnutls_x509_privkey_export2(
                    self.key,
                    GNUTLS_X509_FMT_PEM,
                    &mut out,
                )),
                Some(password) => {
                    let password = CString::new(password).unwrap();
                    ok(gnutls_x509_privkey_export2_pkcs8(
                        self.key,
                        GNUTLS_X509_FMT_PEM,
                        password.as_ptr(),
                        GNUTLS_PKCS_PBES2_AES_256,
                        &mut out,
                    ));
                }
            }
        }
        take(out)
    }
}
