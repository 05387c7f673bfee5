use std::io::{IoSlice, IoSliceMut};
use std::os::fd::AsFd;
use std::os::unix::net::UnixStream;
use std::sync::Arc;

use super::*;
use crate::io::{Buffer, Null, Socket};

fn socket_pair() -> (Arc<Channel>, Arc<Channel>) {
    let (a, b) = UnixStream::pair().unwrap();
    let wrap = |s: UnixStream| {
        Socket::new_fd(s.into())
            .map_err(|(e, _)| e)
            .unwrap()
            .upcast()
    };
    (wrap(a), wrap(b))
}

#[test]
fn typed_channels_upcast_and_downcast_by_type() {
    let null = Null::new_channel().upcast();
    assert!(null.is::<Null>() && !null.is::<Buffer>());
    assert!(null.downcast_ref::<Buffer>().is_none());
    assert!(null.downcast_ref::<Null>().is_some());
    let null = null.downcast::<Buffer>().err().unwrap();
    let typed = null.clone().downcast::<Null>().ok().unwrap();
    assert!(std::ptr::addr_eq(Arc::as_ptr(&typed), Arc::as_ptr(&null)));
    assert_eq!(Arc::strong_count(&null), 2);
}

#[test]
fn fd_passing_and_peek_need_their_features() {
    let null = Null::new_channel().upcast();
    let mut fds = Vec::new();
    let e = null.readv_full(&mut [], Some(&mut fds), 0).unwrap_err();
    assert_eq!(
        e.message(),
        "Channel does not support file descriptor passing: Invalid argument"
    );
    let e = null
        .readv_full(&mut [], None, READ_FLAG_MSG_PEEK)
        .unwrap_err();
    assert_eq!(
        e.message(),
        "Channel does not support peek read: Invalid argument"
    );
    let stdin = std::io::stdin();
    let e = null.writev_full(&[], &[stdin.as_fd()], 0).unwrap_err();
    assert_eq!(
        e.message(),
        "Channel does not support file descriptor passing: Invalid argument"
    );
    let e = null
        .writev_full(&[], &[], WRITE_FLAG_ZERO_COPY)
        .unwrap_err();
    assert_eq!(
        e.message(),
        "Requested Zero Copy feature is not available: Invalid argument"
    );
    let (a, _b) = socket_pair();
    let e = a
        .writev_full(&[], &[stdin.as_fd()], WRITE_FLAG_ZERO_COPY)
        .unwrap_err();
    assert_eq!(
        e.message(),
        "Zero Copy does not support file descriptor passing: Invalid argument"
    );
}

#[test]
fn all_helpers_cross_short_transfers_and_report_eof() {
    let (a, b) = socket_pair();
    let data: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let writer = {
        let a = a.clone();
        let data = data.clone();
        std::thread::spawn(move || {
            a.set_blocking(false).unwrap();
            let (x, y) = data.split_at(1000);
            a.writev_full_all(&mut [IoSlice::new(x), IoSlice::new(y)], &[], 0)
                .unwrap();
            a.close().unwrap();
        })
    };
    let mut got = vec![0u8; data.len()];
    let (x, y) = got.split_at_mut(7);
    b.set_blocking(false).unwrap();
    assert!(b
        .readv_full_all_eof(&mut [IoSliceMut::new(x), IoSliceMut::new(y)], None, 0)
        .unwrap());
    writer.join().unwrap();
    assert_eq!(got, data);
    assert!(!b.read_all_eof(&mut [0; 4]).unwrap());
    let e = b.read_all(&mut [0; 4]).unwrap_err();
    assert_eq!(
        e.message(),
        "Unexpected end-of-file before all data were read"
    );
}

#[test]
fn eof_inside_read_all_is_an_error() {
    let (a, b) = socket_pair();
    a.write_all(b"abc").unwrap();
    a.close().unwrap();
    let e = b.read_all_eof(&mut [0; 8]).unwrap_err();
    assert_eq!(
        e.message(),
        "Unexpected end-of-file before all data were read"
    );
}

/// Nothing asked for is nothing to wait for: not an end-of-file on an idle socket.
#[test]
fn empty_reads_return_at_once() {
    let (a, _b) = socket_pair();
    assert!(a.read_all_eof(&mut []).unwrap());
    a.read_all(&mut []).unwrap();
    let (mut x, mut y) = ([0u8; 0], [0u8; 0]);
    let mut iov = [IoSliceMut::new(&mut x), IoSliceMut::new(&mut y)];
    a.readv_full_all(&mut iov, None).unwrap();
}

#[test]
fn positioned_io_needs_support_then_seekable() {
    let buffer = Buffer::new_channel(0).upcast();
    let e = buffer.preadv(&mut [], 0).unwrap_err();
    assert_eq!(e.message(), "Channel does not support preadv");
    let e = buffer.pwritev(&[], 0).unwrap_err();
    assert_eq!(e.message(), "Channel does not support pwritev");
    let (a, _b) = socket_pair();
    assert_eq!(
        a.seek(0, 0).unwrap_err().message(),
        "Channel does not support random access"
    );
    assert_eq!(a.peerpid().unwrap(), std::process::id());
    assert_eq!(
        buffer.shutdown(Shutdown::Both).unwrap_err().message(),
        "Data path shutdown not supported"
    );
    assert_eq!(buffer.flush().unwrap(), 0);
}

#[test]
fn buffer_reads_from_offset_and_appends_at_usage() {
    let channel = Buffer::new_channel(4);
    channel.write(b"hello").unwrap();
    assert_eq!(channel.seek(0, libc::SEEK_SET).unwrap(), 0);
    let mut five = [0; 5];
    assert_eq!(channel.read(&mut five).unwrap(), 5);
    assert_eq!(&five, b"hello");
    assert_eq!(channel.read(&mut five).unwrap(), 0);
    channel.seek(1, libc::SEEK_SET).unwrap();
    channel.write(b"!!").unwrap();
    assert_eq!(channel.imp().offset(), 3);
    channel.seek(9, libc::SEEK_SET).unwrap();
    channel.write(b"x").unwrap();
    channel.imp().with_data(|d| assert_eq!(d, b"hello!!\0\0x"));
    assert!(channel.seek(-1, libc::SEEK_SET).is_err());
    assert_eq!(channel.seek(-1, libc::SEEK_END).unwrap(), 9);
    channel.close().unwrap();
    assert_eq!(channel.imp().usage(), 0);
}

#[test]
fn null_discards_until_closed() {
    let channel = Null::new_channel();
    assert_eq!(channel.write(b"hello world").unwrap(), 11);
    assert_eq!(channel.read(&mut [0; 4]).unwrap(), 0);
    channel.close().unwrap();
    assert_eq!(
        channel.read(&mut [0; 4]).unwrap_err().message(),
        "Channel is closed: Invalid argument"
    );
    assert!(channel.write(b"x").is_err());
}
