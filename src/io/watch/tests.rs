use std::os::fd::{FromRawFd, OwnedFd};
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::*;
use crate::io::{Null, Socket};

struct Context(*mut GMainContext);

impl Drop for Context {
    fn drop(&mut self) {
        // SAFETY: our reference.
        unsafe { glib_sys::g_main_context_unref(self.0) };
    }
}

fn context() -> Context {
    // SAFETY: plain constructor.
    Context(unsafe { glib_sys::g_main_context_new() })
}

fn iterate(context: &Context) -> bool {
    // SAFETY: a valid context, not blocking.
    unsafe { glib_sys::g_main_context_iteration(context.0, glib_sys::GFALSE) != 0 }
}

#[test]
fn null_watch_reports_the_requested_condition_and_holds_a_reference() {
    let ctx = context();
    let channel = Null::new_channel().upcast();
    let seen = Arc::new(AtomicU32::new(0));
    let s = seen.clone();
    // SAFETY: a valid context.
    unsafe {
        add_watch(&channel, G_IO_IN | G_IO_OUT, ctx.0, move |_, ready| {
            s.store(ready, Ordering::SeqCst);
            false
        })
    };
    assert_eq!(Arc::strong_count(&channel), 2);
    assert!(iterate(&ctx));
    assert_eq!(seen.load(Ordering::SeqCst), G_IO_IN | G_IO_OUT);
    assert_eq!(Arc::strong_count(&channel), 1);
}

#[test]
fn socket_watch_fires_when_data_arrives_and_may_drop_the_channel() {
    let ctx = context();
    let (a, b) = UnixStream::pair().unwrap();
    let channel = Socket::new_fd(b.into())
        .map_err(|(e, _)| e)
        .unwrap()
        .upcast();
    let fired = Arc::new(AtomicU32::new(0));
    let f = fired.clone();
    // SAFETY: a valid context.
    unsafe {
        add_watch(&channel, G_IO_IN, ctx.0, move |channel, ready| {
            assert_eq!(ready, G_IO_IN);
            channel.close().unwrap();
            f.fetch_add(1, Ordering::SeqCst);
            false
        })
    };
    drop(channel);
    assert!(!iterate(&ctx));
    std::io::Write::write_all(&mut &a, b"x").unwrap();
    assert!(iterate(&ctx));
    assert_eq!(fired.load(Ordering::SeqCst), 1);
}

#[test]
fn watches_take_the_channel_name() {
    let channel = Null::new_channel().upcast();
    channel.set_name("console");
    let source = create_watch(&channel, G_IO_IN);
    // SAFETY: a live source, then our reference dropped.
    unsafe {
        let name = std::ffi::CStr::from_ptr(glib_sys::g_source_get_name(source));
        assert_eq!(name.to_str().unwrap(), "console");
        glib_sys::g_source_unref(source);
    }
    assert_eq!(Arc::strong_count(&channel), 1);
}

#[test]
fn a_hang_up_only_reaches_watches_that_asked_for_it() {
    let ctx = context();
    let mut fds = [0; 2];
    // SAFETY: a valid array for pipe(2).
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: pipe(2) just made both descriptors, each owned once here.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let channel = crate::io::File::new_channel(read).upcast();
    let seen = Arc::new([AtomicU32::new(0), AtomicU32::new(0)]);
    for (i, condition) in [G_IO_IN, G_IO_IN | G_IO_HUP].into_iter().enumerate() {
        let s = seen.clone();
        // SAFETY: a valid context.
        unsafe {
            add_watch(&channel, condition, ctx.0, move |_, ready| {
                s[i].fetch_or(ready | 0x1000, Ordering::SeqCst);
                true
            })
        };
    }
    // An empty pipe whose writer is gone polls as POLLHUP alone, never POLLIN.
    drop(write);
    for _ in 0..3 {
        iterate(&ctx);
    }
    assert_eq!(seen[0].load(Ordering::SeqCst), 0);
    assert_eq!(seen[1].load(Ordering::SeqCst), G_IO_HUP | 0x1000);
}
