//! PBKDF2 from gnutls (`gnutls_pbkdf2`) for the MACs gnutls has: MD5, SHA-1, SHA-2 in
//! gnutls 3.7; a MAC it refuses at run time (RIPEMD-160 there) is unsupported.

use std::os::raw::{c_int, c_uint, c_void};
use std::sync::OnceLock;

use gnutls_sys::gen as ffi;

use crate::crypto::gnutls::check;
use crate::crypto::hash::HashAlgo;
use crate::crypto::hmac::gnutls::algorithm;
use crate::Result;

/// What gnutls-sys 0.1.2 (generated from gnutls 3.4) lacks: `gnutls_pbkdf2`, added in
/// gnutls 3.6.13.
mod ext {
    use super::*;

    extern "C" {
        pub fn gnutls_pbkdf2(
            mac: ffi::gnutls_mac_algorithm_t,
            key: *const ffi::gnutls_datum_t,
            salt: *const ffi::gnutls_datum_t,
            iter_count: c_uint,
            output: *mut c_void,
            length: usize,
        ) -> c_int;
    }
}

pub(super) fn supports(hash: HashAlgo) -> bool {
    static USABLE: OnceLock<[bool; HashAlgo::ALL.len()]> = OnceLock::new();
    USABLE.get_or_init(|| {
        HashAlgo::ALL.map(|h| {
            let mut out = [0u8; 16];
            algorithm(h).is_some()
                && pbkdf2(h, b"qio probe key", b"qio probe salt", 1, &mut out).is_ok()
        })
    })[hash as usize]
}

pub(super) fn pbkdf2(
    hash: HashAlgo,
    key: &[u8],
    salt: &[u8],
    rounds: u32,
    out: &mut [u8],
) -> Result<()> {
    let mac = algorithm(hash).expect("supports() was checked");
    let datum = |bytes: &[u8]| ffi::gnutls_datum_t {
        data: bytes.as_ptr() as *mut u8,
        size: bytes.len() as u32,
    };
    let (key, salt) = (datum(key), datum(salt));
    // SAFETY: gnutls reads the datums and writes `out.len()` bytes to `out`.
    let rc =
        unsafe { ext::gnutls_pbkdf2(mac, &key, &salt, rounds, out.as_mut_ptr().cast(), out.len()) };
    check("Cannot derive password", rc)
}
