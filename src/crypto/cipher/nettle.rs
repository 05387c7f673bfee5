//! Ciphers from nettle: every algorithm nettle 3.8 has (all but SM4, added in 3.9) in
//! every mode, through nettle's generic ECB-by-function, `cbc_*`, `ctr_crypt` and
//! `xts_*_message`.

use std::os::raw::c_void;

use nettle_sys as ffi;
use zeroize::Zeroize;

use super::{CipherAlgo, CipherMode, Driver, InOutBuf};
use crate::Result;

/// What nettle-sys 2.3's bindings lack: the XTS functions, added in nettle 3.5.
mod ext {
    use nettle_sys::nettle_cipher_func;

    extern "C" {
        pub fn nettle_xts_encrypt_message(
            enc_ctx: *const libc::c_void,
            twk_ctx: *const libc::c_void,
            encf: nettle_cipher_func,
            tweak: *const u8,
            length: usize,
            dst: *mut u8,
            src: *const u8,
        );
        pub fn nettle_xts_decrypt_message(
            dec_ctx: *const libc::c_void,
            twk_ctx: *const libc::c_void,
            decf: nettle_cipher_func,
            encf: nettle_cipher_func,
            tweak: *const u8,
            length: usize,
            dst: *mut u8,
            src: *const u8,
        );
    }
}

/// A nettle block cipher: nettle's own descriptor where it has one (`nettle_aes128`, ...),
/// or one assembled from the DES functions, which nettle describes nowhere.
#[derive(Clone, Copy)]
struct Spec {
    context_size: usize,
    block_size: usize,
    set_encrypt_key: ffi::nettle_set_key_func,
    set_decrypt_key: ffi::nettle_set_key_func,
    encrypt: ffi::nettle_cipher_func,
    decrypt: ffi::nettle_cipher_func,
}

impl From<&ffi::nettle_cipher> for Spec {
    fn from(c: &ffi::nettle_cipher) -> Spec {
        Spec {
            context_size: c.context_size as usize,
            block_size: c.block_size as usize,
            set_encrypt_key: c.set_encrypt_key,
            set_decrypt_key: c.set_decrypt_key,
            encrypt: c.encrypt,
            decrypt: c.decrypt,
        }
    }
}

/// The [`Spec`] of a DES-family cipher from its context type and functions, whose
/// `set_key` returns a weak-key flag (QEMU ignores it, and so does qio).
macro_rules! des_spec {
    ($ctx:ty, $block:expr, $set_key:path, $encrypt:path, $decrypt:path) => {{
        unsafe extern "C" fn set_key(ctx: *mut c_void, key: *const u8) {
            // SAFETY: nettle passes the context it was given, sized for `$ctx`.
            unsafe { $set_key(ctx.cast(), key) };
        }
        unsafe extern "C" fn encrypt(ctx: *const c_void, n: usize, dst: *mut u8, src: *const u8) {
            // SAFETY: as above; nettle checked `n` against the block size.
            unsafe { $encrypt(ctx.cast(), n, dst, src) }
        }
        unsafe extern "C" fn decrypt(ctx: *const c_void, n: usize, dst: *mut u8, src: *const u8) {
            // SAFETY: as above.
            unsafe { $decrypt(ctx.cast(), n, dst, src) }
        }
        Spec {
            context_size: std::mem::size_of::<$ctx>(),
            block_size: $block,
            set_encrypt_key: Some(set_key),
            set_decrypt_key: Some(set_key),
            encrypt: Some(encrypt),
            decrypt: Some(decrypt),
        }
    }};
}

/// The nettle cipher for `alg`, if nettle has it.
fn spec(alg: CipherAlgo) -> Option<Spec> {
    // SAFETY: nettle's descriptors are immutable statics.
    let described = |c: &'static ffi::nettle_cipher| Some(Spec::from(c));
    unsafe {
        match alg {
            CipherAlgo::Aes128 => described(&ffi::nettle_aes128),
            CipherAlgo::Aes192 => described(&ffi::nettle_aes192),
            CipherAlgo::Aes256 => described(&ffi::nettle_aes256),
            CipherAlgo::Des => Some(des_spec!(
                ffi::des_ctx,
                8,
                ffi::nettle_des_set_key,
                ffi::nettle_des_encrypt,
                ffi::nettle_des_decrypt
            )),
            CipherAlgo::TripleDes => Some(des_spec!(
                ffi::des3_ctx,
                8,
                ffi::nettle_des3_set_key,
                ffi::nettle_des3_encrypt,
                ffi::nettle_des3_decrypt
            )),
            CipherAlgo::Cast5_128 => described(&ffi::nettle_cast128),
            CipherAlgo::Serpent128 => described(&ffi::nettle_serpent128),
            CipherAlgo::Serpent192 => described(&ffi::nettle_serpent192),
            CipherAlgo::Serpent256 => described(&ffi::nettle_serpent256),
            CipherAlgo::Twofish128 => described(&ffi::nettle_twofish128),
            CipherAlgo::Twofish192 => described(&ffi::nettle_twofish192),
            CipherAlgo::Twofish256 => described(&ffi::nettle_twofish256),
            CipherAlgo::Sm4 => None,
        }
    }
}

pub(super) fn supports(alg: CipherAlgo, _mode: CipherMode) -> bool {
    spec(alg).is_some()
}

/// A keyed nettle context: 8-byte-aligned storage zeroized when dropped.
struct Context(Box<[u64]>);

impl Context {
    fn new(spec: &Spec, set_key: ffi::nettle_set_key_func, key: &[u8]) -> Context {
        let mut ctx = Context(vec![0u64; spec.context_size.div_ceil(8)].into_boxed_slice());
        let set_key = set_key.expect("nettle cipher without a key function");
        // SAFETY: the storage is the context's size; the key has the length the
        // function reads (checked by Cipher).
        unsafe { set_key(ctx.0.as_mut_ptr().cast(), key.as_ptr()) };
        ctx
    }

    fn ptr(&self) -> *const c_void {
        self.0.as_ptr().cast()
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// `alg` in one mode on nettle: the data contexts, the tweak context (XTS) and the IV,
/// which nettle's CBC and CTR update in place, so both directions chain from it.
struct NettleCipher {
    spec: Spec,
    mode: CipherMode,
    encrypt: Context,
    decrypt: Context,
    tweak: Option<Context>,
    iv: Vec<u8>,
}

// SAFETY: the contexts are owned plain memory; nettle keeps no thread state.
unsafe impl Send for NettleCipher {}

pub(super) fn new(alg: CipherAlgo, mode: CipherMode, key: &[u8]) -> Result<Box<dyn Driver>> {
    let spec = spec(alg).expect("supports() was checked");
    let (key, tweak_key) = match mode {
        CipherMode::Xts => {
            let (data, tweak) = key.split_at(key.len() / 2);
            (data, Some(tweak))
        }
        _ => (key, None),
    };
    Ok(Box::new(NettleCipher {
        spec,
        mode,
        encrypt: Context::new(&spec, spec.set_encrypt_key, key),
        decrypt: Context::new(&spec, spec.set_decrypt_key, key),
        tweak: tweak_key.map(|k| Context::new(&spec, spec.set_encrypt_key, k)),
        iv: vec![0; spec.block_size],
    }))
}

impl NettleCipher {
    fn run(&mut self, data: InOutBuf<'_, '_, u8>, encrypt: bool) {
        let length = data.len();
        let (src, dst) = data.into_raw();
        let ctx = if encrypt {
            &self.encrypt
        } else {
            &self.decrypt
        };
        let f = if encrypt {
            self.spec.encrypt
        } else {
            self.spec.decrypt
        };
        let block_size = self.spec.block_size;
        let iv = self.iv.as_mut_ptr();
        // SAFETY: `src` and `dst` are `length` bytes, the same or disjoint (InOutBuf),
        // a whole number of blocks; the contexts were keyed for `spec`; the IV is one
        // block long.
        unsafe {
            match self.mode {
                CipherMode::Ecb => f.expect("cipher function")(ctx.ptr(), length, dst, src),
                CipherMode::Cbc if encrypt => {
                    ffi::nettle_cbc_encrypt(ctx.ptr(), f, block_size, iv, length, dst, src)
                }
                CipherMode::Cbc => {
                    ffi::nettle_cbc_decrypt(ctx.ptr(), f, block_size, iv, length, dst, src)
                }
                // CTR only ever encrypts the counter.
                CipherMode::Ctr => ffi::nettle_ctr_crypt(
                    self.encrypt.ptr(),
                    self.spec.encrypt,
                    block_size,
                    iv,
                    length,
                    dst,
                    src,
                ),
                // nettle asserts a unit of at least one block.
                CipherMode::Xts if length == 0 => {}
                CipherMode::Xts => {
                    let tweak = self.tweak.as_ref().expect("XTS tweak context").ptr();
                    if encrypt {
                        ext::nettle_xts_encrypt_message(ctx.ptr(), tweak, f, iv, length, dst, src)
                    } else {
                        ext::nettle_xts_decrypt_message(
                            ctx.ptr(),
                            tweak,
                            f,
                            self.spec.encrypt,
                            iv,
                            length,
                            dst,
                            src,
                        )
                    }
                }
            }
        }
    }
}

impl Driver for NettleCipher {
    fn encrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()> {
        self.run(data, true);
        Ok(())
    }

    fn decrypt(&mut self, data: InOutBuf<'_, '_, u8>) -> Result<()> {
        self.run(data, false);
        Ok(())
    }

    fn set_iv(&mut self, iv: &[u8]) -> Result<()> {
        self.iv.copy_from_slice(iv);
        Ok(())
    }
}
