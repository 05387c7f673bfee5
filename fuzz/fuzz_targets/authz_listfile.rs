//! An `authz-listfile` rules file of hostile bytes: JSON parsing and the checks of
//! every member must fail cleanly, never panic; whatever loads must decide.

#![no_main]

use libfuzzer_sys::fuzz_target;
use qio::authz::parse_rules_file;

fuzz_target!(|input: &[u8]| {
    if let Ok(list) = parse_rules_file(input, std::path::Path::new("rules.json")) {
        for identity in ["", "fred", "C=UK,CN=qemu", "\u{e9}*?"] {
            list.is_allowed(identity);
        }
    }
});
