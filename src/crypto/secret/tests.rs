use super::*;

fn raw(data: &[u8]) -> Secret {
    Secret::new(SecretSource::Data(data), SecretFormat::Raw, None).unwrap()
}

/// `plain` PKCS#7-padded and AES-256-CBC-encrypted under `key` and `iv`.
fn seal(plain: &[u8], key: &[u8], iv: &[u8]) -> Vec<u8> {
    let pad = 16 - plain.len() % 16;
    let mut data = plain.to_vec();
    data.resize(plain.len() + pad, pad as u8);
    let mut aes = Cipher::new(CipherAlgo::Aes256, CipherMode::Cbc, key).unwrap();
    aes.set_iv(iv).unwrap();
    aes.encrypt(InOutBuf::from(&mut data[..])).unwrap();
    data
}

fn k<'a>(key: &'a Secret, iv: Option<&'a str>) -> Option<SecretKey<'a>> {
    Some(SecretKey { key, iv })
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

#[test]
fn raw_base64_and_file_sources() {
    assert_eq!(raw(b"123456").bytes(), b"123456");
    let decoded = Secret::new(SecretSource::Data(b"MTIzNDU2"), SecretFormat::Base64, None);
    assert_eq!(decoded.unwrap().utf8().unwrap(), "123456");
    let wrapped = Secret::new(
        SecretSource::Data(b"MTIz\nNDU2\n"),
        SecretFormat::Base64,
        None,
    );
    assert_eq!(wrapped.unwrap().bytes(), b"123456");
    assert_eq!(raw(b"\x00\xff").base64(), "AP8=");

    let path = std::env::temp_dir().join(format!("qio-secret-{}", std::process::id()));
    std::fs::write(&path, b"file secret").unwrap();
    let from_file = Secret::new(SecretSource::File(&path), SecretFormat::Raw, None).unwrap();
    assert_eq!(from_file.bytes(), b"file secret");
    std::fs::write(&path, b"").unwrap();
    let empty = Secret::new(SecretSource::File(&path), SecretFormat::Raw, None).unwrap();
    assert!(empty.bytes().is_empty());
    std::fs::remove_file(&path).unwrap();
    let err = Secret::new(SecretSource::File(&path), SecretFormat::Raw, None)
        .err()
        .unwrap();
    assert!(err
        .message()
        .starts_with(&format!("Unable to read {}: ", path.display())));
}

#[test]
fn encrypted_secrets_raw_and_base64() {
    let key = raw(&[0x1d; 32]);
    let iv = [0x0f; 16];
    let sealed = seal(b"123456", key.bytes(), &iv);
    let iv64 = b64(&iv);
    let from_raw = Secret::new(
        SecretSource::Data(&sealed),
        SecretFormat::Raw,
        k(&key, Some(&iv64)),
    );
    assert_eq!(from_raw.unwrap().bytes(), b"123456");
    let text = b64(&sealed);
    let from_b64 = Secret::new(
        SecretSource::Data(text.as_bytes()),
        SecretFormat::Base64,
        k(&key, Some(&iv64)),
    );
    assert_eq!(from_b64.unwrap().bytes(), b"123456");
    // A whole block of padding.
    let full = seal(&[7; 16], key.bytes(), &iv);
    assert_eq!(full.len(), 32);
    let full = Secret::new(
        SecretSource::Data(&full),
        SecretFormat::Raw,
        k(&key, Some(&iv64)),
    )
    .unwrap();
    assert_eq!(full.bytes(), &[7; 16]);
}

fn refused(data: &[u8], format: SecretFormat, key: Option<SecretKey<'_>>) -> String {
    Secret::new(SecretSource::Data(data), format, key)
        .err()
        .unwrap()
        .message()
        .to_string()
}

#[test]
fn bad_input_gets_qemu_messages() {
    assert_eq!(
        refused(b"MTI*NDU2", SecretFormat::Base64, None),
        "Base64 data contains invalid characters"
    );
    assert_eq!(
        refused(b"MTI\0", SecretFormat::Base64, None),
        "Base64 data contains embedded NUL characters"
    );
    let key = raw(&[1; 32]);
    let short_key = raw(&[1; 16]);
    let iv64 = b64(&[2; 16]);
    let sealed = seal(b"secret", key.bytes(), &[2; 16]);
    let iv64_short = b64(&[2; 8]);
    assert_eq!(
        refused(&sealed, SecretFormat::Raw, k(&short_key, Some(&iv64))),
        "Key should be 32 bytes in length"
    );
    assert_eq!(
        refused(&sealed, SecretFormat::Raw, k(&key, None)),
        "IV is required to decrypt secret"
    );
    assert_eq!(
        refused(&sealed, SecretFormat::Raw, k(&key, Some(&iv64_short))),
        "IV should be 16 bytes in length not 8"
    );
    assert_eq!(
        refused(&sealed, SecretFormat::Raw, k(&key, Some("!!"))),
        "Base64 data contains invalid characters"
    );
    assert_eq!(
        refused(&sealed[..15], SecretFormat::Raw, k(&key, Some(&iv64))),
        "Length 15 must be a multiple of block size 16"
    );
    assert_eq!(
        refused(&[], SecretFormat::Raw, k(&key, Some(&iv64))),
        "Incorrect number of padding bytes (0) found on decrypted data"
    );
    // Under the wrong key this block decrypts to a last byte above 16.
    let other = raw(&[3; 32]);
    let garbled = refused(&sealed, SecretFormat::Raw, k(&other, Some(&iv64)));
    assert!(
        garbled.starts_with("Incorrect number of padding bytes"),
        "{garbled}"
    );
    assert_eq!(
        raw(b"\xff\xfe").utf8().unwrap_err().message(),
        "Data from secret is not valid UTF-8"
    );
}
