//! The limits qio applies to what it is given to read, for applications to check
//! against or to quote.

/// The largest file qio reads for TLS credentials, PSK keys, secrets and authz rules:
/// 8 MiB. A larger file, or one that is not a regular file (a FIFO, a device, a
/// directory), fails to load with an error saying so, at creation and at reload.
pub const QIO_CONFIG_FILE_MAX_SIZE: u64 = 8 << 20;

const _: () = assert!(QIO_CONFIG_FILE_MAX_SIZE == qio::config_file::MAX_FILE_SIZE);
