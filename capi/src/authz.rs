//! `QAuthZ`: authorization policies (QEMU's `authz-simple`, `authz-list` and
//! `authz-listfile` objects), shared by reference. `QAuthZSimple`, `QAuthZList` and
//! `QAuthZListFile` handles are `QAuthZ` handles; `QAUTHZ()` upcasts them.

use std::ffi::OsStr;
use std::os::raw::{c_char, c_int};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use glib_sys::{gboolean, GError, GFALSE};
use libc::ssize_t;
use qio::authz::{Authz, List, ListFormat, ListPolicy, ListRule};

use crate::boundary::{ffi_guard, Fail};
use crate::ffi::{self, Castable};

/// What a rule, or a list where no rule matches, decides; QEMU's values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QAuthZListPolicy {
    QAUTHZ_LIST_POLICY_DENY = 0,
    QAUTHZ_LIST_POLICY_ALLOW = 1,
    QAUTHZ_LIST_POLICY__MAX = 2,
}

/// How a rule's text matches an identity; QEMU's values.
#[repr(C)]
#[allow(non_camel_case_types)]
pub enum QAuthZListFormat {
    /// Byte for byte.
    QAUTHZ_LIST_FORMAT_EXACT = 0,
    /// A GLib pattern: `*` any run of characters, `?` any one (g_pattern_match_simple()).
    QAUTHZ_LIST_FORMAT_GLOB = 1,
    QAUTHZ_LIST_FORMAT__MAX = 2,
}

/// A `QAuthZListPolicy` as C passed it, validated before use.
#[repr(transparent)]
pub struct ListPolicyArg(c_int);

/// A `QAuthZListFormat` as C passed it, validated before use.
#[repr(transparent)]
pub struct ListFormatArg(c_int);

/// An authorization policy, shared: qauthz_ref() and qauthz_unref().
pub struct QAuthZ {
    _private: [u8; 0],
}

/// A #QAuthZ allowing one identity; upcast with QAUTHZ().
pub struct QAuthZSimple {
    _private: [u8; 0],
}

/// A #QAuthZ of ordered rules; upcast with QAUTHZ().
pub struct QAuthZList {
    _private: [u8; 0],
}

/// A #QAuthZ whose rules come from a JSON file; upcast with QAUTHZ().
pub struct QAuthZListFile {
    _private: [u8; 0],
}

impl Castable for QAuthZ {
    type Rust = Authz;
    const NAME: &'static str = "QAuthZ";
    const TAG: u32 = u32::from_be_bytes(*b"QAuZ");
}

/// The policy behind a handle of any QAuthZ type, borrowed for one call.
///
/// # Safety
/// `authz` is NULL or a handle the caller holds a reference to.
pub(crate) unsafe fn borrow<'a, C>(authz: *const C, param: &str) -> Result<&'a Authz, Fail> {
    // SAFETY: the caller's contract; arc_borrow checks the tag.
    unsafe { ffi::arc_borrow(authz as *const QAuthZ, param) }
}

fn list_policy(arg: ListPolicyArg) -> Result<ListPolicy, Fail> {
    match arg.0 {
        0 => Ok(ListPolicy::Deny),
        1 => Ok(ListPolicy::Allow),
        _ => Err(Fail::Precondition("policy is a QAuthZListPolicy".into())),
    }
}

fn list_format(arg: ListFormatArg) -> Result<ListFormat, Fail> {
    match arg.0 {
        0 => Ok(ListFormat::Exact),
        1 => Ok(ListFormat::Glob),
        _ => Err(Fail::Precondition("format is a QAuthZListFormat".into())),
    }
}

/// A required C string as UTF-8 text: identities are compared as text, so bytes that
/// are not UTF-8 are refused rather than approximated.
///
/// # Safety
/// `text` is NULL or a NUL-terminated string.
unsafe fn text<'a>(text: *const c_char, param: &str, what: &str) -> Result<&'a str, Fail> {
    // SAFETY: the caller's contract.
    let text = unsafe { ffi::opt_c_str(text) }
        .ok_or_else(|| Fail::Precondition(format!("{param} != NULL").into()))?;
    text.to_str().map_err(|_| {
        Fail::Error(qio::Error::new(
            qio::ErrorKind::InvalidArgument,
            format!("{what} is not valid UTF-8"),
        ))
    })
}

/// # Safety
/// As for [`borrow`].
unsafe fn list<'a>(auth: *const QAuthZList) -> Result<&'a List, Fail> {
    // SAFETY: the caller's contract.
    unsafe { borrow(auth, "auth")? }
        .as_list()
        .ok_or(Fail::Precondition("QAUTHZ_IS_LIST (auth)".into()))
}

/// A policy allowing exactly @identity (e.g. a TLS peer's distinguished name).
///
/// Returns: (transfer full) (nullable): the policy, to drop with qauthz_unref(), or
/// NULL with @error set (@identity not UTF-8).
#[no_mangle]
pub unsafe extern "C" fn qauthz_simple_new(
    identity: *const c_char,
    error: *mut *mut GError,
) -> *mut QAuthZSimple {
    ffi_guard!(std::ptr::null_mut(), error, {
        // SAFETY: the caller's string.
        let identity = unsafe { text(identity, "identity", "Identity")? };
        Ok(ffi::arc_into_handle::<QAuthZ>(Authz::simple(identity)) as *mut QAuthZSimple)
    })
}

/// A list with no rules, deciding @policy until rules are added.
///
/// Returns: (transfer full): the list, to drop with qauthz_unref().
#[no_mangle]
pub unsafe extern "C" fn qauthz_list_new(policy: ListPolicyArg) -> *mut QAuthZList {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(ffi::arc_into_handle::<QAuthZ>(Authz::list(list_policy(policy)?)) as *mut QAuthZList)
    })
}

fn rule(text: &str, policy: ListPolicyArg, format: ListFormatArg) -> Result<ListRule, Fail> {
    Ok(ListRule {
        text: text.to_owned(),
        policy: list_policy(policy)?,
        format: list_format(format)?,
    })
}

/// Adds a rule last: identities that @match_ matches in @format get @policy, unless an
/// earlier rule matched them.
///
/// Returns: the rule's index, or -1 with @error set (@match_ not UTF-8).
#[no_mangle]
pub unsafe extern "C" fn qauthz_list_append_rule(
    auth: *mut QAuthZList,
    match_: *const c_char,
    policy: ListPolicyArg,
    format: ListFormatArg,
    error: *mut *mut GError,
) -> ssize_t {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handle and string, checked.
        let (list, text) = unsafe { (list(auth)?, text(match_, "match", "Rule match")?) };
        Ok(list.append_rule(rule(text, policy, format)?) as ssize_t)
    })
}

/// Inserts a rule at @index (0 first; past the end appends).
///
/// Returns: the rule's index, or -1 with @error set (@match_ not UTF-8).
#[no_mangle]
pub unsafe extern "C" fn qauthz_list_insert_rule(
    auth: *mut QAuthZList,
    match_: *const c_char,
    policy: ListPolicyArg,
    format: ListFormatArg,
    index: usize,
    error: *mut *mut GError,
) -> ssize_t {
    ffi_guard!(-1, error, {
        // SAFETY: the caller's handle and string, checked.
        let (list, text) = unsafe { (list(auth)?, text(match_, "match", "Rule match")?) };
        Ok(list.insert_rule(rule(text, policy, format)?, index) as ssize_t)
    })
}

/// Removes the first rule whose text is @match_.
///
/// Returns: the index it had, or -1 when no rule has that text.
#[no_mangle]
pub unsafe extern "C" fn qauthz_list_delete_rule(
    auth: *mut QAuthZList,
    match_: *const c_char,
) -> ssize_t {
    ffi_guard!(-1, {
        // SAFETY: the caller's handle and string, checked.
        let list = unsafe { list(auth)? };
        let text =
            unsafe { ffi::opt_c_str(match_) }.ok_or(Fail::Precondition("match != NULL".into()))?;
        Ok(text
            .to_str()
            .ok()
            .and_then(|text| list.delete_rule(text))
            .map_or(-1, |index| index as ssize_t))
    })
}

/// The list in the JSON file @filename, e.g. `{"policy": "deny", "rules": [{"match":
/// "CN=*.example.com", "policy": "allow", "format": "glob"}]}` (`policy` defaults to
/// deny, `format` to exact). With @refresh, the file is read again whenever it has
/// changed; while it does not load, qauthz_is_allowed() fails with the reason.
///
/// Returns: (transfer full) (nullable): the policy, to drop with qauthz_unref(), or
/// NULL with @error set.
#[no_mangle]
pub unsafe extern "C" fn qauthz_list_file_new(
    filename: *const c_char,
    refresh: gboolean,
    error: *mut *mut GError,
) -> *mut QAuthZListFile {
    ffi_guard!(std::ptr::null_mut(), error, {
        // SAFETY: the caller's string.
        let filename = unsafe { ffi::opt_c_str(filename) }
            .ok_or(Fail::Precondition("filename != NULL".into()))?;
        let path = Path::new(OsStr::from_bytes(filename.to_bytes()));
        let authz = Authz::list_file(path, refresh != GFALSE)?;
        Ok(ffi::arc_into_handle::<QAuthZ>(authz) as *mut QAuthZListFile)
    })
}

/// Whether @identity is allowed by @authz.
///
/// Returns: TRUE if allowed; FALSE if denied, or with @error set when no decision
/// could be made (a rules file that no longer loads, an identity not UTF-8), which
/// callers treat as a denial.
#[no_mangle]
pub unsafe extern "C" fn qauthz_is_allowed(
    authz: *mut QAuthZ,
    identity: *const c_char,
    error: *mut *mut GError,
) -> gboolean {
    ffi_guard!(GFALSE, error, {
        // SAFETY: the caller's handle and string, checked.
        let (authz, identity) = unsafe {
            (
                borrow(authz, "authz")?,
                text(identity, "identity", "Identity")?,
            )
        };
        Ok(authz.is_allowed(identity)?.into())
    })
}

/// Adds a reference to @authz.
///
/// Returns: (transfer full): @authz.
#[no_mangle]
pub unsafe extern "C" fn qauthz_ref(authz: *mut QAuthZ) -> *mut QAuthZ {
    // SAFETY: the caller's handle, checked.
    ffi_guard!(std::ptr::null_mut(), {
        unsafe { ffi::arc_ref(authz, "authz") }
    })
}

/// Drops a reference to @authz; the last one frees it. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qauthz_unref(authz: *mut QAuthZ) {
    // SAFETY: the caller's handle, checked.
    ffi_guard!((), { unsafe { ffi::arc_unref(authz, "authz") } })
}
