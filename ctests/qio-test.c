/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "qio-test.h"

#include <string.h>

const QCryptoBackend qio_test_backends[3] = {
    QCRYPTO_BACKEND_BUILTIN, QCRYPTO_BACKEND_NETTLE, QCRYPTO_BACKEND_GNUTLS,
};

static const char *const algo_names[QCRYPTO_HASH_ALGO__MAX] = {
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160", "sm3",
};

static QCryptoHashAlgo hash_algo(const char *name)
{
    for (int i = 0; i < QCRYPTO_HASH_ALGO__MAX; i++) {
        if (g_str_equal(algo_names[i], name)) {
            return (QCryptoHashAlgo)i;
        }
    }
    g_error("unknown algorithm '%s' in a vector file", name);
}

/* Decodes "text" or "hex:BYTES[*N]". */
static GBytes *decode_field(const char *field)
{
    if (!g_str_has_prefix(field, "hex:")) {
        return g_bytes_new(field, strlen(field));
    }
    g_auto(GStrv) parts = g_strsplit(field + 4, "*", 2);
    guint64 count = 1;
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
        vec->alg = hash_algo(fields[0]);
        vec->fields = g_ptr_array_new_with_free_func((GDestroyNotify)g_bytes_unref);
        for (guint i = 1; i + 1 < n; i++) {
            g_ptr_array_add(vec->fields, decode_field(fields[i]));
        }
        vec->expected = g_strdup(fields[n - 1]);
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
