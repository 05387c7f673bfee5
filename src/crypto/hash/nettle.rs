//! Hashes from nettle: all eight algorithms (SM3 since nettle 3.8), through nettle's
//! generic `struct nettle_hash` descriptions, which the nettle HMAC driver shares.

use std::os::raw::{c_uint, c_void};

use nettle_sys as ffi;
use zeroize::Zeroize;

use super::HashAlgo;
use crate::crypto::digest::Driver;
use crate::{Error, ErrorKind, Result};

/// nettle's description of `alg`.
pub(crate) fn descriptor(alg: HashAlgo) -> &'static ffi::nettle_hash {
    // SAFETY: nettle defines these as immutable, initialized statics.
    unsafe {
        match alg {
            HashAlgo::Md5 => &ffi::nettle_md5,
            HashAlgo::Sha1 => &ffi::nettle_sha1,
            HashAlgo::Sha224 => &ffi::nettle_sha224,
            HashAlgo::Sha256 => &ffi::nettle_sha256,
            HashAlgo::Sha384 => &ffi::nettle_sha384,
            HashAlgo::Sha512 => &ffi::nettle_sha512,
            HashAlgo::Ripemd160 => &ffi::nettle_ripemd160,
            HashAlgo::Sm3 => &ffi::nettle_sm3,
        }
    }
}

/// A nettle context of `context_size` bytes, aligned for anything nettle stores in it
/// and wiped when dropped (HMAC contexts hold key material).
pub(crate) struct Context(Box<[u128]>);

impl Context {
    pub(crate) fn new(size: c_uint) -> Context {
        let words = (size as usize).div_ceil(std::mem::size_of::<u128>());
        Context(vec![0; words].into_boxed_slice())
    }

    pub(crate) fn as_mut_ptr(&mut self) -> *mut c_void {
        self.0.as_mut_ptr().cast()
    }

    pub(crate) fn as_ptr(&self) -> *const c_void {
        self.0.as_ptr().cast()
    }
}

impl Drop for Context {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

/// The entry points of a `struct nettle_hash`, all present in every nettle hash.
pub(crate) struct Functions {
    init: unsafe extern "C" fn(*mut c_void),
    update: unsafe extern "C" fn(*mut c_void, usize, *const u8),
    digest: unsafe extern "C" fn(*mut c_void, usize, *mut u8),
}

impl Functions {
    pub(crate) fn of(hash: &ffi::nettle_hash) -> Result<Functions> {
        match (hash.init, hash.update, hash.digest) {
            (Some(init), Some(update), Some(digest)) => Ok(Functions {
                init,
                update,
                digest,
            }),
            _ => Err(Error::new(
                ErrorKind::Failed,
                "nettle hash description lacks an entry point",
            )),
        }
    }
}

struct NettleHash {
    functions: Functions,
    context: Context,
}

// SAFETY: the context is owned and nettle's functions keep no other state.
unsafe impl Send for NettleHash {}

impl Driver for NettleHash {
    fn update(&mut self, data: &[u8]) -> Result<()> {
        // SAFETY: the context was initialized by `init` and is as large as nettle asks.
        unsafe { (self.functions.update)(self.context.as_mut_ptr(), data.len(), data.as_ptr()) };
        Ok(())
    }

    fn finalize_into(&mut self, out: &mut [u8]) {
        // SAFETY: as above; `out` has the digest length and nettle re-initializes the context.
        unsafe { (self.functions.digest)(self.context.as_mut_ptr(), out.len(), out.as_mut_ptr()) };
    }
}

pub(super) fn supports(_alg: HashAlgo) -> bool {
    true
}

pub(super) fn new(alg: HashAlgo) -> Result<Box<dyn Driver>> {
    let hash = descriptor(alg);
    let functions = Functions::of(hash)?;
    let mut context = Context::new(hash.context_size);
    // SAFETY: the context is `context_size` bytes, suitably aligned.
    unsafe { (functions.init)(context.as_mut_ptr()) };
    Ok(Box::new(NettleHash { functions, context }))
}
