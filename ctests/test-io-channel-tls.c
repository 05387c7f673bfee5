/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QIOChannelTLS through <qio.h>: QEMU's test-io-channel-tls pattern (client and server
 * TLS channels over a socketpair, handshake tasks pumped with g_main_context_iteration,
 * then 1 MB threaded transfers blocking and non-blocking) with anonymous and PSK
 * credentials, plus close mid-handshake (CVE-2023-3354), bye and the failures. */

#include "qio-test.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <sys/socket.h>
#include <unistd.h>

typedef struct {
    int calls;
    GError *error;
    int destroyed;
} Outcome;

static void handshake_done(QIOTask *task, gpointer opaque)
{
    Outcome *o = opaque;
    o->calls++;
    qio_task_propagate_error(task, &o->error);
    g_assert_nonnull(qio_task_get_source(task));
}

static void outcome_destroy(gpointer opaque)
{
    ((Outcome *)opaque)->destroyed++;
}

typedef struct {
    QIOChannelTLS *client, *server;
} TlsPair;

static void tls_pair_init(TlsPair *p, QCryptoTLSCreds *client_creds, QCryptoTLSCreds *server_creds)
{
    g_autoptr(GError) error = NULL;
    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_autoptr(QIOChannel) a = qio_channel_new_fd(sv[0], &error);
    g_autoptr(QIOChannel) b = qio_channel_new_fd(sv[1], &error);
    p->client = qio_channel_tls_new_client(a, client_creds, NULL, &error);
    p->server = qio_channel_tls_new_server(b, server_creds, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(p->client), QIO_CHANNEL_FEATURE_SHUTDOWN));
}

static void tls_pair_clear(TlsPair *p)
{
    qio_channel_unref(QIO_CHANNEL(p->client));
    qio_channel_unref(QIO_CHANNEL(p->server));
}

static void tls_pair_handshake(TlsPair *p)
{
    g_autoptr(GError) error = NULL;
    GMainContext *context = g_main_context_new();
    Outcome c = { 0 }, s = { 0 };
    g_assert_true(qio_channel_set_blocking(QIO_CHANNEL(p->client), FALSE, &error));
    g_assert_true(qio_channel_set_blocking(QIO_CHANNEL(p->server), FALSE, &error));
    qio_channel_tls_handshake(p->client, handshake_done, &c, outcome_destroy, context);
    qio_channel_tls_handshake(p->server, handshake_done, &s, outcome_destroy, context);
    for (int i = 0; i < 1000 && (!c.calls || !s.calls); i++) {
        g_main_context_iteration(context, FALSE);
    }
    g_assert_cmpint(c.calls, ==, 1);
    g_assert_cmpint(s.calls, ==, 1);
    g_assert_cmpint(c.destroyed, ==, 1);
    g_assert_cmpint(s.destroyed, ==, 1);
    g_assert_no_error(c.error);
    g_assert_no_error(s.error);
    g_main_context_unref(context);
}

static void transfer_both_ways(QCryptoTLSCreds *client_creds, QCryptoTLSCreds *server_creds)
{
    g_autoptr(GError) error = NULL;
    TlsPair p;
    tls_pair_init(&p, client_creds, server_creds);
    tls_pair_handshake(&p);
    QCryptoTLSSession *session = qio_channel_tls_get_session(p.client);
    g_assert_cmpint(qcrypto_tls_session_get_key_size(session, &error), >=, 16);
    qio_test_transfer(QIO_CHANNEL(p.client), QIO_CHANNEL(p.server), TRUE);
    qio_test_transfer(QIO_CHANNEL(p.server), QIO_CHANNEL(p.client), FALSE);

    /* The session belongs to the channel. */
    qio_test_expect_critical("session is not owned by a TLS channel");
    qcrypto_tls_session_free(session);
    g_test_assert_expected_messages();

    /* An orderly close reads as end-of-file. */
    g_assert_true(qio_channel_set_blocking(QIO_CHANNEL(p.client), TRUE, &error));
    g_assert_true(qio_channel_set_blocking(QIO_CHANNEL(p.server), TRUE, &error));
    qio_channel_tls_bye(p.client, &error);
    g_assert_no_error(error);
    char buf[8];
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(p.server), buf, sizeof(buf), &error), ==, 0);
    g_assert_no_error(error);
    tls_pair_clear(&p);
}

static void test_anon(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QCryptoTLSCreds) client = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, NULL, NULL, &error);
    g_autoptr(QCryptoTLSCreds) server = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL, &error);
    g_assert_no_error(error);
    transfer_both_ways(client, server);
}

static void test_psk(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("qio-channel-tls-XXXXXX", &error);
    g_autofree char *file = g_build_filename(dir, "keys.psk", NULL);
    g_assert_true(g_file_set_contents(file, "qemu:009d5638c40fde0c\n", -1, &error));
    g_autoptr(QCryptoTLSCreds) client = qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, dir, NULL, NULL, &error);
    g_autoptr(QCryptoTLSCreds) server = qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, dir, NULL, NULL, &error);
    g_assert_no_error(error);
    transfer_both_ways(client, server);
    g_unlink(file);
    g_rmdir(dir);
}

typedef struct {
    QIOChannel *src, *dst;
} Direction;

static gpointer transfer_thread(gpointer opaque)
{
    Direction *d = opaque;
    qio_test_transfer(d->src, d->dst, TRUE);
    return NULL;
}

/* One TLS channel read and written from two threads at once: with
 * QIO_CHANNEL_FEATURE_CONCURRENT_IO set before the handshake, TLS 1.3 with AES gets the
 * session's gnutls bug 1717 lock. PSK credentials negotiate TLS 1.3. */
static void test_concurrent_io(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("qio-channel-tls-XXXXXX", &error);
    g_autofree char *file = g_build_filename(dir, "keys.psk", NULL);
    g_assert_true(g_file_set_contents(file, "qemu:009d5638c40fde0c\n", -1, &error));
    const char *priority = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM";
    g_autoptr(QCryptoTLSCreds) client = qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, dir, NULL,
                                                                  priority, &error);
    g_autoptr(QCryptoTLSCreds) server = qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, dir, NULL,
                                                                  priority, &error);
    g_assert_no_error(error);
    TlsPair p;
    tls_pair_init(&p, client, server);
    qio_channel_set_feature(QIO_CHANNEL(p.client), QIO_CHANNEL_FEATURE_CONCURRENT_IO);
    qio_channel_set_feature(QIO_CHANNEL(p.server), QIO_CHANNEL_FEATURE_CONCURRENT_IO);
    tls_pair_handshake(&p);
    Direction back = { QIO_CHANNEL(p.server), QIO_CHANNEL(p.client) };
    GThread *thread = g_thread_new("server-to-client", transfer_thread, &back);
    qio_test_transfer(QIO_CHANNEL(p.client), QIO_CHANNEL(p.server), TRUE);
    g_thread_join(thread);
    tls_pair_clear(&p);
    g_unlink(file);
    g_rmdir(dir);
}

/* CVE-2023-3354: a channel closed while its handshake waits never calls back, and
 * everything the handshake held is released (valgrind and ASan check the rest). */
static void test_close_mid_handshake(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QCryptoTLSCreds) client = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, NULL, NULL, &error);
    g_autoptr(QCryptoTLSCreds) server = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL, &error);
    TlsPair p;
    tls_pair_init(&p, client, server);
    GMainContext *context = g_main_context_new();
    Outcome c = { 0 }, s = { 0 };
    g_assert_true(qio_channel_set_blocking(QIO_CHANNEL(p.client), FALSE, &error));
    g_assert_true(qio_channel_set_blocking(QIO_CHANNEL(p.server), FALSE, &error));
    qio_channel_tls_handshake(p.client, handshake_done, &c, outcome_destroy, context);
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(p.client), &error), ==, 0);
    g_assert_cmpint(c.destroyed, ==, 1);
    qio_channel_unref(QIO_CHANNEL(p.client));
    qio_channel_tls_handshake(p.server, handshake_done, &s, outcome_destroy, context);
    for (int i = 0; i < 100 && !s.calls; i++) {
        g_main_context_iteration(context, FALSE);
    }
    g_assert_cmpint(c.calls, ==, 0);
    /* The server sees the client vanish. */
    g_assert_cmpint(s.calls, ==, 1);
    g_assert_nonnull(s.error);
    g_clear_error(&s.error);
    qio_channel_unref(QIO_CHANNEL(p.server));
    g_main_context_unref(context);
}

static gboolean tick(gpointer opaque)
{
    (*(int *)opaque)++;
    return G_SOURCE_CONTINUE;
}

static gboolean fd_is_blocking(int fd)
{
    return !(fcntl(fd, F_GETFL) & O_NONBLOCK);
}

/* A client that sends the start of a ClientHello record and stalls: the server's
 * handshake, over a blocking master, neither blocks qio_channel_tls_handshake() nor
 * the main loop, fails with QIO_ERROR_TIMED_OUT through the task once the deadline
 * passes, and leaves the master blocking again. Two ends on blocking masters in one
 * thread complete within a deadline, which would deadlock if either step blocked. */
static void test_handshake_deadline(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QCryptoTLSCreds) client = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, NULL, NULL, &error);
    g_autoptr(QCryptoTLSCreds) server = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL, &error);
    g_assert_no_error(error);
    GMainContext *context = g_main_context_new();
    int ticks = 0;
    GSource *ticker = g_timeout_source_new(10);
    g_source_set_callback(ticker, tick, &ticks, NULL);
    g_source_attach(ticker, context);

    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_autoptr(QIOChannelSocket) master = qio_channel_socket_new_fd(sv[1], &error);
    g_autoptr(QIOChannelTLS) tls = qio_channel_tls_new_server(QIO_CHANNEL(master), server, NULL, &error);
    g_assert_no_error(error);
    g_assert_true(fd_is_blocking(sv[1]));
    /* A handshake record header announcing 512 bytes, and 4 of them. */
    static const char stalled_hello[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc";
    g_assert_cmpint(write(sv[0], stalled_hello, sizeof(stalled_hello) - 1), ==, sizeof(stalled_hello) - 1);
    qio_channel_tls_set_handshake_timeout(tls, 200);
    Outcome s = { 0 };
    qio_channel_tls_handshake(tls, handshake_done, &s, outcome_destroy, context);
    g_assert_cmpint(s.calls, ==, 0);
    for (int i = 0; i < 10000 && !s.calls; i++) {
        g_main_context_iteration(context, TRUE);
    }
    g_assert_cmpint(s.calls, ==, 1);
    g_assert_cmpint(s.destroyed, ==, 1);
    qio_test_assert_error(s.error, QIO_ERROR_TIMED_OUT, "TLS handshake timed out after 200 ms");
    g_assert_cmpint(ticks, >, 0);
    g_assert_true(fd_is_blocking(sv[1]));
    close(sv[0]);

    int pair[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), ==, 0);
    g_autoptr(QIOChannel) a = qio_channel_new_fd(pair[0], &error);
    g_autoptr(QIOChannel) b = qio_channel_new_fd(pair[1], &error);
    g_autoptr(QIOChannelTLS) tc = qio_channel_tls_new_client(a, client, NULL, &error);
    g_autoptr(QIOChannelTLS) ts = qio_channel_tls_new_server(b, server, NULL, &error);
    g_assert_no_error(error);
    qio_channel_tls_set_handshake_timeout(tc, 60 * 1000);
    qio_channel_tls_set_handshake_timeout(ts, 60 * 1000);
    Outcome c = { 0 }, d = { 0 };
    qio_channel_tls_handshake(tc, handshake_done, &c, outcome_destroy, context);
    qio_channel_tls_handshake(ts, handshake_done, &d, outcome_destroy, context);
    for (int i = 0; i < 10000 && (!c.calls || !d.calls); i++) {
        g_main_context_iteration(context, TRUE);
    }
    g_assert_cmpint(c.calls, ==, 1);
    g_assert_cmpint(d.calls, ==, 1);
    g_assert_no_error(c.error);
    g_assert_no_error(d.error);
    g_assert_true(fd_is_blocking(pair[0]) && fd_is_blocking(pair[1]));
    /* Blocking I/O works as before the handshake. */
    char buf[5];
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(tc), "hello", 5, &error), ==, 0);
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(ts), buf, 5, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_cmpmem(buf, 5, "hello", 5);

    g_source_destroy(ticker);
    g_source_unref(ticker);
    g_main_context_unref(context);
}

static void test_misuse(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QCryptoTLSCreds) server = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL, &error);
    g_autoptr(QIOChannel) null = QIO_CHANNEL(qio_channel_null_new());
    g_assert_null(qio_channel_tls_new_client(null, server, NULL, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Credentials endpoint doesn't match session");
    qio_test_expect_critical("QIO_IS_CHANNEL_TLS (ioc)");
    g_assert_null(qio_channel_tls_get_session(QIO_CHANNEL_TLS(null)));
    g_test_assert_expected_messages();
    qio_test_expect_critical("QIO_IS_CHANNEL_TLS (ioc)");
    qio_channel_tls_bye(QIO_CHANNEL_TLS(null), &error);
    g_test_assert_expected_messages();
    g_assert_no_error(error);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/io/channel/tls/anon", test_anon);
    g_test_add_func("/io/channel/tls/psk", test_psk);
    g_test_add_func("/io/channel/tls/concurrent-io", test_concurrent_io);
    g_test_add_func("/io/channel/tls/close-mid-handshake", test_close_mid_handshake);
    g_test_add_func("/io/channel/tls/handshake-deadline", test_handshake_deadline);
    g_test_add_func("/io/channel/tls/misuse", test_misuse);
    return g_test_run();
}
