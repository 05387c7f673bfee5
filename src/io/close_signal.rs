//! Whether a channel has been closed, and waking the threads blocked in
//! [`Channel::wait`](crate::io::Channel::wait) on it when it is.
//!
//! Closing a descriptor does not wake a thread polling it (the poll keeps the open file
//! alive), and a closed channel's descriptor is no longer there to poll. So each wait
//! polls an eventfd of its own besides the channel's descriptors, registered here, and
//! closing the channel signals every registered one.

use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::{Mutex, MutexGuard, PoisonError};

#[derive(Default)]
struct State {
    closed: bool,
    /// The eventfds of the waits in progress.
    waiters: Vec<RawFd>,
}

/// A channel's closed flag and the waits to wake when it is set.
#[derive(Default)]
pub(crate) struct CloseSignal {
    state: Mutex<State>,
}

/// What [`CloseSignal::subscribe`] gives a wait.
pub(crate) enum Subscription<'a> {
    /// The channel is closed: nothing to wait for.
    Closed,
    /// Poll this descriptor for `POLLIN`: readable once the channel closes.
    Wakeup(Waiter<'a>),
    /// No descriptor could be made (the process is out of them): the wait goes on
    /// without one, as before it could be woken.
    Unavailable,
}

/// A registered wait: unregistered, and its eventfd closed, when dropped.
pub(crate) struct Waiter<'a> {
    signal: &'a CloseSignal,
    fd: OwnedFd,
}

impl CloseSignal {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Marks the channel closed and wakes every wait on it.
    pub(crate) fn raise(&self) {
        let mut state = self.state();
        state.closed = true;
        for &fd in &state.waiters {
            // SAFETY: a registered eventfd stays open until its Waiter, which must
            // take this lock first, unregisters it; an eventfd takes 8-byte writes.
            // A failure (the counter is full) leaves it readable, which is the point.
            unsafe { libc::write(fd, 1u64.to_ne_bytes().as_ptr().cast(), 8) };
        }
    }

    /// Whether the channel has been closed.
    pub(crate) fn is_raised(&self) -> bool {
        self.state().closed
    }

    /// Registers a wait, unless the channel is already closed.
    pub(crate) fn subscribe(&self) -> Subscription<'_> {
        // SAFETY: eventfd returns a new descriptor, or -1.
        let raw = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC | libc::EFD_NONBLOCK) };
        // SAFETY: a descriptor eventfd just made is ours alone.
        let fd = (raw >= 0).then(|| unsafe { OwnedFd::from_raw_fd(raw) });
        let mut state = self.state();
        match fd {
            _ if state.closed => Subscription::Closed,
            None => Subscription::Unavailable,
            Some(fd) => {
                state.waiters.push(fd.as_raw_fd());
                Subscription::Wakeup(Waiter { signal: self, fd })
            }
        }
    }
}

impl Waiter<'_> {
    /// The descriptor to poll for `POLLIN`.
    pub(crate) fn fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

impl Drop for Waiter<'_> {
    fn drop(&mut self) {
        let fd = self.fd.as_raw_fd();
        self.signal.state().waiters.retain(|&w| w != fd);
    }
}
