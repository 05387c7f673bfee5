/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qio-luks: create, inspect, unlock and convert LUKS volume images through qio's
 * QCryptoBlock API, as QEMU's block layer uses it. `qio-luks --help` documents it.
 */

#define _GNU_SOURCE /* pread, pwrite, ftruncate, O_CLOEXEC under -std=c11 */

#include <qio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define PROGRAM "qio-luks"
/* Payload bytes encrypted or decrypted per call: large enough that the per-call cost
 * vanishes, small enough for progress to move. */
#define CHUNK (4 * 1024 * 1024)

static const char summary[] =
    "Commands:\n"
    "  create IMAGE SIZE          Create a LUKS1 image with a payload of SIZE bytes\n"
    "                             (suffixes K, M, G, T: powers of 1024), unlocked by\n"
    "                             the passphrase in key slot 0.\n"
    "  dump IMAGE                 Describe the header: algorithms, UUID, key slots.\n"
    "  test-passphrase IMAGE      Exit 0 if the passphrase unlocks a key slot, 1 if not.\n"
    "  add-key IMAGE              Put the new passphrase in a free key slot (or in\n"
    "                             --key-slot), unlocking with the passphrase.\n"
    "  remove-key IMAGE           Erase the key slots the passphrase unlocks (or\n"
    "                             --key-slot). Erasing the last one needs --force.\n"
    "  encrypt RAW IMAGE          Create IMAGE holding RAW's bytes, encrypted.\n"
    "  decrypt IMAGE RAW          Write IMAGE's decrypted payload to RAW.\n"
    "  read IMAGE OFFSET LENGTH   Write LENGTH decrypted payload bytes from OFFSET to\n"
    "                             standard output.\n"
    "\n"
    "LUKS1 and LUKS2 images open; create, add-key and remove-key write LUKS1.";

static const char description[] =
    "Passphrases are the bytes of a file (--passphrase-file FILE, all of it, newline\n"
    "included, as cryptsetup's --key-file reads it) or a secret given as QEMU's secret\n"
    "object takes it (--secret data=TEXT or --secret file=PATH, with ,format=base64 for\n"
    "base64). dump needs none (it reads the header alone), nor does remove-key with\n"
    "--key-slot; every other command refuses to run without one. add-key takes the new\n"
    "passphrase from --new-passphrase-file or --new-secret.\n"
    "\n"
    "With --header FILE the LUKS header is detached: it lives in FILE, and IMAGE holds\n"
    "the payload alone, from its first byte (cryptsetup's --header).\n"
    "\n"
    "Created volumes use QEMU's defaults: aes-256 in XTS mode with plain64 IVs, sha256\n"
    "for PBKDF2 and the anti-forensic splitter, PBKDF2 iterations calibrated to take\n"
    "2000 ms on this machine. --cipher takes cryptsetup's form (aes-cbc-essiv:sha256,\n"
    "serpent-xts-plain64, twofish-cbc-plain) with --key-size BITS; --hash names PBKDF2's\n"
    "hash and --iter-time its milliseconds.\n"
    "\n"
    "Progress goes to standard error while it is a terminal, or with --progress.\n"
    "\n"
    "Exit status: 0 on success, 1 on failure (a wrong passphrase included), 2 for a\n"
    "command line that cannot be run.\n"
    "\n"
    "Examples:\n"
    "  qio-luks --secret data=s3cret create disk.luks 1G\n"
    "  qio-luks --passphrase-file key dump disk.luks\n"
    "  qio-luks --passphrase-file key encrypt disk.raw disk.luks\n"
    "  qio-luks --passphrase-file key read disk.luks 0 512 | hexdump -C";

/* The command line, once parsed. */
typedef struct {
    char *passphrase_file;
    char *secret;
    char *new_passphrase_file;
    char *new_secret;
    char *header;
    char *cipher;
    int key_size;
    char *hash;
    gint64 iter_time;
    int key_slot;
    gboolean force;
    gboolean progress;
} Options;

static Options opts = { .key_slot = -1, .iter_time = -1 };

static GOptionEntry entries[] = {
    { "passphrase-file", 'd', 0, G_OPTION_ARG_FILENAME, &opts.passphrase_file,
      "Read the passphrase from FILE", "FILE" },
    { "secret", 's', 0, G_OPTION_ARG_STRING, &opts.secret,
      "The passphrase as QEMU's secret object gives it", "data=TEXT|file=PATH[,format=base64]" },
    { "new-passphrase-file", 0, 0, G_OPTION_ARG_FILENAME, &opts.new_passphrase_file,
      "add-key: read the new passphrase from FILE", "FILE" },
    { "new-secret", 0, 0, G_OPTION_ARG_STRING, &opts.new_secret,
      "add-key: the new passphrase, as --secret", "SECRET" },
    { "header", 'H', 0, G_OPTION_ARG_FILENAME, &opts.header,
      "The LUKS header is in FILE, detached from IMAGE", "FILE" },
    { "cipher", 'c', 0, G_OPTION_ARG_STRING, &opts.cipher,
      "create, encrypt: the cipher (default aes-xts-plain64)", "SPEC" },
    { "key-size", 'k', 0, G_OPTION_ARG_INT, &opts.key_size,
      "create, encrypt: the key size in bits (XTS: both keys; default 512 for XTS, else 256)",
      "BITS" },
    { "hash", 0, 0, G_OPTION_ARG_STRING, &opts.hash,
      "create, encrypt: PBKDF2's hash (default sha256)", "HASH" },
    { "iter-time", 'i', 0, G_OPTION_ARG_INT64, &opts.iter_time,
      "create, encrypt, add-key: PBKDF2 milliseconds per unlock (default 2000)", "MS" },
    { "key-slot", 'S', 0, G_OPTION_ARG_INT, &opts.key_slot,
      "add-key, remove-key: the key slot (0-7)", "N" },
    { "force", 'f', 0, G_OPTION_ARG_NONE, &opts.force,
      "add-key: overwrite an active slot; remove-key: erase the last one", NULL },
    { "progress", 'p', 0, G_OPTION_ARG_NONE, &opts.progress,
      "Report progress on standard error even when it is not a terminal", NULL },
    { NULL },
};

/* ---- Names of QEMU's enums ---------------------------------------------------- */

static const char *const cipher_names[QCRYPTO_CIPHER_ALGO__MAX] = {
    "aes-128", "aes-192", "aes-256", "des", "3des", "cast5-128", "serpent-128",
    "serpent-192", "serpent-256", "twofish-128", "twofish-192", "twofish-256", "sm4",
};
static const char *const mode_names[QCRYPTO_CIPHER_MODE__MAX] = { "ecb", "cbc", "xts", "ctr" };
static const char *const ivgen_names[QCRYPTO_IV_GEN_ALGO__MAX] = { "plain", "plain64", "essiv" };
static const char *const hash_names[QCRYPTO_HASH_ALGO__MAX] = {
    "md5", "sha1", "sha224", "sha256", "sha384", "sha512", "ripemd160", "sm3",
};

static int lookup(const char *name, const char *const *names, int n)
{
    for (int i = 0; i < n; i++) {
        if (names[i] && g_str_equal(name, names[i])) {
            return i;
        }
    }
    return -1;
}

static const char *name_of(int value, const char *const *names, int n)
{
    return value >= 0 && value < n ? names[value] : "unknown";
}

/* ---- Errors ------------------------------------------------------------------ */

/* Prints "qio-luks: CONTEXT: MESSAGE" and frees the error; returns 1, the exit status. */
static int fail(GError *error, const char *context)
{
    if (context) {
        g_printerr(PROGRAM ": %s: %s\n", context, error->message);
    } else {
        g_printerr(PROGRAM ": %s\n", error->message);
    }
    g_error_free(error);
    return 1;
}

static int usage(const char *message)
{
    g_printerr(PROGRAM ": %s\nTry '" PROGRAM " --help' for more information.\n", message);
    return 2;
}

static gboolean set_errno_error(GError **errp, const char *what, const char *path)
{
    int err = errno;
    g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(err), "%s %s: %s", what, path,
                g_strerror(err));
    return FALSE;
}

/* ---- Passphrases -------------------------------------------------------------- */

/* A secret from a --secret value: data=TEXT or file=PATH, then format=raw|base64. */
static QCryptoSecret *secret_from_spec(const char *spec, GError **errp)
{
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);
    const char *data = NULL, *file = NULL;
    QCryptoSecretFormat format = QCRYPTO_SECRET_FORMAT_RAW;

    for (char **p = parts; *p; p++) {
        if (g_str_has_prefix(*p, "data=")) {
            data = *p + 5;
        } else if (g_str_has_prefix(*p, "file=")) {
            file = *p + 5;
        } else if (g_str_equal(*p, "format=raw")) {
            format = QCRYPTO_SECRET_FORMAT_RAW;
        } else if (g_str_equal(*p, "format=base64")) {
            format = QCRYPTO_SECRET_FORMAT_BASE64;
        } else {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                        "Unknown secret property '%s' (data=, file=, format=)", *p);
            return NULL;
        }
    }
    return qcrypto_secret_new(data, file, format, NULL, NULL, errp);
}

/* The passphrase of a FILE option or a SECRET option, or NULL (no error) with neither. */
static QCryptoSecret *passphrase(const char *file, const char *secret, const char *name,
                                 GError **errp)
{
    if (file && secret) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "Give the %s as a file or as a secret, not both", name);
        return NULL;
    }
    if (file) {
        return qcrypto_secret_new(NULL, file, QCRYPTO_SECRET_FORMAT_RAW, NULL, NULL, errp);
    }
    return secret ? secret_from_spec(secret, errp) : NULL;
}

/* ---- Image files ---------------------------------------------------------------- */

/* An image opened for the header callbacks: the file holding the header, and the one
 * holding the payload (the same file unless the header is detached). */
typedef struct {
    const char *path;
    int header_fd;
    int payload_fd;
    gboolean detached;
} Image;

static void image_close(Image *image)
{
    if (image->header_fd >= 0 && image->header_fd != image->payload_fd) {
        close(image->header_fd);
    }
    if (image->payload_fd >= 0) {
        close(image->payload_fd);
    }
    image->header_fd = image->payload_fd = -1;
}

static gboolean image_open(Image *image, const char *path, int flags, GError **errp)
{
    *image = (Image){ path, -1, -1, opts.header != NULL };
    image->payload_fd = open(path, flags | O_CLOEXEC, 0644);
    if (image->payload_fd < 0) {
        return set_errno_error(errp, "Cannot open", path);
    }
    image->header_fd = image->payload_fd;
    if (opts.header) {
        image->header_fd = open(opts.header, (flags & ~O_TRUNC) | O_CLOEXEC, 0644);
        if (image->header_fd < 0) {
            set_errno_error(errp, "Cannot open header", opts.header);
            image_close(image);
            return FALSE;
        }
    }
    return TRUE;
}

/* Reads exactly LEN bytes at OFFSET; a file too short is an error. */
static gboolean read_at(int fd, guint64 offset, guint8 *buf, size_t len, const char *path,
                        GError **errp)
{
    while (len > 0) {
        ssize_t n = pread(fd, buf, len, (off_t)offset);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return set_errno_error(errp, "Cannot read", path);
        }
        if (n == 0) {
            g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                        "%s ends at byte %" G_GUINT64_FORMAT ", before its data", path, offset);
            return FALSE;
        }
        buf += n, len -= n, offset += n;
    }
    return TRUE;
}

static gboolean write_at(int fd, guint64 offset, const guint8 *buf, size_t len,
                         const char *path, GError **errp)
{
    while (len > 0) {
        ssize_t n = pwrite(fd, buf, len, (off_t)offset);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return set_errno_error(errp, "Cannot write", path);
        }
        buf += n, len -= n, offset += n;
    }
    return TRUE;
}

static const char *header_path(const Image *image)
{
    return image->detached ? opts.header : image->path;
}

static int header_read(QCryptoBlock *block, size_t offset, uint8_t *buf, size_t buflen,
                       void *opaque, GError **errp)
{
    Image *image = opaque;
    (void)block;
    return read_at(image->header_fd, offset, buf, buflen, header_path(image), errp) ? 0 : -1;
}

static int header_init(QCryptoBlock *block, size_t headerlen, void *opaque, GError **errp)
{
    Image *image = opaque;
    (void)block;
    if (ftruncate(image->header_fd, (off_t)headerlen) < 0) {
        set_errno_error(errp, "Cannot size", header_path(image));
        return -1;
    }
    return 0;
}

static int header_write(QCryptoBlock *block, size_t offset, const uint8_t *buf, size_t buflen,
                        void *opaque, GError **errp)
{
    Image *image = opaque;
    (void)block;
    return write_at(image->header_fd, offset, buf, buflen, header_path(image), errp) ? 0 : -1;
}

/* Opens IMAGE's volume with SECRET, or reads its header only without one. */
static QCryptoBlock *volume_open(Image *image, const char *path, int flags,
                                 QCryptoSecret *secret, GError **errp)
{
    if (!image_open(image, path, flags, errp)) {
        return NULL;
    }
    QCryptoBlockOpenOptions options = { .format = QCRYPTO_BLOCK_FORMAT_LUKS };
    options.u.luks.key_secret = secret;
    unsigned open_flags = (secret ? 0 : QCRYPTO_BLOCK_OPEN_NO_IO) |
                          (image->detached ? QCRYPTO_BLOCK_OPEN_DETACHED : 0);
    QCryptoBlock *block = qcrypto_block_open(&options, NULL, header_read, image, open_flags,
                                             errp);
    if (!block) {
        image_close(image);
    }
    return block;
}

/* The payload's length in IMAGE: what follows the payload offset. */
static gboolean payload_size(const Image *image, QCryptoBlock *block, guint64 *size,
                             GError **errp)
{
    struct stat st;
    if (fstat(image->payload_fd, &st) < 0) {
        return set_errno_error(errp, "Cannot stat", image->path);
    }
    guint64 offset = qcrypto_block_get_payload_offset(block);
    *size = (guint64)st.st_size > offset ? (guint64)st.st_size - offset : 0;
    return TRUE;
}

/* ---- Progress ------------------------------------------------------------------- */

typedef struct {
    const char *what;
    guint64 total;
    gboolean shown;
    gint64 last;
} Progress;

static void progress_init(Progress *p, const char *what, guint64 total)
{
    *p = (Progress){ what, total, opts.progress || isatty(STDERR_FILENO), 0 };
}

static void progress_update(Progress *p, guint64 done)
{
    gint64 now = g_get_monotonic_time();
    if (!p->shown || (done < p->total && now - p->last < G_USEC_PER_SEC / 4)) {
        return;
    }
    p->last = now;
    g_printerr("\r" PROGRAM ": %s: %3u%% (%" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT
               " MiB)%s",
               p->what, p->total ? (unsigned)(done * 100 / p->total) : 100, done >> 20,
               p->total >> 20, done == p->total ? "\n" : "");
}

/* ---- Creation ------------------------------------------------------------------- */

/* --cipher and --key-size as QEMU's creation options. */
static gboolean cipher_options(QCryptoBlockCreateOptionsLUKS *luks, GError **errp)
{
    const char *spec = opts.cipher ? opts.cipher : "aes-xts-plain64";
    g_auto(GStrv) parts = g_strsplit(spec, "-", 3);
    if (g_strv_length(parts) != 3) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Cipher '%s' is not CIPHER-MODE-IV (aes-xts-plain64)", spec);
        return FALSE;
    }
    int mode = lookup(parts[1], mode_names, QCRYPTO_CIPHER_MODE__MAX);
    char *ivhash = strchr(parts[2], ':');
    if (ivhash) {
        *ivhash++ = '\0';
    }
    int ivgen = lookup(parts[2], ivgen_names, QCRYPTO_IV_GEN_ALGO__MAX);
    int bits = opts.key_size ? opts.key_size : mode == QCRYPTO_CIPHER_MODE_XTS ? 512 : 256;
    int alg_bits = mode == QCRYPTO_CIPHER_MODE_XTS ? bits / 2 : bits;
    g_autofree char *alg_name = g_strdup_printf("%s-%d", parts[0], alg_bits);
    int alg = lookup(alg_name, cipher_names, QCRYPTO_CIPHER_ALGO__MAX);
    int hash = ivhash ? lookup(ivhash, hash_names, QCRYPTO_HASH_ALGO__MAX) : 0;
    if (mode < 0 || ivgen < 0 || alg < 0 || hash < 0) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE,
                    "Unknown %s in cipher '%s' with %d-bit keys",
                    mode < 0 ? "mode" : ivgen < 0 ? "IV generator" : alg < 0 ? "cipher" : "hash",
                    spec, bits);
        return FALSE;
    }
    luks->has_cipher_alg = luks->has_cipher_mode = luks->has_ivgen_alg = true;
    luks->cipher_alg = alg;
    luks->cipher_mode = mode;
    luks->ivgen_alg = ivgen;
    luks->has_ivgen_hash_alg = ivhash != NULL;
    luks->ivgen_hash_alg = hash;
    return TRUE;
}

/* Creates a LUKS1 volume in IMAGE (truncated) with a payload of SIZE bytes, rounded up
 * to whole sectors, unlocked by SECRET. */
static QCryptoBlock *volume_create(Image *image, const char *path, guint64 size,
                                   QCryptoSecret *secret, GError **errp)
{
    QCryptoBlockCreateOptions options = { .format = QCRYPTO_BLOCK_FORMAT_LUKS };
    QCryptoBlockCreateOptionsLUKS *luks = &options.u.luks;

    if (!secret) {
        g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_FAILED,
                    "A new volume needs a passphrase: --passphrase-file or --secret");
        return NULL;
    }
    luks->key_secret = secret;
    if (!cipher_options(luks, errp)) {
        return NULL;
    }
    if (opts.hash) {
        int hash = lookup(opts.hash, hash_names, QCRYPTO_HASH_ALGO__MAX);
        if (hash < 0) {
            g_set_error(errp, G_OPTION_ERROR, G_OPTION_ERROR_BAD_VALUE, "Unknown hash '%s'",
                        opts.hash);
            return NULL;
        }
        luks->has_hash_alg = true;
        luks->hash_alg = hash;
    }
    luks->has_iter_time = opts.iter_time >= 0;
    luks->iter_time = opts.iter_time;
    if (!image_open(image, path, O_RDWR | O_CREAT | O_TRUNC, errp)) {
        return NULL;
    }
    QCryptoBlock *block = qcrypto_block_create(
        &options, NULL, header_init, header_write, image,
        image->detached ? QCRYPTO_BLOCK_CREATE_DETACHED : 0, errp);
    guint64 sector = block ? qcrypto_block_get_sector_size(block) : 1;
    guint64 end = block ? qcrypto_block_get_payload_offset(block) +
                          (size + sector - 1) / sector * sector : 0;
    if (block && ftruncate(image->payload_fd, (off_t)end) < 0) {
        set_errno_error(errp, "Cannot size", path);
        g_clear_pointer(&block, qcrypto_block_free);
    }
    if (!block) {
        image_close(image);
    }
    return block;
}

/* A size with an optional K, M, G or T suffix (powers of 1024). */
static gboolean parse_size(const char *text, guint64 *size)
{
    static const char units[] = "KMGT";
    char *end;
    int shift = 0;

    if (!g_ascii_isdigit(*text)) {
        return FALSE;
    }
    errno = 0;
    guint64 value = g_ascii_strtoull(text, &end, 10);
    if (errno) {
        return FALSE;
    }
    if (*end) {
        const char *unit = strchr(units, g_ascii_toupper(*end));
        if (!unit || end[1]) {
            return FALSE;
        }
        shift = 10 * (int)(unit - units + 1);
    }
    if (value > (G_MAXUINT64 >> shift)) {
        return FALSE;
    }
    *size = value << shift;
    return TRUE;
}

/* ---- Commands ------------------------------------------------------------------- */

static int cmd_create(char **args, QCryptoSecret *secret)
{
    GError *err = NULL;
    Image image;
    guint64 size;

    if (!parse_size(args[1], &size)) {
        return usage("SIZE is a number of bytes, with an optional K, M, G or T suffix");
    }
    g_autoptr(QCryptoBlock) block = volume_create(&image, args[0], size, secret, &err);
    if (!block) {
        return fail(err, args[0]);
    }
    image_close(&image);
    return 0;
}

static void print_slots(const QCryptoBlockInfoLUKS *luks)
{
    int n = 0;
    for (const QCryptoBlockInfoLUKSSlotList *s = luks->slots; s; s = s->next, n++) {
        const QCryptoBlockInfoLUKSSlot *slot = s->value;
        g_print("Key Slot %d: %s\n", n, slot->active ? "ENABLED" : "DISABLED");
        if (slot->active) {
            g_print("\tIterations:         \t%" G_GINT64_FORMAT "\n", slot->iters);
            g_print("\tKey material offset:\t%" G_GINT64_FORMAT "\n", slot->key_offset / 512);
            g_print("\tAF stripes:         \t%" G_GINT64_FORMAT "\n", slot->stripes);
        }
    }
}

static int cmd_dump(char **args, QCryptoSecret *secret)
{
    GError *err = NULL;
    Image image;
    g_autoptr(QCryptoBlock) block = volume_open(&image, args[0], O_RDONLY, secret, &err);
    if (!block) {
        return fail(err, args[0]);
    }
    g_autoptr(QCryptoBlockInfo) info = qcrypto_block_get_info(block, &err);
    if (!info) {
        image_close(&image);
        return fail(err, args[0]);
    }
    /* The version is not part of QEMU's description: it follows the magic. */
    guint8 magic[8];
    gboolean ok = read_at(image.header_fd, 0, magic, sizeof(magic), header_path(&image), &err);
    image_close(&image);
    if (!ok) {
        return fail(err, NULL);
    }
    const QCryptoBlockInfoLUKS *luks = &info->u.luks;
    g_autofree char *mode = g_strdup_printf(
        "%s-%s%s%s", name_of(luks->cipher_mode, mode_names, QCRYPTO_CIPHER_MODE__MAX),
        name_of(luks->ivgen_alg, ivgen_names, QCRYPTO_IV_GEN_ALGO__MAX),
        luks->has_ivgen_hash_alg ? ":" : "",
        luks->has_ivgen_hash_alg
            ? name_of(luks->ivgen_hash_alg, hash_names, QCRYPTO_HASH_ALGO__MAX) : "");

    g_print("LUKS header information for %s\n\n", opts.header ? opts.header : args[0]);
    g_print("Version:       \t%u\n", (unsigned)magic[6] << 8 | magic[7]);
    g_print("Cipher:        \t%s\n", name_of(luks->cipher_alg, cipher_names,
                                              QCRYPTO_CIPHER_ALGO__MAX));
    g_print("Cipher mode:   \t%s\n", mode);
    g_print("Hash spec:     \t%s\n", name_of(luks->hash_alg, hash_names,
                                              QCRYPTO_HASH_ALGO__MAX));
    g_print("Payload offset:\t%" G_GINT64_FORMAT "\n", luks->payload_offset / 512);
    g_print("Detached:      \t%s\n", luks->detached_header ? "yes" : "no");
    g_print("MK iterations: \t%" G_GINT64_FORMAT "\n", luks->master_key_iters);
    g_print("UUID:          \t%s\n\n", luks->uuid);
    print_slots(luks);
    return 0;
}

static int cmd_test_passphrase(char **args, QCryptoSecret *secret)
{
    GError *err = NULL;
    Image image;

    if (!secret) {
        return usage("test-passphrase needs --passphrase-file or --secret");
    }
    g_autoptr(QCryptoBlock) block = volume_open(&image, args[0], O_RDONLY, secret, &err);
    if (!block) {
        return fail(err, args[0]);
    }
    image_close(&image);
    return 0;
}

/* add-key and remove-key: an amendment of the key slots. */
static int amend(char **args, QCryptoSecret *secret, gboolean add)
{
    GError *err = NULL;
    Image image;
    g_autoptr(QCryptoSecret) new_secret = NULL;

    if (add) {
        new_secret = passphrase(opts.new_passphrase_file, opts.new_secret, "new passphrase",
                                &err);
        if (err) {
            return fail(err, NULL);
        }
        if (!new_secret) {
            return usage("add-key needs --new-passphrase-file or --new-secret");
        }
    }
    if (!secret && (add || opts.key_slot < 0)) {
        return usage(add ? "add-key needs the passphrase of an existing key slot"
                         : "remove-key needs the passphrase to remove, or --key-slot");
    }
    g_autoptr(QCryptoBlock) block = volume_open(&image, args[0], O_RDWR, secret, &err);
    if (!block) {
        return fail(err, args[0]);
    }
    QCryptoBlockAmendOptions options = { .format = QCRYPTO_BLOCK_FORMAT_LUKS };
    QCryptoBlockAmendOptionsLUKS *luks = &options.u.luks;
    luks->state = add ? QCRYPTO_BLOCK_LUKS_KEYSLOT_STATE_ACTIVE
                      : QCRYPTO_BLOCK_LUKS_KEYSLOT_STATE_INACTIVE;
    luks->new_secret = new_secret;
    luks->old_secret = add || opts.key_slot >= 0 ? NULL : secret;
    luks->has_keyslot = opts.key_slot >= 0;
    luks->keyslot = opts.key_slot;
    luks->has_iter_time = opts.iter_time >= 0;
    luks->iter_time = opts.iter_time;
    int ret = qcrypto_block_amend_options(block, header_read, header_write, &image, &options,
                                          opts.force, &err);
    image_close(&image);
    return ret < 0 ? fail(err, args[0]) : 0;
}

static int cmd_add_key(char **args, QCryptoSecret *secret)
{
    return amend(args, secret, TRUE);
}

static int cmd_remove_key(char **args, QCryptoSecret *secret)
{
    return amend(args, secret, FALSE);
}

/* Copies LEN bytes from IN at IN_OFFSET to OUT at OUT_OFFSET through BLOCK, encrypting
 * (payload offsets from 0) or decrypting, with progress. */
static gboolean convert(QCryptoBlock *block, gboolean encrypt, int in, const char *in_path,
                        guint64 in_offset, int out, const char *out_path, guint64 out_offset,
                        guint64 len, GError **errp)
{
    size_t sector = qcrypto_block_get_sector_size(block);
    g_autofree guint8 *buf = g_malloc(CHUNK);
    Progress progress;

    progress_init(&progress, encrypt ? "encrypting" : "decrypting", len);
    for (guint64 done = 0; done < len;) {
        size_t n = MIN(CHUNK, len - done);
        size_t padded = (n + sector - 1) / sector * sector;
        memset(buf + n, 0, padded - n);
        if (!read_at(in, in_offset + done, buf, n, in_path, errp)) {
            return FALSE;
        }
        int ret = encrypt ? qcrypto_block_encrypt(block, done, buf, padded, errp)
                          : qcrypto_block_decrypt(block, done, buf, padded, errp);
        if (ret < 0 ||
            !write_at(out, out_offset + done, buf, encrypt ? padded : n, out_path, errp)) {
            return FALSE;
        }
        done += n;
        progress_update(&progress, done);
    }
    return TRUE;
}

static int cmd_encrypt(char **args, QCryptoSecret *secret)
{
    GError *err = NULL;
    Image image;
    struct stat st;
    int raw = open(args[0], O_RDONLY | O_CLOEXEC);

    if (raw < 0 || fstat(raw, &st) < 0) {
        set_errno_error(&err, "Cannot open", args[0]);
        if (raw >= 0) {
            close(raw);
        }
        return fail(err, NULL);
    }
    g_autoptr(QCryptoBlock) block = volume_create(&image, args[1], (guint64)st.st_size, secret,
                                                  &err);
    gboolean ok = block && convert(block, TRUE, raw, args[0], 0, image.payload_fd, args[1],
                                   qcrypto_block_get_payload_offset(block),
                                   (guint64)st.st_size, &err);
    close(raw);
    if (block) {
        image_close(&image);
    }
    return ok ? 0 : fail(err, NULL);
}

static int cmd_decrypt(char **args, QCryptoSecret *secret)
{
    GError *err = NULL;
    Image image;
    guint64 size = 0;

    if (!secret) {
        return usage("decrypt needs --passphrase-file or --secret");
    }
    g_autoptr(QCryptoBlock) block = volume_open(&image, args[0], O_RDONLY, secret, &err);
    if (!block) {
        return fail(err, args[0]);
    }
    int raw = open(args[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    gboolean ok = raw >= 0 ? payload_size(&image, block, &size, &err)
                           : set_errno_error(&err, "Cannot create", args[1]);
    ok = ok && convert(block, FALSE, image.payload_fd, args[0],
                       qcrypto_block_get_payload_offset(block), raw, args[1], 0, size, &err);
    if (raw >= 0) {
        close(raw);
    }
    image_close(&image);
    return ok ? 0 : fail(err, NULL);
}

static int cmd_read(char **args, QCryptoSecret *secret)
{
    GError *err = NULL;
    Image image;
    guint64 offset, len, size = 0;

    if (!secret) {
        return usage("read needs --passphrase-file or --secret");
    }
    if (!parse_size(args[1], &offset) || !parse_size(args[2], &len)) {
        return usage("OFFSET and LENGTH are numbers of bytes");
    }
    g_autoptr(QCryptoBlock) block = volume_open(&image, args[0], O_RDONLY, secret, &err);
    if (!block) {
        return fail(err, args[0]);
    }
    gboolean ok = payload_size(&image, block, &size, &err);
    if (ok && (offset > size || len > size - offset)) {
        g_set_error(&err, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "%" G_GUINT64_FORMAT " bytes at %" G_GUINT64_FORMAT
                    " go past the payload's %" G_GUINT64_FORMAT,
                    len, offset, size);
        ok = FALSE;
    }
    /* Whole sectors around the range, decrypted a chunk at a time. */
    guint64 sector = qcrypto_block_get_sector_size(block);
    guint64 base = qcrypto_block_get_payload_offset(block);
    g_autofree guint8 *buf = g_malloc(CHUNK);
    for (guint64 pos = offset / sector * sector; ok && pos < offset + len;) {
        size_t n = MIN(CHUNK, (offset + len - pos + sector - 1) / sector * sector);
        n = MIN(n, size - pos);
        ok = read_at(image.payload_fd, base + pos, buf, n, args[0], &err) &&
             qcrypto_block_decrypt(block, pos, buf, n, &err) == 0;
        guint64 from = MAX(pos, offset), to = MIN(pos + n, offset + len);
        if (ok && fwrite(buf + (from - pos), 1, to - from, stdout) != to - from) {
            ok = set_errno_error(&err, "Cannot write", "standard output");
        }
        pos += n;
    }
    image_close(&image);
    if (ok && fflush(stdout) != 0) {
        ok = set_errno_error(&err, "Cannot write", "standard output");
    }
    return ok ? 0 : fail(err, NULL);
}

typedef struct {
    const char *name;
    int nargs;
    int (*run)(char **args, QCryptoSecret *secret);
} Command;

static const Command commands[] = {
    { "create", 2, cmd_create },
    { "dump", 1, cmd_dump },
    { "test-passphrase", 1, cmd_test_passphrase },
    { "add-key", 1, cmd_add_key },
    { "remove-key", 1, cmd_remove_key },
    { "encrypt", 2, cmd_encrypt },
    { "decrypt", 2, cmd_decrypt },
    { "read", 3, cmd_read },
};

int main(int argc, char **argv)
{
    g_autoptr(GOptionContext) context = g_option_context_new("COMMAND ARGS...");
    GError *err = NULL;

    g_option_context_set_summary(context, summary);
    g_option_context_set_description(context, description);
    g_option_context_add_main_entries(context, entries, NULL);
    if (!g_option_context_parse(context, &argc, &argv, &err)) {
        int ret = usage(err->message);
        g_error_free(err);
        return ret;
    }
    if (argc < 2) {
        return usage("no command given");
    }
    for (size_t i = 0; i < G_N_ELEMENTS(commands); i++) {
        if (g_str_equal(argv[1], commands[i].name)) {
            if (argc - 2 != commands[i].nargs) {
                g_autofree char *message = g_strdup_printf(
                    "%s takes %d argument%s", commands[i].name, commands[i].nargs,
                    commands[i].nargs == 1 ? "" : "s");
                return usage(message);
            }
            g_autoptr(QCryptoSecret) secret = passphrase(opts.passphrase_file, opts.secret,
                                                         "passphrase", &err);
            if (err) {
                return fail(err, NULL);
            }
            return commands[i].run(argv + 2, secret);
        }
    }
    g_autofree char *message = g_strdup_printf("unknown command '%s'", argv[1]);
    return usage(message);
}
