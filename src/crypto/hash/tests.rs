use super::*;
use crate::crypto::testvectors;

/// The concrete backends that claim `alg`.
fn backends_for(alg: HashAlgo) -> Vec<Backend> {
    testvectors::backends_where(|b| backend_supports(b, alg))
}

fn algo(name: &[u8]) -> HashAlgo {
    HashAlgo::from_name(std::str::from_utf8(name).unwrap()).unwrap()
}

#[test]
fn published_vectors_on_every_backend() {
    let vectors = testvectors::load("hash.txt");
    assert!(vectors.len() >= 30);
    for (fields, expected) in vectors {
        let alg = algo(&fields[0]);
        for backend in backends_for(alg) {
            let mut hash = Hash::with_backend(alg, backend).unwrap();
            assert_eq!(hash.backend(), backend);
            hash.update(&fields[1]).unwrap();
            assert_eq!(hash.finalize_hex(), expected, "{alg:?} on {backend:?}");
        }
    }
}

#[test]
fn every_algorithm_is_covered_by_vectors() {
    let vectors = testvectors::load("hash.txt");
    for alg in HashAlgo::ALL {
        assert!(vectors.iter().any(|(f, _)| algo(&f[0]) == alg), "{alg:?}");
    }
}

#[test]
fn backend_coverage_matches_the_libraries() {
    for alg in HashAlgo::ALL {
        assert!(supports(alg));
        assert!(backend_supports(Backend::Builtin, alg));
        #[cfg(feature = "nettle")]
        assert!(backend_supports(Backend::Nettle, alg));
    }
    #[cfg(feature = "gnutls")]
    {
        assert!(backend_supports(Backend::Gnutls, HashAlgo::Sha256));
        assert!(!backend_supports(Backend::Gnutls, HashAlgo::Sm3));
        let err = Hash::with_backend(HashAlgo::Sm3, Backend::Gnutls)
            .err()
            .unwrap();
        assert_eq!(err.kind(), ErrorKind::NotSupported);
        assert_eq!(
            err.message(),
            "Unsupported hash algorithm sm3 in the gnutls backend"
        );
    }
}

/// Lengths around every block boundary that matters (64 and 128 bytes) and 1 MiB.
fn interesting_lengths() -> Vec<usize> {
    let mut lens = vec![0, 1, 55, 56, 111, 112, 1 << 20];
    for block in [64, 128] {
        for k in 1..4 {
            lens.extend([block * k - 1, block * k, block * k + 1]);
        }
    }
    lens
}

#[test]
fn backends_agree_on_lengths_and_splits() {
    for alg in HashAlgo::ALL {
        let backends = backends_for(alg);
        for (i, len) in interesting_lengths().into_iter().enumerate() {
            let data = testvectors::pattern(len, i as u64 + 1);
            let reference = {
                let mut h = Hash::with_backend(alg, Backend::Builtin).unwrap();
                h.update(&data).unwrap();
                h.finalize()
            };
            for &backend in &backends {
                // Whole, then split in three uneven pieces (one possibly empty).
                let mut h = Hash::with_backend(alg, backend).unwrap();
                h.update(&data).unwrap();
                assert_eq!(h.finalize(), reference, "{alg:?} {backend:?} len {len}");
                let (a, rest) = data.split_at(len / 3);
                let (b, c) = rest.split_at(rest.len() / 2);
                for part in [a, &[][..], b, c] {
                    h.update(part).unwrap();
                }
                assert_eq!(h.finalize(), reference, "{alg:?} {backend:?} split {len}");
            }
        }
    }
}

#[test]
fn finalize_resets_the_state() {
    for backend in backends_for(HashAlgo::Sha256) {
        let mut h = Hash::with_backend(HashAlgo::Sha256, backend).unwrap();
        h.update(b"abc").unwrap();
        let first = h.finalize_hex();
        h.update(b"abc").unwrap();
        assert_eq!(h.finalize_hex(), first);
        assert_eq!(
            h.finalize_hex(),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}

#[test]
fn result_buffer_must_match_the_digest_length() {
    let mut h = Hash::new(HashAlgo::Sha1).unwrap();
    let mut small = [0u8; 19];
    let err = h.finalize_into(&mut small).unwrap_err();
    assert_eq!(
        err.message(),
        "Result buffer size 19 is smaller than hash 20"
    );
    assert_eq!(small, [0u8; 19]);
    let mut exact = [0u8; 20];
    h.update(b"abc").unwrap();
    h.finalize_into(&mut exact).unwrap();
    assert_eq!(exact[..4], [0xa9, 0x99, 0x3e, 0x36]);
}

#[test]
fn formats_and_enum_values() {
    assert_eq!(HashAlgo::from_index(3).unwrap(), HashAlgo::Sha256);
    assert_eq!(
        HashAlgo::from_index(8).unwrap_err().message(),
        "Unknown hash algorithm 8"
    );
    assert!(HashAlgo::from_index(-1).is_err());
    for (i, alg) in HashAlgo::ALL.into_iter().enumerate() {
        assert_eq!(alg as usize, i);
        assert_eq!(HashAlgo::from_name(alg.name()), Some(alg));
    }
    let mut h = Hash::new(HashAlgo::Md5).unwrap();
    h.update(b"abc").unwrap();
    assert_eq!(h.finalize_base64(), "kAFQmDzST7DWlj99KOF/cg==");
    assert_eq!(
        digest(HashAlgo::Md5, &[b"a", b"", b"bc"]).unwrap(),
        digest(HashAlgo::Md5, &[b"abc"]).unwrap()
    );
}
