//! What hashes and HMACs share: a backend driver that absorbs bytes and produces a
//! digest, wrapped in [`Digester`], which checks output buffers and formats the result.

use base64::Engine as _;

use super::backend::Backend;
use super::hash::algo::HashAlgo;
use crate::{Error, ErrorKind, Result};

/// One backend's running hash or HMAC computation.
pub(crate) trait Driver: Send {
    /// Absorbs `data`.
    fn update(&mut self, data: &[u8]) -> Result<()>;
    /// Writes the digest of everything absorbed into `out`, whose length is the
    /// algorithm's digest length, and starts over (keyed again, for an HMAC).
    fn finalize_into(&mut self, out: &mut [u8]);
}

/// A running hash or HMAC: the algorithm, the backend that computes it, and its state.
///
/// Finalizing resets the state, so one `Digester` can digest many messages.
pub struct Digester {
    alg: HashAlgo,
    backend: Backend,
    driver: Box<dyn Driver>,
}

impl Digester {
    pub(crate) fn new(alg: HashAlgo, backend: Backend, driver: Box<dyn Driver>) -> Self {
        Digester {
            alg,
            backend,
            driver,
        }
    }

    /// The hash algorithm.
    pub fn algorithm(&self) -> HashAlgo {
        self.alg
    }

    /// The concrete backend computing the digest (never [`Backend::Auto`]).
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The length of the digest in bytes.
    pub fn digest_len(&self) -> usize {
        self.alg.digest_len()
    }

    /// Absorbs `data`.
    pub fn update(&mut self, data: &[u8]) -> Result<()> {
        self.driver.update(data)
    }

    /// Writes the digest into `out`, which must be exactly [`Self::digest_len`] bytes
    /// long (QEMU's preallocated-result rule), and resets.
    pub fn finalize_into(&mut self, out: &mut [u8]) -> Result<()> {
        if out.len() != self.digest_len() {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "Result buffer size {} is smaller than hash {}",
                    out.len(),
                    self.digest_len()
                ),
            ));
        }
        self.driver.finalize_into(out);
        Ok(())
    }

    /// Returns the digest and resets.
    pub fn finalize(&mut self) -> Vec<u8> {
        let mut out = vec![0; self.digest_len()];
        self.driver.finalize_into(&mut out);
        out
    }

    /// Returns the digest as lowercase hexadecimal and resets.
    pub fn finalize_hex(&mut self) -> String {
        to_hex(&self.finalize())
    }

    /// Returns the digest in padded standard base64 and resets.
    pub fn finalize_base64(&mut self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.finalize())
    }
}

/// `bytes` as lowercase hexadecimal.
fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .map(char::from)
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lowercase_and_complete() {
        assert_eq!(super::to_hex(&[0x00, 0x0f, 0xa5, 0xff]), "000fa5ff");
        assert_eq!(super::to_hex(&[]), "");
    }
}
