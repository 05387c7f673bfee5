//! The LUKS anti-forensic splitter (QEMU's `crypto/afsplit.h`).

use std::os::raw::c_int;

use glib_sys::GError;
use qio::crypto::afsplit;

use crate::boundary::ffi_guard;
use crate::ffi::{bytes, bytes_mut, decode};
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
        let (hash, split) = (decode!(hash), afsplit::split_len(blocklen, stripes)?);
        afsplit::encode(
            hash,
            stripes,
            bytes!(input, blocklen),
            bytes_mut!(out, split),
        )?;
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
        let (hash, split) = (decode!(hash), afsplit::split_len(blocklen, stripes)?);
        afsplit::decode(
            hash,
            stripes,
            bytes!(input, split),
            bytes_mut!(out, blocklen),
        )?;
        Ok(0)
    })
}
