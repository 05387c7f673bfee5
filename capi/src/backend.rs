//! `QCryptoBackend`: which library computes a primitive.

use std::os::raw::c_int;

use qio::crypto::Backend;

use crate::ffi::enum_arg;

/// The providers of hashes, HMACs and ciphers. Every compiled backend is usable at run
/// time; `QCRYPTO_BACKEND_AUTO` picks the fastest one for the algorithm, and the
/// environment variable `QIO_CRYPTO_BACKEND=builtin|nettle|gnutls` makes that backend
/// the default wherever it supports the algorithm.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QCryptoBackend {
    /// The fastest compiled backend supporting the algorithm.
    QCRYPTO_BACKEND_AUTO = 0,
    /// Pure Rust: the RustCrypto crates, and qio's own MD5; always present.
    QCRYPTO_BACKEND_BUILTIN = 1,
    /// The nettle library.
    QCRYPTO_BACKEND_NETTLE = 2,
    /// The gnutls library.
    QCRYPTO_BACKEND_GNUTLS = 3,
}

enum_arg! {
    /// A `QCryptoBackend` as C passed it: any int, decoded before use.
    BackendArg => Backend, qapi
}

impl BackendArg {
    /// `QCRYPTO_BACKEND_AUTO`, for exports that forward to their `_with_backend` form,
    /// and what a backend getter returns when given no valid handle.
    pub(crate) const AUTO: BackendArg = BackendArg(QCryptoBackend::QCRYPTO_BACKEND_AUTO as c_int);
}
