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

/// Runs `ws`'s handshake on a blocking master, where it completes before returning.
fn handshake_blocking(ws: &Arc<Channel<Websock>>) -> Result<()> {
    let (tx, rx) = mpsc::channel();
    ws.handshake(move |result| tx.send(result).unwrap());
    rx.try_recv().expect("completed synchronously")
}

/// A client and a server past their handshake, over a socketpair of blocking sockets.
fn open_pair(protocols: &[&str]) -> (Arc<Channel<Websock>>, Arc<Channel<Websock>>) {
    let (a, b) = UnixStream::pair().unwrap();
    let client = Websock::new_client(socket(a), "localhost", "/", protocols).unwrap();
    let server = Websock::new_server(socket(b));
    let c = client.clone();
    let t = thread::spawn(move || handshake_blocking(&c));
    handshake_blocking(&server).unwrap();
    t.join().unwrap().unwrap();
    (client, server)
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
    handshake_blocking(&server).unwrap();
    let mut reply = vec![0; 4096];
    let n = peer.read(&mut reply).unwrap();
    assert!(reply[..n].starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
    (peer, server)
}

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
    let e = handshake_blocking(&server).unwrap_err();
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
    let e = handshake_blocking(&server).unwrap_err();
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
    let len = 3 * INPUT_BUFFER + 5;
    let data = pattern(len, 7);
    let mut wire = data.clone();
    frame::apply_mask(&mut wire, mask, 0);
    // A first part the server buffers, then the rest with the next frame behind it.
    peer.write_all(&masked_header(len, mask)).unwrap();
    peer.write_all(&wire[..1001]).unwrap();
    // Room for more than the frame, so a read past it would land there.
    let mut got = vec![0; len + INPUT_BUFFER];
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
    let mut next = vec![0; 2 * INPUT_BUFFER];
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

/// Each frame a client writes has a fresh mask, past the first batch of them.
#[test]
fn client_frames_each_have_a_fresh_mask() {
    let (a, b) = UnixStream::pair().unwrap();
    let (peer, client) = (socket(b), socket(a));
    let client = Websock::new_client(client, "h", "/", &[]).unwrap();
    // The masks are the point here, not the handshake.
    *lock(&client.imp().phase) = Phase::Open;
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
        *lock(&ws.imp().phase) = Phase::Open;
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
        *lock(&client.imp().phase) = Phase::Open;
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
    *lock(&client.imp().phase) = Phase::Open;
    let mut close = b"\x88\x02".to_vec();
    close.extend(1000u16.to_be_bytes());
    socket(b).write_all(&close).unwrap(); // the peer's socket is dropped here
    let mut buf = [0; 8];
    assert_eq!(client.upcast().read(&mut buf).unwrap(), 0);
    assert_eq!(client.upcast().read(&mut buf).unwrap(), 0);
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
    let stuck = (0..10_000).any(|_| {
        thread::sleep(std::time::Duration::from_millis(1));
        client.imp().output.try_lock().is_err()
    });
    assert!(stuck);
    let (tx, rx) = mpsc::channel();
    let c = client.clone();
    thread::spawn(move || tx.send(c.upcast().shutdown(crate::io::Shutdown::Both)));
    let done = rx.recv_timeout(std::time::Duration::from_secs(10));
    done.expect("shutdown returned").unwrap();
    assert!(writer.join().unwrap().is_err());
}
