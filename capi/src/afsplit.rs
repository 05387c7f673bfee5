//! The LUKS anti-forensic splitter (QEMU's `crypto/afsplit.h`).

use std::os::raw::c_int;

use glib_sys::GError;
use qio::crypto::afsplit;

use crate::boundary::ffi_guard;
use crate::ffi;
use crate::hash::HashAlgoArg;

/// Splits the @blocklen bytes at @in into @stripes blocks at @out (@blocklen ×
/// @stripes bytes): all but the last random, so that every stripe is needed to
/// recover the key.
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_afsplit_encode(
    hash: HashAlgoArg,
    blocklen: usize,
    stripes: u32,
    input: *const u8,
    out: *mut u8,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        let (hash, len) = (hash.get()?, afsplit::split_len(blocklen, stripes)?);
        // SAFETY: the caller's buffers of the documented sizes.
        let (input, out) = unsafe {
            (
                ffi::bytes(input.cast(), blocklen)?,
                ffi::bytes_mut(out, len)?,
            )
        };
        afsplit::encode(hash, stripes, input, out)?;
        Ok(0)
    })
}

/// Recovers into the @blocklen bytes at @out the key split into the @stripes blocks
/// at @in (@blocklen × @stripes bytes).
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_afsplit_decode(
    hash: HashAlgoArg,
    blocklen: usize,
    stripes: u32,
    input: *const u8,
    out: *mut u8,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        let (hash, len) = (hash.get()?, afsplit::split_len(blocklen, stripes)?);
        // SAFETY: the caller's buffers of the documented sizes.
        let (input, out) = unsafe {
            (
                ffi::bytes(input.cast(), len)?,
                ffi::bytes_mut(out, blocklen)?,
            )
        };
        afsplit::decode(hash, stripes, input, out)?;
        Ok(0)
    })
}
