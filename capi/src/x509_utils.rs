//! `qcrypto_get_x509_cert_fingerprint` (QEMU's `crypto/x509-utils.h`).

use std::os::raw::c_int;

use glib_sys::GError;
use qio::crypto::tls::cert_fingerprint;

use crate::boundary::{ffi_guard, Fail};
use crate::ffi::{bytes, out, EnumArg};
use crate::hash::HashAlgoArg;

fn invalid(message: String) -> Fail {
    Fail::Error(qio::Error::new(qio::ErrorKind::InvalidArgument, message))
}

/// Stores in @result the @alg fingerprint of the PEM certificate in the @size bytes at
/// @cert: the digest of its DER encoding. On entry `*resultlen` is the room at @result;
/// on success it is the fingerprint's length.
///
/// Returns: 0, or -1 with @error set ("Failed to import certificate", "Result buffer
/// size 16 is smaller than hash 32", QEMU's messages).
#[no_mangle]
pub unsafe extern "C" fn qcrypto_get_x509_cert_fingerprint(
    cert: *const u8,
    size: usize,
    alg: HashAlgoArg,
    result: *mut u8,
    resultlen: *mut usize,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        let (cert, room) = (bytes!(cert, size), out!(resultlen));
        let alg = alg
            .decode()
            .ok_or_else(|| invalid("Unknown hash algorithm".into()))?;
        if result.is_null() {
            return Err(invalid("No valid buffer given".into()));
        }
        let fingerprint = cert_fingerprint(cert, alg)?;
        if *room < fingerprint.len() {
            return Err(invalid(format!(
                "Result buffer size {} is smaller than hash {}",
                *room,
                fingerprint.len()
            )));
        }
        // SAFETY: `result` is not NULL and, by QEMU's contract, has `*resultlen` bytes
        // of room, which was checked to hold the fingerprint.
        unsafe { std::ptr::copy_nonoverlapping(fingerprint.as_ptr(), result, fingerprint.len()) };
        *room = fingerprint.len();
        Ok(0)
    })
}
