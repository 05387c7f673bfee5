/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PBKDF2 through <qio.h>: published vectors on every backend (the RFC 6070 16,777,216
 * iteration one when run with --slow, as its own meson test), backend agreement, QEMU's
 * iteration measurement, bad input and misuse. */

#include "qio-test.h"

#include <string.h>

static void run_vectors(const char *file, guint minimum)
{
    g_autoptr(GPtrArray) vectors = qio_test_vectors_load(file);
    guint checked[G_N_ELEMENTS(qio_test_backends)] = { 0 };

    g_assert_cmpuint(vectors->len, >=, minimum);
    for (guint v = 0; v < vectors->len; v++) {
        const QIOTestVector *vec = g_ptr_array_index(vectors, v);
        QCryptoHashAlgo hash = qio_test_hash_algo(vec->text[0]);
        guint64 iterations = g_ascii_strtoull(vec->text[1], NULL, 10);
        gsize nkey, nsalt, nout = strlen(vec->expected) / 2;
        const guint8 *key = qio_test_vector_field(vec, 2, &nkey);
        const guint8 *salt = qio_test_vector_field(vec, 3, &nsalt);
        g_autofree guint8 *out = g_malloc(nout);

        g_assert_true(qcrypto_pbkdf2_supports(hash));
        for (guint b = 0; b < G_N_ELEMENTS(qio_test_backends); b++) {
            if (!qcrypto_backend_supports_pbkdf2(qio_test_backends[b], hash)) {
                continue;
            }
            g_autoptr(GError) error = NULL;
            g_assert_cmpint(qcrypto_pbkdf2_with_backend(hash, key, nkey, salt, nsalt, iterations,
                                                        out, nout, qio_test_backends[b], &error),
                            ==, 0);
            g_assert_no_error(error);
            g_autofree char *hex = qio_test_hex(out, nout);
            g_assert_cmpstr(hex, ==, vec->expected);
            checked[b]++;
        }
        /* And the default backend. */
        g_assert_cmpint(qcrypto_pbkdf2(hash, key, nkey, salt, nsalt, iterations, out, nout, NULL),
                        ==, 0);
        g_autofree char *hex = qio_test_hex(out, nout);
        g_assert_cmpstr(hex, ==, vec->expected);
    }
    for (guint b = 0; b < G_N_ELEMENTS(qio_test_backends); b++) {
        g_assert_cmpuint(checked[b], >, 0);
    }
}

static void test_vectors(void)
{
    run_vectors("pbkdf2.txt", 20);
}

static void test_slow_vector(void)
{
    run_vectors("pbkdf2-slow.txt", 1);
}

static void test_backends_agree(void)
{
    g_autofree guint8 *key = qio_test_pattern(200, 1);
    g_autofree guint8 *salt = qio_test_pattern(16, 2);

    for (int hash = 0; hash < QCRYPTO_HASH_ALGO__MAX; hash++) {
        guint8 reference[150], out[150];
        gboolean have_reference = FALSE;
        for (guint b = 0; b < G_N_ELEMENTS(qio_test_backends); b++) {
            if (!qcrypto_backend_supports_pbkdf2(qio_test_backends[b], hash)) {
                continue;
            }
            g_assert_cmpint(qcrypto_pbkdf2_with_backend(hash, key, 200, salt, 16, 7, out,
                                                        sizeof(out), qio_test_backends[b], NULL),
                            ==, 0);
            if (have_reference) {
                g_assert_cmpmem(out, sizeof(out), reference, sizeof(reference));
            } else {
                memcpy(reference, out, sizeof(out));
                have_reference = TRUE;
            }
        }
        g_assert_true(have_reference);
    }
    /* gnutls 3.7 has no SM3 HMAC: the builtin and nettle backends do. */
    g_assert_false(qcrypto_backend_supports_pbkdf2(QCRYPTO_BACKEND_GNUTLS, QCRYPTO_HASH_ALGO_SM3));
    g_assert_false(qcrypto_pbkdf2_supports(QCRYPTO_HASH_ALGO__MAX));
    g_assert_false(qcrypto_backend_supports_pbkdf2(9, QCRYPTO_HASH_ALGO_SHA256));
}

/* QEMU's /crypto/pbkdf/timing: at least 2^15 iterations a second. */
static void test_count_iters(void)
{
    g_autoptr(GError) error = NULL;
    guint64 rate = qcrypto_pbkdf2_count_iters(QCRYPTO_HASH_ALGO_SHA256, (const guint8 *)"pw", 2,
                                              (const guint8 *)"salt", 4, 32, &error);
    g_assert_no_error(error);
    g_assert_cmpuint(rate, >=, 1 << 15);
    g_assert_cmpuint(qcrypto_pbkdf2_count_iters(QCRYPTO_HASH_ALGO__MAX, NULL, 0, NULL, 0, 32,
                                                &error), ==, G_MAXUINT64);
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Unknown hash algorithm 8");
}

static void test_bad_input(void)
{
    guint8 out[16];
    g_autoptr(GError) error = NULL;

    for (guint b = 0; b < G_N_ELEMENTS(qio_test_backends); b++) {
        g_assert_cmpint(qcrypto_pbkdf2_with_backend(QCRYPTO_HASH_ALGO_SHA1, (const guint8 *)"k", 1,
                                                    NULL, 0, 0, out, sizeof(out),
                                                    qio_test_backends[b], &error), ==, -1);
        qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT,
                              "PBKDF iterations must be at least 1");
        g_assert_cmpint(qcrypto_pbkdf2_with_backend(QCRYPTO_HASH_ALGO_SHA1, (const guint8 *)"k", 1,
                                                    NULL, 0, G_MAXUINT32 + 1ULL, out, sizeof(out),
                                                    qio_test_backends[b], &error), ==, -1);
        qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT,
                              "PBKDF iterations 4294967296 must be less than 4294967295: "
                              "Numerical result out of range");
    }
    g_assert_cmpint(qcrypto_pbkdf2_with_backend(QCRYPTO_HASH_ALGO_SM3, (const guint8 *)"k", 1, NULL,
                                                0, 1, out, sizeof(out), QCRYPTO_BACKEND_GNUTLS,
                                                &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_NOT_SUPPORTED,
                          "PBKDF does not support hash algorithm sm3 in the gnutls backend: "
                          "Function not implemented");

    qio_test_expect_critical("buf != NULL || len == 0");
    g_assert_cmpint(qcrypto_pbkdf2(QCRYPTO_HASH_ALGO_SHA1, NULL, 4, NULL, 0, 1, out, sizeof(out),
                                   &error), ==, -1);
    g_test_assert_expected_messages();
    g_assert_null(error);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/pbkdf/vectors", test_vectors);
    g_test_add_func("/crypto/pbkdf/backends-agree", test_backends_agree);
    g_test_add_func("/crypto/pbkdf/timing/sha256", test_count_iters);
    g_test_add_func("/crypto/pbkdf/bad-input", test_bad_input);
    if (g_test_slow()) {
        g_test_add_func("/crypto/pbkdf/rfc6070-16777216", test_slow_vector);
    }
    return g_test_run();
}
