#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the vnc_server fuzz target's seeds into fuzz/seeds/vnc_server (or the
directory given): well-formed client byte streams, each after the mode byte that
fuzz/c/vnc_server.c reads first, so that the fuzzer starts from whole sessions."""

import struct

from seed_files import write_seeds

# vnc_server.c's MODE_* bits and values.
SEC_NONE, SEC_VNC, SEC_TLS_NONE, SEC_TLS_VNC = 0, 1, 2, 3
PRELUDE_TRANSPORT, PRELUDE_CHALLENGE, PRELUDE_SECURITY = 1 << 2, 2 << 2, 3 << 2
WEBSOCKET, SILENT = 0x10, 0x20
CHUNK_1, CHUNK_7, CHUNK_100_NO_PEEK = 1 << 6, 2 << 6, 3 << 6
WIDTH, HEIGHT = 136, 24

# RFB (RFC 6143).
RAW, HEXTILE, DESKTOP_SIZE = 0, 5, -223
VENCRYPT, TLSNONE, TLSVNC, X509NONE = 19, 257, 258, 260


def version(minor):
    return b"RFB 003.%03d\n" % minor


def pixel_format(bpp, depth, big_endian, maxes, shifts):
    return struct.pack(">BBBBHHHBBB3x", bpp, depth, big_endian, 1, *maxes, *shifts)


PF32 = pixel_format(32, 24, 0, (255, 255, 255), (16, 8, 0))
PF32_BE = pixel_format(32, 24, 1, (255, 255, 255), (0, 8, 16))
PF16 = pixel_format(16, 16, 0, (31, 63, 31), (11, 5, 0))
PF16_BE = pixel_format(16, 15, 1, (31, 31, 31), (10, 5, 0))
PF8 = pixel_format(8, 8, 0, (7, 7, 3), (0, 3, 6))


def set_pixel_format(pf):
    return struct.pack(">B3x", 0) + pf


def set_encodings(*encodings):
    return struct.pack(">BxH", 2, len(encodings)) + b"".join(struct.pack(">i", e) for e in encodings)


def update(incremental, x=0, y=0, w=WIDTH, h=HEIGHT):
    return struct.pack(">BBHHHH", 3, incremental, x, y, w, h)


def key(down, keysym):
    return struct.pack(">BBxxI", 4, down, keysym)


def pointer(mask, x, y):
    return struct.pack(">BBHH", 5, mask, x, y)


def cut_text(text):
    return struct.pack(">B3xI", 6, len(text)) + text


def session():
    """ClientInit and every client message: formats, encodings, full and incremental
    requests, a click (a dirty tile), 'r' (a resize the client follows), cut text."""
    return (b"\x01"
            + set_pixel_format(PF32) + set_encodings(HEXTILE, RAW, DESKTOP_SIZE)
            + update(0) + pointer(1, 10, 10) + pointer(0, 10, 10) + update(1)
            + pointer(1, 130, 20) + pointer(1, 70, 5) + update(1, 64, 0, 72, 24)
            + key(1, ord("r")) + key(0, ord("r")) + update(1)
            + set_pixel_format(PF16) + set_encodings(RAW, DESKTOP_SIZE) + update(0, 5, 5, 30, 20)
            + key(1, ord("r")) + update(1) + update(0)
            + cut_text(b"hello") + update(1))


def formats():
    """ClientInit, then an update in each pixel format, Raw and Hextile."""
    out = b"\x01"
    for pf in (PF32_BE, PF16_BE, PF8, PF16):
        for enc in (RAW, HEXTILE):
            out += set_pixel_format(pf) + set_encodings(enc) + update(0)
    return out


def vencrypt(subtype, minor=8):
    return version(minor) + bytes([VENCRYPT]) + b"\x00\x02" + struct.pack(">I", subtype)


CLIENT_HELLO = b"\x16\x03\x01\x00\x05hello"


def websocket_upgrade():
    return (b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Protocol: binary\r\n\r\n")


def frame(payload):
    """A binary frame as a client sends it, masked (with a zero key, so the payload
    shows as it is)."""
    n = len(payload)
    length = bytes([0x80 | n]) if n < 126 else struct.pack(">BH", 0x80 | 126, n)
    return b"\x82" + length + b"\0\0\0\0" + payload


def seeds():
    plain = version(8) + bytes([1])
    yield "none-38", 0, plain + session()
    yield "none-37", 0, version(7) + bytes([1]) + session()
    yield "none-33", 0, version(3) + session()
    yield "none-38-bytewise", CHUNK_1, plain + session()
    yield "none-38-silent", SILENT | CHUNK_7, plain + session()[:-10]
    yield "formats", PRELUDE_SECURITY, formats()
    yield "no-desktop-size", PRELUDE_SECURITY, (b"\x01" + set_encodings(RAW) + update(0)
                                                + key(1, ord("R")) + update(1))
    yield "bad-version", 0, b"RFB 002.000\n"
    yield "wrong-type", 0, version(8) + bytes([2])
    yield "unknown-message", PRELUDE_SECURITY, b"\x01\x07" + bytes(20)
    # A failure in the turn whose update filled the socket: the connection must still
    # end (it waited on a watch for nothing, never freed).
    yield "fail-while-blocked", PRELUDE_SECURITY, b"\x01" + update(0) + update(0) + b"\x07"
    yield "cut-text-limit", PRELUDE_SECURITY, b"\x01" + struct.pack(">B3xI", 6, (1 << 20) + 1)
    # Cut text past the 4096-byte piece: this seed also raises libFuzzer's input size
    # limit (the largest seed's size, if more than 4096) so that mutations get there.
    yield "cut-text-long", PRELUDE_SECURITY | CHUNK_100_NO_PEEK, b"\x01" + cut_text(b"x" * 4200) + update(0)
    # VNC Authentication: the fuzzed bytes answer, or the harness does.
    yield "vnc-38-answer", SEC_VNC, version(8) + bytes([2]) + bytes(16)
    yield "vnc-33-answer", SEC_VNC, version(3) + bytes(16) + b"\x01"
    yield "vnc-challenge", SEC_VNC | PRELUDE_CHALLENGE, bytes(16) + b"\x01"
    yield "vnc-session", SEC_VNC | PRELUDE_SECURITY, session()
    # VeNCrypt: the negotiation up to the subtype, then TLS (fuzzed, or the harness's).
    yield "vencrypt-tlsnone", SEC_TLS_NONE, vencrypt(TLSNONE) + CLIENT_HELLO
    yield "vencrypt-tlsvnc", SEC_TLS_VNC | CHUNK_7, vencrypt(TLSVNC, 7) + CLIENT_HELLO
    yield "vencrypt-wrong-subtype", SEC_TLS_NONE, vencrypt(X509NONE)
    yield "vencrypt-bad-version", SEC_TLS_VNC, version(8) + bytes([VENCRYPT]) + b"\x00\x01"
    yield "vencrypt-33", SEC_TLS_NONE, version(3)
    yield "tlsnone-session", SEC_TLS_NONE | PRELUDE_SECURITY, session()
    yield "tlsvnc-challenge", SEC_TLS_VNC | PRELUDE_CHALLENGE, bytes(16)
    yield "tlsvnc-session", SEC_TLS_VNC | PRELUDE_SECURITY | CHUNK_100_NO_PEEK, session()
    # Websockets: the upgrade and masked frames fuzzed, or the harness's frames.
    yield "ws-upgrade", WEBSOCKET, (websocket_upgrade() + frame(plain) + frame(session()[:40])
                                    + frame(session()[40:]))
    yield "ws-raw-tls", WEBSOCKET | SEC_TLS_NONE, CLIENT_HELLO
    yield "ws-plain-refused", WEBSOCKET | SEC_TLS_NONE, websocket_upgrade()
    yield "ws-rfb", WEBSOCKET | PRELUDE_TRANSPORT | SEC_VNC, version(8) + bytes([2]) + bytes(16)
    yield "ws-session", WEBSOCKET | PRELUDE_SECURITY | CHUNK_7, session()
    yield "wss-vnc-session", WEBSOCKET | SEC_TLS_VNC | PRELUDE_SECURITY, session()
    # Without peeking, TLS starts in vnc_conn_new(): the socket must stay non-blocking
    # past the handshake (it did not, and the server blocked in a read).
    yield "wss-no-peek", WEBSOCKET | SEC_TLS_NONE | PRELUDE_SECURITY | CHUNK_100_NO_PEEK, session()
    yield "ws-no-peek", WEBSOCKET | CHUNK_100_NO_PEEK, websocket_upgrade() + frame(plain + session())


if __name__ == "__main__":
    write_seeds("vnc_server", seeds())
