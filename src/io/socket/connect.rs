//! Making the descriptor of a socket channel from a [`SocketAddress`]: QEMU's
//! `socket_connect`, `socket_listen` and `socket_dgram` (`util/qemu-sockets.c`).

use std::os::fd::{FromRawFd, OwnedFd, RawFd};

use socket2::{Domain, SockAddr, Socket, Type};

use crate::io::address::{InetAddress, SocketAddress};
use crate::io::dns;
use crate::{Error, ErrorKind, Result};

fn errno_of(e: &std::io::Error) -> i32 {
    e.raw_os_error().unwrap_or(0)
}

/// A new close-on-exec socket of `ty` for `addr`'s family.
fn socket_for(addr: &SockAddr, ty: Type) -> Result<Socket> {
    Socket::new(addr.domain(), ty, None).map_err(|e| {
        Error::os(
            &format!("Failed to create socket family {}", addr.family()),
            errno_of(&e),
        )
    })
}

/// A connected stream socket for `addr`, trying each address a host resolves to.
pub(super) fn connect(addr: &SocketAddress) -> Result<OwnedFd> {
    if let SocketAddress::Fd(name) = addr {
        return fd_from_name(name);
    }
    let mut last = libc::EINVAL;
    for target in dns::sockaddrs(addr, false)? {
        let socket = socket_for(&target, Type::STREAM)?;
        match socket.connect(&target) {
            Ok(()) => return Ok(socket.into()),
            Err(e) => last = errno_of(&e),
        }
    }
    let what = match addr {
        SocketAddress::Inet(InetAddress { host, port, .. }) => {
            format!("Failed to connect to '{host}:{port}'")
        }
        SocketAddress::Unix(unix) => format!("Failed to connect to '{}'", unix.path.display()),
        _ => "Failed to connect socket".to_owned(),
    };
    Err(Error::os(&what, last))
}

/// A listening stream socket for `addr` with a backlog of `num`: the first address a
/// host resolves to that binds. IPv6 sockets are IPv6-only unless IPv4 was asked for,
/// so that listening on every address of a host does not collide with itself.
pub(super) fn listen(addr: &SocketAddress, num: i32) -> Result<OwnedFd> {
    let socket = match addr {
        SocketAddress::Fd(name) => Socket::from(fd_from_name(name)?),
        SocketAddress::Unix(unix) => {
            if !unix.is_abstract {
                match std::fs::remove_file(&unix.path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                        let what = format!("Failed to unlink socket {}", unix.path.display());
                        return Err(Error::os(&what, errno_of(&e)));
                    }
                    _ => {}
                }
            }
            let target = single(dns::sockaddrs(addr, true)?)?;
            let socket = socket_for(&target, Type::STREAM)?;
            socket.bind(&target).map_err(|e| {
                Error::os(
                    &format!("Failed to bind socket to {}", unix.path.display()),
                    errno_of(&e),
                )
            })?;
            socket
        }
        SocketAddress::Inet(inet) => bind_first(addr, inet.ipv4 == Some(true), Type::STREAM)?,
        SocketAddress::Vsock { .. } => bind_first(addr, false, Type::STREAM)?,
    };
    socket
        .listen(num)
        .map_err(|e| Error::os("Failed to listen on socket", errno_of(&e)))?;
    Ok(socket.into())
}

/// A datagram socket bound to `local` (the wildcard address when `None`) and
/// connected to `remote`; INET and UNIX only.
pub(super) fn dgram(local: Option<&SocketAddress>, remote: &SocketAddress) -> Result<OwnedFd> {
    let target = match remote {
        SocketAddress::Inet(_) | SocketAddress::Unix(_) => dns::sockaddrs(remote, false)?,
        _ => {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "socket type unsupported for datagram",
            ))
        }
    };
    let target = target
        .into_iter()
        .next()
        .ok_or_else(|| Error::new(ErrorKind::Failed, "address resolution returned no address"))?;
    let socket = socket_for(&target, Type::DGRAM)?;
    let local = match local {
        Some(local) => Some(single(dns::sockaddrs(local, true)?)?),
        None => None,
    };
    if let Some(local) = &local {
        if target.domain() != Domain::UNIX {
            let _ = socket.set_reuse_address(true);
        }
        socket
            .bind(local)
            .map_err(|e| Error::os("Failed to bind socket", errno_of(&e)))?;
    }
    socket
        .connect(&target)
        .map_err(|e| Error::os("Failed to connect socket", errno_of(&e)))?;
    Ok(socket.into())
}

/// Binds a socket of `ty` to the first of `addr`'s resolved addresses that accepts.
fn bind_first(addr: &SocketAddress, dual_stack: bool, ty: Type) -> Result<Socket> {
    let mut last = None;
    for target in dns::sockaddrs(addr, true)? {
        let socket = socket_for(&target, ty)?;
        if target.domain() == Domain::IPV4 || target.domain() == Domain::IPV6 {
            let _ = socket.set_reuse_address(true);
        }
        if target.domain() == Domain::IPV6 {
            let _ = socket.set_only_v6(!dual_stack);
        }
        match socket.bind(&target) {
            Ok(()) => return Ok(socket),
            Err(e) => last = Some(e),
        }
    }
    Err(Error::os(
        "Failed to bind socket",
        last.as_ref().map_or(libc::EADDRNOTAVAIL, errno_of),
    ))
}

fn single(addrs: Vec<SockAddr>) -> Result<SockAddr> {
    addrs
        .into_iter()
        .next()
        .ok_or_else(|| Error::new(ErrorKind::Failed, "address resolution returned no address"))
}

/// The socket descriptor named by an `fd:` address: a number whose descriptor the
/// caller hands over, as QEMU takes descriptors passed on its command line.
fn fd_from_name(name: &str) -> Result<OwnedFd> {
    let fd: RawFd = name.parse().ok().filter(|fd| *fd >= 0).ok_or_else(|| {
        Error::new(
            ErrorKind::InvalidArgument,
            format!("Unable to parse FD number {name}"),
        )
    })?;
    // SAFETY: borrowed only to test it; an invalid number fails fstat.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    if !super::fd_is_socket(borrowed) {
        return Err(Error::new(
            ErrorKind::InvalidArgument,
            format!("File descriptor '{name}' is not a socket"),
        ));
    }
    // SAFETY: an `fd:` address transfers the descriptor to the channel.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}
