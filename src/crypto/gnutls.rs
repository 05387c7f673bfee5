//! What every gnutls-backed primitive shares.

use std::ffi::CStr;

use gnutls_sys::gen as ffi;

use crate::{Error, ErrorKind, Result};

/// `Ok` for a gnutls return code of zero or more, else an error naming `function`
/// and gnutls' description of the code.
pub(crate) fn check(function: &str, rc: libc::c_int) -> Result<()> {
    if rc >= 0 {
        return Ok(());
    }
    // SAFETY: gnutls_strerror returns a static NUL-terminated string for any code.
    let reason = unsafe { CStr::from_ptr(ffi::gnutls_strerror(rc)) };
    Err(Error::new(
        ErrorKind::Failed,
        format!("{function} failed: {}", reason.to_string_lossy()),
    ))
}
