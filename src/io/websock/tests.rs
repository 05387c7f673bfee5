use std::os::fd::OwnedFd;
use std::os::unix::net::UnixStream;
use std::sync::mpsc;
use std::thread;

use super::*;
use crate::io::Socket;

fn socket(s: UnixStream) -> Arc<Channel> {
    Socket::new_fd(s.into())
        .map_err(|(e, _)| e)
        .unwrap()
        .upcast()
}

/// Starts the handshakes of `channels` and iterates the default main context, where
/// they run (other tests' sources too, which is harmless), until each has its result;
/// at most 10 s.
fn handshakes(channels: &[&Arc<Channel<Websock>>]) -> Vec<Result<()>> {
    let (tx, rx) = mpsc::channel();
    for (i, ws) in channels.iter().enumerate() {
        let tx = tx.clone();
        ws.handshake(move |result| tx.send((i, result)).unwrap());
    }
    let mut results = vec![None; channels.len()];
    let context = MainContext::default();
    for _ in 0..10_000 {
        while let Ok((i, result)) = rx.try_recv() {
            results[i] = Some(result);
        }
        if results.iter().all(Option::is_some) {
            break;
        }
        if !context.iteration(false) {
            thread::sleep(std::time::Duration::from_millis(1));
        }
    }
    results
        .into_iter()
        .map(|r| r.expect("the handshake completed"))
        .collect()
}

/// `ws`'s handshake, run to its end.
fn handshake(ws: &Arc<Channel<Websock>>) -> Result<()> {
    handshakes(&[ws]).remove(0)
}

/// A client and a server past their handshake, over a socketpair of blocking sockets.
fn open_pair(protocols: &[&str]) -> (Arc<Channel<Websock>>, Arc<Channel<Websock>>) {
    let (a, b) = UnixStream::pair().unwrap();
    let client = Websock::new_client(socket(a), "localhost", "/", protocols).unwrap();
    let server = Websock::new_server(socket(b));
    for result in handshakes(&[&client, &server]) {
        result.unwrap();
    }
    (client, server)
}

/// Makes `ws` open as if its handshake had completed.
fn skip_handshake(ws: &Channel<Websock>) {
    *lock(&ws.imp().phase) = Phase::Open;
    lock(&ws.imp().output).established = true;
}

/// `len` bytes that never repeat a stretch, so a piece sent twice or out of place
/// shows (xorshift32).
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    let mut x = u32::from(seed) | 0x100;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

#[test]
fn handshake_agrees_on_binary() {
    let (client, server) = open_pair(&["binary"]);
    assert_eq!(client.imp().protocol().as_deref(), Some("binary"));
    assert_eq!(server.imp().protocol().as_deref(), Some("binary"));
    let (client, server) = open_pair(&[]);
    assert_eq!(client.imp().protocol(), None);
    assert_eq!(server.imp().protocol(), None);
}

/// Every length class both ways, writer and reader in two threads.
#[test]
fn payloads_of_every_length_class_both_ways() {
    let (client, server) = open_pair(&["binary"]);
    for len in [1, 125, 126, 65535, 65536, MAX_FRAME + 1, 1 << 20] {
        for (from, to) in [(&client, &server), (&server, &client)] {
            let data = pattern(len, len as u8);
            let writer = {
                let (from, data) = (from.clone(), data.clone());
                thread::spawn(move || from.upcast().write_all(&data))
            };
            let mut got = vec![0; len];
            to.upcast().read_all(&mut got).unwrap();
            writer.join().unwrap().unwrap();
            assert!(got == data, "{len} bytes");
        }
    }
}

/// A qio server past its handshake with a bare socket as the client, its 101 reply
/// read.
fn raw_peer_and_server() -> (Arc<Channel>, Arc<Channel<Websock>>) {
    let (a, b) = UnixStream::pair().unwrap();
    let peer = socket(a);
    let server = Websock::new_server(socket(b));
    let request = ClientRequest::new("h", "/", &[]).unwrap();
    peer.write_all(&request.to_bytes("dGhlIHNhbXBsZSBub25jZQ=="))
        .unwrap();
    handshake(&server).unwrap();
    let mut reply = vec![0; 4096];
    let n = peer.read(&mut reply).unwrap();
    assert!(reply[..n].starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    (peer, server)
}

/// Iterates the default main context until `ws`'s pump has sent what its reads owe
/// the peer and is gone, a bounded number of times.
fn run_pump(ws: &Channel<Websock>) {
    let context = crate::io::MainContext::default();
    for _ in 0..10_000 {
        if lock(&ws.imp().replies).pump.is_none() {
            return;
        }
        context.iteration(false);
        thread::sleep(std::time::Duration::from_millis(1));
    }
    panic!("the pump did not finish");
}

/// A ping is answered and the peer's close echoed, by the reads that found them
/// while the master takes the replies at once; the master is shut down once the
/// echo has left.
#[test]
fn ping_is_answered_and_close_echoed() {
    let (peer, server) = raw_peer_and_server();
    // Frames as a client sends them.
    let mask = [1, 2, 3, 4];
    let masked = |opcode: u8, payload: &[u8]| {
        let mut header = [0u8; frame::MAX_HEADER];
        let n = frame::write_header(&mut header, opcode, payload.len() as u64, Some(mask));
        let mut out = header[..n].to_vec();
        let mut body = payload.to_vec();
        frame::apply_mask(&mut body, mask, 0);
        out.extend(body);
        out
    };
    let mut wire = masked(frame::OP_PING, b"hello?");
    wire.extend(masked(frame::OP_BINARY, b"data"));
    wire.extend(masked(
        frame::OP_CLOSE,
        &frame::close_payload(1001, "going away"),
    ));
    peer.write_all(&wire).unwrap();
    let mut got = [0u8; 4];
    server.upcast().read_all(&mut got).unwrap();
    assert_eq!(&got, b"data");
    // The close makes the next read end-of-file, after the pong and the echo went out.
    assert_eq!(server.upcast().read(&mut got).unwrap(), 0);
    let mut back = [0; 64];
    let mut n = 0;
    while let Ok(m @ 1..) = peer.read(&mut back[n..]) {
        n += m;
    }
    assert_eq!(back[..n], *b"\x8a\x06hello?\x88\x02\x03\xe9");
    assert_eq!(
        server.upcast().write(b"more").unwrap_err().message(),
        "Broken pipe"
    );
}

/// A plain read of a blocking websocket waits for data: control frames alone (a ping,
/// here) do not make it return "would block", which is for non-blocking channels.
#[test]
fn a_blocking_read_waits_past_control_frames() {
    let (peer, server) = raw_peer_and_server();
    peer.write_all(&masked_frame(frame::OP_PING, b"?", [1, 2, 3, 4]))
        .unwrap();
    let writer = thread::spawn(move || {
        thread::sleep(std::time::Duration::from_millis(100));
        peer.write_all(&masked_frame(frame::OP_BINARY, b"data", [5, 6, 7, 8]))
            .unwrap();
        peer
    });
    let mut got = [0u8; 4];
    assert_eq!(server.upcast().read(&mut got).unwrap(), 4);
    assert_eq!(&got, b"data");
    drop(writer.join().unwrap());
}

/// Fills `ws`'s socket until it takes no more, as a peer that does not read leaves
/// it, and returns how many (junk) bytes that took: the peer drains them first.
fn fill_socket(ws: &Channel<Websock>) -> usize {
    let master = ws.imp().master();
    master.set_blocking(false).unwrap();
    let mut junk = 0;
    loop {
        match master.write(&[0xee; 4096]) {
            Ok(n) => junk += n,
            Err(e) if e.would_block() => break,
            Err(e) => panic!("{e}"),
        }
    }
    master.set_blocking(true).unwrap();
    junk
}

/// Reads and checks the `junk` bytes [`fill_socket`] left.
fn drain_junk(peer: &Channel, junk: usize) {
    let mut buf = vec![0; junk];
    peer.read_all(&mut buf).unwrap();
    assert!(buf.iter().all(|&b| b == 0xee));
}

/// A read whose master cannot take a pong at once leaves it owed, and pings that
/// come meanwhile go unanswered (QEMU's rule: one pong at a time); the pump sends
/// it once the master is ready, and the next ping is answered again.
#[test]
fn pings_are_answered_one_at_a_time() {
    let (peer, server) = raw_peer_and_server();
    let junk = fill_socket(&server);
    let mask = [7, 7, 7, 7];
    let mut wire = Vec::new();
    for payload in [&b"a"[..], b"b", b"c"] {
        wire.extend(masked_frame(frame::OP_PING, payload, mask));
    }
    wire.extend(masked_frame(frame::OP_BINARY, b"1", mask));
    peer.write_all(&wire).unwrap();
    let mut got = [0; 1];
    let reader = server.clone();
    or_hang("a read owing a pong", move || {
        reader.upcast().read_all(&mut [0; 1])
    })
    .unwrap();
    drain_junk(&peer, junk);
    run_pump(&server);
    let next = [
        masked_frame(frame::OP_PING, b"d", mask),
        masked_frame(frame::OP_BINARY, b"2", mask),
    ];
    peer.write_all(&next.concat()).unwrap();
    server.upcast().read_all(&mut got).unwrap();
    let mut back = [0; 6];
    peer.read_all(&mut back).unwrap();
    assert_eq!(back, *b"\x8a\x01a\x8a\x01d");
    peer.set_blocking(false).unwrap();
    assert!(peer.read(&mut back).unwrap_err().would_block());
}

/// A write sends what the reads owe (and could not send) before its own frame.
#[test]
fn a_write_sends_the_owed_pong_first() {
    for role in [Role::Server, Role::Client] {
        let (a, b) = UnixStream::pair().unwrap();
        let peer = socket(a);
        let ws = match role {
            Role::Server => Websock::new_server(socket(b)),
            Role::Client => Websock::new_client(socket(b), "h", "/", &[]).unwrap(),
        };
        skip_handshake(&ws);
        let junk = fill_socket(&ws);
        let mask = (role == Role::Server).then_some([3, 1, 4, 1]);
        for (opcode, payload) in [(frame::OP_PING, b"hi?"), (frame::OP_BINARY, b"abc")] {
            let mut header = [0u8; frame::MAX_HEADER];
            let n = frame::write_header(&mut header, opcode, 3, mask);
            let mut body = payload.to_vec();
            if let Some(mask) = mask {
                frame::apply_mask(&mut body, mask, 0);
            }
            peer.write_all(&[&header[..n], &body[..]].concat()).unwrap();
        }
        let reader = ws.clone();
        or_hang("a read owing a pong", move || {
            reader.upcast().read_all(&mut [0; 3])
        })
        .unwrap();
        drain_junk(&peer, junk);
        ws.upcast().write_all(b"xyz").unwrap();
        // Each frame the peer gets: a pong with the ping's payload, then the data; a
        // client's are masked.
        let mut back = Vec::new();
        for _ in 0..2 {
            let mut head = [0; 2];
            peer.read_all(&mut head).unwrap();
            assert_eq!(head[1] & 0x7f, 3, "{role:?}");
            assert_eq!(head[1] & 0x80 != 0, role == Role::Client);
            let mut mask = [0; 4];
            if head[1] & 0x80 != 0 {
                peer.read_all(&mut mask).unwrap();
            }
            let mut payload = [0; 3];
            peer.read_all(&mut payload).unwrap();
            frame::apply_mask(&mut payload, mask, 0);
            back.push((head[0], payload));
        }
        assert_eq!(back, [(0x8a, *b"hi?"), (0x82, *b"xyz")], "{role:?}");
    }
}

#[test]
fn violations_close_with_their_code() {
    let (peer, server) = raw_peer_and_server();
    let mut reply = vec![0; 4096];
    peer.write_all(b"\x82\x03abc").unwrap(); // unmasked
    let mut buf = [0u8; 8];
    let e = server.upcast().read(&mut buf).unwrap_err();
    assert_eq!(e.message(), "websocket: client frames must be masked");
    // The same error again, and the peer got a 1002 close.
    assert_eq!(server.upcast().read(&mut buf).unwrap_err(), e);
    let n = peer.read(&mut reply).unwrap();
    assert_eq!(reply[..4], *b"\x88\x1e\x03\xea");
    assert_eq!(&reply[4..n], b"client frames must be masked");
}

#[test]
fn refused_request_gets_its_reply_then_the_error() {
    let (a, b) = UnixStream::pair().unwrap();
    let peer = socket(a);
    let server = Websock::new_server(socket(b));
    peer.write_all(b"GET /nope HTTP/1.1\r\nHost: h\r\n\r\n")
        .unwrap();
    let e = handshake(&server).unwrap_err();
    assert_eq!(e.message(), "Unexpected HTTP path /nope");
    let mut reply = vec![0; 4096];
    let n = peer.read(&mut reply).unwrap();
    assert!(reply[..n].starts_with(b"HTTP/1.1 404 Not Found\r\n"));
    assert_eq!(
        server.upcast().read(&mut reply).unwrap_err().message(),
        "The websocket handshake has not completed"
    );
}

#[test]
fn eof_before_the_head_fails_the_handshake() {
    let (a, b) = UnixStream::pair().unwrap();
    let server = Websock::new_server(socket(b));
    socket(a).write_all(b"GET / HTTP/1.1\r\n").unwrap();
    let e = handshake(&server).unwrap_err();
    assert_eq!(
        e.message(),
        "End of file before the websocket handshake completed"
    );
}

/// A client frame's header as a raw peer writes it: binary, masked with `mask`.
fn masked_header(len: usize, mask: [u8; 4]) -> Vec<u8> {
    let mut header = [0u8; frame::MAX_HEADER];
    let n = frame::write_header(&mut header, frame::OP_BINARY, len as u64, Some(mask));
    header[..n].to_vec()
}

/// The rest of a large frame is read into the caller's buffers themselves: unmasked
/// at the right offset across buffers of odd sizes (an empty one among them), ending
/// at the frame, and end-of-file inside it ends the stream.
#[test]
fn large_frames_are_read_straight_into_large_buffers() {
    let (peer, server) = raw_peer_and_server();
    let mask = [0x11, 0x22, 0x33, 0x44];
    let len = 3 * INPUT_MAX + 5;
    let data = pattern(len, 7);
    let mut wire = data.clone();
    frame::apply_mask(&mut wire, mask, 0);
    // A first part the server buffers, then the rest with the next frame behind it.
    peer.write_all(&masked_header(len, mask)).unwrap();
    peer.write_all(&wire[..1001]).unwrap();
    // Room for more than the frame, so a read past it would land there.
    let mut got = vec![0; len + INPUT_MAX];
    assert_eq!(server.upcast().read(&mut got).unwrap(), 1001);
    let writer = {
        let peer = peer.clone();
        let mut rest = wire[1001..].to_vec();
        rest.extend(masked_header(2, mask));
        rest.extend([b'x' ^ 0x11, b'y' ^ 0x22]);
        thread::spawn(move || peer.write_all(&rest))
    };
    let mut at = 1001;
    while at < len {
        let (a, b) = got[at..].split_at_mut((len - at) / 3 + 1);
        let mut iov = [
            IoSliceMut::new(&mut []),
            IoSliceMut::new(a),
            IoSliceMut::new(b),
        ];
        at += server.imp().readv(&mut iov, None, 0).unwrap();
    }
    writer.join().unwrap().unwrap();
    assert_eq!(at, len);
    assert!(got[..len] == data);
    // The next frame was not read into the caller's buffers: it is still to come.
    let mut next = vec![0; 2 * INPUT_MAX];
    assert_eq!(server.upcast().read(&mut next).unwrap(), 2);
    assert_eq!(&next[..2], b"xy");
    // A large frame cut short: its first part is buffered, then the direct read of
    // the rest meets end-of-file, which ends the stream for good.
    peer.write_all(&masked_header(len, mask)).unwrap();
    peer.write_all(&wire[..10]).unwrap();
    assert_eq!(server.upcast().read(&mut next).unwrap(), 10);
    assert!(next[..10] == data[..10]);
    peer.shutdown(Shutdown::Write).unwrap();
    assert_eq!(server.upcast().read(&mut next).unwrap(), 0);
    // Remembered, as on the buffered path: watches see it without the master.
    assert!(server.imp().pending_input());
    assert_eq!(server.upcast().read(&mut next).unwrap(), 0);
}

/// The input buffer's size: the room it has for wire bytes.
fn input_size(ws: &Channel<Websock>) -> usize {
    lock(&ws.imp().input).buf.len()
}

/// A client frame of `opcode` carrying `payload`, as a raw peer writes it.
fn masked_frame(opcode: u8, payload: &[u8], mask: [u8; 4]) -> Vec<u8> {
    let mut header = [0u8; frame::MAX_HEADER];
    let n = frame::write_header(&mut header, opcode, payload.len() as u64, Some(mask));
    let mut wire = header[..n].to_vec();
    wire.extend_from_slice(payload);
    frame::apply_mask(&mut wire[n..], mask, 0);
    wire
}

/// The input buffer holds 4 KiB through the handshake, doubles while reads from the
/// master fill it, and is back to 4 KiB once the peer pauses: before a blocking
/// reader would wait, and when a non-blocking read finds only control frames.
#[test]
fn input_buffer_grows_while_data_streams_and_shrinks_when_idle() {
    let (a, b) = UnixStream::pair().unwrap();
    let peer = socket(a);
    let server = Websock::new_server(socket(b));
    assert_eq!(input_size(&server), INPUT_MIN);
    let request = ClientRequest::new("h", "/", &[]).unwrap();
    peer.write_all(&request.to_bytes("dGhlIHNhbXBsZSBub25jZQ=="))
        .unwrap();
    handshake(&server).unwrap();
    assert_eq!(input_size(&server), INPUT_MIN);
    let mut reply = vec![0; 4096];
    assert!(peer.read(&mut reply).unwrap() > 0);

    // A frame of 100 KiB, all in the socket before the server reads it in 8 KiB
    // pieces: each read from the master fills the room it has (4, 8, 16, 32 KiB)
    // until one of 64 KiB takes the rest.
    let mask = [9, 8, 7, 6];
    let data = pattern(100 << 10, 9);
    let read_data = |then: &[u8]| {
        let mut wire = masked_frame(frame::OP_BINARY, &data, mask);
        wire.extend_from_slice(then);
        peer.write_all(&wire).unwrap();
        let (mut got, mut sizes) = (vec![0; data.len()], vec![]);
        let mut at = 0;
        while at < data.len() {
            let end = (at + 8192).min(data.len());
            at += server.upcast().read(&mut got[at..end]).unwrap();
            sizes.push(input_size(&server));
        }
        assert!(got == data);
        sizes
    };
    let sizes = read_data(&[]);
    assert_eq!(sizes.iter().max(), Some(&(64 << 10)), "{sizes:?}");
    // Everything was handed out and the socket is empty: 4 KiB again before the
    // next read, which would block.
    assert_eq!(sizes.last(), Some(&INPUT_MIN), "{sizes:?}");

    // Again with a ping behind the data: it is still buffered after the last data
    // read, so the buffer stays; a non-blocking read then handles the ping, finds
    // the socket empty, and the buffer returns to 4 KiB.
    let sizes = read_data(&masked_frame(frame::OP_PING, b"?", mask));
    assert_eq!(sizes.last(), Some(&(64 << 10)), "{sizes:?}");
    server.set_blocking(false).unwrap();
    let e = server.upcast().read(&mut reply).unwrap_err();
    assert!(e.would_block(), "{e}");
    assert_eq!(input_size(&server), INPUT_MIN);
}

/// However fast data streams in, the input buffer never grows past [`INPUT_MAX`]
/// (CVE-2015-1779, CVE-2017-15268): over a master that always has more (a memory
/// buffer holding two 1 MiB frames), read in pieces below the direct read's
/// threshold, it grows to that bound and no further.
#[test]
fn input_buffer_never_grows_past_its_bound() {
    let master = crate::io::Buffer::new_channel(0);
    let mask = [1, 2, 3, 4];
    let data = pattern(1 << 20, 4);
    let frame = masked_frame(frame::OP_BINARY, &data, mask);
    master
        .write_all(&[&frame[..], &frame[..]].concat())
        .unwrap();
    master.seek(0, libc::SEEK_SET).unwrap();
    let server = Websock::new_server(master.upcast());
    skip_handshake(&server);
    let mut got = vec![0; 2 << 20];
    let mut largest = 0;
    for piece in got.chunks_mut(64 << 10) {
        server.upcast().read_all(piece).unwrap();
        largest = largest.max(input_size(&server));
    }
    assert_eq!(largest, INPUT_MAX);
    assert!(got[..1 << 20] == data && got[1 << 20..] == data);
}

/// Each frame a client writes has a fresh mask, past the first batch of them.
#[test]
fn client_frames_each_have_a_fresh_mask() {
    let (a, b) = UnixStream::pair().unwrap();
    let (peer, client) = (socket(b), socket(a));
    let client = Websock::new_client(client, "h", "/", &[]).unwrap();
    // The masks are the point here, not the handshake.
    skip_handshake(&client);
    let frames = 200;
    for i in 0..frames {
        client.upcast().write_all(&[i as u8]).unwrap();
    }
    let mut wire = vec![0; frames * 7];
    peer.read_all(&mut wire).unwrap();
    let mut masks = std::collections::HashSet::new();
    for (i, f) in wire.chunks(7).enumerate() {
        assert_eq!(f[..2], [0x82, 0x81]);
        assert_eq!(f[6] ^ f[2], i as u8);
        masks.insert([f[2], f[3], f[4], f[5]]);
    }
    // One repeat among 200 random masks has a chance of about 1 in 200,000; two,
    // of about 1 in 10^11.
    assert!(masks.len() >= frames - 1, "{} distinct masks", masks.len());
}

/// A write the master refuses outright leaves no frame open: the next write starts
/// with a header rather than continuing a frame the peer never saw begin.
#[test]
fn a_refused_first_write_opens_no_frame() {
    let full =
        crate::io::File::new_path(std::path::Path::new("/dev/full"), libc::O_WRONLY, 0).unwrap();
    for ws in [
        Websock::new_client(full.clone().upcast(), "h", "/", &[]).unwrap(),
        Websock::new_server(full.clone().upcast()),
    ] {
        skip_handshake(&ws);
        let err = ws.upcast().write(&[1; 10]).unwrap_err();
        assert!(!err.would_block(), "{err}");
        assert_eq!(lock(&ws.imp().output).remaining, 0);
    }
}

/// Closing sends a close frame (a client's masked, with 1000) unless a data frame is
/// open, which a control frame must not interrupt.
#[test]
fn close_tells_the_peer_unless_a_frame_is_open() {
    for open_frame in [false, true] {
        let (a, b) = UnixStream::pair().unwrap();
        let (peer, client) = (socket(b), socket(a));
        let client = Websock::new_client(client, "h", "/", &[]).unwrap();
        skip_handshake(&client);
        if open_frame {
            lock(&client.imp().output).remaining = 3;
        }
        client.upcast().close().unwrap();
        let mut wire = [0; 16];
        let n = peer.read(&mut wire).unwrap();
        if open_frame {
            assert_eq!(n, 0);
            continue;
        }
        assert_eq!(wire[..2], [0x88, 0x82]);
        assert_eq!(
            [wire[6] ^ wire[2], wire[7] ^ wire[3]],
            1000u16.to_be_bytes()
        );
        assert_eq!(n, 8);
    }
}

/// A peer that closes its connection right after its close frame, as a server does,
/// reads as end-of-file although the echo cannot go out.
#[test]
fn a_close_from_a_peer_already_gone_reads_as_end_of_file() {
    let (a, b) = UnixStream::pair().unwrap();
    let client = Websock::new_client(socket(a), "h", "/", &[]).unwrap();
    skip_handshake(&client);
    let mut close = b"\x88\x02".to_vec();
    close.extend(1000u16.to_be_bytes());
    socket(b).write_all(&close).unwrap(); // the peer's socket is dropped here
    let mut buf = [0; 8];
    assert_eq!(client.upcast().read(&mut buf).unwrap(), 0);
    assert_eq!(client.upcast().read(&mut buf).unwrap(), 0);
}

/// Waits until `stuck` says another thread is blocked inside `ws`, then shuts `ws`
/// down both ways, which must return, within 10 s.
fn shutdown_while(ws: &Arc<Channel<Websock>>, stuck: impl Fn(&Websock) -> bool) {
    let blocked = (0..10_000).any(|_| {
        thread::sleep(std::time::Duration::from_millis(1));
        stuck(ws.imp())
    });
    assert!(blocked);
    let (tx, rx) = mpsc::channel();
    let ws = ws.clone();
    thread::spawn(move || tx.send(ws.upcast().shutdown(crate::io::Shutdown::Both)));
    let done = rx.recv_timeout(std::time::Duration::from_secs(10));
    done.expect("shutdown returned").unwrap();
}

/// Shutting down both ways does not wait for a writer stuck in the master (which
/// holds the output side): it wakes it.
#[test]
fn shutdown_does_not_wait_for_a_stuck_writer() {
    let (client, _server) = open_pair(&[]);
    let writer = {
        let client = client.clone();
        thread::spawn(move || client.upcast().write_all(&vec![0; 8 << 20]))
    };
    // The server never reads: the writer fills the socket and stays in its frame.
    shutdown_while(&client, |ws| ws.output.try_lock().is_err());
    assert!(writer.join().unwrap().is_err());
}

/// A handshake whose peer never answers does not block, even over a blocking master:
/// it waits from the main context, a shutdown ends it with an error, and the master is
/// blocking again.
#[test]
fn a_handshake_never_blocks_and_shutdown_ends_it() {
    let (a, _peer) = UnixStream::pair().unwrap();
    let master = socket(a);
    let client = Websock::new_client(master.clone(), "h", "/", &[]).unwrap();
    let (tx, rx) = mpsc::channel();
    client.handshake(move |result| tx.send(result).unwrap());
    assert!(rx.try_recv().is_err());
    assert!(!master.is_blocking());
    client.upcast().shutdown(crate::io::Shutdown::Both).unwrap();
    let context = MainContext::default();
    let result = (0..10_000).find_map(|_| {
        if !context.iteration(false) {
            thread::sleep(std::time::Duration::from_millis(1));
        }
        rx.try_recv().ok()
    });
    assert!(result.expect("the handshake ended").is_err());
    assert!(master.is_blocking());
}

/// A peer that sends its request head a byte at a time, slower than the deadline,
/// fails the handshake with a timeout.
#[test]
fn a_dribbling_peer_times_out() {
    let (a, b) = UnixStream::pair().unwrap();
    let peer = socket(a);
    let server = Websock::new_server(socket(b));
    server.set_handshake_timeout(Some(std::time::Duration::from_millis(200)));
    let request = ClientRequest::new("h", "/", &[])
        .unwrap()
        .to_bytes("dGhlIHNhbXBsZSBub25jZQ==");
    let dribbler = thread::spawn(move || {
        for byte in request.chunks(1) {
            if peer.write_all(byte).is_err() {
                break;
            }
            thread::sleep(std::time::Duration::from_millis(50));
        }
    });
    let e = handshake(&server).unwrap_err();
    assert_eq!(e.kind(), ErrorKind::TimedOut);
    assert_eq!(e.message(), "websocket handshake timed out after 200 ms");
    server.upcast().close().unwrap();
    dribbler.join().unwrap();
}

/// A non-blocking pipe whose write end, as a file channel, holds `size` bytes, the
/// first `junk` of them already taken; and its read end.
fn small_pipe(size: i32, junk: usize) -> (Arc<Channel>, std::fs::File) {
    use std::os::fd::{AsRawFd, FromRawFd};
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills `fds` with two descriptors we then own.
    assert_eq!(
        unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) },
        0
    );
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: an fcntl on a descriptor we own.
    assert!(unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, size) } >= size);
    let mut w = std::fs::File::from(w);
    std::io::Write::write_all(&mut w, &vec![0xee; junk]).unwrap();
    (crate::io::File::new_channel(w.into()).upcast(), r.into())
}

/// Writes `payload` as one client frame into a pipe of `size` bytes after `junk`,
/// emptying the pipe whenever the write would block, and checks that a server decodes
/// the payload back. Returns the payload bytes the first write took and the header
/// bytes it left waiting.
fn write_through_pipe(size: i32, junk: usize, payload: &[u8]) -> (usize, usize) {
    let (master, mut out) = small_pipe(size, junk);
    let client = Websock::new_client(master, "h", "/", &[]).unwrap();
    skip_handshake(&client);
    let mut first = None;
    let (mut sent, mut wire) = (0, Vec::new());
    for _ in 0..100_000 {
        if sent == payload.len() && lock(&client.imp().output).pending.is_empty() {
            break;
        }
        match client.upcast().write(&payload[sent..]) {
            Ok(n) => sent += n,
            Err(e) => assert!(e.would_block(), "{e}"),
        }
        first.get_or_insert_with(|| (sent, lock(&client.imp().output).pending.len()));
        let mut buf = vec![0; size as usize];
        while let Ok(n @ 1..) = std::io::Read::read(&mut out, &mut buf) {
            wire.extend_from_slice(&buf[..n]);
        }
    }
    assert_eq!(sent, payload.len());
    assert!(wire[..junk].iter().all(|&b| b == 0xee));
    // A server reads the frame back.
    let (a, b) = UnixStream::pair().unwrap();
    let server = Websock::new_server(socket(b));
    skip_handshake(&server);
    let feeder = thread::spawn(move || socket(a).write_all(&wire[junk..]));
    let mut got = vec![0; payload.len()];
    server.upcast().read_all(&mut got).unwrap();
    feeder.join().unwrap().unwrap();
    assert!(got == payload);
    first.unwrap()
}

/// A client's frame survives a master that takes only part of it at every step: a
/// header cut after 3 bytes, takes ending at payload offsets the mask's 4 bytes do not
/// divide, and a second masked piece taken in part.
#[test]
fn client_frames_survive_partial_takes() {
    // A pipe fills the room left in its last page only with a write's first
    // (length mod 4096) bytes, and only if they fit. One page with 3 bytes of room,
    // and a frame of one masked piece whose 14-byte header and 245,749-byte payload
    // come to 60 pages and 3 bytes: the header's first 3 bytes go, 11 wait. Then the
    // payload goes 4085 bytes and 4096 at a time, at offsets of 1 mod 4.
    let payload = pattern(60 * 4096 - 11, 1);
    assert_eq!(write_through_pipe(4096, 4093, &payload), (0, 11));
    // 128 pages take the header and the first 256 KiB piece (65 pages, the header in
    // the first page's room), then 63 pages of the second piece.
    let payload = pattern(MAX_FRAME, 2);
    let first = (MASK_CHUNK + 63 * 4096, 0);
    assert_eq!(write_through_pipe(512 << 10, 3, &payload), first);
}

/// Set in the child process [`stalled_handshakes_cost_a_few_kib_each`] runs itself in.
const RSS_CHILD: &str = "QIO_TEST_WEBSOCK_RSS_CHILD";

/// This process's resident set size (`VmRSS`), in bytes.
fn vm_rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let kib = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().strip_suffix("kB"))
        .expect("a VmRSS line in kB");
    kib.trim().parse::<u64>().unwrap() * 1024
}

/// Raises the soft limit on open descriptors to the hard limit, and returns it.
fn raise_nofile_limit() -> u64 {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit read and write the rlimit given.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit), 0);
        limit.rlim_cur = limit.rlim_max;
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &limit), 0);
    }
    limit.rlim_cur
}

/// 3000 clients that send the first 40 bytes of an upgrade request and stall cost the
/// server a few KiB each, not an input buffer sized for frames: measured as the
/// growth of VmRSS, in a process of its own, so that other tests' memory does not
/// count.
#[test]
fn stalled_handshakes_cost_a_few_kib_each() {
    const WANTED: u64 = 3000;
    const BOUND: u64 = 16 << 10;
    if std::env::var_os(RSS_CHILD).is_none() {
        let name = "io::websock::tests::stalled_handshakes_cost_a_few_kib_each";
        let status = std::process::Command::new(std::env::current_exe().unwrap())
            .args([name, "--exact", "--test-threads=1", "--nocapture"])
            .env(RSS_CHILD, "1")
            // glibc fills each block it hands out, so that every byte allocated is
            // resident, as it is in a long-running server whose allocator reuses
            // freed memory (which calloc zeroes) rather than fresh, lazily mapped
            // pages: what is measured is what each connection holds.
            .env("MALLOC_PERTURB_", "165")
            .status()
            .unwrap();
        assert!(status.success(), "the child process: {status}");
        return;
    }
    // Two descriptors per connection, and some for the process itself.
    let limit = raise_nofile_limit();
    let count = WANTED.min(limit.saturating_sub(64) / 2);
    if count < WANTED {
        eprintln!("RLIMIT_NOFILE's hard limit {limit} allows {count} connections only");
    }
    assert!(
        count >= 100,
        "RLIMIT_NOFILE's hard limit {limit} is too low"
    );
    let head = b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade";
    assert_eq!(head.len(), 40);
    let stall = || {
        let (a, b) = UnixStream::pair().unwrap();
        let server = Websock::new_server(socket(b));
        server.set_blocking(false).unwrap();
        std::io::Write::write_all(&mut &a, head).unwrap();
        server.handshake(|outcome| panic!("a stalled handshake ended: {outcome:?}"));
        // The 40 bytes were read: the handshake waits for the rest.
        assert_eq!(lock(&server.imp().input).wire, 0..40);
        (a, server)
    };
    // Whatever is set up once for the first connection is not counted.
    let first = stall();
    let before = vm_rss();
    let stalled: Vec<_> = (0..count).map(|_| stall()).collect();
    let growth = vm_rss().saturating_sub(before);
    let each = growth / count;
    eprintln!("{count} stalled handshakes: VmRSS grew {growth} bytes, {each} bytes each");
    assert!(each <= BOUND, "{each} bytes per stalled handshake");
    drop((first, stalled));
}

/// Runs `f` in a thread of its own and returns what it returns, failing the test
/// instead of hanging it if `f` has not returned within a minute.
fn or_hang<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || tx.send(f()));
    match rx.recv_timeout(std::time::Duration::from_secs(60)) {
        Ok(value) => value,
        Err(_) => panic!("{what} has not returned within a minute: it is stuck"),
    }
}

/// A peer that floods pings and never reads: a blocking channel's reads still return
/// the data between them, at both ends, although its socket's send buffer is as
/// small as the kernel allows and a writer thread is blocked on it, holding the
/// output side. Replies are queued, one pong at a time, never written by a read.
#[test]
fn reads_go_on_while_the_peer_floods_pings_and_never_reads() {
    const FRAMES: usize = 2000;
    for role in [Role::Server, Role::Client] {
        let (a, b) = UnixStream::pair().unwrap();
        let one: libc::c_int = 1;
        // SAFETY: setsockopt reads one int, from `one`.
        let rc = unsafe {
            libc::setsockopt(
                std::os::fd::AsRawFd::as_raw_fd(&b),
                libc::SOL_SOCKET,
                libc::SO_SNDBUF,
                (&one as *const libc::c_int).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        assert_eq!(rc, 0);
        let ws = match role {
            Role::Server => Websock::new_server(socket(b)),
            Role::Client => Websock::new_client(socket(b), "h", "/", &[]).unwrap(),
        };
        skip_handshake(&ws);
        // The peer's frames: a client's are masked.
        let mask = (role == Role::Server).then_some([0x5c, 0x3a, 0x91, 0x07]);
        let peer_frame = |opcode: u8, payload: &[u8]| {
            let mut header = [0u8; frame::MAX_HEADER];
            let n = frame::write_header(&mut header, opcode, payload.len() as u64, mask);
            let mut wire = header[..n].to_vec();
            wire.extend_from_slice(payload);
            if let Some(mask) = mask {
                frame::apply_mask(&mut wire[n..], mask, 0);
            }
            wire
        };
        let data = pattern(FRAMES * 100, 6);
        let mut wire = Vec::new();
        for (i, piece) in data.chunks(100).enumerate() {
            wire.extend(peer_frame(frame::OP_PING, &[i as u8; 125]));
            wire.extend(peer_frame(frame::OP_BINARY, piece));
        }
        let peer = thread::spawn(move || std::io::Write::write_all(&mut &a, &wire).map(|_| a));
        // A writer that fills the socket and stays blocked in it: the peer never reads.
        let writer = {
            let ws = ws.clone();
            thread::spawn(move || ws.upcast().write_all(&vec![0; 4 << 20]))
        };
        let got = {
            let ws = ws.clone();
            or_hang("reading between the pings", move || {
                let mut got = vec![0; FRAMES * 100];
                ws.upcast().read_all(&mut got).map(|_| got)
            })
        };
        assert!(got.unwrap() == data, "{role:?}");
        let peer = peer.join().unwrap().unwrap();
        // Wake the writer: it fails, as the channel is shut down.
        or_hang("shutting down", move || {
            ws.upcast().shutdown(Shutdown::Both).unwrap();
        });
        assert!(writer.join().unwrap().is_err());
        drop(peer);
    }
}
