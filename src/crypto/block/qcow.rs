//! QCow's legacy encryption (QEMU's `crypto/block-qcow.c`): AES-128-CBC with plain64
//! IVs, keyed with the passphrase's first 16 bytes (zero-padded), no header of its
//! own. Weak, and kept only to read and write old images.

use zeroize::Zeroizing;

use super::{passphrase, Block, FormatHeader, Keys, OpenFlags, OpenOptions};
use crate::crypto::cipher::{CipherAlgo, CipherMode};
use crate::crypto::hash::HashAlgo;
use crate::crypto::ivgen::IvGenAlgo;
use crate::crypto::secret::Secret;
use crate::Result;

const SECTOR_SIZE: u32 = 512;

pub(super) fn open(
    options: &OpenOptions<'_>,
    optprefix: Option<&str>,
    flags: OpenFlags,
) -> Result<Block> {
    let keys = match flags.no_io {
        true => None,
        false => Some(keys(options.key_secret, optprefix)?),
    };
    Ok(block(keys))
}

pub(super) fn create(key_secret: Option<&Secret>, optprefix: Option<&str>) -> Result<Block> {
    Ok(block(Some(keys(key_secret, optprefix)?)))
}

fn keys(secret: Option<&Secret>, optprefix: Option<&str>) -> Result<Keys> {
    let passphrase = passphrase(secret, optprefix)?.as_bytes();
    let mut key = Zeroizing::new(vec![0u8; CipherAlgo::Aes128.key_len()]);
    let n = passphrase.len().min(key.len());
    key[..n].copy_from_slice(&passphrase[..n]);
    Keys::new(
        (CipherAlgo::Aes128, CipherMode::Cbc),
        (IvGenAlgo::Plain64, CipherAlgo::Aes128, HashAlgo::Md5),
        key,
        Default::default(),
    )
}

fn block(keys: Option<Keys>) -> Block {
    Block {
        header: FormatHeader::Qcow,
        keys,
        kdf_hash: HashAlgo::Md5,
        sector_size: SECTOR_SIZE,
        payload_offset: 0,
    }
}
