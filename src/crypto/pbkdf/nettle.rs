//! PBKDF2 from nettle: `nettle_pbkdf2` over nettle's per-algorithm HMAC contexts, all
//! eight hashes (QEMU's nettle backend leaves MD5 out; nettle has it).

use std::os::raw::c_void;

use nettle_sys as ffi;
use zeroize::Zeroize;

use crate::crypto::hash::HashAlgo;

/// Runs `nettle_pbkdf2` with one nettle HMAC: its context type, key, update and digest
/// functions. The typed functions are passed as nettle's `void *` function types,
/// which they are ABI-compatible with (the contexts are only ever pointers).
macro_rules! with_hmac {
    ($ctx:ty, $set_key:path, $update:path, $digest:path, $size:expr,
     $key:expr, $salt:expr, $rounds:expr, $out:expr) => {{
        let mut ctx = std::mem::MaybeUninit::<$ctx>::zeroed();
        // SAFETY: a context of the function's type and a valid key buffer; nettle's
        // generic function types differ from the typed ones only in the context
        // pointer's pointee; the salt and output buffers are valid for their lengths.
        unsafe {
            $set_key(ctx.as_mut_ptr(), $key.len(), $key.as_ptr());
            let update: unsafe extern "C" fn(*mut $ctx, usize, *const u8) = $update;
            let digest: unsafe extern "C" fn(*mut $ctx, usize, *mut u8) = $digest;
            ffi::nettle_pbkdf2(
                ctx.as_mut_ptr().cast::<c_void>(),
                Some(std::mem::transmute::<
                    unsafe extern "C" fn(*mut $ctx, usize, *const u8),
                    unsafe extern "C" fn(*mut c_void, usize, *const u8),
                >(update)),
                Some(std::mem::transmute::<
                    unsafe extern "C" fn(*mut $ctx, usize, *mut u8),
                    unsafe extern "C" fn(*mut c_void, usize, *mut u8),
                >(digest)),
                $size as usize,
                $rounds,
                $salt.len(),
                $salt.as_ptr(),
                $out.len(),
                $out.as_mut_ptr(),
            );
            // The keyed HMAC states are key material.
            std::slice::from_raw_parts_mut(
                ctx.as_mut_ptr().cast::<u8>(),
                std::mem::size_of::<$ctx>(),
            )
            .zeroize();
        }
    }};
}

pub(super) fn pbkdf2(hash: HashAlgo, key: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
    if out.is_empty() {
        return;
    }
    match hash {
        HashAlgo::Md5 => with_hmac!(
            ffi::hmac_md5_ctx,
            ffi::nettle_hmac_md5_set_key,
            ffi::nettle_hmac_md5_update,
            ffi::nettle_hmac_md5_digest,
            ffi::MD5_DIGEST_SIZE,
            key,
            salt,
            rounds,
            out
        ),
        HashAlgo::Sha1 => with_hmac!(
            ffi::hmac_sha1_ctx,
            ffi::nettle_hmac_sha1_set_key,
            ffi::nettle_hmac_sha1_update,
            ffi::nettle_hmac_sha1_digest,
            ffi::SHA1_DIGEST_SIZE,
            key,
            salt,
            rounds,
            out
        ),
        HashAlgo::Sha224 => with_hmac!(
            ffi::hmac_sha256_ctx,
            ffi::nettle_hmac_sha224_set_key,
            ffi::nettle_hmac_sha256_update,
            ffi::nettle_hmac_sha224_digest,
            ffi::SHA224_DIGEST_SIZE,
            key,
            salt,
            rounds,
            out
        ),
        HashAlgo::Sha256 => with_hmac!(
            ffi::hmac_sha256_ctx,
            ffi::nettle_hmac_sha256_set_key,
            ffi::nettle_hmac_sha256_update,
            ffi::nettle_hmac_sha256_digest,
            ffi::SHA256_DIGEST_SIZE,
            key,
            salt,
            rounds,
            out
        ),
        HashAlgo::Sha384 => with_hmac!(
            ffi::hmac_sha512_ctx,
            ffi::nettle_hmac_sha384_set_key,
            ffi::nettle_hmac_sha512_update,
            ffi::nettle_hmac_sha384_digest,
            ffi::SHA384_DIGEST_SIZE,
            key,
            salt,
            rounds,
            out
        ),
        HashAlgo::Sha512 => with_hmac!(
            ffi::hmac_sha512_ctx,
            ffi::nettle_hmac_sha512_set_key,
            ffi::nettle_hmac_sha512_update,
            ffi::nettle_hmac_sha512_digest,
            ffi::SHA512_DIGEST_SIZE,
            key,
            salt,
            rounds,
            out
        ),
        HashAlgo::Ripemd160 => with_hmac!(
            ffi::hmac_ripemd160_ctx,
            ffi::nettle_hmac_ripemd160_set_key,
            ffi::nettle_hmac_ripemd160_update,
            ffi::nettle_hmac_ripemd160_digest,
            ffi::RIPEMD160_DIGEST_SIZE,
            key,
            salt,
            rounds,
            out
        ),
        HashAlgo::Sm3 => with_hmac!(
            ffi::hmac_sm3_ctx,
            ffi::nettle_hmac_sm3_set_key,
            ffi::nettle_hmac_sm3_update,
            ffi::nettle_hmac_sm3_digest,
            ffi::SM3_DIGEST_SIZE,
            key,
            salt,
            rounds,
            out
        ),
    }
}
