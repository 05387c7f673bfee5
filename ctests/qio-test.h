/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Helpers shared by the C tests. */

#ifndef QIO_TEST_H
#define QIO_TEST_H

#include <qio.h>

/* The concrete backends, in enum order. */
extern const QCryptoBackend qio_test_backends[3];

/* One line of a testvectors/ file: its fields but the last as written and decoded, and
 * the last, the expected hex. */
typedef struct {
    char **text;       /* NULL-terminated */
    GPtrArray *fields; /* of GBytes */
    char *expected;
} QIOTestVector;

/* The enum values of the names testvectors/ files use (QEMU's QAPI names). */
QCryptoHashAlgo qio_test_hash_algo(const char *name);
QCryptoCipherAlgo qio_test_cipher_algo(const char *name);
QCryptoCipherMode qio_test_cipher_mode(const char *name);

/* The vectors of testvectors/NAME; free with g_ptr_array_unref(). */
GPtrArray *qio_test_vectors_load(const char *name);

/* A vector field decoded: literal text, or "hex:BYTES" optionally followed by "*N" to
 * repeat the bytes N times. */
GBytes *qio_test_decode_field(const char *field);

/* The field at INDEX of VEC, and its size through LEN. */
const guint8 *qio_test_vector_field(const QIOTestVector *vec, guint index, gsize *len);

/* Points IOV[i] at the NUL-terminated string PARTS[i] (without its NUL), for i < N. */
void qio_test_iov_from_strings(struct iovec *iov, const char *const *parts, guint n);

/* BYTES as a lowercase hex string; free with g_free(). */
char *qio_test_hex(const guint8 *bytes, gsize len);

/* LEN bytes of a deterministic pattern derived from SEED. */
guint8 *qio_test_pattern(gsize len, guint32 seed);

/* Asserts that ERR is a QIO_ERROR with CODE and message TEXT, then frees it. */
#define qio_test_assert_error(err, code, text)                     \
    G_STMT_START {                                                  \
        g_assert_error((err), QIO_ERROR, (code));                   \
        g_assert_cmpstr((err)->message, ==, (text));                \
        g_clear_error(&(err));                                      \
    } G_STMT_END

/* Expects one "assertion failed" critical in qio's domain from the next call. */
#define qio_test_expect_critical(expression)                       \
    g_test_expect_message("qio", G_LOG_LEVEL_CRITICAL,              \
                          "*assertion '" expression "' failed")

/* What qio_test_hostile_file() makes. */
typedef enum {
    QIO_TEST_FIFO,      /* a FIFO nobody writes to: reading it would block for ever */
    QIO_TEST_OVERSIZED, /* a sparse file one byte over QIO_CONFIG_FILE_MAX_SIZE */
} QIOTestHostile;

/* Replaces PATH with a file of KIND that qio's loaders must refuse; returns the reason
 * their error message ends with (free with g_free()). */
char *qio_test_hostile_file(const char *path, QIOTestHostile kind);

/* Sends about 1 MB (250 iovec chunks of 4194 bytes, QEMU's pattern) from SRC to DST
 * with qio_channel_writev_all() and qio_channel_readv_all() in two threads, both
 * channels blocking or both non-blocking, and checks every byte arrived. */
void qio_test_transfer(QIOChannel *src, QIOChannel *dst, gboolean blocking);

#endif /* QIO_TEST_H */
