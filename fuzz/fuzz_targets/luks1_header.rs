//! A LUKS1 header of hostile bytes: parsing, QEMU's checks (attached and detached)
//! and the cipher specification never panic; what parses writes back unchanged; a
//! header the checks accept has key slots inside their bounds.

#![no_main]

use libfuzzer_sys::fuzz_target;
use qio::crypto::block::luks_header::{Header, HEADER_LEN, HEADER_SECTORS, STRIPES};

fuzz_target!(|input: &[u8]| {
    let mut bytes = [0u8; HEADER_LEN];
    let n = input.len().min(HEADER_LEN);
    bytes[..n].copy_from_slice(&input[..n]);
    let header = Header::from_bytes(&bytes);
    assert_eq!(header.to_bytes(), bytes);
    for detached in [false, true] {
        if header.check(detached).is_err() {
            continue;
        }
        for slot in &header.key_slots {
            assert_eq!(slot.stripes, STRIPES);
            assert!(slot.key_offset_sector >= HEADER_SECTORS);
        }
        if !detached {
            assert!(header.payload_offset_sector >= HEADER_SECTORS);
        }
        if let Ok(spec) = header.spec() {
            let key_len = spec.cipher.key_len() as u32;
            assert!(header.master_key_len == key_len || header.master_key_len / 2 == key_len);
        }
    }
});
