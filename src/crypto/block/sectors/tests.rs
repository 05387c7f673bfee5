use super::*;
use crate::crypto::cipher::{CipherAlgo, CipherMode};
use crate::crypto::hash::HashAlgo;
use crate::crypto::ivgen::IvGenAlgo;

fn sector_cipher(mode: CipherMode, ivgen: IvGenAlgo, key: &[u8]) -> SectorCipher {
    let cipher = Cipher::new(CipherAlgo::Aes128, mode, key).unwrap();
    let ivgen = IvGen::new(ivgen, CipherAlgo::Aes128, HashAlgo::Sha256, key).unwrap();
    SectorCipher::new(cipher, ivgen)
}

/// Each sector is the cipher's output for that sector's IV alone: the same as
/// encrypting it by hand with the IV the generator gives its number.
#[test]
fn each_sector_has_its_own_iv() {
    let key = [0x42u8; 32];
    let plain: Vec<u8> = (0..2048u32).map(|i| (i * 7) as u8).collect();
    let mut data = plain.clone();
    let mut sc = sector_cipher(CipherMode::Xts, IvGenAlgo::Plain64, &key);
    sc.encrypt(100, 512, &mut data).unwrap();
    for (i, sector) in data.chunks(512).enumerate() {
        let mut cipher = Cipher::new(CipherAlgo::Aes128, CipherMode::Xts, &key).unwrap();
        let mut iv = [0u8; 16];
        iv[..8].copy_from_slice(&(100 + i as u64).to_le_bytes());
        cipher.set_iv(&iv).unwrap();
        let mut expected = plain[i * 512..(i + 1) * 512].to_vec();
        cipher.encrypt(InOutBuf::from(&mut expected[..])).unwrap();
        assert_eq!(sector, &expected[..], "sector {i}");
    }
    sc.decrypt(100, 512, &mut data).unwrap();
    assert_eq!(data, plain);
}

/// A sector's ciphertext depends on its number, not on where the buffer starts.
#[test]
fn sectors_encrypt_alike_whatever_the_request() {
    let key = [9u8; 16];
    let plain = vec![0x5au8; 4096];
    let mut whole = plain.clone();
    let mut sc = sector_cipher(CipherMode::Cbc, IvGenAlgo::Essiv, &key);
    sc.encrypt(0, 512, &mut whole).unwrap();
    let mut tail = plain[1024..].to_vec();
    sc.encrypt(2, 512, &mut tail).unwrap();
    assert_eq!(tail, whole[1024..]);
}

/// ECB takes no IV: the generator is not consulted.
#[test]
fn ecb_sectors_need_no_iv() {
    let key = [3u8; 16];
    let mut sc = sector_cipher(CipherMode::Ecb, IvGenAlgo::Plain64, &key);
    let mut a = vec![1u8; 1024];
    sc.encrypt(0, 512, &mut a).unwrap();
    assert_eq!(a[..512], a[512..]);
}

/// With a numbering, sector n of 4096 bytes is encrypted as one unit under the IV of
/// `offset + 8n`: what a 512-byte-sector cipher gives each sector's first 512 bytes
/// when they alone are encrypted under that IV number (XTS's tweak covers the unit).
#[test]
fn numbered_ivs_count_512_byte_units_from_the_offset() {
    let key = [0x17u8; 32];
    let plain: Vec<u8> = (0..8192u32).map(|i| (i * 13) as u8).collect();
    let numbering = IvNumbering {
        offset: 5,
        shift: 3,
    };
    let mut data = plain.clone();
    let mut sc =
        sector_cipher(CipherMode::Xts, IvGenAlgo::Plain64, &key).with_iv_numbering(numbering);
    sc.encrypt(3, 4096, &mut data).unwrap();
    let mut plain_sc = sector_cipher(CipherMode::Xts, IvGenAlgo::Plain64, &key);
    for (i, sector) in data.chunks(4096).enumerate() {
        let mut expected = plain[i * 4096..(i + 1) * 4096].to_vec();
        plain_sc
            .encrypt(5 + 8 * (3 + i as u64), 4096, &mut expected)
            .unwrap();
        assert_eq!(sector, &expected[..], "sector {i}");
    }
    sc.decrypt(3, 4096, &mut data).unwrap();
    assert_eq!(data, plain);
}

/// IV numbers wrap as dm-crypt's do, without a panic.
#[test]
fn iv_numbers_wrap() {
    let numbering = IvNumbering {
        offset: u64::MAX,
        shift: 3,
    };
    assert_eq!(numbering.iv_number(1), 7);
}
