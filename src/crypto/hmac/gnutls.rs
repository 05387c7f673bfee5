//! HMAC from gnutls: every algorithm but SM3; an algorithm gnutls refuses at run time
//! is reported as unsupported.

use std::sync::OnceLock;

use gnutls_sys::gen as ffi;

use crate::crypto::digest::Driver;
use crate::crypto::gnutls::{check, init_handle};
use crate::crypto::hash::{self, HashAlgo};
use crate::crypto::Backend;
use crate::Result;

/// gnutls' MAC for HMAC-`alg` (PBKDF2 uses it too), if gnutls names one.
pub(crate) fn algorithm(alg: HashAlgo) -> Option<ffi::gnutls_mac_algorithm_t> {
    use ffi::gnutls_mac_algorithm_t::*;
    Some(match alg {
        HashAlgo::Md5 => GNUTLS_MAC_MD5,
        HashAlgo::Sha1 => GNUTLS_MAC_SHA1,
        HashAlgo::Sha224 => GNUTLS_MAC_SHA224,
        HashAlgo::Sha256 => GNUTLS_MAC_SHA256,
        HashAlgo::Sha384 => GNUTLS_MAC_SHA384,
        HashAlgo::Sha512 => GNUTLS_MAC_SHA512,
        HashAlgo::Ripemd160 => GNUTLS_MAC_RMD160,
        HashAlgo::Sm3 => return None,
    })
}

pub(super) fn supports(alg: HashAlgo) -> bool {
    static USABLE: OnceLock<[bool; HashAlgo::ALL.len()]> = OnceLock::new();
    USABLE.get_or_init(|| HashAlgo::ALL.map(|a| new(a, b"probe key").is_ok()))[alg as usize]
}

struct GnutlsHmac(ffi::gnutls_hmac_hd_t);

// SAFETY: the handle is owned, and gnutls HMAC handles are not tied to a thread.
unsafe impl Send for GnutlsHmac {}

impl Drop for GnutlsHmac {
    fn drop(&mut self) {
        // SAFETY: the handle came from gnutls_hmac_init and is released once.
        unsafe { ffi::gnutls_hmac_deinit(self.0, std::ptr::null_mut()) };
    }
}

impl Driver for GnutlsHmac {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        // SAFETY: a live handle and a valid buffer.
        check("gnutls_hmac failed", unsafe {
            ffi::gnutls_hmac(self.0, data.as_ptr().cast(), data.len() as ffi::size_t)
        })
    }

    fn finalize_into(&mut self, out: &mut [u8]) {
        // SAFETY: `out` has the MAC length; gnutls resets the handle to the keyed state.
        unsafe { ffi::gnutls_hmac_output(self.0, out.as_mut_ptr().cast()) };
    }
}

pub(super) fn new(alg: HashAlgo, key: &[u8]) -> Result<Box<dyn Driver>> {
    let Some(gnutls_alg) = algorithm(alg) else {
        return Err(hash::unsupported("hmac", alg, Backend::Gnutls));
    };
    // SAFETY: gnutls_hmac_init writes a handle pointer and copies the key.
    let handle = init_handle("gnutls_hmac_init failed", |h| unsafe {
        ffi::gnutls_hmac_init(h, gnutls_alg, key.as_ptr().cast(), key.len() as ffi::size_t)
    })?;
    Ok(Box::new(GnutlsHmac(handle)))
}
