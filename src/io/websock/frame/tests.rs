use super::*;

const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame as a peer sends it: FIN and OPCODE in the first byte (`b0`), masked with
/// MASK unless `mask` is false.
fn frame(b0: u8, payload: &[u8], mask: bool) -> Vec<u8> {
    let mut header = [0u8; MAX_HEADER];
    let len = write_header(&mut header, 0, payload.len() as u64, mask.then_some(MASK));
    header[0] = b0;
    let mut out = header[..len].to_vec();
    let mut body = payload.to_vec();
    if mask {
        apply_mask(&mut body, MASK, 0);
    }
    out.extend_from_slice(&body);
    out
}

/// What a decoder made of a whole wire: the message bytes, the control frames.
type Decoded = (Vec<u8>, Vec<(u8, Vec<u8>)>);

/// Every item in `wire`, fed to a fresh decoder in pieces of `step` bytes as a reader
/// would.
fn decode_all(role: Role, wire: &[u8], step: usize) -> Result<Decoded, Violation> {
    let mut decoder = Decoder::new(role);
    let mut pending = Vec::new();
    let (mut data, mut controls) = (Vec::new(), Vec::new());
    for piece in wire.chunks(step.max(1)) {
        pending.extend_from_slice(piece);
        loop {
            let (item, used) = decoder.next(&mut pending)?;
            match item {
                Item::NeedMore => break,
                Item::Data { start, len } => data.extend_from_slice(&pending[start..start + len]),
                Item::Control { opcode, start, len } => {
                    controls.push((opcode, pending[start..start + len].to_vec()))
                }
            }
            pending.drain(..used);
            if pending.is_empty() {
                break;
            }
        }
    }
    assert!(pending.is_empty(), "{} bytes left over", pending.len());
    Ok((data, controls))
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}

#[test]
fn rfc_6455_examples() {
    // §5.7: a single-frame unmasked "Hello" and its masked form.
    let mut header = [0u8; MAX_HEADER];
    assert_eq!(write_header(&mut header, OP_TEXT, 5, None), 2);
    assert_eq!(header[..2], [0x81, 0x05]);
    let mut hello = *b"Hello";
    apply_mask(&mut hello, MASK, 0);
    assert_eq!(hello, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    // 256 bytes and 64 KiB binary, unmasked: 16- and 64-bit lengths.
    assert_eq!(write_header(&mut header, OP_BINARY, 256, None), 4);
    assert_eq!(header[..4], [0x82, 0x7e, 0x01, 0x00]);
    assert_eq!(write_header(&mut header, OP_BINARY, 65536, None), 10);
    assert_eq!(header[..10], [0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]);
}

#[test]
fn length_boundaries_round_trip_in_any_pieces() {
    for len in [0, 1, 125, 126, 127, 65535, 65536, 70000] {
        let payload = pattern(len);
        let wire = frame(FIN | OP_BINARY, &payload, true);
        let header = wire.len() - len;
        let want = match len {
            0..=125 => 6,
            126..=65535 => 8,
            _ => 14,
        };
        assert_eq!(header, want, "{len}");
        for step in [1, 3, 7, 4096, wire.len()] {
            let (data, controls) = decode_all(Role::Server, &wire, step).unwrap();
            assert_eq!(data, payload, "{len} in pieces of {step}");
            assert!(controls.is_empty());
        }
    }
}

#[test]
fn masking_any_offset_and_length_matches_bytewise() {
    let data = pattern(100);
    for offset in 0..8u64 {
        for len in 0..data.len() {
            let mut fast = data[..len].to_vec();
            apply_mask(&mut fast, MASK, offset);
            let slow: Vec<u8> = data[..len]
                .iter()
                .enumerate()
                .map(|(i, b)| b ^ MASK[(i + offset as usize) % 4])
                .collect();
            assert_eq!(fast, slow, "offset {offset} len {len}");
        }
    }
}

#[test]
fn copying_masked_equals_copying_then_masking() {
    let data = pattern(100);
    for offset in 0..8u64 {
        for len in 0..data.len() {
            let mut fused = vec![0; len];
            copy_masked(&mut fused, &data[..len], MASK, offset);
            let mut apart = data[..len].to_vec();
            apply_mask(&mut apart, MASK, offset);
            assert_eq!(fused, apart, "offset {offset} len {len}");
        }
    }
}

#[test]
fn gathering_masked_walks_the_buffers_from_any_point() {
    let data = pattern(40);
    // Uneven pieces, an empty one among them.
    let pieces = [&data[..7], &data[7..7], &data[7..20], &data[20..]];
    let iov: Vec<IoSlice> = pieces.iter().map(|p| IoSlice::new(p)).collect();
    for skip in 0..data.len() {
        for len in 0..=data.len() - skip {
            let offset = 1000 + skip as u64;
            let mut got = vec![0; len];
            gather_masked(&mut got, &iov, skip, MASK, offset);
            let mut want = data[skip..skip + len].to_vec();
            apply_mask(&mut want, MASK, offset);
            assert_eq!(got, want, "skip {skip} len {len}");
        }
    }
}

#[test]
fn fragments_and_interleaved_controls() {
    let mut wire = frame(OP_BINARY, b"frag", true);
    wire.extend(frame(FIN | OP_PING, b"are you there", true));
    wire.extend(frame(OP_CONTINUATION, b"ment", true));
    wire.extend(frame(FIN | OP_PONG, b"", true));
    wire.extend(frame(FIN | OP_CONTINUATION, b"ed", true));
    wire.extend(frame(FIN | OP_BINARY, b"!", true));
    wire.extend(frame(
        FIN | OP_CLOSE,
        &close_payload(1001, "going away"),
        true,
    ));
    for step in [1, 5, wire.len()] {
        let (data, controls) = decode_all(Role::Server, &wire, step).unwrap();
        assert_eq!(data, b"fragmented!");
        assert_eq!(
            controls,
            vec![
                (OP_PING, b"are you there".to_vec()),
                (OP_PONG, vec![]),
                (OP_CLOSE, b"\x03\xe9going away".to_vec()),
            ]
        );
    }
}

#[test]
fn client_reads_unmasked_frames() {
    let wire = frame(FIN | OP_BINARY, &pattern(300), false);
    assert_eq!(decode_all(Role::Client, &wire, 17).unwrap().0, pattern(300));
}

fn refused(role: Role, wire: &[u8]) -> Violation {
    decode_all(role, wire, wire.len()).unwrap_err()
}

#[test]
fn violations_and_their_close_codes() {
    let v = |code: u16, reason: &str| Violation {
        code,
        reason: reason.into(),
    };
    let masked = |b0: u8, payload: &[u8]| frame(b0, payload, true);
    assert_eq!(
        refused(Role::Server, &frame(FIN | OP_BINARY, b"x", false)),
        v(1002, "client frames must be masked")
    );
    assert_eq!(
        refused(Role::Client, &masked(FIN | OP_BINARY, b"x")),
        v(1002, "server frames must not be masked")
    );
    assert_eq!(
        refused(Role::Server, &masked(FIN | OP_TEXT, b"x")),
        v(1003, "only binary frames are supported, not text")
    );
    assert_eq!(
        refused(Role::Server, &masked(FIN | 0x3, b"x")),
        v(1003, "unsupported opcode 0x3")
    );
    assert_eq!(
        refused(Role::Server, &masked(OP_PING, b"x")),
        v(1008, "only binary frames may be fragmented")
    );
    assert_eq!(
        refused(Role::Server, &masked(OP_TEXT, b"x")),
        v(1003, "only binary frames are supported, not text")
    );
    assert_eq!(
        refused(Role::Server, &masked(FIN | OP_PING, &[0; 126])),
        v(1002, "control frame is too large")
    );
    assert_eq!(
        refused(Role::Server, &masked(FIN | 0x40 | OP_BINARY, b"x")),
        v(1002, "reserved frame bits are set")
    );
    assert_eq!(
        refused(Role::Server, &masked(FIN | OP_CONTINUATION, b"x")),
        v(1002, "continuation frame without a message")
    );
    let mut two = masked(OP_BINARY, b"a");
    two.extend(masked(FIN | OP_BINARY, b"b"));
    assert_eq!(
        refused(Role::Server, &two),
        v(1002, "new message inside a fragmented message")
    );
    let huge = [0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4];
    assert_eq!(
        refused(Role::Server, &huge),
        v(1002, "frame length has its top bit set")
    );
}

/// A header claiming 2^62 bytes costs nothing until they arrive.
#[test]
fn huge_frames_are_streamed() {
    let mut wire = vec![0x82, 0xff, 0x40, 0, 0, 0, 0, 0, 0, 0];
    wire.extend_from_slice(&MASK);
    wire.extend_from_slice(&[0x37 ^ 1, 0xfa ^ 2]);
    let mut decoder = Decoder::new(Role::Server);
    let (item, used) = decoder.next(&mut wire).unwrap();
    assert_eq!(item, Item::Data { start: 14, len: 2 });
    assert_eq!(used, 16);
    assert_eq!(wire[14..], [1, 2]);
    assert_eq!(decoder.next(&mut []).unwrap(), (Item::NeedMore, 0));
    let (item, _) = decoder.next(&mut [0x21 ^ 3]).unwrap();
    assert_eq!(item, Item::Data { start: 0, len: 1 });
}

#[test]
fn close_payloads() {
    assert_eq!(close_reply(b"\x03\xe9bye"), b"\x03\xe9");
    assert_eq!(close_reply(b""), b"\x03\xe8peer requested close");
    let long = "é".repeat(100);
    let payload = close_payload(1002, &long);
    assert_eq!(payload.len(), 2 + 122);
    assert!(std::str::from_utf8(&payload[2..]).is_ok());
}

/// What a watch asks before waking a reader: only what `next` would hand out.
#[test]
fn has_item_matches_next() {
    let wire = frame(FIN | OP_BINARY, b"data", true);
    let ping = frame(FIN | OP_PING, b"ping", true);
    let decoder = Decoder::new(Role::Server);
    assert!(!decoder.has_item(&wire[..1]));
    assert!(!decoder.has_item(&ping[..ping.len() - 1]));
    assert!(decoder.has_item(&ping));
    assert!(decoder.has_item(&wire[..7]));
    // A violation is something to report.
    assert!(decoder.has_item(&frame(FIN | OP_TEXT, b"x", true)));
    let mut decoder = Decoder::new(Role::Server);
    let mut head = wire[..6].to_vec();
    decoder.next(&mut head).unwrap();
    assert!(!decoder.has_item(&[]));
    assert!(decoder.has_item(&wire[6..7]));
}
