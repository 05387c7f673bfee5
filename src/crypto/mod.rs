//! Cryptographic primitives with QEMU's `crypto/` semantics.

pub mod afsplit;
pub mod backend;
pub mod block;
pub mod cipher;
pub mod digest;
#[cfg(feature = "gnutls")]
mod gnutls;
pub mod hash;
pub mod hmac;
pub mod init;
pub mod ivgen;
pub mod pbkdf;
pub mod random;
pub mod secret;
#[cfg(test)]
mod testvectors;
#[cfg(feature = "gnutls")]
pub mod tls;

pub use backend::Backend;
pub use cipher::{Cipher, CipherAlgo, CipherMode};
pub use digest::Digester;
pub use hash::{Hash, HashAlgo};
pub use hmac::Hmac;
pub use ivgen::{IvGen, IvGenAlgo};
pub use secret::{Secret, SecretFormat};
