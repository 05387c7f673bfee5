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
    /// A non-blocking channel could not transfer anything now (`QIO_CHANNEL_ERR_BLOCK`):
    /// not a failure, the caller waits for the channel to become ready and retries.
    WouldBlock,
    /// A deadline passed (a handshake the peer did not complete in time).
    TimedOut,
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

    /// A failed system call: `message`, then the text of `errno`, as QEMU's
    /// `error_setg_errno` writes it.
    pub fn os(message: &str, errno: i32) -> Self {
        Error::new(ErrorKind::Failed, format!("{message}: {}", strerror(errno)))
    }

    /// The [`ErrorKind::WouldBlock`] "error".
    pub fn would_block_error() -> Self {
        Error::new(ErrorKind::WouldBlock, "Resource temporarily unavailable")
    }

    /// Whether this is [`ErrorKind::WouldBlock`].
    pub fn would_block(&self) -> bool {
        self.kind == ErrorKind::WouldBlock
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

/// The C library's text for `errno` (`strerror`, thread-safe).
pub(crate) fn strerror(errno: i32) -> String {
    let mut buf = [0u8; 128];
    // SAFETY: the XSI strerror_r writes a NUL-terminated string into `buf`.
    if unsafe { libc::strerror_r(errno, buf.as_mut_ptr().cast(), buf.len()) } != 0 {
        return format!("Unknown error {errno}");
    }
    let len = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..len]).into_owned()
}
