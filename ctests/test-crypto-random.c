/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qcrypto_random_bytes, qcrypto_init and the QIO_ERROR domain through <qio.h>. */

#include "qio-test.h"

#include <string.h>

static void test_random_fills(void)
{
    const gsize len = 1 << 16;
    g_autofree guint8 *a = g_malloc0(len);
    g_autofree guint8 *b = g_malloc0(len);
    guint seen[256] = { 0 };
    g_autoptr(GError) error = NULL;

    g_assert_cmpint(qcrypto_random_bytes(a, len, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_cmpint(qcrypto_random_bytes(b, len, &error), ==, 0);
    g_assert_true(memcmp(a, b, len) != 0);
    for (gsize i = 0; i < len; i++) {
        seen[a[i]]++;
    }
    /* 64 KiB of uniform bytes: each value appears 256 times on average; a value
     * missing entirely or five times too common means the bytes are not random. */
    for (int v = 0; v < 256; v++) {
        g_assert_cmpuint(seen[v], >, 0);
        g_assert_cmpuint(seen[v], <, 5 * 256);
    }
}

static void test_random_edges(void)
{
    guint8 one = 0;
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(qcrypto_random_bytes(NULL, 0, &error), ==, 0);
    g_assert_cmpint(qcrypto_random_bytes(&one, 1, &error), ==, 0);
    g_assert_no_error(error);
    qio_test_expect_critical("buf != NULL || buflen == 0");
    g_assert_cmpint(qcrypto_random_bytes(NULL, 8, &error), ==, -1);
    g_test_assert_expected_messages();
    g_assert_no_error(error);
}

static void test_init(void)
{
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(qcrypto_init(&error), ==, 0);
    g_assert_no_error(error);
    g_assert_cmpint(qcrypto_init(NULL), ==, 0);
}

static void test_error_domain(void)
{
    g_assert_cmpuint(QIO_ERROR, ==, g_quark_from_string("qio-error-quark"));
    g_assert_cmpuint(qio_error_quark(), ==, QIO_ERROR);
    g_assert_cmpint(QIO_ERROR_FAILED, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/crypto/random/fills", test_random_fills);
    g_test_add_func("/crypto/random/edges", test_random_edges);
    g_test_add_func("/crypto/init", test_init);
    g_test_add_func("/qio/error-domain", test_error_domain);
    return g_test_run();
}
