//! The one way a C argument becomes a Rust value, and a Rust value a C one: handles
//! (identity, casts, ownership; [`handles`]), buffers, strings, iovecs and
//! out-parameters ([`args`]), C enums ([`enums`]).
//!
//! Exports convert their arguments with the macros below, inside their
//! [`ffi_guard!`](crate::boundary::ffi_guard): each one checks what
//! `g_return_val_if_fail` would (NULL, a wrong handle type), fails the body with a
//! critical naming the C parameter, and carries the one argument for its `unsafe`
//! block: C passes what `<qio.h>` documents for each parameter (NULL or a live handle;
//! a buffer of the given length; a NUL-terminated string; a writable out-parameter).
//! So an export body needs no `unsafe` block of its own unless it does something
//! unusual, and then says why.

mod args;
mod enums;
mod handles;

pub(crate) use args::{adopt_fd, g_array_copy, g_bytes, g_new, g_string, to_utf8};
pub(crate) use enums::{decode, enum_arg, EnumArg};
pub(crate) use handles::{
    new, AnyRef, Castable, HandleRef, Lendable, Owned, OwnedHandle, Shared, Static, Tag, Tagged,
};

#[doc(hidden)]
pub(crate) use args::{
    c_str_at, c_strings, in_out_bufs, in_param, iov_read, iov_slices, iov_write, out_param, slice,
    slice_mut,
};
#[doc(hidden)]
pub(crate) use handles::{add_ref, borrow, borrow_mut, free, unref};

/// The value behind a handle argument, borrowed for the call: `handle!(hash)`.
macro_rules! handle {
    ($p:ident) => {
        // SAFETY: a handle argument is NULL or a live handle (the C contract);
        // `borrow` refuses NULL and any other type.
        unsafe { $crate::ffi::borrow($p, stringify!($p))? }
    };
}
pub(crate) use handle;

/// The value behind a single-owner handle argument, borrowed mutably for the call.
macro_rules! handle_mut {
    ($p:ident) => {
        // SAFETY: as for handle!; a single-owner handle is used by one thread at a time
        // (the C contract of its type).
        unsafe { $crate::ffi::borrow_mut($p, stringify!($p))? }
    };
}
pub(crate) use handle_mut;

/// The value behind a nullable handle argument, if any.
macro_rules! opt_handle {
    ($p:ident) => {
        match $p.is_null() {
            true => None,
            false => Some($crate::ffi::handle!($p)),
        }
    };
}
pub(crate) use opt_handle;

/// Frees a single-owner handle argument (`_free`; NULL is a no-op).
macro_rules! free_handle {
    ($p:ident) => {
        // SAFETY: as for handle_mut!; the caller gives the handle up.
        unsafe { $crate::ffi::free($p, stringify!($p)) }
    };
}
pub(crate) use free_handle;

/// Adds a reference to a shared handle argument and returns it (`_ref`).
macro_rules! ref_handle {
    ($p:ident) => {
        // SAFETY: as for handle!.
        unsafe { $crate::ffi::add_ref($p, stringify!($p)) }
    };
}
pub(crate) use ref_handle;

/// Drops the caller's reference to a shared handle argument (`_unref`; NULL is a
/// no-op).
macro_rules! unref_handle {
    ($p:ident) => {
        // SAFETY: as for handle!; the caller gives its reference up.
        unsafe { $crate::ffi::unref($p, stringify!($p)) }
    };
}
pub(crate) use unref_handle;

/// A reference of our own on a shared handle argument, kept past the call.
macro_rules! keep_handle {
    ($p:ident) => {
        // SAFETY: as for handle!.
        unsafe { $crate::ffi::HandleRef::new($p, stringify!($p))? }
    };
}
pub(crate) use keep_handle;

/// The bytes of a buffer argument and its length: `bytes!(buf, len)`; NULL is allowed
/// only with length 0, and the critical says "buf != NULL || len == 0" whatever the
/// parameters' names, unless a third argument words it.
macro_rules! bytes {
    ($buf:ident, $len:ident) => {
        $crate::ffi::bytes!($buf, $len, "buf != NULL || len == 0")
    };
    ($buf:ident, $len:ident, $expression:literal) => {
        // SAFETY: a buffer argument is readable for its length argument's bytes (the C
        // contract); `slice` refuses NULL with a length.
        unsafe { $crate::ffi::slice($buf.cast::<u8>(), $len, $expression)? }
    };
}
pub(crate) use bytes;

/// The writable bytes of a buffer argument and its length, as [`bytes!`] reads them.
macro_rules! bytes_mut {
    ($buf:ident, $len:ident) => {
        $crate::ffi::bytes_mut!($buf, $len, "buf != NULL || len == 0")
    };
    ($buf:ident, $len:ident, $expression:literal) => {
        // SAFETY: a writable buffer argument is writable for its length argument's
        // bytes and used by nothing else during the call (the C contract).
        unsafe { $crate::ffi::slice_mut($buf.cast(), $len, $expression)? }
    };
}
pub(crate) use bytes_mut;

/// The elements of an array argument and its length (`fds`, `nfds`); NULL only with
/// length 0.
macro_rules! array {
    ($ptr:ident, $len:ident) => {
        // SAFETY: an array argument holds its length argument's elements (the C
        // contract); `slice` refuses NULL with a length.
        unsafe {
            $crate::ffi::slice(
                $ptr,
                $len,
                concat!(stringify!($ptr), " != NULL || ", stringify!($len), " == 0"),
            )?
        }
    };
}
pub(crate) use array;

/// A string argument that may be NULL, as a `CStr`.
macro_rules! opt_c_str {
    ($p:ident) => {
        // SAFETY: a string argument is NULL or NUL-terminated (the C contract).
        unsafe { $crate::ffi::c_str_at($p) }
    };
}
pub(crate) use opt_c_str;

/// A required string argument, as a `CStr`; NULL is a critical.
macro_rules! c_str {
    ($p:ident) => {
        $crate::ffi::opt_c_str!($p).ok_or($crate::boundary::Fail::Precondition(
            concat!(stringify!($p), " != NULL").into(),
        ))?
    };
}
pub(crate) use c_str;

/// The strings of a NULL-terminated array argument (a NULL array has none).
macro_rules! c_str_array {
    ($p:ident) => {
        // SAFETY: a string array argument is NULL or NULL-terminated, each string
        // NUL-terminated (the C contract).
        unsafe { $crate::ffi::c_strings($p) }
    };
}
pub(crate) use c_str_array;

/// A string argument that may be NULL, as UTF-8 text; other bytes are an error naming
/// `what`.
macro_rules! opt_utf8 {
    ($p:ident, $what:expr) => {
        match $crate::ffi::opt_c_str!($p) {
            Some(text) => Some($crate::ffi::to_utf8(text, $what)?),
            None => None,
        }
    };
}
pub(crate) use opt_utf8;

/// A required string argument as UTF-8 text.
macro_rules! utf8 {
    ($p:ident, $what:expr) => {
        $crate::ffi::to_utf8($crate::ffi::c_str!($p), $what)?
    };
}
pub(crate) use utf8;

/// The buffers of an iovec array argument, to read from.
macro_rules! iov_bytes {
    ($iov:ident, $niov:ident) => {
        // SAFETY: an iovec argument holds its count's iovecs, each buffer readable
        // (the C contract); NULL arrays and buffers with lengths are refused.
        unsafe { $crate::ffi::iov_slices($iov, $niov)? }
    };
}
pub(crate) use iov_bytes;

/// The buffers of an iovec array argument, as a vectored write takes them.
macro_rules! write_bufs {
    ($iov:ident, $niov:ident) => {
        // SAFETY: as for iov_bytes!.
        unsafe { $crate::ffi::iov_write($iov, $niov)? }
    };
}
pub(crate) use write_bufs;

/// The buffers of an iovec array argument, as a vectored read fills them.
macro_rules! read_bufs {
    ($iov:ident, $niov:ident) => {
        // SAFETY: an iovec argument to read into holds its count's iovecs, each buffer
        // writable and apart from the others (the C contract).
        unsafe { $crate::ffi::iov_read($iov, $niov)? }
    };
}
pub(crate) use read_bufs;

/// An input and an output buffer argument of one length, the same buffer or apart:
/// `in_out!(input, output, len)`, for ciphers working in place or not.
macro_rules! in_out {
    ($input:ident, $output:ident, $len:ident) => {
        // SAFETY: an input buffer argument is readable, an output one writable, for the
        // length argument's bytes (the C contract); `in_out` refuses NULL and overlap.
        unsafe { $crate::ffi::in_out_bufs($input, $output, $len)? }
    };
}
pub(crate) use in_out;

/// The struct a required input pointer argument points at; NULL is a critical.
macro_rules! input {
    ($p:ident) => {
        // SAFETY: an input struct argument is NULL or points at an initialized struct
        // for the call (the C contract).
        unsafe { $crate::ffi::in_param($p, concat!(stringify!($p), " != NULL"))? }
    };
}
pub(crate) use input;

/// The target of a required out-parameter; NULL is a critical.
macro_rules! out {
    ($p:ident) => {
        // SAFETY: an out-parameter is NULL or valid for the call (the C contract).
        unsafe { $crate::ffi::out_param($p, concat!(stringify!($p), " != NULL"))? }
    };
}
pub(crate) use out;

/// A `GMainContext *` argument as the core's [`MainContext`](qio::io::MainContext)
/// (NULL: the global default context).
macro_rules! main_context {
    ($p:ident) => {
        // SAFETY: a context argument is NULL or a live GMainContext (the C contract).
        unsafe { qio::io::MainContext::from_raw($p) }
    };
}
pub(crate) use main_context;

/// A required callback argument; NULL is a critical.
macro_rules! callback {
    ($p:ident) => {
        $p.ok_or($crate::boundary::Fail::Precondition(
            concat!(stringify!($p), " != NULL").into(),
        ))?
    };
}
pub(crate) use callback;

/// Calls a C callback: `call_c!(func(task, opaque))`, `call_c!(self.read(buf, len,
/// opaque, &mut error))`.
macro_rules! call_c {
    ($($func:ident).+ ($($arg:expr),* $(,)?)) => {
        // SAFETY: a C callback is called with the arguments its typedef documents and
        // the user data registered with it, from the thread its export names.
        unsafe { ($($func).+)($($arg),*) }
    };
}
pub(crate) use call_c;

#[cfg(test)]
mod tests;
