/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QCryptoTLSCreds through <qio.h>: anon and PSK credentials in QEMU's directory
 * layout, priorities, endpoints, and each failure with QEMU's message. */

#include "qio-test.h"

#include <glib/gstdio.h>

/* RFC 7919's ffdhe2048 group (appendix A.1) as PKCS#3 PEM: standard public values. */
static const char ffdhe2048_pem[] =
    "-----BEGIN DH PARAMETERS-----\n"
    "MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz\n"
    "+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a\n"
    "87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7\n"
    "YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi\n"
    "7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD\n"
    "ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==\n"
    "-----END DH PARAMETERS-----\n";

typedef struct {
    char *dir;
} CredsDir;

static void creds_dir_init(CredsDir *d, const char *const *names, const char *const *contents)
{
    g_autoptr(GError) error = NULL;
    d->dir = g_dir_make_tmp("qio-tlscreds-XXXXXX", &error);
    g_assert_no_error(error);
    for (; *names; names++, contents++) {
        g_autofree char *path = g_build_filename(d->dir, *names, NULL);
        g_assert_true(g_file_set_contents(path, *contents, -1, &error));
    }
}

static void creds_dir_clear(CredsDir *d)
{
    g_autoptr(GDir) dir = g_dir_open(d->dir, 0, NULL);
    for (const char *name; dir && (name = g_dir_read_name(dir));) {
        g_autofree char *path = g_build_filename(d->dir, name, NULL);
        g_unlink(path);
    }
    g_rmdir(d->dir);
    g_free(d->dir);
}

static void test_anon(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QCryptoTLSCreds) client = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
                                                                   NULL, NULL, &error);
    g_assert_no_error(error);
    g_autofree char *priority = qcrypto_tls_creds_get_priority(client);
    g_assert_cmpstr(priority, ==, "NORMAL:-VERS-TLS1.1:-VERS-TLS1.0:-VERS-TLS1.3:-KX-ALL:+ANON-DH");
    g_assert_true(qcrypto_tls_creds_check_endpoint(client, QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &error));
    g_assert_false(qcrypto_tls_creds_check_endpoint(client, QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Expected TLS credentials for a server endpoint");
    g_assert_false(qcrypto_tls_creds_reload(client, &error));
    qio_test_assert_error(error, QIO_ERROR_NOT_SUPPORTED, "tls-creds-anon does not support reloading credentials");

    /* A server with DH parameters, a custom priority, and a reference taken. */
    const char *names[] = { QCRYPTO_TLS_CREDS_DH_PARAMS, NULL }, *contents[] = { ffdhe2048_pem };
    CredsDir d;
    creds_dir_init(&d, names, contents);
    g_autoptr(QCryptoTLSCreds) server = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER,
                                                                   d.dir, "@SYSTEM", &error);
    g_assert_no_error(error);
    g_autofree char *server_priority = qcrypto_tls_creds_get_priority(server);
    g_assert_cmpstr(server_priority, ==, "@SYSTEM:-VERS-TLS1.3:-KX-ALL:+ANON-DH");
    QCryptoTLSCreds *extra = qcrypto_tls_creds_ref(server);
    g_assert_true(extra == server);
    qcrypto_tls_creds_unref(extra);
    g_assert_false(qcrypto_tls_creds_check_endpoint(server, QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Expected TLS credentials for a client endpoint");

    /* Broken DH parameters fail the server. */
    g_autofree char *dh = g_build_filename(d.dir, QCRYPTO_TLS_CREDS_DH_PARAMS, NULL);
    g_assert_true(g_file_set_contents(dh, "-----BEGIN DH PARAMETERS-----\n!!\n-----END DH PARAMETERS-----\n",
                                      -1, NULL));
    g_assert_null(qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, d.dir, NULL, &error));
    g_autofree char *prefix = g_strdup_printf("Unable to load DH parameters from %s: ", dh);
    g_assert_nonnull(error);
    g_assert_true(g_str_has_prefix(error->message, prefix));
    g_clear_error(&error);
    creds_dir_clear(&d);
    qcrypto_tls_creds_unref(NULL);
}

static void test_psk(void)
{
    g_autoptr(GError) error = NULL;
    const char *names[] = { "keys.psk", NULL };
    const char *contents[] = { "qemu:009d5638c40fde0c\nalice:10ffa6a2c42f0388\n" };
    CredsDir d;
    creds_dir_init(&d, names, contents);
    g_autoptr(QCryptoTLSCreds) server = qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER,
                                                                  d.dir, NULL, NULL, &error);
    g_autoptr(QCryptoTLSCreds) client = qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
                                                                  d.dir, NULL, NULL, &error);
    g_autoptr(QCryptoTLSCreds) alice = qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
                                                                 d.dir, "alice", NULL, &error);
    g_assert_no_error(error);
    g_autofree char *priority = qcrypto_tls_creds_get_priority(client);
    g_assert_cmpstr(priority, ==, "NORMAL:-VERS-TLS1.1:-VERS-TLS1.0:-KX-ALL:+ECDHE-PSK:+DHE-PSK:+PSK");
    g_assert_false(qcrypto_tls_creds_reload(server, &error));
    qio_test_assert_error(error, QIO_ERROR_NOT_SUPPORTED, "tls-creds-psk does not support reloading credentials");

    g_autofree char *file = g_build_filename(d.dir, "keys.psk", NULL);
    g_autofree char *not_found = g_strdup_printf("Username bob not found in PSK file %s", file);
    g_assert_null(qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, d.dir, "bob", NULL, &error));
    qio_test_assert_error(error, QIO_ERROR_FAILED, not_found);
    g_assert_null(qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, d.dir, "qemu", NULL, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "username should not be set when endpoint=server");
    g_assert_null(qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, NULL, NULL, NULL, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Missing 'dir' property value");
    g_assert_null(qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, d.dir, "\xff", NULL, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Username is not valid UTF-8");

    /* A FIFO or a huge key file is refused at either end, without blocking. */
    for (QIOTestHostile kind = QIO_TEST_FIFO; kind <= QIO_TEST_OVERSIZED; kind++) {
        g_autofree char *reason = qio_test_hostile_file(file, kind);
        g_autofree char *message = g_strdup_printf("Cannot read PSK file %s: %s", file, reason);
        const QCryptoTLSCredsEndpoint endpoints[] = { QCRYPTO_TLS_CREDS_ENDPOINT_SERVER,
                                                      QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT };
        for (guint i = 0; i < G_N_ELEMENTS(endpoints); i++) {
            g_assert_null(qcrypto_tls_creds_psk_new(endpoints[i], d.dir, NULL, NULL, &error));
            qio_test_assert_error(error, QIO_ERROR_FAILED, message);
        }
    }

    g_assert_cmpint(g_unlink(file), ==, 0);
    g_autofree char *missing = g_strdup_printf("Unable to access credentials %s: No such file or directory", file);
    g_assert_null(qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, d.dir, NULL, NULL, &error));
    qio_test_assert_error(error, QIO_ERROR_FAILED, missing);
    creds_dir_clear(&d);
}

/* x509 credentials: the full load and sanity matrix is in test-crypto-tlscredsx509;
 * here the layout's first rule, that the CA certificate is required. */
static void test_x509_needs_a_ca(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("qio-tlscreds-XXXXXX", &error);
    g_autofree char *ca = g_build_filename(dir, QCRYPTO_TLS_CREDS_X509_CA_CERT, NULL);
    g_autofree char *missing = g_strdup_printf("Unable to access credentials %s: No such file or directory", ca);
    g_assert_null(qcrypto_tls_creds_x509_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, dir, TRUE, NULL, TRUE, NULL, &error));
    qio_test_assert_error(error, QIO_ERROR_FAILED, missing);
    g_assert_null(qcrypto_tls_creds_x509_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, NULL, TRUE, NULL, TRUE, NULL, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Missing 'dir' property value");
    g_rmdir(dir);
}

static void test_misuse(void)
{
    g_autoptr(GError) error = NULL;
    qio_test_expect_critical("endpoint is a QCryptoTLSCredsEndpoint");
    g_assert_null(qcrypto_tls_creds_anon_new((QCryptoTLSCredsEndpoint)2, NULL, NULL, &error));
    g_test_assert_expected_messages();
    qio_test_expect_critical("creds != NULL");
    g_assert_null(qcrypto_tls_creds_get_priority(NULL));
    g_test_assert_expected_messages();
    int not_creds[4] = { 0 };
    qio_test_expect_critical("creds is a valid QCryptoTLSCreds");
    qcrypto_tls_creds_unref((QCryptoTLSCreds *)not_creds);
    g_test_assert_expected_messages();
    g_assert_no_error(error);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/tlscreds/anon", test_anon);
    g_test_add_func("/crypto/tlscreds/psk", test_psk);
    g_test_add_func("/crypto/tlscreds/x509-needs-a-ca", test_x509_needs_a_ca);
    g_test_add_func("/crypto/tlscreds/misuse", test_misuse);
    return g_test_run();
}
