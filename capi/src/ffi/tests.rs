//! Handle checks: NULL, wrong type, misalignment, double free, and reference counting.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::*;

struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

struct First {
    _private: [u8; 0],
}
impl Castable for First {
    type Rust = Counted;
    const NAME: &'static str = "First";
    const TAG: u32 = 1;
}

struct Second {
    _private: [u8; 0],
}
impl Castable for Second {
    type Rust = Counted;
    const NAME: &'static str = "Second";
    const TAG: u32 = 2;
}

fn precondition<T>(result: Result<T, Fail>) -> String {
    match result {
        Err(Fail::Precondition(text)) => text.into_owned(),
        _ => panic!("expected a precondition failure"),
    }
}

#[test]
fn boxed_handles_are_checked_and_freed_once() {
    let drops = Arc::new(AtomicUsize::new(0));
    let handle: *mut First = box_into_handle(Counted(drops.clone()));
    // SAFETY: a live handle, then deliberately wrong pointers of our own making.
    unsafe {
        assert!(box_mut(handle, "h").is_ok());
        assert_eq!(
            precondition(box_mut::<First>(std::ptr::null_mut(), "h")),
            "h != NULL"
        );
        assert_eq!(
            precondition(box_mut(handle as *mut Second, "h")),
            "h is a valid Second"
        );
        let misaligned = (handle as *mut u8).add(1) as *mut First;
        assert_eq!(precondition(box_mut(misaligned, "h")), "h is a valid First");
        assert!(box_free::<First>(std::ptr::null_mut(), "h").is_ok());
        assert!(box_free(handle, "h").is_ok());
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn shared_handles_count_references() {
    let drops = Arc::new(AtomicUsize::new(0));
    let handle: *mut First = arc_into_handle(Counted(drops.clone()));
    // SAFETY: the handle stays valid while a reference is held.
    unsafe {
        assert_eq!(arc_ref(handle, "h").ok(), Some(handle));
        assert!(arc_borrow(handle, "h").is_ok());
        assert_eq!(
            precondition(arc_borrow(handle as *const Second, "h")),
            "h is a valid Second"
        );
        assert!(arc_unref(handle, "h").is_ok());
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        assert!(arc_unref(handle, "h").is_ok());
        assert!(arc_unref::<First>(std::ptr::null_mut(), "h").is_ok());
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn buffers_and_iovecs_reject_null_with_length() {
    // SAFETY: NULL pointers and a valid local buffer.
    unsafe {
        assert_eq!(bytes(std::ptr::null(), 0).ok(), Some(&[][..]));
        assert_eq!(
            precondition(bytes(std::ptr::null(), 1)),
            "buf != NULL || len == 0"
        );
        assert!(iovecs(std::ptr::null(), 0).unwrap().is_empty());
        assert_eq!(
            precondition(iovecs(std::ptr::null(), 2)),
            "iov != NULL || niov == 0"
        );
        let data = *b"abc";
        let iov = [iovec(data.as_ptr().cast(), 3), iovec(std::ptr::null(), 0)];
        let parts: Vec<&[u8]> = iovecs(iov.as_ptr(), 2)
            .unwrap()
            .iter()
            .map(|v| iov_bytes(v).unwrap())
            .collect();
        assert_eq!(parts, [&b"abc"[..], &[][..]]);
        assert_eq!(
            precondition(iov_bytes(&iovec(std::ptr::null(), 5))),
            "buf != NULL || len == 0"
        );
    }
}

#[test]
fn glib_copies_are_exact() {
    let bytes_copy = g_bytes(b"\x00\x01\x02");
    let text_copy = g_string("hello");
    // SAFETY: fresh GLib allocations of the sizes written above.
    unsafe {
        assert_eq!(std::slice::from_raw_parts(bytes_copy, 3), b"\x00\x01\x02");
        assert_eq!(
            std::ffi::CStr::from_ptr(text_copy).to_str().unwrap(),
            "hello"
        );
        glib_sys::g_free(bytes_copy.cast());
        glib_sys::g_free(text_copy.cast());
    }
}
