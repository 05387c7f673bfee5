//! The LUKS1 on-disk header as cryptsetup defines it and QEMU's
//! `crypto/block-luks.c` reads it: its 592 big-endian bytes, QEMU's checks in QEMU's
//! order with QEMU's messages, and the cipher specification its text fields name.
//!
//! Any 592 bytes parse; [`Header::check`] and [`Header::spec`] then refuse what QEMU
//! refuses, the first failure winning, so a corrupted header reports what QEMU reports.

use crate::crypto::cipher::{CipherAlgo, CipherMode};
use crate::crypto::hash::HashAlgo;
use crate::crypto::ivgen::IvGenAlgo;
use crate::{Error, ErrorKind, Result};

/// The first six bytes of every LUKS volume.
pub const MAGIC: [u8; 6] = *b"LUKS\xba\xbe";
/// The header's size on disk, key slots included.
pub const HEADER_LEN: usize = 592;
/// Key slots in a header.
pub const NUM_KEY_SLOTS: usize = 8;
/// Anti-forensic stripes of every key slot (QEMU accepts no other number).
pub const STRIPES: u32 = 4000;
/// The unit of the header's offsets.
pub const SECTOR_SIZE: u32 = 512;
/// Where key material may start: the header's own 4 KiB, in sectors.
pub const HEADER_SECTORS: u32 = 4096 / SECTOR_SIZE;
/// A key slot in use.
pub const SLOT_ACTIVE: u32 = 0x00AC_71F3;
/// A key slot not in use.
pub const SLOT_DISABLED: u32 = 0x0000_DEAD;
/// Length of the master-key and key-slot salts.
pub const SALT_LEN: usize = 32;
/// Length of the master-key digest.
pub const DIGEST_LEN: usize = 20;
/// Length of each text field (NUL-terminated inside it).
pub const NAME_LEN: usize = 32;
/// Length of the UUID field (36 characters and NULs).
pub const UUID_LEN: usize = 40;

/// One key slot: a copy of the master key, split and encrypted under a passphrase.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeySlot {
    /// [`SLOT_ACTIVE`], [`SLOT_DISABLED`], or corruption.
    pub active: u32,
    /// PBKDF2 iterations deriving the slot key from the passphrase.
    pub iterations: u32,
    pub salt: [u8; SALT_LEN],
    /// Where the slot's key material starts, in sectors.
    pub key_offset_sector: u32,
    pub stripes: u32,
}

/// A LUKS1 header, field for field.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    pub magic: [u8; 6],
    pub version: u16,
    pub cipher_name: [u8; NAME_LEN],
    pub cipher_mode: [u8; NAME_LEN],
    pub hash_spec: [u8; NAME_LEN],
    /// Where the encrypted payload starts, in sectors (0 for a detached header).
    pub payload_offset_sector: u32,
    /// The master key's length in bytes (both keys for XTS).
    pub master_key_len: u32,
    pub master_key_digest: [u8; DIGEST_LEN],
    pub master_key_salt: [u8; SALT_LEN],
    pub master_key_iterations: u32,
    pub uuid: [u8; UUID_LEN],
    pub key_slots: [KeySlot; NUM_KEY_SLOTS],
}

/// What the header's text fields name, as QEMU parses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    pub cipher: CipherAlgo,
    pub mode: CipherMode,
    pub ivgen: IvGenAlgo,
    /// The hash after the IV generator's `:`; MD5 (QEMU's value 0) when there is none.
    pub ivgen_hash: HashAlgo,
    /// Whether the cipher mode named an IV generator hash.
    pub has_ivgen_hash: bool,
    /// The cipher ESSIV encrypts sector numbers with; `cipher` for other generators.
    pub ivgen_cipher: CipherAlgo,
    /// The hash of PBKDF2 and of the anti-forensic splitter.
    pub hash: HashAlgo,
}

/// The LUKS names of ciphers, with the key lengths each comes in.
const CIPHER_NAMES: [(&str, &[(usize, CipherAlgo)]); 5] = [
    (
        "aes",
        &[
            (16, CipherAlgo::Aes128),
            (24, CipherAlgo::Aes192),
            (32, CipherAlgo::Aes256),
        ],
    ),
    ("cast5", &[(16, CipherAlgo::Cast5_128)]),
    (
        "serpent",
        &[
            (16, CipherAlgo::Serpent128),
            (24, CipherAlgo::Serpent192),
            (32, CipherAlgo::Serpent256),
        ],
    ),
    (
        "twofish",
        &[
            (16, CipherAlgo::Twofish128),
            (24, CipherAlgo::Twofish192),
            (32, CipherAlgo::Twofish256),
        ],
    ),
    ("sm4", &[(16, CipherAlgo::Sm4)]),
];

/// Reads fixed-size fields off the front of a byte slice.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn take<const N: usize>(&mut self) -> [u8; N] {
        let (field, rest) = self.0.split_at(N);
        self.0 = rest;
        field.try_into().expect("split at N")
    }

    fn u32(&mut self) -> u32 {
        u32::from_be_bytes(self.take())
    }
}

impl KeySlot {
    /// An unused slot whose key material would start at `key_offset_sector`.
    pub fn disabled(key_offset_sector: u32) -> KeySlot {
        KeySlot {
            active: SLOT_DISABLED,
            iterations: 0,
            salt: [0; SALT_LEN],
            key_offset_sector,
            stripes: STRIPES,
        }
    }

    /// Whether the slot holds a key.
    pub fn is_active(&self) -> bool {
        self.active == SLOT_ACTIVE
    }
}

impl Header {
    /// The header `bytes` hold, whatever they are: [`Header::check`] says whether QEMU
    /// would accept it.
    pub fn from_bytes(bytes: &[u8; HEADER_LEN]) -> Header {
        let mut f = Fields(bytes);
        Header {
            magic: f.take(),
            version: u16::from_be_bytes(f.take()),
            cipher_name: f.take(),
            cipher_mode: f.take(),
            hash_spec: f.take(),
            payload_offset_sector: f.u32(),
            master_key_len: f.u32(),
            master_key_digest: f.take(),
            master_key_salt: f.take(),
            master_key_iterations: f.u32(),
            uuid: f.take(),
            key_slots: std::array::from_fn(|_| KeySlot {
                active: f.u32(),
                iterations: f.u32(),
                salt: f.take(),
                key_offset_sector: f.u32(),
                stripes: f.u32(),
            }),
        }
    }

    /// The header's bytes on disk.
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut out = Vec::with_capacity(HEADER_LEN);
        out.extend_from_slice(&self.magic);
        out.extend_from_slice(&self.version.to_be_bytes());
        out.extend_from_slice(&self.cipher_name);
        out.extend_from_slice(&self.cipher_mode);
        out.extend_from_slice(&self.hash_spec);
        out.extend_from_slice(&self.payload_offset_sector.to_be_bytes());
        out.extend_from_slice(&self.master_key_len.to_be_bytes());
        out.extend_from_slice(&self.master_key_digest);
        out.extend_from_slice(&self.master_key_salt);
        out.extend_from_slice(&self.master_key_iterations.to_be_bytes());
        out.extend_from_slice(&self.uuid);
        for slot in &self.key_slots {
            out.extend_from_slice(&slot.active.to_be_bytes());
            out.extend_from_slice(&slot.iterations.to_be_bytes());
            out.extend_from_slice(&slot.salt);
            out.extend_from_slice(&slot.key_offset_sector.to_be_bytes());
            out.extend_from_slice(&slot.stripes.to_be_bytes());
        }
        out.try_into().expect("the fields add up to HEADER_LEN")
    }

    /// QEMU's header checks, in its order: the magic, the version, the text fields'
    /// NULs, the payload and key material's places. A `detached` header (its payload
    /// in another file) may have its payload anywhere.
    pub fn check(&self, detached: bool) -> Result<()> {
        if self.magic != MAGIC {
            return Err(invalid("Volume is not in LUKS format".into()));
        }
        if self.version != 1 {
            return Err(invalid(format!(
                "LUKS version {} is not supported",
                self.version
            )));
        }
        for (field, what) in [
            (&self.cipher_name, "cipher name"),
            (&self.cipher_mode, "cipher mode"),
            (&self.hash_spec, "hash spec"),
        ] {
            if !field.contains(&0) {
                return Err(invalid(format!("LUKS header {what} is not NUL terminated")));
            }
        }
        if !detached && self.payload_offset_sector < HEADER_SECTORS {
            return Err(invalid(
                "LUKS payload is overlapping with the header".into(),
            ));
        }
        if self.master_key_iterations == 0 {
            return Err(invalid("LUKS key iteration count is zero".into()));
        }
        let span = |slot: &KeySlot| {
            let start = slot.key_offset_sector;
            (start, split_key_sectors(self.master_key_len, slot.stripes))
        };
        for (i, slot) in self.key_slots.iter().enumerate() {
            if slot.stripes != STRIPES {
                // QEMU prints the u32 with %d.
                return Err(invalid(format!(
                    "Keyslot {i} is corrupted (stripes {} != {STRIPES})",
                    slot.stripes as i32
                )));
            }
            if slot.active != SLOT_ACTIVE && slot.active != SLOT_DISABLED {
                return Err(invalid(format!(
                    "Keyslot {i} state (active/disable) is corrupted"
                )));
            }
            if slot.is_active() && slot.iterations == 0 {
                return Err(invalid(format!("Keyslot {i} iteration count is zero")));
            }
            let (start, len) = span(slot);
            if start < HEADER_SECTORS {
                return Err(invalid(format!(
                    "Keyslot {i} is overlapping with the LUKS header"
                )));
            }
            if !detached && start.wrapping_add(len) > self.payload_offset_sector {
                return Err(invalid(format!(
                    "Keyslot {i} is overlapping with the encrypted payload"
                )));
            }
            for (j, other) in self.key_slots.iter().enumerate().skip(i + 1) {
                let (other_start, other_len) = span(other);
                if ranges_overlap(start, len, other_start, other_len) {
                    return Err(invalid(format!(
                        "Keyslots {i} and {j} are overlapping in the header"
                    )));
                }
            }
        }
        Ok(())
    }

    /// The algorithms the text fields name, parsed in QEMU's order (see
    /// `parse_spec`). Expects a header [`Header::check`] accepted.
    pub fn spec(&self) -> Result<Spec> {
        let hash = || {
            lookup(
                "Hash algorithm",
                &text(&self.hash_spec),
                HashAlgo::from_name,
            )
        };
        parse_spec(
            &text(&self.cipher_name),
            &text(&self.cipher_mode),
            self.master_key_len,
            hash,
        )
    }
}

/// The algorithms a cipher name and a `mode-ivgen[:hash]` mode name, with a key of
/// `key_len` bytes, call for, parsed in QEMU's order: the IV generator's hash, the
/// cipher mode, the cipher name with the key length, `hash` (the hash of the key
/// derivation and the splitter, found by the caller), the IV generator, then ESSIV's
/// cipher. LUKS1 names them in two header fields, LUKS2 in one string.
pub(super) fn parse_spec(
    cipher_name: &str,
    cipher_mode: &str,
    key_len: u32,
    hash: impl FnOnce() -> Result<HashAlgo>,
) -> Result<Spec> {
    let Some((mode_name, ivgen_part)) = cipher_mode.split_once('-') else {
        return Err(invalid(format!(
            "Unexpected cipher mode string format '{cipher_mode}'"
        )));
    };
    let (ivgen_name, ivgen_hash) = match ivgen_part.split_once(':') {
        Some((name, hash)) => (
            name,
            Some(lookup("Hash algorithm", hash, HashAlgo::from_name)?),
        ),
        None => (ivgen_part, None),
    };
    let mode = lookup("Cipher mode", mode_name, CipherMode::from_name)?;
    let cipher = cipher_by_name(cipher_name, mode, key_len)?;
    let hash = hash()?;
    let ivgen = lookup("IV generator", ivgen_name, IvGenAlgo::from_name)?;
    let ivgen_cipher = match (ivgen, ivgen_hash) {
        (IvGenAlgo::Essiv, None) => {
            return Err(invalid("Missing IV generator hash specification".into()))
        }
        (IvGenAlgo::Essiv, Some(hash)) => essiv_cipher(cipher, hash)?,
        _ => cipher,
    };
    Ok(Spec {
        cipher,
        mode,
        ivgen,
        ivgen_hash: ivgen_hash.unwrap_or(HashAlgo::Md5),
        has_ivgen_hash: ivgen_hash.is_some(),
        ivgen_cipher,
        hash,
    })
}

/// Sectors of key material a slot takes for a master key of `master_key_len` bytes
/// split into `stripes`, rounded up to whole 4 KiB (cryptsetup's layout). The product
/// in 32 bits as in QEMU, so that a corrupted header gets QEMU's verdict.
pub fn split_key_sectors(master_key_len: u32, stripes: u32) -> u32 {
    let bytes = u64::from(master_key_len.wrapping_mul(stripes));
    bytes
        .div_ceil(SECTOR_SIZE.into())
        .next_multiple_of(HEADER_SECTORS.into()) as u32
}

/// The LUKS name of `cipher`: "Algorithm '%s' not supported" for those LUKS lacks.
pub fn cipher_name(cipher: CipherAlgo) -> Result<&'static str> {
    CIPHER_NAMES
        .iter()
        .find(|(_, sizes)| sizes.iter().any(|&(_, alg)| alg == cipher))
        .map(|&(name, _)| name)
        .ok_or_else(|| invalid(format!("Algorithm '{}' not supported", cipher.name())))
}

/// The cipher LUKS calls `name` with a master key of `key_len` bytes (two keys for
/// XTS, the length halved as QEMU halves it).
fn cipher_by_name(name: &str, mode: CipherMode, key_len: u32) -> Result<CipherAlgo> {
    let key_len = match mode {
        CipherMode::Xts => key_len / 2,
        _ => key_len,
    };
    CIPHER_NAMES
        .iter()
        .filter(|&&(n, _)| n == name)
        .flat_map(|(_, sizes)| sizes.iter())
        .find(|&&(len, _)| len as u32 == key_len)
        .map(|&(_, alg)| alg)
        .ok_or_else(|| {
            // QEMU prints the key length with %d.
            invalid(format!(
                "Algorithm '{name}' with key size {} bytes not supported",
                key_len as i32
            ))
        })
}

/// The cipher ESSIV uses with `hash`: `cipher` itself if its key is as long as the
/// digest, else the same family's cipher whose key is.
pub fn essiv_cipher(cipher: CipherAlgo, hash: HashAlgo) -> Result<CipherAlgo> {
    let digest_len = hash.digest_len();
    if cipher.key_len() == digest_len {
        return Ok(cipher);
    }
    use CipherAlgo::*;
    let (family, members): (&str, [CipherAlgo; 3]) = match cipher {
        Aes128 | Aes192 | Aes256 => ("AES", [Aes128, Aes192, Aes256]),
        Serpent128 | Serpent192 | Serpent256 => ("Serpent", [Serpent128, Serpent192, Serpent256]),
        Twofish128 | Twofish192 | Twofish256 => ("Twofish", [Twofish128, Twofish192, Twofish256]),
        _ => {
            return Err(invalid(format!(
                "Cipher {} not supported with essiv",
                cipher.name()
            )))
        }
    };
    members
        .into_iter()
        .find(|alg| alg.key_len() == digest_len)
        .ok_or_else(|| {
            invalid(format!(
                "No {family} cipher with key size {digest_len} available"
            ))
        })
}

/// The text of a NUL-terminated field (lossy where it is not UTF-8, as it is
/// only compared with ASCII names and quoted in messages).
pub(super) fn text(field: &[u8]) -> String {
    let end = field.iter().position(|&b| b == 0).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// The value `from_name` finds for `name`: "`what` '`name`' not supported" otherwise.
fn lookup<T>(what: &str, name: &str, from_name: fn(&str) -> Option<T>) -> Result<T> {
    from_name(name).ok_or_else(|| invalid(format!("{what} '{name}' not supported")))
}

/// Whether sectors `[a, a + a_len)` and `[b, b + b_len)` meet (QEMU's
/// `ranges_overlap`, in 64 bits).
fn ranges_overlap(a: u32, a_len: u32, b: u32, b_len: u32) -> bool {
    let (a, a_len, b, b_len) = (
        u64::from(a),
        u64::from(a_len),
        u64::from(b),
        u64::from(b_len),
    );
    !((b + b_len).wrapping_sub(1) < a || (a + a_len).wrapping_sub(1) < b)
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

#[cfg(test)]
pub(crate) mod tests;
