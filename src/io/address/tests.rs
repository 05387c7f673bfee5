use super::*;

#[test]
fn every_form_parses_and_prints_back() {
    for text in [
        "tcp:localhost:5900",
        "tcp::5900",
        "tcp:[::1]:22,ipv6=on",
        "tcp:127.0.0.1:0,ipv4=on,ipv6=off,numeric",
        "unix:/run/qemu.sock",
        "unix-abstract:qio",
        "vsock:3:1234",
        "fd:7",
    ] {
        assert_eq!(SocketAddress::parse(text).unwrap().to_string(), text);
    }
    assert_eq!(
        SocketAddress::parse("inet:h:p").unwrap().to_string(),
        "tcp:h:p"
    );
    let SocketAddress::Inet(inet) = SocketAddress::parse("tcp:[fe80::1]:80").unwrap() else {
        panic!()
    };
    assert_eq!((inet.host.as_str(), inet.port.as_str()), ("fe80::1", "80"));
}

#[test]
fn bad_text_is_refused_with_the_reason() {
    for (text, why) in [
        ("localhost", "expected TYPE:ADDRESS"),
        ("tcp:host", "expected HOST:PORT"),
        ("tcp:host:", "missing port"),
        ("tcp:::1:22", "expected HOST:PORT"),
        ("tcp:[::1:22", "missing ']' after IPv6 address"),
        ("tcp:h:1,frob", "unknown option 'frob'"),
        ("tcp:h:1,ipv4=maybe", "invalid value 'maybe' for 'ipv4'"),
        ("unix:", "empty path"),
        ("vsock:x:1", "invalid cid 'x'"),
        ("vsock:1", "expected CID:PORT"),
        ("fd:", "empty fd name"),
        ("udp:h:1", "unknown address type 'udp'"),
    ] {
        let e = SocketAddress::parse(text).unwrap_err();
        assert_eq!(
            e.message(),
            format!("error parsing address '{text}': {why}")
        );
    }
}

#[test]
fn socket_addresses_convert_back() {
    let v6: std::net::SocketAddr = "[::1]:80".parse().unwrap();
    let addr = SocketAddress::from_sockaddr(&SockAddr::from(v6)).unwrap();
    assert_eq!(addr.to_string(), "tcp:[::1]:80");
    for text in ["unix:/tmp/x.sock", "unix-abstract:qio-test", "vsock:2:9"] {
        let addr = SocketAddress::parse(text).unwrap();
        let sa = addr.to_sockaddr().unwrap().unwrap();
        assert_eq!(SocketAddress::from_sockaddr(&sa).unwrap(), addr);
    }
    let long = SocketAddress::parse(&format!("unix:/{}", "x".repeat(200))).unwrap();
    assert!(long
        .to_sockaddr()
        .unwrap_err()
        .message()
        .ends_with("is too long"));
}
