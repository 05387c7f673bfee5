//! `QIOChannel`: the generic channel API (QEMU's `io/channel.h`) for every channel type.
//!
//! A channel handle is the address of the core's `Channel` inside its `Arc`, so a
//! `QIOChannelSocket *` and the `QIOChannel *` it upcasts to (`QIO_CHANNEL()`, a plain
//! cast) are the same pointer, and watch callbacks receive exactly the pointer C holds.
//! Every export checks the channel class at that address before using it.

use std::io::{IoSlice, IoSliceMut};
use std::mem::ManuallyDrop;
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::raw::{c_int, c_uint, c_void};
use std::sync::Arc;

use glib_sys::{
    gboolean, gpointer, GDestroyNotify, GError, GIOCondition, GMainContext, GSource, GFALSE,
};
use libc::{iovec, off_t, ssize_t};
use qio::io::channel::{ChannelType, Feature, Shutdown};
use qio::io::{watch, Channel};

use crate::boundary::{ffi_guard, require, Fail};

/// A byte stream of any type; subtypes upcast with QIO_CHANNEL(). Shared: every
/// constructor returns one reference, qio_channel_ref() adds one and
/// qio_channel_unref() drops one.
pub struct QIOChannel {
    _private: [u8; 0],
}

/// A non-blocking channel could not transfer anything now: wait and retry.
pub const QIO_CHANNEL_ERR_BLOCK: ssize_t = -2;
/// Read without consuming the data (needs %QIO_CHANNEL_FEATURE_READ_MSG_PEEK).
pub const QIO_CHANNEL_READ_FLAG_MSG_PEEK: c_int = 0x1;
/// Treat a TLS peer that closed without close_notify as end-of-file.
pub const QIO_CHANNEL_READ_FLAG_RELAXED_EOF: c_int = 0x2;
/// Leave received file descriptors' O_NONBLOCK as the sender had it.
pub const QIO_CHANNEL_READ_FLAG_FD_PRESERVE_BLOCKING: c_int = 0x4;
/// Send from the caller's pages (MSG_ZEROCOPY); qio_channel_flush() waits for them.
pub const QIO_CHANNEL_WRITE_FLAG_ZERO_COPY: c_int = 0x1;

/// Channel capabilities, with QEMU's values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QIOChannelFeature {
    QIO_CHANNEL_FEATURE_FD_PASS = 0,
    QIO_CHANNEL_FEATURE_SHUTDOWN = 1,
    QIO_CHANNEL_FEATURE_LISTEN = 2,
    QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY = 3,
    QIO_CHANNEL_FEATURE_READ_MSG_PEEK = 4,
    QIO_CHANNEL_FEATURE_SEEKABLE = 5,
    QIO_CHANNEL_FEATURE_CONCURRENT_IO = 6,
}

/// A `QIOChannelFeature` as C passed it, validated before use.
#[repr(transparent)]
pub struct FeatureArg(c_int);

impl FeatureArg {
    fn get(self) -> Result<Feature, Fail> {
        usize::try_from(self.0)
            .ok()
            .and_then(|i| Feature::ALL.get(i).copied())
            .ok_or(Fail::Precondition("feature is a QIOChannelFeature".into()))
    }
}

/// Which directions qio_channel_shutdown() closes, with QEMU's values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QIOChannelShutdown {
    QIO_CHANNEL_SHUTDOWN_READ = 1,
    QIO_CHANNEL_SHUTDOWN_WRITE = 2,
    QIO_CHANNEL_SHUTDOWN_BOTH = 3,
}

/// A `QIOChannelShutdown` as C passed it, validated before use.
#[repr(transparent)]
pub struct ShutdownArg(c_int);

/// A watch callback: the channel, the conditions that are ready, the user data;
/// returns G_SOURCE_CONTINUE to keep the watch or G_SOURCE_REMOVE to drop it.
pub type QIOChannelFunc = Option<
    unsafe extern "C" fn(ioc: *mut QIOChannel, condition: GIOCondition, data: gpointer) -> gboolean,
>;

/// The channel behind a handle of any channel type, borrowed for one call.
///
/// # Safety
/// `ioc` is NULL or a pointer the caller holds a reference to (or any readable memory,
/// which is then refused by its class check).
pub(crate) unsafe fn borrow<C>(
    ioc: *const C,
    param: &str,
) -> Result<ManuallyDrop<Arc<Channel>>, Fail> {
    if ioc.is_null() {
        return Err(Fail::Precondition(format!("{param} != NULL").into()));
    }
    // SAFETY: the caller's contract.
    unsafe { Channel::borrow_thin(ioc.cast()) }
        .ok_or_else(|| Fail::Precondition(format!("QIO_IS_CHANNEL ({param})").into()))
}

/// The typed channel behind a subtype handle, borrowed for one call; a handle of
/// another channel type is a precondition failure naming `check` (`QIO_IS_CHANNEL_SOCKET`).
///
/// # Safety
/// As for [`borrow`].
pub(crate) unsafe fn borrow_typed<T: ChannelType, C>(
    ioc: *const C,
    param: &str,
    check: &str,
) -> Result<ManuallyDrop<Arc<Channel<T>>>, Fail> {
    // SAFETY: the caller's contract.
    let channel = unsafe { borrow(ioc, param)? };
    match ManuallyDrop::into_inner(channel).downcast::<T>() {
        Ok(typed) => Ok(ManuallyDrop::new(typed)),
        Err(other) => {
            std::mem::forget(other);
            Err(Fail::Precondition(format!("{check} ({param})").into()))
        }
    }
}

/// Hands a new channel reference to C as a handle of type `C`.
pub(crate) fn into_handle<T: ?Sized + qio::io::ChannelImpl, C>(channel: Arc<Channel<T>>) -> *mut C {
    Arc::into_raw(channel) as *const c_void as *mut C
}

/// The C value of a channel I/O result: the byte count, QIO_CHANNEL_ERR_BLOCK, or a
/// failure (-1 and the GError).
fn io_result(result: qio::Result<usize>) -> Result<ssize_t, Fail> {
    match result {
        Ok(n) => Ok(n as ssize_t),
        Err(e) if e.would_block() => Ok(QIO_CHANNEL_ERR_BLOCK),
        Err(e) => Err(e.into()),
    }
}

/// Buffers of a C iovec array for reading into, checked like [`crate::ffi::bytes_mut`].
///
/// # Safety
/// A non-NULL `iov` points at `niov` iovecs whose buffers are writable for the call.
unsafe fn read_iov<'a>(iov: *const iovec, niov: usize) -> Result<Vec<IoSliceMut<'a>>, Fail> {
    // SAFETY: the caller's contract.
    let iov = unsafe { crate::ffi::iovecs(iov, niov)? };
    iov.iter()
        .map(|v| {
            // SAFETY: the caller's contract.
            unsafe { crate::ffi::bytes_mut(v.iov_base.cast(), v.iov_len) }.map(IoSliceMut::new)
        })
        .collect()
}

/// Buffers of a C iovec array to write from, checked like [`crate::ffi::bytes`].
///
/// # Safety
/// A non-NULL `iov` points at `niov` iovecs whose buffers are readable for the call.
unsafe fn write_iov<'a>(iov: *const iovec, niov: usize) -> Result<Vec<IoSlice<'a>>, Fail> {
    // SAFETY: the caller's contract.
    let iov = unsafe { crate::ffi::iovecs(iov, niov)? };
    iov.iter()
        // SAFETY: the caller's contract.
        .map(|v| unsafe { crate::ffi::iov_bytes(v) }.map(IoSlice::new))
        .collect()
}

/// The descriptors to send, borrowed from a C array.
///
/// # Safety
/// A non-NULL `fds` points at `nfds` open descriptors.
unsafe fn send_fds<'a>(fds: *const c_int, nfds: usize) -> Result<&'a [BorrowedFd<'a>], Fail> {
    if fds.is_null() {
        require!(nfds == 0, "fds != NULL || nfds == 0");
        return Ok(&[]);
    }
    // SAFETY: BorrowedFd is a transparent int; the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(fds.cast(), nfds) })
}

/// Stores received descriptors as a g_malloc'd int array (NULL when there are none).
///
/// # Safety
/// `fds` and `nfds` are writable.
unsafe fn give_fds(received: Vec<OwnedFd>, fds: *mut *mut c_int, nfds: *mut usize) {
    let ints: Vec<c_int> = received
        .into_iter()
        .map(std::os::fd::IntoRawFd::into_raw_fd)
        .collect();
    // SAFETY: the caller's out-parameters.
    unsafe {
        *nfds = ints.len();
        *fds = crate::ffi::g_array_copy(&ints);
    }
}

/// Whether the caller asked for descriptors: both out-pointers, or neither.
fn wants_fds(fds: *mut *mut c_int, nfds: *mut usize) -> Result<bool, Fail> {
    require!(
        fds.is_null() == nfds.is_null(),
        "(fds == NULL) == (nfds == NULL)"
    );
    Ok(!fds.is_null())
}

/// Runs one of the core's `readv_full_all*` helpers for an export, receiving the
/// descriptors (when the caller asked for them) into its out-parameters on success.
///
/// # Safety
/// The exports' contract for `ioc`, `iov`, `fds` and `nfds`.
unsafe fn read_all<T>(
    ioc: *mut QIOChannel,
    iov: *const iovec,
    niov: usize,
    fds: *mut *mut c_int,
    nfds: *mut usize,
    read: impl FnOnce(&Arc<Channel>, &mut [IoSliceMut<'_>], Option<&mut Vec<OwnedFd>>) -> qio::Result<T>,
) -> Result<T, Fail> {
    // SAFETY: the caller's handle and buffers.
    let (channel, mut bufs) = unsafe { (borrow(ioc, "ioc")?, read_iov(iov, niov)?) };
    let want = wants_fds(fds, nfds)?;
    let mut received = Vec::new();
    let value = read(&channel, &mut bufs, want.then_some(&mut received))?;
    if want {
        // SAFETY: the caller's out-parameters.
        unsafe { give_fds(received, fds, nfds) };
    }
    Ok(value)
}

/// Adds a reference to @ioc.
///
/// Returns: (transfer full): @ioc; NULL (and a critical) if it is not a channel.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_ref(ioc: *mut QIOChannel) -> *mut QIOChannel {
    ffi_guard!(std::ptr::null_mut(), {
        // SAFETY: the caller's handle, checked.
        let channel = unsafe { borrow(ioc, "ioc")? };
        std::mem::forget(Arc::clone(&channel));
        Ok(ioc)
    })
}

/// Drops a reference to @ioc (transfer full); the last one closes and frees it. NULL
/// is ignored.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_unref(ioc: *mut QIOChannel) {
    ffi_guard!((), {
        if !ioc.is_null() {
            // SAFETY: the caller's reference, checked, given up here.
            drop(ManuallyDrop::into_inner(unsafe { borrow(ioc, "ioc")? }));
        }
        Ok(())
    })
}

/// Returns: whether @ioc has @feature.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_has_feature(
    ioc: *mut QIOChannel,
    feature: FeatureArg,
) -> gboolean {
    ffi_guard!(GFALSE, {
        // SAFETY: the caller's handle, checked.
        let channel = unsafe { borrow(ioc, "ioc")? };
        Ok(channel.has_feature(feature.get()?).into())
    })
}

/// Sets @feature on @ioc (for users' flags such as %QIO_CHANNEL_FEATURE_CONCURRENT_IO).
#[no_mangle]
pub unsafe extern "C" fn qio_channel_set_feature(ioc: *mut QIOChannel, feature: FeatureArg) {
    ffi_guard!((), {
        // SAFETY: the caller's handle, checked.
        let channel = unsafe { borrow(ioc, "ioc")? };
        channel.set_feature(feature.get()?);
        Ok(())
    })
}

/// Names the watches created on @ioc from now on (g_source_set_name()).
#[no_mangle]
pub unsafe extern "C" fn qio_channel_set_name(
    ioc: *mut QIOChannel,
    name: *const std::os::raw::c_char,
) {
    ffi_guard!((), {
        // SAFETY: the caller's handle and string.
        let (channel, name) = unsafe { (borrow(ioc, "ioc")?, crate::ffi::opt_c_str(name)) };
        let name = name.ok_or(Fail::Precondition("name != NULL".into()))?;
        channel.set_name(&name.to_string_lossy());
        Ok(())
    })
}

/// Reads once into @iov (@niov buffers). With @fds and @nfds (both or neither), also
/// receives file descriptors, returned as a g_malloc'd array (NULL when none) whose
/// descriptors are close-on-exec and blocking unless
/// %QIO_CHANNEL_READ_FLAG_FD_PRESERVE_BLOCKING. @flags: QIO_CHANNEL_READ_FLAG_*.
///
/// Returns: the bytes read, 0 at end-of-file, %QIO_CHANNEL_ERR_BLOCK if a non-blocking
/// channel has nothing yet, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_readv_full(
    ioc: *mut QIOChannel,
    iov: *const iovec,
    niov: usize,
    fds: *mut *mut c_int,
    nfds: *mut usize,
    flags: c_int,
    error: *mut *mut GError,
) -> ssize_t {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handle and buffers.
        let (channel, mut bufs) = unsafe { (borrow(ioc, "ioc")?, read_iov(iov, niov)?) };
        let mut received = Vec::new();
        let want = wants_fds(fds, nfds)?;
        let got =
            io_result(channel.readv_full(&mut bufs, want.then_some(&mut received), flags as u32))?;
        if want && got >= 0 {
            // SAFETY: the caller's out-parameters.
            unsafe { give_fds(received, fds, nfds) };
        }
        Ok(got)
    })
}

/// Writes once from @iov, passing the @nfds descriptors of @fds (UNIX sockets only, at
/// most 16). @flags: QIO_CHANNEL_WRITE_FLAG_*.
///
/// Returns: the bytes written, %QIO_CHANNEL_ERR_BLOCK, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_writev_full(
    ioc: *mut QIOChannel,
    iov: *const iovec,
    niov: usize,
    fds: *const c_int,
    nfds: usize,
    flags: c_int,
    error: *mut *mut GError,
) -> ssize_t {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handle, buffers and descriptors.
        let (channel, bufs, fds) = unsafe {
            (
                borrow(ioc, "ioc")?,
                write_iov(iov, niov)?,
                send_fds(fds, nfds)?,
            )
        };
        io_result(channel.writev_full(&bufs, fds, flags as u32))
    })
}

/// Reads once into @iov: qio_channel_readv_full() without descriptors or flags.
///
/// Returns: the bytes read, 0 at end-of-file, %QIO_CHANNEL_ERR_BLOCK, or -1.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_readv(
    ioc: *mut QIOChannel,
    iov: *const iovec,
    niov: usize,
    error: *mut *mut GError,
) -> ssize_t {
    // SAFETY: forwarded contract.
    unsafe {
        qio_channel_readv_full(
            ioc,
            iov,
            niov,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
            error,
        )
    }
}

/// Writes once from @iov: qio_channel_writev_full() without descriptors or flags.
///
/// Returns: the bytes written, %QIO_CHANNEL_ERR_BLOCK, or -1.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_writev(
    ioc: *mut QIOChannel,
    iov: *const iovec,
    niov: usize,
    error: *mut *mut GError,
) -> ssize_t {
    // SAFETY: forwarded contract.
    unsafe { qio_channel_writev_full(ioc, iov, niov, std::ptr::null(), 0, 0, error) }
}

/// Reads once into the @buflen bytes at @buf.
///
/// Returns: the bytes read, 0 at end-of-file, %QIO_CHANNEL_ERR_BLOCK, or -1.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_read(
    ioc: *mut QIOChannel,
    buf: *mut std::os::raw::c_char,
    buflen: usize,
    error: *mut *mut GError,
) -> ssize_t {
    let iov = crate::ffi::iovec(buf.cast(), buflen);
    // SAFETY: forwarded contract.
    unsafe { qio_channel_readv(ioc, &iov, 1, error) }
}

/// Writes once from the @buflen bytes at @buf.
///
/// Returns: the bytes written, %QIO_CHANNEL_ERR_BLOCK, or -1.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_write(
    ioc: *mut QIOChannel,
    buf: *const std::os::raw::c_char,
    buflen: usize,
    error: *mut *mut GError,
) -> ssize_t {
    let iov = crate::ffi::iovec(buf.cast(), buflen);
    // SAFETY: forwarded contract.
    unsafe { qio_channel_writev(ioc, &iov, 1, error) }
}

/// Fills all of @iov, waiting whenever the channel would block, receiving descriptors
/// with the first read as qio_channel_readv_full() does (on failure they are closed).
///
/// Returns: 1 when everything was read, 0 at end-of-file before any data, -1 with
/// @error set (including end-of-file after some data).
#[no_mangle]
pub unsafe extern "C" fn qio_channel_readv_full_all_eof(
    ioc: *mut QIOChannel,
    iov: *const iovec,
    niov: usize,
    fds: *mut *mut c_int,
    nfds: *mut usize,
    flags: c_int,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        // SAFETY: forwarded contract.
        let all = unsafe {
            read_all(ioc, iov, niov, fds, nfds, |channel, bufs, received| {
                channel.readv_full_all_eof(bufs, received, flags as u32)
            })?
        };
        Ok(all.into())
    })
}

/// Fills all of @iov, receiving descriptors as qio_channel_readv_full_all_eof() does;
/// end-of-file is an error.
///
/// Returns: 0, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_readv_full_all(
    ioc: *mut QIOChannel,
    iov: *const iovec,
    niov: usize,
    fds: *mut *mut c_int,
    nfds: *mut usize,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        // SAFETY: forwarded contract.
        unsafe {
            read_all(ioc, iov, niov, fds, nfds, |channel, bufs, received| {
                channel.readv_full_all(bufs, received)
            })?
        };
        Ok(0)
    })
}

/// Fills all of @iov (qio_channel_readv_full_all_eof() without descriptors).
///
/// Returns: 1, 0 at end-of-file before any data, or -1.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_readv_all_eof(
    ioc: *mut QIOChannel,
    iov: *const iovec,
    niov: usize,
    error: *mut *mut GError,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        qio_channel_readv_full_all_eof(
            ioc,
            iov,
            niov,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            0,
            error,
        )
    }
}

/// Fills all of @iov; end-of-file is an error.
///
/// Returns: 0, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_readv_all(
    ioc: *mut QIOChannel,
    iov: *const iovec,
    niov: usize,
    error: *mut *mut GError,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe {
        qio_channel_readv_full_all(
            ioc,
            iov,
            niov,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
            error,
        )
    }
}

/// Reads exactly @buflen bytes into @buf.
///
/// Returns: 1, 0 at end-of-file before any data, or -1.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_read_all_eof(
    ioc: *mut QIOChannel,
    buf: *mut std::os::raw::c_char,
    buflen: usize,
    error: *mut *mut GError,
) -> c_int {
    let iov = crate::ffi::iovec(buf.cast(), buflen);
    // SAFETY: forwarded contract.
    unsafe { qio_channel_readv_all_eof(ioc, &iov, 1, error) }
}

/// Reads exactly @buflen bytes into @buf; end-of-file is an error.
///
/// Returns: 0, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_read_all(
    ioc: *mut QIOChannel,
    buf: *mut std::os::raw::c_char,
    buflen: usize,
    error: *mut *mut GError,
) -> c_int {
    let iov = crate::ffi::iovec(buf.cast(), buflen);
    // SAFETY: forwarded contract.
    unsafe { qio_channel_readv_all(ioc, &iov, 1, error) }
}

/// Writes all of @iov, waiting whenever the channel would block; the @nfds
/// descriptors of @fds go with the first chunk. @flags: QIO_CHANNEL_WRITE_FLAG_*.
///
/// Returns: 0, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_writev_full_all(
    ioc: *mut QIOChannel,
    iov: *const iovec,
    niov: usize,
    fds: *const c_int,
    nfds: usize,
    flags: c_int,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handle, buffers and descriptors.
        let (channel, mut bufs, fds) = unsafe {
            (
                borrow(ioc, "ioc")?,
                write_iov(iov, niov)?,
                send_fds(fds, nfds)?,
            )
        };
        channel.writev_full_all(&mut bufs, fds, flags as u32)?;
        Ok(0)
    })
}

/// Writes all of @iov.
///
/// Returns: 0, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_writev_all(
    ioc: *mut QIOChannel,
    iov: *const iovec,
    niov: usize,
    error: *mut *mut GError,
) -> c_int {
    // SAFETY: forwarded contract.
    unsafe { qio_channel_writev_full_all(ioc, iov, niov, std::ptr::null(), 0, 0, error) }
}

/// Writes all @buflen bytes of @buf.
///
/// Returns: 0, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_write_all(
    ioc: *mut QIOChannel,
    buf: *const std::os::raw::c_char,
    buflen: usize,
    error: *mut *mut GError,
) -> c_int {
    let iov = crate::ffi::iovec(buf.cast(), buflen);
    // SAFETY: forwarded contract.
    unsafe { qio_channel_writev_all(ioc, &iov, 1, error) }
}

/// Switches @ioc between blocking (@enabled) and non-blocking I/O.
///
/// Returns: TRUE, or FALSE with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_set_blocking(
    ioc: *mut QIOChannel,
    enabled: gboolean,
    error: *mut *mut GError,
) -> gboolean {
    ffi_guard!(GFALSE, error, {
        // SAFETY: the caller's handle, checked.
        let channel = unsafe { borrow(ioc, "ioc")? };
        channel.set_blocking(enabled != GFALSE)?;
        Ok(glib_sys::GTRUE)
    })
}

/// Closes @ioc: later I/O fails. A command channel waits for its child here.
///
/// Returns: 0, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_close(ioc: *mut QIOChannel, error: *mut *mut GError) -> c_int {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handle, checked.
        let channel = unsafe { borrow(ioc, "ioc")? };
        channel.close()?;
        Ok(0)
    })
}

/// Closes one or both directions of @ioc without blocking (channels with
/// %QIO_CHANNEL_FEATURE_SHUTDOWN).
///
/// Returns: 0, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_shutdown(
    ioc: *mut QIOChannel,
    how: ShutdownArg,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handle, checked.
        let channel = unsafe { borrow(ioc, "ioc")? };
        let how = match how.0 {
            1 => Shutdown::Read,
            2 => Shutdown::Write,
            3 => Shutdown::Both,
            _ => return Err(Fail::Precondition("how is a QIOChannelShutdown".into())),
        };
        channel.shutdown(how)?;
        Ok(0)
    })
}

/// Turns Nagle's algorithm on (@enabled) or off (TCP_NODELAY); a no-op on channels
/// without it.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_set_delay(ioc: *mut QIOChannel, enabled: gboolean) {
    ffi_guard!((), {
        // SAFETY: the caller's handle, checked.
        unsafe { borrow(ioc, "ioc")? }.set_delay(enabled != GFALSE);
        Ok(())
    })
}

/// Turns TCP_CORK on or off; a no-op on channels without it.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_set_cork(ioc: *mut QIOChannel, enabled: gboolean) {
    ffi_guard!((), {
        // SAFETY: the caller's handle, checked.
        unsafe { borrow(ioc, "ioc")? }.set_cork(enabled != GFALSE);
        Ok(())
    })
}

/// Moves the position of @ioc (@whence as for lseek()).
///
/// Returns: the new offset, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_io_seek(
    ioc: *mut QIOChannel,
    offset: off_t,
    whence: c_int,
    error: *mut *mut GError,
) -> off_t {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handle, checked.
        let channel = unsafe { borrow(ioc, "ioc")? };
        Ok(channel.seek(offset, whence)?)
    })
}

/// Reads once into @iov at @offset without moving the position (seekable channels).
///
/// Returns: the bytes read, 0 at end-of-file, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_preadv(
    ioc: *mut QIOChannel,
    iov: *const iovec,
    niov: usize,
    offset: off_t,
    error: *mut *mut GError,
) -> ssize_t {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handle and buffers.
        let (channel, mut bufs) = unsafe { (borrow(ioc, "ioc")?, read_iov(iov, niov)?) };
        io_result(channel.preadv(&mut bufs, offset))
    })
}

/// Writes once from @iov at @offset without moving the position (seekable channels).
///
/// Returns: the bytes written, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_pwritev(
    ioc: *mut QIOChannel,
    iov: *const iovec,
    niov: usize,
    offset: off_t,
    error: *mut *mut GError,
) -> ssize_t {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handle and buffers.
        let (channel, bufs) = unsafe { (borrow(ioc, "ioc")?, write_iov(iov, niov)?) };
        io_result(channel.pwritev(&bufs, offset))
    })
}

/// Reads once into the @buflen bytes at @buf from @offset.
///
/// Returns: the bytes read, 0 at end-of-file, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_pread(
    ioc: *mut QIOChannel,
    buf: *mut std::os::raw::c_char,
    buflen: usize,
    offset: off_t,
    error: *mut *mut GError,
) -> ssize_t {
    let iov = crate::ffi::iovec(buf.cast(), buflen);
    // SAFETY: forwarded contract.
    unsafe { qio_channel_preadv(ioc, &iov, 1, offset, error) }
}

/// Writes once the @buflen bytes at @buf at @offset.
///
/// Returns: the bytes written, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_pwrite(
    ioc: *mut QIOChannel,
    buf: *const std::os::raw::c_char,
    buflen: usize,
    offset: off_t,
    error: *mut *mut GError,
) -> ssize_t {
    let iov = crate::ffi::iovec(buf.cast(), buflen);
    // SAFETY: forwarded contract.
    unsafe { qio_channel_pwritev(ioc, &iov, 1, offset, error) }
}

/// Waits until every zero-copy write so far has left the caller's pages.
///
/// Returns: 0; 1 when every one of them fell back to copying (no zero-copy gain); -1
/// with @error set. 0 at once on channels without %QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_flush(ioc: *mut QIOChannel, error: *mut *mut GError) -> c_int {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handle, checked.
        let channel = unsafe { borrow(ioc, "ioc")? };
        Ok(channel.flush()?)
    })
}

/// Stores the process id of the peer of a UNIX socket channel in @pid.
///
/// Returns: 0, or -1 with @error set.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_get_peerpid(
    ioc: *mut QIOChannel,
    pid: *mut c_uint,
    error: *mut *mut GError,
) -> c_int {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handle, checked.
        let channel = unsafe { borrow(ioc, "ioc")? };
        require!(!pid.is_null(), "pid != NULL");
        let peer = channel.peerpid()?;
        // SAFETY: the caller's out-parameter.
        unsafe { *pid = peer };
        Ok(0)
    })
}

/// A new source that dispatches when @ioc is ready for @condition; set its callback
/// with g_source_set_callback() and a #QIOChannelFunc cast to #GSourceFunc. The source
/// holds a reference on @ioc.
///
/// Returns: (transfer full): the unattached source.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_create_watch(
    ioc: *mut QIOChannel,
    condition: GIOCondition,
) -> *mut GSource {
    ffi_guard!(std::ptr::null_mut(), {
        // SAFETY: the caller's handle, checked.
        let channel = unsafe { borrow(ioc, "ioc")? };
        Ok(watch::create_watch(&channel, condition))
    })
}

/// Calls @func(@ioc, ready, @user_data) in the thread iterating @context (NULL: the
/// default context) whenever @ioc is ready for @condition, until @func returns
/// G_SOURCE_REMOVE; @notify runs on @user_data when the watch goes.
///
/// Returns: the watch's source id in @context.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_add_watch_full(
    ioc: *mut QIOChannel,
    condition: GIOCondition,
    func: QIOChannelFunc,
    user_data: gpointer,
    notify: GDestroyNotify,
    context: *mut GMainContext,
) -> c_uint {
    ffi_guard!(0, {
        // SAFETY: the caller's handle, checked.
        let channel = unsafe { borrow(ioc, "ioc")? };
        let func = func.ok_or(Fail::Precondition("func != NULL".into()))?;
        // SAFETY: QIOChannelFunc and ChannelFunc differ only in the channel pointer's
        // type; the caller's callback contract.
        Ok(unsafe {
            watch::add_watch_full(
                &channel,
                condition,
                std::mem::transmute::<
                    unsafe extern "C" fn(*mut QIOChannel, GIOCondition, gpointer) -> gboolean,
                    watch::ChannelFunc,
                >(func),
                user_data,
                notify,
                context,
            )
        })
    })
}

/// qio_channel_add_watch_full() on the default context.
///
/// Returns: the watch's source id.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_add_watch(
    ioc: *mut QIOChannel,
    condition: GIOCondition,
    func: QIOChannelFunc,
    user_data: gpointer,
    notify: GDestroyNotify,
) -> c_uint {
    // SAFETY: forwarded contract.
    unsafe {
        qio_channel_add_watch_full(
            ioc,
            condition,
            func,
            user_data,
            notify,
            std::ptr::null_mut(),
        )
    }
}

/// qio_channel_add_watch_full(), returning the attached source itself.
///
/// Returns: (transfer full): the source, to g_source_unref() (g_source_destroy() removes
/// the watch).
#[no_mangle]
pub unsafe extern "C" fn qio_channel_add_watch_source(
    ioc: *mut QIOChannel,
    condition: GIOCondition,
    func: QIOChannelFunc,
    user_data: gpointer,
    notify: GDestroyNotify,
    context: *mut GMainContext,
) -> *mut GSource {
    ffi_guard!(std::ptr::null_mut(), {
        // SAFETY: the caller's handle, checked.
        let channel = unsafe { borrow(ioc, "ioc")? };
        let func = func.ok_or(Fail::Precondition("func != NULL".into()))?;
        let source = watch::create_watch(&channel, condition);
        // SAFETY: a fresh source; QIOChannelFunc is what the source's dispatch calls.
        unsafe {
            let func: unsafe extern "C" fn(gpointer) -> gboolean = std::mem::transmute(func);
            glib_sys::g_source_set_callback(source, Some(func), user_data, notify);
            glib_sys::g_source_attach(source, context);
        }
        Ok(source)
    })
}

/// Blocks until @ioc is ready for @condition (or reports a hang-up or error).
#[no_mangle]
pub unsafe extern "C" fn qio_channel_wait(ioc: *mut QIOChannel, condition: GIOCondition) {
    ffi_guard!((), {
        // SAFETY: the caller's handle, checked.
        let channel = unsafe { borrow(ioc, "ioc")? };
        watch::wait(&channel, condition);
        Ok(())
    })
}

/// Wraps @fd, which it takes over: a #QIOChannelSocket if it is a socket, else a
/// #QIOChannelFile.
///
/// Returns: (transfer full) (nullable): the channel, or NULL with @error set (@fd then
/// stays the caller's).
#[no_mangle]
pub unsafe extern "C" fn qio_channel_new_fd(fd: c_int, error: *mut *mut GError) -> *mut QIOChannel {
    ffi_guard!(std::ptr::null_mut(), error, {
        require!(fd >= 0, "fd >= 0");
        Ok(into_handle(adopt_fd(fd, qio::io::new_fd)?))
    })
}

/// Runs a constructor that takes over `fd`; on failure the descriptor goes back to
/// the C caller, as QEMU leaves it.
pub(crate) fn adopt_fd<T>(
    fd: c_int,
    make: impl FnOnce(OwnedFd) -> Result<T, (qio::Error, OwnedFd)>,
) -> Result<T, Fail> {
    // SAFETY: the caller hands the descriptor over for the call.
    let owned = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    make(owned).map_err(|(e, fd)| {
        let _ = std::os::fd::IntoRawFd::into_raw_fd(fd);
        Fail::Error(e)
    })
}
