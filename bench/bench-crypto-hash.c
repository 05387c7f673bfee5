/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One-shot hash throughput as a C caller of <qio.h> gets it, qcrypto_hash_bytes(),
 * beside OpenSSL's EVP_Digest() called in the same process, as a Markdown table.
 *
 *   bench-crypto-hash [-t SECONDS] [-r ROUNDS] [-a ALGO] [-s SIZE]
 *
 * Every cell hashes one SIZE-byte buffer CALLS times and reports MB/s (10^6 bytes per
 * second, by the monotonic wall clock):
 *
 *   openssl   EVP_Digest(buf, SIZE, digest, NULL, md, NULL), md fetched once: the loop
 *             `openssl speed -evp` times, here in this process.
 *   qio       qcrypto_hash_bytes(alg, buf, SIZE, &digest, &len, NULL) into the caller's
 *             digest buffer, on the AUTO backend (the only one it uses).
 *   builtin, nettle, gnutls
 *             qcrypto_hash_new_with_backend(), _update(), _finalize_bytes(), _free() per
 *             buffer: how a C caller hashes one-shot on a chosen backend.
 *
 * CALLS is how many EVP_Digest() calls take SECONDS, calibrated once per cell, so every
 * path makes the same calls on the same bytes through the same timing loop. Every path
 * is timed ROUNDS times, interleaved, the order alternating between rounds, and the
 * best round counts, so that a noisy neighbour on a shared machine does not decide the
 * ratio.
 */

#include <qio.h>

#include <openssl/evp.h>

#include <string.h>

#include "bench-common.h"

static const char *const algo_names[QCRYPTO_HASH_ALGO__MAX] = {
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160", "sm3",
};
static const char *const backend_names[] = { "auto", "builtin", "nettle", "gnutls" };
static const gsize default_sizes[] = { 512, 4096, 65536, 1 << 20 };

/* The paths every cell times; the backends' values are their QCryptoBackend's. */
enum { PATH_BUILTIN = QCRYPTO_BACKEND_BUILTIN, PATH_NETTLE, PATH_GNUTLS, PATH_OPENSSL,
       PATH_BYTES, PATH_COUNT };

/* One hashing job: SIZE bytes of BUF with ALG, one-shot, into DIGEST. */
typedef struct {
    QCryptoHashAlgo alg;
    QCryptoBackend backend;
    const EVP_MD *md;
    const guint8 *buf;
    gsize size;
    guint8 digest[EVP_MAX_MD_SIZE];
} HashJob;

static void openssl_once(gpointer data)
{
    HashJob *job = data;
    if (!EVP_Digest(job->buf, job->size, job->digest, NULL, job->md, NULL)) {
        g_error("EVP_Digest failed");
    }
}

static void bytes_once(gpointer data)
{
    HashJob *job = data;
    guint8 *result = job->digest;
    size_t resultlen = qcrypto_hash_digest_len(job->alg);
    if (qcrypto_hash_bytes(job->alg, job->buf, job->size, &result, &resultlen, NULL) < 0) {
        g_error("qcrypto_hash_bytes failed");
    }
}

static void backend_once(gpointer data)
{
    HashJob *job = data;
    guint8 *result = job->digest;
    size_t resultlen = qcrypto_hash_digest_len(job->alg);
    QCryptoHash *hash = qcrypto_hash_new_with_backend(job->alg, job->backend, NULL);
    if (!hash || qcrypto_hash_update(hash, job->buf, job->size, NULL) < 0 ||
        qcrypto_hash_finalize_bytes(hash, &result, &resultlen, NULL) < 0) {
        g_error("hashing on backend %s failed", backend_names[job->backend]);
    }
    qcrypto_hash_free(hash);
}

/* The backend qcrypto_hash_bytes() uses for ALG (AUTO's choice). */
static QCryptoBackend auto_backend(QCryptoHashAlgo alg)
{
    g_autoptr(QCryptoHash) hash = qcrypto_hash_new(alg, NULL);
    return qcrypto_hash_get_backend(hash);
}

/* MB/s of PATH over CALLS calls; 0 when the path lacks ALG. Every path must leave the
 * digest the calibration left, EXPECTED (OpenSSL's, or qio's where OpenSSL lacks ALG). */
static double path_speed(int path, HashJob *job, guint64 calls, const guint8 *expected)
{
    void (*fn)(gpointer) = backend_once;
    if (path == PATH_OPENSSL) {
        if (!job->md) {
            return 0;
        }
        fn = openssl_once;
    } else if (path == PATH_BYTES) {
        fn = bytes_once;
    } else if (qcrypto_backend_supports_hash(path, job->alg)) {
        job->backend = path;
    } else {
        return 0;
    }
    memset(job->digest, 0, sizeof(job->digest));
    double rate = bench_rate_calls(fn, job, job->size, calls);
    if (memcmp(job->digest, expected, qcrypto_hash_digest_len(job->alg)) != 0) {
        g_error("%s digest of %zu bytes differs between paths", algo_names[job->alg], job->size);
    }
    return rate;
}

int main(int argc, char **argv)
{
    double seconds = 0.3;
    gint rounds = 3;
    const char *only_algo = NULL;
    gint64 only_size = 0;
    const GOptionEntry entries[] = {
        { "time", 't', 0, G_OPTION_ARG_DOUBLE, &seconds,
          "Calls per cell: as many as EVP_Digest() makes in this long", "SECONDS" },
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

    g_print("| algorithm | size | openssl EVP_Digest MB/s | qcrypto_hash_bytes MB/s | qio / openssl "
            "| auto backend | builtin | nettle | gnutls |\n");
    g_print("|---|--:|--:|--:|--:|---|--:|--:|--:|\n");
    for (int alg = 0; alg < QCRYPTO_HASH_ALGO__MAX; alg++) {
        if (only_algo && !g_str_equal(only_algo, algo_names[alg])) {
            continue;
        }
        EVP_MD *md = EVP_MD_fetch(NULL, algo_names[alg], NULL);
        for (gsize i = 0; i < size_count; i++) {
            HashJob job = { alg, QCRYPTO_BACKEND_AUTO, md, buf, sizes[i], { 0 } };
            guint8 expected[EVP_MAX_MD_SIZE];
            /* Warm up and size the cell on OpenSSL (on qio where OpenSSL lacks ALG). */
            guint64 calls = bench_calls_in(md ? openssl_once : bytes_once, &job, seconds);
            memcpy(expected, job.digest, sizeof(expected));
            double speed[PATH_COUNT] = { 0 };
            for (int r = 0; r < rounds; r++) {
                for (int k = 0; k < PATH_COUNT - 1; k++) {
                    /* builtin .. bytes in even rounds, bytes .. builtin in odd ones. */
                    int path = r % 2 ? PATH_BYTES - k : PATH_BUILTIN + k;
                    speed[path] = MAX(speed[path],
                                      path_speed(path, &job, calls, expected));
                }
            }
            g_autofree char *ref = bench_cell(speed[PATH_OPENSSL]),
                            *bytes = bench_cell(speed[PATH_BYTES]),
                            *ratio = bench_ratio(speed[PATH_BYTES], speed[PATH_OPENSSL]),
                            *s1 = bench_cell(speed[PATH_BUILTIN]),
                            *s2 = bench_cell(speed[PATH_NETTLE]),
                            *s3 = bench_cell(speed[PATH_GNUTLS]);
            g_print("| %s | %zu | %s | %s | %s | %s | %s | %s | %s |\n", algo_names[alg],
                    sizes[i], ref, bytes, ratio, backend_names[auto_backend(alg)], s1, s2, s3);
        }
        EVP_MD_free(md);
    }
    return 0;
}
