use std::io::IoSlice;
use std::os::unix::net::UnixStream;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::*;
use crate::io::{MainContext, Socket};

fn anon() -> (Creds, Creds) {
    (
        Creds::anon(Endpoint::Client, None, None).unwrap(),
        Creds::anon(Endpoint::Server, None, None).unwrap(),
    )
}

/// A client and a server TLS channel over a socketpair of socket channels.
fn pair(creds: &(Creds, Creds)) -> (Arc<Channel<Tls>>, Arc<Channel<Tls>>) {
    pair_checked(creds, None, None)
}

/// As [`pair`], the client expecting `hostname` and the server checking `authz`.
fn pair_checked(
    creds: &(Creds, Creds),
    hostname: Option<&str>,
    authz: Option<crate::authz::Authz>,
) -> (Arc<Channel<Tls>>, Arc<Channel<Tls>>) {
    let (a, b) = UnixStream::pair().unwrap();
    let socket = |s: UnixStream| {
        Socket::new_fd(s.into())
            .map_err(|(e, _)| e)
            .unwrap()
            .upcast()
    };
    let client = Tls::new_client(socket(a), &creds.0, hostname).unwrap();
    let server = Tls::new_server(socket(b), &creds.1, authz).unwrap();
    (client, server)
}

type Outcome = Arc<Mutex<Vec<Result<()>>>>;

fn start(tls: &Arc<Channel<Tls>>, ctx: &MainContext) -> Outcome {
    let outcome: Outcome = Arc::default();
    let o = outcome.clone();
    tls.handshake(ctx, move |result| o.lock().unwrap().push(result));
    outcome
}

/// Runs both handshakes in one private context, as QEMU's test does.
fn handshake(client: &Arc<Channel<Tls>>, server: &Arc<Channel<Tls>>) {
    for tls in [client, server] {
        tls.set_blocking(false).unwrap();
    }
    let ctx = MainContext::new();
    let (c, s) = (start(client, &ctx), start(server, &ctx));
    for _ in 0..1000 {
        if !c.lock().unwrap().is_empty() && !s.lock().unwrap().is_empty() {
            break;
        }
        ctx.iteration(false);
    }
    for outcome in [c, s] {
        let outcome = outcome.lock().unwrap();
        assert_eq!(outcome.len(), 1, "each callback runs exactly once");
        outcome[0].clone().unwrap();
    }
}

#[test]
fn handshake_then_a_megabyte_each_way_blocking_and_not() {
    let (client, server) = pair(&anon());
    assert!(client.upcast().is::<Tls>());
    assert!(client.has_feature(Feature::Shutdown));
    handshake(&client, &server);
    assert!(client.imp().session().key_size().unwrap() >= 16);
    for blocking in [true, false] {
        client.set_blocking(blocking).unwrap();
        server.set_blocking(blocking).unwrap();
        let data: Vec<u8> = (0..1_000_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let writer = {
            let (client, data) = (client.clone(), data.clone());
            std::thread::spawn(move || client.upcast().write_all(&data).unwrap())
        };
        let mut got = vec![0; data.len()];
        server.upcast().read_all(&mut got).unwrap();
        writer.join().unwrap();
        assert!(got == data);
    }
    // An orderly close reads as end-of-file.
    client.set_blocking(true).unwrap();
    client.bye().unwrap();
    let mut buf = [0; 8];
    assert_eq!(server.read(&mut buf).unwrap(), 0);
}

/// Empty buffers in a write are skipped: gnutls refuses empty records.
#[test]
fn empty_buffers_in_a_write_are_skipped() {
    let (client, server) = pair(&anon());
    handshake(&client, &server);
    client.set_blocking(true).unwrap();
    server.set_blocking(true).unwrap();
    let iov = [IoSlice::new(b""), IoSlice::new(b"abc"), IoSlice::new(b"")];
    assert_eq!(client.upcast().writev_full(&iov, &[], 0).unwrap(), 3);
    let mut got = [0u8; 3];
    server.upcast().read_all(&mut got).unwrap();
    assert_eq!(&got, b"abc");
}

/// Small buffers written together travel as one record, so as one segment.
#[test]
fn small_buffers_in_a_write_share_one_record() {
    let (client, server) = pair(&anon());
    handshake(&client, &server);
    client.set_blocking(true).unwrap();
    let iov = [
        IoSlice::new(b"\x82\x05"),
        IoSlice::new(b"hello"),
        IoSlice::new(b"!"),
    ];
    assert_eq!(client.upcast().writev_full(&iov, &[], 0).unwrap(), 8);
    // The server's socket holds one application-data record (type 23), whose length
    // covers everything that arrived.
    let master = server.imp().master();
    master.set_blocking(false).unwrap();
    let mut wire = [0u8; 256];
    let n = master.read(&mut wire).unwrap();
    assert_eq!(wire[0], 23);
    assert_eq!(usize::from(u16::from_be_bytes([wire[3], wire[4]])) + 5, n);
}

#[test]
fn closing_or_dropping_mid_handshake_never_calls_back() {
    for drop_it in [false, true] {
        let (client, server) = pair(&anon());
        client.set_blocking(false).unwrap();
        let ctx = MainContext::new();
        let outcome = start(&client, &ctx);
        // The pending step holds the completion (and its clone of `outcome`)...
        assert_eq!(Arc::strong_count(&outcome), 2);
        if drop_it {
            drop(client);
        } else {
            client.close().unwrap();
        }
        // ...which closing or dropping the channel releases at once.
        assert_eq!(Arc::strong_count(&outcome), 1);
        // The server's answer arrives; nothing may run for the client any more.
        server.set_blocking(false).unwrap();
        let _server_outcome = start(&server, &ctx);
        for _ in 0..50 {
            ctx.iteration(false);
        }
        assert!(outcome.lock().unwrap().is_empty());
    }
}

#[test]
fn a_watch_wakes_readers_while_gnutls_holds_decrypted_bytes() {
    let (client, server) = pair(&anon());
    handshake(&client, &server);
    client.write(b"0123456789").unwrap();
    let mut two = [0; 2];
    server.set_blocking(true).unwrap();
    assert_eq!(server.read(&mut two).unwrap(), 2);
    // The socket is drained; the other 8 bytes are inside gnutls.
    let ctx = MainContext::new();
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    server.upcast().add_watch(G_IO_IN, &ctx, move |_, ready| {
        assert_eq!(ready, G_IO_IN);
        f.fetch_add(1, Ordering::SeqCst);
        false
    });
    ctx.iteration(false);
    assert_eq!(fired.load(Ordering::SeqCst), 1);
    let mut rest = [0; 16];
    assert_eq!(server.read(&mut rest).unwrap(), 8);
    assert_eq!(&rest[..8], b"23456789");
}

#[test]
fn a_peer_gone_without_close_notify_is_an_error_unless_relaxed_or_shut_down() {
    for how in ["strict", "relaxed", "shutdown"] {
        let (client, server) = pair(&anon());
        handshake(&client, &server);
        server.set_blocking(true).unwrap();
        client.imp().master().close().unwrap();
        let mut buf = [0; 4];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let result = match how {
            "strict" => server.readv_full(&mut iov, None, 0),
            "relaxed" => server.readv_full(&mut iov, None, READ_FLAG_RELAXED_EOF),
            _ => {
                server.shutdown(Shutdown::Read).unwrap();
                server.readv_full(&mut iov, None, 0)
            }
        };
        match how {
            "strict" => assert_eq!(
                result.unwrap_err().message(),
                "Cannot read from TLS channel: The TLS connection was non-properly terminated."
            ),
            _ => assert_eq!(result.unwrap(), 0),
        }
    }
}

#[test]
fn a_failed_handshake_reports_once() {
    let (client_creds, _) = anon();
    let psk = crate::crypto::tls::tests::TempDir::new("tls-channel-psk");
    psk.write("keys.psk", "qemu:009d5638c40fde0c\n");
    let server_creds = Creds::psk(Endpoint::Server, Some(&psk.0), None, None).unwrap();
    // Anonymous client, PSK server: no common key exchange.
    let (client, server) = pair(&(client_creds, server_creds));
    for tls in [&client, &server] {
        tls.set_blocking(false).unwrap();
    }
    let ctx = MainContext::new();
    let (c, s) = (start(&client, &ctx), start(&server, &ctx));
    for _ in 0..200 {
        ctx.iteration(false);
        if !s.lock().unwrap().is_empty() {
            break;
        }
    }
    let s = s.lock().unwrap();
    assert_eq!(s.len(), 1);
    assert!(s[0]
        .as_ref()
        .unwrap_err()
        .message()
        .starts_with("TLS handshake failed: "));
    drop(server);
    for _ in 0..200 {
        ctx.iteration(false);
        if !c.lock().unwrap().is_empty() {
            break;
        }
    }
    let c = c.lock().unwrap();
    assert_eq!(c.len(), 1);
    assert!(c[0].is_err());
}

#[test]
fn x509_handshakes_check_the_peer_before_calling_back() {
    let dirs = crate::crypto::tls::tests::X509Dirs::new("tls-channel-x509");
    let creds = dirs.creds();
    // QEMU's test-io-channel-tls authz: a glob over the client's DN.
    let acl = crate::authz::Authz::list(crate::authz::ListPolicy::Deny);
    acl.as_list().unwrap().append_rule(crate::authz::ListRule {
        text: "C=UK,CN=qemu*".into(),
        policy: crate::authz::ListPolicy::Allow,
        format: crate::authz::ListFormat::Glob,
    });
    let (client, server) = pair_checked(&creds, Some("qemu.example"), Some(acl));
    handshake(&client, &server);
    assert_eq!(
        server.imp().session().peer_name().as_deref(),
        Some("C=UK,CN=qemu")
    );

    let nobody = crate::authz::Authz::simple("C=UK,CN=nobody");
    let (client, server) = pair_checked(&creds, Some("qemu.example"), Some(nobody));
    for tls in [&client, &server] {
        tls.set_blocking(false).unwrap();
    }
    let ctx = MainContext::new();
    let (c, s) = (start(&client, &ctx), start(&server, &ctx));
    for _ in 0..1000 {
        if !c.lock().unwrap().is_empty() && !s.lock().unwrap().is_empty() {
            break;
        }
        ctx.iteration(false);
    }
    c.lock().unwrap()[0].clone().unwrap();
    let s = s.lock().unwrap();
    assert_eq!(s.len(), 1);
    assert_eq!(
        s[0].as_ref().unwrap_err().message(),
        "TLS x509 authz check for C=UK,CN=qemu is denied"
    );
}
