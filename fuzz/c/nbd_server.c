/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for qio-nbd's server side: one NbdConn (examples/nbd/nbd-conn.c)
 * serving an NbdExport (nbd-export.c) over a socketpair. The first input byte picks
 * the configuration (MODE_* below); the rest is what the client sends, from its flags
 * through the options to the requests (or, with MODE_HANDSHAKE, the options after a
 * STARTTLS and TLS handshake that the harness does), written in chunks of the size the
 * mode picks while everything the server replies is read and dropped. Then the client
 * either shuts its end for writing, after which the server must close by itself, or
 * goes silent, and the server is closed once nothing moves.
 * fuzz/c/nbd_server_seeds.py writes the seeds.
 * fuzz.sh sources: examples/nbd/nbd-conn.c examples/nbd/nbd-export.c */

#define _GNU_SOURCE /* memfd_create, pwrite, ftruncate under -std=c11 */

#include "fuzz-glib.h"
#include "nbd-conn.h"
#include "nbd-proto.h"

#include <glib/gstdio.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define MODE_TLS 0x01        /* STARTTLS required, PSK credentials */
#define MODE_READONLY 0x02   /* a read-only export */
#define MODE_LUKS 0x04       /* the LUKS volume instead of the plain file */
#define MODE_OTHER_NAME 0x08 /* the export is called "" and has a description */
#define MODE_HANDSHAKE 0x10  /* with MODE_TLS: the harness does STARTTLS and the handshake */
#define MODE_SILENT 0x20     /* the client ends by going silent instead of shutting down */
#define MODE_CHUNK_SHIFT 6   /* two bits: how many bytes each write takes */
static const size_t chunk_sizes[] = { SIZE_MAX, 1, 7, 100 };

/* Odd, so that the last sector is partial. */
#define PLAIN_SIZE ((1u << 20) + 123)
/* Loop bounds: every round writes, reads or dispatches something, except the idle
 * ones in a row that mean the connection waits for the client. */
#define MAX_ROUNDS 100000
#define MAX_IDLE_ROUNDS 16

/* The images are memory files, opened by the server through /proc/self/fd, so that
 * nothing is left behind however the process ends. */
static int plain_fd;
static char *plain_path;
/* PSK credentials (with ECDHE, a handshake costs an eighth of anonymous credentials'
 * finite-field DH) from a keys.psk that gnutls reads at each handshake, in a directory removed at
 * exit (a crash leaves it). */
static char *psk_dir, *psk_file;
static QCryptoTLSCreds *server_creds, *client_creds;
static NbdExport *luks_exports[2]; /* read-write, read-only */

static void remove_psk_dir(void)
{
    g_unlink(psk_file);
    g_rmdir(psk_dir);
}

static void discard_message(const char *message)
{
    (void)message;
}

/* A new memory file and the path that opens it. */
static int memory_file(const char *name, char **path)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    g_assert(fd >= 0);
    *path = g_strdup_printf("/proc/self/fd/%d", fd);
    return fd;
}

static int luks_init(QCryptoBlock *block, size_t headerlen, void *opaque, GError **errp)
{
    (void)block, (void)headerlen, (void)opaque, (void)errp;
    return 0;
}

static int luks_write(QCryptoBlock *block, size_t offset, const uint8_t *buf, size_t buflen,
                      void *opaque, GError **errp)
{
    (void)block, (void)errp;
    ssize_t n = pwrite(*(int *)opaque, buf, buflen, (off_t)offset);
    g_assert(n == (ssize_t)buflen);
    return 0;
}

/* A LUKS1 volume (QEMU's default cipher, the cheapest key slot) with a payload of
 * PLAIN_SIZE rounded up to sectors, opened once (reading and writing it is what is
 * fuzzed, not unlocking it) and shared by every execution. */
static void make_luks(void)
{
    g_autoptr(GError) err = NULL;
    QCryptoSecret *secret = qcrypto_secret_new("fuzz", NULL, QCRYPTO_SECRET_FORMAT_RAW, NULL, NULL, &err);
    g_assert_no_error(err);
    QCryptoBlockCreateOptions options = {
        .format = QCRYPTO_BLOCK_FORMAT_LUKS,
        .u.luks = { .key_secret = secret, .has_iter_time = true, .iter_time = 1 },
    };
    g_autofree char *path = NULL;
    int fd = memory_file("luks", &path);
    QCryptoBlock *block = qcrypto_block_create(&options, NULL, luks_init, luks_write, &fd, 0, &err);
    g_assert_no_error(err);
    uint64_t sectors = (PLAIN_SIZE + 511) / 512;
    int rc = ftruncate(fd, (off_t)(qcrypto_block_get_payload_offset(block) + sectors * 512));
    g_assert(rc == 0);
    qcrypto_block_free(block);
    for (int readonly = 0; readonly < 2; readonly++) {
        luks_exports[readonly] = nbd_export_open(path, readonly, secret, &err);
        g_assert_no_error(err);
    }
    close(fd);
    qcrypto_secret_unref(secret);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    g_autoptr(GError) err = NULL;
    fuzz_abort_on_criticals();
    /* The server says why it drops each client: not worth the fuzzer's time. */
    g_set_printerr_handler(discard_message);
    /* Writes to a peer that has gone fail with EPIPE instead. */
    signal(SIGPIPE, SIG_IGN);
    plain_fd = memory_file("plain", &plain_path);
    psk_dir = g_dir_make_tmp("qio-nbd-fuzz-XXXXXX", &err);
    g_assert_no_error(err);
    psk_file = g_build_filename(psk_dir, "keys.psk", NULL);
    atexit(remove_psk_dir);
    g_file_set_contents(psk_file, "qemu:000102030405060708090a0b0c0d0e0f\n", -1, &err);
    g_assert_no_error(err);
    server_creds = qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, psk_dir, NULL, NULL, &err);
    g_assert_no_error(err);
    client_creds = qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, psk_dir, NULL, NULL, &err);
    g_assert_no_error(err);
    make_luks();
    return 0;
}

static void on_closed(NbdConn *conn, gpointer opaque)
{
    (void)conn;
    *(gboolean *)opaque = TRUE;
}

/* Reads and drops what the server has sent; TRUE if there was anything. */
static gboolean drain(QIOChannel *ioc)
{
    static char buf[65536];
    gboolean any = FALSE;
    while (qio_channel_read(ioc, buf, sizeof(buf), NULL) > 0) {
        any = TRUE;
    }
    return any;
}

static void handshaken(QIOTask *task, gpointer opaque)
{
    g_autoptr(GError) err = NULL;
    qio_task_propagate_error(task, &err);
    g_assert_no_error(err);
    *(gboolean *)opaque = TRUE;
}

/* Does what a client does before its options go through TLS: the flags, STARTTLS,
 * waiting for the greeting and the ACK, the handshake. Returns the TLS channel. */
static QIOChannelTLS *client_starttls(QIOChannel *socket)
{
    g_autoptr(GError) err = NULL;
    uint8_t starttls[20];
    nbd_put32(starttls, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
    nbd_put64(starttls + 4, NBD_OPTS_MAGIC);
    nbd_put32(starttls + 12, NBD_OPT_STARTTLS);
    nbd_put32(starttls + 16, 0);
    /* An empty socket takes it at once. */
    ssize_t n = qio_channel_write(socket, (const char *)starttls, sizeof(starttls), &err);
    g_assert_no_error(err);
    g_assert(n == sizeof(starttls));
    uint8_t replies[18 + 20]; /* the greeting, the ACK */
    size_t have = 0;
    for (unsigned round = 0; have < sizeof(replies) && round < MAX_ROUNDS; round++) {
        g_main_context_iteration(NULL, FALSE);
        n = qio_channel_read(socket, (char *)replies + have, sizeof(replies) - have, NULL);
        have += n > 0 ? (size_t)n : 0;
    }
    g_assert(have == sizeof(replies) && nbd_get32(replies + 18 + 12) == NBD_REP_ACK);

    QIOChannelTLS *tls = qio_channel_tls_new_client(socket, client_creds, NULL, &err);
    g_assert_no_error(err);
    gboolean done = FALSE;
    qio_channel_tls_handshake(tls, handshaken, &done, NULL, NULL);
    for (unsigned round = 0; !done && round < MAX_ROUNDS; round++) {
        g_main_context_iteration(NULL, FALSE);
    }
    g_assert(done);
    return tls;
}

static void serve(const NbdServerConfig *config, uint8_t mode, const uint8_t *data, size_t size)
{
    g_autoptr(GError) err = NULL;
    int sv[2];
    int rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    g_assert(rc == 0);
    QIOChannelSocket *server_socket = qio_channel_socket_new_fd(sv[0], &err);
    g_assert_no_error(err);
    QIOChannelSocket *client_socket = qio_channel_socket_new_fd(sv[1], &err);
    g_assert_no_error(err);
    QIOChannel *socket = QIO_CHANNEL(client_socket);
    qio_channel_set_blocking(socket, FALSE, &err);
    g_assert_no_error(err);
    gboolean closed = FALSE;
    NbdConn *conn = nbd_conn_new(config, QIO_CHANNEL(server_socket), "fuzz", on_closed, &closed);
    qio_channel_unref(QIO_CHANNEL(server_socket));
    QIOChannelTLS *tls = (mode & MODE_TLS) && (mode & MODE_HANDSHAKE) ? client_starttls(socket) : NULL;
    QIOChannel *client = tls ? QIO_CHANNEL(tls) : socket;

    size_t chunk = chunk_sizes[mode >> MODE_CHUNK_SHIFT];
    size_t sent = 0;
    gboolean shut = FALSE;
    unsigned idle = 0;
    for (unsigned round = 0; !closed && round < MAX_ROUNDS && idle < MAX_IDLE_ROUNDS; round++) {
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
        if (sent == size && !shut && !(mode & MODE_SILENT)) {
            qio_channel_shutdown(socket, QIO_CHANNEL_SHUTDOWN_WRITE, NULL);
            shut = progress = TRUE;
        }
        progress |= drain(client);
        progress |= g_main_context_iteration(NULL, FALSE);
        idle = progress ? 0 : idle + 1;
    }
    if (!closed) {
        if (shut) {
            /* A server that neither closes nor moves after the client's end of file
             * would keep a dead client forever. */
            fprintf(stderr, "the connection outlived the client's end of file\n");
            abort();
        }
        nbd_conn_close(conn); /* as when the server stops */
    }
    g_assert(closed);
    /* Let whatever the connection left behind (idle callbacks) run and free. */
    for (int i = 0; i < 100 && g_main_context_iteration(NULL, FALSE); i++) {
    }
    if (tls) {
        qio_channel_unref(QIO_CHANNEL(tls));
    }
    qio_channel_unref(socket);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t mode = data[0];
    gboolean readonly = (mode & MODE_READONLY) != 0;
    NbdServerConfig config = {
        .name = mode & MODE_OTHER_NAME ? "" : "disk",
        .description = mode & MODE_OTHER_NAME ? "fuzzed export" : NULL,
        .tls_creds = mode & MODE_TLS ? server_creds : NULL,
    };
    NbdExport *plain = NULL;
    if (mode & MODE_LUKS) {
        config.export = luks_exports[readonly];
    } else {
        /* An all-zero image each time, so that executions repeat. */
        g_autoptr(GError) err = NULL;
        int rc = ftruncate(plain_fd, 0);
        g_assert(rc == 0);
        rc = ftruncate(plain_fd, PLAIN_SIZE);
        g_assert(rc == 0);
        plain = config.export = nbd_export_open(plain_path, readonly, NULL, &err);
        g_assert_no_error(err);
    }
    serve(&config, mode, data + 1, size - 1);
    if (plain) {
        nbd_export_free(plain);
    }
    return 0;
}
