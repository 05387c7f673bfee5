/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The NBD protocol's wire constants and byte-order helpers, shared by qio-nbd and
 * qio-nbd-client. Names and values follow the protocol document
 * (https://github.com/NetworkBlockDevice/nbd/blob/master/doc/proto.md) and QEMU's
 * include/block/nbd.h. Every integer on the wire is big-endian. */

#ifndef QIO_NBD_PROTO_H
#define QIO_NBD_PROTO_H

#include <stdint.h>
#include <string.h>

/* The server's greeting: NBDMAGIC, then IHAVEOPT for the (fixed) newstyle handshake. */
#define NBD_INIT_MAGIC 0x4e42444d41474943ULL /* "NBDMAGIC" */
#define NBD_OPTS_MAGIC 0x49484156454F5054ULL /* "IHAVEOPT" */
#define NBD_REP_MAGIC 0x0003e889045565a9ULL  /* option replies */
/* In place of IHAVEOPT: the oldstyle handshake, without options (nor TLS). */
#define NBD_CLISERV_MAGIC 0x0000420281861253ULL

/* Handshake flags (server, 16 bits) and client flags (32 bits). */
#define NBD_FLAG_FIXED_NEWSTYLE (1u << 0)
#define NBD_FLAG_NO_ZEROES (1u << 1)
#define NBD_FLAG_C_FIXED_NEWSTYLE NBD_FLAG_FIXED_NEWSTYLE
#define NBD_FLAG_C_NO_ZEROES NBD_FLAG_NO_ZEROES

/* Options. */
enum {
    NBD_OPT_EXPORT_NAME = 1,
    NBD_OPT_ABORT = 2,
    NBD_OPT_LIST = 3,
    NBD_OPT_STARTTLS = 5,
    NBD_OPT_INFO = 6,
    NBD_OPT_GO = 7,
    NBD_OPT_STRUCTURED_REPLY = 8,
};

/* Option reply types; the errors have bit 31 set. */
#define NBD_REP_ERR(value) ((1u << 31) | (value))
enum {
    NBD_REP_ACK = 1,
    NBD_REP_SERVER = 2,
    NBD_REP_INFO = 3,
};
#define NBD_REP_ERR_UNSUP NBD_REP_ERR(1)
#define NBD_REP_ERR_POLICY NBD_REP_ERR(2)
#define NBD_REP_ERR_INVALID NBD_REP_ERR(3)
#define NBD_REP_ERR_PLATFORM NBD_REP_ERR(4)
#define NBD_REP_ERR_TLS_REQD NBD_REP_ERR(5)
#define NBD_REP_ERR_UNKNOWN NBD_REP_ERR(6)
#define NBD_REP_ERR_SHUTDOWN NBD_REP_ERR(7)
#define NBD_REP_ERR_BLOCK_SIZE_REQD NBD_REP_ERR(8)
#define NBD_REP_ERR_TOO_BIG NBD_REP_ERR(9)

/* NBD_REP_INFO items. */
enum {
    NBD_INFO_EXPORT = 0,
    NBD_INFO_NAME = 1,
    NBD_INFO_DESCRIPTION = 2,
    NBD_INFO_BLOCK_SIZE = 3,
};

/* Transmission flags (16 bits, in NBD_INFO_EXPORT and the EXPORT_NAME reply). */
#define NBD_FLAG_HAS_FLAGS (1u << 0)
#define NBD_FLAG_READ_ONLY (1u << 1)
#define NBD_FLAG_SEND_FLUSH (1u << 2)
#define NBD_FLAG_SEND_FUA (1u << 3)
#define NBD_FLAG_ROTATIONAL (1u << 4)
#define NBD_FLAG_SEND_TRIM (1u << 5)
#define NBD_FLAG_SEND_WRITE_ZEROES (1u << 6)
#define NBD_FLAG_SEND_DF (1u << 7)
#define NBD_FLAG_CAN_MULTI_CONN (1u << 8)
#define NBD_FLAG_SEND_RESIZE (1u << 9)
#define NBD_FLAG_SEND_CACHE (1u << 10)
#define NBD_FLAG_SEND_FAST_ZERO (1u << 11)

/* Requests: a 28-byte header, then the data of a WRITE. */
#define NBD_REQUEST_MAGIC 0x25609513u
#define NBD_REQUEST_SIZE 28
enum {
    NBD_CMD_READ = 0,
    NBD_CMD_WRITE = 1,
    NBD_CMD_DISC = 2,
    NBD_CMD_FLUSH = 3,
    NBD_CMD_TRIM = 4,
    NBD_CMD_WRITE_ZEROES = 6,
};
#define NBD_CMD_FLAG_FUA (1u << 0)
#define NBD_CMD_FLAG_NO_HOLE (1u << 1)
#define NBD_CMD_FLAG_DF (1u << 2)

/* Replies: simple (16 bytes, then a READ's data) or structured chunks (20 bytes, then
 * the payload). */
#define NBD_SIMPLE_REPLY_MAGIC 0x67446698u
#define NBD_SIMPLE_REPLY_SIZE 16
#define NBD_STRUCTURED_REPLY_MAGIC 0x668e33efu
#define NBD_STRUCTURED_REPLY_SIZE 20
#define NBD_REPLY_FLAG_DONE (1u << 0)
enum {
    NBD_REPLY_TYPE_NONE = 0,
    NBD_REPLY_TYPE_OFFSET_DATA = 1,
    NBD_REPLY_TYPE_OFFSET_HOLE = 2,
    NBD_REPLY_TYPE_ERROR = (1 << 15) + 1,
    NBD_REPLY_TYPE_ERROR_OFFSET = (1 << 15) + 2,
};
/* Error chunks, the known ones and any later ones, have bit 15 set. */
#define NBD_REPLY_TYPE_IS_ERR(type) (((type) & (1u << 15)) != 0)

/* Error values on the wire (the protocol's, not the host's errno). */
enum {
    NBD_SUCCESS = 0,
    NBD_EPERM = 1,
    NBD_EIO = 5,
    NBD_ENOMEM = 12,
    NBD_EINVAL = 22,
    NBD_ENOSPC = 28,
    NBD_EOVERFLOW = 75,
    NBD_ENOTSUP = 95,
    NBD_ESHUTDOWN = 108,
};

/* Limits. A string (export name, description) is at most 4096 bytes (the protocol's
 * and QEMU's NBD_MAX_STRING_SIZE); a request moves at most 32 MiB (QEMU's
 * NBD_MAX_BUFFER_SIZE). The default TCP port is 10809. */
#define NBD_MAX_STRING_SIZE 4096
#define NBD_MAX_BUFFER_SIZE (32u * 1024 * 1024)
#define NBD_DEFAULT_PORT 10809

/* An option's name for messages. */
static inline const char *nbd_option_name(uint32_t option)
{
    static const char *const names[] = {
        [NBD_OPT_EXPORT_NAME] = "NBD_OPT_EXPORT_NAME", [NBD_OPT_ABORT] = "NBD_OPT_ABORT",
        [NBD_OPT_LIST] = "NBD_OPT_LIST",               [NBD_OPT_STARTTLS] = "NBD_OPT_STARTTLS",
        [NBD_OPT_INFO] = "NBD_OPT_INFO",               [NBD_OPT_GO] = "NBD_OPT_GO",
        [NBD_OPT_STRUCTURED_REPLY] = "NBD_OPT_STRUCTURED_REPLY",
    };
    return option < sizeof(names) / sizeof(names[0]) && names[option] ? names[option] : "an unknown option";
}

static inline void nbd_put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
}

static inline void nbd_put32(uint8_t *p, uint32_t v)
{
    nbd_put16(p, v >> 16);
    nbd_put16(p + 2, v);
}

static inline void nbd_put64(uint8_t *p, uint64_t v)
{
    nbd_put32(p, v >> 32);
    nbd_put32(p + 4, v);
}

static inline uint16_t nbd_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t nbd_get32(const uint8_t *p)
{
    return (uint32_t)nbd_get16(p) << 16 | nbd_get16(p + 2);
}

static inline uint64_t nbd_get64(const uint8_t *p)
{
    return (uint64_t)nbd_get32(p) << 32 | nbd_get32(p + 4);
}

#endif
