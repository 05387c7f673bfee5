//! The C API of qio: every `extern "C"` function of `libqio.so.0`, one module per C
//! type, over the safe core in the `qio` crate. `<qio.h>` is generated from this crate
//! by cbindgen (see `tests/header.rs`).

// The exports are `unsafe` because C hands them raw pointers; their contract is the C
// one written in each doc comment (valid pointers of the documented sizes), which the
// header carries. A Rust-style `# Safety` section would repeat it in every function.
#![allow(clippy::missing_safety_doc)]
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(clippy::undocumented_unsafe_blocks)]

mod boundary;
mod callback;
mod digest;
mod ffi;

pub mod afsplit;
pub mod authz;
pub mod backend;
pub mod block;
pub mod block_qapi;
pub mod channel;
pub mod channel_buffer;
pub mod channel_command;
pub mod channel_file;
pub mod channel_null;
pub mod channel_socket;
pub mod channel_tls;
pub mod channel_util;
pub mod channel_websock;
pub mod cipher;
pub mod dns_resolver;
pub mod error;
pub mod hash;
pub mod hmac;
pub mod init;
pub mod ivgen;
pub mod limits;
pub mod net_listener;
pub mod pbkdf;
pub mod random;
pub mod secret;
pub mod socket_address;
pub mod task;
pub mod tls_creds;
pub mod tls_session;
pub mod version;
pub mod x509_utils;
