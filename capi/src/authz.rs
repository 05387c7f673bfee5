//! `QAuthZ`: authorization policies (QEMU's `authz-simple`, `authz-list` and
//! `authz-listfile` objects), shared by reference. `QAuthZSimple`, `QAuthZList` and
//! `QAuthZListFile` handles are `QAuthZ` handles; `QAUTHZ()` upcasts them.

use std::ffi::{CStr, OsStr};
use std::os::raw::c_char;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use glib_sys::{gboolean, GError, GFALSE};
use libc::ssize_t;
use qio::authz::{Authz, List, ListFormat, ListPolicy, ListRule};

use crate::boundary::{ffi_guard, Fail};
use crate::ffi::{
    c_str, decode, enum_arg, handle, opt_c_str, ref_handle, unref_handle, utf8, Castable, Shared,
    Tag,
};

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

enum_arg! {
    /// A `QAuthZListPolicy` as C passed it: any int, decoded before use.
    ListPolicyArg(QAuthZListPolicy) => ListPolicy {
        QAUTHZ_LIST_POLICY_DENY => ListPolicy::Deny,
        QAUTHZ_LIST_POLICY_ALLOW => ListPolicy::Allow,
    }
}

enum_arg! {
    /// A `QAuthZListFormat` as C passed it: any int, decoded before use.
    ListFormatArg(QAuthZListFormat) => ListFormat {
        QAUTHZ_LIST_FORMAT_EXACT => ListFormat::Exact,
        QAUTHZ_LIST_FORMAT_GLOB => ListFormat::Glob,
    }
}

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

/// The authorization types share one value, [`Authz`]; a subtype's handle is a
/// `QAuthZ` one (`QAUTHZ()` is a plain cast).
macro_rules! authz_type {
    ($c:ident, $tag:literal, $check:expr) => {
        impl Castable for $c {
            type Ownership = Shared;
            type Rust = Authz;
            const NAME: &'static str = stringify!($c);
            const TAG: Tag = Tag::new($tag);
            const CHECK: Option<&'static str> = $check;
        }
    };
}
authz_type!(QAuthZ, b"QAz*", None);
authz_type!(QAuthZSimple, b"QAzs", Some("QAUTHZ_IS_SIMPLE"));
authz_type!(QAuthZList, b"QAzl", Some("QAUTHZ_IS_LIST"));
authz_type!(QAuthZListFile, b"QAzf", Some("QAUTHZ_IS_LIST_FILE"));

/// A rule's text: a required UTF-8 string (identities are compared as text, so bytes
/// that are not UTF-8 are refused rather than approximated).
fn rule_text(text: Option<&CStr>) -> Result<&str, Fail> {
    let text = text.ok_or(Fail::Precondition("match != NULL".into()))?;
    crate::ffi::to_utf8(text, "Rule match")
}

/// The rules of a list policy.
fn list(authz: &Authz) -> Result<&List, Fail> {
    authz
        .as_list()
        .ok_or(Fail::Precondition("QAUTHZ_IS_LIST (auth)".into()))
}

fn rule(text: &str, policy: ListPolicyArg, format: ListFormatArg) -> Result<ListRule, Fail> {
    Ok(ListRule {
        text: text.to_owned(),
        policy: decode!(policy),
        format: decode!(format),
    })
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
        Ok(crate::ffi::new(Authz::simple(utf8!(identity, "Identity"))))
    })
}

/// A list with no rules, deciding @policy until rules are added.
///
/// Returns: (transfer full): the list, to drop with qauthz_unref().
#[no_mangle]
pub unsafe extern "C" fn qauthz_list_new(policy: ListPolicyArg) -> *mut QAuthZList {
    ffi_guard!(std::ptr::null_mut(), {
        Ok(crate::ffi::new(Authz::list(decode!(policy))))
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
        let (list, text) = (list(handle!(auth))?, rule_text(opt_c_str!(match_))?);
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
        let (list, text) = (list(handle!(auth))?, rule_text(opt_c_str!(match_))?);
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
        let list = list(handle!(auth))?;
        let text = opt_c_str!(match_).ok_or(Fail::Precondition("match != NULL".into()))?;
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
        let path = Path::new(OsStr::from_bytes(c_str!(filename).to_bytes()));
        Ok(crate::ffi::new(Authz::list_file(path, refresh != GFALSE)?))
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
        let (authz, identity) = (handle!(authz), utf8!(identity, "Identity"));
        Ok(authz.is_allowed(identity)?.into())
    })
}

/// Adds a reference to @authz.
///
/// Returns: (transfer full): @authz.
#[no_mangle]
pub unsafe extern "C" fn qauthz_ref(authz: *mut QAuthZ) -> *mut QAuthZ {
    ffi_guard!(std::ptr::null_mut(), { ref_handle!(authz) })
}

/// Drops a reference to @authz; the last one frees it. NULL is ignored.
#[no_mangle]
pub unsafe extern "C" fn qauthz_unref(authz: *mut QAuthZ) {
    ffi_guard!((), { unref_handle!(authz) })
}
