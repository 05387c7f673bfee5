//! qio: QEMU's `crypto/` and `io/` layers as a safe Rust library.
//!
//! The C API (`libqio.so.0`, `<qio.h>`) lives in the `qio-capi` crate and uses only
//! what this crate exports; a Rust program can use this crate directly.

pub mod authz;
pub mod config_file;
pub mod crypto;
mod error;
pub mod io;
mod json;
mod qapi;

pub use error::{Error, ErrorKind, Result};
