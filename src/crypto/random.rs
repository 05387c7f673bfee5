//! Cryptographically strong random bytes (QEMU's `crypto/random.h`), from the kernel's
//! `getrandom(2)`, as QEMU's platform backend does.

use crate::{Error, ErrorKind, Result};

/// Fills `buf` with random bytes, blocking only until the kernel's pool is initialized.
pub fn fill(buf: &mut [u8]) -> Result<()> {
    let mut filled = 0;
    while filled < buf.len() {
        let rest = &mut buf[filled..];
        // SAFETY: `rest` is a valid writable buffer of `rest.len()` bytes.
        let got = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        match usize::try_from(got) {
            Ok(n) => filled += n,
            Err(_) => {
                let err = std::io::Error::last_os_error();
                if err.kind() != std::io::ErrorKind::Interrupted {
                    return Err(Error::new(
                        ErrorKind::Failed,
                        format!("Unable to read random bytes: {err}"),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn fills_large_buffers_and_differs() {
        let mut a = vec![0u8; 1 << 20];
        let mut b = vec![0u8; 1 << 20];
        super::fill(&mut a).unwrap();
        super::fill(&mut b).unwrap();
        assert_ne!(a, b);
        // A 1 MiB buffer from a working generator holds every byte value.
        let mut seen = [false; 256];
        a.iter().for_each(|&x| seen[usize::from(x)] = true);
        assert!(seen.iter().all(|&s| s));
        super::fill(&mut []).unwrap();
    }
}
