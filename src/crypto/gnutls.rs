//! What every gnutls-backed primitive shares.

use std::ffi::CStr;

use gnutls_sys::gen as ffi;

use crate::{Error, ErrorKind, Result};

/// `Ok` for a gnutls return code of zero or more, else the error "`context`: gnutls'
/// description of the code".
pub(crate) fn check(context: &str, rc: libc::c_int) -> Result<()> {
    if rc >= 0 {
        return Ok(());
    }
    // SAFETY: gnutls_strerror returns a static NUL-terminated string for any code.
    let reason = unsafe { CStr::from_ptr(ffi::gnutls_strerror(rc)) };
    Err(Error::new(
        ErrorKind::Failed,
        format!("{context}: {}", reason.to_string_lossy()),
    ))
}

/// Runs a gnutls `*_init(&mut handle, ...)` call. When it fails, gnutls (3.7) has already
/// allocated the handle and leaves it behind: free it here so a refused algorithm
/// leaks nothing.
pub(crate) fn init_handle<T>(
    context: &str,
    init: impl FnOnce(&mut *mut T) -> libc::c_int,
) -> Result<*mut T> {
    let mut handle = std::ptr::null_mut();
    let rc = init(&mut handle);
    if rc < 0 && !handle.is_null() {
        // SAFETY: gnutls_free is set at library load; the handle came from gnutls_malloc
        // and was never initialized, so freeing the allocation is all that is left.
        unsafe {
            if let Some(free) = ffi::gnutls_free {
                free(handle.cast());
            }
        }
    }
    check(context, rc).map(|()| handle)
}
