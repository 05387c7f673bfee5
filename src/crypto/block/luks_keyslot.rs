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
    let key_len = header.master_key_len as usize;
    let master_key = merge(spec, &slot_key, slot.stripes, material, key_len)?;
    Ok(digest_matches(header, spec, &master_key)?.then_some(master_key))
}

/// The key of `key_len` bytes that key `material` (`stripes` of it, read from the
/// disk) holds under `slot_key`: the material decrypted in place with `spec`'s cipher
/// and IV generator in 512-byte sectors numbered from 0, then merged with `spec`'s
/// hash. The material is wiped. LUKS1 and LUKS2 key slots share it.
pub(super) fn merge(
    spec: &Spec,
    slot_key: &[u8],
    stripes: u32,
    material: &mut [u8],
    key_len: usize,
) -> Result<Zeroizing<Vec<u8>>> {
    sector_cipher(spec, slot_key)?.decrypt(0, SECTOR_SIZE as usize, material)?;
    let mut key = Zeroizing::new(vec![0u8; key_len]);
    let merged = afsplit::decode(spec.hash, stripes, material, &mut key);
    material.fill(0);
    merged.map(|()| key)
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

/// Whether `a` equals `b`, taking the same time whatever their bytes (their lengths
/// are not secret).
pub(super) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    a.len() == b.len() && std::hint::black_box(diff) == 0
}

#[cfg(test)]
mod tests;
