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
 * fuzz.sh sources: fuzz/c/harness.c examples/nbd/nbd-conn.c examples/nbd/nbd-export.c */

#define _GNU_SOURCE /* memfd_create, pwrite, ftruncate under -std=c11 */

#include "harness.h"
#include "nbd-conn.h"
#include "nbd-proto.h"

#include <glib/gstdio.h>
#include <stdlib.h>
#include <sys/mman.h>
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
    harness_init();
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

/* Does what a client does before its options go through TLS: the flags, STARTTLS,
 * waiting for the greeting and the ACK, the handshake. Returns the TLS channel. */
static QIOChannelTLS *client_starttls(QIOChannel *socket)
{
    uint8_t starttls[20];
    nbd_put32(starttls, NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES);
    nbd_put64(starttls + 4, NBD_OPTS_MAGIC);
    nbd_put32(starttls + 12, NBD_OPT_STARTTLS);
    nbd_put32(starttls + 16, 0);
    harness_write(socket, starttls, sizeof(starttls));
    uint8_t replies[18 + 20]; /* the greeting, the ACK */
    harness_read(socket, replies, sizeof(replies));
    g_assert(nbd_get32(replies + 18 + 12) == NBD_REP_ACK);
    return harness_tls_client(socket, client_creds);
}

static void serve(const NbdServerConfig *config, uint8_t mode, const uint8_t *data, size_t size)
{
    QIOChannel *server, *socket;
    harness_socketpair(&server, &socket);
    gboolean closed = FALSE;
    NbdConn *conn = nbd_conn_new(config, server, "fuzz", on_closed, &closed);
    qio_channel_unref(server);
    QIOChannelTLS *tls = (mode & MODE_TLS) && (mode & MODE_HANDSHAKE) ? client_starttls(socket) : NULL;
    QIOChannel *client = tls ? QIO_CHANNEL(tls) : socket;
    if (!harness_run_client(client, socket, data, size, chunk_sizes[mode >> MODE_CHUNK_SHIFT],
                            (mode & MODE_SILENT) != 0, &closed)) {
        nbd_conn_close(conn); /* as when the server stops */
    }
    g_assert(closed);
    harness_settle();
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
