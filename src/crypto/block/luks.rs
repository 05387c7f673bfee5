//! LUKS1 volumes as QEMU's `crypto/block-luks.c` opens and creates them: the header
//! read and checked, each active key slot tried with the passphrase; on creation,
//! QEMU's defaults, PBKDF2 iterations calibrated to the asked time, cryptsetup's
//! layout, and slot 0 holding the passphrase. A LUKS2 header goes to [`super::luks2`].

use zeroize::Zeroizing;

use super::luks_header::{
    cipher_name, essiv_cipher, split_key_sectors, Header, KeySlot, Spec, DIGEST_LEN, HEADER_LEN,
    HEADER_SECTORS, MAGIC, NAME_LEN, NUM_KEY_SLOTS, SALT_LEN, SECTOR_SIZE, SLOT_ACTIVE,
    SLOT_DISABLED, STRIPES, UUID_LEN,
};
use super::luks_keyslot::{self, master_key_digest, material_len};
use super::sectors::IvNumbering;
use super::{luks2, OpenOptions};
use super::{passphrase, Block, FormatHeader, HeaderIo, Keys, LuksCreateOptions, OpenFlags};
use crate::crypto::cipher::{CipherAlgo, CipherMode};
use crate::crypto::hash::HashAlgo;
use crate::crypto::ivgen::IvGenAlgo;
use crate::crypto::secret::Secret;
use crate::crypto::{pbkdf, random};
use crate::qapi::qapi_enum;
use crate::{Error, ErrorKind, Result};

/// Milliseconds of PBKDF2 an unlock costs when the creator does not say.
pub const DEFAULT_ITER_TIME_MS: u64 = 2000;
/// The fewest PBKDF2 iterations a key slot or the master-key digest gets.
const MIN_ITERATIONS: u32 = 1000;

/// What a LUKS volume keeps of its header, and the passphrase it was opened or
/// created with, which amendments default to as QEMU's do.
pub struct Luks {
    header: Header,
    spec: Spec,
    passphrase: Option<Zeroizing<String>>,
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

    /// What QEMU's `qcrypto_block_get_info` reports of the volume.
    pub fn info(&self) -> LuksInfo {
        let h = &self.header;
        let uuid_end = h.uuid.iter().position(|&b| b == 0).unwrap_or(UUID_LEN);
        LuksInfo {
            version: 1,
            cipher_alg: self.spec.cipher,
            cipher_mode: self.spec.mode,
            ivgen_alg: self.spec.ivgen,
            ivgen_hash_alg: (self.spec.ivgen == IvGenAlgo::Essiv).then_some(self.spec.ivgen_hash),
            hash_alg: self.spec.hash,
            detached_header: self.detached_header(),
            payload_offset: sector_offset(h.payload_offset_sector),
            master_key_iters: h.master_key_iterations,
            uuid: String::from_utf8_lossy(&h.uuid[..uuid_end]).into_owned(),
            slots: h
                .key_slots
                .iter()
                .map(|slot| LuksSlotInfo {
                    active: slot.is_active(),
                    iters: slot.is_active().then_some(slot.iterations),
                    stripes: slot.is_active().then_some(slot.stripes),
                    key_offset: sector_offset(slot.key_offset_sector),
                })
                .collect(),
        }
    }
}

/// A LUKS volume's description (QEMU's `QCryptoBlockInfoLUKS`, and what a LUKS2
/// header has of it).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LuksInfo {
    /// The header's version: 1 or 2.
    pub version: u32,
    pub cipher_alg: CipherAlgo,
    pub cipher_mode: CipherMode,
    pub ivgen_alg: IvGenAlgo,
    /// ESSIV's hash; `None` for other IV generators, even if the header names one.
    pub ivgen_hash_alg: Option<HashAlgo>,
    /// The master-key digest's hash (LUKS1's also derives slot keys and splits).
    pub hash_alg: HashAlgo,
    /// LUKS1: whether the payload offset is 0; LUKS2: whether it was opened detached.
    pub detached_header: bool,
    /// Where the payload starts, in bytes.
    pub payload_offset: u64,
    /// PBKDF2 iterations of the master-key digest.
    pub master_key_iters: u32,
    pub uuid: String,
    /// The key slots by number: LUKS1's eight; LUKS2's from 0 to the highest in the
    /// header, those missing inactive.
    pub slots: Vec<LuksSlotInfo>,
}

/// One key slot's description (QEMU's `QCryptoBlockInfoLUKSSlot`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LuksSlotInfo {
    pub active: bool,
    /// PBKDF2 iterations (Argon2's time cost), for an active slot.
    pub iters: Option<u32>,
    /// Anti-forensic stripes, for an active slot.
    pub stripes: Option<u32>,
    /// Where its key material starts, in bytes (0 for a missing LUKS2 slot).
    pub key_offset: u64,
}

qapi_enum! {
    /// What an amendment does to a key slot (QEMU's `QCryptoBlockLUKSKeyslotState`).
    pub enum KeyslotState, error = "Unknown keyslot state {}" {
        /// Put a passphrase in a slot.
        Active = 0 => "active",
        /// Erase slots.
        Inactive = 1 => "inactive",
    }
}

/// An amendment of a LUKS volume's key slots (QEMU's `QCryptoBlockAmendOptionsLUKS`).
#[derive(Clone, Copy)]
pub struct LuksAmendOptions<'a> {
    pub state: KeyslotState,
    /// Activating: the passphrase to add.
    pub new_secret: Option<&'a Secret>,
    /// Erasing: the passphrase whose slots go.
    pub old_secret: Option<&'a Secret>,
    /// The slot to fill (else the first free one) or to erase.
    pub keyslot: Option<i64>,
    /// Activating: milliseconds of PBKDF2 for the new slot (2000 by default).
    pub iter_time: Option<u64>,
    /// Activating: a passphrase the volume already has (by default, the one it was
    /// opened with).
    pub secret: Option<&'a Secret>,
}

/// Whether `buf` starts with a LUKS1 or LUKS2 header's magic and version.
pub(super) fn has_format(buf: &[u8]) -> bool {
    buf.len() >= 8 && buf[..6] == MAGIC && matches!(u16::from_be_bytes([buf[6], buf[7]]), 1 | 2)
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
    // LUKS2 (whose second copy replaces a damaged first one). Without the magic this
    // is no LUKS volume: QEMU's message, and no read beyond the 592 bytes QEMU reads.
    if header.magic == MAGIC && header.version == 2 {
        return luks2::open(passphrase, io, flags);
    }
    header.check(flags.detached)?;
    let spec = header.spec()?;
    let keys = match passphrase {
        None => None,
        Some(passphrase) => {
            let master_key = find_key(&header, &spec, passphrase.as_bytes(), io)?;
            Some(keys(&spec, master_key, IvNumbering::default())?)
        }
    };
    let kept = options
        .key_secret
        .and_then(|s| s.utf8().ok())
        .map(|p| Zeroizing::new(p.to_owned()));
    Ok(block(header, spec, keys, kept))
}

/// A volume about to be created: its header without the random parts yet, and the
/// passphrase slot 0 gets.
struct Plan<'a> {
    header: Header,
    spec: Spec,
    passphrase: &'a str,
    iter_time: u64,
    /// The header and all key material, in bytes: where an attached payload starts.
    layout_len: u64,
}

/// QEMU's defaults applied to `options` and the layout they give, checked as creation
/// checks them.
fn plan<'a>(
    options: &LuksCreateOptions<'a>,
    optprefix: Option<&str>,
    detached: bool,
) -> Result<Plan<'a>> {
    let cipher = options.cipher_alg.unwrap_or(CipherAlgo::Aes256);
    let mode = options.cipher_mode.unwrap_or(CipherMode::Xts);
    let ivgen = options.ivgen_alg.unwrap_or(IvGenAlgo::Plain64);
    let hash = options.hash_alg.unwrap_or(HashAlgo::Sha256);
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
    let header = Header {
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
        uuid: [0; UUID_LEN],
        key_slots: std::array::from_fn(|i| KeySlot::disabled(HEADER_SECTORS + i as u32 * split)),
    };
    let spec = header.spec()?;
    // The backend's refusals (a mode a cipher lacks), as creation meets them.
    keys(
        &spec,
        Zeroizing::new(vec![0; master_key_len]),
        IvNumbering::default(),
    )?;
    Ok(Plan {
        header,
        spec,
        passphrase,
        iter_time: options.iter_time.unwrap_or(DEFAULT_ITER_TIME_MS),
        layout_len: sector_offset(layout_sectors),
    })
}

/// The bytes a volume created with `options` reserves before its payload (QEMU's
/// `qcrypto_block_calculate_payload_offset`, without the key derivation QEMU runs
/// to learn it).
pub(super) fn header_len(options: &LuksCreateOptions<'_>, optprefix: Option<&str>) -> Result<u64> {
    Ok(plan(options, optprefix, false)?.layout_len)
}

pub(super) fn create(
    options: &LuksCreateOptions<'_>,
    optprefix: Option<&str>,
    io: &mut dyn HeaderIo,
    detached: bool,
) -> Result<Block> {
    let Plan {
        mut header,
        spec,
        passphrase,
        iter_time,
        layout_len,
    } = plan(options, optprefix, detached)?;
    header.uuid = uuid_v4()?;
    random::fill(&mut header.master_key_salt)?;
    let mut master_key = Zeroizing::new(vec![0u8; header.master_key_len as usize]);
    random::fill(&mut master_key)?;
    let keys = keys(&spec, master_key.clone(), IvNumbering::default())?;
    header.master_key_iterations = iterations(
        spec.hash,
        &master_key,
        &header.master_key_salt,
        DIGEST_LEN,
        iter_time,
        8,
    )?;
    header.master_key_digest = master_key_digest(&header, &spec, &master_key)?;
    io.init(layout_len)?;
    store_key(
        &mut header,
        &spec,
        0,
        passphrase.as_bytes(),
        &master_key,
        iter_time,
        io,
    )?;
    let kept = Some(Zeroizing::new(passphrase.to_owned()));
    Ok(block(header, spec, Some(keys), kept))
}

/// QEMU's `qcrypto_block_luks_amend_options`: adds a passphrase to a key slot or
/// erases slots, with QEMU's rules and messages; `force` overwrites an active slot or
/// erases the last one.
pub(super) fn amend(
    luks: &mut Luks,
    io: &mut dyn HeaderIo,
    options: &LuksAmendOptions<'_>,
    force: bool,
) -> Result<()> {
    match options.state {
        KeyslotState::Active => add_keyslot(luks, io, options, force),
        KeyslotState::Inactive => erase_keyslots(luks, io, options, force),
    }
}

fn add_keyslot(
    luks: &mut Luks,
    io: &mut dyn HeaderIo,
    options: &LuksAmendOptions<'_>,
    force: bool,
) -> Result<()> {
    let iter_time = options.iter_time.unwrap_or(DEFAULT_ITER_TIME_MS);
    let Some(new_secret) = options.new_secret else {
        return Err(invalid(
            "'new-secret' is required to activate a keyslot".into(),
        ));
    };
    if options.old_secret.is_some() {
        return Err(invalid(
            "'old-secret' must not be given when activating keyslots".into(),
        ));
    }
    let index = match options.keyslot {
        Some(k) => slot_index(k).ok_or_else(|| {
            // QEMU prints the slot with %u here.
            invalid(format!(
                "Invalid keyslot {} specified, must be between 0 and {}",
                k as u32,
                NUM_KEY_SLOTS - 1
            ))
        })?,
        None => luks
            .header
            .key_slots
            .iter()
            .position(|slot| !slot.is_active())
            .ok_or_else(|| invalid("Can't add a keyslot - all keyslots are in use".into()))?,
    };
    if !force && luks.header.key_slots[index].is_active() {
        return Err(invalid(format!(
            "Refusing to overwrite active keyslot {index} - please erase it first"
        )));
    }
    let old = match options.secret {
        Some(secret) => secret.utf8()?,
        None => luks
            .passphrase
            .as_deref()
            .map(String::as_str)
            .ok_or_else(|| invalid("'secret' is required to unlock the volume".into()))?,
    };
    let master_key = find_key(&luks.header, &luks.spec, old.as_bytes(), io)?;
    let new = new_secret.utf8()?;
    let mut header = luks.header.clone();
    store_key(
        &mut header,
        &luks.spec,
        index,
        new.as_bytes(),
        &master_key,
        iter_time,
        io,
    )?;
    luks.header = header;
    Ok(())
}

fn erase_keyslots(
    luks: &mut Luks,
    io: &mut dyn HeaderIo,
    options: &LuksAmendOptions<'_>,
    force: bool,
) -> Result<()> {
    if options.new_secret.is_some() {
        return Err(invalid(
            "'new-secret' must not be given when erasing keyslots".into(),
        ));
    }
    if options.iter_time.is_some() {
        return Err(invalid(
            "'iter-time' must not be given when erasing keyslots".into(),
        ));
    }
    if options.secret.is_some() {
        return Err(invalid(
            "'secret' must not be given when erasing keyslots".into(),
        ));
    }
    let old = options.old_secret.map(Secret::utf8).transpose()?;
    let active = luks
        .header
        .key_slots
        .iter()
        .filter(|s| s.is_active())
        .count();
    match (options.keyslot, old) {
        (Some(k), old) => {
            let index = slot_index(k).ok_or_else(|| {
                invalid(format!(
                    "Invalid keyslot {k} specified, must be between 0 and {}",
                    NUM_KEY_SLOTS - 1
                ))
            })?;
            if let Some(old) = old {
                if !slot_unlocks(luks, index, old.as_bytes(), io)? {
                    return Err(invalid(format!(
                        "Given keyslot {index} doesn't contain the given old password for erase operation"
                    )));
                }
            }
            if !force && !luks.header.key_slots[index].is_active() {
                // QEMU's message ends with a space.
                return Err(invalid(format!(
                    "Given keyslot {index} is already erased (inactive) "
                )));
            }
            if !force && active == 1 {
                return Err(invalid(format!(
                    "Attempt to erase the only active keyslot {index} which will erase all the data in the image irreversibly - refusing operation"
                )));
            }
            erase_key(luks, index, io)
        }
        (None, Some(old)) => {
            let mut matching = Vec::new();
            for index in 0..NUM_KEY_SLOTS {
                if slot_unlocks(luks, index, old.as_bytes(), io)? {
                    matching.push(index);
                }
            }
            if matching.is_empty() {
                return Err(invalid(
                    "No keyslots match given (old) password for erase operation".into(),
                ));
            }
            if !force && matching.len() == active {
                return Err(invalid("All the active keyslots match the (old) password that was given and erasing them will erase all the data in the image irreversibly - refusing operation".into()));
            }
            matching.into_iter().try_for_each(|index| erase_key(luks, index, io))
        }
        (None, None) => Err(invalid("To erase keyslot(s), either explicit keyslot index or the password currently contained in them must be given".into())),
    }
}

/// Slot `k`, if there is one.
fn slot_index(k: i64) -> Option<usize> {
    usize::try_from(k).ok().filter(|&i| i < NUM_KEY_SLOTS)
}

/// Whether `passphrase` unlocks slot `index` (never an inactive one).
fn slot_unlocks(
    luks: &Luks,
    index: usize,
    passphrase: &[u8],
    io: &mut dyn HeaderIo,
) -> Result<bool> {
    let slot = &luks.header.key_slots[index];
    if !slot.is_active() {
        return Ok(false);
    }
    let mut material = Zeroizing::new(vec![0u8; material_len(&luks.header)]);
    io.read(sector_offset(slot.key_offset_sector), &mut material)?;
    Ok(luks_keyslot::unlock(&luks.header, &luks.spec, slot, passphrase, &mut material)?.is_some())
}

/// Passes over erased key material: cryptsetup's and QEMU's count.
const ERASE_PASSES: usize = 40;

/// Marks slot `index` inactive in the header on disk, then overwrites its key
/// material with random bytes [`ERASE_PASSES`] times. A header that could not be
/// written is reported after the material is overwritten all the same, as in QEMU.
fn erase_key(luks: &mut Luks, index: usize, io: &mut dyn HeaderIo) -> Result<()> {
    let slot = &mut luks.header.key_slots[index];
    slot.salt = [0; SALT_LEN];
    slot.iterations = 0;
    slot.active = SLOT_DISABLED;
    let offset = sector_offset(slot.key_offset_sector);
    let stored = io.write(0, &luks.header.to_bytes());
    let mut garbage = Zeroizing::new(vec![0u8; material_len(&luks.header)]);
    for _ in 0..ERASE_PASSES {
        random::fill(&mut garbage)?;
        io.write(offset, &garbage)?;
    }
    stored
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
    Err(invalid(
        "Invalid password, cannot unlock any keyslot".into(),
    ))
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
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

/// The volume's keys: the cipher and IV generator `spec` names, keyed with
/// `master_key`, IVs numbered as `iv_numbering` says.
pub(super) fn keys(
    spec: &Spec,
    master_key: Zeroizing<Vec<u8>>,
    iv_numbering: IvNumbering,
) -> Result<Keys> {
    Keys::new(
        (spec.cipher, spec.mode),
        (spec.ivgen, spec.ivgen_cipher, spec.ivgen_hash),
        master_key,
        iv_numbering,
    )
}

fn block(
    header: Header,
    spec: Spec,
    keys: Option<Keys>,
    passphrase: Option<Zeroizing<String>>,
) -> Block {
    Block {
        kdf_hash: if keys.is_some() {
            spec.hash
        } else {
            HashAlgo::Md5
        },
        keys,
        sector_size: SECTOR_SIZE,
        payload_offset: sector_offset(header.payload_offset_sector),
        header: FormatHeader::Luks(Box::new(Luks {
            header,
            spec,
            passphrase,
        })),
    }
}
