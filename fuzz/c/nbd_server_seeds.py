#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes the nbd_server fuzz target's seeds into fuzz/seeds/nbd_server (or the
directory given): well-formed client byte streams, each after the mode byte that
fuzz/c/nbd_server.c reads first, so that the fuzzer starts past the magic numbers."""

import struct

from seed_files import write_seeds

# nbd_server.c's MODE_* bits.
TLS, READONLY, LUKS, OTHER_NAME, HANDSHAKE, SILENT = 0x01, 0x02, 0x04, 0x08, 0x10, 0x20
CHUNK_1, CHUNK_7 = 1 << 6, 2 << 6  # written a byte, 7 bytes at a time

# nbd-proto.h.
OPTS_MAGIC = 0x49484156454F5054
REQUEST_MAGIC = 0x25609513
EXPORT_NAME, ABORT, LIST, STARTTLS, INFO, GO, STRUCTURED_REPLY = 1, 2, 3, 5, 6, 7, 8
INFO_EXPORT, INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE = 0, 1, 2, 3
READ, WRITE, DISC, FLUSH, TRIM, WRITE_ZEROES = 0, 1, 2, 3, 4, 6
FLAG_FUA, FLAG_NO_HOLE, FLAG_DF = 1, 2, 4
FIXED_NEWSTYLE, NO_ZEROES = 1, 2

SIZE = (1 << 20) + 123  # nbd_server.c's PLAIN_SIZE


def option(opt, data=b""):
    return struct.pack(">QII", OPTS_MAGIC, opt, len(data)) + data


def name_info(name=b"disk", infos=()):
    """The data of NBD_OPT_INFO and NBD_OPT_GO."""
    return (struct.pack(">I", len(name)) + name + struct.pack(">H", len(infos))
            + b"".join(struct.pack(">H", i) for i in infos))


def request(cmd, offset=0, length=0, flags=0, cookie=1, data=b""):
    return struct.pack(">IHHQQI", REQUEST_MAGIC, flags, cmd, cookie, offset, length) + data


def every_request():
    return (request(READ, 0, 4096, cookie=1)
            + request(WRITE, 1000, 100, cookie=2, data=bytes(range(100)))
            + request(WRITE, SIZE - 10, 10, FLAG_FUA, cookie=3, data=b"\xaa" * 10)
            + request(READ, SIZE - 700, 700, cookie=4)
            + request(FLUSH, cookie=5)
            + request(TRIM, 4096, 8192, cookie=6)
            + request(WRITE_ZEROES, 512, 1000, cookie=7)
            + request(WRITE_ZEROES, 65536, 65536, FLAG_NO_HOLE, cookie=8)
            + request(READ, SIZE, 1, cookie=9)  # past the end: EINVAL
            + request(DISC, cookie=10))


def seeds():
    flags = struct.pack(">I", FIXED_NEWSTYLE | NO_ZEROES)
    go = option(GO, name_info())
    yield "go-requests", 0, flags + go + every_request()
    yield "go-requests-bytewise", CHUNK_1, flags + go + every_request()
    yield "go-readonly-write", READONLY, flags + go + every_request()
    yield "go-luks", LUKS, flags + go + every_request()
    yield "go-silent", SILENT | CHUNK_7, flags + go + every_request()[:-28]
    yield "go-empty-name", OTHER_NAME, flags + option(GO, name_info(b"")) + every_request()
    yield "list", OTHER_NAME, flags + option(LIST) + option(ABORT)
    yield "info", OTHER_NAME, (flags
                               + option(INFO, name_info(b"", (INFO_NAME, INFO_DESCRIPTION,
                                                                   INFO_BLOCK_SIZE)))
                               + option(INFO, name_info(b"disk"))
                               + option(ABORT))
    yield "structured-reply", 0, (flags + option(STRUCTURED_REPLY) + go
                                  + request(READ, 0, 4096, cookie=1)
                                  + request(READ, 100, 100, FLAG_DF, cookie=2)
                                  + request(READ, SIZE - 1, 2, cookie=3)
                                  + request(DISC, cookie=4))
    yield "export-name", 0, (struct.pack(">I", FIXED_NEWSTYLE) + option(EXPORT_NAME, b"disk")
                             + request(READ, 0, 512) + request(WRITE, 0, 3, data=b"abc")
                             + request(DISC))
    yield "starttls", TLS, flags + option(STARTTLS) + b"\x16\x03\x01\x00\x05hello"
    yield "starttls-silent", TLS | SILENT, flags + option(STARTTLS)
    # After the harness's STARTTLS and handshake: options and requests through TLS.
    yield "tls-go-requests", TLS | HANDSHAKE, go + every_request()
    yield "tls-options", TLS | HANDSHAKE | OTHER_NAME, (option(STARTTLS) + option(LIST)
                                                        + option(INFO, name_info(b"", (INFO_NAME,)))
                                                        + option(STRUCTURED_REPLY)
                                                        + option(EXPORT_NAME, b"")
                                                        + request(READ, 0, 100000) + request(DISC))
    yield "tls-required", TLS, flags + go + option(LIST) + option(ABORT)
    yield "starttls-plaintext", 0, flags + option(STARTTLS) + option(ABORT)
    yield "abort", 0, flags + option(ABORT)
    yield "unknown-option", 0, flags + option(42, b"xyz") + option(ABORT)
    # Names one byte past the limit: this seed also raises libFuzzer's input size limit
    # (the largest seed's size, if more than 4096) so that mutations can get there.
    yield "long-names", 0, (flags + option(GO, name_info(b"n" * 4097))
                            + option(EXPORT_NAME, b"n" * 4097))


if __name__ == "__main__":
    write_seeds("nbd_server", seeds())
