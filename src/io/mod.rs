//! The I/O channel layer: QEMU's `io/`. One byte-stream API ([`Channel`]) over
//! sockets, files, child processes, memory buffers and a null sink, with GLib main-loop
//! watches, worker-thread tasks, a network listener and a DNS resolver.

pub mod address;
pub mod buffer;
pub mod channel;
mod close_signal;
pub mod command;
pub mod context;
pub mod dns;
mod fd;
pub mod file;
mod handshake_driver;
pub mod listener;
pub mod null;
pub mod socket;
pub mod task;
#[cfg(feature = "gnutls")]
pub mod tls;
pub mod watch;
pub mod websock;

pub use address::{InetAddress, SocketAddress, UnixAddress};
pub use buffer::Buffer;
pub use channel::{Channel, ChannelImpl, Feature, Shutdown};
pub use command::Command;
pub use context::MainContext;
pub use dns::DnsResolver;
pub use file::File;
pub use listener::NetListener;
pub use null::Null;
pub use socket::Socket;
#[cfg(feature = "gnutls")]
pub use tls::Tls;
pub use watch::Watch;
pub use websock::Websock;

use std::os::fd::{AsFd, OwnedFd};
use std::sync::Arc;

/// A channel for `fd` (`qio_channel_new_fd`): a socket channel if it is a socket, else
/// a file channel. On failure the descriptor is handed back.
pub fn new_fd(fd: OwnedFd) -> Result<Arc<Channel>, (crate::Error, OwnedFd)> {
    if socket::fd_is_socket(fd.as_fd()) {
        Ok(Socket::new_fd(fd)?.upcast())
    } else {
        Ok(File::new_channel(fd).upcast())
    }
}
