/* SPDX-License-Identifier: LGPL-2.1-or-later */
#define _GNU_SOURCE /* pthread_setaffinity_np */
#include "bench-common.h"

#include <pthread.h>
#include <sched.h>

#include <stdlib.h>
#include <string.h>

void bench_pin_to_cpu(int cpu)
{
    if (cpu >= (int)g_get_num_processors()) {
        return;
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *values, int n)
{
    qsort(values, n, sizeof(*values), compare_doubles);
    return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

gboolean bench_parse_options(int *argc, char ***argv, const GOptionEntry *entries)
{
    g_autoptr(GOptionContext) context = g_option_context_new(NULL);
    g_autoptr(GError) error = NULL;
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, argc, argv, &error)) {
        g_printerr("%s\n", error->message);
        return FALSE;
    }
    return TRUE;
}

double bench_rate(void (*fn)(gpointer data), gpointer data, gsize bytes, double seconds)
{
    gint64 start = g_get_monotonic_time(), now;
    guint64 total = 0;
    do {
        for (int i = 0; i < 16; i++) {
            fn(data);
        }
        total += 16 * bytes;
        now = g_get_monotonic_time();
    } while (now - start < seconds * G_USEC_PER_SEC);
    return total / ((now - start) / (double)G_USEC_PER_SEC) / 1e6;
}

guint64 bench_calls_in(void (*fn)(gpointer data), gpointer data, double seconds)
{
    gint64 start = g_get_monotonic_time();
    guint64 calls = 0;
    do {
        for (int i = 0; i < 16; i++) {
            fn(data);
        }
        calls += 16;
    } while (g_get_monotonic_time() - start < seconds * G_USEC_PER_SEC);
    return calls;
}

double bench_rate_calls(void (*fn)(gpointer data), gpointer data, gsize bytes, guint64 calls)
{
    gint64 start = g_get_monotonic_time();
    for (guint64 done = 0; done < calls; done += 16) {
        for (int i = 0; i < 16; i++) {
            fn(data);
        }
    }
    gint64 elapsed = MAX(g_get_monotonic_time() - start, 1);
    return calls * bytes / (elapsed / (double)G_USEC_PER_SEC) / 1e6;
}

double bench_run(const char *const *argv, char **out, GError **error)
{
    g_autofree char *captured = NULL, *err = NULL;
    int status = 0;
    gint64 start = g_get_monotonic_time();
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, &captured,
                      &err, &status, error)) {
        return -1;
    }
    gint64 elapsed = g_get_monotonic_time() - start;
    if (out) {
        *out = g_steal_pointer(&captured);
    }
    g_autoptr(GError) exit_error = NULL;
    if (!g_spawn_check_wait_status(status, &exit_error)) {
        g_set_error(error, exit_error->domain, exit_error->code, "%s: %s\n%s", argv[0],
                    exit_error->message, g_strchomp(err));
        return -1;
    }
    return elapsed / (double)G_USEC_PER_SEC;
}

double bench_openssl_speed(const char *evp_name, gboolean decrypt, gsize size, int procs)
{
    g_autofree char *bytes = g_strdup_printf("%zu", size);
    g_autofree char *multi = g_strdup_printf("%d", procs);
    const char *argv[16] = { "openssl", "speed", "-mr", "-evp", evp_name, "-bytes", bytes,
                             "-seconds", "1" };
    int argc = 9;
    if (decrypt) {
        argv[argc++] = "-decrypt";
    }
    if (procs > 1) {
        argv[argc++] = "-multi";
        argv[argc++] = multi;
    }
    g_autofree char *out = NULL;
    if (bench_run(argv, &out, NULL) < 0) {
        return 0;
    }
    /* With -multi the children's lines start "Got: +F:"; the first line starting "+F:"
     * is the parent's sum. */
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    for (char **line = lines; *line; line++) {
        if (g_str_has_prefix(*line, "+F:")) {
            const char *rate = strrchr(*line, ':') + 1;
            return g_ascii_strtod(rate, NULL) / 1e6;
        }
    }
    return 0;
}

char *bench_cell(double mbs)
{
    return mbs > 0 ? g_strdup_printf("%.0f", mbs) : g_strdup("-");
}

char *bench_ratio(double value, double reference)
{
    return value > 0 && reference > 0 ? g_strdup_printf("%.2f", value / reference)
                                       : g_strdup("-");
}
