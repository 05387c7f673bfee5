//! The LUKS anti-forensic splitter (QEMU's `crypto/afsplit.h`).

use std::os::raw::c_int;

use glib_sys::GError;
use qio::crypto::afsplit;

use crate::boundary::{ffi_guard, Fail};
use crate::ffi;
use crate::hash::HashAlgoArg;

/// Checks the arguments and runs `op` (encode or decode) from `input` to `out`, one of
/// which holds the key (`blocklen` bytes) and the other the split (`blocklen` ×
/// `stripes` bytes): the split is the input when `split_in` is true.
///
/// # Safety
/// `input` and `out` point at buffers of those sizes.
unsafe fn run(
    hash: HashAlgoArg,
    blocklen: usize,
    stripes: u32,
    input: *const u8,
    out: *mut u8,
    split_in: bool,
    op: fn(qio::crypto::HashAlgo, u32, &[u8], &mut [u8]) -> qio::Result<()>,
) -> Result<c_int, Fail> {
    let (hash, split) = (hash.get()?, afsplit::split_len(blocklen, stripes)?);
    let (in_len, out_len) = if split_in {
        (split, blocklen)
    } else {
        (blocklen, split)
    };
    // SAFETY: the caller's buffers of the sizes just computed.
    let (input, out) = unsafe {
        (
            ffi::bytes(input.cast(), in_len)?,
            ffi::bytes_mut(out, out_len)?,
        )
    };
    op(hash, stripes, input, out)?;
    Ok(0)
}

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
        // SAFETY: the caller's buffers of the documented sizes.
        unsafe { run(hash, blocklen, stripes, input, out, false, afsplit::encode) }
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
        // SAFETY: the caller's buffers of the documented sizes.
        unsafe { run(hash, blocklen, stripes, input, out, true, afsplit::decode) }
    })
}
