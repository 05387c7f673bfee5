//! XTS (IEEE 1619) for the builtin backend: each call is one data unit whose tweak is
//! the IV, which calls do not advance (QEMU's semantics; LUKS sets it per sector).
//!
//! The generic form runs over any 16-byte-block RustCrypto cipher and hands the block
//! cipher a batch of tweak-whitened blocks at a time, so ciphers with a multi-block
//! backend (AES-NI's 8 blocks in flight) pipeline them. AES on x86-64 uses qio's own
//! AES-NI/VAES kernel instead (see `aes_ni`), which also pipelines the tweaks.

use cipher::consts::U16;
use cipher::{Block, BlockSizeUser};

use super::block_cipher::{keyed, BlockCipher};
use super::{Driver, InOutBuf};
use crate::Result;

/// Blocks whitened per call into the block cipher: a 512-byte LUKS sector.
const BATCH: usize = 32;

/// XTS over `C`: the data key first, the tweak key second, and the current IV.
struct Xts<C> {
    data: C,
    tweak: C,
    iv: [u8; 16],
}

/// The generic XTS driver over the 16-byte-block cipher `C`; `key` is both keys.
pub(super) fn generic<C>(key: &[u8]) -> Box<dyn Driver>
where
    C: BlockCipher + BlockSizeUser<BlockSize = U16>,
{
    let (data, tweak) = key.split_at(key.len() / 2);
    Box::new(Xts {
        data: keyed::<C>(data),
        tweak: keyed::<C>(tweak),
        iv: [0; 16],
    })
}

/// The AES-XTS driver: qio's AES-NI/VAES kernel where the CPU has AES-NI, else generic.
pub(super) fn aes(key: &[u8]) -> Box<dyn Driver> {
    #[cfg(target_arch = "x86_64")]
    {
        let (data, tweak) = key.split_at(key.len() / 2);
        if let Some(xts) = super::aes_ni::AesXts::new(data, tweak) {
            return Box::new(Kernel { xts, iv: [0; 16] });
        }
    }
    match key.len() {
        32 => generic::<aes::Aes128>(key),
        48 => generic::<aes::Aes192>(key),
        _ => generic::<aes::Aes256>(key),
    }
}

/// Multiplies the tweak by α in GF(2^128), IEEE 1619's little-endian convention.
fn mul_alpha(t: u128) -> u128 {
    (t << 1) ^ ((t >> 127) * 0x87)
}

impl<C: BlockCipher + BlockSizeUser<BlockSize = U16>> Xts<C> {
    /// Runs `cipher_blocks` (the data key's encryption or decryption) over every block
    /// of `data`, whitened on both sides with the unit's successive tweaks.
    fn run(&self, data: InOutBuf<'_, '_, u8>, cipher_blocks: impl Fn(&C, &mut [Block<C>])) {
        let mut t = Block::<C>::from(self.iv);
        self.tweak.encrypt_block(&mut t);
        let mut t = u128::from_le_bytes(t.into());
        let (mut blocks, _) = data.into_chunks::<U16>();
        let mut tweaks = [0u128; BATCH];
        while !blocks.is_empty() {
            let n = blocks.len().min(BATCH);
            let (mut batch, rest) = blocks.split_at(n);
            for (i, tweak) in tweaks[..n].iter_mut().enumerate() {
                *tweak = t;
                t = mul_alpha(t);
                let mut block = batch.get(i);
                let whitened = u128::from_le_bytes((*block.get_in()).into()) ^ *tweak;
                *block.get_out() = whitened.to_le_bytes().into();
            }
            let out = batch.get_out();
            cipher_blocks(&self.data, out);
            for (block, tweak) in out.iter_mut().zip(&tweaks[..n]) {
                let whitened = u128::from_le_bytes((*block).into()) ^ tweak;
                *block = whitened.to_le_bytes().into();
            }
            blocks = rest;
        }
    }
}

/// AES-XTS on the x86-64 kernel, with the current IV.
#[cfg(target_arch = "x86_64")]
struct Kernel {
    xts: super::aes_ni::AesXts,
    iv: [u8; 16],
}

#[cfg(target_arch = "x86_64")]
impl Driver for Kernel {
    fn encrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()> {
        self.xts.encrypt(&self.iv, data);
        Ok(())
    }

    fn decrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()> {
        self.xts.decrypt(&self.iv, data);
        Ok(())
    }

    fn set_iv(&mut self, iv: &[u8]) -> Result<()> {
        self.iv = iv.try_into().expect("IV length checked by Cipher");
        Ok(())
    }
}

impl<C: BlockCipher + BlockSizeUser<BlockSize = U16>> Driver for Xts<C> {
    fn encrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()> {
        self.run(data, C::encrypt_blocks);
        Ok(())
    }

    fn decrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()> {
        self.run(data, C::decrypt_blocks);
        Ok(())
    }

    fn set_iv(&mut self, iv: &[u8]) -> Result<()> {
        self.iv = iv.try_into().expect("IV length checked by Cipher");
        Ok(())
    }
}
