//! Websocket throughput beside the `tungstenite` crate in the same run, as a Markdown
//! table: MIB MiB (default 1 GiB) client to server and server to client over TCP
//! loopback, as binary messages of 64 KiB and 1 MiB, the writer on CPU 1 and the
//! reader on CPU 0. qio reads into one 1 MiB buffer; tungstenite hands out whole
//! messages. The two take turns, ROUNDS times (default 3); the table gives each one's
//! rate over all its rounds together (bytes over seconds), each round's rates go to
//! stderr. Rounds on a VM swing between two speeds (see the README): the rate over
//! all rounds weighs them as a user would meet them, where a median of per-round
//! ratios would compare one library's fast round with the other's slow one.
//!
//!     cargo bench --bench websock [-- ROUNDS [MIB]]

use std::net::{TcpListener, TcpStream};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Instant;

use qio::io::{Channel, Socket, Websock};
use tungstenite::protocol::WebSocketConfig;
use tungstenite::{Message, WebSocket};

#[derive(Clone, Copy)]
enum Direction {
    ClientToServer,
    ServerToClient,
}

/// Runs the calling thread on `cpu` only, when there is such a CPU.
fn pin_to_cpu(cpu: usize) {
    // SAFETY: a zeroed cpu_set_t is a valid empty set; the calls only read it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set);
    }
}

/// A connected client and server TCP stream over 127.0.0.1.
fn loopback() -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    (client, server)
}

/// Seconds to move `total` bytes in `message`-sized writes: `write` in a thread on CPU
/// 1, `read` here on CPU 0.
fn timed<W, R>(write: W, read: R) -> f64
where
    W: FnOnce() + Send + 'static,
    R: FnOnce(),
{
    pin_to_cpu(0);
    let start = Instant::now();
    let writer = thread::spawn(move || {
        pin_to_cpu(1);
        write()
    });
    read();
    writer.join().unwrap();
    start.elapsed().as_secs_f64()
}

fn qio_seconds(direction: Direction, message: usize, total: usize) -> f64 {
    let (c, s) = loopback();
    let wrap = |t: TcpStream| {
        Socket::new_fd(t.into())
            .map_err(|(e, _)| e)
            .unwrap()
            .upcast()
    };
    let client = Websock::new_client(wrap(c), "localhost", "/", &["binary"]).unwrap();
    let server = Websock::new_server(wrap(s));
    let handshake = |ws: Arc<Channel<Websock>>| {
        let (tx, rx) = mpsc::channel();
        ws.handshake(move |result| tx.send(result).unwrap());
        rx.recv().unwrap().unwrap();
    };
    let s = server.clone();
    let t = thread::spawn(move || handshake(s));
    handshake(client.clone());
    t.join().unwrap();
    let (from, to) = match direction {
        Direction::ClientToServer => (client.upcast(), server.upcast()),
        Direction::ServerToClient => (server.upcast(), client.upcast()),
    };
    timed(
        move || {
            let data = vec![0x5a; message];
            for _ in 0..total / message {
                from.write_all(&data).unwrap();
            }
        },
        || {
            let mut buf = vec![0; 1 << 20];
            let mut got = 0;
            while got < total {
                got += to.read(&mut buf).unwrap();
            }
        },
    )
}

fn tungstenite_seconds(direction: Direction, message: usize, total: usize) -> f64 {
    let (c, s) = loopback();
    let config = WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None);
    let t = thread::spawn(move || tungstenite::accept_with_config(s, Some(config)).unwrap());
    let (client, _) =
        tungstenite::client::client_with_config("ws://localhost/", c, Some(config)).unwrap();
    let server = t.join().unwrap();
    let (mut from, mut to): (WebSocket<TcpStream>, WebSocket<TcpStream>) = match direction {
        Direction::ClientToServer => (client, server),
        Direction::ServerToClient => (server, client),
    };
    timed(
        move || {
            let data = Message::binary(vec![0x5a; message]);
            for _ in 0..total / message {
                from.send(data.clone()).unwrap();
            }
        },
        || {
            let mut got = 0;
            while got < total {
                match to.read().unwrap() {
                    Message::Binary(data) => got += data.len(),
                    other => panic!("unexpected {other:?}"),
                }
            }
        },
    )
}

fn mb_per_s(bytes: usize, seconds: f64) -> f64 {
    bytes as f64 / seconds / 1e6
}

fn main() {
    // `cargo bench` passes "--bench"; the numbers are ours.
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let rounds = numbers.first().copied().unwrap_or(3).max(1);
    let total = numbers.get(1).copied().unwrap_or(1024) << 20;
    println!("| direction | message | tungstenite MB/s | qio MB/s | qio / tungstenite |");
    println!("|---|--:|--:|--:|--:|");
    for (name, direction) in [
        ("client → server", Direction::ClientToServer),
        ("server → client", Direction::ServerToClient),
    ] {
        for (label, message) in [("64 KiB", 64 << 10), ("1 MiB", 1 << 20)] {
            let (mut qio_time, mut tung_time) = (0f64, 0f64);
            for round in 0..rounds {
                // Alternate which goes first, so neither always gets the warm cache.
                let (q, t) = match round % 2 {
                    0 => {
                        let q = qio_seconds(direction, message, total);
                        (q, tungstenite_seconds(direction, message, total))
                    }
                    _ => {
                        let t = tungstenite_seconds(direction, message, total);
                        (qio_seconds(direction, message, total), t)
                    }
                };
                qio_time += q;
                tung_time += t;
                eprintln!(
                    "{name} {label} round {round}: tungstenite {:.0} MB/s, qio {:.0} MB/s",
                    mb_per_s(total, t),
                    mb_per_s(total, q)
                );
            }
            let all = total * rounds;
            println!(
                "| {name} | {label} | {:.0} | {:.0} | {:.2} |",
                mb_per_s(all, tung_time),
                mb_per_s(all, qio_time),
                tung_time / qio_time
            );
        }
    }
}
