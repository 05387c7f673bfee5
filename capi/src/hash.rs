//! `QCryptoHash`: message digests (QEMU's `crypto/hash.h`).

use std::os::raw::{c_char, c_int, c_void};

use glib_sys::{gboolean, GError, GFALSE};
use qio::crypto::{hash, Backend, Hash, HashAlgo};

use crate::backend::BackendArg;
use crate::boundary::{ffi_guard, require, Fail};
use crate::digest::{bytes_output, digest, Output};
use crate::ffi::{
    bytes, decode, enum_arg, free_handle, handle_mut, iov_bytes, out, Castable, EnumArg, Owned, Tag,
};

/// Hash algorithms, with QEMU's values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QCryptoHashAlgo {
    QCRYPTO_HASH_ALGO_MD5 = 0,
    QCRYPTO_HASH_ALGO_SHA1 = 1,
    QCRYPTO_HASH_ALGO_SHA224 = 2,
    QCRYPTO_HASH_ALGO_SHA256 = 3,
    QCRYPTO_HASH_ALGO_SHA384 = 4,
    QCRYPTO_HASH_ALGO_SHA512 = 5,
    QCRYPTO_HASH_ALGO_RIPEMD160 = 6,
    QCRYPTO_HASH_ALGO_SM3 = 7,
    QCRYPTO_HASH_ALGO__MAX = 8,
}

pub const QCRYPTO_HASH_DIGEST_LEN_MD5: usize = 16;
pub const QCRYPTO_HASH_DIGEST_LEN_SHA1: usize = 20;
pub const QCRYPTO_HASH_DIGEST_LEN_SHA224: usize = 28;
pub const QCRYPTO_HASH_DIGEST_LEN_SHA256: usize = 32;
pub const QCRYPTO_HASH_DIGEST_LEN_SHA384: usize = 48;
pub const QCRYPTO_HASH_DIGEST_LEN_SHA512: usize = 64;
pub const QCRYPTO_HASH_DIGEST_LEN_RIPEMD160: usize = 20;
pub const QCRYPTO_HASH_DIGEST_LEN_SM3: usize = 32;

enum_arg! {
    /// A `QCryptoHashAlgo` as C passed it: any int, decoded before use.
    HashAlgoArg => HashAlgo, qapi
}

impl HashAlgoArg {
    /// `QCRYPTO_HASH_ALGO__MAX`: what a getter returns when given no valid handle.
    pub(crate) const INVALID: HashAlgoArg =
        HashAlgoArg(QCryptoHashAlgo::QCRYPTO_HASH_ALGO__MAX as c_int);
}

/// An incremental hash computation, freed with qcrypto_hash_free().
pub struct QCryptoHash {
    _private: [u8; 0],
}

impl Castable for QCryptoHash {
    type Ownership = Owned;
    type Rust = Hash;
    const NAME: &'static str = "QCryptoHash";
    const TAG: Tag = Tag::new(b"QHsh");
}

/// TRUE when @backend and @alg are values of their enums and `supported` says yes:
/// the `*_supports` exports of hashes, HMACs and PBKDF2, which report unknown values as
/// unsupported.
pub(crate) fn supports(
    backend: BackendArg,
    alg: HashAlgoArg,
    supported: fn(Backend, HashAlgo) -> bool,
) -> gboolean {
    match (backend.decode(), alg.decode()) {
        (Some(backend), Some(alg)) => supported(backend, alg).into(),
        _ => GFALSE,
    }
}

/// Whether some backend of this build implements @alg.
///
/// Returns: TRUE if @alg can be used, FALSE otherwise (also for unknown values).
#[no_mangle]
pub extern "C" fn qcrypto_hash_supports(alg: HashAlgoArg) -> gboolean {
    ffi_guard!(GFALSE, {
        Ok(supports(BackendArg::AUTO, alg, hash::backend_supports))
    })
}

/// Whether @backend implements @alg. For %QCRYPTO_BACKEND_AUTO: whether any backend does.
///
/// Returns: TRUE if @backend can hash with @alg, FALSE otherwise (also for unknown values).
#[no_mangle]
pub extern "C" fn qcrypto_backend_supports_hash(backend: BackendArg, alg: HashAlgoArg) -> gboolean {
    ffi_guard!(GFALSE, {
        Ok(supports(backend, alg, hash::backend_supports))
    })
}

/// The length in bytes of a digest made with @alg.
///
/// Returns: the digest length; 0 (and a critical) for a value outside #QCryptoHashAlgo.
#[no_mangle]
pub extern "C" fn qcrypto_hash_digest_len(alg: HashAlgoArg) -> usize {
    ffi_guard!(0, {
        let alg = alg.decode();
        require!(alg.is_some(), "alg is a valid QCryptoHashAlgo");
        Ok(alg.map_or(0, HashAlgo::digest_len))
    })
}

/// Hashes `input` with @alg on the default backend into `output`: the body of every
/// one-shot export.
fn hash_once(alg: HashAlgoArg, input: &[&[u8]], output: Output<'_>) -> Result<c_int, Fail> {
    let mut hash = Hash::new(decode!(alg))?;
    digest(&mut hash, input, output)
}

/// Hashes the concatenation of @niov buffers of @iov with @alg on the default backend.
///
/// If `*resultlen` is 0, a buffer is allocated for the digest (transfer full, free with
/// g_free()) and stored in `*result`, and its length in `*resultlen`. Otherwise `*result`
/// must point at `*resultlen` bytes, exactly the digest length.
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hash_bytesv(
    alg: HashAlgoArg,
    iov: *const libc::iovec,
    niov: usize,
    result: *mut *mut u8,
    resultlen: *mut usize,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        let output = bytes_output!(result, resultlen);
        hash_once(alg, &iov_bytes!(iov, niov), output)
    })
}

/// Hashes @len bytes of @buf with @alg; the result as for qcrypto_hash_bytesv().
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hash_bytes(
    alg: HashAlgoArg,
    buf: *const c_void,
    len: usize,
    result: *mut *mut u8,
    resultlen: *mut usize,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        let output = bytes_output!(result, resultlen);
        hash_once(alg, &[bytes!(buf, len)], output)
    })
}

/// Hashes the @niov buffers of @iov with @alg; stores in `*digest` the digest as a
/// NUL-terminated lowercase hex string (transfer full, free with g_free()).
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hash_digestv(
    alg: HashAlgoArg,
    iov: *const libc::iovec,
    niov: usize,
    digest: *mut *mut c_char,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        hash_once(alg, &iov_bytes!(iov, niov), Output::Hex(out!(digest)))
    })
}

/// Hashes @len bytes of @buf with @alg; the hex digest as for qcrypto_hash_digestv().
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hash_digest(
    alg: HashAlgoArg,
    buf: *const c_void,
    len: usize,
    digest: *mut *mut c_char,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        hash_once(alg, &[bytes!(buf, len)], Output::Hex(out!(digest)))
    })
}

/// Hashes the @niov buffers of @iov with @alg; stores in `*base64` the digest in padded
/// base64 (transfer full, free with g_free()).
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hash_base64v(
    alg: HashAlgoArg,
    iov: *const libc::iovec,
    niov: usize,
    base64: *mut *mut c_char,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        hash_once(alg, &iov_bytes!(iov, niov), Output::Base64(out!(base64)))
    })
}

/// Hashes @len bytes of @buf with @alg; the base64 digest as for qcrypto_hash_base64v().
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hash_base64(
    alg: HashAlgoArg,
    buf: *const c_void,
    len: usize,
    base64: *mut *mut c_char,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        hash_once(alg, &[bytes!(buf, len)], Output::Base64(out!(base64)))
    })
}

/// Starts an incremental hash with @alg on the default backend.
///
/// Returns: (transfer full) (nullable): a new hash to free with qcrypto_hash_free(),
/// or NULL with @error set.
#[no_mangle]
pub extern "C" fn qcrypto_hash_new(alg: HashAlgoArg, error: *mut *mut GError) -> *mut QCryptoHash {
    qcrypto_hash_new_with_backend(alg, BackendArg::AUTO, error)
}

/// Starts an incremental hash with @alg on @backend (%QCRYPTO_BACKEND_AUTO: the default).
///
/// Returns: (transfer full) (nullable): a new hash to free with qcrypto_hash_free(),
/// or NULL with @error set (for instance when @backend lacks @alg).
#[no_mangle]
pub extern "C" fn qcrypto_hash_new_with_backend(
    alg: HashAlgoArg,
    backend: BackendArg,
    error: *mut *mut GError,
) -> *mut QCryptoHash {
    ffi_guard!(std::ptr::null_mut(), error, {
        let hash = Hash::with_backend(decode!(alg), decode!(backend))?;
        Ok(crate::ffi::new(hash))
    })
}

/// The backend computing @hash (never %QCRYPTO_BACKEND_AUTO).
///
/// Returns: the backend; %QCRYPTO_BACKEND_AUTO (and a critical) if @hash is not a hash.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hash_get_backend(hash: *mut QCryptoHash) -> BackendArg {
    ffi_guard!(BackendArg::AUTO, { Ok(handle_mut!(hash).backend().into()) })
}

/// The algorithm of @hash (QEMU code reads `hash->alg`).
///
/// Returns: the algorithm; %QCRYPTO_HASH_ALGO__MAX (and a critical) if @hash is not a
/// hash.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hash_get_algo(hash: *mut QCryptoHash) -> HashAlgoArg {
    ffi_guard!(HashAlgoArg::INVALID, {
        Ok(handle_mut!(hash).algorithm().into())
    })
}

/// Frees @hash (transfer full); NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hash_free(hash: *mut QCryptoHash) {
    ffi_guard!((), { free_handle!(hash) })
}

/// Adds the @niov buffers of @iov to @hash.
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hash_updatev(
    hash: *mut QCryptoHash,
    iov: *const libc::iovec,
    niov: usize,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        let hash = handle_mut!(hash);
        for buf in iov_bytes!(iov, niov) {
            hash.update(buf)?;
        }
        Ok(0)
    })
}

/// Adds @len bytes of @buf to @hash.
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hash_update(
    hash: *mut QCryptoHash,
    buf: *const c_void,
    len: usize,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        handle_mut!(hash).update(bytes!(buf, len))?;
        Ok(0)
    })
}

/// Finishes @hash into `*result` as qcrypto_hash_bytesv() does, then resets @hash so
/// it can hash a new message.
///
/// Returns: 0 on success, -1 with @error set on failure (@hash is then unchanged).
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hash_finalize_bytes(
    hash: *mut QCryptoHash,
    result: *mut *mut u8,
    resultlen: *mut usize,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        let hash = handle_mut!(hash);
        let output = bytes_output!(result, resultlen);
        digest(hash, &[], output)
    })
}

/// Finishes @hash into a lowercase hex string in `*digest` (transfer full, free with
/// g_free()), then resets @hash.
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hash_finalize_digest(
    hash: *mut QCryptoHash,
    digest: *mut *mut c_char,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        crate::digest::digest(handle_mut!(hash), &[], Output::Hex(out!(digest)))
    })
}

/// Finishes @hash into a base64 string in `*base64` (transfer full, free with
/// g_free()), then resets @hash.
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hash_finalize_base64(
    hash: *mut QCryptoHash,
    base64: *mut *mut c_char,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        digest(handle_mut!(hash), &[], Output::Base64(out!(base64)))
    })
}
