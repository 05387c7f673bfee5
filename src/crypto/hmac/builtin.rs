//! HMAC from the RustCrypto `hmac` crate over its hashes: all eight algorithms. The
//! keyed state is wiped when dropped (the crates' `zeroize` feature).

use digest::{FixedOutputReset, KeyInit, Mac};
use hmac::{EagerHash, HmacReset};

use crate::crypto::digest::Driver;
use crate::crypto::hash::HashAlgo;
use crate::{Error, ErrorKind, Result};

struct RustCrypto<M>(M);

impl<M: Mac + FixedOutputReset + Send> Driver for RustCrypto<M> {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        Mac::update(&mut self.0, data);
        Ok(())
    }

    fn finalize_into(&mut self, out: &mut [u8]) {
        out.copy_from_slice(&self.0.finalize_reset().into_bytes());
    }
}

pub(super) fn supports(_alg: HashAlgo) -> bool {
    true
}

fn keyed<D>(key: &[u8]) -> Result<Box<dyn Driver>>
where
    D: EagerHash + 'static,
    HmacReset<D>: Mac + KeyInit + FixedOutputReset + Send,
{
    let mac = <HmacReset<D> as KeyInit>::new_from_slice(key)
        .map_err(|_| Error::new(ErrorKind::InvalidArgument, "Invalid HMAC key length"))?;
    Ok(Box::new(RustCrypto(mac)))
}

pub(super) fn new(alg: HashAlgo, key: &[u8]) -> Result<Box<dyn Driver>> {
    match alg {
        HashAlgo::Md5 => keyed::<md5::Md5>(key),
        HashAlgo::Sha1 => keyed::<sha1::Sha1>(key),
        HashAlgo::Sha224 => keyed::<sha2::Sha224>(key),
        HashAlgo::Sha256 => keyed::<sha2::Sha256>(key),
        HashAlgo::Sha384 => keyed::<sha2::Sha384>(key),
        HashAlgo::Sha512 => keyed::<sha2::Sha512>(key),
        HashAlgo::Ripemd160 => keyed::<ripemd::Ripemd160>(key),
        HashAlgo::Sm3 => keyed::<sm3::Sm3>(key),
    }
}
