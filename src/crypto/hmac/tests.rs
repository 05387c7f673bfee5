use super::*;
use crate::crypto::hash::HashAlgo;
use crate::crypto::testvectors;

/// The concrete backends that claim `alg`.
fn backends_for(alg: HashAlgo) -> Vec<Backend> {
    testvectors::backends_where(|b| backend_supports(b, alg))
}

#[test]
fn published_vectors_on_every_backend() {
    let vectors = testvectors::load("hmac.txt");
    assert!(vectors.len() >= 40);
    for (fields, expected) in vectors {
        let alg = HashAlgo::from_name(std::str::from_utf8(&fields[0]).unwrap()).unwrap();
        for backend in backends_for(alg) {
            let mut mac = Hmac::with_backend(alg, backend, &fields[1]).unwrap();
            mac.update(&fields[2]).unwrap();
            assert_eq!(mac.finalize_hex(), expected, "{alg:?} on {backend:?}");
            // The key survives finalize: the same message gives the same MAC.
            mac.update(&fields[2]).unwrap();
            assert_eq!(
                mac.finalize_hex(),
                expected,
                "{alg:?} on {backend:?}, reused"
            );
        }
    }
}

/// HMAC-SM3 has no published vectors: the backends must agree with each other, for
/// keys shorter than, equal to and longer than the 64-byte block.
#[test]
fn backends_agree_on_every_algorithm() {
    for alg in HashAlgo::ALL {
        for key_len in [0, 1, 63, 64, 65, 200] {
            let key: Vec<u8> = (0..key_len).map(|i| i as u8 ^ 0x5c).collect();
            let data: Vec<u8> = (0..1000u32).map(|i| (i * 7) as u8).collect();
            let macs: Vec<Vec<u8>> = backends_for(alg)
                .into_iter()
                .map(|b| {
                    let mut m = Hmac::with_backend(alg, b, &key).unwrap();
                    m.update(&data[..333]).unwrap();
                    m.update(&data[333..]).unwrap();
                    m.finalize()
                })
                .collect();
            assert!(
                macs.windows(2).all(|w| w[0] == w[1]),
                "{alg:?} key {key_len}"
            );
        }
    }
}

#[test]
fn unsupported_backend_is_an_error() {
    #[cfg(feature = "gnutls")]
    {
        let err = Hmac::with_backend(HashAlgo::Sm3, Backend::Gnutls, b"k")
            .err()
            .unwrap();
        assert_eq!(
            err.message(),
            "Unsupported hmac algorithm sm3 in the gnutls backend"
        );
    }
    assert!(supports(HashAlgo::Sm3));
}

#[cfg(feature = "nettle")]
#[test]
fn auto_hmac_md5_avoids_the_slower_builtin_path() {
    if std::env::var_os("QIO_CRYPTO_BACKEND").is_some() {
        return; // the override decides instead
    }
    let mac = Hmac::new(HashAlgo::Md5, b"key").unwrap();
    assert_ne!(mac.backend(), Backend::Builtin);
    let mac = Hmac::new(HashAlgo::Sm3, b"key").unwrap();
    assert_eq!(mac.backend(), Backend::Builtin);
}
