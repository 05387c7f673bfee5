//! The guard's behaviour for every kind of return value.

use std::os::raw::{c_char, c_int};
use std::ptr;
use std::sync::{Mutex, MutexGuard};

use glib_sys::{gboolean, GError, GFALSE, GTRUE};

use super::*;
use crate::backend::QCryptoBackend;

static CRITICALS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static SERIAL: Mutex<()> = Mutex::new(());

unsafe extern "C" fn record(
    _domain: *const c_char,
    _level: glib_sys::GLogLevelFlags,
    message: *const c_char,
    _data: glib_sys::gpointer,
) {
    // SAFETY: GLib passes a NUL-terminated message.
    let text = unsafe { std::ffi::CStr::from_ptr(message) };
    CRITICALS
        .lock()
        .unwrap()
        .push(text.to_string_lossy().into_owned());
}

/// Captures qio's criticals for one test; tests using it run one at a time.
fn capture() -> MutexGuard<'static, ()> {
    let serial = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    CRITICALS.lock().unwrap().clear();
    // SAFETY: a valid handler for qio's domain, installed before any critical is logged.
    unsafe {
        glib_sys::g_log_set_handler(
            LOG_DOMAIN.as_ptr(),
            glib_sys::G_LOG_LEVEL_CRITICAL,
            Some(record),
            ptr::null_mut(),
        )
    };
    serial
}

fn criticals() -> Vec<String> {
    std::mem::take(&mut *CRITICALS.lock().unwrap())
}

/// Takes the message out of `error` and frees it.
fn take_message(error: &mut *mut GError) -> String {
    assert!(!error.is_null(), "no GError was set");
    // SAFETY: a GError set by the guard.
    let text = unsafe { std::ffi::CStr::from_ptr((**error).message) }
        .to_string_lossy()
        .into_owned();
    // SAFETY: as above; freed once.
    unsafe { glib_sys::g_error_free(*error) };
    *error = ptr::null_mut();
    text
}

fn panics<T>() -> Result<T, Fail> {
    panic!("boom")
}

#[test]
fn a_panic_becomes_a_critical_and_the_failure_value() {
    let _serial = capture();
    let mut error = ptr::null_mut();

    let int: c_int = run("f_int", &mut error, -1, panics);
    assert_eq!(int, -1);
    assert_eq!(take_message(&mut error), "f_int: internal error: boom");

    let boolean: gboolean = run("f_bool", &mut error, GFALSE, panics);
    assert_eq!(boolean, GFALSE);
    assert_eq!(take_message(&mut error), "f_bool: internal error: boom");

    let pointer: *mut u8 = run("f_ptr", &mut error, ptr::null_mut(), panics);
    assert!(pointer.is_null());
    take_message(&mut error);

    let size: usize = run("f_size", ptr::null_mut(), 0, panics);
    assert_eq!(size, 0);

    let backend = run(
        "f_enum",
        ptr::null_mut(),
        QCryptoBackend::QCRYPTO_BACKEND_AUTO,
        panics,
    );
    assert!(matches!(backend, QCryptoBackend::QCRYPTO_BACKEND_AUTO));

    run::<()>("f_void", ptr::null_mut(), (), panics);

    let logged = criticals();
    assert_eq!(logged.len(), 6, "{logged:?}");
    assert_eq!(logged[0], "f_int: internal error: boom");
    assert_eq!(logged[5], "f_void: internal error: boom");
}

#[test]
fn a_panic_with_a_formatted_message_keeps_it() {
    let _serial = capture();
    let mut error = ptr::null_mut();
    let value: c_int = run("f", &mut error, -1, || panic!("index {} out of range", 7));
    assert_eq!(value, -1);
    assert_eq!(
        take_message(&mut error),
        "f: internal error: index 7 out of range"
    );
    assert_eq!(criticals().len(), 1);
}

#[test]
fn a_precondition_is_a_critical_without_gerror() {
    let _serial = capture();
    let mut error = ptr::null_mut();
    let null: *const u8 = ptr::null();
    let value: gboolean = run("qcrypto_thing", &mut error, GFALSE, || {
        require!(!null.is_null(), "ptr != NULL");
        Ok(GTRUE)
    });
    assert_eq!(value, GFALSE);
    assert!(error.is_null());
    assert_eq!(
        criticals(),
        ["qcrypto_thing: assertion 'ptr != NULL' failed"]
    );
}

#[test]
fn a_set_error_on_entry_is_a_precondition_and_the_body_does_not_run() {
    let _serial = capture();
    let mut error = ptr::null_mut();
    let _: c_int = run("f", &mut error, -1, || {
        Err(qio::Error::new(qio::ErrorKind::Failed, "first").into())
    });
    let mut ran = false;
    let value: c_int = run("f", &mut error, -1, || {
        ran = true;
        Ok(0)
    });
    assert_eq!(value, -1);
    assert!(!ran);
    assert_eq!(take_message(&mut error), "first");
    assert_eq!(
        criticals(),
        ["f: assertion 'error == NULL || *error == NULL' failed"]
    );
}

#[test]
fn a_runtime_error_sets_the_gerror_domain_code_and_message() {
    let _serial = capture();
    let mut error = ptr::null_mut();
    let value: c_int = run("f", &mut error, -1, || {
        Err(qio::Error::new(qio::ErrorKind::NotSupported, "no such thing\0here").into())
    });
    assert_eq!(value, -1);
    // SAFETY: the guard set a GError.
    unsafe {
        assert_eq!((*error).domain, crate::error::qio_error_quark());
        assert_eq!(
            (*error).code,
            crate::error::QIOError::QIO_ERROR_NOT_SUPPORTED as c_int
        );
    }
    assert_eq!(take_message(&mut error), "no such thing\\0here");
    // Without a GError to fill, the failure is silent apart from the return value.
    let value: c_int = run("f", ptr::null_mut(), -1, || {
        Err(qio::Error::new(qio::ErrorKind::Failed, "x").into())
    });
    assert_eq!(value, -1);
    assert!(criticals().is_empty());
}

#[test]
fn the_function_name_is_the_enclosing_function() {
    fn qcrypto_example() -> &'static str {
        crate::function_path!()
    }
    assert_eq!(function_name(qcrypto_example()), "qcrypto_example");
    assert_eq!(function_name("f"), "f");
}
