//! The handle discipline and the argument conversions: NULL, wrong types, families,
//! misalignment, ownership, references held without knowing the type, and the tags.

use std::os::raw::c_char;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use super::*;
use crate::boundary::Fail;

struct Counted(Arc<AtomicUsize>);

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

macro_rules! test_type {
    ($c:ident, $ownership:ty, $tag:literal, $check:expr) => {
        struct $c {
            _private: [u8; 0],
        }
        impl Castable for $c {
            type Ownership = $ownership;
            type Rust = Counted;
            const NAME: &'static str = stringify!($c);
            const TAG: Tag = Tag::new($tag);
            const CHECK: Option<&'static str> = $check;
        }
    };
}
test_type!(Single, Owned, b"QTa1", None);
test_type!(Other, Owned, b"QTa2", None);
test_type!(Base, Shared, b"QTb*", Some("TEST_IS_BASE"));
test_type!(Left, Shared, b"QTbl", Some("TEST_IS_LEFT"));
test_type!(Right, Shared, b"QTbr", Some("TEST_IS_RIGHT"));

struct Lone {
    _private: [u8; 0],
}
impl Castable for Lone {
    type Ownership = Static;
    type Rust = ();
    const NAME: &'static str = "Lone";
    const TAG: Tag = Tag::new(b"QTst");
}
static LONE: Tagged<()> = Tagged::new_static::<Lone>(());

fn precondition<T>(result: Result<T, Fail>) -> String {
    match result {
        Err(Fail::Precondition(text)) => text.into_owned(),
        _ => panic!("expected a precondition failure"),
    }
}

fn counted() -> (Counted, Arc<AtomicUsize>) {
    let drops = Arc::new(AtomicUsize::new(0));
    (Counted(drops.clone()), drops)
}

#[test]
fn single_owner_handles_are_checked_and_freed_once() {
    let (value, drops) = counted();
    let handle: *mut Single = new(value);
    // SAFETY: a live handle, then deliberately wrong pointers of our own making.
    unsafe {
        assert!(borrow_mut(handle, "h").is_ok());
        assert_eq!(
            precondition(borrow::<Single>(std::ptr::null(), "h")),
            "h != NULL"
        );
        assert_eq!(
            precondition(borrow(handle as *const Other, "h")),
            "h is a valid Other"
        );
        let misaligned = (handle as *mut u8).add(1) as *mut Single;
        assert_eq!(precondition(borrow(misaligned, "h")), "h is a valid Single");
        assert!(free::<Single>(std::ptr::null_mut(), "h").is_ok());
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        assert!(free(handle, "h").is_ok());
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn shared_handles_count_references() {
    let (value, drops) = counted();
    let handle: *mut Left = new(value);
    // SAFETY: the handle stays valid while a reference is held.
    unsafe {
        assert_eq!(add_ref(handle, "h").ok(), Some(handle));
        let kept = HandleRef::new(handle, "h").unwrap();
        let weak = kept.downgrade();
        assert!(unref(handle, "h").is_ok());
        assert!(unref(handle, "h").is_ok());
        assert_eq!(drops.load(Ordering::SeqCst), 0);
        assert!(weak.upgrade().is_some());
        drop(kept);
        assert!(weak.upgrade().is_none());
        assert!(unref::<Left>(std::ptr::null_mut(), "h").is_ok());
    }
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn a_base_type_accepts_its_family_and_a_subtype_only_itself() {
    let (value, _drops) = counted();
    let left = HandleRef::<Left>::adopt(new(value));
    let (value, _drops) = counted();
    let single = new::<Single>(value);
    // SAFETY: live handles of our own making.
    unsafe {
        assert!(borrow(left.as_ptr() as *const Base, "ioc").is_ok());
        assert_eq!(
            precondition(borrow(left.as_ptr() as *const Right, "ioc")),
            "TEST_IS_RIGHT (ioc)"
        );
        assert_eq!(
            precondition(borrow(single as *const Base, "ioc")),
            "TEST_IS_BASE (ioc)"
        );
        free(single, "h").unwrap();
    }
}

#[test]
fn a_task_source_is_any_shared_or_static_handle() {
    let (value, drops) = counted();
    let left = HandleRef::<Left>::adopt(new(value));
    // SAFETY: live handles and readable memory of our own making.
    unsafe {
        let any = AnyRef::new(left.as_ptr().cast(), "source is a qio object").unwrap();
        assert_eq!(any.as_ptr(), left.as_ptr().cast());
        drop(left);
        assert_eq!(drops.load(Ordering::SeqCst), 0, "the AnyRef holds it");
        drop(any);
        assert_eq!(drops.load(Ordering::SeqCst), 1);

        let lone = &LONE as *const Tagged<()> as *mut std::os::raw::c_void;
        assert_eq!(AnyRef::new(lone, "x").unwrap().as_ptr(), lone);
        assert_eq!(AnyRef::of_static(&LONE).as_ptr(), lone);

        let (value, _drops) = counted();
        let single = new::<Single>(value);
        assert_eq!(
            precondition(AnyRef::new(single.cast(), "source is a qio object")),
            "source is a qio object"
        );
        free(single, "h").unwrap();
        let zeros = [0u64; 4];
        assert!(AnyRef::new(zeros.as_ptr() as *mut _, "x").is_err());
        assert!(AnyRef::new(std::ptr::null_mut(), "x").is_err());
    }
}

#[test]
fn an_owned_handle_lent_to_c_is_freed_with_its_owner() {
    let (value, drops) = counted();
    let owned = OwnedHandle::<Single>::new(value);
    // SAFETY: the live handle it lends.
    assert!(unsafe { borrow(owned.as_ptr(), "h") }.is_ok());
    drop(owned);
    assert_eq!(drops.load(Ordering::SeqCst), 1);
}

#[test]
fn buffers_iovecs_and_out_parameters_refuse_null() {
    // SAFETY: NULL pointers and valid local buffers.
    unsafe {
        assert_eq!(slice::<u8>(std::ptr::null(), 0, "e").ok(), Some(&[][..]));
        assert_eq!(precondition(slice::<u8>(std::ptr::null(), 1, "e")), "e");
        assert!(iov_slices(std::ptr::null(), 0).unwrap().is_empty());
        assert_eq!(
            precondition(iov_slices(std::ptr::null(), 2)),
            "iov != NULL || niov == 0"
        );
        let data = *b"abc";
        let iov = [
            libc::iovec {
                iov_base: data.as_ptr() as *mut _,
                iov_len: 3,
            },
            libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            },
        ];
        assert_eq!(iov_slices(iov.as_ptr(), 2).unwrap(), [&b"abc"[..], &[][..]]);
        let bad = [libc::iovec {
            iov_base: std::ptr::null_mut(),
            iov_len: 5,
        }];
        assert_eq!(
            precondition(iov_slices(bad.as_ptr(), 1)),
            "buf != NULL || len == 0"
        );
        assert_eq!(
            precondition(out_param::<usize>(std::ptr::null_mut(), "n != NULL")),
            "n != NULL"
        );
        let mut buf = [0u8; 8];
        let at = buf.as_mut_ptr();
        assert!(in_out_bufs(at.cast(), at.cast(), 8).is_ok());
        assert_eq!(
            precondition(in_out_bufs(at.cast(), at.add(3).cast(), 4)),
            "input == output || the buffers do not overlap"
        );
        assert!(in_out_bufs(at.cast(), at.add(4).cast(), 4).is_ok());
    }
}

#[test]
fn string_arrays_end_at_null() {
    let (a, b) = (c"a".as_ptr(), c"bc".as_ptr());
    let array: [*const c_char; 3] = [a, b, std::ptr::null()];
    // SAFETY: a NULL-terminated array of NUL-terminated strings, and NULL.
    unsafe {
        assert_eq!(c_strings(array.as_ptr()), [c"a", c"bc"]);
        assert!(c_strings(std::ptr::null()).is_empty());
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

/// Every tag of the C API: the four-byte literals `b"Q..."` of its sources (in
/// `Tag::new` and in the macros that declare channel and authz types).
fn declared_tags() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    let mut dirs = vec![dir];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") && !path.ends_with("tests.rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                let code = text.lines().filter(|l| !l.trim_start().starts_with("//"));
                for line in code {
                    for (at, _) in line.match_indices("b\"Q") {
                        let tag = &line[at + 2..];
                        if tag.len() > 4 && tag.as_bytes()[4] == b'"' {
                            found.push((tag[..4].to_owned(), path.display().to_string()));
                        }
                    }
                }
            }
        }
    }
    found
}

#[test]
fn every_handle_type_has_its_own_tag() {
    let tags = declared_tags();
    // 11 standalone types, the channel family (its base and 7 types), the authz family
    // (its base and 3): a new type updates this count.
    assert_eq!(tags.len(), 24, "found {tags:?}");
    let mut seen = std::collections::HashMap::new();
    for (tag, file) in &tags {
        if let Some(other) = seen.insert(tag.clone(), file.clone()) {
            panic!("tag {tag} is declared in {other} and {file}");
        }
    }
    for (tag, _) in &tags {
        assert!(tag.starts_with('Q') && tag.is_ascii(), "{tag}");
    }
}
