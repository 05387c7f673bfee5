/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * PBKDF2 iterations per second on every qio backend, beside nettle's own
 * pbkdf2_hmac_*() called directly, measured in the same run, as a Markdown table.
 *
 *   bench-crypto-pbkdf [-t SECONDS] [-r ROUNDS] [-i ITERATIONS]
 *
 * Each cell derives a 32-byte key (one PBKDF2 block, as LUKS' key-slot digests are)
 * from an 8-byte password and a 32-byte salt with ITERATIONS iterations, repeatedly
 * for SECONDS; the best of ROUNDS interleaved rounds counts. The builtin backend is
 * RustCrypto's `pbkdf2` crate, so "builtin" is also the RustCrypto reference; the best
 * reference is the fastest of nettle (direct or through qio) and RustCrypto. Rates are
 * thousands of iterations per second.
 */

#include <qio.h>

#include <nettle/pbkdf2.h>
#include <string.h>

#include "bench-common.h"

static const char *const algo_names[QCRYPTO_HASH_ALGO__MAX] = {
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160", "sm3",
};
static const guint8 password[8] = "password";
static const guint8 salt[32] = "LUKS key slot salt, 32 bytes...";

typedef struct {
    QCryptoHashAlgo hash;
    QCryptoBackend backend;
    guint iterations;
} PbkdfJob;

static void qio_once(gpointer data)
{
    PbkdfJob *job = data;
    guint8 out[32];
    if (qcrypto_pbkdf2_with_backend(job->hash, password, sizeof(password), salt, sizeof(salt),
                                    job->iterations, out, sizeof(out), job->backend, NULL) < 0) {
        g_error("PBKDF2 failed");
    }
}

/* nettle's dedicated PBKDF2 functions, where nettle has one for the hash. */
static void nettle_once(gpointer data)
{
    PbkdfJob *job = data;
    guint8 out[32];
    switch (job->hash) {
    case QCRYPTO_HASH_ALGO_SHA1:
        nettle_pbkdf2_hmac_sha1(sizeof(password), password, job->iterations, sizeof(salt), salt,
                                sizeof(out), out);
        break;
    case QCRYPTO_HASH_ALGO_SHA256:
        nettle_pbkdf2_hmac_sha256(sizeof(password), password, job->iterations, sizeof(salt),
                                  salt, sizeof(out), out);
        break;
    case QCRYPTO_HASH_ALGO_SHA384:
        nettle_pbkdf2_hmac_sha384(sizeof(password), password, job->iterations, sizeof(salt),
                                  salt, sizeof(out), out);
        break;
    case QCRYPTO_HASH_ALGO_SHA512:
        nettle_pbkdf2_hmac_sha512(sizeof(password), password, job->iterations, sizeof(salt),
                                  salt, sizeof(out), out);
        break;
    default:
        g_assert_not_reached();
    }
}

static gboolean nettle_has(QCryptoHashAlgo hash)
{
    return hash == QCRYPTO_HASH_ALGO_SHA1 || hash == QCRYPTO_HASH_ALGO_SHA256 ||
           hash == QCRYPTO_HASH_ALGO_SHA384 || hash == QCRYPTO_HASH_ALGO_SHA512;
}

/* Iterations per second (bench_rate counts "bytes": one per iteration, in millions). */
static double rate(void (*fn)(gpointer), PbkdfJob *job, double seconds)
{
    return bench_rate(fn, job, job->iterations, seconds) * 1e6;
}

static char *kilo(double per_second)
{
    return per_second > 0 ? g_strdup_printf("%.0f", per_second / 1e3) : g_strdup("-");
}

int main(int argc, char **argv)
{
    double seconds = 0.5;
    gint rounds = 3, iterations = 10000;
    const GOptionEntry entries[] = {
        { "time", 't', 0, G_OPTION_ARG_DOUBLE, &seconds, "Seconds per cell", "SECONDS" },
        { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Best of this many rounds", "ROUNDS" },
        { "iterations", 'i', 0, G_OPTION_ARG_INT, &iterations, "PBKDF2 iterations per key",
          "N" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    if (!bench_parse_options(&argc, &argv, entries)) {
        return 2;
    }
    if (iterations < 1) {
        g_printerr("iterations must be at least 1\n");
        return 2;
    }

    g_print("| hash | nettle pbkdf2_hmac_* k/s | builtin (RustCrypto) | nettle | gnutls | auto "
            "| auto / best reference |\n");
    g_print("|---|--:|--:|--:|--:|--:|--:|\n");
    for (int hash = 0; hash < QCRYPTO_HASH_ALGO__MAX; hash++) {
        double speed[4] = { 0 }, reference = 0;
        for (int r = 0; r < rounds; r++) {
            PbkdfJob job = { hash, QCRYPTO_BACKEND_AUTO, (guint)iterations };
            if (nettle_has(hash)) {
                reference = MAX(reference, rate(nettle_once, &job, seconds));
            }
            for (int b = 0; b < 4; b++) {
                job.backend = b;
                if (qcrypto_backend_supports_pbkdf2(b, hash)) {
                    speed[b] = MAX(speed[b], rate(qio_once, &job, seconds));
                }
            }
        }
        /* The references: nettle's own function where it has one, nettle through qio
         * otherwise, and RustCrypto (the builtin backend). */
        double best = MAX(MAX(reference, speed[2]), speed[1]);
        g_autofree char *ref = kilo(reference), *s1 = kilo(speed[1]), *s2 = kilo(speed[2]),
                        *s3 = kilo(speed[3]), *s0 = kilo(speed[0]),
                        *ratio = bench_ratio(speed[0], best);
        g_print("| %s | %s | %s | %s | %s | %s | %s |\n", algo_names[hash], ref, s1, s2, s3, s0,
                ratio);
    }
    return 0;
}
