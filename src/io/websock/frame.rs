//! WebSocket frames (RFC 6455 §5) on plain bytes: decoding the peer's frames in place,
//! with QEMU's rules and close codes, encoding headers, and masking a machine word at a
//! time. Payloads are streamed: a frame of any length costs no memory beyond the
//! caller's buffer.

use std::io::IoSlice;

/// Frame opcodes.
pub const OP_CONTINUATION: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// Close status codes (RFC 6455 §7.4.1).
pub const CLOSE_NORMAL: u16 = 1000;
pub const CLOSE_PROTOCOL_ERROR: u16 = 1002;
pub const CLOSE_UNSUPPORTED_DATA: u16 = 1003;
pub const CLOSE_POLICY_VIOLATION: u16 = 1008;

/// The longest frame header: 2 bytes, a 64-bit length, a mask.
pub const MAX_HEADER: usize = 14;
/// The longest control frame payload.
pub const MAX_CONTROL_PAYLOAD: usize = 125;

const FIN: u8 = 0x80;
const RSV: u8 = 0x70;
const MASKED: u8 = 0x80;

/// Which end reads the frames: a server requires masked frames, a client refuses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Server,
    Client,
}

/// A peer's breach of the protocol: the close code to answer with, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Violation {
    pub code: u16,
    pub reason: String,
}

fn violation<T>(code: u16, reason: impl Into<String>) -> Result<T, Violation> {
    Err(Violation {
        code,
        reason: reason.into(),
    })
}

/// What starts the decoder's input.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Item {
    /// Too few bytes for the next header, or for the whole of a control frame.
    NeedMore,
    /// `len` bytes of message payload, unmasked in place at `start`.
    Data { start: usize, len: usize },
    /// A whole control frame (close, ping or pong), its payload unmasked at `start`.
    Control {
        opcode: u8,
        start: usize,
        len: usize,
    },
}

/// Reads a peer's frames: binary messages, possibly fragmented, and control frames.
#[derive(Debug)]
pub struct Decoder {
    role: Role,
    /// Payload bytes of the current data frame still to come.
    remain: u64,
    mask: Option<[u8; 4]>,
    /// How far into the current payload the decoder is: where the mask stands.
    offset: u64,
    /// Whether a binary message was started without FIN.
    fragmented: bool,
}

impl Decoder {
    pub fn new(role: Role) -> Self {
        Decoder {
            role,
            remain: 0,
            mask: None,
            offset: 0,
            fragmented: false,
        }
    }

    /// Decodes what starts `buf`, unmasking in place, and returns it with the number of
    /// bytes it used (0 with [`Item::NeedMore`]). Data comes as soon as any of it has
    /// arrived; a control frame only whole.
    pub fn next(&mut self, buf: &mut [u8]) -> Result<(Item, usize), Violation> {
        if self.remain > 0 {
            return Ok(match buf.is_empty() {
                true => (Item::NeedMore, 0),
                false => self.payload(buf, 0),
            });
        }
        let Some(header) = Header::parse(buf)? else {
            return Ok((Item::NeedMore, 0));
        };
        self.check(&header)?;
        let start = header.len;
        if header.opcode >= OP_CLOSE {
            // At most 125 bytes: checked above.
            let len = header.payload as usize;
            let Some(payload) = buf.get_mut(start..start + len) else {
                return Ok((Item::NeedMore, 0));
            };
            if let Some(mask) = header.mask {
                apply_mask(payload, mask, 0);
            }
            let item = Item::Control {
                opcode: header.opcode,
                start,
                len,
            };
            return Ok((item, start + len));
        }
        self.fragmented = !header.fin;
        self.remain = header.payload;
        self.mask = header.mask;
        self.offset = 0;
        Ok(self.payload(&mut buf[start..], start))
    }

    /// Payload bytes of the current data frame not decoded yet: 0 between frames.
    pub fn payload_left(&self) -> u64 {
        self.remain
    }

    /// Decodes `buf`, which the caller read from the wire itself and which holds no
    /// more than [`Decoder::payload_left`] bytes, as payload of the current data frame.
    pub fn payload_in_place(&mut self, buf: &mut [u8]) {
        debug_assert!(buf.len() as u64 <= self.remain);
        self.payload(buf, 0);
    }

    /// Whether [`Decoder::next`] would find more than [`Item::NeedMore`] in `buf`:
    /// payload, a whole control frame, or a violation.
    pub fn has_item(&self, buf: &[u8]) -> bool {
        if self.remain > 0 {
            return !buf.is_empty();
        }
        match Header::parse(buf) {
            Ok(None) => false,
            Ok(Some(h)) if h.opcode >= OP_CLOSE && self.check(&h).is_ok() => {
                buf.len() >= h.len + h.payload as usize
            }
            Ok(Some(_)) | Err(_) => true,
        }
    }

    /// As much of the current data frame's payload as `buf` holds, `skip` bytes into
    /// the caller's buffer.
    fn payload(&mut self, buf: &mut [u8], skip: usize) -> (Item, usize) {
        let len = buf
            .len()
            .min(usize::try_from(self.remain).unwrap_or(usize::MAX));
        if let Some(mask) = self.mask {
            apply_mask(&mut buf[..len], mask, self.offset);
        }
        self.remain -= len as u64;
        self.offset += len as u64;
        (Item::Data { start: skip, len }, skip + len)
    }

    /// QEMU's rules (and RFC 6455's) for a frame header from this decoder's peer.
    fn check(&self, header: &Header) -> Result<(), Violation> {
        if header.rsv {
            return violation(CLOSE_PROTOCOL_ERROR, "reserved frame bits are set");
        }
        match header.opcode {
            OP_CONTINUATION if !self.fragmented => {
                return violation(CLOSE_PROTOCOL_ERROR, "continuation frame without a message")
            }
            OP_BINARY if self.fragmented => {
                return violation(
                    CLOSE_PROTOCOL_ERROR,
                    "new message inside a fragmented message",
                )
            }
            OP_CONTINUATION | OP_BINARY | OP_CLOSE | OP_PING | OP_PONG => {}
            OP_TEXT => {
                return violation(
                    CLOSE_UNSUPPORTED_DATA,
                    "only binary frames are supported, not text",
                )
            }
            op => {
                return violation(
                    CLOSE_UNSUPPORTED_DATA,
                    format!("unsupported opcode {op:#x}"),
                )
            }
        }
        if header.opcode >= OP_CLOSE && !header.fin {
            return violation(
                CLOSE_POLICY_VIOLATION,
                "only binary frames may be fragmented",
            );
        }
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => {
                return violation(CLOSE_PROTOCOL_ERROR, "client frames must be masked")
            }
            (Role::Client, true) => {
                return violation(CLOSE_PROTOCOL_ERROR, "server frames must not be masked")
            }
            _ => {}
        }
        if header.opcode >= OP_CLOSE && header.payload > MAX_CONTROL_PAYLOAD as u64 {
            return violation(CLOSE_PROTOCOL_ERROR, "control frame is too large");
        }
        Ok(())
    }
}

/// A frame header as read.
struct Header {
    fin: bool,
    rsv: bool,
    opcode: u8,
    payload: u64,
    mask: Option<[u8; 4]>,
    /// Its length in bytes.
    len: usize,
}

impl Header {
    /// The header at the start of `buf`, or `None` while it is incomplete.
    fn parse(buf: &[u8]) -> Result<Option<Header>, Violation> {
        let [b0, b1, ..] = *buf else {
            return Ok(None);
        };
        let masked = b1 & MASKED != 0;
        let (payload, mut len) = match b1 & 0x7f {
            126 => match buf.get(2..4) {
                Some(b) => (u64::from(u16::from_be_bytes([b[0], b[1]])), 4),
                None => return Ok(None),
            },
            127 => match buf.get(2..10) {
                Some(b) => (u64::from_be_bytes(b.try_into().expect("8 bytes")), 10),
                None => return Ok(None),
            },
            short => (u64::from(short), 2),
        };
        if payload >> 63 != 0 {
            return violation(CLOSE_PROTOCOL_ERROR, "frame length has its top bit set");
        }
        let mask = match masked {
            true => match buf.get(len..len + 4) {
                Some(m) => {
                    len += 4;
                    Some(m.try_into().expect("4 bytes"))
                }
                None => return Ok(None),
            },
            false => None,
        };
        Ok(Some(Header {
            fin: b0 & FIN != 0,
            rsv: b0 & RSV != 0,
            opcode: b0 & 0x0f,
            payload,
            mask,
            len,
        }))
    }
}

/// Writes the header of a final frame of `opcode` carrying `len` bytes (masked with
/// `mask` if given: the payload must then be masked with [`apply_mask`]) at the start
/// of `out`, and returns its length: the shortest RFC 6455 allows.
pub fn write_header(
    out: &mut [u8; MAX_HEADER],
    opcode: u8,
    len: u64,
    mask: Option<[u8; 4]>,
) -> usize {
    out[0] = FIN | opcode;
    let masked = if mask.is_some() { MASKED } else { 0 };
    let mut at = match len {
        0..=125 => {
            out[1] = masked | len as u8;
            2
        }
        126..=0xffff => {
            out[1] = masked | 126;
            out[2..4].copy_from_slice(&(len as u16).to_be_bytes());
            4
        }
        _ => {
            out[1] = masked | 127;
            out[2..10].copy_from_slice(&len.to_be_bytes());
            10
        }
    };
    if let Some(mask) = mask {
        out[at..at + 4].copy_from_slice(&mask);
        at += 4;
    }
    at
}

/// XORs `buf` with `mask`, `buf[0]` being byte `offset` of the payload: eight bytes at
/// a time, which the compiler turns into vector instructions.
pub fn apply_mask(buf: &mut [u8], mask: [u8; 4], offset: u64) {
    let mut m = mask;
    m.rotate_left((offset % 4) as usize);
    let word = u64::from_ne_bytes([m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3]]);
    let mut chunks = buf.chunks_exact_mut(8);
    for chunk in &mut chunks {
        let v = u64::from_ne_bytes((&*chunk).try_into().expect("8 bytes")) ^ word;
        chunk.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, b) in chunks.into_remainder().iter_mut().enumerate() {
        *b ^= m[i % 4];
    }
}

/// Copies `src` into `dst` (of the same length) masked with `mask`, `src[0]` being
/// byte `offset` of the payload: [`apply_mask`] fused with the copy.
fn copy_masked(dst: &mut [u8], src: &[u8], mask: [u8; 4], offset: u64) {
    let mut m = mask;
    m.rotate_left((offset % 4) as usize);
    let word = u64::from_ne_bytes([m[0], m[1], m[2], m[3], m[0], m[1], m[2], m[3]]);
    let mut d = dst.chunks_exact_mut(8);
    let mut s = src.chunks_exact(8);
    for (d, s) in (&mut d).zip(&mut s) {
        let v = u64::from_ne_bytes(s.try_into().expect("8 bytes")) ^ word;
        d.copy_from_slice(&v.to_ne_bytes());
    }
    for (i, (d, s)) in d.into_remainder().iter_mut().zip(s.remainder()).enumerate() {
        *d = s ^ m[i % 4];
    }
}

/// Fills `dst` with the bytes of `iov` from `skip` bytes in, masked with `mask` as
/// payload bytes at `offset`.
pub fn gather_masked(
    dst: &mut [u8],
    iov: &[IoSlice<'_>],
    mut skip: usize,
    mask: [u8; 4],
    offset: u64,
) {
    let mut at = 0;
    for buf in iov {
        if at == dst.len() {
            break;
        }
        if skip >= buf.len() {
            skip -= buf.len();
            continue;
        }
        let src = &buf[skip..];
        let n = src.len().min(dst.len() - at);
        copy_masked(&mut dst[at..at + n], &src[..n], mask, offset + at as u64);
        skip = 0;
        at += n;
    }
}

/// The payload of the close frame that answers a peer's close frame carrying
/// `payload`: its status echoed, or QEMU's 1000 "peer requested close" when it gave
/// none.
pub fn close_reply(payload: &[u8]) -> Vec<u8> {
    match payload.get(..2) {
        Some(status) => status.to_vec(),
        None => close_payload(CLOSE_NORMAL, "peer requested close"),
    }
}

/// A close frame payload: `code` and `reason`, cut to fit a control frame.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut payload = code.to_be_bytes().to_vec();
    let mut end = reason.len().min(MAX_CONTROL_PAYLOAD - 2);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    payload.extend_from_slice(&reason.as_bytes()[..end]);
    payload
}

#[cfg(test)]
mod tests;
