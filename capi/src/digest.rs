//! What hashes and HMACs share on the C side: absorbing the caller's buffers and
//! handing the digest back in one of QEMU's three forms.

use std::os::raw::{c_char, c_int};

use qio::crypto::Digester;

use crate::boundary::{require, Fail};
use crate::ffi;

/// Where an export hands a digest back.
pub(crate) enum Output<'a> {
    /// QEMU's result-buffer contract: with `*resultlen == 0` a new `g_malloc`ed buffer
    /// goes to `*result` and its length to `*resultlen`; otherwise `*result` is the
    /// caller's buffer and `*resultlen` must be the digest length.
    Bytes {
        result: &'a mut *mut u8,
        resultlen: &'a mut usize,
    },
    /// A new `g_malloc`ed lowercase hex string.
    Hex(&'a mut *mut c_char),
    /// A new `g_malloc`ed padded base64 string.
    Base64(&'a mut *mut c_char),
}

/// The [`Output::Bytes`] of an export's `result` and `resultlen` out-parameters.
macro_rules! bytes_output {
    ($result:ident, $resultlen:ident) => {
        $crate::digest::Output::Bytes {
            result: $crate::ffi::out!($result),
            resultlen: $crate::ffi::out!($resultlen),
        }
    };
}
pub(crate) use bytes_output;

/// Absorbs `input` into `digester`, then hands the digest back through `output` (the
/// digester restarts for a new message). Returns the exports' 0.
pub(crate) fn digest(
    digester: &mut Digester,
    input: &[&[u8]],
    output: Output<'_>,
) -> Result<c_int, Fail> {
    for buf in input {
        digester.update(buf)?;
    }
    match output {
        Output::Bytes { result, resultlen } if *resultlen == 0 => {
            let digest = digester.finalize();
            *result = ffi::g_bytes(&digest);
            *resultlen = digest.len();
        }
        Output::Bytes { result, resultlen } => {
            require!(!result.is_null(), "*resultlen == 0 || *result != NULL");
            // SAFETY: QEMU's contract: a caller that sets `*resultlen` passes a buffer
            // of that many writable bytes in `*result`.
            let out = unsafe { std::slice::from_raw_parts_mut(*result, *resultlen) };
            digester.finalize_into(out)?;
        }
        Output::Hex(digest) => *digest = ffi::g_string(&digester.finalize_hex()),
        Output::Base64(base64) => *base64 = ffi::g_string(&digester.finalize_base64()),
    }
    Ok(0)
}
