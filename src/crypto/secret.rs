//! Secrets: passwords and keys handed to qio out of band (QEMU's `secret` object from
//! `crypto/secret.h`), from inline data or a file, raw or base64, optionally
//! AES-256-CBC-encrypted under another secret. The bytes are wiped when dropped.

use std::path::Path;

use base64::Engine;
use zeroize::Zeroizing;

use super::cipher::{Cipher, CipherAlgo, CipherMode, InOutBuf};
use crate::qapi::qapi_enum;
use crate::{Error, ErrorKind, Result};

qapi_enum! {
    /// How the loaded data encodes the secret (QEMU's `QCryptoSecretFormat`).
    pub enum SecretFormat, error = "Unknown secret format {}" {
        /// The bytes as they are.
        Raw = 0 => "raw",
        /// Base64 text.
        Base64 = 1 => "base64",
    }
}

/// Where a secret's data comes from.
#[derive(Clone, Copy, Debug)]
pub enum SecretSource<'a> {
    /// Inline data.
    Data(&'a [u8]),
    /// The whole content of a file.
    File(&'a Path),
    /// The payload of a key in the Linux kernel's keyring, by serial number (QEMU's
    /// `secret_keyring` object).
    Keyring(i32),
}

/// The key that decrypts an encrypted secret: a 32-byte secret and a base64 IV.
#[derive(Clone, Copy)]
pub struct SecretKey<'a> {
    /// The AES-256 key.
    pub key: &'a Secret,
    /// The base64 CBC IV; required, but QEMU reports its absence only at decryption.
    pub iv: Option<&'a str>,
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// QEMU's base64 decoding (`qbase64_decode`): only the base64 alphabet, `=` and
/// newlines are allowed, then GLib's `g_base64_decode` decodes, the very function QEMU
/// calls, so qio accepts exactly what QEMU does (missing padding, spare bits that are
/// not zero) and decodes it to the same bytes.
fn decode_base64(text: &[u8]) -> Result<Zeroizing<Vec<u8>>> {
    if text.contains(&0) {
        return Err(invalid("Base64 data contains embedded NUL characters"));
    }
    let valid = |c: &u8| c.is_ascii_alphanumeric() || b"+/=\n".contains(c);
    if !text.iter().all(valid) {
        return Err(invalid("Base64 data contains invalid characters"));
    }
    let text = Zeroizing::new([text, b"\0"].concat());
    let mut len = 0;
    // SAFETY: a NUL-terminated string; GLib returns a new buffer of `len` bytes (NULL
    // only when `len` is 0), which is copied, wiped and freed here.
    unsafe {
        let decoded = glib_sys::g_base64_decode(text.as_ptr().cast(), &mut len);
        if decoded.is_null() {
            return Ok(Zeroizing::new(Vec::new()));
        }
        let bytes = std::slice::from_raw_parts_mut(decoded, len);
        let copy = Zeroizing::new(bytes.to_vec());
        zeroize::Zeroize::zeroize(bytes);
        glib_sys::g_free(decoded.cast());
        Ok(copy)
    }
}

/// A loaded secret (QEMU's `QCryptoSecret`).
///
/// ```
/// use qio::crypto::secret::SecretSource;
/// use qio::crypto::{Secret, SecretFormat};
///
/// let password = Secret::new(SecretSource::Data(b"czNjcjN0"), SecretFormat::Base64, None)?;
/// assert_eq!(password.utf8()?, "s3cr3t");
/// # Ok::<(), qio::Error>(())
/// ```
pub struct Secret {
    data: Zeroizing<Vec<u8>>,
}

impl Secret {
    /// Loads a secret from `source` in `format`, decrypting it with `key` when given.
    pub fn new(
        source: SecretSource<'_>,
        format: SecretFormat,
        key: Option<SecretKey<'_>>,
    ) -> Result<Secret> {
        let input = match source {
            SecretSource::Data(data) => Zeroizing::new(data.to_vec()),
            SecretSource::File(path) => Zeroizing::new(crate::config_file::read_or_fail(path)?),
            SecretSource::Keyring(serial) => read_key(serial)?,
        };
        let data = match (key, format) {
            (Some(key), _) => decrypt(&input, format, key)?,
            (None, SecretFormat::Base64) => decode_base64(&input)?,
            (None, SecretFormat::Raw) => input,
        };
        Ok(Secret { data })
    }

    /// The secret's bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.data
    }

    /// The secret as text, which must be valid UTF-8 without NUL bytes (GLib's
    /// `g_utf8_validate`, which QEMU checks with, refuses a NUL as C code would stop at
    /// it).
    pub fn utf8(&self) -> Result<&str> {
        std::str::from_utf8(&self.data)
            .ok()
            .filter(|text| !text.contains('\0'))
            .ok_or_else(|| invalid("Data from secret is not valid UTF-8"))
    }

    /// The secret's bytes in base64.
    pub fn base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.data[..])
    }
}

/// The payload of the keyring key `serial` (`keyctl(KEYCTL_READ)`), with QEMU's messages.
fn read_key(serial: i32) -> Result<Zeroizing<Vec<u8>>> {
    const KEYCTL_READ: libc::c_long = 11;
    if serial == 0 {
        return Err(invalid("'serial' should not be equal to 0"));
    }
    let keyctl_read = |buf: &mut [u8]| {
        // SAFETY: KEYCTL_READ writes at most `buf.len()` bytes into `buf` and returns
        // the key's whole length.
        let len = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_READ,
                libc::c_long::from(serial),
                buf.as_mut_ptr(),
                buf.len(),
                0,
            )
        };
        // An empty key is refused, as QEMU refuses it.
        match len {
            len if len > 0 => Ok(len as usize),
            len => Err(Error::os(
                &format!("Unable to read serial key {serial:08x}"),
                match len {
                    0 => libc::ENODATA,
                    _ => std::io::Error::last_os_error().raw_os_error().unwrap_or(0),
                },
            )),
        }
    };
    let mut buf = Zeroizing::new(Vec::new());
    // The key may change size between the two reads: read until it fits.
    loop {
        let len = keyctl_read(&mut buf)?;
        if len <= buf.len() {
            buf.truncate(len);
            return Ok(buf);
        }
        *buf = vec![0; len];
    }
}

/// QEMU's decryption of a secret: AES-256-CBC under `key`, then PKCS#7 padding removed.
fn decrypt(input: &[u8], format: SecretFormat, key: SecretKey<'_>) -> Result<Zeroizing<Vec<u8>>> {
    if key.key.bytes().len() != 32 {
        return Err(invalid("Key should be 32 bytes in length"));
    }
    let iv = key
        .iv
        .ok_or_else(|| invalid("IV is required to decrypt secret"))?;
    let iv = decode_base64(iv.as_bytes())?;
    if iv.len() != 16 {
        return Err(invalid(format!(
            "IV should be 16 bytes in length not {}",
            iv.len()
        )));
    }
    let mut aes = Cipher::new(CipherAlgo::Aes256, CipherMode::Cbc, key.key.bytes())?;
    aes.set_iv(&iv)?;
    let mut plain = match format {
        SecretFormat::Base64 => decode_base64(input)?,
        SecretFormat::Raw => Zeroizing::new(input.to_vec()),
    };
    aes.decrypt(InOutBuf::from(&mut plain[..]))?;
    // PKCS#7: 1 to 16 bytes, each holding the count. QEMU also accepts a count of 0
    // and reads before an empty buffer; qio refuses both as it refuses a count > 16.
    let pad = plain.last().copied().unwrap_or(0);
    if pad == 0 || pad > 16 || usize::from(pad) > plain.len() {
        return Err(invalid(format!(
            "Incorrect number of padding bytes ({pad}) found on decrypted data"
        )));
    }
    let len = plain.len() - usize::from(pad);
    plain.truncate(len);
    Ok(plain)
}

#[cfg(test)]
mod tests;
