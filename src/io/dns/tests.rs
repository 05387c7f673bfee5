use super::*;

fn lookup(text: &str) -> Result<Vec<SocketAddress>> {
    DnsResolver::instance().lookup(&SocketAddress::parse(text).unwrap())
}

#[test]
fn names_resolve_to_numeric_addresses_keeping_options() {
    let found = lookup("tcp:127.0.0.1:5900,ipv4=on").unwrap();
    assert_eq!(
        found.iter().map(ToString::to_string).collect::<Vec<_>>(),
        ["tcp:127.0.0.1:5900,ipv4=on,numeric"]
    );
    assert_eq!(
        lookup("tcp:[::1]:1").unwrap()[0].to_string(),
        "tcp:[::1]:1,numeric"
    );
    let local = lookup("tcp:localhost:22").unwrap();
    assert!(!local.is_empty());
    assert!(local
        .iter()
        .all(|a| matches!(a, SocketAddress::Inet(i) if i.numeric)));
}

#[test]
fn other_kinds_pass_through_and_failures_say_why() {
    assert_eq!(lookup("unix:/tmp/x").unwrap()[0].to_string(), "unix:/tmp/x");
    let e = lookup("tcp:localhost:22,numeric").unwrap_err();
    assert!(
        e.message()
            .starts_with("address resolution failed for localhost:22: "),
        "{}",
        e.message()
    );
    let e = lookup("tcp:h:1,ipv4=off,ipv6=off").unwrap_err();
    assert_eq!(e.message(), "Cannot disable IPv4 and IPv6 at same time");
}

#[test]
fn lookup_async_reports_in_the_context_thread() {
    let context = crate::io::MainContext::new();
    let found = std::sync::Arc::new(std::sync::Mutex::new(None));
    let (slot, caller) = (found.clone(), std::thread::current().id());
    let addr = SocketAddress::parse("tcp:127.0.0.1:80").unwrap();
    let _task = DnsResolver::instance().lookup_async(addr, &context, move |result| {
        assert_eq!(std::thread::current().id(), caller);
        *slot.lock().unwrap() = Some(result);
    });
    while found.lock().unwrap().is_none() {
        context.iteration(true);
    }
    let result = found.lock().unwrap().take().unwrap().unwrap();
    assert_eq!(result[0].to_string(), "tcp:127.0.0.1:80,numeric");
}
