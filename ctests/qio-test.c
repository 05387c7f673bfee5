/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _POSIX_C_SOURCE 200809L /* ftruncate(), mkfifo() */
#include "qio-test.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

const QCryptoBackend qio_test_backends[3] = {
    QCRYPTO_BACKEND_BUILTIN, QCRYPTO_BACKEND_NETTLE, QCRYPTO_BACKEND_GNUTLS,
};

/* The index of NAME in the N entries of NAMES; a test-data error if it is missing. */
static int name_index(const char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++) {
        if (g_str_equal(names[i], name)) {
            return i;
        }
    }
    g_error("unknown name '%s' in a vector file", name);
}

QCryptoHashAlgo qio_test_hash_algo(const char *name)
{
    static const char *const names[QCRYPTO_HASH_ALGO__MAX] = {
        "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160", "sm3",
    };
    return (QCryptoHashAlgo)name_index(names, QCRYPTO_HASH_ALGO__MAX, name);
}

QCryptoCipherAlgo qio_test_cipher_algo(const char *name)
{
    static const char *const names[QCRYPTO_CIPHER_ALGO__MAX] = {
        "aes-128",     "aes-192",     "aes-256",     "des",         "3des",
        "cast5-128",   "serpent-128", "serpent-192", "serpent-256", "twofish-128",
        "twofish-192", "twofish-256", "sm4",
    };
    return (QCryptoCipherAlgo)name_index(names, QCRYPTO_CIPHER_ALGO__MAX, name);
}

QCryptoCipherMode qio_test_cipher_mode(const char *name)
{
    static const char *const names[QCRYPTO_CIPHER_MODE__MAX] = { "ecb", "cbc", "xts", "ctr" };
    return (QCryptoCipherMode)name_index(names, QCRYPTO_CIPHER_MODE__MAX, name);
}

GBytes *qio_test_decode_field(const char *field)
{
    if (!g_str_has_prefix(field, "hex:")) {
        return g_bytes_new(field, strlen(field));
    }
    g_auto(GStrv) parts = g_strsplit(field + 4, "*", 2);
    guint64 count = 1;
    if (!parts[0]) {
        return g_bytes_new(NULL, 0); /* "hex:" alone: no bytes */
    }
    if (parts[1]) {
        g_assert_true(g_ascii_string_to_unsigned(parts[1], 10, 1, G_MAXUINT32, &count, NULL));
    }
    gsize n = strlen(parts[0]) / 2;
    g_autoptr(GByteArray) bytes = g_byte_array_sized_new(n * count);
    for (guint64 c = 0; c < count; c++) {
        for (gsize i = 0; i < n; i++) {
            guint8 b = (guint8)(g_ascii_xdigit_value(parts[0][2 * i]) << 4 |
                                g_ascii_xdigit_value(parts[0][2 * i + 1]));
            g_byte_array_append(bytes, &b, 1);
        }
    }
    return g_byte_array_free_to_bytes(g_steal_pointer(&bytes));
}

static void vector_free(gpointer data)
{
    QIOTestVector *vec = data;
    g_strfreev(vec->text);
    g_ptr_array_unref(vec->fields);
    g_free(vec->expected);
    g_free(vec);
}

GPtrArray *qio_test_vectors_load(const char *name)
{
    g_autofree char *path = g_build_filename(QIO_TESTVECTORS_DIR, name, NULL);
    g_autofree char *text = NULL;
    g_autoptr(GError) error = NULL;
    g_assert_true(g_file_get_contents(path, &text, NULL, &error));
    g_assert_no_error(error);

    GPtrArray *vectors = g_ptr_array_new_with_free_func(vector_free);
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    for (char **line = lines; *line; line++) {
        if (**line == '\0' || **line == '#') {
            continue;
        }
        g_auto(GStrv) fields = g_strsplit(*line, "|", -1);
        guint n = g_strv_length(fields);
        g_assert_cmpuint(n, >=, 3);
        QIOTestVector *vec = g_new0(QIOTestVector, 1);
        vec->fields = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
        for (guint i = 0; i + 1 < n; i++) {
            g_ptr_array_add(vec->fields, qio_test_decode_field(fields[i]));
        }
        /* The expected hex moves out; the other fields stay as text too. */
        vec->expected = g_steal_pointer(&fields[n - 1]);
        vec->text = g_steal_pointer(&fields);
        g_ptr_array_add(vectors, vec);
    }
    return vectors;
}

const guint8 *qio_test_vector_field(const QIOTestVector *vec, guint index, gsize *len)
{
    return g_bytes_get_data(g_ptr_array_index(vec->fields, index), len);
}

void qio_test_iov_from_strings(struct iovec *iov, const char *const *parts, guint n)
{
    for (guint i = 0; i < n; i++) {
        iov[i] = (struct iovec){ .iov_base = (char *)parts[i], .iov_len = strlen(parts[i]) };
    }
}

char *qio_test_hex(const guint8 *bytes, gsize len)
{
    GString *s = g_string_sized_new(2 * len);
    for (gsize i = 0; i < len; i++) {
        g_string_append_printf(s, "%02x", bytes[i]);
    }
    return g_string_free(s, FALSE);
}

guint8 *qio_test_pattern(gsize len, guint32 seed)
{
    guint8 *buf = g_malloc(len + 1);
    guint32 x = seed | 1;
    for (gsize i = 0; i < len; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        buf[i] = (guint8)x;
    }
    return buf;
}

#define TRANSFER_CHUNKS 250
#define TRANSFER_CHUNK_SIZE 4194

typedef struct {
    QIOChannel *ioc;
    struct iovec iov[TRANSFER_CHUNKS];
    GError *error;
} TransferSide;

static gpointer transfer_write(gpointer opaque)
{
    TransferSide *side = opaque;
    qio_channel_writev_all(side->ioc, side->iov, TRANSFER_CHUNKS, &side->error);
    return NULL;
}

static gpointer transfer_read(gpointer opaque)
{
    TransferSide *side = opaque;
    qio_channel_readv_all(side->ioc, side->iov, TRANSFER_CHUNKS, &side->error);
    return NULL;
}

char *qio_test_hostile_file(const char *path, QIOTestHostile kind)
{
    g_unlink(path);
    if (kind == QIO_TEST_FIFO) {
        g_assert_cmpint(mkfifo(path, 0600), ==, 0);
        return g_strdup("Not a regular file (a FIFO)");
    }
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, (off_t)QIO_CONFIG_FILE_MAX_SIZE + 1), ==, 0);
    close(fd);
    return g_strdup_printf("File larger than the %" G_GUINT64_FORMAT "-byte limit",
                           (guint64)QIO_CONFIG_FILE_MAX_SIZE);
}

void qio_test_transfer(QIOChannel *src, QIOChannel *dst, gboolean blocking)
{
    gsize total = TRANSFER_CHUNKS * TRANSFER_CHUNK_SIZE;
    g_autofree guint8 *input = qio_test_pattern(total, 42);
    g_autofree guint8 *output = g_malloc0(total);
    TransferSide writer = { .ioc = src }, reader = { .ioc = dst };
    g_autoptr(GError) error = NULL;

    for (guint i = 0; i < TRANSFER_CHUNKS; i++) {
        writer.iov[i] = (struct iovec){ input + i * TRANSFER_CHUNK_SIZE, TRANSFER_CHUNK_SIZE };
        reader.iov[i] = (struct iovec){ output + i * TRANSFER_CHUNK_SIZE, TRANSFER_CHUNK_SIZE };
    }
    g_assert_true(qio_channel_set_blocking(src, blocking, &error));
    g_assert_true(qio_channel_set_blocking(dst, blocking, &error));
    g_assert_no_error(error);

    GThread *w = g_thread_new("transfer-writer", transfer_write, &writer);
    GThread *r = g_thread_new("transfer-reader", transfer_read, &reader);
    g_thread_join(w);
    g_thread_join(r);
    g_assert_no_error(writer.error);
    g_assert_no_error(reader.error);
    g_assert_cmpmem(input, total, output, total);
}
