//! `QIOChannelTLS`: TLS over any other channel, its master (QEMU's
//! `io/channel-tls.c`). The master carries the records; this channel reads and writes
//! plaintext, and its watches also wake readers while gnutls holds decrypted bytes that
//! the master's descriptor cannot show.

use std::io::{IoSlice, IoSliceMut};
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::authz::Authz;
use crate::crypto::tls::{Creds, Endpoint, Progress, Received, Session, Transport};
use crate::io::channel::{
    Base, Channel, ChannelImpl, Feature, RecvFds, Shutdown, READ_FLAG_RELAXED_EOF,
};
use crate::io::context::MainContext;
use crate::io::handshake_driver::{self, Handshake, HandshakeSlot, Step};
use crate::io::watch::{Condition, Readiness, G_IO_IN, G_IO_OUT};
use crate::{Error, ErrorKind, Result};

/// The most plaintext one TLS record carries.
const MAX_RECORD: usize = 16384;

/// The session's transport: records go through the master channel.
struct Master(Arc<Channel>);

impl Transport for Master {
    fn push(&self, buf: &[u8]) -> Result<usize> {
        self.0.write(buf)
    }

    fn push_vectored(&self, bufs: &[IoSlice<'_>]) -> Result<usize> {
        self.0.writev_full(bufs, &[], 0)
    }

    fn pull(&self, buf: &mut [u8]) -> Result<usize> {
        self.0.read(buf)
    }
}

/// The TLS channel's state.
///
/// Two ends of a connection (here a socketpair) with anonymous credentials, their
/// handshakes run in one main context, then a message each way:
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use std::sync::mpsc;
/// use qio::crypto::tls::{Creds, Endpoint};
/// use qio::io::{MainContext, Socket, Tls};
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let socket = |s: UnixStream| Socket::new_fd(s.into()).map_err(|(e, _)| e);
/// let client_creds = Creds::anon(Endpoint::Client, None, None)?;
/// let server_creds = Creds::anon(Endpoint::Server, None, None)?;
/// let client = Tls::new_client(socket(a)?.upcast(), &client_creds, None)?;
/// let server = Tls::new_server(socket(b)?.upcast(), &server_creds, None)?;
///
/// let context = MainContext::new();
/// let (done, outcomes) = mpsc::channel();
/// for tls in [&client, &server] {
///     tls.set_blocking(false)?;
///     let done = done.clone();
///     tls.handshake(&context, move |outcome| done.send(outcome).unwrap());
/// }
/// for _ in 0..2 {
///     while outcomes.try_recv().map(|outcome| outcome.unwrap()).is_err() {
///         context.iteration(true);
///     }
/// }
///
/// client.set_blocking(true)?;
/// server.set_blocking(true)?;
/// client.write_all(b"ping")?;
/// let mut got = [0; 4];
/// server.read_all(&mut got)?;
/// assert_eq!(&got, b"ping");
/// // Anonymous key exchange exists up to TLS 1.2 only.
/// assert_eq!(client.imp().session().protocol_name()?, "TLS1.2");
/// # Ok::<(), qio::Error>(())
/// ```
pub struct Tls {
    master: Arc<Channel>,
    session: Session,
    /// The [`Shutdown`] directions requested so far.
    shutdown: AtomicU32,
    /// The handshake in progress and its timeout: cancelled with the channel or when
    /// it closes, so the handshake's callback never runs after either (CVE-2023-3354).
    handshake: HandshakeSlot,
}

impl Tls {
    /// The server end of TLS over `master` with server `creds`; with x509 credentials
    /// that verify the peer, the client's certificate DN must pass `authz`
    /// (`qio_channel_tls_new_server`). Start it with [`Channel::<Tls>::handshake`].
    pub fn new_server(
        master: Arc<Channel>,
        creds: &Creds,
        authz: Option<Authz>,
    ) -> Result<Arc<Channel<Tls>>> {
        Tls::new_channel(master, Session::new(creds, None, authz, Endpoint::Server)?)
    }

    /// The client end of TLS over `master` with client `creds`; with x509 credentials
    /// that verify the peer, the server's certificate must name `hostname`
    /// (`qio_channel_tls_new_client`).
    pub fn new_client(
        master: Arc<Channel>,
        creds: &Creds,
        hostname: Option<&str>,
    ) -> Result<Arc<Channel<Tls>>> {
        Tls::new_channel(
            master,
            Session::new(creds, hostname, None, Endpoint::Client)?,
        )
    }

    fn new_channel(master: Arc<Channel>, session: Session) -> Result<Arc<Channel<Tls>>> {
        session.set_transport(Box::new(Master(master.clone())));
        let features: &[Feature] = match master.has_feature(Feature::Shutdown) {
            true => &[Feature::Shutdown],
            false => &[],
        };
        Ok(Channel::with_features(
            Tls {
                master,
                session,
                shutdown: AtomicU32::new(0),
                handshake: HandshakeSlot::default(),
            },
            features,
        ))
    }

    /// The channel the records travel over.
    pub fn master(&self) -> &Arc<Channel> {
        &self.master
    }

    /// The TLS session (`qio_channel_tls_get_session`).
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// Whether a premature end-of-file reads as an ordinary one: asked by the caller,
    /// or the read side was shut down.
    fn relaxed_eof(&self, flags: u32) -> bool {
        flags & READ_FLAG_RELAXED_EOF != 0
            || self.shutdown.load(Ordering::Acquire) & Shutdown::Read as u32 != 0
    }
}

impl Channel<Tls> {
    /// Runs the handshake from the thread iterating `context`, then checks the peer's
    /// credentials, calling `done` once with the result, unless the channel is closed
    /// or dropped first (`qio_channel_tls_handshake`). It may complete, and call
    /// `done`, before returning. A channel with [`Feature::ConcurrentIo`] gets the
    /// session's thread-safety lock. The handshake never blocks the context's thread,
    /// even over a blocking master, and fails with [`ErrorKind::TimedOut`] once the
    /// [timeout](Channel::<Tls>::set_handshake_timeout) passes.
    pub fn handshake(
        self: &Arc<Self>,
        context: &MainContext,
        done: impl FnOnce(Result<()>) + Send + 'static,
    ) {
        if self.has_feature(Feature::ConcurrentIo) {
            self.imp().session.require_thread_safety();
        }
        handshake_driver::start(self, context.clone(), Box::new(done));
    }

    /// Limits how long the next [handshake](Channel::<Tls>::handshake) may take, from
    /// its start; `None` (the default, as in QEMU) waits for the peer indefinitely.
    pub fn set_handshake_timeout(&self, timeout: Option<Duration>) {
        self.imp().handshake.set_timeout(timeout);
    }

    /// Sends the closure alert, waiting on the master while it would block
    /// (`qio_channel_tls_bye`); a no-op before the handshake completed.
    pub fn bye(&self) -> Result<()> {
        loop {
            match self.imp().session.bye()? {
                Progress::Complete => return Ok(()),
                Progress::Sending => self.imp().master.wait(G_IO_OUT),
                Progress::Receiving => self.imp().master.wait(G_IO_IN),
            }
        }
    }
}

impl Handshake for Tls {
    const NAME: &'static str = "TLS";

    fn step(&self) -> Step {
        match self.session.handshake() {
            Ok(Progress::Complete) => Step::Done(self.session.check_credentials()),
            Err(e) => Step::Done(Err(e)),
            Ok(Progress::Sending) => Step::Wait(G_IO_OUT),
            Ok(Progress::Receiving) => Step::Wait(G_IO_IN),
        }
    }

    fn transport(&self) -> &Arc<Channel> {
        &self.master
    }

    fn handshake_slot(&self) -> &HandshakeSlot {
        &self.handshake
    }
}

impl ChannelImpl for Tls {
    fn readv(&self, iov: &mut [IoSliceMut<'_>], _: RecvFds<'_>, flags: u32) -> Result<usize> {
        let mut got = 0;
        for buf in iov {
            let want = buf.len();
            let n = match self.session.read(buf) {
                Ok(Received::Bytes(n)) => n,
                Ok(Received::PrematureEof) if self.relaxed_eof(flags) => 0,
                Ok(Received::PrematureEof) => return Err(Error::new(
                    ErrorKind::Failed,
                    "Cannot read from TLS channel: The TLS connection was non-properly terminated.",
                )),
                Err(e) if e.would_block() && got > 0 => break,
                Err(e) => return Err(e),
            };
            got += n;
            if n < want {
                break;
            }
        }
        Ok(got)
    }

    fn writev(&self, iov: &[IoSlice<'_>], _: &[BorrowedFd<'_>], _: u32) -> Result<usize> {
        // gnutls refuses empty records ("The request is invalid"): skip empty buffers.
        let bufs = || iov.iter().map(|b| &b[..]).filter(|b| !b.is_empty());
        // Leading buffers that fit one record together go out as one (a websocket
        // frame header and a short payload, say): one record is one TCP segment, where
        // a record each could wait out Nagle's algorithm and the peer's delayed ACK.
        let mut len = 0;
        let lead = bufs()
            .take_while(|b| {
                let fits = len + b.len() <= MAX_RECORD;
                len += if fits { b.len() } else { 0 };
                fits
            })
            .count();
        let joined = (lead > 1).then(|| {
            let mut joined = Vec::with_capacity(len);
            bufs().take(lead).for_each(|b| joined.extend_from_slice(b));
            joined
        });
        let skip = if joined.is_some() { lead } else { 0 };
        let mut done = 0;
        for buf in joined.as_deref().into_iter().chain(bufs().skip(skip)) {
            let n = match self.session.write(buf) {
                Ok(n) => n,
                Err(e) if e.would_block() && done > 0 => break,
                Err(e) => return Err(e),
            };
            done += n;
            if n < buf.len() {
                break;
            }
        }
        Ok(done)
    }

    fn set_blocking(&self, enabled: bool) -> Result<()> {
        self.master.set_blocking(enabled)
    }

    fn close(&self, _: &Base) -> Result<()> {
        self.handshake.cancel();
        self.master.close()
    }

    fn finalize(&self, _: &Base) {
        self.handshake.cancel();
    }

    fn readiness(&self, condition: Condition) -> Readiness {
        self.master.readiness(condition)
    }

    fn buffers_input(&self) -> bool {
        true
    }

    fn pending_input(&self) -> bool {
        self.session.check_pending() > 0
    }

    fn shutdown(&self, how: Shutdown) -> Result<()> {
        self.shutdown.fetch_or(how as u32, Ordering::AcqRel);
        self.master.shutdown(how)
    }

    fn master(&self) -> Option<&Arc<Channel>> {
        Some(&self.master)
    }
}

#[cfg(test)]
mod tests;
