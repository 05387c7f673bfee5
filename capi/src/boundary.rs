//! The guard every export runs its body in: preconditions become criticals, runtime
//! failures become GErrors, panics become criticals, and each returns the export's
//! failure value. Nothing unwinds into C.

use std::any::Any;
use std::borrow::Cow;
use std::panic::{catch_unwind, AssertUnwindSafe};

use glib_sys::GError;

use crate::error::{self, c_text};

/// The log domain of every message qio logs.
pub(crate) const LOG_DOMAIN: &std::ffi::CStr = c"qio";

/// Why an export's body gave up.
#[derive(Debug)]
pub(crate) enum Fail {
    /// The caller broke a precondition (a programming error): the text is the failed
    /// assertion, logged as `g_return_val_if_fail` would.
    Precondition(Cow<'static, str>),
    /// A runtime failure, reported through the GError.
    Error(qio::Error),
}

impl From<qio::Error> for Fail {
    fn from(e: qio::Error) -> Fail {
        Fail::Error(e)
    }
}

/// The path of a function nested in the enclosing one, a constant string; messages
/// name the enclosing function through [`function_name`], which is only worth its
/// string search when a message is logged.
#[macro_export]
#[doc(hidden)]
macro_rules! function_path {
    () => {{
        fn here() {}
        ::std::any::type_name_of_val(&here)
    }};
}

/// The enclosing function's name from a [`function_path!`] (`a::b::f::here` → `f`).
pub(crate) fn function_name(path: &str) -> &str {
    let path = path.strip_suffix("::here").unwrap_or(path);
    path.rsplit("::").next().unwrap_or(path)
}

/// Runs an export body: `ffi_guard!(fail_value, error, { ... })` for functions with a
/// `GError **` argument, `ffi_guard!(fail_value, { ... })` for the others. An export
/// whose whole body is a call to another export (`qcrypto_hash_bytes` building a
/// one-element iovec for `qcrypto_hash_bytesv`) runs inside that export's guard. The body
/// returns `Result<T, Fail>`; on `Err` or panic the export returns `fail_value`.
macro_rules! ffi_guard {
    ($fail:expr, $error:expr, $body:block) => {
        $crate::boundary::run($crate::function_path!(), $error, $fail, move || $body)
    };
    ($fail:expr, $body:block) => {
        $crate::boundary::run(
            $crate::function_path!(),
            ::std::ptr::null_mut(),
            $fail,
            move || $body,
        )
    };
}
pub(crate) use ffi_guard;

/// Fails the body with a precondition critical unless `cond` holds; `expression` is
/// the condition as a C programmer reads it (`"buf != NULL"`), quoted in the critical.
macro_rules! require {
    ($cond:expr, $expression:literal) => {
        if !($cond) {
            return Err($crate::boundary::Fail::Precondition($expression.into()));
        }
    };
}
pub(crate) use require;

/// What [`ffi_guard!`] expands to; `function` is the export's [`function_path!`].
pub(crate) fn run<T>(
    function: &str,
    error: *mut *mut GError,
    fail: T,
    body: impl FnOnce() -> Result<T, Fail>,
) -> T {
    // SAFETY: a non-NULL `error` points at a GError pointer, as GLib requires.
    if !error.is_null() && unsafe { !(*error).is_null() } {
        precondition_failed(function, "error == NULL || *error == NULL");
        return fail;
    }
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(Fail::Precondition(expression))) => {
            precondition_failed(function, &expression);
            fail
        }
        Ok(Err(Fail::Error(e))) => {
            error::set(error, &e);
            fail
        }
        Err(payload) => {
            let message = format!(
                "{}: internal error: {}",
                function_name(function),
                panic_text(&*payload)
            );
            critical(&message);
            error::set(error, &qio::Error::new(qio::ErrorKind::Failed, message));
            fail
        }
    }
}

/// Logs `function: assertion 'expression' failed` as a critical, like `g_return_if_fail`.
fn precondition_failed(function: &str, expression: &str) {
    let function = c_text(function_name(function));
    let expression = c_text(expression);
    // SAFETY: three valid NUL-terminated strings.
    unsafe {
        glib_sys::g_return_if_fail_warning(
            LOG_DOMAIN.as_ptr(),
            function.as_ptr(),
            expression.as_ptr(),
        )
    };
}

/// Logs `message` as a critical in qio's domain.
pub(crate) fn critical(message: &str) {
    let message = c_text(message);
    // SAFETY: a "%s" format with one NUL-terminated string argument.
    unsafe {
        glib_sys::g_log(
            LOG_DOMAIN.as_ptr(),
            glib_sys::G_LOG_LEVEL_CRITICAL,
            c"%s".as_ptr(),
            message.as_ptr(),
        )
    };
}

fn panic_text(payload: &(dyn Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("panic")
}

#[cfg(test)]
mod tests;
