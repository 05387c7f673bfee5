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

#include <string.h>

#include "bench-common.h"

static const char *const algo_names[QCRYPTO_HASH_ALGO__MAX] = {
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160", "sm3",
};
static const char *const backend_names[] = { "auto", "builtin", "nettle", "gnutls" };
static const gsize default_sizes[] = { 512, 4096, 65536, 1 << 20 };

/* One hashing job: SIZE bytes of BUF with ALG on BACKEND, one-shot. */
typedef struct {
    QCryptoHashAlgo alg;
    QCryptoBackend backend, used;
    const guint8 *buf;
    gsize size;
} HashJob;

static void hash_once(gpointer data)
{
    HashJob *job = data;
    guint8 digest[64], *result = digest;
    size_t resultlen = qcrypto_hash_digest_len(job->alg);
    QCryptoHash *hash = qcrypto_hash_new_with_backend(job->alg, job->backend, NULL);
    if (qcrypto_hash_update(hash, job->buf, job->size, NULL) < 0 ||
        qcrypto_hash_finalize_bytes(hash, &result, &resultlen, NULL) < 0) {
        g_error("hashing failed");
    }
    job->used = qcrypto_hash_get_backend(hash);
    qcrypto_hash_free(hash);
}

/* MB/s of qio hashing SIZE-byte buffers with ALG on BACKEND; 0 if unsupported. */
static double qio_speed(QCryptoHashAlgo alg, QCryptoBackend backend, const guint8 *buf,
                        gsize size, double seconds, QCryptoBackend *used)
{
    if (!qcrypto_backend_supports_hash(backend, alg)) {
        return 0;
    }
    HashJob job = { alg, backend, QCRYPTO_BACKEND_AUTO, buf, size };
    double rate = bench_rate(hash_once, &job, size, seconds);
    *used = job.used;
    return rate;
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
    if (!bench_parse_options(&argc, &argv, entries)) {
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
                reference = MAX(reference, bench_openssl_speed(algo_names[alg], FALSE, sizes[i]));
                for (int b = 0; b < 4; b++) {
                    speed[b] = MAX(speed[b], qio_speed(alg, b, buf, sizes[i], seconds, &used[b]));
                }
            }
            g_autofree char *ref = bench_cell(reference), *s1 = bench_cell(speed[1]),
                            *s2 = bench_cell(speed[2]), *s3 = bench_cell(speed[3]),
                            *s0 = bench_cell(speed[0]), *ratio = bench_ratio(speed[0], reference);
            g_print("| %s | %zu | %s | %s | %s | %s | %s | %s | %s |\n", algo_names[alg],
                    sizes[i], ref, s1, s2, s3, s0, backend_names[used[0]], ratio);
        }
    }
    return 0;
}
