//! A LUKS2 header area of hostile bytes, opened through `Block::open` without I/O
//! (attached and detached): nothing panics, and what opens keeps its areas and
//! payload where the metadata checks put them. Cheap keyslots are also unlocked with
//! a passphrase, to reach the KDFs, the key material and the digest.
//!
//! The first input byte chooses how the rest is used. Bit 0 clear: the rest is the
//! header area itself, whose checksum random bytes rarely match. Bit 0 set: byte 1
//! picks the checksum hash, byte 2 the copies' size, and the rest is the JSON
//! metadata, written into both copies under a valid checksum (bit 2 drops the
//! second copy, bit 3 spoils the first one's checksum, bit 4 makes the second copy
//! the newer one). Bit 1 opens the header as detached.

#![no_main]

use libfuzzer_sys::fuzz_target;
use qio::crypto::block::luks2_header::{self, checksum, BINARY_LEN, HEADER_SIZES};
use qio::crypto::block::luks2_metadata::{Kdf, Metadata};
use qio::crypto::block::{Block, BlockFormat, HeaderIo, OpenFlags, OpenOptions};
use qio::crypto::hash::HashAlgo;
use qio::crypto::secret::{Secret, SecretFormat, SecretSource};
use qio::{Error, ErrorKind, Result};

/// The keyslots area the image holds after the two copies: room for the key
/// material of one 32-byte key.
const KEYSLOTS_ROOM: usize = 128 << 10;

struct Image(Vec<u8>);

impl HeaderIo for Image {
    fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let start = usize::try_from(offset).unwrap_or(usize::MAX);
        let bytes = self
            .0
            .get(start..start.saturating_add(buf.len()))
            .ok_or_else(|| Error::new(ErrorKind::Failed, "Read past the end"))?;
        buf.copy_from_slice(bytes);
        Ok(())
    }

    fn init(&mut self, _len: u64) -> Result<()> {
        panic!("the LUKS2 reader wrote")
    }

    fn write(&mut self, _offset: u64, _buf: &[u8]) -> Result<()> {
        panic!("the LUKS2 reader wrote")
    }
}

/// A header copy at `offset` of `hdr_size` bytes holding `json`, its checksum by
/// `alg` (`None`: a name the crate lacks).
fn copy(json: &[u8], hdr_size: u64, offset: u64, seqid: u64, alg: Option<HashAlgo>) -> Vec<u8> {
    let mut binary = [0u8; BINARY_LEN];
    binary[..6].copy_from_slice(if offset == 0 {
        b"LUKS\xba\xbe"
    } else {
        b"SKUL\xba\xbe"
    });
    binary[6..8].copy_from_slice(&2u16.to_be_bytes());
    binary[8..16].copy_from_slice(&hdr_size.to_be_bytes());
    binary[16..24].copy_from_slice(&seqid.to_be_bytes());
    let name = alg.map_or("whirlpool", HashAlgo::name);
    binary[72..72 + name.len()].copy_from_slice(name.as_bytes());
    binary[256..264].copy_from_slice(&offset.to_be_bytes());
    let mut area = vec![0u8; hdr_size as usize - BINARY_LEN];
    let n = json.len().min(area.len());
    area[..n].copy_from_slice(&json[..n]);
    if let Some(alg) = alg {
        let sum = checksum(alg, &binary, &area).unwrap();
        binary[448..448 + sum.len()].copy_from_slice(&sum);
    }
    [&binary[..], &area].concat()
}

fn image(input: &[u8]) -> Vec<u8> {
    let flags = input[0];
    if flags & 1 == 0 {
        let mut image = input[1..].to_vec();
        image.resize(image.len().max(2 * HEADER_SIZES[0] as usize), 0);
        return image;
    }
    let (Some(&alg), Some(&size), Some(json)) = (input.get(1), input.get(2), input.get(3..)) else {
        return Vec::new();
    };
    let algs = [
        HashAlgo::Sha256,
        HashAlgo::Sha1,
        HashAlgo::Sha512,
        HashAlgo::Sha224,
        HashAlgo::Sha384,
        HashAlgo::Md5,
        HashAlgo::Ripemd160,
        HashAlgo::Sm3,
    ];
    let alg = algs.get(usize::from(alg) % 9).copied();
    // The three smallest sizes: larger ones only cost time.
    let hdr_size = HEADER_SIZES[usize::from(size) % 3];
    let second_seqid = if flags & 16 != 0 { 2 } else { 1 };
    let mut image = copy(json, hdr_size, 0, 1, alg);
    if flags & 8 != 0 {
        image[448] ^= 1;
    }
    if flags & 4 == 0 {
        image.extend(copy(json, hdr_size, hdr_size, second_seqid, alg));
    }
    image.resize(2 * hdr_size as usize + KEYSLOTS_ROOM, 0);
    image
}

/// What a header that opened must hold, whatever it was made of.
fn check(metadata: &Metadata, hdr_size: u64, block: &Block, detached: bool) {
    let keyslots_end = 2 * hdr_size + metadata.config.keyslots_size;
    for slot in &metadata.keyslots {
        assert!(slot.area.offset >= 2 * hdr_size);
        assert!(slot.area.offset + slot.area.size <= keyslots_end);
        assert!(slot.key_size as u64 * 4000 <= slot.area.size);
    }
    let sector_size = block.sector_size();
    assert!(matches!(sector_size, 512 | 1024 | 2048 | 4096));
    assert_eq!(block.payload_offset() % u64::from(sector_size), 0);
    assert!(block.payload_offset() >= keyslots_end || (detached && block.payload_offset() == 0));
    assert_eq!(block.luks_info().unwrap().version, 2);
}

/// Whether unlocking `metadata` costs little enough to try on every input.
fn cheap(metadata: &Metadata) -> bool {
    let digest = metadata.segment_digest();
    digest.iterations <= 16
        && metadata.keyslots.iter().all(|slot| {
            slot.key_size <= 64
                && match slot.kdf {
                    Kdf::Pbkdf2 { iterations, .. } => iterations <= 16,
                    Kdf::Argon2 { time, memory, .. } => time <= 4 && memory <= 64,
                }
        })
}

fuzz_target!(|input: &[u8]| {
    let Some(&flags) = input.first() else { return };
    let mut io = Image(image(input));
    let detached = flags & 2 != 0;
    let open_flags = OpenFlags {
        no_io: true,
        detached,
    };
    let opened = Block::open(
        BlockFormat::Luks,
        &OpenOptions::default(),
        None,
        &mut io,
        open_flags,
    );
    let header = luks2_header::read(&mut io);
    let (block, header) = match (opened, header) {
        // Raw bytes may well make a LUKS1 header.
        (Ok(block), _) if block.luks().is_some() => return,
        (Ok(block), Ok(header)) => (block, header),
        (Ok(_), Err(e)) => panic!("opened a header the reader refuses: {}", e.message()),
        _ => return,
    };
    check(&header.metadata, header.binary.hdr_size, &block, detached);
    if cheap(&header.metadata) {
        let secret = Secret::new(SecretSource::Data(b"pw"), SecretFormat::Raw, None).unwrap();
        let options = OpenOptions {
            key_secret: Some(&secret),
        };
        let open_flags = OpenFlags {
            no_io: false,
            detached,
        };
        if let Ok(block) = Block::open(BlockFormat::Luks, &options, None, &mut io, open_flags) {
            check(&header.metadata, header.binary.hdr_size, &block, detached);
        }
    }
});
