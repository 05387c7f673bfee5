//! `QIODNSResolver`: turns names into numeric socket addresses with `getaddrinfo`
//! (QEMU's `io/dns-resolver.c`), synchronously or in a worker thread.

use std::ffi::{CStr, CString};
use std::ptr;

use socket2::SockAddr;

use crate::io::address::{InetAddress, SocketAddress};
use crate::io::task::{self, ThreadTask};
use crate::io::MainContext;
use crate::{Error, ErrorKind, Result};

/// The resolver (a singleton, as in QEMU).
pub struct DnsResolver {
    _private: (),
}

static INSTANCE: DnsResolver = DnsResolver { _private: () };

impl DnsResolver {
    /// The resolver (`qio_dns_resolver_get_instance`).
    pub fn instance() -> &'static DnsResolver {
        &INSTANCE
    }

    /// The addresses `addr` stands for (`qio_dns_resolver_lookup_sync`): an inet
    /// address becomes one numeric address per `getaddrinfo` result, keeping its
    /// options; other kinds are returned as they are.
    pub fn lookup(&self, addr: &SocketAddress) -> Result<Vec<SocketAddress>> {
        let SocketAddress::Inet(inet) = addr else {
            return Ok(vec![addr.clone()]);
        };
        resolve(inet, true)?
            .iter()
            .map(|sa| match SocketAddress::from_sockaddr(sa)? {
                SocketAddress::Inet(found) => Ok(SocketAddress::Inet(InetAddress {
                    host: found.host,
                    port: found.port,
                    numeric: true,
                    ..inet.clone()
                })),
                other => Ok(other),
            })
            .collect()
    }

    /// [`lookup`](Self::lookup) in a worker thread, reporting to `done` in the thread
    /// iterating `context`.
    pub fn lookup_async(
        &'static self,
        addr: SocketAddress,
        context: &MainContext,
        done: impl FnOnce(Result<Vec<SocketAddress>>) + Send + 'static,
    ) -> ThreadTask {
        task::in_thread(move || self.lookup(&addr), done, context)
    }
}

/// The socket addresses to try for `addr`, in order: `getaddrinfo` results for inet
/// (for connecting when not `passive`), the address itself for unix and vsock.
pub(crate) fn sockaddrs(addr: &SocketAddress, passive: bool) -> Result<Vec<SockAddr>> {
    match addr {
        SocketAddress::Inet(inet) => resolve(inet, passive),
        SocketAddress::Fd(_) => Err(Error::new(
            ErrorKind::InvalidArgument,
            "an fd: address has no socket address",
        )),
        other => Ok(other.to_sockaddr()?.into_iter().collect()),
    }
}

/// The address family the ipv4/ipv6 options ask for (`inet_ai_family_from_address`).
fn family(inet: &InetAddress) -> Result<i32> {
    Ok(match (inet.ipv4, inet.ipv6) {
        (Some(false), Some(false)) => {
            return Err(Error::new(
                ErrorKind::InvalidArgument,
                "Cannot disable IPv4 and IPv6 at same time",
            ))
        }
        // Both on and no host: one IPv6 wildcard socket, which takes IPv4 too.
        (Some(true), Some(true)) if inet.host.is_empty() => libc::AF_INET6,
        (Some(true), Some(true)) => libc::AF_UNSPEC,
        (_, Some(true)) | (Some(false), _) => libc::AF_INET6,
        (Some(true), _) | (_, Some(false)) => libc::AF_INET,
        (None, None) => libc::AF_UNSPEC,
    })
}

/// `getaddrinfo` for a stream socket: an empty host or port is passed as NULL.
fn resolve(inet: &InetAddress, passive: bool) -> Result<Vec<SockAddr>> {
    let failed = |why: String| {
        Error::new(
            ErrorKind::Failed,
            format!(
                "address resolution failed for {}:{}: {why}",
                inet.host, inet.port
            ),
        )
    };
    let c_string = |s: &str| match s {
        "" => Ok(None),
        s => CString::new(s)
            .map(Some)
            .map_err(|_| failed("embedded NUL".into())),
    };
    let (host, port) = (c_string(&inet.host)?, c_string(&inet.port)?);
    // SAFETY: a zeroed addrinfo is a valid hints structure.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_flags = if passive {
        libc::AI_PASSIVE
    } else {
        libc::AI_CANONNAME | libc::AI_V4MAPPED | libc::AI_ADDRCONFIG
    };
    if inet.numeric {
        hints.ai_flags |= libc::AI_NUMERICHOST | libc::AI_NUMERICSERV;
    }
    hints.ai_family = family(inet)?;
    hints.ai_socktype = libc::SOCK_STREAM;
    let mut list = ptr::null_mut();
    let as_ptr = |s: &Option<CString>| s.as_ref().map_or(ptr::null(), |s| s.as_ptr());
    // SAFETY: valid strings or NULL, valid hints; the list is freed below.
    let rc = unsafe { libc::getaddrinfo(as_ptr(&host), as_ptr(&port), &hints, &mut list) };
    if rc != 0 {
        // SAFETY: gai_strerror returns a static string.
        let why = unsafe { CStr::from_ptr(libc::gai_strerror(rc)) };
        return Err(failed(why.to_string_lossy().into_owned()));
    }
    let mut out = Vec::new();
    let mut entry = list;
    while !entry.is_null() {
        // SAFETY: a node of the list getaddrinfo returned; ai_addr holds ai_addrlen bytes.
        unsafe {
            let ai = &*entry;
            let len = ai.ai_addrlen;
            let ((), addr) = SockAddr::try_init(|storage, storage_len| {
                ptr::copy_nonoverlapping(
                    ai.ai_addr.cast::<u8>(),
                    storage.cast::<u8>(),
                    len as usize,
                );
                *storage_len = len;
                Ok(())
            })
            .expect("copying an addrinfo address cannot fail");
            out.push(addr);
            entry = ai.ai_next;
        }
    }
    // SAFETY: the list from getaddrinfo, freed once.
    unsafe { libc::freeaddrinfo(list) };
    Ok(out)
}

#[cfg(test)]
mod tests;
