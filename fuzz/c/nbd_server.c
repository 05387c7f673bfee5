/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for qio-nbd's server side: one NbdConn (examples/nbd/nbd-conn.c)
 * serving an NbdExport (nbd-export.c) over a socketpair. The first input byte picks
 * the configuration (MODE_* below); the rest is what the client sends, from its flags
 * through the options to the requests, written in chunks of the size the mode picks
 * while everything the server replies is read and dropped; then the client's end is
 * shut for writing and the connection runs until it closes. fuzz/c/nbd_server_seeds.py
 * writes the seeds.
 * fuzz.sh sources: examples/nbd/nbd-conn.c examples/nbd/nbd-export.c */

#define _GNU_SOURCE /* memfd_create, pwrite, ftruncate under -std=c11 */

#include "nbd-conn.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#define MODE_TLS 0x01         /* STARTTLS required, anonymous server credentials */
#define MODE_READONLY 0x02    /* a read-only export */
#define MODE_LUKS 0x04        /* the LUKS volume instead of the plain file */
#define MODE_EMPTY_NAME 0x08  /* the export is called "" instead of "disk" */
#define MODE_DESCRIPTION 0x10 /* the export has a description */
#define MODE_CHUNK_SHIFT 5    /* 0: whole input at once; n: 4^(n-1) bytes per write */

/* Odd, so that the last sector is partial. */
#define PLAIN_SIZE ((1u << 20) + 123)
/* Loop bounds: every round writes, reads or dispatches something, except the idle
 * ones in a row before the connection is closed by force. */
#define MAX_ROUNDS 100000
#define MAX_IDLE_ROUNDS 16

/* The images are memory files, opened by the server through /proc/self/fd, so that
 * nothing is left behind however the process ends. */
static int plain_fd;
static char *plain_path;
static QCryptoTLSCreds *tls_creds;
static NbdExport *luks_exports[2]; /* read-write, read-only */

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

static void discard_message(const char *message)
{
    (void)message;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    g_autoptr(GError) err = NULL;
    /* A critical is qio or the server misusing an API: a finding. */
    g_log_set_always_fatal(G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
    /* The server says why it drops each client: not worth the fuzzer's time. */
    g_set_printerr_handler(discard_message);
    plain_fd = memory_file("plain", &plain_path);
    tls_creds = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL, &err);
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
static gboolean drain(int fd)
{
    static uint8_t buf[65536];
    gboolean any = FALSE;
    while (recv(fd, buf, sizeof(buf), 0) > 0) {
        any = TRUE;
    }
    return any;
}

static void serve(const NbdServerConfig *config, const uint8_t *data, size_t size, size_t chunk)
{
    g_autoptr(GError) err = NULL;
    int sv[2];
    int rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    g_assert(rc == 0);
    int client = sv[1];
    rc = fcntl(client, F_SETFL, O_NONBLOCK);
    g_assert(rc == 0);
    QIOChannelSocket *sioc = qio_channel_socket_new_fd(sv[0], &err);
    g_assert_no_error(err);
    gboolean closed = FALSE;
    NbdConn *conn = nbd_conn_new(config, QIO_CHANNEL(sioc), "fuzz", on_closed, &closed);
    qio_channel_unref(QIO_CHANNEL(sioc));

    size_t sent = 0;
    gboolean shut = FALSE;
    unsigned idle = 0;
    for (unsigned round = 0; !closed && round < MAX_ROUNDS && idle < MAX_IDLE_ROUNDS; round++) {
        gboolean progress = FALSE;
        if (sent < size) {
            ssize_t n = send(client, data + sent, MIN(chunk, size - sent), MSG_NOSIGNAL);
            if (n > 0) {
                sent += (size_t)n;
                progress = TRUE;
            } else if (errno != EAGAIN) {
                sent = size; /* the server hung up */
            }
        }
        if (sent == size && !shut) {
            shutdown(client, SHUT_WR);
            shut = progress = TRUE;
        }
        progress |= drain(client);
        progress |= g_main_context_iteration(NULL, FALSE);
        idle = progress ? 0 : idle + 1;
    }
    if (!closed) {
        nbd_conn_close(conn);
    }
    g_assert(closed);
    /* Let whatever the connection left behind (idle callbacks) run and free. */
    for (int i = 0; i < 100 && g_main_context_iteration(NULL, FALSE); i++) {
    }
    close(client);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t mode = data[0];
    unsigned chunk_code = mode >> MODE_CHUNK_SHIFT;
    gboolean readonly = (mode & MODE_READONLY) != 0;
    NbdServerConfig config = {
        .name = mode & MODE_EMPTY_NAME ? "" : "disk",
        .description = mode & MODE_DESCRIPTION ? "fuzzed export" : NULL,
        .tls_creds = mode & MODE_TLS ? tls_creds : NULL,
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
    serve(&config, data + 1, size - 1, chunk_code ? 1u << (2 * (chunk_code - 1)) : size);
    if (plain) {
        nbd_export_free(plain);
    }
    return 0;
}
