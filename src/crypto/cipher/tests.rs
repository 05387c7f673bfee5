use super::*;
use crate::crypto::testvectors::{self, pattern};

/// The concrete backends that claim `alg` in `mode`.
fn backends_for(alg: CipherAlgo, mode: CipherMode) -> Vec<Backend> {
    testvectors::backends_where(|b| backend_supports(b, alg, mode))
}

/// Every (algorithm, mode) pair that exists.
fn pairs() -> impl Iterator<Item = (CipherAlgo, CipherMode)> {
    CipherAlgo::ALL
        .into_iter()
        .flat_map(|a| CipherMode::ALL.map(|m| (a, m)))
        .filter(|&(a, m)| valid_pair(a, m))
}

fn text(field: &[u8]) -> &str {
    std::str::from_utf8(field).unwrap()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn key_for(alg: CipherAlgo, mode: CipherMode, seed: u64) -> Vec<u8> {
    let factor = if mode == CipherMode::Xts { 2 } else { 1 };
    pattern(alg.key_len() * factor, seed)
}

fn encrypt(cipher: &mut Cipher, data: &[u8]) -> Vec<u8> {
    let mut out = vec![0; data.len()];
    cipher
        .encrypt(InOutBuf::new(data, &mut out).unwrap())
        .unwrap();
    out
}

fn decrypt(cipher: &mut Cipher, data: &[u8]) -> Vec<u8> {
    let mut buf = data.to_vec();
    cipher.decrypt(InOutBuf::from(&mut buf[..])).unwrap();
    buf
}

#[test]
fn published_vectors_on_every_backend() {
    let vectors = testvectors::load("cipher.txt");
    assert!(vectors.len() >= 30);
    for (f, expected) in vectors {
        let alg = CipherAlgo::from_name(text(&f[0])).unwrap();
        let mode = CipherMode::from_name(text(&f[1])).unwrap();
        let (key, iv, plain) = (&f[2], &f[3], &f[4]);
        for backend in backends_for(alg, mode) {
            let what = format!("{alg:?}-{mode:?} on {backend:?}");
            let mut cipher = Cipher::with_backend(alg, mode, key, backend).unwrap();
            assert_eq!(cipher.backend(), backend);
            if !iv.is_empty() {
                cipher.set_iv(iv).unwrap();
            }
            let sealed = encrypt(&mut cipher, plain);
            assert_eq!(hex(&sealed), expected, "{what}");
            if !iv.is_empty() {
                cipher.set_iv(iv).unwrap();
            }
            assert_eq!(&decrypt(&mut cipher, &sealed), plain, "{what}");
        }
    }
}

#[test]
fn every_pair_is_covered_by_vectors() {
    let vectors = testvectors::load("cipher.txt");
    for alg in CipherAlgo::ALL {
        assert!(
            vectors.iter().any(|(f, _)| text(&f[0]) == alg.name()),
            "{alg:?}"
        );
    }
    for mode in CipherMode::ALL {
        assert!(
            vectors.iter().any(|(f, _)| text(&f[1]) == mode.name()),
            "{mode:?}"
        );
    }
}

#[test]
fn sizes_follow_qemu_tables() {
    let keys: Vec<usize> = CipherAlgo::ALL.iter().map(|a| a.key_len()).collect();
    assert_eq!(keys, [16, 24, 32, 8, 24, 16, 16, 24, 32, 16, 24, 32, 16]);
    let blocks: Vec<usize> = CipherAlgo::ALL.iter().map(|a| a.block_len()).collect();
    assert_eq!(blocks, [16, 16, 16, 8, 8, 8, 16, 16, 16, 16, 16, 16, 16]);
    assert_eq!(iv_len(CipherAlgo::Aes128, CipherMode::Ecb), 0);
    assert_eq!(iv_len(CipherAlgo::Des, CipherMode::Cbc), 8);
    assert_eq!(iv_len(CipherAlgo::Sm4, CipherMode::Xts), 16);
    for (i, alg) in CipherAlgo::ALL.into_iter().enumerate() {
        assert_eq!(CipherAlgo::from_index(i as i64), Ok(alg));
        assert_eq!(CipherAlgo::from_name(alg.name()), Some(alg));
    }
    assert_eq!(
        CipherAlgo::from_index(13).unwrap_err().message(),
        "Cipher algorithm 13 out of range"
    );
    assert!(CipherMode::from_index(-1).is_err());
}

#[test]
fn backend_coverage_matches_the_libraries() {
    for (alg, mode) in pairs() {
        assert!(supports(alg, mode), "{alg:?}-{mode:?}");
        assert!(backend_supports(Backend::Builtin, alg, mode));
        #[cfg(feature = "nettle")]
        assert_eq!(
            backend_supports(Backend::Nettle, alg, mode),
            alg != CipherAlgo::Sm4
        );
        #[cfg(feature = "gnutls")]
        assert!(!backend_supports(Backend::Gnutls, alg, CipherMode::Ecb));
    }
    for alg in [
        CipherAlgo::Des,
        CipherAlgo::TripleDes,
        CipherAlgo::Cast5_128,
    ] {
        assert!(!supports(alg, CipherMode::Xts));
    }
    #[cfg(feature = "gnutls")]
    {
        assert!(backend_supports(
            Backend::Gnutls,
            CipherAlgo::Aes256,
            CipherMode::Xts
        ));
        let err = Cipher::with_backend(
            CipherAlgo::Aes128,
            CipherMode::Ctr,
            &[0; 16],
            Backend::Gnutls,
        )
        .err()
        .unwrap();
        assert_eq!(err.kind(), ErrorKind::NotSupported);
        assert_eq!(
            err.message(),
            "Unsupported cipher algorithm aes-128 with ctr mode in the gnutls backend"
        );
    }
}

/// Creating `alg` in `mode` with a `nkey`-byte key fails with `message`.
fn assert_refused(alg: CipherAlgo, mode: CipherMode, nkey: usize, message: &str) {
    for backend in Backend::CONCRETE.into_iter().filter(|b| b.is_compiled()) {
        let err = Cipher::with_backend(alg, mode, &vec![7; nkey], backend)
            .err()
            .unwrap();
        assert_eq!(err.message(), message, "{backend:?}");
    }
}

#[test]
fn bad_keys_get_qemu_messages() {
    use CipherAlgo::*;
    use CipherMode::*;
    assert_refused(Aes128, Cbc, 15, "Cipher key length 15 should be 16");
    assert_refused(Aes256, Ecb, 64, "Cipher key length 64 should be 32");
    assert_refused(Des, Ecb, 16, "Cipher key length 16 should be 8");
    assert_refused(Aes128, Xts, 16, "Cipher key length 16 should be 32");
    assert_refused(
        Aes128,
        Xts,
        33,
        "XTS cipher key length should be a multiple of 2",
    );
    assert_refused(Des, Xts, 16, "XTS mode not compatible with DES/3DES");
    assert_refused(TripleDes, Xts, 48, "XTS mode not compatible with DES/3DES");
    assert_refused(
        Cast5_128,
        Xts,
        32,
        "Unsupported cipher algorithm cast5-128 with xts mode",
    );
}

#[test]
fn bad_lengths_and_ivs_get_qemu_messages() {
    for (alg, mode) in pairs() {
        for backend in backends_for(alg, mode) {
            let key = key_for(alg, mode, 1);
            let mut cipher = Cipher::with_backend(alg, mode, &key, backend).unwrap();
            let block = alg.block_len();
            let mut buf = vec![0; block + 4];
            let err = cipher.encrypt(InOutBuf::from(&mut buf[..])).unwrap_err();
            assert_eq!(
                err.message(),
                format!(
                    "Length {} must be a multiple of block size {block}",
                    block + 4
                )
            );
            assert!(cipher.decrypt(InOutBuf::from(&mut buf[..3])).is_err());
            let err = cipher.set_iv(&[0; 5]).unwrap_err();
            let expected = if mode == CipherMode::Ecb {
                "Setting IV is not supported".to_string()
            } else {
                format!("Expected IV size {block} not 5")
            };
            assert_eq!(err.message(), expected);
        }
    }
}

#[test]
fn the_initial_iv_is_zero() {
    for (alg, mode) in pairs().filter(|&(_, m)| m != CipherMode::Ecb) {
        for backend in backends_for(alg, mode) {
            let key = key_for(alg, mode, 2);
            let data = pattern(4 * alg.block_len(), 3);
            let mut implicit = Cipher::with_backend(alg, mode, &key, backend).unwrap();
            let mut explicit = Cipher::with_backend(alg, mode, &key, backend).unwrap();
            explicit.set_iv(&vec![0; alg.block_len()]).unwrap();
            assert_eq!(encrypt(&mut implicit, &data), encrypt(&mut explicit, &data));
        }
    }
}

#[test]
fn cbc_and_ctr_chain_across_calls_and_xts_does_not() {
    for (alg, mode) in pairs().filter(|&(_, m)| m != CipherMode::Ecb) {
        for backend in backends_for(alg, mode) {
            let what = format!("{alg:?}-{mode:?} on {backend:?}");
            let key = key_for(alg, mode, 4);
            let iv = pattern(alg.block_len(), 5);
            let half = pattern(3 * alg.block_len(), 6);
            let mut cipher = Cipher::with_backend(alg, mode, &key, backend).unwrap();
            cipher.set_iv(&iv).unwrap();
            let whole = encrypt(&mut cipher, &[&half[..], &half[..]].concat());
            cipher.set_iv(&iv).unwrap();
            let first = encrypt(&mut cipher, &half);
            let second = encrypt(&mut cipher, &half);
            assert_eq!(first, whole[..half.len()], "{what}");
            if mode == CipherMode::Xts {
                assert_eq!(second, first, "{what}: the tweak advanced");
            } else {
                assert_eq!(second, whole[half.len()..], "{what}");
            }
        }
    }
}

/// Runs one sequence of calls (both directions, in and out of place, IV resets) on
/// every backend of the pair and checks that they all produce the same bytes.
#[test]
fn backends_agree_on_random_data() {
    for (alg, mode) in pairs() {
        let backends = backends_for(alg, mode);
        if backends.len() < 2 {
            continue;
        }
        for seed in 1..4u64 {
            let key = key_for(alg, mode, seed);
            let iv = pattern(iv_len(alg, mode), seed + 100);
            let outputs: Vec<Vec<Vec<u8>>> = backends
                .iter()
                .map(|&backend| {
                    let mut c = Cipher::with_backend(alg, mode, &key, backend).unwrap();
                    let mut outs = Vec::new();
                    for (i, blocks) in [0usize, 1, 7, 33, 256].into_iter().enumerate() {
                        if !iv.is_empty() && i % 2 == 0 {
                            c.set_iv(&iv).unwrap();
                        }
                        let data = pattern(blocks * alg.block_len(), seed * 7 + i as u64);
                        outs.push(encrypt(&mut c, &data));
                        outs.push(decrypt(&mut c, &data));
                    }
                    outs
                })
                .collect();
            for (backend, out) in backends.iter().zip(&outputs).skip(1) {
                let first_diff = out.iter().zip(&outputs[0]).position(|(a, b)| a != b);
                assert!(
                    first_diff.is_none(),
                    "{first_diff:?} {alg:?}-{mode:?} seed {seed}: {backend:?} differs from {:?}",
                    backends[0]
                );
                assert!(
                    out == &outputs[0],
                    "{alg:?}-{mode:?} seed {seed}: {backend:?} differs from {:?}",
                    backends[0]
                );
            }
        }
    }
}

#[test]
fn ctr_counter_wraps_like_nettle() {
    for alg in [CipherAlgo::Aes128, CipherAlgo::Des] {
        let mut cipher =
            Cipher::new(alg, CipherMode::Ctr, &key_for(alg, CipherMode::Ctr, 9)).unwrap();
        let block = alg.block_len();
        cipher.set_iv(&vec![0xff; block]).unwrap();
        let wrapped = encrypt(&mut cipher, &vec![0; 2 * block]);
        cipher.set_iv(&vec![0; block]).unwrap();
        let from_zero = encrypt(&mut cipher, &vec![0; block]);
        assert_eq!(wrapped[block..], from_zero[..], "{alg:?}");
    }
}

/// RustCrypto's `xts-mode` as an independent oracle for the builtin XTS on AES and on
/// a cipher without a multi-block backend.
#[test]
fn builtin_xts_matches_xts_mode() {
    fn check<C>(alg: CipherAlgo)
    where
        C: cipher::BlockCipherEncrypt + cipher::BlockCipherDecrypt + cipher::KeyInit,
        C: cipher::BlockSizeUser<BlockSize = cipher::consts::U16>,
    {
        let key = key_for(alg, CipherMode::Xts, 11);
        let (k1, k2) = key.split_at(key.len() / 2);
        let oracle = xts_mode::Xts128::new(
            C::new_from_slice(k1).unwrap(),
            C::new_from_slice(k2).unwrap(),
        );
        let mut cipher =
            Cipher::with_backend(alg, CipherMode::Xts, &key, Backend::Builtin).unwrap();
        for (sector, blocks) in [
            (0u128, 1usize),
            (1, 2),
            (0x1f2e3d4c, 32),
            (u64::MAX as u128, 33),
            (7, 4096),
        ] {
            let tweak = sector.to_le_bytes();
            let data = pattern(blocks * 16, sector as u64 ^ 0x5a);
            let mut expected = data.clone();
            oracle.encrypt_sector(&mut expected, tweak.into());
            cipher.set_iv(&tweak).unwrap();
            assert_eq!(encrypt(&mut cipher, &data), expected, "{alg:?} {blocks}");
            assert_eq!(decrypt(&mut cipher, &expected), data);
        }
    }
    check::<aes::Aes128>(CipherAlgo::Aes128);
    check::<aes::Aes192>(CipherAlgo::Aes192);
    check::<aes::Aes256>(CipherAlgo::Aes256);
    check::<serpent::Serpent>(CipherAlgo::Serpent256);
    check::<sm4::Sm4>(CipherAlgo::Sm4);
}
