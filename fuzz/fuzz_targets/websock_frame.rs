//! Hostile bytes as a websocket peer's frames: the decoder never panics or reads out of
//! bounds, control frames stay within their limit, and feeding the same bytes in
//! pieces of any size yields the same messages, control frames and verdict as feeding
//! them whole, also when payload that arrives between frames' headers is decoded
//! where it landed, as large reads do.

#![no_main]

use libfuzzer_sys::fuzz_target;
use qio::io::websock::frame::{Decoder, Item, Role, Violation, MAX_CONTROL_PAYLOAD};

type Decoded = (Vec<u8>, Vec<(u8, Vec<u8>)>, Option<Violation>);

fn decode(role: Role, wire: &[u8], step: usize, in_place: bool) -> Decoded {
    let mut decoder = Decoder::new(role);
    let mut pending = Vec::new();
    let (mut data, mut controls) = (Vec::new(), Vec::new());
    for piece in wire.chunks(step) {
        let left = usize::try_from(decoder.payload_left()).unwrap_or(usize::MAX);
        let direct = match in_place && pending.is_empty() {
            true => piece.len().min(left),
            false => 0,
        };
        let mut payload = piece[..direct].to_vec();
        decoder.payload_in_place(&mut payload);
        data.extend(payload);
        pending.extend_from_slice(&piece[direct..]);
        loop {
            let (item, used) = match decoder.next(&mut pending) {
                Ok(next) => next,
                Err(violation) => return (data, controls, Some(violation)),
            };
            assert!(used <= pending.len());
            match item {
                Item::NeedMore => break,
                Item::Data { start, len } => {
                    assert_eq!(start + len, used);
                    data.extend_from_slice(&pending[start..used]);
                }
                Item::Control { opcode, start, len } => {
                    assert!(len <= MAX_CONTROL_PAYLOAD && start + len == used);
                    controls.push((opcode, pending[start..used].to_vec()));
                }
            }
            pending.drain(..used);
            if pending.is_empty() {
                break;
            }
        }
    }
    (data, controls, None)
}

fuzz_target!(|input: &[u8]| {
    let Some((&selector, wire)) = input.split_first() else {
        return;
    };
    let role = if selector & 1 == 0 {
        Role::Server
    } else {
        Role::Client
    };
    let in_place = selector & 2 != 0;
    let step = usize::from(selector >> 2) + 1;
    let whole = decode(role, wire, wire.len().max(1), false);
    let pieces = decode(role, wire, step, in_place);
    assert_eq!(whole, pieces);
});
