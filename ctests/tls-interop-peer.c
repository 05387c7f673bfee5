/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qio's end of the TLS interop tests (tls-interop.py), through <qio.h> only.
 *
 *   tls-interop-peer server [OPTIONS]
 *       listens on 127.0.0.1 (prints "port N"), accepts one connection, runs the TLS
 *       handshake, then echoes every byte until the peer ends the session.
 *   tls-interop-peer client --port N [OPTIONS]
 *       connects to 127.0.0.1:N, runs the handshake, sends its standard input and
 *       prints the same number of bytes read back after "reply ".
 *
 * Either prints "handshake ok" (with " peer=DN" when the peer sent a certificate) or
 * "handshake failed: MESSAGE" and exits 1; an I/O failure prints "io failed: MESSAGE".
 * Everything is bounded by an alarm. */

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

static const GOptionEntry entries[] = {
    { "creds", 0, 0, G_OPTION_ARG_STRING, &opt_creds, "x509, psk or anon", "KIND" },
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

/* Runs the handshake on a non-blocking master, driven by a private main context, and
 * leaves the channel blocking. */
static void handshake(QIOChannelTLS *tioc)
{
    Outcome outcome = { 0 };
    GError *error = NULL;
    GMainContext *context = g_main_context_new();
    if (!qio_channel_set_blocking(QIO_CHANNEL(tioc), FALSE, &error)) {
        fail("handshake", error);
    }
    qio_channel_tls_handshake(tioc, handshake_done, &outcome, NULL, context);
    while (!outcome.done) {
        g_main_context_iteration(context, TRUE);
    }
    g_main_context_unref(context);
    if (outcome.error) {
        fail("handshake", outcome.error);
    }
    if (!qio_channel_set_blocking(QIO_CHANNEL(tioc), TRUE, &error)) {
        fail("handshake", error);
    }
    g_autofree char *peer = qcrypto_tls_session_get_peer_name(qio_channel_tls_get_session(tioc));
    printf("handshake ok%s%s\n", peer ? " peer=" : "", peer ? peer : "");
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
    g_autoptr(QCryptoTLSCreds) creds = creds_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER);
    g_autoptr(QAuthZList) authz = NULL;
    if (opt_allow) {
        authz = qauthz_list_new(QAUTHZ_LIST_POLICY_DENY);
        if (qauthz_list_append_rule(authz, opt_allow, QAUTHZ_LIST_POLICY_ALLOW,
                                    QAUTHZ_LIST_FORMAT_EXACT, &error) < 0) {
            fail("authz", error);
        }
    }
    g_autoptr(QIOChannelTLS) tioc =
        qio_channel_tls_new_server(QIO_CHANNEL(sioc), creds, authz ? QAUTHZ(authz) : NULL, &error);
    if (!tioc) {
        fail("handshake", error);
    }
    handshake(tioc);

    char buf[65536];
    for (;;) {
        ssize_t n = qio_channel_read(QIO_CHANNEL(tioc), buf, sizeof(buf), &error);
        if (n < 0) {
            fail("io", error);
        }
        if (n == 0) {
            break;
        }
        if (qio_channel_write_all(QIO_CHANNEL(tioc), buf, n, &error) < 0) {
            fail("io", error);
        }
    }
    printf("eof\n");
    qio_channel_tls_bye(tioc, &error);
    if (error) {
        /* The peer may already have closed its socket: not a failure of the session. */
        printf("bye: %s\n", error->message);
        g_clear_error(&error);
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
    g_autoptr(QCryptoTLSCreds) creds = creds_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT);
    g_autoptr(QIOChannelTLS) tioc =
        qio_channel_tls_new_client(QIO_CHANNEL(sioc), creds, opt_hostname, &error);
    if (!tioc) {
        fail("handshake", error);
    }
    handshake(tioc);

    g_autofree char *reply = g_malloc(payload->len);
    if (qio_channel_write_all(QIO_CHANNEL(tioc), (char *)payload->data, payload->len, &error) < 0 ||
        qio_channel_read_all(QIO_CHANNEL(tioc), reply, payload->len, &error) < 0) {
        fail("io", error);
    }
    printf("reply ");
    fwrite(reply, 1, payload->len, stdout);
    qio_channel_tls_bye(tioc, &error);
    if (error) {
        fail("bye", error);
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
