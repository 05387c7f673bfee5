//! Hostile bytes as a websocket upgrade request to the server and as the reply to a
//! client: neither may panic, a verdict never claims more than the head limit, and
//! every server reply is a whole HTTP head, 101 exactly when the request was accepted.

#![no_main]

use libfuzzer_sys::fuzz_target;
use qio::io::websock::handshake::{server_verdict, ClientRequest, Parsed, MAX_HEAD};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fuzz_target!(|input: &[u8]| {
    if let Parsed::Complete { len, outcome } =
        server_verdict(input, "Thu, 01 Jan 1970 00:00:00 GMT")
    {
        assert!(len <= input.len().min(MAX_HEAD));
        let reply = std::str::from_utf8(&outcome.reply).expect("a text reply");
        assert!(reply.starts_with("HTTP/1.1 ") && reply.ends_with("\r\n\r\n"));
        assert_eq!(outcome.result.is_ok(), reply.starts_with("HTTP/1.1 101 "));
    } else {
        assert!(input.len() < MAX_HEAD);
    }

    let client = ClientRequest::new("localhost", "/", &["binary", "chat"]).expect("valid");
    if let Parsed::Complete { len, outcome } = client.check_reply(input, KEY) {
        assert!(len <= input.len().min(MAX_HEAD));
        if let Ok(Some(protocol)) = outcome {
            assert!(protocol == "binary" || protocol == "chat");
        }
    }
});
