use std::path::{Path, PathBuf};

use super::*;

mod x509;

/// A fresh directory for one test's credential files, removed when dropped.
pub(crate) struct TempDir(pub PathBuf);

impl TempDir {
    pub(crate) fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("qio-tls-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub(crate) fn write(&self, name: &str, content: &str) {
        std::fs::write(self.0.join(name), content).unwrap();
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn priorities_get_the_kinds_suffix_and_endpoints_are_checked() {
    let anon = Creds::anon(Endpoint::Client, None, None).unwrap();
    assert_eq!(
        anon.priority(),
        "NORMAL:-VERS-TLS1.1:-VERS-TLS1.0:-VERS-TLS1.3:-KX-ALL:+ANON-DH"
    );
    let custom = Creds::anon(Endpoint::Server, None, Some("@SYSTEM")).unwrap();
    assert_eq!(custom.priority(), "@SYSTEM:-VERS-TLS1.3:-KX-ALL:+ANON-DH");
    assert!(anon.check_endpoint(Endpoint::Client).is_ok());
    assert_eq!(
        anon.check_endpoint(Endpoint::Server).unwrap_err().message(),
        "Expected TLS credentials for a server endpoint"
    );
    assert_eq!(
        custom
            .check_endpoint(Endpoint::Client)
            .unwrap_err()
            .message(),
        "Expected TLS credentials for a client endpoint"
    );
    assert_eq!(
        anon.reload().unwrap_err().message(),
        "tls-creds-anon does not support reloading credentials"
    );
}

#[test]
fn psk_files_follow_qemus_layout_and_rules() {
    let dir = TempDir::new("psk");
    dir.write(
        "keys.psk",
        "other:10ffa6a2c42f0388\r\nqemu:009d5638c40fde0c\n",
    );
    let server = Creds::psk(Endpoint::Server, Some(&dir.0), None, None).unwrap();
    assert_eq!(
        server.priority(),
        "NORMAL:-VERS-TLS1.1:-VERS-TLS1.0:-KX-ALL:+ECDHE-PSK:+DHE-PSK:+PSK"
    );
    Creds::psk(Endpoint::Client, Some(&dir.0), None, None).unwrap();
    Creds::psk(Endpoint::Client, Some(&dir.0), Some("other"), None).unwrap();

    let e = Creds::psk(Endpoint::Client, Some(&dir.0), Some("fred"), None)
        .err()
        .unwrap();
    let file = dir.0.join("keys.psk");
    assert_eq!(
        e.message(),
        format!("Username fred not found in PSK file {}", file.display())
    );
    let e = Creds::psk(Endpoint::Server, Some(&dir.0), Some("qemu"), None)
        .err()
        .unwrap();
    assert_eq!(
        e.message(),
        "username should not be set when endpoint=server"
    );
    let e = Creds::psk(Endpoint::Client, None, None, None)
        .err()
        .unwrap();
    assert_eq!(e.message(), "Missing 'dir' property value");
    let empty = TempDir::new("psk-empty");
    let e = Creds::psk(Endpoint::Server, Some(&empty.0), None, None)
        .err()
        .unwrap();
    assert_eq!(
        e.message(),
        format!(
            "Unable to access credentials {}: No such file or directory",
            empty.0.join("keys.psk").display()
        )
    );
    // A key that is not hex is gnutls' to refuse.
    dir.write("keys.psk", "qemu:not-hex\n");
    let e = Creds::psk(Endpoint::Client, Some(&dir.0), None, None)
        .err()
        .unwrap();
    assert!(
        e.message()
            .starts_with("Cannot set PSK client credentials: "),
        "{}",
        e.message()
    );
}

#[test]
fn a_server_loads_dh_parameters_when_present() {
    let dir = TempDir::new("dh");
    dir.write(
        "dh-params.pem",
        "-----BEGIN DH PARAMETERS-----\nnot base64\n-----END DH PARAMETERS-----\n",
    );
    let e = Creds::anon(Endpoint::Server, Some(&dir.0), None)
        .err()
        .unwrap();
    let path = dir.0.join("dh-params.pem");
    assert!(
        e.message().starts_with(&format!(
            "Unable to load DH parameters from {}: ",
            path.display()
        )),
        "{}",
        e.message()
    );
    dir.write("dh-params.pem", FFDHE2048_PEM);
    Creds::anon(Endpoint::Server, Some(&dir.0), None).unwrap();
    // A client ignores the file.
    dir.write("dh-params.pem", "garbage");
    Creds::anon(Endpoint::Client, Some(&dir.0), None).unwrap();
    let _ = Path::new("");
}

/// RFC 7919's ffdhe2048 group in PKCS#3 PEM (public, standard parameters).
pub(crate) const FFDHE2048_PEM: &str = "-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
";

/// A session's transport over one end of a UNIX socketpair.
struct Stream(std::os::unix::net::UnixStream);

impl Transport for Stream {
    fn push(&self, buf: &[u8]) -> crate::Result<usize> {
        use std::io::Write;
        io_result((&self.0).write(buf))
    }

    fn pull(&self, buf: &mut [u8]) -> crate::Result<usize> {
        use std::io::Read;
        io_result((&self.0).read(buf))
    }
}

fn io_result(result: std::io::Result<usize>) -> crate::Result<usize> {
    result.map_err(|e| match e.kind() {
        std::io::ErrorKind::WouldBlock => crate::Error::would_block_error(),
        _ => crate::Error::new(crate::ErrorKind::Failed, format!("transport: {e}")),
    })
}

/// A client and a server session over a socketpair, each end non-blocking when asked.
fn pair(client: &Creds, server: &Creds, nonblocking: bool) -> (Session, Session) {
    checked_pair(client, server, nonblocking, None, None)
}

/// As [`pair`], the client expecting `hostname` and the server checking `authz`.
fn checked_pair(
    client: &Creds,
    server: &Creds,
    nonblocking: bool,
    hostname: Option<&str>,
    authz: Option<crate::authz::Authz>,
) -> (Session, Session) {
    let (a, b) = std::os::unix::net::UnixStream::pair().unwrap();
    a.set_nonblocking(nonblocking).unwrap();
    b.set_nonblocking(nonblocking).unwrap();
    let c = Session::new(client, hostname, None, Endpoint::Client).unwrap();
    let s = Session::new(server, None, authz, Endpoint::Server).unwrap();
    c.set_transport(Box::new(Stream(a)));
    s.set_transport(Box::new(Stream(b)));
    (c, s)
}

/// Steps both handshakes in turn, as QEMU's test does, until both complete or fail.
fn handshake(client: &Session, server: &Session) -> (crate::Result<()>, crate::Result<()>) {
    let (mut c, mut s) = (None, None);
    for _ in 0..100 {
        if c.is_none() {
            match client.handshake() {
                Ok(Progress::Complete) => c = Some(Ok(())),
                Ok(_) => {}
                Err(e) => c = Some(Err(e)),
            }
        }
        if s.is_none() {
            match server.handshake() {
                Ok(Progress::Complete) => s = Some(Ok(())),
                Ok(_) => {}
                Err(e) => s = Some(Err(e)),
            }
        }
        if let (Some(c), Some(s)) = (&c, &s) {
            return (c.clone(), s.clone());
        }
    }
    panic!("handshake did not finish: client {c:?}, server {s:?}");
}

fn psk_dir(name: &str, key: &str) -> TempDir {
    let dir = TempDir::new(name);
    dir.write("keys.psk", &format!("qemu:{key}\n"));
    dir
}

#[test]
fn anon_and_psk_sessions_handshake_and_exchange_records() {
    let dir = psk_dir("psk-session", "009d5638c40fde0c");
    let kinds = [
        (
            Creds::anon(Endpoint::Client, None, None).unwrap(),
            Creds::anon(Endpoint::Server, None, None).unwrap(),
        ),
        (
            Creds::psk(Endpoint::Client, Some(&dir.0), None, None).unwrap(),
            Creds::psk(Endpoint::Server, Some(&dir.0), None, None).unwrap(),
        ),
    ];
    for (client_creds, server_creds) in &kinds {
        let (client, server) = pair(client_creds, server_creds, true);
        assert!(!client.handshake_complete());
        let (c, s) = handshake(&client, &server);
        c.unwrap();
        s.unwrap();
        assert!(client.handshake_complete() && server.handshake_complete());
        assert!(client.key_size().unwrap() >= 16);

        assert_eq!(client.write(b"hello").unwrap(), 5);
        let mut buf = [0; 16];
        assert_eq!(server.read(&mut buf[..2]).unwrap(), Received::Bytes(2));
        assert_eq!(server.check_pending(), 3);
        assert_eq!(server.read(&mut buf[2..]).unwrap(), Received::Bytes(3));
        assert_eq!(&buf[..5], b"hello");
        assert!(server.read(&mut buf).unwrap_err().would_block());

        // An orderly close reads as end-of-file.
        assert_eq!(client.bye().unwrap(), Progress::Complete);
        assert_eq!(server.read(&mut buf).unwrap(), Received::Bytes(0));
    }
}

#[test]
fn a_peer_gone_without_close_notify_is_premature_termination() {
    let client_creds = Creds::anon(Endpoint::Client, None, None).unwrap();
    let server_creds = Creds::anon(Endpoint::Server, None, None).unwrap();
    let (client, server) = pair(&client_creds, &server_creds, true);
    let (c, s) = handshake(&client, &server);
    c.and(s).unwrap();
    drop(client);
    let mut buf = [0; 4];
    assert_eq!(server.read(&mut buf).unwrap(), Received::PrematureEof);
}

#[test]
fn mismatched_psk_keys_fail_the_handshake_with_the_reason() {
    let client_dir = psk_dir("psk-client", "009d5638c40fde0c");
    let server_dir = psk_dir("psk-server", "10ffa6a2c42f0388");
    let client_creds = Creds::psk(Endpoint::Client, Some(&client_dir.0), None, None).unwrap();
    let server_creds = Creds::psk(Endpoint::Server, Some(&server_dir.0), None, None).unwrap();
    let (client, server) = pair(&client_creds, &server_creds, true);
    // The server finds out first; like QEMU, it sends no alert, and the client learns
    // when the connection is closed.
    let failed = (0..100)
        .find_map(|_| {
            client.handshake().unwrap();
            server.handshake().err()
        })
        .expect("the server refuses the key");
    assert_eq!(
        failed.message(),
        "TLS handshake failed: An illegal parameter has been received."
    );
    drop(server);
    let e = (0..100)
        .find_map(|_| client.handshake().err())
        .expect("the client sees the closed connection");
    assert!(
        e.message().starts_with("TLS handshake failed: "),
        "{}",
        e.message()
    );
    // The wrong endpoint is refused before any I/O.
    let e = Session::new(&client_creds, None, None, Endpoint::Server)
        .err()
        .unwrap();
    assert_eq!(e.message(), "Credentials endpoint doesn't match session");
    // A bad priority string says which.
    let bad = Creds::anon(Endpoint::Client, None, Some("NORMAL:+NOPE")).unwrap();
    let e = Session::new(&bad, None, None, Endpoint::Client)
        .err()
        .unwrap();
    assert!(
        e.message().starts_with(
            "Unable to set TLS session priority NORMAL:+NOPE:-VERS-TLS1.3:-KX-ALL:+ANON-DH: "
        ),
        "{}",
        e.message()
    );
}

#[test]
fn a_transport_failure_is_named_in_the_error() {
    struct Broken;
    impl Transport for Broken {
        fn push(&self, _: &[u8]) -> crate::Result<usize> {
            Err(crate::Error::new(crate::ErrorKind::Failed, "cable cut"))
        }
        fn pull(&self, _: &mut [u8]) -> crate::Result<usize> {
            panic!("pulled")
        }
    }
    let creds = Creds::anon(Endpoint::Client, None, None).unwrap();
    let session = Session::new(&creds, None, None, Endpoint::Client).unwrap();
    let e = session.handshake().unwrap_err();
    assert_eq!(
        e.message(),
        "TLS handshake failed: Error in the push function.: TLS session has no transport"
    );
    session.set_transport(Box::new(Broken));
    let e = session.handshake().unwrap_err();
    assert!(e.message().ends_with(": cable cut"), "{}", e.message());
}

#[test]
fn one_thread_reads_while_another_writes_with_the_1717_lock() {
    let dir = psk_dir("psk-threads", "009d5638c40fde0c");
    for (client_creds, server_creds) in [
        (
            Creds::anon(Endpoint::Client, None, None).unwrap(),
            Creds::anon(Endpoint::Server, None, None).unwrap(),
        ),
        (
            Creds::psk(Endpoint::Client, Some(&dir.0), None, None).unwrap(),
            Creds::psk(Endpoint::Server, Some(&dir.0), None, None).unwrap(),
        ),
    ] {
        let (client, server) = pair(&client_creds, &server_creds, false);
        client.require_thread_safety();
        server.require_thread_safety();
        let (client, server) = (std::sync::Arc::new(client), std::sync::Arc::new(server));
        let s = server.clone();
        let server_hs =
            std::thread::spawn(move || while s.handshake().unwrap() != Progress::Complete {});
        while client.handshake().unwrap() != Progress::Complete {}
        server_hs.join().unwrap();

        // Each side writes 1 MB while its other thread reads the peer's 1 MB.
        const TOTAL: usize = 1 << 20;
        let threads: Vec<_> = [client.clone(), server.clone()]
            .into_iter()
            .flat_map(|session| {
                let reader = session.clone();
                [
                    std::thread::spawn(move || {
                        let chunk = [0x5a; 4096];
                        let mut sent = 0;
                        while sent < TOTAL {
                            sent += session
                                .write(&chunk[..(TOTAL - sent).min(chunk.len())])
                                .unwrap();
                        }
                    }),
                    std::thread::spawn(move || {
                        let mut buf = [0; 8192];
                        let mut got = 0;
                        while got < TOTAL {
                            match reader.read(&mut buf).unwrap() {
                                Received::Bytes(0) | Received::PrematureEof => panic!("early EOF"),
                                Received::Bytes(n) => {
                                    assert!(buf[..n].iter().all(|&b| b == 0x5a));
                                    got += n;
                                }
                            }
                        }
                    }),
                ]
            })
            .collect();
        for thread in threads {
            thread.join().unwrap();
        }
    }
}

/// A CA, a server certificate for `qemu.example` and a client certificate for
/// `C=UK,CN=qemu`, each side's files in its own directory.
pub(crate) struct X509Dirs {
    pub(crate) server: TempDir,
    pub(crate) client: TempDir,
    ca: x509::Cert,
}

impl X509Dirs {
    pub(crate) fn new(name: &str) -> X509Dirs {
        use x509::{Cert, Request, PURPOSE_CLIENT, PURPOSE_SERVER};
        let ca_name = format!("qio test CA {name}");
        let ca = Cert::new(&Request::ca(&ca_name), None);
        let server_cert = Cert::new(
            &Request::leaf("qemu.example", PURPOSE_SERVER, &["qemu.example"]),
            Some(&ca),
        );
        let client_cert = Cert::new(&Request::leaf("qemu", PURPOSE_CLIENT, &[]), Some(&ca));
        let server = TempDir::new(&format!("{name}-server"));
        server.write("ca-cert.pem", &ca.cert_pem);
        server.write("server-cert.pem", &server_cert.cert_pem);
        server.write("server-key.pem", &server_cert.key_pem(None));
        let client = TempDir::new(&format!("{name}-client"));
        client.write("ca-cert.pem", &ca.cert_pem);
        client.write("client-cert.pem", &client_cert.cert_pem);
        client.write("client-key.pem", &client_cert.key_pem(None));
        X509Dirs { server, client, ca }
    }

    pub(crate) fn creds(&self) -> (Creds, Creds) {
        (
            Creds::x509(
                Endpoint::Client,
                Some(&self.client.0),
                true,
                None,
                true,
                None,
            )
            .unwrap(),
            Creds::x509(
                Endpoint::Server,
                Some(&self.server.0),
                true,
                None,
                true,
                None,
            )
            .unwrap(),
        )
    }
}

/// Handshakes x509 sessions and checks both ends' credentials.
fn x509_session(
    client_creds: &Creds,
    server_creds: &Creds,
    hostname: Option<&str>,
    authz: Option<crate::authz::Authz>,
) -> (Session, Session, crate::Result<()>, crate::Result<()>) {
    let (client, server) = checked_pair(client_creds, server_creds, true, hostname, authz);
    let (c, s) = handshake(&client, &server);
    c.unwrap();
    s.unwrap();
    let (c, s) = (client.check_credentials(), server.check_credentials());
    (client, server, c, s)
}

#[test]
fn x509_peers_are_verified_by_chain_hostname_and_authz() {
    let dirs = X509Dirs::new("x509");
    let (client_creds, server_creds) = dirs.creds();
    assert_eq!(server_creds.priority(), "NORMAL:-VERS-TLS1.1:-VERS-TLS1.0");

    let (client, server, c, s) =
        x509_session(&client_creds, &server_creds, Some("qemu.example"), None);
    c.unwrap();
    s.unwrap();
    assert_eq!(server.peer_name().as_deref(), Some("C=UK,CN=qemu"));
    assert_eq!(client.peer_name().as_deref(), Some("C=UK,CN=qemu.example"));

    let (_, _, c, _) = x509_session(&client_creds, &server_creds, Some("other.example"), None);
    assert_eq!(
        c.unwrap_err().message(),
        "Certificate does not match the hostname other.example"
    );
    let (_, _, c, _) = x509_session(&client_creds, &server_creds, None, None);
    assert_eq!(
        c.unwrap_err().message(),
        "No hostname for certificate validation"
    );

    let allow = crate::authz::Authz::simple("C=UK,CN=qemu");
    let (_, _, _, s) = x509_session(
        &client_creds,
        &server_creds,
        Some("qemu.example"),
        Some(allow),
    );
    s.unwrap();
    let deny = crate::authz::Authz::simple("C=UK,CN=someone");
    let (_, _, _, s) = x509_session(
        &client_creds,
        &server_creds,
        Some("qemu.example"),
        Some(deny),
    );
    assert_eq!(
        s.unwrap_err().message(),
        "TLS x509 authz check for C=UK,CN=qemu is denied"
    );

    // A client without a certificate: a verifying server refuses it, another does not.
    let bare = TempDir::new("x509-bare");
    bare.write("ca-cert.pem", &dirs.ca.cert_pem);
    let anonymous = Creds::x509(Endpoint::Client, Some(&bare.0), true, None, true, None).unwrap();
    let (_, _, c, s) = x509_session(&anonymous, &server_creds, Some("qemu.example"), None);
    c.unwrap();
    assert_eq!(
        s.unwrap_err().message(),
        "Verify failed: No certificate was found."
    );
    let lenient = Creds::x509(
        Endpoint::Server,
        Some(&dirs.server.0),
        false,
        None,
        true,
        None,
    )
    .unwrap();
    let (_, _, _, s) = x509_session(&anonymous, &lenient, Some("qemu.example"), None);
    s.unwrap();

    // A server certificate from another CA is not trusted.
    let other = X509Dirs::new("x509-other");
    let (_, foreign_server) = other.creds();
    let (_, _, c, _) = x509_session(&client_creds, &foreign_server, Some("qemu.example"), None);
    assert_eq!(
        c.unwrap_err().message(),
        "The certificate hasn't got a known issuer"
    );
}

#[test]
fn x509_files_follow_qemus_layout() {
    let dirs = X509Dirs::new("x509-files");
    let server = &dirs.server;
    // Numbered identities after the plain one, and an encrypted key.
    let extra = x509::Cert::new(
        &x509::Request::leaf("qemu.example", x509::PURPOSE_SERVER, &["qemu.example"]),
        Some(&dirs.ca),
    );
    server.write("server-cert-0.pem", &extra.cert_pem);
    server.write("server-key-0.pem", &extra.key_pem(Some("sesame")));
    let e = Creds::x509(Endpoint::Server, Some(&server.0), true, None, true, None)
        .err()
        .unwrap();
    let (cert0, key0) = (
        server.0.join("server-cert-0.pem"),
        server.0.join("server-key-0.pem"),
    );
    assert!(
        e.message().starts_with(&format!(
            "Unable to load certificate {} and key {}: ",
            cert0.display(),
            key0.display()
        )),
        "{}",
        e.message()
    );
    Creds::x509(
        Endpoint::Server,
        Some(&server.0),
        true,
        None,
        true,
        Some(b"sesame"),
    )
    .unwrap();

    std::fs::remove_file(&key0).unwrap();
    let e = Creds::x509(Endpoint::Server, Some(&server.0), true, None, true, None)
        .err()
        .unwrap();
    assert_eq!(
        e.message(),
        format!("Cert '{}' has no key '{}'", cert0.display(), key0.display())
    );
    std::fs::remove_file(&cert0).unwrap();

    std::fs::remove_file(server.0.join("server-cert.pem")).unwrap();
    std::fs::remove_file(server.0.join("server-key.pem")).unwrap();
    let e = Creds::x509(Endpoint::Server, Some(&server.0), true, None, true, None)
        .err()
        .unwrap();
    assert_eq!(
        e.message(),
        format!(
            "Missing server cert '{}' & key '{}'",
            server.0.join("server-cert.pem").display(),
            server.0.join("server-key.pem").display()
        )
    );
    // A client may have no identity, but needs the CA.
    std::fs::remove_file(dirs.client.0.join("client-cert.pem")).unwrap();
    std::fs::remove_file(dirs.client.0.join("client-key.pem")).unwrap();
    Creds::x509(
        Endpoint::Client,
        Some(&dirs.client.0),
        true,
        None,
        true,
        None,
    )
    .unwrap();
    std::fs::remove_file(dirs.client.0.join("ca-cert.pem")).unwrap();
    let e = Creds::x509(
        Endpoint::Client,
        Some(&dirs.client.0),
        true,
        None,
        true,
        None,
    )
    .err()
    .unwrap();
    assert_eq!(
        e.message(),
        format!(
            "Unable to access credentials {}: No such file or directory",
            dirs.client.0.join("ca-cert.pem").display()
        )
    );
}

#[test]
fn x509_reload_swaps_for_new_sessions_and_keeps_the_old_on_failure() {
    let dirs = X509Dirs::new("x509-reload");
    let (client_creds, server_creds) = dirs.creds();
    std::fs::write(dirs.server.0.join("server-key.pem"), "broken").unwrap();
    assert!(server_creds.reload().is_err());
    let (_, _, c, s) = x509_session(&client_creds, &server_creds, Some("qemu.example"), None);
    c.and(s).unwrap();
    // A new server identity from the same CA, for a new name.
    let renamed = x509::Cert::new(
        &x509::Request::leaf("vm2.example", x509::PURPOSE_SERVER, &["vm2.example"]),
        Some(&dirs.ca),
    );
    dirs.server.write("server-cert.pem", &renamed.cert_pem);
    dirs.server.write("server-key.pem", &renamed.key_pem(None));
    server_creds.reload().unwrap();
    let (_, _, c, _) = x509_session(&client_creds, &server_creds, Some("vm2.example"), None);
    c.unwrap();
}

#[test]
fn our_own_certificates_pass_qemus_sanity_check_or_say_why() {
    use x509::{Cert, Request, KEY_DIGITAL_SIGNATURE, PURPOSE_CLIENT, PURPOSE_SERVER};
    let dir = TempDir::new("x509-sanity");
    let ca = Cert::new(&Request::ca("sanity CA"), None);
    dir.write("ca-cert.pem", &ca.cert_pem);
    let load = |sanity: bool| Creds::x509(Endpoint::Server, Some(&dir.0), true, None, sanity, None);
    let cert_path = dir.0.join("server-cert.pem").display().to_string();
    let ca_path = dir.0.join("ca-cert.pem").display().to_string();
    let install = |cert: &Cert, chain: &[&Cert]| {
        let pem: String = std::iter::once(cert)
            .chain(chain.iter().copied())
            .map(|c| c.cert_pem.as_str())
            .collect();
        dir.write("server-cert.pem", &pem);
        dir.write("server-key.pem", &cert.key_pem(None));
    };
    let leaf = |req: Request<'_>, issuer: &Cert| Cert::new(&req, Some(issuer));
    let server = || Request::leaf("vm", PURPOSE_SERVER, &["vm.example"]);

    install(&leaf(server(), &ca), &[]);
    load(true).unwrap();

    let expired = Request {
        start_hours: -48,
        end_hours: -24,
        ..server()
    };
    install(&leaf(expired, &ca), &[]);
    assert_eq!(
        load(true).err().unwrap().message(),
        format!("The server certificate {cert_path} has expired")
    );
    load(false).unwrap();
    let inactive = Request {
        start_hours: 24,
        end_hours: 48,
        ..server()
    };
    install(&leaf(inactive, &ca), &[]);
    assert_eq!(
        load(true).err().unwrap().message(),
        format!("The server certificate {cert_path} is not yet active")
    );

    let ca_leaf = Request {
        ca: true,
        ..server()
    };
    install(&leaf(ca_leaf, &ca), &[]);
    assert_eq!(
        load(true).err().unwrap().message(),
        format!(
            "The certificate {cert_path} basic constraints show a CA, but we need one for a server"
        )
    );

    // A purpose for clients only: refused when the extension is critical.
    let client_only = Request {
        purpose: Some(PURPOSE_CLIENT),
        ..server()
    };
    install(&leaf(client_only, &ca), &[]);
    load(true).unwrap();
    let client_only = Request {
        purpose: Some(PURPOSE_CLIENT),
        purpose_critical: true,
        ..server()
    };
    install(&leaf(client_only, &ca), &[]);
    assert_eq!(
        load(true).err().unwrap().message(),
        format!("Certificate {cert_path} purpose does not allow use with a TLS server")
    );

    // An intermediate in the cert file, in order, then out of order, then missing.
    let intermediate = Cert::new(&Request::ca("sanity intermediate"), Some(&ca));
    let chained = leaf(server(), &intermediate);
    install(&chained, &[&intermediate]);
    load(true).unwrap();
    install(&chained, &[&ca]);
    assert_eq!(
        load(true).err().unwrap().message(),
        "Cert 'C=UK,CN=sanity CA' does not match issuer of cert 'C=UK,CN=vm'"
    );
    install(&chained, &[]);
    assert_eq!(
        load(true).err().unwrap().message(),
        "Cert 'C=UK,CN=vm' has no issuer in CA chain"
    );

    // A CA whose critical key usage forbids signing certificates.
    let signless = Cert::new(
        &Request {
            key_usage: KEY_DIGITAL_SIGNATURE,
            ..Request::ca("signless CA")
        },
        None,
    );
    dir.write("ca-cert.pem", &signless.cert_pem);
    install(&leaf(server(), &signless), &[]);
    assert_eq!(
        load(true).err().unwrap().message(),
        format!("Certificate {ca_path} usage does not permit certificate signing")
    );
}
