use std::io::Write;
use std::path::Path;

use super::*;

fn rule(text: &str, policy: ListPolicy, format: ListFormat) -> ListRule {
    ListRule {
        text: text.to_owned(),
        policy,
        format,
    }
}

#[test]
fn simple_allows_exactly_its_identity() {
    let authz = Authz::simple("CN=qemu");
    assert!(authz.is_allowed("CN=qemu").unwrap());
    assert!(!authz.is_allowed("CN=qemu ").unwrap());
    assert!(!authz.is_allowed("cn=qemu").unwrap());
    assert!(authz.as_list().is_none());
}

#[test]
fn the_first_matching_rule_decides_then_the_default() {
    // QEMU's test-authz-list cases.
    let authz = Authz::list(ListPolicy::Deny);
    let list = authz.as_list().unwrap();
    assert!(!authz.is_allowed("fred").unwrap());
    assert_eq!(
        list.append_rule(rule("fred", ListPolicy::Allow, ListFormat::Exact)),
        0
    );
    assert_eq!(
        list.append_rule(rule("bob", ListPolicy::Allow, ListFormat::Exact)),
        1
    );
    assert_eq!(
        list.append_rule(rule("dan*", ListPolicy::Allow, ListFormat::Glob)),
        2
    );
    assert!(authz.is_allowed("fred").unwrap());
    assert!(authz.is_allowed("dan-smith").unwrap());
    assert!(!authz.is_allowed("dave").unwrap());
    // An earlier deny wins over a later allow.
    assert_eq!(
        list.insert_rule(rule("fre?", ListPolicy::Deny, ListFormat::Glob), 0),
        0
    );
    assert!(!authz.is_allowed("fred").unwrap());
    assert!(authz.is_allowed("bob").unwrap());
    // Past the end appends.
    assert_eq!(
        list.insert_rule(rule("x", ListPolicy::Allow, ListFormat::Exact), 99),
        4
    );
    assert_eq!(list.delete_rule("fre?"), Some(0));
    assert_eq!(list.delete_rule("fre?"), None);
    assert!(authz.is_allowed("fred").unwrap());
    // A glob is GLib's: '?' is one character, '*' any run, nothing else is special.
    let globs = Authz::list(ListPolicy::Deny);
    globs.as_list().unwrap().append_rule(rule(
        "C=UK,CN=*.qemu.org",
        ListPolicy::Allow,
        ListFormat::Glob,
    ));
    assert!(globs.is_allowed("C=UK,CN=vm1.qemu.org").unwrap());
    assert!(!globs.is_allowed("C=US,CN=vm1.qemu.org").unwrap());
    // An allow-by-default list with a deny rule.
    let open = Authz::list(ListPolicy::Allow);
    open.as_list()
        .unwrap()
        .append_rule(rule("mallory", ListPolicy::Deny, ListFormat::Exact));
    assert!(!open.is_allowed("mallory").unwrap());
    assert!(open.is_allowed("alice").unwrap());
}

fn temp_file(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("qio-authz-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("rules.json")
}

fn write(path: &Path, text: &str) {
    // A new inode each time, as editors and `mv` replace files.
    let tmp = path.with_extension("tmp");
    std::fs::File::create(&tmp)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn a_rules_file_is_read_again_when_it_changes_and_fails_closed() {
    let path = temp_file("refresh");
    write(
        &path,
        r#"{"policy": "deny", "rules": [{"match": "fred", "policy": "allow"},
            {"match": "*.example.com", "policy": "allow", "format": "glob"}]}"#,
    );
    let authz = Authz::list_file(&path, true).unwrap();
    let fixed = Authz::list_file(&path, false).unwrap();
    assert!(authz.is_allowed("fred").unwrap());
    assert!(authz.is_allowed("vm.example.com").unwrap());
    assert!(!authz.is_allowed("bob").unwrap());

    write(
        &path,
        r#"{"policy": "allow", "rules": [{"match": "fred", "policy": "deny"}]}"#,
    );
    assert!(!authz.is_allowed("fred").unwrap());
    assert!(authz.is_allowed("bob").unwrap());
    assert!(fixed.is_allowed("fred").unwrap());

    write(&path, "{ not json");
    let e = authz.is_allowed("bob").unwrap_err();
    assert!(e
        .message()
        .starts_with(&format!("Unable to parse '{}': ", path.display())));
    std::fs::remove_file(&path).unwrap();
    assert_eq!(
        authz.is_allowed("bob").unwrap_err().message(),
        format!(
            "Unable to read '{}': No such file or directory",
            path.display()
        )
    );
    write(&path, r#"{"rules": [{"match": "bob", "policy": "allow"}]}"#);
    assert!(authz.is_allowed("bob").unwrap());
    assert!(!authz.is_allowed("fred").unwrap());
    assert!(fixed.is_allowed("fred").unwrap());
    std::fs::remove_dir_all(path.parent().unwrap()).unwrap();
}

#[test]
fn bad_rules_files_say_what_is_wrong() {
    let path = Path::new("/etc/qemu/rules.json");
    for (text, message) in [
        (
            "[]",
            "File '/etc/qemu/rules.json' must contain a JSON object",
        ),
        (
            r#"{"policy": 1}"#,
            "Invalid parameter type for 'policy', expected: string",
        ),
        (
            r#"{"policy": "maybe"}"#,
            "Parameter 'policy' does not accept value 'maybe'",
        ),
        (
            r#"{"rules": {}}"#,
            "Invalid parameter type for 'rules', expected: array",
        ),
        (
            r#"{"rules": ["x"]}"#,
            "Invalid parameter type for 'rules[0]', expected: object",
        ),
        (
            r#"{"rules": [{"match": "a", "policy": "allow"}, {"policy": "deny"}]}"#,
            "Parameter 'rules[1].match' is missing",
        ),
        (
            r#"{"rules": [{"match": "a"}]}"#,
            "Parameter 'rules[0].policy' is missing",
        ),
        (
            r#"{"rules": [{"match": 7, "policy": "deny"}]}"#,
            "Invalid parameter type for 'rules[0].match', expected: string",
        ),
        (
            r#"{"rules": [{"match": "a", "policy": "deny", "format": "regex"}]}"#,
            "Parameter 'rules[0].format' does not accept value 'regex'",
        ),
        (
            r#"{"rules": [{"match": "a", "policy": "deny", "fromat": "glob"}]}"#,
            "Parameter 'rules[0].fromat' is unexpected",
        ),
        (r#"{"polciy": "allow"}"#, "Parameter 'polciy' is unexpected"),
    ] {
        let e = parse_rules_file(text.as_bytes(), path).err().unwrap();
        assert_eq!(e.message(), message, "{text}");
    }
    let e = Authz::list_file(Path::new("/nonexistent/rules.json"), true)
        .err()
        .unwrap();
    assert_eq!(
        e.message(),
        "Unable to read '/nonexistent/rules.json': No such file or directory"
    );
}
