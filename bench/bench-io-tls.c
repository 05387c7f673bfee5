/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * TLS channel cost beside gnutls used directly in the same run, as Markdown tables.
 *
 *   bench-io-tls [-r ROUNDS] [-s MIB] [-t SECONDS]
 *
 * Throughput: MIB MiB (default 1 GiB) through a QIOChannelTLS pair over a socketpair,
 * qio_channel_write_all() of 64 KiB in one thread and qio_channel_read() of 64 KiB in
 * another, for TLS 1.3 with AES-128-GCM, AES-256-GCM and CHACHA20-POLY1305 (an ECDSA
 * P-256 server certificate); beside two gnutls sessions on a socketpair doing
 * gnutls_record_send()/gnutls_record_recv() of the same sizes with the same priority
 * string and certificates; the reader on CPU 0, the writer on CPU 1. The two
 * connections take turns in 32 MiB bursts, so that a slow spell of a shared machine
 * falls on both; each round moves MIB through each. The best MB/s of ROUNDS rounds,
 * and the median of the rounds' ratios.
 *
 * Handshakes: full TLS 1.3 handshakes per second between a client and a server with
 * ECDSA P-256 or RSA-2048 certificates (the client checks the server's chain and
 * name), each on a fresh non-blocking socketpair pumped from one thread: through
 * qio's channels and qio_channel_tls_handshake(), and through gnutls_handshake() plus
 * gnutls_certificate_verify_peers3(); the two take turns of 16 handshakes, SECONDS
 * each per round. The best rate of ROUNDS rounds, and the median of their ratios.
 */

#include <qio.h>

#include <errno.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-common.h"
#include "qio-test-x509.h"

#define CHUNK (64 * 1024)

static const char *const cipher_names[] = { "AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305" };

static char *tls13_priority(const char *cipher)
{
    return g_strdup_printf("NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+%s", cipher);
}

static void check(int rc, const char *what)
{
    if (rc < 0) {
        g_error("%s: %s", what, gnutls_strerror(rc));
    }
}

/* ---- Handshakes ---- */

/* A CA, a server certificate for "qemu.org" with KEY_BITS RSA (0: ECDSA P-256), and
 * the server's and client's credential directories. */
typedef struct {
    char *server_dir, *client_dir;
} CertDirs;

static void cert_dirs_init(CertDirs *d, unsigned int rsa_bits)
{
    QIOTestCertReq ca_req = QIO_TEST_CA_REQ("bench CA");
    QIOTestCertReq server_req = QIO_TEST_LEAF_REQ("qemu.org", QIO_TEST_KP_SERVER);
    ca_req.rsa_bits = server_req.rsa_bits = rsa_bits;
    server_req.dns[0] = "qemu.org";
    g_autoptr(QIOTestCert) ca = qio_test_cert_new(&ca_req, NULL);
    g_autoptr(QIOTestCert) server = qio_test_cert_new(&server_req, ca);
    g_autofree char *key = qio_test_cert_key_pem(server, NULL);
    d->server_dir = g_dir_make_tmp("qio-bench-tls-XXXXXX", NULL);
    d->client_dir = g_dir_make_tmp("qio-bench-tls-XXXXXX", NULL);
    qio_test_write(d->server_dir, "ca-cert.pem", qio_test_cert_pem(ca));
    qio_test_write(d->server_dir, "server-cert.pem", qio_test_cert_pem(server));
    qio_test_write(d->server_dir, "server-key.pem", key);
    qio_test_write(d->client_dir, "ca-cert.pem", qio_test_cert_pem(ca));
}

static void cert_dirs_clear(CertDirs *d)
{
    qio_test_dir_remove(d->server_dir);
    qio_test_dir_remove(d->client_dir);
}

/* ---- gnutls used directly ---- */

typedef struct {
    gnutls_certificate_credentials_t client, server;
} RawCreds;

static void raw_creds_init(RawCreds *c, const CertDirs *d)
{
    g_autofree char *ca = g_build_filename(d->client_dir, "ca-cert.pem", NULL);
    g_autofree char *cert = g_build_filename(d->server_dir, "server-cert.pem", NULL);
    g_autofree char *key = g_build_filename(d->server_dir, "server-key.pem", NULL);
    check(gnutls_certificate_allocate_credentials(&c->client), "creds");
    check(gnutls_certificate_set_x509_trust_file(c->client, ca, GNUTLS_X509_FMT_PEM), "trust");
    check(gnutls_certificate_allocate_credentials(&c->server), "creds");
    check(gnutls_certificate_set_x509_key_file2(c->server, cert, key, GNUTLS_X509_FMT_PEM, NULL, 0), "key");
}

static void raw_creds_clear(RawCreds *c)
{
    gnutls_certificate_free_credentials(c->client);
    gnutls_certificate_free_credentials(c->server);
}

/* A gnutls client and server with PRIORITY on the two ends of SV. */
static void raw_sessions(const RawCreds *c, const char *priority, const int sv[2], gnutls_session_t *client,
                         gnutls_session_t *server)
{
    check(gnutls_init(client, GNUTLS_CLIENT), "init");
    check(gnutls_init(server, GNUTLS_SERVER), "init");
    check(gnutls_priority_set_direct(*client, priority, NULL), "priority");
    check(gnutls_priority_set_direct(*server, priority, NULL), "priority");
    check(gnutls_credentials_set(*client, GNUTLS_CRD_CERTIFICATE, c->client), "creds");
    check(gnutls_credentials_set(*server, GNUTLS_CRD_CERTIFICATE, c->server), "creds");
    gnutls_transport_set_int(*client, sv[0]);
    gnutls_transport_set_int(*server, sv[1]);
}

/* One established connection, gnutls' or qio's: `send` writes BYTES from the writer
 * thread in 64 KiB chunks, each sent to its end as qio_channel_write_all() does (gnutls
 * takes one 16 KiB record per call), and `recv` reads them 64 KiB at a time. */
typedef struct Link Link;
struct Link {
    void (*send)(Link *link, guint64 bytes);
    void (*recv)(Link *link, guint64 bytes);
    guint8 *buf, *rbuf;
};

typedef struct {
    Link link;
    gnutls_session_t client, server;
    int sv[2];
} RawLink;

static gpointer raw_handshake_thread(gpointer data)
{
    gnutls_session_t session = data;
    int rc;
    do {
        rc = gnutls_handshake(session);
    } while (rc < 0 && !gnutls_error_is_fatal(rc));
    check(rc, "server handshake");
    return NULL;
}

static void raw_send(Link *link, guint64 bytes)
{
    RawLink *raw = (RawLink *)link;
    for (guint64 done = 0; done < bytes;) {
        gsize offset = done % CHUNK;
        ssize_t n = gnutls_record_send(raw->client, link->buf + offset, MIN(CHUNK - offset, bytes - done));
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            continue;
        }
        check(n, "gnutls_record_send");
        done += n;
    }
}

static void raw_recv(Link *link, guint64 bytes)
{
    RawLink *raw = (RawLink *)link;
    for (guint64 got = 0; got < bytes;) {
        ssize_t n = gnutls_record_recv(raw->server, link->rbuf, CHUNK);
        if (n == GNUTLS_E_AGAIN || n == GNUTLS_E_INTERRUPTED) {
            continue;
        }
        check(n, "gnutls_record_recv");
        if (n == 0) {
            g_error("gnutls: early EOF");
        }
        got += n;
    }
}

/* A gnutls client and server over a socketpair, past their handshake. */
static RawLink *raw_link_new(const RawCreds *creds, const char *cipher)
{
    g_autofree char *priority = tls13_priority(cipher);
    RawLink *raw = g_new0(RawLink, 1);
    raw->link = (Link){ raw_send, raw_recv, g_malloc0(CHUNK), g_malloc(CHUNK) };
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, raw->sv), ==, 0);
    raw_sessions(creds, priority, raw->sv, &raw->client, &raw->server);
    GThread *hs = g_thread_new("server-handshake", raw_handshake_thread, raw->server);
    int rc;
    do {
        rc = gnutls_handshake(raw->client);
    } while (rc < 0 && !gnutls_error_is_fatal(rc));
    check(rc, "client handshake");
    g_thread_join(hs);
    return raw;
}

static void raw_link_free(RawLink *raw)
{
    gnutls_deinit(raw->client);
    gnutls_deinit(raw->server);
    close(raw->sv[0]);
    close(raw->sv[1]);
    g_free(raw->link.buf);
    g_free(raw->link.rbuf);
    g_free(raw);
}

/* ---- Through qio's TLS channels ---- */

typedef struct {
    int calls;
    GError *error;
} Done;

static void handshake_done(QIOTask *task, gpointer opaque)
{
    Done *done = opaque;
    done->calls++;
    qio_task_propagate_error(task, &done->error);
}

/* Runs both channels' handshakes from a private context until both report. */
static void qio_handshake(QIOChannelTLS *client, QIOChannelTLS *server, GMainContext *context)
{
    Done c = { 0 }, s = { 0 };
    qio_channel_tls_handshake(client, handshake_done, &c, NULL, context);
    qio_channel_tls_handshake(server, handshake_done, &s, NULL, context);
    while (!c.calls || !s.calls) {
        g_main_context_iteration(context, TRUE);
    }
    if (c.error || s.error) {
        g_error("handshake: %s", (c.error ? c.error : s.error)->message);
    }
}

/* A TLS channel pair over a socketpair, non-blocking. */
static void qio_pair(QCryptoTLSCreds *client_creds, QCryptoTLSCreds *server_creds, const char *hostname,
                     QIOChannelTLS **client, QIOChannelTLS **server)
{
    g_autoptr(GError) error = NULL;
    int sv[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_autoptr(QIOChannel) a = qio_channel_new_fd(sv[0], &error);
    g_autoptr(QIOChannel) b = qio_channel_new_fd(sv[1], &error);
    *client = qio_channel_tls_new_client(a, client_creds, hostname, &error);
    *server = qio_channel_tls_new_server(b, server_creds, NULL, &error);
    g_assert_no_error(error);
    qio_channel_set_blocking(QIO_CHANNEL(*client), FALSE, NULL);
    qio_channel_set_blocking(QIO_CHANNEL(*server), FALSE, NULL);
}

typedef struct {
    Link link;
    QIOChannelTLS *client, *server;
} QioLink;

static void qio_send(Link *link, guint64 bytes)
{
    QioLink *qio = (QioLink *)link;
    g_autoptr(GError) error = NULL;
    for (guint64 done = 0; done < bytes; done += CHUNK) {
        if (qio_channel_write_all(QIO_CHANNEL(qio->client), (const char *)link->buf, MIN(CHUNK, bytes - done),
                                  &error) < 0) {
            g_error("qio write: %s", error->message);
        }
    }
}

static void qio_recv(Link *link, guint64 bytes)
{
    QioLink *qio = (QioLink *)link;
    g_autoptr(GError) error = NULL;
    for (guint64 got = 0; got < bytes;) {
        ssize_t n = qio_channel_read(QIO_CHANNEL(qio->server), (char *)link->rbuf, CHUNK, &error);
        if (n <= 0) {
            g_error("qio read: %s", error ? error->message : "early EOF");
        }
        got += n;
    }
}

/* qio's x509 credentials for the client (verifying the server) and the server. */
static void qio_creds(const CertDirs *d, const char *priority, QCryptoTLSCreds **client, QCryptoTLSCreds **server)
{
    g_autoptr(GError) error = NULL;
    *client = qcrypto_tls_creds_x509_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, d->client_dir, TRUE, priority, FALSE,
                                         NULL, &error);
    *server = qcrypto_tls_creds_x509_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, d->server_dir, FALSE, priority, FALSE,
                                         NULL, &error);
    g_assert_no_error(error);
}

/* A blocking qio TLS channel pair over a socketpair, past their handshake. */
static QioLink *qio_link_new(const CertDirs *d, const char *cipher)
{
    g_autofree char *priority = tls13_priority(cipher);
    g_autoptr(QCryptoTLSCreds) client_creds = NULL, server_creds = NULL;
    qio_creds(d, priority, &client_creds, &server_creds);
    QioLink *qio = g_new0(QioLink, 1);
    qio->link = (Link){ qio_send, qio_recv, g_malloc0(CHUNK), g_malloc(CHUNK) };
    qio_pair(client_creds, server_creds, "qemu.org", &qio->client, &qio->server);
    GMainContext *context = g_main_context_new();
    qio_handshake(qio->client, qio->server, context);
    g_main_context_unref(context);
    qio_channel_set_blocking(QIO_CHANNEL(qio->client), TRUE, NULL);
    qio_channel_set_blocking(QIO_CHANNEL(qio->server), TRUE, NULL);
    return qio;
}

static void qio_link_free(QioLink *qio)
{
    qio_channel_unref(QIO_CHANNEL(qio->client));
    qio_channel_unref(QIO_CHANNEL(qio->server));
    g_free(qio->link.buf);
    g_free(qio->link.rbuf);
    g_free(qio);
}

/* ---- Throughput: bursts over the two links in turn ---- */

/* Bytes per burst: small enough that the two links take turns many times a second. */
#define BURST ((guint64)32 << 20)

typedef struct {
    Link *link;
    guint64 bytes;
} Burst;

static gpointer burst_writer(gpointer data)
{
    Burst *burst = data;
    bench_pin_to_cpu(1);
    burst->link->send(burst->link, burst->bytes);
    return NULL;
}

/* Seconds LINK takes to move BYTES: written on CPU 1, read here (on CPU 0). */
static double burst_seconds(Link *link, guint64 bytes)
{
    Burst burst = { link, bytes };
    gint64 start = g_get_monotonic_time();
    GThread *writer = g_thread_new("writer", burst_writer, &burst);
    link->recv(link, bytes);
    g_thread_join(writer);
    return (g_get_monotonic_time() - start) / (double)G_USEC_PER_SEC;
}

static void throughput_table(int rounds, guint64 total)
{
    bench_pin_to_cpu(0);
    CertDirs d;
    cert_dirs_init(&d, 0);
    RawCreds raw_creds;
    raw_creds_init(&raw_creds, &d);
    g_print("| TLS 1.3 cipher | gnutls MB/s | qio MB/s | qio / gnutls |\n");
    g_print("|---|--:|--:|--:|\n");
    for (gsize c = 0; c < G_N_ELEMENTS(cipher_names); c++) {
        RawLink *raw = raw_link_new(&raw_creds, cipher_names[c]);
        QioLink *qio = qio_link_new(&d, cipher_names[c]);
        double best_raw = 0, best_qio = 0;
        g_autofree double *ratios = g_new(double, rounds);
        for (int r = 0; r < rounds; r++) {
            double raw_seconds = 0, qio_seconds = 0;
            guint64 done = 0;
            for (int b = 0; done < total; b++) {
                guint64 bytes = MIN(BURST, total - done);
                /* Alternate which goes first, so neither always gets the warm cache. */
                for (int i = 0; i < 2; i++) {
                    if ((b + i) % 2) {
                        qio_seconds += burst_seconds(&qio->link, bytes);
                    } else {
                        raw_seconds += burst_seconds(&raw->link, bytes);
                    }
                }
                done += bytes;
            }
            best_raw = MAX(best_raw, total / raw_seconds / 1e6);
            best_qio = MAX(best_qio, total / qio_seconds / 1e6);
            ratios[r] = raw_seconds / qio_seconds;
        }
        g_autofree char *raw_cell = bench_cell(best_raw), *qio_cell = bench_cell(best_qio);
        g_autofree char *ratio = bench_ratio(bench_median(ratios, rounds), 1);
        g_print("| %s | %s | %s | %s |\n", cipher_names[c], raw_cell, qio_cell, ratio);
        raw_link_free(raw);
        qio_link_free(qio);
    }
    raw_creds_clear(&raw_creds);
    cert_dirs_clear(&d);
}

/* ---- Handshakes: turns of a few each ---- */

#define HANDSHAKE_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3"
/* Handshakes per turn: each side's turn lasts tens of milliseconds. */
#define HANDSHAKES_PER_TURN 16

/* Seconds for N full handshakes through qio, each on a fresh channel pair. */
static double qio_handshakes(QCryptoTLSCreds *client_creds, QCryptoTLSCreds *server_creds, int n)
{
    GMainContext *context = g_main_context_new();
    gint64 start = g_get_monotonic_time();
    for (int i = 0; i < n; i++) {
        QIOChannelTLS *client, *server;
        qio_pair(client_creds, server_creds, "qemu.org", &client, &server);
        qio_handshake(client, server, context);
        qio_channel_unref(QIO_CHANNEL(client));
        qio_channel_unref(QIO_CHANNEL(server));
    }
    g_main_context_unref(context);
    return (g_get_monotonic_time() - start) / (double)G_USEC_PER_SEC;
}

/* Seconds for N full handshakes through gnutls: the same pairs, pumped the same way,
 * the client checking the server's chain and name. */
static double raw_handshakes(const RawCreds *creds, int n)
{
    gint64 start = g_get_monotonic_time();
    for (int i = 0; i < n; i++) {
        int sv[2];
        g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), ==, 0);
        gnutls_session_t client, server;
        raw_sessions(creds, HANDSHAKE_PRIORITY, sv, &client, &server);
        gboolean client_done = FALSE, server_done = FALSE;
        while (!client_done || !server_done) {
            int rc;
            if (!client_done && (rc = gnutls_handshake(client)) != GNUTLS_E_AGAIN) {
                check(rc, "client handshake");
                client_done = TRUE;
            }
            if (!server_done && (rc = gnutls_handshake(server)) != GNUTLS_E_AGAIN) {
                check(rc, "server handshake");
                server_done = TRUE;
            }
        }
        unsigned int status;
        check(gnutls_certificate_verify_peers3(client, "qemu.org", &status), "verify");
        if (status) {
            g_error("gnutls: the server certificate did not verify");
        }
        gnutls_deinit(client);
        gnutls_deinit(server);
        close(sv[0]);
        close(sv[1]);
    }
    return (g_get_monotonic_time() - start) / (double)G_USEC_PER_SEC;
}

static void handshake_table(int rounds, double seconds)
{
    const struct {
        const char *name;
        unsigned int rsa_bits;
    } kinds[] = { { "ECDSA P-256", 0 }, { "RSA-2048", 2048 } };
    g_print("\nFull TLS 1.3 handshakes per second, the client verifying the server:\n\n");
    g_print("| server certificate | gnutls | qio | qio / gnutls |\n");
    g_print("|---|--:|--:|--:|\n");
    for (gsize k = 0; k < G_N_ELEMENTS(kinds); k++) {
        CertDirs d;
        cert_dirs_init(&d, kinds[k].rsa_bits);
        RawCreds raw_creds;
        raw_creds_init(&raw_creds, &d);
        g_autoptr(QCryptoTLSCreds) client_creds = NULL, server_creds = NULL;
        qio_creds(&d, HANDSHAKE_PRIORITY, &client_creds, &server_creds);
        double best_raw = 0, best_qio = 0;
        g_autofree double *ratios = g_new(double, rounds);
        for (int r = 0; r < rounds; r++) {
            double raw_seconds = 0, qio_seconds = 0;
            int n = 0;
            /* Turns alternate which goes first, as the throughput bursts do. */
            for (int t = 0; raw_seconds + qio_seconds < 2 * seconds; t++) {
                for (int i = 0; i < 2; i++) {
                    if ((t + i) % 2) {
                        qio_seconds += qio_handshakes(client_creds, server_creds, HANDSHAKES_PER_TURN);
                    } else {
                        raw_seconds += raw_handshakes(&raw_creds, HANDSHAKES_PER_TURN);
                    }
                }
                n += HANDSHAKES_PER_TURN;
            }
            best_raw = MAX(best_raw, n / raw_seconds);
            best_qio = MAX(best_qio, n / qio_seconds);
            ratios[r] = raw_seconds / qio_seconds;
        }
        g_autofree char *ratio = bench_ratio(bench_median(ratios, rounds), 1);
        g_print("| %s | %.0f | %.0f | %s |\n", kinds[k].name, best_raw, best_qio, ratio);
        raw_creds_clear(&raw_creds);
        cert_dirs_clear(&d);
    }
}

int main(int argc, char **argv)
{
    gint rounds = 3, mib = 1024;
    double seconds = 1;
    const GOptionEntry entries[] = {
        { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Best of this many rounds", "ROUNDS" },
        { "size", 's', 0, G_OPTION_ARG_INT, &mib, "MiB per throughput figure (0: none)", "MIB" },
        { "time", 't', 0, G_OPTION_ARG_DOUBLE, &seconds, "Seconds per handshake figure (0: none)",
          "SECONDS" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    if (!bench_parse_options(&argc, &argv, entries)) {
        return 2;
    }
    if (rounds < 1 || mib < 0 || seconds < 0) {
        g_printerr("rounds must be positive, size and time not negative\n");
        return 2;
    }
    if (mib > 0) {
        throughput_table(rounds, (guint64)mib << 20);
    }
    if (seconds > 0) {
        handshake_table(rounds, seconds);
    }
    return 0;
}
