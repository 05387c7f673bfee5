/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* x509 credentials through <qio.h>: QEMU's test-crypto-tlscredsx509 matrix (good and
 * bad CAs, servers and clients by basicConstraints, key usage and key purpose and their
 * criticality; validity periods; chains in the CA bundle and in the cert file; missing
 * files), each certificate made at run time, each verdict QEMU's. */

#include "qio-test.h"
#include "qio-test-x509.h"

#include <glib/gstdio.h>
#include <string.h>

#define CA(name) ((QIOTestCertReq)QIO_TEST_CA_REQ(name))
#define SERVER ((QIOTestCertReq)QIO_TEST_LEAF_REQ("qemu.org", QIO_TEST_KP_SERVER))
#define CLIENT ((QIOTestCertReq)QIO_TEST_LEAF_REQ("qemu", QIO_TEST_KP_CLIENT))

typedef struct {
    const char *name;
    gboolean server;
    QIOTestCertReq ca, cert;
    gboolean fail;
} SimpleCase;

/* Loads DIR as ENDPOINT credentials with the sanity check; TRUE if they load. */
static gboolean loads(const char *dir, gboolean server, GError **error)
{
    QCryptoTLSCreds *creds = qcrypto_tls_creds_x509_new(
        server ? QCRYPTO_TLS_CREDS_ENDPOINT_SERVER : QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, dir, TRUE,
        NULL, TRUE, NULL, error);
    qcrypto_tls_creds_unref(creds);
    return creds != NULL;
}

/* Writes CERT (then the certificates of CHAIN) and its key as the endpoint's identity. */
static void write_identity(const char *dir, gboolean server, const QIOTestCert *cert,
                           const QIOTestCert *const *chain)
{
    g_autoptr(GString) pem = g_string_new(qio_test_cert_pem(cert));
    for (; chain && *chain; chain++) {
        g_string_append(pem, qio_test_cert_pem(*chain));
    }
    g_autofree char *key = qio_test_cert_key_pem(cert, NULL);
    qio_test_write(dir, server ? QCRYPTO_TLS_CREDS_X509_SERVER_CERT : QCRYPTO_TLS_CREDS_X509_CLIENT_CERT, pem->str);
    qio_test_write(dir, server ? QCRYPTO_TLS_CREDS_X509_SERVER_KEY : QCRYPTO_TLS_CREDS_X509_CLIENT_KEY, key);
}

static void run_simple(gconstpointer data)
{
    const SimpleCase *c = data;
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp("qio-x509-XXXXXX", &error);
    g_autoptr(QIOTestCert) ca = qio_test_cert_new(&c->ca, NULL);
    g_autoptr(QIOTestCert) cert = qio_test_cert_new(&c->cert, ca);
    qio_test_write(dir, QCRYPTO_TLS_CREDS_X509_CA_CERT, qio_test_cert_pem(ca));
    write_identity(dir, c->server, cert, NULL);
    gboolean ok = loads(dir, c->server, &error);
    if (c->fail) {
        g_assert_false(ok);
        g_assert_true(error && error->domain == QIO_ERROR);
        g_test_message("%s: %s", c->name, error->message);
    } else {
        g_assert_no_error(error);
        g_assert_true(ok);
    }
    qio_test_dir_remove(dir);
}

static SimpleCase *simple_cases(gsize *n)
{
    QIOTestCertReq goodca1 = CA("goodca1"), goodca2 = CA("goodca2"), goodca3 = CA("goodca3");
    goodca1.ku_enable = FALSE;
    goodca2.bc_critical = FALSE;
    QIOTestCertReq badca1 = CA("badca1"), badca2 = CA("badca2"), badca3 = CA("badca3");
    badca1.ku_value = QIO_TEST_KU_DIGITAL_SIGNATURE, badca1.ku_critical = FALSE;
    badca2.bc_enable = FALSE;
    badca3.ku_value = QIO_TEST_KU_DIGITAL_SIGNATURE;

    /* Leaves varied as QEMU's good/bad servers and clients are. */
    QIOTestCertReq s[10], cl[10];
    for (int i = 0; i < 10; i++) {
        s[i] = SERVER;
        cl[i] = CLIENT;
    }
    /* 1: no KU, no KP; 2: KU digsig+certsign crit; 3: KU certsign non-crit; 4: KP own
     * crit; 5: KP own non-crit; 6: KP both crit; 7: KP both non-crit. */
    for (QIOTestCertReq *r = s, *end = s + 2; r != end; r = (r == s ? cl : end)) {
        r[1].ku_enable = FALSE, r[1].kp_enable = FALSE;
        r[2].ku_value = QIO_TEST_KU_DIGITAL_SIGNATURE | QIO_TEST_KU_KEY_CERT_SIGN, r[2].kp_enable = FALSE;
        r[3].ku_value = QIO_TEST_KU_KEY_CERT_SIGN, r[3].ku_critical = FALSE, r[3].kp_enable = FALSE;
        r[4].ku_enable = FALSE;
        r[5].ku_enable = FALSE, r[5].kp_critical = FALSE;
        r[6].ku_enable = FALSE, r[6].kp_oid1 = QIO_TEST_KP_CLIENT, r[6].kp_oid2 = QIO_TEST_KP_SERVER;
        r[7] = r[6], r[7].kp_critical = FALSE;
        /* Bad: 8: KU certsign crit; 9: KP the other end's, crit; 0: KU none crit. */
        r[8].ku_value = QIO_TEST_KU_KEY_CERT_SIGN, r[8].kp_enable = FALSE;
        r[9].ku_enable = FALSE, r[9].kp_oid1 = r == s ? QIO_TEST_KP_CLIENT : QIO_TEST_KP_SERVER;
        r[0].ku_value = 0, r[0].kp_enable = FALSE;
    }
    QIOTestCertReq expired_ca = CA("expired1"), inactive_ca = CA("inactive1");
    expired_ca.start_hours = -48, expired_ca.end_hours = -1;
    inactive_ca.start_hours = 1, inactive_ca.end_hours = 48;
    QIOTestCertReq expired_s = SERVER, expired_c = CLIENT, inactive_s = SERVER, inactive_c = CLIENT;
    expired_s.start_hours = expired_c.start_hours = -48;
    expired_s.end_hours = expired_c.end_hours = -1;
    inactive_s.start_hours = inactive_c.start_hours = 1;
    inactive_s.end_hours = inactive_c.end_hours = 48;

    const SimpleCase cases[] = {
        { "perfectserver", TRUE, CA("ca"), SERVER, FALSE },
        { "perfectclient", FALSE, CA("ca"), CLIENT, FALSE },
        { "goodca1", TRUE, goodca1, SERVER, FALSE },
        { "goodca2", TRUE, goodca2, SERVER, FALSE },
        { "goodca3", TRUE, goodca3, SERVER, FALSE },
        { "badca1", TRUE, badca1, SERVER, TRUE },
        { "badca2", TRUE, badca2, SERVER, TRUE },
        { "badca3", TRUE, badca3, SERVER, TRUE },
        { "goodserver1", TRUE, CA("ca"), s[1], FALSE },
        { "goodserver2", TRUE, CA("ca"), s[2], FALSE },
        { "goodserver3", TRUE, CA("ca"), s[3], FALSE },
        { "goodserver4", TRUE, CA("ca"), s[4], FALSE },
        { "goodserver5", TRUE, CA("ca"), s[5], FALSE },
        { "goodserver6", TRUE, CA("ca"), s[6], FALSE },
        { "goodserver7", TRUE, CA("ca"), s[7], FALSE },
        { "badserver1", TRUE, CA("ca"), s[8], TRUE },
        { "badserver2", TRUE, CA("ca"), s[9], TRUE },
        { "badserver3", TRUE, CA("ca"), s[0], TRUE },
        { "goodclient1", FALSE, CA("ca"), cl[1], FALSE },
        { "goodclient2", FALSE, CA("ca"), cl[2], FALSE },
        { "goodclient3", FALSE, CA("ca"), cl[3], FALSE },
        { "goodclient4", FALSE, CA("ca"), cl[4], FALSE },
        { "goodclient5", FALSE, CA("ca"), cl[5], FALSE },
        { "goodclient6", FALSE, CA("ca"), cl[6], FALSE },
        { "goodclient7", FALSE, CA("ca"), cl[7], FALSE },
        { "badclient1", FALSE, CA("ca"), cl[8], TRUE },
        { "badclient2", FALSE, CA("ca"), cl[9], TRUE },
        { "badclient3", FALSE, CA("ca"), cl[0], TRUE },
        { "expired1", TRUE, expired_ca, SERVER, TRUE },
        { "expired2", TRUE, CA("ca"), expired_s, TRUE },
        { "expired3", FALSE, CA("ca"), expired_c, TRUE },
        { "inactive1", TRUE, inactive_ca, SERVER, TRUE },
        { "inactive2", TRUE, CA("ca"), inactive_s, TRUE },
        { "inactive3", FALSE, CA("ca"), inactive_c, TRUE },
    };
    *n = G_N_ELEMENTS(cases);
    return g_memdup2(cases, sizeof(cases));
}

/* root -> level1a -> level2a -> server "qemu.org"; root -> level1b -> client; and an
 * unrelated level1c not valid for 15 days. */
typedef struct {
    QIOTestCert *root, *l1a, *l1b, *l1c, *l2a, *server, *client, *other_root;
} Chain;

static void chain_init(Chain *c)
{
    QIOTestCertReq l1c = CA("level1c");
    l1c.start_hours = 360, l1c.end_hours = 400;
    c->root = qio_test_cert_new(&CA("root"), NULL);
    c->l1a = qio_test_cert_new(&CA("level1a"), c->root);
    c->l1b = qio_test_cert_new(&CA("level1b"), c->root);
    c->l1c = qio_test_cert_new(&l1c, c->root);
    c->l2a = qio_test_cert_new(&CA("level2a"), c->l1a);
    c->server = qio_test_cert_new(&SERVER, c->l2a);
    c->client = qio_test_cert_new(&CLIENT, c->l1b);
    c->other_root = qio_test_cert_new(&CA("other root"), NULL);
}

static void chain_clear(Chain *c)
{
    QIOTestCert *all[] = { c->root, c->l1a, c->l1b, c->l1c, c->l2a, c->server, c->client, c->other_root };
    for (gsize i = 0; i < G_N_ELEMENTS(all); i++) {
        qio_test_cert_free(all[i]);
    }
}

/* The verdict for a CA bundle of BUNDLE and an identity of LEAF followed by FILE_CHAIN. */
static gboolean chain_loads(const QIOTestCert *const *bundle, gboolean server, const QIOTestCert *leaf,
                            const QIOTestCert *const *file_chain, GError **error)
{
    char *dir = g_dir_make_tmp("qio-x509-XXXXXX", NULL);
    g_autoptr(GString) cas = g_string_new(NULL);
    for (; *bundle; bundle++) {
        g_string_append(cas, qio_test_cert_pem(*bundle));
    }
    qio_test_write(dir, QCRYPTO_TLS_CREDS_X509_CA_CERT, cas->str);
    write_identity(dir, server, leaf, file_chain);
    gboolean ok = loads(dir, server, error);
    qio_test_dir_remove(dir);
    return ok;
}

static void test_chains(void)
{
    g_autoptr(GError) error = NULL;
    Chain c;
    chain_init(&c);
    const QIOTestCert *full[] = { c.root, c.l1a, c.l1b, c.l2a, NULL };
    const QIOTestCert *with_future[] = { c.root, c.l1a, c.l1b, c.l1c, c.l2a, NULL };
    const QIOTestCert *incomplete[] = { c.root, c.l2a, NULL };
    const QIOTestCert *root_only[] = { c.root, NULL };
    const QIOTestCert *two_roots[] = { c.other_root, c.root, NULL };
    const QIOTestCert *server_chain[] = { c.l2a, c.l1a, NULL };
    const QIOTestCert *half_chain[] = { c.l2a, NULL };
    const QIOTestCert *unsorted_chain[] = { c.l1a, c.l2a, NULL };
    const QIOTestCert *client_chain[] = { c.l1b, NULL };

    g_assert_true(chain_loads(full, TRUE, c.server, NULL, &error));                      /* chain1 */
    g_assert_true(chain_loads(full, FALSE, c.client, NULL, &error));                     /* chain2 */
    g_assert_true(chain_loads(with_future, TRUE, c.server, NULL, &error));               /* certchainwithexpiredcert */
    g_assert_true(chain_loads(root_only, TRUE, c.server, server_chain, &error));         /* serverchain */
    g_assert_true(chain_loads(two_roots, TRUE, c.server, server_chain, &error));         /* multiplecaswithchain */
    g_assert_true(chain_loads(root_only, FALSE, c.client, client_chain, &error));        /* clientchain */
    g_assert_no_error(error);

    g_assert_false(chain_loads(incomplete, TRUE, c.server, NULL, &error));               /* chainincomplete */
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Cert 'C=UK,CN=level2a' has no issuer in CA chain");
    g_assert_false(chain_loads(root_only, TRUE, c.server, half_chain, &error));          /* incompleteserverchain */
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Cert 'C=UK,CN=level2a' has no issuer in CA chain");
    g_assert_false(chain_loads(root_only, TRUE, c.server, unsorted_chain, &error));      /* unsortedserverchain */
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT,
                          "Cert 'C=UK,CN=level1a' does not match issuer of cert 'C=UK,CN=qemu.org'");
    chain_clear(&c);
}

/* qcrypto_get_x509_cert_fingerprint() against gnutls_x509_crt_get_fingerprint(), and
 * QEMU's failures. */
static void test_fingerprint(void)
{
    QIOTestCertReq req = QIO_TEST_CA_REQ("fingerprinted");
    g_autoptr(QIOTestCert) cert = qio_test_cert_new(&req, NULL);
    const char *pem = qio_test_cert_pem(cert);
    const struct {
        QCryptoHashAlgo alg;
        const char *gnutls;
    } algs[] = {
        { QCRYPTO_HASH_ALGO_MD5, "MD5" },       { QCRYPTO_HASH_ALGO_SHA1, "SHA1" },
        { QCRYPTO_HASH_ALGO_SHA224, "SHA224" }, { QCRYPTO_HASH_ALGO_SHA256, "SHA256" },
        { QCRYPTO_HASH_ALGO_SHA384, "SHA384" }, { QCRYPTO_HASH_ALGO_SHA512, "SHA512" },
    };
    g_autoptr(GError) error = NULL;
    for (gsize i = 0; i < G_N_ELEMENTS(algs); i++) {
        guint8 want[64], got[64];
        size_t want_len = qio_test_cert_fingerprint(cert, algs[i].gnutls, want, sizeof(want));
        size_t got_len = sizeof(got);
        g_assert_cmpint(qcrypto_get_x509_cert_fingerprint((const guint8 *)pem, strlen(pem),
                                                          algs[i].alg, got, &got_len, &error),
                        ==, 0);
        g_assert_no_error(error);
        g_assert_cmpmem(got, got_len, want, want_len);
    }

    guint8 small[16];
    size_t small_len = sizeof(small);
    g_assert_cmpint(qcrypto_get_x509_cert_fingerprint((const guint8 *)pem, strlen(pem),
                                                      QCRYPTO_HASH_ALGO_SHA256, small, &small_len,
                                                      &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT,
                          "Result buffer size 16 is smaller than hash 32");
    g_assert_cmpint(qcrypto_get_x509_cert_fingerprint((const guint8 *)"junk", 4,
                                                      QCRYPTO_HASH_ALGO_SHA256, small, &small_len,
                                                      &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Failed to import certificate");
    g_assert_cmpint(qcrypto_get_x509_cert_fingerprint((const guint8 *)pem, strlen(pem),
                                                      QCRYPTO_HASH_ALGO__MAX, small, &small_len,
                                                      &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Unknown hash algorithm");
    g_assert_cmpint(qcrypto_get_x509_cert_fingerprint((const guint8 *)pem, strlen(pem),
                                                      QCRYPTO_HASH_ALGO_SHA256, NULL, &small_len,
                                                      &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "No valid buffer given");
    qio_test_expect_critical("resultlen != NULL");
    g_assert_cmpint(qcrypto_get_x509_cert_fingerprint((const guint8 *)pem, strlen(pem),
                                                      QCRYPTO_HASH_ALGO_SHA256, small, NULL,
                                                      &error), ==, -1);
    g_test_assert_expected_messages();
}

static void test_missing_files(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QIOTestCert) ca = qio_test_cert_new(&CA("ca"), NULL);
    g_autoptr(QIOTestCert) server = qio_test_cert_new(&SERVER, ca);
    char *dir = g_dir_make_tmp("qio-x509-XXXXXX", &error);
    write_identity(dir, TRUE, server, NULL);
    g_assert_false(loads(dir, TRUE, &error));                                            /* missingca */
    g_assert_error(error, QIO_ERROR, QIO_ERROR_FAILED);
    g_assert_true(g_str_has_prefix(error->message, "Unable to access credentials "));
    g_clear_error(&error);
    qio_test_dir_remove(dir);

    dir = g_dir_make_tmp("qio-x509-XXXXXX", &error);
    qio_test_write(dir, QCRYPTO_TLS_CREDS_X509_CA_CERT, qio_test_cert_pem(ca));
    g_assert_false(loads(dir, TRUE, &error));                                            /* missingserver */
    g_autofree char *missing = g_strdup_printf("Missing server cert '%s/server-cert.pem' & key '%s/server-key.pem'", dir, dir);
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, missing);
    g_assert_true(loads(dir, FALSE, &error));                                            /* missingclient */
    g_assert_no_error(error);

    /* An encrypted key needs its password, given as a secret. */
    g_autofree char *key = qio_test_cert_key_pem(server, "sesame");
    qio_test_write(dir, QCRYPTO_TLS_CREDS_X509_SERVER_CERT, qio_test_cert_pem(server));
    qio_test_write(dir, QCRYPTO_TLS_CREDS_X509_SERVER_KEY, key);
    g_assert_false(loads(dir, TRUE, &error));
    g_assert_nonnull(error);
    g_clear_error(&error);
    g_autoptr(QCryptoSecret) password = qcrypto_secret_new("sesame", NULL, QCRYPTO_SECRET_FORMAT_RAW, NULL, NULL, &error);
    g_autoptr(QCryptoTLSCreds) creds = qcrypto_tls_creds_x509_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, dir, TRUE, NULL,
                                                                  TRUE, password, &error);
    g_assert_no_error(error);
    g_autofree char *priority = qcrypto_tls_creds_get_priority(creds);
    g_assert_cmpstr(priority, ==, "NORMAL:-VERS-TLS1.1:-VERS-TLS1.0");

    /* A reload that fails keeps the loaded credentials; one that works replaces them. */
    qio_test_write(dir, QCRYPTO_TLS_CREDS_X509_SERVER_KEY, "garbage");
    g_assert_false(qcrypto_tls_creds_reload(creds, &error));
    g_assert_nonnull(error);
    g_clear_error(&error);
    qio_test_write(dir, QCRYPTO_TLS_CREDS_X509_SERVER_KEY, key);
    g_assert_true(qcrypto_tls_creds_reload(creds, &error));
    g_assert_no_error(error);

    /* Every file is read only if it is a regular one within the size limit: a FIFO
     * would block the load or the reload for ever, a huge file cost gigabytes. */
    const char *files[] = { QCRYPTO_TLS_CREDS_X509_CA_CERT, QCRYPTO_TLS_CREDS_X509_CA_CRL,
                            QCRYPTO_TLS_CREDS_X509_SERVER_CERT, QCRYPTO_TLS_CREDS_X509_SERVER_KEY,
                            QCRYPTO_TLS_CREDS_DH_PARAMS };
    for (guint i = 0; i < G_N_ELEMENTS(files); i++) {
        g_autofree char *path = g_build_filename(dir, files[i], NULL);
        g_autofree char *saved = NULL;
        gsize saved_len = 0;
        gboolean existed = g_file_get_contents(path, &saved, &saved_len, NULL);
        for (QIOTestHostile kind = QIO_TEST_FIFO; kind <= QIO_TEST_OVERSIZED; kind++) {
            g_autofree char *reason = qio_test_hostile_file(path, kind);
            g_autofree char *message = g_strdup_printf("Unable to read %s: %s", path, reason);
            g_assert_false(qcrypto_tls_creds_reload(creds, &error));
            qio_test_assert_error(error, QIO_ERROR_FAILED, message);
            g_assert_null(qcrypto_tls_creds_x509_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, dir, TRUE, NULL,
                                                     FALSE, password, &error));
            qio_test_assert_error(error, QIO_ERROR_FAILED, message);
        }
        g_unlink(path);
        if (existed) {
            g_assert_true(g_file_set_contents(path, saved, saved_len, NULL));
        }
    }
    g_assert_true(qcrypto_tls_creds_reload(creds, &error));
    g_assert_no_error(error);
    qio_test_dir_remove(dir);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    gsize n;
    g_autofree SimpleCase *cases = simple_cases(&n);
    for (gsize i = 0; i < n; i++) {
        g_autofree char *path = g_strdup_printf("/crypto/tlscredsx509/%s", cases[i].name);
        g_test_add_data_func(path, &cases[i], run_simple);
    }
    g_test_add_func("/crypto/tlscredsx509/chains", test_chains);
    g_test_add_func("/crypto/tlscredsx509/missing-files", test_missing_files);
    g_test_add_func("/crypto/tlscredsx509/fingerprint", test_fingerprint);
    return g_test_run();
}
