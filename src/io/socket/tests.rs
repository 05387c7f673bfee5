use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;

use super::*;
use crate::io::SocketAddress;

fn listen(text: &str) -> Arc<Channel<Socket>> {
    let listener = Socket::new_channel();
    listener
        .listen_sync(&SocketAddress::parse(text).unwrap(), 1)
        .unwrap();
    listener
}

#[test]
fn tcp_connect_accept_sets_features_and_addresses() {
    let listener = listen("tcp:127.0.0.1:0");
    assert!(listener.has_feature(Feature::Listen) && !listener.has_feature(Feature::FdPass));
    let bound = listener.local_address().unwrap();
    let client = Socket::new_channel();
    client.connect_sync(&bound).unwrap();
    let server = listener.accept().unwrap();
    assert!(client.has_feature(Feature::ReadMsgPeek) && server.has_feature(Feature::ReadMsgPeek));
    assert_eq!(
        client.remote_address().unwrap(),
        server.local_address().unwrap()
    );
    client.write(b"ping").unwrap();
    let mut buf = [0; 4];
    server
        .readv_full(&mut [IoSliceMut::new(&mut buf)], None, READ_FLAG_MSG_PEEK)
        .unwrap();
    server.upcast().read_all(&mut buf).unwrap();
    assert_eq!(&buf, b"ping");
}

#[test]
fn connection_refused_names_the_address() {
    let listener = listen("tcp:127.0.0.1:0");
    let bound = listener.local_address().unwrap();
    listener.close().unwrap();
    let e = Socket::new_channel().connect_sync(&bound).unwrap_err();
    assert!(
        e.message().starts_with("Failed to connect to '127.0.0.1:"),
        "{}",
        e.message()
    );
    assert!(
        e.message().ends_with(": Connection refused"),
        "{}",
        e.message()
    );
}

#[test]
fn the_same_fd_passed_three_times_arrives_as_three_fds() {
    let (a, b) = UnixStream::pair().unwrap();
    let a = Socket::new_fd(a.into()).map_err(|(e, _)| e).unwrap();
    let b = Socket::new_fd(b.into()).map_err(|(e, _)| e).unwrap();
    assert!(a.has_feature(Feature::FdPass));
    let stdout = std::io::stdout();
    let fd = stdout.as_fd();
    a.writev_full(&[IoSlice::new(b"fds")], &[fd, fd, fd], 0)
        .unwrap();
    let mut fds = Vec::new();
    let mut buf = [0; 3];
    assert_eq!(
        b.readv_full(&mut [IoSliceMut::new(&mut buf)], Some(&mut fds), 0)
            .unwrap(),
        3
    );
    assert_eq!(&buf, b"fds");
    let raw: Vec<_> = fds.iter().map(|f| f.as_raw_fd()).collect();
    assert_eq!(raw.len(), 3);
    assert!(raw[0] != raw[1] && raw[1] != raw[2] && raw[0] != raw[2]);
    let too_many = vec![fd; MAX_FDS + 1];
    let e = a
        .writev_full(&[IoSlice::new(b"x")], &too_many, 0)
        .unwrap_err();
    assert_eq!(
        e.message(),
        "Only 16 FDs can be sent, got 17: Invalid argument"
    );
}

#[test]
fn closing_a_listener_removes_its_path_but_not_an_adopted_one() {
    let dir = std::env::temp_dir().join(format!("qio-socket-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("listen.sock");
    let listener = listen(&format!("unix:{}", path.display()));
    assert!(listener.has_feature(Feature::FdPass));
    assert!(path.exists());
    drop(listener);
    assert!(!path.exists());
    let std_listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let adopted = Socket::new_fd(std_listener.into())
        .map_err(|(e, _)| e)
        .unwrap();
    adopted.close().unwrap();
    assert!(path.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Runs `start` against a private context and returns what its completion received,
/// checking that the completion ran in this thread while iterating that context.
fn run_async<T: Send + 'static>(
    start: impl FnOnce(&MainContext, Box<dyn FnOnce(T) + Send>) -> ThreadTask,
) -> T {
    let context = MainContext::new();
    let slot = Arc::new(Mutex::new(None));
    let (setter, caller) = (slot.clone(), std::thread::current().id());
    let _task = start(
        &context,
        Box::new(move |value| {
            assert_eq!(std::thread::current().id(), caller);
            *setter.lock().unwrap() = Some(value);
        }),
    );
    while slot.lock().unwrap().is_none() {
        context.iteration(true);
    }
    let value = slot.lock().unwrap().take().unwrap();
    value
}

#[test]
fn listen_connect_and_dgram_async_complete_in_the_callers_context() {
    let listener = Socket::new_channel();
    let any = SocketAddress::parse("tcp:127.0.0.1:0").unwrap();
    run_async(|ctx, done| listener.listen_async(any, 1, ctx, done)).unwrap();
    let bound = listener.local_address().unwrap();
    let client = Socket::new_channel();
    run_async(|ctx, done| client.connect_async(bound.clone(), ctx, done)).unwrap();
    let server = listener.accept().unwrap();
    assert_eq!(
        client.remote_address().unwrap(),
        server.local_address().unwrap()
    );

    // A refused connect reports its error through the completion too.
    listener.close().unwrap();
    let refused = Socket::new_channel();
    let e = run_async(|ctx, done| refused.connect_async(bound, ctx, done));
    assert!(e.unwrap_err().message().ends_with(": Connection refused"));

    let receiver = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let remote = SocketAddress::parse(&format!("tcp:{}", receiver.local_addr().unwrap())).unwrap();
    let sender = Socket::new_channel();
    run_async(|ctx, done| sender.dgram_async(None, remote, ctx, done)).unwrap();
    sender.write(b"datagram").unwrap();
    let mut buf = [0; 16];
    assert_eq!(receiver.recv(&mut buf).unwrap(), 8);
    assert_eq!(&buf[..8], b"datagram");
}
