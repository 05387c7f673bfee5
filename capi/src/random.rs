//! `qcrypto_random_bytes` (QEMU's `crypto/random.h`).

use std::os::raw::{c_int, c_void};

use glib_sys::GError;

use crate::boundary::ffi_guard;
use crate::ffi::bytes_mut;

/// Fills @buflen bytes of @buf with cryptographically strong random bytes from the
/// kernel (getrandom(2)).
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_random_bytes(
    buf: *mut c_void,
    buflen: usize,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        let out = bytes_mut!(buf, buflen, "buf != NULL || buflen == 0");
        if !out.is_empty() {
            qio::crypto::random::fill(out)?;
        }
        Ok(0)
    })
}
