//! The hash algorithms (QEMU's `QCryptoHashAlgo`), apart from the hashes themselves
//! so that what hashes and HMACs share (`crypto::digest`) can name them.

use crate::crypto::backend::Backend;
use crate::qapi::qapi_enum;

qapi_enum! {
    /// A hash algorithm (QEMU's `QCryptoHashAlgo`).
    pub enum HashAlgo, error = "Unknown hash algorithm {}" {
        Md5 = 0 => "md5",
        Sha1 = 1 => "sha1",
        Sha224 = 2 => "sha224",
        Sha256 = 3 => "sha256",
        Sha384 = 4 => "sha384",
        Sha512 = 5 => "sha512",
        Ripemd160 = 6 => "ripemd160",
        Sm3 = 7 => "sm3",
    }
}

impl HashAlgo {
    /// The digest length in bytes (QEMU's `QCRYPTO_HASH_DIGEST_LEN_*`).
    pub fn digest_len(self) -> usize {
        match self {
            HashAlgo::Md5 => 16,
            HashAlgo::Sha1 | HashAlgo::Ripemd160 => 20,
            HashAlgo::Sha224 => 28,
            HashAlgo::Sha256 | HashAlgo::Sm3 => 32,
            HashAlgo::Sha384 => 48,
            HashAlgo::Sha512 => 64,
        }
    }

    /// The backends `Auto` tries for this algorithm, fastest first, as measured by
    /// `bench/bench-crypto-hash` on x86-64 with SHA-NI and AVX2 (table in bench/README.md):
    /// RustCrypto's SHA-NI code matches gnutls' (OpenSSL's assembly) for SHA-1 and
    /// SHA-256 without its allocation; gnutls' AVX2 SHA-512 is 1.4x RustCrypto's; the
    /// builtin MD5 is 1.1x nettle's (which gnutls also uses); gnutls 3.7 lacks
    /// RIPEMD-160 and SM3, where RustCrypto leads nettle.
    pub(crate) fn preference(self) -> &'static [Backend] {
        use Backend::{Builtin, Gnutls, Nettle};
        match self {
            HashAlgo::Md5 => &[Builtin, Nettle, Gnutls],
            HashAlgo::Sha1 | HashAlgo::Sha224 | HashAlgo::Sha256 => &[Builtin, Gnutls, Nettle],
            HashAlgo::Sha384 | HashAlgo::Sha512 => &[Gnutls, Builtin, Nettle],
            HashAlgo::Ripemd160 | HashAlgo::Sm3 => &[Builtin, Nettle, Gnutls],
        }
    }
}
