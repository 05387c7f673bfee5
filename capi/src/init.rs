//! `qcrypto_init` (QEMU's `crypto/init.h`).

use std::os::raw::c_int;

use glib_sys::GError;

use crate::boundary::ffi_guard;

/// Initializes the crypto libraries qio uses. qio also initializes them on first use,
/// so calling this is optional; it reports early when a library cannot start. Safe to
/// call more than once and from any thread.
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub extern "C" fn qcrypto_init(error: *mut *mut GError) -> c_int {
    ffi_guard!(-1, error, {
        qio::crypto::init::init()?;
        Ok(0)
    })
}
