//! Sector IV generators for disk encryption (QEMU's `crypto/ivgen.h`, dm-crypt's
//! `plain`, `plain64` and `essiv` IV modes used by LUKS).

use super::cipher::{Cipher, CipherAlgo, CipherMode, InOutBuf};
use super::hash::{self, HashAlgo};
use zeroize::Zeroize;

use crate::qapi::qapi_enum;
use crate::Result;

qapi_enum! {
    /// An IV generator algorithm (QEMU's `QCryptoIVGenAlgo`).
    pub enum IvGenAlgo, error = "Unknown block IV generator algorithm {}" {
        /// The sector number's low 32 bits, little-endian.
        Plain = 0 => "plain",
        /// The 64-bit sector number, little-endian.
        Plain64 = 1 => "plain64",
        /// The 64-bit sector number encrypted under a hash of the volume key.
        Essiv = 2 => "essiv",
    }
}

/// Computes the IV of each sector (QEMU's `QCryptoIVGen`).
pub struct IvGen {
    generator: Generator,
    cipher: CipherAlgo,
    hash: HashAlgo,
}

enum Generator {
    Plain,
    Plain64,
    /// The ECB cipher keyed with the salt, the hash of the volume key.
    Essiv(Cipher),
}

impl IvGen {
    /// A generator of `alg`. `cipher` and `hash` are recorded for every algorithm; ESSIV
    /// also uses them: the salt is `hash(key)`, truncated to `cipher`'s key length,
    /// which is the key of the ECB cipher that encrypts sector numbers (so a digest
    /// shorter than the key length fails as a wrong key length, as in QEMU).
    pub fn new(alg: IvGenAlgo, cipher: CipherAlgo, hash: HashAlgo, key: &[u8]) -> Result<IvGen> {
        let generator = match alg {
            IvGenAlgo::Plain => Generator::Plain,
            IvGenAlgo::Plain64 => Generator::Plain64,
            IvGenAlgo::Essiv => {
                let mut salt = hash::digest(hash, &[key])?;
                salt.truncate(cipher.key_len());
                let keyed = Cipher::new(cipher, CipherMode::Ecb, &salt);
                salt.zeroize();
                Generator::Essiv(keyed?)
            }
        };
        Ok(IvGen {
            generator,
            cipher,
            hash,
        })
    }

    /// Writes the IV of `sector` into `iv`: the generator's bytes, truncated to `iv`'s
    /// length or followed by zeros.
    pub fn calculate(&mut self, sector: u64, iv: &mut [u8]) -> Result<()> {
        let mut block = [0u8; 16];
        let produced = match &mut self.generator {
            Generator::Plain => {
                block[..4].copy_from_slice(&(sector as u32).to_le_bytes());
                4
            }
            Generator::Plain64 => {
                block[..8].copy_from_slice(&sector.to_le_bytes());
                8
            }
            Generator::Essiv(cipher) => {
                let len = self.cipher.block_len();
                block[..8].copy_from_slice(&sector.to_le_bytes());
                cipher.encrypt(InOutBuf::from(&mut block[..len]))?;
                len
            }
        };
        let n = produced.min(iv.len());
        iv[..n].copy_from_slice(&block[..n]);
        iv[n..].fill(0);
        Ok(())
    }

    /// The generator's algorithm.
    pub fn algorithm(&self) -> IvGenAlgo {
        match self.generator {
            Generator::Plain => IvGenAlgo::Plain,
            Generator::Plain64 => IvGenAlgo::Plain64,
            Generator::Essiv(_) => IvGenAlgo::Essiv,
        }
    }

    /// The cipher algorithm given at creation.
    pub fn cipher(&self) -> CipherAlgo {
        self.cipher
    }

    /// The hash algorithm given at creation.
    pub fn hash(&self) -> HashAlgo {
        self.hash
    }
}

#[cfg(test)]
mod tests;
