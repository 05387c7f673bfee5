//! C arguments other than handles: buffers, strings, iovec arrays and out-parameters,
//! checked as `g_return_val_if_fail` would check them, and memory handed back to C.
//! Each takes the names of its C parameters for the critical a NULL one logs.

use std::ffi::CStr;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{FromRawFd, IntoRawFd, OwnedFd};
use std::os::raw::{c_char, c_int, c_void};

use qio::crypto::cipher::InOutBuf;

use crate::boundary::Fail;

/// A precondition failure: `expression` did not hold.
fn unmet(expression: &'static str) -> Fail {
    Fail::Precondition(expression.into())
}

/// The `len` elements at `ptr`; NULL is allowed only with length 0 (`expression`
/// states that rule with the C parameters' names).
///
/// # Safety
/// A non-NULL `ptr` points at `len` initialized elements, readable during the call.
pub(crate) unsafe fn slice<'a, T>(
    ptr: *const T,
    len: usize,
    expression: &'static str,
) -> Result<&'a [T], Fail> {
    match ptr.is_null() {
        true if len == 0 => Ok(&[]),
        true => Err(unmet(expression)),
        // SAFETY: the caller's contract.
        false => Ok(unsafe { std::slice::from_raw_parts(ptr, len) }),
    }
}

/// The `len` writable bytes at `buf`; NULL is allowed only with length 0.
///
/// # Safety
/// A non-NULL `buf` is writable for `len` bytes during the call and not accessed
/// through another reference meanwhile.
pub(crate) unsafe fn slice_mut<'a>(
    buf: *mut c_void,
    len: usize,
    expression: &'static str,
) -> Result<&'a mut [u8], Fail> {
    match buf.is_null() {
        true if len == 0 => Ok(&mut []),
        true => Err(unmet(expression)),
        // SAFETY: the caller's contract.
        false => Ok(unsafe { std::slice::from_raw_parts_mut(buf.cast(), len) }),
    }
}

/// The NUL-terminated string at `text`, or `None` for NULL.
///
/// # Safety
/// A non-NULL `text` points at a NUL-terminated string that outlives the call.
pub(crate) unsafe fn c_str_at<'a>(text: *const c_char) -> Option<&'a CStr> {
    // SAFETY: the caller's contract.
    (!text.is_null()).then(|| unsafe { CStr::from_ptr(text) })
}

/// The strings of a NULL-terminated array; a NULL array has none.
///
/// # Safety
/// A non-NULL `array` points at string pointers up to a NULL one, each string
/// NUL-terminated and outliving the call.
pub(crate) unsafe fn c_strings<'a>(array: *const *const c_char) -> Vec<&'a CStr> {
    let mut strings = Vec::new();
    if !array.is_null() {
        // SAFETY: the caller's contract: read up to the terminating NULL.
        unsafe {
            while let Some(text) = c_str_at(*array.add(strings.len())) {
                strings.push(text);
            }
        }
    }
    strings
}

/// `text` as UTF-8; other bytes are an error naming `what` ("Hostname is not valid
/// UTF-8").
pub(crate) fn to_utf8<'a>(text: &'a CStr, what: &str) -> Result<&'a str, Fail> {
    text.to_str().map_err(|_| {
        Fail::Error(qio::Error::new(
            qio::ErrorKind::InvalidArgument,
            format!("{what} is not valid UTF-8"),
        ))
    })
}

/// The buffers of a C iovec array to read from; NULL arrays and buffers are allowed
/// only when empty.
///
/// # Safety
/// A non-NULL `iov` points at `niov` iovecs, each buffer readable during the call.
pub(crate) unsafe fn iov_slices<'a>(
    iov: *const libc::iovec,
    niov: usize,
) -> Result<Vec<&'a [u8]>, Fail> {
    // SAFETY: the caller's contract, for the array.
    unsafe { slice(iov, niov, "iov != NULL || niov == 0")? }
        .iter()
        .map(|v| {
            let base = v.iov_base as *const u8;
            // SAFETY: the caller's contract, for each buffer.
            unsafe { slice(base, v.iov_len, "buf != NULL || len == 0") }
        })
        .collect()
}

/// [`iov_slices`] as the slices a vectored write takes.
///
/// # Safety
/// As for [`iov_slices`].
pub(crate) unsafe fn iov_write<'a>(
    iov: *const libc::iovec,
    niov: usize,
) -> Result<Vec<IoSlice<'a>>, Fail> {
    // SAFETY: the caller's contract.
    Ok(unsafe { iov_slices(iov, niov)? }
        .into_iter()
        .map(IoSlice::new)
        .collect())
}

/// The buffers of a C iovec array to read into, as a vectored read takes them.
///
/// # Safety
/// A non-NULL `iov` points at `niov` iovecs, each buffer writable during the call and
/// none overlapping another.
pub(crate) unsafe fn iov_read<'a>(
    iov: *const libc::iovec,
    niov: usize,
) -> Result<Vec<IoSliceMut<'a>>, Fail> {
    // SAFETY: the caller's contract, for the array.
    unsafe { slice(iov, niov, "iov != NULL || niov == 0")? }
        .iter()
        .map(|v| {
            // SAFETY: the caller's contract, for each buffer.
            unsafe { slice_mut(v.iov_base, v.iov_len, "buf != NULL || len == 0") }
                .map(IoSliceMut::new)
        })
        .collect()
}

/// The `len` bytes at `input`, processed into the `len` bytes at `output`: the same
/// buffer, or two that do not overlap. NULL is allowed only with length 0.
///
/// # Safety
/// A non-NULL `input` is readable and a non-NULL `output` writable for `len` bytes during
/// the call, neither accessed through another reference meanwhile.
pub(crate) unsafe fn in_out_bufs<'a>(
    input: *const c_void,
    output: *mut c_void,
    len: usize,
) -> Result<InOutBuf<'a, 'a, u8>, Fail> {
    if len == 0 {
        return Ok(InOutBuf::from(&mut [][..]));
    }
    if input.is_null() || output.is_null() {
        return Err(unmet("input != NULL && output != NULL"));
    }
    let (start_in, start_out) = (input as usize, output as usize);
    if start_in != start_out && start_in.abs_diff(start_out) < len {
        return Err(unmet("input == output || the buffers do not overlap"));
    }
    // SAFETY: the caller's buffers, `len` bytes each, equal or disjoint (checked).
    Ok(unsafe { InOutBuf::from_raw(input.cast(), output.cast(), len) })
}

/// The target of a required out-parameter.
///
/// # Safety
/// A non-NULL `out` is valid for writes (and reads, where the export reads it) during
/// the call.
pub(crate) unsafe fn out_param<'a, T>(
    out: *mut T,
    expression: &'static str,
) -> Result<&'a mut T, Fail> {
    // SAFETY: the caller's contract.
    unsafe { out.as_mut() }.ok_or_else(|| unmet(expression))
}

/// The struct a required input pointer points at.
///
/// # Safety
/// A non-NULL `input` points at an initialized value, readable during the call.
pub(crate) unsafe fn in_param<'a, T>(
    input: *const T,
    expression: &'static str,
) -> Result<&'a T, Fail> {
    // SAFETY: the caller's contract.
    unsafe { input.as_ref() }.ok_or_else(|| unmet(expression))
}

/// Runs a constructor that takes over the descriptor `fd`; on failure the descriptor
/// goes back to the C caller, as QEMU leaves it.
pub(crate) fn adopt_fd<T>(
    fd: c_int,
    make: impl FnOnce(OwnedFd) -> Result<T, (qio::Error, OwnedFd)>,
) -> Result<T, Fail> {
    // SAFETY: a descriptor argument that an export takes over is the caller's to give
    // (the C contract); it goes back untouched on failure.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    make(owned).map_err(|(e, fd)| {
        let _ = fd.into_raw_fd();
        Fail::Error(e)
    })
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

/// `value` moved into `g_malloc`ed memory for C to free with `g_free`.
pub(crate) fn g_new<T>(value: T) -> *mut T {
    // SAFETY: g_malloc never returns NULL for a non-zero size and aligns for any type;
    // the value is moved in.
    unsafe {
        let out = glib_sys::g_malloc(std::mem::size_of::<T>()) as *mut T;
        out.write(value);
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
