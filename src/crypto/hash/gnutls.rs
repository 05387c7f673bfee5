//! Hashes from gnutls: every algorithm but SM3, which gnutls lacks; an algorithm that
//! gnutls refuses at run time (FIPS mode refuses MD5) is reported as unsupported.

use std::sync::OnceLock;

use gnutls_sys::gen as ffi;

use super::HashAlgo;
use crate::crypto::digest::Driver;
use crate::crypto::gnutls::{check, init_handle};
use crate::Result;

fn algorithm(alg: HashAlgo) -> Option<ffi::gnutls_digest_algorithm_t> {
    use ffi::gnutls_digest_algorithm_t::*;
    Some(match alg {
        HashAlgo::Md5 => GNUTLS_DIG_MD5,
        HashAlgo::Sha1 => GNUTLS_DIG_SHA1,
        HashAlgo::Sha224 => GNUTLS_DIG_SHA224,
        HashAlgo::Sha256 => GNUTLS_DIG_SHA256,
        HashAlgo::Sha384 => GNUTLS_DIG_SHA384,
        HashAlgo::Sha512 => GNUTLS_DIG_SHA512,
        HashAlgo::Ripemd160 => GNUTLS_DIG_RMD160,
        HashAlgo::Sm3 => return None,
    })
}

pub(super) fn supports(alg: HashAlgo) -> bool {
    static USABLE: OnceLock<[bool; HashAlgo::ALL.len()]> = OnceLock::new();
    USABLE.get_or_init(|| HashAlgo::ALL.map(|a| new(a).is_ok()))[alg as usize]
}

struct GnutlsHash(ffi::gnutls_hash_hd_t);

// SAFETY: the handle is owned, and gnutls hash handles are not tied to a thread.
unsafe impl Send for GnutlsHash {}

impl Drop for GnutlsHash {
    fn drop(&mut self) {
        // SAFETY: the handle came from gnutls_hash_init and is released once.
        unsafe { ffi::gnutls_hash_deinit(self.0, std::ptr::null_mut()) };
    }
}

impl Driver for GnutlsHash {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        // SAFETY: a live handle and a valid buffer.
        check("gnutls_hash failed", unsafe {
            ffi::gnutls_hash(self.0, data.as_ptr().cast(), data.len() as ffi::size_t)
        })
    }

    fn finalize_into(&mut self, out: &mut [u8]) {
        // SAFETY: `out` has the digest length; gnutls resets the handle.
        unsafe { ffi::gnutls_hash_output(self.0, out.as_mut_ptr().cast()) };
    }
}

pub(super) fn new(alg: HashAlgo) -> Result<Box<dyn Driver>> {
    let Some(gnutls_alg) = algorithm(alg) else {
        return Err(super::unsupported(
            "hash",
            alg,
            crate::crypto::Backend::Gnutls,
        ));
    };
    // SAFETY: gnutls_hash_init writes a handle pointer.
    let handle = init_handle("gnutls_hash_init failed", |h| unsafe {
        ffi::gnutls_hash_init(h, gnutls_alg)
    })?;
    Ok(Box::new(GnutlsHash(handle)))
}
