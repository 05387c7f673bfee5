//! `QIOChannelSocket`: TCP, UNIX and vsock stream sockets, and datagram sockets
//! (QEMU's `io/channel-socket.c`), with file descriptor passing over UNIX sockets and
//! `MSG_ZEROCOPY` writes.

use std::io::{IoSlice, IoSliceMut};
use std::mem::{size_of, MaybeUninit};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use socket2::SockAddr;

use crate::io::address::SocketAddress;
use crate::io::channel::{
    Base, Channel, ChannelImpl, Feature, RecvFds, Shutdown, READ_FLAG_FD_PRESERVE_BLOCKING,
    READ_FLAG_MSG_PEEK, WRITE_FLAG_ZERO_COPY,
};
use crate::io::fd::{self, errno, FdSlot};
use crate::io::task::{self, ThreadTask};
use crate::io::watch::{Condition, Readiness};
use crate::io::MainContext;
use crate::{Error, ErrorKind, Result};

mod connect;

/// The most descriptors one message carries (`SOCKET_MAX_FDS`).
pub const MAX_FDS: usize = 16;

/// The socket channel's state.
pub struct Socket {
    fd: FdSlot,
    local: Mutex<Option<SavedAddr>>,
    remote: Mutex<Option<SavedAddr>>,
    zero_copy_queued: AtomicU64,
    zero_copy_sent: AtomicU64,
}

impl Socket {
    /// A channel with no socket yet (`qio_channel_socket_new`): connect, listen or
    /// dgram gives it one.
    pub fn new_channel() -> Arc<Channel<Socket>> {
        let socket = Socket {
            fd: FdSlot::new(None),
            local: Mutex::new(None),
            remote: Mutex::new(None),
            zero_copy_queued: AtomicU64::new(0),
            zero_copy_sent: AtomicU64::new(0),
        };
        Channel::with_features(socket, &[Feature::Shutdown])
    }

    /// A channel owning the socket `fd` (`qio_channel_socket_new_fd`); on failure the
    /// descriptor is handed back.
    pub fn new_fd(fd: OwnedFd) -> std::result::Result<Arc<Channel<Socket>>, (Error, OwnedFd)> {
        let channel = Socket::new_channel();
        channel.set_fd(fd)?;
        Ok(channel)
    }

    /// The descriptor's number now (-1 before connect/listen or after close).
    pub fn raw_fd(&self) -> RawFd {
        self.fd.raw()
    }

    fn lock(slot: &Mutex<Option<SavedAddr>>) -> std::sync::MutexGuard<'_, Option<SavedAddr>> {
        slot.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A socket address kept in only as many bytes as it has: a `SockAddr` is a whole
/// `sockaddr_storage` (128 bytes), twice per connection, mostly zeros.
struct SavedAddr(Box<[u8]>);

impl SavedAddr {
    fn new(addr: &SockAddr) -> SavedAddr {
        // SAFETY: a SockAddr's storage is initialized for its length.
        let bytes =
            unsafe { std::slice::from_raw_parts(addr.as_ptr().cast(), addr.len() as usize) };
        SavedAddr(bytes.into())
    }

    fn get(&self) -> SockAddr {
        let bytes = &self.0;
        // SAFETY: the bytes came from a SockAddr of that length, which fits the storage.
        let ((), addr) = unsafe {
            SockAddr::try_init(|storage, len| {
                std::ptr::copy_nonoverlapping(bytes.as_ptr(), storage.cast(), bytes.len());
                *len = bytes.len() as libc::socklen_t;
                Ok(())
            })
        }
        .expect("copying a saved address cannot fail");
        addr
    }
}

/// Whether `fd` is a socket (`fd_is_socket`).
pub fn fd_is_socket(fd: BorrowedFd<'_>) -> bool {
    let mut stat = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat fills `stat` on success.
    unsafe {
        libc::fstat(fd.as_raw_fd(), stat.as_mut_ptr()) == 0
            && stat.assume_init().st_mode & libc::S_IFMT == libc::S_IFSOCK
    }
}

/// `getsockname` or `getpeername` of `fd`.
fn sockaddr_of(
    fd: RawFd,
    query: unsafe extern "C" fn(RawFd, *mut libc::sockaddr, *mut libc::socklen_t) -> i32,
) -> std::result::Result<SockAddr, i32> {
    // SAFETY: the query fills at most `len` bytes of the storage and sets `len`.
    unsafe {
        SockAddr::try_init(|storage, len| match query(fd, storage.cast(), len) {
            0 => Ok(()),
            _ => Err(std::io::Error::last_os_error()),
        })
    }
    .map(|((), addr)| addr)
    .map_err(|e| e.raw_os_error().unwrap_or(0))
}

/// `setsockopt` of an int option.
fn set_int_option(fd: RawFd, level: i32, name: i32, value: i32) -> std::result::Result<(), i32> {
    // SAFETY: an int option of the right size.
    let ret = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&value as *const i32).cast(),
            size_of::<i32>() as libc::socklen_t,
        )
    };
    match ret {
        0 => Ok(()),
        _ => Err(errno()),
    }
}

impl Channel<Socket> {
    /// Adopts `fd`: records both addresses and sets [`Feature::FdPass`] for UNIX
    /// sockets. On failure the descriptor is handed back.
    fn set_fd(&self, fd: OwnedFd) -> std::result::Result<(), (Error, OwnedFd)> {
        let raw = fd.as_raw_fd();
        let remote = match sockaddr_of(raw, libc::getpeername) {
            Ok(addr) => Some(addr),
            Err(libc::ENOTCONN) => None,
            Err(errno) => {
                return Err((
                    Error::os("Unable to query remote socket address", errno),
                    fd,
                ))
            }
        };
        let local = match sockaddr_of(raw, libc::getsockname) {
            Ok(addr) => addr,
            Err(errno) => {
                return Err((Error::os("Unable to query local socket address", errno), fd))
            }
        };
        let unix = local.family() == libc::AF_UNIX as libc::sa_family_t;
        if let Err(fd) = self.imp().fd.put(fd) {
            return Err((Error::new(ErrorKind::Failed, "Socket is already open"), fd));
        }
        *Socket::lock(&self.imp().local) = Some(SavedAddr::new(&local));
        *Socket::lock(&self.imp().remote) = remote.as_ref().map(SavedAddr::new);
        if unix {
            self.set_feature(Feature::FdPass);
        }
        Ok(())
    }

    /// [`set_fd`](Self::set_fd) for a descriptor qio made, closing it on failure.
    fn adopt(&self, fd: OwnedFd) -> Result<()> {
        self.set_fd(fd).map_err(|(e, _closed)| e)
    }

    /// Connects to `addr`, trying each address it resolves to
    /// (`qio_channel_socket_connect_sync`). Sets [`Feature::ReadMsgPeek`], and
    /// [`Feature::WriteZeroCopy`] when the kernel accepts `SO_ZEROCOPY`.
    pub fn connect_sync(&self, addr: &SocketAddress) -> Result<()> {
        let fd = connect::connect(addr)?;
        let zero_copy =
            set_int_option(fd.as_raw_fd(), libc::SOL_SOCKET, libc::SO_ZEROCOPY, 1).is_ok();
        self.adopt(fd)?;
        if zero_copy {
            self.set_feature(Feature::WriteZeroCopy);
        }
        self.set_feature(Feature::ReadMsgPeek);
        Ok(())
    }

    /// Listens on `addr` with a backlog of `num` (`qio_channel_socket_listen_sync`);
    /// sets [`Feature::Listen`], so closing removes a UNIX socket's path.
    pub fn listen_sync(&self, addr: &SocketAddress, num: i32) -> Result<()> {
        self.adopt(connect::listen(addr, num)?)?;
        self.set_feature(Feature::Listen);
        Ok(())
    }

    /// A datagram socket bound to `local` (any address when `None`) and connected to
    /// `remote` (`qio_channel_socket_dgram_sync`).
    pub fn dgram_sync(&self, local: Option<&SocketAddress>, remote: &SocketAddress) -> Result<()> {
        self.adopt(connect::dgram(local, remote)?)
    }

    /// Accepts a connection (`qio_channel_socket_accept`).
    pub fn accept(&self) -> Result<Arc<Channel<Socket>>> {
        let fd = self.imp().fd.with(|fd| {
            fd::retry_errno(|| {
                // SAFETY: accept4 without an address buffer; the result is ours.
                unsafe {
                    libc::accept4(
                        fd,
                        std::ptr::null_mut(),
                        std::ptr::null_mut(),
                        libc::SOCK_CLOEXEC,
                    ) as isize
                }
            })
        });
        let fd = fd.map_err(|errno| Error::os("Unable to accept connection", errno))?;
        // SAFETY: accept4 returned a new descriptor we now own.
        let client = Socket::new_fd(unsafe { OwnedFd::from_raw_fd(fd as RawFd) })
            .map_err(|(e, _closed)| e)?;
        client.set_feature(Feature::ReadMsgPeek);
        Ok(client)
    }

    /// The local address (`qio_channel_socket_get_local_address`).
    pub fn local_address(&self) -> Result<SocketAddress> {
        address_from(&Socket::lock(&self.imp().local))
    }

    /// The peer's address (`qio_channel_socket_get_remote_address`).
    pub fn remote_address(&self) -> Result<SocketAddress> {
        address_from(&Socket::lock(&self.imp().remote))
    }

    /// Sets `SO_SNDBUF` (`qio_channel_socket_set_send_buffer`).
    pub fn set_send_buffer(&self, size: usize) -> Result<()> {
        let size = i32::try_from(size).unwrap_or(i32::MAX);
        self.imp()
            .fd
            .with(|fd| set_int_option(fd, libc::SOL_SOCKET, libc::SO_SNDBUF, size))
            .map_err(|errno| Error::os("Unable to set socket send buffer size", errno))
    }

    /// [`connect_sync`](Self::connect_sync) in a worker thread, reporting to `done` in
    /// the thread iterating `context`.
    pub fn connect_async(
        self: &Arc<Self>,
        addr: SocketAddress,
        context: &MainContext,
        done: impl FnOnce(Result<()>) + Send + 'static,
    ) -> ThreadTask {
        let channel = self.clone();
        task::in_thread(move || channel.connect_sync(&addr), done, context)
    }

    /// [`listen_sync`](Self::listen_sync) in a worker thread, as [`connect_async`](Self::connect_async).
    pub fn listen_async(
        self: &Arc<Self>,
        addr: SocketAddress,
        num: i32,
        context: &MainContext,
        done: impl FnOnce(Result<()>) + Send + 'static,
    ) -> ThreadTask {
        let channel = self.clone();
        task::in_thread(move || channel.listen_sync(&addr, num), done, context)
    }

    /// [`dgram_sync`](Self::dgram_sync) in a worker thread, as [`connect_async`](Self::connect_async).
    pub fn dgram_async(
        self: &Arc<Self>,
        local: Option<SocketAddress>,
        remote: SocketAddress,
        context: &MainContext,
        done: impl FnOnce(Result<()>) + Send + 'static,
    ) -> ThreadTask {
        let channel = self.clone();
        let work = move || channel.dgram_sync(local.as_ref(), &remote);
        task::in_thread(work, done, context)
    }
}

fn address_from(addr: &Option<SavedAddr>) -> Result<SocketAddress> {
    match addr {
        Some(addr) => SocketAddress::from_sockaddr(&addr.get()),
        None => Err(Error::new(ErrorKind::Failed, "socket family 0 unsupported")),
    }
}

/// Control-message space for [`MAX_FDS`] descriptors, aligned for `cmsghdr`.
#[repr(C, align(8))]
struct FdControl([u8; 128]);

const _: () = assert!(
    // SAFETY: CMSG_SPACE is a pure size computation.
    unsafe { libc::CMSG_SPACE((MAX_FDS * size_of::<RawFd>()) as u32) } as usize <= 128
);

impl ChannelImpl for Socket {
    fn readv(&self, iov: &mut [IoSliceMut<'_>], fds: RecvFds<'_>, flags: u32) -> Result<usize> {
        let mut control = FdControl([0; 128]);
        // SAFETY: a zeroed msghdr is valid; the fields set point at live buffers.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_mut_ptr().cast();
        msg.msg_iovlen = iov.len();
        let mut sflags = 0;
        if fds.is_some() {
            msg.msg_control = control.0.as_mut_ptr().cast();
            msg.msg_controllen = control.0.len();
            sflags |= libc::MSG_CMSG_CLOEXEC;
        }
        if flags & READ_FLAG_MSG_PEEK != 0 {
            sflags |= libc::MSG_PEEK;
        }
        let got = self.fd.with(|fd| match (&mut *iov, &fds) {
            // One buffer and no descriptors: recv(2) skips copying out a msghdr and an
            // iovec, as writes use send(2).
            // SAFETY: the buffer is writable for its length during the call.
            ([buf], None) => fd::retry("Unable to read from socket", || unsafe {
                libc::recv(fd, buf.as_mut_ptr().cast(), buf.len(), sflags)
            }),
            // SAFETY: `msg` describes writable buffers that outlive the call.
            _ => fd::retry("Unable to read from socket", || unsafe {
                libc::recvmsg(fd, &mut msg, sflags)
            }),
        })?;
        if let Some(fds) = fds {
            let before = fds.len();
            // SAFETY: the kernel filled `control` and set msg_controllen.
            unsafe { collect_fds(&msg, fds, flags & READ_FLAG_FD_PRESERVE_BLOCKING == 0) };
            if msg.msg_flags & libc::MSG_CTRUNC != 0 {
                // The kernel dropped the descriptors that did not fit: the message is
                // not what the peer sent, so it is an error, and the ones that came
                // are closed rather than handed out as if they were all.
                let received = fds.len() - before;
                fds.truncate(before);
                return Err(Error::new(
                    ErrorKind::Failed,
                    format!(
                        "Unable to read from socket: file descriptors truncated (the \
                         peer sent more than {received}); the {received} received were closed"
                    ),
                ));
            }
        }
        Ok(got)
    }

    fn writev(&self, iov: &[IoSlice<'_>], fds: &[BorrowedFd<'_>], flags: u32) -> Result<usize> {
        if fds.len() > MAX_FDS {
            return Err(Error::os(
                &format!("Only {MAX_FDS} FDs can be sent, got {}", fds.len()),
                libc::EINVAL,
            ));
        }
        let mut control = FdControl([0; 128]);
        // SAFETY: a zeroed msghdr is valid; the fields set point at live buffers.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_iov = iov.as_ptr().cast_mut().cast();
        msg.msg_iovlen = iov.len();
        if !fds.is_empty() {
            let bytes = fds.len() * size_of::<RawFd>();
            // SAFETY: `control` has room for CMSG_SPACE(16 fds) (checked above) and is
            // aligned for cmsghdr; we write one SCM_RIGHTS message of `bytes`.
            unsafe {
                msg.msg_control = control.0.as_mut_ptr().cast();
                msg.msg_controllen = libc::CMSG_SPACE(bytes as u32) as usize;
                let cmsg = libc::CMSG_FIRSTHDR(&msg);
                (*cmsg).cmsg_len = libc::CMSG_LEN(bytes as u32) as usize;
                (*cmsg).cmsg_level = libc::SOL_SOCKET;
                (*cmsg).cmsg_type = libc::SCM_RIGHTS;
                let data = libc::CMSG_DATA(cmsg) as *mut RawFd;
                for (i, fd) in fds.iter().enumerate() {
                    data.add(i).write_unaligned(fd.as_raw_fd());
                }
            }
        }
        let zero_copy = flags & WRITE_FLAG_ZERO_COPY != 0;
        // A peer that went away must be an error here, not a SIGPIPE for the process.
        let sflags = libc::MSG_NOSIGNAL | if zero_copy { libc::MSG_ZEROCOPY } else { 0 };
        let sent = self.fd.with(|fd| match (iov, fds) {
            // One buffer and no descriptors: send(2) skips copying in a msghdr and an
            // iovec, a few percent of a 64 KiB write on a UNIX socket.
            // SAFETY: the buffer is readable for its length during the call.
            ([buf], []) => fd::retry_errno(|| unsafe {
                libc::send(fd, buf.as_ptr().cast(), buf.len(), sflags)
            }),
            // SAFETY: `msg` describes readable buffers that outlive the call.
            _ => fd::retry_errno(|| unsafe { libc::sendmsg(fd, &msg, sflags) }),
        });
        match sent {
            Ok(sent) => {
                if zero_copy {
                    self.zero_copy_queued.fetch_add(1, Ordering::Relaxed);
                }
                Ok(sent)
            }
            Err(libc::EAGAIN) => Err(Error::would_block_error()),
            Err(libc::ENOBUFS) if zero_copy => Err(Error::os(
                "Process can't lock enough memory for using MSG_ZEROCOPY",
                libc::ENOBUFS,
            )),
            Err(errno) => Err(Error::os("Unable to write to socket", errno)),
        }
    }

    fn set_blocking(&self, enabled: bool) -> Result<()> {
        self.fd.with(|fd| fd::set_blocking(fd, enabled))
    }

    fn close(&self, base: &Base) -> Result<()> {
        let fd = self.fd.take();
        if let Some(fd) = &fd {
            if base.has_feature(Feature::Listen) {
                listen_cleanup(fd.as_raw_fd());
            }
        }
        fd::close(fd, "Unable to close socket")
    }

    fn finalize(&self, base: &Base) {
        if base.has_feature(Feature::Listen) {
            self.fd.with(|fd| {
                if fd >= 0 {
                    listen_cleanup(fd)
                }
            });
        }
    }

    fn readiness(&self, _: Condition) -> Readiness {
        Readiness::Fd(self.fd.raw())
    }

    fn shutdown(&self, how: Shutdown) -> Result<()> {
        let how = match how {
            Shutdown::Read => libc::SHUT_RD,
            Shutdown::Write => libc::SHUT_WR,
            Shutdown::Both => libc::SHUT_RDWR,
        };
        self.fd.with(|fd| {
            // SAFETY: shutdown on a descriptor number; failures are reported.
            match unsafe { libc::shutdown(fd, how) } {
                0 => Ok(()),
                _ => Err(Error::os("Unable to shutdown socket", errno())),
            }
        })
    }

    fn set_delay(&self, enabled: bool) {
        let nodelay = i32::from(!enabled);
        // Not a TCP socket: nothing to set, as in QEMU.
        let _ = self
            .fd
            .with(|fd| set_int_option(fd, libc::IPPROTO_TCP, libc::TCP_NODELAY, nodelay));
    }

    fn set_cork(&self, enabled: bool) {
        // Not a TCP socket: nothing to set, as in QEMU.
        let _ = self
            .fd
            .with(|fd| set_int_option(fd, libc::IPPROTO_TCP, libc::TCP_CORK, enabled.into()));
    }

    fn flush(&self) -> Result<i32> {
        self.fd.with(|fd| self.flush_zero_copy(fd))
    }

    fn peerpid(&self) -> Result<u32> {
        let mut cred = MaybeUninit::<libc::ucred>::zeroed();
        let mut len = size_of::<libc::ucred>() as libc::socklen_t;
        let ret = self.fd.with(|fd| {
            // SAFETY: SO_PEERCRED fills a ucred of `len` bytes.
            unsafe {
                libc::getsockopt(
                    fd,
                    libc::SOL_SOCKET,
                    libc::SO_PEERCRED,
                    cred.as_mut_ptr().cast(),
                    &mut len,
                )
            }
        });
        match ret {
            // SAFETY: filled by getsockopt.
            0 => Ok(unsafe { cred.assume_init() }.pid as u32),
            _ => Err(Error::os("Unable to get peer credentials", errno())),
        }
    }
}

impl Socket {
    /// Reads zero-copy completions from the error queue until every queued send is
    /// accounted for: 1 when all of them fell back to copying, else 0.
    fn flush_zero_copy(&self, fd: RawFd) -> Result<i32> {
        let mut copied_only = 1;
        while self.zero_copy_sent.load(Ordering::Relaxed)
            < self.zero_copy_queued.load(Ordering::Relaxed)
        {
            let mut control = FdControl([0; 128]);
            // SAFETY: a zeroed msghdr with only a control buffer.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_control = control.0.as_mut_ptr().cast();
            msg.msg_controllen = control.0.len();
            // SAFETY: `msg` points at our control buffer.
            match fd::retry_errno(|| unsafe {
                libc::recvmsg(fd, &mut msg, libc::MSG_ERRQUEUE) as isize
            }) {
                Ok(_) => {}
                Err(libc::EAGAIN) => {
                    poll_error_queue(fd);
                    continue;
                }
                Err(errno) => return Err(Error::os("Unable to read errqueue", errno)),
            }
            // SAFETY: the kernel filled the control buffer.
            let Some(err) = (unsafe { zero_copy_notification(&msg) }) else {
                return Err(Error::os("Wrong cmsg in errqueue", libc::EPROTOTYPE));
            };
            if err.ee_errno != 0 {
                return Err(Error::os("Error on socket", err.ee_errno as i32));
            }
            if err.ee_origin != SO_EE_ORIGIN_ZEROCOPY {
                return Err(Error::os("Error not from zero copy", err.ee_origin.into()));
            }
            if err.ee_data < err.ee_info {
                return Err(Error::os("Wrong notification bounds", err.ee_origin.into()));
            }
            let done = u64::from(err.ee_data - err.ee_info) + 1;
            self.zero_copy_sent.fetch_add(done, Ordering::Relaxed);
            if err.ee_code != SO_EE_CODE_ZEROCOPY_COPIED {
                copied_only = 0;
            }
        }
        Ok(copied_only)
    }
}

const SO_EE_ORIGIN_ZEROCOPY: u8 = 5;
const SO_EE_CODE_ZEROCOPY_COPIED: u8 = 1;

/// `struct sock_extended_err` from `<linux/errqueue.h>`.
#[repr(C)]
#[derive(Clone, Copy)]
struct SockExtendedErr {
    ee_errno: u32,
    ee_origin: u8,
    ee_type: u8,
    ee_code: u8,
    ee_pad: u8,
    ee_info: u32,
    ee_data: u32,
}

/// The `IP_RECVERR`/`IPV6_RECVERR` notification in `msg`'s control data.
///
/// # Safety
/// `msg`'s control buffer was filled by `recvmsg`.
unsafe fn zero_copy_notification(msg: &libc::msghdr) -> Option<SockExtendedErr> {
    // SAFETY: the caller's contract; CMSG_* walk the kernel-written buffer.
    unsafe {
        let cmsg = libc::CMSG_FIRSTHDR(msg);
        if cmsg.is_null() {
            return None;
        }
        let c = &*cmsg;
        let ip = c.cmsg_level == libc::SOL_IP && c.cmsg_type == libc::IP_RECVERR;
        let ip6 = c.cmsg_level == libc::SOL_IPV6 && c.cmsg_type == libc::IPV6_RECVERR;
        if !(ip || ip6)
            || (c.cmsg_len as usize) < libc::CMSG_LEN(size_of::<SockExtendedErr>() as u32) as usize
        {
            return None;
        }
        Some((libc::CMSG_DATA(cmsg) as *const SockExtendedErr).read_unaligned())
    }
}

/// Waits until `fd` has something on its error queue (reported as `POLLERR`).
fn poll_error_queue(fd: RawFd) {
    let mut pollfd = libc::pollfd {
        fd,
        events: 0,
        revents: 0,
    };
    // SAFETY: one valid pollfd; an interrupted or failed poll just retries the read.
    unsafe { libc::poll(&mut pollfd, 1, -1) };
}

/// Appends the descriptors of every `SCM_RIGHTS` message in `msg` to `fds`, made
/// blocking when `make_blocking` (senders' `O_NONBLOCK` travels with them).
///
/// # Safety
/// `msg`'s control buffer was filled by `recvmsg`.
unsafe fn collect_fds(msg: &libc::msghdr, fds: &mut Vec<OwnedFd>, make_blocking: bool) {
    // SAFETY: the caller's contract; CMSG_* walk the kernel-written buffer, and each
    // received descriptor is new and ours.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            let c = &*cmsg;
            let header = libc::CMSG_LEN(0) as usize;
            if c.cmsg_level == libc::SOL_SOCKET
                && c.cmsg_type == libc::SCM_RIGHTS
                && c.cmsg_len as usize > header
            {
                let count = (c.cmsg_len as usize - header) / size_of::<RawFd>();
                let data = libc::CMSG_DATA(cmsg) as *const RawFd;
                for i in 0..count {
                    let fd = data.add(i).read_unaligned();
                    if fd < 0 {
                        continue;
                    }
                    if make_blocking {
                        let _ = fd::set_blocking(fd, true);
                    }
                    fds.push(OwnedFd::from_raw_fd(fd));
                }
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
}

/// Removes the path of a listening UNIX socket (`socket_listen_cleanup`); abstract
/// and unnamed sockets have none.
fn listen_cleanup(fd: RawFd) {
    let Ok(addr) = sockaddr_of(fd, libc::getsockname) else {
        return;
    };
    if let Some(path) = addr.as_pathname() {
        let _ = std::fs::remove_file(path);
    }
}

#[cfg(test)]
mod tests;
