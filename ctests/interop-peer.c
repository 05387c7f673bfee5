/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qio's end of the interop tests (tls-interop.py, websock-interop.py), through <qio.h>
 * only.
 *
 *   interop-peer server [OPTIONS]
 *       listens on 127.0.0.1 (prints "port N"), accepts one connection, runs the TLS
 *       and/or websocket handshakes, then echoes every byte until the peer ends the
 *       session, and prints "eof bytes=N tail=TEXT" (the last bytes received).
 *   interop-peer client --port N [OPTIONS]
 *       connects to 127.0.0.1:N, runs the handshakes, sends its standard input,
 *       prints the same number of bytes read back after "reply ", and ends the
 *       session (a websocket's close frame, or else a TLS bye). The reply is read
 *       with plain qio_channel_read() on the blocking channel, which must wait for
 *       data: QIO_CHANNEL_ERR_BLOCK there (as after a TLS 1.3 session ticket) fails.
 *
 * TLS ("--creds x509|psk|anon", the default x509; "--creds none" for none) prints
 * "handshake ok" (with " peer=DN" when the peer sent a certificate) or "handshake
 * failed: MESSAGE" and exits 1; "--websock" adds a websocket over it, printing
 * "websock ok protocol=P" or "websock failed: MESSAGE". An I/O failure prints "io
 * failed: MESSAGE". Everything is bounded by an alarm. */

#include <qio.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define TIMEOUT_SECONDS 30

static char *opt_creds = "x509";
static char *opt_dir;
static gboolean opt_no_verify;
static char *opt_priority;
static char *opt_allow;
static char *opt_hostname;
static char *opt_username;
static int opt_port;
static gboolean opt_websock;

static const GOptionEntry entries[] = {
    { "creds", 0, 0, G_OPTION_ARG_STRING, &opt_creds, "x509, psk, anon or none", "KIND" },
    { "websock", 0, 0, G_OPTION_ARG_NONE, &opt_websock, "a websocket over the connection", NULL },
    { "dir", 0, 0, G_OPTION_ARG_FILENAME, &opt_dir, "credentials directory", "DIR" },
    { "no-verify", 0, 0, G_OPTION_ARG_NONE, &opt_no_verify, "x509: do not verify the peer", NULL },
    { "priority", 0, 0, G_OPTION_ARG_STRING, &opt_priority, "gnutls priority string", "P" },
    { "allow", 0, 0, G_OPTION_ARG_STRING, &opt_allow, "server: the only client DN allowed", "DN" },
    { "hostname", 0, 0, G_OPTION_ARG_STRING, &opt_hostname, "client: the server's name", "NAME" },
    { "username", 0, 0, G_OPTION_ARG_STRING, &opt_username, "psk client: the identity", "USER" },
    { "port", 0, 0, G_OPTION_ARG_INT, &opt_port, "client: the server's port", "N" },
    { NULL },
};

static void G_GNUC_NORETURN fail(const char *what, GError *error)
{
    printf("%s failed: %s\n", what, error->message);
    exit(1);
}

static QCryptoTLSCreds *creds_new(QCryptoTLSCredsEndpoint endpoint)
{
    GError *error = NULL;
    QCryptoTLSCreds *creds = NULL;
    if (g_str_equal(opt_creds, "x509")) {
        creds = qcrypto_tls_creds_x509_new(endpoint, opt_dir, !opt_no_verify, opt_priority, TRUE,
                                           NULL, &error);
    } else if (g_str_equal(opt_creds, "psk")) {
        creds = qcrypto_tls_creds_psk_new(endpoint, opt_dir, opt_username, opt_priority, &error);
    } else if (g_str_equal(opt_creds, "anon")) {
        creds = qcrypto_tls_creds_anon_new(endpoint, opt_dir, opt_priority, &error);
    } else {
        g_error("unknown --creds %s", opt_creds);
    }
    if (!creds) {
        fail("credentials", error);
    }
    return creds;
}

typedef struct {
    GError *error;
    gboolean done;
} Outcome;

static void handshake_done(QIOTask *task, gpointer opaque)
{
    Outcome *outcome = opaque;
    qio_task_propagate_error(task, &outcome->error);
    outcome->done = TRUE;
}

/* Runs a handshake that START begins on a non-blocking channel, iterating CONTEXT
 * until it reports, then leaves the channel blocking. */
static void handshake(const char *what, QIOChannel *ioc, GMainContext *context,
                      void (*start)(QIOChannel *ioc, Outcome *outcome, GMainContext *context))
{
    Outcome outcome = { 0 };
    GError *error = NULL;
    if (!qio_channel_set_blocking(ioc, FALSE, &error)) {
        fail(what, error);
    }
    start(ioc, &outcome, context);
    while (!outcome.done) {
        g_main_context_iteration(context, TRUE);
    }
    if (outcome.error) {
        fail(what, outcome.error);
    }
    if (!qio_channel_set_blocking(ioc, TRUE, &error)) {
        fail(what, error);
    }
}

static void tls_start(QIOChannel *ioc, Outcome *outcome, GMainContext *context)
{
    qio_channel_tls_handshake(QIO_CHANNEL_TLS(ioc), handshake_done, outcome, NULL, context);
}

static void websock_start(QIOChannel *ioc, Outcome *outcome, GMainContext *context)
{
    (void)context; /* the websocket handshake runs on the default context */
    qio_channel_websock_handshake(QIO_CHANNEL_WEBSOCK(ioc), handshake_done, outcome, NULL);
}

/* The connection's channel with the requested layers over SIOC, handshakes done;
 * *TLS is its TLS channel, if any (borrowed). */
static QIOChannel *layers(QIOChannelSocket *sioc, gboolean server, QIOChannelTLS **tls)
{
    GError *error = NULL;
    QIOChannel *ioc = qio_channel_ref(QIO_CHANNEL(sioc));
    *tls = NULL;
    if (!g_str_equal(opt_creds, "none")) {
        g_autoptr(QCryptoTLSCreds) creds =
            creds_new(server ? QCRYPTO_TLS_CREDS_ENDPOINT_SERVER : QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT);
        g_autoptr(QAuthZList) authz = NULL;
        if (opt_allow) {
            authz = qauthz_list_new(QAUTHZ_LIST_POLICY_DENY);
            if (qauthz_list_append_rule(authz, opt_allow, QAUTHZ_LIST_POLICY_ALLOW, QAUTHZ_LIST_FORMAT_EXACT,
                                        &error) < 0) {
                fail("authz", error);
            }
        }
        QIOChannelTLS *tioc = server
            ? qio_channel_tls_new_server(ioc, creds, authz ? QAUTHZ(authz) : NULL, &error)
            : qio_channel_tls_new_client(ioc, creds, opt_hostname, &error);
        if (!tioc) {
            fail("handshake", error);
        }
        qio_channel_unref(ioc);
        ioc = QIO_CHANNEL(tioc);
        *tls = tioc;
        GMainContext *context = g_main_context_new();
        handshake("handshake", ioc, context, tls_start);
        g_main_context_unref(context);
        g_autofree char *peer = qcrypto_tls_session_get_peer_name(qio_channel_tls_get_session(tioc));
        printf("handshake ok%s%s\n", peer ? " peer=" : "", peer ? peer : "");
    }
    if (opt_websock) {
        const char *const protocols[] = { "binary", NULL };
        QIOChannelWebsock *wioc = server ? qio_channel_websock_new_server(ioc)
                                         : qio_channel_websock_new_client(ioc, "localhost", "/", protocols, &error);
        if (!wioc) {
            fail("websock", error);
        }
        qio_channel_unref(ioc);
        ioc = QIO_CHANNEL(wioc);
        handshake("websock", ioc, NULL, websock_start);
        g_autofree char *protocol = qio_channel_websock_get_protocol(wioc);
        printf("websock ok protocol=%s\n", protocol ? protocol : "none");
    }
    return ioc;
}

static QIOSocketAddress *loopback(int port)
{
    GError *error = NULL;
    g_autofree char *text = g_strdup_printf("127.0.0.1:%d", port);
    QIOSocketAddress *addr = qio_socket_address_parse(text, &error);
    g_assert_no_error(error);
    return addr;
}

static int run_server(void)
{
    GError *error = NULL;
    g_autoptr(QIOSocketAddress) any = loopback(0);
    g_autoptr(QIOChannelSocket) listener = qio_channel_socket_new();
    if (qio_channel_socket_listen_sync(listener, any, 1, &error) < 0) {
        fail("listen", error);
    }
    g_autoptr(QIOSocketAddress) local = qio_channel_socket_get_local_address(listener, &error);
    g_assert_no_error(error);
    printf("port %s\n", qio_socket_address_get_port(local));

    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_accept(listener, &error);
    if (!sioc) {
        fail("accept", error);
    }
    QIOChannelTLS *tls;
    g_autoptr(QIOChannel) ioc = layers(sioc, TRUE, &tls);

    char buf[65536];
    gsize total = 0;
    g_autoptr(GString) tail = g_string_new(NULL);
    for (;;) {
        ssize_t n = qio_channel_read(ioc, buf, sizeof(buf), &error);
        if (n < 0) {
            fail("io", error);
        }
        if (n == 0) {
            break;
        }
        total += n;
        g_string_append_len(tail, buf, n);
        g_string_erase(tail, 0, tail->len > 32 ? tail->len - 32 : 0);
        if (qio_channel_write_all(ioc, buf, n, &error) < 0) {
            fail("io", error);
        }
    }
    for (gsize i = 0; i < tail->len; i++) {
        tail->str[i] = g_ascii_isprint(tail->str[i]) ? tail->str[i] : '.';
    }
    printf("eof bytes=%" G_GSIZE_FORMAT " tail=%s\n", total, tail->str);
    if (tls) {
        qio_channel_tls_bye(tls, &error);
        if (error) {
            /* The peer may already have closed its socket: not a failure of the session. */
            printf("bye: %s\n", error->message);
            g_clear_error(&error);
        }
    }
    return 0;
}

static int run_client(void)
{
    GError *error = NULL;
    g_autoptr(GByteArray) payload = g_byte_array_new();
    char chunk[4096];
    for (ssize_t n; (n = read(STDIN_FILENO, chunk, sizeof(chunk))) != 0;) {
        if (n < 0) {
            g_error("reading standard input: %s", g_strerror(errno));
        }
        g_byte_array_append(payload, (guint8 *)chunk, n);
    }

    g_autoptr(QIOSocketAddress) server = loopback(opt_port);
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    if (qio_channel_socket_connect_sync(sioc, server, &error) < 0) {
        fail("connect", error);
    }
    QIOChannelTLS *tls;
    g_autoptr(QIOChannel) ioc = layers(sioc, FALSE, &tls);

    g_autofree char *reply = g_malloc(payload->len);
    if (qio_channel_write_all(ioc, (char *)payload->data, payload->len, &error) < 0) {
        fail("io", error);
    }
    for (size_t got = 0; got < payload->len;) {
        ssize_t n = qio_channel_read(ioc, reply + got, payload->len - got, &error);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            printf("io failed: a blocking read returned QIO_CHANNEL_ERR_BLOCK\n");
            return 1;
        }
        if (n <= 0) {
            printf("io failed: %s\n", n < 0 ? error->message : "end of file");
            return 1;
        }
        got += n;
    }
    printf("reply ");
    fwrite(reply, 1, payload->len, stdout);
    if (opt_websock) {
        /* Closing sends the websocket's close frame, then closes every layer. */
        if (qio_channel_close(ioc, &error) < 0) {
            fail("close", error);
        }
    } else if (tls) {
        qio_channel_tls_bye(tls, &error);
        if (error) {
            fail("bye", error);
        }
    }
    return 0;
}
int main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GOptionContext) options = g_option_context_new("server|client");
    g_option_context_add_main_entries(options, entries, NULL);
    if (!g_option_context_parse(options, &argc, &argv, &error) || argc != 2) {
        g_printerr("%s\n", error ? error->message : "say server or client");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    alarm(TIMEOUT_SECONDS);
    if (g_str_equal(argv[1], "server")) {
        return run_server();
    }
    if (g_str_equal(argv[1], "client")) {
        return run_client();
    }
    g_printerr("say server or client\n");
    return 2;
}
