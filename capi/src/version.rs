//! The version macros of `<qio.h>`. They must equal the workspace version in
//! Cargo.toml (checked at compile time below) and meson.build (checked by a meson test).

/// The major version of the qio this header belongs to.
pub const QIO_MAJOR_VERSION: u32 = 0;
/// The minor version of the qio this header belongs to.
pub const QIO_MINOR_VERSION: u32 = 1;
/// The micro version of the qio this header belongs to.
pub const QIO_MICRO_VERSION: u32 = 0;

const fn parse(text: &str) -> u32 {
    let bytes = text.as_bytes();
    let mut value = 0;
    let mut i = 0;
    while i < bytes.len() {
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

const _: () = assert!(
    QIO_MAJOR_VERSION == parse(env!("CARGO_PKG_VERSION_MAJOR"))
        && QIO_MINOR_VERSION == parse(env!("CARGO_PKG_VERSION_MINOR"))
        && QIO_MICRO_VERSION == parse(env!("CARGO_PKG_VERSION_PATCH")),
    "the QIO_*_VERSION constants disagree with the version in Cargo.toml"
);
