//! Secret loading on hostile file content: base64 decoding, AES-256-CBC decryption and
//! padding removal must fail cleanly, never panic, on any bytes.

#![no_main]

use libfuzzer_sys::fuzz_target;
use qio::crypto::secret::{SecretKey, SecretSource};
use qio::crypto::{Secret, SecretFormat};

fuzz_target!(|input: &[u8]| {
    let Some((&selector, data)) = input.split_first() else {
        return;
    };
    let format = if selector & 1 == 0 {
        SecretFormat::Raw
    } else {
        SecretFormat::Base64
    };
    let key = Secret::new(SecretSource::Data(&[0x42; 32]), SecretFormat::Raw, None).unwrap();
    // The IV as text, hostile too: the upper bits pick how many leading bytes it takes.
    let (iv, data) = data.split_at(usize::from(selector >> 2).min(data.len()));
    let iv = std::str::from_utf8(iv).ok();
    let decrypt = selector & 2 != 0;
    let key = decrypt.then_some(SecretKey { key: &key, iv });
    if let Ok(secret) = Secret::new(SecretSource::Data(data), format, key) {
        let _ = secret.utf8();
        let _ = secret.base64();
    }
});
