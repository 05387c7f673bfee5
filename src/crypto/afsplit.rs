//! The LUKS anti-forensic splitter (QEMU's `crypto/afsplit.h`): a key is stored as
//! `stripes` blocks, all of which are needed to recover it, so that overwriting any
//! part of the key material destroys the key.

use zeroize::Zeroizing;

use super::hash::{Hash, HashAlgo};
use super::random;
use crate::{Error, ErrorKind, Result};

/// Replaces each digest-sized chunk `i` of `block` (the last one possibly shorter) by
/// the start of `H(BE32(i) || chunk)`.
fn diffuse(hash: HashAlgo, block: &mut [u8]) -> Result<()> {
    let mut h = Hash::new(hash)?;
    let mut digest = Zeroizing::new(vec![0u8; hash.digest_len()]);
    for (i, chunk) in block.chunks_mut(hash.digest_len()).enumerate() {
        let index = u32::try_from(i).expect("a block has fewer than 2^32 chunks");
        h.update(&index.to_be_bytes())?;
        h.update(chunk)?;
        h.finalize_into(&mut digest)?;
        chunk.copy_from_slice(&digest[..chunk.len()]);
    }
    Ok(())
}

fn xor_into(acc: &mut [u8], data: &[u8]) {
    acc.iter_mut().zip(data).for_each(|(a, d)| *a ^= d);
}

/// The length of a key of `block_len` bytes split into `stripes` (at least one).
pub fn split_len(block_len: usize, stripes: u32) -> Result<usize> {
    usize::try_from(stripes)
        .ok()
        .filter(|&s| s > 0)
        .and_then(|s| s.checked_mul(block_len))
        .ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidArgument,
                format!("Cannot split {block_len} bytes into {stripes} stripes"),
            )
        })
}

/// Checks that `len` bytes are `stripes` blocks of `block_len` bytes.
fn check(block_len: usize, stripes: u32, len: usize) -> Result<()> {
    if split_len(block_len, stripes)? != len {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("Split data of {len} bytes is not {stripes} stripes of {block_len} bytes"),
        ));
    }
    Ok(())
}

/// Splits `input` (one block) into `out`, `stripes` blocks of `input.len()` bytes: all
/// but the last random, the last `input` XOR the diffusion of the others.
pub fn encode(hash: HashAlgo, stripes: u32, input: &[u8], out: &mut [u8]) -> Result<()> {
    let block_len = input.len();
    check(block_len, stripes, out.len())?;
    let mut block = Zeroizing::new(vec![0u8; block_len]);
    let (random_stripes, last) = out.split_at_mut(out.len() - block_len);
    for stripe in random_stripes.chunks_mut(block_len.max(1)) {
        random::fill(stripe)?;
        xor_into(&mut block, stripe);
        diffuse(hash, &mut block)?;
    }
    last.copy_from_slice(input);
    xor_into(last, &block);
    Ok(())
}

/// Recovers into `out` (one block) the key split into `split`, `stripes` blocks of
/// `out.len()` bytes.
pub fn decode(hash: HashAlgo, stripes: u32, split: &[u8], out: &mut [u8]) -> Result<()> {
    let block_len = out.len();
    check(block_len, stripes, split.len())?;
    let mut block = Zeroizing::new(vec![0u8; block_len]);
    let (stripes, last) = split.split_at(split.len() - block_len);
    for stripe in stripes.chunks(block_len.max(1)) {
        xor_into(&mut block, stripe);
        diffuse(hash, &mut block)?;
    }
    out.copy_from_slice(last);
    xor_into(out, &block);
    Ok(())
}

#[cfg(test)]
mod tests;
