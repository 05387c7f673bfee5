//! LUKS1 volumes as QEMU's `crypto/block-luks.c` opens and creates them: the header
//! read and checked, each active key slot tried with the passphrase; on creation,
//! QEMU's defaults, PBKDF2 iterations calibrated to the asked time, cryptsetup's
//! layout, and slot 0 holding the passphrase.

use zeroize::Zeroizing;

use super::luks_header::{
    cipher_name, essiv_cipher, split_key_sectors, Header, KeySlot, Spec, DIGEST_LEN, HEADER_LEN,
    HEADER_SECTORS, MAGIC, NAME_LEN, NUM_KEY_SLOTS, SALT_LEN, SECTOR_SIZE, SLOT_ACTIVE, STRIPES,
    UUID_LEN,
};
use super::luks_keyslot::{self, master_key_digest, material_len};
use super::OpenOptions;
use super::{passphrase, Block, BlockFormat, HeaderIo, Keys, LuksCreateOptions, OpenFlags};
use crate::crypto::cipher::{CipherAlgo, CipherMode};
use crate::crypto::hash::HashAlgo;
use crate::crypto::ivgen::IvGenAlgo;
use crate::crypto::{pbkdf, random};
use crate::{Error, ErrorKind, Result};

/// Milliseconds of PBKDF2 an unlock costs when the creator does not say.
pub const DEFAULT_ITER_TIME_MS: u64 = 2000;
/// The fewest PBKDF2 iterations a key slot or the master-key digest gets.
const MIN_ITERATIONS: u32 = 1000;

/// What a LUKS volume keeps of its header.
pub struct Luks {
    header: Header,
    spec: Spec,
}

impl Luks {
    /// The header as it is on disk.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The algorithms the header names.
    pub fn spec(&self) -> &Spec {
        &self.spec
    }

    /// Whether the payload is apart from the header (its offset is 0).
    pub fn detached_header(&self) -> bool {
        self.header.payload_offset_sector == 0
    }
}

/// Whether `buf` starts with a LUKS1 header's magic and version.
pub(super) fn has_format(buf: &[u8]) -> bool {
    buf.len() >= 8 && buf[..6] == MAGIC && buf[6..8] == 1u16.to_be_bytes()
}

pub(super) fn open(
    options: &OpenOptions<'_>,
    optprefix: Option<&str>,
    io: &mut dyn HeaderIo,
    flags: OpenFlags,
) -> Result<Block> {
    let passphrase = match flags.no_io {
        true => None,
        false => Some(passphrase(options.key_secret, optprefix)?),
    };
    let mut bytes = [0u8; HEADER_LEN];
    io.read(0, &mut bytes)?;
    let header = Header::from_bytes(&bytes);
    header.check(flags.detached)?;
    let spec = header.spec()?;
    let keys = match passphrase {
        None => None,
        Some(passphrase) => {
            let master_key = find_key(&header, &spec, passphrase.as_bytes(), io)?;
            Some(keys(&spec, master_key)?)
        }
    };
    Ok(block(header, spec, keys))
}

pub(super) fn create(
    options: &LuksCreateOptions<'_>,
    optprefix: Option<&str>,
    io: &mut dyn HeaderIo,
    detached: bool,
) -> Result<Block> {
    let cipher = options.cipher_alg.unwrap_or(CipherAlgo::Aes256);
    let mode = options.cipher_mode.unwrap_or(CipherMode::Xts);
    let ivgen = options.ivgen_alg.unwrap_or(IvGenAlgo::Plain64);
    let hash = options.hash_alg.unwrap_or(HashAlgo::Sha256);
    let iter_time = options.iter_time.unwrap_or(DEFAULT_ITER_TIME_MS);
    let ivgen_hash = match (ivgen, options.ivgen_hash_alg) {
        (IvGenAlgo::Essiv, None) => Some(HashAlgo::Sha256),
        (_, named) => named,
    };
    let passphrase = passphrase(options.key_secret, optprefix)?;
    let mode_spec = match ivgen_hash {
        Some(h) => format!("{}-{}:{}", mode.name(), ivgen.name(), h.name()),
        None => format!("{}-{}", mode.name(), ivgen.name()),
    };
    let name = cipher_name(cipher)?;
    if let (IvGenAlgo::Essiv, Some(h)) = (ivgen, ivgen_hash) {
        essiv_cipher(cipher, h)?;
    }
    let master_key_len = cipher.key_len() * if mode == CipherMode::Xts { 2 } else { 1 };
    let split = split_key_sectors(master_key_len as u32, STRIPES);
    let layout_sectors = HEADER_SECTORS + NUM_KEY_SLOTS as u32 * split;
    let mut header = Header {
        magic: MAGIC,
        version: 1,
        cipher_name: text_field(name),
        cipher_mode: text_field(&mode_spec),
        hash_spec: text_field(hash.name()),
        payload_offset_sector: if detached { 0 } else { layout_sectors },
        master_key_len: master_key_len as u32,
        master_key_digest: [0; DIGEST_LEN],
        master_key_salt: [0; SALT_LEN],
        master_key_iterations: 0,
        uuid: uuid_v4()?,
        key_slots: std::array::from_fn(|i| KeySlot::disabled(HEADER_SECTORS + i as u32 * split)),
    };
    let spec = header.spec()?;
    random::fill(&mut header.master_key_salt)?;
    let mut master_key = Zeroizing::new(vec![0u8; master_key_len]);
    random::fill(&mut master_key)?;
    let keys = keys(&spec, master_key.clone())?;
    header.master_key_iterations = iterations(
        hash,
        &master_key,
        &header.master_key_salt,
        DIGEST_LEN,
        iter_time,
        8,
    )?;
    header.master_key_digest = master_key_digest(&header, &spec, &master_key)?;
    io.init(u64::from(layout_sectors) * u64::from(SECTOR_SIZE))?;
    store_key(
        &mut header,
        &spec,
        0,
        passphrase.as_bytes(),
        &master_key,
        iter_time,
        io,
    )?;
    Ok(block(header, spec, Some(keys)))
}

/// The master key the first active slot `passphrase` unlocks holds.
fn find_key(
    header: &Header,
    spec: &Spec,
    passphrase: &[u8],
    io: &mut dyn HeaderIo,
) -> Result<Zeroizing<Vec<u8>>> {
    let mut material = Zeroizing::new(vec![0u8; material_len(header)]);
    for slot in header.key_slots.iter().filter(|slot| slot.is_active()) {
        io.read(sector_offset(slot.key_offset_sector), &mut material)?;
        if let Some(master_key) =
            luks_keyslot::unlock(header, spec, slot, passphrase, &mut material)?
        {
            return Ok(master_key);
        }
    }
    Err(Error::new(
        ErrorKind::InvalidArgument,
        "Invalid password, cannot unlock any keyslot",
    ))
}

/// Puts `master_key` in slot `index` under `passphrase` with a fresh salt and
/// iterations for `iter_time`: the key material first, then the header marking the
/// slot active.
fn store_key(
    header: &mut Header,
    spec: &Spec,
    index: usize,
    passphrase: &[u8],
    master_key: &[u8],
    iter_time: u64,
    io: &mut dyn HeaderIo,
) -> Result<()> {
    let mut slot = header.key_slots[index].clone();
    random::fill(&mut slot.salt)?;
    let nout = header.master_key_len as usize;
    slot.iterations = iterations(spec.hash, passphrase, &slot.salt, nout, iter_time, 1)?;
    let material = luks_keyslot::lock(header, spec, &slot, passphrase, master_key)?;
    io.write(sector_offset(slot.key_offset_sector), &material)?;
    slot.active = SLOT_ACTIVE;
    header.key_slots[index] = slot;
    io.write(0, &header.to_bytes())
}

/// PBKDF2 iterations that take `iter_time` ms of this machine's CPU, divided by
/// `share` (QEMU gives the master-key digest an eighth), at least
/// [`MIN_ITERATIONS`]; QEMU's messages when they do not fit.
fn iterations(
    hash: HashAlgo,
    key: &[u8],
    salt: &[u8],
    nout: usize,
    iter_time: u64,
    share: u64,
) -> Result<u32> {
    let per_second = pbkdf::count_iters(hash, key, salt, nout)?;
    let out_of_range = |what: String| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("{what}: Numerical result out of range"),
        )
    };
    let scaled = per_second
        .checked_mul(iter_time)
        .ok_or_else(|| out_of_range(format!("PBKDF iterations {per_second} too large to scale")))?
        / 1000
        / share;
    let iterations = u32::try_from(scaled).map_err(|_| {
        out_of_range(format!(
            "PBKDF iterations {scaled} larger than {}",
            u32::MAX
        ))
    })?;
    Ok(iterations.max(MIN_ITERATIONS))
}

fn sector_offset(sector: u32) -> u64 {
    u64::from(sector) * u64::from(SECTOR_SIZE)
}

/// `text` in a NUL-padded header field (the names LUKS uses are all short).
fn text_field(text: &str) -> [u8; NAME_LEN] {
    let mut field = [0; NAME_LEN];
    field[..text.len()].copy_from_slice(text.as_bytes());
    field
}

/// A random (version 4) UUID in the header's field, as QEMU writes it: 36 lowercase
/// characters and NULs.
fn uuid_v4() -> Result<[u8; UUID_LEN]> {
    let mut bytes = [0u8; 16];
    random::fill(&mut bytes)?;
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    let text = format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    );
    let mut field = [0; UUID_LEN];
    field[..text.len()].copy_from_slice(text.as_bytes());
    Ok(field)
}

/// The volume's keys: the cipher and IV generator the header names, keyed with
/// `master_key`.
fn keys(spec: &Spec, master_key: Zeroizing<Vec<u8>>) -> Result<Keys> {
    Keys::new(
        (spec.cipher, spec.mode),
        (spec.ivgen, spec.ivgen_cipher, spec.ivgen_hash),
        master_key,
    )
}

fn block(header: Header, spec: Spec, keys: Option<Keys>) -> Block {
    Block {
        format: BlockFormat::Luks,
        kdf_hash: if keys.is_some() {
            spec.hash
        } else {
            HashAlgo::Md5
        },
        keys,
        sector_size: SECTOR_SIZE,
        payload_offset: sector_offset(header.payload_offset_sector),
        luks: Some(Luks { header, spec }),
    }
}
