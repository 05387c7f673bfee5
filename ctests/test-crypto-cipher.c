/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QCryptoCipher API through <qio.h>: published vectors on every backend, QEMU's
 * key, length and IV rules and messages, chaining, backend agreement, the VNC DES
 * challenge-response, and misuse. */

#include "qio-test.h"

#include <string.h>

static QCryptoCipher *cipher_new(QCryptoCipherAlgo alg, QCryptoCipherMode mode,
                                 QCryptoBackend backend, const guint8 *key, gsize nkey)
{
    g_autoptr(GError) error = NULL;
    QCryptoCipher *cipher = qcrypto_cipher_new_with_backend(alg, mode, key, nkey, backend,
                                                            &error);
    g_assert_no_error(error);
    g_assert_nonnull(cipher);
    return cipher;
}

/* A key of the right length for ALG in MODE (doubled for XTS), from SEED. */
static guint8 *key_for(QCryptoCipherAlgo alg, QCryptoCipherMode mode, guint32 seed, gsize *nkey)
{
    *nkey = qcrypto_cipher_get_key_len(alg) * (mode == QCRYPTO_CIPHER_MODE_XTS ? 2 : 1);
    return qio_test_pattern(*nkey, seed);
}

static void crypt_ok(QCryptoCipher *cipher, gboolean encrypt, const void *in, void *out,
                     gsize len)
{
    g_autoptr(GError) error = NULL;
    int rc = encrypt ? qcrypto_cipher_encrypt(cipher, in, out, len, &error)
                     : qcrypto_cipher_decrypt(cipher, in, out, len, &error);
    g_assert_no_error(error);
    g_assert_cmpint(rc, ==, 0);
}

static void setiv_ok(QCryptoCipher *cipher, const guint8 *iv, gsize niv)
{
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(qcrypto_cipher_setiv(cipher, iv, niv, &error), ==, 0);
    g_assert_no_error(error);
}

static void test_vectors(void)
{
    g_autoptr(GPtrArray) vectors = qio_test_vectors_load("cipher.txt");
    guint checked[G_N_ELEMENTS(qio_test_backends)] = { 0 };

    g_assert_cmpuint(vectors->len, >=, 30);
    for (guint v = 0; v < vectors->len; v++) {
        const QIOTestVector *vec = g_ptr_array_index(vectors, v);
        QCryptoCipherAlgo alg = qio_test_cipher_algo(vec->text[0]);
        QCryptoCipherMode mode = qio_test_cipher_mode(vec->text[1]);
        gsize nkey, niv, len;
        const guint8 *key = qio_test_vector_field(vec, 2, &nkey);
        const guint8 *iv = qio_test_vector_field(vec, 3, &niv);
        const guint8 *plain = qio_test_vector_field(vec, 4, &len);

        g_assert_true(qcrypto_cipher_supports(alg, mode));
        g_assert_cmpuint(qcrypto_cipher_get_iv_len(alg, mode), ==, niv);
        g_assert_cmpuint(len % qcrypto_cipher_get_block_len(alg), ==, 0);
        for (guint b = 0; b < G_N_ELEMENTS(qio_test_backends); b++) {
            QCryptoBackend backend = qio_test_backends[b];
            if (!qcrypto_backend_supports_cipher(backend, alg, mode)) {
                continue;
            }
            g_autoptr(QCryptoCipher) cipher = cipher_new(alg, mode, backend, key, nkey);
            g_assert_cmpint(qcrypto_cipher_get_backend(cipher), ==, backend);
            g_autofree guint8 *buf = g_malloc(len + 1);
            if (niv) {
                setiv_ok(cipher, iv, niv);
            }
            crypt_ok(cipher, TRUE, plain, buf, len);
            g_autofree char *hex = qio_test_hex(buf, len);
            g_assert_cmpstr(hex, ==, vec->expected);
            if (niv) {
                setiv_ok(cipher, iv, niv);
            }
            crypt_ok(cipher, FALSE, buf, buf, len);
            g_assert_cmpmem(buf, len, plain, len);
            checked[b]++;
        }
    }
    /* builtin has every pair; nettle all but SM4; gnutls only AES-CBC/XTS and DES-CBC. */
    g_assert_cmpuint(checked[0], ==, vectors->len);
    g_assert_cmpuint(checked[1], >, vectors->len / 2);
    g_assert_cmpuint(checked[2], >, 0);
}

static void test_supports(void)
{
    for (int alg = 0; alg < QCRYPTO_CIPHER_ALGO__MAX; alg++) {
        gboolean narrow = qcrypto_cipher_get_block_len(alg) == 8;
        for (int mode = 0; mode < QCRYPTO_CIPHER_MODE__MAX; mode++) {
            gboolean exists = !(narrow && mode == QCRYPTO_CIPHER_MODE_XTS);
            g_assert_cmpint(qcrypto_cipher_supports(alg, mode), ==, exists);
            g_assert_cmpint(qcrypto_backend_supports_cipher(QCRYPTO_BACKEND_BUILTIN, alg, mode),
                            ==, exists);
        }
        /* gnutls has no ECB, and qio does not fake one. */
        g_assert_false(qcrypto_backend_supports_cipher(QCRYPTO_BACKEND_GNUTLS, alg,
                                                       QCRYPTO_CIPHER_MODE_ECB));
    }
    g_assert_false(qcrypto_backend_supports_cipher(QCRYPTO_BACKEND_NETTLE,
                                                   QCRYPTO_CIPHER_ALGO_SM4,
                                                   QCRYPTO_CIPHER_MODE_ECB));
    g_assert_true(qcrypto_backend_supports_cipher(QCRYPTO_BACKEND_GNUTLS,
                                                  QCRYPTO_CIPHER_ALGO_AES_256,
                                                  QCRYPTO_CIPHER_MODE_XTS));
    /* Unknown values are unsupported, not errors. */
    g_assert_false(qcrypto_cipher_supports(QCRYPTO_CIPHER_ALGO__MAX, QCRYPTO_CIPHER_MODE_ECB));
    g_assert_false(qcrypto_cipher_supports(QCRYPTO_CIPHER_ALGO_AES_128, -1));
    g_assert_false(qcrypto_backend_supports_cipher(7, QCRYPTO_CIPHER_ALGO_AES_128,
                                                   QCRYPTO_CIPHER_MODE_ECB));
}

static void test_sizes(void)
{
    g_assert_cmpuint(qcrypto_cipher_get_key_len(QCRYPTO_CIPHER_ALGO_AES_192), ==, 24);
    g_assert_cmpuint(qcrypto_cipher_get_key_len(QCRYPTO_CIPHER_ALGO_3DES), ==, 24);
    g_assert_cmpuint(qcrypto_cipher_get_key_len(QCRYPTO_CIPHER_ALGO_DES), ==, 8);
    g_assert_cmpuint(qcrypto_cipher_get_block_len(QCRYPTO_CIPHER_ALGO_CAST5_128), ==, 8);
    g_assert_cmpuint(qcrypto_cipher_get_block_len(QCRYPTO_CIPHER_ALGO_SM4), ==, 16);
    g_assert_cmpuint(qcrypto_cipher_get_iv_len(QCRYPTO_CIPHER_ALGO_AES_128,
                                               QCRYPTO_CIPHER_MODE_ECB), ==, 0);
    g_assert_cmpuint(qcrypto_cipher_get_iv_len(QCRYPTO_CIPHER_ALGO_DES,
                                               QCRYPTO_CIPHER_MODE_CBC), ==, 8);
    g_assert_cmpuint(qcrypto_cipher_get_iv_len(QCRYPTO_CIPHER_ALGO_AES_256,
                                               QCRYPTO_CIPHER_MODE_XTS), ==, 16);
}

/* QEMU's /crypto/cipher/null-iv: CBC without setiv uses a zero IV. */
static void test_null_iv(void)
{
    static const guint8 zero_iv[16];
    g_autofree guint8 *key = qio_test_pattern(32, 1);
    g_autofree guint8 *plain = qio_test_pattern(64, 2);
    guint8 implicit[64], explicit[64];

    for (guint b = 0; b < G_N_ELEMENTS(qio_test_backends); b++) {
        g_autoptr(QCryptoCipher) a = cipher_new(QCRYPTO_CIPHER_ALGO_AES_256,
                                                QCRYPTO_CIPHER_MODE_CBC, qio_test_backends[b],
                                                key, 32);
        g_autoptr(QCryptoCipher) e = cipher_new(QCRYPTO_CIPHER_ALGO_AES_256,
                                                QCRYPTO_CIPHER_MODE_CBC, qio_test_backends[b],
                                                key, 32);
        setiv_ok(e, zero_iv, 16);
        crypt_ok(a, TRUE, plain, implicit, 64);
        crypt_ok(e, TRUE, plain, explicit, 64);
        g_assert_cmpmem(implicit, 64, explicit, 64);
    }
}

/* Creating ALG in MODE with an NKEY-byte key fails with CODE and MESSAGE. */
static void assert_new_fails(QCryptoCipherAlgo alg, QCryptoCipherMode mode, gsize nkey,
                             int code, const char *message)
{
    g_autofree guint8 *key = qio_test_pattern(nkey, 3);
    g_autoptr(GError) error = NULL;
    g_assert_null(qcrypto_cipher_new(alg, mode, key, nkey, &error));
    qio_test_assert_error(error, code, message);
}

static void test_bad_keys(void)
{
    assert_new_fails(QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_MODE_CBC, 15,
                     QIO_ERROR_INVALID_ARGUMENT, "Cipher key length 15 should be 16");
    assert_new_fails(QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_XTS, 32,
                     QIO_ERROR_INVALID_ARGUMENT, "Cipher key length 32 should be 64");
    assert_new_fails(QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_MODE_XTS, 31,
                     QIO_ERROR_INVALID_ARGUMENT,
                     "XTS cipher key length should be a multiple of 2");
    assert_new_fails(QCRYPTO_CIPHER_ALGO_DES, QCRYPTO_CIPHER_MODE_XTS, 16,
                     QIO_ERROR_INVALID_ARGUMENT, "XTS mode not compatible with DES/3DES");
    /* QEMU's cast5-xts-128 case. */
    assert_new_fails(QCRYPTO_CIPHER_ALGO_CAST5_128, QCRYPTO_CIPHER_MODE_XTS, 32,
                     QIO_ERROR_NOT_SUPPORTED,
                     "Unsupported cipher algorithm cast5-128 with xts mode");
    assert_new_fails(QCRYPTO_CIPHER_ALGO__MAX, QCRYPTO_CIPHER_MODE_ECB, 16,
                     QIO_ERROR_INVALID_ARGUMENT, "Cipher algorithm 13 out of range");

    g_autoptr(GError) error = NULL;
    guint8 key[16] = { 0 };
    g_assert_null(qcrypto_cipher_new_with_backend(QCRYPTO_CIPHER_ALGO_AES_128,
                                                  QCRYPTO_CIPHER_MODE_CTR, key, 16,
                                                  QCRYPTO_BACKEND_GNUTLS, &error));
    qio_test_assert_error(error, QIO_ERROR_NOT_SUPPORTED,
                          "Unsupported cipher algorithm aes-128 with ctr mode in the gnutls "
                          "backend");
}

/* QEMU's /crypto/cipher/short-plaintext, in every mode, plus the IV rules. */
static void test_bad_lengths_and_ivs(void)
{
    g_autofree guint8 *buf = qio_test_pattern(40, 4);

    for (int mode = 0; mode < QCRYPTO_CIPHER_MODE__MAX; mode++) {
        gsize nkey;
        g_autofree guint8 *key = key_for(QCRYPTO_CIPHER_ALGO_AES_128, mode, 5, &nkey);
        g_autoptr(QCryptoCipher) cipher = cipher_new(QCRYPTO_CIPHER_ALGO_AES_128, mode,
                                                     QCRYPTO_BACKEND_AUTO, key, nkey);
        g_autoptr(GError) error = NULL;
        g_assert_cmpint(qcrypto_cipher_encrypt(cipher, buf, buf, 20, &error), ==, -1);
        qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT,
                              "Length 20 must be a multiple of block size 16");
        g_assert_cmpint(qcrypto_cipher_decrypt(cipher, buf, buf, 40, &error), ==, -1);
        qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT,
                              "Length 40 must be a multiple of block size 16");
        g_assert_cmpint(qcrypto_cipher_setiv(cipher, buf, 8, &error), ==, -1);
        qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT,
                              mode == QCRYPTO_CIPHER_MODE_ECB ? "Setting IV is not supported"
                                                              : "Expected IV size 16 not 8");
        /* Zero bytes is a whole number of blocks, and may come with NULL buffers. */
        crypt_ok(cipher, TRUE, NULL, NULL, 0);
    }
}

/* CBC and CTR chain across calls; XTS uses the same tweak for every call. */
static void test_chaining(void)
{
    for (int mode = QCRYPTO_CIPHER_MODE_CBC; mode < QCRYPTO_CIPHER_MODE__MAX; mode++) {
        for (guint b = 0; b < G_N_ELEMENTS(qio_test_backends); b++) {
            QCryptoBackend backend = qio_test_backends[b];
            if (!qcrypto_backend_supports_cipher(backend, QCRYPTO_CIPHER_ALGO_AES_128, mode)) {
                continue;
            }
            gsize nkey;
            g_autofree guint8 *key = key_for(QCRYPTO_CIPHER_ALGO_AES_128, mode, 6, &nkey);
            g_autofree guint8 *iv = qio_test_pattern(16, 7);
            g_autofree guint8 *plain = qio_test_pattern(96, 8);
            guint8 whole[96], parts[96];
            g_autoptr(QCryptoCipher) cipher = cipher_new(QCRYPTO_CIPHER_ALGO_AES_128, mode,
                                                         backend, key, nkey);
            setiv_ok(cipher, iv, 16);
            crypt_ok(cipher, TRUE, plain, whole, 96);
            setiv_ok(cipher, iv, 16);
            crypt_ok(cipher, TRUE, plain, parts, 48);
            crypt_ok(cipher, TRUE, plain + 48, parts + 48, 48);
            if (mode == QCRYPTO_CIPHER_MODE_XTS) {
                guint8 again[48];
                setiv_ok(cipher, iv, 16);
                crypt_ok(cipher, TRUE, plain + 48, again, 48);
                g_assert_cmpmem(parts + 48, 48, again, 48);
                g_assert_cmpmem(parts, 48, whole, 48);
            } else {
                g_assert_cmpmem(parts, 96, whole, 96);
            }
        }
    }
}

/* Every backend of every pair turns the same random key, IV and data into the same
 * bytes, both directions, in place and not. */
static void test_backends_agree(void)
{
    for (int alg = 0; alg < QCRYPTO_CIPHER_ALGO__MAX; alg++) {
        for (int mode = 0; mode < QCRYPTO_CIPHER_MODE__MAX; mode++) {
            if (!qcrypto_cipher_supports(alg, mode)) {
                continue;
            }
            gsize nkey, niv = qcrypto_cipher_get_iv_len(alg, mode);
            gsize len = 64 * qcrypto_cipher_get_block_len(alg);
            g_autofree guint8 *key = key_for(alg, mode, alg * 7 + mode, &nkey);
            g_autofree guint8 *iv = qio_test_pattern(niv, 9);
            g_autofree guint8 *plain = qio_test_pattern(len, 10);
            g_autofree guint8 *reference = NULL;

            for (guint b = 0; b < G_N_ELEMENTS(qio_test_backends); b++) {
                if (!qcrypto_backend_supports_cipher(qio_test_backends[b], alg, mode)) {
                    continue;
                }
                g_autoptr(QCryptoCipher) cipher = cipher_new(alg, mode, qio_test_backends[b],
                                                             key, nkey);
                g_autofree guint8 *out = g_malloc(2 * len);
                if (niv) {
                    setiv_ok(cipher, iv, niv);
                }
                crypt_ok(cipher, TRUE, plain, out, len);
                memcpy(out + len, plain, len);
                crypt_ok(cipher, FALSE, out + len, out + len, len);
                if (!reference) {
                    reference = g_steal_pointer(&out);
                } else {
                    g_assert_cmpmem(out, 2 * len, reference, 2 * len);
                }
            }
        }
    }
}

/* VNC authentication: DES-ECB of the server's challenge under the password, NUL-padded
 * to 8 bytes, with each key byte's bits reversed (ui/vnc.c's munging). */
static void test_vnc_auth(void)
{
    g_autoptr(GPtrArray) vectors = qio_test_vectors_load("vnc.txt");

    g_assert_cmpuint(vectors->len, >=, 1);
    for (guint v = 0; v < vectors->len; v++) {
        const QIOTestVector *vec = g_ptr_array_index(vectors, v);
        gsize npassword, nchallenge;
        const guint8 *password = qio_test_vector_field(vec, 0, &npassword);
        const guint8 *challenge = qio_test_vector_field(vec, 1, &nchallenge);
        guint8 key[8] = { 0 }, response[16];

        g_assert_cmpuint(nchallenge, ==, sizeof(response));
        for (gsize i = 0; i < MIN(npassword, sizeof(key)); i++) {
            guint8 r = password[i];
            r = (guint8)((r & 0xf0) >> 4 | (r & 0x0f) << 4);
            r = (guint8)((r & 0xcc) >> 2 | (r & 0x33) << 2);
            key[i] = (guint8)((r & 0xaa) >> 1 | (r & 0x55) << 1);
        }
        for (guint b = 0; b < G_N_ELEMENTS(qio_test_backends); b++) {
            if (!qcrypto_backend_supports_cipher(qio_test_backends[b], QCRYPTO_CIPHER_ALGO_DES,
                                                 QCRYPTO_CIPHER_MODE_ECB)) {
                continue;
            }
            g_autoptr(QCryptoCipher) des = cipher_new(QCRYPTO_CIPHER_ALGO_DES,
                                                      QCRYPTO_CIPHER_MODE_ECB,
                                                      qio_test_backends[b], key, sizeof(key));
            crypt_ok(des, TRUE, challenge, response, sizeof(response));
            g_autofree char *hex = qio_test_hex(response, sizeof(response));
            g_assert_cmpstr(hex, ==, vec->expected);
        }
    }
}

/* Programming errors are criticals with a safe return. */
static void test_misuse(void)
{
    guint8 key[16] = { 0 }, buf[32] = { 0 };
    g_autoptr(QCryptoCipher) cipher = cipher_new(QCRYPTO_CIPHER_ALGO_AES_128,
                                                 QCRYPTO_CIPHER_MODE_CBC, QCRYPTO_BACKEND_AUTO,
                                                 key, 16);
    g_autoptr(GError) error = NULL;

    qio_test_expect_critical("cipher != NULL");
    g_assert_cmpint(qcrypto_cipher_encrypt(NULL, buf, buf, 16, &error), ==, -1);
    g_test_assert_expected_messages();
    qio_test_expect_critical("cipher is a valid QCryptoCipher");
    g_assert_cmpint(qcrypto_cipher_get_backend((QCryptoCipher *)buf), ==,
                    QCRYPTO_BACKEND_AUTO);
    g_test_assert_expected_messages();
    qio_test_expect_critical("input != NULL && output != NULL");
    g_assert_cmpint(qcrypto_cipher_decrypt(cipher, NULL, buf, 16, &error), ==, -1);
    g_test_assert_expected_messages();
    qio_test_expect_critical("input == output || the buffers do not overlap");
    g_assert_cmpint(qcrypto_cipher_encrypt(cipher, buf, buf + 8, 16, &error), ==, -1);
    g_test_assert_expected_messages();
    qio_test_expect_critical("buf != NULL || len == 0");
    g_assert_cmpint(qcrypto_cipher_setiv(cipher, NULL, 16, &error), ==, -1);
    g_test_assert_expected_messages();
    qio_test_expect_critical("buf != NULL || len == 0");
    g_assert_null(qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_MODE_ECB, NULL,
                                     16, &error));
    g_test_assert_expected_messages();
    qio_test_expect_critical("alg is a valid QCryptoCipherAlgo");
    g_assert_cmpuint(qcrypto_cipher_get_key_len(QCRYPTO_CIPHER_ALGO__MAX), ==, 0);
    g_test_assert_expected_messages();
    qio_test_expect_critical("mode is a valid QCryptoCipherMode");
    g_assert_cmpuint(qcrypto_cipher_get_iv_len(QCRYPTO_CIPHER_ALGO_AES_128, 4), ==, 0);
    g_test_assert_expected_messages();
    g_assert_null(error);
    qcrypto_cipher_free(NULL);
}

/* What QEMU code reads from cipher->alg and cipher->mode. */
static void test_getters(void)
{
    guint8 key[32] = { 0 };
    g_autoptr(QCryptoCipher) cipher = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_AES_128,
                                                         QCRYPTO_CIPHER_MODE_XTS, key, 32, NULL);
    g_assert_cmpint(qcrypto_cipher_get_algo(cipher), ==, QCRYPTO_CIPHER_ALGO_AES_128);
    g_assert_cmpint(qcrypto_cipher_get_mode(cipher), ==, QCRYPTO_CIPHER_MODE_XTS);
    g_autoptr(QCryptoHash) hash = qcrypto_hash_new(QCRYPTO_HASH_ALGO_MD5, NULL);
    qio_test_expect_critical("cipher is a valid QCryptoCipher");
    g_assert_cmpint(qcrypto_cipher_get_algo((QCryptoCipher *)hash), ==, QCRYPTO_CIPHER_ALGO__MAX);
    qio_test_expect_critical("cipher != NULL");
    g_assert_cmpint(qcrypto_cipher_get_mode(NULL), ==, QCRYPTO_CIPHER_MODE__MAX);
    g_test_assert_expected_messages();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/cipher/vectors", test_vectors);
    g_test_add_func("/crypto/cipher/supports", test_supports);
    g_test_add_func("/crypto/cipher/sizes", test_sizes);
    g_test_add_func("/crypto/cipher/null-iv", test_null_iv);
    g_test_add_func("/crypto/cipher/bad-keys", test_bad_keys);
    g_test_add_func("/crypto/cipher/short-plaintext", test_bad_lengths_and_ivs);
    g_test_add_func("/crypto/cipher/chaining", test_chaining);
    g_test_add_func("/crypto/cipher/backends-agree", test_backends_agree);
    g_test_add_func("/crypto/cipher/vnc-auth", test_vnc_auth);
    g_test_add_func("/crypto/cipher/misuse", test_misuse);
    g_test_add_func("/crypto/cipher/getters", test_getters);
    return g_test_run();
}
