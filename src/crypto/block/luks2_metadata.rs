//! A LUKS2 header's JSON metadata: keyslots, the data segment, digests and config,
//! checked as cryptsetup checks them, and within tighter bounds where cryptsetup
//! trusts what it reads: key sizes, KDF costs, ids, one plain `crypt` segment.
//!
//! Every value is hostile until checked; each refusal names the object and field.
//! Offsets and sizes are JSON strings of decimal digits (u64), small integers JSON
//! numbers, binary values padded standard base64. Tokens are not read.

use base64::Engine as _;
use serde_json::{Map, Value};

use super::luks_header::{parse_spec, Spec, STRIPES};
use crate::crypto::cipher::CipherMode;
use crate::crypto::hash::HashAlgo;
use crate::json::Unique;
use crate::{Error, ErrorKind, Result};

/// Length of every KDF and digest salt.
pub const SALT_LEN: usize = 32;
/// Keyslot ids are below this (cryptsetup's `LUKS2_KEYSLOTS_MAX`).
pub const MAX_KEYSLOTS: u32 = 32;
/// Segment ids are below this (cryptsetup's `LUKS2_SEGMENT_MAX`).
pub const MAX_SEGMENTS: u32 = 32;
/// Digest ids are below this (cryptsetup looks at no more).
pub const MAX_DIGESTS: u32 = 8;
/// The keyslots area's largest size (cryptsetup's `LUKS2_MAX_KEYSLOTS_SIZE`).
pub const MAX_KEYSLOTS_SIZE: u64 = 128 << 20;
/// The largest key, in bytes: qio's bound (cryptsetup has none), far above any
/// cipher's.
pub const MAX_KEY_SIZE: u32 = 512;
/// The most Argon2 memory, in KiB: cryptsetup's 4 GiB.
pub const MAX_ARGON2_MEMORY: u32 = 4 << 20;
/// The most Argon2 lanes cryptsetup gives a keyslot.
pub const MAX_ARGON2_CPUS: u32 = 4;
/// The largest iteration count or time cost: cryptsetup reads them as C ints.
pub const MAX_COUNT: u32 = i32::MAX as u32;

/// The checked metadata.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Metadata {
    /// By id.
    pub keyslots: Vec<Keyslot>,
    /// Segment 0, the only one qio supports.
    pub segment: Segment,
    /// By id.
    pub digests: Vec<Digest>,
    pub config: Config,
}

/// A `luks2` keyslot: the volume key split into [`STRIPES`] stripes, encrypted in
/// its area under a key the KDF derives from a passphrase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyslot {
    pub id: u32,
    /// The stored key's length in bytes.
    pub key_size: u32,
    /// 0: tried only when named, 1: normal, 2: tried first.
    pub priority: u32,
    pub area: Area,
    pub kdf: Kdf,
}

/// Where a keyslot's key material is, and how it is encrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Area {
    /// In bytes from the header's start, inside the keyslots area.
    pub offset: u64,
    pub size: u64,
    /// The length of the key that encrypts the area: the KDF's output.
    pub key_size: u32,
    /// The area's cipher and IV generator, with the splitter's hash (`af.hash`).
    pub spec: Spec,
}

/// A keyslot's key derivation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kdf {
    Pbkdf2 {
        hash: HashAlgo,
        iterations: u32,
        salt: [u8; SALT_LEN],
    },
    Argon2 {
        variant: Argon2Variant,
        /// Passes over the memory.
        time: u32,
        /// In KiB.
        memory: u32,
        /// Lanes.
        cpus: u32,
        salt: [u8; SALT_LEN],
    },
}

/// Which Argon2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Argon2Variant {
    I,
    Id,
}

/// The data segment: where the payload is and how it is encrypted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    /// Where the payload starts, in bytes (in the payload's own file for a detached
    /// header).
    pub offset: u64,
    /// The payload's length in bytes; `None` ("dynamic"): to the end of the file.
    pub size: Option<u64>,
    /// Added to every IV number, which counts 512-byte units.
    pub iv_tweak: u64,
    /// 512, 1024, 2048 or 4096.
    pub sector_size: u32,
    /// The cipher and IV generator keyed with the volume key, and the digest's hash.
    pub spec: Spec,
}

/// A `pbkdf2` digest: PBKDF2 of the key the keyslots it lists hold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Digest {
    pub id: u32,
    /// Bit `n` set: keyslot `n` holds the key.
    pub keyslots: u32,
    /// Bit `n` set: segment `n` is encrypted with the key.
    pub segments: u32,
    pub hash: HashAlgo,
    pub iterations: u32,
    pub salt: [u8; SALT_LEN],
    /// 20 bytes or the hash's length.
    pub digest: Vec<u8>,
}

/// The `config` object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    pub json_size: u64,
    /// The keyslots area follows both header copies.
    pub keyslots_size: u64,
}

impl Metadata {
    /// The metadata of a JSON area of a copy of `hdr_size` bytes: one JSON object,
    /// then NULs to the area's end.
    pub fn parse(area: &[u8], hdr_size: u64) -> Result<Metadata> {
        let end = area
            .iter()
            .position(|&b| b == 0)
            .ok_or_else(|| invalid("LUKS2 header JSON metadata is not NUL terminated".into()))?;
        if area[end..].iter().any(|&b| b != 0) {
            return Err(invalid(
                "LUKS2 header JSON area has data after the metadata".into(),
            ));
        }
        let text = &area[..end];
        if text.first() != Some(&b'{') || text.last() != Some(&b'}') {
            return Err(invalid(
                "LUKS2 header JSON metadata is not a JSON object".into(),
            ));
        }
        let Unique(value) = serde_json::from_slice(text).map_err(|e| {
            invalid(format!(
                "LUKS2 header JSON metadata is invalid: {}",
                clip(&e.to_string())
            ))
        })?;
        Self::from_json(&Object::new("header".into(), &value)?, hdr_size)
    }

    fn from_json(top: &Object<'_>, hdr_size: u64) -> Result<Metadata> {
        top.object("tokens")?;
        let config = config(&top.object("config")?, hdr_size)?;
        let keyslots = numbered(&top.object("keyslots")?, "keyslot", MAX_KEYSLOTS)?
            .iter()
            .map(|(id, slot)| keyslot(*id, slot))
            .collect::<Result<Vec<_>>>()?;
        check_areas(&keyslots, hdr_size, config.keyslots_size)?;
        let segments = numbered(&top.object("segments")?, "segment", MAX_SEGMENTS)?;
        let segment_ids = mask(segments.iter().map(|(id, _)| *id));
        let digests = numbered(&top.object("digests")?, "digest", MAX_DIGESTS)?
            .iter()
            .map(|(id, object)| digest(*id, object, &keyslots, segment_ids))
            .collect::<Result<Vec<_>>>()?;
        for slot in &keyslots {
            let count = digests
                .iter()
                .filter(|d| d.keyslots & (1 << slot.id) != 0)
                .count();
            if count != 1 {
                return Err(invalid(format!(
                    "LUKS2 keyslot {} is in {count} digests instead of one",
                    slot.id
                )));
            }
        }
        let [(0, segment)] = &segments[..] else {
            return Err(invalid(
                "LUKS2 header must have exactly one segment, segment 0".into(),
            ));
        };
        let segment_digest = segment_digest(&digests, &keyslots)?;
        let key_size = keyslots
            .iter()
            .find(|k| segment_digest.keyslots & (1 << k.id) != 0)
            .map(|k| k.key_size)
            .ok_or_else(|| invalid("LUKS2 segment 0 has no keyslot".into()))?;
        let segment = segment_0(segment, key_size, segment_digest.hash)?;
        let keyslots_end = 2 * hdr_size + config.keyslots_size;
        if segment.offset != 0 && segment.offset < keyslots_end {
            return Err(invalid(
                "LUKS2 segment 0 is overlapping with the keyslots area".into(),
            ));
        }
        Ok(Metadata {
            keyslots,
            segment,
            digests,
            config,
        })
    }

    /// The digest of segment 0's key.
    pub fn segment_digest(&self) -> &Digest {
        self.digests
            .iter()
            .find(|d| d.segments & 1 != 0)
            .expect("parse found segment 0's digest")
    }

    /// The keyslots that open segment 0, in cryptsetup's order: those of priority 2,
    /// then those of priority 1, each by id (cryptsetup goes by the order in the JSON
    /// text, which only matters when several slots take the same passphrase).
    pub fn unlock_order(&self) -> impl Iterator<Item = &Keyslot> {
        let digest = self.segment_digest();
        [2, 1].into_iter().flat_map(move |priority| {
            self.keyslots
                .iter()
                .filter(move |k| k.priority == priority && digest.keyslots & (1 << k.id) != 0)
        })
    }
}

fn config(config: &Object<'_>, hdr_size: u64) -> Result<Config> {
    let json_size = config.decimal("json_size")?;
    if json_size != hdr_size - 4096 {
        return Err(invalid(format!(
            "LUKS2 config json_size {json_size} does not match the header size {hdr_size}"
        )));
    }
    let keyslots_size = config.decimal("keyslots_size")?;
    if !keyslots_size.is_multiple_of(4096) || keyslots_size > MAX_KEYSLOTS_SIZE {
        return Err(invalid(format!(
            "LUKS2 config keyslots_size {keyslots_size} is not a multiple of 4096 up to {MAX_KEYSLOTS_SIZE}"
        )));
    }
    if let Some(requirements) = config.map.get("requirements") {
        let requirements = Object::new("config requirements".into(), requirements)?;
        if let Some(mandatory) = requirements.map.get("mandatory") {
            let Value::Array(items) = mandatory else {
                return Err(invalid(
                    "LUKS2 config requirements 'mandatory' is not an array".into(),
                ));
            };
            if let Some(first) = items.first() {
                return Err(Error::new(
                    ErrorKind::NotSupported,
                    format!(
                        "LUKS2 requirement {} is not supported",
                        clip(&first.to_string())
                    ),
                ));
            }
        }
    }
    Ok(Config {
        json_size,
        keyslots_size,
    })
}

fn keyslot(id: u32, slot: &Object<'_>) -> Result<Keyslot> {
    slot.kind(&["luks2"])?;
    let key_size = slot.number("key_size", 1..=MAX_KEY_SIZE)?;
    let priority = match slot.map.get("priority") {
        None => 1,
        Some(_) => slot.number("priority", 0..=2)?,
    };
    let af = slot.object("af")?;
    af.kind(&["luks1"])?;
    let stripes = af.number("stripes", 0..=u32::MAX)?;
    if stripes != STRIPES {
        return Err(invalid(format!(
            "LUKS2 keyslot {id} is corrupted (stripes {stripes} != {STRIPES})"
        )));
    }
    let af_hash = af.hash("hash")?;
    let area = slot.object("area")?;
    area.kind(&["raw"])?;
    let area_key_size = area.number("key_size", 1..=MAX_KEY_SIZE)?;
    let encryption = area.string("encryption")?;
    let area = Area {
        offset: area.decimal("offset")?,
        size: area.decimal("size")?,
        key_size: area_key_size,
        spec: encryption_spec(encryption, area_key_size, af_hash)
            .map_err(|e| context(e, &format!("keyslot {id} area")))?,
    };
    Ok(Keyslot {
        id,
        key_size,
        priority,
        area,
        kdf: kdf(&slot.object("kdf")?)?,
    })
}

fn kdf(kdf: &Object<'_>) -> Result<Kdf> {
    let variant = match kdf.kind(&["pbkdf2", "argon2i", "argon2id"])? {
        "pbkdf2" => {
            return Ok(Kdf::Pbkdf2 {
                hash: kdf.hash("hash")?,
                iterations: kdf.number("iterations", 1..=MAX_COUNT)?,
                salt: kdf.salt("salt")?,
            })
        }
        "argon2i" => Argon2Variant::I,
        _ => Argon2Variant::Id,
    };
    let cpus = kdf.number("cpus", 1..=MAX_ARGON2_CPUS)?;
    Ok(Kdf::Argon2 {
        variant,
        time: kdf.number("time", 1..=MAX_COUNT)?,
        // Argon2 needs 8 KiB a lane.
        memory: kdf.number("memory", 8 * cpus..=MAX_ARGON2_MEMORY)?,
        cpus,
        salt: kdf.salt("salt")?,
    })
}

/// Bytes of key material a keyslot's area holds: its key split, in whole sectors.
pub fn material_sectors_len(key_size: u32) -> u64 {
    (u64::from(key_size) * u64::from(STRIPES)).next_multiple_of(512)
}

/// Each area inside the keyslots area, which follows the two header copies, large
/// enough for its key material, apart from the others.
fn check_areas(keyslots: &[Keyslot], hdr_size: u64, keyslots_size: u64) -> Result<()> {
    let start = 2 * hdr_size;
    let end = start + keyslots_size;
    for slot in keyslots {
        let Area { offset, size, .. } = slot.area;
        let id = slot.id;
        if offset < start {
            return Err(invalid(format!(
                "LUKS2 keyslot {id} is overlapping with the LUKS header"
            )));
        }
        if size == 0 || offset.checked_add(size).is_none_or(|e| e > end) {
            return Err(invalid(format!(
                "LUKS2 keyslot {id} area is outside the keyslots area"
            )));
        }
        if size < material_sectors_len(slot.key_size) {
            return Err(invalid(format!(
                "LUKS2 keyslot {id} area is too small for its key material"
            )));
        }
    }
    for (i, a) in keyslots.iter().enumerate() {
        for b in &keyslots[i + 1..] {
            if a.area.offset < b.area.offset + b.area.size
                && b.area.offset < a.area.offset + a.area.size
            {
                return Err(invalid(format!(
                    "LUKS2 keyslots {} and {} are overlapping in the header",
                    a.id, b.id
                )));
            }
        }
    }
    Ok(())
}

fn digest(id: u32, digest: &Object<'_>, keyslots: &[Keyslot], segment_ids: u32) -> Result<Digest> {
    digest.kind(&["pbkdf2"])?;
    let slot_ids = mask(keyslots.iter().map(|k| k.id));
    let hash = digest.hash("hash")?;
    let value = digest.base64("digest")?;
    if value.len() != 20 && value.len() != hash.digest_len() {
        return Err(invalid(format!(
            "LUKS2 digest {id} 'digest' is {} bytes, not 20 or {}",
            value.len(),
            hash.digest_len()
        )));
    }
    Ok(Digest {
        id,
        keyslots: digest.ids("keyslots", "keyslot", slot_ids)?,
        segments: digest.ids("segments", "segment", segment_ids)?,
        hash,
        iterations: digest.number("iterations", 1..=MAX_COUNT)?,
        salt: digest.salt("salt")?,
        digest: value,
    })
}

/// The one digest of segment 0, whose keyslots all hold keys of one length.
fn segment_digest<'a>(digests: &'a [Digest], keyslots: &[Keyslot]) -> Result<&'a Digest> {
    let [digest] = digests
        .iter()
        .filter(|d| d.segments & 1 != 0)
        .collect::<Vec<_>>()[..]
    else {
        return Err(invalid(
            "LUKS2 segment 0 must be in exactly one digest".into(),
        ));
    };
    let mut sizes = keyslots
        .iter()
        .filter(|k| digest.keyslots & (1 << k.id) != 0)
        .map(|k| k.key_size);
    if let Some(first) = sizes.next() {
        if sizes.any(|size| size != first) {
            return Err(invalid(format!(
                "LUKS2 keyslots of digest {} have different key sizes",
                digest.id
            )));
        }
    }
    Ok(digest)
}

/// Segment 0, whose volume key is `key_size` bytes and digest hash `hash`.
fn segment_0(segment: &Object<'_>, key_size: u32, hash: HashAlgo) -> Result<Segment> {
    segment.kind(&["crypt"])?;
    for unsupported in ["integrity", "flags"] {
        if segment.map.get(unsupported).is_some_and(has_content) {
            return Err(Error::new(
                ErrorKind::NotSupported,
                format!("LUKS2 segment 0 with {unsupported} is not supported"),
            ));
        }
    }
    let sector_size = segment.number("sector_size", 0..=u32::MAX)?;
    if !matches!(sector_size, 512 | 1024 | 2048 | 4096) {
        return Err(invalid(format!(
            "LUKS2 segment 0 sector size {sector_size} is not supported"
        )));
    }
    let aligned = |n: u64| n.is_multiple_of(sector_size.into());
    let offset = segment.decimal("offset")?;
    if !aligned(offset) {
        return Err(invalid(format!(
            "LUKS2 segment 0 offset {offset} is not a multiple of its sector size {sector_size}"
        )));
    }
    let size = match segment.string("size")? {
        "dynamic" => None,
        _ => Some(segment.decimal("size")?),
    };
    if let Some(size) = size.filter(|&s| s == 0 || !aligned(s)) {
        return Err(invalid(format!(
            "LUKS2 segment 0 size {size} is not a multiple of its sector size {sector_size}"
        )));
    }
    let spec = encryption_spec(segment.string("encryption")?, key_size, hash)
        .map_err(|e| context(e, "segment 0"))?;
    Ok(Segment {
        offset,
        size,
        iv_tweak: segment.decimal("iv_tweak")?,
        sector_size,
        spec,
    })
}

/// Whether a JSON value holds anything: not null, nor an empty array or object.
fn has_content(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Array(items) => !items.is_empty(),
        Value::Object(map) => !map.is_empty(),
        _ => true,
    }
}

/// The algorithms a dm-crypt `cipher-chain-ivgen[:hash]` string names for a key of
/// `key_size` bytes, which must be exactly the cipher's (both keys for XTS); `hash`
/// is the hash that goes with them.
fn encryption_spec(encryption: &str, key_size: u32, hash: HashAlgo) -> Result<Spec> {
    let (cipher, mode) = encryption.split_once('-').ok_or_else(|| {
        invalid(format!(
            "Unexpected cipher string format '{}'",
            clip(encryption)
        ))
    })?;
    let spec = parse_spec(cipher, mode, key_size, || Ok(hash))?;
    let keys = if spec.mode == CipherMode::Xts { 2 } else { 1 };
    if spec.cipher.key_len() * keys != key_size as usize {
        return Err(invalid(format!(
            "Algorithm '{cipher}' with key size {key_size} bytes not supported"
        )));
    }
    Ok(spec)
}

/// The objects of `parent` by id, in id order; `what` names one.
fn numbered<'a>(parent: &Object<'a>, what: &str, limit: u32) -> Result<Vec<(u32, Object<'a>)>> {
    let mut items = parent
        .map
        .iter()
        .map(|(key, value)| {
            let id = id(key, limit).ok_or_else(|| {
                invalid(format!(
                    "LUKS2 {what} id '{}' is not a number below {limit}",
                    clip(key)
                ))
            })?;
            Ok((id, Object::new(format!("{what} {id}"), value)?))
        })
        .collect::<Result<Vec<_>>>()?;
    items.sort_by_key(|(id, _)| *id);
    Ok(items)
}

/// The id `text` writes, in plain decimal, if below `limit`.
fn id(text: &str, limit: u32) -> Option<u32> {
    let id = text.parse::<u32>().ok().filter(|&id| id < limit)?;
    (id.to_string() == text).then_some(id)
}

/// The set of `ids` (each below 32), one bit each.
fn mask(ids: impl Iterator<Item = u32>) -> u32 {
    ids.fold(0, |mask, id| mask | (1 << id))
}

/// A JSON object of the metadata, and how messages name it.
struct Object<'a> {
    name: String,
    map: &'a Map<String, Value>,
}

impl<'a> Object<'a> {
    fn new(name: String, value: &'a Value) -> Result<Object<'a>> {
        match value {
            Value::Object(map) => Ok(Object { name, map }),
            _ => Err(invalid(format!("LUKS2 {name} is not a JSON object"))),
        }
    }

    fn field(&self, key: &str) -> Result<&'a Value> {
        self.map
            .get(key)
            .ok_or_else(|| invalid(format!("LUKS2 {} has no '{key}'", self.name)))
    }

    fn wrong(&self, key: &str, what: &str) -> Error {
        invalid(format!("LUKS2 {} '{key}' is not {what}", self.name))
    }

    fn object(&self, key: &str) -> Result<Object<'a>> {
        Object::new(format!("{} {key}", self.name), self.field(key)?)
    }

    fn string(&self, key: &str) -> Result<&'a str> {
        self.field(key)?
            .as_str()
            .ok_or_else(|| self.wrong(key, "a string"))
    }

    /// The `type` string, one of `kinds`.
    fn kind(&self, kinds: &[&'static str]) -> Result<&'static str> {
        let kind = self.string("type")?;
        kinds.iter().copied().find(|&k| k == kind).ok_or_else(|| {
            Error::new(
                ErrorKind::NotSupported,
                format!("LUKS2 {} type '{}' is not supported", self.name, clip(kind)),
            )
        })
    }

    /// A JSON number in `range`.
    fn number(&self, key: &str, range: std::ops::RangeInclusive<u32>) -> Result<u32> {
        self.field(key)?
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                self.wrong(
                    key,
                    &format!("a number from {} to {}", range.start(), range.end()),
                )
            })
    }

    /// A u64 written as a string of decimal digits.
    fn decimal(&self, key: &str) -> Result<u64> {
        let text = self.string(key)?;
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.wrong(key, "a string of decimal digits"));
        }
        text.parse()
            .map_err(|_| self.wrong(key, "a number below 2^64"))
    }

    fn base64(&self, key: &str) -> Result<Vec<u8>> {
        base64::engine::general_purpose::STANDARD
            .decode(self.string(key)?)
            .map_err(|_| self.wrong(key, "padded base64"))
    }

    fn salt(&self, key: &str) -> Result<[u8; SALT_LEN]> {
        self.base64(key)?
            .try_into()
            .map_err(|_| self.wrong(key, &format!("{SALT_LEN} bytes")))
    }

    fn hash(&self, key: &str) -> Result<HashAlgo> {
        let name = self.string(key)?;
        HashAlgo::from_name(name).ok_or_else(|| {
            Error::new(
                ErrorKind::NotSupported,
                format!("LUKS2 {} hash '{}' is not supported", self.name, clip(name)),
            )
        })
    }

    /// An array of id strings, each of one of `existing` (a mask), as a mask; `what`
    /// names one.
    fn ids(&self, key: &str, what: &str, existing: u32) -> Result<u32> {
        let Value::Array(items) = self.field(key)? else {
            return Err(self.wrong(key, "an array"));
        };
        items.iter().try_fold(0, |found, item| {
            let id = item
                .as_str()
                .and_then(|text| id(text, u32::BITS))
                .filter(|id| existing & (1 << id) != 0)
                .ok_or_else(|| {
                    invalid(format!(
                        "LUKS2 {} lists a {what} that does not exist: {}",
                        self.name,
                        clip(&item.to_string())
                    ))
                })?;
            Ok(found | (1 << id))
        })
    }
}

/// `text`, cut short for a message: hostile headers hold megabytes.
fn clip(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &text[..end]),
        None => text.to_owned(),
    }
}

/// `error` with its place in the metadata.
fn context(error: Error, place: &str) -> Error {
    Error::new(error.kind(), format!("LUKS2 {place}: {}", error.message()))
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

#[cfg(test)]
mod tests;
