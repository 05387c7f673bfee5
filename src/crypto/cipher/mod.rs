//! Symmetric ciphers (QEMU's `crypto/cipher.h`) on every compiled backend.
//!
//! [`Cipher`] enforces QEMU's rules once for every backend: key lengths (doubled for
//! XTS), data lengths that are whole blocks in every mode, IV lengths, no IV in ECB.
//! CBC and CTR chain across calls; XTS uses the IV as each call's tweak and leaves it
//! unchanged. A backend driver only sees requests that passed those checks.

mod aes_ni;
mod block_cipher;
mod builtin;
#[cfg(feature = "gnutls")]
mod gnutls;
#[cfg(feature = "nettle")]
mod nettle;
mod xts;

pub use cipher::inout::InOutBuf;

use super::backend::{self, Backend};
use crate::qapi::qapi_enum;
use crate::{Error, ErrorKind, Result};

qapi_enum! {
    /// A block cipher algorithm (QEMU's `QCryptoCipherAlgo`).
    pub enum CipherAlgo, error = "Cipher algorithm {} out of range" {
        Aes128 = 0 => "aes-128",
        Aes192 = 1 => "aes-192",
        Aes256 = 2 => "aes-256",
        Des = 3 => "des",
        TripleDes = 4 => "3des",
        Cast5_128 = 5 => "cast5-128",
        Serpent128 = 6 => "serpent-128",
        Serpent192 = 7 => "serpent-192",
        Serpent256 = 8 => "serpent-256",
        Twofish128 = 9 => "twofish-128",
        Twofish192 = 10 => "twofish-192",
        Twofish256 = 11 => "twofish-256",
        Sm4 = 12 => "sm4",
    }
}

impl CipherAlgo {
    /// The key length in bytes (one key; XTS takes two).
    pub fn key_len(self) -> usize {
        match self {
            CipherAlgo::Des => 8,
            CipherAlgo::Aes128
            | CipherAlgo::Cast5_128
            | CipherAlgo::Serpent128
            | CipherAlgo::Twofish128
            | CipherAlgo::Sm4 => 16,
            CipherAlgo::Aes192
            | CipherAlgo::TripleDes
            | CipherAlgo::Serpent192
            | CipherAlgo::Twofish192 => 24,
            CipherAlgo::Aes256 | CipherAlgo::Serpent256 | CipherAlgo::Twofish256 => 32,
        }
    }

    /// The block length in bytes: 8 for DES, 3DES and CAST5, 16 otherwise.
    pub fn block_len(self) -> usize {
        match self {
            CipherAlgo::Des | CipherAlgo::TripleDes | CipherAlgo::Cast5_128 => 8,
            _ => 16,
        }
    }

    /// The backends `Auto` tries for this algorithm in `mode`, fastest first, as
    /// measured by `bench/bench-crypto-cipher` (table in bench/README.md): gnutls runs
    /// OpenSSL's AES-NI assembly for AES-CBC; qio's own AES-XTS kernel and the
    /// RustCrypto crates lead everywhere else.
    pub(crate) fn preference(self, mode: CipherMode) -> &'static [Backend] {
        use Backend::{Builtin, Gnutls, Nettle};
        match (self, mode) {
            (CipherAlgo::Aes128 | CipherAlgo::Aes192 | CipherAlgo::Aes256, CipherMode::Cbc) => {
                &[Gnutls, Builtin, Nettle]
            }
            _ => &[Builtin, Nettle, Gnutls],
        }
    }
}

qapi_enum! {
    /// A block cipher mode (QEMU's `QCryptoCipherMode`).
    pub enum CipherMode, error = "Cipher mode {} out of range" {
        Ecb = 0 => "ecb",
        Cbc = 1 => "cbc",
        Xts = 2 => "xts",
        Ctr = 3 => "ctr",
    }
}

/// The IV length for `alg` in `mode`: 0 for ECB, the block length otherwise.
pub fn iv_len(alg: CipherAlgo, mode: CipherMode) -> usize {
    match mode {
        CipherMode::Ecb => 0,
        _ => alg.block_len(),
    }
}

/// Whether the pair exists at all: XTS needs a 16-byte block and excludes DES and 3DES.
fn valid_pair(alg: CipherAlgo, mode: CipherMode) -> bool {
    mode != CipherMode::Xts || alg.block_len() == 16
}

/// Whether `backend` implements `alg` in `mode` (for `Auto`: whether any compiled
/// backend does).
pub fn backend_supports(backend: Backend, alg: CipherAlgo, mode: CipherMode) -> bool {
    valid_pair(alg, mode)
        && match backend {
            Backend::Auto => Backend::CONCRETE
                .iter()
                .any(|&b| backend_supports(b, alg, mode)),
            Backend::Builtin => true,
            #[cfg(feature = "nettle")]
            Backend::Nettle => nettle::supports(alg, mode),
            #[cfg(feature = "gnutls")]
            Backend::Gnutls => gnutls::supports(alg, mode),
            #[allow(unreachable_patterns)]
            _ => false,
        }
}

/// Whether some compiled backend implements `alg` in `mode` (`qcrypto_cipher_supports`).
pub fn supports(alg: CipherAlgo, mode: CipherMode) -> bool {
    backend_supports(Backend::Auto, alg, mode)
}

/// What a backend implements for one keyed (algorithm, mode): whole blocks only, IVs of
/// the block length only, never an IV in ECB ([`Cipher`] checks all three).
pub(crate) trait Driver: Send {
    /// Encrypts `data` in the mode, advancing the chaining state of CBC and CTR.
    fn encrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()>;
    /// Decrypts `data` in the mode, advancing the chaining state of CBC and CTR.
    fn decrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()>;
    /// Replaces the IV (CBC, CTR) or tweak (XTS).
    fn set_iv(&mut self, iv: &[u8]) -> Result<()>;
}

/// QEMU's key-length rules: XTS takes two keys of the algorithm's length and no DES.
fn check_key(alg: CipherAlgo, mode: CipherMode, key: &[u8]) -> Result<()> {
    let invalid = |message: String| Err(Error::new(ErrorKind::InvalidArgument, message));
    let nkey = key.len();
    if mode == CipherMode::Xts {
        if matches!(alg, CipherAlgo::Des | CipherAlgo::TripleDes) {
            return invalid("XTS mode not compatible with DES/3DES".into());
        }
        if !nkey.is_multiple_of(2) {
            return invalid("XTS cipher key length should be a multiple of 2".into());
        }
        if nkey / 2 != alg.key_len() {
            return invalid(format!(
                "Cipher key length {nkey} should be {}",
                alg.key_len() * 2
            ));
        }
    } else if nkey != alg.key_len() {
        return invalid(format!(
            "Cipher key length {nkey} should be {}",
            alg.key_len()
        ));
    }
    Ok(())
}

/// The error for a pair no backend (or not `backend`) implements.
fn unsupported(alg: CipherAlgo, mode: CipherMode, backend: Backend) -> Error {
    let mut message = format!(
        "Unsupported cipher algorithm {} with {} mode",
        alg.name(),
        mode.name()
    );
    if backend != Backend::Auto {
        message += &format!(" in the {} backend", backend.name());
    }
    Error::new(ErrorKind::NotSupported, message)
}

/// A keyed cipher in one mode, with its IV state (QEMU's `QCryptoCipher`).
///
/// ```
/// use qio::crypto::{Cipher, CipherAlgo, CipherMode};
///
/// // FIPS 197, appendix C.1: AES-128 of 00112233..ff under the key 00010203..0f.
/// let key: Vec<u8> = (0..16).collect();
/// let mut block: Vec<u8> = (0..16).map(|i| i * 0x11).collect();
/// let mut cipher = Cipher::new(CipherAlgo::Aes128, CipherMode::Ecb, &key)?;
/// cipher.encrypt(block.as_mut_slice().into())?;
/// assert_eq!(block[..4], [0x69, 0xc4, 0xe0, 0xd8]);
/// cipher.decrypt(block.as_mut_slice().into())?;
/// assert_eq!(block[15], 0xff);
/// # Ok::<(), qio::Error>(())
/// ```
pub struct Cipher {
    alg: CipherAlgo,
    mode: CipherMode,
    backend: Backend,
    driver: Box<dyn Driver>,
}

impl Cipher {
    /// A cipher for `alg` in `mode` keyed with `key`, on the default backend. The IV
    /// starts as all zeros.
    pub fn new(alg: CipherAlgo, mode: CipherMode, key: &[u8]) -> Result<Cipher> {
        Self::with_backend(alg, mode, key, Backend::Auto)
    }

    /// As [`Cipher::new`], on `backend` (`Auto`: the default one).
    pub fn with_backend(
        alg: CipherAlgo,
        mode: CipherMode,
        key: &[u8],
        backend: Backend,
    ) -> Result<Cipher> {
        check_key(alg, mode, key)?;
        if !valid_pair(alg, mode) {
            return Err(unsupported(alg, mode, Backend::Auto));
        }
        let chosen = backend::resolve(backend, alg.preference(mode), |b| {
            backend_supports(b, alg, mode)
        })
        .ok_or_else(|| unsupported(alg, mode, backend))?;
        let driver = match chosen {
            #[cfg(feature = "nettle")]
            Backend::Nettle => nettle::new(alg, mode, key)?,
            #[cfg(feature = "gnutls")]
            Backend::Gnutls => gnutls::new(alg, mode, key)?,
            _ => builtin::new(alg, mode, key),
        };
        Ok(Cipher {
            alg,
            mode,
            backend: chosen,
            driver,
        })
    }

    /// The algorithm.
    pub fn algo(&self) -> CipherAlgo {
        self.alg
    }

    /// The mode.
    pub fn mode(&self) -> CipherMode {
        self.mode
    }

    /// The concrete backend doing the work.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// Checks that `len` is a whole number of blocks.
    fn check_len(&self, len: usize) -> Result<()> {
        let block = self.alg.block_len();
        if !len.is_multiple_of(block) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("Length {len} must be a multiple of block size {block}"),
            ));
        }
        Ok(())
    }

    /// Encrypts `data` (whole blocks), from its input to its output side, which may be
    /// the same memory: `InOutBuf::from(&mut buf[..])` encrypts in place.
    pub fn encrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()> {
        self.check_len(data.len())?;
        self.driver.encrypt(data)
    }

    /// Decrypts `data` (whole blocks), as [`Cipher::encrypt`] encrypts.
    pub fn decrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()> {
        self.check_len(data.len())?;
        self.driver.decrypt(data)
    }

    /// Sets the IV of CBC and CTR (where following calls chain from) or the tweak of XTS.
    pub fn set_iv(&mut self, iv: &[u8]) -> Result<()> {
        if self.mode == CipherMode::Ecb {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "Setting IV is not supported",
            ));
        }
        let expected = iv_len(self.alg, self.mode);
        if iv.len() != expected {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("Expected IV size {expected} not {}", iv.len()),
            ));
        }
        self.driver.set_iv(iv)
    }
}

#[cfg(test)]
mod tests;
