//! A TLS echo server and client written on qio's Rust API, without `unsafe`: a
//! listener hands each client to a callback on a GLib main loop, which runs the TLS
//! handshake and then echoes what the client sends, from a channel watch.
//!
//! ```text
//! cargo run --example tls-echo -- server 127.0.0.1:5000 &
//! echo hello | cargo run --example tls-echo -- client 127.0.0.1:5000
//! cargo run --example tls-echo            # both ends on loopback, once
//! ```
//!
//! The credentials are anonymous (Diffie-Hellman without certificates): the traffic is
//! encrypted, but neither end knows who the other is. Real deployments use x509
//! credentials (`Creds::x509`); the rest of the code stays the same.

use std::io::BufRead;
use std::sync::mpsc;
use std::sync::Arc;

use qio::crypto::tls::{Creds, Endpoint};
use qio::io::channel::Channel;
use qio::io::watch::{G_IO_HUP, G_IO_IN};
use qio::io::{MainContext, NetListener, Socket, SocketAddress, Tls};

/// Listens on `addr` and echoes every client's bytes back over TLS, in `context`;
/// returns the listener (dropping it stops the server).
fn serve(addr: &SocketAddress, context: &MainContext) -> qio::Result<NetListener> {
    let creds = Arc::new(Creds::anon(Endpoint::Server, None, None)?);
    let listener = NetListener::new();
    listener.open_sync(addr, 16)?;
    let accept_context = context.clone();
    listener.set_client_func(
        Some(Arc::new(move |client: Arc<Channel<Socket>>| {
            let peer = client.remote_address().map(|a| a.to_string());
            let tls = match Tls::new_server(client.upcast(), &creds, None) {
                Ok(tls) => tls,
                Err(e) => return eprintln!("tls-echo: {e}"),
            };
            let context = accept_context.clone();
            let echoing = tls.clone();
            tls.handshake(&accept_context, move |outcome| match outcome {
                Ok(()) => echo(echoing.upcast(), &context),
                Err(e) => eprintln!("tls-echo: handshake with {peer:?}: {e}"),
            });
        })),
        context,
    );
    Ok(listener)
}

/// Sends back what `channel` receives, as it arrives, until the client leaves.
fn echo(channel: Arc<Channel>, context: &MainContext) {
    if let Err(e) = channel.set_blocking(false) {
        return eprintln!("tls-echo: {e}");
    }
    channel.add_watch(G_IO_IN | G_IO_HUP, context, |channel, _| {
        let mut buf = [0; 16384];
        match channel.read(&mut buf) {
            Ok(0) => false,
            Ok(n) => channel.write_all(&buf[..n]).is_ok(),
            Err(e) => e.would_block(),
        }
    });
}

/// Connects to `addr` over TLS, running the handshake in `context`.
fn connect(addr: &SocketAddress, context: &MainContext) -> qio::Result<Arc<Channel<Tls>>> {
    let socket = Socket::new_channel();
    socket.connect_sync(addr)?;
    let creds = Creds::anon(Endpoint::Client, None, None)?;
    let tls = Tls::new_client(socket.upcast(), &creds, None)?;
    let (done, outcome) = mpsc::channel();
    tls.handshake(context, move |result| done.send(result).unwrap());
    loop {
        if let Ok(result) = outcome.try_recv() {
            result?;
            return Ok(tls);
        }
        context.iteration(true);
    }
}

/// Sends `line` and reads its echo.
fn round_trip(tls: &Channel<Tls>, line: &[u8]) -> qio::Result<Vec<u8>> {
    tls.write_all(line)?;
    let mut echoed = vec![0; line.len()];
    tls.read_all(&mut echoed)?;
    Ok(echoed)
}

/// The client: each line of standard input there and back.
fn client(addr: &SocketAddress) -> qio::Result<()> {
    let tls = connect(addr, &MainContext::new())?;
    eprintln!(
        "tls-echo: connected with {} {}",
        tls.imp().session().protocol_name()?,
        tls.imp().session().cipher_name()?
    );
    for line in std::io::stdin().lock().lines() {
        let line = line.map_err(|e| qio::Error::new(qio::ErrorKind::Failed, e.to_string()))?;
        let echoed = round_trip(&tls, line.as_bytes())?;
        println!("{}", String::from_utf8_lossy(&echoed));
    }
    Ok(())
}

/// Both ends on loopback: a server on its own thread and main context, one client.
fn self_test() -> qio::Result<Vec<u8>> {
    let (ready, address) = mpsc::channel();
    std::thread::spawn(move || {
        let context = MainContext::new();
        let started = SocketAddress::parse("127.0.0.1:0")
            .and_then(|any| serve(&any, &context))
            .and_then(|listener| Ok((listener.sockets()[0].local_address()?, listener)));
        // The listener serves for as long as it lives: to the end of the thread.
        let _listener = match started {
            Ok((addr, listener)) => {
                ready.send(Ok(addr)).unwrap();
                listener
            }
            Err(e) => return ready.send(Err(e)).unwrap(),
        };
        loop {
            context.iteration(true);
        }
    });
    let addr = address.recv().unwrap()?;
    let tls = connect(&addr, &MainContext::new())?;
    round_trip(&tls, b"hello over TLS")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let address = |text: &String| SocketAddress::parse(text);
    let result = match args.iter().map(String::as_str).collect::<Vec<_>>()[..] {
        [] => self_test().map(|echoed| println!("{}", String::from_utf8_lossy(&echoed))),
        ["server", _] => address(&args[1]).and_then(|addr| {
            let context = MainContext::default();
            let _listener = serve(&addr, &context)?;
            eprintln!("tls-echo: listening on {addr}");
            loop {
                context.iteration(true);
            }
        }),
        ["client", _] => address(&args[1]).and_then(|addr| client(&addr)),
        _ => {
            eprintln!("usage: tls-echo [server ADDRESS | client ADDRESS]");
            std::process::exit(2);
        }
    };
    if let Err(e) = result {
        eprintln!("tls-echo: {e}");
        std::process::exit(1);
    }
}

#[test]
fn echoes_over_tls_on_loopback() {
    assert_eq!(self_test().unwrap(), b"hello over TLS");
}
