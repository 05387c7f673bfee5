//! `QCryptoSecret`: passwords and keys loaded from data or a file (QEMU's `secret`
//! object), shared by reference.

use std::ffi::{CStr, OsStr};
use std::os::raw::{c_char, c_int};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use glib_sys::GError;
use qio::crypto::secret::{SecretKey, SecretSource};
use qio::crypto::{Secret, SecretFormat};

use crate::boundary::{ffi_guard, require, Fail};
use crate::ffi::{
    decode, enum_arg, handle, opt_c_str, opt_handle, ref_handle, unref_handle, Castable, Shared,
    Tag,
};

/// How a secret's data is encoded, with QEMU's values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QCryptoSecretFormat {
    /// The bytes as they are.
    QCRYPTO_SECRET_FORMAT_RAW = 0,
    /// Base64 text (newlines allowed).
    QCRYPTO_SECRET_FORMAT_BASE64 = 1,
    QCRYPTO_SECRET_FORMAT__MAX = 2,
}

enum_arg! {
    /// A `QCryptoSecretFormat` as C passed it: any int, decoded before use.
    SecretFormatArg => SecretFormat, qapi
}

/// A loaded secret, shared: qcrypto_secret_ref() and qcrypto_secret_unref().
pub struct QCryptoSecret {
    _private: [u8; 0],
}

impl Castable for QCryptoSecret {
    type Ownership = Shared;
    type Rust = Secret;
    const NAME: &'static str = "QCryptoSecret";
    const TAG: Tag = Tag::new(b"QSec");
}

fn failed(message: &str) -> Fail {
    Fail::Error(qio::Error::new(qio::ErrorKind::InvalidArgument, message))
}

/// Loads a secret from exactly one of @data (a string) and @file (a path whose whole
/// content is read), in @format. When @keysecret is given, the data is AES-256-CBC
/// ciphertext (after base64 decoding for %QCRYPTO_SECRET_FORMAT_BASE64) under that
/// 32-byte secret, with the base64 @iv, PKCS#7-padded, as QEMU's `keyid` and `iv`
/// properties describe.
///
/// Returns: (transfer full) (nullable): a new secret holding one reference, to drop
/// with qcrypto_secret_unref(), or NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_secret_new(
    data: *const c_char,
    file: *const c_char,
    format: SecretFormatArg,
    keysecret: *const QCryptoSecret,
    iv: *const c_char,
    error: *mut *mut GError,
) -> *mut QCryptoSecret {
    ffi_guard!(std::ptr::null_mut(), error, {
        let (data, file) = (opt_c_str!(data), opt_c_str!(file));
        let key = secret_key(opt_handle!(keysecret), opt_c_str!(iv))?;
        let source = match (data, file) {
            (Some(_), Some(_)) => return Err(failed("'file' and 'data' are mutually exclusive")),
            (Some(data), None) => SecretSource::Data(data.to_bytes()),
            (None, Some(file)) => SecretSource::File(Path::new(OsStr::from_bytes(file.to_bytes()))),
            (None, None) => return Err(failed("Either 'file' or 'data' must be provided")),
        };
        Ok(crate::ffi::new(Secret::new(source, decode!(format), key)?))
    })
}

/// Loads a secret from the payload of the key numbered @serial in the Linux kernel
/// keyring (QEMU's `secret_keyring` object; the calling process must be allowed to read
/// the key), in @format, decrypted with @keysecret and @iv as qcrypto_secret_new() does.
///
/// Returns: (transfer full) (nullable): a new secret holding one reference, to drop
/// with qcrypto_secret_unref(), or NULL with @error set ("Unable to read serial key
/// 0badcafe: Required key not available", QEMU's messages).
#[no_mangle]
pub unsafe extern "C" fn qcrypto_secret_keyring_new(
    serial: i32,
    format: SecretFormatArg,
    keysecret: *const QCryptoSecret,
    iv: *const c_char,
    error: *mut *mut GError,
) -> *mut QCryptoSecret {
    ffi_guard!(std::ptr::null_mut(), error, {
        let key = secret_key(opt_handle!(keysecret), opt_c_str!(iv))?;
        let source = SecretSource::Keyring(serial);
        Ok(crate::ffi::new(Secret::new(source, decode!(format), key)?))
    })
}

/// The key that decrypts an encrypted secret, if one was given, with its IV.
fn secret_key<'a>(
    key: Option<&'a Secret>,
    iv: Option<&'a CStr>,
) -> Result<Option<SecretKey<'a>>, Fail> {
    let Some(key) = key else {
        return Ok(None);
    };
    let iv = iv
        .map(|iv| {
            iv.to_str()
                .map_err(|_| failed("Base64 data contains invalid characters"))
        })
        .transpose()?;
    Ok(Some(SecretKey { key, iv }))
}

/// Adds a reference to @secret.
///
/// Returns: (transfer full): @secret; NULL (and a critical) if it is not a secret.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_secret_ref(secret: *mut QCryptoSecret) -> *mut QCryptoSecret {
    ffi_guard!(std::ptr::null_mut(), { ref_handle!(secret) })
}

/// Drops a reference to @secret (transfer full); the last one wipes the secret's
/// bytes. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_secret_unref(secret: *mut QCryptoSecret) {
    ffi_guard!((), { unref_handle!(secret) })
}

/// Copies the secret's bytes into `*data` (transfer full: a NUL-terminated buffer to
/// wipe and g_free()) and their count into `*datalen` (QEMU's qcrypto_secret_lookup()).
///
/// Returns: 0 on success, -1 (and a critical) on misuse.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_secret_get_bytes(
    secret: *mut QCryptoSecret,
    data: *mut *mut u8,
    datalen: *mut usize,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        require!(
            !data.is_null() && !datalen.is_null(),
            "data != NULL && datalen != NULL"
        );
        let bytes = handle!(secret).bytes();
        // SAFETY: out-parameters the caller passed, checked non-NULL above.
        unsafe {
            *data = crate::ffi::g_bytes(bytes);
            *datalen = bytes.len();
        }
        Ok(0)
    })
}

/// The secret as a string (QEMU's qcrypto_secret_lookup_as_utf8()).
///
/// Returns: (transfer full) (nullable): a NUL-terminated copy to wipe and g_free(),
/// or NULL with @error set when the bytes are not valid UTF-8.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_secret_get_utf8(
    secret: *mut QCryptoSecret,
    error: *mut *mut GError,
) -> *mut c_char {
    ffi_guard!(std::ptr::null_mut(), error, {
        let text = handle!(secret).utf8()?;
        Ok(crate::ffi::g_bytes(text.as_bytes()).cast())
    })
}

/// The secret in base64 (QEMU's qcrypto_secret_lookup_as_base64()).
///
/// Returns: (transfer full): a NUL-terminated string to g_free(); NULL (and a
/// critical) on misuse.
#[no_mangle]
pub unsafe extern "C" fn qcrypto_secret_get_base64(
    secret: *mut QCryptoSecret,
    error: *mut *mut GError,
) -> *mut c_char {
    ffi_guard!(std::ptr::null_mut(), error, {
        Ok(crate::ffi::g_string(&handle!(secret).base64()))
    })
}
