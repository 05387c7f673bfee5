//! Driving the handshake of a channel layered over another (TLS, websocket) from a
//! main context: each step runs when the master is ready for what the last one waited
//! for, within an optional deadline, and never blocks the context's thread.
//!
//! For the length of the handshake the master is made non-blocking if it was not: a
//! step then gets "would block" where a blocking master would wait for a peer that may
//! never send, and one stalled client would freeze every other callback of the main
//! loop. The master's mode is restored when the handshake ends, whichever way.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use crate::io::channel::{Channel, ChannelImpl, Condition};
use crate::io::context::{MainContext, SourceGuard};
use crate::{Error, ErrorKind, Result};

/// A handshake's completion, run once.
pub(crate) type Done = Box<dyn FnOnce(Result<()>) + Send>;

/// Where one step left the handshake.
pub(crate) enum Step {
    /// Wait until the master is ready for this, then step again.
    Wait(Condition),
    Done(Result<()>),
}

/// A channel type with a handshake this module drives.
pub(crate) trait Handshake: ChannelImpl + Sized {
    /// What the timeout message calls the handshake ("TLS").
    const NAME: &'static str;

    /// Runs the handshake as far as the master allows.
    fn step(&self) -> Step;

    /// The channel the handshake talks through.
    fn transport(&self) -> &Arc<Channel>;

    /// The channel's handshake in progress and its timeout.
    fn handshake_slot(&self) -> &HandshakeSlot;
}

/// What a channel with a handshake keeps for it: the handshake in progress, and how
/// long the next one may take.
#[derive(Default)]
pub(crate) struct HandshakeSlot {
    pending: Mutex<Option<Pending>>,
    /// `None`: as long as the peer likes (QEMU's behaviour).
    timeout: Mutex<Option<Duration>>,
}

impl HandshakeSlot {
    /// Limits how long the next handshake may take, from its start.
    pub(crate) fn set_timeout(&self, timeout: Option<Duration>) {
        *self.timeout.lock().unwrap_or_else(PoisonError::into_inner) = timeout;
    }

    /// Ends the handshake in progress, if any, without calling its completion (on
    /// close or finalize: CVE-2023-3354).
    pub(crate) fn cancel(&self) {
        drop(lock(&self.pending).take());
    }
}

/// A handshake in progress: its completion, the watch and the deadline that may run
/// next, and the master to make blocking again. Dropping it removes both sources and
/// restores the master.
pub(crate) struct Pending {
    done: Option<Done>,
    watch: Option<SourceGuard>,
    /// Held for its drop, which removes the timer.
    _deadline: Option<SourceGuard>,
    restore_blocking: Option<Arc<Channel>>,
}

impl Drop for Pending {
    fn drop(&mut self) {
        if let Some(master) = self.restore_blocking.take() {
            // A closed master has no mode left to restore.
            let _ = master.set_blocking(true);
        }
    }
}

fn lock(slot: &Mutex<Option<Pending>>) -> MutexGuard<'_, Option<Pending>> {
    slot.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Starts the handshake: its steps run from the thread iterating `context` (the first
/// one here), and `done` gets the result once, unless the channel is closed or dropped
/// first. Past the slot's timeout, a handshake not complete fails with
/// [`ErrorKind::TimedOut`].
pub(crate) fn start<T: Handshake>(channel: &Arc<Channel<T>>, context: MainContext, done: Done) {
    let slot = channel.imp().handshake_slot();
    let timeout = *slot.timeout.lock().unwrap_or_else(PoisonError::into_inner);
    let master = channel.imp().transport();
    let restore_blocking =
        (master.is_blocking() && master.set_blocking(false).is_ok()).then(|| master.clone());
    let deadline = timeout.map(|timeout| {
        let weak = Arc::downgrade(channel);
        context.add_timeout_once(timeout, move || {
            if let Some(channel) = weak.upgrade() {
                finish(&channel, Err(timed_out(T::NAME, timeout)));
            }
        })
    });
    let pending = Pending {
        done: Some(done),
        watch: None,
        _deadline: deadline,
        restore_blocking,
    };
    // A handshake started again replaces the first, which then never completes.
    let replaced = lock(&channel.imp().handshake_slot().pending).replace(pending);
    drop(replaced);
    step(channel, context);
}

fn step<T: Handshake>(channel: &Arc<Channel<T>>, context: MainContext) {
    let condition = match channel.imp().step() {
        Step::Done(result) => return finish(channel, result),
        Step::Wait(condition) => condition,
    };
    let weak = Arc::downgrade(channel);
    let watch = channel.imp().transport().create_watch(condition);
    let mut next = Some(context.clone());
    watch.set_callback(move |_, _| {
        if let (Some(channel), Some(context)) = (weak.upgrade(), next.take()) {
            // This source is done: forget it (it is being dispatched) before the next
            // step may store another.
            let current = lock(&channel.imp().handshake_slot().pending)
                .as_mut()
                .and_then(|p| p.watch.take());
            drop(current);
            step(&channel, context);
        }
        false
    });
    let guard = watch.attach_guarded(&context);
    let mut slot = lock(&channel.imp().handshake_slot().pending);
    match slot.as_mut() {
        Some(pending) => pending.watch = Some(guard),
        // Finished meanwhile in another thread (the deadline), or cancelled.
        None => {
            drop(slot);
            drop(guard);
        }
    }
}

/// Ends the handshake, if it is still pending, with `result`.
fn finish<T: Handshake>(channel: &Arc<Channel<T>>, result: Result<()>) {
    let Some(mut pending) = lock(&channel.imp().handshake_slot().pending).take() else {
        return;
    };
    let done = pending.done.take();
    // The watch and the deadline go, and the master is blocking again (if it was)
    // before the completion runs and may use it.
    drop(pending);
    if let Some(done) = done {
        done(result);
    }
}

fn timed_out(name: &str, timeout: Duration) -> Error {
    let after = match timeout.subsec_millis() {
        0 => format!("{} s", timeout.as_secs()),
        _ => format!("{} ms", timeout.as_millis()),
    };
    Error::new(
        ErrorKind::TimedOut,
        format!("{name} handshake timed out after {after}"),
    )
}
