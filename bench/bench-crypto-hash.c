/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Hash throughput of every algorithm on every qio backend, beside `openssl speed -evp`
 * measured in the same run, as a Markdown table.
 *
 *   bench-crypto-hash [-t SECONDS] [-r ROUNDS] [-a ALGO] [-s SIZE]
 *
 * Each cell hashes SIZE-byte buffers one-shot (create, update, finalize, free: what
 * QEMU's qcrypto_hash_bytesv does and what openssl speed's EVP_Digest loop does) for
 * SECONDS, and reports MB/s (10^6 bytes per second). Every cell, openssl's included,
 * is measured ROUNDS times, interleaved, and the best round counts, so that a noisy
 * neighbour on a shared machine does not decide the ratio.
 */

#include <qio.h>

#include <stdlib.h>
#include <string.h>

static const char *const algo_names[QCRYPTO_HASH_ALGO__MAX] = {
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160", "sm3",
};
static const char *const backend_names[] = { "auto", "builtin", "nettle", "gnutls" };
static const gsize default_sizes[] = { 512, 4096, 65536, 1 << 20 };

/* MB/s of qio hashing SIZE-byte buffers with ALG on BACKEND; 0 if unsupported. */
static double qio_speed(QCryptoHashAlgo alg, QCryptoBackend backend, const guint8 *buf,
                        gsize size, double seconds, QCryptoBackend *used)
{
    if (!qcrypto_backend_supports_hash(backend, alg)) {
        return 0;
    }
    guint8 digest[64];
    gint64 start = g_get_monotonic_time(), now = start;
    guint64 bytes = 0;
    do {
        for (int i = 0; i < 16; i++) {
            QCryptoHash *hash = qcrypto_hash_new_with_backend(alg, backend, NULL);
            guint8 *result = digest;
            size_t resultlen = qcrypto_hash_digest_len(alg);
            if (qcrypto_hash_update(hash, buf, size, NULL) < 0 ||
                qcrypto_hash_finalize_bytes(hash, &result, &resultlen, NULL) < 0) {
                g_error("hashing failed");
            }
            *used = qcrypto_hash_get_backend(hash);
            qcrypto_hash_free(hash);
            bytes += size;
        }
        now = g_get_monotonic_time();
    } while (now - start < seconds * G_USEC_PER_SEC);
    return bytes / ((now - start) / (double)G_USEC_PER_SEC) / 1e6;
}

/* MB/s of `openssl speed -evp ALG` at SIZE, from its machine-readable "+F:" line;
 * 0 when openssl lacks the algorithm. */
static double openssl_speed(const char *alg, gsize size)
{
    g_autofree char *bytes = g_strdup_printf("%zu", size);
    const char *argv[] = { "openssl", "speed", "-mr", "-evp", alg, "-bytes", bytes,
                           "-seconds", "1", NULL };
    g_autofree char *out = NULL;
    int status = 0;
    if (!g_spawn_sync(NULL, (char **)argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDERR_TO_DEV_NULL,
                      NULL, NULL, &out, NULL, &status, NULL) ||
        !g_spawn_check_wait_status(status, NULL)) {
        return 0;
    }
    g_auto(GStrv) lines = g_strsplit(out, "\n", -1);
    for (char **line = lines; *line; line++) {
        if (g_str_has_prefix(*line, "+F:")) {
            const char *rate = strrchr(*line, ':') + 1;
            return g_ascii_strtod(rate, NULL) / 1e6;
        }
    }
    return 0;
}

static char *cell(double mbs)
{
    return mbs > 0 ? g_strdup_printf("%.0f", mbs) : g_strdup("-");
}

int main(int argc, char **argv)
{
    double seconds = 0.3;
    gint rounds = 3;
    const char *only_algo = NULL;
    gint64 only_size = 0;
    const GOptionEntry entries[] = {
        { "time", 't', 0, G_OPTION_ARG_DOUBLE, &seconds, "Seconds per qio cell", "SECONDS" },
        { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Best of this many rounds", "ROUNDS" },
        { "algorithm", 'a', 0, G_OPTION_ARG_STRING, &only_algo, "Only this algorithm", "ALGO" },
        { "size", 's', 0, G_OPTION_ARG_INT64, &only_size, "Only this buffer size", "SIZE" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr(GOptionContext) context = g_option_context_new(NULL);
    g_autoptr(GError) error = NULL;
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        g_printerr("%s\n", error->message);
        return 2;
    }

    gsize size_count = only_size > 0 ? 1 : G_N_ELEMENTS(default_sizes);
    const gsize *sizes = only_size > 0 ? (const gsize *)&only_size : default_sizes;
    gsize max_size = 0;
    for (gsize i = 0; i < size_count; i++) {
        max_size = MAX(max_size, sizes[i]);
    }
    g_autofree guint8 *buf = g_malloc(max_size);
    memset(buf, 0x5a, max_size);

    g_print("| algorithm | size | openssl MB/s | builtin | nettle | gnutls | auto | auto backend "
            "| auto / openssl |\n");
    g_print("|---|--:|--:|--:|--:|--:|--:|---|--:|\n");
    for (int alg = 0; alg < QCRYPTO_HASH_ALGO__MAX; alg++) {
        if (only_algo && !g_str_equal(only_algo, algo_names[alg])) {
            continue;
        }
        for (gsize i = 0; i < size_count; i++) {
            double speed[4] = { 0 }, reference = 0;
            QCryptoBackend used[4] = { QCRYPTO_BACKEND_AUTO };
            for (int r = 0; r < rounds; r++) {
                reference = MAX(reference, openssl_speed(algo_names[alg], sizes[i]));
                for (int b = 0; b < 4; b++) {
                    speed[b] = MAX(speed[b], qio_speed(alg, b, buf, sizes[i], seconds, &used[b]));
                }
            }
            g_autofree char *ref = cell(reference), *s1 = cell(speed[1]), *s2 = cell(speed[2]),
                            *s3 = cell(speed[3]), *s0 = cell(speed[0]);
            g_autofree char *ratio = reference > 0 ? g_strdup_printf("%.2f", speed[0] / reference)
                                                   : g_strdup("-");
            g_print("| %s | %zu | %s | %s | %s | %s | %s | %s | %s |\n", algo_names[alg],
                    sizes[i], ref, s1, s2, s3, s0, backend_names[used[0]], ratio);
        }
    }
    return 0;
}
