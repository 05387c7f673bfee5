//! `authz-list`: ordered rules, the first that matches decides, a default policy
//! otherwise (QEMU's `authz/list.c`).

use std::ffi::CString;
use std::sync::{Mutex, MutexGuard, PoisonError};

/// What a rule, or a list with no matching rule, decides (`QAuthZListPolicy`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListPolicy {
    Deny = 0,
    Allow = 1,
}

/// How a rule's `match` is compared with an identity (`QAuthZListFormat`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListFormat {
    /// Byte for byte.
    Exact = 0,
    /// A GLib pattern: `*` matches any run of characters, `?` any one character
    /// (`g_pattern_match_simple`).
    Glob = 1,
}

/// One rule: `policy` applies to identities that `text` matches in `format`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListRule {
    pub text: String,
    pub policy: ListPolicy,
    pub format: ListFormat,
}

impl ListRule {
    fn matches(&self, identity: &str) -> bool {
        match self.format {
            ListFormat::Exact => self.text == identity,
            ListFormat::Glob => {
                let (Ok(pattern), Ok(identity)) =
                    (CString::new(self.text.as_str()), CString::new(identity))
                else {
                    return false; // C strings cannot hold a NUL: neither side can match
                };
                // SAFETY: two NUL-terminated strings.
                unsafe {
                    glib_sys::g_pattern_match_simple(pattern.as_ptr(), identity.as_ptr()) != 0
                }
            }
        }
    }
}

/// The rules of an `authz-list` and its default policy.
pub struct List {
    policy: ListPolicy,
    rules: Mutex<Vec<ListRule>>,
}

impl List {
    pub(crate) fn new(policy: ListPolicy, rules: Vec<ListRule>) -> List {
        List {
            policy,
            rules: Mutex::new(rules),
        }
    }

    fn rules(&self) -> MutexGuard<'_, Vec<ListRule>> {
        self.rules.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The policy of the first rule that matches `identity`, else the default.
    pub fn is_allowed(&self, identity: &str) -> bool {
        let rules = self.rules();
        let policy = rules
            .iter()
            .find(|rule| rule.matches(identity))
            .map_or(self.policy, |rule| rule.policy);
        policy == ListPolicy::Allow
    }

    /// Adds `rule` last and returns its index (`qauthz_list_append_rule`).
    pub fn append_rule(&self, rule: ListRule) -> usize {
        let mut rules = self.rules();
        rules.push(rule);
        rules.len() - 1
    }

    /// Inserts `rule` at `index` (at the end when `index` is past it) and returns where
    /// it went (`qauthz_list_insert_rule`).
    pub fn insert_rule(&self, rule: ListRule, index: usize) -> usize {
        let mut rules = self.rules();
        let index = index.min(rules.len());
        rules.insert(index, rule);
        index
    }

    /// Removes the first rule whose text is `text` and returns its index, if any
    /// (`qauthz_list_delete_rule`).
    pub fn delete_rule(&self, text: &str) -> Option<usize> {
        let mut rules = self.rules();
        let index = rules.iter().position(|rule| rule.text == text)?;
        rules.remove(index);
        Some(index)
    }
}
