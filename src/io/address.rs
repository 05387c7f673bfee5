//! Socket addresses: QEMU's QAPI `SocketAddress` (inet, unix, vsock, fd) with a text
//! form that parses and prints back.
//!
//! Text forms: `tcp:HOST:PORT` (or `inet:`; an IPv6 host in brackets, options
//! `,ipv4[=on|off]`, `,ipv6[=on|off]` and `,numeric`), `unix:PATH`,
//! `unix-abstract:NAME`, `vsock:CID:PORT` and `fd:NAME`.

use std::ffi::OsStr;
use std::fmt;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use socket2::SockAddr;

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

fn invalid(text: &str, why: &str) -> Error {
    Error::new(
        ErrorKind::InvalidArgument,
        format!("error parsing address '{text}': {why}"),
    )
}

impl SocketAddress {
    /// Parses the text form (see the module documentation).
    pub fn parse(text: &str) -> Result<SocketAddress> {
        let (kind, rest) = text
            .split_once(':')
            .ok_or_else(|| invalid(text, "expected TYPE:ADDRESS"))?;
        match kind {
            "tcp" | "inet" => parse_inet(text, rest).map(SocketAddress::Inet),
            "unix" | "unix-abstract" if rest.is_empty() => Err(invalid(text, "empty path")),
            "unix" | "unix-abstract" => Ok(SocketAddress::Unix(UnixAddress {
                path: PathBuf::from(rest),
                is_abstract: kind == "unix-abstract",
            })),
            "vsock" => {
                let (cid, port) = rest
                    .split_once(':')
                    .ok_or_else(|| invalid(text, "expected CID:PORT"))?;
                let number = |s: &str, what: &str| {
                    s.parse::<u32>()
                        .map_err(|_| invalid(text, &format!("invalid {what} '{s}'")))
                };
                Ok(SocketAddress::Vsock {
                    cid: number(cid, "cid")?,
                    port: number(port, "port")?,
                })
            }
            "fd" if rest.is_empty() => Err(invalid(text, "empty fd name")),
            "fd" => Ok(SocketAddress::Fd(rest.to_owned())),
            _ => Err(invalid(text, &format!("unknown address type '{kind}'"))),
        }
    }

    /// The address of a bound or connected socket (QEMU's
    /// `socket_sockaddr_to_address`): numeric host and port for inet.
    pub fn from_sockaddr(addr: &SockAddr) -> Result<SocketAddress> {
        if let Some(std) = addr.as_socket() {
            return Ok(SocketAddress::Inet(InetAddress {
                host: std.ip().to_string(),
                port: std.port().to_string(),
                ..InetAddress::default()
            }));
        }
        if addr.is_unix() {
            let (path, is_abstract) = match (addr.as_pathname(), addr.as_abstract_namespace()) {
                (Some(path), _) => (path.to_path_buf(), false),
                (None, Some(name)) => (PathBuf::from(OsStr::from_bytes(name)), true),
                (None, None) => (PathBuf::new(), false),
            };
            return Ok(SocketAddress::Unix(UnixAddress { path, is_abstract }));
        }
        if let Some((cid, port)) = addr.as_vsock_address() {
            return Ok(SocketAddress::Vsock { cid, port });
        }
        Err(Error::new(
            ErrorKind::Failed,
            format!("socket family {} unsupported", addr.family()),
        ))
    }

    /// The socket address of a UNIX or vsock address (inet needs resolving: see
    /// [`crate::io::dns`]).
    pub(crate) fn to_sockaddr(&self) -> Result<Option<SockAddr>> {
        match self {
            SocketAddress::Unix(unix) => {
                let too_long = || {
                    Error::new(
                        ErrorKind::InvalidArgument,
                        format!("UNIX socket path '{}' is too long", unix.path.display()),
                    )
                };
                // socket2 takes an abstract name as a path starting with NUL, and
                // sizes the address to the name (QEMU's default, `tight=on`).
                let path = match unix.is_abstract {
                    true => {
                        let mut name = vec![0];
                        name.extend_from_slice(unix.path.as_os_str().as_bytes());
                        PathBuf::from(OsStr::from_bytes(&name))
                    }
                    false => unix.path.clone(),
                };
                SockAddr::unix(path).map(Some).map_err(|_| too_long())
            }
            SocketAddress::Vsock { cid, port } => Ok(Some(SockAddr::vsock(*cid, *port))),
            SocketAddress::Inet(_) | SocketAddress::Fd(_) => Ok(None),
        }
    }
}

/// `HOST:PORT[,option...]`, the host possibly a bracketed IPv6 address.
fn parse_inet(text: &str, rest: &str) -> Result<InetAddress> {
    let (hostport, options) = match rest.find(',') {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, ""),
    };
    let (host, port) = match hostport.strip_prefix('[') {
        Some(bracketed) => {
            let (host, tail) = bracketed
                .split_once(']')
                .ok_or_else(|| invalid(text, "missing ']' after IPv6 address"))?;
            let port = tail
                .strip_prefix(':')
                .ok_or_else(|| invalid(text, "expected HOST:PORT"))?;
            (host, port)
        }
        None => hostport
            .rsplit_once(':')
            .filter(|(host, _)| !host.contains(':'))
            .ok_or_else(|| invalid(text, "expected HOST:PORT"))?,
    };
    if port.is_empty() {
        return Err(invalid(text, "missing port"));
    }
    let mut inet = InetAddress {
        host: host.to_owned(),
        port: port.to_owned(),
        ..InetAddress::default()
    };
    for option in options.split(',').filter(|o| !o.is_empty()) {
        let (name, value) = option.split_once('=').unwrap_or((option, "on"));
        let flag = match value {
            "on" => true,
            "off" => false,
            _ => {
                return Err(invalid(
                    text,
                    &format!("invalid value '{value}' for '{name}'"),
                ))
            }
        };
        match name {
            "ipv4" => inet.ipv4 = Some(flag),
            "ipv6" => inet.ipv6 = Some(flag),
            "numeric" => inet.numeric = flag,
            _ => return Err(invalid(text, &format!("unknown option '{name}'"))),
        }
    }
    Ok(inet)
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
