//! WebSocket channels (RFC 6455, binary frames) over any channel: QEMU's
//! `io/channel-websock.c` server, and a client QEMU lacks.

pub mod frame;
pub mod handshake;
