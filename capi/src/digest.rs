//! The C-side steps shared by hashes and HMACs: feeding iovecs and handing the digest
//! back as bytes (QEMU's result-buffer contract), hex or base64.

use std::os::raw::{c_char, c_int};

use qio::crypto::Digester;

use crate::boundary::{require, Fail};
use crate::ffi;

/// Absorbs every buffer of the iovec array.
///
/// # Safety
/// As for [`ffi::iovecs`].
pub(crate) unsafe fn updatev(
    digester: &mut Digester,
    iov: *const libc::iovec,
    niov: usize,
) -> Result<(), Fail> {
    // SAFETY: the caller's contract covers the array and every buffer in it.
    for v in unsafe { ffi::iovecs(iov, niov)? } {
        digester.update(unsafe { ffi::iov_bytes(v)? })?;
    }
    Ok(())
}

/// Stores the digest per QEMU's contract: with `*resultlen == 0` a new `g_malloc`ed
/// buffer goes to `*result` and its length to `*resultlen`; otherwise `*result` is the
/// caller's buffer and `*resultlen` must be the digest length.
///
/// # Safety
/// `result` and `resultlen` are NULL or valid; a preallocated `*result` is writable
/// for `*resultlen` bytes.
pub(crate) unsafe fn finalize_bytes(
    digester: &mut Digester,
    result: *mut *mut u8,
    resultlen: *mut usize,
) -> Result<c_int, Fail> {
    require!(!result.is_null(), "result != NULL");
    require!(!resultlen.is_null(), "resultlen != NULL");
    // SAFETY: both pointers are valid (the caller's contract, checked non-NULL).
    unsafe {
        if *resultlen == 0 {
            let digest = digester.finalize();
            *result = ffi::g_bytes(&digest);
            *resultlen = digest.len();
        } else {
            require!(!(*result).is_null(), "*resultlen == 0 || *result != NULL");
            let out = std::slice::from_raw_parts_mut(*result, *resultlen);
            digester.finalize_into(out)?;
        }
    }
    Ok(0)
}

/// Stores the digest as a new `g_malloc`ed lowercase hex string in `*digest`.
///
/// # Safety
/// `digest` is NULL or valid.
pub(crate) unsafe fn finalize_hex(
    digester: &mut Digester,
    digest: *mut *mut c_char,
) -> Result<c_int, Fail> {
    require!(!digest.is_null(), "digest != NULL");
    // SAFETY: checked non-NULL; valid by the caller's contract.
    unsafe { *digest = ffi::g_string(&digester.finalize_hex()) };
    Ok(0)
}

/// Stores the digest as a new `g_malloc`ed base64 string in `*base64`.
///
/// # Safety
/// `base64` is NULL or valid.
pub(crate) unsafe fn finalize_base64(
    digester: &mut Digester,
    base64: *mut *mut c_char,
) -> Result<c_int, Fail> {
    require!(!base64.is_null(), "base64 != NULL");
    // SAFETY: checked non-NULL; valid by the caller's contract.
    unsafe { *base64 = ffi::g_string(&digester.finalize_base64()) };
    Ok(0)
}
