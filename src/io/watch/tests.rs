use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::*;
use crate::io::{MainContext, Null, Socket};

#[test]
fn null_watch_reports_the_requested_condition_and_holds_a_reference() {
    let ctx = MainContext::new();
    let channel = Null::new_channel().upcast();
    let seen = Arc::new(AtomicU32::new(0));
    let s = seen.clone();
    channel.add_watch(G_IO_IN | G_IO_OUT, &ctx, move |_, ready| {
        s.store(ready, Ordering::SeqCst);
        false
    });
    assert_eq!(Arc::strong_count(&channel), 2);
    assert!(ctx.iteration(false));
    assert_eq!(seen.load(Ordering::SeqCst), G_IO_IN | G_IO_OUT);
    assert_eq!(Arc::strong_count(&channel), 1);
}

#[test]
fn socket_watch_fires_when_data_arrives_and_may_drop_the_channel() {
    let ctx = MainContext::new();
    let (a, b) = UnixStream::pair().unwrap();
    let channel = Socket::new_fd(b.into())
        .map_err(|(e, _)| e)
        .unwrap()
        .upcast();
    let fired = Arc::new(AtomicU32::new(0));
    let f = fired.clone();
    channel.add_watch(G_IO_IN, &ctx, move |channel, ready| {
        assert_eq!(ready, G_IO_IN);
        channel.close().unwrap();
        f.fetch_add(1, Ordering::SeqCst);
        false
    });
    drop(channel);
    assert!(!ctx.iteration(false));
    std::io::Write::write_all(&mut &a, b"x").unwrap();
    assert!(ctx.iteration(false));
    assert_eq!(fired.load(Ordering::SeqCst), 1);
}

#[test]
fn watches_take_the_channel_name() {
    let channel = Null::new_channel().upcast();
    channel.set_name("console");
    let watch = channel.create_watch(G_IO_IN);
    // SAFETY: a live source.
    let name = unsafe { std::ffi::CStr::from_ptr(glib_sys::g_source_get_name(watch.0.as_ptr())) };
    assert_eq!(name.to_str().unwrap(), "console");
    drop(watch);
    assert_eq!(Arc::strong_count(&channel), 1);
}

#[test]
fn a_hang_up_only_reaches_watches_that_asked_for_it() {
    let ctx = MainContext::new();
    let mut fds = [0; 2];
    // SAFETY: a valid array for pipe(2).
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: pipe(2) just made both descriptors, each owned once here.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let channel = crate::io::File::new_channel(read).upcast();
    let seen = Arc::new([AtomicU32::new(0), AtomicU32::new(0)]);
    for (i, condition) in [G_IO_IN, G_IO_IN | G_IO_HUP].into_iter().enumerate() {
        let s = seen.clone();
        channel.add_watch(condition, &ctx, move |_, ready| {
            s[i].fetch_or(ready | 0x1000, Ordering::SeqCst);
            true
        });
    }
    // An empty pipe whose writer is gone polls as POLLHUP alone, never POLLIN.
    drop(write);
    for _ in 0..3 {
        ctx.iteration(false);
    }
    assert_eq!(seen[0].load(Ordering::SeqCst), 0);
    assert_eq!(seen[1].load(Ordering::SeqCst), G_IO_HUP | 0x1000);
}

#[test]
fn a_guarded_watch_goes_with_its_guard() {
    let ctx = MainContext::new();
    let channel = Null::new_channel().upcast();
    let fired = Arc::new(AtomicU32::new(0));
    let f = fired.clone();
    let watch = channel.create_watch(G_IO_IN);
    watch.set_callback(move |_, _| {
        f.fetch_add(1, Ordering::SeqCst);
        true
    });
    let guard = watch.attach_guarded(&ctx);
    assert!(ctx.iteration(false));
    drop(guard);
    assert!(!ctx.iteration(false));
    assert_eq!(fired.load(Ordering::SeqCst), 1);
    assert_eq!(Arc::strong_count(&channel), 1);
}

/// A foreign binding's callback: what C code sets with `g_source_set_callback`.
unsafe extern "C" fn foreign_callback(data: gpointer) -> gboolean {
    // SAFETY: the test's counter.
    unsafe { (*(data as *const AtomicU32)).fetch_add(1, Ordering::SeqCst) };
    glib_sys::GFALSE
}

#[test]
fn a_raw_watch_calls_the_foreign_callback_through_its_invoker() {
    let ctx = MainContext::new();
    let channel = Null::new_channel().upcast();
    let calls = AtomicU32::new(0);
    let invoked = Arc::new(AtomicU32::new(0));
    let seen = invoked.clone();
    let source = channel
        .create_watch(G_IO_OUT)
        .into_raw(move |func, data, ready| {
            seen.store(ready, Ordering::SeqCst);
            // SAFETY: the callback below, set with the foreign signature, and its data.
            unsafe { func(data) != 0 }
        });
    // SAFETY: our reference on the raw source; the counter outlives it.
    unsafe {
        glib_sys::g_source_set_callback(
            source,
            Some(foreign_callback),
            &calls as *const AtomicU32 as gpointer,
            None,
        );
        glib_sys::g_source_attach(source, ctx.as_ptr());
        glib_sys::g_source_unref(source);
    }
    assert!(ctx.iteration(false));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(invoked.load(Ordering::SeqCst), G_IO_OUT);
    // The callback said G_SOURCE_REMOVE: the source, its invoker and its channel
    // reference are gone.
    assert!(!ctx.iteration(false));
    assert_eq!(Arc::strong_count(&invoked), 1);
    assert_eq!(Arc::strong_count(&channel), 1);
}
