//! A `keys.psk` file of hostile bytes: looking up a user's key must never panic, and
//! what it finds is a line's remainder without its line ending.

#![no_main]

use libfuzzer_sys::fuzz_target;
use qio::crypto::tls::psk_file_key;

fuzz_target!(|input: &[u8]| {
    // The first byte picks the user: the default "qemu", or a name from the input.
    let Some((&selector, content)) = input.split_first() else {
        return;
    };
    let owned;
    let username = match selector % 4 {
        0 => "qemu",
        1 => "",
        _ => {
            let end = content
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(content.len());
            owned = String::from_utf8_lossy(&content[..end.min(32)]).into_owned();
            &owned
        }
    };
    if let Some(key) = psk_file_key(content, username) {
        assert!(!key.contains(&b'\n'));
        assert!(key.len() < content.len());
    }
});
