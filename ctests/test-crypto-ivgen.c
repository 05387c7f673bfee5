/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QCryptoIVGen API through <qio.h>: QEMU's plain, plain64 and ESSIV cases, the
 * truncation and padding rules, ESSIV's key-length rule, and misuse. */

#include "qio-test.h"

#include <string.h>

static QCryptoIVGenAlgo ivgen_algo(const char *name)
{
    static const char *const names[] = { "plain", "plain64", "essiv" };
    for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
        if (g_str_equal(names[i], name)) {
            return (QCryptoIVGenAlgo)i;
        }
    }
    g_error("unknown IV generator '%s'", name);
}

static void test_vectors(void)
{
    g_autoptr(GPtrArray) vectors = qio_test_vectors_load("ivgen.txt");

    g_assert_cmpuint(vectors->len, >=, 9);
    for (guint v = 0; v < vectors->len; v++) {
        const QIOTestVector *vec = g_ptr_array_index(vectors, v);
        QCryptoIVGenAlgo alg = ivgen_algo(vec->text[0]);
        gboolean essiv = alg == QCRYPTO_IV_GEN_ALGO_ESSIV;
        QCryptoCipherAlgo cipher = essiv ? qio_test_cipher_algo(vec->text[1])
                                         : QCRYPTO_CIPHER_ALGO_AES_128;
        QCryptoHashAlgo hash = essiv ? qio_test_hash_algo(vec->text[2]) : QCRYPTO_HASH_ALGO_MD5;
        gsize nkey;
        const guint8 *key = qio_test_vector_field(vec, 3, &nkey);
        guint64 sector = g_ascii_strtoull(vec->text[4], NULL, 0);
        gsize niv = g_ascii_strtoull(vec->text[5], NULL, 10);
        g_autoptr(GError) error = NULL;

        g_autoptr(QCryptoIVGen) ivgen = qcrypto_ivgen_new(alg, cipher, hash, key, nkey, &error);
        g_assert_no_error(error);
        g_assert_cmpint(qcrypto_ivgen_get_algorithm(ivgen), ==, alg);
        g_assert_cmpint(qcrypto_ivgen_get_cipher(ivgen), ==, cipher);
        g_assert_cmpint(qcrypto_ivgen_get_hash(ivgen), ==, hash);
        g_autofree guint8 *iv = g_malloc(niv + 1);
        g_assert_cmpint(qcrypto_ivgen_calculate(ivgen, sector, iv, niv, &error), ==, 0);
        g_autofree char *hex = qio_test_hex(iv, niv);
        g_assert_cmpstr(hex, ==, vec->expected);
    }
}

/* plain keeps 32 bits, plain64 64; both are truncated or zero-padded to the IV size. */
static void test_sizes(void)
{
    guint8 iv[16];
    g_autoptr(QCryptoIVGen) plain = qcrypto_ivgen_new(QCRYPTO_IV_GEN_ALGO_PLAIN,
                                                      QCRYPTO_CIPHER_ALGO_AES_128,
                                                      QCRYPTO_HASH_ALGO_SHA256, NULL, 0, NULL);
    g_autoptr(QCryptoIVGen) plain64 = qcrypto_ivgen_new(QCRYPTO_IV_GEN_ALGO_PLAIN64,
                                                        QCRYPTO_CIPHER_ALGO_AES_128,
                                                        QCRYPTO_HASH_ALGO_SHA256, NULL, 0, NULL);
    const guint8 le64[8] = { 0x88, 0x79, 0x6a, 0x5b, 0x4c, 0x3d, 0x2e, 0x1f };

    memset(iv, 0xff, sizeof(iv));
    g_assert_cmpint(qcrypto_ivgen_calculate(plain, 0x1f2e3d4c5b6a7988ULL, iv, 16, NULL), ==, 0);
    g_assert_cmpmem(iv, 4, le64, 4);
    for (int i = 4; i < 16; i++) {
        g_assert_cmpuint(iv[i], ==, 0);
    }
    memset(iv, 0xff, sizeof(iv));
    g_assert_cmpint(qcrypto_ivgen_calculate(plain64, 0x1f2e3d4c5b6a7988ULL, iv, 6, NULL), ==, 0);
    g_assert_cmpmem(iv, 6, le64, 6);
    g_assert_cmpuint(iv[6], ==, 0xff);
}

/* ESSIV keys the cipher with the digest truncated to the key length: a shorter
 * digest is QEMU's key-length error. */
static void test_essiv_key_rule(void)
{
    guint8 key[16] = { 0 };
    g_autoptr(GError) error = NULL;
    g_assert_null(qcrypto_ivgen_new(QCRYPTO_IV_GEN_ALGO_ESSIV, QCRYPTO_CIPHER_ALGO_AES_256,
                                    QCRYPTO_HASH_ALGO_SHA1, key, sizeof(key), &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Cipher key length 20 should be 32");
    g_assert_null(qcrypto_ivgen_new(QCRYPTO_IV_GEN_ALGO__MAX, QCRYPTO_CIPHER_ALGO_AES_128,
                                    QCRYPTO_HASH_ALGO_SHA256, key, sizeof(key), &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT,
                          "Unknown block IV generator algorithm 3");

    /* An 8-byte-block cipher encrypts exactly the 64-bit sector number. */
    g_autoptr(QCryptoIVGen) des = qcrypto_ivgen_new(QCRYPTO_IV_GEN_ALGO_ESSIV,
                                                    QCRYPTO_CIPHER_ALGO_DES,
                                                    QCRYPTO_HASH_ALGO_SHA256, key, 16, &error);
    g_assert_no_error(error);
    guint8 iv[16], salt[32], expected[16] = { 0 };
    guint8 *saltp = salt;
    gsize nsalt = sizeof(salt);
    g_assert_cmpint(qcrypto_hash_bytes(QCRYPTO_HASH_ALGO_SHA256, key, 16, &saltp, &nsalt, NULL),
                    ==, 0);
    g_autoptr(QCryptoCipher) ecb = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_DES,
                                                      QCRYPTO_CIPHER_MODE_ECB, salt, 8, NULL);
    expected[0] = 7;
    g_assert_cmpint(qcrypto_cipher_encrypt(ecb, expected, expected, 8, NULL), ==, 0);
    g_assert_cmpint(qcrypto_ivgen_calculate(des, 7, iv, 16, NULL), ==, 0);
    g_assert_cmpmem(iv, 16, expected, 16);
}

static void test_misuse(void)
{
    guint8 iv[16];
    qio_test_expect_critical("ivgen != NULL");
    g_assert_cmpint(qcrypto_ivgen_calculate(NULL, 0, iv, 16, NULL), ==, -1);
    g_test_assert_expected_messages();
    qio_test_expect_critical("ivgen != NULL");
    g_assert_cmpint(qcrypto_ivgen_get_algorithm(NULL), ==, QCRYPTO_IV_GEN_ALGO__MAX);
    g_test_assert_expected_messages();
    qio_test_expect_critical("ivgen != NULL");
    g_assert_cmpint(qcrypto_ivgen_get_cipher(NULL), ==, QCRYPTO_CIPHER_ALGO__MAX);
    g_test_assert_expected_messages();
    qio_test_expect_critical("ivgen != NULL");
    g_assert_cmpint(qcrypto_ivgen_get_hash(NULL), ==, QCRYPTO_HASH_ALGO__MAX);
    g_test_assert_expected_messages();
    g_autoptr(QCryptoIVGen) ivgen = qcrypto_ivgen_new(QCRYPTO_IV_GEN_ALGO_PLAIN64,
                                                      QCRYPTO_CIPHER_ALGO_AES_128,
                                                      QCRYPTO_HASH_ALGO_SHA256, NULL, 0, NULL);
    qio_test_expect_critical("buf != NULL || len == 0");
    g_assert_cmpint(qcrypto_ivgen_calculate(ivgen, 0, NULL, 16, NULL), ==, -1);
    g_test_assert_expected_messages();
    qcrypto_ivgen_free(NULL);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/ivgen/vectors", test_vectors);
    g_test_add_func("/crypto/ivgen/sizes", test_sizes);
    g_test_add_func("/crypto/ivgen/essiv-key-rule", test_essiv_key_rule);
    g_test_add_func("/crypto/ivgen/misuse", test_misuse);
    return g_test_run();
}
