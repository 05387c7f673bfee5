/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* GLib set up for the C fuzz targets. */

#ifndef QIO_FUZZ_GLIB_H
#define QIO_FUZZ_GLIB_H

#include <glib.h>
#include <stdlib.h>

static void fuzz_log_handler(const char *domain, GLogLevelFlags level, const char *message, gpointer data)
{
    g_log_default_handler(domain, level, message, data);
    if (level & (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_ERROR)) {
        abort();
    }
}

/* A critical is qio or the code under test misusing an API: a finding. It abort()s,
 * because GLib's fatal criticals raise SIGTRAP, which kills libFuzzer without a
 * report or artifact. */
static inline void fuzz_abort_on_criticals(void)
{
    g_log_set_default_handler(fuzz_log_handler, NULL);
}

#endif
