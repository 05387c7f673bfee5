//! What the crypto tests share: the published vectors in `testvectors/` (the files the
//! C tests read too), the backends to run them on, and reproducible pseudo-random data.

use super::Backend;

/// The concrete backends for which `supports` holds; the builtin one always must.
pub(crate) fn backends_where(supports: impl Fn(Backend) -> bool) -> Vec<Backend> {
    let found: Vec<Backend> = Backend::CONCRETE
        .into_iter()
        .filter(|&b| supports(b))
        .collect();
    assert!(found.contains(&Backend::Builtin));
    found
}

/// Decodes a vector field: literal text, or `hex:BYTES[*N]`.
fn decode(field: &str) -> Vec<u8> {
    let Some(hex) = field.strip_prefix("hex:") else {
        return field.as_bytes().to_vec();
    };
    let (hex, count) = match hex.split_once('*') {
        Some((h, n)) => (h, n.parse().expect("repeat count")),
        None => (hex, 1),
    };
    let bytes: Vec<u8> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex byte"))
        .collect();
    bytes.repeat(count)
}

/// The vectors of `testvectors/<name>`: each line's fields, the last kept as text
/// (the expected hex) and the others decoded.
pub(crate) fn load(name: &str) -> Vec<(Vec<Vec<u8>>, String)> {
    let path = format!("{}/testvectors/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("vector file");
    text.lines()
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let mut fields: Vec<&str> = l.split('|').collect();
            let expected = fields.pop().expect("expected field").to_string();
            (fields.into_iter().map(decode).collect(), expected)
        })
        .collect()
}

/// A deterministic byte pattern (xorshift) so failures reproduce.
pub(crate) fn pattern(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}
