use super::*;
use crate::crypto::testvectors::{self, pattern};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Runs every vector of `file` on every backend that has its hash (RFC 6070's
/// 16,777,216-iteration vector is in `pbkdf2-slow.txt`, which a C test runs).
fn run_vectors(file: &str) -> usize {
    let vectors = testvectors::load(file);
    for (f, expected) in &vectors {
        let hash = HashAlgo::from_name(std::str::from_utf8(&f[0]).unwrap()).unwrap();
        let iterations: u64 = std::str::from_utf8(&f[1]).unwrap().parse().unwrap();
        for backend in testvectors::backends_where(|b| backend_supports(b, hash)) {
            let mut out = vec![0; expected.len() / 2];
            pbkdf2_with_backend(hash, &f[2], &f[3], iterations, &mut out, backend).unwrap();
            assert_eq!(&hex(&out), expected, "{hash:?} {iterations} on {backend:?}");
        }
    }
    vectors.len()
}

#[test]
fn published_vectors_on_every_backend() {
    assert!(run_vectors("pbkdf2.txt") >= 20);
}

#[test]
fn backends_agree_on_long_keys_empty_salts_and_long_outputs() {
    for hash in HashAlgo::ALL {
        let backends = testvectors::backends_where(|b| backend_supports(b, hash));
        for (key_len, salt_len, out_len) in [(0, 0, 1), (200, 0, 100), (13, 16, 3 * 64 + 5)] {
            let key = pattern(key_len, 1);
            let salt = pattern(salt_len, 2);
            let outputs: Vec<Vec<u8>> = backends
                .iter()
                .map(|&b| {
                    let mut out = vec![0; out_len];
                    pbkdf2_with_backend(hash, &key, &salt, 3, &mut out, b).unwrap();
                    out
                })
                .collect();
            assert!(
                outputs.windows(2).all(|w| w[0] == w[1]),
                "{hash:?} {backends:?}"
            );
        }
    }
}

#[test]
fn bad_iteration_counts_and_backends_are_errors() {
    let mut out = [0u8; 16];
    for backend in Backend::CONCRETE.into_iter().filter(|b| b.is_compiled()) {
        let err = pbkdf2_with_backend(HashAlgo::Sha256, b"k", b"s", 0, &mut out, backend);
        assert_eq!(
            err.unwrap_err().message(),
            "PBKDF iterations must be at least 1"
        );
        let err = pbkdf2_with_backend(HashAlgo::Sha256, b"k", b"s", 1 << 32, &mut out, backend);
        assert_eq!(
            err.unwrap_err().message(),
            "PBKDF iterations 4294967296 must be less than 4294967295: Numerical result out of range"
        );
    }
    #[cfg(feature = "gnutls")]
    {
        assert!(!backend_supports(Backend::Gnutls, HashAlgo::Sm3));
        let err = pbkdf2_with_backend(HashAlgo::Sm3, b"k", b"s", 1, &mut out, Backend::Gnutls);
        let err = err.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotSupported);
        assert_eq!(
            err.message(),
            "PBKDF does not support hash algorithm sm3 in the gnutls backend: Function not implemented"
        );
    }
}

/// `count_iters_with` over a fake CPU clock on which `n` iterations take `n * ns` ns.
fn fake_count(ns: u64) -> Result<u64> {
    let now = std::cell::Cell::new(Duration::ZERO);
    let derive = |n: u64| {
        now.set(now.get() + Duration::from_nanos(n * ns));
        Ok(())
    };
    count_iters_with(derive, || Ok(now.get()))
}

#[test]
fn count_iters_scales_to_a_tenth_of_a_second() {
    // 1 µs per iteration: 2^15 → 32.768 ms (rescaled to 100 ms: 100000 iterations) →
    // 100 ms: a million a second.
    assert_eq!(fake_count(1000), Ok(1_000_000));
    // 20 µs per iteration: 2^15 → 655.36 ms, already enough.
    assert_eq!(fake_count(20_000), Ok(50_000));
    // 1 ns per iteration: 32.768 µs, 327.68 µs, 3.2768 ms (×10 each), 32.768 ms
    // (rescaled), then 100 ms.
    assert_eq!(fake_count(1), Ok(1_000_000_000));
    // No CPU time at all: an error once 2^15 was scaled up five times.
    assert_eq!(
        fake_count(0).unwrap_err().message(),
        "Unable to get accurate CPU usage"
    );
}

#[test]
fn count_iters_measures_this_machine() {
    let rate = count_iters(HashAlgo::Sha256, b"password", b"salt", 32).unwrap();
    assert!(rate >= 1 << 15, "{rate}");
}
