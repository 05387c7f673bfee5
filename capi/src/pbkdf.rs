//! PBKDF2 (QEMU's `crypto/pbkdf.h`).

use std::os::raw::c_int;

use glib_sys::{gboolean, GError};
use qio::crypto::pbkdf;

use crate::backend::BackendArg;
use crate::boundary::{ffi_guard, Fail};
use crate::ffi::{bytes, bytes_mut, decode};
use crate::hash::{self, HashAlgoArg};

/// Whether some backend of this build derives keys with PBKDF2-HMAC-@hash.
///
/// Returns: TRUE if @hash can be used, FALSE otherwise (also for unknown values).
#[no_mangle]
pub extern "C" fn qcrypto_pbkdf2_supports(hash: HashAlgoArg) -> gboolean {
    qcrypto_backend_supports_pbkdf2(BackendArg::AUTO, hash)
}

/// Whether @backend derives keys with PBKDF2-HMAC-@hash. For %QCRYPTO_BACKEND_AUTO:
/// whether any backend does.
///
/// Returns: TRUE if @backend can, FALSE otherwise (also for unknown values).
#[no_mangle]
pub extern "C" fn qcrypto_backend_supports_pbkdf2(
    backend: BackendArg,
    hash: HashAlgoArg,
) -> gboolean {
    ffi_guard!(glib_sys::GFALSE, {
        Ok(hash::supports(backend, hash, pbkdf::backend_supports))
    })
}

/// Fills the @nout bytes at @out with PBKDF2-HMAC-@hash of the @nkey-byte @key and the
/// @nsalt-byte @salt over @iterations rounds (1 to UINT_MAX), on the default backend.
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_pbkdf2(
    hash: HashAlgoArg,
    key: *const u8,
    nkey: usize,
    salt: *const u8,
    nsalt: usize,
    iterations: u64,
    out: *mut u8,
    nout: usize,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        let input = (bytes!(key, nkey), bytes!(salt, nsalt));
        derive(
            hash,
            input,
            iterations,
            bytes_mut!(out, nout),
            BackendArg::AUTO,
        )
    })
}

/// As qcrypto_pbkdf2(), on @backend (%QCRYPTO_BACKEND_AUTO: the default).
///
/// Returns: 0 on success, -1 with @error set on failure (for instance when @backend
/// lacks @hash).
#[no_mangle]
#[allow(clippy::too_many_arguments)] // QEMU's signature, plus the backend.
pub unsafe extern "C" fn qcrypto_pbkdf2_with_backend(
    hash: HashAlgoArg,
    key: *const u8,
    nkey: usize,
    salt: *const u8,
    nsalt: usize,
    iterations: u64,
    out: *mut u8,
    nout: usize,
    backend: BackendArg,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        let input = (bytes!(key, nkey), bytes!(salt, nsalt));
        derive(hash, input, iterations, bytes_mut!(out, nout), backend)
    })
}

/// Derives `out` from the key and salt of `input`.
fn derive(
    hash: HashAlgoArg,
    (key, salt): (&[u8], &[u8]),
    iterations: u64,
    out: &mut [u8],
    backend: BackendArg,
) -> Result<c_int, Fail> {
    pbkdf::pbkdf2_with_backend(decode!(hash), key, salt, iterations, out, decode!(backend))?;
    Ok(0)
}

/// Measures how many PBKDF2-HMAC-@hash iterations a second this machine runs for this
/// key, salt and an @nout-byte output, as QEMU does (in a new thread, by its CPU time,
/// scaling the count up) but with a last run of about 100 ms, where QEMU's takes over
/// half a second: about 0.1 s in all rather than 1.5 s.
///
/// Returns: the iterations per second, or (uint64_t)-1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_pbkdf2_count_iters(
    hash: HashAlgoArg,
    key: *const u8,
    nkey: usize,
    salt: *const u8,
    nsalt: usize,
    nout: usize,
    error: *mut *mut GError,
) -> u64 {
    ffi_guard!(u64::MAX, error, {
        let (key, salt) = (bytes!(key, nkey), bytes!(salt, nsalt));
        Ok(pbkdf::count_iters(decode!(hash), key, salt, nout)?)
    })
}
