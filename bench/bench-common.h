/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the benchmark programs share: the timing loops, whole-process timing of other
 * programs, `openssl speed` as the reference measured in the same run, and Markdown
 * table cells. */

#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <glib.h>

/* Parses the command line against ENTRIES; on failure prints why and returns FALSE. */
gboolean bench_parse_options(int *argc, char ***argv, const GOptionEntry *entries);

/* Runs the calling thread on CPU only, when there is such a CPU: the two ends of a
 * connection then keep their own cores, and figures vary far less between runs. */
void bench_pin_to_cpu(int cpu);

/* The median of the N values at VALUES, which it sorts. */
double bench_median(double *values, int n);

/* Calls FN(DATA), which processes BYTES bytes, in batches of 16 until SECONDS have
 * passed, and returns the rate in MB/s (10^6 bytes per second). */
double bench_rate(void (*fn)(gpointer data), gpointer data, gsize bytes, double seconds);

/* How many calls of FN(DATA) take SECONDS, a multiple of 16 and at least 16: it calls
 * FN that long, which also warms up what FN touches. */
guint64 bench_calls_in(void (*fn)(gpointer data), gpointer data, double seconds);

/* Calls FN(DATA), which processes BYTES bytes, CALLS times (a multiple of 16) in
 * batches of 16, and returns the rate in MB/s (10^6 bytes per second). */
double bench_rate_calls(void (*fn)(gpointer data), gpointer data, gsize bytes, guint64 calls);

/* Runs ARGV, looked up in PATH, to its end, its output captured: stdout into *OUT
 * when OUT is not NULL, else dropped. Returns the seconds from start to exit by the
 * monotonic clock (a whole-process time, start-up included), or -1 with ERROR set,
 * its stderr in the message, when it cannot start or exits unsuccessfully. */
double bench_run(const char *const *argv, char **out, GError **error);

/* MB/s of `openssl speed -evp EVP_NAME [-decrypt]` on SIZE-byte buffers, from its
 * machine-readable "+F:" line, summed over PROCS processes (`-multi`) when PROCS > 1;
 * 0 when openssl lacks the algorithm. */
double bench_openssl_speed(const char *evp_name, gboolean decrypt, gsize size, int procs);

/* A table cell: MB/s rounded, or "-" for a rate of 0 (not measured). */
char *bench_cell(double mbs);

/* A table cell: VALUE / REFERENCE to two decimals, or "-" without a reference. */
char *bench_ratio(double value, double reference);

#endif /* BENCH_COMMON_H */
