/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target for qio-nbd-client's session with a server (examples/nbd/nbd-client.c)
 * over a socketpair. The first input byte picks what the client does (MODE_* below);
 * the rest is everything the server says, which a thread writes, in pieces of the size
 * the mode picks, while it drains what the client sends, and then ends with a shutdown
 * for writing: a client that reads past the input meets end of file and must fail
 * cleanly, so every execution ends. The client greets, then lists the exports or opens
 * one (asking for structured replies; NBD_OPT_GO, NBD_OPT_EXPORT_NAME if the server
 * does not know it) and reads its first and last bytes, with several requests in
 * flight when the server's block sizes are small, and maybe writes and flushes.
 * fuzz/c/nbd_client_seeds.py writes the seeds.
 * fuzz.sh sources: fuzz/c/harness.c examples/nbd/nbd-client.c */

#define _GNU_SOURCE /* SOCK_CLOEXEC, poll under -std=c11 */

#include "harness.h"
#include "nbd-client.h"
#include "nbd-proto.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define MODE_LIST 0x01     /* NBD_OPT_LIST instead of opening the export */
#define MODE_WRITE 0x02    /* after the reads, a write and a flush */
#define MODE_STARTTLS 0x04 /* NBD_OPT_STARTTLS first (replayed bytes cannot finish a handshake) */
#define MODE_CHUNK_SHIFT 6 /* two bits: how many bytes each of the server's writes takes */
static const size_t chunk_sizes[] = { SIZE_MAX, 1, 7, 100 };

/* The ranges moved: the first HEAD_SPAN bytes, which take several requests when the
 * server's maximum block size is small, and the last TAIL_SPAN, which the client
 * rounds out to whole blocks. */
#define HEAD_SPAN 20000
#define TAIL_SPAN 1000

static QCryptoTLSCreds *tls_creds;
/* The server thread, one for the whole run (ASan keeps a few hundred bytes for every
 * thread that ever ran), takes each execution's Server from JOBS and gives it back
 * through DONE once the client has closed. */
static GAsyncQueue *jobs, *done;
static GThread *server_thread; /* runs until the process ends */

typedef struct {
    int fd; /* non-blocking */
    const uint8_t *data;
    size_t size, chunk;
} Server;

/* The server's side: writes DATA, then shuts down for writing, reading and dropping
 * what the client sends until it closes. */
static void serve(Server *s)
{
    char buf[65536];
    size_t sent = 0;
    gboolean shut = FALSE;
    for (;;) {
        if (sent == s->size && !shut) {
            shutdown(s->fd, SHUT_WR);
            shut = TRUE;
        }
        struct pollfd pfd = { .fd = s->fd, .events = POLLIN | (shut ? 0 : POLLOUT) };
        if (poll(&pfd, 1, -1) < 0) {
            g_assert(errno == EINTR);
            continue;
        }
        if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
            ssize_t n = read(s->fd, buf, sizeof(buf));
            if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
                return; /* the client closed */
            }
        }
        if (!shut && (pfd.revents & POLLOUT)) {
            ssize_t n = write(s->fd, s->data + sent, MIN(s->chunk, s->size - sent));
            if (n > 0) {
                sent += (size_t)n;
            } else if (n < 0 && errno != EAGAIN && errno != EINTR) {
                sent = s->size; /* the client closed */
            }
        }
    }
}

static gpointer server_main(gpointer opaque)
{
    (void)opaque;
    for (;;) {
        Server *s = g_async_queue_pop(jobs);
        serve(s);
        g_async_queue_push(done, s);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    g_autoptr(GError) err = NULL;
    harness_init();
    /* Anonymous credentials: the client's needs no files. */
    tls_creds = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, NULL, NULL, &err);
    g_assert_no_error(err);
    jobs = g_async_queue_new();
    done = g_async_queue_new();
    server_thread = g_thread_new("server", server_main, NULL);
    return 0;
}

static void ignore_export(const char *name, const char *description, gpointer opaque)
{
    (void)name, (void)description, (void)opaque;
}

/* A read's bytes: a hole must be zeroes (and the client must have filled every byte,
 * which ASan's malloc fill would show). */
static gboolean check_read(uint8_t *buf, size_t len, gboolean hole, gpointer opaque, GError **error)
{
    (void)opaque, (void)error;
    for (size_t i = 0; hole && i < len; i++) {
        if (buf[i]) {
            fprintf(stderr, "byte %zu of a %zu-byte hole is 0x%02x\n", i, len, buf[i]);
            abort();
        }
    }
    return TRUE;
}

static gboolean fill_write(uint8_t *buf, size_t len, gboolean hole, gpointer opaque, GError **error)
{
    (void)hole, (void)opaque, (void)error;
    memset(buf, 0xa5, len);
    return TRUE;
}

/* What the client does on NBD's open session, up to the first failure. */
static void run(NbdClient *nbd, uint8_t mode)
{
    g_autoptr(GError) err = NULL;
    if (!nbd_client_greet(nbd, &err) ||
        ((mode & MODE_STARTTLS) && !nbd_client_starttls(nbd, tls_creds, "localhost", &err))) {
        return;
    }
    if (mode & MODE_LIST) {
        nbd_client_list(nbd, ignore_export, NULL, &err);
        return;
    }
    if (!nbd_client_open(nbd, "disk", &err)) {
        return;
    }
    const NbdClientExport *export = nbd_client_get_export(nbd);
    uint64_t size = export->size, head = MIN(size, HEAD_SPAN), tail = MIN(size, TAIL_SPAN);
    if (!nbd_client_transfer(nbd, NBD_CMD_READ, 0, head, check_read, NULL, &err) ||
        !nbd_client_transfer(nbd, NBD_CMD_READ, size - tail, size, check_read, NULL, &err)) {
        return;
    }
    if (mode & MODE_WRITE) {
        uint64_t end = head / export->min_block * export->min_block;
        if (nbd_client_transfer(nbd, NBD_CMD_WRITE, 0, end, fill_write, NULL, &err)) {
            nbd_client_flush(nbd, &err);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    uint8_t mode = data[0];
    int sv[2];
    int rc = socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv);
    g_assert(rc == 0);
    rc = fcntl(sv[0], F_SETFL, O_NONBLOCK);
    g_assert(rc == 0);
    Server server = { sv[0], data + 1, size - 1, chunk_sizes[mode >> MODE_CHUNK_SHIFT] };
    g_async_queue_push(jobs, &server);

    g_autoptr(GError) err = NULL;
    g_autoptr(QIOChannelSocket) socket = qio_channel_socket_new_fd(sv[1], &err);
    g_assert_no_error(err);
    NbdClient *nbd = nbd_client_new(QIO_CHANNEL(socket));
    run(nbd, mode);
    nbd_client_free(nbd); /* closes the client's end, which ends the server's turn */
    g_async_queue_pop(done);
    close(sv[0]);
    return 0;
}
