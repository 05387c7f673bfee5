//! A LUKS1 key slot's key material: the master key split into [`STRIPES`] stripes
//! (the anti-forensic splitter), encrypted sector by sector under a slot key that
//! PBKDF2 derives from a passphrase and the slot's salt. Unlocking reverses it and
//! checks the result against the header's master-key digest, in constant time.

use zeroize::Zeroizing;

use super::luks_header::{Header, KeySlot, Spec, DIGEST_LEN, SECTOR_SIZE, STRIPES};
use super::sectors::SectorCipher;
use crate::crypto::cipher::Cipher;
use crate::crypto::ivgen::IvGen;
use crate::crypto::{afsplit, pbkdf};
use crate::Result;

/// Bytes of key material each slot of `header` holds.
pub fn material_len(header: &Header) -> usize {
    header.master_key_len as usize * STRIPES as usize
}

/// The master key held by `slot`, whose key `material` (read from the disk, and
/// decrypted here in place) `passphrase` unlocks; `None` when the passphrase is not
/// this slot's. Errors are failures to compute, as QEMU's, which end the search.
pub fn unlock(
    header: &Header,
    spec: &Spec,
    slot: &KeySlot,
    passphrase: &[u8],
    material: &mut [u8],
) -> Result<Option<Zeroizing<Vec<u8>>>> {
    let slot_key = derive(header, spec, slot, passphrase)?;
    sector_cipher(spec, &slot_key)?.decrypt(0, SECTOR_SIZE as usize, material)?;
    let mut master_key = Zeroizing::new(vec![0u8; header.master_key_len as usize]);
    afsplit::decode(spec.hash, slot.stripes, material, &mut master_key)?;
    material.fill(0);
    Ok(digest_matches(header, spec, &master_key)?.then_some(master_key))
}

/// Key material holding `master_key` for `slot` (whose salt and iterations are set),
/// encrypted under `passphrase`.
pub fn lock(
    header: &Header,
    spec: &Spec,
    slot: &KeySlot,
    passphrase: &[u8],
    master_key: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let slot_key = derive(header, spec, slot, passphrase)?;
    let mut material = Zeroizing::new(vec![0u8; material_len(header)]);
    afsplit::encode(spec.hash, slot.stripes, master_key, &mut material)?;
    sector_cipher(spec, &slot_key)?.encrypt(0, SECTOR_SIZE as usize, &mut material)?;
    Ok(material)
}

/// The master-key digest the header stores for `master_key`.
pub fn master_key_digest(
    header: &Header,
    spec: &Spec,
    master_key: &[u8],
) -> Result<[u8; DIGEST_LEN]> {
    let mut digest = [0u8; DIGEST_LEN];
    pbkdf::pbkdf2(
        spec.hash,
        master_key,
        &header.master_key_salt,
        header.master_key_iterations.into(),
        &mut digest,
    )?;
    Ok(digest)
}

/// Whether `master_key` is the one the header's digest was made from.
fn digest_matches(header: &Header, spec: &Spec, master_key: &[u8]) -> Result<bool> {
    let digest = master_key_digest(header, spec, master_key)?;
    Ok(constant_time_eq(&digest, &header.master_key_digest))
}

/// The slot key: PBKDF2 of the passphrase with the slot's salt and iterations.
fn derive(
    header: &Header,
    spec: &Spec,
    slot: &KeySlot,
    passphrase: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let mut key = Zeroizing::new(vec![0u8; header.master_key_len as usize]);
    pbkdf::pbkdf2(
        spec.hash,
        passphrase,
        &slot.salt,
        slot.iterations.into(),
        &mut key,
    )?;
    Ok(key)
}

/// The volume's cipher and IV generator keyed with `key`.
fn sector_cipher(spec: &Spec, key: &[u8]) -> Result<SectorCipher> {
    let cipher = Cipher::new(spec.cipher, spec.mode, key)?;
    let ivgen = IvGen::new(spec.ivgen, spec.ivgen_cipher, spec.ivgen_hash, key)?;
    Ok(SectorCipher::new(cipher, ivgen))
}

/// Whether `a` equals `b`, taking the same time whatever their bytes.
fn constant_time_eq(a: &[u8; DIGEST_LEN], b: &[u8; DIGEST_LEN]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests;
