use serde_json::Value;

use super::*;
use crate::crypto::block::luks2_writer::{self, copy, json, pbkdf2, Disk, Slot, HDR_SIZE};

/// The metadata of a small volume whose copies are of `hdr_size` bytes.
fn metadata_text(hdr_size: u64) -> Vec<u8> {
    let slot = Slot {
        kdf: pbkdf2(),
        encryption: "aes-xts-plain64",
        area_key_size: 64,
    };
    let mut json = json(&[7; 64], "aes-xts-plain64", &[slot]);
    let moved = |value: &Value| {
        let offset: u64 = value.as_str().unwrap().parse().unwrap();
        Value::from((offset + 2 * (hdr_size - HDR_SIZE)).to_string())
    };
    json["keyslots"]["0"]["area"]["offset"] = moved(&json["keyslots"]["0"]["area"]["offset"]);
    json["segments"]["0"]["offset"] = moved(&json["segments"]["0"]["offset"]);
    json["config"]["json_size"] = (hdr_size - 4096).to_string().into();
    serde_json::to_vec(&json).unwrap()
}

/// A header area with copies of `hdr_size` and sequence numbers `seqids`.
fn two_copies(hdr_size: u64, seqids: (u64, u64)) -> Vec<u8> {
    let text = metadata_text(hdr_size);
    let mut bytes = copy(&text, hdr_size, 0, seqids.0);
    bytes.extend(copy(&text, hdr_size, hdr_size, seqids.1));
    bytes
}

fn read_bytes(bytes: Vec<u8>) -> std::result::Result<Header, String> {
    read(&mut Disk::new(bytes)).map_err(|e| e.message().to_owned())
}

/// The byte at `at` changed, as a damaged disk changes it.
fn flip(mut bytes: Vec<u8>, at: usize) -> Vec<u8> {
    bytes[at] ^= 0x40;
    bytes
}

#[test]
fn fields_are_where_cryptsetup_puts_them() {
    let bytes = two_copies(HDR_SIZE, (9, 9));
    let header = read_bytes(bytes).unwrap();
    assert_eq!(
        header.binary,
        BinaryHeader {
            hdr_size: HDR_SIZE,
            seqid: 9,
            label: String::new(),
            checksum_alg: HashAlgo::Sha256,
            uuid: "0b3c6a3e-8d4e-4f1a-9c2b-5e7d1f0a6b48".into(),
            subsystem: String::new(),
            hdr_offset: 0,
        }
    );
}

#[test]
fn of_two_valid_copies_the_newer_wins_and_the_first_on_a_tie() {
    let seqid = |seqids| read_bytes(two_copies(HDR_SIZE, seqids)).unwrap().binary;
    assert_eq!(seqid((3, 3)).hdr_offset, 0);
    assert_eq!(seqid((4, 3)).hdr_offset, 0);
    let newer = seqid((3, 4));
    assert_eq!((newer.hdr_offset, newer.seqid), (HDR_SIZE, 4));
}

/// A damaged first copy gives way to the second, even an older one, found where
/// the first says (bad metadata under a good checksum) or by looking at every place
/// it may be (anything else); with both damaged, the first copy's fault is told.
#[test]
fn a_damaged_first_copy_gives_way_to_the_second() {
    for hdr_size in [HDR_SIZE, 0x20000] {
        let good = two_copies(hdr_size, (5, 2));
        let json_byte = BINARY_LEN + 20;
        for damaged in [
            flip(good.clone(), 0),
            flip(good.clone(), json_byte),
            flip(good.clone(), CSUM_OFFSET),
            flip(good.clone(), 8),
        ] {
            let header = read_bytes(damaged).unwrap();
            assert_eq!(header.binary.hdr_offset, hdr_size);
            assert_eq!(header.binary.seqid, 2);
        }
        let both = flip(flip(good, json_byte), hdr_size as usize + json_byte);
        assert_eq!(
            read_bytes(both).unwrap_err(),
            "LUKS2 header checksum does not match"
        );
    }
    // A good checksum over metadata the reader refuses: the second copy at the
    // first's size is read, not the others.
    let mut text = metadata_text(HDR_SIZE);
    let bad = String::from_utf8(text.clone())
        .unwrap()
        .replace("\"luks2\"", "\"luks3\"");
    let mut bytes = copy(bad.as_bytes(), HDR_SIZE, 0, 1);
    assert_eq!(
        read_bytes(bytes.clone()).unwrap_err(),
        "LUKS2 keyslot 0 type 'luks3' is not supported"
    );
    bytes.extend(copy(&text, HDR_SIZE, HDR_SIZE, 1));
    let disk = &mut Disk::new(bytes.clone());
    assert_eq!(read(disk).unwrap().binary.hdr_offset, HDR_SIZE);
    assert_eq!(disk.reads, [0, 4096, HDR_SIZE, HDR_SIZE + 4096]);
    // A second copy of another size is not looked for then.
    text = metadata_text(0x8000);
    bytes.truncate(HDR_SIZE as usize);
    bytes.extend(vec![0; HDR_SIZE as usize]);
    bytes.extend(copy(&text, 0x8000, 0x8000, 1));
    assert_eq!(
        read_bytes(bytes).unwrap_err(),
        "LUKS2 keyslot 0 type 'luks3' is not supported"
    );
}

#[test]
fn binary_headers_are_checked_before_their_checksum() {
    let good = two_copies(HDR_SIZE, (1, 1));
    let first_only = |mut bytes: Vec<u8>| {
        bytes.truncate(HDR_SIZE as usize);
        read_bytes(bytes).unwrap_err()
    };
    let set = |at: usize, value: &[u8]| {
        let mut bytes = good.clone();
        bytes[at..at + value.len()].copy_from_slice(value);
        first_only(bytes)
    };
    assert_eq!(set(0, b"LUKX"), "Volume is not in LUKS format");
    assert_eq!(set(6, &[0, 3]), "LUKS version 3 is not supported");
    assert_eq!(
        set(8, &12345u64.to_be_bytes()),
        "LUKS2 header size 12345 is not valid"
    );
    assert_eq!(
        set(8, &(8u64 << 20).to_be_bytes()),
        "LUKS2 header size 8388608 is not valid"
    );
    assert_eq!(
        set(256, &HDR_SIZE.to_be_bytes()),
        "LUKS2 header at offset 0 says it is at 16384 with size 16384"
    );
    assert_eq!(
        set(72, b"whirlpool\0"),
        "LUKS2 header checksum algorithm 'whirlpool' not supported"
    );
    assert_eq!(
        set(72, &[b'a'; 32]),
        "LUKS2 header checksum algorithm is not NUL terminated"
    );
    assert_eq!(
        set(CSUM_OFFSET + 31, &[0]),
        "LUKS2 header checksum does not match"
    );
    // The first copy's magic in the second place is no second copy.
    let mut bytes = good.clone();
    bytes.copy_within(HDR_SIZE as usize.., 0);
    bytes[..HDR_SIZE as usize].fill(0);
    bytes[HDR_SIZE as usize..HDR_SIZE as usize + 6].copy_from_slice(&MAGIC);
    assert_eq!(
        read_bytes(bytes).unwrap_err(),
        "Volume is not in LUKS format"
    );
    // A file too short for a header is refused, not read past.
    assert!(read_bytes(good[..100].to_vec()).is_err());
}

/// The checksum may be any hash the crate has; the digest fills the start of the
/// field.
#[test]
fn checksums_of_other_hashes_are_verified() {
    for (alg, name) in [(HashAlgo::Sha1, "sha1"), (HashAlgo::Sha512, "sha512")] {
        let mut bytes = two_copies(HDR_SIZE, (1, 1));
        bytes.truncate(HDR_SIZE as usize);
        bytes[72..104].fill(0);
        bytes[72..72 + name.len()].copy_from_slice(name.as_bytes());
        let binary: [u8; BINARY_LEN] = bytes[..BINARY_LEN].try_into().unwrap();
        let sum = checksum(alg, &binary, &bytes[BINARY_LEN..]).unwrap();
        bytes[CSUM_OFFSET..CSUM_OFFSET + CSUM_LEN].fill(0);
        bytes[CSUM_OFFSET..CSUM_OFFSET + sum.len()].copy_from_slice(&sum);
        assert_eq!(read_bytes(bytes.clone()).unwrap().binary.checksum_alg, alg);
        // The field's tail is not compared; its head is.
        bytes[CSUM_OFFSET + sum.len() - 1] ^= 1;
        assert!(read_bytes(bytes).is_err());
    }
}

#[test]
fn the_writer_lays_out_an_image_as_cryptsetup() {
    let slot = Slot {
        kdf: pbkdf2(),
        encryption: "aes-xts-plain64",
        area_key_size: 64,
    };
    let image = luks2_writer::image(&json(&[7; 64], "aes-xts-plain64", &[slot]));
    // Two copies, then one area of 64 * 4000 bytes in whole 4 KiB.
    assert_eq!(image.len(), 2 * 16384 + 258048);
    let header = read_bytes(image).unwrap();
    assert_eq!(header.metadata.segment.offset, 2 * 16384 + 258048);
}
