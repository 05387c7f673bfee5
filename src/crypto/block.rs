//! Block encryption (QEMU's `crypto/block.h`): LUKS and legacy qcow volumes.
//!
//! [`Block::open`] and [`Block::create`] read and write a volume's header through
//! the caller's functions, as QEMU's do; [`Block::encrypt`] and [`Block::decrypt`]
//! then work on payload sectors in place, from any number of threads at once: each
//! takes a cipher of its own from a pool, so throughput scales with threads.
//!
//! ```
//! use qio::crypto::block::{
//!     Block, BlockFormat, CreateOptions, HeaderIo, LuksCreateOptions, OpenFlags, OpenOptions,
//! };
//! use qio::crypto::secret::{Secret, SecretFormat, SecretSource};
//!
//! /// A header kept in memory; an image file would read and write at these offsets.
//! struct Memory(Vec<u8>);
//!
//! impl HeaderIo for Memory {
//!     fn read(&mut self, offset: u64, buf: &mut [u8]) -> qio::Result<()> {
//!         let start = offset as usize;
//!         buf.copy_from_slice(&self.0[start..start + buf.len()]);
//!         Ok(())
//!     }
//!     fn init(&mut self, len: u64) -> qio::Result<()> {
//!         self.0.resize(len as usize, 0);
//!         Ok(())
//!     }
//!     fn write(&mut self, offset: u64, buf: &[u8]) -> qio::Result<()> {
//!         let start = offset as usize;
//!         self.0[start..start + buf.len()].copy_from_slice(buf);
//!         Ok(())
//!     }
//! }
//!
//! let secret = Secret::new(SecretSource::Data(b"s3cret"), SecretFormat::Raw, None)?;
//! let mut header = Memory(Vec::new());
//! let options = CreateOptions::Luks(LuksCreateOptions {
//!     key_secret: Some(&secret),
//!     iter_time: Some(10), // milliseconds of PBKDF2 per unlock; QEMU's default is 2000
//!     ..Default::default()
//! });
//! let volume = Block::create(&options, None, &mut header, false)?;
//! let mut sector = [7u8; 512];
//! volume.encrypt(0, &mut sector)?;
//!
//! let unlock = OpenOptions { key_secret: Some(&secret) };
//! let reopened = Block::open(BlockFormat::Luks, &unlock, None, &mut header, OpenFlags::default())?;
//! reopened.decrypt(0, &mut sector)?;
//! assert_eq!(sector, [7u8; 512]);
//! # Ok::<(), qio::Error>(())
//! ```

pub mod luks;
pub mod luks2;
pub mod luks2_header;
pub mod luks2_keyslot;
pub mod luks2_metadata;
#[cfg(test)]
mod luks2_writer;
pub mod luks_header;
pub mod luks_keyslot;
mod qcow;
pub mod sectors;

use std::sync::{Mutex, PoisonError};

use zeroize::Zeroizing;

use crate::crypto::cipher::{Cipher, CipherAlgo, CipherMode};
use crate::crypto::hash::HashAlgo;
use crate::crypto::ivgen::{IvGen, IvGenAlgo};
use crate::crypto::secret::Secret;
use crate::qapi::qapi_enum;
use crate::{Error, ErrorKind, Result};
use sectors::{IvNumbering, SectorCipher};

qapi_enum! {
    /// An encryption format (QEMU's `QCryptoBlockFormat`).
    pub enum BlockFormat, error = "Unknown block format {}" {
        /// QCow's legacy AES-128-CBC, keyed with the passphrase itself.
        Qcow = 0 => "qcow",
        /// LUKS (cryptsetup's format): LUKS1, which qio also creates, and LUKS2, which
        /// it opens.
        Luks = 1 => "luks",
    }
}

/// How to open a volume (QEMU's `QCryptoBlockOpenOptions`; the secret is the object
/// itself, not its id).
#[derive(Clone, Copy, Default)]
pub struct OpenOptions<'a> {
    /// The passphrase; not needed with [`OpenFlags::no_io`].
    pub key_secret: Option<&'a Secret>,
}

/// What [`Block::open`] may skip or accept (QEMU's `QCRYPTO_BLOCK_OPEN_*`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OpenFlags {
    /// Read and check the header only: no passphrase, no payload I/O.
    pub no_io: bool,
    /// The header is apart from the payload (a LUKS detached header).
    pub detached: bool,
}

/// How to create a LUKS volume (QEMU's `QCryptoBlockCreateOptionsLUKS`): `None`
/// takes QEMU's default.
#[derive(Clone, Copy, Default)]
pub struct LuksCreateOptions<'a> {
    pub key_secret: Option<&'a Secret>,
    /// aes-256 by default.
    pub cipher_alg: Option<CipherAlgo>,
    /// XTS by default.
    pub cipher_mode: Option<CipherMode>,
    /// plain64 by default.
    pub ivgen_alg: Option<IvGenAlgo>,
    /// sha256 by default with ESSIV; otherwise named in the header only if given.
    pub ivgen_hash_alg: Option<HashAlgo>,
    /// sha256 by default: PBKDF2's and the anti-forensic splitter's hash.
    pub hash_alg: Option<HashAlgo>,
    /// Milliseconds of PBKDF2 per unlock, 2000 by default.
    pub iter_time: Option<u64>,
}

/// How to create a volume (QEMU's `QCryptoBlockCreateOptions`).
#[derive(Clone, Copy)]
pub enum CreateOptions<'a> {
    Qcow { key_secret: Option<&'a Secret> },
    Luks(LuksCreateOptions<'a>),
}

/// How to change a volume's key slots (QEMU's `QCryptoBlockAmendOptions`): only LUKS
/// has any.
#[derive(Clone, Copy)]
pub enum AmendOptions<'a> {
    Luks(luks::LuksAmendOptions<'a>),
}

/// The caller's side of a volume's header: where [`Block::open`] reads it and
/// [`Block::create`] writes it (QEMU's `QCryptoBlockReadFunc`, `InitFunc` and
/// `WriteFunc`). Offsets are from the header's start.
pub trait HeaderIo {
    /// Fills `buf` with the bytes at `offset`.
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<()>;
    /// Makes room for a header of `len` bytes, before anything is written.
    fn init(&mut self, len: u64) -> Result<()>;
    /// Writes `buf` at `offset`.
    fn write(&mut self, offset: u64, buf: &[u8]) -> Result<()>;
}

/// The algorithms of an unlocked volume and its master key, from which each thread's
/// cipher is made.
struct Keys {
    cipher: CipherAlgo,
    mode: CipherMode,
    ivgen: IvGenAlgo,
    ivgen_cipher: CipherAlgo,
    ivgen_hash: HashAlgo,
    master_key: Zeroizing<Vec<u8>>,
    iv_numbering: IvNumbering,
    /// Ciphers not in use; one more is made whenever all are.
    pool: Mutex<Vec<SectorCipher>>,
}

impl Keys {
    /// The keys, with one cipher made at once so that a bad key fails here.
    fn new(
        (cipher, mode): (CipherAlgo, CipherMode),
        (ivgen, ivgen_cipher, ivgen_hash): (IvGenAlgo, CipherAlgo, HashAlgo),
        master_key: Zeroizing<Vec<u8>>,
        iv_numbering: IvNumbering,
    ) -> Result<Keys> {
        let keys = Keys {
            cipher,
            mode,
            ivgen,
            ivgen_cipher,
            ivgen_hash,
            master_key,
            iv_numbering,
            pool: Mutex::new(Vec::new()),
        };
        let first = keys.make()?;
        keys.put(first);
        Ok(keys)
    }

    fn make(&self) -> Result<SectorCipher> {
        let (cipher, ivgen) = self.parts()?;
        Ok(SectorCipher::new(cipher, ivgen).with_iv_numbering(self.iv_numbering))
    }

    fn parts(&self) -> Result<(Cipher, IvGen)> {
        let cipher = Cipher::new(self.cipher, self.mode, &self.master_key)?;
        let ivgen = IvGen::new(
            self.ivgen,
            self.ivgen_cipher,
            self.ivgen_hash,
            &self.master_key,
        )?;
        Ok((cipher, ivgen))
    }

    fn take(&self) -> Result<SectorCipher> {
        let free = self
            .pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        free.map_or_else(|| self.make(), Ok)
    }

    fn put(&self, cipher: SectorCipher) {
        self.pool
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(cipher);
    }
}

/// What a volume keeps of its header, for information and amendment.
enum FormatHeader {
    /// QCow's encryption has no header.
    Qcow,
    Luks(Box<luks::Luks>),
    Luks2(Box<luks2::Luks2>),
}

/// An open volume (QEMU's `QCryptoBlock`).
pub struct Block {
    header: FormatHeader,
    /// `None` when opened with [`OpenFlags::no_io`].
    keys: Option<Keys>,
    kdf_hash: HashAlgo,
    sector_size: u32,
    payload_offset: u64,
}

impl Block {
    /// Whether `buf`, a volume's first bytes, holds a header of `format` (never for
    /// qcow, whose encryption has no header of its own).
    pub fn has_format(format: BlockFormat, buf: &[u8]) -> bool {
        match format {
            BlockFormat::Qcow => false,
            BlockFormat::Luks => luks::has_format(buf),
        }
    }

    /// Opens a volume of `format` whose header `io` reads: unlocks it with the
    /// passphrase of `options` unless `flags` say `no_io`. `optprefix` prefixes option
    /// names in messages (QEMU's "encrypt." for qcow2).
    pub fn open(
        format: BlockFormat,
        options: &OpenOptions<'_>,
        optprefix: Option<&str>,
        io: &mut dyn HeaderIo,
        flags: OpenFlags,
    ) -> Result<Block> {
        match format {
            BlockFormat::Qcow => qcow::open(options, optprefix, flags),
            BlockFormat::Luks => luks::open(options, optprefix, io, flags),
        }
    }

    /// Creates a volume as `options` say, writing its header through `io`, which a
    /// `detached` header is written to alone (the payload elsewhere, from offset 0).
    pub fn create(
        options: &CreateOptions<'_>,
        optprefix: Option<&str>,
        io: &mut dyn HeaderIo,
        detached: bool,
    ) -> Result<Block> {
        match options {
            CreateOptions::Qcow { key_secret } => qcow::create(*key_secret, optprefix),
            CreateOptions::Luks(luks) => luks::create(luks, optprefix, io, detached),
        }
    }

    /// The bytes a volume created with `options` reserves for its header and key
    /// material, where an attached payload starts (0 for qcow); the options are
    /// checked as [`Block::create`] checks them, but no key is derived.
    pub fn payload_offset_for(options: &CreateOptions<'_>, optprefix: Option<&str>) -> Result<u64> {
        match options {
            CreateOptions::Qcow { key_secret } => {
                passphrase(*key_secret, optprefix)?;
                Ok(0)
            }
            CreateOptions::Luks(luks) => luks::header_len(luks, optprefix),
        }
    }

    /// The volume's format.
    pub fn format(&self) -> BlockFormat {
        match self.header {
            FormatHeader::Qcow => BlockFormat::Qcow,
            FormatHeader::Luks(_) | FormatHeader::Luks2(_) => BlockFormat::Luks,
        }
    }

    /// The hash that derives keys from passphrases (MD5, QEMU's 0, for qcow).
    pub fn kdf_hash(&self) -> HashAlgo {
        self.kdf_hash
    }

    /// The payload's sector size in bytes.
    pub fn sector_size(&self) -> u32 {
        self.sector_size
    }

    /// Where the payload starts, in bytes: from the header's start, or for a
    /// detached header from the payload file's start (as the header records it:
    /// usually 0).
    pub fn payload_offset(&self) -> u64 {
        self.payload_offset
    }

    /// The payload's cipher algorithm and mode, `None` when opened without I/O.
    pub fn cipher(&self) -> Option<(CipherAlgo, CipherMode)> {
        self.keys.as_ref().map(|k| (k.cipher, k.mode))
    }

    /// The payload's IV generator, its cipher and hash; `None` when opened without I/O.
    pub fn ivgen(&self) -> Option<(IvGenAlgo, CipherAlgo, HashAlgo)> {
        self.keys
            .as_ref()
            .map(|k| (k.ivgen, k.ivgen_cipher, k.ivgen_hash))
    }

    /// A cipher and an IV generator of the caller's own, keyed with the volume's
    /// master key, for code that works on sectors itself (what QEMU's
    /// `qcrypto_block_get_cipher` and `_get_ivgen` lend); `None` when opened without
    /// I/O.
    pub fn new_cipher(&self) -> Option<Result<(Cipher, IvGen)>> {
        self.keys.as_ref().map(Keys::parts)
    }

    /// The LUKS1 header's details, for a LUKS1 volume.
    pub fn luks(&self) -> Option<&luks::Luks> {
        match &self.header {
            FormatHeader::Luks(luks) => Some(luks),
            _ => None,
        }
    }

    /// What QEMU's `qcrypto_block_get_info` reports of a LUKS1 or LUKS2 volume.
    pub fn luks_info(&self) -> Option<luks::LuksInfo> {
        match &self.header {
            FormatHeader::Qcow => None,
            FormatHeader::Luks(luks) => Some(luks.info()),
            FormatHeader::Luks2(luks2) => Some(luks2.info()),
        }
    }

    /// Changes the volume's key slots as `options` say (QEMU's
    /// `qcrypto_block_amend_options`), reading and writing the header through `io`.
    pub fn amend(
        &mut self,
        io: &mut dyn HeaderIo,
        options: &AmendOptions<'_>,
        force: bool,
    ) -> Result<()> {
        let AmendOptions::Luks(luks_options) = options;
        match &mut self.header {
            FormatHeader::Luks(luks) => luks::amend(luks, io, luks_options, force),
            FormatHeader::Luks2(_) => Err(Error::new(
                ErrorKind::NotSupported,
                "Amending LUKS2 volumes is not supported",
            )),
            FormatHeader::Qcow => Err(Error::new(
                ErrorKind::InvalidArgument,
                "Cannot amend encryption format",
            )),
        }
    }

    /// Encrypts payload sectors in place: `offset` (from the payload's start) and
    /// `buf`'s length are whole sectors of [`Block::sector_size`].
    pub fn encrypt(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.with_cipher(offset, buf, SectorCipher::encrypt)
    }

    /// Decrypts payload sectors in place, as [`Block::encrypt`] takes them.
    pub fn decrypt(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.with_cipher(offset, buf, SectorCipher::decrypt)
    }

    fn with_cipher(
        &self,
        offset: u64,
        buf: &mut [u8],
        op: fn(&mut SectorCipher, u64, usize, &mut [u8]) -> Result<()>,
    ) -> Result<()> {
        let size = u64::from(self.sector_size);
        if !offset.is_multiple_of(size) || !(buf.len() as u64).is_multiple_of(size) {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                format!(
                    "Offset {offset} and length {} must be multiples of the sector size {size}",
                    buf.len()
                ),
            ));
        }
        let keys = self.keys.as_ref().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                "The block was opened without I/O: it has no keys",
            )
        })?;
        let mut cipher = keys.take()?;
        let result = op(&mut cipher, offset / size, self.sector_size as usize, buf);
        keys.put(cipher);
        result
    }
}

/// The passphrase of `secret` as text; QEMU's message when there is none.
fn passphrase<'a>(secret: Option<&'a Secret>, optprefix: Option<&str>) -> Result<&'a str> {
    let secret = secret.ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "Parameter '{}key-secret' is required for cipher",
                optprefix.unwrap_or("")
            ),
        )
    })?;
    secret.utf8()
}

#[cfg(test)]
mod tests;
