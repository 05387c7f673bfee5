//! Channel watches: the `GSource` each channel type gets (QEMU's `io/channel-watch.c`
//! and the sources of the buffer and null channels), and waiting for readiness.
//!
//! A [`Watch`] holds a reference on its channel until GLib finalizes it, so a callback
//! may close or drop the channel it was given. Rust code gives it a closure
//! ([`Watch::set_callback`]); a foreign-language binding takes the raw source with
//! [`Watch::into_raw`] and says how the callback its users set with
//! `g_source_set_callback` is called.
//!
//! ```
//! use qio::io::watch::{G_IO_IN, G_IO_OUT};
//! use qio::io::{MainContext, Null};
//!
//! let context = MainContext::new();
//! let channel = Null::new_channel().upcast();
//! let watch = channel.create_watch(G_IO_IN | G_IO_OUT);
//! watch.set_callback(|_channel, ready| {
//!     assert_eq!(ready, G_IO_IN | G_IO_OUT); // a null channel is always ready
//!     false // G_SOURCE_REMOVE
//! });
//! watch.attach(&context);
//! assert!(context.iteration(false));
//! ```

use std::mem::{size_of, ManuallyDrop};
use std::os::fd::RawFd;
use std::ptr::{addr_of_mut, NonNull};
use std::sync::Arc;

use glib_sys::{gboolean, gpointer, GSource, GSourceFunc, GSourceFuncs};

use crate::io::close_signal::Subscription;
use crate::io::context::{MainContext, SourceGuard};
use crate::io::Channel;

pub use crate::io::channel::{Condition, Readiness};
pub use glib_sys::{G_IO_ERR, G_IO_HUP, G_IO_IN, G_IO_NVAL, G_IO_OUT, G_IO_PRI};

/// A callback as GLib stores it (a non-NULL `GSourceFunc`), handed to a foreign
/// binding's invoker to call with its own signature.
pub type RawCallback = unsafe extern "C" fn(gpointer) -> gboolean;

/// How a foreign binding calls the callback its user set on a raw source: the
/// callback, its user data and the ready conditions; whether to keep the source.
type Invoker = Box<dyn Fn(RawCallback, gpointer, Condition) -> bool + Send>;

/// A closure's trampoline, stored as the source's callback.
type Trampoline = unsafe fn(&Arc<Channel>, Condition, gpointer) -> bool;

#[repr(C)]
struct ChannelSource {
    source: GSource,
    /// One reference on the channel, dropped by `finalize`.
    channel: ManuallyDrop<Arc<Channel>>,
    condition: Condition,
    /// For [`Readiness::Always`]: the mask of conditions reported.
    always: Condition,
    /// The descriptors' tags from `g_source_add_unix_fd`.
    npoll: usize,
    tags: [gpointer; 2],
    /// Set by [`Watch::into_raw`]; without it the callback is a closure's trampoline.
    invoker: ManuallyDrop<Option<Invoker>>,
}

/// Descriptor sources have no `check`: GLib itself marks them ready when a descriptor
/// polled with any revents (its fast path, without a call into every source on each
/// iteration), and [`dispatch`] then runs the callback only for `revents & condition`,
/// as QEMU's check does.
static FD_FUNCS: GSourceFuncs = GSourceFuncs {
    prepare: None,
    check: None,
    dispatch: Some(dispatch),
    finalize: Some(finalize),
    closure_callback: None,
    closure_marshal: None,
};

/// Sources of channels that hold input of their own (TLS): also ready, with
/// `G_IO_IN`, while [`Channel::pending_input`] says so, whatever the descriptors show.
static BUFFERED_FUNCS: GSourceFuncs = GSourceFuncs {
    prepare: Some(buffered_prepare),
    check: Some(buffered_check),
    dispatch: Some(dispatch),
    finalize: Some(finalize),
    closure_callback: None,
    closure_marshal: None,
};

static ALWAYS_FUNCS: GSourceFuncs = GSourceFuncs {
    prepare: Some(always_prepare),
    check: Some(always_check),
    dispatch: Some(dispatch),
    finalize: Some(finalize),
    closure_callback: None,
    closure_marshal: None,
};

/// The conditions reported as ready by the polled descriptors.
fn polled(s: &ChannelSource) -> Condition {
    let source = s as *const ChannelSource as *mut GSource;
    s.tags[..s.npoll].iter().fold(0, |ready, &tag| {
        // SAFETY: a tag of this source, queried from its own dispatch.
        ready | unsafe { glib_sys::g_source_query_unix_fd(source, tag) }
    }) & s.condition
}

/// The `G_IO_IN` the channel's own buffer makes ready, if it was asked for.
fn buffered(s: &ChannelSource) -> Condition {
    match s.condition & G_IO_IN != 0 && s.channel.pending_input() {
        true => G_IO_IN,
        false => 0,
    }
}

unsafe extern "C" fn buffered_prepare(source: *mut GSource, timeout: *mut i32) -> gboolean {
    // SAFETY: GLib passes one of our sources and a valid timeout pointer.
    unsafe {
        *timeout = -1;
        (buffered(&*(source as *const ChannelSource)) != 0).into()
    }
}

unsafe extern "C" fn buffered_check(source: *mut GSource) -> gboolean {
    // SAFETY: GLib passes one of our sources.
    let s = unsafe { &*(source as *const ChannelSource) };
    (buffered(s) | polled(s) != 0).into()
}

unsafe extern "C" fn always_prepare(source: *mut GSource, timeout: *mut i32) -> gboolean {
    // SAFETY: GLib passes one of our sources and a valid timeout pointer.
    unsafe {
        *timeout = -1;
        always_check(source)
    }
}

unsafe extern "C" fn always_check(source: *mut GSource) -> gboolean {
    // SAFETY: GLib passes one of our sources.
    let s = unsafe { &*(source as *const ChannelSource) };
    (s.always & s.condition != 0).into()
}

unsafe extern "C" fn dispatch(
    source: *mut GSource,
    callback: GSourceFunc,
    user_data: gpointer,
) -> gboolean {
    // SAFETY: GLib passes one of our sources, alive for the whole dispatch.
    let s = unsafe { &*(source as *const ChannelSource) };
    let Some(callback) = callback else {
        // A watch nobody set a callback on: nothing to run, so stop polling.
        return glib_sys::GFALSE;
    };
    let ready = match s.npoll {
        0 => s.always & s.condition,
        _ => polled(s) | buffered(s),
    };
    if ready == 0 {
        // Only conditions nobody asked for (a hang-up or error): not an event.
        return glib_sys::GTRUE;
    }
    let keep = match &*s.invoker {
        Some(invoke) => invoke(callback, user_data, ready),
        // SAFETY: without an invoker the callback is a Trampoline that
        // `Watch::set_callback` stored, with its closure as the user data.
        None => unsafe {
            let trampoline: Trampoline = std::mem::transmute(callback);
            trampoline(&s.channel, ready, user_data)
        },
    };
    keep.into()
}

unsafe extern "C" fn finalize(source: *mut GSource) {
    // SAFETY: GLib passes one of our sources, once, after its last use.
    unsafe {
        let s = &mut *(source as *mut ChannelSource);
        ManuallyDrop::drop(&mut s.channel);
        ManuallyDrop::drop(&mut s.invoker);
    }
}

/// A source that is ready when a channel is ready for a condition
/// (`qio_channel_create_watch`), not attached to a context yet. It holds a reference on
/// the channel, and is named after it ([`Channel::set_name`]).
pub struct Watch(NonNull<GSource>);

// SAFETY: an unattached source may be moved to, used and unreffed from any thread, and
// everything it holds is Send.
unsafe impl Send for Watch {}

impl Channel {
    /// A new, unattached watch that is ready when the channel is ready for `condition`
    /// (`qio_channel_create_watch`).
    pub fn create_watch(self: &Arc<Self>, condition: Condition) -> Watch {
        let readiness = self.readiness(condition);
        let funcs = match readiness {
            Readiness::Always(_) => &ALWAYS_FUNCS,
            _ if self.buffers_input() => &BUFFERED_FUNCS,
            _ => &FD_FUNCS,
        };
        let fds = match readiness {
            Readiness::Fd(fd) => vec![(fd, condition)],
            Readiness::FdPair { read, write } => {
                vec![(read, condition & G_IO_IN), (write, condition & G_IO_OUT)]
            }
            Readiness::Always(_) => vec![],
        };
        // SAFETY: g_source_new allocates a zeroed ChannelSource-sized source whose funcs
        // are static; every field is written before GLib can call into it.
        unsafe {
            let source = glib_sys::g_source_new(
                funcs as *const GSourceFuncs as *mut GSourceFuncs,
                size_of::<ChannelSource>() as u32,
            );
            let s = source as *mut ChannelSource;
            addr_of_mut!((*s).channel).write(ManuallyDrop::new(self.clone()));
            addr_of_mut!((*s).condition).write(condition);
            addr_of_mut!((*s).always).write(match readiness {
                Readiness::Always(mask) => mask,
                _ => 0,
            });
            addr_of_mut!((*s).npoll).write(fds.len());
            for (i, (fd, events)) in fds.into_iter().enumerate() {
                let tag = glib_sys::g_source_add_unix_fd(source, fd, events);
                addr_of_mut!((*s).tags[i]).write(tag);
            }
            addr_of_mut!((*s).invoker).write(ManuallyDrop::new(None));
            if let Some(name) = self.name() {
                glib_sys::g_source_set_name(source, name.as_ptr());
            }
            Watch(NonNull::new_unchecked(source))
        }
    }

    /// Attaches a watch that runs `f` in the thread iterating `context` each time the
    /// channel is ready for `condition`, until `f` returns `false`
    /// (`qio_channel_add_watch_full`); returns its id in `context`.
    pub fn add_watch<F>(self: &Arc<Self>, condition: Condition, context: &MainContext, f: F) -> u32
    where
        F: FnMut(&Arc<Channel>, Condition) -> bool + Send + 'static,
    {
        let watch = self.create_watch(condition);
        watch.set_callback(f);
        watch.attach(context)
    }
}

impl Watch {
    /// Makes `f` the callback: it runs each time the channel is ready, with the
    /// conditions that are, until it returns `false` (`G_SOURCE_REMOVE`); it is dropped
    /// when the source is destroyed.
    pub fn set_callback<F>(&self, f: F)
    where
        F: FnMut(&Arc<Channel>, Condition) -> bool + Send + 'static,
    {
        unsafe fn trampoline<F>(channel: &Arc<Channel>, ready: Condition, data: gpointer) -> bool
        where
            F: FnMut(&Arc<Channel>, Condition) -> bool,
        {
            // SAFETY: `data` is the Box<F> below, which GLib keeps until it calls
            // drop_closure; a dispatch never runs concurrently with itself.
            unsafe { (*(data as *mut F))(channel, ready) }
        }
        unsafe extern "C" fn drop_closure<F>(data: gpointer) {
            // SAFETY: `data` is the Box<F> below, dropped once by GLib.
            unsafe { drop(Box::from_raw(data as *mut F)) };
        }
        let trampoline: Trampoline = trampoline::<F>;
        let data = Box::into_raw(Box::new(f)) as gpointer;
        // SAFETY: our live source. The trampoline is stored as GLib's callback type and
        // transmuted back by `dispatch`, which calls it only while no invoker is set,
        // and `into_raw`, which sets one, consumes the watch.
        unsafe {
            let func: RawCallback = std::mem::transmute(trampoline);
            glib_sys::g_source_set_callback(
                self.0.as_ptr(),
                Some(func),
                data,
                Some(drop_closure::<F>),
            );
        }
    }

    /// Attaches the watch to `context`; it runs until its callback returns `false`.
    /// Returns its id in `context`.
    pub fn attach(self, context: &MainContext) -> u32 {
        let source = ManuallyDrop::new(self).0.as_ptr();
        // SAFETY: our reference on a live source, given up once attached.
        unsafe {
            let id = glib_sys::g_source_attach(source, context.as_ptr());
            glib_sys::g_source_unref(source);
            id
        }
    }

    /// Attaches the watch to `context` until the returned guard is dropped (or the
    /// callback returns `false`).
    pub fn attach_guarded(self, context: &MainContext) -> SourceGuard {
        let source = ManuallyDrop::new(self).0;
        // SAFETY: our reference on a live, unattached source, handed to the guard.
        unsafe { SourceGuard::attach(source, context) }
    }

    /// The raw source, for a foreign-language binding whose users attach it and set its
    /// callback with `g_source_set_callback`: each dispatch calls `invoke(callback,
    /// user_data, ready)`, which calls the callback with that language's signature and
    /// says whether to keep the source. `invoke` is dropped with the source; the caller
    /// owns the returned reference.
    pub fn into_raw(
        self,
        invoke: impl Fn(RawCallback, gpointer, Condition) -> bool + Send + 'static,
    ) -> *mut GSource {
        let source = ManuallyDrop::new(self).0.as_ptr();
        // SAFETY: our live source, not dispatched yet (it is not attached); the old
        // (empty) invoker is replaced before anyone can set a callback.
        unsafe {
            let s = &mut *(source as *mut ChannelSource);
            ManuallyDrop::drop(&mut s.invoker);
            s.invoker = ManuallyDrop::new(Some(Box::new(invoke)));
            glib_sys::g_source_set_callback(source, None, std::ptr::null_mut(), None);
        }
        source
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        // SAFETY: our reference on a source never attached.
        unsafe { glib_sys::g_source_unref(self.0.as_ptr()) };
    }
}

impl std::fmt::Debug for Watch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Watch").field(&self.0).finish()
    }
}

impl Channel {
    /// Blocks until the channel is ready for `condition` (`qio_channel_wait`), reports a
    /// hang-up or error (which the next I/O call will then report), or is closed, by
    /// this thread before or by another during the wait; closing a channel it is
    /// layered over ends the wait too. Descriptor-based channels are polled directly
    /// rather than through a private main loop.
    pub fn wait(&self, condition: Condition) {
        wait(self, condition)
    }
}

fn wait(channel: &Channel, condition: Condition) {
    let fds = match channel.readiness(condition) {
        Readiness::Always(_) => return,
        Readiness::Fd(fd) => vec![(fd, condition)],
        Readiness::FdPair { read, write } => {
            vec![(read, condition & G_IO_IN), (write, condition & G_IO_OUT)]
        }
    };
    // The wakeups of the channel and of each one under it.
    let mut wakeups = Vec::new();
    let mut layer = Some(channel);
    while let Some(c) = layer {
        match c.close_signal().subscribe() {
            Subscription::Closed => return,
            Subscription::Wakeup(waiter) => wakeups.push(waiter),
            Subscription::Unavailable => {}
        }
        layer = c.master().map(|master| &**master);
    }
    let pollfd = |(fd, events): (RawFd, Condition)| libc::pollfd {
        fd,
        events: events as i16,
        revents: 0,
    };
    let mut pollfds = fds
        .into_iter()
        .filter(|&(_, events)| events != 0)
        .map(pollfd)
        .collect::<Vec<_>>();
    let channel_fds = pollfds.len();
    pollfds.extend(wakeups.iter().map(|w| pollfd((w.fd(), G_IO_IN))));
    let stop = condition | G_IO_HUP | G_IO_ERR | G_IO_NVAL;
    loop {
        // SAFETY: `pollfds` is a valid array of pollfds.
        let n = unsafe { libc::poll(pollfds.as_mut_ptr(), pollfds.len() as libc::nfds_t, -1) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // Cannot wait (e.g. too many descriptors): let the caller retry its I/O.
            return;
        }
        let (channel, wakeups) = pollfds.split_at(channel_fds);
        let ready = |p: &libc::pollfd| Condition::from(p.revents as u16) & stop != 0;
        if channel.iter().any(ready) || wakeups.iter().any(|p| p.revents != 0) {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
