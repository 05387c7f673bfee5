//! TLS with gnutls: credentials (QEMU's `tls-creds-anon`, `-psk`, `-x509` objects) and
//! sessions (`crypto/tlssession.c`), the layer under the TLS channel.

mod creds;
mod ffi;
mod sanity;
mod session;
mod x509;

pub use creds::{psk_file_key, Creds, CredsKind, Endpoint, DEFAULT_PRIORITY};
pub use session::{Progress, Received, Session, Transport};
pub use x509::cert_fingerprint;

use std::ffi::CStr;
use std::os::raw::c_int;

/// gnutls' description of the error `rc`.
fn strerror(rc: c_int) -> String {
    // SAFETY: gnutls_strerror returns a static NUL-terminated string for any code.
    unsafe { CStr::from_ptr(ffi::gnutls_strerror(rc)) }
        .to_string_lossy()
        .into_owned()
}

/// `Err("{context}: {gnutls' description}")` for a negative gnutls return code.
fn check(context: &str, rc: c_int) -> crate::Result<c_int> {
    if rc >= 0 {
        return Ok(rc);
    }
    Err(crate::Error::new(
        crate::ErrorKind::Failed,
        format!("{context}: {}", strerror(rc)),
    ))
}

#[cfg(test)]
pub(crate) mod tests;
