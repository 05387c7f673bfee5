//! `QCryptoHmac`: keyed-hash message authentication (QEMU's `crypto/hmac.h`).

use std::os::raw::{c_char, c_int, c_void};

use glib_sys::{gboolean, GError, GFALSE};
use qio::crypto::{hmac, Digester, Hmac};

use crate::backend::{self, BackendArg, QCryptoBackend};
use crate::boundary::{ffi_guard, require, Fail};
use crate::digest;
use crate::ffi::{self, Castable};
use crate::hash::{self, HashAlgoArg};

/// An HMAC under one key, freed with qcrypto_hmac_free().
pub struct QCryptoHmac {
    _private: [u8; 0],
}

impl Castable for QCryptoHmac {
    type Rust = Hmac;
    const NAME: &'static str = "QCryptoHmac";
    const TAG: u32 = u32::from_be_bytes(*b"QHmc");
}

/// Whether some backend of this build implements HMAC over @alg.
///
/// Returns: TRUE if @alg can be used, FALSE otherwise (also for unknown values).
#[no_mangle]
pub extern "C" fn qcrypto_hmac_supports(alg: HashAlgoArg) -> gboolean {
    ffi_guard!(GFALSE, {
        Ok(hash::supports(
            BackendArg::AUTO,
            alg,
            hmac::backend_supports,
        ))
    })
}

/// Whether @backend implements HMAC over @alg. For %QCRYPTO_BACKEND_AUTO: whether any
/// backend does.
///
/// Returns: TRUE if @backend can compute it, FALSE otherwise (also for unknown values).
#[no_mangle]
pub extern "C" fn qcrypto_backend_supports_hmac(backend: BackendArg, alg: HashAlgoArg) -> gboolean {
    ffi_guard!(GFALSE, {
        Ok(hash::supports(backend, alg, hmac::backend_supports))
    })
}

/// Creates an HMAC over @alg keyed with the @nkey bytes of @key (any length; the
/// key is copied), on the default backend.
///
/// Returns: (transfer full) (nullable): a new HMAC to free with qcrypto_hmac_free(),
/// or NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hmac_new(
    alg: HashAlgoArg,
    key: *const u8,
    nkey: usize,
    error: *mut *mut GError,
) -> *mut QCryptoHmac {
    // SAFETY: forwarded with the same contract.
    unsafe { qcrypto_hmac_new_with_backend(alg, BackendArg::AUTO, key, nkey, error) }
}

/// Creates an HMAC over @alg keyed with @key on @backend (%QCRYPTO_BACKEND_AUTO: the
/// default one).
///
/// Returns: (transfer full) (nullable): a new HMAC to free with qcrypto_hmac_free(),
/// or NULL with @error set (for instance when @backend lacks @alg).
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hmac_new_with_backend(
    alg: HashAlgoArg,
    backend: BackendArg,
    key: *const u8,
    nkey: usize,
    error: *mut *mut GError,
) -> *mut QCryptoHmac {
    ffi_guard!(std::ptr::null_mut(), error, {
        require!(!key.is_null() || nkey == 0, "key != NULL || nkey == 0");
        // SAFETY: the caller's key buffer (documented contract).
        let key = unsafe { ffi::bytes(key.cast(), nkey)? };
        let mac = Hmac::with_backend(alg.get()?, backend.get()?, key)?;
        Ok(ffi::box_into_handle(mac))
    })
}

/// The backend computing @hmac (never %QCRYPTO_BACKEND_AUTO).
///
/// Returns: the backend; %QCRYPTO_BACKEND_AUTO (and a critical) if @hmac is not an HMAC.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hmac_get_backend(hmac: *mut QCryptoHmac) -> QCryptoBackend {
    ffi_guard!(QCryptoBackend::QCRYPTO_BACKEND_AUTO, {
        // SAFETY: a handle from qcrypto_hmac_new, checked by box_mut.
        let hmac = unsafe { ffi::box_mut(hmac, "hmac")? };
        Ok(backend::to_c(hmac.backend()))
    })
}

/// Frees @hmac (transfer full) and wipes its key material; NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hmac_free(hmac: *mut QCryptoHmac) {
    // SAFETY: a handle from qcrypto_hmac_new (or NULL), checked by box_free.
    ffi_guard!((), { unsafe { ffi::box_free(hmac, "hmac") } })
}

/// MACs the @niov buffers of @iov with @hmac, then hands the MAC to `finish`: the body
/// of every MAC export.
///
/// # Safety
/// `hmac` is NULL or a live handle; the iovecs are as for [`ffi::iovecs`].
unsafe fn authenticate(
    hmac: *mut QCryptoHmac,
    iov: *const libc::iovec,
    niov: usize,
    finish: impl FnOnce(&mut Digester) -> Result<c_int, Fail>,
) -> Result<c_int, Fail> {
    // SAFETY: the caller's contract.
    unsafe {
        let mac = ffi::box_mut(hmac, "hmac")?;
        digest::updatev(mac, iov, niov)?;
        finish(mac)
    }
}

/// Computes the HMAC of the concatenation of the @niov buffers of @iov. The result
/// follows qcrypto_hash_bytesv()'s rules: with `*resultlen` 0 a buffer is allocated
/// (transfer full, free with g_free()), otherwise `*resultlen` must be the MAC length.
/// @hmac keeps its key and can authenticate further messages.
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hmac_bytesv(
    hmac: *mut QCryptoHmac,
    iov: *const libc::iovec,
    niov: usize,
    result: *mut *mut u8,
    resultlen: *mut usize,
    error: *mut *mut GError,
) -> c_int {
    // SAFETY: the caller passes a valid handle, buffers and pointers (documented contract).
    ffi_guard!(-1, error, {
        unsafe {
            authenticate(hmac, iov, niov, |d| {
                digest::finalize_bytes(d, result, resultlen)
            })
        }
    })
}

/// Computes the HMAC of @len bytes of @buf; the result as for qcrypto_hmac_bytesv().
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hmac_bytes(
    hmac: *mut QCryptoHmac,
    buf: *const c_void,
    len: usize,
    result: *mut *mut u8,
    resultlen: *mut usize,
    error: *mut *mut GError,
) -> c_int {
    // SAFETY: forwarded with the same contract.
    unsafe { qcrypto_hmac_bytesv(hmac, &ffi::iovec(buf, len), 1, result, resultlen, error) }
}

/// Computes the HMAC of the @niov buffers of @iov and stores it in `*digest` as a
/// NUL-terminated lowercase hex string (transfer full, free with g_free()).
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hmac_digestv(
    hmac: *mut QCryptoHmac,
    iov: *const libc::iovec,
    niov: usize,
    digest: *mut *mut c_char,
    error: *mut *mut GError,
) -> c_int {
    // SAFETY: the caller passes a valid handle, buffers and pointers (documented contract).
    ffi_guard!(-1, error, {
        unsafe { authenticate(hmac, iov, niov, |d| digest::finalize_hex(d, digest)) }
    })
}

/// Computes the HMAC of @len bytes of @buf; the hex string as for qcrypto_hmac_digestv().
///
/// Returns: 0 on success, -1 with @error set on failure.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hmac_digest(
    hmac: *mut QCryptoHmac,
    buf: *const c_void,
    len: usize,
    digest: *mut *mut c_char,
    error: *mut *mut GError,
) -> c_int {
    // SAFETY: forwarded with the same contract.
    unsafe { qcrypto_hmac_digestv(hmac, &ffi::iovec(buf, len), 1, digest, error) }
}
