//! The builtin backend's hashes: all eight algorithms, from the RustCrypto crates but
//! for MD5, which is qio's own (see `md5.rs`).

use digest::{Digest, FixedOutputReset};

use super::HashAlgo;
use crate::crypto::digest::Driver;
use crate::Result;

struct RustCrypto<D>(D);

impl<D: Digest + FixedOutputReset + Send> Driver for RustCrypto<D> {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        Digest::update(&mut self.0, data);
        Ok(())
    }

    fn finalize_into(&mut self, out: &mut [u8]) {
        out.copy_from_slice(&self.0.finalize_reset());
    }
}

pub(super) fn supports(_alg: HashAlgo) -> bool {
    true
}

pub(super) fn new(alg: HashAlgo) -> Box<dyn Driver> {
    fn boxed<D: Digest + FixedOutputReset + Send + 'static>() -> Box<dyn Driver> {
        Box::new(RustCrypto(D::new()))
    }
    match alg {
        HashAlgo::Md5 => Box::new(super::md5::Md5::new()),
        HashAlgo::Sha1 => boxed::<sha1::Sha1>(),
        HashAlgo::Sha224 => boxed::<sha2::Sha224>(),
        HashAlgo::Sha256 => boxed::<sha2::Sha256>(),
        HashAlgo::Sha384 => boxed::<sha2::Sha384>(),
        HashAlgo::Sha512 => boxed::<sha2::Sha512>(),
        HashAlgo::Ripemd160 => boxed::<ripemd::Ripemd160>(),
        HashAlgo::Sm3 => boxed::<sm3::Sm3>(),
    }
}
