//! The builtin cipher backend: RustCrypto block ciphers in the `cbc` and `ctr` crates'
//! modes, ECB straight on the block cipher, and XTS from [`super::xts`]; AES in ECB,
//! CTR and XTS runs on qio's x86-64 AES-NI/VAES kernel where the CPU has AES-NI.

use cipher::consts::{U16, U8};
use cipher::{
    Block, BlockModeDecrypt, BlockModeEncrypt, BlockSizeUser, InnerIvInit, IvState,
    StreamCipherCore,
};
use ctr::flavors::{Ctr128BE, Ctr64BE, CtrFlavor};

use super::block_cipher::{keyed, BlockCipher};
use super::{xts, CipherAlgo, CipherMode, Driver, InOutBuf};
use crate::Result;

/// The driver for `alg` in `mode`, keyed with `key` (lengths already checked).
pub(super) fn new(alg: CipherAlgo, mode: CipherMode, key: &[u8]) -> Box<dyn Driver> {
    use CipherAlgo::*;
    let aes = matches!(alg, Aes128 | Aes192 | Aes256);
    if aes && mode == CipherMode::Xts {
        return xts::aes(key);
    }
    #[cfg(target_arch = "x86_64")]
    if aes && mode != CipherMode::Cbc {
        if let Some(aes) = super::aes_ni::AesBlocks::new(key) {
            let counter = (mode == CipherMode::Ctr).then_some([0; 16]);
            return Box::new(AesNi { aes, counter });
        }
    }
    match alg {
        Aes128 => wide::<aes::Aes128>(mode, key),
        Aes192 => wide::<aes::Aes192>(mode, key),
        Aes256 => wide::<aes::Aes256>(mode, key),
        Des => narrow::<des::Des>(mode, key),
        TripleDes => narrow::<des::TdesEde3>(mode, key),
        Cast5_128 => narrow::<cast5::Cast5>(mode, key),
        Serpent128 | Serpent192 | Serpent256 => wide::<serpent::Serpent>(mode, key),
        Twofish128 | Twofish192 | Twofish256 => wide::<twofish::Twofish>(mode, key),
        Sm4 => wide::<sm4::Sm4>(mode, key),
    }
}

/// AES in ECB or CTR (`counter` is the CTR state) on qio's AES-NI/VAES kernel, which
/// keeps 8 registers of blocks in flight (16 blocks with VAES), where the `aes` crate
/// stops at 8 blocks (`cpufeatures` hides VAES without AVX-512).
#[cfg(target_arch = "x86_64")]
struct AesNi {
    aes: super::aes_ni::AesBlocks,
    counter: Option<[u8; 16]>,
}

#[cfg(target_arch = "x86_64")]
impl Driver for AesNi {
    fn encrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()> {
        match &mut self.counter {
            Some(counter) => self.aes.ctr(counter, data),
            None => self.aes.ecb_encrypt(data),
        }
        Ok(())
    }

    fn decrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()> {
        match &mut self.counter {
            Some(counter) => self.aes.ctr(counter, data),
            None => self.aes.ecb_decrypt(data),
        }
        Ok(())
    }

    fn set_iv(&mut self, iv: &[u8]) -> Result<()> {
        let counter = self.counter.as_mut().expect("only CTR has an IV here");
        counter.copy_from_slice(iv);
        Ok(())
    }
}

/// A 16-byte-block cipher: XTS, or a chained mode whose CTR counter is the whole block.
fn wide<C: BlockCipher + BlockSizeUser<BlockSize = U16>>(
    mode: CipherMode,
    key: &[u8],
) -> Box<dyn Driver> {
    match mode {
        CipherMode::Xts => xts::generic::<C>(key),
        _ => Box::new(Chained::<C, Ctr128BE>::new(mode, keyed(key))),
    }
}

/// An 8-byte-block cipher (no XTS): CTR's counter is the whole 64-bit block.
fn narrow<C: BlockCipher + BlockSizeUser<BlockSize = U8>>(
    mode: CipherMode,
    key: &[u8],
) -> Box<dyn Driver> {
    Box::new(Chained::<C, Ctr64BE>::new(mode, keyed(key)))
}

/// ECB, CBC or CTR over `C`, with QEMU's single IV state shared by both directions.
struct Chained<C: BlockCipher, F: CtrFlavor<C::BlockSize>> {
    cipher: C,
    state: State<C, F>,
}

/// The mode object carrying the IV between calls. CBC keeps the direction it was last
/// used in and converts, IV included, when the direction changes.
enum State<C: BlockCipher, F: CtrFlavor<C::BlockSize>> {
    Ecb,
    CbcEncrypt(cbc::Encryptor<C>),
    CbcDecrypt(cbc::Decryptor<C>),
    /// The counter wraps around as nettle's does; its 2^64 or 2^128 blocks never run out.
    Ctr(ctr::CtrCore<C, F>),
}

impl<C: BlockCipher, F: CtrFlavor<C::BlockSize>> Chained<C, F> {
    fn new(mode: CipherMode, cipher: C) -> Self {
        let mut chained = Chained {
            cipher,
            state: State::Ecb,
        };
        if mode != CipherMode::Ecb {
            chained.state = chained.with_iv(mode, &Block::<C>::default());
        }
        chained
    }

    /// The state of `mode` (CBC or CTR; CBC in the encrypt direction) starting at `iv`.
    fn with_iv(&self, mode: CipherMode, iv: &Block<C>) -> State<C, F> {
        let cipher = self.cipher.clone();
        match mode {
            CipherMode::Ctr => State::Ctr(ctr::CtrCore::inner_iv_init(cipher, iv)),
            _ => State::CbcEncrypt(cbc::Encryptor::inner_iv_init(cipher, iv)),
        }
    }
}

impl<C: BlockCipher, F: CtrFlavor<C::BlockSize>> Driver for Chained<C, F>
where
    F::CtrNonce: Send,
{
    fn encrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()> {
        let (blocks, _) = data.into_chunks();
        match &mut self.state {
            State::Ecb => self.cipher.encrypt_blocks_inout(blocks),
            State::CbcEncrypt(enc) => enc.encrypt_blocks_inout(blocks),
            State::CbcDecrypt(dec) => {
                let iv = dec.iv_state();
                let mut enc = cbc::Encryptor::inner_iv_init(self.cipher.clone(), &iv);
                enc.encrypt_blocks_inout(blocks);
                self.state = State::CbcEncrypt(enc);
            }
            State::Ctr(core) => core.apply_keystream_blocks_inout(blocks),
        }
        Ok(())
    }

    fn decrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()> {
        let (blocks, _) = data.into_chunks();
        match &mut self.state {
            State::Ecb => self.cipher.decrypt_blocks_inout(blocks),
            State::CbcDecrypt(dec) => dec.decrypt_blocks_inout(blocks),
            State::CbcEncrypt(enc) => {
                let iv = enc.iv_state();
                let mut dec = cbc::Decryptor::inner_iv_init(self.cipher.clone(), &iv);
                dec.decrypt_blocks_inout(blocks);
                self.state = State::CbcDecrypt(dec);
            }
            State::Ctr(core) => core.apply_keystream_blocks_inout(blocks),
        }
        Ok(())
    }

    fn set_iv(&mut self, iv: &[u8]) -> Result<()> {
        let iv = Block::<C>::try_from(iv).expect("IV length checked by Cipher");
        let mode = match self.state {
            State::Ctr(_) => CipherMode::Ctr,
            _ => CipherMode::Cbc,
        };
        self.state = self.with_iv(mode, &iv);
        Ok(())
    }
}
