//! The LUKS2 binary header as cryptsetup writes it: two copies, each 4096 big-endian
//! bytes followed by a JSON metadata area, both covered by the copy's checksum.
//!
//! [`read`] picks the copy cryptsetup would: the valid one, or of two valid ones the
//! one with the higher sequence number (the first on a tie). The second copy is looked
//! for where the first says it is, or, when the first is unreadable, at every place it
//! may be. Nothing is repaired: the reader never writes.

use super::luks2_metadata::Metadata;
use super::luks_header::{text, MAGIC};
use super::HeaderIo;
use crate::crypto::hash::{Hash, HashAlgo};
use crate::{Error, ErrorKind, Result};

/// The second copy's magic.
pub const SECONDARY_MAGIC: [u8; 6] = *b"SKUL\xba\xbe";
/// The binary header's length; its JSON area follows.
pub const BINARY_LEN: usize = 4096;
/// The sizes a copy (binary header and JSON area) may have, 16 KiB to 4 MiB, which
/// are also the places the second copy may start.
pub const HEADER_SIZES: [u64; 9] = [
    0x4000, 0x8000, 0x10000, 0x20000, 0x40000, 0x80000, 0x100000, 0x200000, 0x400000,
];
/// Where the checksum is in the binary header, and its room.
const CSUM_OFFSET: usize = 448;
const CSUM_LEN: usize = 64;

/// A copy's binary header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BinaryHeader {
    /// The copy's size, binary header and JSON area: one of [`HEADER_SIZES`].
    pub hdr_size: u64,
    /// Incremented on every metadata write.
    pub seqid: u64,
    pub label: String,
    /// The hash of the checksum.
    pub checksum_alg: HashAlgo,
    pub uuid: String,
    pub subsystem: String,
    /// Where the copy is, in bytes from the first copy's start.
    pub hdr_offset: u64,
}

/// A valid copy of the header.
#[derive(Clone, Debug)]
pub struct Header {
    pub binary: BinaryHeader,
    pub metadata: Metadata,
}

/// How reading a copy went (cryptsetup's `HDR_OK`, `HDR_OBSOLETE` and `HDR_FAIL`).
enum Copy {
    Valid(Header),
    /// The checksum matches, the metadata is refused; the copy's size is known.
    BadMetadata(u64, Error),
    Invalid(Error),
}

/// The copy of the header cryptsetup would use; when there is none, why the first
/// copy is refused.
pub fn read(io: &mut dyn HeaderIo) -> Result<Header> {
    let first = read_copy(io, 0);
    let mut valid_at = |offset| match read_copy(io, offset) {
        Copy::Valid(header) => Some(header),
        _ => None,
    };
    match first {
        Copy::Valid(first) => Ok(match valid_at(first.binary.hdr_size) {
            Some(second) if second.binary.seqid > first.binary.seqid => second,
            _ => first,
        }),
        Copy::BadMetadata(hdr_size, error) => valid_at(hdr_size).ok_or(error),
        Copy::Invalid(error) => HEADER_SIZES.into_iter().find_map(valid_at).ok_or(error),
    }
}

/// The copy at `offset` (0 for the first), checked.
fn read_copy(io: &mut dyn HeaderIo, offset: u64) -> Copy {
    let checked = (|| {
        let mut bytes = [0u8; BINARY_LEN];
        io.read(offset, &mut bytes)?;
        let binary = BinaryHeader::parse(&bytes, offset)?;
        let mut json = vec![0u8; json_len(binary.hdr_size)];
        io.read(offset + BINARY_LEN as u64, &mut json)?;
        let sum = checksum(binary.checksum_alg, &bytes, &json)?;
        if bytes[CSUM_OFFSET..CSUM_OFFSET + sum.len()] != sum[..] {
            return Err(invalid("LUKS2 header checksum does not match".into()));
        }
        Ok((binary, json))
    })();
    match checked {
        Err(error) => Copy::Invalid(error),
        Ok((binary, json)) => match Metadata::parse(&json, binary.hdr_size) {
            Ok(metadata) => Copy::Valid(Header { binary, metadata }),
            Err(error) => Copy::BadMetadata(binary.hdr_size, error),
        },
    }
}

/// The length of the JSON area of a copy of `hdr_size` bytes.
pub fn json_len(hdr_size: u64) -> usize {
    (hdr_size - BINARY_LEN as u64) as usize
}

/// The checksum a copy carries: `alg` over its binary header with the checksum field
/// zeroed, then its whole JSON area.
pub fn checksum(alg: HashAlgo, binary: &[u8; BINARY_LEN], json: &[u8]) -> Result<Vec<u8>> {
    let mut zeroed = *binary;
    zeroed[CSUM_OFFSET..CSUM_OFFSET + CSUM_LEN].fill(0);
    let mut hash = Hash::new(alg)?;
    hash.update(&zeroed)?;
    hash.update(json)?;
    Ok(hash.finalize())
}

impl BinaryHeader {
    /// The binary header `bytes` read at `offset` hold, with cryptsetup's checks
    /// before the checksum: the magic of the copy, version 2, one of the sizes, the
    /// copy where it says it is (the second one at the first's size).
    pub fn parse(bytes: &[u8; BINARY_LEN], offset: u64) -> Result<BinaryHeader> {
        let u64_at = |at: usize| u64::from_be_bytes(bytes[at..at + 8].try_into().expect("8"));
        let magic = if offset == 0 { MAGIC } else { SECONDARY_MAGIC };
        if bytes[..6] != magic {
            return Err(invalid("Volume is not in LUKS format".into()));
        }
        let version = u16::from_be_bytes([bytes[6], bytes[7]]);
        if version != 2 {
            return Err(invalid(format!("LUKS version {version} is not supported")));
        }
        let hdr_size = u64_at(8);
        if !HEADER_SIZES.contains(&hdr_size) {
            return Err(invalid(format!(
                "LUKS2 header size {hdr_size} is not valid"
            )));
        }
        let hdr_offset = u64_at(256);
        if hdr_offset != offset || (offset != 0 && offset != hdr_size) {
            return Err(invalid(format!(
                "LUKS2 header at offset {offset} says it is at {hdr_offset} with size {hdr_size}"
            )));
        }
        let alg_field = &bytes[72..104];
        if !alg_field.contains(&0) {
            return Err(invalid(
                "LUKS2 header checksum algorithm is not NUL terminated".into(),
            ));
        }
        let alg_name = text(alg_field);
        let checksum_alg = HashAlgo::from_name(&alg_name).ok_or_else(|| {
            invalid(format!(
                "LUKS2 header checksum algorithm '{alg_name}' not supported"
            ))
        })?;
        Ok(BinaryHeader {
            hdr_size,
            seqid: u64_at(16),
            // cryptsetup ends the label at its last byte whatever it is.
            label: text(&bytes[24..71]),
            checksum_alg,
            uuid: text(&bytes[168..208]),
            subsystem: text(&bytes[208..255]),
            hdr_offset,
        })
    }
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

#[cfg(test)]
mod tests;
