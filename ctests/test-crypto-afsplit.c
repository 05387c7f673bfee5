/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The anti-forensic splitter through <qio.h>: QEMU's known split, its round trips, and
 * bad shapes. */

#include "qio-test.h"

#include <string.h>

static void test_known_split(void)
{
    g_autoptr(GPtrArray) vectors = qio_test_vectors_load("afsplit.txt");

    g_assert_cmpuint(vectors->len, >=, 1);
    for (guint v = 0; v < vectors->len; v++) {
        const QIOTestVector *vec = g_ptr_array_index(vectors, v);
        QCryptoHashAlgo hash = qio_test_hash_algo(vec->text[0]);
        gsize blocklen = g_ascii_strtoull(vec->text[1], NULL, 10);
        guint32 stripes = (guint32)g_ascii_strtoull(vec->text[2], NULL, 10);
        gsize nkey, nsplit;
        const guint8 *key = qio_test_vector_field(vec, 3, &nkey);
        g_autofree char *hex = g_strconcat("hex:", vec->expected, NULL);
        g_autoptr(GBytes) split_bytes = qio_test_decode_field(hex);
        const guint8 *split = g_bytes_get_data(split_bytes, &nsplit);
        g_autofree guint8 *out = g_malloc(blocklen);

        g_assert_cmpuint(nkey, ==, blocklen);
        g_assert_cmpuint(nsplit, ==, blocklen * stripes);
        g_assert_cmpint(qcrypto_afsplit_decode(hash, blocklen, stripes, split, out, NULL), ==, 0);
        g_assert_cmpmem(out, blocklen, key, blocklen);
    }
}

/* QEMU's round-trip cases, plus a block that is not a whole number of digests. */
static void test_round_trips(void)
{
    static const struct {
        QCryptoHashAlgo hash;
        gsize blocklen;
        guint32 stripes;
    } cases[] = {
        { QCRYPTO_HASH_ALGO_SHA256, 32, 5 },   { QCRYPTO_HASH_ALGO_SHA256, 16, 5000 },
        { QCRYPTO_HASH_ALGO_SHA1, 32, 1000 },  { QCRYPTO_HASH_ALGO_SHA256, 64, 4000 },
        { QCRYPTO_HASH_ALGO_SHA256, 33, 7 },   { QCRYPTO_HASH_ALGO_SM3, 32, 1 },
    };
    for (gsize c = 0; c < G_N_ELEMENTS(cases); c++) {
        gsize blocklen = cases[c].blocklen;
        g_autofree guint8 *key = qio_test_pattern(blocklen, (guint32)c + 1);
        g_autofree guint8 *split = g_malloc(blocklen * cases[c].stripes);
        g_autofree guint8 *again = g_malloc(blocklen * cases[c].stripes);
        g_autofree guint8 *out = g_malloc(blocklen);
        g_autoptr(GError) error = NULL;

        g_assert_cmpint(qcrypto_afsplit_encode(cases[c].hash, blocklen, cases[c].stripes, key,
                                               split, &error), ==, 0);
        g_assert_no_error(error);
        g_assert_cmpint(qcrypto_afsplit_decode(cases[c].hash, blocklen, cases[c].stripes, split,
                                               out, &error), ==, 0);
        g_assert_cmpmem(out, blocklen, key, blocklen);
        /* The random stripes differ from one split to the next. */
        if (cases[c].stripes > 1) {
            g_assert_cmpint(qcrypto_afsplit_encode(cases[c].hash, blocklen, cases[c].stripes,
                                                   key, again, NULL), ==, 0);
            g_assert_true(memcmp(split, again, blocklen) != 0);
        }
    }
}

static void test_bad_shapes(void)
{
    guint8 key[32] = { 0 }, split[32];
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(qcrypto_afsplit_encode(QCRYPTO_HASH_ALGO_SHA256, 32, 0, key, split, &error),
                    ==, -1);
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT,
                          "Cannot split 32 bytes into 0 stripes");
    g_assert_cmpint(qcrypto_afsplit_decode(QCRYPTO_HASH_ALGO_SHA256, G_MAXSIZE, 2, split, key,
                                           &error), ==, -1);
    g_assert_error(error, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT);
    g_clear_error(&error);
    g_assert_cmpint(qcrypto_afsplit_decode(QCRYPTO_HASH_ALGO__MAX, 32, 1, split, key, &error),
                    ==, -1);
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Unknown hash algorithm 8");
    qio_test_expect_critical("buf != NULL || len == 0");
    g_assert_cmpint(qcrypto_afsplit_encode(QCRYPTO_HASH_ALGO_SHA256, 32, 1, key, NULL, &error),
                    ==, -1);
    g_test_assert_expected_messages();
    g_assert_null(error);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/afsplit/known-split", test_known_split);
    g_test_add_func("/crypto/afsplit/round-trips", test_round_trips);
    g_test_add_func("/crypto/afsplit/bad-shapes", test_bad_shapes);
    return g_test_run();
}
