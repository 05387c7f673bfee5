//! Reading the files an application points qio at: TLS credentials, secrets, PSK
//! keys and authz rules. Each is a small regular file; anything else is refused
//! before it can block the caller (a FIFO with no writer) or exhaust its memory (a
//! 100 MB `ca-cert.pem` takes gnutls half a minute and gigabytes to parse).

use std::fs::{File, OpenOptions};
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use crate::error::strerror;
use crate::{Error, ErrorKind, Result};

/// The largest file qio reads for credentials, secrets or rules: 8 MiB, room for any
/// CA bundle or revocation list in use, and a bound on what a load may cost.
pub const MAX_FILE_SIZE: u64 = 8 << 20;

/// The bytes of the regular file at `path`, at most [`MAX_FILE_SIZE`] of them; or
/// why not, as text for the caller's message (`strerror` for a system error).
pub(crate) fn read(path: &Path) -> std::result::Result<Vec<u8>, String> {
    let os = |e: std::io::Error| strerror(e.raw_os_error().unwrap_or(libc::EIO));
    // Checked before opening, as opening a FIFO or a device may block or act; and
    // again on the open file, which may have been swapped in since.
    check(&std::fs::metadata(path).map_err(os)?)?;
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(os)?;
    let meta = file.metadata().map_err(os)?;
    check(&meta)?;
    let mut data = Vec::with_capacity(meta.len() as usize);
    // The file may grow while it is read: one byte past the limit tells.
    File::take(file, MAX_FILE_SIZE + 1)
        .read_to_end(&mut data)
        .map_err(os)?;
    if data.len() as u64 > MAX_FILE_SIZE {
        return Err(too_large());
    }
    Ok(data)
}

/// [`read`], failing with "Unable to read PATH: why".
pub(crate) fn read_or_fail(path: &Path) -> Result<Vec<u8>> {
    read(path).map_err(|why| {
        Error::new(
            ErrorKind::Failed,
            format!("Unable to read {}: {why}", path.display()),
        )
    })
}

fn check(meta: &std::fs::Metadata) -> std::result::Result<(), String> {
    let kind = meta.file_type();
    if !kind.is_file() {
        let what = match () {
            _ if kind.is_dir() => "a directory",
            _ if kind.is_fifo() => "a FIFO",
            _ if kind.is_socket() => "a socket",
            _ if kind.is_char_device() || kind.is_block_device() => "a device",
            _ => "a special file",
        };
        return Err(format!("Not a regular file ({what})"));
    }
    if meta.len() > MAX_FILE_SIZE {
        return Err(too_large());
    }
    Ok(())
}

fn too_large() -> String {
    format!("File larger than the {MAX_FILE_SIZE}-byte limit")
}
