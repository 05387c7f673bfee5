//! `QIOChannelBuffer`: a growable memory buffer read and written as a channel (QEMU's
//! `io/channel-buffer.c`), e.g. to assemble a migration stream in memory.
//!
//! As in QEMU, reads consume from the offset up to the usage, and writes append at the
//! usage and advance both. Unlike QEMU, a write after seeking past the end zero-fills
//! the gap itself (QEMU clears the start of the buffer instead), the buffer grows with
//! the usage (QEMU sizes it from the offset, overflowing after a rewind), and seeking
//! honours `whence`.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use crate::io::channel::{Base, Channel, ChannelImpl, RecvFds};
use crate::io::watch::{Condition, Readiness, G_IO_IN, G_IO_OUT};
use crate::{Error, Result};

#[derive(Default)]
struct State {
    data: Vec<u8>,
    offset: usize,
}

/// The buffer channel's state.
pub struct Buffer {
    state: Mutex<State>,
}

impl Buffer {
    /// A new empty buffer channel with room for `capacity` bytes (`qio_channel_buffer_new`).
    /// The capacity is a hint: when that much memory cannot be had, the buffer starts
    /// empty, and a write that needs more than the system gives fails.
    pub fn new_channel(capacity: usize) -> Arc<Channel<Buffer>> {
        let mut data = Vec::new();
        // A failed reservation leaves `data` empty, which is all it must be.
        let _ = data.try_reserve_exact(capacity);
        Channel::with_features(
            Buffer {
                state: Mutex::new(State { data, offset: 0 }),
            },
            &[],
        )
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `f` on the bytes written so far (`data`, `usage` bytes long).
    pub fn with_data<R>(&self, f: impl FnOnce(&[u8]) -> R) -> R {
        f(&self.state().data)
    }

    /// The bytes written so far.
    pub fn usage(&self) -> usize {
        self.state().data.len()
    }

    /// Where the next read starts.
    pub fn offset(&self) -> usize {
        self.state().offset
    }
}

impl ChannelImpl for Buffer {
    fn readv(&self, iov: &mut [IoSliceMut<'_>], _: RecvFds<'_>, _: u32) -> Result<usize> {
        let mut state = self.state();
        let State { data, offset } = &mut *state;
        let mut done = 0;
        for buf in iov {
            let Some(rest) = data.get(*offset..).filter(|r| !r.is_empty()) else {
                break;
            };
            let n = buf.len().min(rest.len());
            buf[..n].copy_from_slice(&rest[..n]);
            *offset += n;
            done += n;
        }
        Ok(done)
    }

    fn writev(&self, iov: &[IoSlice<'_>], _: &[BorrowedFd<'_>], _: u32) -> Result<usize> {
        let mut state = self.state();
        let total: usize = iov.iter().map(|b| b.len()).sum();
        // A seek past the end leaves a gap that the write fills with zeros; the memory
        // for both may not exist (a seek to 1 TiB), which is an error, not an abort.
        let usage = state.data.len();
        let start = state.offset.max(usage);
        let grown = start
            .checked_add(total)
            .and_then(|end| state.data.try_reserve(end - usage).ok());
        if grown.is_none() {
            return Err(Error::os(
                &format!(
                    "Unable to grow the buffer to {} bytes",
                    start as u128 + total as u128
                ),
                libc::ENOMEM,
            ));
        }
        state.data.resize(start, 0);
        for buf in iov {
            state.data.extend_from_slice(buf);
        }
        state.offset += total;
        Ok(total)
    }

    fn set_blocking(&self, _: bool) -> Result<()> {
        Ok(())
    }

    fn close(&self, _: &Base) -> Result<()> {
        *self.state() = State::default();
        Ok(())
    }

    fn readiness(&self, _: Condition) -> Readiness {
        Readiness::Always(G_IO_IN | G_IO_OUT)
    }

    fn seek(&self, offset: i64, whence: i32) -> Result<i64> {
        let mut state = self.state();
        let base = match whence {
            libc::SEEK_SET => Some(0),
            libc::SEEK_CUR => i64::try_from(state.offset).ok(),
            libc::SEEK_END => i64::try_from(state.data.len()).ok(),
            _ => None,
        };
        let target = base
            .and_then(|base| base.checked_add(offset))
            .and_then(|t| Some((t, usize::try_from(t).ok()?)));
        let Some((target, new_offset)) = target else {
            return Err(Error::os("Unable to seek to offset", libc::EINVAL));
        };
        state.offset = new_offset;
        Ok(target)
    }
}
