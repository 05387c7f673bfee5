/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for qio-vnc-demo's server side: one VncConn (examples/vnc/vnc-conn.c)
 * serving a small frozen VncFramebuffer over a socketpair, on the RFB port or the
 * websocket one. The first input byte picks the configuration (MODE_* below): the
 * security (None, VNC Authentication, VeNCrypt TLSNone or TLSVnc over anonymous TLS;
 * on the websocket port the last two are wss with None or VNC Authentication inside),
 * and how far the harness itself takes the client before the fuzzed bytes follow: not
 * at all (they are the websocket upgrade or the RFB version onwards), through the
 * websocket (and wss TLS) handshakes, up to the VNC challenge (VeNCrypt's negotiation
 * and TLS handshake included), or through the whole security handshake, answering the
 * challenge with the password, so that the bytes start at ClientInit and reach the
 * client messages. On a websocket the fuzzed bytes go in the harness's masked frames.
 * They are written in chunks of the size the mode picks while everything the server
 * sends is read and dropped; then the client shuts its end for writing, after which
 * the server must close by itself, or goes silent, and the server is closed once
 * nothing moves. fuzz/c/vnc_server_seeds.py writes the seeds.
 * fuzz.sh sources: fuzz/c/harness.c examples/vnc/vnc-conn.c examples/vnc/vnc-auth.c examples/vnc/vnc-format.c examples/vnc/vnc-framebuffer.c */

#include "harness.h"
#include "vnc-auth.h"
#include "vnc-conn.h"

#include <string.h>
#include <sys/socket.h>

#define MODE_SECURITY 0x03     /* SEC_* */
#define MODE_PRELUDE_SHIFT 2   /* two bits: PRELUDE_*, what the harness does first */
#define MODE_WEBSOCKET 0x10    /* the websocket port */
#define MODE_SILENT 0x20       /* the client ends by going silent instead of shutting down */
#define MODE_CHUNK_SHIFT 6     /* two bits: how many bytes each write takes */
enum { SEC_NONE, SEC_VNC, SEC_TLS_NONE, SEC_TLS_VNC }; /* bit 0: password, bit 1: TLS */
enum { PRELUDE_NONE, PRELUDE_TRANSPORT, PRELUDE_CHALLENGE, PRELUDE_SECURITY };
static const size_t chunk_sizes[] = { SIZE_MAX, 1, 7, 100 };
/* The last chunk size also makes the server's socket one that cannot peek, as a
 * socketpair's: on the websocket port, TLS then starts or not by the configuration
 * alone (no bit is left for this; peeking matters nowhere else). */
#define CHUNK_NO_PEEK 3

#define PASSWORD "fuzzpass"
/* Three tiles in a row, the last one partial; 68x16 ('r') two. Small, since drawing
 * the pattern (at each new size) and updates cost per pixel. */
#define WIDTH 136
#define HEIGHT 24
/* The server socket's send buffer (the kernel doubles it): a full update at 32 bits
 * is 13 KB. */
#define SNDBUF 4096

/* Anonymous credentials, the VeNCrypt TLS* subtypes' (x509 would need certificates). */
static QCryptoTLSCreds *server_creds, *client_creds;
/* The connection being served, for the framebuffer's change notifications. */
static VncConn *live_conn;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    g_autoptr(GError) err = NULL;
    harness_init();
    server_creds = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL, &err);
    g_assert_no_error(err);
    client_creds = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, NULL, NULL, &err);
    g_assert_no_error(err);
    return 0;
}

static void on_closed(VncConn *conn, gpointer opaque)
{
    (void)conn;
    live_conn = NULL;
    *(gboolean *)opaque = TRUE;
}

static void on_changed(gpointer opaque)
{
    (void)opaque;
    if (live_conn) {
        vnc_conn_framebuffer_changed(live_conn);
    }
}

/* The client's layers over its socket, from the harness's handshakes. */
typedef struct {
    QIOChannelTLS *tls;
    QIOChannelWebsock *websock;
} Layers;

/* Takes the client through the handshakes LEVEL (PRELUDE_*) asks for, reading what
 * the server must send meanwhile; returns the channel for the fuzzed bytes. */
static QIOChannel *prelude(QIOChannel *socket, const VncServerConfig *config, gboolean websocket, int level,
                           Layers *layers)
{
    QIOChannel *client = socket;
    if (level >= PRELUDE_TRANSPORT && websocket) {
        if (config->tls_creds) {
            layers->tls = harness_tls_client(socket, client_creds);
            client = QIO_CHANNEL(layers->tls);
        }
        layers->websock = harness_websocket_client(client);
        client = QIO_CHANNEL(layers->websock);
    }
    if (level < PRELUDE_CHALLENGE) {
        return client;
    }
    /* As vnc_conn_new() picks the one type offered. */
    gboolean vencrypt = config->tls_creds && !websocket;
    uint8_t type = vencrypt ? 19 : config->password ? 2 : 1;
    uint8_t buf[VNC_AUTH_CHALLENGE_LEN];
    harness_read(client, buf, 12);
    g_assert(memcmp(buf, "RFB 003.008\n", 12) == 0);
    harness_write(client, "RFB 003.008\n", 12);
    harness_read(client, buf, 2);
    g_assert(buf[0] == 1 && buf[1] == type);
    harness_write(client, &type, 1);
    if (vencrypt) {
        harness_read(client, buf, 2);
        g_assert(buf[0] == 0 && buf[1] == 2);
        harness_write(client, buf, 2); /* 0.2 too */
        harness_read(client, buf, 6);  /* OK, one subtype, the subtype */
        g_assert(buf[0] == 0 && buf[1] == 1);
        harness_write(client, buf + 2, 4);
        harness_read(client, buf, 1);
        g_assert(buf[0] == 1);
        layers->tls = harness_tls_client(socket, client_creds);
        client = QIO_CHANNEL(layers->tls);
    }
    if (config->password) {
        harness_read(client, buf, VNC_AUTH_CHALLENGE_LEN);
        if (level == PRELUDE_SECURITY) {
            g_autoptr(GError) err = NULL;
            uint8_t response[VNC_AUTH_CHALLENGE_LEN];
            vnc_auth_response(PASSWORD, buf, response, &err);
            g_assert_no_error(err);
            harness_write(client, response, sizeof(response));
        }
    }
    return client;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t mode = data[0];
    int security = mode & MODE_SECURITY;
    int chunk = mode >> MODE_CHUNK_SHIFT;
    gboolean websocket = (mode & MODE_WEBSOCKET) != 0;
    VncServerConfig config = {
        .name = "fuzz",
        .password = security & 1 ? PASSWORD : NULL,
        .tls_creds = security & 2 ? server_creds : NULL,
    };
    /* A new framebuffer each time, so that executions repeat. */
    VncFramebuffer *fb = vnc_framebuffer_new(WIDTH, HEIGHT, TRUE);
    vnc_framebuffer_set_changed_func(fb, on_changed, NULL);

    QIOChannel *server, *socket;
    harness_socketpair(&server, &socket);
    /* As qio_channel_socket_accept() gives the demo's clients: the websocket port
     * peeks at the first byte, unless the mode asks for vnc_conn_new()'s fallback. */
    if (chunk != CHUNK_NO_PEEK) {
        qio_channel_set_feature(server, QIO_CHANNEL_FEATURE_READ_MSG_PEEK);
    }
    /* A send buffer smaller than an update, so that the server's writes block and
     * updates are produced in pieces, as to a slow client. */
    int sndbuf = SNDBUF;
    int rc = setsockopt(qio_channel_socket_get_fd(QIO_CHANNEL_SOCKET(server)), SOL_SOCKET, SO_SNDBUF, &sndbuf,
                        sizeof(sndbuf));
    g_assert(rc == 0);
    gboolean closed = FALSE;
    live_conn = vnc_conn_new(&config, fb, server, websocket, "fuzz", on_closed, &closed);
    qio_channel_unref(server);
    Layers layers = { 0 };
    QIOChannel *client = prelude(socket, &config, websocket, mode >> MODE_PRELUDE_SHIFT & 3, &layers);
    if (!harness_run_client(client, socket, data + 1, size - 1, chunk_sizes[chunk],
                            (mode & MODE_SILENT) != 0, &closed)) {
        vnc_conn_close(live_conn); /* as when the server stops */
    }
    g_assert(closed);
    harness_settle();
    if (layers.websock) {
        qio_channel_unref(QIO_CHANNEL(layers.websock));
    }
    if (layers.tls) {
        qio_channel_unref(QIO_CHANNEL(layers.tls));
    }
    qio_channel_unref(socket);
    vnc_framebuffer_free(fb);
    return 0;
}
