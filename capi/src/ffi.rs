//! Conversions between C handles and buffers and the Rust values behind them.
//!
//! A handle points at a [`Tagged`] value: a per-type tag, then the Rust value. The tag
//! lets every export check that it was given a live handle of the right type before it
//! touches it (`QCRYPTO_IS_HASH (hash)` in GLib terms). Single-owner types (hashes,
//! HMACs) are `Box`ed and end with `_free`; shared types are `Arc`ed and end with
//! `_unref`. Both ends accept NULL as a no-op.

use std::borrow::Cow;
use std::ffi::CStr;
use std::os::raw::{c_char, c_void};
use std::sync::{Arc, Weak};

use crate::boundary::Fail;

/// A C handle type: an opaque struct standing for the Rust type `Rust`.
pub(crate) trait Castable {
    /// The Rust value a handle of this type points at.
    type Rust;
    /// The C type name, for precondition messages.
    const NAME: &'static str;
    /// The tag every live handle of this type starts with.
    const TAG: u32;
}

#[repr(C)]
struct Tagged<T> {
    tag: u32,
    value: T,
}

/// The tagged value behind `handle`, or a precondition failure naming `param`.
///
/// # Safety
/// A non-NULL `handle` must point at readable memory of at least a tag's size; a
/// misaligned pointer or a wrong tag is caught, not dereferenced as a handle.
unsafe fn check<C: Castable>(handle: *const C, param: &str) -> Result<*mut Tagged<C::Rust>, Fail> {
    if handle.is_null() {
        return Err(Fail::Precondition(Cow::Owned(format!("{param} != NULL"))));
    }
    let tagged = handle as *mut Tagged<C::Rust>;
    // SAFETY: an aligned handle begins with a u32 tag (caller's contract).
    if !tagged.is_aligned() || unsafe { (*tagged).tag } != C::TAG {
        return Err(Fail::Precondition(Cow::Owned(format!(
            "{param} is a valid {}",
            C::NAME
        ))));
    }
    Ok(tagged)
}

/// Hands `value` to C as a single-owner handle.
pub(crate) fn box_into_handle<C: Castable>(value: C::Rust) -> *mut C {
    Box::into_raw(Box::new(Tagged { tag: C::TAG, value })) as *mut C
}

/// Borrows the value behind a single-owner handle for the length of one call.
///
/// # Safety
/// `handle` is NULL or a handle from [`box_into_handle`] not yet freed, used by no
/// other thread during the call.
pub(crate) unsafe fn box_mut<'a, C: Castable>(
    handle: *mut C,
    param: &str,
) -> Result<&'a mut C::Rust, Fail> {
    // SAFETY: the caller's contract; `check` validated the tag.
    unsafe { check(handle, param).map(|t| &mut (*t).value) }
}

/// Borrows the value behind a single-owner handle shared with other threads (its
/// mutable parts are behind locks).
///
/// # Safety
/// `handle` is NULL or a handle from [`box_into_handle`] not freed during the call.
pub(crate) unsafe fn box_ref<'a, C: Castable>(
    handle: *const C,
    param: &str,
) -> Result<&'a C::Rust, Fail> {
    // SAFETY: the caller's contract; `check` validated the tag.
    unsafe { check(handle, param).map(|t| &(*t).value) }
}

/// The tag at `handle` is `C`'s (NULL and misaligned pointers are not).
///
/// # Safety
/// A non-NULL aligned `handle` must be readable for 4 bytes.
pub(crate) unsafe fn is_a<C: Castable>(handle: *const std::ffi::c_void) -> bool {
    // SAFETY: the caller's contract.
    unsafe { check(handle as *const C, "").is_ok() }
}

/// Frees a single-owner handle; NULL is a no-op.
///
/// # Safety
/// As for [`box_mut`]; the handle is invalid afterwards.
pub(crate) unsafe fn box_free<C: Castable>(handle: *mut C, param: &str) -> Result<(), Fail> {
    if handle.is_null() {
        return Ok(());
    }
    // SAFETY: the caller's contract; the tag is cleared so a second free is caught
    // while the memory has not been reused.
    unsafe {
        let tagged = check(handle, param)?;
        (*tagged).tag = 0;
        drop(Box::from_raw(tagged));
    }
    Ok(())
}

/// Hands `value` to C as a shared handle holding one reference.
pub(crate) fn arc_into_handle<C: Castable>(value: C::Rust) -> *mut C {
    Arc::into_raw(Arc::new(Tagged { tag: C::TAG, value })) as *mut C
}

/// Borrows the value behind a shared handle for the length of one call.
///
/// # Safety
/// `handle` is NULL or a handle from [`arc_into_handle`] whose caller holds a reference.
pub(crate) unsafe fn arc_borrow<'a, C: Castable>(
    handle: *const C,
    param: &str,
) -> Result<&'a C::Rust, Fail> {
    // SAFETY: the caller's contract; `check` validated the tag.
    unsafe { check(handle, param).map(|t| &(*t).value) }
}

/// Adds a reference to a shared handle and returns it (`_ref`).
///
/// # Safety
/// As for [`arc_borrow`].
pub(crate) unsafe fn arc_ref<C: Castable>(handle: *mut C, param: &str) -> Result<*mut C, Fail> {
    // SAFETY: the caller's contract; the pointer came from Arc::into_raw.
    unsafe {
        let tagged = check(handle, param)?;
        Arc::increment_strong_count(tagged as *const Tagged<C::Rust>);
    }
    Ok(handle)
}

/// Drops one reference to a shared handle (`_unref`); NULL is a no-op. The value is
/// finalized when the last reference goes.
///
/// # Safety
/// As for [`arc_borrow`]; the caller's reference is gone afterwards.
pub(crate) unsafe fn arc_unref<C: Castable>(handle: *mut C, param: &str) -> Result<(), Fail> {
    if handle.is_null() {
        return Ok(());
    }
    // SAFETY: the caller's contract; the pointer came from Arc::into_raw.
    unsafe {
        let tagged = check(handle, param)?;
        drop(Arc::from_raw(tagged as *const Tagged<C::Rust>));
    }
    Ok(())
}

/// A reference to a shared handle that does not keep it alive, for callbacks that
/// must not create a cycle with the object they report on.
pub(crate) struct WeakHandle<C: Castable>(Weak<Tagged<C::Rust>>);

impl<C: Castable> WeakHandle<C> {
    /// A weak reference to a live shared handle.
    ///
    /// # Safety
    /// As for [`arc_borrow`].
    pub(crate) unsafe fn new(handle: *mut C, param: &str) -> Result<Self, Fail> {
        // SAFETY: the caller's contract; the pointer came from Arc::into_raw, and the
        // borrowed Arc is not dropped.
        unsafe {
            let tagged = check(handle, param)?;
            let strong =
                std::mem::ManuallyDrop::new(Arc::from_raw(tagged as *const Tagged<C::Rust>));
            Ok(WeakHandle(Arc::downgrade(&strong)))
        }
    }

    /// Runs `f` on the handle while holding a reference, if the handle is still alive.
    pub(crate) fn with<R>(&self, f: impl FnOnce(*mut C) -> R) -> Option<R> {
        let strong = self.0.upgrade()?;
        Some(f(Arc::as_ptr(&strong) as *mut C))
    }
}

/// The bytes of a C buffer; NULL is allowed only with length 0.
///
/// # Safety
/// A non-NULL `buf` must be readable for `len` bytes during the call.
pub(crate) unsafe fn bytes<'a>(buf: *const c_void, len: usize) -> Result<&'a [u8], Fail> {
    if buf.is_null() {
        return match len {
            0 => Ok(&[]),
            _ => Err(Fail::Precondition("buf != NULL || len == 0".into())),
        };
    }
    // SAFETY: the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(buf.cast(), len) })
}

/// The writable bytes of a C buffer; NULL is allowed only with length 0.
///
/// # Safety
/// A non-NULL `buf` must be writable for `len` bytes during the call, and not be read
/// or written through another reference meanwhile.
pub(crate) unsafe fn bytes_mut<'a>(buf: *mut u8, len: usize) -> Result<&'a mut [u8], Fail> {
    if buf.is_null() {
        return match len {
            0 => Ok(&mut []),
            _ => Err(Fail::Precondition("buf != NULL || len == 0".into())),
        };
    }
    // SAFETY: the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts_mut(buf, len) })
}

/// The NUL-terminated C string at `text`, or `None` for NULL.
///
/// # Safety
/// A non-NULL `text` must point at a NUL-terminated string that outlives the call.
pub(crate) unsafe fn opt_c_str<'a>(text: *const c_char) -> Option<&'a CStr> {
    // SAFETY: the caller's contract.
    (!text.is_null()).then(|| unsafe { CStr::from_ptr(text) })
}

/// The UTF-8 string at `text`, or `None` for NULL; other bytes are an error naming
/// `what`.
///
/// # Safety
/// `text` is NULL or a NUL-terminated string that outlives the call.
pub(crate) unsafe fn opt_str<'a>(text: *const c_char, what: &str) -> Result<Option<&'a str>, Fail> {
    // SAFETY: the caller's contract.
    unsafe { opt_c_str(text) }
        .map(|t| {
            t.to_str().map_err(|_| {
                Fail::Error(qio::Error::new(
                    qio::ErrorKind::InvalidArgument,
                    format!("{what} is not valid UTF-8"),
                ))
            })
        })
        .transpose()
}

/// A one-element iovec for the buffer-and-length form of an iovec export.
pub(crate) fn iovec(buf: *const c_void, len: usize) -> libc::iovec {
    libc::iovec {
        iov_base: buf.cast_mut(),
        iov_len: len,
    }
}

/// The iovecs of a C iovec array (NULL is allowed only with count 0); each buffer is
/// then read with [`iov_bytes`].
///
/// # Safety
/// A non-NULL `iov` must point at `niov` iovecs.
pub(crate) unsafe fn iovecs<'a>(
    iov: *const libc::iovec,
    niov: usize,
) -> Result<&'a [libc::iovec], Fail> {
    if iov.is_null() {
        return match niov {
            0 => Ok(&[]),
            _ => Err(Fail::Precondition("iov != NULL || niov == 0".into())),
        };
    }
    // SAFETY: the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(iov, niov) })
}

/// The buffer of one iovec, checked as [`bytes`] does.
///
/// # Safety
/// A non-NULL `iov_base` must be readable for `iov_len` bytes during the call.
pub(crate) unsafe fn iov_bytes<'a>(iov: &libc::iovec) -> Result<&'a [u8], Fail> {
    // SAFETY: the caller's contract.
    unsafe { bytes(iov.iov_base, iov.iov_len) }
}

/// A `g_malloc`ed copy of `data` followed by a NUL byte (so text stays a C string and
/// the size is never 0) for C to `g_free`.
pub(crate) fn g_bytes(data: &[u8]) -> *mut u8 {
    // SAFETY: g_malloc never returns NULL for a non-zero size (it aborts instead).
    unsafe {
        let out = glib_sys::g_malloc(data.len() + 1) as *mut u8;
        std::ptr::copy_nonoverlapping(data.as_ptr(), out, data.len());
        *out.add(data.len()) = 0;
        out
    }
}

/// A `g_malloc`ed copy of `items` for C to `g_free` (NULL when empty).
pub(crate) fn g_array_copy<T: Copy>(items: &[T]) -> *mut T {
    if items.is_empty() {
        return std::ptr::null_mut();
    }
    // SAFETY: g_malloc never returns NULL for a non-zero size; the copy fits.
    unsafe {
        let out = glib_sys::g_malloc(std::mem::size_of_val(items)) as *mut T;
        std::ptr::copy_nonoverlapping(items.as_ptr(), out, items.len());
        out
    }
}

/// A `g_malloc`ed NUL-terminated copy of `text` (which has no NUL) for C to `g_free`.
pub(crate) fn g_string(text: &str) -> *mut c_char {
    // SAFETY: g_strndup copies `len` bytes and appends a NUL.
    unsafe { glib_sys::g_strndup(text.as_ptr().cast(), text.len()) }
}

#[cfg(test)]
mod tests;
