/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The main loop the example servers share: serve until SIGINT or SIGTERM, and report
 * at most once a second the connections the listener's client limit turned away, so
 * a flood of them makes one line a second. Header-only, so each example still builds
 * from its one .c file. */

#ifndef QIO_EXAMPLES_SERVE_LOOP_H
#define QIO_EXAMPLES_SERVE_LOOP_H

#include <qio.h>

#include <glib-unix.h>
#include <signal.h>

typedef struct {
    QIONetListener *listener;
    const char *limit_option; /* the client limit's option, for the report */
    guint64 reported;
} ServeLoopRefusals;

static gboolean serve_loop_stop(gpointer finished)
{
    *(gboolean *)finished = TRUE;
    return G_SOURCE_CONTINUE;
}

/* Reports the connections turned away since the last report. */
static gboolean serve_loop_report(gpointer data)
{
    ServeLoopRefusals *r = data;
    guint64 refused = qio_net_listener_get_num_refused(r->listener);
    if (refused > r->reported) {
        g_printerr("refused %" G_GUINT64_FORMAT " connection%s: %u clients already (%s)\n", refused - r->reported,
                   refused - r->reported == 1 ? "" : "s", qio_net_listener_get_max_clients(r->listener),
                   r->limit_option);
        r->reported = refused;
    }
    return G_SOURCE_CONTINUE;
}

/* Iterates the default main context until *FINISHED is set, by SIGINT, SIGTERM or the
 * server's own callbacks, then stops LISTENER. LIMIT_OPTION names the client limit's
 * option in the reports ("-e"). */
static void serve_until_stopped(QIONetListener *listener, const char *limit_option, gboolean *finished)
{
    ServeLoopRefusals refusals = { .listener = listener, .limit_option = limit_option };
    guint reporter = g_timeout_add_seconds(1, serve_loop_report, &refusals);
    guint sigterm = g_unix_signal_add(SIGTERM, serve_loop_stop, finished);
    guint sigint = g_unix_signal_add(SIGINT, serve_loop_stop, finished);
    while (!*finished) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_source_remove(reporter);
    g_source_remove(sigterm);
    g_source_remove(sigint);
    serve_loop_report(&refusals);
    qio_net_listener_disconnect(listener);
}

#endif
