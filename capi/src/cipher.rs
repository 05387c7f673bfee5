//! `QCryptoCipher`: block ciphers (QEMU's `crypto/cipher.h`).

use std::os::raw::{c_int, c_void};

use glib_sys::{gboolean, GError, GFALSE};
use qio::crypto::cipher;
use qio::crypto::{Cipher, CipherAlgo, CipherMode};

use crate::backend::BackendArg;
use crate::boundary::{ffi_guard, require, Fail};
use crate::ffi::{
    bytes, decode, enum_arg, free_handle, handle_mut, in_out, Castable, EnumArg, Lendable, Owned,
    Tag,
};

/// Cipher algorithms, with QEMU's values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QCryptoCipherAlgo {
    QCRYPTO_CIPHER_ALGO_AES_128 = 0,
    QCRYPTO_CIPHER_ALGO_AES_192 = 1,
    QCRYPTO_CIPHER_ALGO_AES_256 = 2,
    QCRYPTO_CIPHER_ALGO_DES = 3,
    QCRYPTO_CIPHER_ALGO_3DES = 4,
    QCRYPTO_CIPHER_ALGO_CAST5_128 = 5,
    QCRYPTO_CIPHER_ALGO_SERPENT_128 = 6,
    QCRYPTO_CIPHER_ALGO_SERPENT_192 = 7,
    QCRYPTO_CIPHER_ALGO_SERPENT_256 = 8,
    QCRYPTO_CIPHER_ALGO_TWOFISH_128 = 9,
    QCRYPTO_CIPHER_ALGO_TWOFISH_192 = 10,
    QCRYPTO_CIPHER_ALGO_TWOFISH_256 = 11,
    QCRYPTO_CIPHER_ALGO_SM4 = 12,
    QCRYPTO_CIPHER_ALGO__MAX = 13,
}

/// Cipher modes, with QEMU's values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QCryptoCipherMode {
    QCRYPTO_CIPHER_MODE_ECB = 0,
    QCRYPTO_CIPHER_MODE_CBC = 1,
    QCRYPTO_CIPHER_MODE_XTS = 2,
    QCRYPTO_CIPHER_MODE_CTR = 3,
    QCRYPTO_CIPHER_MODE__MAX = 4,
}

enum_arg! {
    /// A `QCryptoCipherAlgo` as C passed it: any int, decoded before use.
    CipherAlgoArg => CipherAlgo, qapi
}

impl CipherAlgoArg {
    /// `QCRYPTO_CIPHER_ALGO__MAX`: what a getter returns when given no valid handle.
    pub(crate) const INVALID: CipherAlgoArg =
        CipherAlgoArg(QCryptoCipherAlgo::QCRYPTO_CIPHER_ALGO__MAX as c_int);
}

enum_arg! {
    /// A `QCryptoCipherMode` as C passed it: any int, decoded before use.
    CipherModeArg => CipherMode, qapi
}

impl CipherModeArg {
    /// `QCRYPTO_CIPHER_MODE__MAX`: what a getter returns when given no valid handle.
    const INVALID: CipherModeArg =
        CipherModeArg(QCryptoCipherMode::QCRYPTO_CIPHER_MODE__MAX as c_int);
}

/// A keyed cipher with its IV state, freed with qcrypto_cipher_free().
pub struct QCryptoCipher {
    _private: [u8; 0],
}

impl Castable for QCryptoCipher {
    type Ownership = Owned;
    type Rust = Lendable<Cipher>;
    const NAME: &'static str = "QCryptoCipher";
    const TAG: Tag = Tag::new(b"QCph");

    fn lent_by(value: &Lendable<Cipher>) -> Option<&'static str> {
        value.owner()
    }
}

/// Whether some backend of this build implements @alg in @mode.
///
/// Returns: TRUE if the pair can be used, FALSE otherwise (also for unknown values).
#[no_mangle]
pub extern "C" fn qcrypto_cipher_supports(alg: CipherAlgoArg, mode: CipherModeArg) -> gboolean {
    qcrypto_backend_supports_cipher(BackendArg::AUTO, alg, mode)
}

/// Whether @backend implements @alg in @mode. For %QCRYPTO_BACKEND_AUTO: whether any
/// backend does.
///
/// Returns: TRUE if @backend can run the pair, FALSE otherwise (also for unknown values).
#[no_mangle]
pub extern "C" fn qcrypto_backend_supports_cipher(
    backend: BackendArg,
    alg: CipherAlgoArg,
    mode: CipherModeArg,
) -> gboolean {
    ffi_guard!(GFALSE, {
        Ok(match (backend.decode(), alg.decode(), mode.decode()) {
            (Some(b), Some(a), Some(m)) => cipher::backend_supports(b, a, m).into(),
            _ => GFALSE,
        })
    })
}

/// The value of `f` for a valid @alg; 0 and a critical otherwise.
fn algo_size(alg: CipherAlgoArg, f: impl FnOnce(CipherAlgo) -> usize) -> Result<usize, Fail> {
    let alg = alg.decode();
    require!(alg.is_some(), "alg is a valid QCryptoCipherAlgo");
    Ok(alg.map_or(0, f))
}

/// The block length in bytes of @alg: 8 for DES, 3DES and CAST5, else 16.
///
/// Returns: the length; 0 (and a critical) for a value outside #QCryptoCipherAlgo.
#[no_mangle]
pub extern "C" fn qcrypto_cipher_get_block_len(alg: CipherAlgoArg) -> usize {
    ffi_guard!(0, { algo_size(alg, CipherAlgo::block_len) })
}

/// The key length in bytes of @alg (XTS takes twice as many).
///
/// Returns: the length; 0 (and a critical) for a value outside #QCryptoCipherAlgo.
#[no_mangle]
pub extern "C" fn qcrypto_cipher_get_key_len(alg: CipherAlgoArg) -> usize {
    ffi_guard!(0, { algo_size(alg, CipherAlgo::key_len) })
}

/// The IV length in bytes of @alg in @mode: 0 for ECB, the block length otherwise.
///
/// Returns: the length; 0 (and a critical) for values outside the enums.
#[no_mangle]
pub extern "C" fn qcrypto_cipher_get_iv_len(alg: CipherAlgoArg, mode: CipherModeArg) -> usize {
    ffi_guard!(0, {
        let mode = mode.decode();
        require!(mode.is_some(), "mode is a valid QCryptoCipherMode");
        algo_size(alg, |a| mode.map_or(0, |m| cipher::iv_len(a, m)))
    })
}

/// Creates a cipher for @alg in @mode keyed with the @nkey bytes of @key (twice the
/// algorithm's key length for XTS: the data key, then the tweak key) on the default
/// backend. The IV starts as all zeros.
///
/// Returns: (transfer full) (nullable): a new cipher to free with
/// qcrypto_cipher_free(), or NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_cipher_new(
    alg: CipherAlgoArg,
    mode: CipherModeArg,
    key: *const u8,
    nkey: usize,
    error: *mut *mut GError,
) -> *mut QCryptoCipher {
    ffi_guard!(std::ptr::null_mut(), error, {
        new(alg, mode, bytes!(key, nkey), BackendArg::AUTO)
    })
}

/// As qcrypto_cipher_new(), on @backend (%QCRYPTO_BACKEND_AUTO: the default).
///
/// Returns: (transfer full) (nullable): a new cipher to free with
/// qcrypto_cipher_free(), or NULL with @error set (for instance when @backend lacks
/// the pair).
#[no_mangle]
pub unsafe extern "C" fn qcrypto_cipher_new_with_backend(
    alg: CipherAlgoArg,
    mode: CipherModeArg,
    key: *const u8,
    nkey: usize,
    backend: BackendArg,
    error: *mut *mut GError,
) -> *mut QCryptoCipher {
    ffi_guard!(std::ptr::null_mut(), error, {
        new(alg, mode, bytes!(key, nkey), backend)
    })
}

fn new(
    alg: CipherAlgoArg,
    mode: CipherModeArg,
    key: &[u8],
    backend: BackendArg,
) -> Result<*mut QCryptoCipher, Fail> {
    let cipher = Cipher::with_backend(decode!(alg), decode!(mode), key, decode!(backend))?;
    Ok(crate::ffi::new(Lendable::owned(cipher)))
}

/// The backend running @cipher (never %QCRYPTO_BACKEND_AUTO).
///
/// Returns: the backend; %QCRYPTO_BACKEND_AUTO (and a critical) if @cipher is not a
/// cipher.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_cipher_get_backend(cipher: *mut QCryptoCipher) -> BackendArg {
    ffi_guard!(BackendArg::AUTO, {
        Ok(handle_mut!(cipher).backend().into())
    })
}

/// The algorithm @cipher was created with (QEMU code reads `cipher->alg`).
///
/// Returns: the algorithm; %QCRYPTO_CIPHER_ALGO__MAX (and a critical) if @cipher is not
/// a cipher.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_cipher_get_algo(cipher: *mut QCryptoCipher) -> CipherAlgoArg {
    ffi_guard!(CipherAlgoArg::INVALID, {
        Ok(handle_mut!(cipher).algo().into())
    })
}

/// The mode @cipher was created with (QEMU code reads `cipher->mode`).
///
/// Returns: the mode; %QCRYPTO_CIPHER_MODE__MAX (and a critical) if @cipher is not a
/// cipher.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_cipher_get_mode(cipher: *mut QCryptoCipher) -> CipherModeArg {
    ffi_guard!(CipherModeArg::INVALID, {
        Ok(handle_mut!(cipher).mode().into())
    })
}

/// Frees @cipher (transfer full), wiping its key schedule; NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_cipher_free(cipher: *mut QCryptoCipher) {
    ffi_guard!((), { free_handle!(cipher) })
}

/// Encrypts @len bytes (a multiple of the block length) from @input into @output, which
/// may be the same buffer but must not otherwise overlap it. CBC and CTR continue from the
/// IV the previous call left; XTS uses the IV as the tweak of this one data unit.
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_cipher_encrypt(
    cipher: *mut QCryptoCipher,
    input: *const c_void,
    output: *mut c_void,
    len: usize,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        handle_mut!(cipher).encrypt(in_out!(input, output, len))?;
        Ok(0)
    })
}

/// Decrypts @len bytes (a multiple of the block length) from @input into @output, as
/// qcrypto_cipher_encrypt() encrypts.
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_cipher_decrypt(
    cipher: *mut QCryptoCipher,
    input: *const c_void,
    output: *mut c_void,
    len: usize,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        handle_mut!(cipher).decrypt(in_out!(input, output, len))?;
        Ok(0)
    })
}

/// Sets the @niv-byte IV of @cipher (its block length; ECB has none): where CBC and
/// CTR continue from, or the XTS tweak of every following call.
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_cipher_setiv(
    cipher: *mut QCryptoCipher,
    iv: *const u8,
    niv: usize,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        handle_mut!(cipher).set_iv(bytes!(iv, niv))?;
        Ok(0)
    })
}
