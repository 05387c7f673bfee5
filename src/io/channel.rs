//! `QIOChannel`: the byte stream every channel type implements (QEMU's `io/channel.c`).
//!
//! A channel is a [`Channel<T>`]: the state every channel shares ([`Base`]: class,
//! features, name) followed by the type's own state `T`, which implements the small
//! vtable [`ChannelImpl`]. Channels are always shared (`Arc`); `Arc<Channel<Socket>>`
//! upcasts to `Arc<Channel>` (the erased `Channel<dyn ChannelImpl>`) like `QIO_CHANNEL()`,
//! and [`Channel::downcast`] checks the class on the way back. The generic operations
//! (the feature checks, the `*_all` helpers, watches, waiting) are written once here.

use std::any::Any;
use std::ffi::CString;
use std::io::{IoSlice, IoSliceMut};
use std::os::fd::{BorrowedFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::io::close_signal::CloseSignal;
use crate::{Error, ErrorKind, Result};

/// A capability a channel has (`QIOChannelFeature`), with QEMU's values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Feature {
    /// File descriptors can be passed with the data (UNIX sockets).
    FdPass = 0,
    /// [`Channel::shutdown`] works.
    Shutdown = 1,
    /// The channel is a listening socket.
    Listen = 2,
    /// Writes can use [`WRITE_FLAG_ZERO_COPY`].
    WriteZeroCopy = 3,
    /// Reads can use [`READ_FLAG_MSG_PEEK`].
    ReadMsgPeek = 4,
    /// Positioned I/O and seeking work.
    Seekable = 5,
    /// The channel is read and written from different threads at once (set by users).
    ConcurrentIo = 6,
}

impl Feature {
    /// Every feature, in value order.
    pub const ALL: [Feature; 7] = [
        Feature::FdPass,
        Feature::Shutdown,
        Feature::Listen,
        Feature::WriteZeroCopy,
        Feature::ReadMsgPeek,
        Feature::Seekable,
        Feature::ConcurrentIo,
    ];

    fn bit(self) -> u32 {
        1 << self as u32
    }
}

/// Read without consuming (`QIO_CHANNEL_READ_FLAG_MSG_PEEK`).
pub const READ_FLAG_MSG_PEEK: u32 = 0x1;
/// Report a TLS peer that closed without `close_notify` as end-of-file.
pub const READ_FLAG_RELAXED_EOF: u32 = 0x2;
/// Leave received file descriptors' blocking mode as the sender had it.
pub const READ_FLAG_FD_PRESERVE_BLOCKING: u32 = 0x4;
/// Send from the caller's pages (`MSG_ZEROCOPY`); [`Channel::flush`] waits for them.
pub const WRITE_FLAG_ZERO_COPY: u32 = 0x1;

/// Where a read puts the file descriptors it receives: `None` when the caller takes
/// none.
pub type RecvFds<'a> = Option<&'a mut Vec<OwnedFd>>;

/// A set of `G_IO_*` conditions.
pub type Condition = glib_sys::GIOCondition;

/// What a watch on a channel polls, as its type decides.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Readiness {
    /// One descriptor, polled for the whole condition (sockets, files).
    Fd(RawFd),
    /// A read descriptor polled for `G_IO_IN` and a write descriptor for `G_IO_OUT`
    /// (commands).
    FdPair { read: RawFd, write: RawFd },
    /// Always ready, reporting the requested condition masked by this set (buffer:
    /// `G_IO_IN | G_IO_OUT`; null: everything).
    Always(Condition),
}

/// Which directions [`Channel::shutdown`] closes (`QIOChannelShutdown`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Shutdown {
    Read = 1,
    Write = 2,
    Both = 3,
}

/// The state every channel has, whatever its type (`QIOChannel`'s own fields).
pub struct Base {
    features: AtomicU32,
    name: Mutex<Option<CString>>,
    closed: CloseSignal,
}

impl Base {
    /// Whether `feature` is set.
    pub fn has_feature(&self, feature: Feature) -> bool {
        self.features.load(Ordering::Relaxed) & feature.bit() != 0
    }

    /// Sets `feature` (features are never cleared).
    pub fn set_feature(&self, feature: Feature) {
        self.features.fetch_or(feature.bit(), Ordering::Relaxed);
    }
}

/// What each channel type implements: QEMU's `QIOChannelClass`. The mandatory entries
/// come first; the others default to QEMU's behaviour for a class without them.
/// Every method may be called from several threads at once. A new channel type is a
/// new implementation, in its own module; nothing here lists them.
pub trait ChannelImpl: Any + Send + Sync {
    /// One read into `iov`: the bytes read (0 at end-of-file), or
    /// [`ErrorKind::WouldBlock`]. Received file descriptors are appended to `fds`.
    fn readv(&self, iov: &mut [IoSliceMut<'_>], fds: RecvFds<'_>, flags: u32) -> Result<usize>;

    /// One write from `iov` passing `fds`: the bytes written, or [`ErrorKind::WouldBlock`].
    fn writev(&self, iov: &[IoSlice<'_>], fds: &[BorrowedFd<'_>], flags: u32) -> Result<usize>;

    /// Switches between blocking and non-blocking I/O.
    fn set_blocking(&self, enabled: bool) -> Result<()>;

    /// Releases the underlying resource; I/O afterwards fails.
    fn close(&self, base: &Base) -> Result<()>;

    /// What a watch on this channel polls for `condition`.
    fn readiness(&self, condition: Condition) -> Readiness;

    /// Runs when the last reference goes, before the state is dropped.
    fn finalize(&self, _base: &Base) {}

    /// Whether the channel can hold input of its own that its descriptors do not
    /// show (TLS: records gnutls decrypted but not handed out yet).
    fn buffers_input(&self) -> bool {
        false
    }

    /// Whether such input is waiting now.
    fn pending_input(&self) -> bool {
        false
    }

    /// Whether [`ChannelImpl::preadv`] and [`ChannelImpl::pwritev`] exist.
    fn positioned_io(&self) -> bool {
        false
    }

    /// One read at `offset`, without moving the file position.
    fn preadv(&self, _iov: &mut [IoSliceMut<'_>], _offset: i64) -> Result<usize> {
        Err(unsupported("Channel does not support preadv"))
    }

    /// One write at `offset`, without moving the file position.
    fn pwritev(&self, _iov: &[IoSlice<'_>], _offset: i64) -> Result<usize> {
        Err(unsupported("Channel does not support pwritev"))
    }

    /// Closes one or both directions, without blocking.
    fn shutdown(&self, _how: Shutdown) -> Result<()> {
        Err(unsupported("Data path shutdown not supported"))
    }

    /// The channel this one is layered over (TLS, websocket), which Nagle's algorithm
    /// and corking act on unless the type says otherwise.
    fn master(&self) -> Option<&Arc<Channel>> {
        None
    }

    /// Nagle's algorithm on (`true`) or off.
    fn set_delay(&self, enabled: bool) {
        if let Some(master) = self.master() {
            master.set_delay(enabled)
        }
    }

    /// Holds back partial frames until uncorked.
    fn set_cork(&self, enabled: bool) {
        if let Some(master) = self.master() {
            master.set_cork(enabled)
        }
    }

    /// Moves the position (`lseek`'s `whence`); returns the new offset.
    fn seek(&self, _offset: i64, _whence: i32) -> Result<i64> {
        Err(unsupported("Channel does not support random access"))
    }

    /// Waits for zero-copy writes to complete: 1 when every one fell back to copying.
    fn flush(&self) -> Result<i32> {
        Ok(0)
    }

    /// The process id at the other end.
    fn peerpid(&self) -> Result<u32> {
        Err(unsupported("Channel does not support peer pid"))
    }
}

fn unsupported(message: &str) -> Error {
    Error::new(ErrorKind::NotSupported, message)
}

fn invalid(message: &str) -> Error {
    Error::os(message, libc::EINVAL)
}

fn unexpected_eof() -> Error {
    Error::new(
        ErrorKind::Failed,
        "Unexpected end-of-file before all data were read",
    )
}

/// A channel: the shared [`Base`], then the type's state. `Channel` alone is the erased
/// `Channel<dyn ChannelImpl>` that generic code uses.
pub struct Channel<T: ?Sized + ChannelImpl = dyn ChannelImpl> {
    base: Base,
    imp: T,
}

impl<T: ChannelImpl> Channel<T> {
    /// A new shared channel around `imp`, with `features` set.
    pub(crate) fn with_features(imp: T, features: &[Feature]) -> Arc<Self> {
        let bits = features.iter().fold(0, |bits, f| bits | f.bit());
        Arc::new(Channel {
            base: Base {
                features: AtomicU32::new(bits),
                name: Mutex::new(None),
                closed: CloseSignal::default(),
            },
            imp,
        })
    }

    /// The type's own state.
    pub fn imp(&self) -> &T {
        &self.imp
    }

    /// This channel as a generic one (`QIO_CHANNEL()`).
    pub fn upcast(self: &Arc<Self>) -> Arc<Channel> {
        self.clone()
    }
}

/// A typed channel has every generic operation (`QIO_CHANNEL(sioc)` is implicit).
impl<T: ChannelImpl> std::ops::Deref for Channel<T> {
    type Target = Channel;

    fn deref(&self) -> &Channel {
        self
    }
}

impl<T: ?Sized + ChannelImpl> Drop for Channel<T> {
    fn drop(&mut self) {
        self.imp.finalize(&self.base);
    }
}

impl Channel {
    /// The shared state (features).
    pub fn base(&self) -> &Base {
        &self.base
    }

    /// Whether this channel is a `T` (`object_dynamic_cast`).
    pub fn is<T: ChannelImpl>(&self) -> bool {
        (&self.imp as &dyn Any).is::<T>()
    }

    /// The typed channel, if this one is a `T` (a checked `QIO_CHANNEL_SOCKET()`).
    pub fn downcast_ref<T: ChannelImpl>(&self) -> Option<&Channel<T>> {
        // SAFETY: the value is a Channel<T>; dropping the metadata of the fat pointer
        // leaves the thin pointer to it.
        self.is::<T>()
            .then(|| unsafe { &*(self as *const Channel as *const Channel<T>) })
    }

    /// The typed channel, if this one is a `T`; else the channel back.
    pub fn downcast<T: ChannelImpl>(
        self: Arc<Self>,
    ) -> std::result::Result<Arc<Channel<T>>, Arc<Self>> {
        if !self.is::<T>() {
            return Err(self);
        }
        // SAFETY: as for downcast_ref; the pointer came from Arc::into_raw.
        Ok(unsafe { Arc::from_raw(Arc::into_raw(self) as *const Channel<T>) })
    }

    /// The name given to the channel's watches.
    pub fn name(&self) -> Option<CString> {
        self.base.name.lock().unwrap().clone()
    }

    /// Sets the name of the watches created from now on (`g_source_set_name`).
    pub fn set_name(&self, name: &str) {
        *self.base.name.lock().unwrap() = CString::new(name.replace('\0', "")).ok();
    }

    /// Whether `feature` is set.
    pub fn has_feature(&self, feature: Feature) -> bool {
        self.base.has_feature(feature)
    }

    /// Sets `feature`.
    pub fn set_feature(&self, feature: Feature) {
        self.base.set_feature(feature)
    }

    /// One read (`qio_channel_readv_full`): refuses file descriptors on a channel
    /// without [`Feature::FdPass`] and peeking without [`Feature::ReadMsgPeek`].
    pub fn readv_full(
        &self,
        iov: &mut [IoSliceMut<'_>],
        fds: RecvFds<'_>,
        flags: u32,
    ) -> Result<usize> {
        if fds.is_some() && !self.has_feature(Feature::FdPass) {
            return Err(invalid("Channel does not support file descriptor passing"));
        }
        if flags & READ_FLAG_MSG_PEEK != 0 && !self.has_feature(Feature::ReadMsgPeek) {
            return Err(invalid("Channel does not support peek read"));
        }
        self.imp.readv(iov, fds, flags)
    }

    /// One write (`qio_channel_writev_full`), with QEMU's checks on file descriptors
    /// and zero copy.
    pub fn writev_full(
        &self,
        iov: &[IoSlice<'_>],
        fds: &[BorrowedFd<'_>],
        flags: u32,
    ) -> Result<usize> {
        let zero_copy = flags & WRITE_FLAG_ZERO_COPY != 0;
        if !fds.is_empty() {
            if !self.has_feature(Feature::FdPass) {
                return Err(invalid("Channel does not support file descriptor passing"));
            }
            if zero_copy {
                return Err(invalid(
                    "Zero Copy does not support file descriptor passing",
                ));
            }
        }
        if zero_copy && !self.has_feature(Feature::WriteZeroCopy) {
            return Err(invalid("Requested Zero Copy feature is not available"));
        }
        self.imp.writev(iov, fds, flags)
    }

    /// One read into `buf`.
    pub fn read(&self, buf: &mut [u8]) -> Result<usize> {
        self.readv_full(&mut [IoSliceMut::new(buf)], None, 0)
    }

    /// One write from `buf`.
    pub fn write(&self, buf: &[u8]) -> Result<usize> {
        self.writev_full(&[IoSlice::new(buf)], &[], 0)
    }

    /// Fills all of `iov` (`qio_channel_readv_full_all_eof`), waiting whenever the
    /// channel would block: `Ok(true)` when everything was read, `Ok(false)` at
    /// end-of-file before any byte (or descriptor), and an error at end-of-file after
    /// some. Descriptors arrive with the first read only; on error they are closed.
    pub fn readv_full_all_eof(
        &self,
        mut iov: &mut [IoSliceMut<'_>],
        mut fds: RecvFds<'_>,
        flags: u32,
    ) -> Result<bool> {
        let mut want_fds = fds.is_some();
        let mut partial = false;
        // Empty buffers ask for nothing: reading for them would look like end-of-file.
        IoSliceMut::advance_slices(&mut iov, 0);
        while !iov.is_empty() || want_fds {
            let before = fds.as_ref().map_or(0, |f| f.len());
            let got = match self.readv_full(iov, fds.as_deref_mut().filter(|_| want_fds), flags) {
                Err(e) if e.would_block() => {
                    self.wait(glib_sys::G_IO_IN);
                    continue;
                }
                Err(e) => return Err(clear_fds(fds, e)),
                Ok(got) => got,
            };
            let new_fds = fds.as_ref().map_or(0, |f| f.len()) > before;
            if got == 0 && !(want_fds && new_fds) {
                if !partial {
                    return Ok(false);
                }
                return Err(clear_fds(fds, unexpected_eof()));
            }
            IoSliceMut::advance_slices(&mut iov, got);
            partial = true;
            want_fds = false;
        }
        Ok(true)
    }

    /// Fills all of `iov` (`qio_channel_readv_full_all`): end-of-file is an error.
    pub fn readv_full_all(&self, iov: &mut [IoSliceMut<'_>], fds: RecvFds<'_>) -> Result<()> {
        match self.readv_full_all_eof(iov, fds, 0)? {
            true => Ok(()),
            false => Err(unexpected_eof()),
        }
    }

    /// Writes all of `iov` (`qio_channel_writev_full_all`), waiting whenever the
    /// channel would block; `fds` go with the first chunk.
    pub fn writev_full_all(
        &self,
        mut iov: &mut [IoSlice<'_>],
        mut fds: &[BorrowedFd<'_>],
        flags: u32,
    ) -> Result<()> {
        while !iov.is_empty() {
            match self.writev_full(iov, fds, flags) {
                Err(e) if e.would_block() => self.wait(glib_sys::G_IO_OUT),
                Err(e) => return Err(e),
                Ok(done) => {
                    IoSlice::advance_slices(&mut iov, done);
                    fds = &[];
                }
            }
        }
        Ok(())
    }

    /// Reads exactly `buf.len()` bytes; `Ok(false)` at end-of-file before any.
    pub fn read_all_eof(&self, buf: &mut [u8]) -> Result<bool> {
        self.readv_full_all_eof(&mut [IoSliceMut::new(buf)], None, 0)
    }

    /// Reads exactly `buf.len()` bytes.
    pub fn read_all(&self, buf: &mut [u8]) -> Result<()> {
        self.readv_full_all(&mut [IoSliceMut::new(buf)], None)
    }

    /// Writes all of `buf`.
    pub fn write_all(&self, buf: &[u8]) -> Result<()> {
        self.writev_full_all(&mut [IoSlice::new(buf)], &[], 0)
    }

    /// Switches between blocking and non-blocking I/O.
    pub fn set_blocking(&self, enabled: bool) -> Result<()> {
        self.imp.set_blocking(enabled)
    }

    /// Whether [`Channel::close`] has been called.
    pub fn is_closed(&self) -> bool {
        self.base.closed.is_raised()
    }

    /// Whether I/O may block: as the descriptor the channel waits on says (a layered
    /// channel's is its master's); a channel without one never blocks.
    pub fn is_blocking(&self) -> bool {
        match self.imp.readiness(glib_sys::G_IO_IN) {
            Readiness::Fd(fd) | Readiness::FdPair { read: fd, .. } => {
                crate::io::fd::is_blocking(fd)
            }
            Readiness::Always(_) => false,
        }
    }

    /// Closes the channel; later I/O fails.
    pub fn close(&self) -> Result<()> {
        let result = self.imp.close(&self.base);
        // Closed even when releasing the resource failed: no wait may block on it now.
        self.base.closed.raise();
        result
    }

    /// Closes one or both directions (`qio_channel_shutdown`).
    pub fn shutdown(&self, how: Shutdown) -> Result<()> {
        self.imp.shutdown(how)
    }

    /// Nagle's algorithm on or off (`false` sets `TCP_NODELAY`); a no-op elsewhere.
    pub fn set_delay(&self, enabled: bool) {
        self.imp.set_delay(enabled)
    }

    /// `TCP_CORK` on or off; a no-op elsewhere.
    pub fn set_cork(&self, enabled: bool) {
        self.imp.set_cork(enabled)
    }

    /// Moves the position (`qio_channel_io_seek`).
    pub fn seek(&self, offset: i64, whence: i32) -> Result<i64> {
        self.imp.seek(offset, whence)
    }

    fn check_positioned(&self, missing: &str) -> Result<()> {
        if !self.imp.positioned_io() {
            return Err(unsupported(missing));
        }
        if !self.has_feature(Feature::Seekable) {
            return Err(invalid("Requested channel is not seekable"));
        }
        Ok(())
    }

    /// One read at `offset` (`qio_channel_preadv`).
    pub fn preadv(&self, iov: &mut [IoSliceMut<'_>], offset: i64) -> Result<usize> {
        self.check_positioned("Channel does not support preadv")?;
        self.imp.preadv(iov, offset)
    }

    /// One write at `offset` (`qio_channel_pwritev`).
    pub fn pwritev(&self, iov: &[IoSlice<'_>], offset: i64) -> Result<usize> {
        self.check_positioned("Channel does not support pwritev")?;
        self.imp.pwritev(iov, offset)
    }

    /// Waits for zero-copy writes (`qio_channel_flush`): 0, or 1 when every one since
    /// the last flush fell back to copying; 0 at once without [`Feature::WriteZeroCopy`].
    pub fn flush(&self) -> Result<i32> {
        if !self.has_feature(Feature::WriteZeroCopy) {
            return Ok(0);
        }
        self.imp.flush()
    }

    /// The peer's process id (`SO_PEERCRED`).
    pub fn peerpid(&self) -> Result<u32> {
        self.imp.peerpid()
    }

    /// What a watch for `condition` polls.
    pub(crate) fn readiness(&self, condition: Condition) -> Readiness {
        self.imp.readiness(condition)
    }

    /// See [`ChannelImpl::buffers_input`].
    pub(crate) fn buffers_input(&self) -> bool {
        self.imp.buffers_input()
    }

    /// See [`ChannelImpl::pending_input`].
    pub(crate) fn pending_input(&self) -> bool {
        self.imp.pending_input()
    }

    /// See [`ChannelImpl::master`].
    pub(crate) fn master(&self) -> Option<&Arc<Channel>> {
        self.imp.master()
    }

    /// Set when the channel is closed; wakes its waits.
    pub(crate) fn close_signal(&self) -> &CloseSignal {
        &self.base.closed
    }
}

/// Closes the descriptors received so far, then returns `e`.
fn clear_fds(fds: RecvFds<'_>, e: Error) -> Error {
    if let Some(fds) = fds {
        fds.clear();
    }
    e
}

#[cfg(test)]
mod tests;
