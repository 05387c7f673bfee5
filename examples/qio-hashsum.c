/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qio-hashsum: print message digests of files, like sha256sum, through qio.
 *
 *   qio-hashsum [-a ALGO] [-b BACKEND] [-v] [FILE...]
 *
 * ALGO is md5, sha1, sha224, sha256 (default), sha384, sha512, ripemd160 or sm3;
 * BACKEND is auto (default), builtin, nettle or gnutls. With no FILE, or when FILE
 * is -, it reads standard input. -v reports which backend computed each digest.
 */

#include <qio.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

static const char *const algo_names[QCRYPTO_HASH_ALGO__MAX] = {
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160", "sm3",
};
static const char *const backend_names[] = { "auto", "builtin", "nettle", "gnutls" };

static int lookup(const char *name, const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        if (g_ascii_strcasecmp(name, names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

/* Hashes one file (or stdin for "-") and prints "HEX  NAME". */
static gboolean hash_file(QCryptoHashAlgo alg, QCryptoBackend backend, gboolean verbose,
                          const char *name)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QCryptoHash) hash = qcrypto_hash_new_with_backend(alg, backend, &error);
    if (!hash) {
        g_printerr("qio-hashsum: %s\n", error->message);
        return FALSE;
    }

    FILE *in = g_str_equal(name, "-") ? stdin : fopen(name, "rb");
    if (!in) {
        g_printerr("qio-hashsum: %s: %s\n", name, g_strerror(errno));
        return FALSE;
    }
    static char buf[1 << 16];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), in)) > 0) {
        if (qcrypto_hash_update(hash, buf, n, &error) < 0) {
            break;
        }
    }
    gboolean read_failed = ferror(in);
    if (in != stdin) {
        fclose(in);
    }
    if (read_failed) {
        g_printerr("qio-hashsum: %s: read error\n", name);
        return FALSE;
    }

    g_autofree char *digest = NULL;
    if (error || qcrypto_hash_finalize_digest(hash, &digest, &error) < 0) {
        g_printerr("qio-hashsum: %s: %s\n", name, error->message);
        return FALSE;
    }
    if (verbose) {
        g_print("%s  %s  (%s, %s backend)\n", digest, name, algo_names[alg],
                backend_names[qcrypto_hash_get_backend(hash)]);
    } else {
        g_print("%s  %s\n", digest, name);
    }
    return TRUE;
}

int main(int argc, char **argv)
{
    const char *algo = "sha256", *backend = "auto";
    gboolean verbose = FALSE;
    const GOptionEntry entries[] = {
        { "algorithm", 'a', 0, G_OPTION_ARG_STRING, &algo, "Hash algorithm", "ALGO" },
        { "backend", 'b', 0, G_OPTION_ARG_STRING, &backend, "Crypto backend", "BACKEND" },
        { "verbose", 'v', 0, G_OPTION_ARG_NONE, &verbose, "Name the backend used", NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    g_autoptr(GOptionContext) context = g_option_context_new("[FILE...]");
    g_autoptr(GError) error = NULL;
    g_option_context_add_main_entries(context, entries, NULL);
    g_option_context_set_summary(context, "Print message digests of files, computed by qio.");
    if (!g_option_context_parse(context, &argc, &argv, &error)) {
        g_printerr("qio-hashsum: %s\n", error->message);
        return 2;
    }

    int alg = lookup(algo, algo_names, QCRYPTO_HASH_ALGO__MAX);
    int be = lookup(backend, backend_names, G_N_ELEMENTS(backend_names));
    if (alg < 0 || be < 0) {
        g_printerr("qio-hashsum: unknown %s '%s'\n", alg < 0 ? "algorithm" : "backend",
                   alg < 0 ? algo : backend);
        return 2;
    }
    if (qcrypto_init(&error) < 0) {
        g_printerr("qio-hashsum: %s\n", error->message);
        return 1;
    }

    gboolean ok = TRUE;
    if (argc < 2) {
        ok = hash_file(alg, be, verbose, "-");
    }
    for (int i = 1; i < argc; i++) {
        ok = hash_file(alg, be, verbose, argv[i]) && ok;
    }
    return ok ? 0 : 1;
}
