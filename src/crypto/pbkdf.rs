//! PBKDF2 (QEMU's `crypto/pbkdf.h`) on every compiled backend, and QEMU's measurement
//! of how many iterations a second this machine runs, which LUKS uses to pick
//! iteration counts.

#[cfg(feature = "gnutls")]
mod gnutls;
#[cfg(feature = "nettle")]
mod nettle;

use std::time::Duration;

use super::backend::{self, Backend};
use super::hash::HashAlgo;
use crate::{Error, ErrorKind, Result};

/// Whether `backend` derives keys with `hash` (for `Auto`: whether any backend does).
pub fn backend_supports(backend: Backend, hash: HashAlgo) -> bool {
    match backend {
        Backend::Auto => Backend::CONCRETE.iter().any(|&b| backend_supports(b, hash)),
        Backend::Builtin => true,
        #[cfg(feature = "nettle")]
        Backend::Nettle => true,
        #[cfg(feature = "gnutls")]
        Backend::Gnutls => gnutls::supports(hash),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// Whether some compiled backend derives keys with `hash` (`qcrypto_pbkdf2_supports`).
pub fn supports(hash: HashAlgo) -> bool {
    backend_supports(Backend::Auto, hash)
}

/// The backends `Auto` tries for `hash`, fastest first, as `bench/bench-crypto-pbkdf`
/// measures them (bench/README.md): nettle's PBKDF2 loop (which gnutls also runs) leads for MD5,
/// SHA-1 and SHA-224/256 by 5-15 %, RustCrypto's for SHA-384/512, RIPEMD-160 and SM3.
fn preference(hash: HashAlgo) -> &'static [Backend] {
    use Backend::{Builtin, Gnutls, Nettle};
    match hash {
        HashAlgo::Md5 | HashAlgo::Sha1 | HashAlgo::Sha224 | HashAlgo::Sha256 => {
            &[Nettle, Gnutls, Builtin]
        }
        _ => &[Builtin, Nettle, Gnutls],
    }
}

/// Fills `out` with PBKDF2-HMAC-`hash` of `key` and `salt` over `iterations` rounds,
/// on the default backend.
pub fn pbkdf2(
    hash: HashAlgo,
    key: &[u8],
    salt: &[u8],
    iterations: u64,
    out: &mut [u8],
) -> Result<()> {
    pbkdf2_with_backend(hash, key, salt, iterations, out, Backend::Auto)
}

/// As [`pbkdf2()`], on `backend` (`Auto`: the default one).
pub fn pbkdf2_with_backend(
    hash: HashAlgo,
    key: &[u8],
    salt: &[u8],
    iterations: u64,
    out: &mut [u8],
    backend: Backend,
) -> Result<()> {
    // Every backend counts in a C unsigned int; nettle asserts on 0.
    let rounds = u32::try_from(iterations).map_err(|_| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!(
                "PBKDF iterations {iterations} must be less than {}: Numerical result out of range",
                u32::MAX
            ),
        )
    })?;
    if rounds == 0 {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            "PBKDF iterations must be at least 1",
        ));
    }
    let chosen = backend::resolve(backend, preference(hash), |b| backend_supports(b, hash))
        .ok_or_else(|| {
            let mut message = format!("PBKDF does not support hash algorithm {}", hash.name());
            if backend != Backend::Auto {
                message += &format!(" in the {} backend", backend.name());
            }
            Error::new(
                ErrorKind::NotSupported,
                message + ": Function not implemented",
            )
        })?;
    match chosen {
        #[cfg(feature = "nettle")]
        Backend::Nettle => nettle::pbkdf2(hash, key, salt, rounds, out),
        #[cfg(feature = "gnutls")]
        Backend::Gnutls => gnutls::pbkdf2(hash, key, salt, rounds, out)?,
        _ => builtin(hash, key, salt, rounds, out),
    }
    Ok(())
}

/// PBKDF2 from the RustCrypto `pbkdf2` crate over the builtin HMACs.
fn builtin(hash: HashAlgo, key: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
    use pbkdf2::pbkdf2_hmac as run;
    match hash {
        HashAlgo::Md5 => run::<md5::Md5>(key, salt, rounds, out),
        HashAlgo::Sha1 => run::<sha1::Sha1>(key, salt, rounds, out),
        HashAlgo::Sha224 => run::<sha2::Sha224>(key, salt, rounds, out),
        HashAlgo::Sha256 => run::<sha2::Sha256>(key, salt, rounds, out),
        HashAlgo::Sha384 => run::<sha2::Sha384>(key, salt, rounds, out),
        HashAlgo::Sha512 => run::<sha2::Sha512>(key, salt, rounds, out),
        HashAlgo::Ripemd160 => run::<ripemd::Ripemd160>(key, salt, rounds, out),
        HashAlgo::Sm3 => run::<sm3::Sm3>(key, salt, rounds, out),
    }
}

/// The CPU time the calling thread has used (`RUSAGE_THREAD`, as QEMU measures it).
fn thread_cpu_time() -> Result<Duration> {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: getrusage writes the struct it is given.
    if unsafe { libc::getrusage(libc::RUSAGE_THREAD, usage.as_mut_ptr()) } < 0 {
        let err = std::io::Error::last_os_error();
        return Err(Error::new(
            ErrorKind::Failed,
            format!("Unable to get thread CPU usage: {err}"),
        ));
    }
    // SAFETY: initialized by the successful call.
    let time = unsafe { usage.assume_init() }.ru_utime;
    Ok(Duration::from_secs(time.tv_sec as u64) + Duration::from_micros(time.tv_usec as u64))
}

/// How many PBKDF2 iterations a second this thread runs for `hash` and an `nout`-byte
/// output: 2^15 iterations timed in CPU time, ten times as many while a run takes
/// under 5 ms, then as many as 100 ms should take, and the rate of the first run over
/// 50 ms. That is QEMU's method with a shorter last run (QEMU's ends with
/// one over half a second, about 1.5 s in all, which every LUKS creation pays twice):
/// the CPU clock counts microseconds, so a tenth of a second measures to 0.1 %. The
/// measurement runs in a fresh thread, whose CPU accounting the kernel keeps accurate
/// (QEMU issue 2398).
pub fn count_iters(hash: HashAlgo, key: &[u8], salt: &[u8], nout: usize) -> Result<u64> {
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let mut out = zeroize::Zeroizing::new(vec![0u8; nout]);
                let derive = |iterations| pbkdf2(hash, key, salt, iterations, &mut out);
                count_iters_with(derive, thread_cpu_time)
            })
            .join()
            .unwrap_or_else(|_| Err(Error::new(ErrorKind::Failed, "PBKDF2 measurement failed")))
    })
}

/// A run this long is rescaled to [`AIM`] rather than multiplied by ten.
const SCALE_FROM: Duration = Duration::from_millis(5);
/// How long the measuring run is meant to take.
const AIM: Duration = Duration::from_millis(100);
/// A run this long gives the rate.
const ENOUGH: Duration = Duration::from_millis(50);

/// The loop of [`count_iters`]: `derive(n)` runs PBKDF2 with n iterations and `clock`
/// gives the thread's CPU time.
fn count_iters_with(
    mut derive: impl FnMut(u64) -> Result<()>,
    mut clock: impl FnMut() -> Result<Duration>,
) -> Result<u64> {
    let mut iterations: u64 = 1 << 15;
    let mut scaled = 0;
    loop {
        let start = clock()?;
        derive(iterations)?;
        let delta = clock()?.saturating_sub(start);
        let delta_us = delta.as_micros().max(1);
        // A fast machine may show no CPU time for the first, short runs; after five
        // scalings it must.
        if scaled > 5 && delta.is_zero() {
            return Err(Error::new(
                ErrorKind::Failed,
                "Unable to get accurate CPU usage",
            ));
        } else if delta >= ENOUGH {
            return Ok(
                u64::try_from(u128::from(iterations) * 1_000_000 / delta_us).unwrap_or(u64::MAX)
            );
        } else if delta >= SCALE_FROM {
            let aimed = u128::from(iterations) * AIM.as_micros() / delta_us;
            iterations = u64::try_from(aimed).unwrap_or(u64::MAX);
        } else {
            iterations = iterations.saturating_mul(10);
        }
        scaled += 1;
    }
}

#[cfg(test)]
mod tests;
