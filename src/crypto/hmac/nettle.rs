//! HMAC from nettle's generic `hmac_*` functions over the nettle hash descriptions:
//! all eight algorithms. The three contexts are wiped when dropped.

use nettle_sys as ffi;

use crate::crypto::digest::Driver;
use crate::crypto::hash::nettle::{descriptor, Context};
use crate::crypto::hash::HashAlgo;
use crate::Result;

struct NettleHmac {
    hash: &'static ffi::nettle_hash,
    outer: Context,
    inner: Context,
    state: Context,
}

// SAFETY: the contexts are owned; the hash description is immutable static data.
unsafe impl Send for NettleHmac {}

impl Driver for NettleHmac {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        // SAFETY: the state was keyed by nettle_hmac_set_key and sized for `hash`.
        unsafe {
            ffi::nettle_hmac_update(
                self.state.as_mut_ptr(),
                self.hash,
                data.len(),
                data.as_ptr(),
            )
        };
        Ok(())
    }

    fn finalize_into(&mut self, out: &mut [u8]) {
        // SAFETY: as above; nettle rekeys `state` from `inner` after the digest.
        unsafe {
            ffi::nettle_hmac_digest(
                self.outer.as_ptr(),
                self.inner.as_ptr(),
                self.state.as_mut_ptr(),
                self.hash,
                out.len(),
                out.as_mut_ptr(),
            )
        };
    }
}

pub(super) fn supports(_alg: HashAlgo) -> bool {
    true
}

pub(super) fn new(alg: HashAlgo, key: &[u8]) -> Result<Box<dyn Driver>> {
    let hash = descriptor(alg);
    let mut mac = NettleHmac {
        hash,
        outer: Context::new(hash.context_size),
        inner: Context::new(hash.context_size),
        state: Context::new(hash.context_size),
    };
    // SAFETY: three contexts of the hash's context size and a valid key buffer.
    unsafe {
        ffi::nettle_hmac_set_key(
            mac.outer.as_mut_ptr(),
            mac.inner.as_mut_ptr(),
            mac.state.as_mut_ptr(),
            hash,
            key.len(),
            key.as_ptr(),
        )
    };
    Ok(Box::new(mac))
}
