//! AES in XTS (IEEE 1619, over whole data units such as LUKS sectors), ECB and CTR modes on
//! x86-64 with AES-NI.
//!
//! `xts-mode` encrypts one block at a time and the `aes` crate's batches stop at 8 AES-NI blocks
//! (`cpufeatures` hides VAES without AVX-512). Here 8 registers of blocks are in flight: 8 blocks
//! with AES-NI, 16 with VAES + AVX2 (two per ymm); XTS tweaks are derived in parallel by
//! carry-less multiplication (PCLMULQDQ). The kernel is picked once, at runtime, in `new`.

#![cfg(target_arch = "x86_64")]
#![deny(unsafe_op_in_unsafe_fn)]

use core::arch::x86_64::*;
use core::ptr;

use cipher::inout::InOutBuf;
use zeroize::Zeroize;

use self::vector::{AesVector, Xmm, Ymm};

/// AES block size in bytes.
const BLOCK_SIZE: usize = 16;
/// Rounds of AES-256, the most of any key size.
const MAX_ROUNDS: usize = 14;
/// Registers per batch: AESENC takes 4 cycles and 2 start per cycle on current x86-64 cores,
/// so 8 independent registers keep both AES units busy; more would not fit in 16 registers.
const VECTORS_IN_FLIGHT: usize = 8;
/// Size in bytes of the largest batch (VAES: 2 blocks per register).
const MAX_BATCH_BYTES: usize = VECTORS_IN_FLIGHT * 2 * BLOCK_SIZE;

/// Round keys of one expanded AES key, padded to the AES-256 length.
type RoundKeys = [Xmm; MAX_ROUNDS + 1];

/// Which kernel [`AesXts`] runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kernel {
    /// AES-NI and PCLMULQDQ on xmm registers: one block per register.
    AesNi,
    /// VAES, VPCLMULQDQ and AVX2 on ymm registers: two blocks per register.
    Vaes,
}

impl Kernel {
    /// The fastest kernel this CPU runs; `None` without AES-NI (or PCLMULQDQ, which every
    /// AES-NI CPU has).
    fn detect() -> Option<Kernel> {
        if !(is_x86_feature_detected!("aes") && is_x86_feature_detected!("pclmulqdq")) {
            return None;
        }
        Some(
            if is_x86_feature_detected!("vaes")
                && is_x86_feature_detected!("vpclmulqdq")
                && is_x86_feature_detected!("avx2")
            {
                Kernel::Vaes
            } else {
                Kernel::AesNi
            },
        )
    }
}

/// AES-XTS data and tweak keys, expanded for AES-NI.
pub(crate) struct AesXts {
    /// Data key, for AESENC.
    data_enc: RoundKeys,
    /// Data key reversed and through AESIMC, for AESDEC (the equivalent inverse cipher).
    data_dec: RoundKeys,
    /// Tweak key, for AESENC.
    tweak_enc: RoundKeys,
    /// 10, 12 or 14.
    rounds: usize,
    kernel: Kernel,
}

impl AesXts {
    /// Expands the data key `key1` and the tweak key `key2`; `None` when the CPU lacks AES-NI
    /// (or PCLMULQDQ, which every AES-NI CPU has).
    ///
    /// # Panics
    /// If the keys are not both 16, 24 or 32 bytes long, or differ in length.
    pub(crate) fn new(key1: &[u8], key2: &[u8]) -> Option<AesXts> {
        assert!(
            matches!(key1.len(), 16 | 24 | 32) && key1.len() == key2.len(),
            "AES-XTS keys must be two 16, 24 or 32-byte halves"
        );
        let kernel = Kernel::detect()?;
        let rounds = key1.len() / 4 + 6;
        // SAFETY: AES-NI and PCLMULQDQ were detected just above.
        let (data_enc, tweak_enc) = unsafe { (expand_key(key1), expand_key(key2)) };
        // SAFETY: as above.
        let data_dec = unsafe { inverse_key(&data_enc, rounds) };
        Some(AesXts {
            data_enc,
            data_dec,
            tweak_enc,
            rounds,
            kernel,
        })
    }

    /// Encrypts `data` (a multiple of 16 bytes) as one data unit whose tweak is `iv`: the
    /// IEEE 1619 data unit sequence number, little-endian and zero-padded. There is no
    /// ciphertext stealing: a release build leaves a trailing partial block untouched.
    pub(crate) fn encrypt(&self, iv: &[u8; 16], data: InOutBuf<'_, '_, u8>) {
        self.process::<false>(iv, data);
    }

    /// Decrypts `data` (a multiple of 16 bytes) as one data unit whose tweak is `iv`.
    pub(crate) fn decrypt(&self, iv: &[u8; 16], data: InOutBuf<'_, '_, u8>) {
        self.process::<true>(iv, data);
    }

    fn process<const DECRYPT: bool>(&self, iv: &[u8; 16], data: InOutBuf<'_, '_, u8>) {
        debug_assert_eq!(
            data.len() % BLOCK_SIZE,
            0,
            "XTS without ciphertext stealing"
        );
        let len = data.len() / BLOCK_SIZE * BLOCK_SIZE;
        if len == 0 {
            return;
        }
        let (src, dst) = data.into_raw();
        // SAFETY: `self.kernel` only names a kernel whose CPU features `new` detected; an
        // `InOutBuf` makes `src` readable and `dst` writable for at least `len` bytes, and its
        // input and output are either the same memory or disjoint.
        unsafe {
            match self.kernel {
                Kernel::AesNi => xts_aesni::<DECRYPT>(self, iv, src, dst, len),
                Kernel::Vaes => xts_vaes::<DECRYPT>(self, iv, src, dst, len),
            }
        }
    }
}

impl Drop for AesXts {
    fn drop(&mut self) {
        self.data_enc.zeroize();
        self.data_dec.zeroize();
        self.tweak_enc.zeroize();
    }
}

/// One AES key expanded for AES-NI, for ECB and CTR.
pub(crate) struct AesBlocks {
    enc: RoundKeys,
    dec: RoundKeys,
    /// 10, 12 or 14.
    rounds: usize,
    kernel: Kernel,
}

impl AesBlocks {
    /// Expands `key`; `None` when the CPU lacks AES-NI.
    ///
    /// # Panics
    /// If `key` is not 16, 24 or 32 bytes long.
    pub(crate) fn new(key: &[u8]) -> Option<AesBlocks> {
        assert!(
            matches!(key.len(), 16 | 24 | 32),
            "AES keys are 16, 24 or 32 bytes"
        );
        let kernel = Kernel::detect()?;
        let rounds = key.len() / 4 + 6;
        // SAFETY: AES-NI was detected just above.
        let enc = unsafe { expand_key(key) };
        // SAFETY: as above.
        let dec = unsafe { inverse_key(&enc, rounds) };
        Some(AesBlocks {
            enc,
            dec,
            rounds,
            kernel,
        })
    }

    /// Encrypts every block of `data` (whole blocks) on its own.
    pub(crate) fn ecb_encrypt(&self, data: InOutBuf<'_, '_, u8>) {
        self.ecb::<false>(data);
    }

    /// Decrypts every block of `data` (whole blocks) on its own.
    pub(crate) fn ecb_decrypt(&self, data: InOutBuf<'_, '_, u8>) {
        self.ecb::<true>(data);
    }

    fn ecb<const DECRYPT: bool>(&self, data: InOutBuf<'_, '_, u8>) {
        debug_assert_eq!(data.len() % BLOCK_SIZE, 0, "ECB on whole blocks");
        let len = data.len() / BLOCK_SIZE * BLOCK_SIZE;
        let keys = if DECRYPT { &self.dec } else { &self.enc };
        let (src, dst) = data.into_raw();
        // SAFETY: as in `AesXts::process`.
        unsafe {
            match self.kernel {
                Kernel::AesNi => ecb_aesni::<DECRYPT>(keys, self.rounds, src, dst, len),
                Kernel::Vaes => ecb_vaes::<DECRYPT>(keys, self.rounds, src, dst, len),
            }
        }
    }

    /// XORs `data` (whole blocks) with the CTR keystream from `counter`, the 16-byte
    /// big-endian counter block, which is left at the block after the last one used.
    pub(crate) fn ctr(&self, counter: &mut [u8; 16], data: InOutBuf<'_, '_, u8>) {
        debug_assert_eq!(data.len() % BLOCK_SIZE, 0, "CTR on whole blocks");
        let len = data.len() / BLOCK_SIZE * BLOCK_SIZE;
        let mut count = u128::from_be_bytes(*counter);
        let (src, dst) = data.into_raw();
        // SAFETY: as in `AesXts::process`.
        unsafe {
            match self.kernel {
                Kernel::AesNi => ctr_aesni(&self.enc, self.rounds, &mut count, src, dst, len),
                Kernel::Vaes => ctr_vaes(&self.enc, self.rounds, &mut count, src, dst, len),
            }
        }
        *counter = count.to_be_bytes();
    }
}

impl Drop for AesBlocks {
    fn drop(&mut self) {
        self.enc.zeroize();
        self.dec.zeroize();
    }
}

/// [`ecb`] on [`Xmm`] registers.
///
/// # Safety
/// As for [`ecb`] with `V` = [`Xmm`].
#[target_feature(enable = "aes,pclmulqdq,sse2")]
unsafe fn ecb_aesni<const DECRYPT: bool>(
    keys: &RoundKeys,
    rounds: usize,
    src: *const u8,
    dst: *mut u8,
    len: usize,
) {
    // SAFETY: forwarded from the caller.
    unsafe { ecb::<Xmm, DECRYPT>(keys, rounds, src, dst, len) }
}

/// [`ecb`] on [`Ymm`] registers.
///
/// # Safety
/// As for [`ecb`] with `V` = [`Ymm`].
#[target_feature(enable = "aes,pclmulqdq,avx2,vaes,vpclmulqdq")]
unsafe fn ecb_vaes<const DECRYPT: bool>(
    keys: &RoundKeys,
    rounds: usize,
    src: *const u8,
    dst: *mut u8,
    len: usize,
) {
    // SAFETY: forwarded from the caller.
    unsafe { ecb::<Ymm, DECRYPT>(keys, rounds, src, dst, len) }
}

/// ECB: [`batch`] with zero tweaks, so each block is just AES of itself.
///
/// # Safety
/// As for [`xts`].
#[inline(always)]
unsafe fn ecb<V: AesVector, const DECRYPT: bool>(
    keys: &RoundKeys,
    rounds: usize,
    src: *const u8,
    dst: *mut u8,
    len: usize,
) {
    // SAFETY: the caller guarantees V's CPU features, which imply Xmm's.
    let (keys, zero) = unsafe { (V::round_keys(keys), V::splat(Xmm::new(_mm_setzero_si128()))) };
    let zeros = [zero; VECTORS_IN_FLIGHT];
    let batch_bytes = VECTORS_IN_FLIGHT * V::BLOCKS * BLOCK_SIZE;
    for offset in (0..len).step_by(batch_bytes) {
        // SAFETY: `offset < len`; the batch, or the `len - offset` bytes left, lie within the
        // caller's ranges.
        unsafe {
            let (src, dst) = (src.add(offset), dst.add(offset));
            if len - offset >= batch_bytes {
                batch::<V, DECRYPT>(&keys, rounds, &zeros, src, dst);
            } else {
                partial_batch::<V, DECRYPT>(&keys, rounds, &zeros, src, dst, len - offset);
            }
        }
    }
}

/// [`ctr`] on [`Xmm`] registers.
///
/// # Safety
/// As for [`ctr`] with `V` = [`Xmm`].
#[target_feature(enable = "aes,pclmulqdq,sse2")]
unsafe fn ctr_aesni(
    keys: &RoundKeys,
    rounds: usize,
    count: &mut u128,
    src: *const u8,
    dst: *mut u8,
    len: usize,
) {
    // SAFETY: forwarded from the caller.
    unsafe { ctr::<Xmm>(keys, rounds, count, src, dst, len) }
}

/// [`ctr`] on [`Ymm`] registers.
///
/// # Safety
/// As for [`ctr`] with `V` = [`Ymm`].
#[target_feature(enable = "aes,pclmulqdq,avx2,vaes,vpclmulqdq")]
unsafe fn ctr_vaes(
    keys: &RoundKeys,
    rounds: usize,
    count: &mut u128,
    src: *const u8,
    dst: *mut u8,
    len: usize,
) {
    // SAFETY: forwarded from the caller.
    unsafe { ctr::<Ymm>(keys, rounds, count, src, dst, len) }
}

/// CTR: block `i` is XORed with AES(`count + i`), the counter a 128-bit big-endian integer
/// that wraps (nettle's `ctr_crypt`). A batch's counter blocks are written to a stack
/// buffer and loaded as registers, which costs far less than their AES rounds; a last,
/// partial batch XORs only the bytes it has.
///
/// # Safety
/// As for [`xts`].
#[inline(always)]
unsafe fn ctr<V: AesVector>(
    keys: &RoundKeys,
    rounds: usize,
    count: &mut u128,
    src: *const u8,
    dst: *mut u8,
    len: usize,
) {
    // SAFETY: the caller guarantees V's CPU features.
    let keys = unsafe { V::round_keys(keys) };
    let last_keys = [keys[rounds]; VECTORS_IN_FLIGHT];
    let stride = V::BLOCKS * BLOCK_SIZE;
    let batch_bytes = VECTORS_IN_FLIGHT * stride;
    let mut counters = [0u8; MAX_BATCH_BYTES];
    for offset in (0..len).step_by(batch_bytes) {
        let bytes = batch_bytes.min(len - offset);
        for block in counters[..bytes].chunks_exact_mut(BLOCK_SIZE) {
            block.copy_from_slice(&count.to_be_bytes());
            *count = count.wrapping_add(1);
        }
        let mut state = [keys[0]; VECTORS_IN_FLIGHT];
        for (i, s) in state.iter_mut().enumerate() {
            // SAFETY: register `i` lies within `counters`.
            *s = unsafe { V::load(counters.as_ptr().add(i * stride)) }.xor(*s);
        }
        cipher::<V, VECTORS_IN_FLIGHT, false>(&mut state, &keys, rounds, &last_keys);
        // SAFETY: `offset < len`, so the pointers stay within the caller's ranges.
        let (src, dst) = unsafe { (src.add(offset), dst.add(offset)) };
        if bytes == batch_bytes {
            for (i, s) in state.iter().enumerate() {
                // SAFETY: register `i` lies within the batch, read before it is written.
                unsafe {
                    let input = V::load(src.add(i * stride));
                    s.xor(input).store(dst.add(i * stride));
                }
            }
        } else {
            let mut keystream = [0u8; MAX_BATCH_BYTES];
            for (i, s) in state.iter().enumerate() {
                // SAFETY: register `i` lies within `keystream`.
                unsafe { s.store(keystream.as_mut_ptr().add(i * stride)) };
            }
            for (i, k) in keystream[..bytes].iter().enumerate() {
                // SAFETY: `i < bytes`, within the caller's ranges; each byte is read before
                // it is written.
                unsafe { *dst.add(i) = *src.add(i) ^ k };
            }
            keystream.zeroize();
        }
    }
}

/// The AES-NI kernel: [`xts`] on [`Xmm`] registers.
///
/// # Safety
/// As for [`xts`] with `V` = [`Xmm`].
#[target_feature(enable = "aes,pclmulqdq,sse2")]
unsafe fn xts_aesni<const DECRYPT: bool>(
    key: &AesXts,
    iv: &[u8; 16],
    src: *const u8,
    dst: *mut u8,
    len: usize,
) {
    // SAFETY: forwarded from the caller.
    unsafe { xts::<Xmm, DECRYPT>(key, iv, src, dst, len) }
}

/// The VAES kernel: [`xts`] on [`Ymm`] registers.
///
/// # Safety
/// As for [`xts`] with `V` = [`Ymm`].
#[target_feature(enable = "aes,pclmulqdq,avx2,vaes,vpclmulqdq")]
unsafe fn xts_vaes<const DECRYPT: bool>(
    key: &AesXts,
    iv: &[u8; 16],
    src: *const u8,
    dst: *mut u8,
    len: usize,
) {
    // SAFETY: forwarded from the caller.
    unsafe { xts::<Ymm, DECRYPT>(key, iv, src, dst, len) }
}

/// Encrypts or decrypts the `len` bytes (whole blocks) at `src` into `dst` as one data unit.
///
/// Block `i` becomes `AES(block ^ T_i) ^ T_i`, where `T_i = AES_key2(iv) · x^i` in GF(2^128).
/// The blocks go through in batches of [`VECTORS_IN_FLIGHT`] registers of `V::BLOCKS` blocks,
/// the cipher running round by round across the batch so that its AES instructions overlap.
/// Each register's tweaks come straight from `T_0` in the first batch and from the previous
/// batch's by one multiplication afterwards, so no chain of doublings holds the pipeline up; the
/// next batch's tweaks are computed before the current batch's rounds, so the out-of-order core
/// has them ready when it reaches that batch. A last, partial batch goes through a zero-padded
/// buffer on the stack.
///
/// Must be inlined into a function with `V`'s target features, as [`xts_aesni`] does.
///
/// # Safety
/// The CPU supports `V`'s instructions; `len` is a multiple of 16; `src` is readable and `dst`
/// writable for `len` bytes, and they are equal or the ranges are disjoint.
#[inline(always)]
unsafe fn xts<V: AesVector, const DECRYPT: bool>(
    key: &AesXts,
    iv: &[u8; 16],
    src: *const u8,
    dst: *mut u8,
    len: usize,
) {
    let rounds = key.rounds;
    let data_keys = if DECRYPT {
        &key.data_dec
    } else {
        &key.data_enc
    };
    // SAFETY: the caller guarantees V's CPU features.
    let keys = unsafe { V::round_keys(data_keys) };

    let tweak_keys = &key.tweak_enc;
    // SAFETY: `iv` is 16 readable bytes, and every `V` implies `Xmm`'s CPU features.
    let mut tweak = [unsafe { Xmm::load(iv.as_ptr()) }.xor(tweak_keys[0])];
    cipher::<Xmm, 1, false>(&mut tweak, tweak_keys, rounds, &[tweak_keys[rounds]]);
    // SAFETY: the caller guarantees V's CPU features.
    let mut tweaks = unsafe { first_tweaks::<V>(tweak[0]) };

    let batch_bytes = VECTORS_IN_FLIGHT * V::BLOCKS * BLOCK_SIZE;
    let mut offset = 0;
    while offset < len {
        let remaining = len - offset;
        let current = tweaks;
        if remaining > batch_bytes {
            // The next batch's tweaks, ahead of this batch's rounds (see above).
            advance(&mut tweaks);
        }
        // SAFETY: `offset < len`, so the pointers stay within the caller's ranges.
        let (src, dst) = unsafe { (src.add(offset), dst.add(offset)) };
        if remaining >= batch_bytes {
            // SAFETY: the batch lies within the caller's ranges.
            unsafe { batch::<V, DECRYPT>(&keys, rounds, &current, src, dst) };
        } else {
            // SAFETY: the `remaining` bytes lie within the caller's ranges.
            unsafe { partial_batch::<V, DECRYPT>(&keys, rounds, &current, src, dst, remaining) };
        }
        offset += batch_bytes;
    }
}

/// One batch of [`VECTORS_IN_FLIGHT`] registers: `AES(block ^ tweak) ^ tweak` for each block.
///
/// The tweak goes into the first round key and into the last (which AES applies last, by XOR),
/// so no XOR stands between the last round and the store. Every register is loaded before any is
/// stored, so `src == dst` works.
///
/// # Safety
/// `src` is readable and `dst` writable for `VECTORS_IN_FLIGHT * V::BLOCKS * 16` bytes, equal or
/// disjoint.
#[inline(always)]
unsafe fn batch<V: AesVector, const DECRYPT: bool>(
    keys: &[V; MAX_ROUNDS + 1],
    rounds: usize,
    tweaks: &[V; VECTORS_IN_FLIGHT],
    src: *const u8,
    dst: *mut u8,
) {
    let stride = V::BLOCKS * BLOCK_SIZE;
    let mut state = *tweaks;
    let mut last_keys = *tweaks;
    for (i, (s, last_key)) in state.iter_mut().zip(&mut last_keys).enumerate() {
        // SAFETY: register `i` lies within the batch.
        let input = unsafe { V::load(src.add(i * stride)) };
        *s = input.xor(keys[0]).xor(*s);
        *last_key = last_key.xor(keys[rounds]);
    }
    cipher::<V, VECTORS_IN_FLIGHT, DECRYPT>(&mut state, keys, rounds, &last_keys);
    for (i, s) in state.iter().enumerate() {
        // SAFETY: register `i` lies within the batch.
        unsafe { s.store(dst.add(i * stride)) };
    }
}

/// [`batch`] on the first `len` bytes only, through a buffer on the stack.
///
/// # Safety
/// `len` is below a batch; `src` is readable and `dst` writable for `len` bytes.
#[inline(always)]
unsafe fn partial_batch<V: AesVector, const DECRYPT: bool>(
    keys: &[V; MAX_ROUNDS + 1],
    rounds: usize,
    tweaks: &[V; VECTORS_IN_FLIGHT],
    src: *const u8,
    dst: *mut u8,
    len: usize,
) {
    let mut buf = [0u8; MAX_BATCH_BYTES];
    let buf_ptr = buf.as_mut_ptr();
    // SAFETY: `len` bytes are readable at `src` and fit in `buf`, which is a whole batch; the
    // batch runs in place in `buf`; `len` bytes are writable at `dst`.
    unsafe {
        ptr::copy_nonoverlapping(src, buf_ptr, len);
        batch::<V, DECRYPT>(keys, rounds, tweaks, buf_ptr, buf_ptr);
        ptr::copy_nonoverlapping(buf_ptr, dst, len);
    }
    buf.zeroize();
}

/// Runs rounds 1 to `rounds` of AES (or of the equivalent inverse cipher) on every register of
/// `state`, which the caller has XORed with round key 0; register `i` ends with `last_keys[i]`.
/// Each round goes across all `N` registers, so `N` independent AES instructions are in flight.
#[inline(always)]
fn cipher<V: AesVector, const N: usize, const DECRYPT: bool>(
    state: &mut [V; N],
    keys: &[V; MAX_ROUNDS + 1],
    rounds: usize,
    last_keys: &[V; N],
) {
    for &key in &keys[1..rounds] {
        for s in state.iter_mut() {
            *s = s.round::<DECRYPT>(key);
        }
    }
    for (s, &last_key) in state.iter_mut().zip(last_keys) {
        *s = s.last_round::<DECRYPT>(last_key);
    }
}

// Tweak arithmetic. IEEE 1619 reads a 16-byte tweak as a little-endian 128-bit polynomial over
// GF(2) (bit k of byte j is the coefficient of x^(8j + k)) modulo x^128 + x^7 + x^2 + x + 1, so
// multiplying it by x^n (n < 64) shifts the 128 bits left by n and folds the n bits pushed past
// x^127 back in, times x^128 = x^7 + x^2 + x + 1 (0x87), with one carry-less multiplication.
// The standard doubling ("multiplication by alpha") is the case n = 1.

/// Tweaks of the first batch: register `i` holds `t · x^(i * V::BLOCKS + j)` in its block `j`.
///
/// # Safety
/// The CPU supports `V`'s instructions.
#[inline(always)]
unsafe fn first_tweaks<V: AesVector>(t: Xmm) -> [V; VECTORS_IN_FLIGHT] {
    // SAFETY: forwarded from the caller.
    let t = unsafe { V::splat(t) };
    let mut tweaks = [t; VECTORS_IN_FLIGHT];
    for (i, tweak) in tweaks.iter_mut().enumerate() {
        let n = (i * V::BLOCKS) as i64;
        // SAFETY: forwarded from the caller.
        let (n, n_compl) = unsafe { (V::per_block(n, 1), V::per_block(64 - n, -1)) };
        *tweak = mul_x_n(t, n, n_compl);
    }
    tweaks
}

/// Moves the tweaks of a batch on to the next batch's.
#[inline(always)]
fn advance<V: AesVector>(tweaks: &mut [V; VECTORS_IN_FLIGHT]) {
    for tweak in tweaks {
        *tweak = tweak.next_batch();
    }
}

/// Multiplies every block by `x^n`, where each qword of `n` holds its block's `n` (below 64)
/// and each qword of `n_compl` holds `64 - n`.
#[inline(always)]
fn mul_x_n<V: AesVector>(t: V, n: V, n_compl: V) -> V {
    let carries = t.shr_qwords(n_compl);
    let shifted = t.shl_qwords(n).xor(carries.shl_bytes::<8>());
    shifted.xor(carries.high_times_0x87())
}

/// Multiplies every block by `x^(8 * BYTES)`; `CARRY_SHIFT` must be `64 - 8 * BYTES`.
#[inline(always)]
fn mul_x_bytes<V: AesVector, const BYTES: i32, const CARRY_SHIFT: i32>(t: V) -> V {
    let carries = t.shr_qwords_by::<CARRY_SHIFT>();
    t.shl_bytes::<BYTES>().xor(carries.high_times_0x87())
}

/// Expands an AES key of 16, 24 or 32 bytes into its round keys (FIPS 197 §5.2), with
/// AESKEYGENASSIST computing SubWord and RotWord.
///
/// # Safety
/// The CPU supports AES-NI and PCLMULQDQ (the contract of [`Xmm`]).
#[target_feature(enable = "aes,sse2")]
unsafe fn expand_key(key: &[u8]) -> RoundKeys {
    let nk = key.len() / 4;
    let rounds = nk + 6;
    let mut words = [0u32; 4 * (MAX_ROUNDS + 1)];
    for (word, bytes) in words.iter_mut().zip(key.chunks_exact(4)) {
        *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
    }
    let mut rcon = 1;
    for i in nk..4 * (rounds + 1) {
        let mut temp = words[i - 1];
        if i % nk == 0 {
            temp = sub_word(temp).1 ^ rcon;
            rcon = (rcon << 1) ^ if rcon & 0x80 != 0 { 0x11b } else { 0 };
        } else if nk == 8 && i % nk == 4 {
            temp = sub_word(temp).0;
        }
        words[i] = words[i - nk] ^ temp;
    }
    // SAFETY: the caller guarantees the features of `Xmm`.
    let mut keys = [unsafe { Xmm::new(_mm_setzero_si128()) }; MAX_ROUNDS + 1];
    for (key, w) in keys.iter_mut().zip(words.chunks_exact(4)) {
        let block = _mm_set_epi32(w[3] as i32, w[2] as i32, w[1] as i32, w[0] as i32);
        // SAFETY: as above.
        *key = unsafe { Xmm::new(block) };
    }
    words.zeroize();
    keys
}

/// `(SubWord(word), RotWord(SubWord(word)))`, by AESKEYGENASSIST with a zero round constant.
#[target_feature(enable = "aes,sse2")]
fn sub_word(word: u32) -> (u32, u32) {
    let assisted = _mm_aeskeygenassist_si128::<0>(_mm_set1_epi32(word as i32));
    let rotated = _mm_shuffle_epi32::<0b01>(assisted);
    (
        _mm_cvtsi128_si32(assisted) as u32,
        _mm_cvtsi128_si32(rotated) as u32,
    )
}

/// Round keys for AESDEC: `enc` in reverse order, through AESIMC but for the outer two.
///
/// # Safety
/// The CPU supports AES-NI.
#[target_feature(enable = "aes,sse2")]
unsafe fn inverse_key(enc: &RoundKeys, rounds: usize) -> RoundKeys {
    let mut dec = *enc;
    for (i, key) in dec[..=rounds].iter_mut().enumerate() {
        let k = enc[rounds - i];
        *key = if i == 0 || i == rounds { k } else { k.aesimc() };
    }
    dec
}

/// SIMD registers of AES blocks.
///
/// Values of these types come only from `unsafe` constructors whose contract is that the CPU
/// supports the type's instructions: AES-NI and PCLMULQDQ for [`Xmm`], and also VAES,
/// VPCLMULQDQ and AVX2 for [`Ymm`]. Holding a value thus proves that support, which makes the
/// arithmetic on it safe.
mod vector {
    use core::arch::x86_64::*;
    use core::ops::Deref;

    use zeroize::Zeroize;

    use super::{RoundKeys, MAX_ROUNDS, VECTORS_IN_FLIGHT};

    /// x^128 modulo the XTS polynomial: x^7 + x^2 + x + 1.
    const GF_128_FOLD: i64 = 0x87;

    /// A register of `BLOCKS` AES blocks that one instruction processes together.
    pub(super) trait AesVector: Copy {
        /// AES blocks per register.
        const BLOCKS: usize;
        /// Round keys as `Self` values: borrowed for [`Xmm`], broadcast for [`Ymm`].
        type RoundKeys<'a>: Deref<Target = [Self; MAX_ROUNDS + 1]>;

        /// `keys` as `Self` values.
        ///
        /// # Safety
        /// The CPU supports the type's instructions.
        unsafe fn round_keys(keys: &RoundKeys) -> Self::RoundKeys<'_>;
        /// `block` in every block of a register.
        ///
        /// # Safety
        /// The CPU supports the type's instructions.
        unsafe fn splat(block: Xmm) -> Self;
        /// A register whose block `j` holds `first + j * step` in both qwords.
        ///
        /// # Safety
        /// The CPU supports the type's instructions.
        unsafe fn per_block(first: i64, step: i64) -> Self;
        /// Loads `BLOCKS` blocks from `src` (unaligned).
        ///
        /// # Safety
        /// The CPU supports the type's instructions and `src` is readable for
        /// `16 * BLOCKS` bytes.
        unsafe fn load(src: *const u8) -> Self;
        /// Stores the blocks at `dst` (unaligned).
        ///
        /// # Safety
        /// `dst` is writable for `16 * BLOCKS` bytes.
        unsafe fn store(self, dst: *mut u8);

        fn xor(self, other: Self) -> Self;
        /// One AES round (AESENC) of each block, with the blocks of `key` as round keys.
        fn aesenc(self, key: Self) -> Self;
        /// The last AES round (AESENCLAST).
        fn aesenclast(self, key: Self) -> Self;
        /// One round of the equivalent inverse cipher (AESDEC).
        fn aesdec(self, key: Self) -> Self;
        /// The last round of the equivalent inverse cipher (AESDECLAST).
        fn aesdeclast(self, key: Self) -> Self;
        /// AESENC, or AESDEC when decrypting.
        #[inline(always)]
        fn round<const DECRYPT: bool>(self, key: Self) -> Self {
            if DECRYPT {
                self.aesdec(key)
            } else {
                self.aesenc(key)
            }
        }
        /// AESENCLAST, or AESDECLAST when decrypting.
        #[inline(always)]
        fn last_round<const DECRYPT: bool>(self, key: Self) -> Self {
            if DECRYPT {
                self.aesdeclast(key)
            } else {
                self.aesenclast(key)
            }
        }
        /// Shifts each qword left by the count in the same qword of `n` (for [`Xmm`], both
        /// qwords of `n` must be equal).
        fn shl_qwords(self, n: Self) -> Self;
        /// Shifts each qword right, as [`AesVector::shl_qwords`].
        fn shr_qwords(self, n: Self) -> Self;
        /// Shifts each qword right by `N` bits.
        fn shr_qwords_by<const N: i32>(self) -> Self;
        /// Shifts each block left (towards its high end) by `N` bytes.
        fn shl_bytes<const N: i32>(self) -> Self;
        /// The carry-less product of each block's high qword and 0x87, in the block's low bits.
        fn high_times_0x87(self) -> Self;
        /// Multiplies every block by `x^(BLOCKS * VECTORS_IN_FLIGHT)`, which turns the tweaks of
        /// a batch into those of the next one.
        fn next_batch(self) -> Self;
    }

    /// One block in an xmm register, for AES-NI.
    #[derive(Clone, Copy)]
    pub(super) struct Xmm(__m128i);

    /// Two blocks in a ymm register, for VAES.
    #[derive(Clone, Copy)]
    pub(super) struct Ymm(__m256i);

    /// Round keys broadcast to both blocks of a [`Ymm`].
    pub(super) struct YmmRoundKeys([Ymm; MAX_ROUNDS + 1]);

    impl Xmm {
        /// # Safety
        /// The CPU supports AES-NI and PCLMULQDQ.
        #[inline(always)]
        pub(super) unsafe fn new(block: __m128i) -> Xmm {
            Xmm(block)
        }

        /// AESIMC, to turn an encryption round key into one for AESDEC.
        #[inline(always)]
        pub(super) fn aesimc(self) -> Xmm {
            // SAFETY: an `Xmm` exists only on CPUs with AES-NI.
            Xmm(unsafe { _mm_aesimc_si128(self.0) })
        }
    }

    impl Zeroize for Xmm {
        fn zeroize(&mut self) {
            self.0.zeroize();
        }
    }

    impl Deref for YmmRoundKeys {
        type Target = [Ymm; MAX_ROUNDS + 1];

        #[inline(always)]
        fn deref(&self) -> &Self::Target {
            &self.0
        }
    }

    /// Implements the listed methods of [`AesVector`] for `$ty`, each as one intrinsic on the
    /// registers of `self` and the arguments.
    macro_rules! one_intrinsic_each {
        ($ty:ident: $( $method:ident($($arg:ident),*) => $intrinsic:ident; )*) => {
            $(
                #[inline(always)]
                fn $method(self $(, $arg: Self)*) -> Self {
                    // SAFETY: a value of this type exists only on CPUs with its instructions.
                    $ty(unsafe { $intrinsic(self.0 $(, $arg.0)*) })
                }
            )*
        };
    }

    impl AesVector for Xmm {
        const BLOCKS: usize = 1;
        type RoundKeys<'a> = &'a RoundKeys;

        #[inline(always)]
        unsafe fn round_keys(keys: &RoundKeys) -> &RoundKeys {
            keys
        }
        #[inline(always)]
        unsafe fn splat(block: Xmm) -> Self {
            block
        }
        #[inline(always)]
        unsafe fn per_block(first: i64, _step: i64) -> Self {
            // SAFETY: SSE2 is part of x86-64.
            Xmm(unsafe { _mm_set1_epi64x(first) })
        }
        #[inline(always)]
        unsafe fn load(src: *const u8) -> Self {
            // SAFETY: forwarded from the caller.
            Xmm(unsafe { _mm_loadu_si128(src.cast()) })
        }
        #[inline(always)]
        unsafe fn store(self, dst: *mut u8) {
            // SAFETY: forwarded from the caller; SSE2 is part of x86-64.
            unsafe { _mm_storeu_si128(dst.cast(), self.0) }
        }

        one_intrinsic_each! { Xmm:
            xor(other) => _mm_xor_si128;
            aesenc(key) => _mm_aesenc_si128;
            aesenclast(key) => _mm_aesenclast_si128;
            aesdec(key) => _mm_aesdec_si128;
            aesdeclast(key) => _mm_aesdeclast_si128;
            shl_qwords(n) => _mm_sll_epi64;
            shr_qwords(n) => _mm_srl_epi64;
        }
        #[inline(always)]
        fn shr_qwords_by<const N: i32>(self) -> Self {
            // SAFETY: SSE2 is part of x86-64.
            Xmm(unsafe { _mm_srli_epi64::<N>(self.0) })
        }
        #[inline(always)]
        fn shl_bytes<const N: i32>(self) -> Self {
            // SAFETY: SSE2 is part of x86-64.
            Xmm(unsafe { _mm_bslli_si128::<N>(self.0) })
        }
        #[inline(always)]
        fn high_times_0x87(self) -> Self {
            // SAFETY: an `Xmm` exists only on CPUs with PCLMULQDQ.
            Xmm(unsafe { _mm_clmulepi64_si128::<0x01>(self.0, _mm_set_epi64x(0, GF_128_FOLD)) })
        }
        #[inline(always)]
        fn next_batch(self) -> Self {
            const { assert!(VECTORS_IN_FLIGHT == 8) };
            super::mul_x_bytes::<Self, 1, 56>(self)
        }
    }

    impl AesVector for Ymm {
        const BLOCKS: usize = 2;
        type RoundKeys<'a> = YmmRoundKeys;

        #[inline(always)]
        unsafe fn round_keys(keys: &RoundKeys) -> YmmRoundKeys {
            // SAFETY: forwarded from the caller.
            let mut broadcast = [unsafe { Self::splat(keys[0]) }; MAX_ROUNDS + 1];
            for (wide, &key) in broadcast.iter_mut().zip(keys) {
                // SAFETY: forwarded from the caller.
                *wide = unsafe { Self::splat(key) };
            }
            YmmRoundKeys(broadcast)
        }
        #[inline(always)]
        unsafe fn splat(block: Xmm) -> Self {
            // SAFETY: the caller guarantees AVX2.
            Ymm(unsafe { _mm256_broadcastsi128_si256(block.0) })
        }
        #[inline(always)]
        unsafe fn per_block(first: i64, step: i64) -> Self {
            let second = first + step;
            // SAFETY: the caller guarantees AVX2.
            Ymm(unsafe { _mm256_set_epi64x(second, second, first, first) })
        }
        #[inline(always)]
        unsafe fn load(src: *const u8) -> Self {
            // SAFETY: forwarded from the caller.
            Ymm(unsafe { _mm256_loadu_si256(src.cast()) })
        }
        #[inline(always)]
        unsafe fn store(self, dst: *mut u8) {
            // SAFETY: forwarded from the caller; `self` proves AVX2.
            unsafe { _mm256_storeu_si256(dst.cast(), self.0) }
        }

        one_intrinsic_each! { Ymm:
            xor(other) => _mm256_xor_si256;
            aesenc(key) => _mm256_aesenc_epi128;
            aesenclast(key) => _mm256_aesenclast_epi128;
            aesdec(key) => _mm256_aesdec_epi128;
            aesdeclast(key) => _mm256_aesdeclast_epi128;
            shl_qwords(n) => _mm256_sllv_epi64;
            shr_qwords(n) => _mm256_srlv_epi64;
        }
        #[inline(always)]
        fn shr_qwords_by<const N: i32>(self) -> Self {
            // SAFETY: a `Ymm` exists only on CPUs with AVX2.
            Ymm(unsafe { _mm256_srli_epi64::<N>(self.0) })
        }
        #[inline(always)]
        fn shl_bytes<const N: i32>(self) -> Self {
            // SAFETY: a `Ymm` exists only on CPUs with AVX2.
            Ymm(unsafe { _mm256_bslli_epi128::<N>(self.0) })
        }
        #[inline(always)]
        fn high_times_0x87(self) -> Self {
            // SAFETY: a `Ymm` exists only on CPUs with VPCLMULQDQ and AVX2.
            Ymm(unsafe {
                _mm256_clmulepi64_epi128::<0x01>(self.0, _mm256_set1_epi64x(GF_128_FOLD))
            })
        }
        #[inline(always)]
        fn next_batch(self) -> Self {
            const { assert!(VECTORS_IN_FLIGHT == 8) };
            super::mul_x_bytes::<Self, 2, 48>(self)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crypto::testvectors::pattern;
    use aes::{Aes128, Aes192, Aes256};
    use cipher::consts::U16;
    use cipher::{BlockCipherDecrypt, BlockCipherEncrypt, BlockSizeUser, KeyInit};
    use xts_mode::{Array, Xts128};

    const _: () = {
        const fn send_sync<T: Send + Sync>() {}
        send_sync::<AesXts>();
    };

    /// The kernels this CPU can run. Tests force each in turn by setting `kernel`.
    fn kernels() -> Vec<Kernel> {
        match AesXts::new(&[0; 16], &[0; 16]).map(|xts| xts.kernel) {
            Some(Kernel::Vaes) => vec![Kernel::AesNi, Kernel::Vaes],
            Some(Kernel::AesNi) => {
                eprintln!("note: no VAES on this CPU, its kernel is not tested");
                vec![Kernel::AesNi]
            }
            None => {
                eprintln!("note: no AES-NI on this CPU, nothing is tested");
                vec![]
            }
        }
    }

    fn xts_with(kernel: Kernel, key1: &[u8], key2: &[u8]) -> AesXts {
        let mut xts = AesXts::new(key1, key2).expect("AES-NI");
        xts.kernel = kernel;
        xts
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// Encrypts and decrypts with every kernel, in place and out of place.
    fn check(key1: &[u8], key2: &[u8], iv: &[u8; 16], pt: &[u8], ct: &[u8]) {
        for kernel in kernels() {
            let xts = xts_with(kernel, key1, key2);
            let mut out = vec![0xa5; pt.len()];
            xts.encrypt(iv, InOutBuf::new(pt, &mut out).unwrap());
            assert_eq!(out, ct, "{kernel:?} encrypt, {} bytes", pt.len());
            xts.decrypt(iv, InOutBuf::new(ct, &mut out).unwrap());
            assert_eq!(out, pt, "{kernel:?} decrypt, {} bytes", pt.len());
            let mut buf = pt.to_vec();
            xts.encrypt(iv, InOutBuf::from(&mut buf[..]));
            assert_eq!(buf, ct, "{kernel:?} encrypt in place, {} bytes", pt.len());
            xts.decrypt(iv, InOutBuf::from(&mut buf[..]));
            assert_eq!(buf, pt, "{kernel:?} decrypt in place, {} bytes", pt.len());
        }
    }

    /// `xts-mode` over the `aes` crate, the reference implementation.
    fn reference(key1: &[u8], key2: &[u8], iv: &[u8; 16], data: &mut [u8], decrypt: bool) {
        fn run<C>(key1: &[u8], key2: &[u8], iv: &[u8; 16], data: &mut [u8], decrypt: bool)
        where
            C: KeyInit + BlockCipherEncrypt + BlockCipherDecrypt + BlockSizeUser<BlockSize = U16>,
        {
            let xts = Xts128::new(
                C::new_from_slice(key1).unwrap(),
                C::new_from_slice(key2).unwrap(),
            );
            if data.is_empty() {
                return; // xts-mode rejects empty data units
            }
            if decrypt {
                xts.decrypt_sector(data, Array(*iv));
            } else {
                xts.encrypt_sector(data, Array(*iv));
            }
        }
        match key1.len() {
            16 => run::<Aes128>(key1, key2, iv, data, decrypt),
            24 => run::<Aes192>(key1, key2, iv, data, decrypt),
            _ => run::<Aes256>(key1, key2, iv, data, decrypt),
        }
    }

    // IEEE 1619-2007 Annex B test vectors; the data unit sequence number is the IV's first bytes.

    /// Checks a standard vector against the reference, then against every kernel.
    fn check_vector(key1: &[u8], key2: &[u8], iv: &[u8; 16], pt: &[u8], ct: &[u8]) {
        let mut data = pt.to_vec();
        reference(key1, key2, iv, &mut data, false);
        assert_eq!(data, ct, "xts-mode disagrees with the vector");
        check(key1, key2, iv, pt, ct);
    }

    /// The plaintext of vectors 4 to 14: bytes 0 to 255, twice.
    fn pt_0_to_255_twice() -> Vec<u8> {
        (0..512).map(|i| i as u8).collect()
    }

    #[test]
    fn ieee1619_vector_1() {
        let ct = hex("917cf69ebd68b2ec9b9fe9a3eadda692 cd43d2f59598ed858c02c2652fbf922e");
        check_vector(&[0; 16], &[0; 16], &[0; 16], &[0; 32], &ct);
    }

    #[test]
    fn ieee1619_vector_2() {
        let iv = hex("33333333330000000000000000000000").try_into().unwrap();
        let ct = hex("c454185e6a16936e39334038acef838b fb186fff7480adc4289382ecd6d394f0");
        check_vector(&[0x11; 16], &[0x22; 16], &iv, &[0x44; 32], &ct);
    }

    #[test]
    fn ieee1619_vector_4() {
        let ct = hex(
            "27a7479befa1d476489f308cd4cfa6e2 a96e4bbe3208ff25287dd3819616e89c
             c78cf7f5e543445f8333d8fa7f560000 05279fa5d8b5e4ad40e736ddb4d35412
             328063fd2aab53e5ea1e0a9f332500a5 df9487d07a5c92cc512c8866c7e860ce
             93fdf166a24912b422976146ae20ce84 6bb7dc9ba94a767aaef20c0d61ad0265
             5ea92dc4c4e41a8952c651d33174be51 a10c421110e6d81588ede82103a252d8
             a750e8768defffed9122810aaeb99f91 72af82b604dc4b8e51bcb08235a6f434
             1332e4ca60482a4ba1a03b3e65008fc5 da76b70bf1690db4eae29c5f1badd03c
             5ccf2a55d705ddcd86d449511ceb7ec3 0bf12b1fa35b913f9f747a8afd1b130e
             94bff94effd01a91735ca1726acd0b19 7c4e5b03393697e126826fb6bbde8ecc
             1e08298516e2c9ed03ff3c1b7860f6de 76d4cecd94c8119855ef5297ca67e9f3
             e7ff72b1e99785ca0a7e7720c5b36dc6 d72cac9574c8cbbc2f801e23e56fd344
             b07f22154beba0f08ce8891e643ed995 c94d9a69c9f1b5f499027a78572aeebd
             74d20cc39881c213ee770b1010e4bea7 18846977ae119f7a023ab58cca0ad752
             afe656bb3c17256a9f6e9bf19fdd5a38 fc82bbe872c5539edb609ef4f79c203e
             bb140f2e583cb2ad15b4aa5b655016a8 449277dbd477ef2c8d6c017db738b18d
             eb4a427d1923ce3ff262735779a418f2 0a282df920147beabe421ee5319d0568",
        );
        let key1 = hex("27182818284590452353602874713526");
        let key2 = hex("31415926535897932384626433832795");
        check_vector(&key1, &key2, &[0; 16], &pt_0_to_255_twice(), &ct);
    }

    #[test]
    fn ieee1619_vector_10() {
        let ct = hex(
            "1c3b3a102f770386e4836c99e370cf9b ea00803f5e482357a4ae12d414a3e63b
             5d31e276f8fe4a8d66b317f9ac683f44 680a86ac35adfc3345befecb4bb188fd
             5776926c49a3095eb108fd1098baec70 aaa66999a72a82f27d848b21d4a741b0
             c5cd4d5fff9dac89aeba122961d03a75 7123e9870f8acf1000020887891429ca
             2a3e7a7d7df7b10355165c8b9a6d0a7d e8b062c4500dc4cd120c0f7418dae3d0
             b5781c34803fa75421c790dfe1de1834 f280d7667b327f6c8cd7557e12ac3a0f
             93ec05c52e0493ef31a12d3d9260f79a 289d6a379bc70c50841473d1a8cc81ec
             583e9645e07b8d9670655ba5bbcfecc6 dc3966380ad8fecb17b6ba02469a020a
             84e18e8f84252070c13e9f1f289be54f bc481457778f616015e1327a02b140f1
             505eb309326d68378f8374595c849d84 f4c333ec4423885143cb47bd71c5edae
             9be69a2ffeceb1bec9de244fbe15992b 11b77c040f12bd8f6a975a44a0f90c29
             a9abc3d4d893927284c58754cce29452 9f8614dcd2aba991925fedc4ae74ffac
             6e333b93eb4aff0479da9a410e4450e0 dd7ae4c6e2910900575da401fc07059f
             645e8b7e9bfdef33943054ff84011493 c27b3429eaedb4ed5376441a77ed4385
             1ad77f16f541dfd269d50d6a5f14fb0a ab1cbb4c1550be97f7ab4066193c4caa
             773dad38014bd2092fa755c824bb5e54 c4f36ffda9fcea70b9c6e693e148c151",
        );
        let key1 = hex("2718281828459045235360287471352662497757247093699959574966967627");
        let key2 = hex("3141592653589793238462643383279502884197169399375105820974944592");
        let mut iv = [0; 16];
        iv[0] = 0xff;
        check_vector(&key1, &key2, &iv, &pt_0_to_255_twice(), &ct);
    }

    #[test]
    fn matches_xts_mode() {
        let lengths = (0..=1024).step_by(16).chain([4096, 65536]);
        for len in lengths {
            for key_len in [16, 24, 32] {
                let seed = (len * 3 + key_len) as u64;
                let key1 = pattern(key_len, seed);
                let key2 = pattern(key_len, seed + 1);
                // Alternate LUKS-style sector numbers and arbitrary 16-byte tweaks.
                let mut iv: [u8; 16] = pattern(16, seed + 2).try_into().unwrap();
                if len % 32 == 0 {
                    iv[8..].fill(0);
                }
                let pt = pattern(len, seed + 3);
                let mut ct = pt.clone();
                reference(&key1, &key2, &iv, &mut ct, false);
                let mut back = ct.clone();
                reference(&key1, &key2, &iv, &mut back, true);
                assert_eq!(back, pt);
                check(&key1, &key2, &iv, &pt, &ct);
            }
        }
    }

    #[test]
    fn round_trip() {
        for kernel in kernels() {
            for key_len in [16, 24, 32] {
                let key = pattern(2 * key_len, key_len as u64);
                let xts = xts_with(kernel, &key[..key_len], &key[key_len..]);
                for blocks in [1, 7, 8, 9, 15, 16, 17, 31, 32, 33, 100, 256, 257] {
                    let mut data = pattern(blocks * 16, blocks as u64);
                    let orig = data.clone();
                    let iv: [u8; 16] = pattern(16, !(blocks as u64)).try_into().unwrap();
                    xts.encrypt(&iv, InOutBuf::from(&mut data[..]));
                    assert_ne!(data, orig);
                    xts.decrypt(&iv, InOutBuf::from(&mut data[..]));
                    assert_eq!(
                        data,
                        orig,
                        "{kernel:?}, AES-{}, {blocks} blocks",
                        key_len * 8
                    );
                }
            }
        }
    }

    #[test]
    fn leaves_neighbours_alone() {
        for kernel in kernels() {
            let xts = xts_with(kernel, &[7; 32], &[9; 32]);
            for blocks in [1, 5, 8, 17, 40] {
                let mut buf = vec![0xee; blocks * 16 + 64];
                let iv = [3; 16];
                xts.encrypt(&iv, InOutBuf::from(&mut buf[32..32 + blocks * 16]));
                xts.decrypt(&iv, InOutBuf::from(&mut buf[32..32 + blocks * 16]));
                assert!(
                    buf.iter().all(|&b| b == 0xee),
                    "{kernel:?}, {blocks} blocks"
                );
            }
        }
    }

    #[test]
    #[should_panic(expected = "AES-XTS keys")]
    fn rejects_unequal_keys() {
        let _ = AesXts::new(&[0; 16], &[0; 32]);
    }

    fn blocks_with(kernel: Kernel, key: &[u8]) -> AesBlocks {
        let mut aes = AesBlocks::new(key).expect("AES-NI");
        aes.kernel = kernel;
        aes
    }

    /// `data` through the RustCrypto `aes` crate in ECB, or CTR from `counter` (`ctr`
    /// crate, 128-bit big-endian counter), as the reference.
    fn reference_blocks(key: &[u8], counter: Option<[u8; 16]>, data: &mut [u8], decrypt: bool) {
        use cipher::{KeyIvInit, StreamCipher};
        fn ecb<C>(c: C, data: &mut [u8], decrypt: bool)
        where
            C: BlockCipherEncrypt + BlockCipherDecrypt + BlockSizeUser<BlockSize = U16>,
        {
            for block in data.chunks_exact_mut(16) {
                let block: &mut Array<u8, U16> = block.try_into().unwrap();
                if decrypt {
                    c.decrypt_block(block)
                } else {
                    c.encrypt_block(block)
                }
            }
        }
        match (key.len(), counter) {
            (16, None) => ecb(Aes128::new_from_slice(key).unwrap(), data, decrypt),
            (24, None) => ecb(Aes192::new_from_slice(key).unwrap(), data, decrypt),
            (32, None) => ecb(Aes256::new_from_slice(key).unwrap(), data, decrypt),
            (16, Some(iv)) => ctr::Ctr128BE::<Aes128>::new_from_slices(key, &iv)
                .unwrap()
                .apply_keystream(data),
            (24, Some(iv)) => ctr::Ctr128BE::<Aes192>::new_from_slices(key, &iv)
                .unwrap()
                .apply_keystream(data),
            (_, Some(iv)) => ctr::Ctr128BE::<Aes256>::new_from_slices(key, &iv)
                .unwrap()
                .apply_keystream(data),
            _ => unreachable!(),
        }
    }

    #[test]
    fn ecb_and_ctr_match_rustcrypto() {
        let lengths = (0..=1024).step_by(16).chain([4096, 65536]);
        for len in lengths {
            for key_len in [16, 24, 32] {
                let seed = (len * 5 + key_len) as u64;
                let key = pattern(key_len, seed);
                let pt = pattern(len, seed + 1);
                let iv: [u8; 16] = pattern(16, seed + 2).try_into().unwrap();
                for kernel in kernels() {
                    let aes = blocks_with(kernel, &key);
                    for counter in [None, Some(iv)] {
                        let mut expected = pt.clone();
                        reference_blocks(&key, counter, &mut expected, false);
                        let mut out = vec![0xa5; len];
                        let mut state = counter;
                        let what = format!("{kernel:?} AES-{} {len} B {counter:?}", key_len * 8);
                        match &mut state {
                            Some(c) => aes.ctr(c, InOutBuf::new(&pt, &mut out).unwrap()),
                            None => aes.ecb_encrypt(InOutBuf::new(&pt, &mut out).unwrap()),
                        }
                        assert_eq!(out, expected, "{what}");
                        if let Some(c) = state {
                            let next = u128::from_be_bytes(iv).wrapping_add(len as u128 / 16);
                            assert_eq!(c, next.to_be_bytes(), "{what}: counter");
                        } else {
                            aes.ecb_decrypt(InOutBuf::from(&mut out[..]));
                            assert_eq!(out, pt, "{what}: decrypt");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn ctr_carries_wraps_and_chains() {
        let key = pattern(32, 77);
        for kernel in kernels() {
            let aes = blocks_with(kernel, &key);
            for start in [u64::MAX as u128 - 3, u128::MAX - 5, u128::MAX] {
                let iv = start.to_be_bytes();
                let data = pattern(40 * 16, 78);
                let mut expected = data.clone();
                reference_blocks(&key, Some(iv), &mut expected, false);
                // Uneven calls chain to the same keystream as one call, in place.
                let mut counter = iv;
                let mut buf = data.clone();
                for part in buf.chunks_mut(16 * 7) {
                    aes.ctr(&mut counter, InOutBuf::from(part));
                }
                assert_eq!(buf, expected, "{kernel:?} from {start:#x}");
                assert_eq!(counter, start.wrapping_add(40).to_be_bytes());
            }
        }
    }
}
