/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Cipher throughput on every qio backend, beside `openssl speed -evp` measured in the
 * same run, as a Markdown table.
 *
 *   bench-crypto-cipher [-t SECONDS] [-r ROUNDS] [-m MODE] [-s SIZE]
 *
 * The matrix is QEMU's cipher benchmark (ECB, CBC, CTR and XTS x AES-128 and AES-256
 * x 512 B to 64 KiB), encrypting and decrypting: one cipher, its IV set once, then
 * SIZE-byte calls, as QEMU's benchmark and openssl speed do. The "xts-sectors" rows
 * are LUKS' pattern: 64 KiB per round in 512-byte sectors, each with its own plain64
 * tweak set by qcrypto_cipher_setiv(), beside openssl speed on 512-byte buffers. MB/s
 * is 10^6 bytes per second; every cell is the best of ROUNDS interleaved rounds.
 */

#include <qio.h>

#include <string.h>

#include "bench-common.h"

static const char *const mode_names[] = { "ecb", "cbc", "xts", "ctr", "xts-sectors" };
static const char *const backend_names[] = { "auto", "builtin", "nettle", "gnutls" };
static const gsize default_sizes[] = { 512, 4096, 16384, 65536 };
#define SECTOR 512
#define SECTORS_ROUND 65536

/* One cipher job: SIZE bytes of BUF in place, in one call or sector by sector. */
typedef struct {
    QCryptoCipher *cipher;
    guint8 *buf;
    gsize size;
    gboolean encrypt, sectors;
} CipherJob;

static void crypt_once(gpointer data)
{
    CipherJob *job = data;
    gsize step = job->sectors ? SECTOR : job->size;
    for (gsize off = 0; off < job->size; off += step) {
        if (job->sectors) {
            guint64 sector = GUINT64_TO_LE(off / SECTOR);
            guint8 iv[16] = { 0 };
            memcpy(iv, &sector, sizeof(sector));
            if (qcrypto_cipher_setiv(job->cipher, iv, sizeof(iv), NULL) < 0) {
                g_error("setiv failed");
            }
        }
        int rc = job->encrypt
                     ? qcrypto_cipher_encrypt(job->cipher, job->buf + off, job->buf + off, step, NULL)
                     : qcrypto_cipher_decrypt(job->cipher, job->buf + off, job->buf + off, step, NULL);
        if (rc < 0) {
            g_error("cipher failed");
        }
    }
}

/* MB/s of qio running ALG in MODE on BACKEND; 0 if unsupported. */
static double qio_speed(QCryptoCipherAlgo alg, QCryptoCipherMode mode, gboolean sectors,
                        QCryptoBackend backend, CipherJob *job, double seconds,
                        QCryptoBackend *used)
{
    if (!qcrypto_backend_supports_cipher(backend, alg, mode)) {
        return 0;
    }
    gsize nkey = qcrypto_cipher_get_key_len(alg) * (mode == QCRYPTO_CIPHER_MODE_XTS ? 2 : 1);
    guint8 key[64], iv[16] = { 0 };
    for (gsize i = 0; i < nkey; i++) {
        key[i] = (guint8)(0x11 * (i + 1));
    }
    job->cipher = qcrypto_cipher_new_with_backend(alg, mode, key, nkey, backend, NULL);
    if (mode != QCRYPTO_CIPHER_MODE_ECB) {
        qcrypto_cipher_setiv(job->cipher, iv, sizeof(iv), NULL);
    }
    job->sectors = sectors;
    double rate = bench_rate(crypt_once, job, job->size, seconds);
    *used = qcrypto_cipher_get_backend(job->cipher);
    qcrypto_cipher_free(job->cipher);
    return rate;
}

int main(int argc, char **argv)
{
    double seconds = 0.3;
    gint rounds = 3;
    const char *only_mode = NULL;
    gint64 only_size = 0;
    const GOptionEntry entries[] = {
        { "time", 't', 0, G_OPTION_ARG_DOUBLE, &seconds, "Seconds per qio cell", "SECONDS" },
        { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Best of this many rounds", "ROUNDS" },
        { "mode", 'm', 0, G_OPTION_ARG_STRING, &only_mode, "Only this mode (or xts-sectors)",
          "MODE" },
        { "size", 's', 0, G_OPTION_ARG_INT64, &only_size, "Only this buffer size", "SIZE" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    if (!bench_parse_options(&argc, &argv, entries)) {
        return 2;
    }

    g_autofree guint8 *buf = g_malloc0(SECTORS_ROUND);
    const QCryptoCipherAlgo algs[] = { QCRYPTO_CIPHER_ALGO_AES_128, QCRYPTO_CIPHER_ALGO_AES_256 };
    const int row_order[] = { 0, 1, 3, 2, 4 };

    g_print("| mode | algorithm | size | op | openssl MB/s | builtin | nettle | gnutls | auto "
            "| auto backend | auto / openssl |\n");
    g_print("|---|---|--:|---|--:|--:|--:|--:|--:|---|--:|\n");
    for (gsize m = 0; m < G_N_ELEMENTS(row_order); m++) {
        int row = row_order[m];
        gboolean sectors = row == 4;
        QCryptoCipherMode mode = sectors ? QCRYPTO_CIPHER_MODE_XTS : (QCryptoCipherMode)row;
        if (only_mode && !g_str_equal(only_mode, mode_names[row])) {
            continue;
        }
        for (gsize a = 0; a < G_N_ELEMENTS(algs); a++) {
            int bits = algs[a] == QCRYPTO_CIPHER_ALGO_AES_128 ? 128 : 256;
            g_autofree char *evp = g_strdup_printf("aes-%d-%s", bits, mode_names[mode]);
            for (gsize i = 0; i < (sectors ? 1 : G_N_ELEMENTS(default_sizes)); i++) {
                gsize size = sectors ? SECTORS_ROUND : default_sizes[i];
                if (only_size > 0 && !sectors && (gsize)only_size != size) {
                    continue;
                }
                for (int encrypt = 1; encrypt >= 0; encrypt--) {
                    double speed[4] = { 0 }, reference = 0;
                    QCryptoBackend used[4] = { QCRYPTO_BACKEND_AUTO };
                    CipherJob job = { .buf = buf, .size = size, .encrypt = encrypt };
                    for (int r = 0; r < rounds; r++) {
                        reference = MAX(reference, bench_openssl_speed(evp, !encrypt,
                                                                       sectors ? SECTOR : size, 1));
                        for (int b = 0; b < 4; b++) {
                            speed[b] = MAX(speed[b], qio_speed(algs[a], mode, sectors, b, &job,
                                                               seconds, &used[b]));
                        }
                    }
                    g_autofree char *ref = bench_cell(reference), *s1 = bench_cell(speed[1]),
                                    *s2 = bench_cell(speed[2]), *s3 = bench_cell(speed[3]),
                                    *s0 = bench_cell(speed[0]),
                                    *ratio = bench_ratio(speed[0], reference);
                    g_print("| %s | aes-%d | %zu | %s | %s | %s | %s | %s | %s | %s | %s |\n",
                            mode_names[row], bits, sectors ? (gsize)SECTOR : size,
                            encrypt ? "enc" : "dec", ref, s1, s2, s3, s0,
                            backend_names[used[0]], ratio);
                }
            }
        }
    }
    return 0;
}
