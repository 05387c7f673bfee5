//! `authz-listfile`: an `authz-list` whose policy and rules come from a JSON file,
//! read again when it changes (QEMU's `authz/listfile.c`).
//!
//! The file holds the list's properties, as QEMU documents:
//! `{"policy": "deny", "rules": [{"match": "CN=*.example.com", "policy": "allow",
//! "format": "glob"}]}`. `policy` defaults to `deny` and `format` to `exact`.
//! Where QEMU watches the directory with inotify, qio compares the file's status
//! with the last load's before each decision; a file that no longer loads fails
//! closed, as in QEMU, and the error says why.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

use serde_json::{Map, Value};

use super::list::{List, ListFormat, ListPolicy, ListRule};
use crate::json::Unique;
use crate::{Error, ErrorKind, Result};

/// What identifies one version of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime: (i64, i64),
    ctime: (i64, i64),
}

fn stamp(path: &Path) -> Option<Stamp> {
    let meta = std::fs::metadata(path).ok()?;
    Some(Stamp {
        dev: meta.dev(),
        ino: meta.ino(),
        size: meta.size(),
        mtime: (meta.mtime(), meta.mtime_nsec()),
        ctime: (meta.ctime(), meta.ctime_nsec()),
    })
}

struct Loaded {
    stamp: Option<Stamp>,
    list: Result<List>,
}

/// The rules file and what was last loaded from it.
pub struct ListFile {
    path: PathBuf,
    refresh: bool,
    loaded: Mutex<Loaded>,
}

impl ListFile {
    pub(crate) fn open(path: &Path, refresh: bool) -> Result<ListFile> {
        let stamp = stamp(path);
        let list = load(path)?;
        Ok(ListFile {
            path: path.to_owned(),
            refresh,
            loaded: Mutex::new(Loaded {
                stamp,
                list: Ok(list),
            }),
        })
    }

    pub(crate) fn is_allowed(&self, identity: &str) -> Result<bool> {
        let mut loaded = self.loaded.lock().unwrap_or_else(PoisonError::into_inner);
        if self.refresh {
            // The status is taken before reading, so a change during the read is
            // seen next time.
            let now = stamp(&self.path);
            if now.is_none() || now != loaded.stamp {
                *loaded = Loaded {
                    stamp: now,
                    list: load(&self.path),
                };
            }
        }
        match &loaded.list {
            Ok(list) => Ok(list.is_allowed(identity)),
            Err(e) => Err(e.clone()),
        }
    }
}

fn load(path: &Path) -> Result<List> {
    let text = crate::config_file::read(path).map_err(|why| {
        Error::new(
            ErrorKind::Failed,
            format!("Unable to read '{}': {why}", path.display()),
        )
    })?;
    parse_rules_file(&text, path)
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

/// Parses a rules file's bytes (`path` names it in messages), with the messages of
/// QEMU's QAPI input visitor for what is missing, unexpected or of the wrong type.
pub fn parse_rules_file(text: &[u8], path: &Path) -> Result<List> {
    let Unique(value) = serde_json::from_slice(text)
        .map_err(|e| invalid(format!("Unable to parse '{}': {e}", path.display())))?;
    let Value::Object(mut top) = value else {
        return Err(invalid(format!(
            "File '{}' must contain a JSON object",
            path.display()
        )));
    };
    let policy = match top.remove("policy") {
        Some(value) => policy(&value, "policy")?,
        None => ListPolicy::Deny,
    };
    let rules = match top.remove("rules") {
        None => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .enumerate()
            .map(|(i, item)| rule(item, &format!("rules[{i}]")))
            .collect::<Result<_>>()?,
        Some(_) => return Err(wrong_type("rules", "array")),
    };
    no_more(&top, "")?;
    Ok(List::new(policy, rules))
}

fn rule(item: Value, name: &str) -> Result<ListRule> {
    let Value::Object(mut fields) = item else {
        return Err(wrong_type(name, "object"));
    };
    let mut take = |key: &str| {
        fields
            .remove(key)
            .map(|value| (value, format!("{name}.{key}")))
    };
    let (text, text_name) =
        take("match").ok_or_else(|| invalid(format!("Parameter '{name}.match' is missing")))?;
    let Value::String(text) = text else {
        return Err(wrong_type(&text_name, "string"));
    };
    let (value, policy_name) =
        take("policy").ok_or_else(|| invalid(format!("Parameter '{name}.policy' is missing")))?;
    let policy = policy(&value, &policy_name)?;
    let format = match take("format") {
        None => ListFormat::Exact,
        Some((value, format_name)) => match enum_value(&value, &format_name)? {
            "exact" => ListFormat::Exact,
            "glob" => ListFormat::Glob,
            other => return Err(bad_value(&format_name, other)),
        },
    };
    no_more(&fields, &format!("{name}."))?;
    Ok(ListRule {
        text,
        policy,
        format,
    })
}

fn policy(value: &Value, name: &str) -> Result<ListPolicy> {
    match enum_value(value, name)? {
        "deny" => Ok(ListPolicy::Deny),
        "allow" => Ok(ListPolicy::Allow),
        other => Err(bad_value(name, other)),
    }
}

fn enum_value<'a>(value: &'a Value, name: &str) -> Result<&'a str> {
    value.as_str().ok_or_else(|| wrong_type(name, "string"))
}

fn wrong_type(name: &str, expected: &str) -> Error {
    invalid(format!(
        "Invalid parameter type for '{name}', expected: {expected}"
    ))
}

fn bad_value(name: &str, value: &str) -> Error {
    invalid(format!(
        "Parameter '{name}' does not accept value '{value}'"
    ))
}

fn no_more(rest: &Map<String, Value>, prefix: &str) -> Result<()> {
    match rest.keys().next() {
        Some(key) => Err(invalid(format!("Parameter '{prefix}{key}' is unexpected"))),
        None => Ok(()),
    }
}
