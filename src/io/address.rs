//! Socket addresses: QEMU's QAPI `SocketAddress` (inet, unix, vsock, fd) with the
//! parsing, printing and `struct sockaddr` conversions of `util/qemu-sockets.c`.
//!
//! The text form is QEMU's (`socket_parse`), with its error messages: `tcp:HOST:PORT`
//! (or `inet:HOST:PORT`, or `HOST:PORT` alone; an IPv6 host in brackets; options
//! `,ipv4`, `,ipv6` and `,numeric`, each also `=on` or `=off`), `unix:PATH`,
//! `vsock:CID:PORT` and `fd:NAME`, plus `unix-abstract:NAME` for Linux abstract sockets.

use std::ffi::{CStr, OsStr};
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use socket2::{SockAddr, SockAddrStorage};

use crate::{Error, ErrorKind, Result};

/// A TCP address: host and port as given (names are resolved when used).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct InetAddress {
    /// A name, a numeric IPv4 or IPv6 address (without brackets), or empty for any.
    pub host: String,
    /// A port number or service name.
    pub port: String,
    /// Host and port are numeric: resolve without DNS.
    pub numeric: bool,
    /// Use (`Some(true)`) or avoid IPv4; `None`: as the host resolves.
    pub ipv4: Option<bool>,
    /// Use (`Some(true)`) or avoid IPv6; `None`: as the host resolves.
    pub ipv6: Option<bool>,
}

/// A UNIX socket address: a path, or a name in the Linux abstract namespace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UnixAddress {
    pub path: PathBuf,
    pub is_abstract: bool,
}

impl UnixAddress {
    /// The `struct sockaddr_un` to bind or connect to, as QEMU builds it: a path may
    /// fill all of `sun_path` without a terminating NUL; an abstract name follows a NUL
    /// and the length covers the name and no more.
    pub fn to_sockaddr(&self) -> Result<SockAddr> {
        let name = self.path.as_os_str().as_bytes();
        let mut storage = SockAddrStorage::zeroed();
        // SAFETY: sockaddr_un is one of the platform's sockaddr types.
        let un = unsafe { storage.view_as::<libc::sockaddr_un>() };
        let start = usize::from(self.is_abstract);
        if name.len() > un.sun_path.len() - start {
            return Err(invalid(format!(
                "UNIX socket path '{}' is too long",
                self.path.display()
            )));
        }
        if !self.is_abstract && name.contains(&0) {
            return Err(invalid(format!(
                "UNIX socket path '{}' contains a NUL byte",
                self.path.display()
            )));
        }
        un.sun_family = libc::AF_UNIX as libc::sa_family_t;
        for (dst, &src) in un.sun_path[start..].iter_mut().zip(name) {
            *dst = src as libc::c_char;
        }
        let path_len = match (self.is_abstract, name.len()) {
            (true, n) => 1 + n,
            // An empty path is an unnamed socket, as getsockname() reports one.
            (false, 0) => 0,
            // The terminating NUL when it fits.
            (false, n) => (n + 1).min(un.sun_path.len()),
        };
        let len = std::mem::offset_of!(libc::sockaddr_un, sun_path) + path_len;
        // SAFETY: the storage is initialized (zeroed, then filled) up to `len`.
        Ok(unsafe { SockAddr::new(storage, len as libc::socklen_t) })
    }
}

/// Where a socket connects or listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SocketAddress {
    Inet(InetAddress),
    Unix(UnixAddress),
    Vsock {
        cid: u32,
        port: u32,
    },
    /// A descriptor number (QEMU also accepts monitor fd names; qio has no monitor).
    Fd(String),
}

fn invalid(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::InvalidArgument, message)
}

impl SocketAddress {
    /// Parses the text form (see the module documentation).
    pub fn parse(text: &str) -> Result<SocketAddress> {
        let unix = |path: &str, is_abstract| match path {
            "" => Err(invalid("invalid Unix socket address")),
            path => Ok(SocketAddress::Unix(UnixAddress {
                path: PathBuf::from(path),
                is_abstract,
            })),
        };
        if let Some(path) = text.strip_prefix("unix:") {
            unix(path, false)
        } else if let Some(name) = text.strip_prefix("unix-abstract:") {
            unix(name, true)
        } else if let Some(name) = text.strip_prefix("fd:") {
            match name {
                "" => Err(invalid("invalid file descriptor address")),
                name => Ok(SocketAddress::Fd(name.to_owned())),
            }
        } else if let Some(rest) = text.strip_prefix("vsock:") {
            parse_vsock(rest)
        } else {
            let rest = text
                .strip_prefix("tcp:")
                .or_else(|| text.strip_prefix("inet:"))
                .unwrap_or(text);
            parse_inet(rest).map(SocketAddress::Inet)
        }
    }

    /// The address of a bound or connected socket (QEMU's
    /// `socket_sockaddr_to_address`): an inet host and port as numeric strings (a
    /// link-local IPv6 host with its `%scope`), `ipv4` or `ipv6` set by the family; a
    /// UNIX path or abstract name up to its first NUL; a vsock CID and port.
    pub fn from_sockaddr(addr: &SockAddr) -> Result<SocketAddress> {
        match libc::c_int::from(addr.family()) {
            libc::AF_INET | libc::AF_INET6 => {
                let (host, port) = numeric_host_port(addr)?;
                let v4 = addr.is_ipv4();
                Ok(SocketAddress::Inet(InetAddress {
                    host,
                    port,
                    ipv4: v4.then_some(true),
                    ipv6: (!v4).then_some(true),
                    ..InetAddress::default()
                }))
            }
            libc::AF_UNIX => Ok(SocketAddress::Unix(unix_from_sockaddr(addr))),
            libc::AF_VSOCK => {
                let (cid, port) = addr.as_vsock_address().unwrap_or_default();
                Ok(SocketAddress::Vsock { cid, port })
            }
            family => Err(Error::new(
                ErrorKind::Failed,
                format!("socket family {family} unsupported"),
            )),
        }
    }

    /// The socket address of a UNIX or vsock address (inet needs resolving: see
    /// [`crate::io::dns`]).
    pub(crate) fn to_sockaddr(&self) -> Result<Option<SockAddr>> {
        match self {
            SocketAddress::Unix(unix) => unix.to_sockaddr().map(Some),
            SocketAddress::Vsock { cid, port } => Ok(Some(SockAddr::vsock(*cid, *port))),
            SocketAddress::Inet(_) | SocketAddress::Fd(_) => Ok(None),
        }
    }
}

/// `HOST:PORT`, `:PORT` or `[IPV6]:PORT`, then options (QEMU's `inet_parse`, which
/// names `text` without its `tcp:` prefix in its errors).
fn parse_inet(text: &str) -> Result<InetAddress> {
    let (host, rest, error) = if let Some(rest) = text.strip_prefix(':') {
        ("", Some(rest), "error parsing port in address")
    } else if let Some(bracketed) = text.strip_prefix('[') {
        let split = bracketed
            .split_once(']')
            .filter(|(host, _)| !host.is_empty());
        match split {
            Some((host, rest)) => (host, rest.strip_prefix(':'), "error parsing IPv6 address"),
            None => ("", None, "error parsing IPv6 address"),
        }
    } else {
        match text.split_once(':') {
            Some((host, rest)) => (host, Some(rest), "error parsing address"),
            None => ("", None, "error parsing address"),
        }
    };
    let (port, options) = match rest {
        Some(rest) => rest.split_once(',').unwrap_or((rest, "")),
        None => ("", ""),
    };
    if port.is_empty() {
        return Err(invalid(format!("{error} '{text}'")));
    }
    let mut addr = InetAddress {
        host: host.to_owned(),
        port: port.to_owned(),
        ..InetAddress::default()
    };
    if rest.is_some_and(|rest| rest.contains(',')) {
        for option in options.split(',') {
            parse_inet_option(&mut addr, option)?;
        }
    }
    Ok(addr)
}

/// One `,`-separated inet option: `ipv4`, `ipv6` or `numeric`, each optionally `=on`
/// or `=off`.
fn parse_inet_option(addr: &mut InetAddress, option: &str) -> Result<()> {
    let name_len = option.find('=').unwrap_or(option.len());
    let (name, value) = option.split_at(name_len);
    let on = match value {
        "" | "=on" => true,
        "=off" => false,
        _ if matches!(name, "ipv4" | "ipv6" | "numeric") => {
            return Err(invalid(format!("error parsing '{name}' flag '{value}'")));
        }
        _ => return Err(invalid(format!("Invalid parameter '{option}'"))),
    };
    match name {
        "ipv4" => addr.ipv4 = Some(on),
        "ipv6" => addr.ipv6 = Some(on),
        "numeric" => addr.numeric = on,
        _ => return Err(invalid(format!("Invalid parameter '{option}'"))),
    }
    Ok(())
}

/// `CID:PORT`, both decimal 32-bit numbers (QEMU's `vsock_parse` and the checks of
/// `vsock_parse_vaddr_to_sockaddr`).
fn parse_vsock(text: &str) -> Result<SocketAddress> {
    let (cid, rest) = text
        .split_once(':')
        .filter(|(cid, port)| !cid.is_empty() && !port.is_empty() && !port.starts_with(','))
        .ok_or_else(|| invalid(format!("error parsing address '{text}'")))?;
    if rest.contains(',') {
        return Err(invalid(format!("trailing characters in address '{text}'")));
    }
    let number = |value: &str, what: &str| {
        value
            .bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| value.parse::<u32>().ok())
            .flatten()
            .ok_or_else(|| invalid(format!("Failed to parse {what} '{value}'")))
    };
    Ok(SocketAddress::Vsock {
        cid: number(cid, "cid")?,
        port: number(rest, "port")?,
    })
}

/// The numeric host and port of an inet `addr`, as QEMU formats them (getnameinfo
/// with `NI_NUMERICHOST | NI_NUMERICSERV`).
fn numeric_host_port(addr: &SockAddr) -> Result<(String, String)> {
    let mut host = [0 as libc::c_char; libc::NI_MAXHOST as usize];
    let mut port = [0 as libc::c_char; 32];
    // SAFETY: `addr` is valid for its length; the buffers are writable for the sizes
    // passed and getnameinfo NUL-terminates what it writes.
    let rc = unsafe {
        libc::getnameinfo(
            addr.as_ptr().cast(),
            addr.len(),
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            port.as_mut_ptr(),
            port.len() as libc::socklen_t,
            libc::NI_NUMERICHOST | libc::NI_NUMERICSERV,
        )
    };
    if rc != 0 {
        return Err(Error::new(
            ErrorKind::Failed,
            "Cannot format numeric socket address",
        ));
    }
    // SAFETY: getnameinfo NUL-terminated both buffers.
    let text = |buf: &[libc::c_char]| {
        unsafe { CStr::from_ptr(buf.as_ptr()) }
            .to_string_lossy()
            .into_owned()
    };
    Ok((text(&host), text(&port)))
}

/// A Unix `addr` as QEMU reads it: the bytes of `sun_path` the length covers, up to the
/// first NUL; a leading NUL marks an abstract name.
fn unix_from_sockaddr(addr: &SockAddr) -> UnixAddress {
    // SAFETY: the family is AF_UNIX, and the storage is a whole sockaddr_storage, so
    // it holds a sockaddr_un.
    let un = unsafe { &*addr.as_ptr().cast::<libc::sockaddr_un>() };
    let len = (addr.len() as usize)
        .saturating_sub(std::mem::offset_of!(libc::sockaddr_un, sun_path))
        .min(un.sun_path.len());
    let bytes: Vec<u8> = un.sun_path[..len].iter().map(|&c| c as u8).collect();
    let is_abstract = bytes.first() == Some(&0);
    let name = &bytes[usize::from(is_abstract)..];
    let name = name.split(|&b| b == 0).next().unwrap_or_default();
    UnixAddress {
        path: PathBuf::from(OsStr::from_bytes(name)),
        is_abstract,
    }
}

impl fmt::Display for SocketAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SocketAddress::Inet(inet) => {
                match inet.host.contains(':') {
                    true => write!(f, "tcp:[{}]:{}", inet.host, inet.port)?,
                    false => write!(f, "tcp:{}:{}", inet.host, inet.port)?,
                }
                for (name, value) in [("ipv4", inet.ipv4), ("ipv6", inet.ipv6)] {
                    if let Some(value) = value {
                        write!(f, ",{name}={}", if value { "on" } else { "off" })?;
                    }
                }
                if inet.numeric {
                    f.write_str(",numeric")?;
                }
                Ok(())
            }
            SocketAddress::Unix(unix) => {
                let kind = if unix.is_abstract {
                    "unix-abstract"
                } else {
                    "unix"
                };
                write!(f, "{kind}:{}", unix.path.display())
            }
            SocketAddress::Vsock { cid, port } => write!(f, "vsock:{cid}:{port}"),
            SocketAddress::Fd(name) => write!(f, "fd:{name}"),
        }
    }
}

#[cfg(test)]
mod tests;
