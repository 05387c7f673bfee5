use serde_json::Value;

use super::*;
use crate::crypto::block::luks::{KeyslotState, LuksAmendOptions};
use crate::crypto::block::luks2_writer::{self, argon2, json, pbkdf2, Disk, Slot, HDR_SIZE};
use crate::crypto::block::{AmendOptions, BlockFormat, OpenOptions};
use crate::crypto::cipher::{CipherAlgo, CipherMode};
use crate::crypto::hash;
use crate::crypto::secret::{Secret, SecretFormat, SecretSource};

/// A detached header cryptsetup 2.6 made (tests/data/make-luks2-detached.sh): volume
/// key 00..0f, aes-cbc-essiv:sha256 in 4096-byte sectors, keyslots 0 argon2i,
/// 1 argon2id (2 lanes), 2 pbkdf2-sha1.
const CRYPTSETUP_DETACHED: &[u8] = include_bytes!("../../../../tests/data/luks2-detached.img");

const DETACHED: OpenFlags = OpenFlags {
    no_io: false,
    detached: true,
};
const NO_IO: OpenFlags = OpenFlags {
    no_io: true,
    detached: false,
};

fn secret(text: &str) -> Secret {
    Secret::new(SecretSource::Data(text.as_bytes()), SecretFormat::Raw, None).unwrap()
}

fn open(disk: &mut Disk, passphrase: Option<&str>, flags: OpenFlags) -> Result<Block> {
    let secret = passphrase.map(secret);
    let options = OpenOptions {
        key_secret: secret.as_ref(),
    };
    Block::open(BlockFormat::Luks, &options, None, disk, flags)
}

fn refusal(disk: &mut Disk, passphrase: Option<&str>, flags: OpenFlags) -> String {
    open(disk, passphrase, flags)
        .err()
        .expect("refused")
        .message()
        .to_owned()
}

/// The SHA-256 of `len` bytes of a fixed pattern encrypted at payload `offset`,
/// after checking that they decrypt back.
fn ciphertext_digest(block: &Block, offset: u64, len: usize) -> String {
    let plain: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
    let mut data = plain.clone();
    block.encrypt(offset, &mut data).unwrap();
    let digest = hash::digest(HashAlgo::Sha256, &[&data]).unwrap();
    block.decrypt(offset, &mut data).unwrap();
    assert_eq!(data, plain);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Ciphertext digests computed apart from qio, with Python's `cryptography`, as
/// dm-crypt encrypts: each sector one cipher unit whose IV number is `iv_tweak` plus
/// its offset in 512-byte units. Keys are the bytes 0, 1, 2...
mod reference {
    /// aes-xts-plain64, 64-byte key, 512-byte sectors: 8192 bytes at 4096.
    pub const XTS_512: &str = "4b3b5fb878980743bdf50cf05fddf2ba04812bd1bd1c3fd87cad3a451d8d1f42";
    /// aes-xts-plain64, 64-byte key, 4096-byte sectors, iv_tweak 7: 8192 bytes at 4096.
    pub const XTS_4096_TWEAK_7: &str =
        "94e97d637b30405c891237068dfb517dfd8a70ebface7d6e092adb0f221d16f8";
    /// aes-cbc-essiv:sha256, 16-byte key, 4096-byte sectors: 8192 bytes at 8192.
    pub const ESSIV_4096: &str = "7394cb12567672fd485fa3130112f42852b8c17c64b87452d411d2ed9746d137";
    /// aes-cbc-essiv:sha256, 16-byte key, 512-byte sectors, iv_tweak 3: 1024 bytes
    /// at 512.
    pub const ESSIV_512_TWEAK_3: &str =
        "5ce7fa3e3be95d883a16f3ad9506e2834d13b664f5337ca2ad9b43e684ba3814";
}

#[test]
fn a_cryptsetup_volume_opens_with_each_kdf() {
    for passphrase in ["argon2i-pass", "argon2id-pass", "pbkdf2-pass"] {
        let mut disk = Disk::new(CRYPTSETUP_DETACHED.to_vec());
        let block = open(&mut disk, Some(passphrase), DETACHED).unwrap();
        assert_eq!(
            (
                block.sector_size(),
                block.payload_offset(),
                block.kdf_hash()
            ),
            (4096, 0, HashAlgo::Sha256)
        );
        assert_eq!(
            ciphertext_digest(&block, 8192, 8192),
            reference::ESSIV_4096,
            "{passphrase}"
        );
    }
    let mut disk = Disk::new(CRYPTSETUP_DETACHED.to_vec());
    assert_eq!(
        refusal(&mut disk, Some("argon2i-pas"), DETACHED),
        "Invalid password, cannot unlock any keyslot"
    );
    // cryptsetup recorded no payload offset: it cannot be attached.
    assert_eq!(
        refusal(&mut disk, Some("argon2i-pass"), OpenFlags::default()),
        "LUKS payload is overlapping with the header"
    );
}

#[test]
fn info_describes_a_luks2_volume() {
    let mut disk = Disk::new(CRYPTSETUP_DETACHED.to_vec());
    let flags = OpenFlags {
        no_io: true,
        detached: true,
    };
    let block = open(&mut disk, None, flags).unwrap();
    assert_eq!(block.cipher(), None);
    assert!(block.luks().is_none());
    let slot = |iters, key_offset| LuksSlotInfo {
        active: true,
        iters: Some(iters),
        stripes: Some(4000),
        key_offset,
    };
    assert_eq!(
        block.luks_info().unwrap(),
        LuksInfo {
            version: 2,
            cipher_alg: CipherAlgo::Aes128,
            cipher_mode: CipherMode::Cbc,
            ivgen_alg: IvGenAlgo::Essiv,
            ivgen_hash_alg: Some(HashAlgo::Sha256),
            hash_alg: HashAlgo::Sha256,
            detached_header: true,
            payload_offset: 0,
            master_key_iters: 1000,
            uuid: "be02ad2d-07dd-4395-8624-24d4849449f4".into(),
            slots: vec![slot(4, 32768), slot(4, 98304), slot(1000, 163840)],
        }
    );
    // Without I/O, only the two header copies are read.
    assert!(disk.reads.iter().all(|&offset| offset < 2 * HDR_SIZE));
}

/// A synthesized volume of `key` for `encryption`, keyslot 0 with `kdf` and the
/// passphrase "pw", changed by `change`.
fn volume(
    key: &[u8],
    encryption: &'static str,
    kdf: Value,
    change: impl FnOnce(&mut Value),
) -> Disk {
    let slot = Slot {
        kdf,
        encryption,
        area_key_size: key.len() as u32,
    };
    let mut json = json(key, encryption, &[slot]);
    change(&mut json);
    Disk::new(luks2_writer::volume(&json, key, &["pw"]))
}

fn key(len: u8) -> Vec<u8> {
    (0..len).collect()
}

#[test]
fn payloads_decrypt_as_dm_crypt_maps_them() {
    let mut disk = volume(&key(64), "aes-xts-plain64", pbkdf2(), |_| {});
    let block = open(&mut disk, Some("pw"), OpenFlags::default()).unwrap();
    assert_eq!(block.payload_offset(), disk.bytes.len() as u64);
    assert_eq!(block.cipher(), Some((CipherAlgo::Aes256, CipherMode::Xts)));
    assert_eq!(ciphertext_digest(&block, 4096, 8192), reference::XTS_512);

    let mut disk = volume(&key(64), "aes-xts-plain64", argon2("argon2i"), |j| {
        j["segments"]["0"]["sector_size"] = 4096.into();
        j["segments"]["0"]["iv_tweak"] = "7".into();
    });
    let block = open(&mut disk, Some("pw"), OpenFlags::default()).unwrap();
    assert_eq!(
        ciphertext_digest(&block, 4096, 8192),
        reference::XTS_4096_TWEAK_7
    );
    let e = block.encrypt(512, &mut [0; 4096]).unwrap_err();
    assert_eq!(
        e.message(),
        "Offset 512 and length 4096 must be multiples of the sector size 4096"
    );

    let mut disk = volume(&key(16), "aes-cbc-essiv:sha256", argon2("argon2id"), |j| {
        j["segments"]["0"]["iv_tweak"] = "3".into();
    });
    let block = open(&mut disk, Some("pw"), OpenFlags::default()).unwrap();
    assert_eq!(
        ciphertext_digest(&block, 512, 1024),
        reference::ESSIV_512_TWEAK_3
    );
}

/// Priority 2 keyslots are tried first, priority 0 ones never.
#[test]
fn keyslots_are_tried_in_cryptsetups_order() {
    let key = key(32);
    let slots = [0, 1, 2].map(|_| Slot {
        kdf: pbkdf2(),
        encryption: "aes-xts-plain64",
        area_key_size: 32,
    });
    let mut json = json(&key, "aes-xts-plain64", &slots);
    json["keyslots"]["0"]["priority"] = 0.into();
    json["keyslots"]["2"]["priority"] = 2.into();
    let image = luks2_writer::volume(&json, &key, &["zero", "one", "two"]);
    let area = |id: &str| -> u64 {
        json["keyslots"][id]["area"]["offset"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap()
    };
    let mut disk = Disk::new(image.clone());
    open(&mut disk, Some("one"), OpenFlags::default()).unwrap();
    let slot_reads: Vec<u64> = disk
        .reads
        .into_iter()
        .filter(|&o| o >= 2 * HDR_SIZE)
        .collect();
    assert_eq!(slot_reads, [area("2"), area("1")]);
    let mut disk = Disk::new(image);
    assert_eq!(
        refusal(&mut disk, Some("zero"), OpenFlags::default()),
        "Invalid password, cannot unlock any keyslot"
    );
    open(&mut disk, Some("two"), OpenFlags::default()).unwrap();
}

#[test]
fn a_damaged_first_header_gives_way_to_the_second() {
    let good = volume(&key(32), "aes-xts-plain64", pbkdf2(), |_| {}).bytes;
    // The sequence number, the UUID, the JSON: each breaks the first copy's checksum.
    for damage in [16, 170, 4096 + 100] {
        let mut bytes = good.clone();
        bytes[damage] ^= 0x11;
        let mut disk = Disk::new(bytes);
        let block = open(&mut disk, Some("pw"), OpenFlags::default()).unwrap();
        assert_eq!(block.luks_info().unwrap().version, 2);
    }
    // Without the first copy's magic or version, this is no LUKS2 volume (QEMU's
    // messages for what it cannot read as LUKS).
    for (damage, message) in [
        (0, "Volume is not in LUKS format"),
        (7, "LUKS version 0 is not supported"),
    ] {
        let mut bytes = good.clone();
        bytes[damage] ^= if damage == 7 { 0x02 } else { 0x11 };
        assert_eq!(
            refusal(&mut Disk::new(bytes), Some("pw"), OpenFlags::default()),
            message
        );
    }
    let mut bytes = good;
    bytes[4096 + 100] ^= 0x11;
    bytes[HDR_SIZE as usize + 4096 + 100] ^= 0x11;
    assert_eq!(
        refusal(&mut Disk::new(bytes), Some("pw"), OpenFlags::default()),
        "LUKS2 header checksum does not match"
    );
}

#[test]
fn luks2_volumes_are_luks_but_not_amended() {
    let mut disk = volume(&key(32), "aes-xts-plain64", pbkdf2(), |_| {});
    assert!(Block::has_format(BlockFormat::Luks, &disk.bytes[..8]));
    assert_eq!(
        refusal(&mut disk, None, OpenFlags::default()),
        "Parameter 'key-secret' is required for cipher"
    );
    assert!(disk.reads.is_empty(), "the passphrase is asked for first");
    let mut block = open(&mut disk, None, NO_IO).unwrap();
    assert_eq!(block.format(), BlockFormat::Luks);
    assert_eq!(block.kdf_hash(), HashAlgo::Md5);
    let pw = secret("pw");
    let options = AmendOptions::Luks(LuksAmendOptions {
        state: KeyslotState::Active,
        new_secret: Some(&pw),
        old_secret: None,
        keyslot: None,
        iter_time: None,
        secret: None,
    });
    let e = block.amend(&mut disk, &options, false).unwrap_err();
    assert_eq!(e.message(), "Amending LUKS2 volumes is not supported");
}

/// A header asking for absurd KDF costs is refused before any is spent.
#[test]
fn absurd_argon2_costs_are_refused_before_unlocking() {
    let slot = Slot {
        kdf: argon2("argon2id"),
        encryption: "aes-xts-plain64",
        area_key_size: 32,
    };
    let mut json = json(&key(32), "aes-xts-plain64", &[slot]);
    json["keyslots"]["0"]["kdf"]["memory"] = (1u64 << 32).into();
    let mut disk = Disk::new(luks2_writer::image(&json));
    assert_eq!(
        refusal(&mut disk, Some("pw"), OpenFlags::default()),
        "LUKS2 keyslot 0 kdf 'memory' is not a number from 8 to 4194304"
    );
    assert!(disk.reads.iter().all(|&offset| offset < 2 * HDR_SIZE));
}

/// A volume whose first bytes are neither LUKS1 nor LUKS2 is refused as LUKS1 is.
#[test]
fn garbage_is_not_luks() {
    let mut disk = Disk::new(vec![0x55; 1 << 20]);
    assert_eq!(
        refusal(&mut disk, Some("pw"), OpenFlags::default()),
        "Volume is not in LUKS format"
    );
    assert!(!Block::has_format(BlockFormat::Luks, &disk.bytes));
}
