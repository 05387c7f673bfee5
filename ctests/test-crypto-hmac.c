/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QCryptoHmac API through <qio.h>: RFC 2202/4231/2286 vectors on every backend,
 * QEMU's result-buffer contract, key reuse, backend agreement and bad input. */

#include "qio-test.h"

#include <string.h>

/* QEMU's test-crypto-hmac.c key and message. */
#define KEY "monkey monkey monkey monkey"
#define INPUT1 "ABCDEFGHIJKLMNOPQRSTUVWXY"
#define INPUT2 "Zabcdefghijklmnopqrstuvwx"
#define INPUT3 "yz0123456789"

static QCryptoHmac *monkey_hmac(QCryptoHashAlgo alg, QCryptoBackend backend)
{
    g_autoptr(GError) error = NULL;
    QCryptoHmac *hmac = qcrypto_hmac_new_with_backend(alg, backend, (const guint8 *)KEY,
                                                      strlen(KEY), &error);
    g_assert_no_error(error);
    g_assert_nonnull(hmac);
    return hmac;
}

static void input_iov(struct iovec iov[3])
{
    static const char *const parts[] = { INPUT1, INPUT2, INPUT3 };
    qio_test_iov_from_strings(iov, parts, 3);
}

static void test_vectors(void)
{
    g_autoptr(GPtrArray) vectors = qio_test_vectors_load("hmac.txt");
    guint checked[G_N_ELEMENTS(qio_test_backends)] = { 0 };

    g_assert_cmpuint(vectors->len, >=, 40);
    for (guint v = 0; v < vectors->len; v++) {
        const QIOTestVector *vec = g_ptr_array_index(vectors, v);
        gsize nkey, len;
        const guint8 *key = qio_test_vector_field(vec, 1, &nkey);
        const guint8 *msg = qio_test_vector_field(vec, 2, &len);
        QCryptoHashAlgo alg = qio_test_hash_algo(vec->text[0]);

        for (guint b = 0; b < G_N_ELEMENTS(qio_test_backends); b++) {
            if (!qcrypto_backend_supports_hmac(qio_test_backends[b], alg)) {
                continue;
            }
            g_autoptr(GError) error = NULL;
            g_autoptr(QCryptoHmac) hmac =
                qcrypto_hmac_new_with_backend(alg, qio_test_backends[b], key, nkey, &error);
            g_assert_no_error(error);
            g_assert_cmpint(qcrypto_hmac_get_backend(hmac), ==, qio_test_backends[b]);
            /* Twice with one object: the key survives each MAC. */
            for (int round = 0; round < 2; round++) {
                g_autofree char *digest = NULL;
                g_assert_cmpint(qcrypto_hmac_digest(hmac, msg, len, &digest, &error), ==, 0);
                g_assert_cmpstr(digest, ==, vec->expected);
            }
            checked[b]++;
        }
    }
    /* builtin and nettle have every algorithm; gnutls lacks HMAC-RIPEMD-160 and SM3. */
    g_assert_cmpuint(checked[0], ==, vectors->len);
    g_assert_cmpuint(checked[1], ==, vectors->len);
    g_assert_cmpuint(checked[2], >, 0);
    g_assert_false(qcrypto_backend_supports_hmac(QCRYPTO_BACKEND_GNUTLS,
                                                 QCRYPTO_HASH_ALGO_RIPEMD160));
}

static void test_iov_alloc_prealloc(void)
{
    struct iovec iov[3];
    input_iov(iov);
    for (int alg = 0; alg < QCRYPTO_HASH_ALGO__MAX; alg++) {
        g_assert_true(qcrypto_hmac_supports(alg));
        g_autoptr(QCryptoHmac) hmac = monkey_hmac(alg, QCRYPTO_BACKEND_AUTO);
        g_autofree char *whole = NULL, *split = NULL;
        g_autofree char *input = g_strconcat(INPUT1, INPUT2, INPUT3, NULL);
        g_assert_cmpint(qcrypto_hmac_digest(hmac, input, strlen(input), &whole, NULL), ==, 0);
        g_assert_cmpint(qcrypto_hmac_digestv(hmac, iov, 3, &split, NULL), ==, 0);
        g_assert_cmpstr(whole, ==, split);

        /* Allocated result. */
        g_autofree guint8 *result = NULL;
        size_t resultlen = 0;
        g_assert_cmpint(qcrypto_hmac_bytesv(hmac, iov, 3, &result, &resultlen, NULL), ==, 0);
        g_assert_cmpuint(resultlen, ==, qcrypto_hash_digest_len(alg));
        g_autofree char *result_hex = qio_test_hex(result, resultlen);
        g_assert_cmpstr(result_hex, ==, whole);

        /* Preallocated result: the pointer is kept. */
        g_autofree guint8 *buf = g_malloc0(resultlen);
        guint8 *prealloc = buf;
        size_t prelen = resultlen;
        g_assert_cmpint(qcrypto_hmac_bytes(hmac, input, strlen(input), &prealloc, &prelen, NULL),
                        ==, 0);
        g_assert_true(prealloc == buf);
        g_assert_cmpmem(buf, prelen, result, resultlen);

        /* A wrong preallocated size is QEMU's error. */
        g_autoptr(GError) error = NULL;
        prelen = resultlen - 1;
        g_assert_cmpint(qcrypto_hmac_bytes(hmac, input, strlen(input), &prealloc, &prelen, &error),
                        ==, -1);
        g_autofree char *message = g_strdup_printf(
            "Result buffer size %zu is smaller than hash %zu", resultlen - 1, resultlen);
        qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, message);
    }
}

/* Every backend agrees with the builtin one for keys around the block size and
 * messages around block boundaries (HMAC-SM3 has no published vectors). */
static void test_differential(void)
{
    static const gsize key_lengths[] = { 0, 1, 20, 63, 64, 65, 128, 129, 300 };
    static const gsize lengths[] = { 0, 1, 63, 64, 65, 127, 128, 129, 5000, 1 << 20 };
    for (int alg = 0; alg < QCRYPTO_HASH_ALGO__MAX; alg++) {
        for (guint k = 0; k < G_N_ELEMENTS(key_lengths); k++) {
            gsize nkey = key_lengths[k];
            gsize len = lengths[(k + 1) % G_N_ELEMENTS(lengths)];
            g_autofree guint8 *key = qio_test_pattern(nkey, (guint32)(alg * 100 + k));
            g_autofree guint8 *data = qio_test_pattern(len, (guint32)(alg * 1000 + k));
            g_autofree char *expected = NULL;
            g_autoptr(QCryptoHmac) ref =
                qcrypto_hmac_new_with_backend(alg, QCRYPTO_BACKEND_BUILTIN, key, nkey, NULL);
            g_assert_cmpint(qcrypto_hmac_digest(ref, data, len, &expected, NULL), ==, 0);
            for (guint b = 0; b < G_N_ELEMENTS(qio_test_backends); b++) {
                if (!qcrypto_backend_supports_hmac(qio_test_backends[b], alg)) {
                    continue;
                }
                g_autoptr(QCryptoHmac) hmac =
                    qcrypto_hmac_new_with_backend(alg, qio_test_backends[b], key, nkey, NULL);
                struct iovec iov[2] = { { data, len / 3 }, { data + len / 3, len - len / 3 } };
                g_autofree char *digest = NULL;
                g_assert_cmpint(qcrypto_hmac_digestv(hmac, iov, 2, &digest, NULL), ==, 0);
                g_assert_cmpstr(digest, ==, expected);
            }
        }
    }
}

static void test_bad_input(void)
{
    g_autoptr(GError) error = NULL;
    char *digest = NULL;

    g_assert_false(qcrypto_hmac_supports(99));
    g_assert_false(qcrypto_backend_supports_hmac(QCRYPTO_BACKEND_GNUTLS, QCRYPTO_HASH_ALGO_SM3));
    g_assert_false(qcrypto_backend_supports_hmac(-3, QCRYPTO_HASH_ALGO_SHA1));
    g_assert_true(qcrypto_backend_supports_hmac(QCRYPTO_BACKEND_GNUTLS, QCRYPTO_HASH_ALGO_SHA1));

    g_assert_null(qcrypto_hmac_new(12, (const guint8 *)"k", 1, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Unknown hash algorithm 12");
    g_assert_null(qcrypto_hmac_new_with_backend(QCRYPTO_HASH_ALGO_SM3, QCRYPTO_BACKEND_GNUTLS,
                                                (const guint8 *)"k", 1, &error));
    qio_test_assert_error(error, QIO_ERROR_NOT_SUPPORTED,
                          "Unsupported hmac algorithm sm3 in the gnutls backend");

    /* An empty key is valid; a NULL key with a length is a programming error. */
    g_autoptr(QCryptoHmac) empty = qcrypto_hmac_new(QCRYPTO_HASH_ALGO_SHA256, NULL, 0, &error);
    g_assert_no_error(error);
    g_assert_nonnull(empty);
    qio_test_expect_critical("key != NULL || nkey == 0");
    g_assert_null(qcrypto_hmac_new(QCRYPTO_HASH_ALGO_SHA256, NULL, 4, &error));
    qio_test_expect_critical("buf != NULL || len == 0");
    g_assert_cmpint(qcrypto_hmac_digest(empty, NULL, 1, &digest, &error), ==, -1);
    qio_test_expect_critical("digest != NULL");
    g_assert_cmpint(qcrypto_hmac_digest(empty, "x", 1, NULL, &error), ==, -1);
    qio_test_expect_critical("hmac != NULL");
    g_assert_cmpint(qcrypto_hmac_digest(NULL, "x", 1, &digest, &error), ==, -1);
    qio_test_expect_critical("hmac != NULL");
    g_assert_cmpint(qcrypto_hmac_get_backend(NULL), ==, QCRYPTO_BACKEND_AUTO);
    g_autoptr(QCryptoHash) hash = qcrypto_hash_new(QCRYPTO_HASH_ALGO_SHA256, NULL);
    qio_test_expect_critical("hmac is a valid QCryptoHmac");
    g_assert_cmpint(qcrypto_hmac_digest((QCryptoHmac *)hash, "x", 1, &digest, &error), ==, -1);
    qio_test_expect_critical("hmac is a valid QCryptoHmac");
    qcrypto_hmac_free((QCryptoHmac *)hash);
    g_test_assert_expected_messages();
    g_assert_no_error(error);
    g_assert_null(digest);
    qcrypto_hmac_free(NULL);
}

/* What QEMU code reads from hmac->alg. */
static void test_get_algo(void)
{
    g_autoptr(QCryptoHmac) hmac = qcrypto_hmac_new(QCRYPTO_HASH_ALGO_SHA512, (const guint8 *)"k",
                                                   1, NULL);
    g_assert_cmpint(qcrypto_hmac_get_algo(hmac), ==, QCRYPTO_HASH_ALGO_SHA512);
    g_autoptr(QCryptoHash) hash = qcrypto_hash_new(QCRYPTO_HASH_ALGO_SHA512, NULL);
    qio_test_expect_critical("hmac is a valid QCryptoHmac");
    g_assert_cmpint(qcrypto_hmac_get_algo((QCryptoHmac *)hash), ==, QCRYPTO_HASH_ALGO__MAX);
    g_test_assert_expected_messages();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/hmac/vectors", test_vectors);
    g_test_add_func("/crypto/hmac/iov-alloc-prealloc", test_iov_alloc_prealloc);
    g_test_add_func("/crypto/hmac/differential", test_differential);
    g_test_add_func("/crypto/hmac/bad-input", test_bad_input);
    g_test_add_func("/crypto/hmac/get-algo", test_get_algo);
    return g_test_run();
}
