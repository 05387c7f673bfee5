//! MD5 (RFC 1321) for the builtin backend.
//!
//! RustCrypto's `md-5` computes the same function at about 0.83x OpenSSL's speed on
//! x86-64, because LLVM reassociates each step's additions and puts the message word
//! and round constant on the chain that waits for the previous step. Here every step
//! first sums what does not depend on the previous step and hides that sum behind an
//! empty `asm!`, so LLVM cannot fold it back: the chain shrinks to OpenSSL's ~4.5
//! cycles per byte (see bench/README.md). HMAC-MD5 still uses `md-5`.

use zeroize::Zeroize;

use crate::crypto::digest::Driver;
use crate::Result;

const BLOCK: usize = 64;

const INIT: [u32; 4] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476];

/// The constants T[i] = floor(|sin(i + 1)| * 2^32), RFC 1321 section 3.4.
const T: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

/// `x`, unchanged, but opaque to the optimizer (see the module comment).
#[inline(always)]
fn opaque(mut x: u32) -> u32 {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: an empty template: no instruction runs, `x` stays in its register.
    unsafe {
        std::arch::asm!("/* {0:e} */", inout(reg) x, options(pure, nomem, nostack, preserves_flags));
    }
    x
}

/// One MD5 step: `a = b + ((a + X[k] + T[i] + f(b, c, d)) <<< s)`, where the terms that
/// do not involve `b` (the previous step's result) are summed first.
macro_rules! step {
    (F, $a:ident, $b:ident, $c:ident, $d:ident, $x:expr, $t:expr, $s:expr) => {
        let early = opaque($a.wrapping_add($x).wrapping_add($t));
        $a = $b.wrapping_add(early.wrapping_add($d ^ ($b & ($c ^ $d))).rotate_left($s));
    };
    // G(b, c, d) = (b & d) | (c & !d); the two halves never overlap, so | is +.
    (G, $a:ident, $b:ident, $c:ident, $d:ident, $x:expr, $t:expr, $s:expr) => {
        let early = opaque($a.wrapping_add($x).wrapping_add($t).wrapping_add($c & !$d));
        $a = $b.wrapping_add(early.wrapping_add($b & $d).rotate_left($s));
    };
    (H, $a:ident, $b:ident, $c:ident, $d:ident, $x:expr, $t:expr, $s:expr) => {
        let early = opaque($a.wrapping_add($x).wrapping_add($t));
        $a = $b.wrapping_add(early.wrapping_add($b ^ $c ^ $d).rotate_left($s));
    };
    (I, $a:ident, $b:ident, $c:ident, $d:ident, $x:expr, $t:expr, $s:expr) => {
        let early = opaque($a.wrapping_add($x).wrapping_add($t));
        $a = $b.wrapping_add(early.wrapping_add($c ^ ($b | !$d)).rotate_left($s));
    };
}

/// The four steps of one round starting at step `$i`; `$word` maps a step to the index
/// of its message word.
macro_rules! four {
    ($f:ident, $a:ident, $b:ident, $c:ident, $d:ident, $x:ident, $i:expr, $word:expr,
     [$s0:expr, $s1:expr, $s2:expr, $s3:expr]) => {
        step!($f, $a, $b, $c, $d, $x[$word($i)], T[$i], $s0);
        step!($f, $d, $a, $b, $c, $x[$word($i + 1)], T[$i + 1], $s1);
        step!($f, $c, $d, $a, $b, $x[$word($i + 2)], T[$i + 2], $s2);
        step!($f, $b, $c, $d, $a, $x[$word($i + 3)], T[$i + 3], $s3);
    };
}

/// The message word each step of rounds 1 to 4 reads (RFC 1321 section 3.4).
const fn f_word(step: usize) -> usize {
    step
}
const fn g_word(step: usize) -> usize {
    (5 * step + 1) % 16
}
const fn h_word(step: usize) -> usize {
    (3 * step + 5) % 16
}
const fn i_word(step: usize) -> usize {
    (7 * step) % 16
}

fn compress(state: &mut [u32; 4], block: &[u8; BLOCK]) {
    let mut x = [0u32; 16];
    for (word, bytes) in x.iter_mut().zip(block.as_chunks::<4>().0) {
        *word = u32::from_le_bytes(*bytes);
    }
    let [mut a, mut b, mut c, mut d] = *state;
    for i in (0..16).step_by(4) {
        four!(F, a, b, c, d, x, i, f_word, [7, 12, 17, 22]);
    }
    for i in (16..32).step_by(4) {
        four!(G, a, b, c, d, x, i, g_word, [5, 9, 14, 20]);
    }
    for i in (32..48).step_by(4) {
        four!(H, a, b, c, d, x, i, h_word, [4, 11, 16, 23]);
    }
    for i in (48..64).step_by(4) {
        four!(I, a, b, c, d, x, i, i_word, [6, 10, 15, 21]);
    }
    for (out, add) in state.iter_mut().zip([a, b, c, d]) {
        *out = out.wrapping_add(add);
    }
    x.zeroize();
}

/// A running MD5 computation.
pub(super) struct Md5 {
    state: [u32; 4],
    pending: [u8; BLOCK],
    pending_len: usize,
    total_len: u64,
}

impl Md5 {
    pub(super) fn new() -> Md5 {
        Md5 {
            state: INIT,
            pending: [0; BLOCK],
            pending_len: 0,
            total_len: 0,
        }
    }
}

impl Driver for Md5 {
    fn update(&mut self, mut data: &[u8]) -> Result<()> {
        self.total_len = self.total_len.wrapping_add(data.len() as u64);
        if self.pending_len > 0 {
            let take = data.len().min(BLOCK - self.pending_len);
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&data[..take]);
            self.pending_len += take;
            data = &data[take..];
            if self.pending_len < BLOCK {
                return Ok(());
            }
            compress(&mut self.state, &self.pending);
            self.pending_len = 0;
        }
        let (blocks, rest) = data.as_chunks::<BLOCK>();
        for block in blocks {
            compress(&mut self.state, block);
        }
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
        Ok(())
    }

    fn finalize_into(&mut self, out: &mut [u8]) {
        // Padding: 0x80, zeros up to 56 mod 64, then the length in bits, little-endian.
        let n = self.pending_len;
        let mut tail = [0u8; 2 * BLOCK];
        tail[..n].copy_from_slice(&self.pending[..n]);
        tail[n] = 0x80;
        let end = if n < BLOCK - 8 { BLOCK } else { 2 * BLOCK };
        tail[end - 8..end].copy_from_slice(&self.total_len.wrapping_mul(8).to_le_bytes());
        for block in tail[..end].as_chunks::<BLOCK>().0 {
            compress(&mut self.state, block);
        }
        tail.zeroize();
        for (bytes, word) in out.chunks_exact_mut(4).zip(self.state) {
            bytes.copy_from_slice(&word.to_le_bytes());
        }
        *self = Md5::new();
    }
}

impl Drop for Md5 {
    fn drop(&mut self) {
        self.state.zeroize();
        self.pending.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use digest::Digest;

    use super::*;

    /// Every length up to three blocks (each padding case), fed whole and in two
    /// pieces at every split point, against RustCrypto's MD5.
    #[test]
    fn matches_rustcrypto_at_every_length_and_split() {
        let data: Vec<u8> = (0..200u32).map(|i| (i * 31 + 7) as u8).collect();
        for len in 0..=data.len() {
            let expected = ::md5::Md5::digest(&data[..len]);
            for split in [0, len / 2, len.saturating_sub(1), len] {
                let mut md5 = Md5::new();
                md5.update(&data[..split]).unwrap();
                md5.update(&data[split..len]).unwrap();
                let mut out = [0u8; 16];
                md5.finalize_into(&mut out);
                assert_eq!(out[..], expected[..], "len {len} split {split}");
            }
        }
    }

    #[test]
    fn finalize_starts_over() {
        let mut md5 = Md5::new();
        let mut first = [0u8; 16];
        let mut second = [0u8; 16];
        md5.update(b"message digest").unwrap();
        md5.finalize_into(&mut first);
        md5.update(b"message digest").unwrap();
        md5.finalize_into(&mut second);
        assert_eq!(first, second);
    }
}
