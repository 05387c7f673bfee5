//! `QCryptoHmac`: keyed-hash message authentication (QEMU's `crypto/hmac.h`).

use std::os::raw::{c_char, c_int, c_void};

use glib_sys::{gboolean, GError, GFALSE};
use qio::crypto::{hmac, Hmac};

use crate::backend::BackendArg;
use crate::boundary::{ffi_guard, Fail};
use crate::digest::{bytes_output, digest, Output};
use crate::ffi::{bytes, decode, free_handle, handle_mut, iov_bytes, out, Castable, Owned, Tag};
use crate::hash::{self, HashAlgoArg};

/// An HMAC under one key, freed with qcrypto_hmac_free().
pub struct QCryptoHmac {
    _private: [u8; 0],
}

impl Castable for QCryptoHmac {
    type Ownership = Owned;
    type Rust = Hmac;
    const NAME: &'static str = "QCryptoHmac";
    const TAG: Tag = Tag::new(b"QHmc");
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
    ffi_guard!(std::ptr::null_mut(), error, {
        new(
            alg,
            BackendArg::AUTO,
            bytes!(key, nkey, "key != NULL || nkey == 0"),
        )
    })
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
        new(alg, backend, bytes!(key, nkey, "key != NULL || nkey == 0"))
    })
}

fn new(alg: HashAlgoArg, backend: BackendArg, key: &[u8]) -> Result<*mut QCryptoHmac, Fail> {
    let mac = Hmac::with_backend(decode!(alg), decode!(backend), key)?;
    Ok(crate::ffi::new(mac))
}

/// The backend computing @hmac (never %QCRYPTO_BACKEND_AUTO).
///
/// Returns: the backend; %QCRYPTO_BACKEND_AUTO (and a critical) if @hmac is not an HMAC.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hmac_get_backend(hmac: *mut QCryptoHmac) -> BackendArg {
    ffi_guard!(BackendArg::AUTO, { Ok(handle_mut!(hmac).backend().into()) })
}

/// The hash algorithm of @hmac (QEMU code reads `hmac->alg`).
///
/// Returns: the algorithm; %QCRYPTO_HASH_ALGO__MAX (and a critical) if @hmac is not an
/// HMAC.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hmac_get_algo(hmac: *mut QCryptoHmac) -> HashAlgoArg {
    ffi_guard!(HashAlgoArg::INVALID, {
        Ok(handle_mut!(hmac).algorithm().into())
    })
}

/// Frees @hmac (transfer full) and wipes its key material; NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_hmac_free(hmac: *mut QCryptoHmac) {
    ffi_guard!((), { free_handle!(hmac) })
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
    ffi_guard!(-1, error, {
        let hmac = handle_mut!(hmac);
        let output = bytes_output!(result, resultlen);
        digest(hmac, &iov_bytes!(iov, niov), output)
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
    ffi_guard!(-1, error, {
        let hmac = handle_mut!(hmac);
        let output = bytes_output!(result, resultlen);
        digest(hmac, &[bytes!(buf, len)], output)
    })
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
    ffi_guard!(-1, error, {
        let hmac = handle_mut!(hmac);
        crate::digest::digest(hmac, &iov_bytes!(iov, niov), Output::Hex(out!(digest)))
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
    ffi_guard!(-1, error, {
        let hmac = handle_mut!(hmac);
        crate::digest::digest(hmac, &[bytes!(buf, len)], Output::Hex(out!(digest)))
    })
}
