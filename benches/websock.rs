//! Websocket throughput beside the `tungstenite` crate in the same run, as a Markdown
//! table: MIB MiB (default 1 GiB) client to server and server to client over TCP
//! loopback, as binary messages of 64 KiB and 1 MiB, the writer on CPU 1 and the
//! reader on CPU 0. qio reads into one 1 MiB buffer; tungstenite hands out whole
//! messages. The two take turns, ROUNDS times (default 3). The table gives each
//! one's median round and, last, the ratio of their rates over all rounds (bytes over
//! seconds); each round's rates go to stderr.
//!
//! Both use the TCP congestion control QIO_BENCH_TCP_CC (default `cubic`, Debian's
//! and the kernel's default) whatever the host's default is: under `bbr` on a VM,
//! loopback rounds fall at random into a state several times slower for either
//! library (see bench/README.md), which measures the VM rather than the websocket code.
//! Setting another control than the host's default needs it in
//! `net.ipv4.tcp_allowed_congestion_control`, or root.
//!
//!     [QIO_BENCH_TCP_CC=NAME] cargo bench --bench websock [-- ROUNDS [MIB]]
//!
//! `cargo test` runs it too, unoptimized, as one round of 1 MiB (the default without
//! `--bench`), so that it keeps working.

use std::net::{TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::mpsc;
use std::thread;
use std::time::Instant;

use qio::io::{MainContext, Socket, Websock};
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

/// The TCP congestion control the bench runs with.
fn congestion_control() -> String {
    std::env::var("QIO_BENCH_TCP_CC").unwrap_or_else(|_| "cubic".into())
}

/// Makes `stream` use the congestion control `name`.
fn set_congestion_control(stream: &TcpStream, name: &str) {
    // SAFETY: the option value is `name`'s bytes, with their length.
    let rc = unsafe {
        libc::setsockopt(
            stream.as_raw_fd(),
            libc::IPPROTO_TCP,
            libc::TCP_CONGESTION,
            name.as_ptr().cast(),
            name.len() as libc::socklen_t,
        )
    };
    if rc != 0 {
        panic!(
            "TCP congestion control {name:?}: {} (see net.ipv4.tcp_allowed_congestion_control)",
            std::io::Error::last_os_error()
        );
    }
}

/// A connected client and server TCP stream over 127.0.0.1, using the congestion
/// control `cc`.
fn loopback(cc: &str) -> (TcpStream, TcpStream) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    set_congestion_control(&client, cc);
    set_congestion_control(&server, cc);
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

fn qio_seconds(direction: Direction, message: usize, total: usize, cc: &str) -> f64 {
    let (c, s) = loopback(cc);
    let wrap = |t: TcpStream| {
        Socket::new_fd(t.into())
            .map_err(|(e, _)| e)
            .unwrap()
            .upcast()
    };
    let client = Websock::new_client(wrap(c), "localhost", "/", &["binary"]).unwrap();
    let server = Websock::new_server(wrap(s));
    // Both handshakes run on the default main context, as QEMU's do.
    let (tx, rx) = mpsc::channel();
    for ws in [&client, &server] {
        let tx = tx.clone();
        ws.handshake(move |result| tx.send(result).unwrap());
    }
    let context = MainContext::default();
    let mut done = 0;
    while done < 2 {
        context.iteration(true);
        while let Ok(result) = rx.try_recv() {
            result.unwrap();
            done += 1;
        }
    }
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

fn tungstenite_seconds(direction: Direction, message: usize, total: usize, cc: &str) -> f64 {
    let (c, s) = loopback(cc);
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

/// The median of `seconds` (sorted in place).
fn median(seconds: &mut [f64]) -> f64 {
    seconds.sort_by(f64::total_cmp);
    let mid = seconds.len() / 2;
    match seconds.len() % 2 {
        0 => (seconds[mid - 1] + seconds[mid]) / 2.0,
        _ => seconds[mid],
    }
}

fn main() {
    // `cargo bench` passes "--bench"; the numbers are ours.
    let benching = std::env::args().any(|a| a == "--bench");
    let numbers: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (default_rounds, default_mib) = if benching { (3, 1024) } else { (1, 1) };
    let rounds = numbers.first().copied().unwrap_or(default_rounds).max(1);
    let total = numbers.get(1).copied().unwrap_or(default_mib) << 20;
    let cc = congestion_control();
    let host_cc = std::fs::read_to_string("/proc/sys/net/ipv4/tcp_congestion_control")
        .map_or_else(|e| e.to_string(), |s| s.trim().to_owned());
    println!("TCP congestion control: {cc} (the host's default: {host_cc}), {rounds} rounds\n");
    println!(
        "| direction | message | tungstenite MB/s | qio MB/s | qio / tungstenite | over all rounds |"
    );
    println!("|---|--:|--:|--:|--:|--:|");
    for (name, direction) in [
        ("client → server", Direction::ClientToServer),
        ("server → client", Direction::ServerToClient),
    ] {
        for (label, message) in [("64 KiB", 64 << 10), ("1 MiB", 1 << 20)] {
            let (mut qio_times, mut tung_times) = (Vec::new(), Vec::new());
            for round in 0..rounds {
                let qio = || qio_seconds(direction, message, total, &cc);
                let tung = || tungstenite_seconds(direction, message, total, &cc);
                // Alternate which goes first, so neither always gets the warm cache.
                let (q, t) = match round % 2 {
                    0 => (qio(), tung()),
                    _ => {
                        let t = tung();
                        (qio(), t)
                    }
                };
                qio_times.push(q);
                tung_times.push(t);
                eprintln!(
                    "{name} {label} round {round}: tungstenite {:.0} MB/s, qio {:.0} MB/s",
                    mb_per_s(total, t),
                    mb_per_s(total, q)
                );
            }
            let all = |times: &[f64]| times.iter().sum::<f64>();
            let overall = all(&tung_times) / all(&qio_times);
            let (q, t) = (median(&mut qio_times), median(&mut tung_times));
            println!(
                "| {name} | {label} | {:.0} | {:.0} | {:.2} | {overall:.2} |",
                mb_per_s(total, t),
                mb_per_s(total, q),
                t / q
            );
        }
    }
}
