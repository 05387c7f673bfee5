//! Message digests (QEMU's `crypto/hash.h`) on every compiled backend.

pub(crate) mod algo;
mod builtin;
#[cfg(feature = "gnutls")]
mod gnutls;
mod md5;
#[cfg(feature = "nettle")]
pub(crate) mod nettle;

pub use algo::HashAlgo;

use std::ops::{Deref, DerefMut};

use super::backend::{self, Backend};
use super::digest::{Digester, Driver};
use crate::{Error, ErrorKind, Result};

/// Whether `backend` computes `alg` (for `Auto`: whether any compiled backend does).
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

/// Whether some compiled backend computes `alg` (QEMU's `qcrypto_hash_supports`).
pub fn supports(alg: HashAlgo) -> bool {
    backend_supports(Backend::Auto, alg)
}

/// The driver computing `alg` on the concrete `backend`, which supports it.
fn new_driver(backend: Backend, alg: HashAlgo) -> Result<Box<dyn Driver>> {
    match backend {
        #[cfg(feature = "nettle")]
        Backend::Nettle => nettle::new(alg),
        #[cfg(feature = "gnutls")]
        Backend::Gnutls => gnutls::new(alg),
        _ => Ok(builtin::new(alg)),
    }
}

/// The error for `alg` missing from `backend` (`Auto`: from every backend), worded as
/// QEMU words it where QEMU has the case. Shared with HMAC, which says `what` = "hmac".
pub(crate) fn unsupported(what: &str, alg: HashAlgo, backend: Backend) -> Error {
    let message = if backend == Backend::Auto {
        format!("Unsupported {what} algorithm {}", alg.name())
    } else {
        format!(
            "Unsupported {what} algorithm {} in the {} backend",
            alg.name(),
            backend.name()
        )
    };
    Error::new(ErrorKind::NotSupported, message)
}

/// An incremental hash computation (QEMU's `QCryptoHash`).
///
/// ```
/// use qio::crypto::{Hash, HashAlgo};
///
/// let mut hash = Hash::new(HashAlgo::Sha256)?;
/// hash.update(b"ab")?;
/// hash.update(b"c")?;
/// // FIPS 180-2, appendix B.1.
/// assert_eq!(
///     hash.finalize_hex(),
///     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
/// );
/// # Ok::<(), qio::Error>(())
/// ```
pub struct Hash(Digester);

impl Hash {
    /// Starts hashing with `alg` on the default backend.
    pub fn new(alg: HashAlgo) -> Result<Hash> {
        Self::with_backend(alg, Backend::Auto)
    }

    /// Starts hashing with `alg` on `backend` (`Auto`: the default one).
    pub fn with_backend(alg: HashAlgo, backend: Backend) -> Result<Hash> {
        let chosen = backend::resolve(backend, alg.preference(), |b| backend_supports(b, alg))
            .ok_or_else(|| unsupported("hash", alg, backend))?;
        Ok(Hash(Digester::new(alg, chosen, new_driver(chosen, alg)?)))
    }
}

impl Deref for Hash {
    type Target = Digester;
    fn deref(&self) -> &Digester {
        &self.0
    }
}

impl DerefMut for Hash {
    fn deref_mut(&mut self) -> &mut Digester {
        &mut self.0
    }
}

/// The digest of the concatenation of `parts`, computed on the default backend.
pub fn digest(alg: HashAlgo, parts: &[&[u8]]) -> Result<Vec<u8>> {
    let mut hash = Hash::new(alg)?;
    for part in parts {
        hash.update(part)?;
    }
    Ok(hash.finalize())
}

#[cfg(test)]
mod tests;
