//! A test-only LUKS2 writer, laid out as cryptsetup lays volumes out: both header
//! copies of [`HDR_SIZE`] with their checksums, the keyslot areas one after the other
//! in 4 KiB units, the payload after them. Tests change the JSON before writing it to
//! make the headers they need. KDF costs are cryptsetup's lowest, so tests stay fast.

use base64::Engine as _;
use serde_json::{json, Value};

use super::luks2_header::{checksum, json_len, BINARY_LEN, SECONDARY_MAGIC};
use super::luks2_keyslot::derive;
use super::luks2_metadata::{material_sectors_len, Metadata};
use super::luks_header::{MAGIC, STRIPES};
use super::sectors::SectorCipher;
use super::HeaderIo;
use crate::crypto::afsplit;
use crate::crypto::cipher::Cipher;
use crate::crypto::hash::HashAlgo;
use crate::crypto::ivgen::IvGen;
use crate::crypto::pbkdf;
use crate::{Error, ErrorKind, Result};

/// Each copy's size: cryptsetup's default.
pub const HDR_SIZE: u64 = 16384;
/// The volume-key digest's salt and iterations.
const DIGEST_SALT: [u8; 32] = [0x5a; 32];
const DIGEST_ITERATIONS: u32 = 1000;

/// A keyslot to write: its KDF (JSON), its area's encryption and key size.
pub struct Slot {
    pub kdf: Value,
    pub encryption: &'static str,
    pub area_key_size: u32,
}

pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// PBKDF2-SHA256 over 1000 iterations.
pub fn pbkdf2() -> Value {
    json!({"type": "pbkdf2", "hash": "sha256", "iterations": 1000, "salt": b64(&[1; 32])})
}

/// `variant` ("argon2i" or "argon2id") with 4 passes over 32 KiB in one lane.
pub fn argon2(variant: &str) -> Value {
    json!({"type": variant, "time": 4, "memory": 32, "cpus": 1, "salt": b64(&[2; 32])})
}

/// The metadata of a volume whose `key` encrypts segment 0 with `encryption`, in
/// 512-byte sectors, each keyslot of `slots` holding it (keyslot `i` in area `i`).
pub fn json(key: &[u8], encryption: &str, slots: &[Slot]) -> Value {
    let mut offset = 2 * HDR_SIZE;
    let mut keyslots = serde_json::Map::new();
    for (id, slot) in slots.iter().enumerate() {
        let size = material_sectors_len(key.len() as u32).next_multiple_of(4096);
        keyslots.insert(
            id.to_string(),
            json!({
                "type": "luks2",
                "key_size": key.len(),
                "af": {"type": "luks1", "stripes": STRIPES, "hash": "sha256"},
                "area": {
                    "type": "raw",
                    "offset": offset.to_string(),
                    "size": size.to_string(),
                    "encryption": slot.encryption,
                    "key_size": slot.area_key_size,
                },
                "kdf": slot.kdf,
            }),
        );
        offset += size;
    }
    let mut digest = vec![0u8; 32];
    pbkdf::pbkdf2(
        HashAlgo::Sha256,
        key,
        &DIGEST_SALT,
        DIGEST_ITERATIONS.into(),
        &mut digest,
    )
    .unwrap();
    let ids: Vec<String> = (0..slots.len()).map(|id| id.to_string()).collect();
    json!({
        "keyslots": keyslots,
        "tokens": {},
        "segments": {"0": {
            "type": "crypt",
            "offset": offset.to_string(),
            "size": "dynamic",
            "iv_tweak": "0",
            "encryption": encryption,
            "sector_size": 512,
        }},
        "digests": {"0": {
            "type": "pbkdf2",
            "keyslots": ids,
            "segments": ["0"],
            "hash": "sha256",
            "iterations": DIGEST_ITERATIONS,
            "salt": b64(&DIGEST_SALT),
            "digest": b64(&digest),
        }},
        "config": {
            "json_size": (HDR_SIZE - 4096).to_string(),
            "keyslots_size": (offset - 2 * HDR_SIZE).to_string(),
        },
    })
}

/// One header copy of `hdr_size` bytes at `offset` holding `json_text`, with
/// sequence number `seqid` and its checksum.
pub fn copy(json_text: &[u8], hdr_size: u64, offset: u64, seqid: u64) -> Vec<u8> {
    let mut binary = [0u8; BINARY_LEN];
    binary[..6].copy_from_slice(if offset == 0 {
        &MAGIC
    } else {
        &SECONDARY_MAGIC
    });
    binary[6..8].copy_from_slice(&2u16.to_be_bytes());
    binary[8..16].copy_from_slice(&hdr_size.to_be_bytes());
    binary[16..24].copy_from_slice(&seqid.to_be_bytes());
    binary[72..78].copy_from_slice(b"sha256");
    binary[168..204].copy_from_slice(b"0b3c6a3e-8d4e-4f1a-9c2b-5e7d1f0a6b48");
    binary[256..264].copy_from_slice(&offset.to_be_bytes());
    let mut area = vec![0u8; json_len(hdr_size)];
    area[..json_text.len()].copy_from_slice(json_text);
    let sum = checksum(HashAlgo::Sha256, &binary, &area).unwrap();
    binary[448..448 + sum.len()].copy_from_slice(&sum);
    [&binary[..], &area].concat()
}

/// Both header copies of `json` and a zeroed keyslots area, up to the payload.
pub fn image(json: &Value) -> Vec<u8> {
    let text = serde_json::to_vec(json).unwrap();
    let keyslots_size: u64 = json["config"]["keyslots_size"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut image = copy(&text, HDR_SIZE, 0, 1);
    image.extend(copy(&text, HDR_SIZE, HDR_SIZE, 1));
    image.resize((2 * HDR_SIZE + keyslots_size) as usize, 0);
    image
}

/// A volume of `json` whose keyslot `i` holds `key` under `passphrases[i]`.
pub fn volume(json: &Value, key: &[u8], passphrases: &[&str]) -> Vec<u8> {
    let mut image = image(json);
    let area = &image[BINARY_LEN..HDR_SIZE as usize];
    let metadata = Metadata::parse(area, HDR_SIZE).unwrap();
    for (slot, passphrase) in metadata.keyslots.iter().zip(passphrases) {
        let slot_key = derive(
            &slot.kdf,
            passphrase.as_bytes(),
            slot.area.key_size as usize,
        )
        .unwrap();
        let mut material = vec![0u8; key.len() * STRIPES as usize];
        afsplit::encode(slot.area.spec.hash, STRIPES, key, &mut material).unwrap();
        let spec = &slot.area.spec;
        let cipher = Cipher::new(spec.cipher, spec.mode, &slot_key).unwrap();
        let ivgen = IvGen::new(spec.ivgen, spec.ivgen_cipher, spec.ivgen_hash, &slot_key).unwrap();
        SectorCipher::new(cipher, ivgen)
            .encrypt(0, 512, &mut material)
            .unwrap();
        let offset = slot.area.offset as usize;
        image[offset..offset + material.len()].copy_from_slice(&material);
    }
    image
}

/// A volume in memory that records where it is read; reads past its end fail, as a
/// short file's would, and writes panic: the reader never writes.
#[derive(Default)]
pub struct Disk {
    pub bytes: Vec<u8>,
    pub reads: Vec<u64>,
}

impl Disk {
    pub fn new(bytes: Vec<u8>) -> Disk {
        Disk {
            bytes,
            reads: Vec::new(),
        }
    }
}

impl HeaderIo for Disk {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.reads.push(offset);
        let range = usize::try_from(offset)
            .ok()
            .and_then(|start| Some(start..start.checked_add(buf.len())?))
            .filter(|range| range.end <= self.bytes.len())
            .ok_or_else(|| Error::new(ErrorKind::Failed, "Read past the end"))?;
        buf.copy_from_slice(&self.bytes[range]);
        Ok(())
    }

    fn init(&mut self, _len: u64) -> Result<()> {
        unreachable!("the LUKS2 reader never writes")
    }

    fn write(&mut self, _offset: u64, _buf: &[u8]) -> Result<()> {
        unreachable!("the LUKS2 reader never writes")
    }
}
