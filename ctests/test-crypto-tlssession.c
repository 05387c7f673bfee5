/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QCryptoTLSSession through <qio.h>: QEMU's test-crypto-tlssession pattern (two
 * sessions over a non-blocking socketpair, pumped in one thread) with anonymous and
 * PSK credentials, records, pending bytes, close, premature termination, failures. */

#include "qio-test.h"
#include "qio-test-x509.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static ssize_t push(const char *buf, size_t len, void *opaque, GError **errp)
{
    int fd = GPOINTER_TO_INT(opaque);
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) {
        return QCRYPTO_TLS_SESSION_ERR_BLOCK;
    }
    if (n < 0) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno), "send: %s", g_strerror(errno));
        return -1;
    }
    return n;
}

static ssize_t pull(char *buf, size_t len, void *opaque, GError **errp)
{
    int fd = GPOINTER_TO_INT(opaque);
    ssize_t n = recv(fd, buf, len, 0);
    if (n < 0 && errno == EAGAIN) {
        return QCRYPTO_TLS_SESSION_ERR_BLOCK;
    }
    if (n < 0) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno), "recv: %s", g_strerror(errno));
        return -1;
    }
    return n;
}

typedef struct {
    int sv[2];
    QCryptoTLSSession *client, *server;
} Pair;

static void pair_init(Pair *p, QCryptoTLSCreds *client_creds, QCryptoTLSCreds *server_creds)
{
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, p->sv), ==, 0);
    p->client = qcrypto_tls_session_new(client_creds, NULL, NULL, QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &error);
    p->server = qcrypto_tls_session_new(server_creds, NULL, NULL, QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &error);
    g_assert_no_error(error);
    qcrypto_tls_session_set_callbacks(p->client, push, pull, GINT_TO_POINTER(p->sv[0]));
    qcrypto_tls_session_set_callbacks(p->server, push, pull, GINT_TO_POINTER(p->sv[1]));
}

static void pair_clear(Pair *p)
{
    qcrypto_tls_session_free(p->client);
    qcrypto_tls_session_free(p->server);
    close(p->sv[0]);
    close(p->sv[1]);
}

/* Steps both handshakes until both complete, as QEMU's test does. */
static void pair_handshake_only(Pair *p)
{
    g_autoptr(GError) error = NULL;
    gboolean client_done = FALSE, server_done = FALSE;
    for (int i = 0; i < 100 && !(client_done && server_done); i++) {
        if (!client_done) {
            int rc = qcrypto_tls_session_handshake(p->client, &error);
            g_assert_no_error(error);
            client_done = rc == QCRYPTO_TLS_HANDSHAKE_COMPLETE;
        }
        if (!server_done) {
            int rc = qcrypto_tls_session_handshake(p->server, &error);
            g_assert_no_error(error);
            server_done = rc == QCRYPTO_TLS_HANDSHAKE_COMPLETE;
        }
    }
    g_assert_true(client_done && server_done);
}

/* The handshakes, then the (empty) checks of anonymous and PSK sessions. */
static void pair_handshake(Pair *p)
{
    g_autoptr(GError) error = NULL;
    pair_handshake_only(p);
    g_assert_cmpint(qcrypto_tls_session_check_credentials(p->client, &error), ==, 0);
    g_assert_cmpint(qcrypto_tls_session_check_credentials(p->server, &error), ==, 0);
    g_assert_no_error(error);
}

static char *psk_dir(const char *key)
{
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp("qio-tlssession-XXXXXX", &error);
    g_autofree char *file = g_build_filename(dir, "keys.psk", NULL);
    g_autofree char *line = g_strdup_printf("qemu:%s\n", key);
    g_assert_true(g_file_set_contents(file, line, -1, &error));
    return dir;
}

static void psk_dir_remove(char *dir)
{
    g_autofree char *file = g_build_filename(dir, "keys.psk", NULL);
    g_unlink(file);
    g_rmdir(dir);
    g_free(dir);
}

/* Both ends name the same protocol version and cipher; PROTOCOL and CIPHER, when
 * given, are the ones the priority string forced. */
static void assert_negotiated(Pair *p, const char *protocol, const char *cipher)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *client_protocol = qcrypto_tls_session_get_protocol_name(p->client, &error);
    g_autofree char *server_protocol = qcrypto_tls_session_get_protocol_name(p->server, &error);
    g_autofree char *client_cipher = qcrypto_tls_session_get_cipher_name(p->client, &error);
    g_autofree char *server_cipher = qcrypto_tls_session_get_cipher_name(p->server, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(client_protocol, ==, server_protocol);
    g_assert_cmpstr(client_cipher, ==, server_cipher);
    g_assert_true(g_str_has_prefix(client_protocol, "TLS1."));
    if (protocol) {
        g_assert_cmpstr(client_protocol, ==, protocol);
        g_assert_cmpstr(client_cipher, ==, cipher);
    }
}

static void exchange(QCryptoTLSCreds *client_creds, QCryptoTLSCreds *server_creds)
{
    g_autoptr(GError) error = NULL;
    Pair p;
    pair_init(&p, client_creds, server_creds);
    qcrypto_tls_session_require_thread_safety(p.client);
    pair_handshake(&p);
    g_assert_cmpint(qcrypto_tls_session_get_key_size(p.client, &error), >=, 16);
    assert_negotiated(&p, NULL, NULL);
    g_assert_null(qcrypto_tls_session_get_peer_name(p.server));

    g_assert_cmpint(qcrypto_tls_session_write(p.client, "hello", 5, &error), ==, 5);
    char buf[16];
    g_assert_cmpint(qcrypto_tls_session_read(p.server, buf, 2, &error), ==, 2);
    g_assert_cmpuint(qcrypto_tls_session_check_pending(p.server), ==, 3);
    g_assert_cmpint(qcrypto_tls_session_read(p.server, buf + 2, sizeof(buf) - 2, &error), ==, 3);
    g_assert_cmpmem(buf, 5, "hello", 5);
    g_assert_cmpint(qcrypto_tls_session_read(p.server, buf, sizeof(buf), &error), ==,
                    QCRYPTO_TLS_SESSION_ERR_BLOCK);
    g_assert_no_error(error);

    g_assert_cmpint(qcrypto_tls_session_bye(p.client, &error), ==, QCRYPTO_TLS_BYE_COMPLETE);
    g_assert_cmpint(qcrypto_tls_session_read(p.server, buf, sizeof(buf), &error), ==, 0);
    g_assert_no_error(error);
    pair_clear(&p);

    /* A peer gone without close_notify. */
    pair_init(&p, client_creds, server_creds);
    pair_handshake(&p);
    shutdown(p.sv[0], SHUT_RDWR);
    g_assert_cmpint(qcrypto_tls_session_read(p.server, buf, sizeof(buf), &error), ==,
                    QCRYPTO_TLS_SESSION_PREMATURE_TERMINATION);
    g_assert_no_error(error);
    pair_clear(&p);
}

static void test_anon(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QCryptoTLSCreds) client = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, NULL, NULL, &error);
    g_autoptr(QCryptoTLSCreds) server = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL, &error);
    g_assert_no_error(error);
    exchange(client, server);

    /* The bye before a handshake does nothing; the wrong endpoint is refused. */
    g_autoptr(QCryptoTLSSession) fresh = qcrypto_tls_session_new(client, NULL, NULL,
                                                                  QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &error);
    g_assert_cmpint(qcrypto_tls_session_bye(fresh, &error), ==, QCRYPTO_TLS_BYE_COMPLETE);
    g_assert_null(qcrypto_tls_session_new(client, NULL, NULL, QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Credentials endpoint doesn't match session");
    g_assert_cmpint(qcrypto_tls_session_get_key_size(fresh, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Cannot get TLS cipher key size");
    g_assert_null(qcrypto_tls_session_get_protocol_name(fresh, &error));
    qio_test_assert_error(error, QIO_ERROR_FAILED, "The TLS handshake has not completed");
    g_assert_null(qcrypto_tls_session_get_cipher_name(fresh, &error));
    qio_test_assert_error(error, QIO_ERROR_FAILED, "The TLS handshake has not completed");
}

/* The names report what the client's priority string forced. */
static void test_negotiated_names(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QCryptoTLSCreds) client = qcrypto_tls_creds_anon_new(
        QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, NULL, "NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM",
        &error);
    g_autoptr(QCryptoTLSCreds) server = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL, &error);
    g_assert_no_error(error);
    Pair p;
    pair_init(&p, client, server);
    pair_handshake(&p);
    assert_negotiated(&p, "TLS1.2", "AES-128-GCM");
    pair_clear(&p);
}

static void test_psk(void)
{
    g_autoptr(GError) error = NULL;
    char *dir = psk_dir("009d5638c40fde0c");
    g_autoptr(QCryptoTLSCreds) client = qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, dir, NULL, NULL, &error);
    g_autoptr(QCryptoTLSCreds) server = qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, dir, NULL, NULL, &error);
    g_assert_no_error(error);
    exchange(client, server);
    psk_dir_remove(dir);

    /* Different keys: the server refuses; the client learns when the link closes. */
    char *other = psk_dir("10ffa6a2c42f0388");
    g_autoptr(QCryptoTLSCreds) wrong = qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, other, NULL, NULL, &error);
    Pair p;
    pair_init(&p, client, wrong);
    int rc = 0;
    for (int i = 0; i < 100 && rc >= 0; i++) {
        g_assert_cmpint(qcrypto_tls_session_handshake(p.client, &error), >=, 0);
        rc = qcrypto_tls_session_handshake(p.server, &error);
    }
    g_assert_cmpint(rc, ==, -1);
    g_assert_nonnull(error);
    g_assert_true(g_str_has_prefix(error->message, "TLS handshake failed: "));
    g_clear_error(&error);
    pair_clear(&p);
    psk_dir_remove(other);
}

/* Steps both handshakes until one fails; that failure, or NULL if both completed. */
static GError *pair_handshake_failure(Pair *p)
{
    GError *error = NULL;
    gboolean client_done = FALSE, server_done = FALSE;
    for (int i = 0; i < 100 && !error && !(client_done && server_done); i++) {
        if (!client_done) {
            client_done = qcrypto_tls_session_handshake(p->client, &error) == QCRYPTO_TLS_HANDSHAKE_COMPLETE;
        }
        if (!server_done && !error) {
            server_done = qcrypto_tls_session_handshake(p->server, &error) == QCRYPTO_TLS_HANDSHAKE_COMPLETE;
        }
    }
    g_assert_true(error || (client_done && server_done));
    return error;
}

/* The default priority refuses TLS 1.0 and 1.1 at either end, and an explicit one is
 * used as given: two ends that both ask for the old version get it. */
static void test_version_floor(void)
{
    const struct {
        const char *priority, *protocol;
    } old[] = {
        { "NORMAL:-VERS-ALL:+VERS-TLS1.1", "TLS1.1" },
        { "NORMAL:-VERS-ALL:+VERS-TLS1.0", "TLS1.0" },
    };
    g_autoptr(GError) error = NULL;
    g_autoptr(QCryptoTLSCreds) client = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, NULL, NULL, &error);
    g_autoptr(QCryptoTLSCreds) server = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL, &error);
    g_assert_no_error(error);
    for (guint i = 0; i < G_N_ELEMENTS(old); i++) {
        g_autoptr(QCryptoTLSCreds) old_client = qcrypto_tls_creds_anon_new(
            QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, NULL, old[i].priority, &error);
        g_autoptr(QCryptoTLSCreds) old_server = qcrypto_tls_creds_anon_new(
            QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, NULL, old[i].priority, &error);
        g_assert_no_error(error);
        QCryptoTLSCreds *refused[][2] = { { old_client, server }, { client, old_server } };
        for (guint j = 0; j < G_N_ELEMENTS(refused); j++) {
            Pair p;
            pair_init(&p, refused[j][0], refused[j][1]);
            g_autoptr(GError) failure = pair_handshake_failure(&p);
            g_assert_nonnull(failure);
            g_assert_true(g_str_has_prefix(failure->message, "TLS handshake failed: "));
            pair_clear(&p);
        }
        Pair p;
        pair_init(&p, old_client, old_server);
        g_assert_null(pair_handshake_failure(&p));
        g_autofree char *protocol = qcrypto_tls_session_get_protocol_name(p.client, &error);
        g_assert_no_error(error);
        g_assert_cmpstr(protocol, ==, old[i].protocol);
        pair_clear(&p);
    }
}

static ssize_t failing_push(const char *buf, size_t len, void *opaque, GError **errp)
{
    (void)buf, (void)len, (void)opaque;
    g_set_error_literal(errp, G_FILE_ERROR, G_FILE_ERROR_IO, "cable cut");
    return -1;
}

static void test_failures_and_misuse(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QCryptoTLSCreds) creds = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, NULL, NULL, &error);
    g_autoptr(QCryptoTLSSession) session = qcrypto_tls_session_new(creds, NULL, NULL,
                                                                    QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &error);
    qcrypto_tls_session_set_callbacks(session, failing_push, pull, GINT_TO_POINTER(-1));
    g_assert_cmpint(qcrypto_tls_session_handshake(session, &error), ==, -1);
    g_assert_nonnull(error);
    g_assert_true(g_str_has_suffix(error->message, ": cable cut"));
    g_clear_error(&error);

    qio_test_expect_critical("write_func != NULL");
    qcrypto_tls_session_set_callbacks(session, NULL, pull, NULL);
    g_test_assert_expected_messages();
    int not_session[4] = { 0 };
    qio_test_expect_critical("session is a valid QCryptoTLSSession");
    qcrypto_tls_session_free((QCryptoTLSSession *)not_session);
    g_test_assert_expected_messages();
    qio_test_expect_critical("session != NULL");
    g_assert_cmpuint(qcrypto_tls_session_check_pending(NULL), ==, 0);
    g_test_assert_expected_messages();
    qcrypto_tls_session_free(NULL);
}

/* QEMU's x509 session matrix: one CA, a server "qemu.org", a client "C=UK,CN=qemu". */
typedef struct {
    const char *name;
    const char *dns[3], *ips[3]; /* the server certificate's subjectAltNames */
    const char *hostname;        /* what the client expects */
    const char *acl[3];          /* glob rules allowing client DNs, if any */
    gboolean different_ca, server_fail, client_fail;
} SessionCase;

static const SessionCase session_cases[] = {
    { "basicca", { NULL }, { NULL }, "qemu.org", { NULL }, FALSE, FALSE, FALSE },
    { "differentca", { NULL }, { NULL }, "qemu.org", { NULL }, TRUE, TRUE, TRUE },
    { "altname1", { "www.qemu.org", "qemu.org" }, { "192.168.122.1", "fec0::dead:beaf" }, "qemu.org", { NULL }, FALSE, FALSE, FALSE },
    { "altname2", { "www.qemu.org", "qemu.org" }, { "192.168.122.1", "fec0::dead:beaf" }, "www.qemu.org", { NULL }, FALSE, FALSE, FALSE },
    { "altname3", { "www.qemu.org", "qemu.org" }, { "192.168.122.1", "fec0::dead:beaf" }, "wiki.qemu.org", { NULL }, FALSE, FALSE, TRUE },
    { "altname4", { "www.qemu.org", "qemu.org" }, { "192.168.122.1", "fec0::dead:beaf" }, "192.168.122.1", { NULL }, FALSE, FALSE, FALSE },
    { "altname5", { "www.qemu.org", "qemu.org" }, { "192.168.122.1", "fec0::dead:beaf" }, "fec0::dead:beaf", { NULL }, FALSE, FALSE, FALSE },
    { "altname6", { "www.qemu.org", "wiki.qemu.org" }, { "192.168.122.1", "fec0::dead:beaf" }, "qemu.org", { NULL }, FALSE, FALSE, TRUE },
    { "altname7", { "www.qemu.org", "wiki.qemu.org" }, { "192.168.122.1", "fec0::dead:beaf" }, "www.qemu.org", { NULL }, FALSE, FALSE, FALSE },
    { "altname8", { "www.qemu.org", "wiki.qemu.org" }, { "192.168.122.1", "fec0::dead:beaf" }, "wiki.qemu.org", { NULL }, FALSE, FALSE, FALSE },
    { "wildcard1", { NULL }, { NULL }, "qemu.org", { "C=UK,CN=dogfood" }, FALSE, TRUE, FALSE },
    { "wildcard2", { NULL }, { NULL }, "qemu.org", { "C=UK,CN=qemu" }, FALSE, FALSE, FALSE },
    { "wildcard3", { NULL }, { NULL }, "qemu.org", { "C=UK,CN=dogfood", "C=UK,CN=qemu" }, FALSE, FALSE, FALSE },
    { "wildcard4", { NULL }, { NULL }, "qemu.org", { "C=UK,CN=qemustuff" }, FALSE, TRUE, FALSE },
    { "wildcard5", { NULL }, { NULL }, "qemu.org", { "C=UK,CN=qemu*" }, FALSE, FALSE, FALSE },
    { "wildcard6", { NULL }, { NULL }, "qemu.org", { "C=UK,CN=*emu*" }, FALSE, FALSE, FALSE },
};

/* Writes the CA bundle CA_PEM and LEAF as ENDPOINT credentials in a new directory. */
static char *x509_dir_bundle(const char *ca_pem, const QIOTestCert *leaf, gboolean server)
{
    char *dir = g_dir_make_tmp("qio-tlssession-XXXXXX", NULL);
    g_autofree char *key = qio_test_cert_key_pem(leaf, NULL);
    qio_test_write(dir, QCRYPTO_TLS_CREDS_X509_CA_CERT, ca_pem);
    qio_test_write(dir, server ? QCRYPTO_TLS_CREDS_X509_SERVER_CERT : QCRYPTO_TLS_CREDS_X509_CLIENT_CERT, qio_test_cert_pem(leaf));
    qio_test_write(dir, server ? QCRYPTO_TLS_CREDS_X509_SERVER_KEY : QCRYPTO_TLS_CREDS_X509_CLIENT_KEY, key);
    return dir;
}

static char *x509_dir(const QIOTestCert *ca, const QIOTestCert *leaf, gboolean server)
{
    return x509_dir_bundle(qio_test_cert_pem(ca), leaf, server);
}

/* Verifying x509 sessions from the credentials in SERVER_DIR and CLIENT_DIR over a new
 * non-blocking socketpair SV, the client expecting HOSTNAME and the server checking
 * AUTHZ, handshaken. */
static void x509_pair(const char *server_dir, const char *client_dir, const char *hostname, QAuthZ *authz,
                      int sv[2], QCryptoTLSSession **client, QCryptoTLSSession **server)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QCryptoTLSCreds) server_creds = qcrypto_tls_creds_x509_new(
        QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, server_dir, TRUE, NULL, TRUE, NULL, &error);
    g_autoptr(QCryptoTLSCreds) client_creds = qcrypto_tls_creds_x509_new(
        QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, client_dir, TRUE, NULL, TRUE, NULL, &error);
    g_assert_no_error(error);
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), ==, 0);
    *client = qcrypto_tls_session_new(client_creds, hostname, NULL, QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &error);
    *server = qcrypto_tls_session_new(server_creds, NULL, authz, QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &error);
    g_assert_no_error(error);
    qcrypto_tls_session_set_callbacks(*client, push, pull, GINT_TO_POINTER(sv[0]));
    qcrypto_tls_session_set_callbacks(*server, push, pull, GINT_TO_POINTER(sv[1]));
    Pair p = { { sv[0], sv[1] }, *client, *server };
    pair_handshake_only(&p);
}

/* QEMU's cachain case: root -> level1a -> level2a -> server, root -> level1b -> client,
 * every CA in both ends' bundles. */
static void test_x509_cachain(void)
{
    QIOTestCertReq root_req = QIO_TEST_CA_REQ("root"), l1a_req = QIO_TEST_CA_REQ("level1a");
    QIOTestCertReq l1b_req = QIO_TEST_CA_REQ("level1b"), l2a_req = QIO_TEST_CA_REQ("level2a");
    QIOTestCertReq server_req = QIO_TEST_LEAF_REQ("qemu.org", QIO_TEST_KP_SERVER);
    QIOTestCertReq client_req = QIO_TEST_LEAF_REQ("qemu", QIO_TEST_KP_CLIENT);
    g_autoptr(QIOTestCert) root = qio_test_cert_new(&root_req, NULL);
    g_autoptr(QIOTestCert) l1a = qio_test_cert_new(&l1a_req, root);
    g_autoptr(QIOTestCert) l1b = qio_test_cert_new(&l1b_req, root);
    g_autoptr(QIOTestCert) l2a = qio_test_cert_new(&l2a_req, l1a);
    g_autoptr(QIOTestCert) server = qio_test_cert_new(&server_req, l2a);
    g_autoptr(QIOTestCert) client = qio_test_cert_new(&client_req, l1b);
    g_autofree char *bundle = g_strconcat(qio_test_cert_pem(root), qio_test_cert_pem(l1a),
                                          qio_test_cert_pem(l1b), qio_test_cert_pem(l2a), NULL);
    char *server_dir = x509_dir_bundle(bundle, server, TRUE), *client_dir = x509_dir_bundle(bundle, client, FALSE);
    g_autoptr(GError) error = NULL;
    Pair p;
    x509_pair(server_dir, client_dir, "qemu.org", NULL, p.sv, &p.client, &p.server);
    g_assert_cmpint(qcrypto_tls_session_check_credentials(p.client, &error), ==, 0);
    g_assert_cmpint(qcrypto_tls_session_check_credentials(p.server, &error), ==, 0);
    g_assert_no_error(error);
    pair_clear(&p);
    qio_test_dir_remove(server_dir);
    qio_test_dir_remove(client_dir);
}

static void run_session_case(gconstpointer data)
{
    const SessionCase *c = data;
    g_autoptr(GError) error = NULL;
    QIOTestCertReq ca_req = QIO_TEST_CA_REQ("qemu CA"), other_req = QIO_TEST_CA_REQ("other CA");
    QIOTestCertReq server_req = QIO_TEST_LEAF_REQ("qemu.org", QIO_TEST_KP_SERVER);
    QIOTestCertReq client_req = QIO_TEST_LEAF_REQ("qemu", QIO_TEST_KP_CLIENT);
    memcpy(server_req.dns, c->dns, sizeof(c->dns));
    memcpy(server_req.ips, c->ips, sizeof(c->ips));
    g_autoptr(QIOTestCert) ca = qio_test_cert_new(&ca_req, NULL);
    g_autoptr(QIOTestCert) other = qio_test_cert_new(&other_req, NULL);
    QIOTestCert *client_ca = c->different_ca ? other : ca;
    g_autoptr(QIOTestCert) server_cert = qio_test_cert_new(&server_req, ca);
    g_autoptr(QIOTestCert) client_cert = qio_test_cert_new(&client_req, client_ca);
    char *server_dir = x509_dir(ca, server_cert, TRUE), *client_dir = x509_dir(client_ca, client_cert, FALSE);
    g_autoptr(QAuthZList) acl = NULL;
    if (c->acl[0]) {
        acl = qauthz_list_new(QAUTHZ_LIST_POLICY_DENY);
        for (int i = 0; c->acl[i]; i++) {
            qauthz_list_append_rule(acl, c->acl[i], QAUTHZ_LIST_POLICY_ALLOW, QAUTHZ_LIST_FORMAT_GLOB, &error);
        }
    }
    Pair p;
    x509_pair(server_dir, client_dir, c->hostname, acl ? QAUTHZ(acl) : NULL, p.sv, &p.client, &p.server);
    QCryptoTLSSession *client = p.client, *server = p.server;

    int client_rc = qcrypto_tls_session_check_credentials(client, &error);
    if (error) {
        g_test_message("client: %s", error->message);
        g_clear_error(&error);
    }
    int server_rc = qcrypto_tls_session_check_credentials(server, &error);
    if (error) {
        g_test_message("server: %s", error->message);
        g_clear_error(&error);
    }
    g_assert_cmpint(client_rc, ==, c->client_fail ? -1 : 0);
    g_assert_cmpint(server_rc, ==, c->server_fail ? -1 : 0);
    if (!c->different_ca) {
        g_autofree char *peer = qcrypto_tls_session_get_peer_name(server);
        g_assert_cmpstr(peer, ==, "C=UK,CN=qemu");
    }
    pair_clear(&p);
    qio_test_dir_remove(server_dir);
    qio_test_dir_remove(client_dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/tlssession/anon", test_anon);
    g_test_add_func("/crypto/tlssession/psk", test_psk);
    g_test_add_func("/crypto/tlssession/negotiated-names", test_negotiated_names);
    g_test_add_func("/crypto/tlssession/version-floor", test_version_floor);
    g_test_add_func("/crypto/tlssession/failures-and-misuse", test_failures_and_misuse);
    g_test_add_func("/crypto/tlssession/x509/cachain", test_x509_cachain);
    for (gsize i = 0; i < G_N_ELEMENTS(session_cases); i++) {
        g_autofree char *path = g_strdup_printf("/crypto/tlssession/x509/%s", session_cases[i].name);
        g_test_add_data_func(path, &session_cases[i], run_session_case);
    }
    return g_test_run();
}
