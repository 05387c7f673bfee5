//! `QCryptoBackend`: which library computes a primitive.

use std::os::raw::c_int;

use qio::crypto::Backend;

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

/// A `QCryptoBackend` as C passed it: any int, validated before use.
#[repr(transparent)]
pub struct BackendArg(c_int);

impl BackendArg {
    /// `QCRYPTO_BACKEND_AUTO`, for exports that forward to their `_with_backend` form.
    pub(crate) const AUTO: BackendArg = BackendArg(0);

    /// The backend, or an error for a value outside the enum.
    pub(crate) fn get(self) -> qio::Result<Backend> {
        Backend::from_index(self.0.into()).ok_or_else(|| {
            qio::Error::new(
                qio::ErrorKind::InvalidArgument,
                format!("Unknown crypto backend {}", self.0),
            )
        })
    }
}

/// The C enum value of a concrete backend.
pub(crate) fn to_c(backend: Backend) -> QCryptoBackend {
    match backend {
        Backend::Auto => QCryptoBackend::QCRYPTO_BACKEND_AUTO,
        Backend::Builtin => QCryptoBackend::QCRYPTO_BACKEND_BUILTIN,
        Backend::Nettle => QCryptoBackend::QCRYPTO_BACKEND_NETTLE,
        Backend::Gnutls => QCryptoBackend::QCRYPTO_BACKEND_GNUTLS,
    }
}
