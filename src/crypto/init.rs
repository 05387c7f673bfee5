//! One-time initialization of the crypto libraries (QEMU's `qcrypto_init`).

use crate::Result;

/// Initializes the crypto backends. Safe to call any number of times from any thread;
/// every later call returns the first call's outcome. qio initializes lazily too, so
/// calling this is only needed to learn early that a library failed to start.
pub fn init() -> Result<()> {
    #[cfg(feature = "gnutls")]
    {
        use std::sync::OnceLock;
        static GNUTLS: OnceLock<Result<()>> = OnceLock::new();
        GNUTLS
            .get_or_init(|| {
                // SAFETY: gnutls_global_init is reference counted and thread-safe since 3.3.
                let rc = unsafe { gnutls_sys::gen::gnutls_global_init() };
                crate::crypto::gnutls::check("gnutls_global_init failed", rc).map_err(|e| {
                    crate::Error::new(
                        e.kind(),
                        format!("Unable to initialize GNUTLS library: {}", e.message()),
                    )
                })
            })
            .clone()?;
    }
    Ok(())
}
