//! Keyed-hash message authentication (QEMU's `crypto/hmac.h`) on every compiled backend.

mod builtin;
#[cfg(feature = "gnutls")]
pub(crate) mod gnutls;
#[cfg(feature = "nettle")]
mod nettle;

use std::ops::{Deref, DerefMut};

use super::backend::{self, Backend};
use super::digest::{Digester, Driver};
use super::hash::{self, HashAlgo};
use crate::Result;

/// Whether `backend` computes HMAC over `alg` (for `Auto`: whether any compiled backend does).
pub fn backend_supports(backend: Backend, alg: HashAlgo) -> bool {
    match backend {
        Backend::Auto => Backend::CONCRETE.iter().any(|&b| backend_supports(b, alg)),
        Backend::Builtin => builtin::supports(alg),
        #[cfg(feature = "nettle")]
        Backend::Nettle => nettle::supports(alg),
        #[cfg(feature = "gnutls")]
        Backend::Gnutls => gnutls::supports(alg),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// Whether some compiled backend computes HMAC over `alg` (QEMU's `qcrypto_hmac_supports`).
pub fn supports(alg: HashAlgo) -> bool {
    backend_supports(Backend::Auto, alg)
}

/// The backends `Auto` tries for HMAC over `alg`: the hash's order, but for MD5, whose
/// fast builtin implementation (qio's own) does not sit behind the builtin HMAC: that one
/// runs RustCrypto's md-5, slower than nettle's MD5 (bench/README.md's table, builtin vs nettle).
fn preference(alg: HashAlgo) -> &'static [Backend] {
    match alg {
        HashAlgo::Md5 => &[Backend::Nettle, Backend::Gnutls, Backend::Builtin],
        _ => alg.preference(),
    }
}

fn new_driver(backend: Backend, alg: HashAlgo, key: &[u8]) -> Result<Box<dyn Driver>> {
    match backend {
        #[cfg(feature = "nettle")]
        Backend::Nettle => nettle::new(alg, key),
        #[cfg(feature = "gnutls")]
        Backend::Gnutls => gnutls::new(alg, key),
        _ => builtin::new(alg, key),
    }
}

/// An HMAC computation under one key (QEMU's `QCryptoHmac`). Each finalize returns the
/// MAC of the bytes absorbed since the previous one; the key stays.
pub struct Hmac(Digester);

impl Hmac {
    /// An HMAC over `alg` keyed with `key` (any length), on the default backend.
    pub fn new(alg: HashAlgo, key: &[u8]) -> Result<Hmac> {
        Self::with_backend(alg, Backend::Auto, key)
    }

    /// An HMAC over `alg` keyed with `key`, on `backend` (`Auto`: the default one).
    pub fn with_backend(alg: HashAlgo, backend: Backend, key: &[u8]) -> Result<Hmac> {
        let chosen = backend::resolve(backend, preference(alg), |b| backend_supports(b, alg))
            .ok_or_else(|| hash::unsupported("hmac", alg, backend))?;
        Ok(Hmac(Digester::new(
            alg,
            chosen,
            new_driver(chosen, alg, key)?,
        )))
    }
}

impl Deref for Hmac {
    type Target = Digester;
    fn deref(&self) -> &Digester {
        &self.0
    }
}

impl DerefMut for Hmac {
    fn deref_mut(&mut self) -> &mut Digester {
        &mut self.0
    }
}

#[cfg(test)]
mod tests;
