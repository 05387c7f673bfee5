//! Channel watches: the `GSource` each channel type gets (QEMU's `io/channel-watch.c`
//! and the sources of the buffer and null channels), and waiting for readiness.
//!
//! A source holds a reference on its channel until GLib finalizes it, so a callback
//! may close or drop the channel it was given. Its callback has the C signature
//! [`ChannelFunc`] (`QIOChannelFunc`) and receives the channel's thin pointer, so C
//! sets it with `g_source_set_callback` as it would on QEMU's sources; Rust code uses
//! [`add_watch`] with a closure.

use std::ffi::c_void;
use std::mem::size_of;
use std::os::fd::RawFd;
use std::ptr::addr_of_mut;
use std::sync::{Arc, Mutex, Weak};

use glib_sys::{gboolean, gpointer, GMainContext, GSource, GSourceFunc, GSourceFuncs};

use crate::io::channel::ChannelType;
use crate::io::glib::{AttachedSource, ContextRef};
use crate::io::Channel;

/// A set of `G_IO_*` conditions.
pub type Condition = glib_sys::GIOCondition;
pub use glib_sys::{G_IO_ERR, G_IO_HUP, G_IO_IN, G_IO_NVAL, G_IO_OUT, G_IO_PRI};

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

/// A watch callback (`QIOChannelFunc`): the channel's thin pointer (see
/// [`Channel::as_thin`]), the conditions that are ready, the user data; it returns
/// `G_SOURCE_CONTINUE` (TRUE) to keep the watch.
pub type ChannelFunc = unsafe extern "C" fn(*mut c_void, Condition, gpointer) -> gboolean;

#[repr(C)]
struct ChannelSource {
    source: GSource,
    /// One reference on the channel, dropped by `finalize`.
    channel: *const Channel,
    condition: Condition,
    /// For [`Readiness::Always`]: the mask of conditions reported.
    always: Condition,
    /// The descriptors' tags from `g_source_add_unix_fd`.
    npoll: usize,
    tags: [gpointer; 2],
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
    // SAFETY: the source holds a reference on its channel.
    let channel = unsafe { &*s.channel };
    match s.condition & G_IO_IN != 0 && channel.pending_input() {
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
    // SAFETY: the callback was set by g_source_set_callback as a ChannelFunc (the
    // documented contract of channel watches, as GLib's own typed sources do).
    let func: ChannelFunc = unsafe { std::mem::transmute(callback) };
    // SAFETY: the channel is alive (we hold a reference); GLib's callback contract.
    unsafe { func(s.channel as *const c_void as *mut c_void, ready, user_data) }
}

unsafe extern "C" fn finalize(source: *mut GSource) {
    // SAFETY: GLib passes one of our sources, once; the pointer came from Arc::into_raw.
    unsafe { drop(Arc::from_raw((*(source as *mut ChannelSource)).channel)) };
}

/// A new, unattached source that is ready when `channel` is ready for `condition`
/// (`qio_channel_create_watch`); it holds a reference on the channel and is named
/// after it. The caller owns the returned source.
pub fn create_watch(channel: &Arc<Channel>, condition: Condition) -> *mut GSource {
    let readiness = channel.readiness(condition);
    let funcs = match readiness {
        Readiness::Always(_) => &ALWAYS_FUNCS,
        _ if channel.buffers_input() => &BUFFERED_FUNCS,
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
        addr_of_mut!((*s).channel).write(Arc::into_raw(channel.clone()));
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
        if let Some(name) = channel.name() {
            glib_sys::g_source_set_name(source, name.as_ptr());
        }
        source
    }
}

/// Attaches a watch calling `func(channel, ready, user_data)` to `context` (NULL: the
/// global default) and returns its id (`qio_channel_add_watch_full`); `notify` runs on
/// `user_data` when the watch goes.
///
/// # Safety
/// `context` is NULL or a valid context; `func`, `user_data` and `notify` follow
/// `g_source_set_callback`'s contract.
pub unsafe fn add_watch_full(
    channel: &Arc<Channel>,
    condition: Condition,
    func: ChannelFunc,
    user_data: gpointer,
    notify: glib_sys::GDestroyNotify,
    context: *mut GMainContext,
) -> u32 {
    let source = create_watch(channel, condition);
    // SAFETY: a fresh source; a ChannelFunc is what `dispatch` calls the callback as,
    // so the cast to GSourceFunc is undone before any call.
    unsafe {
        let func: unsafe extern "C" fn(gpointer) -> gboolean = std::mem::transmute(func);
        glib_sys::g_source_set_callback(source, Some(func), user_data, notify);
        let id = glib_sys::g_source_attach(source, context);
        glib_sys::g_source_unref(source);
        id
    }
}

/// Makes `f` the callback of a channel watch `source`: it runs each time the channel
/// is ready, until it returns `false`, and is dropped with the source.
///
/// # Safety
/// `source` is a live source from [`create_watch`].
pub unsafe fn set_closure<F>(source: *mut GSource, f: F)
where
    F: FnMut(&Arc<Channel>, Condition) -> bool + Send + 'static,
{
    unsafe extern "C" fn trampoline<F>(
        thin: *mut c_void,
        ready: Condition,
        data: gpointer,
    ) -> gboolean
    where
        F: FnMut(&Arc<Channel>, Condition) -> bool,
    {
        // SAFETY: `data` is the Box<F> below; the source holds a channel reference.
        unsafe {
            let f = &mut *(data as *mut F);
            let channel = Channel::borrow_thin(thin).expect("a watch's channel");
            f(&channel, ready).into()
        }
    }
    unsafe extern "C" fn drop_closure<F>(data: gpointer) {
        // SAFETY: `data` is the Box<F> below, dropped once by GLib.
        unsafe { drop(Box::from_raw(data as *mut F)) };
    }
    let data = Box::into_raw(Box::new(f)) as gpointer;
    // SAFETY: the trampoline is a ChannelFunc, as `dispatch` calls it; `data` is
    // freed by drop_closure.
    unsafe {
        let func: ChannelFunc = trampoline::<F>;
        let func: unsafe extern "C" fn(gpointer) -> gboolean = std::mem::transmute(func);
        glib_sys::g_source_set_callback(source, Some(func), data, Some(drop_closure::<F>));
    }
}

/// Attaches a watch that runs `f` in the thread iterating `context` (NULL: the global
/// default) each time `channel` is ready, until `f` returns `false`; returns its id.
///
/// # Safety
/// `context` is NULL or a valid context.
pub unsafe fn add_watch<F>(
    channel: &Arc<Channel>,
    condition: Condition,
    context: *mut GMainContext,
    f: F,
) -> u32
where
    F: FnMut(&Arc<Channel>, Condition) -> bool + Send + 'static,
{
    let source = create_watch(channel, condition);
    // SAFETY: a fresh source; the caller's context.
    unsafe {
        set_closure(source, f);
        let id = glib_sys::g_source_attach(source, context);
        glib_sys::g_source_unref(source);
        id
    }
}

/// Runs `next` once `master` is ready for `condition`, from the thread iterating
/// `context`, unless `channel` is gone by then: how a handshake waits between steps.
/// The watch is kept in `slot(channel)`, so dropping it there (on close or finalize)
/// cancels the step.
pub(crate) fn resume_when_ready<T: ChannelType>(
    channel: &Arc<Channel<T>>,
    master: &Arc<Channel>,
    condition: Condition,
    context: ContextRef,
    slot: fn(&T) -> &Mutex<Option<AttachedSource>>,
    next: impl FnOnce(&Arc<Channel<T>>, ContextRef) + Send + 'static,
) {
    let weak: Weak<Channel<T>> = Arc::downgrade(channel);
    let source = create_watch(master, condition);
    let attach_to = context.as_ptr();
    let mut next = Some((context, next));
    // SAFETY: a fresh source; attached to the context we hold a reference on.
    unsafe {
        set_closure(source, move |_, _| {
            if let (Some(channel), Some((context, next))) = (weak.upgrade(), next.take()) {
                // This source is done: forget it (it is being dispatched) before the
                // next step may store another.
                drop(lock_slot(slot(channel.imp())).take());
                next(&channel, context);
            }
            false
        });
        glib_sys::g_source_attach(source, attach_to);
    }
    // SAFETY: our reference from create_watch, attached above.
    *lock_slot(slot(channel.imp())) = Some(unsafe { AttachedSource::new(source) });
}

fn lock_slot(
    slot: &Mutex<Option<AttachedSource>>,
) -> std::sync::MutexGuard<'_, Option<AttachedSource>> {
    slot.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Blocks until `channel` is ready for `condition` (`qio_channel_wait`), or reports a
/// hang-up or error, which the next I/O call will then report. Descriptor-based
/// channels are polled directly rather than through a private main loop.
pub fn wait(channel: &Channel, condition: Condition) {
    let mut fds = match channel.readiness(condition) {
        Readiness::Always(_) => return,
        Readiness::Fd(fd) => vec![(fd, condition)],
        Readiness::FdPair { read, write } => {
            vec![(read, condition & G_IO_IN), (write, condition & G_IO_OUT)]
        }
    }
    .into_iter()
    .filter(|&(_, events)| events != 0)
    .map(|(fd, events)| libc::pollfd {
        fd,
        events: events as i16,
        revents: 0,
    })
    .collect::<Vec<_>>();
    let stop = condition | G_IO_HUP | G_IO_ERR | G_IO_NVAL;
    loop {
        // SAFETY: `fds` is a valid array of pollfds.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, -1) };
        if n < 0 && std::io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
            // Cannot wait (e.g. too many descriptors): let the caller retry its I/O.
            return;
        }
        if fds
            .iter()
            .any(|p| Condition::from(p.revents as u16) & stop != 0)
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests;
