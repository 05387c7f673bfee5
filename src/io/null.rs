//! `QIOChannelNull`: discards writes and reads end-of-file, like `/dev/null`
//! (QEMU's `io/channel-null.c`).

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::io::channel::{Base, Channel, ChannelImpl, RecvFds};
use crate::io::watch::{Condition, Readiness};
use crate::{Error, Result};

/// The null channel's state: only whether it was closed.
#[derive(Default)]
pub struct Null {
    closed: AtomicBool,
}

impl Null {
    /// A new open null channel (`qio_channel_null_new`).
    pub fn new_channel() -> Arc<Channel<Null>> {
        Channel::with_features(Null::default(), &[])
    }

    /// Whether the channel was closed.
    pub fn closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    fn check_open(&self) -> Result<()> {
        match self.closed() {
            true => Err(Error::os("Channel is closed", libc::EINVAL)),
            false => Ok(()),
        }
    }
}

impl ChannelImpl for Null {
    fn readv(&self, _: &mut [IoSliceMut<'_>], _: RecvFds<'_>, _: u32) -> Result<usize> {
        self.check_open().map(|()| 0)
    }

    fn writev(&self, iov: &[IoSlice<'_>], _: &[BorrowedFd<'_>], _: u32) -> Result<usize> {
        self.check_open()?;
        Ok(iov.iter().map(|b| b.len()).sum())
    }

    fn set_blocking(&self, _: bool) -> Result<()> {
        Ok(())
    }

    fn close(&self, _: &Base) -> Result<()> {
        self.closed.store(true, Ordering::Release);
        Ok(())
    }

    fn readiness(&self, _: Condition) -> Readiness {
        Readiness::Always(!0)
    }

    fn seek(&self, _: i64, _: i32) -> Result<i64> {
        Ok(0)
    }
}
