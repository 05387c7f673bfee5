/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QCryptoSecret API through <qio.h>: QEMU's direct, indirect (file), base64 and
 * AES-256-CBC-encrypted secrets, the latter sealed by `openssl enc` as an outside
 * oracle, the bad-input messages, sharing, and misuse. */

#define _GNU_SOURCE /* syscall() */
#include "qio-test.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <linux/keyctl.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static QCryptoSecret *secret_ok(const char *data, const char *file, QCryptoSecretFormat format,
                                QCryptoSecret *key, const char *iv)
{
    g_autoptr(GError) error = NULL;
    QCryptoSecret *secret = qcrypto_secret_new(data, file, format, key, iv, &error);
    g_assert_no_error(error);
    g_assert_nonnull(secret);
    return secret;
}

static void assert_secret_fails(const char *data, const char *file, QCryptoSecretFormat format,
                                QCryptoSecret *key, const char *iv, const char *message)
{
    g_autoptr(GError) error = NULL;
    g_assert_null(qcrypto_secret_new(data, file, format, key, iv, &error));
    g_assert_nonnull(error);
    g_assert_cmpstr(error->message, ==, message);
}

static void assert_utf8(QCryptoSecret *secret, const char *expected)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *text = qcrypto_secret_get_utf8(secret, &error);
    g_assert_no_error(error);
    g_assert_cmpstr(text, ==, expected);
}

static void test_direct_and_base64(void)
{
    g_autoptr(QCryptoSecret) direct = secret_ok("123456", NULL, QCRYPTO_SECRET_FORMAT_RAW,
                                                NULL, NULL);
    assert_utf8(direct, "123456");
    g_autofree char *b64 = qcrypto_secret_get_base64(direct, NULL);
    g_assert_cmpstr(b64, ==, "MTIzNDU2");

    g_autoptr(QCryptoSecret) decoded = secret_ok("MTIzNDU2", NULL, QCRYPTO_SECRET_FORMAT_BASE64,
                                                 NULL, NULL);
    guint8 *bytes = NULL;
    size_t len = 0;
    g_assert_cmpint(qcrypto_secret_get_bytes(decoded, &bytes, &len, NULL), ==, 0);
    g_assert_cmpmem(bytes, len, "123456", 6);
    g_assert_cmpuint(bytes[len], ==, 0);
    g_free(bytes);

    /* Binary bytes: base64 in, base64 out; not UTF-8. */
    g_autoptr(QCryptoSecret) binary = secret_ok("/w==", NULL, QCRYPTO_SECRET_FORMAT_BASE64, NULL,
                                                NULL);
    g_autofree char *again = qcrypto_secret_get_base64(binary, NULL);
    g_assert_cmpstr(again, ==, "/w==");
    g_autoptr(GError) error = NULL;
    g_assert_null(qcrypto_secret_get_utf8(binary, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Data from secret is not valid UTF-8");

    assert_secret_fails("MTI*NDU2", NULL, QCRYPTO_SECRET_FORMAT_BASE64, NULL, NULL,
                        "Base64 data contains invalid characters");
    assert_secret_fails(NULL, NULL, QCRYPTO_SECRET_FORMAT_RAW, NULL, NULL,
                        "Either 'file' or 'data' must be provided");
    assert_secret_fails("x", "/x", QCRYPTO_SECRET_FORMAT_RAW, NULL, NULL,
                        "'file' and 'data' are mutually exclusive");
    assert_secret_fails("x", NULL, QCRYPTO_SECRET_FORMAT__MAX, NULL, NULL,
                        "Unknown secret format 2");
}

/* Base64 as QEMU decodes it: its character check, then GLib's g_base64_decode(), which
 * is the oracle here, for inputs QEMU accepts that a strict decoder refuses. */
static void test_qemu_base64(void)
{
    const char *inputs[] = {
        "9miloPQCzGy+TL6aonfzVc", /* spare bits set, no padding */
        "QUJD\nREVG\n", "QQ", "QQ=", "Q", "QQ==QUI=", "====", "", "AB=C",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(inputs); i++) {
        gsize want_len = 0;
        g_autofree guchar *want = g_base64_decode(inputs[i], &want_len);
        g_autoptr(QCryptoSecret) secret = secret_ok(inputs[i], NULL,
                                                    QCRYPTO_SECRET_FORMAT_BASE64, NULL, NULL);
        g_autofree guint8 *got = NULL;
        size_t got_len = 0;
        g_assert_cmpint(qcrypto_secret_get_bytes(secret, &got, &got_len, NULL), ==, 0);
        g_assert_cmpmem(got, got_len, want, want_len);
    }
    assert_secret_fails("QQ==\r\n", NULL, QCRYPTO_SECRET_FORMAT_BASE64, NULL, NULL,
                        "Base64 data contains invalid characters");
}

/* QEMU validates text with g_utf8_validate(), which refuses a NUL: a secret holding
 * one is not text, where a C string would silently stop at it. */
static void test_utf8_with_nul(void)
{
    g_autoptr(QCryptoSecret) secret = secret_ok("YWJjAGRlZg==" /* "abc\0def" */, NULL,
                                                QCRYPTO_SECRET_FORMAT_BASE64, NULL, NULL);
    g_autoptr(GError) error = NULL;
    g_assert_null(qcrypto_secret_get_utf8(secret, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Data from secret is not valid UTF-8");
}

static void test_indirect(void)
{
    g_autofree char *dir = g_dir_make_tmp("qio-secret-XXXXXX", NULL);
    g_autofree char *path = g_build_filename(dir, "secret", NULL);

    g_assert_true(g_file_set_contents(path, "123456", -1, NULL));
    g_autoptr(QCryptoSecret) good = secret_ok(NULL, path, QCRYPTO_SECRET_FORMAT_RAW, NULL, NULL);
    assert_utf8(good, "123456");

    g_assert_true(g_file_set_contents(path, "", 0, NULL));
    g_autoptr(QCryptoSecret) empty = secret_ok(NULL, path, QCRYPTO_SECRET_FORMAT_RAW, NULL, NULL);
    assert_utf8(empty, "");

    g_assert_cmpint(g_unlink(path), ==, 0);
    g_autoptr(GError) error = NULL;
    g_assert_null(qcrypto_secret_new(NULL, path, QCRYPTO_SECRET_FORMAT_RAW, NULL, NULL, &error));
    g_autofree char *prefix = g_strdup_printf("Unable to read %s: ", path);
    g_assert_true(g_str_has_prefix(error->message, prefix));
    g_clear_error(&error);

    /* A FIFO would block the read for ever, and a huge file is refused unread. */
    for (QIOTestHostile kind = QIO_TEST_FIFO; kind <= QIO_TEST_OVERSIZED; kind++) {
        g_autofree char *reason = qio_test_hostile_file(path, kind);
        g_assert_null(qcrypto_secret_new(NULL, path, QCRYPTO_SECRET_FORMAT_RAW, NULL, NULL, &error));
        g_autofree char *message = g_strdup_printf("Unable to read %s: %s", path, reason);
        qio_test_assert_error(error, QIO_ERROR_FAILED, message);
    }
    g_assert_cmpint(g_unlink(path), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

/* PLAIN sealed by `openssl enc -aes-256-cbc` (PKCS#7 padding) under KEY and IV. */
static GBytes *openssl_seal(const char *plain, const guint8 key[32], const guint8 iv[16])
{
    g_autofree char *dir = g_dir_make_tmp("qio-secret-XXXXXX", NULL);
    g_autofree char *in = g_build_filename(dir, "plain", NULL);
    g_autofree char *out = g_build_filename(dir, "sealed", NULL);
    g_autofree char *hexkey = qio_test_hex(key, 32), *hexiv = qio_test_hex(iv, 16);
    const char *argv[] = { "openssl", "enc", "-aes-256-cbc", "-K", hexkey, "-iv", hexiv,
                           "-in", in, "-out", out, NULL };
    g_autofree char *sealed = NULL;
    gsize len = 0;
    int status = 0;

    g_assert_true(g_file_set_contents(in, plain, -1, NULL));
    g_assert_true(g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL,
                               NULL, &status, NULL));
    g_assert_true(g_spawn_check_wait_status(status, NULL));
    g_assert_true(g_file_get_contents(out, &sealed, &len, NULL));
    g_unlink(in);
    g_unlink(out);
    g_rmdir(dir);
    return g_bytes_new(sealed, len);
}

static void test_encrypted(void)
{
    guint8 key[32], iv[16];
    for (int i = 0; i < 32; i++) {
        key[i] = (guint8)(i * 7 + 1);
    }
    memset(iv, 0x42, sizeof(iv));
    g_autofree char *key64 = g_base64_encode(key, sizeof(key));
    g_autofree char *iv64 = g_base64_encode(iv, sizeof(iv));
    g_autoptr(QCryptoSecret) master = secret_ok(key64, NULL, QCRYPTO_SECRET_FORMAT_BASE64, NULL,
                                                NULL);

    for (gsize n = 0; n <= 33; n += 11) {
        g_autofree char *plain = g_strnfill(n, 'p');
        g_autoptr(GBytes) sealed = openssl_seal(plain, key, iv);
        gsize len;
        const guint8 *data = g_bytes_get_data(sealed, &len);
        g_assert_cmpuint(len, ==, (n / 16 + 1) * 16);

        /* base64 form: what libvirt passes to QEMU. */
        g_autofree char *sealed64 = g_base64_encode(data, len);
        g_autoptr(QCryptoSecret) from64 = secret_ok(sealed64, NULL, QCRYPTO_SECRET_FORMAT_BASE64,
                                                    master, iv64);
        assert_utf8(from64, plain);

        /* The same IV with its spare bits set ('Qg==' -> 'Qh=='): QEMU's decoder,
         * g_base64_decode(), ignores them. */
        g_autofree char *iv64_spare = g_strdup(iv64);
        iv64_spare[strlen(iv64_spare) - 3] = 'h';
        g_autoptr(QCryptoSecret) spare = secret_ok(sealed64, NULL, QCRYPTO_SECRET_FORMAT_BASE64,
                                                   master, iv64_spare);
        assert_utf8(spare, plain);

        /* raw form, from a file since the ciphertext may hold NULs. */
        g_autofree char *dir = g_dir_make_tmp("qio-secret-XXXXXX", NULL);
        g_autofree char *path = g_build_filename(dir, "sealed", NULL);
        g_assert_true(g_file_set_contents(path, (const char *)data, len, NULL));
        g_autoptr(QCryptoSecret) fromraw = secret_ok(NULL, path, QCRYPTO_SECRET_FORMAT_RAW,
                                                     master, iv64);
        assert_utf8(fromraw, plain);

        /* Truncated ciphertext. */
        g_assert_true(g_file_set_contents(path, (const char *)data, len - 1, NULL));
        g_autofree char *message = g_strdup_printf(
            "Length %zu must be a multiple of block size 16", len - 1);
        assert_secret_fails(NULL, path, QCRYPTO_SECRET_FORMAT_RAW, master, iv64, message);
        g_unlink(path);
        g_rmdir(dir);
    }

    /* QEMU's shortkey, missingiv, shortiv and badiv cases. */
    g_autoptr(QCryptoSecret) short_key = secret_ok("MTIzNDU2", NULL, QCRYPTO_SECRET_FORMAT_BASE64,
                                                   NULL, NULL);
    assert_secret_fails("AAAA", NULL, QCRYPTO_SECRET_FORMAT_BASE64, short_key, iv64,
                        "Key should be 32 bytes in length");
    assert_secret_fails("AAAA", NULL, QCRYPTO_SECRET_FORMAT_BASE64, master, NULL,
                        "IV is required to decrypt secret");
    assert_secret_fails("AAAA", NULL, QCRYPTO_SECRET_FORMAT_BASE64, master, "MTIzNDU2",
                        "IV should be 16 bytes in length not 6");
    assert_secret_fails("AAAA", NULL, QCRYPTO_SECRET_FORMAT_BASE64, master, "%%%",
                        "Base64 data contains invalid characters");
}

/* keyctl(KEYCTL_SETPERM) bits (keyutils.h, not linux/keyctl.h). */
#define KEY_POS_VIEW 0x01000000
#define KEY_USR_VIEW 0x00010000

/* A key of PAYLOAD in this process's keyring, as keyctl(1) or libvirt would add it. */
static int32_t add_key(const char *payload)
{
    /* A description of its own, or the kernel updates the last key added. */
    static int count;
    g_autofree char *description = g_strdup_printf("qio-test-%d", count++);
    long serial = syscall(SYS_add_key, "user", description, payload, strlen(payload),
                          KEY_SPEC_PROCESS_KEYRING);
    g_assert_cmpint(serial, >, 0);
    return (int32_t)serial;
}

static void assert_keyring_fails(int32_t serial, const char *reason)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *message = reason
        ? g_strdup_printf("Unable to read serial key %08x: %s", serial, reason)
        : g_strdup("'serial' should not be equal to 0");
    g_assert_null(qcrypto_secret_keyring_new(serial, QCRYPTO_SECRET_FORMAT_RAW, NULL, NULL,
                                             &error));
    g_assert_nonnull(error);
    g_assert_cmpstr(error->message, ==, message);
}

/* QEMU's secret_keyring cases: good, base64 and encrypted keys; a bad serial, a revoked,
 * an expired and an unreadable key, with QEMU's messages. */
static void test_keyring(void)
{
    g_autoptr(GError) error = NULL;
    int32_t good = add_key("123456");
    g_autoptr(QCryptoSecret) raw = qcrypto_secret_keyring_new(good, QCRYPTO_SECRET_FORMAT_RAW,
                                                              NULL, NULL, &error);
    g_assert_no_error(error);
    assert_utf8(raw, "123456");
    g_autoptr(QCryptoSecret) b64 = qcrypto_secret_keyring_new(add_key("MTIzNDU2"),
                                                              QCRYPTO_SECRET_FORMAT_BASE64, NULL,
                                                              NULL, &error);
    g_assert_no_error(error);
    assert_utf8(b64, "123456");

    guint8 key[32], iv[16];
    memset(key, 0x1d, sizeof(key));
    memset(iv, 0x0f, sizeof(iv));
    g_autofree char *key64 = g_base64_encode(key, sizeof(key));
    g_autofree char *iv64 = g_base64_encode(iv, sizeof(iv));
    g_autoptr(QCryptoSecret) master = secret_ok(key64, NULL, QCRYPTO_SECRET_FORMAT_BASE64, NULL,
                                                NULL);
    g_autoptr(GBytes) sealed = openssl_seal("keyring secret", key, iv);
    gsize len;
    const guint8 *data = g_bytes_get_data(sealed, &len);
    g_autofree char *sealed64 = g_base64_encode(data, len);
    g_autoptr(QCryptoSecret) decrypted = qcrypto_secret_keyring_new(
        add_key(sealed64), QCRYPTO_SECRET_FORMAT_BASE64, master, iv64, &error);
    g_assert_no_error(error);
    assert_utf8(decrypted, "keyring secret");

    assert_keyring_fails(0, NULL);
    int32_t revoked = add_key("revoked");
    g_assert_cmpint(syscall(SYS_keyctl, KEYCTL_REVOKE, revoked), ==, 0);
    assert_keyring_fails(revoked, g_strerror(EKEYREVOKED));
    int32_t unreadable = add_key("unreadable");
    g_assert_cmpint(syscall(SYS_keyctl, KEYCTL_SETPERM, unreadable, KEY_POS_VIEW | KEY_USR_VIEW),
                    ==, 0);
    assert_keyring_fails(unreadable, g_strerror(EACCES));
    int32_t expired = add_key("expired");
    g_assert_cmpint(syscall(SYS_keyctl, KEYCTL_SET_TIMEOUT, expired, 1), ==, 0);
    g_usleep(1100 * 1000);
    assert_keyring_fails(expired, g_strerror(EKEYEXPIRED));
    /* A serial nobody allocated (the kernel picks random 31-bit ones). */
    assert_keyring_fails(0x7ffffffe, g_strerror(ENOKEY));
}

static void test_sharing_and_misuse(void)
{
    QCryptoSecret *secret = secret_ok("s", NULL, QCRYPTO_SECRET_FORMAT_RAW, NULL, NULL);
    g_assert_true(qcrypto_secret_ref(secret) == secret);
    qcrypto_secret_unref(secret);
    assert_utf8(secret, "s");
    qcrypto_secret_unref(secret);
    qcrypto_secret_unref(NULL);

    qio_test_expect_critical("secret != NULL");
    g_assert_null(qcrypto_secret_get_base64(NULL, NULL));
    g_test_assert_expected_messages();
    qio_test_expect_critical("secret != NULL");
    g_assert_null(qcrypto_secret_ref(NULL));
    g_test_assert_expected_messages();
    g_autoptr(QCryptoSecret) other = secret_ok("s", NULL, QCRYPTO_SECRET_FORMAT_RAW, NULL, NULL);
    qio_test_expect_critical("data != NULL && datalen != NULL");
    g_assert_cmpint(qcrypto_secret_get_bytes(other, NULL, NULL, NULL), ==, -1);
    g_test_assert_expected_messages();
    qio_test_expect_critical("keysecret is a valid QCryptoSecret");
    g_assert_null(qcrypto_secret_new("x", NULL, QCRYPTO_SECRET_FORMAT_RAW,
                                     (QCryptoSecret *)"not a secret handle", "AAAA", NULL));
    g_test_assert_expected_messages();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/secret/direct-and-base64", test_direct_and_base64);
    g_test_add_func("/crypto/secret/indirect", test_indirect);
    g_test_add_func("/crypto/secret/qemu-base64", test_qemu_base64);
    g_test_add_func("/crypto/secret/utf8-with-nul", test_utf8_with_nul);
    g_test_add_func("/crypto/secret/encrypted", test_encrypted);
    g_test_add_func("/crypto/secret/keyring", test_keyring);
    g_test_add_func("/crypto/secret/sharing-and-misuse", test_sharing_and_misuse);
    return g_test_run();
}
