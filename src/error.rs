//! The error type shared by every part of qio.

use std::fmt;

/// What kind of failure an [`Error`] reports; the C API maps each kind to a `QIOError` code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// A failure with no more specific kind.
    Failed,
    /// The algorithm, mode or backend is not available in this build.
    NotSupported,
    /// An argument is well-formed but not acceptable (wrong length, unknown value, ...).
    InvalidArgument,
}

/// A runtime failure: a kind and a human-readable message worded as QEMU words it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: String,
}

/// `Result` with qio's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    /// An error of `kind` carrying `message`.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// The failure's kind.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The failure's message.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}
