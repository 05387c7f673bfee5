//! The `QIO_ERROR` GError domain and its codes.

use std::ffi::CString;

use glib_sys::{GError, GQuark};

/// Error codes in the `QIO_ERROR` domain. Codes are only ever appended.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QIOError {
    /// A failure with no more specific code.
    QIO_ERROR_FAILED = 0,
    /// The algorithm, mode or backend is not available in this build.
    QIO_ERROR_NOT_SUPPORTED = 1,
    /// An argument has an unacceptable value (unknown enum value, wrong length, ...).
    QIO_ERROR_INVALID_ARGUMENT = 2,
    /// A deadline passed: a handshake the peer did not complete in time.
    QIO_ERROR_TIMED_OUT = 3,
}

/// The error domain of every GError qio sets (`QIO_ERROR`).
///
/// Returns: the quark of the string "qio-error-quark".
#[no_mangle]
pub extern "C" fn qio_error_quark() -> GQuark {
    // SAFETY: a static NUL-terminated string.
    unsafe { glib_sys::g_quark_from_static_string(c"qio-error-quark".as_ptr()) }
}

/// Sets `*error` (when `error` is not NULL) from a qio error.
pub(crate) fn set(error: *mut *mut GError, e: &qio::Error) {
    if error.is_null() {
        return;
    }
    let code = match e.kind() {
        // WouldBlock is a return value (QIO_CHANNEL_ERR_BLOCK), never a GError.
        qio::ErrorKind::Failed | qio::ErrorKind::WouldBlock => QIOError::QIO_ERROR_FAILED,
        qio::ErrorKind::NotSupported => QIOError::QIO_ERROR_NOT_SUPPORTED,
        qio::ErrorKind::InvalidArgument => QIOError::QIO_ERROR_INVALID_ARGUMENT,
        qio::ErrorKind::TimedOut => QIOError::QIO_ERROR_TIMED_OUT,
    };
    let message = c_text(e.message());
    // SAFETY: `error` points at a NULL GError pointer (the guard checked it).
    unsafe {
        glib_sys::g_set_error_literal(error, qio_error_quark(), code as i32, message.as_ptr())
    };
}

/// The message of a GError a C callback set, or `fallback()` when it set none.
pub(crate) fn message_or(gerror: *const GError, fallback: impl FnOnce() -> String) -> String {
    match gerror.is_null() {
        true => fallback(),
        // SAFETY: a live GError, whose message is a NUL-terminated string.
        false => unsafe { std::ffi::CStr::from_ptr((*gerror).message) }
            .to_string_lossy()
            .into_owned(),
    }
}

/// `text` as a C string, with any NUL replaced so the message survives.
pub(crate) fn c_text(text: &str) -> CString {
    CString::new(text.replace('\0', "\\0")).unwrap_or_default()
}
