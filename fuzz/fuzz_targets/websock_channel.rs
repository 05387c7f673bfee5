//! The websocket channel's read path as a whole, at either end, after a handshake it
//! completed over a socketpair: frames of every size (the largest reach the direct
//! read into the caller's buffers; lengths may be declared far beyond what comes)
//! with any header bits, and hostile bytes, written to the socket in pieces split
//! at arbitrary points (the first together with the handshake head) and read with
//! iovecs of arbitrary sizes. What the channel hands out must be the data frames'
//! payload up to the first close frame (then end-of-file) or breach (then its
//! error), as a decoder reading the whole wire at once finds; its input buffer never
//! grows past its bound (a debug assertion in the channel); and the peer gets
//! nothing but pongs for a subsequence of the pings, the first ping's among them,
//! then the close frame that answers the close or the breach.

#![no_main]

use std::io::{IoSliceMut, Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};

use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;
use qio::io::websock::frame::{
    self, close_payload, close_reply, Decoder, Item, Role, Violation, OP_BINARY, OP_CLOSE,
    OP_CONTINUATION, OP_PING, OP_PONG, OP_TEXT,
};
use qio::io::websock::handshake::{server_verdict, ClientRequest, Parsed};
use qio::io::{Channel, MainContext, Socket, Websock};

/// The most wire bytes one input makes.
const MAX_WIRE: usize = 1536 << 10;
/// Steps after which the rest is written and read 1 MiB at a time, so that an input
/// of tiny pieces and reads over a large wire still ends quickly.
const MAX_SMALL_STEPS: usize = 500;
/// The most payload bytes that follow a header declaring any 64-bit length.
const MAX_SENT_OF_ANY_LENGTH: usize = 4096;
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// How the peer's stream ends, as a decoder reading it whole finds.
#[derive(Debug, PartialEq)]
enum End {
    /// The bytes run out (the peer then shuts its side down).
    Eof,
    /// A close frame with this payload.
    Close(Vec<u8>),
    Violation(Violation),
}

/// The data payload, the pings' payloads and the end, decoding `wire` whole.
fn reference(role: Role, wire: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>, End) {
    let mut buf = wire.to_vec();
    let mut decoder = Decoder::new(role);
    let (mut data, mut pings, mut at) = (Vec::new(), Vec::new(), 0);
    loop {
        let (item, used) = match decoder.next(&mut buf[at..]) {
            Ok(next) => next,
            Err(violation) => return (data, pings, End::Violation(violation)),
        };
        let base = at;
        at += used;
        match item {
            Item::NeedMore => return (data, pings, End::Eof),
            Item::Data { start, len } => {
                data.extend_from_slice(&buf[base + start..base + start + len])
            }
            Item::Control { opcode, start, len } => {
                let payload = buf[base + start..base + start + len].to_vec();
                match opcode {
                    OP_PING => pings.push(payload),
                    OP_CLOSE => return (data, pings, End::Close(payload)),
                    _ => {}
                }
            }
        }
    }
}

/// `len` bytes from `seed`: a block of up to 4093 pseudo-random bytes (xorshift64),
/// repeated. Its prime length keeps it out of step with every buffer and frame size,
/// so bytes put out of place show; and it costs little for the largest frames.
fn pattern(len: usize, seed: u64) -> Vec<u8> {
    const BLOCK: usize = 4093;
    let mut x = seed | 1;
    let block: Vec<u8> = (0..len.min(BLOCK))
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        let n = (len - out.len()).min(BLOCK);
        out.extend_from_slice(&block[..n]);
    }
    out
}

/// Appends one frame the input describes: mostly well-formed ones of the peer's
/// role, with any header bits, lengths and masking now and then.
fn push_frame(u: &mut Unstructured<'_>, role: Role, wire: &mut Vec<u8>) -> Result<()> {
    const OPCODES: [u8; 6] = [
        OP_BINARY,
        OP_CONTINUATION,
        OP_PING,
        OP_PONG,
        OP_CLOSE,
        OP_TEXT,
    ];
    let b0 = match u.ratio(1u8, 8)? {
        true => u.arbitrary::<u8>()?,
        false => {
            let opcode = *u.choose(&OPCODES)?;
            let fin = opcode >= OP_CLOSE || u.ratio(3u8, 4)?;
            u8::from(fin) << 7 | opcode
        }
    };
    let control = b0 & 0x08 != 0;
    // Each length class; the large ones (which cost the most to run) seldom.
    let (declared, most): (u64, usize) = match u.int_in_range(0u8..=31)? {
        _ if control && !u.ratio(1u8, 16)? => (u.int_in_range(0..=125)?, usize::MAX),
        0..=19 => (u.int_in_range(0..=125)?, usize::MAX),
        20..=26 => (u.int_in_range(126..=65535)?, usize::MAX),
        27 => (u.int_in_range(65536..=200_000)?, usize::MAX),
        28 | 29 => (u.int_in_range(256 << 10..=700 << 10)?, usize::MAX),
        _ => (u.arbitrary::<u64>()?, MAX_SENT_OF_ANY_LENGTH),
    };
    // A client's frames are masked, a server's are not, but now and then.
    let masked = (role == Role::Client) != u.ratio(1u8, 32)?;
    let mask: [u8; 4] = u.arbitrary()?;
    // The shortest length encoding, or now and then a longer one.
    let form = match (declared, u.ratio(1u8, 16)?) {
        (0..=125, false) => 0,
        (0..=0xffff, false) => 1,
        (_, false) => 2,
        (0..=0xffff, true) => u.int_in_range(1..=2)?,
        (_, true) => 2,
    };
    let b1 = u8::from(masked) << 7;
    match form {
        0 => wire.extend([b0, b1 | declared as u8]),
        1 => {
            wire.extend([b0, b1 | 126]);
            wire.extend((declared as u16).to_be_bytes());
        }
        _ => {
            wire.extend([b0, b1 | 127]);
            wire.extend(declared.to_be_bytes());
        }
    }
    if masked {
        wire.extend(mask);
    }
    // What comes of the payload: all of it unless the wire would outgrow its bound,
    // or a length far beyond it was declared.
    let room = MAX_WIRE.saturating_sub(wire.len());
    let len = usize::try_from(declared)
        .unwrap_or(usize::MAX)
        .min(room)
        .min(most);
    let mut payload = pattern(len, u.arbitrary()?);
    if b0 & 0x0f == OP_CLOSE && len >= 2 {
        payload[..2].copy_from_slice(&u.arbitrary::<[u8; 2]>()?);
    }
    if masked {
        frame::apply_mask(&mut payload, mask, 0);
    }
    wire.extend(payload);
    Ok(())
}

/// The peer's bytes: frames, and now and then raw bytes.
fn make_wire(u: &mut Unstructured<'_>, role: Role) -> Vec<u8> {
    let mut wire = Vec::new();
    while !u.is_empty() && wire.len() < MAX_WIRE {
        let more = match u.ratio(1u8, 16) {
            Ok(true) => u
                .int_in_range(1..=64)
                .and_then(|n| u.bytes(n))
                .map(|b| wire.extend_from_slice(b)),
            _ => push_frame(u, role, &mut wire),
        };
        if more.is_err() || u.ratio(1u8, 8).unwrap_or(true) {
            break;
        }
    }
    wire.truncate(MAX_WIRE);
    wire
}

/// Up to 16 sizes drawn from the input, used in turn: where the wire is cut, and
/// how much each read asks for in up to three buffers.
fn sizes(u: &mut Unstructured<'_>) -> Vec<usize> {
    let mut sizes = Vec::new();
    for _ in 0..u.int_in_range(1..=16).unwrap_or(1) {
        let size = match u.int_in_range(0u8..=7).unwrap_or(7) {
            0 => Ok(0),
            1 | 2 => u.int_in_range(1..=64),
            3..=5 => u.int_in_range(65..=65536),
            _ => u.int_in_range(256 << 10..=1 << 20),
        };
        sizes.push(size.unwrap_or(1 << 20));
    }
    sizes
}

/// The peer's side of the socketpair, non-blocking.
struct Peer(UnixStream);

impl Peer {
    /// Everything readable now; `None` once the channel shut the socket down.
    fn drain(&mut self, into: &mut Vec<u8>) -> Option<usize> {
        let mut buf = [0; 65536];
        let mut got = 0;
        loop {
            match self.0.read(&mut buf) {
                Ok(0) => return None,
                Ok(n) => {
                    into.extend_from_slice(&buf[..n]);
                    got += n;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return Some(got),
                Err(e) => panic!("peer read: {e}"),
            }
        }
    }
}

/// The channel at `role`'s end of a socketpair, past its handshake, with `first`
/// written right behind the handshake head.
fn open(role: Role, first: &[u8]) -> (Arc<Channel<Websock>>, Peer) {
    let (ours, theirs) = UnixStream::pair().unwrap();
    theirs.set_nonblocking(true).unwrap();
    let mut peer = Peer(theirs);
    let master = Socket::new_fd(ours.into())
        .map_err(|(e, _)| e)
        .unwrap()
        .upcast();
    let outcome = Arc::new(Mutex::new(None));
    let done = {
        let outcome = outcome.clone();
        move |result| *outcome.lock().unwrap() = Some(result)
    };
    let mut head = Vec::new();
    let ws = match role {
        Role::Server => {
            let ws = Websock::new_server(master);
            ws.set_blocking(false).unwrap();
            let request = ClientRequest::new("localhost", "/", &["binary"]).unwrap();
            peer.0
                .write_all(&[&request.to_bytes(KEY)[..], first].concat())
                .unwrap();
            ws.handshake(done);
            ws
        }
        Role::Client => {
            let ws = Websock::new_client(master, "localhost", "/", &["binary"]).unwrap();
            ws.set_blocking(false).unwrap();
            ws.handshake(done);
            let mut request = Vec::new();
            while !request.ends_with(b"\r\n\r\n") {
                peer.drain(&mut request).unwrap();
            }
            let Parsed::Complete {
                outcome: verdict, ..
            } = server_verdict(&request, "x")
            else {
                panic!("an incomplete request");
            };
            peer.0
                .write_all(&[&verdict.reply[..], first].concat())
                .unwrap();
            ws
        }
    };
    let context = MainContext::default();
    for _ in 0..1000 {
        if let Some(result) = outcome.lock().unwrap().take() {
            result.unwrap();
            if role == Role::Server {
                while !head.ends_with(b"\r\n\r\n") {
                    peer.drain(&mut head).unwrap();
                }
                assert!(head.starts_with(b"HTTP/1.1 101 "));
            }
            return (ws, peer);
        }
        context.iteration(false);
    }
    panic!("the handshake did not complete");
}

fuzz_target!(|input: &[u8]| {
    let mut u = Unstructured::new(input);
    let role = match u.arbitrary::<bool>().unwrap_or(false) {
        false => Role::Server,
        true => Role::Client,
    };
    // The channel at `role`'s end reads frames from a peer of the other role.
    let peer_role = match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let cuts = sizes(&mut u);
    let reads = sizes(&mut u);
    let wire = make_wire(&mut u, peer_role);
    let (data, pings, end) = reference(role, &wire);

    // What a socket takes at once, with the handshake head.
    let first = cuts[0].min(wire.len()).min(64 << 10);
    let (ws, mut peer) = open(role, &wire[..first]);
    let (mut at, mut cut, mut shut) = (first, 1, false);
    // Allocated once: zeroing 3 MiB for every input would cost more than the rest.
    let mut buf = READ_BUFFER.with(|b| b.take());
    buf.resize(3 << 20, 0);
    let mut got = Vec::new();
    let mut replies = Vec::new();
    let mut count = 0;
    let outcome = loop {
        count += 1;
        assert!(count < 10_000_000, "no progress");
        let small = count <= MAX_SMALL_STEPS;
        // The next piece of the wire, as far as the socket takes it.
        if at < wire.len() {
            let piece = match small {
                true => cuts[cut % cuts.len()].max(1),
                false => 1 << 20,
            };
            let end = (at + piece).min(wire.len());
            cut += 1;
            match peer.0.write(&wire[at..end]) {
                Ok(n) => at += n,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
                Err(e) => panic!("peer write: {e}"),
            }
        } else if !shut {
            // The channel may have shut the socket down already (after a close echo).
            let _ = peer.0.shutdown(std::net::Shutdown::Write);
            shut = true;
        }
        // One read, into one to three buffers of the sizes next in turn (the first
        // size also says how many); at least one byte in all.
        let mut iov = Vec::new();
        let mut rest = &mut buf[..];
        let turn = |i: usize| reads[(count + i) % reads.len()];
        let buffers = match small {
            true => 1 + turn(0) % 3,
            false => 1,
        };
        let mut total = 0;
        for i in 0..buffers {
            let size = match small {
                true => turn(i),
                false => 1 << 20,
            };
            // Empty buffers read nothing: the last one gets a byte then.
            let size = match (i + 1 == buffers, total + size) {
                (true, 0) => 1,
                _ => size,
            };
            let (piece, tail) = rest.split_at_mut(size);
            iov.push(IoSliceMut::new(piece));
            rest = tail;
            total += size;
        }
        match ws.readv_full(&mut iov, None, 0) {
            Ok(0) => break Ok(()),
            Ok(n) => {
                let mut left = n;
                for piece in &iov {
                    let k = piece.len().min(left);
                    got.extend_from_slice(&piece[..k]);
                    left -= k;
                }
            }
            Err(e) if e.would_block() => {}
            Err(e) => break Err(e.message().to_owned()),
        }
        // The peer reads what is sent to it now and then, as a peer that reads does.
        if count % 64 == 0 {
            peer.drain(&mut replies);
        }
    };

    assert!(
        got == data,
        "{} bytes read, {} expected",
        got.len(),
        data.len()
    );
    match &end {
        End::Violation(v) => assert_eq!(outcome, Err(format!("websocket: {}", v.reason))),
        _ => assert_eq!(outcome, Ok(())),
    }

    // What the reads owe the peer goes out with the pump once the peer reads.
    let context = MainContext::default();
    let mut quiet = 0;
    while quiet < 3 {
        quiet += 1;
        match peer.drain(&mut replies) {
            Some(0) => {}
            Some(_) => quiet = 0,
            None => break,
        }
        context.iteration(false);
    }
    check_replies(role, &replies, &pings, &end);
    READ_BUFFER.with(|b| b.set(buf));
});

thread_local! {
    /// The buffers reads go into, kept between inputs.
    static READ_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Checks what the channel sent the peer: pongs answering a subsequence of `pings`
/// in order, the first among them, then the close frame `end` calls for.
fn check_replies(role: Role, replies: &[u8], pings: &[Vec<u8>], end: &End) {
    // The channel's frames, read as its peer reads them.
    let peer_role = match role {
        Role::Server => Role::Client,
        Role::Client => Role::Server,
    };
    let mut buf = replies.to_vec();
    let mut decoder = Decoder::new(peer_role);
    let (mut at, mut next_ping, mut close) = (0, 0, None);
    while at < buf.len() {
        assert!(close.is_none(), "a frame after the close frame");
        let (item, used) = decoder.next(&mut buf[at..]).expect("a well-formed reply");
        let base = at;
        at += used;
        match item {
            Item::Control {
                opcode: OP_PONG,
                start,
                len,
            } => {
                let payload = &buf[base + start..base + start + len];
                assert!(next_ping > 0 || pings.first().is_some_and(|p| p == payload));
                let skip = pings[next_ping..].iter().position(|p| p == payload);
                next_ping += skip.expect("a pong answering a later ping") + 1;
            }
            Item::Control {
                opcode: OP_CLOSE,
                start,
                len,
            } => {
                close = Some(buf[base + start..base + start + len].to_vec());
            }
            other => panic!("the channel sent {other:?}"),
        }
    }
    assert_eq!(
        next_ping > 0,
        !pings.is_empty(),
        "the first ping is answered"
    );
    let expected = match end {
        End::Eof => None,
        End::Close(payload) => Some(close_reply(payload)),
        End::Violation(v) => Some(close_payload(v.code, &v.reason)),
    };
    assert_eq!(close, expected);
}
