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
fn bad_text_is_refused_with_qemus_messages() {
    for (text, message) in [
        ("localhost", "error parsing address 'localhost'"),
        ("tcp:host", "error parsing address 'host'"),
        ("tcp:host:", "error parsing address 'host:'"),
        ("tcp::", "error parsing port in address ':'"),
        ("tcp:[::1:22", "error parsing IPv6 address '[::1:22'"),
        ("tcp:[]:22", "error parsing IPv6 address '[]:22'"),
        ("tcp:h:1,frob", "Invalid parameter 'frob'"),
        ("tcp:h:1,ipv4=maybe", "error parsing 'ipv4' flag '=maybe'"),
        ("unix:", "invalid Unix socket address"),
        ("unix-abstract:", "invalid Unix socket address"),
        ("vsock:x:1", "Failed to parse cid 'x'"),
        ("vsock:1:-2", "Failed to parse port '-2'"),
        ("vsock:1", "error parsing address '1'"),
        ("vsock:1:2,x", "trailing characters in address '1:2,x'"),
        ("fd:", "invalid file descriptor address"),
    ] {
        let e = SocketAddress::parse(text).unwrap_err();
        assert_eq!(e.message(), message, "{text}");
    }
}

#[test]
fn without_a_prefix_text_is_inet_split_at_the_first_colon() {
    let SocketAddress::Inet(inet) = SocketAddress::parse("localhost:5900").unwrap() else {
        panic!()
    };
    assert_eq!(
        (inet.host.as_str(), inet.port.as_str()),
        ("localhost", "5900")
    );
    // QEMU's sscanf splits "udp:h:1" into host "udp" and port "h:1".
    let SocketAddress::Inet(inet) = SocketAddress::parse("udp:h:1").unwrap() else {
        panic!()
    };
    assert_eq!((inet.host.as_str(), inet.port.as_str()), ("udp", "h:1"));
}

#[test]
fn socket_addresses_convert_back() {
    let v6: std::net::SocketAddr = "[::1]:80".parse().unwrap();
    let addr = SocketAddress::from_sockaddr(&SockAddr::from(v6)).unwrap();
    assert_eq!(addr.to_string(), "tcp:[::1]:80,ipv6=on");
    let v4: std::net::SocketAddr = "127.0.0.1:5900".parse().unwrap();
    let addr = SocketAddress::from_sockaddr(&SockAddr::from(v4)).unwrap();
    assert_eq!(addr.to_string(), "tcp:127.0.0.1:5900,ipv4=on");
    // A link-local address keeps its scope (interface 1 is the loopback).
    let scoped = std::net::SocketAddrV6::new("fe80::1".parse().unwrap(), 22, 0, 1);
    let addr = SocketAddress::from_sockaddr(&SockAddr::from(scoped)).unwrap();
    assert_eq!(addr.to_string(), "tcp:[fe80::1%lo]:22,ipv6=on");
    for text in ["unix:/tmp/x.sock", "unix-abstract:qio-test", "vsock:2:9"] {
        let addr = SocketAddress::parse(text).unwrap();
        let sa = addr.to_sockaddr().unwrap().unwrap();
        assert_eq!(SocketAddress::from_sockaddr(&sa).unwrap(), addr);
    }
}

#[test]
fn unix_paths_may_fill_sun_path_as_in_qemu() {
    let path = format!("/{}", "x".repeat(107));
    let full = SocketAddress::parse(&format!("unix:{path}")).unwrap();
    let sa = full.to_sockaddr().unwrap().unwrap();
    assert_eq!(SocketAddress::from_sockaddr(&sa).unwrap(), full);
    let long = SocketAddress::parse(&format!("unix:{path}x")).unwrap();
    assert_eq!(
        long.to_sockaddr().unwrap_err().message(),
        format!("UNIX socket path '{path}x' is too long")
    );
}
