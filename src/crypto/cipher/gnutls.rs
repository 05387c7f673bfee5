//! Ciphers from gnutls, which offers only what TLS and disk encryption use: AES and
//! (3)DES in CBC, AES-128/256 in XTS. gnutls has no ECB or CTR, and qio does not fake
//! them (QEMU's gnutls ECB runs a CBC handle per block); an algorithm gnutls refuses at
//! run time (FIPS mode refuses DES) is reported as unsupported.

use std::os::raw::{c_int, c_void};
use std::sync::OnceLock;

use gnutls_sys::gen as ffi;

use super::{CipherAlgo, CipherMode, Driver, InOutBuf};
use crate::crypto::gnutls::{check, init_handle};
use crate::{Error, ErrorKind, Result};

/// What gnutls-sys 0.1.2 (generated from gnutls 3.4) lacks: the XTS algorithm values,
/// added in gnutls 3.6.8, which its Rust enum cannot carry.
mod ext {
    use std::os::raw::c_int;

    use gnutls_sys::gen::{gnutls_cipher_hd_t, gnutls_datum_t};

    pub const GNUTLS_CIPHER_AES_128_XTS: c_int = 32;
    pub const GNUTLS_CIPHER_AES_256_XTS: c_int = 33;

    extern "C" {
        /// `gnutls_cipher_init` taking the algorithm as the C `int` it is.
        #[link_name = "gnutls_cipher_init"]
        #[allow(clashing_extern_declarations)]
        pub fn gnutls_cipher_init_by_value(
            handle: *mut gnutls_cipher_hd_t,
            cipher: c_int,
            key: *const gnutls_datum_t,
            iv: *const gnutls_datum_t,
        ) -> c_int;
    }
}

/// The gnutls algorithm value for `alg` in `mode`, if gnutls has the pair.
fn algorithm(alg: CipherAlgo, mode: CipherMode) -> Option<c_int> {
    use ffi::gnutls_cipher_algorithm_t::*;
    Some(match (alg, mode) {
        (CipherAlgo::Aes128, CipherMode::Cbc) => GNUTLS_CIPHER_AES_128_CBC as c_int,
        (CipherAlgo::Aes192, CipherMode::Cbc) => GNUTLS_CIPHER_AES_192_CBC as c_int,
        (CipherAlgo::Aes256, CipherMode::Cbc) => GNUTLS_CIPHER_AES_256_CBC as c_int,
        (CipherAlgo::Des, CipherMode::Cbc) => GNUTLS_CIPHER_DES_CBC as c_int,
        (CipherAlgo::TripleDes, CipherMode::Cbc) => GNUTLS_CIPHER_3DES_CBC as c_int,
        (CipherAlgo::Aes128, CipherMode::Xts) => ext::GNUTLS_CIPHER_AES_128_XTS,
        (CipherAlgo::Aes256, CipherMode::Xts) => ext::GNUTLS_CIPHER_AES_256_XTS,
        _ => return None,
    })
}

pub(super) fn supports(alg: CipherAlgo, mode: CipherMode) -> bool {
    static USABLE: OnceLock<[[bool; CipherMode::ALL.len()]; CipherAlgo::ALL.len()]> =
        OnceLock::new();
    USABLE.get_or_init(|| {
        CipherAlgo::ALL.map(|a| {
            CipherMode::ALL.map(|m| {
                // A key with distinct XTS halves, which FIPS mode insists on.
                let key: Vec<u8> = (0..2 * a.key_len() as u8).collect();
                let key = if m == CipherMode::Xts {
                    &key[..]
                } else {
                    &key[..a.key_len()]
                };
                algorithm(a, m).is_some() && new(a, m, key).is_ok()
            })
        })
    })[alg as usize][mode as usize]
}

/// A gnutls cipher handle. gnutls chains CBC separately per direction; QEMU's (and
/// nettle's) single IV is kept by reloading the last ciphertext block into gnutls when
/// the direction changes.
struct GnutlsCipher {
    handle: ffi::gnutls_cipher_hd_t,
    mode: CipherMode,
    /// The tweak (XTS) or the CBC chaining block as of the last call.
    iv: [u8; 16],
    iv_len: usize,
    /// The direction of the last call since the IV was set: `Some(true)` for encrypt.
    last_encrypt: Option<bool>,
}

// SAFETY: the handle is owned, and gnutls cipher handles are not tied to a thread.
unsafe impl Send for GnutlsCipher {}

impl Drop for GnutlsCipher {
    fn drop(&mut self) {
        // SAFETY: the handle came from gnutls_cipher_init and is released once;
        // gnutls wipes the key schedule.
        unsafe { ffi::gnutls_cipher_deinit(self.handle) };
    }
}

pub(super) fn new(alg: CipherAlgo, mode: CipherMode, key: &[u8]) -> Result<Box<dyn Driver>> {
    let value = algorithm(alg, mode).ok_or_else(|| {
        Error::new(
            ErrorKind::NotSupported,
            format!(
                "Unsupported cipher algorithm {} with {} mode in the gnutls backend",
                alg.name(),
                mode.name()
            ),
        )
    })?;
    let iv = [0u8; 16];
    let iv_len = super::iv_len(alg, mode);
    let datum = |bytes: &[u8]| ffi::gnutls_datum_t {
        data: bytes.as_ptr() as *mut u8,
        size: bytes.len() as u32,
    };
    let (key_datum, iv_datum) = (datum(key), datum(&iv[..iv_len]));
    // SAFETY: gnutls copies the key and IV and writes a handle pointer.
    let handle = init_handle("Cannot initialize cipher", |h| unsafe {
        ext::gnutls_cipher_init_by_value(h, value, &key_datum, &iv_datum)
    })?;
    Ok(Box::new(GnutlsCipher {
        handle,
        mode,
        iv,
        iv_len,
        last_encrypt: None,
    }))
}

impl GnutlsCipher {
    /// Runs `gnutls_cipher_encrypt2` or `_decrypt2` over `data`. An XTS unit restarts
    /// from the stored tweak, so calls never chain; CBC continues from the last
    /// ciphertext block whichever direction produced it.
    fn run(&mut self, mut data: InOutBuf<'_, '_, u8>, encrypt: bool) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        if self.mode == CipherMode::Xts {
            self.load_iv();
            return self.crypt(data, encrypt);
        }
        if self.last_encrypt.is_some_and(|e| e != encrypt) {
            self.load_iv();
        }
        let tail = data.len() - self.iv_len;
        if !encrypt {
            self.iv[..self.iv_len].copy_from_slice(&data.get_in()[tail..]);
        }
        self.crypt(data.reborrow(), encrypt)?;
        if encrypt {
            self.iv[..self.iv_len].copy_from_slice(&data.get_out()[tail..]);
        }
        self.last_encrypt = Some(encrypt);
        Ok(())
    }

    fn crypt(&mut self, data: InOutBuf<'_, '_, u8>, encrypt: bool) -> Result<()> {
        let len = data.len() as ffi::size_t;
        let (src, dst) = data.into_raw();
        let (src, dst) = (src.cast::<c_void>(), dst.cast::<c_void>());
        // SAFETY: `src` and `dst` are `len` bytes, the same or disjoint (InOutBuf),
        // a whole number of blocks.
        let (name, rc) = unsafe {
            if encrypt {
                (
                    "Cannot encrypt data",
                    ffi::gnutls_cipher_encrypt2(self.handle, src, len, dst, len),
                )
            } else {
                (
                    "Cannot decrypt data",
                    ffi::gnutls_cipher_decrypt2(self.handle, src, len, dst, len),
                )
            }
        };
        check(name, rc)
    }

    fn load_iv(&mut self) {
        // SAFETY: a live handle; gnutls copies `iv_len` bytes.
        unsafe {
            ffi::gnutls_cipher_set_iv(
                self.handle,
                self.iv.as_mut_ptr().cast(),
                self.iv_len as ffi::size_t,
            )
        };
    }
}

impl Driver for GnutlsCipher {
    fn encrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()> {
        self.run(data, true)
    }

    fn decrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()> {
        self.run(data, false)
    }

    fn set_iv(&mut self, iv: &[u8]) -> Result<()> {
        self.iv[..iv.len()].copy_from_slice(iv);
        self.load_iv();
        self.last_encrypt = None;
        Ok(())
    }
}
