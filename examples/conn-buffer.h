/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* ConnBuffer: the two byte buffers of an example server's connection (qio-nbd's
 * NbdConn, qio-vnc-demo's VncConn). IN collects exactly the bytes the connection's
 * current step wants; OUT queues what is still to be written. Every size a peer
 * asks for has been checked by the caller before it reaches here. Header-only, as
 * serve-loop.h, so that each program builds from its own sources. */

#ifndef QIO_EXAMPLES_CONN_BUFFER_H
#define QIO_EXAMPLES_CONN_BUFFER_H

#include <qio.h>

#include <string.h>

/* Beyond this, a buffer grows by what it needs plus this much, not by doubling. */
#define CONN_BUFFER_SLACK (1u << 20)

typedef struct {
    uint8_t *in;
    size_t in_have, in_want, in_size;
    uint8_t *out;
    size_t out_done, out_len, out_size;
} ConnBuffer;

/* Grows *BUF to hold SIZE bytes. */
static inline void conn_buffer_reserve(uint8_t **buf, size_t *capacity, size_t size)
{
    if (size > *capacity) {
        *capacity = MAX(size, MIN(2 * *capacity, size + CONN_BUFFER_SLACK));
        *buf = g_realloc(*buf, *capacity);
    }
}

/* The bytes queued and not yet written. */
static inline size_t conn_buffer_pending(const ConnBuffer *b)
{
    return b->out_len - b->out_done;
}

/* Room for N more bytes of output, which count as queued. What is written already
 * makes room first, so that OUT never holds more than it has pending plus N. */
static inline uint8_t *conn_buffer_append(ConnBuffer *b, size_t n)
{
    if (b->out_done) {
        memmove(b->out, b->out + b->out_done, conn_buffer_pending(b));
        b->out_len -= b->out_done;
        b->out_done = 0;
    }
    conn_buffer_reserve(&b->out, &b->out_size, b->out_len + n);
    b->out_len += n;
    return b->out + b->out_len - n;
}

/* Reads until IN holds WANT bytes, keeping what it has unless FRESH (a new message). */
static inline void conn_buffer_want(ConnBuffer *b, size_t want, gboolean fresh)
{
    if (fresh) {
        b->in_have = 0;
    }
    conn_buffer_reserve(&b->in, &b->in_size, want);
    b->in_want = want;
}

/* Writes what is queued to IOC. Returns 1 once it is all written (OUT is then
 * released if it grew past KEEP bytes), QIO_CHANNEL_ERR_BLOCK, or -1 with ERRP set. */
static inline int conn_buffer_flush(ConnBuffer *b, QIOChannel *ioc, size_t keep, GError **errp)
{
    while (conn_buffer_pending(b)) {
        ssize_t n = qio_channel_write(ioc, (const char *)b->out + b->out_done, conn_buffer_pending(b), errp);
        if (n < 0) {
            return (int)n;
        }
        b->out_done += n;
    }
    b->out_done = b->out_len = 0;
    if (b->out_size > keep) {
        g_clear_pointer(&b->out, g_free);
        b->out_size = 0;
    }
    return 1;
}

/* Reads from IOC (with qio_channel_readv_full()'s FLAGS) toward what IN wants.
 * Returns the bytes read, 0 at end of file, QIO_CHANNEL_ERR_BLOCK, or -1. */
static inline ssize_t conn_buffer_fill(ConnBuffer *b, QIOChannel *ioc, int flags, GError **errp)
{
    struct iovec iov = { .iov_base = b->in + b->in_have, .iov_len = b->in_want - b->in_have };
    ssize_t n = qio_channel_readv_full(ioc, &iov, 1, NULL, NULL, flags, errp);
    if (n > 0) {
        b->in_have += n;
    }
    return n;
}

static inline void conn_buffer_clear(ConnBuffer *b)
{
    g_free(b->in);
    g_free(b->out);
    *b = (ConnBuffer){ 0 };
}

#endif
