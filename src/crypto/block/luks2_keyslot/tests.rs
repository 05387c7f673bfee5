use super::*;
use crate::crypto::block::luks2_header::BINARY_LEN;
use crate::crypto::block::luks2_metadata::Metadata;
use crate::crypto::block::luks2_writer::{self, argon2, json, pbkdf2, Slot, HDR_SIZE};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn argon2id(time: u32, memory: u32, cpus: u32) -> Kdf {
    Kdf::Argon2 {
        variant: Argon2Variant::Id,
        time,
        memory,
        cpus,
        salt: [2; 32],
    }
}

/// Argon2id as Python's `cryptography` computes it (RFC 9106, version 0x13, no
/// secret): cpus are lanes, memory KiB, and the output length is part of the hash.
#[test]
fn argon2id_matches_an_independent_implementation() {
    assert_eq!(
        hex(&derive(&argon2id(4, 64, 2), b"pw", 16).unwrap()),
        "5773daf93158641ec91075586f094275"
    );
    assert_eq!(
        hex(&derive(&argon2id(4, 32, 1), b"pw", 64).unwrap()),
        "934102597b590a387662258530eef44085870784aed1f25fe5d3d8f5b1a2f1c6\
         58f117d23d65fc1bc20a5af1cc5a80d25a6f824bacac5cef30bf9a7a95e47d18"
    );
}

#[test]
fn argon2i_is_not_argon2id() {
    let argon2i = Kdf::Argon2 {
        variant: Argon2Variant::I,
        time: 4,
        memory: 64,
        cpus: 2,
        salt: [2; 32],
    };
    let a = derive(&argon2i, b"pw", 16).unwrap();
    assert_ne!(a, derive(&argon2id(4, 64, 2), b"pw", 16).unwrap());
    assert_eq!(a, derive(&argon2i, b"pw", 16).unwrap());
}

/// Memory that cannot be had is an error, not an abort.
#[test]
fn argon2_memory_that_cannot_be_allocated_is_refused() {
    let error = argon2_memory(usize::MAX / 1024).unwrap_err();
    assert_eq!(
        error.message(),
        format!(
            "Cannot allocate {} KiB of memory for Argon2",
            usize::MAX / 1024
        )
    );
    assert_eq!(argon2_memory(8).unwrap().len(), 8);
}

/// Argon2's own limits, which the metadata's bounds keep a header within, still
/// fail cleanly when reached.
#[test]
fn argon2_refuses_what_it_cannot_compute() {
    let error = derive(&argon2id(4, 8, 2), b"pw", 16).unwrap_err();
    assert_eq!(error.message(), "Argon2 failed: memory cost is too small");
    assert!(derive(&argon2id(4, 32, 1), b"pw", 3).is_err());
}

/// Each KDF's keyslot gives back its key to its passphrase, and nothing to another
/// passphrase or to damaged key material.
#[test]
fn keyslots_unlock_with_their_passphrase_only() {
    let key: Vec<u8> = (0..64).collect();
    let slots = [pbkdf2(), argon2("argon2i"), argon2("argon2id")].map(|kdf| Slot {
        kdf,
        encryption: "aes-xts-plain64",
        area_key_size: 64,
    });
    let json = json(&key, "aes-xts-plain64", &slots);
    let image = luks2_writer::volume(&json, &key, &["a", "b", "c"]);
    let metadata = Metadata::parse(&image[BINARY_LEN..HDR_SIZE as usize], HDR_SIZE).unwrap();
    let digest = metadata.segment_digest();
    for (slot, passphrase) in metadata.keyslots.iter().zip(["a", "b", "c"]) {
        let offset = slot.area.offset as usize;
        let material = || image[offset..offset + material_len(slot)].to_vec();
        let mut copy = material();
        let got = unlock(slot, digest, passphrase.as_bytes(), &mut copy).unwrap();
        assert_eq!(got.as_deref(), Some(&key));
        assert!(copy.iter().all(|&b| b == 0), "the material is wiped");
        let wrong = unlock(slot, digest, b"x", &mut material()).unwrap();
        assert_eq!(wrong, None);
        let mut damaged = material();
        damaged[1000] ^= 1;
        let got = unlock(slot, digest, passphrase.as_bytes(), &mut damaged).unwrap();
        assert_eq!(got, None);
    }
}
