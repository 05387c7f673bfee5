use super::*;
use crate::crypto::block::luks_header::tests::{default_header, set};
use crate::crypto::block::luks_header::SLOT_ACTIVE;

/// A header for `master_key`, aes-256 xts-plain64 sha256 as QEMU's default, with its
/// digest, and slot 0 set up for `passphrase`; and slot 0's key material.
fn locked(master_key: &[u8], passphrase: &[u8]) -> (Header, Spec, Zeroizing<Vec<u8>>) {
    let mut header = default_header();
    let spec = header.spec().unwrap();
    header.master_key_digest = master_key_digest(&header, &spec, master_key).unwrap();
    header.key_slots[0].active = SLOT_ACTIVE;
    let material = lock(&header, &spec, &header.key_slots[0], passphrase, master_key).unwrap();
    (header, spec, material)
}

#[test]
fn the_passphrase_unlocks_the_master_key() {
    let master_key: Vec<u8> = (0..64).collect();
    let (header, spec, material) = locked(&master_key, b"123456");
    assert_eq!(material.len(), 64 * 4000);
    // Nothing of the master key shows in the material.
    assert!(!material.windows(8).any(|w| w == &master_key[..8]));
    let mut copy = material.to_vec();
    let got = unlock(&header, &spec, &header.key_slots[0], b"123456", &mut copy).unwrap();
    assert_eq!(got.as_deref().map(Vec::as_slice), Some(&master_key[..]));
}

#[test]
fn another_passphrase_or_damaged_material_unlocks_nothing() {
    let master_key = [0x3cu8; 64];
    let (header, spec, material) = locked(&master_key, b"123456");
    let slot = &header.key_slots[0];
    let mut copy = material.to_vec();
    assert_eq!(
        unlock(&header, &spec, slot, b"123457", &mut copy).unwrap(),
        None
    );
    let mut damaged = material.to_vec();
    damaged[100_000] ^= 1;
    assert_eq!(
        unlock(&header, &spec, slot, b"123456", &mut damaged).unwrap(),
        None
    );
}

/// QEMU's corrupted header "cipher-xts-size": a 33-byte XTS master key passes the
/// header's checks (33 / 2 names aes-128) and fails when the slot's cipher is made.
#[test]
fn an_odd_xts_key_fails_when_the_slot_cipher_is_made() {
    let mut header = default_header();
    header.master_key_len = 33;
    header.check(false).unwrap();
    let spec = header.spec().unwrap();
    let mut material = vec![0u8; material_len(&header)];
    let error = unlock(
        &header,
        &spec,
        &header.key_slots[0],
        b"123456",
        &mut material,
    )
    .unwrap_err();
    assert_eq!(
        error.message(),
        "XTS cipher key length should be a multiple of 2"
    );
}

#[test]
fn essiv_slots_round_trip() {
    let mut header = default_header();
    set(&mut header.cipher_mode, "cbc-essiv:sha256");
    header.master_key_len = 16;
    let spec = header.spec().unwrap();
    let master_key = [0xa5u8; 16];
    header.master_key_digest = master_key_digest(&header, &spec, &master_key).unwrap();
    let mut material = lock(&header, &spec, &header.key_slots[0], b"pw", &master_key).unwrap();
    let got = unlock(&header, &spec, &header.key_slots[0], b"pw", &mut material).unwrap();
    assert_eq!(got.as_deref().map(Vec::as_slice), Some(&master_key[..]));
}
