//! Cryptographic primitives with QEMU's `crypto/` semantics.

pub mod backend;
pub mod digest;
#[cfg(feature = "gnutls")]
mod gnutls;
pub mod hash;
pub mod hmac;
pub mod init;
pub mod random;
#[cfg(test)]
mod testvectors;

pub use backend::Backend;
pub use digest::Digester;
pub use hash::{Hash, HashAlgo};
pub use hmac::Hmac;
