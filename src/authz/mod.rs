//! Authorization: whether an identity (a TLS peer's distinguished name, a user name)
//! may use a service. QEMU's `authz/` objects, built by constructors instead of QOM:
//! [`Authz::simple`] (one identity), [`Authz::list`] (ordered rules, exact or glob
//! match) and [`Authz::list_file`] (the rules of a list in a JSON file).

mod list;
mod list_file;

use std::sync::Arc;

pub use list::{List, ListFormat, ListPolicy, ListRule};
pub use list_file::{parse_rules_file, ListFile};

use crate::Result;

/// An authorization policy, shared: clones are the same policy (a list's rules
/// changed through one are seen by all).
#[derive(Clone)]
pub struct Authz(Arc<Kind>);

enum Kind {
    Simple(String),
    List(List),
    ListFile(ListFile),
}

impl Authz {
    /// Allows exactly `identity` (`authz-simple`).
    pub fn simple(identity: &str) -> Authz {
        Authz(Arc::new(Kind::Simple(identity.to_owned())))
    }

    /// A list with no rules, deciding by `policy` until rules are added (`authz-list`).
    pub fn list(policy: ListPolicy) -> Authz {
        Authz(Arc::new(Kind::List(List::new(policy, Vec::new()))))
    }

    /// The list in the JSON file at `path` (`authz-listfile`); with `refresh`, the
    /// file is read again whenever it has changed since the last check.
    pub fn list_file(path: &std::path::Path, refresh: bool) -> Result<Authz> {
        Ok(Authz(Arc::new(Kind::ListFile(ListFile::open(
            path, refresh,
        )?))))
    }

    /// Whether `identity` is allowed (`qauthz_is_allowed`). An error means no decision
    /// could be made (a rules file that no longer loads), which callers treat as a
    /// denial.
    pub fn is_allowed(&self, identity: &str) -> Result<bool> {
        match &*self.0 {
            Kind::Simple(allowed) => Ok(allowed == identity),
            Kind::List(list) => Ok(list.is_allowed(identity)),
            Kind::ListFile(file) => file.is_allowed(identity),
        }
    }

    /// The rule list, when this is an `authz-list`.
    pub fn as_list(&self) -> Option<&List> {
        match &*self.0 {
            Kind::List(list) => Some(list),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
