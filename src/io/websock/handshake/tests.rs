use super::*;

const DATE: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
/// RFC 6455 §1.3's example key and its accept value.
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
const ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

fn request(lines: &[&str]) -> Vec<u8> {
    let mut text = lines.join("\r\n");
    text.push_str("\r\n\r\n");
    text.into_bytes()
}

fn good_headers() -> Vec<&'static str> {
    vec![
        "GET / HTTP/1.1",
        "Host: localhost:5700",
        "Upgrade: websocket",
        "Connection: keep-alive, Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
        "Sec-WebSocket-Protocol: binary",
    ]
}

fn verdict(buf: &[u8]) -> (usize, Verdict) {
    match server_verdict(buf, DATE) {
        Parsed::Complete { len, outcome } => (len, outcome),
        Parsed::Incomplete => panic!("incomplete"),
    }
}

/// The reply's status line, and the error message.
fn refusal(buf: &[u8]) -> (String, String) {
    let (_, v) = verdict(buf);
    let reply = String::from_utf8(v.reply).unwrap();
    let status = reply.split("\r\n").next().unwrap().to_owned();
    assert!(reply.contains("\r\nConnection: close\r\n"), "{reply}");
    assert!(reply.ends_with("\r\n\r\n"), "{reply}");
    (status, v.result.unwrap_err().message().to_owned())
}

#[test]
fn accept_key_is_rfc_6455s_example() {
    assert_eq!(accept_key(KEY), ACCEPT);
}

#[test]
fn good_request_gets_qemus_101_reply() {
    let mut buf = request(&good_headers());
    let head = buf.len();
    buf.extend_from_slice(b"\x82\x80frame bytes follow");
    let (len, v) = verdict(&buf);
    assert_eq!(len, head);
    assert_eq!(v.result, Ok(true));
    assert_eq!(
        String::from_utf8(v.reply).unwrap(),
        format!(
            "HTTP/1.1 101 Switching Protocols\r\nServer: QEMU VNC\r\nDate: {DATE}\r\n\
             Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {ACCEPT}\r\n\
             Sec-WebSocket-Protocol: binary\r\n\r\n"
        )
    );
}

#[test]
fn protocol_is_optional_and_only_echoed_when_asked() {
    let mut lines = good_headers();
    lines.pop();
    let (_, v) = verdict(&request(&lines));
    assert_eq!(v.result, Ok(false));
    assert!(!String::from_utf8(v.reply)
        .unwrap()
        .contains("Sec-WebSocket-Protocol"));
    // Any case, any place in the list.
    lines.push("sec-websocket-protocol: chat, BINARY");
    assert_eq!(verdict(&request(&lines)).1.result, Ok(true));
}

#[test]
fn partial_heads_ask_for_more() {
    let buf = request(&good_headers());
    for cut in [0, 1, 10, buf.len() - 1] {
        assert_eq!(server_verdict(&buf[..cut], DATE), Parsed::Incomplete);
    }
}

#[test]
fn bad_request_lines_get_400() {
    for (line, message) in [
        ("GET", "Malformed HTTP request: invalid token"),
        ("GET /", "Malformed HTTP request: invalid token"),
        ("GET/ HTTP/1.1", "Malformed HTTP request: invalid token"),
        ("GET/HTTP/1.1", "Malformed HTTP request: invalid token"),
        ("POST / HTTP/1.1", "Unsupported HTTP method POST"),
        ("GET / HTTP/1.0", "Unsupported HTTP version HTTP/1.0"),
        (
            "GET / HTTP/2.0",
            "Malformed HTTP request: invalid HTTP version",
        ),
    ] {
        let mut lines = good_headers();
        lines[0] = line;
        let (status, got) = refusal(&request(&lines));
        assert!(got.starts_with(message), "{line}: {got}");
        let want = match message.starts_with("Unexpected") {
            true => "HTTP/1.1 404 Not Found",
            false => "HTTP/1.1 400 Bad Request",
        };
        assert_eq!(status, want, "{line}");
    }
}

#[test]
fn other_paths_get_404() {
    let mut lines = good_headers();
    lines[0] = "GET /websockify HTTP/1.1";
    assert_eq!(
        refusal(&request(&lines)),
        (
            "HTTP/1.1 404 Not Found".into(),
            "Unexpected HTTP path /websockify".into()
        )
    );
}

#[test]
fn oversized_heads_get_403() {
    let mut lines = good_headers();
    let filler = format!("X-Filler: {}", "x".repeat(MAX_HEAD));
    lines.push(&filler);
    let (status, message) = refusal(&request(&lines));
    assert_eq!(status, "HTTP/1.1 403 Request Entity Too Large");
    assert_eq!(message, "End of headers not found in first 4096 bytes");

    let mut lines = good_headers();
    let extra: Vec<String> = (0..MAX_HEADERS).map(|i| format!("X-{i}: {i}")).collect();
    lines.extend(extra.iter().map(String::as_str));
    let (status, message) = refusal(&request(&lines));
    assert_eq!(status, "HTTP/1.1 403 Request Entity Too Large");
    assert_eq!(message, "More than 32 HTTP headers");
}

#[test]
fn missing_headers_get_400() {
    for (index, what) in [
        (5, "version"),
        (4, "key"),
        (1, "host"),
        (3, "connection"),
        (2, "upgrade"),
    ] {
        let mut lines = good_headers();
        lines.remove(index);
        let (status, message) = refusal(&request(&lines));
        assert_eq!(status, "HTTP/1.1 400 Bad Request");
        assert_eq!(message, format!("Missing websocket {what} header data"));
    }
}

#[test]
fn unacceptable_headers_get_400() {
    for (index, line, message) in [
        (
            6,
            "Sec-WebSocket-Protocol: chat, binaryx",
            "No 'binary' protocol is supported by client 'chat, binaryx'",
        ),
        (
            5,
            "Sec-WebSocket-Version: 8",
            "Version '8' is not supported, only '13'",
        ),
        (
            4,
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ=",
            "Key length '23' was not as expected '24'",
        ),
        (
            3,
            "Connection: keep-alive",
            "No connection upgrade requested 'keep-alive'",
        ),
        (2, "Upgrade: h2c", "Incorrect upgrade method 'h2c'"),
        (
            2,
            "Upgrade websocket",
            "Malformed HTTP request: invalid header name",
        ),
    ] {
        let mut lines = good_headers();
        lines[index] = line;
        let (status, got) = refusal(&request(&lines));
        assert_eq!(status, "HTTP/1.1 400 Bad Request", "{line}");
        assert_eq!(got, message, "{line}");
        let (_, v) = verdict(&request(&lines));
        assert!(String::from_utf8(v.reply)
            .unwrap()
            .contains("\r\nSec-WebSocket-Version: 13\r\n"));
    }
}

#[test]
fn http_dates() {
    let at = |secs| http_date(std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs));
    assert_eq!(at(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(at(784_111_777), DATE);
    assert_eq!(at(951_782_400), "Tue, 29 Feb 2000 00:00:00 GMT");
    assert_eq!(at(4_133_980_799), "Fri, 31 Dec 2100 23:59:59 GMT");
}

fn client() -> ClientRequest {
    ClientRequest::new("example.org:8080", "/console?id=1", &["binary", "base64"]).unwrap()
}

fn reply(lines: &[&str]) -> Vec<u8> {
    request(lines)
}

#[test]
fn client_request_bytes() {
    assert_eq!(
        String::from_utf8(client().to_bytes(KEY)).unwrap(),
        format!(
            "GET /console?id=1 HTTP/1.1\r\nHost: example.org:8080\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\
             Sec-WebSocket-Protocol: binary, base64\r\n\r\n"
        )
    );
    let plain = ClientRequest::new("h", "/", &[]).unwrap().to_bytes(KEY);
    assert!(!String::from_utf8(plain)
        .unwrap()
        .contains("Sec-WebSocket-Protocol"));
}

#[test]
fn client_refuses_what_would_inject_headers() {
    for (host, path, protocol, message) in [
        (
            "a\r\nX: y",
            "/",
            "binary",
            "Invalid websocket host 'a\\r\\nX: y'",
        ),
        ("", "/", "binary", "Invalid websocket host ''"),
        (
            "h",
            "no-slash",
            "binary",
            "Invalid websocket path 'no-slash'",
        ),
        ("h", "/a b", "binary", "Invalid websocket path '/a b'"),
        (
            "h",
            "/",
            "bin ary",
            "Invalid websocket subprotocol 'bin ary'",
        ),
        ("h", "/", "", "Invalid websocket subprotocol ''"),
    ] {
        let e = ClientRequest::new(host, path, &[protocol]).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidArgument);
        assert_eq!(e.message(), message);
    }
}

/// Our own server's reply passes our client's check, whatever follows it.
#[test]
fn client_accepts_the_servers_reply() {
    let c = ClientRequest::new("localhost", "/", &["binary"]).unwrap();
    let Parsed::Complete { outcome, .. } = server_verdict(&c.to_bytes(KEY), DATE) else {
        panic!("incomplete");
    };
    let mut buf = outcome.reply;
    let head = buf.len();
    buf.extend_from_slice(b"\x82\x01x");
    assert_eq!(
        c.check_reply(&buf, KEY),
        Parsed::Complete {
            len: head,
            outcome: Ok(Some("binary".into()))
        }
    );
    assert_eq!(c.check_reply(&buf[..head - 1], KEY), Parsed::Incomplete);
}

#[test]
fn client_refuses_bad_replies() {
    let accept = format!("Sec-WebSocket-Accept: {ACCEPT}");
    let good = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        accept.as_str(),
    ];
    let c = client();
    let check = |lines: &[&str]| match c.check_reply(&reply(lines), KEY) {
        Parsed::Complete { outcome, .. } => outcome,
        Parsed::Incomplete => panic!("incomplete"),
    };
    assert_eq!(check(&good), Ok(None));
    for (index, line, message) in [
        (
            0,
            "HTTP/1.1 404 Not Found",
            "Websocket upgrade refused: 404 Not Found",
        ),
        (1, "Upgrade: h2c", "Incorrect upgrade method 'h2c'"),
        (
            2,
            "Connection: close",
            "No connection upgrade in reply 'close'",
        ),
        (
            3,
            "Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            "Websocket accept key 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' is not the expected \
             's3pPLMBiTxaQ9kYGzzhZRbK+xOo='",
        ),
    ] {
        let mut lines = good.to_vec();
        lines[index] = line;
        assert_eq!(check(&lines).unwrap_err().message(), message, "{line}");
    }
    let mut lines = good.to_vec();
    lines.push("Sec-WebSocket-Protocol: chat");
    assert_eq!(
        check(&lines).unwrap_err().message(),
        "Server chose websocket subprotocol 'chat', which was not offered"
    );
    let huge = vec![b'x'; MAX_HEAD];
    assert_eq!(
        c.check_reply(&huge, KEY),
        Parsed::Complete {
            len: MAX_HEAD,
            outcome: Err(Error::new(
                ErrorKind::Failed,
                "Malformed websocket reply: invalid HTTP version"
            ))
        }
    );
}
