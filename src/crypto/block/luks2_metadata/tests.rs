use serde_json::{json, Value};

use super::*;
use crate::crypto::block::luks2_writer::{self, argon2, b64, pbkdf2, Slot, HDR_SIZE};
use crate::crypto::cipher::CipherAlgo;
use crate::crypto::ivgen::IvGenAlgo;

/// A volume's metadata: a 32-byte aes-cbc-essiv:sha256 key, keyslot 0 pbkdf2 and
/// keyslot 1 argon2id.
fn good() -> Value {
    let slots = [pbkdf2(), argon2("argon2id")].map(|kdf| Slot {
        kdf,
        encryption: "aes-cbc-essiv:sha256",
        area_key_size: 32,
    });
    luks2_writer::json(&[3; 32], "aes-cbc-essiv:sha256", &slots)
}

/// The JSON area holding `text`.
fn area(text: &[u8]) -> Vec<u8> {
    let mut area = text.to_vec();
    area.resize((HDR_SIZE - 4096) as usize, 0);
    area
}

fn parse_json(json: &Value) -> std::result::Result<Metadata, String> {
    Metadata::parse(&area(&serde_json::to_vec(json).unwrap()), HDR_SIZE)
        .map_err(|e| e.message().to_owned())
}

/// A change to the good metadata.
type Change<'a> = Box<dyn FnOnce(&mut Value) + 'a>;

/// What parsing says of the good metadata once `change` has changed it.
fn refusal(change: impl FnOnce(&mut Value)) -> String {
    let mut json = good();
    change(&mut json);
    parse_json(&json).unwrap_err()
}

#[test]
fn good_metadata_parses_into_its_values() {
    let metadata = parse_json(&good()).unwrap();
    let [pbkdf2_slot, argon2_slot] = &metadata.keyslots[..] else {
        panic!("two keyslots")
    };
    assert_eq!(
        (pbkdf2_slot.id, pbkdf2_slot.key_size, pbkdf2_slot.priority),
        (0, 32, 1)
    );
    assert_eq!(
        pbkdf2_slot.kdf,
        Kdf::Pbkdf2 {
            hash: HashAlgo::Sha256,
            iterations: 1000,
            salt: [1; 32]
        }
    );
    assert_eq!(
        argon2_slot.kdf,
        Kdf::Argon2 {
            variant: Argon2Variant::Id,
            time: 4,
            memory: 32,
            cpus: 1,
            salt: [2; 32]
        }
    );
    assert_eq!(
        (pbkdf2_slot.area.offset, pbkdf2_slot.area.size),
        (32768, 131072)
    );
    assert_eq!(argon2_slot.area.offset, 32768 + 131072);
    let spec = pbkdf2_slot.area.spec;
    assert_eq!(
        (
            spec.cipher,
            spec.mode,
            spec.ivgen,
            spec.ivgen_hash,
            spec.hash
        ),
        (
            CipherAlgo::Aes256,
            CipherMode::Cbc,
            IvGenAlgo::Essiv,
            HashAlgo::Sha256,
            HashAlgo::Sha256
        )
    );
    let segment = &metadata.segment;
    assert_eq!(
        (
            segment.offset,
            segment.size,
            segment.iv_tweak,
            segment.sector_size
        ),
        (32768 + 2 * 131072, None, 0, 512)
    );
    assert_eq!(segment.spec.cipher, CipherAlgo::Aes256);
    let digest = metadata.segment_digest();
    assert_eq!(
        (digest.keyslots, digest.segments, digest.iterations),
        (0b11, 1, 1000)
    );
    assert_eq!(
        metadata.config,
        Config {
            json_size: 12288,
            keyslots_size: 2 * 131072
        }
    );
}

/// Priority 2 slots first, then priority 1 (or none), each by id; priority 0 never,
/// nor slots of a digest without segment 0.
#[test]
fn keyslots_are_tried_by_priority() {
    let slots = [0, 1, 2, 3, 4].map(|_| Slot {
        kdf: pbkdf2(),
        encryption: "aes-xts-plain64",
        area_key_size: 64,
    });
    let mut json = luks2_writer::json(&[3; 64], "aes-xts-plain64", &slots);
    json["keyslots"]["0"]["priority"] = 0.into();
    json["keyslots"]["3"]["priority"] = 2.into();
    json["keyslots"]["1"]["priority"] = 2.into();
    json["digests"]["0"]["keyslots"] = json!(["0", "1", "2", "3"]);
    let mut unbound = json["digests"]["0"].clone();
    unbound["keyslots"] = json!(["4"]);
    unbound["segments"] = json!([]);
    json["digests"]["1"] = unbound;
    let metadata = parse_json(&json).unwrap();
    let order: Vec<u32> = metadata.unlock_order().map(|k| k.id).collect();
    assert_eq!(order, [1, 3, 2]);
}

#[test]
fn the_json_area_holds_one_object_then_nuls() {
    let text = serde_json::to_vec(&good()).unwrap();
    let parse = |area: &[u8]| {
        Metadata::parse(area, HDR_SIZE)
            .map(|_| ())
            .map_err(|e| e.message().to_owned())
    };
    parse(&area(&text)).unwrap();
    let full = vec![b' '; (HDR_SIZE - 4096) as usize];
    assert_eq!(
        parse(&full).unwrap_err(),
        "LUKS2 header JSON metadata is not NUL terminated"
    );
    let mut trailing = area(&text);
    trailing[text.len() + 5] = b'x';
    assert_eq!(
        parse(&trailing).unwrap_err(),
        "LUKS2 header JSON area has data after the metadata"
    );
    for bad in [&[&text[..], b" "].concat(), &[b" ", &text[..]].concat()] {
        assert_eq!(
            parse(&area(bad)).unwrap_err(),
            "LUKS2 header JSON metadata is not a JSON object"
        );
    }
    assert!(parse(&area(b"{\"a\":}"))
        .unwrap_err()
        .starts_with("LUKS2 header JSON metadata is invalid: "));
    let repeated = [&text[..text.len() - 1], b",\"tokens\":{}}"].concat();
    assert!(parse(&area(&repeated))
        .unwrap_err()
        .starts_with("LUKS2 header JSON metadata is invalid: duplicate key \"tokens\""));
    let deep = [&b"{\"tokens\":"[..], &[b'['; 5000], &[b']'; 5000], b"}"].concat();
    assert!(parse(&area(&deep))
        .unwrap_err()
        .contains("recursion limit exceeded"));
}

#[test]
fn hostile_values_are_refused_with_their_place() {
    let cases: Vec<(Change, &str)> = vec![
        (
            Box::new(|j| drop(j.as_object_mut().unwrap().remove("tokens"))),
            "LUKS2 header has no 'tokens'",
        ),
        (
            Box::new(|j| j["keyslots"] = json!([])),
            "LUKS2 header keyslots is not a JSON object",
        ),
        (
            Box::new(|j| {
                let slot = j["keyslots"].as_object_mut().unwrap().remove("1");
                j["keyslots"]["01"] = slot.unwrap();
            }),
            "LUKS2 keyslot id '01' is not a number below 32",
        ),
        (
            Box::new(|j| j["digests"]["8"] = json!({})),
            "LUKS2 digest id '8' is not a number below 8",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["area"]["offset"] = 32768.into()),
            "LUKS2 keyslot 0 area 'offset' is not a string",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["area"]["offset"] = "-32768".into()),
            "LUKS2 keyslot 0 area 'offset' is not a string of decimal digits",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["area"]["offset"] = "".into()),
            "LUKS2 keyslot 0 area 'offset' is not a string of decimal digits",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["area"]["offset"] = "18446744073709551616".into()),
            "LUKS2 keyslot 0 area 'offset' is not a number below 2^64",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["area"]["size"] = u64::MAX.to_string().into()),
            "LUKS2 keyslot 0 area is outside the keyslots area",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["area"]["size"] = "0".into()),
            "LUKS2 keyslot 0 area is outside the keyslots area",
        ),
        (
            Box::new(|j| j["keyslots"]["1"]["area"]["size"] = "1000000".into()),
            "LUKS2 keyslot 1 area is outside the keyslots area",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["area"]["offset"] = "16384".into()),
            "LUKS2 keyslot 0 is overlapping with the LUKS header",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["area"]["size"] = "126976".into()),
            "LUKS2 keyslot 0 area is too small for its key material",
        ),
        (
            Box::new(|j| j["keyslots"]["1"]["area"]["offset"] = "36864".into()),
            "LUKS2 keyslots 0 and 1 are overlapping in the header",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["key_size"] = json!(1e30)),
            "LUKS2 keyslot 0 'key_size' is not a number from 1 to 512",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["key_size"] = json!(32.0)),
            "LUKS2 keyslot 0 'key_size' is not a number from 1 to 512",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["key_size"] = json!(-32)),
            "LUKS2 keyslot 0 'key_size' is not a number from 1 to 512",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["key_size"] = json!("32")),
            "LUKS2 keyslot 0 'key_size' is not a number from 1 to 512",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["priority"] = 3.into()),
            "LUKS2 keyslot 0 'priority' is not a number from 0 to 2",
        ),
        (
            Box::new(|j| drop(j["keyslots"]["0"].as_object_mut().unwrap().remove("af"))),
            "LUKS2 keyslot 0 has no 'af'",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["af"]["stripes"] = 3999.into()),
            "LUKS2 keyslot 0 is corrupted (stripes 3999 != 4000)",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["af"]["type"] = "luks2".into()),
            "LUKS2 keyslot 0 af type 'luks2' is not supported",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["af"]["hash"] = "whirlpool".into()),
            "LUKS2 keyslot 0 af hash 'whirlpool' is not supported",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["type"] = "reencrypt".into()),
            "LUKS2 keyslot 0 type 'reencrypt' is not supported",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["kdf"]["type"] = "argon2".into()),
            "LUKS2 keyslot 0 kdf type 'argon2' is not supported",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["kdf"]["iterations"] = 0.into()),
            "LUKS2 keyslot 0 kdf 'iterations' is not a number from 1 to 2147483647",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["kdf"]["iterations"] = 2147483648u32.into()),
            "LUKS2 keyslot 0 kdf 'iterations' is not a number from 1 to 2147483647",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["kdf"]["salt"] = b64(&[1; 31]).into()),
            "LUKS2 keyslot 0 kdf 'salt' is not 32 bytes",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["kdf"]["salt"] = "AQ=".into()),
            "LUKS2 keyslot 0 kdf 'salt' is not padded base64",
        ),
        (
            Box::new(|j| j["keyslots"]["1"]["kdf"]["memory"] = 4194305.into()),
            "LUKS2 keyslot 1 kdf 'memory' is not a number from 8 to 4194304",
        ),
        (
            Box::new(|j| j["keyslots"]["1"]["kdf"]["memory"] = (1u64 << 40).into()),
            "LUKS2 keyslot 1 kdf 'memory' is not a number from 8 to 4194304",
        ),
        (
            Box::new(|j| j["keyslots"]["1"]["kdf"]["cpus"] = 5.into()),
            "LUKS2 keyslot 1 kdf 'cpus' is not a number from 1 to 4",
        ),
        (
            Box::new(|j| {
                j["keyslots"]["1"]["kdf"]["cpus"] = 4.into();
                j["keyslots"]["1"]["kdf"]["memory"] = 16.into();
            }),
            "LUKS2 keyslot 1 kdf 'memory' is not a number from 32 to 4194304",
        ),
        (
            Box::new(|j| j["keyslots"]["1"]["kdf"]["time"] = 0.into()),
            "LUKS2 keyslot 1 kdf 'time' is not a number from 1 to 2147483647",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["area"]["encryption"] = "aes".into()),
            "LUKS2 keyslot 0 area: Unexpected cipher string format 'aes'",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["area"]["encryption"] = "aes-cbc-benbi".into()),
            "LUKS2 keyslot 0 area: IV generator 'benbi' not supported",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["area"]["encryption"] = "des-cbc-plain".into()),
            "LUKS2 keyslot 0 area: Algorithm 'des' with key size 32 bytes not supported",
        ),
        (
            Box::new(|j| {
                j["keyslots"]["0"]["area"]["encryption"] = "aes-xts-plain64".into();
                j["keyslots"]["0"]["area"]["key_size"] = 33.into();
            }),
            "LUKS2 keyslot 0 area: Algorithm 'aes' with key size 33 bytes not supported",
        ),
        (
            Box::new(|j| j["keyslots"]["0"]["area"]["key_size"] = 20.into()),
            "LUKS2 keyslot 0 area: Algorithm 'aes' with key size 20 bytes not supported",
        ),
        (
            Box::new(|j| j["digests"]["0"]["keyslots"] = json!(["0", "1", "5"])),
            "LUKS2 digest 0 lists a keyslot that does not exist: \"5\"",
        ),
        (
            Box::new(|j| j["digests"]["0"]["keyslots"] = json!(["0", 1])),
            "LUKS2 digest 0 lists a keyslot that does not exist: 1",
        ),
        (
            Box::new(|j| j["digests"]["0"]["segments"] = json!(["1"])),
            "LUKS2 digest 0 lists a segment that does not exist: \"1\"",
        ),
        (
            Box::new(|j| j["digests"]["0"]["keyslots"] = json!(["0"])),
            "LUKS2 keyslot 1 is in 0 digests instead of one",
        ),
        (
            Box::new(|j| j["digests"]["1"] = j["digests"]["0"].clone()),
            "LUKS2 keyslot 0 is in 2 digests instead of one",
        ),
        (
            Box::new(|j| j["digests"]["0"]["digest"] = b64(&[0; 16]).into()),
            "LUKS2 digest 0 'digest' is 16 bytes, not 20 or 32",
        ),
        (
            Box::new(|j| j["digests"]["0"]["type"] = "argon2".into()),
            "LUKS2 digest 0 type 'argon2' is not supported",
        ),
        (
            Box::new(|j| j["digests"]["0"]["segments"] = json!([])),
            "LUKS2 segment 0 must be in exactly one digest",
        ),
        (
            Box::new(|j| j["keyslots"]["1"]["key_size"] = 16.into()),
            "LUKS2 keyslots of digest 0 have different key sizes",
        ),
        (
            Box::new(|j| j["segments"]["1"] = j["segments"]["0"].clone()),
            "LUKS2 header must have exactly one segment, segment 0",
        ),
        (
            Box::new(|j| j["segments"] = json!({})),
            "LUKS2 digest 0 lists a segment that does not exist: \"0\"",
        ),
        (
            Box::new(|j| {
                let segment = j["segments"].as_object_mut().unwrap().remove("0");
                j["segments"]["1"] = segment.unwrap();
                j["digests"]["0"]["segments"] = json!(["1"]);
            }),
            "LUKS2 header must have exactly one segment, segment 0",
        ),
        (
            Box::new(|j| j["segments"]["0"]["type"] = "linear".into()),
            "LUKS2 segment 0 type 'linear' is not supported",
        ),
        (
            Box::new(|j| j["segments"]["0"]["integrity"] = json!({"type": "hmac(sha256)"})),
            "LUKS2 segment 0 with integrity is not supported",
        ),
        (
            Box::new(|j| j["segments"]["0"]["flags"] = json!(["backup-final"])),
            "LUKS2 segment 0 with flags is not supported",
        ),
        (
            Box::new(|j| j["segments"]["0"]["sector_size"] = 0.into()),
            "LUKS2 segment 0 sector size 0 is not supported",
        ),
        (
            Box::new(|j| j["segments"]["0"]["sector_size"] = 1536.into()),
            "LUKS2 segment 0 sector size 1536 is not supported",
        ),
        (
            Box::new(|j| j["segments"]["0"]["sector_size"] = 8192.into()),
            "LUKS2 segment 0 sector size 8192 is not supported",
        ),
        (
            Box::new(|j| j["segments"]["0"]["offset"] = "1048577".into()),
            "LUKS2 segment 0 offset 1048577 is not a multiple of its sector size 512",
        ),
        (
            Box::new(|j| j["segments"]["0"]["size"] = "0".into()),
            "LUKS2 segment 0 size 0 is not a multiple of its sector size 512",
        ),
        (
            Box::new(|j| j["segments"]["0"]["size"] = "Dynamic".into()),
            "LUKS2 segment 0 'size' is not a string of decimal digits",
        ),
        (
            Box::new(|j| j["segments"]["0"]["iv_tweak"] = "99999999999999999999".into()),
            "LUKS2 segment 0 'iv_tweak' is not a number below 2^64",
        ),
        (
            Box::new(|j| j["segments"]["0"]["offset"] = "65536".into()),
            "LUKS2 segment 0 is overlapping with the keyslots area",
        ),
        (
            Box::new(|j| j["segments"]["0"]["encryption"] = "aes-cbc-essiv".into()),
            "LUKS2 segment 0: Missing IV generator hash specification",
        ),
        (
            Box::new(|j| j["config"]["json_size"] = "28672".into()),
            "LUKS2 config json_size 28672 does not match the header size 16384",
        ),
        (
            Box::new(|j| j["config"]["keyslots_size"] = "262145".into()),
            "LUKS2 config keyslots_size 262145 is not a multiple of 4096 up to 134217728",
        ),
        (
            Box::new(|j| j["config"]["keyslots_size"] = (129u64 << 20).to_string().into()),
            "LUKS2 config keyslots_size 135266304 is not a multiple of 4096 up to 134217728",
        ),
        (
            Box::new(|j| {
                j["config"]["requirements"] = json!({"mandatory": ["online-reencrypt-v2"]})
            }),
            "LUKS2 requirement \"online-reencrypt-v2\" is not supported",
        ),
        (
            Box::new(|j| j["config"]["requirements"] = json!({"mandatory": "opal"})),
            "LUKS2 config requirements 'mandatory' is not an array",
        ),
    ];
    let wrong: Vec<String> = cases
        .into_iter()
        .filter_map(|(change, message)| {
            let got = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| refusal(change)))
                .unwrap_or_else(|_| "accepted".into());
            (got != message).then(|| format!("expected {message:?}, got {got:?}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// A mode qio lacks fails by name, before its key size is looked at.
#[test]
fn unknown_modes_fail_by_name() {
    let message = refusal(|j| j["segments"]["0"]["encryption"] = "aes-lrw-plain64".into());
    assert_eq!(message, "LUKS2 segment 0: Cipher mode 'lrw' not supported");
}

/// Refusals quote at most a short piece of what the header holds.
#[test]
fn messages_stay_short_whatever_the_header_holds() {
    let long = "x".repeat(100_000);
    for change in [
        Box::new(|j: &mut Value| j["keyslots"]["0"]["af"]["hash"] = long.clone().into()) as Change,
        Box::new(|j| j["keyslots"]["0"]["type"] = long.clone().into()),
        Box::new(|j| j["keyslots"][long.as_str()] = json!({})),
        Box::new(|j| j["digests"]["0"]["keyslots"] = json!([long.clone()])),
        Box::new(|j| j["segments"]["0"]["encryption"] = format!("aes-{long}").into()),
        Box::new(|j| j["config"]["requirements"] = json!({"mandatory": [long.clone()]})),
    ] {
        let message = refusal(change);
        assert!(message.len() < 200, "{message}");
    }
}

/// LUKS1-converted headers keep a 20-byte digest with SHA-256.
#[test]
fn a_20_byte_digest_is_accepted() {
    let mut json = good();
    json["digests"]["0"]["digest"] = b64(&[9; 20]).into();
    assert_eq!(parse_json(&json).unwrap().segment_digest().digest, [9; 20]);
}
