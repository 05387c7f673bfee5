/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QCryptoHash API through <qio.h>: published vectors on every backend, QEMU's
 * result-buffer contract, the incremental API, backend choice and bad input. */

#include "qio-test.h"

#include <string.h>

/* QEMU's test-crypto-hash.c input, whole and as three iovecs. */
#define INPUT "Hiss hisss Hissss hiss Hiss hisss Hiss hiss"
#define INPUT1 "Hiss hisss "
#define INPUT2 "Hissss hiss "
#define INPUT3 "Hiss hisss Hiss hiss"

static void input_iov(struct iovec iov[3])
{
    static const char *const parts[] = { INPUT1, INPUT2, INPUT3 };
    qio_test_iov_from_strings(iov, parts, 3);
}

static void test_vectors(void)
{
    g_autoptr(GPtrArray) vectors = qio_test_vectors_load("hash.txt");
    guint checked[G_N_ELEMENTS(qio_test_backends)] = { 0 };

    g_assert_cmpuint(vectors->len, >=, 30);
    for (guint v = 0; v < vectors->len; v++) {
        const QIOTestVector *vec = g_ptr_array_index(vectors, v);
        gsize len;
        const guint8 *msg = qio_test_vector_field(vec, 1, &len);
        QCryptoHashAlgo alg = qio_test_hash_algo(vec->text[0]);

        for (guint b = 0; b < G_N_ELEMENTS(qio_test_backends); b++) {
            if (!qcrypto_backend_supports_hash(qio_test_backends[b], alg)) {
                continue;
            }
            g_autoptr(GError) error = NULL;
            g_autoptr(QCryptoHash) hash =
                qcrypto_hash_new_with_backend(alg, qio_test_backends[b], &error);
            g_assert_no_error(error);
            g_assert_cmpint(qcrypto_hash_get_backend(hash), ==, qio_test_backends[b]);
            g_assert_cmpint(qcrypto_hash_update(hash, msg, len, &error), ==, 0);
            g_autofree char *digest = NULL;
            g_assert_cmpint(qcrypto_hash_finalize_digest(hash, &digest, &error), ==, 0);
            g_assert_cmpstr(digest, ==, vec->expected);
            checked[b]++;
        }

        /* The one-shot form on the default backend. */
        g_autofree char *digest = NULL;
        g_assert_cmpint(qcrypto_hash_digest(alg, msg, len, &digest, NULL), ==, 0);
        g_assert_cmpstr(digest, ==, vec->expected);
    }
    /* Every backend ran vectors: nettle has all algorithms, gnutls all but SM3. */
    g_assert_cmpuint(checked[0], ==, vectors->len);
    g_assert_cmpuint(checked[1], ==, vectors->len);
    g_assert_cmpuint(checked[2], >, 0);
}

static void test_iov(void)
{
    struct iovec iov[3];
    input_iov(iov);
    for (int alg = 0; alg < QCRYPTO_HASH_ALGO__MAX; alg++) {
        g_autofree char *whole = NULL, *split = NULL;
        g_assert_cmpint(qcrypto_hash_digest(alg, INPUT, strlen(INPUT), &whole, NULL), ==, 0);
        g_assert_cmpint(qcrypto_hash_digestv(alg, iov, 3, &split, NULL), ==, 0);
        g_assert_cmpstr(whole, ==, split);
        g_assert_cmpuint(strlen(whole), ==, 2 * qcrypto_hash_digest_len(alg));
    }
}

static void test_alloc(void)
{
    for (int alg = 0; alg < QCRYPTO_HASH_ALGO__MAX; alg++) {
        g_autofree guint8 *result = NULL;
        size_t resultlen = 0;
        g_autofree char *digest = NULL;
        g_assert_cmpint(qcrypto_hash_bytes(alg, INPUT, strlen(INPUT), &result, &resultlen, NULL),
                        ==, 0);
        g_assert_nonnull(result);
        g_assert_cmpuint(resultlen, ==, qcrypto_hash_digest_len(alg));
        g_assert_cmpint(qcrypto_hash_digest(alg, INPUT, strlen(INPUT), &digest, NULL), ==, 0);
        g_autofree char *result_hex = qio_test_hex(result, resultlen);
        g_assert_cmpstr(result_hex, ==, digest);
    }
}

static void test_prealloc(void)
{
    struct iovec iov[3];
    input_iov(iov);
    for (int alg = 0; alg < QCRYPTO_HASH_ALGO__MAX; alg++) {
        size_t len = qcrypto_hash_digest_len(alg);
        g_autofree guint8 *buf = g_malloc0(len);
        guint8 *result = buf;
        size_t resultlen = len;
        g_autofree char *digest = NULL;
        g_assert_cmpint(qcrypto_hash_bytesv(alg, iov, 3, &result, &resultlen, NULL), ==, 0);
        g_assert_true(result == buf);
        g_assert_cmpuint(resultlen, ==, len);
        g_assert_cmpint(qcrypto_hash_digestv(alg, iov, 3, &digest, NULL), ==, 0);
        g_autofree char *result_hex = qio_test_hex(result, resultlen);
        g_assert_cmpstr(result_hex, ==, digest);
    }
}

static void test_prealloc_wrong_size(void)
{
    guint8 buf[64];
    memset(buf, 0xa5, sizeof(buf));
    for (size_t size = 1; size <= sizeof(buf); size++) {
        if (size == 32) {
            continue;
        }
        guint8 *result = buf;
        size_t resultlen = size;
        g_autoptr(GError) error = NULL;
        g_assert_cmpint(qcrypto_hash_bytes(QCRYPTO_HASH_ALGO_SHA256, "x", 1, &result, &resultlen,
                                           &error), ==, -1);
        g_autofree char *message =
            g_strdup_printf("Result buffer size %zu is smaller than hash 32", size);
        qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, message);
        g_assert_true(result == buf);
        g_assert_cmpuint(resultlen, ==, size);
    }
    for (size_t i = 0; i < sizeof(buf); i++) {
        g_assert_cmpuint(buf[i], ==, 0xa5);
    }
}

static void test_base64(void)
{
    struct iovec iov[3];
    input_iov(iov);
    for (int alg = 0; alg < QCRYPTO_HASH_ALGO__MAX; alg++) {
        g_autofree guint8 *result = NULL;
        size_t resultlen = 0;
        g_autofree char *b64 = NULL, *b64v = NULL;
        g_assert_cmpint(qcrypto_hash_bytes(alg, INPUT, strlen(INPUT), &result, &resultlen, NULL),
                        ==, 0);
        g_autofree char *expected = g_base64_encode(result, resultlen);
        g_assert_cmpint(qcrypto_hash_base64(alg, INPUT, strlen(INPUT), &b64, NULL), ==, 0);
        g_assert_cmpint(qcrypto_hash_base64v(alg, iov, 3, &b64v, NULL), ==, 0);
        g_assert_cmpstr(b64, ==, expected);
        g_assert_cmpstr(b64v, ==, expected);
    }
}

static void test_accumulate(void)
{
    struct iovec iov[3];
    input_iov(iov);
    for (int alg = 0; alg < QCRYPTO_HASH_ALGO__MAX; alg++) {
        g_autoptr(GError) error = NULL;
        g_autoptr(QCryptoHash) hash = qcrypto_hash_new(alg, &error);
        g_assert_no_error(error);
        g_autofree char *expected = NULL, *expected_b64 = NULL;
        g_assert_cmpint(qcrypto_hash_digest(alg, INPUT, strlen(INPUT), &expected, NULL), ==, 0);
        g_assert_cmpint(qcrypto_hash_base64(alg, INPUT, strlen(INPUT), &expected_b64, NULL), ==,
                        0);

        for (int i = 0; i < 3; i++) {
            g_assert_cmpint(qcrypto_hash_updatev(hash, &iov[i], 1, &error), ==, 0);
        }
        g_autofree guint8 *result = NULL;
        size_t resultlen = 0;
        g_assert_cmpint(qcrypto_hash_finalize_bytes(hash, &result, &resultlen, &error), ==, 0);
        g_autofree char *result_hex = qio_test_hex(result, resultlen);
        g_assert_cmpstr(result_hex, ==, expected);

        /* Finalizing resets: the same hash object digests the next message. */
        g_assert_cmpint(qcrypto_hash_updatev(hash, iov, 3, &error), ==, 0);
        g_autofree char *b64 = NULL;
        g_assert_cmpint(qcrypto_hash_finalize_base64(hash, &b64, &error), ==, 0);
        g_assert_cmpstr(b64, ==, expected_b64);
        g_assert_no_error(error);
    }
}

/* Every backend agrees with the builtin one on lengths around the 64- and 128-byte
 * blocks, on 1 MiB, and on random iovec splits of the same bytes. */
static void test_differential(void)
{
    static const gsize lengths[] = { 0, 1, 55, 56, 63, 64, 65, 111, 112, 127, 128, 129,
                                     255, 256, 257, 1000, 4096, 1 << 20 };
    for (int alg = 0; alg < QCRYPTO_HASH_ALGO__MAX; alg++) {
        for (guint l = 0; l < G_N_ELEMENTS(lengths); l++) {
            gsize len = lengths[l];
            g_autofree guint8 *data = g_malloc(len + 1);
            g_assert_cmpint(qcrypto_random_bytes(data, len, NULL), ==, 0);
            g_autoptr(QCryptoHash) ref =
                qcrypto_hash_new_with_backend(alg, QCRYPTO_BACKEND_BUILTIN, NULL);
            g_assert_cmpint(qcrypto_hash_update(ref, data, len, NULL), ==, 0);
            g_autofree char *expected = NULL;
            g_assert_cmpint(qcrypto_hash_finalize_digest(ref, &expected, NULL), ==, 0);

            for (guint b = 0; b < G_N_ELEMENTS(qio_test_backends); b++) {
                if (!qcrypto_backend_supports_hash(qio_test_backends[b], alg)) {
                    continue;
                }
                g_autoptr(QCryptoHash) hash =
                    qcrypto_hash_new_with_backend(alg, qio_test_backends[b], NULL);
                struct iovec iov[4];
                gsize cut1 = len ? (gsize)g_random_int_range(0, (gint32)len + 1) : 0;
                gsize cut2 = cut1 + (len - cut1) / 2;
                iov[0] = (struct iovec){ data, cut1 };
                iov[1] = (struct iovec){ NULL, 0 };
                iov[2] = (struct iovec){ data + cut1, cut2 - cut1 };
                iov[3] = (struct iovec){ data + cut2, len - cut2 };
                g_assert_cmpint(qcrypto_hash_updatev(hash, iov, 4, NULL), ==, 0);
                g_autofree char *digest = NULL;
                g_assert_cmpint(qcrypto_hash_finalize_digest(hash, &digest, NULL), ==, 0);
                g_assert_cmpstr(digest, ==, expected);
            }
        }
    }
}

static void test_backends(void)
{
    g_autoptr(GError) error = NULL;
    for (int alg = 0; alg < QCRYPTO_HASH_ALGO__MAX; alg++) {
        g_assert_true(qcrypto_hash_supports(alg));
        g_assert_true(qcrypto_backend_supports_hash(QCRYPTO_BACKEND_AUTO, alg));
        g_assert_true(qcrypto_backend_supports_hash(QCRYPTO_BACKEND_BUILTIN, alg));
        g_assert_true(qcrypto_backend_supports_hash(QCRYPTO_BACKEND_NETTLE, alg));
        g_autoptr(QCryptoHash) hash = qcrypto_hash_new(alg, &error);
        g_assert_no_error(error);
        g_assert_cmpint(qcrypto_hash_get_backend(hash), !=, QCRYPTO_BACKEND_AUTO);
        g_assert_true(qcrypto_backend_supports_hash(qcrypto_hash_get_backend(hash), alg));
    }
    g_assert_true(qcrypto_backend_supports_hash(QCRYPTO_BACKEND_GNUTLS, QCRYPTO_HASH_ALGO_SHA256));
    g_assert_false(qcrypto_backend_supports_hash(QCRYPTO_BACKEND_GNUTLS, QCRYPTO_HASH_ALGO_SM3));

    QCryptoHash *hash =
        qcrypto_hash_new_with_backend(QCRYPTO_HASH_ALGO_SM3, QCRYPTO_BACKEND_GNUTLS, &error);
    g_assert_null(hash);
    qio_test_assert_error(error, QIO_ERROR_NOT_SUPPORTED,
                          "Unsupported hash algorithm sm3 in the gnutls backend");
}

/* Run with QIO_CRYPTO_BACKEND set (see ctests/meson.build): the default backend is the
 * named one wherever it has the algorithm. */
static void test_env_override(void)
{
    const char *forced = g_getenv("QIO_CRYPTO_BACKEND");
    static const char *const names[] = { "auto", "builtin", "nettle", "gnutls" };
    g_assert_nonnull(forced);
    for (int alg = 0; alg < QCRYPTO_HASH_ALGO__MAX; alg++) {
        g_autoptr(QCryptoHash) hash = qcrypto_hash_new(alg, NULL);
        QCryptoBackend used = qcrypto_hash_get_backend(hash);
        QCryptoBackend wanted = QCRYPTO_BACKEND_AUTO;
        for (int b = 1; b < 4; b++) {
            if (g_str_equal(names[b], forced)) {
                wanted = b;
            }
        }
        g_assert_cmpint(wanted, !=, QCRYPTO_BACKEND_AUTO);
        if (qcrypto_backend_supports_hash(wanted, alg)) {
            g_assert_cmpint(used, ==, wanted);
        } else {
            g_assert_cmpint(used, !=, wanted);
        }
    }
}

static void test_bad_input(void)
{
    g_autoptr(GError) error = NULL;
    guint8 *result = NULL;
    size_t resultlen = 0;
    char *digest = NULL;

    /* Unknown algorithm values are runtime errors, as QEMU reports them. */
    g_assert_false(qcrypto_hash_supports(99));
    g_assert_false(qcrypto_hash_supports(-1));
    g_assert_false(qcrypto_backend_supports_hash(QCRYPTO_BACKEND_BUILTIN, QCRYPTO_HASH_ALGO__MAX));
    g_assert_false(qcrypto_backend_supports_hash(17, QCRYPTO_HASH_ALGO_SHA256));
    g_assert_cmpint(qcrypto_hash_bytes(99, "x", 1, &result, &resultlen, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Unknown hash algorithm 99");
    g_assert_null(result);
    g_assert_cmpuint(resultlen, ==, 0);
    g_assert_null(qcrypto_hash_new(QCRYPTO_HASH_ALGO__MAX, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Unknown hash algorithm 8");
    g_assert_null(qcrypto_hash_new_with_backend(QCRYPTO_HASH_ALGO_MD5, 9, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Unknown crypto backend 9");
    /* A NULL GError is allowed: the call just fails. */
    g_assert_cmpint(qcrypto_hash_digest(42, "x", 1, &digest, NULL), ==, -1);
    g_assert_null(digest);

    /* Programming errors are criticals with a safe return. */
    qio_test_expect_critical("alg is a valid QCryptoHashAlgo");
    g_assert_cmpuint(qcrypto_hash_digest_len(99), ==, 0);
    qio_test_expect_critical("buf != NULL || len == 0");
    g_assert_cmpint(qcrypto_hash_bytes(QCRYPTO_HASH_ALGO_MD5, NULL, 3, &result, &resultlen, &error),
                    ==, -1);
    qio_test_expect_critical("iov != NULL || niov == 0");
    g_assert_cmpint(qcrypto_hash_digestv(QCRYPTO_HASH_ALGO_MD5, NULL, 2, &digest, &error), ==, -1);
    qio_test_expect_critical("result != NULL");
    g_assert_cmpint(qcrypto_hash_bytes(QCRYPTO_HASH_ALGO_MD5, "x", 1, NULL, &resultlen, &error), ==,
                    -1);
    qio_test_expect_critical("resultlen != NULL");
    g_assert_cmpint(qcrypto_hash_bytes(QCRYPTO_HASH_ALGO_MD5, "x", 1, &result, NULL, &error), ==,
                    -1);
    qio_test_expect_critical("*resultlen == 0 || *result != NULL");
    resultlen = 16;
    g_assert_cmpint(qcrypto_hash_bytes(QCRYPTO_HASH_ALGO_MD5, "x", 1, &result, &resultlen, &error),
                    ==, -1);
    qio_test_expect_critical("digest != NULL");
    g_assert_cmpint(qcrypto_hash_digest(QCRYPTO_HASH_ALGO_MD5, "x", 1, NULL, &error), ==, -1);
    qio_test_expect_critical("base64 != NULL");
    g_assert_cmpint(qcrypto_hash_base64(QCRYPTO_HASH_ALGO_MD5, "x", 1, NULL, &error), ==, -1);
    g_test_assert_expected_messages();
    g_assert_no_error(error);
    g_assert_null(result);

    /* Handles: NULL and a handle of the wrong type. */
    qio_test_expect_critical("hash != NULL");
    g_assert_cmpint(qcrypto_hash_update(NULL, "x", 1, &error), ==, -1);
    qio_test_expect_critical("hash != NULL");
    g_assert_cmpint(qcrypto_hash_get_backend(NULL), ==, QCRYPTO_BACKEND_AUTO);
    g_autoptr(QCryptoHmac) hmac = qcrypto_hmac_new(QCRYPTO_HASH_ALGO_MD5, (const guint8 *)"k", 1,
                                                   NULL);
    qio_test_expect_critical("hash is a valid QCryptoHash");
    g_assert_cmpint(qcrypto_hash_finalize_digest((QCryptoHash *)hmac, &digest, &error), ==, -1);
    qio_test_expect_critical("hash is a valid QCryptoHash");
    qcrypto_hash_free((QCryptoHash *)hmac);
    g_test_assert_expected_messages();
    g_assert_null(digest);
    qcrypto_hash_free(NULL);

    /* A GError already set on entry. */
    g_autoptr(QCryptoHash) hash = qcrypto_hash_new(QCRYPTO_HASH_ALGO_SHA1, NULL);
    error = g_error_new_literal(QIO_ERROR, QIO_ERROR_FAILED, "earlier");
    qio_test_expect_critical("error == NULL || *error == NULL");
    g_assert_cmpint(qcrypto_hash_update(hash, "x", 1, &error), ==, -1);
    g_test_assert_expected_messages();
    qio_test_assert_error(error, QIO_ERROR_FAILED, "earlier");
}

/* What QEMU code reads from hash->alg. */
static void test_get_algo(void)
{
    for (int alg = 0; alg < QCRYPTO_HASH_ALGO__MAX; alg++) {
        g_autoptr(QCryptoHash) hash = qcrypto_hash_new(alg, NULL);
        g_assert_cmpint(qcrypto_hash_get_algo(hash), ==, alg);
    }
    qio_test_expect_critical("hash != NULL");
    g_assert_cmpint(qcrypto_hash_get_algo(NULL), ==, QCRYPTO_HASH_ALGO__MAX);
    g_test_assert_expected_messages();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    if (g_getenv("QIO_CRYPTO_BACKEND")) {
        g_test_add_func("/crypto/hash/env-override", test_env_override);
        return g_test_run();
    }
    g_test_add_func("/crypto/hash/vectors", test_vectors);
    g_test_add_func("/crypto/hash/iov", test_iov);
    g_test_add_func("/crypto/hash/alloc", test_alloc);
    g_test_add_func("/crypto/hash/prealloc", test_prealloc);
    g_test_add_func("/crypto/hash/prealloc-wrong-size", test_prealloc_wrong_size);
    g_test_add_func("/crypto/hash/base64", test_base64);
    g_test_add_func("/crypto/hash/accumulate", test_accumulate);
    g_test_add_func("/crypto/hash/differential", test_differential);
    g_test_add_func("/crypto/hash/backends", test_backends);
    g_test_add_func("/crypto/hash/bad-input", test_bad_input);
    g_test_add_func("/crypto/hash/get-algo", test_get_algo);
    return g_test_run();
}
