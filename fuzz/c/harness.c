/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The C fuzz targets' shared client side: see harness.h. */

#include "harness.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

/* A critical is qio or the server misusing an API: a finding. abort(), because GLib's
 * fatal criticals raise SIGTRAP, which kills libFuzzer without a report or artifact. */
static void log_handler(const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
    g_log_default_handler(domain, level, message, data);
    if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) {
        abort();
    }
}

static void discard_message(const char *message)
{
    (void)message;
}

void harness_init(void)
{
    g_log_set_default_handler(log_handler, NULL);
    /* The servers say why they drop each client: not worth the fuzzer's time, but
     * QIO_FUZZ_VERBOSE=1 shows it when replaying an input. */
    if (!g_getenv("QIO_FUZZ_VERBOSE")) {
        g_set_printerr_handler(discard_message);
    }
    /* Writes to a peer that has gone fail with EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
}

void harness_socketpair(QIOChannel **server, QIOChannel **client)
{
    g_autoptr(GError) err = NULL;
    int sv[2];
    int rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    g_assert(rc == 0);
    *server = QIO_CHANNEL(qio_channel_socket_new_fd(sv[0], &err));
    g_assert_no_error(err);
    *client = QIO_CHANNEL(qio_channel_socket_new_fd(sv[1], &err));
    g_assert_no_error(err);
    qio_channel_set_blocking(*client, FALSE, &err);
    g_assert_no_error(err);
}

gboolean harness_drain(QIOChannel *ioc)
{
    static char buf[65536];
    gboolean any = FALSE;
    while (qio_channel_read(ioc, buf, sizeof(buf), NULL) > 0) {
        any = TRUE;
    }
    return any;
}

void harness_write(QIOChannel *ioc, const void *buf, size_t len)
{
    size_t done = 0;
    for (unsigned round = 0; done < len && round < HARNESS_MAX_ROUNDS; round++) {
        ssize_t n = qio_channel_write(ioc, (const char *)buf + done, len - done, NULL);
        g_assert(n > 0 || n == QIO_CHANNEL_ERR_BLOCK);
        done += n > 0 ? (size_t)n : 0;
        g_main_context_iteration(NULL, FALSE);
    }
    g_assert(done == len);
}

void harness_read(QIOChannel *ioc, void *buf, size_t len)
{
    size_t have = 0;
    for (unsigned round = 0; have < len && round < HARNESS_MAX_ROUNDS; round++) {
        g_main_context_iteration(NULL, FALSE);
        ssize_t n = qio_channel_read(ioc, (char *)buf + have, len - have, NULL);
        g_assert(n > 0 || n == QIO_CHANNEL_ERR_BLOCK);
        have += n > 0 ? (size_t)n : 0;
    }
    g_assert(have == len);
}

static void handshaken(QIOTask *task, gpointer opaque)
{
    g_autoptr(GError) err = NULL;
    qio_task_propagate_error(task, &err);
    g_assert_no_error(err);
    *(gboolean *)opaque = TRUE;
}

static void wait_for(const gboolean *done)
{
    for (unsigned round = 0; !*done && round < HARNESS_MAX_ROUNDS; round++) {
        g_main_context_iteration(NULL, FALSE);
    }
    g_assert(*done);
}

QIOChannelTLS *harness_tls_client(QIOChannel *master, QCryptoTLSCreds *creds)
{
    g_autoptr(GError) err = NULL;
    QIOChannelTLS *tls = qio_channel_tls_new_client(master, creds, NULL, &err);
    g_assert_no_error(err);
    gboolean done = FALSE;
    qio_channel_tls_handshake(tls, handshaken, &done, NULL, NULL);
    wait_for(&done);
    return tls;
}

QIOChannelWebsock *harness_websocket_client(QIOChannel *master)
{
    g_autoptr(GError) err = NULL;
    static const char *const protocols[] = { "binary", NULL };
    QIOChannelWebsock *websock = qio_channel_websock_new_client(master, "localhost", "/", protocols, &err);
    g_assert_no_error(err);
    gboolean done = FALSE;
    qio_channel_websock_handshake(websock, handshaken, &done, NULL);
    wait_for(&done);
    return websock;
}

gboolean harness_run_client(QIOChannel *client, QIOChannel *socket, const uint8_t *data, size_t size, size_t chunk,
                            gboolean silent, const gboolean *closed)
{
    size_t sent = 0;
    gboolean shut = FALSE;
    unsigned idle = 0;
    for (unsigned round = 0; !*closed && round < HARNESS_MAX_ROUNDS && idle < HARNESS_MAX_IDLE_ROUNDS; round++) {
        gboolean progress = FALSE;
        if (sent < size) {
            ssize_t n = qio_channel_write(client, (const char *)data + sent, MIN(chunk, size - sent), NULL);
            if (n > 0) {
                sent += (size_t)n;
                progress = TRUE;
            } else if (n != QIO_CHANNEL_ERR_BLOCK) {
                sent = size; /* the server hung up */
            }
        }
        if (sent == size && !shut && !silent) {
            qio_channel_shutdown(socket, QIO_CHANNEL_SHUTDOWN_WRITE, NULL);
            shut = progress = TRUE;
        }
        progress |= harness_drain(client);
        progress |= g_main_context_iteration(NULL, FALSE);
        idle = progress ? 0 : idle + 1;
    }
    if (!*closed && shut) {
        /* A server that neither closes nor moves after the client's end of file
         * would keep a dead client forever. */
        fprintf(stderr, "the connection outlived the client's end of file\n");
        abort();
    }
    return *closed;
}

void harness_settle(void)
{
    for (int i = 0; i < 100 && g_main_context_iteration(NULL, FALSE); i++) {
    }
}
