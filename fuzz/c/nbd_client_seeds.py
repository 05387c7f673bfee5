#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the nbd_client fuzz target's seeds into fuzz/seeds/nbd_client (or the
directory given): what well-formed (and politely refusing) servers say to the
session fuzz/c/nbd_client.c drives, each after the mode byte it reads first, so that
the fuzzer starts past the magic numbers and knows the cookies the client uses."""

import struct

from seed_files import write_seeds

# nbd_client.c's MODE_* bits and spans.
LIST, WRITE, STARTTLS = 0x01, 0x02, 0x04
CHUNK_1, CHUNK_7 = 1 << 6, 2 << 6  # written a byte, 7 bytes at a time
HEAD_SPAN, TAIL_SPAN = 20000, 1000

# nbd-proto.h.
INIT_MAGIC, OPTS_MAGIC, REP_MAGIC = 0x4E42444D41474943, 0x49484156454F5054, 0x0003E889045565A9
CLISERV_MAGIC = 0x0000420281861253
FIXED_NEWSTYLE, NO_ZEROES = 1, 2
OPT_EXPORT_NAME, OPT_LIST, OPT_STARTTLS, OPT_GO, OPT_STRUCTURED_REPLY = 1, 3, 5, 7, 8
REP_ACK, REP_SERVER, REP_INFO = 1, 2, 3
ERR_UNSUP, ERR_POLICY, ERR_UNKNOWN = (1 << 31) | 1, (1 << 31) | 2, (1 << 31) | 6
INFO_EXPORT, INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE = 0, 1, 2, 3
HAS_FLAGS, READ_ONLY, SEND_FLUSH = 1, 2, 4
SIMPLE_MAGIC, STRUCTURED_MAGIC = 0x67446698, 0x668E33EF
FLAG_DONE = 1
NONE, OFFSET_DATA, OFFSET_HOLE, ERROR, ERROR_OFFSET = 0, 1, 2, (1 << 15) + 1, (1 << 15) + 2
EIO, EINVAL = 5, 22
REQUEST_SIZE, MAX_BUFFER = 2 << 20, 32 << 20  # nbd-client.c's, and the default maximum


def greeting(flags=FIXED_NEWSTYLE | NO_ZEROES):
    return struct.pack(">QQH", INIT_MAGIC, OPTS_MAGIC, flags)


def rep(opt, typ, data=b""):
    return struct.pack(">QIII", REP_MAGIC, opt, typ, len(data)) + data


def info_export(size, flags=HAS_FLAGS | SEND_FLUSH):
    return rep(OPT_GO, REP_INFO, struct.pack(">HQH", INFO_EXPORT, size, flags))


def info_block_size(minimum, preferred, maximum):
    return rep(OPT_GO, REP_INFO, struct.pack(">HIII", INFO_BLOCK_SIZE, minimum, preferred, maximum))


def info_text(item, text):
    return rep(OPT_GO, REP_INFO, struct.pack(">H", item) + text)


def server(name, description=b""):
    return rep(OPT_LIST, REP_SERVER, struct.pack(">I", len(name)) + name + description)


def simple(cookie, error=0, data=b""):
    return struct.pack(">IIQ", SIMPLE_MAGIC, error, cookie) + data


def chunk(cookie, typ, payload=b"", flags=0):
    return struct.pack(">IHHQI", STRUCTURED_MAGIC, flags, typ, cookie, len(payload)) + payload


def data_chunk(cookie, offset, data, flags=0):
    return chunk(cookie, OFFSET_DATA, struct.pack(">Q", offset) + data, flags)


def hole_chunk(cookie, offset, count, flags=0):
    return chunk(cookie, OFFSET_HOLE, struct.pack(">QI", offset, count), flags)


def error_chunk(cookie, error, message, offset=None):
    payload = struct.pack(">IH", error, len(message)) + message
    if offset is None:
        return chunk(cookie, ERROR, payload, FLAG_DONE)
    return chunk(cookie, ERROR_OFFSET, payload + struct.pack(">Q", offset), FLAG_DONE)


class Session:
    """The requests nbd-client.c's transfers make of an export: (cookie, offset,
    length), cookies counting from 1 across the session."""

    def __init__(self, size, minimum=1, maximum=MAX_BUFFER):
        self.size, self.min, self.max = size, minimum, maximum
        self.cookie = 0

    def transfer(self, start, end):
        nxt = start // self.min * self.min
        pad = -end % self.min
        stop = end + pad if self.size - end >= pad else self.size
        step = min(REQUEST_SIZE, self.max) // self.min * self.min
        requests = []
        while nxt < stop:
            self.cookie += 1
            length = min(step, stop - nxt)
            requests.append((self.cookie, nxt, length))
            nxt += length
        return requests

    def reads(self):
        """The head's and the tail's requests."""
        return (self.transfer(0, min(self.size, HEAD_SPAN)),
                self.transfer(self.size - min(self.size, TAIL_SPAN), self.size))

    def write(self):
        return self.transfer(0, min(self.size, HEAD_SPAN) // self.min * self.min)

    def flush(self):
        self.cookie += 1
        return self.cookie


def pattern(offset, length):
    return bytes((offset + i) * 7 & 0xFF for i in range(length))


def structured_replies(requests):
    """Each read answered in reverse order: a hole, then data in two chunks, the
    last one DONE."""
    out = b""
    for cookie, offset, length in reversed(requests):
        hole, rest = length // 4, length - length // 4
        half = rest // 2
        if hole:
            out += hole_chunk(cookie, offset, hole)
        out += data_chunk(cookie, offset + hole + half, pattern(offset + hole + half, rest - half))
        out += data_chunk(cookie, offset + hole, pattern(offset + hole, half), FLAG_DONE) if half else \
            chunk(cookie, NONE, flags=FLAG_DONE)
    return out


def simple_replies(requests, read=True):
    return b"".join(simple(c, data=pattern(o, n) if read else b"") for c, o, n in requests)


def go_structured(size=(1 << 20) + 123, flags=HAS_FLAGS | SEND_FLUSH):
    """The negotiation of a modern server with 512-byte blocks of at most 4096."""
    return (greeting() + rep(OPT_STRUCTURED_REPLY, REP_ACK)
            + info_text(INFO_NAME, b"disk") + info_text(INFO_DESCRIPTION, b"a fuzzed disk")
            + info_block_size(512, 4096, 4096) + info_export(size, flags) + rep(OPT_GO, REP_ACK)), \
        Session(size, 512, 4096)


def seeds():
    nego, s = go_structured()
    head, tail = s.reads()
    reads = structured_replies(head) + structured_replies(tail)
    yield "go-structured", 0, nego + reads
    yield "go-structured-bytewise", CHUNK_1, nego + reads
    yield "go-structured-by-7", CHUNK_7, nego + reads
    writes = s.write()
    yield "go-structured-write", WRITE, (nego + reads
                                         + b"".join(chunk(c, NONE, flags=FLAG_DONE) for c, _, _ in writes)
                                         + chunk(s.flush(), NONE, flags=FLAG_DONE))

    # Without structured replies or block sizes: one request a range.
    s = Session(30000)
    head, tail = s.reads()
    writes = s.write()
    yield "go-simple-write", WRITE, (greeting() + rep(OPT_STRUCTURED_REPLY, ERR_UNSUP)
                                     + info_export(30000) + rep(OPT_GO, REP_ACK)
                                     + simple_replies(head) + simple_replies(tail)
                                     + simple_replies(writes, read=False) + simple(s.flush()))

    # NBD_OPT_GO unknown: NBD_OPT_EXPORT_NAME, whose reply has 124 zeroes without NO_ZEROES.
    s = Session(5000)
    head, tail = s.reads()
    yield "export-name", 0, (greeting(FIXED_NEWSTYLE) + rep(OPT_STRUCTURED_REPLY, ERR_UNSUP)
                             + rep(OPT_GO, ERR_UNSUP) + struct.pack(">QH", 5000, HAS_FLAGS) + bytes(124)
                             + simple_replies(head) + simple_replies(tail))
    s = Session(5000)
    head, tail = s.reads()
    yield "export-name-structured", 0, (greeting() + rep(OPT_STRUCTURED_REPLY, REP_ACK)
                                        + rep(OPT_GO, ERR_UNSUP) + struct.pack(">QH", 5000, HAS_FLAGS)
                                        + structured_replies(head) + structured_replies(tail))

    yield "list", LIST, (greeting() + server(b"disk", b"a fuzzed disk") + server(b"")
                         + server(b"other") + rep(OPT_LIST, REP_ACK))
    yield "list-refused", LIST, greeting() + rep(OPT_LIST, ERR_POLICY, b"listing is not allowed")
    yield "go-unknown", 0, (greeting() + rep(OPT_STRUCTURED_REPLY, REP_ACK)
                            + rep(OPT_GO, ERR_UNKNOWN, b"export 'disk' not present"))

    # Failed reads: error chunks and a simple error.
    nego, s = go_structured()
    head, _ = s.reads()
    cookie, offset, _ = head[1]
    yield "read-error-offset", 0, nego + error_chunk(cookie, EIO, b"bad sector", offset + 100)
    yield "read-error", 0, nego + hole_chunk(cookie, offset, 512) + error_chunk(cookie, EINVAL, b"")
    s = Session(30000)
    head, _ = s.reads()
    yield "read-simple-error", 0, (greeting() + rep(OPT_STRUCTURED_REPLY, ERR_UNSUP)
                                   + info_export(30000) + rep(OPT_GO, REP_ACK) + simple(head[0][0], EIO))

    # Regressions: the first half of a read covered twice, which completed it with
    # the rest of its buffer unwritten (ASan's malloc fill, passed off as a hole), and
    # a reply to cookie 0, which matched request slots not in flight.
    nego, s = go_structured()
    cookie, offset, length = s.reads()[0][0]
    yield "overlapping-holes", 0, (nego + hole_chunk(cookie, offset, length // 2)
                                   + hole_chunk(cookie, offset, length // 2, FLAG_DONE))
    yield "cookie-zero", 0, nego + chunk(0, NONE, flags=FLAG_DONE)

    # Sizes at the edges: none, and the largest, with the largest minimum block.
    yield "size-zero", WRITE, (greeting() + rep(OPT_STRUCTURED_REPLY, REP_ACK) + info_export(0)
                               + rep(OPT_GO, REP_ACK) + chunk(1, NONE, flags=FLAG_DONE))
    size = (1 << 64) - 1
    s = Session(size, 65536, (1 << 32) - 1)
    head, tail = s.reads()
    yield "size-max", 0, (greeting() + rep(OPT_STRUCTURED_REPLY, REP_ACK)
                          + info_block_size(65536, 65536, (1 << 32) - 1) + info_export(size, HAS_FLAGS | READ_ONLY)
                          + rep(OPT_GO, REP_ACK)
                          + b"".join(hole_chunk(c, o, n, FLAG_DONE) for c, o, n in head + tail))

    # STARTTLS: refused, or agreed and followed by a TLS alert instead of a ServerHello.
    yield "starttls-refused", STARTTLS, greeting() + rep(OPT_STARTTLS, ERR_POLICY, b"no TLS here")
    yield "starttls-alert", STARTTLS, (greeting() + rep(OPT_STARTTLS, REP_ACK)
                                       + bytes([21, 3, 3, 0, 2, 2, 40]))
    yield "oldstyle", 0, struct.pack(">QQQH", INIT_MAGIC, CLISERV_MAGIC, 1 << 20, 0) + bytes(124)


if __name__ == "__main__":
    write_seeds("nbd_client", seeds())
