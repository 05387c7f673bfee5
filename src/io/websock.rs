//! WebSocket channels (RFC 6455, binary frames) over any channel: QEMU's
//! `io/channel-websock.c` server, and a client QEMU lacks.
//!
//! Reads decode the peer's frames in place in an input buffer and hand out their
//! payload; the rest of a large frame goes straight into a large enough caller's
//! buffer. The input buffer holds 4 KiB (a handshake head) until data streams in,
//! doubles while reads from the master fill it, up to 256 KiB, and returns to 4 KiB
//! once the master has nothing more: an idle or stalled connection costs a few KiB.
//! Each write sends one binary frame of at most [`MAX_FRAME`] bytes straight from
//! the caller's buffers (a client masks a copy, a piece at a time); when the master
//! takes only part, the frame stays open and the next write continues it. Pings are
//! answered (one pong owed at a time, as in QEMU) and a peer's close is echoed, but a
//! read never waits for output: it sends a reply itself only when no writer holds
//! the output side and the master polls ready for it; otherwise the reply goes with
//! the next write, or from a pump on the default main context, as does the rest of
//! a header the master did not take. So a peer that sends pings and never reads
//! cannot make a read block. Closing the channel, or shutting it down both ways,
//! sends what is owed and a close frame of its own, which QEMU's does not.

pub mod frame;
pub mod handshake;

use std::io::{IoSlice, IoSliceMut};
use std::ops::Range;
use std::os::fd::BorrowedFd;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, TryLockError, Weak};
use std::time::Duration;

use base64::Engine;

use crate::io::channel::{Base, RecvFds};
use crate::io::context::{MainContext, SourceGuard};
use crate::io::handshake_driver::{self, Handshake, HandshakeSlot, Step};
use crate::io::watch::{Condition, Readiness, G_IO_IN, G_IO_OUT};
use crate::io::{Channel, ChannelImpl, Feature, Shutdown};
use crate::{Error, ErrorKind, Result};
use frame::{Decoder, Item, Role, Violation};
use handshake::{ClientRequest, Parsed};

/// The most payload one written frame carries.
pub const MAX_FRAME: usize = 1 << 20;
/// How much of a client's payload is masked into a copy before it is written: small
/// enough to stay in cache for the master's own copy, large enough to need few
/// writes (measured: see bench/README.md's WebSockets table).
const MASK_CHUNK: usize = 256 * 1024;
/// The input buffer's size during the handshake, and again whenever the connection
/// is idle: a whole upgrade head (QEMU reads 4 KiB at a time).
const INPUT_MIN: usize = handshake::MAX_HEAD;
/// The most the input buffer grows to while data streams in: wire bytes read ahead
/// of the reader, never more (CVE-2015-1779, CVE-2017-15268). From this size on, the
/// rest of a frame goes straight into the caller's buffers instead.
const INPUT_MAX: usize = 256 * 1024;
const _: () = assert!(INPUT_MIN >= frame::MAX_HEADER + frame::MAX_CONTROL_PAYLOAD);

/// Where the opening handshake stands.
enum Phase {
    /// Server: reading the upgrade request.
    ServerRequest,
    /// Server: sending the reply, then finishing with this result.
    ServerReply(Result<()>),
    /// Client: sending the request made with this key.
    ClientRequest(String),
    /// Client: reading the reply to the request made with this key.
    ClientReply(String),
    Open,
    Failed,
}

/// What the reader side keeps.
struct Input {
    /// Its length is the room for wire bytes: [`INPUT_MIN`] to [`INPUT_MAX`].
    buf: Vec<u8>,
    /// Wire bytes not decoded yet.
    wire: Range<usize>,
    /// Decoded payload not handed out yet (before `wire`).
    data: Range<usize>,
    decoder: Decoder,
    /// Why reads end: the peer closed (`None`: end-of-file) or broke the protocol.
    ended: Option<Option<Error>>,
    /// The last read from the master filled all the room it had: data is streaming
    /// in faster than it is read, so the next read gets more room.
    filled: bool,
}

impl Input {
    /// Makes the buffer `size` bytes long, with the undecoded wire bytes moved to its
    /// front; only called with no decoded payload waiting.
    fn resize(&mut self, size: usize) {
        debug_assert!(self.data.is_empty() && self.wire.len() <= size);
        let wire = self.wire.clone();
        self.wire = 0..wire.len();
        self.data = 0..0;
        if size == self.buf.len() {
            self.buf.copy_within(wire, 0);
            return;
        }
        let mut buf = vec![0; size];
        buf[..wire.len()].copy_from_slice(&self.buf[wire]);
        self.buf = buf;
        self.filled = false;
    }
}

/// What the writer side keeps. A data frame's payload comes from the writer's own
/// buffers, never copied for a server; when the master takes only part of it, the
/// frame stays open and the next write continues it, so nothing of the caller's
/// waits in here. Only small things do: the rest of a frame header, control frames,
/// handshake heads.
struct Output {
    /// Whose frames these are: a client masks them.
    role: Role,
    /// The handshake completed: frames may go out. Kept here, not only in the phase,
    /// so that closing never waits for a handshake step.
    established: bool,
    /// Bytes the master has not taken yet, to go before anything else.
    pending: Vec<u8>,
    /// Payload bytes the open data frame still needs from the writer.
    remaining: u64,
    /// The open frame's mask (a client's) and how far into its payload it is.
    mask: Option<[u8; 4]>,
    offset: u64,
    /// Control frames waiting for the open data frame to end.
    control: Vec<u8>,
    /// A client's masked copy of the payload being written, [`MASK_CHUNK`] at most.
    scratch: Vec<u8>,
    masks: MaskSource,
    /// The owed pong is queued here: once it has left, another ping may be answered.
    pong_queued: bool,
    /// A close frame was queued: nothing may follow it.
    closing: bool,
    /// The queued close frame answers the peer's: the master is shut down once it
    /// has left.
    shutdown_when_sent: bool,
}

impl Output {
    /// Queues a control frame unless a close went first: at once between data
    /// frames, else after the open one.
    fn queue_control(&mut self, opcode: u8, payload: &[u8]) -> Result<()> {
        if self.closing {
            return Ok(());
        }
        self.closing = opcode == frame::OP_CLOSE;
        let mask = self.new_mask()?;
        let mut header = [0u8; frame::MAX_HEADER];
        let n = frame::write_header(&mut header, opcode, payload.len() as u64, mask);
        let queue = match self.remaining {
            0 => &mut self.pending,
            _ => &mut self.control,
        };
        queue.extend_from_slice(&header[..n]);
        let start = queue.len();
        queue.extend_from_slice(payload);
        if let Some(mask) = mask {
            frame::apply_mask(&mut queue[start..], mask, 0);
        }
        Ok(())
    }

    /// A fresh random mask for a client's frame; none for a server's.
    fn new_mask(&mut self) -> Result<Option<[u8; 4]>> {
        match self.role {
            Role::Server => Ok(None),
            Role::Client => self.masks.next().map(Some),
        }
    }
}

/// The control frames the reading side owes the peer, and the pump that sends them.
/// A read hands its replies over here and never waits for [`Output`], whose lock a
/// writer holds while the master blocks; whoever next holds the output (a read
/// that finds it free, a write, the pump, closing) moves them into it.
#[derive(Default)]
struct Replies {
    /// The payload of the ping to answer.
    pong: Option<Vec<u8>>,
    /// A pong is owed, here or queued in the output: later pings go unanswered until
    /// it has left (QEMU's rule), so a flood of pings costs one pong.
    pong_owed: bool,
    /// A close frame's payload, and whether it answers the peer's close (then the
    /// master is shut down once it has left) rather than a breach of the protocol.
    close: Option<(Vec<u8>, bool)>,
    /// The master watch that sends what is owed and pending from the default main
    /// context.
    pump: Option<SourceGuard>,
}

/// Random masks for a client's frames, from the kernel's generator 64 at a time
/// rather than with a getrandom(2) call for every frame written.
struct MaskSource {
    bytes: [u8; 256],
    /// How many of `bytes` have been handed out.
    used: usize,
}

impl MaskSource {
    fn new() -> Self {
        MaskSource {
            bytes: [0; 256],
            used: 256,
        }
    }

    fn next(&mut self) -> Result<[u8; 4]> {
        if self.used == self.bytes.len() {
            crate::crypto::random::fill(&mut self.bytes)?;
            self.used = 0;
        }
        let mask = self.bytes[self.used..self.used + 4]
            .try_into()
            .expect("4 bytes");
        self.used += 4;
        Ok(mask)
    }
}

/// The websocket channel's state.
///
/// A client and a server over a socketpair: the handshakes run in the default main
/// context, then binary frames carry the bytes.
///
/// ```
/// use std::os::unix::net::UnixStream;
/// use std::sync::mpsc;
/// use qio::io::{MainContext, Socket, Websock};
///
/// let (a, b) = UnixStream::pair().unwrap();
/// let socket = |s: UnixStream| Socket::new_fd(s.into()).map_err(|(e, _)| e);
/// let client = Websock::new_client(socket(a)?.upcast(), "localhost", "/", &["binary"])?;
/// let server = Websock::new_server(socket(b)?.upcast());
///
/// let (done, outcomes) = mpsc::channel();
/// for ws in [&client, &server] {
///     ws.set_blocking(false)?;
///     let done = done.clone();
///     ws.handshake(move |outcome| done.send(outcome).unwrap());
/// }
/// let context = MainContext::default();
/// for _ in 0..2 {
///     while outcomes.try_recv().map(|outcome| outcome.unwrap()).is_err() {
///         context.iteration(true);
///     }
/// }
/// assert_eq!(server.imp().protocol().as_deref(), Some("binary"));
///
/// client.set_blocking(true)?;
/// server.set_blocking(true)?;
/// client.write_all(b"frame")?;
/// let mut got = [0; 5];
/// server.read_all(&mut got)?;
/// assert_eq!(&got, b"frame");
/// # Ok::<(), qio::Error>(())
/// ```
pub struct Websock {
    master: Arc<Channel>,
    /// The client's request; `None` for a server.
    request: Option<ClientRequest>,
    phase: Mutex<Phase>,
    /// The subprotocol agreed in the handshake.
    protocol: Mutex<Option<String>>,
    input: Mutex<Input>,
    /// Shared with the pump's callback, which holds it weakly, as `replies`.
    output: Arc<Mutex<Output>>,
    replies: Arc<Mutex<Replies>>,
    /// The handshake in progress and its timeout: cancelled with the channel or when
    /// it closes, so the handshake's callback never runs after either (CVE-2025-11234).
    handshake: HandshakeSlot,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Websock {
    /// The server end of a websocket over `master` (`qio_channel_websock_new_server`).
    /// Start it with [`Channel::<Websock>::handshake`].
    pub fn new_server(master: Arc<Channel>) -> Arc<Channel<Websock>> {
        Websock::new_channel(master, Role::Server, None, Phase::ServerRequest)
    }

    /// The client end of a websocket over `master`, asking `host` for `path` with the
    /// subprotocols `protocols` (`qio_channel_websock_new_client`).
    pub fn new_client(
        master: Arc<Channel>,
        host: &str,
        path: &str,
        protocols: &[&str],
    ) -> Result<Arc<Channel<Websock>>> {
        let request = ClientRequest::new(host, path, protocols)?;
        let mut key = [0u8; 16];
        crate::crypto::random::fill(&mut key)?;
        let key = base64::engine::general_purpose::STANDARD.encode(key);
        Ok(Websock::new_channel(
            master,
            Role::Client,
            Some(request),
            Phase::ClientRequest(key),
        ))
    }

    fn new_channel(
        master: Arc<Channel>,
        role: Role,
        request: Option<ClientRequest>,
        phase: Phase,
    ) -> Arc<Channel<Websock>> {
        let features: &[Feature] = match master.has_feature(Feature::Shutdown) {
            true => &[Feature::Shutdown],
            false => &[],
        };
        Channel::with_features(
            Websock {
                master,
                request,
                phase: Mutex::new(phase),
                protocol: Mutex::new(None),
                input: Mutex::new(Input {
                    buf: vec![0; INPUT_MIN],
                    wire: 0..0,
                    data: 0..0,
                    decoder: Decoder::new(role),
                    ended: None,
                    filled: false,
                }),
                output: Arc::new(Mutex::new(Output {
                    role,
                    established: false,
                    pending: Vec::new(),
                    remaining: 0,
                    mask: None,
                    offset: 0,
                    control: Vec::new(),
                    scratch: Vec::new(),
                    masks: MaskSource::new(),
                    pong_queued: false,
                    closing: false,
                    shutdown_when_sent: false,
                })),
                replies: Arc::new(Mutex::new(Replies::default())),
                handshake: HandshakeSlot::default(),
            },
            features,
        )
    }

    /// The channel the frames travel over.
    pub fn master(&self) -> &Arc<Channel> {
        &self.master
    }

    /// The subprotocol the handshake agreed on, if any: a server's is `binary` when the
    /// client asked for it.
    pub fn protocol(&self) -> Option<String> {
        lock(&self.protocol).clone()
    }

    /// Runs the handshake as far as the master allows; a failure leaves the channel
    /// unusable.
    fn handshake_progress(&self) -> Step {
        let mut phase = lock(&self.phase);
        let step = self.advance(&mut phase);
        match step {
            Step::Done(Ok(())) => lock(&self.output).established = true,
            Step::Done(Err(_)) => *phase = Phase::Failed,
            Step::Wait(_) => {}
        }
        step
    }

    fn advance(&self, phase: &mut Phase) -> Step {
        loop {
            match &*phase {
                Phase::ServerRequest => {
                    match self.read_head() {
                        Err(e) => return Step::Done(Err(e)),
                        Ok(false) => return Step::Wait(G_IO_IN),
                        Ok(true) => {}
                    }
                    let mut input = lock(&self.input);
                    let date = handshake::http_date(std::time::SystemTime::now());
                    let Parsed::Complete { len, outcome } =
                        handshake::server_verdict(&input.buf[input.wire.clone()], &date)
                    else {
                        continue;
                    };
                    input.wire.start += len;
                    lock(&self.output).pending = outcome.reply;
                    let result = outcome.result.map(|binary| {
                        *lock(&self.protocol) =
                            binary.then(|| handshake::PROTOCOL_BINARY.to_owned());
                    });
                    *phase = Phase::ServerReply(result);
                }
                Phase::ServerReply(_) => {
                    match self.flush() {
                        Err(e) => return Step::Done(Err(e)),
                        Ok(false) => return Step::Wait(G_IO_OUT),
                        Ok(true) => {}
                    }
                    let Phase::ServerReply(result) = std::mem::replace(&mut *phase, Phase::Open)
                    else {
                        unreachable!("matched above");
                    };
                    return Step::Done(result);
                }
                Phase::ClientRequest(key) => {
                    let key = key.clone();
                    {
                        let mut output = lock(&self.output);
                        if output.pending.is_empty() {
                            let request = self.request.as_ref().expect("a client's request");
                            output.pending = request.to_bytes(&key);
                        }
                    }
                    match self.flush() {
                        Err(e) => return Step::Done(Err(e)),
                        Ok(false) => return Step::Wait(G_IO_OUT),
                        Ok(true) => {}
                    }
                    *phase = Phase::ClientReply(key);
                }
                Phase::ClientReply(key) => {
                    match self.read_head() {
                        Err(e) => return Step::Done(Err(e)),
                        Ok(false) => return Step::Wait(G_IO_IN),
                        Ok(true) => {}
                    }
                    let mut input = lock(&self.input);
                    let request = self.request.as_ref().expect("a client's request");
                    let Parsed::Complete { len, outcome } =
                        request.check_reply(&input.buf[input.wire.clone()], key)
                    else {
                        continue;
                    };
                    input.wire.start += len;
                    *phase = Phase::Open;
                    return Step::Done(outcome.map(|p| *lock(&self.protocol) = p));
                }
                Phase::Open => return Step::Done(Ok(())),
                Phase::Failed => {
                    return Step::Done(Err(Error::new(
                        ErrorKind::Failed,
                        "The websocket handshake failed",
                    )))
                }
            }
        }
    }

    /// Reads what the master has toward a handshake head, at most
    /// [`handshake::MAX_HEAD`] bytes in all: `false` when nothing new has come.
    fn read_head(&self) -> Result<bool> {
        let mut input = lock(&self.input);
        let end = input.wire.end;
        let room = handshake::MAX_HEAD.saturating_sub(end);
        if room == 0 {
            return Ok(true);
        }
        match self.master.read(&mut input.buf[end..end + room]) {
            Ok(0) => Err(Error::new(
                ErrorKind::Failed,
                "End of file before the websocket handshake completed",
            )),
            Ok(n) => {
                input.wire.end += n;
                Ok(true)
            }
            Err(e) if e.would_block() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes what is pending to the master: `true` once nothing is left.
    fn flush(&self) -> Result<bool> {
        flush_output(&self.master, &mut lock(&self.output), &self.replies)
    }

    /// Writes what is owed and pending as far as the master takes it, leaving the
    /// rest to the pump: `true` once nothing is left.
    fn send_pending(&self, output: &mut Output) -> Result<bool> {
        take_replies(output, &self.replies)?;
        let flushed = flush_output(&self.master, output, &self.replies)?;
        if !flushed {
            self.arm_pump(&mut lock(&self.replies));
        }
        Ok(flushed)
    }

    /// Sends what the reading side owes, from a read, only where that cannot wait: the
    /// output side is free (no writer holds it) and the master polls ready for
    /// output, then with one write of these few bytes. What is left goes with the
    /// next write or from the pump. A read never waits for the peer to read, nor
    /// for a writer.
    fn send_replies_from_read(&self) {
        let mut output = match self.output.try_lock() {
            Ok(output) => output,
            Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
            Err(TryLockError::WouldBlock) => return self.arm_pump(&mut lock(&self.replies)),
        };
        let sent = take_replies(&mut output, &self.replies).and_then(|()| {
            if output.pending.is_empty() || self.master_polls(G_IO_OUT) != Some(true) {
                return Ok(());
            }
            let n = self.master.write(&output.pending)?;
            output.pending.drain(..n);
            Ok(())
        });
        match sent {
            // Everything went: what follows its departure (another ping may be
            // answered; an echoed close shuts the master down). Nothing is written.
            Ok(()) if output.pending.is_empty() => {
                let _ = flush_output(&self.master, &mut output, &self.replies);
            }
            // The peer may be gone already (a server closes right after its close
            // frame): a reply the master refuses does not fail this read; the next
            // write says why.
            Err(e) if !e.would_block() => {}
            _ => self.arm_pump(&mut lock(&self.replies)),
        }
    }

    /// Arms the pump unless it is armed: a master watch on the default main context
    /// that sends what is owed and pending even if the application neither writes
    /// nor reads again.
    fn arm_pump(&self, replies: &mut Replies) {
        if replies.pump.is_some() {
            return;
        }
        let output = Arc::downgrade(&self.output);
        let owed = Arc::downgrade(&self.replies);
        let watch = self.master.create_watch(G_IO_OUT);
        watch.set_callback(move |master, _| pump(master, &output, &owed));
        replies.pump = Some(watch.attach_guarded(&MainContext::default()));
    }

    /// Writes the next payload bytes of the open frame from `iov`, after `header`
    /// when the frame starts here: the payload bytes the master took.
    fn write_payload(
        &self,
        output: &mut Output,
        iov: &[IoSlice<'_>],
        header: &[u8],
    ) -> Result<usize> {
        let take = usize::try_from(output.remaining).unwrap_or(usize::MAX);
        let payload = match output.mask {
            None => {
                let mut slices = Vec::with_capacity(iov.len() + 1);
                slices.push(IoSlice::new(header));
                let mut left = take;
                for buf in iov {
                    let n = buf.len().min(left);
                    slices.push(IoSlice::new(&buf[..n]));
                    left -= n;
                }
                self.send_part(output, &slices, header)?
            }
            Some(mask) => self.write_masked(output, iov, header, mask, take)?,
        };
        if output.remaining == 0 {
            let mut control = std::mem::take(&mut output.control);
            output.pending.append(&mut control);
            // The payload that went out counts; a failure shows on the next write.
            let _ = self.send_pending(output);
        }
        match payload {
            0 => Err(would_block()),
            n => Ok(n),
        }
    }

    /// A client's payload: masked into a copy, [`MASK_CHUNK`] bytes at a time so
    /// that the copy is still in cache when the master copies it on. Returns the
    /// payload bytes the master took, stopping early where it took only part.
    fn write_masked(
        &self,
        output: &mut Output,
        iov: &[IoSlice<'_>],
        mut header: &[u8],
        mask: [u8; 4],
        take: usize,
    ) -> Result<usize> {
        let total = iov.iter().map(|b| b.len()).sum::<usize>().min(take);
        // Taken out while its bytes are being written, so `output` stays free.
        let mut scratch = std::mem::take(&mut output.scratch);
        if scratch.len() < total.min(MASK_CHUNK) {
            // Zeroed only as it grows: it is kept between writes.
            scratch.resize(total.min(MASK_CHUNK), 0);
        }
        let mut done = 0;
        let result = loop {
            let n = (total - done).min(MASK_CHUNK);
            frame::gather_masked(&mut scratch[..n], iov, done, mask, output.offset);
            let slices = [IoSlice::new(header), IoSlice::new(&scratch[..n])];
            match self.send_part(output, &slices, header) {
                Ok(sent) if sent < n || done + sent == total => break Ok(done + sent),
                Ok(sent) => done += sent,
                // What went out counts; the error shows again on the next write.
                Err(_) if done > 0 => break Ok(done),
                Err(e) => break Err(e),
            }
            header = &[];
        };
        output.scratch = scratch;
        result
    }

    /// Writes `slices` to the master: the frame's `header` (maybe empty), then
    /// payload. Records how far the frame got and returns the payload bytes the
    /// master took.
    fn send_part(
        &self,
        output: &mut Output,
        slices: &[IoSlice<'_>],
        header: &[u8],
    ) -> Result<usize> {
        debug_assert_eq!(
            slices[0].as_ptr(),
            header.as_ptr(),
            "slices start with the header"
        );
        let written = match self.master.writev_full(slices, &[], 0) {
            Err(e) if !header.is_empty() => {
                // Not even the header left: the frame never started.
                output.remaining = 0;
                return Err(e);
            }
            result => result?,
        };
        let payload = written.saturating_sub(header.len());
        output
            .pending
            .extend_from_slice(&header[written.min(header.len())..]);
        output.remaining -= payload as u64;
        output.offset += payload as u64;
        Ok(payload)
    }

    /// Reads the rest of the current data frame's payload straight into the caller's
    /// buffers when both are at least as large as the input buffer may grow: one
    /// copy fewer for large frames, and no read past the frame. `None` when that does
    /// not apply.
    fn read_payload_direct(
        &self,
        input: &mut Input,
        iov: &mut [IoSliceMut<'_>],
    ) -> Result<Option<usize>> {
        let left = input.decoder.payload_left();
        let room = iov.iter().map(|b| b.len() as u64).sum::<u64>();
        if left < INPUT_MAX as u64 || room < INPUT_MAX as u64 {
            return Ok(None);
        }
        let mut want = left;
        let mut parts = Vec::with_capacity(iov.len());
        for buf in iov.iter_mut() {
            let n = usize::try_from(want).unwrap_or(usize::MAX).min(buf.len());
            if n > 0 {
                parts.push(IoSliceMut::new(&mut buf[..n]));
                want -= n as u64;
            }
        }
        let n = self.master.readv_full(&mut parts, None, 0)?;
        if n == 0 {
            input.ended = Some(None);
        }
        let mut got = n;
        for part in parts.iter_mut() {
            let k = part.len().min(got);
            input.decoder.payload_in_place(&mut part[..k]);
            got -= k;
        }
        Ok(Some(n))
    }

    /// Reads more wire bytes from the master after those buffered, which move to the
    /// front. The buffer doubles, up to [`INPUT_MAX`], when the last read filled it;
    /// it returns to [`INPUT_MIN`] when the master has nothing for now.
    fn read_wire(&self, input: &mut Input) -> Result<()> {
        let size = match input.filled {
            true => (input.buf.len() * 2).min(INPUT_MAX),
            false => input.buf.len(),
        };
        input.resize(size);
        debug_assert!(input.buf.len() <= INPUT_MAX);
        let end = input.wire.end;
        match self.master.read(&mut input.buf[end..]) {
            Ok(0) => input.ended = Some(None),
            Ok(n) => {
                input.wire.end += n;
                input.filled = input.wire.end == input.buf.len();
            }
            Err(e) => {
                if e.would_block() {
                    input.resize(INPUT_MIN);
                }
                input.filled = false;
                return Err(e);
            }
        }
        Ok(())
    }

    /// After a read: when everything buffered was handed out (but the start of a frame
    /// too short to decode) and the master has nothing more now, the peer has paused,
    /// and the buffer returns to [`INPUT_MIN`] before a blocking reader waits on it.
    fn shrink_if_idle(&self, input: &mut Input) {
        if input.buf.len() > INPUT_MIN
            && input.data.is_empty()
            && input.ended.is_none()
            && !input.decoder.has_item(&input.buf[input.wire.clone()])
            && !self.master_has_input()
        {
            input.resize(INPUT_MIN);
        }
    }

    /// Whether reading the master now would not wait: input it buffers itself, or its
    /// descriptor polls readable or hung up (or cannot be polled: then the buffer
    /// stays as it is).
    fn master_has_input(&self) -> bool {
        self.master.pending_input() || self.master_polls(G_IO_IN).unwrap_or(true)
    }

    /// Whether the master's descriptor for `condition` (`G_IO_IN` or `G_IO_OUT`) is
    /// ready now, or hung up; `None` if it cannot be polled.
    fn master_polls(&self, condition: Condition) -> Option<bool> {
        let fd = match self.master.readiness(condition) {
            Readiness::Always(mask) => return Some(mask & condition != 0),
            Readiness::Fd(fd) => fd,
            Readiness::FdPair { read, .. } if condition == G_IO_IN => read,
            Readiness::FdPair { write, .. } => write,
        };
        let mut pollfd = libc::pollfd {
            fd,
            events: condition as i16,
            revents: 0,
        };
        // SAFETY: one pollfd, valid for the call; a zero timeout never waits.
        match unsafe { libc::poll(&mut pollfd, 1, 0) } {
            -1 => None,
            n => Some(n > 0),
        }
    }

    /// Handles a control frame from the peer: a ping or a close is owed a reply,
    /// handed to the writing side; a close also ends reading.
    fn on_control(&self, input: &mut Input, opcode: u8, payload: Range<usize>) {
        {
            let mut replies = lock(&self.replies);
            match opcode {
                frame::OP_PING if !replies.pong_owed => {
                    replies.pong_owed = true;
                    replies.pong = Some(input.buf[payload].to_vec());
                }
                frame::OP_CLOSE => {
                    input.ended = Some(None);
                    replies.close = Some((frame::close_reply(&input.buf[payload]), true));
                }
                _ => return,
            }
        }
        self.send_replies_from_read();
    }

    /// Owes the peer a close frame for its breach of the protocol, and ends reading
    /// with the reason.
    fn on_violation(&self, input: &mut Input, violation: Violation) -> Error {
        let payload = frame::close_payload(violation.code, &violation.reason);
        lock(&self.replies).close = Some((payload, false));
        self.send_replies_from_read();
        let error = Error::new(
            ErrorKind::Failed,
            format!("websocket: {}", violation.reason),
        );
        input.ended = Some(Some(error.clone()));
        error
    }

    /// Sends what the reading side owes, then tells the peer the connection is
    /// closing, with 1000, as far as the master takes it without blocking (it is put
    /// in non-blocking mode: it is being closed or shut down both ways): a browser
    /// then sees a clean close rather than 1006. Nothing before the handshake
    /// completed; no close of its own after a close frame (an echo of the peer's
    /// goes instead) or inside an open data frame, whose end would never come.
    fn send_close(&self, output: &mut Output) {
        if !output.established {
            return;
        }
        // A failure to mask leaves only what could be queued.
        let _ = take_replies(output, &self.replies);
        if !output.closing && output.remaining == 0 {
            let payload = frame::close_payload(frame::CLOSE_NORMAL, "");
            let _ = output.queue_control(frame::OP_CLOSE, &payload);
        }
        if !output.pending.is_empty() && self.master.set_blocking(false).is_ok() {
            let _ = flush_output(&self.master, output, &self.replies);
        }
    }

    fn check_open(&self) -> Result<()> {
        match *lock(&self.phase) {
            Phase::Open => Ok(()),
            _ => Err(Error::new(
                ErrorKind::Failed,
                "The websocket handshake has not completed",
            )),
        }
    }
}

fn would_block() -> Error {
    Error::new(ErrorKind::WouldBlock, "Resource temporarily unavailable")
}

/// Writes `output.pending` to `master` as far as it takes it: `true` once empty.
/// Once no control frame is left either, the owed pong has left (another ping may
/// be answered) and an echoed close has too (the master is shut down).
fn flush_output(master: &Channel, output: &mut Output, replies: &Mutex<Replies>) -> Result<bool> {
    while !output.pending.is_empty() {
        match master.write(&output.pending) {
            Ok(n) => {
                output.pending.drain(..n);
            }
            Err(e) if e.would_block() => return Ok(false),
            Err(e) => return Err(e),
        }
    }
    if output.control.is_empty() {
        if std::mem::take(&mut output.pong_queued) {
            lock(replies).pong_owed = false;
        }
        if std::mem::take(&mut output.shutdown_when_sent) {
            // The peer's close was answered: nothing more goes either way.
            let _ = master.shutdown(Shutdown::Both);
        }
    }
    Ok(true)
}

/// Moves the control frames the reading side owes into the output.
fn take_replies(output: &mut Output, replies: &Mutex<Replies>) -> Result<()> {
    let (pong, close) = {
        let mut replies = lock(replies);
        (replies.pong.take(), replies.close.take())
    };
    if let Some(payload) = pong {
        output.pong_queued = true;
        output.queue_control(frame::OP_PONG, &payload)?;
    }
    if let Some((payload, echo)) = close {
        output.shutdown_when_sent |= echo;
        output.queue_control(frame::OP_CLOSE, &payload)?;
    }
    Ok(())
}

/// The pump's step, on the default main context when the master is ready for
/// output: sends what is owed and pending as far as the master takes it, and keeps
/// the watch while something is left. It never waits for a writer that holds the
/// output side: that writer sends what is owed itself, or the next step does.
fn pump(master: &Channel, output: &Weak<Mutex<Output>>, replies: &Weak<Mutex<Replies>>) -> bool {
    let (Some(output), Some(replies)) = (output.upgrade(), replies.upgrade()) else {
        return false;
    };
    let mut output = match output.try_lock() {
        Ok(output) => output,
        Err(TryLockError::Poisoned(poisoned)) => poisoned.into_inner(),
        Err(TryLockError::WouldBlock) => return true,
    };
    let sent = take_replies(&mut output, &replies)
        .and_then(|()| flush_output(master, &mut output, &replies));
    // Decided with the output still held, so that a writer's partial frame cannot
    // slip in behind the decision; with `replies` held, so that a read's reply
    // either is seen here or arms a new pump.
    let mut owed = lock(&replies);
    if matches!(sent, Ok(false)) || (sent.is_ok() && (owed.pong.is_some() || owed.close.is_some()))
    {
        return true;
    }
    // Dropping our own guard is safe here: GLib holds the source while dispatching
    // it.
    let pump = owed.pump.take();
    drop(owed);
    drop(pump);
    false
}

impl Channel<Websock> {
    /// Runs the opening handshake from the default main context, calling `done` once
    /// with the result, unless the channel is closed or dropped first
    /// (`qio_channel_websock_handshake`). A server refusing a request sends its 4xx
    /// reply before reporting the reason. The handshake never blocks the context's
    /// thread, even over a blocking master, and fails with [`ErrorKind::TimedOut`] once
    /// the [timeout](Channel::<Websock>::set_handshake_timeout) passes.
    pub fn handshake(self: &Arc<Self>, done: impl FnOnce(Result<()>) + Send + 'static) {
        handshake_driver::start(self, MainContext::default(), Box::new(done));
    }

    /// Limits how long the next [handshake](Channel::<Websock>::handshake) may take,
    /// from its start; `None` (the default, as in QEMU) waits for the peer indefinitely.
    pub fn set_handshake_timeout(&self, timeout: Option<Duration>) {
        self.imp().handshake.set_timeout(timeout);
    }
}

impl Handshake for Websock {
    const NAME: &'static str = "websocket";

    fn step(&self) -> Step {
        self.handshake_progress()
    }

    fn transport(&self) -> &Arc<Channel> {
        &self.master
    }

    fn handshake_slot(&self) -> &HandshakeSlot {
        &self.handshake
    }
}

impl ChannelImpl for Websock {
    fn readv(&self, iov: &mut [IoSliceMut<'_>], _: RecvFds<'_>, _: u32) -> Result<usize> {
        self.check_open()?;
        if iov.iter().all(|b| b.is_empty()) {
            return Ok(0);
        }
        let mut guard = lock(&self.input);
        let input = &mut *guard;
        loop {
            if !input.data.is_empty() {
                let mut got = 0;
                for buf in iov.iter_mut() {
                    let n = buf.len().min(input.data.len());
                    buf[..n].copy_from_slice(&input.buf[input.data.start..input.data.start + n]);
                    input.data.start += n;
                    got += n;
                    if input.data.is_empty() {
                        break;
                    }
                }
                self.shrink_if_idle(input);
                return Ok(got);
            }
            if let Some(ended) = &input.ended {
                return ended.clone().map_or(Ok(0), Err);
            }
            let wire = input.wire.clone();
            match input.decoder.next(&mut input.buf[wire.clone()]) {
                Err(violation) => return Err(self.on_violation(input, violation)),
                Ok((Item::Data { start, len }, used)) => {
                    input.data = wire.start + start..wire.start + start + len;
                    input.wire.start += used;
                }
                Ok((Item::Control { opcode, start, len }, used)) => {
                    input.wire.start += used;
                    let payload = wire.start + start..wire.start + start + len;
                    self.on_control(input, opcode, payload);
                }
                Ok((Item::NeedMore, _)) => {
                    if wire.is_empty() {
                        if let Some(n) = self.read_payload_direct(input, iov)? {
                            self.shrink_if_idle(input);
                            return Ok(n);
                        }
                    }
                    self.read_wire(input)?;
                }
            }
        }
    }

    fn writev(&self, iov: &[IoSlice<'_>], _: &[BorrowedFd<'_>], _: u32) -> Result<usize> {
        self.check_open()?;
        let mut guard = lock(&self.output);
        let output = &mut *guard;
        take_replies(output, &self.replies)?;
        if output.closing {
            // What precedes the close frame, and the close frame, still go.
            let _ = self.send_pending(output);
            return Err(Error::new(ErrorKind::Failed, "Broken pipe"));
        }
        let len = iov.iter().map(|b| b.len()).sum::<usize>().min(MAX_FRAME);
        if len == 0 {
            return Ok(0);
        }
        if !flush_output(&self.master, output, &self.replies)? {
            return Err(would_block());
        }
        if output.remaining > 0 {
            return self.write_payload(output, iov, &[]);
        }
        let mask = output.new_mask()?;
        let mut header = [0u8; frame::MAX_HEADER];
        let n = frame::write_header(&mut header, frame::OP_BINARY, len as u64, mask);
        (output.remaining, output.mask, output.offset) = (len as u64, mask, 0);
        self.write_payload(output, iov, &header[..n])
    }

    fn set_blocking(&self, enabled: bool) -> Result<()> {
        self.master.set_blocking(enabled)
    }

    fn close(&self, _: &Base) -> Result<()> {
        self.handshake.cancel();
        self.send_close(&mut lock(&self.output));
        let pump = lock(&self.replies).pump.take();
        drop(pump);
        self.master.close()
    }

    fn finalize(&self, _: &Base) {
        self.handshake.cancel();
        let pump = lock(&self.replies).pump.take();
        drop(pump);
    }

    fn readiness(&self, condition: Condition) -> Readiness {
        self.master.readiness(condition)
    }

    fn buffers_input(&self) -> bool {
        true
    }

    fn pending_input(&self) -> bool {
        let input = lock(&self.input);
        !input.data.is_empty()
            || input.ended.is_some()
            || input.decoder.has_item(&input.buf[input.wire.clone()])
    }

    fn shutdown(&self, how: Shutdown) -> Result<()> {
        // Shutting down both ways ends the session as closing does (QEMU's VNC server
        // disconnects so), but must not wait for a writer stuck in the master: that is
        // what a shutdown is for, so the close frame is skipped while another thread
        // writes. Reads go on after a write shutdown, so it sends none.
        if how == Shutdown::Both && self.master.has_feature(Feature::Shutdown) {
            if let Ok(mut output) = self.output.try_lock() {
                self.send_close(&mut output);
            }
        }
        self.master.shutdown(how)
    }

    fn master(&self) -> Option<&Arc<Channel>> {
        Some(&self.master)
    }
}

#[cfg(test)]
mod tests;
