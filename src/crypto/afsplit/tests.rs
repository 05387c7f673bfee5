use super::*;
use crate::crypto::testvectors::{self, pattern};

#[test]
fn qemu_known_split_decodes() {
    let vectors = testvectors::load("afsplit.txt");
    assert!(!vectors.is_empty());
    for (f, split) in vectors {
        let hash = HashAlgo::from_name(std::str::from_utf8(&f[0]).unwrap()).unwrap();
        let stripes: u32 = std::str::from_utf8(&f[2]).unwrap().parse().unwrap();
        let mut key = vec![0; f[3].len()];
        let split: Vec<u8> = (0..split.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&split[i..i + 2], 16).unwrap())
            .collect();
        decode(hash, stripes, &split, &mut key).unwrap();
        assert_eq!(key, f[3]);
    }
}

#[test]
fn round_trips_with_fresh_random_stripes() {
    for (hash, block_len, stripes) in [
        (HashAlgo::Sha256, 32, 5),
        (HashAlgo::Sha256, 16, 5000),
        (HashAlgo::Sha1, 32, 1000),
        (HashAlgo::Sha512, 100, 3),
        (HashAlgo::Md5, 7, 1),
    ] {
        let key = pattern(block_len, stripes as u64);
        let mut split = vec![0; block_len * stripes as usize];
        let mut again = split.clone();
        encode(hash, stripes, &key, &mut split).unwrap();
        encode(hash, stripes, &key, &mut again).unwrap();
        assert_eq!(split == again, stripes == 1, "{hash:?}");
        let mut out = vec![0; block_len];
        decode(hash, stripes, &split, &mut out).unwrap();
        assert_eq!(out, key);
        // Any damaged stripe destroys the key.
        split[0] ^= 1;
        decode(hash, stripes, &split, &mut out).unwrap();
        assert_ne!(out, key);
    }
}

#[test]
fn shapes_are_checked() {
    let mut out = [0u8; 32];
    assert_eq!(
        decode(HashAlgo::Sha256, 0, &[], &mut out)
            .unwrap_err()
            .message(),
        "Cannot split 32 bytes into 0 stripes"
    );
    assert_eq!(
        encode(HashAlgo::Sha256, 2, &[0; 32], &mut [0; 63])
            .unwrap_err()
            .message(),
        "Split data of 63 bytes is not 2 stripes of 32 bytes"
    );
    assert!(split_len(usize::MAX, 2).is_err());
}
