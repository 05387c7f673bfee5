/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The QCryptoBlock API through <qio.h>: QEMU's test-crypto-block.c (qcow and LUKS round
 * trips with and without the secret, NO_IO, the 23 corrupted headers), then what QEMU's
 * unit tests leave to its iotests: amendment, detached headers, the description,
 * payload offsets, callback errors, threads, and misuse. */

#include "qio-test.h"

#include <string.h>

/* A header in memory, as QEMU's test keeps it: room made once by init, reads and
 * writes inside it. */
typedef struct {
    guint8 *data;
    size_t capacity;
    /* When set, the read callback fails with G_FILE_ERROR_NOENT. */
    gboolean fail_reads;
} Header;

static int header_init(QCryptoBlock *block, size_t headerlen, void *opaque, GError **errp)
{
    Header *header = opaque;

    (void)errp;
    g_assert_null(block);
    g_assert_cmpuint(header->capacity, ==, 0);
    header->data = g_malloc0(headerlen);
    header->capacity = headerlen;
    return 0;
}

static int header_write(QCryptoBlock *block, size_t offset, const uint8_t *buf,
                        size_t buflen, void *opaque, GError **errp)
{
    Header *header = opaque;

    (void)block;
    (void)errp;
    g_assert_cmpuint(offset + buflen, <=, header->capacity);
    memcpy(header->data + offset, buf, buflen);
    return 0;
}

static int header_read(QCryptoBlock *block, size_t offset, uint8_t *buf, size_t buflen,
                       void *opaque, GError **errp)
{
    Header *header = opaque;

    (void)block;
    if (header->fail_reads) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NOENT, "no header at %zu", offset);
        return -1;
    }
    g_assert_cmpuint(offset + buflen, <=, header->capacity);
    memcpy(buf, header->data + offset, buflen);
    return 0;
}

static void header_clear(Header *header)
{
    g_clear_pointer(&header->data, g_free);
    header->capacity = 0;
}

static QCryptoSecret *test_secret(const char *text)
{
    GError *err = NULL;
    QCryptoSecret *secret = qcrypto_secret_new(text, NULL, QCRYPTO_SECRET_FORMAT_RAW,
                                               NULL, NULL, &err);
    g_assert_no_error(err);
    return secret;
}

static QCryptoBlockOpenOptions open_options(QCryptoBlockFormat format,
                                            QCryptoSecret *secret)
{
    QCryptoBlockOpenOptions options = { .format = format };

    if (format == QCRYPTO_BLOCK_FORMAT_QCOW) {
        options.u.qcow.key_secret = secret;
    } else {
        options.u.luks.key_secret = secret;
    }
    return options;
}

static QCryptoBlock *open_block(Header *header, QCryptoBlockFormat format,
                                QCryptoSecret *secret, unsigned flags, GError **errp)
{
    QCryptoBlockOpenOptions options = open_options(format, secret);

    return qcrypto_block_open(&options, NULL, header_read, header, flags, errp);
}

/* Fast LUKS options: key derivation calibrated to 10 ms instead of 2000, so the test
 * spends its time on checks rather than PBKDF2. */
static QCryptoBlockCreateOptions luks_fast(QCryptoSecret *secret)
{
    QCryptoBlockCreateOptions options = { .format = QCRYPTO_BLOCK_FORMAT_LUKS };

    options.u.luks.key_secret = secret;
    options.u.luks.has_iter_time = true;
    options.u.luks.iter_time = 10;
    return options;
}

static QCryptoBlock *create_block(Header *header, const QCryptoBlockCreateOptions *options,
                                  unsigned flags)
{
    GError *err = NULL;
    QCryptoBlock *block = qcrypto_block_create(options, NULL, header_init, header_write,
                                               header, flags, &err);
    g_assert_no_error(err);
    g_assert_nonnull(block);
    return block;
}

/* A copy of one fast LUKS header with passphrase "123456", made once: the tests that
 * only read a header share it, as creating one costs two PBKDF2 calibrations. */
static Header fast_header_copy(void)
{
    static Header template;

    if (!template.data) {
        QCryptoSecret *secret = test_secret("123456");
        QCryptoBlockCreateOptions options = luks_fast(secret);
        qcrypto_block_free(create_block(&template, &options, 0));
        qcrypto_secret_unref(secret);
    }
    return (Header){ g_memdup2(template.data, template.capacity), template.capacity, FALSE };
}

/* One row of QEMU's test_data table. */
typedef struct {
    const char *path;
    QCryptoBlockCreateOptions options;
    gboolean expect_header;
    QCryptoCipherAlgo cipher_alg;
    QCryptoCipherMode cipher_mode;
    QCryptoHashAlgo hash_alg;
    QCryptoIVGenAlgo ivgen_alg;
    QCryptoHashAlgo ivgen_hash;
} BlockCase;

/* QEMU's test_block_assert_setup. */
static void assert_setup(const BlockCase *c, QCryptoBlock *block)
{
    QCryptoCipher *cipher = qcrypto_block_get_cipher(block);
    QCryptoIVGen *ivgen = qcrypto_block_get_ivgen(block);

    g_assert_nonnull(cipher);
    g_assert_nonnull(ivgen);
    g_assert_cmpint(qcrypto_cipher_get_algo(cipher), ==, c->cipher_alg);
    g_assert_cmpint(qcrypto_cipher_get_mode(cipher), ==, c->cipher_mode);
    g_assert_cmpint(qcrypto_block_get_kdf_hash(block), ==, c->hash_alg);
    g_assert_cmpint(qcrypto_ivgen_get_algorithm(ivgen), ==, c->ivgen_alg);
    g_assert_cmpint(qcrypto_ivgen_get_hash(ivgen), ==, c->ivgen_hash);
}

/* Sectors encrypted by one block decrypt through another opened on the same header. */
static void assert_round_trip(QCryptoBlock *a, QCryptoBlock *b)
{
    GError *err = NULL;
    size_t len = 4 * qcrypto_block_get_sector_size(a);
    g_autofree guint8 *plain = qio_test_pattern(len, 7);
    g_autofree guint8 *data = g_memdup2(plain, len);

    g_assert_cmpint(qcrypto_block_encrypt(a, 8192, data, len, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_true(memcmp(data, plain, len) != 0);
    g_assert_cmpint(qcrypto_block_decrypt(b, 8192, data, len, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpmem(data, len, plain, len);
}

/* QEMU's test_block: create, then without the secret (refused; NO_IO opens without
 * cipher), then with it. */
static void test_block(gconstpointer opaque)
{
    const BlockCase *c = opaque;
    GError *err = NULL;
    Header header = { 0 };
    QCryptoSecret *secret = test_secret("123456");
    QCryptoBlockCreateOptions options = c->options;

    if (options.format == QCRYPTO_BLOCK_FORMAT_QCOW) {
        options.u.qcow.key_secret = secret;
    } else {
        options.u.luks.key_secret = secret;
    }
    g_autoptr(QCryptoBlock) created = create_block(&header, &options, 0);
    g_assert_cmpint(header.capacity > 0, ==, c->expect_header);
    assert_setup(c, created);

    g_assert_null(open_block(&header, options.format, NULL, 0, &err));
    qio_test_assert_error(err, QIO_ERROR_INVALID_ARGUMENT,
                          "Parameter 'key-secret' is required for cipher");

    g_autoptr(QCryptoBlock) blind = open_block(&header, options.format, NULL,
                                               QCRYPTO_BLOCK_OPEN_NO_IO, &err);
    g_assert_no_error(err);
    g_assert_null(qcrypto_block_get_cipher(blind));
    g_assert_null(qcrypto_block_get_ivgen(blind));
    g_assert_cmpuint(qcrypto_block_get_payload_offset(blind), ==,
                     qcrypto_block_get_payload_offset(created));

    g_autoptr(QCryptoBlock) opened = open_block(&header, options.format, secret, 0, &err);
    g_assert_no_error(err);
    assert_setup(c, opened);
    assert_round_trip(created, opened);

    qcrypto_secret_unref(secret);
    header_clear(&header);
}

static BlockCase block_cases[] = {
    {
        .path = "/crypto/block/qcow",
        .options = { .format = QCRYPTO_BLOCK_FORMAT_QCOW },
        .expect_header = FALSE,
        .cipher_alg = QCRYPTO_CIPHER_ALGO_AES_128,
        .cipher_mode = QCRYPTO_CIPHER_MODE_CBC,
        .ivgen_alg = QCRYPTO_IV_GEN_ALGO_PLAIN64,
    },
    {
        /* QEMU's defaults throughout, 2000 ms of PBKDF2 included. */
        .path = "/crypto/block/luks/default",
        .options = { .format = QCRYPTO_BLOCK_FORMAT_LUKS },
        .expect_header = TRUE,
        .cipher_alg = QCRYPTO_CIPHER_ALGO_AES_256,
        .cipher_mode = QCRYPTO_CIPHER_MODE_XTS,
        .hash_alg = QCRYPTO_HASH_ALGO_SHA256,
        .ivgen_alg = QCRYPTO_IV_GEN_ALGO_PLAIN64,
    },
    {
        .path = "/crypto/block/luks/aes-256-cbc-plain64",
        .options = {
            .format = QCRYPTO_BLOCK_FORMAT_LUKS,
            .u.luks = {
                .has_cipher_alg = true, .cipher_alg = QCRYPTO_CIPHER_ALGO_AES_256,
                .has_cipher_mode = true, .cipher_mode = QCRYPTO_CIPHER_MODE_CBC,
                .has_ivgen_alg = true, .ivgen_alg = QCRYPTO_IV_GEN_ALGO_PLAIN64,
                .has_iter_time = true, .iter_time = 10,
            },
        },
        .expect_header = TRUE,
        .cipher_alg = QCRYPTO_CIPHER_ALGO_AES_256,
        .cipher_mode = QCRYPTO_CIPHER_MODE_CBC,
        .hash_alg = QCRYPTO_HASH_ALGO_SHA256,
        .ivgen_alg = QCRYPTO_IV_GEN_ALGO_PLAIN64,
    },
    {
        .path = "/crypto/block/luks/aes-256-cbc-essiv",
        .options = {
            .format = QCRYPTO_BLOCK_FORMAT_LUKS,
            .u.luks = {
                .has_cipher_alg = true, .cipher_alg = QCRYPTO_CIPHER_ALGO_AES_256,
                .has_cipher_mode = true, .cipher_mode = QCRYPTO_CIPHER_MODE_CBC,
                .has_ivgen_alg = true, .ivgen_alg = QCRYPTO_IV_GEN_ALGO_ESSIV,
                .has_ivgen_hash_alg = true, .ivgen_hash_alg = QCRYPTO_HASH_ALGO_SHA256,
                .has_hash_alg = true, .hash_alg = QCRYPTO_HASH_ALGO_SHA1,
                .has_iter_time = true, .iter_time = 10,
            },
        },
        .expect_header = TRUE,
        .cipher_alg = QCRYPTO_CIPHER_ALGO_AES_256,
        .cipher_mode = QCRYPTO_CIPHER_MODE_CBC,
        .hash_alg = QCRYPTO_HASH_ALGO_SHA1,
        .ivgen_alg = QCRYPTO_IV_GEN_ALGO_ESSIV,
        .ivgen_hash = QCRYPTO_HASH_ALGO_SHA256,
    },
};

/* The LUKS1 header's big-endian fields, by byte offset. */
enum {
    LUKS_CIPHER_NAME = 8,
    LUKS_CIPHER_MODE = 40,
    LUKS_HASH_SPEC = 72,
    LUKS_PAYLOAD_OFFSET = 104,
    LUKS_KEY_BYTES = 108,
    LUKS_MK_ITERATIONS = 164,
    LUKS_SLOT0 = 208,
    LUKS_SLOT_LEN = 48,
    LUKS_SLOT_ITERATIONS = 4,
    LUKS_SLOT_KEY_OFFSET = 40,
    LUKS_SLOT_STRIPES = 44,
};

static guint32 get_be32(const Header *header, size_t offset)
{
    guint32 value;
    memcpy(&value, header->data + offset, 4);
    return GUINT32_FROM_BE(value);
}

static void set_be32(Header *header, size_t offset, guint32 value)
{
    value = GUINT32_TO_BE(value);
    memcpy(header->data + offset, &value, 4);
}

static size_t slot_field(int slot, size_t field)
{
    return LUKS_SLOT0 + slot * LUKS_SLOT_LEN + field;
}

/* A C string copied with its NUL over a header field, as QEMU's test does. */
static void set_text(Header *header, size_t offset, const char *text)
{
    memcpy(header->data + offset, text, strlen(text) + 1);
}

/* Fills a 32-byte text field after its first three bytes with spaces: no NUL left. */
static void unterminate(Header *header, size_t offset)
{
    memset(header->data + offset + 3, ' ', 32 - 3);
}

typedef struct {
    const char *path;
    void (*mutate)(Header *header);
    const char *message;
} BadHeaderCase;

static void bad_cipher_name_nul(Header *h) { unterminate(h, LUKS_CIPHER_NAME); }
static void bad_cipher_mode_nul(Header *h) { unterminate(h, LUKS_CIPHER_MODE); }
static void bad_hash_spec_nul(Header *h) { unterminate(h, LUKS_HASH_SPEC); }
static void bad_cipher_name_empty(Header *h) { set_text(h, LUKS_CIPHER_NAME, ""); }
static void bad_cipher_name_unknown(Header *h) { set_text(h, LUKS_CIPHER_NAME, "aess"); }
static void bad_xts_size(Header *h) { set_be32(h, LUKS_KEY_BYTES, 33); }
static void bad_cbc_size(Header *h)
{
    set_be32(h, LUKS_KEY_BYTES, 33);
    set_text(h, LUKS_CIPHER_MODE, "cbc-essiv");
}
static void bad_mode_empty(Header *h) { set_text(h, LUKS_CIPHER_MODE, ""); }
static void bad_mode_unknown(Header *h) { set_text(h, LUKS_CIPHER_MODE, "xfs"); }
static void bad_ivgen_separator(Header *h) { set_text(h, LUKS_CIPHER_MODE, "xts:plain64"); }
static void bad_ivgen_empty(Header *h) { set_text(h, LUKS_CIPHER_MODE, "xts-"); }
static void bad_ivgen_unknown(Header *h) { set_text(h, LUKS_CIPHER_MODE, "xts-plain65"); }
static void bad_ivgen_hash_empty(Header *h) { set_text(h, LUKS_CIPHER_MODE, "xts-plain65:"); }
static void bad_ivgen_hash_unknown(Header *h)
{
    set_text(h, LUKS_CIPHER_MODE, "xts-plain65:sha257");
}
static void bad_hash_empty(Header *h) { set_text(h, LUKS_HASH_SPEC, ""); }
static void bad_hash_unknown(Header *h) { set_text(h, LUKS_HASH_SPEC, "sha2566"); }
static void bad_stripes(Header *h) { set_be32(h, slot_field(0, LUKS_SLOT_STRIPES), 3999); }
static void bad_key_overlap_header(Header *h)
{
    set_be32(h, slot_field(0, LUKS_SLOT_KEY_OFFSET), 2);
}
static void bad_key_overlap_key(Header *h)
{
    set_be32(h, slot_field(0, LUKS_SLOT_KEY_OFFSET),
             get_be32(h, slot_field(1, LUKS_SLOT_KEY_OFFSET)));
}
static void bad_key_overlap_payload(Header *h)
{
    set_be32(h, slot_field(0, LUKS_SLOT_KEY_OFFSET), get_be32(h, LUKS_PAYLOAD_OFFSET) + 42);
}
static void bad_payload_overlap_header(Header *h) { set_be32(h, LUKS_PAYLOAD_OFFSET, 2); }
static void bad_iterations(Header *h) { set_be32(h, LUKS_MK_ITERATIONS, 0); }
static void bad_key_iterations(Header *h)
{
    set_be32(h, slot_field(0, LUKS_SLOT_ITERATIONS), 0);
}

static const BadHeaderCase bad_header_cases[] = {
    { "cipher-name-nul-term", bad_cipher_name_nul,
      "LUKS header cipher name is not NUL terminated" },
    { "cipher-mode-nul-term", bad_cipher_mode_nul,
      "LUKS header cipher mode is not NUL terminated" },
    { "hash-spec-nul-term", bad_hash_spec_nul, "LUKS header hash spec is not NUL terminated" },
    { "cipher-name-empty", bad_cipher_name_empty,
      "Algorithm '' with key size 32 bytes not supported" },
    { "cipher-name-unknown", bad_cipher_name_unknown,
      "Algorithm 'aess' with key size 32 bytes not supported" },
    { "cipher-xts-size", bad_xts_size, "XTS cipher key length should be a multiple of 2" },
    { "cipher-cbc-size", bad_cbc_size, "Algorithm 'aes' with key size 33 bytes not supported" },
    { "cipher-mode-empty", bad_mode_empty, "Unexpected cipher mode string format ''" },
    { "cipher-mode-unknown", bad_mode_unknown, "Unexpected cipher mode string format 'xfs'" },
    { "ivgen-separator", bad_ivgen_separator,
      "Unexpected cipher mode string format 'xts:plain64'" },
    { "ivgen-name-empty", bad_ivgen_empty, "IV generator '' not supported" },
    { "ivgen-name-unknown", bad_ivgen_unknown, "IV generator 'plain65' not supported" },
    { "ivgen-hash-empty", bad_ivgen_hash_empty, "Hash algorithm '' not supported" },
    { "ivgen-hash-unknown", bad_ivgen_hash_unknown, "Hash algorithm 'sha257' not supported" },
    { "hash-spec-empty", bad_hash_empty, "Hash algorithm '' not supported" },
    { "hash-spec-unknown", bad_hash_unknown, "Hash algorithm 'sha2566' not supported" },
    { "stripes", bad_stripes, "Keyslot 0 is corrupted (stripes 3999 != 4000)" },
    { "key-overlap-header", bad_key_overlap_header,
      "Keyslot 0 is overlapping with the LUKS header" },
    { "key-overlap-key", bad_key_overlap_key, "Keyslots 0 and 1 are overlapping in the header" },
    { "key-overlap-payload", bad_key_overlap_payload,
      "Keyslot 0 is overlapping with the encrypted payload" },
    { "payload-overlap-header", bad_payload_overlap_header,
      "LUKS payload is overlapping with the header" },
    { "iterations", bad_iterations, "LUKS key iteration count is zero" },
    { "key-iterations", bad_key_iterations, "Keyslot 0 iteration count is zero" },
};

/* QEMU's test_luks_bad_header: a default volume's header changed one way, refused with
 * QEMU's message. */
static void test_bad_header(gconstpointer opaque)
{
    const BadHeaderCase *c = opaque;
    GError *err = NULL;
    Header header = fast_header_copy();
    QCryptoSecret *secret = test_secret("123456");

    c->mutate(&header);
    g_assert_null(open_block(&header, QCRYPTO_BLOCK_FORMAT_LUKS, secret, 0, &err));
    g_assert_nonnull(err);
    g_assert_cmpstr(err->message, ==, c->message);
    g_clear_error(&err);

    qcrypto_secret_unref(secret);
    header_clear(&header);
}

static void test_wrong_passphrase(void)
{
    GError *err = NULL;
    Header header = fast_header_copy();
    g_autoptr(QCryptoSecret) wrong = test_secret("654321");

    g_assert_null(open_block(&header, QCRYPTO_BLOCK_FORMAT_LUKS, wrong, 0, &err));
    qio_test_assert_error(err, QIO_ERROR_INVALID_ARGUMENT,
                          "Invalid password, cannot unlock any keyslot");
    header_clear(&header);
}

typedef struct {
    QCryptoCipherAlgo cipher_alg;
    QCryptoCipherMode cipher_mode;
    QCryptoIVGenAlgo ivgen_alg;
    QCryptoHashAlgo ivgen_hash_alg;
    const char *message;
} RefusedCase;

/* Combinations QEMU's LUKS refuses, with its messages, from the payload offset
 * calculation and from creation alike. */
static void test_refused(void)
{
    static const RefusedCase cases[] = {
        { QCRYPTO_CIPHER_ALGO_DES, QCRYPTO_CIPHER_MODE_CBC, QCRYPTO_IV_GEN_ALGO_PLAIN64, 0,
          "Algorithm 'des' not supported" },
        { QCRYPTO_CIPHER_ALGO_3DES, QCRYPTO_CIPHER_MODE_CBC, QCRYPTO_IV_GEN_ALGO_PLAIN64, 0,
          "Algorithm '3des' not supported" },
        { QCRYPTO_CIPHER_ALGO_CAST5_128, QCRYPTO_CIPHER_MODE_CBC, QCRYPTO_IV_GEN_ALGO_ESSIV,
          QCRYPTO_HASH_ALGO_SHA256, "Cipher cast5-128 not supported with essiv" },
        { QCRYPTO_CIPHER_ALGO_AES_256, QCRYPTO_CIPHER_MODE_CBC, QCRYPTO_IV_GEN_ALGO_ESSIV,
          QCRYPTO_HASH_ALGO_SHA1, "No AES cipher with key size 20 available" },
        { QCRYPTO_CIPHER_ALGO_TWOFISH_128, QCRYPTO_CIPHER_MODE_CBC, QCRYPTO_IV_GEN_ALGO_ESSIV,
          QCRYPTO_HASH_ALGO_SHA512, "No Twofish cipher with key size 64 available" },
    };
    g_autoptr(QCryptoSecret) secret = test_secret("123456");

    for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
        const RefusedCase *c = &cases[i];
        QCryptoBlockCreateOptions options = luks_fast(secret);
        QCryptoBlockCreateOptionsLUKS *luks = &options.u.luks;
        GError *err = NULL;
        Header header = { 0 };
        size_t len;

        luks->has_cipher_alg = luks->has_cipher_mode = luks->has_ivgen_alg = true;
        luks->cipher_alg = c->cipher_alg;
        luks->cipher_mode = c->cipher_mode;
        luks->ivgen_alg = c->ivgen_alg;
        luks->has_ivgen_hash_alg = c->ivgen_hash_alg != 0;
        luks->ivgen_hash_alg = c->ivgen_hash_alg;
        g_assert_false(qcrypto_block_calculate_payload_offset(&options, NULL, &len, &err));
        g_assert_nonnull(err);
        g_assert_cmpstr(err->message, ==, c->message);
        g_clear_error(&err);
        g_assert_null(qcrypto_block_create(&options, NULL, header_init, header_write, &header,
                                           0, &err));
        g_assert_nonnull(err);
        g_assert_cmpstr(err->message, ==, c->message);
        g_clear_error(&err);
        g_assert_cmpuint(header.capacity, ==, 0);
    }
}

/* Headers that are not LUKS1 or LUKS2 get QEMU's messages. */
static void test_not_luks(void)
{
    GError *err = NULL;
    Header header = fast_header_copy();
    g_autoptr(QCryptoSecret) secret = test_secret("123456");

    header.data[0] = 'X';
    g_assert_null(open_block(&header, QCRYPTO_BLOCK_FORMAT_LUKS, secret, 0, &err));
    qio_test_assert_error(err, QIO_ERROR_INVALID_ARGUMENT, "Volume is not in LUKS format");
    header.data[0] = 'L';
    header.data[7] = 3;
    g_assert_null(open_block(&header, QCRYPTO_BLOCK_FORMAT_LUKS, secret, 0, &err));
    qio_test_assert_error(err, QIO_ERROR_INVALID_ARGUMENT, "LUKS version 3 is not supported");
    header_clear(&header);
}

/* The LUKS2 detached header cryptsetup 2.6 made (tests/data/make-luks2-detached.sh):
 * volume key 00..0f, aes-128-cbc-essiv:sha256 in 4096-byte sectors, key slots 0
 * argon2i, 1 argon2id, 2 pbkdf2-sha1. QEMU refuses LUKS2; qio opens it. */
static void test_luks2(void)
{
    static const char *const passphrases[] = { "argon2i-pass", "argon2id-pass", "pbkdf2-pass" };
    g_autofree char *file = g_build_filename(QIO_TESTDATA_DIR, "luks2-detached.img", NULL);
    GError *err = NULL;
    Header header = { 0 };
    gsize len;

    g_assert_true(g_file_get_contents(file, (char **)&header.data, &len, &err));
    g_assert_no_error(err);
    header.capacity = len;
    g_assert_true(qcrypto_block_has_format(QCRYPTO_BLOCK_FORMAT_LUKS, header.data, len));

    for (guint i = 0; i < G_N_ELEMENTS(passphrases); i++) {
        g_autoptr(QCryptoSecret) secret = test_secret(passphrases[i]);
        g_autoptr(QCryptoBlock) block = open_block(&header, QCRYPTO_BLOCK_FORMAT_LUKS, secret,
                                                   QCRYPTO_BLOCK_OPEN_DETACHED, &err);
        g_assert_no_error(err);
        g_assert_cmpuint(qcrypto_block_get_sector_size(block), ==, 4096);
        g_assert_cmpint(qcrypto_cipher_get_algo(qcrypto_block_get_cipher(block)), ==,
                        QCRYPTO_CIPHER_ALGO_AES_128);
        g_assert_cmpint(qcrypto_ivgen_get_algorithm(qcrypto_block_get_ivgen(block)), ==,
                        QCRYPTO_IV_GEN_ALGO_ESSIV);

        /* Whole 4096-byte sectors round-trip; a 512-byte one is a misuse. (The Rust
         * tests check LUKS2 ciphertext against pyca/cryptography's.) */
        guint8 data[4096] = { 0 }, zeros[4096] = { 0 };
        g_assert_cmpint(qcrypto_block_encrypt(block, 4096, data, sizeof(data), &err), ==, 0);
        g_assert_true(memcmp(data, zeros, sizeof(data)) != 0);
        g_assert_cmpint(qcrypto_block_decrypt(block, 4096, data, sizeof(data), &err), ==, 0);
        g_assert_cmpmem(data, sizeof(data), zeros, sizeof(zeros));
        qio_test_expect_critical("offset and len are multiples of the sector size");
        g_assert_cmpint(qcrypto_block_decrypt(block, 512, data, 512, &err), ==, -1);
        g_test_assert_expected_messages();

        g_autoptr(QCryptoBlockInfo) info = qcrypto_block_get_info(block, &err);
        g_assert_no_error(err);
        g_assert_cmpint(info->format, ==, QCRYPTO_BLOCK_FORMAT_LUKS);
        g_assert_cmpint(info->u.luks.cipher_mode, ==, QCRYPTO_CIPHER_MODE_CBC);
        g_assert_true(info->u.luks.detached_header);
        unsigned active = 0;
        for (QCryptoBlockInfoLUKSSlotList *s = info->u.luks.slots; s; s = s->next) {
            active += s->value->active;
        }
        g_assert_cmpuint(active, ==, 3);
        QCryptoBlockAmendOptions amend = { .format = QCRYPTO_BLOCK_FORMAT_LUKS };
        amend.u.luks.state = QCRYPTO_BLOCK_LUKS_KEYSLOT_STATE_INACTIVE;
        amend.u.luks.has_keyslot = true;
        g_assert_cmpint(qcrypto_block_amend_options(block, header_read, header_write, &header,
                                                    &amend, false, &err), ==, -1);
        qio_test_assert_error(err, QIO_ERROR_NOT_SUPPORTED,
                              "Amending LUKS2 volumes is not supported");
    }
    g_autoptr(QCryptoSecret) wrong = test_secret("wrong");
    g_assert_null(open_block(&header, QCRYPTO_BLOCK_FORMAT_LUKS, wrong,
                             QCRYPTO_BLOCK_OPEN_DETACHED, &err));
    qio_test_assert_error(err, QIO_ERROR_INVALID_ARGUMENT,
                          "Invalid password, cannot unlock any keyslot");
    header_clear(&header);
}

static void test_has_format(void)
{
    Header header = fast_header_copy();
    guint8 zeros[592] = { 0 };

    g_assert_true(qcrypto_block_has_format(QCRYPTO_BLOCK_FORMAT_LUKS, header.data, 592));
    g_assert_false(qcrypto_block_has_format(QCRYPTO_BLOCK_FORMAT_LUKS, header.data, 4));
    g_assert_false(qcrypto_block_has_format(QCRYPTO_BLOCK_FORMAT_QCOW, header.data, 592));
    g_assert_false(qcrypto_block_has_format(QCRYPTO_BLOCK_FORMAT_LUKS, zeros, sizeof(zeros)));
    g_assert_false(qcrypto_block_has_format((QCryptoBlockFormat)7, header.data, 592));
    header_clear(&header);
}

/* The description QEMU's get_info gives, slot list and all. */
static void test_info(void)
{
    GError *err = NULL;
    Header header = { 0 };
    g_autoptr(QCryptoSecret) secret = test_secret("123456");
    QCryptoBlockCreateOptions options = luks_fast(secret);
    g_autoptr(QCryptoBlock) block = create_block(&header, &options, 0);
    g_autoptr(QCryptoBlockInfo) info = qcrypto_block_get_info(block, &err);
    const QCryptoBlockInfoLUKS *luks = &info->u.luks;
    unsigned n = 0;

    g_assert_no_error(err);
    g_assert_cmpint(info->format, ==, QCRYPTO_BLOCK_FORMAT_LUKS);
    g_assert_cmpint(luks->cipher_alg, ==, QCRYPTO_CIPHER_ALGO_AES_256);
    g_assert_cmpint(luks->cipher_mode, ==, QCRYPTO_CIPHER_MODE_XTS);
    g_assert_cmpint(luks->ivgen_alg, ==, QCRYPTO_IV_GEN_ALGO_PLAIN64);
    g_assert_false(luks->has_ivgen_hash_alg);
    g_assert_cmpint(luks->hash_alg, ==, QCRYPTO_HASH_ALGO_SHA256);
    g_assert_false(luks->detached_header);
    g_assert_cmpint(luks->payload_offset, ==, qcrypto_block_get_payload_offset(block));
    g_assert_cmpint(luks->payload_offset, ==, header.capacity);
    g_assert_cmpint(luks->master_key_iters, ==, get_be32(&header, LUKS_MK_ITERATIONS));
    g_assert_cmpmem(luks->uuid, 36, header.data + 168, 36);
    for (QCryptoBlockInfoLUKSSlotList *s = luks->slots; s; s = s->next, n++) {
        const QCryptoBlockInfoLUKSSlot *slot = s->value;
        g_assert_cmpint(slot->active, ==, n == 0);
        g_assert_cmpint(slot->has_iters, ==, n == 0);
        g_assert_cmpint(slot->has_stripes, ==, n == 0);
        if (n == 0) {
            g_assert_cmpint(slot->iters, ==, get_be32(&header, slot_field(0, 4)));
            g_assert_cmpint(slot->stripes, ==, 4000);
        }
        g_assert_cmpint(slot->key_offset, ==,
                        512 * (gint64)get_be32(&header, slot_field(n, LUKS_SLOT_KEY_OFFSET)));
    }
    g_assert_cmpuint(n, ==, 8);

    /* qcow describes its format only. */
    QCryptoBlockCreateOptions qcow = { .format = QCRYPTO_BLOCK_FORMAT_QCOW };
    qcow.u.qcow.key_secret = secret;
    Header none = { 0 };
    g_autoptr(QCryptoBlock) old = create_block(&none, &qcow, 0);
    g_autoptr(QCryptoBlockInfo) old_info = qcrypto_block_get_info(old, &err);
    g_assert_no_error(err);
    g_assert_cmpint(old_info->format, ==, QCRYPTO_BLOCK_FORMAT_QCOW);
    g_assert_null(old_info->u.luks.slots);
    g_assert_null(old_info->u.luks.uuid);
    header_clear(&header);
}

/* The payload offset of a creation, known without creating. */
static void test_payload_offset(void)
{
    GError *err = NULL;
    Header header = { 0 };
    g_autoptr(QCryptoSecret) secret = test_secret("123456");
    QCryptoBlockCreateOptions options = luks_fast(secret);
    size_t len = 1;

    options.u.luks.has_cipher_mode = true;
    options.u.luks.cipher_mode = QCRYPTO_CIPHER_MODE_CBC;
    g_assert_true(qcrypto_block_calculate_payload_offset(&options, NULL, &len, &err));
    g_assert_no_error(err);
    g_autoptr(QCryptoBlock) block = create_block(&header, &options, 0);
    g_assert_cmpuint(len, ==, qcrypto_block_get_payload_offset(block));
    g_assert_cmpuint(len, ==, header.capacity);

    options.u.luks.key_secret = NULL;
    g_assert_false(qcrypto_block_calculate_payload_offset(&options, "encrypt.", &len, &err));
    qio_test_assert_error(err, QIO_ERROR_INVALID_ARGUMENT,
                          "Parameter 'encrypt.key-secret' is required for cipher");

    QCryptoBlockCreateOptions qcow = { .format = QCRYPTO_BLOCK_FORMAT_QCOW };
    qcow.u.qcow.key_secret = secret;
    g_assert_true(qcrypto_block_calculate_payload_offset(&qcow, NULL, &len, &err));
    g_assert_no_error(err);
    g_assert_cmpuint(len, ==, 0);
    header_clear(&header);
}

/* A detached header holds no payload: offset 0, and it opens only as detached. */
static void test_detached(void)
{
    GError *err = NULL;
    Header header = { 0 };
    g_autoptr(QCryptoSecret) secret = test_secret("123456");
    QCryptoBlockCreateOptions options = luks_fast(secret);
    g_autoptr(QCryptoBlock) created = create_block(&header, &options,
                                                   QCRYPTO_BLOCK_CREATE_DETACHED);

    g_assert_cmpuint(qcrypto_block_get_payload_offset(created), ==, 0);
    g_assert_cmpuint(get_be32(&header, LUKS_PAYLOAD_OFFSET), ==, 0);
    g_assert_null(open_block(&header, QCRYPTO_BLOCK_FORMAT_LUKS, secret, 0, &err));
    qio_test_assert_error(err, QIO_ERROR_INVALID_ARGUMENT,
                          "LUKS payload is overlapping with the header");
    g_autoptr(QCryptoBlock) opened = open_block(&header, QCRYPTO_BLOCK_FORMAT_LUKS, secret,
                                                QCRYPTO_BLOCK_OPEN_DETACHED, &err);
    g_assert_no_error(err);
    g_autoptr(QCryptoBlockInfo) info = qcrypto_block_get_info(opened, &err);
    g_assert_no_error(err);
    g_assert_true(info->u.luks.detached_header);
    g_assert_cmpint(info->u.luks.payload_offset, ==, 0);
    assert_round_trip(created, opened);
    header_clear(&header);
}

typedef struct {
    Header *header;
    QCryptoBlock *block;
} AmendTarget;

/* The callbacks get the block being amended. */
static int amend_read(QCryptoBlock *block, size_t offset, uint8_t *buf, size_t buflen,
                      void *opaque, GError **errp)
{
    AmendTarget *target = opaque;
    g_assert_true(block == target->block);
    return header_read(NULL, offset, buf, buflen, target->header, errp);
}

static int amend_write(QCryptoBlock *block, size_t offset, const uint8_t *buf,
                       size_t buflen, void *opaque, GError **errp)
{
    AmendTarget *target = opaque;
    g_assert_true(block == target->block);
    return header_write(NULL, offset, buf, buflen, target->header, errp);
}

static int amend(QCryptoBlock *block, Header *header, const QCryptoBlockAmendOptions *options,
                 bool force, GError **errp)
{
    AmendTarget target = { header, block };
    return qcrypto_block_amend_options(block, amend_read, amend_write, &target, options,
                                       force, errp);
}

/* Adding a passphrase to a free slot and erasing it again, with QEMU's refusals. */
static void test_amend(void)
{
    GError *err = NULL;
    Header header = { 0 };
    g_autoptr(QCryptoSecret) secret = test_secret("123456");
    g_autoptr(QCryptoSecret) added = test_secret("second passphrase");
    QCryptoBlockCreateOptions options = luks_fast(secret);
    g_autoptr(QCryptoBlock) block = create_block(&header, &options, 0);
    QCryptoBlockAmendOptions add = { .format = QCRYPTO_BLOCK_FORMAT_LUKS };
    QCryptoBlockAmendOptions erase = { .format = QCRYPTO_BLOCK_FORMAT_LUKS };

    add.u.luks.state = QCRYPTO_BLOCK_LUKS_KEYSLOT_STATE_ACTIVE;
    add.u.luks.new_secret = added;
    add.u.luks.has_iter_time = true;
    add.u.luks.iter_time = 10;
    g_assert_cmpint(amend(block, &header, &add, false, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(get_be32(&header, slot_field(1, 0)), ==, 0x00AC71F3);
    g_autoptr(QCryptoBlock) reopened = open_block(&header, QCRYPTO_BLOCK_FORMAT_LUKS, added,
                                                  0, &err);
    g_assert_no_error(err);
    assert_round_trip(block, reopened);

    add.u.luks.has_keyslot = true;
    add.u.luks.keyslot = 0;
    g_assert_cmpint(amend(block, &header, &add, false, &err), ==, -1);
    qio_test_assert_error(err, QIO_ERROR_INVALID_ARGUMENT,
                          "Refusing to overwrite active keyslot 0 - please erase it first");
    add.u.luks.keyslot = 8;
    g_assert_cmpint(amend(block, &header, &add, false, &err), ==, -1);
    qio_test_assert_error(err, QIO_ERROR_INVALID_ARGUMENT,
                          "Invalid keyslot 8 specified, must be between 0 and 7");

    erase.u.luks.state = QCRYPTO_BLOCK_LUKS_KEYSLOT_STATE_INACTIVE;
    erase.u.luks.old_secret = added;
    g_assert_cmpint(amend(block, &header, &erase, false, &err), ==, 0);
    g_assert_no_error(err);
    g_assert_cmpuint(get_be32(&header, slot_field(1, 0)), ==, 0x0000DEAD);
    g_assert_null(open_block(&header, QCRYPTO_BLOCK_FORMAT_LUKS, added, 0, &err));
    qio_test_assert_error(err, QIO_ERROR_INVALID_ARGUMENT,
                          "Invalid password, cannot unlock any keyslot");

    erase.u.luks.old_secret = secret;
    g_assert_cmpint(amend(block, &header, &erase, false, &err), ==, -1);
    qio_test_assert_error(err, QIO_ERROR_INVALID_ARGUMENT,
                          "All the active keyslots match the (old) password that was given "
                          "and erasing them will erase all the data in the image "
                          "irreversibly - refusing operation");

    /* qcow has nothing to amend; a format other than the block's is refused first. */
    QCryptoBlockCreateOptions qcow_options = { .format = QCRYPTO_BLOCK_FORMAT_QCOW };
    qcow_options.u.qcow.key_secret = secret;
    Header none = { 0 };
    g_autoptr(QCryptoBlock) qcow = create_block(&none, &qcow_options, 0);
    g_assert_cmpint(amend(qcow, &none, &add, false, &err), ==, -1);
    qio_test_assert_error(err, QIO_ERROR_INVALID_ARGUMENT, "Cannot amend encryption format");
    QCryptoBlockAmendOptions qcow_amend = { .format = QCRYPTO_BLOCK_FORMAT_QCOW };
    g_assert_cmpint(amend(qcow, &none, &qcow_amend, false, &err), ==, -1);
    qio_test_assert_error(err, QIO_ERROR_NOT_SUPPORTED,
                          "Crypto format qcow doesn't support format options amendment");
    header_clear(&header);
}

/* A callback's GError reaches the caller as the callback set it. */
static void test_callback_error(void)
{
    GError *err = NULL;
    Header header = fast_header_copy();
    g_autoptr(QCryptoSecret) secret = test_secret("123456");

    header.fail_reads = TRUE;
    g_assert_null(open_block(&header, QCRYPTO_BLOCK_FORMAT_LUKS, secret, 0, &err));
    g_assert_error(err, G_FILE_ERROR, G_FILE_ERROR_NOENT);
    g_assert_cmpstr(err->message, ==, "no header at 0");
    g_clear_error(&err);
    header_clear(&header);
}

typedef struct {
    QCryptoBlock *block;
    guint seed;
} Worker;

/* Encrypts and decrypts its own sectors many times. */
static gpointer worker_run(gpointer opaque)
{
    Worker *w = opaque;
    size_t len = 64 * 1024;
    g_autofree guint8 *plain = qio_test_pattern(len, w->seed);
    g_autofree guint8 *data = g_memdup2(plain, len);
    guint64 offset = (guint64)w->seed * len;

    for (int i = 0; i < 50; i++) {
        g_assert_cmpint(qcrypto_block_encrypt(w->block, offset, data, len, NULL), ==, 0);
        g_assert_cmpint(qcrypto_block_decrypt(w->block, offset, data, len, NULL), ==, 0);
    }
    g_assert_cmpmem(data, len, plain, len);
    return NULL;
}

/* One block, four threads encrypting at once: each gets a cipher of its own. */
static void test_threads(void)
{
    Header header = { 0 };
    g_autoptr(QCryptoSecret) secret = test_secret("123456");
    QCryptoBlockCreateOptions options = luks_fast(secret);
    g_autoptr(QCryptoBlock) block = create_block(&header, &options, 0);
    Worker workers[4];
    GThread *threads[4];

    for (guint i = 0; i < 4; i++) {
        workers[i] = (Worker){ block, i };
        threads[i] = g_thread_new("block", worker_run, &workers[i]);
    }
    for (guint i = 0; i < 4; i++) {
        g_thread_join(threads[i]);
    }
    header_clear(&header);
}

/* Programming errors: a critical and a safe return, never a crash. */
static void test_misuse(void)
{
    GError *err = NULL;
    Header header = { 0 };
    g_autoptr(QCryptoSecret) secret = test_secret("123456");
    QCryptoBlockCreateOptions options = luks_fast(secret);
    g_autoptr(QCryptoBlock) block = create_block(&header, &options, 0);
    guint8 buf[1024] = { 0 };
    QCryptoBlockOpenOptions open = open_options(QCRYPTO_BLOCK_FORMAT_LUKS, secret);
    size_t len;

    qio_test_expect_critical("offset and len are multiples of the sector size");
    g_assert_cmpint(qcrypto_block_encrypt(block, 100, buf, 512, &err), ==, -1);
    g_test_assert_expected_messages();
    qio_test_expect_critical("offset and len are multiples of the sector size");
    g_assert_cmpint(qcrypto_block_decrypt(block, 0, buf, 700, &err), ==, -1);
    g_test_assert_expected_messages();
    g_assert_no_error(err);

    g_autoptr(QCryptoBlock) blind = open_block(&header, QCRYPTO_BLOCK_FORMAT_LUKS, NULL,
                                               QCRYPTO_BLOCK_OPEN_NO_IO, &err);
    g_assert_no_error(err);
    g_assert_cmpint(qcrypto_block_get_kdf_hash(blind), ==, QCRYPTO_HASH_ALGO_MD5);
    qio_test_expect_critical("block was opened for I/O");
    g_assert_cmpint(qcrypto_block_encrypt(blind, 0, buf, 512, &err), ==, -1);
    g_test_assert_expected_messages();

    /* The cipher and IV generator are the block's to free. */
    qio_test_expect_critical("cipher is not owned by a QCryptoBlock");
    qcrypto_cipher_free(qcrypto_block_get_cipher(block));
    g_test_assert_expected_messages();
    qio_test_expect_critical("ivgen is not owned by a QCryptoBlock");
    qcrypto_ivgen_free(qcrypto_block_get_ivgen(block));
    g_test_assert_expected_messages();
    g_assert_nonnull(qcrypto_block_get_cipher(block));

    qio_test_expect_critical("options != NULL");
    g_assert_null(qcrypto_block_open(NULL, NULL, header_read, &header, 0, &err));
    g_test_assert_expected_messages();
    qio_test_expect_critical("readfunc != NULL");
    g_assert_null(qcrypto_block_open(&open, NULL, NULL, &header, 0, &err));
    g_test_assert_expected_messages();
    qio_test_expect_critical("flags are QCryptoBlock flags");
    g_assert_null(qcrypto_block_open(&open, NULL, header_read, &header, 1 << 5, &err));
    g_test_assert_expected_messages();
    qio_test_expect_critical("writefunc != NULL");
    g_assert_null(qcrypto_block_create(&options, NULL, header_init, NULL, &header, 0, &err));
    g_test_assert_expected_messages();
    qio_test_expect_critical("len != NULL");
    g_assert_false(qcrypto_block_calculate_payload_offset(&options, NULL, NULL, &err));
    g_test_assert_expected_messages();
    g_assert_no_error(err);

    /* Any other handle is not a block. */
    qio_test_expect_critical("block is a valid QCryptoBlock");
    g_assert_cmpuint(qcrypto_block_get_sector_size((QCryptoBlock *)secret), ==, 0);
    g_test_assert_expected_messages();
    qio_test_expect_critical("block is a valid QCryptoBlock");
    g_assert_null(qcrypto_block_get_info((QCryptoBlock *)secret, &err));
    g_test_assert_expected_messages();
    qio_test_expect_critical("block is a valid QCryptoBlock");
    g_assert_cmpint(qcrypto_block_get_kdf_hash((QCryptoBlock *)secret), ==,
                    QCRYPTO_HASH_ALGO__MAX);
    g_test_assert_expected_messages();
    qio_test_expect_critical("block != NULL");
    g_assert_cmpuint(qcrypto_block_get_payload_offset(NULL), ==, 0);
    g_test_assert_expected_messages();

    /* An unknown format is an error, as QAPI reports it. */
    open.format = (QCryptoBlockFormat)9;
    g_assert_null(qcrypto_block_open(&open, NULL, header_read, &header, 0, &err));
    qio_test_assert_error(err, QIO_ERROR_INVALID_ARGUMENT, "Unknown block format 9");
    options.u.luks.iter_time = -1;
    g_assert_false(qcrypto_block_calculate_payload_offset(&options, NULL, &len, &err));
    qio_test_assert_error(err, QIO_ERROR_INVALID_ARGUMENT, "iter-time must not be negative: -1");

    qcrypto_block_free(NULL);
    qcrypto_block_info_free(NULL);
    header_clear(&header);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    for (guint i = 0; i < G_N_ELEMENTS(block_cases); i++) {
        g_test_add_data_func(block_cases[i].path, &block_cases[i], test_block);
    }
    for (guint i = 0; i < G_N_ELEMENTS(bad_header_cases); i++) {
        g_autofree char *path = g_strdup_printf("/crypto/block/luks/bad/%s",
                                                bad_header_cases[i].path);
        g_test_add_data_func(path, &bad_header_cases[i], test_bad_header);
    }
    g_test_add_func("/crypto/block/luks/wrong-passphrase", test_wrong_passphrase);
    g_test_add_func("/crypto/block/has-format", test_has_format);
    g_test_add_func("/crypto/block/luks/refused", test_refused);
    g_test_add_func("/crypto/block/luks/not-luks", test_not_luks);
    g_test_add_func("/crypto/block/luks2/cryptsetup-detached", test_luks2);
    g_test_add_func("/crypto/block/luks/info", test_info);
    g_test_add_func("/crypto/block/payload-offset", test_payload_offset);
    g_test_add_func("/crypto/block/luks/detached", test_detached);
    g_test_add_func("/crypto/block/luks/amend", test_amend);
    g_test_add_func("/crypto/block/callback-error", test_callback_error);
    g_test_add_func("/crypto/block/threads", test_threads);
    g_test_add_func("/crypto/block/misuse", test_misuse);
    return g_test_run();
}
