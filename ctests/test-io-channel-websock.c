/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QIOChannelWebsock through <qio.h>: a qio client and server over a socketpair with
 * their handshakes driven by the default main context, 1 MB both ways blocking and
 * non-blocking; a raw peer sending QEMU's good and bad upgrade requests and the
 * frames each rule is about; a ping flood from a peer that never reads; watches woken
 * by buffered frames; the handshake closed and unreffed midway (CVE-2025-11234); and
 * misuse. */

#include "qio-test.h"

#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int calls;
    int destroyed;
    GError *error;
} Outcome;

static void handshake_done(QIOTask *task, gpointer opaque)
{
    Outcome *o = opaque;
    o->calls++;
    qio_task_propagate_error(task, &o->error);
}

static void outcome_destroy(gpointer opaque)
{
    ((Outcome *)opaque)->destroyed++;
}

/* Two connected socket channels, non-blocking; B's send buffer as small as the
 * kernel allows if SMALL_SNDBUF. */
static void socket_pair_full(QIOChannel **a, QIOChannel **b, gboolean small_sndbuf)
{
    g_autoptr(GError) error = NULL;
    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    if (small_sndbuf) {
        int one = 1;
        g_assert_cmpint(setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &one, sizeof(one)), ==, 0);
    }
    *a = qio_channel_new_fd(sv[0], &error);
    *b = qio_channel_new_fd(sv[1], &error);
    g_assert_no_error(error);
    g_assert_true(qio_channel_set_blocking(*a, FALSE, &error));
    g_assert_true(qio_channel_set_blocking(*b, FALSE, &error));
}

static void socket_pair(QIOChannel **a, QIOChannel **b)
{
    socket_pair_full(a, b, FALSE);
}

/* Iterates the default context until every outcome reported, or a bounded while. */
static void pump(Outcome *a, Outcome *b)
{
    for (int i = 0; i < 2000 && (!a->calls || (b && !b->calls)); i++) {
        g_main_context_iteration(NULL, FALSE);
        g_usleep(100);
    }
    g_assert_cmpint(a->calls, ==, 1);
    g_assert_cmpint(a->destroyed, ==, 1);
    if (b) {
        g_assert_cmpint(b->calls, ==, 1);
        g_assert_cmpint(b->destroyed, ==, 1);
    }
}

typedef struct {
    QIOChannelWebsock *client, *server;
} WsPair;

static void ws_pair_open(WsPair *p, const char *const *protocols)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QIOChannel) a = NULL, b = NULL;
    socket_pair(&a, &b);
    p->client = qio_channel_websock_new_client(a, "localhost:5700", "/", protocols, &error);
    g_assert_no_error(error);
    p->server = qio_channel_websock_new_server(b);
    Outcome c = { 0 }, s = { 0 };
    qio_channel_websock_handshake(p->client, handshake_done, &c, outcome_destroy);
    qio_channel_websock_handshake(p->server, handshake_done, &s, outcome_destroy);
    pump(&c, &s);
    g_assert_no_error(c.error);
    g_assert_no_error(s.error);
}

static void ws_pair_clear(WsPair *p)
{
    qio_channel_unref(QIO_CHANNEL(p->client));
    qio_channel_unref(QIO_CHANNEL(p->server));
}

static void test_transfer(void)
{
    const char *const protocols[] = { "binary", NULL };
    WsPair p;
    ws_pair_open(&p, protocols);
    g_autofree char *client_protocol = qio_channel_websock_get_protocol(p.client);
    g_autofree char *server_protocol = qio_channel_websock_get_protocol(p.server);
    g_assert_cmpstr(client_protocol, ==, "binary");
    g_assert_cmpstr(server_protocol, ==, "binary");
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(p.server), QIO_CHANNEL_FEATURE_SHUTDOWN));
    qio_test_transfer(QIO_CHANNEL(p.client), QIO_CHANNEL(p.server), TRUE);
    qio_test_transfer(QIO_CHANNEL(p.server), QIO_CHANNEL(p.client), TRUE);
    qio_test_transfer(QIO_CHANNEL(p.client), QIO_CHANNEL(p.server), FALSE);
    qio_test_transfer(QIO_CHANNEL(p.server), QIO_CHANNEL(p.client), FALSE);
    ws_pair_clear(&p);

    /* No subprotocol asked for, none agreed. */
    ws_pair_open(&p, NULL);
    g_assert_null(qio_channel_websock_get_protocol(p.client));
    g_assert_null(qio_channel_websock_get_protocol(p.server));
    ws_pair_clear(&p);
}

/* ---- A raw peer against the qio server ---- */

typedef struct {
    QIOChannel *peer;
    QIOChannelWebsock *server;
    Outcome outcome;
} RawPeer;

/* Sends REQUEST to a fresh qio server (with a small send buffer if SMALL_SNDBUF)
 * and runs its handshake to the end. */
static void raw_peer_handshake_full(RawPeer *r, const char *request, gboolean small_sndbuf)
{
    g_autoptr(GError) error = NULL;
    QIOChannel *b;
    socket_pair_full(&r->peer, &b, small_sndbuf);
    r->server = qio_channel_websock_new_server(b);
    qio_channel_unref(b);
    memset(&r->outcome, 0, sizeof(r->outcome));
    g_assert_cmpint(qio_channel_write_all(r->peer, request, strlen(request), &error), ==, 0);
    qio_channel_websock_handshake(r->server, handshake_done, &r->outcome, outcome_destroy);
    pump(&r->outcome, NULL);
}

static void raw_peer_handshake(RawPeer *r, const char *request)
{
    raw_peer_handshake_full(r, request, FALSE);
}

static void raw_peer_clear(RawPeer *r)
{
    g_clear_error(&r->outcome.error);
    qio_channel_unref(r->peer);
    qio_channel_unref(QIO_CHANNEL(r->server));
}

/* Everything the peer has received so far, as a string. */
static char *raw_peer_received(RawPeer *r)
{
    GString *got = g_string_new(NULL);
    char buf[4096];
    ssize_t n;
    while ((n = qio_channel_read(r->peer, buf, sizeof(buf), NULL)) > 0) {
        g_string_append_len(got, buf, n);
    }
    return g_string_free(got, FALSE);
}

/* Everything the peer receives while the default main context runs the server's
 * pump, until nothing more comes for 100 iterations (a bounded number in all), with
 * its length in LEN. */
static char *raw_peer_received_pumped(RawPeer *r, gsize *len)
{
    GString *got = g_string_new(NULL);
    for (int i = 0, quiet = 0; i < 20000 && quiet < 100; i++, quiet++) {
        g_main_context_iteration(NULL, FALSE);
        char buf[4096];
        ssize_t n;
        while ((n = qio_channel_read(r->peer, buf, sizeof(buf), NULL)) > 0) {
            g_string_append_len(got, buf, n);
            quiet = 0;
        }
        g_usleep(100);
    }
    *len = got->len;
    return g_string_free(got, FALSE);
}

#define GOOD_HEADERS                                                                     \
    "Host: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"                    \
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"

/* QEMU's bad handshakes (upstream's test-io-channel-websock.c): each gets a reply
 * beginning STATUS and fails with MESSAGE. */
static void test_bad_requests(void)
{
    g_autofree char *too_big = g_strdup_printf("GET / HTTP/1.1\r\nX: %0*d\r\n\r\n", 5000, 0);
    GString *many = g_string_new("GET / HTTP/1.1\r\n" GOOD_HEADERS);
    for (int i = 0; i < 32; i++) {
        g_string_append_printf(many, "X-%d: %d\r\n", i, i);
    }
    g_string_append(many, "\r\n");
    const struct {
        const char *request, *status, *message;
    } cases[] = {
        { "GET/HTTP/1.1\r\n" GOOD_HEADERS "\r\n", "HTTP/1.1 400 Bad Request",
          "Malformed HTTP request: invalid token" },
        { "GET\r\n" GOOD_HEADERS "\r\n", "HTTP/1.1 400 Bad Request", "Malformed HTTP request: invalid token" },
        { "GET /\r\n" GOOD_HEADERS "\r\n", "HTTP/1.1 400 Bad Request", "Malformed HTTP request: invalid token" },
        { "POST / HTTP/1.1\r\n" GOOD_HEADERS "\r\n", "HTTP/1.1 400 Bad Request", "Unsupported HTTP method POST" },
        { "GET / HTTP/1.0\r\n" GOOD_HEADERS "\r\n", "HTTP/1.1 400 Bad Request",
          "Unsupported HTTP version HTTP/1.0" },
        { "GET /vnc HTTP/1.1\r\n" GOOD_HEADERS "\r\n", "HTTP/1.1 404 Not Found", "Unexpected HTTP path /vnc" },
        { "GET / HTTP/1.1\r\n" GOOD_HEADERS "Sec-WebSocket-Protocol: chat\r\n\r\n", "HTTP/1.1 400 Bad Request",
          "No 'binary' protocol is supported by client 'chat'" },
        { "GET / HTTP/1.1\r\nHost: h\r\n\r\n", "HTTP/1.1 400 Bad Request", "Missing websocket version header data" },
        { too_big, "HTTP/1.1 403 Request Entity Too Large", "End of headers not found in first 4096 bytes" },
        { many->str, "HTTP/1.1 403 Request Entity Too Large", "More than 32 HTTP headers" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        RawPeer r;
        raw_peer_handshake(&r, cases[i].request);
        g_assert_error(r.outcome.error, QIO_ERROR, QIO_ERROR_FAILED);
        g_assert_cmpstr(r.outcome.error->message, ==, cases[i].message);
        g_autofree char *reply = raw_peer_received(&r);
        g_assert_true(g_str_has_prefix(reply, cases[i].status));
        g_assert_true(g_str_has_suffix(reply, "\r\nConnection: close\r\n\r\n") ||
                      g_str_has_suffix(reply, "\r\nSec-WebSocket-Version: 13\r\n\r\n"));
        raw_peer_clear(&r);
    }
    g_string_free(many, TRUE);
}

/* A frame as a client sends it: B0 (FIN and opcode) then the payload masked. */
static GByteArray *masked_frame(guint8 b0, const void *payload, gsize len)
{
    static const guint8 mask[4] = { 0x37, 0xfa, 0x21, 0x3d };
    GByteArray *out = g_byte_array_new();
    guint8 header[14] = { b0 };
    gsize n = 2;
    if (len < 126) {
        header[1] = 0x80 | len;
    } else if (len <= 0xffff) {
        header[1] = 0x80 | 126;
        header[2] = len >> 8;
        header[3] = len;
        n = 4;
    } else {
        header[1] = 0x80 | 127;
        for (int i = 0; i < 8; i++) {
            header[2 + i] = (guint64)len >> (56 - 8 * i);
        }
        n = 10;
    }
    memcpy(header + n, mask, 4);
    g_byte_array_append(out, header, n + 4);
    for (gsize i = 0; i < len; i++) {
        guint8 b = ((const guint8 *)payload)[i] ^ mask[i % 4];
        g_byte_array_append(out, &b, 1);
    }
    return out;
}

static void raw_peer_send(RawPeer *r, GByteArray *frame)
{
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(qio_channel_write_all(r->peer, (char *)frame->data, frame->len, &error), ==, 0);
    g_byte_array_unref(frame);
}

/* Opens a server (with a small send buffer if SMALL_SNDBUF) with a good request
 * and drains its 101 reply. */
static void raw_peer_open_full(RawPeer *r, gboolean small_sndbuf)
{
    raw_peer_handshake_full(r, "GET / HTTP/1.1\r\n" GOOD_HEADERS "Sec-WebSocket-Protocol: binary\r\n\r\n",
                            small_sndbuf);
    g_assert_no_error(r->outcome.error);
    g_autofree char *reply = raw_peer_received(r);
    g_assert_true(g_str_has_prefix(reply, "HTTP/1.1 101 Switching Protocols\r\nServer: QEMU VNC\r\nDate: "));
    g_assert_nonnull(strstr(reply, "\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
                                   "Sec-WebSocket-Protocol: binary\r\n\r\n"));
}

static void raw_peer_open(RawPeer *r)
{
    raw_peer_open_full(r, FALSE);
}

static void test_frames(void)
{
    g_autoptr(GError) error = NULL;
    RawPeer r;
    raw_peer_open(&r);
    QIOChannel *ioc = QIO_CHANNEL(r.server);
    g_assert_true(qio_channel_set_blocking(ioc, TRUE, &error));

    /* Every length class, a fragmented message with a ping inside, a pong. */
    const gsize sizes[] = { 0, 125, 126, 65535, 65536 };
    for (gsize i = 0; i < G_N_ELEMENTS(sizes); i++) {
        g_autofree guint8 *data = qio_test_pattern(sizes[i], i);
        g_autofree guint8 *got = g_malloc(sizes[i] + 1);
        raw_peer_send(&r, masked_frame(0x82, data, sizes[i]));
        g_assert_cmpint(qio_channel_read_all(ioc, (char *)got, sizes[i], &error), ==, 0);
        g_assert_cmpmem(got, sizes[i], data, sizes[i]);
    }
    raw_peer_send(&r, masked_frame(0x02, "frag", 4));
    raw_peer_send(&r, masked_frame(0x89, "ping!", 5));
    raw_peer_send(&r, masked_frame(0x80, "ment", 4));
    raw_peer_send(&r, masked_frame(0x8a, "", 0));
    char got[8];
    g_assert_cmpint(qio_channel_read_all(ioc, got, 8, &error), ==, 0);
    g_assert_cmpmem(got, 8, "fragment", 8);
    g_autofree char *pong = raw_peer_received(&r);
    g_assert_cmpmem(pong, strlen(pong), "\x8a\x05ping!", 7);

    /* The server's frames are unmasked, one per write. */
    g_assert_cmpint(qio_channel_write_all(ioc, "hello", 5, &error), ==, 0);
    g_autofree char *hello = raw_peer_received(&r);
    g_assert_cmpmem(hello, strlen(hello), "\x82\x05hello", 7);

    /* A close is echoed, then reads end and writes fail. */
    raw_peer_send(&r, masked_frame(0x88, "\x03\xe9going away", 12));
    g_assert_cmpint(qio_channel_read(ioc, got, sizeof(got), &error), ==, 0);
    g_autofree char *echo = raw_peer_received(&r);
    g_assert_cmpmem(echo, 4, "\x88\x02\x03\xe9", 4);
    g_assert_cmpint(qio_channel_write(ioc, "x", 1, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Broken pipe");
    /* That close was answered: closing the channel sends no second one. */
    g_assert_cmpint(qio_channel_close(ioc, &error), ==, 0);
    g_autofree char *after = raw_peer_received(&r);
    g_assert_cmpstr(after, ==, "");
    raw_peer_clear(&r);
}

/* Closing an open websocket, or shutting it down both ways, tells the peer first: a
 * close frame with 1000. A write shutdown sends none, as reads go on after it. */
static void test_close_sends_close_frame(void)
{
    for (int how = 0; how < 3; how++) {
        g_autoptr(GError) error = NULL;
        RawPeer r;
        raw_peer_open(&r);
        QIOChannel *ioc = QIO_CHANNEL(r.server);
        if (how == 0) {
            g_assert_cmpint(qio_channel_close(ioc, &error), ==, 0);
        } else {
            QIOChannelShutdown dir = how == 1 ? QIO_CHANNEL_SHUTDOWN_BOTH : QIO_CHANNEL_SHUTDOWN_WRITE;
            g_assert_cmpint(qio_channel_shutdown(ioc, dir, &error), ==, 0);
        }
        g_autofree char *got = raw_peer_received(&r);
        if (how == 2) {
            g_assert_cmpstr(got, ==, "");
        } else {
            g_assert_cmpmem(got, strlen(got), "\x88\x02\x03\xe8", 4);
        }
        raw_peer_clear(&r);
    }
}

/* Each rule the server enforces: the close code sent and the error read. */
static void test_violations(void)
{
    const struct {
        guint8 b0;
        gboolean unmasked;
        gsize len;
        const char *code, *message;
    } cases[] = {
        { 0x82, TRUE, 3, "\x03\xea", "websocket: client frames must be masked" },
        { 0x81, FALSE, 3, "\x03\xeb", "websocket: only binary frames are supported, not text" },
        { 0x09, FALSE, 3, "\x03\xf0", "websocket: only binary frames may be fragmented" },
        { 0x89, FALSE, 126, "\x03\xea", "websocket: control frame is too large" },
    };
    for (gsize i = 0; i < G_N_ELEMENTS(cases); i++) {
        g_autoptr(GError) error = NULL;
        RawPeer r;
        raw_peer_open(&r);
        g_autofree guint8 *payload = g_malloc0(cases[i].len);
        GByteArray *frame = masked_frame(cases[i].b0, payload, cases[i].len);
        if (cases[i].unmasked) {
            guint8 plain[] = { cases[i].b0, cases[i].len, 0, 0, 0 };
            g_byte_array_set_size(frame, 0);
            g_byte_array_append(frame, plain, 2 + cases[i].len);
        }
        raw_peer_send(&r, frame);
        char buf[8];
        g_assert_true(qio_channel_set_blocking(QIO_CHANNEL(r.server), TRUE, &error));
        g_assert_cmpint(qio_channel_read(QIO_CHANNEL(r.server), buf, sizeof(buf), &error), ==, -1);
        qio_test_assert_error(error, QIO_ERROR_FAILED, cases[i].message);
        g_autofree char *close = raw_peer_received(&r);
        g_assert_cmpint(close[0], ==, (char)0x88);
        g_assert_cmpmem(close + 2, 2, cases[i].code, 2);
        raw_peer_clear(&r);
    }
}

typedef struct {
    QIOChannel *peer;
    GByteArray *wire;
} PeerWrite;

static gpointer peer_write(gpointer opaque)
{
    PeerWrite *w = opaque;
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(qio_channel_write_all(w->peer, (char *)w->wire->data, w->wire->len, &error), ==, 0);
    return NULL;
}

/* A peer that floods pings and never reads: the blocking server's reads still
 * return the data between them, although its socket's send buffer is as small as
 * the kernel allows. Reads answer pings while the socket takes the pongs at once;
 * then one pong is owed, and later pings go unanswered until the pump sends it. A
 * read stuck in a write fails the test through alarm(). */
static void test_ping_flood(void)
{
    enum { FRAMES = 2000, PIECE = 100 };
    g_autoptr(GError) error = NULL;
    RawPeer r;
    raw_peer_open_full(&r, TRUE);
    QIOChannel *ioc = QIO_CHANNEL(r.server);
    g_assert_true(qio_channel_set_blocking(ioc, TRUE, &error));
    g_assert_true(qio_channel_set_blocking(r.peer, TRUE, &error));
    g_autofree guint8 *data = qio_test_pattern(FRAMES * PIECE, 5);
    PeerWrite w = { r.peer, g_byte_array_new() };
    for (int i = 0; i < FRAMES; i++) {
        guint8 ping[125];
        memset(ping, i, sizeof(ping));
        GByteArray *frame = masked_frame(0x89, ping, sizeof(ping));
        g_byte_array_append(w.wire, frame->data, frame->len);
        g_byte_array_unref(frame);
        frame = masked_frame(0x82, data + i * PIECE, PIECE);
        g_byte_array_append(w.wire, frame->data, frame->len);
        g_byte_array_unref(frame);
    }
    GThread *writer = g_thread_new("ping-flood", peer_write, &w);
    g_autofree guint8 *got = g_malloc(FRAMES * PIECE);
    alarm(120);
    g_assert_cmpint(qio_channel_read_all(ioc, (char *)got, FRAMES * PIECE, &error), ==, 0);
    alarm(0);
    g_assert_cmpmem(got, FRAMES * PIECE, data, FRAMES * PIECE);
    g_thread_join(writer);
    g_byte_array_unref(w.wire);
    g_assert_true(qio_channel_set_blocking(r.peer, FALSE, &error));
    /* Pongs for the first pings, in order: a few fit the socket, one was owed. */
    gsize len;
    g_autofree char *pongs = raw_peer_received_pumped(&r, &len);
    g_assert_cmpuint(len, >, 0);
    g_assert_cmpuint(len % 127, ==, 0);
    g_assert_cmpuint(len / 127, <, FRAMES / 10);
    for (gsize i = 0; i < len; i++) {
        g_assert_cmpint((guint8)pongs[i], ==, i % 127 == 0 ? 0x8a : i % 127 == 1 ? 0x7d : (guint8)(i / 127));
    }
    raw_peer_clear(&r);
}

static gboolean note_ready(QIOChannel *ioc, GIOCondition cond, gpointer opaque)
{
    (void)ioc;
    *(GIOCondition *)opaque |= cond;
    return G_SOURCE_REMOVE;
}

/* Two frames in one write: after the first is read, the second is in qio's buffer
 * and the socket is empty, yet a G_IO_IN watch fires. */
static void test_watch_sees_buffered_frames(void)
{
    g_autoptr(GError) error = NULL;
    RawPeer r;
    raw_peer_open(&r);
    GByteArray *two = masked_frame(0x82, "one", 3);
    GByteArray *second = masked_frame(0x82, "two", 3);
    g_byte_array_append(two, second->data, second->len);
    g_byte_array_unref(second);
    raw_peer_send(&r, two);
    char buf[3];
    for (int i = 0; i < 1000 && qio_channel_read(QIO_CHANNEL(r.server), buf, 3, NULL) != 3; i++) {
        g_usleep(100);
    }
    g_assert_cmpmem(buf, 3, "one", 3);
    GIOCondition seen = 0;
    qio_channel_add_watch(QIO_CHANNEL(r.server), G_IO_IN, note_ready, &seen, NULL);
    for (int i = 0; i < 100 && !seen; i++) {
        g_main_context_iteration(NULL, FALSE);
    }
    g_assert_cmpint(seen, ==, G_IO_IN);
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(r.server), buf, 3, &error), ==, 3);
    g_assert_cmpmem(buf, 3, "two", 3);
    raw_peer_clear(&r);
}

/* CVE-2025-11234: a channel closed while its handshake waits never calls back and
 * releases the task; one only unreffed is kept by its task, as in QEMU, until the
 * handshake ends, then everything is released (valgrind and ASan check the rest). */
static void test_close_mid_handshake(void)
{
    for (int unref_only = 0; unref_only < 2; unref_only++) {
        g_autoptr(GError) error = NULL;
        QIOChannel *a, *b;
        socket_pair(&a, &b);
        QIOChannelWebsock *server = qio_channel_websock_new_server(b);
        qio_channel_unref(b);
        Outcome s = { 0 };
        qio_channel_websock_handshake(server, handshake_done, &s, outcome_destroy);
        g_assert_cmpint(qio_channel_write_all(a, "GET / HTTP/1.1\r\n", 16, &error), ==, 0);
        for (int i = 0; i < 10; i++) {
            g_main_context_iteration(NULL, FALSE);
        }
        g_assert_cmpint(s.calls, ==, 0);
        if (unref_only) {
            qio_channel_unref(QIO_CHANNEL(server));
            g_assert_cmpint(qio_channel_write_all(a, GOOD_HEADERS "\r\n", strlen(GOOD_HEADERS "\r\n"), &error),
                            ==, 0);
            pump(&s, NULL);
            g_assert_no_error(s.error);
        } else {
            g_assert_cmpint(qio_channel_close(QIO_CHANNEL(server), &error), ==, 0);
            g_assert_cmpint(s.destroyed, ==, 1);
            qio_channel_unref(QIO_CHANNEL(server));
            for (int i = 0; i < 10; i++) {
                g_main_context_iteration(NULL, FALSE);
            }
            g_assert_cmpint(s.calls, ==, 0);
        }
        qio_channel_unref(a);
    }
}

/* A peer that sends the start of its request and stalls: the server's handshake, over
 * a blocking master, returns at once, fails with QIO_ERROR_TIMED_OUT through the task
 * once the deadline passes, and leaves the master blocking again. */
static void test_handshake_deadline(void)
{
    g_autoptr(GError) error = NULL;
    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_autoptr(QIOChannelSocket) master = qio_channel_socket_new_fd(sv[1], &error);
    g_assert_no_error(error);
    g_autoptr(QIOChannelWebsock) server = qio_channel_websock_new_server(QIO_CHANNEL(master));
    static const char start[] = "GET / HTTP/1.1\r\nHost: h\r\n";
    g_assert_cmpint(write(sv[0], start, strlen(start)), ==, strlen(start));
    qio_channel_websock_set_handshake_timeout(server, 200);
    Outcome s = { 0 };
    qio_channel_websock_handshake(server, handshake_done, &s, outcome_destroy);
    g_assert_cmpint(s.calls, ==, 0);
    for (int i = 0; i < 10000 && !s.calls; i++) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_assert_cmpint(s.calls, ==, 1);
    g_assert_cmpint(s.destroyed, ==, 1);
    qio_test_assert_error(s.error, QIO_ERROR_TIMED_OUT, "websocket handshake timed out after 200 ms");
    g_assert_false(fcntl(sv[1], F_GETFL) & O_NONBLOCK);
    close(sv[0]);
}

static void test_misuse(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QIOChannel) null = QIO_CHANNEL(qio_channel_null_new());
    const char *const bad_protocols[] = { "bin ary", NULL };
    g_assert_null(qio_channel_websock_new_client(null, "a\r\nX: y", "/", NULL, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Invalid websocket host 'a\\r\\nX: y'");
    g_assert_null(qio_channel_websock_new_client(null, "h", "/", bad_protocols, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Invalid websocket subprotocol 'bin ary'");
    qio_test_expect_critical("host != NULL");
    g_assert_null(qio_channel_websock_new_client(null, NULL, "/", NULL, &error));
    g_test_assert_expected_messages();
    qio_test_expect_critical("master != NULL");
    g_assert_null(qio_channel_websock_new_server(NULL));
    g_test_assert_expected_messages();
    qio_test_expect_critical("QIO_IS_CHANNEL_WEBSOCK (ioc)");
    g_assert_null(qio_channel_websock_get_protocol(QIO_CHANNEL_WEBSOCK(null)));
    g_test_assert_expected_messages();
    qio_test_expect_critical("QIO_IS_CHANNEL_WEBSOCK (ioc)");
    qio_channel_websock_handshake(QIO_CHANNEL_WEBSOCK(null), handshake_done, NULL, NULL);
    g_test_assert_expected_messages();

    /* I/O before the handshake is refused. */
    g_autoptr(QIOChannelWebsock) early = qio_channel_websock_new_server(null);
    char buf[4];
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(early), buf, sizeof(buf), &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "The websocket handshake has not completed");
    g_assert_no_error(error);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/io/channel/websock/transfer", test_transfer);
    g_test_add_func("/io/channel/websock/bad-requests", test_bad_requests);
    g_test_add_func("/io/channel/websock/frames", test_frames);
    g_test_add_func("/io/channel/websock/violations", test_violations);
    g_test_add_func("/io/channel/websock/close-frame", test_close_sends_close_frame);
    g_test_add_func("/io/channel/websock/ping-flood", test_ping_flood);
    g_test_add_func("/io/channel/websock/watch-buffered", test_watch_sees_buffered_frames);
    g_test_add_func("/io/channel/websock/close-mid-handshake", test_close_mid_handshake);
    g_test_add_func("/io/channel/websock/handshake-deadline", test_handshake_deadline);
    g_test_add_func("/io/channel/websock/misuse", test_misuse);
    return g_test_run();
}
