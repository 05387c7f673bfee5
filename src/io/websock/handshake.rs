//! The websocket opening handshake (RFC 6455 §4) on plain bytes: the server's reading
//! of an upgrade request and its reply with QEMU's rules and messages
//! (`io/channel-websock.c`), and the client's request and its check of the reply.
//! Requests and replies are parsed by `httparse`; nothing here does I/O.

use base64::Engine;
use sha1::{Digest, Sha1};

use crate::{Error, ErrorKind, Result};

/// The most bytes a request or reply head may take: noVNC's are about 512.
pub const MAX_HEAD: usize = 4096;
/// The most header lines a request or reply may have.
pub const MAX_HEADERS: usize = 32;
/// The only subprotocol the server speaks.
pub const PROTOCOL_BINARY: &str = "binary";
const GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
const KEY_LEN: usize = 24;

/// Where parsing a head stands.
#[derive(Debug, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The head is not complete yet: read more (up to [`MAX_HEAD`] bytes in all).
    Incomplete,
    /// The head took the first `len` bytes; what follows is frame data.
    Complete { len: usize, outcome: T },
}

/// The HTTP statuses a server answers an upgrade request with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    SwitchingProtocols,
    BadRequest,
    TooLarge,
    NotFound,
}

impl Status {
    fn line(self) -> &'static str {
        match self {
            Status::SwitchingProtocols => "101 Switching Protocols",
            Status::BadRequest => "400 Bad Request",
            Status::TooLarge => "403 Request Entity Too Large",
            Status::NotFound => "404 Not Found",
        }
    }
}

/// The server's verdict on a request: the reply to send, and the handshake's result
/// (whether the client asked for the `binary` subprotocol, or why it was refused).
#[derive(Debug, PartialEq, Eq)]
pub struct Verdict {
    pub reply: Vec<u8>,
    pub result: Result<bool>,
}

/// Reads the upgrade request at the start of `buf` (`date`: the reply's `Date` value).
/// A head that does not end within [`MAX_HEAD`] bytes or has more than
/// [`MAX_HEADERS`] lines is refused with 403, a malformed or unacceptable one with
/// 400, a path other than `/` with 404.
pub fn server_verdict(buf: &[u8], date: &str) -> Parsed<Verdict> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    let window = &buf[..buf.len().min(MAX_HEAD)];
    let (len, outcome) = match request.parse(window) {
        Ok(httparse::Status::Complete(len)) => (len, check_request(&request)),
        Ok(httparse::Status::Partial) if window.len() < MAX_HEAD => return Parsed::Incomplete,
        Ok(httparse::Status::Partial) => (
            window.len(),
            Err((
                Status::TooLarge,
                format!("End of headers not found in first {MAX_HEAD} bytes"),
            )),
        ),
        Err(httparse::Error::TooManyHeaders) => (
            window.len(),
            Err((
                Status::TooLarge,
                format!("More than {MAX_HEADERS} HTTP headers"),
            )),
        ),
        Err(e) => (
            window.len(),
            Err((Status::BadRequest, format!("Malformed HTTP request: {e}"))),
        ),
    };
    let verdict = match outcome {
        Ok((key, binary)) => Verdict {
            reply: reply_ok(&accept_key(key), binary, date),
            result: Ok(binary),
        },
        Err((status, message)) => Verdict {
            reply: reply_error(status, date),
            result: Err(Error::new(ErrorKind::Failed, message)),
        },
    };
    Parsed::Complete {
        len,
        outcome: verdict,
    }
}

/// QEMU's checks of a parsed request: the key and whether `binary` was asked for.
fn check_request<'a>(
    request: &httparse::Request<'_, 'a>,
) -> std::result::Result<(&'a str, bool), (Status, String)> {
    let bad = |message: String| Err((Status::BadRequest, message));
    let method = request.method.unwrap_or_default();
    if method != "GET" {
        return bad(format!("Unsupported HTTP method {method}"));
    }
    if request.version != Some(1) {
        return bad("Unsupported HTTP version HTTP/1.0".into());
    }
    let path = request.path.unwrap_or_default();
    if path != "/" {
        return Err((Status::NotFound, format!("Unexpected HTTP path {path}")));
    }
    let find = |name: &str| header(request.headers, name);
    let required = |what: &str, name: &str| {
        find(name).ok_or_else(|| {
            (
                Status::BadRequest,
                format!("Missing websocket {what} header data"),
            )
        })
    };
    let protocols = find("sec-websocket-protocol");
    let version = required("version", "sec-websocket-version")?;
    let key = required("key", "sec-websocket-key")?;
    required("host", "host")?;
    let connection = required("connection", "connection")?;
    let upgrade = required("upgrade", "upgrade")?;
    let binary = match protocols {
        Some(offered) if !has_token(offered, PROTOCOL_BINARY) => {
            return bad(format!(
                "No '{PROTOCOL_BINARY}' protocol is supported by client '{offered}'"
            ))
        }
        offered => offered.is_some(),
    };
    if version != "13" {
        return bad(format!("Version '{version}' is not supported, only '13'"));
    }
    if key.len() != KEY_LEN {
        return bad(format!(
            "Key length '{}' was not as expected '{KEY_LEN}'",
            key.len()
        ));
    }
    if !has_token(connection, "upgrade") {
        return bad(format!("No connection upgrade requested '{connection}'"));
    }
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return bad(format!("Incorrect upgrade method '{upgrade}'"));
    }
    Ok((key, binary))
}

/// The first header called `name` (any case), if its value is text.
fn header<'a>(headers: &[httparse::Header<'a>], name: &str) -> Option<&'a str> {
    let found = headers.iter().find(|h| h.name.eq_ignore_ascii_case(name))?;
    std::str::from_utf8(found.value).ok().map(str::trim)
}

/// Whether the comma-separated `list` holds `token` (any case).
fn has_token(list: &str, token: &str) -> bool {
    list.split(',')
        .any(|t| t.trim().eq_ignore_ascii_case(token))
}

/// `Sec-WebSocket-Accept` for `key`: base64(SHA-1(key || GUID)).
pub fn accept_key(key: &str) -> String {
    let digest = Sha1::new()
        .chain_update(key.as_bytes())
        .chain_update(GUID.as_bytes())
        .finalize();
    base64::engine::general_purpose::STANDARD.encode(digest)
}

fn reply_ok(accept: &str, binary: bool, date: &str) -> Vec<u8> {
    let protocol = match binary {
        true => "Sec-WebSocket-Protocol: binary\r\n",
        false => "",
    };
    format!(
        "HTTP/1.1 {}\r\nServer: QEMU VNC\r\nDate: {date}\r\nUpgrade: websocket\r\n\
         Connection: Upgrade\r\nSec-WebSocket-Accept: {accept}\r\n{protocol}\r\n",
        Status::SwitchingProtocols.line()
    )
    .into_bytes()
}

fn reply_error(status: Status, date: &str) -> Vec<u8> {
    let version = match status {
        Status::BadRequest => "Sec-WebSocket-Version: 13\r\n",
        _ => "",
    };
    format!(
        "HTTP/1.1 {}\r\nServer: QEMU VNC\r\nDate: {date}\r\nConnection: close\r\n{version}\r\n",
        status.line()
    )
    .into_bytes()
}

/// `now` as an HTTP date (RFC 7231 IMF-fixdate), in English whatever the locale.
pub fn http_date(now: std::time::SystemTime) -> String {
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86400, secs % 86400);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[month as usize - 1],
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    )
}

/// The proleptic Gregorian (year, month, day) of `days` since 1970-01-01 (Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

/// What a client asks for: checked when the channel is made, so that no header can be
/// injected through them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientRequest {
    host: String,
    path: String,
    protocols: Vec<String>,
}

impl ClientRequest {
    /// A request for `path` (starting with `/`) on `host`, offering `protocols` (RFC
    /// 6455 tokens) in order of preference.
    pub fn new(host: &str, path: &str, protocols: &[&str]) -> Result<Self> {
        let invalid = |what: &str, value: &str| {
            Err(Error::new(
                ErrorKind::InvalidArgument,
                format!("Invalid websocket {what} '{}'", value.escape_default()),
            ))
        };
        if host.is_empty() || !host.bytes().all(|b| b.is_ascii_graphic()) {
            return invalid("host", host);
        }
        if !path.starts_with('/') || !path.bytes().all(|b| b.is_ascii_graphic()) {
            return invalid("path", path);
        }
        // RFC 7230 tchar: what a subprotocol name may be made of.
        let tchar = |b: u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b);
        if let Some(bad) = protocols
            .iter()
            .find(|p| p.is_empty() || !p.bytes().all(tchar))
        {
            return invalid("subprotocol", bad);
        }
        Ok(ClientRequest {
            host: host.to_owned(),
            path: path.to_owned(),
            protocols: protocols.iter().map(|p| (*p).to_owned()).collect(),
        })
    }

    /// The request's bytes, with `key` (16 random bytes, base64) as
    /// `Sec-WebSocket-Key`.
    pub fn to_bytes(&self, key: &str) -> Vec<u8> {
        let protocols = match self.protocols.is_empty() {
            true => String::new(),
            false => format!("Sec-WebSocket-Protocol: {}\r\n", self.protocols.join(", ")),
        };
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n{protocols}\r\n",
            self.path, self.host
        )
        .into_bytes()
    }

    /// Checks the server's reply at the start of `buf` to the request sent with `key`:
    /// the subprotocol the server agreed to, if any.
    pub fn check_reply(&self, buf: &[u8], key: &str) -> Parsed<Result<Option<String>>> {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut response = httparse::Response::new(&mut headers);
        let window = &buf[..buf.len().min(MAX_HEAD)];
        let failed = |message: String| Err(Error::new(ErrorKind::Failed, message));
        let (len, outcome) = match response.parse(window) {
            Ok(httparse::Status::Complete(len)) => (len, self.check_response(&response, key)),
            Ok(httparse::Status::Partial) if window.len() < MAX_HEAD => return Parsed::Incomplete,
            Ok(httparse::Status::Partial) => (
                window.len(),
                failed(format!(
                    "End of websocket reply headers not found in first {MAX_HEAD} bytes"
                )),
            ),
            Err(e) => (
                window.len(),
                failed(format!("Malformed websocket reply: {e}")),
            ),
        };
        Parsed::Complete { len, outcome }
    }

    fn check_response(
        &self,
        response: &httparse::Response<'_, '_>,
        key: &str,
    ) -> Result<Option<String>> {
        let failed = |message: String| Err(Error::new(ErrorKind::Failed, message));
        if response.code != Some(101) {
            return failed(format!(
                "Websocket upgrade refused: {} {}",
                response.code.unwrap_or_default(),
                response.reason.unwrap_or_default()
            ));
        }
        let find = |name: &str| header(response.headers, name);
        match find("upgrade") {
            Some(upgrade) if upgrade.eq_ignore_ascii_case("websocket") => {}
            other => {
                return failed(format!(
                    "Incorrect upgrade method '{}'",
                    other.unwrap_or("")
                ))
            }
        }
        match find("connection") {
            Some(connection) if has_token(connection, "upgrade") => {}
            other => {
                return failed(format!(
                    "No connection upgrade in reply '{}'",
                    other.unwrap_or("")
                ))
            }
        }
        let expected = accept_key(key);
        match find("sec-websocket-accept") {
            Some(accept) if accept == expected => {}
            other => {
                return failed(format!(
                    "Websocket accept key '{}' is not the expected '{expected}'",
                    other.unwrap_or("")
                ))
            }
        }
        match find("sec-websocket-protocol") {
            None => Ok(None),
            Some(chosen) if self.protocols.iter().any(|p| p == chosen) => {
                Ok(Some(chosen.to_owned()))
            }
            Some(chosen) => failed(format!(
                "Server chose websocket subprotocol '{chosen}', which was not offered"
            )),
        }
    }
}

#[cfg(test)]
mod tests;
