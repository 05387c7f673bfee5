//! The crypto backends and how one is chosen for an algorithm.
//!
//! Every compiled backend is usable at run time. [`Backend::Auto`] picks, per algorithm,
//! the first backend of a preference list (the fastest one measured, see bench/README.md) that
//! supports it; `QIO_CRYPTO_BACKEND=builtin|nettle|gnutls` puts one backend first for
//! debugging and testing, falling back to the list where it lacks the algorithm.

use std::sync::OnceLock;

/// A provider of cryptographic primitives. The discriminants are the C enum's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Backend {
    /// The fastest compiled backend supporting the algorithm.
    Auto = 0,
    /// Pure Rust: the RustCrypto crates, and qio's own MD5; always compiled.
    Builtin = 1,
    /// The nettle library (cargo feature `nettle`).
    Nettle = 2,
    /// The gnutls library (cargo feature `gnutls`).
    Gnutls = 3,
}

impl Backend {
    /// The concrete backends, in the order of the C enum.
    pub const CONCRETE: [Backend; 3] = [Backend::Builtin, Backend::Nettle, Backend::Gnutls];

    /// The backend whose C enum value is `value`.
    pub fn from_index(value: i64) -> crate::Result<Backend> {
        [
            Backend::Auto,
            Backend::Builtin,
            Backend::Nettle,
            Backend::Gnutls,
        ]
        .into_iter()
        .find(|b| *b as i64 == value)
        .ok_or_else(|| {
            crate::Error::new(
                crate::ErrorKind::InvalidArgument,
                format!("Unknown crypto backend {value}"),
            )
        })
    }

    /// The backend's lowercase name, as `QIO_CRYPTO_BACKEND` spells it.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Auto => "auto",
            Backend::Builtin => "builtin",
            Backend::Nettle => "nettle",
            Backend::Gnutls => "gnutls",
        }
    }

    /// The backend called `name` (case-insensitive).
    pub fn from_name(name: &str) -> Option<Backend> {
        [
            Backend::Auto,
            Backend::Builtin,
            Backend::Nettle,
            Backend::Gnutls,
        ]
        .into_iter()
        .find(|b| b.name().eq_ignore_ascii_case(name))
    }

    /// Whether this build includes the backend (`Auto` always is).
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Auto | Backend::Builtin => true,
            Backend::Nettle => cfg!(feature = "nettle"),
            Backend::Gnutls => cfg!(feature = "gnutls"),
        }
    }
}

/// The backend forced by `QIO_CRYPTO_BACKEND`, read once per process.
fn env_override() -> Option<Backend> {
    static FORCED: OnceLock<Option<Backend>> = OnceLock::new();
    *FORCED.get_or_init(|| {
        let value = std::env::var("QIO_CRYPTO_BACKEND").ok()?;
        match Backend::from_name(&value) {
            Some(Backend::Auto) => None,
            Some(backend) if backend.is_compiled() => Some(backend),
            _ => {
                eprintln!("qio: ignoring QIO_CRYPTO_BACKEND={value:?}: not a compiled backend");
                None
            }
        }
    })
}

/// The concrete backend to use when `requested` is asked for: `requested` itself when it
/// is concrete and `supports` it; for `Auto`, the environment's override if it supports the
/// algorithm, else the first supporting entry of `preference`. `None` when nothing fits.
pub(crate) fn resolve(
    requested: Backend,
    preference: &[Backend],
    supports: impl Fn(Backend) -> bool,
) -> Option<Backend> {
    if requested != Backend::Auto {
        return supports(requested).then_some(requested);
    }
    env_override()
        .into_iter()
        .chain(preference.iter().copied())
        .find(|&b| supports(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for b in [
            Backend::Auto,
            Backend::Builtin,
            Backend::Nettle,
            Backend::Gnutls,
        ] {
            assert_eq!(Backend::from_name(b.name()), Some(b));
            assert_eq!(Backend::from_index(b as i64), Ok(b));
        }
        assert_eq!(Backend::from_name("openssl"), None);
        assert_eq!(
            Backend::from_index(4).unwrap_err().message(),
            "Unknown crypto backend 4"
        );
        assert!(Backend::from_index(-1).is_err());
    }

    #[test]
    fn resolve_honours_request_and_preference() {
        let only_nettle = |b: Backend| b == Backend::Nettle;
        assert_eq!(
            resolve(Backend::Builtin, &Backend::CONCRETE, only_nettle),
            None
        );
        assert_eq!(
            resolve(Backend::Nettle, &Backend::CONCRETE, only_nettle),
            Some(Backend::Nettle)
        );
        if env_override().is_none() {
            assert_eq!(
                resolve(Backend::Auto, &Backend::CONCRETE, only_nettle),
                Some(Backend::Nettle)
            );
            assert_eq!(
                resolve(Backend::Auto, &Backend::CONCRETE, |_| true),
                Some(Backend::Builtin)
            );
        }
    }
}
