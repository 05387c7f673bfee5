use super::*;

/// `text` and its NUL copied over the front of `field`, as QEMU's tests `memcpy` it.
pub(crate) fn set(field: &mut [u8; NAME_LEN], text: &str) {
    field[..text.len()].copy_from_slice(text.as_bytes());
    field[text.len()] = 0;
}

fn name(text: &str) -> [u8; NAME_LEN] {
    let mut field = [0; NAME_LEN];
    set(&mut field, text);
    field
}

/// The header QEMU creates by default: aes-256 xts-plain64 sha256, a 64-byte master
/// key, slots 504 sectors apart, the payload at sector 4040, slot 0 in use.
pub(crate) fn default_header() -> Header {
    let mut key_slots = std::array::from_fn(|i| KeySlot::disabled(8 + 504 * i as u32));
    key_slots[0] = KeySlot {
        active: SLOT_ACTIVE,
        iterations: 1000,
        salt: [7; SALT_LEN],
        ..KeySlot::disabled(8)
    };
    let mut uuid = [0; UUID_LEN];
    uuid[..36].copy_from_slice(b"a4e1c9a3-6fd2-4c5d-9f0e-2b7d8e1f3a55");
    Header {
        magic: MAGIC,
        version: 1,
        cipher_name: name("aes"),
        cipher_mode: name("xts-plain64"),
        hash_spec: name("sha256"),
        payload_offset_sector: 4040,
        master_key_len: 64,
        master_key_digest: [1; DIGEST_LEN],
        master_key_salt: [2; SALT_LEN],
        master_key_iterations: 1000,
        uuid,
        key_slots,
    }
}

/// What QEMU's open says of `header` before it reads key material.
fn verdict(header: &Header) -> std::result::Result<Spec, String> {
    header
        .check(false)
        .and_then(|()| header.spec())
        .map_err(|e| e.message().to_owned())
}

#[test]
fn bytes_are_cryptsetups_layout() {
    let header = default_header();
    let bytes = header.to_bytes();
    assert_eq!(&bytes[..6], b"LUKS\xba\xbe");
    assert_eq!(&bytes[6..8], [0, 1]);
    assert_eq!(&bytes[8..12], b"aes\0");
    assert_eq!(&bytes[40..52], b"xts-plain64\0");
    assert_eq!(&bytes[72..79], b"sha256\0");
    assert_eq!(bytes[104..108], 4040u32.to_be_bytes());
    assert_eq!(bytes[108..112], 64u32.to_be_bytes());
    assert_eq!(bytes[164..168], 1000u32.to_be_bytes());
    assert_eq!(&bytes[168..172], b"a4e1");
    // Slot 1 starts 48 bytes after slot 0, at 208.
    assert_eq!(bytes[256..260], SLOT_DISABLED.to_be_bytes());
    assert_eq!(bytes[256 + 40..256 + 44], 512u32.to_be_bytes());
    assert_eq!(bytes[256 + 44..256 + 48], STRIPES.to_be_bytes());
    assert_eq!(Header::from_bytes(&bytes), header);
}

#[test]
fn any_bytes_parse_and_write_back_unchanged() {
    let bytes: [u8; HEADER_LEN] = std::array::from_fn(|i| (i * 37 + 11) as u8);
    assert_eq!(Header::from_bytes(&bytes).to_bytes(), bytes);
}

#[test]
fn the_default_header_names_aes_256_xts_plain64_sha256() {
    let spec = verdict(&default_header()).unwrap();
    assert_eq!(
        spec,
        Spec {
            cipher: CipherAlgo::Aes256,
            mode: CipherMode::Xts,
            ivgen: IvGenAlgo::Plain64,
            ivgen_hash: HashAlgo::Md5,
            has_ivgen_hash: false,
            ivgen_cipher: CipherAlgo::Aes256,
            hash: HashAlgo::Sha256,
        }
    );
}

/// QEMU's test-crypto-block.c corrupted headers, but the one that fails when the
/// cipher is made (an odd XTS key length), each with QEMU's message.
#[test]
fn corrupted_headers_get_qemus_messages() {
    type Mutation = fn(&mut Header);
    let cases: [(&str, Mutation, &str); 22] = [
        (
            "cipher-name-nul-term",
            |h| h.cipher_name[3..].fill(b' '),
            "LUKS header cipher name is not NUL terminated",
        ),
        (
            "cipher-mode-nul-term",
            |h| h.cipher_mode[3..].fill(b' '),
            "LUKS header cipher mode is not NUL terminated",
        ),
        (
            "hash-spec-nul-term",
            |h| h.hash_spec[3..].fill(b' '),
            "LUKS header hash spec is not NUL terminated",
        ),
        (
            "cipher-name-empty",
            |h| set(&mut h.cipher_name, ""),
            "Algorithm '' with key size 32 bytes not supported",
        ),
        (
            "cipher-name-unknown",
            |h| set(&mut h.cipher_name, "aess"),
            "Algorithm 'aess' with key size 32 bytes not supported",
        ),
        (
            "cipher-cbc-size",
            |h| {
                h.master_key_len = 33;
                set(&mut h.cipher_mode, "cbc-essiv");
            },
            "Algorithm 'aes' with key size 33 bytes not supported",
        ),
        (
            "cipher-mode-empty",
            |h| set(&mut h.cipher_mode, ""),
            "Unexpected cipher mode string format ''",
        ),
        (
            "cipher-mode-unknown",
            |h| set(&mut h.cipher_mode, "xfs"),
            "Unexpected cipher mode string format 'xfs'",
        ),
        (
            "ivgen-separator",
            |h| set(&mut h.cipher_mode, "xts:plain64"),
            "Unexpected cipher mode string format 'xts:plain64'",
        ),
        (
            "ivgen-name-empty",
            |h| set(&mut h.cipher_mode, "xts-"),
            "IV generator '' not supported",
        ),
        (
            "ivgen-name-unknown",
            |h| set(&mut h.cipher_mode, "xts-plain65"),
            "IV generator 'plain65' not supported",
        ),
        (
            "ivgen-hash-empty",
            |h| set(&mut h.cipher_mode, "xts-plain65:"),
            "Hash algorithm '' not supported",
        ),
        (
            "ivgen-hash-unknown",
            |h| set(&mut h.cipher_mode, "xts-plain65:sha257"),
            "Hash algorithm 'sha257' not supported",
        ),
        (
            "hash-spec-empty",
            |h| set(&mut h.hash_spec, ""),
            "Hash algorithm '' not supported",
        ),
        (
            "hash-spec-unknown",
            |h| set(&mut h.hash_spec, "sha2566"),
            "Hash algorithm 'sha2566' not supported",
        ),
        (
            "stripes",
            |h| h.key_slots[0].stripes = 3999,
            "Keyslot 0 is corrupted (stripes 3999 != 4000)",
        ),
        (
            "key-overlap-header",
            |h| h.key_slots[0].key_offset_sector = 2,
            "Keyslot 0 is overlapping with the LUKS header",
        ),
        (
            "key-overlap-key",
            |h| h.key_slots[0].key_offset_sector = h.key_slots[1].key_offset_sector,
            "Keyslots 0 and 1 are overlapping in the header",
        ),
        (
            "key-overlap-payload",
            |h| h.key_slots[0].key_offset_sector = h.payload_offset_sector + 42,
            "Keyslot 0 is overlapping with the encrypted payload",
        ),
        (
            "payload-overlap-header",
            |h| h.payload_offset_sector = 2,
            "LUKS payload is overlapping with the header",
        ),
        (
            "iterations",
            |h| h.master_key_iterations = 0,
            "LUKS key iteration count is zero",
        ),
        (
            "key-iterations",
            |h| h.key_slots[0].iterations = 0,
            "Keyslot 0 iteration count is zero",
        ),
    ];
    for (what, mutate, message) in cases {
        let mut header = default_header();
        mutate(&mut header);
        // Through the bytes, as the header comes from disk.
        let header = Header::from_bytes(&header.to_bytes());
        assert_eq!(verdict(&header).unwrap_err(), message, "{what}");
    }
}

#[test]
fn the_first_failure_wins() {
    let mut header = default_header();
    header.magic[5] = 0xbf;
    header.version = 2;
    assert_eq!(
        verdict(&header).unwrap_err(),
        "Volume is not in LUKS format"
    );
    header.magic = MAGIC;
    assert_eq!(
        verdict(&header).unwrap_err(),
        "LUKS version 2 is not supported"
    );
    header.version = 1;
    // Every slot is checked, inactive ones too, before the text fields are parsed.
    header.key_slots[7].active = 0x1234;
    set(&mut header.hash_spec, "sha2566");
    assert_eq!(
        verdict(&header).unwrap_err(),
        "Keyslot 7 state (active/disable) is corrupted"
    );
    // The stripes print as QEMU's %d prints them.
    header.key_slots[3].stripes = u32::MAX;
    assert_eq!(
        verdict(&header).unwrap_err(),
        "Keyslot 3 is corrupted (stripes -1 != 4000)"
    );
}

#[test]
fn a_detached_header_may_put_its_payload_anywhere() {
    let mut header = default_header();
    header.payload_offset_sector = 0;
    assert_eq!(
        header.check(false).unwrap_err().message(),
        "LUKS payload is overlapping with the header"
    );
    header.check(true).unwrap();
    // Key material still may not overlap the header itself.
    header.key_slots[0].key_offset_sector = 7;
    assert_eq!(
        header.check(true).unwrap_err().message(),
        "Keyslot 0 is overlapping with the LUKS header"
    );
    // Slots are checked in order, each against those after it.
    header.key_slots[0].key_offset_sector = 8;
    header.key_slots[2].key_offset_sector = 7;
    assert_eq!(
        header.check(true).unwrap_err().message(),
        "Keyslots 0 and 2 are overlapping in the header"
    );
}

#[test]
fn key_material_takes_whole_4k_blocks() {
    for (key_len, sectors) in [(64, 504), (32, 256), (24, 192), (16, 128), (33, 264)] {
        assert_eq!(split_key_sectors(key_len, STRIPES), sectors, "{key_len}");
    }
}

#[test]
fn essiv_takes_the_digest_as_key() {
    use CipherAlgo::*;
    let ok = [
        (Aes128, HashAlgo::Sha256, Aes256),
        (Aes256, HashAlgo::Md5, Aes128),
        (Aes256, HashAlgo::Sha256, Aes256),
        (Serpent128, HashAlgo::Sha256, Serpent256),
        (Twofish256, HashAlgo::Md5, Twofish128),
        (Cast5_128, HashAlgo::Md5, Cast5_128),
    ];
    for (cipher, hash, essiv) in ok {
        assert_eq!(essiv_cipher(cipher, hash), Ok(essiv), "{cipher:?} {hash:?}");
    }
    let refused = [
        (
            Aes128,
            HashAlgo::Sha1,
            "No AES cipher with key size 20 available",
        ),
        (
            Serpent256,
            HashAlgo::Sha512,
            "No Serpent cipher with key size 64 available",
        ),
        (
            Twofish128,
            HashAlgo::Sha384,
            "No Twofish cipher with key size 48 available",
        ),
        (
            Cast5_128,
            HashAlgo::Sha256,
            "Cipher cast5-128 not supported with essiv",
        ),
        (Sm4, HashAlgo::Sha256, "Cipher sm4 not supported with essiv"),
    ];
    for (cipher, hash, message) in refused {
        assert_eq!(essiv_cipher(cipher, hash).unwrap_err().message(), message);
    }
}

#[test]
fn essiv_needs_its_hash() {
    let mut header = default_header();
    set(&mut header.cipher_mode, "cbc-essiv");
    header.master_key_len = 32;
    assert_eq!(
        verdict(&header).unwrap_err(),
        "Missing IV generator hash specification"
    );
    set(&mut header.cipher_mode, "cbc-essiv:sha256");
    let spec = verdict(&header).unwrap();
    assert_eq!(
        (spec.ivgen, spec.ivgen_hash, spec.ivgen_cipher),
        (IvGenAlgo::Essiv, HashAlgo::Sha256, CipherAlgo::Aes256)
    );
    assert!(spec.has_ivgen_hash);
}

#[test]
fn names_are_matched_exactly() {
    let mut header = default_header();
    set(&mut header.hash_spec, "SHA256");
    assert_eq!(
        verdict(&header).unwrap_err(),
        "Hash algorithm 'SHA256' not supported"
    );
    set(&mut header.hash_spec, "sha256");
    set(&mut header.cipher_name, "AES");
    assert_eq!(
        verdict(&header).unwrap_err(),
        "Algorithm 'AES' with key size 32 bytes not supported"
    );
}

#[test]
fn luks_names_every_cipher_but_des() {
    for cipher in CipherAlgo::ALL {
        let named = cipher_name(cipher);
        match cipher {
            CipherAlgo::Des | CipherAlgo::TripleDes => assert_eq!(
                named.unwrap_err().message(),
                format!("Algorithm '{}' not supported", cipher.name())
            ),
            _ => {
                let name = named.unwrap();
                assert_eq!(
                    cipher_by_name(name, CipherMode::Cbc, cipher.key_len() as u32),
                    Ok(cipher)
                );
                assert_eq!(
                    cipher_by_name(name, CipherMode::Xts, 2 * cipher.key_len() as u32),
                    Ok(cipher)
                );
            }
        }
    }
}
