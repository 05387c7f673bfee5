//! Unlocking a LUKS2 keyslot: its KDF (PBKDF2, Argon2i or Argon2id) derives the
//! area's key from the passphrase; the key material, decrypted and merged as LUKS1's
//! is, gives a candidate key, which the keyslot's digest confirms in constant time.

use zeroize::Zeroizing;

use super::luks2_metadata::{Argon2Variant, Digest, Kdf, Keyslot};
use super::luks_header::STRIPES;
use super::luks_keyslot::{constant_time_eq, merge};
use crate::crypto::pbkdf;
use crate::{Error, ErrorKind, Result};

/// Bytes of key material `slot` holds: its key split into [`STRIPES`].
pub fn material_len(slot: &Keyslot) -> usize {
    slot.key_size as usize * STRIPES as usize
}

/// The key `slot` holds, whose key `material` (read from the disk, decrypted here
/// in place, then wiped) `passphrase` unlocks; `None` when `digest` says the result
/// is not the key. Errors are failures to compute.
pub fn unlock(
    slot: &Keyslot,
    digest: &Digest,
    passphrase: &[u8],
    material: &mut [u8],
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let slot_key = derive(&slot.kdf, passphrase, slot.area.key_size as usize)?;
    let key = merge(
        &slot.area.spec,
        &slot_key,
        STRIPES,
        material,
        slot.key_size as usize,
    )?;
    let matches = constant_time_eq(&key_digest(digest, &key)?, &digest.digest);
    Ok(matches.then_some(key))
}

/// What `digest` stores for `key`: PBKDF2 of it, as long as the stored digest.
pub fn key_digest(digest: &Digest, key: &[u8]) -> Result<Vec<u8>> {
    let mut out = vec![0u8; digest.digest.len()];
    pbkdf::pbkdf2(
        digest.hash,
        key,
        &digest.salt,
        digest.iterations.into(),
        &mut out,
    )?;
    Ok(out)
}

/// The key of `len` bytes that `kdf` derives from `passphrase`.
pub fn derive(kdf: &Kdf, passphrase: &[u8], len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut key = Zeroizing::new(vec![0u8; len]);
    match *kdf {
        Kdf::Pbkdf2 {
            hash,
            iterations,
            ref salt,
        } => pbkdf::pbkdf2(hash, passphrase, salt, iterations.into(), &mut key)?,
        Kdf::Argon2 {
            variant,
            time,
            memory,
            cpus,
            ref salt,
        } => {
            let algorithm = match variant {
                Argon2Variant::I => argon2::Algorithm::Argon2i,
                Argon2Variant::Id => argon2::Algorithm::Argon2id,
            };
            let params =
                argon2::Params::new(memory, time, cpus, Some(len)).map_err(argon2_error)?;
            let blocks = argon2_memory(params.block_count())?;
            argon2::Argon2::new(algorithm, argon2::Version::V0x13, params)
                .hash_password_into_with_memory(passphrase, salt, &mut key, blocks)
                .map_err(argon2_error)?;
        }
    }
    Ok(key)
}

/// `count` zeroed Argon2 blocks of 1 KiB, or an error when they cannot be had,
/// wiped when dropped.
fn argon2_memory(count: usize) -> Result<Zeroizing<Vec<argon2::Block>>> {
    let mut blocks = Zeroizing::new(Vec::new());
    blocks.try_reserve_exact(count).map_err(|_| {
        Error::new(
            ErrorKind::Failed,
            format!("Cannot allocate {count} KiB of memory for Argon2"),
        )
    })?;
    blocks.resize(count, argon2::Block::new());
    Ok(blocks)
}

fn argon2_error(error: argon2::Error) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("Argon2 failed: {error}"),
    )
}

#[cfg(test)]
mod tests;
