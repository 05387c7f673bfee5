/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The header's version macros must match meson.build's project version (Cargo.toml's
 * is checked against the same macros at compile time, in capi/src/version.rs). */

#include <qio.h>

static void test_version(void)
{
    g_autofree char *header = g_strdup_printf("%d.%d.%d", QIO_MAJOR_VERSION, QIO_MINOR_VERSION,
                                              QIO_MICRO_VERSION);
    g_assert_cmpstr(header, ==, QIO_MESON_VERSION);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/qio/version", test_version);
    return g_test_run();
}
