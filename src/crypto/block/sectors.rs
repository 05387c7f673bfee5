//! Sector-wise encryption in place (QEMU's `do_qcrypto_block_cipher_encdec`): a
//! cipher and the IV generator keyed with the same key, each sector encrypted under
//! the IV of its number. Key material and payloads both go through it.
//!
//! A sector's IV number is its own number unless an [`IvNumbering`] says otherwise:
//! LUKS2 offsets them (`iv_tweak`) and, with sectors larger than 512 bytes, still
//! counts them in 512-byte units, as dm-crypt does without `iv_large_sectors`.

use crate::crypto::cipher::{self, Cipher, InOutBuf};
use crate::crypto::ivgen::IvGen;
use crate::Result;

/// How sector numbers become the numbers IVs are generated from: sector `n` gets
/// IV number `offset + (n << shift)`, wrapping as dm-crypt's does. The default is the
/// sector number itself.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IvNumbering {
    /// Added to every IV number (LUKS2's `iv_tweak`, dm-crypt's `iv_offset`).
    pub offset: u64,
    /// IV numbers per sector, as a power of two: 3 for 4096-byte sectors whose IVs
    /// count 512-byte units.
    pub shift: u32,
}

impl IvNumbering {
    fn iv_number(self, sector: u64) -> u64 {
        self.offset.wrapping_add(sector << self.shift)
    }
}

/// A cipher with its IV generator.
pub struct SectorCipher {
    cipher: Cipher,
    ivgen: IvGen,
    numbering: IvNumbering,
    /// The cipher's IV length: 0 for ECB, which takes no IV.
    niv: usize,
}

impl SectorCipher {
    /// Encrypts with `cipher`, each sector's IV from `ivgen` for the sector's number.
    pub fn new(cipher: Cipher, ivgen: IvGen) -> SectorCipher {
        let niv = cipher::iv_len(cipher.algo(), cipher.mode());
        SectorCipher {
            cipher,
            ivgen,
            numbering: IvNumbering::default(),
            niv,
        }
    }

    /// The same, with IVs numbered as `numbering` says.
    pub fn with_iv_numbering(self, numbering: IvNumbering) -> SectorCipher {
        SectorCipher { numbering, ..self }
    }

    /// The cipher.
    pub fn cipher(&self) -> &Cipher {
        &self.cipher
    }

    /// The IV generator.
    pub fn ivgen(&self) -> &IvGen {
        &self.ivgen
    }

    /// Encrypts `buf` in place: sectors of `sector_size` bytes (the last may be
    /// shorter), numbered from `first_sector`.
    pub fn encrypt(&mut self, first_sector: u64, sector_size: usize, buf: &mut [u8]) -> Result<()> {
        self.each_sector(first_sector, sector_size, buf, |cipher, sector| {
            cipher.encrypt(InOutBuf::from(sector))
        })
    }

    /// Decrypts `buf` in place, as [`SectorCipher::encrypt`] encrypted it.
    pub fn decrypt(&mut self, first_sector: u64, sector_size: usize, buf: &mut [u8]) -> Result<()> {
        self.each_sector(first_sector, sector_size, buf, |cipher, sector| {
            cipher.decrypt(InOutBuf::from(sector))
        })
    }

    fn each_sector(
        &mut self,
        first_sector: u64,
        sector_size: usize,
        buf: &mut [u8],
        mut op: impl FnMut(&mut Cipher, &mut [u8]) -> Result<()>,
    ) -> Result<()> {
        let mut iv = [0u8; 16];
        let iv = &mut iv[..self.niv];
        for (sector, data) in (first_sector..).zip(buf.chunks_mut(sector_size)) {
            if !iv.is_empty() {
                self.ivgen.calculate(self.numbering.iv_number(sector), iv)?;
                self.cipher.set_iv(iv)?;
            }
            op(&mut self.cipher, data)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
