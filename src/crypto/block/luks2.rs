//! LUKS2 volumes, which QEMU refuses and qio opens (it neither creates nor amends
//! them): the header copy cryptsetup would use, keyslots tried in cryptsetup's order,
//! and the payload decrypted as dm-crypt maps cryptsetup's segment, IVs counting
//! 512-byte units from `iv_tweak` whatever the sector size.

use zeroize::Zeroizing;

use super::luks::{keys, LuksInfo, LuksSlotInfo};
use super::luks2_header::{self, Header};
use super::luks2_keyslot::{self, material_len};
use super::luks2_metadata::{Kdf, Metadata};
use super::luks_header::STRIPES;
use super::sectors::IvNumbering;
use super::{Block, FormatHeader, HeaderIo, OpenFlags};
use crate::crypto::hash::HashAlgo;
use crate::crypto::ivgen::IvGenAlgo;
use crate::{Error, ErrorKind, Result};

/// What a LUKS2 volume keeps of its header.
pub struct Luks2 {
    header: Header,
    detached: bool,
}

impl Luks2 {
    /// The header copy in use.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// [`LuksInfo`] from the metadata: segment 0's algorithms, its digest's hash and
    /// iterations, and a slot for each keyslot id up to the highest (Argon2's time
    /// cost as its iterations).
    pub fn info(&self) -> LuksInfo {
        let metadata = &self.header.metadata;
        let segment = &metadata.segment;
        let digest = metadata.segment_digest();
        let slot_count = metadata.keyslots.last().map_or(0, |k| k.id + 1);
        let slots = (0..slot_count)
            .map(|id| match metadata.keyslots.iter().find(|k| k.id == id) {
                Some(slot) => LuksSlotInfo {
                    active: true,
                    iters: Some(match slot.kdf {
                        Kdf::Pbkdf2 { iterations, .. } => iterations,
                        Kdf::Argon2 { time, .. } => time,
                    }),
                    stripes: Some(STRIPES),
                    key_offset: slot.area.offset,
                },
                None => LuksSlotInfo {
                    active: false,
                    iters: None,
                    stripes: None,
                    key_offset: 0,
                },
            })
            .collect();
        LuksInfo {
            version: 2,
            cipher_alg: segment.spec.cipher,
            cipher_mode: segment.spec.mode,
            ivgen_alg: segment.spec.ivgen,
            ivgen_hash_alg: (segment.spec.ivgen == IvGenAlgo::Essiv)
                .then_some(segment.spec.ivgen_hash),
            hash_alg: digest.hash,
            detached_header: self.detached,
            payload_offset: segment.offset,
            master_key_iters: digest.iterations,
            uuid: self.header.binary.uuid.clone(),
            slots,
        }
    }
}

/// Opens the LUKS2 volume whose header `io` reads, unlocking it with `passphrase`
/// unless there is none (`no_io`). Its payload starts at segment 0's offset, which
/// for an attached header must be past the keyslots.
pub(super) fn open(
    passphrase: Option<&str>,
    io: &mut dyn HeaderIo,
    flags: OpenFlags,
) -> Result<Block> {
    let header = luks2_header::read(io)?;
    let segment = &header.metadata.segment;
    if !flags.detached && segment.offset == 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "LUKS payload is overlapping with the header",
        ));
    }
    let keys = match passphrase {
        None => None,
        Some(passphrase) => {
            let key = find_key(&header.metadata, passphrase.as_bytes(), io)?;
            let numbering = IvNumbering {
                offset: segment.iv_tweak,
                shift: (segment.sector_size / 512).trailing_zeros(),
            };
            Some(keys(&segment.spec, key, numbering)?)
        }
    };
    let kdf_hash = match keys {
        Some(_) => header.metadata.segment_digest().hash,
        None => HashAlgo::Md5,
    };
    Ok(Block {
        kdf_hash,
        keys,
        sector_size: segment.sector_size,
        payload_offset: segment.offset,
        header: FormatHeader::Luks2(Box::new(Luks2 {
            header,
            detached: flags.detached,
        })),
    })
}

/// The volume key the first keyslot `passphrase` unlocks holds, trying keyslots in
/// cryptsetup's order.
fn find_key(
    metadata: &Metadata,
    passphrase: &[u8],
    io: &mut dyn HeaderIo,
) -> Result<Zeroizing<Vec<u8>>> {
    let digest = metadata.segment_digest();
    for slot in metadata.unlock_order() {
        let mut material = Zeroizing::new(vec![0u8; material_len(slot)]);
        io.read(slot.area.offset, &mut material)?;
        if let Some(key) = luks2_keyslot::unlock(slot, digest, passphrase, &mut material)? {
            return Ok(key);
        }
    }
    Err(Error::new(
        ErrorKind::InvalidArgument,
        "Invalid password, cannot unlock any keyslot",
    ))
}

#[cfg(test)]
mod tests;
