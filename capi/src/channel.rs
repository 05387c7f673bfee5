//! `QIOChannel`: the generic channel API (QEMU's `io/channel.h`) for every channel type.
//!
//! Every channel handle, whatever its type, holds a [`ChannelObject`]: the core's
//! channel, erased. A `QIOChannelSocket *` and the `QIOChannel *` it upcasts to
//! (`QIO_CHANNEL()`, a plain cast) are the same handle; the socket type's tag belongs to
//! the channel family, so the generic exports accept it, and the socket exports accept
//! nothing else. Watch callbacks receive exactly the handle C holds. Nothing here lists
//! the channel types: each declares itself with [`channel_type!`].

use std::any::Any;
use std::ffi::CStr;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::os::raw::{c_char, c_int, c_uint};
use std::sync::Arc;

use glib_sys::{
    gboolean, gpointer, GDestroyNotify, GError, GIOCondition, GMainContext, GSource, GFALSE,
};
use libc::{iovec, off_t, ssize_t};
use qio::io::channel::{ChannelImpl, Feature, Shutdown};
use qio::io::{Channel, MainContext, Watch};

use crate::boundary::{ffi_guard, require, Fail};
use crate::ffi::{
    array, bytes, bytes_mut, c_str, call_c, callback, decode, enum_arg, handle, keep_handle,
    main_context, out, read_bufs, ref_handle, unref_handle, write_bufs, Castable, HandleRef,
    Shared, Tag,
};

/// A byte stream of any type; subtypes upcast with QIO_CHANNEL(). Shared: every
/// constructor returns one reference, qio_channel_ref() adds one and
/// qio_channel_unref() drops one.
pub struct QIOChannel {
    _private: [u8; 0],
}

/// What every channel handle holds, whatever its type.
pub(crate) struct ChannelObject {
    pub(crate) channel: Arc<Channel>,
    /// The QOM type name of the handle's type (`qio-channel-socket`).
    type_name: &'static CStr,
    /// Handles to parts of the channel that C borrows for as long as the channel
    /// lives (a TLS channel's session), freed with it.
    parts: Option<Box<dyn Any + Send + Sync>>,
}

impl ChannelObject {
    /// A handle's part of type `P`, if it has one.
    pub(crate) fn part<P: 'static>(&self) -> Option<&P> {
        self.parts.as_ref()?.downcast_ref()
    }
}

impl Castable for QIOChannel {
    type Ownership = Shared;
    type Rust = ChannelObject;
    const NAME: &'static str = "QIOChannel";
    const TAG: Tag = Tag::new(b"QCh*");
    const CHECK: Option<&'static str> = Some("QIO_IS_CHANNEL");
}

/// The QOM type name every channel is (`TYPE_QIO_CHANNEL`).
const TYPE_QIO_CHANNEL: &CStr = c"qio-channel";

/// A channel handle type: one of the [`QIOChannel`] family, standing for the core's
/// channel type `Imp`, with QEMU's QOM type name.
pub(crate) trait ChannelType: Castable<Ownership = Shared, Rust = ChannelObject> {
    type Imp: ChannelImpl;
    const TYPE_NAME: &'static CStr;
}

/// Declares a channel handle type: `channel_type!(QIOChannelSocket, Socket, b"QChs",
/// "QIO_IS_CHANNEL_SOCKET", c"qio-channel-socket")`, its tag in the channel family and
/// its QOM type name (`TYPE_QIO_CHANNEL_SOCKET` in the header).
macro_rules! channel_type {
    ($c:ident, $imp:ty, $tag:literal, $check:literal, $type_name:literal) => {
        impl $crate::ffi::Castable for $c {
            type Ownership = $crate::ffi::Shared;
            type Rust = $crate::channel::ChannelObject;
            const NAME: &'static str = stringify!($c);
            const TAG: $crate::ffi::Tag = $crate::ffi::Tag::new($tag);
            const CHECK: Option<&'static str> = Some($check);
        }

        impl $crate::channel::ChannelType for $c {
            type Imp = $imp;
            const TYPE_NAME: &'static ::std::ffi::CStr = $type_name;
        }
    };
}
pub(crate) use channel_type;

/// Hands a new channel to C as a handle of its type, holding one reference.
pub(crate) fn new_handle<C: ChannelType>(channel: Arc<Channel<C::Imp>>) -> *mut C {
    new_handle_with(channel, None)
}

/// As [`new_handle`], with the parts C may borrow from it.
pub(crate) fn new_handle_with<C: ChannelType>(
    channel: Arc<Channel<C::Imp>>,
    parts: Option<Box<dyn Any + Send + Sync>>,
) -> *mut C {
    crate::ffi::new(ChannelObject {
        channel: channel.upcast(),
        type_name: C::TYPE_NAME,
        parts,
    })
}

/// The typed channel behind a channel handle of type `C` (the first argument only
/// names the type; see [`channel!`]).
pub(crate) fn typed<C: ChannelType>(
    _: *const C,
    object: &ChannelObject,
) -> Result<Arc<Channel<C::Imp>>, Fail> {
    Arc::clone(&object.channel)
        .downcast()
        .map_err(|_| Fail::Precondition(format!("the channel is a {}", C::NAME).into()))
}

/// The typed channel behind a channel handle argument, with a reference of its own:
/// `channel!(sioc)` is the `Arc<Channel<Socket>>` of a `QIOChannelSocket *`.
macro_rules! channel {
    ($p:ident) => {
        $crate::channel::typed($p, $crate::ffi::handle!($p))?
    };
}
pub(crate) use channel;

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

enum_arg! {
    /// A `QIOChannelFeature` as C passed it: any int, decoded before use.
    FeatureArg(QIOChannelFeature) => Feature {
        QIO_CHANNEL_FEATURE_FD_PASS => Feature::FdPass,
        QIO_CHANNEL_FEATURE_SHUTDOWN => Feature::Shutdown,
        QIO_CHANNEL_FEATURE_LISTEN => Feature::Listen,
        QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY => Feature::WriteZeroCopy,
        QIO_CHANNEL_FEATURE_READ_MSG_PEEK => Feature::ReadMsgPeek,
        QIO_CHANNEL_FEATURE_SEEKABLE => Feature::Seekable,
        QIO_CHANNEL_FEATURE_CONCURRENT_IO => Feature::ConcurrentIo,
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

enum_arg! {
    /// A `QIOChannelShutdown` as C passed it: any int, decoded before use.
    ShutdownArg(QIOChannelShutdown) => Shutdown {
        QIO_CHANNEL_SHUTDOWN_READ => Shutdown::Read,
        QIO_CHANNEL_SHUTDOWN_WRITE => Shutdown::Write,
        QIO_CHANNEL_SHUTDOWN_BOTH => Shutdown::Both,
    }
}

/// A watch callback: the channel, the conditions that are ready, the user data;
/// returns G_SOURCE_CONTINUE to keep the watch or G_SOURCE_REMOVE to drop it.
pub type QIOChannelFunc = Option<
    unsafe extern "C" fn(ioc: *mut QIOChannel, condition: GIOCondition, data: gpointer) -> gboolean,
>;

/// A C handshake timeout in milliseconds, 0 for none.
pub(crate) fn handshake_timeout(timeout_ms: c_uint) -> Option<std::time::Duration> {
    (timeout_ms > 0).then(|| std::time::Duration::from_millis(timeout_ms.into()))
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

/// The descriptors to send, borrowed from the C array.
fn send_fds(fds: &[c_int]) -> &[BorrowedFd<'_>] {
    // SAFETY: BorrowedFd is a transparent int, and descriptors handed over for sending
    // are open for the call (the C contract).
    unsafe { &*(fds as *const [c_int] as *const [BorrowedFd<'_>]) }
}

/// Where received descriptors go: both out-parameters, or (not wanted) neither.
type FdsOut<'a> = Option<(&'a mut *mut c_int, &'a mut usize)>;

/// Checks that the caller passed both descriptor out-parameters or neither.
fn fds_wanted(fds: *mut *mut c_int, nfds: *mut usize) -> Result<bool, Fail> {
    require!(
        fds.is_null() == nfds.is_null(),
        "(fds == NULL) == (nfds == NULL)"
    );
    Ok(!fds.is_null())
}

/// Stores received descriptors as a g_malloc'd int array (NULL when there are none).
fn give_fds(received: Vec<OwnedFd>, out: FdsOut<'_>) {
    if let Some((fds, nfds)) = out {
        let ints: Vec<c_int> = received
            .into_iter()
            .map(std::os::fd::IntoRawFd::into_raw_fd)
            .collect();
        *nfds = ints.len();
        *fds = crate::ffi::g_array_copy(&ints);
    }
}

/// The descriptor out-parameters of a read export.
macro_rules! fds_out {
    ($fds:ident, $nfds:ident) => {
        match fds_wanted($fds, $nfds)? {
            true => Some((out!($fds), out!($nfds))),
            false => None,
        }
    };
}

/// Runs one of the core's `readv_full_all*` helpers for an export, receiving the
/// descriptors (when the caller asked for them) into their out-parameters on success.
fn read_all<T>(
    channel: &Arc<Channel>,
    mut bufs: Vec<IoSliceMut<'_>>,
    fds: FdsOut<'_>,
    read: impl FnOnce(&Arc<Channel>, &mut [IoSliceMut<'_>], Option<&mut Vec<OwnedFd>>) -> qio::Result<T>,
) -> Result<T, Fail> {
    let mut received = Vec::new();
    let value = read(channel, &mut bufs, fds.is_some().then_some(&mut received))?;
    give_fds(received, fds);
    Ok(value)
}

/// Adds a reference to @ioc.
///
/// Returns: (transfer full): @ioc; NULL (and a critical) if it is not a channel.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_ref(ioc: *mut QIOChannel) -> *mut QIOChannel {
    ffi_guard!(std::ptr::null_mut(), { ref_handle!(ioc) })
}

/// Drops a reference to @ioc (transfer full); the last one closes and frees it. NULL
/// is ignored.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_unref(ioc: *mut QIOChannel) {
    ffi_guard!((), { unref_handle!(ioc) })
}

/// Returns: whether @ioc has @feature.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_has_feature(
    ioc: *mut QIOChannel,
    feature: FeatureArg,
) -> gboolean {
    ffi_guard!(GFALSE, {
        let channel = &handle!(ioc).channel;
        Ok(channel.has_feature(decode!(feature)).into())
    })
}

/// Sets @feature on @ioc (for users' flags such as %QIO_CHANNEL_FEATURE_CONCURRENT_IO).
#[no_mangle]
pub unsafe extern "C" fn qio_channel_set_feature(ioc: *mut QIOChannel, feature: FeatureArg) {
    ffi_guard!((), {
        let channel = &handle!(ioc).channel;
        channel.set_feature(decode!(feature));
        Ok(())
    })
}

/// Returns: (transfer none): the QOM type name of @ioc's type, such as
/// %TYPE_QIO_CHANNEL_SOCKET ("qio-channel-socket"); NULL (and a critical) if @ioc is not
/// a channel. QEMU code reads object_get_typename(OBJECT(ioc)).
#[no_mangle]
pub unsafe extern "C" fn qio_channel_get_type_name(ioc: *mut QIOChannel) -> *const c_char {
    ffi_guard!(std::ptr::null(), { Ok(handle!(ioc).type_name.as_ptr()) })
}

/// Whether @ioc is a @type_name: %TYPE_QIO_CHANNEL for every channel, or its own type's
/// name (QEMU's object_dynamic_cast(OBJECT(ioc), type_name) != NULL).
///
/// Returns: TRUE if it is, FALSE if not (and, with a critical, on misuse).
#[no_mangle]
pub unsafe extern "C" fn qio_channel_is_a(
    ioc: *mut QIOChannel,
    type_name: *const c_char,
) -> gboolean {
    ffi_guard!(GFALSE, {
        let (own, asked) = (handle!(ioc).type_name, c_str!(type_name));
        Ok((asked == TYPE_QIO_CHANNEL || asked == own).into())
    })
}

/// Names the watches created on @ioc from now on (g_source_set_name()).
#[no_mangle]
pub unsafe extern "C" fn qio_channel_set_name(
    ioc: *mut QIOChannel,
    name: *const std::os::raw::c_char,
) {
    ffi_guard!((), {
        let channel = &handle!(ioc).channel;
        channel.set_name(&c_str!(name).to_string_lossy());
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
        let (channel, mut bufs) = (&handle!(ioc).channel, read_bufs!(iov, niov));
        let out = fds_out!(fds, nfds);
        let mut received = Vec::new();
        let wanted = out.is_some().then_some(&mut received);
        let got = io_result(channel.readv_full(&mut bufs, wanted, flags as u32))?;
        if got >= 0 {
            give_fds(received, out);
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
        let (channel, bufs) = (&handle!(ioc).channel, write_bufs!(iov, niov));
        let fds = send_fds(array!(fds, nfds));
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
    ffi_guard!(-1, error, {
        let (channel, mut bufs) = (&handle!(ioc).channel, read_bufs!(iov, niov));
        io_result(channel.readv_full(&mut bufs, None, 0))
    })
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
    ffi_guard!(-1, error, {
        let (channel, bufs) = (&handle!(ioc).channel, write_bufs!(iov, niov));
        io_result(channel.writev_full(&bufs, &[], 0))
    })
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
    ffi_guard!(-1, error, {
        io_result(handle!(ioc).channel.read(bytes_mut!(buf, buflen)))
    })
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
    ffi_guard!(-1, error, {
        io_result(handle!(ioc).channel.write(bytes!(buf, buflen)))
    })
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
        let (channel, bufs) = (&handle!(ioc).channel, read_bufs!(iov, niov));
        let all = read_all(
            channel,
            bufs,
            fds_out!(fds, nfds),
            |channel, bufs, received| channel.readv_full_all_eof(bufs, received, flags as u32),
        )?;
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
        let (channel, bufs) = (&handle!(ioc).channel, read_bufs!(iov, niov));
        read_all(
            channel,
            bufs,
            fds_out!(fds, nfds),
            |channel, bufs, received| channel.readv_full_all(bufs, received),
        )?;
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
    ffi_guard!(-1, error, {
        let (channel, mut bufs) = (&handle!(ioc).channel, read_bufs!(iov, niov));
        Ok(channel.readv_full_all_eof(&mut bufs, None, 0)?.into())
    })
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
    ffi_guard!(-1, error, {
        let (channel, mut bufs) = (&handle!(ioc).channel, read_bufs!(iov, niov));
        channel.readv_full_all(&mut bufs, None)?;
        Ok(0)
    })
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
    ffi_guard!(-1, error, {
        Ok(handle!(ioc)
            .channel
            .read_all_eof(bytes_mut!(buf, buflen))?
            .into())
    })
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
    ffi_guard!(-1, error, {
        handle!(ioc).channel.read_all(bytes_mut!(buf, buflen))?;
        Ok(0)
    })
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
        let (channel, mut bufs) = (&handle!(ioc).channel, write_bufs!(iov, niov));
        let fds = send_fds(array!(fds, nfds));
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
    ffi_guard!(-1, error, {
        let (channel, mut bufs) = (&handle!(ioc).channel, write_bufs!(iov, niov));
        channel.writev_full_all(&mut bufs, &[], 0)?;
        Ok(0)
    })
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
    ffi_guard!(-1, error, {
        handle!(ioc).channel.write_all(bytes!(buf, buflen))?;
        Ok(0)
    })
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
        let channel = &handle!(ioc).channel;
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
        let channel = &handle!(ioc).channel;
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
        let channel = &handle!(ioc).channel;
        channel.shutdown(decode!(how))?;
        Ok(0)
    })
}

/// Turns Nagle's algorithm on (@enabled) or off (TCP_NODELAY); a no-op on channels
/// without it.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_set_delay(ioc: *mut QIOChannel, enabled: gboolean) {
    ffi_guard!((), {
        handle!(ioc).channel.set_delay(enabled != GFALSE);
        Ok(())
    })
}

/// Turns TCP_CORK on or off; a no-op on channels without it.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_set_cork(ioc: *mut QIOChannel, enabled: gboolean) {
    ffi_guard!((), {
        handle!(ioc).channel.set_cork(enabled != GFALSE);
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
        let channel = &handle!(ioc).channel;
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
        let (channel, mut bufs) = (&handle!(ioc).channel, read_bufs!(iov, niov));
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
        let (channel, bufs) = (&handle!(ioc).channel, write_bufs!(iov, niov));
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
    ffi_guard!(-1, error, {
        let buf = IoSliceMut::new(bytes_mut!(buf, buflen));
        io_result(handle!(ioc).channel.preadv(&mut [buf], offset))
    })
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
    ffi_guard!(-1, error, {
        let buf = IoSlice::new(bytes!(buf, buflen));
        io_result(handle!(ioc).channel.pwritev(&[buf], offset))
    })
}

/// Waits until every zero-copy write so far has left the caller's pages.
///
/// Returns: 0; 1 when every one of them fell back to copying (no zero-copy gain); -1
/// with @error set. 0 at once on channels without %QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_flush(ioc: *mut QIOChannel, error: *mut *mut GError) -> c_int {
    ffi_guard!(-1, error, {
        let channel = &handle!(ioc).channel;
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
        let channel = &handle!(ioc).channel;
        let pid = out!(pid);
        *pid = channel.peerpid()?;
        Ok(0)
    })
}

/// A new raw watch on the channel handle argument `ioc` for `condition`; see
/// [`raw_source`].
macro_rules! watch_source {
    ($ioc:ident, $condition:ident) => {
        raw_source(
            handle!($ioc).channel.create_watch($condition),
            keep_handle!($ioc),
        )
    };
}

/// The raw source of `watch`, for C to set a #QIOChannelFunc on: it is called with
/// the handle C holds, on which the source keeps `ioc`, a reference.
fn raw_source(watch: Watch, ioc: HandleRef<QIOChannel>) -> *mut GSource {
    watch.into_raw(move |func, data, ready| {
        // SAFETY: C sets a QIOChannelFunc cast to GSourceFunc on a channel source, as
        // the header says to; cast back, it is called with its own signature.
        let func: ChannelFunc = unsafe { std::mem::transmute(func) };
        call_c!(func(ioc.as_ptr(), ready, data)) != GFALSE
    })
}

/// A #QIOChannelFunc that is not NULL.
type ChannelFunc = unsafe extern "C" fn(*mut QIOChannel, GIOCondition, gpointer) -> gboolean;

/// Sets `func` with its user data as the callback of `source` (ours, from
/// [`raw_source`]) and attaches it to `context`; with `release`, our reference on it goes
/// (the context keeps the source). Returns its id.
fn attach(
    source: *mut GSource,
    (func, user_data, notify): (ChannelFunc, gpointer, GDestroyNotify),
    context: &MainContext,
    release: bool,
) -> c_uint {
    // SAFETY: our live, unattached source, whose invoker calls its callback as the
    // QIOChannelFunc it is.
    unsafe {
        let func: unsafe extern "C" fn(gpointer) -> gboolean = std::mem::transmute(func);
        glib_sys::g_source_set_callback(source, Some(func), user_data, notify);
        let id = glib_sys::g_source_attach(source, context.as_ptr());
        if release {
            glib_sys::g_source_unref(source);
        }
        id
    }
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
    ffi_guard!(std::ptr::null_mut(), { Ok(watch_source!(ioc, condition)) })
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
        let (func, context) = (callback!(func), main_context!(context));
        let source = watch_source!(ioc, condition);
        Ok(attach(source, (func, user_data, notify), &context, true))
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
    ffi_guard!(0, {
        let source = watch_source!(ioc, condition);
        let callback = (callback!(func), user_data, notify);
        Ok(attach(source, callback, &MainContext::default(), true))
    })
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
        let (func, context) = (callback!(func), main_context!(context));
        let source = watch_source!(ioc, condition);
        attach(source, (func, user_data, notify), &context, false);
        Ok(source)
    })
}

/// Blocks until @ioc is ready for @condition, reports a hang-up or error, or is
/// closed: a closed channel returns at once, and a wait in progress returns when
/// another thread closes @ioc or a channel it is layered over.
#[no_mangle]
pub unsafe extern "C" fn qio_channel_wait(ioc: *mut QIOChannel, condition: GIOCondition) {
    ffi_guard!((), {
        handle!(ioc).channel.wait(condition);
        Ok(())
    })
}
