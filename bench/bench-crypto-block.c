/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * LUKS volumes through qcrypto_block_*(): payload throughput and unlock time, beside
 * `openssl speed` and QEMU's own qemu-img and qemu-io measured in the same run, as
 * Markdown tables.
 *
 *   bench-crypto-block [-r ROUNDS] [-s MIB] [-d DIR]
 *   bench-crypto-block --convert [-n] RAW IMAGE
 *   bench-crypto-block --write [-s MIB] IMAGE
 *
 * Every volume is LUKS1 with QEMU's defaults: aes-256-xts-plain64, 512-byte sectors,
 * PBKDF2-SHA256; the passphrase is "qio-bench".
 *
 * In memory: a volume whose header sits in a memfd (iter-time 10 ms, so that setting
 * it up is quick), and MIB MiB (default 1024) of one buffer encrypted, then decrypted,
 * in place by qcrypto_block_encrypt() and _decrypt() in 64 KiB requests, from one thread and
 * from two (each its own half of the buffer, pinned to its own CPU), beside `openssl
 * speed -evp aes-256-xts -bytes 512 [-decrypt]` (with `-multi 2` for two threads).
 *
 * Files, in a tmpfs directory (DIR, else the first of g_get_tmp_dir() and /dev/shm that
 * is tmpfs), MIB MiB each, QEMU's command and qio's equivalent through the C API
 * taking turns, both timed from start to end:
 * - `qemu-img convert -O luks` of a raw file (the image created at iter-time 10 ms,
 *   then the payload) as a process, beside qio creating the image (qcrypto_block_create)
 *   and then, 1 MiB a request (QEMU's luks bounce buffer), read(2), encrypt in place,
 *   pwrite(2);
 * - `qemu-img convert -n` of the raw file into the existing image (unlock, payload),
 *   beside qio opening it (qcrypto_block_open) and the same loop;
 * - `qemu-io -c 'write -P 0xab 0 SIZE'` through the luks driver, beside qio opening the
 *   image, filling a SIZE-byte buffer with 0xab as qemu-io does, then 1 MiB a request
 *   copying it into a bounce buffer, encrypting and pwrite(2)ing it, as QEMU's luks
 *   driver does; also qemu-io's own rate (its write command alone) beside that loop's.
 * Once, QEMU checks qio's images: `qemu-img compare` against the raw file after the
 * first conversion, `qemu-io -c 'read -P 0xab'` after the last write.
 *
 * Unlock: images with iter-time 2000 ms made by qemu-img and by qio (each calibrates
 * its own iteration count), each unlocked by qcrypto_block_open() and by a whole
 * `qemu-io -c 'read 0 512'` process, minus the same process on an iter-time 10 image
 * (start-up, open, a ~10 ms unlock); the median of ROUNDS.
 *
 * Throughput cells are the best of ROUNDS rounds, in which qio and its reference take
 * turns; MB/s is 10^6 bytes per second by the monotonic clock (openssl speed: bytes
 * over its CPU user time). --convert and --write run only qio's side of one file
 * operation, for timing it as a whole process beside QEMU's command.
 */

#define _GNU_SOURCE /* memfd_create */
#include <qio.h>

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <linux/magic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "bench-common.h"

#define MIB (1024 * 1024)
#define REQUEST (64 * 1024)   /* the in-memory requests */
#define CHUNK MIB             /* file requests: QEMU's BLOCK_CRYPTO_MAX_IO_SIZE */
#define PATTERN 0xab          /* qemu-io's write -P */
#define FAST_ITER_TIME 10     /* ms of PBKDF2 an unlock costs, for the payload figures */
#define UNLOCK_ITER_TIME 2000 /* QEMU's default */
#define PASSPHRASE "qio-bench"
#define SECRET_OBJECT "secret,id=sec0,data=" PASSPHRASE

/* Ends the program on ERROR: a benchmark that failed has nothing to report. */
static void check(GError *error, const char *what)
{
    if (error) {
        g_error("%s: %s", what, error->message);
    }
}

static double seconds_since(gint64 start)
{
    return (g_get_monotonic_time() - start) / (double)G_USEC_PER_SEC;
}

/* ---- Volumes in files ---- */

/* Reads or writes all LEN bytes at OFFSET of FD. */
static gboolean file_io(int fd, void *buf, size_t len, off_t offset, gboolean write,
                        GError **errp)
{
    for (size_t done = 0; done < len;) {
        ssize_t n = write ? pwrite(fd, (guint8 *)buf + done, len - done, offset + done)
                          : pread(fd, (guint8 *)buf + done, len - done, offset + done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            int err = n < 0 ? errno : EIO;
            g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(err), "%s at %jd: %s",
                        write ? "pwrite" : "pread", (intmax_t)(offset + done),
                        n < 0 ? g_strerror(err) : "end of file");
            return FALSE;
        }
        done += n;
    }
    return TRUE;
}

/* A volume's file, and on creation the payload bytes to make room for. */
typedef struct {
    int fd;
    guint64 payload_size;
} VolumeFile;

/* As QEMU's luks driver creates an image: the file sized to header and payload. */
static int volume_init(QCryptoBlock *block, size_t headerlen, void *opaque, GError **errp)
{
    VolumeFile *file = opaque;
    (void)block;
    if (ftruncate(file->fd, headerlen + file->payload_size) < 0) {
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(errno), "ftruncate: %s",
                    g_strerror(errno));
        return -1;
    }
    return 0;
}

static int volume_write(QCryptoBlock *block, size_t offset, const uint8_t *buf, size_t buflen,
                        void *opaque, GError **errp)
{
    (void)block;
    return file_io(((VolumeFile *)opaque)->fd, (void *)buf, buflen, offset, TRUE, errp) ? 0 : -1;
}

static int volume_read(QCryptoBlock *block, size_t offset, uint8_t *buf, size_t buflen,
                       void *opaque, GError **errp)
{
    (void)block;
    return file_io(((VolumeFile *)opaque)->fd, buf, buflen, offset, FALSE, errp) ? 0 : -1;
}

static QCryptoSecret *passphrase(void)
{
    g_autoptr(GError) err = NULL;
    QCryptoSecret *secret = qcrypto_secret_new(PASSPHRASE, NULL, QCRYPTO_SECRET_FORMAT_RAW,
                                               NULL, NULL, &err);
    check(err, "secret");
    return secret;
}

/* A new LUKS volume in FD with QEMU's defaults, room for PAYLOAD_SIZE bytes, and
 * PBKDF2 calibrated to ITER_TIME ms. */
static QCryptoBlock *volume_create(int fd, guint64 payload_size, gint64 iter_time)
{
    g_autoptr(QCryptoSecret) secret = passphrase();
    g_autoptr(GError) err = NULL;
    QCryptoBlockCreateOptions options = { .format = QCRYPTO_BLOCK_FORMAT_LUKS };
    options.u.luks.key_secret = secret;
    options.u.luks.has_iter_time = true;
    options.u.luks.iter_time = iter_time;
    VolumeFile file = { fd, payload_size };
    QCryptoBlock *block = qcrypto_block_create(&options, NULL, volume_init, volume_write, &file,
                                               0, &err);
    check(err, "qcrypto_block_create");
    return block;
}

/* Unlocks the LUKS volume in FD; *SECONDS (nullable) gets qcrypto_block_open()'s time. */
static QCryptoBlock *volume_open(int fd, double *seconds)
{
    g_autoptr(QCryptoSecret) secret = passphrase();
    g_autoptr(GError) err = NULL;
    QCryptoBlockOpenOptions options = { .format = QCRYPTO_BLOCK_FORMAT_LUKS };
    options.u.luks.key_secret = secret;
    VolumeFile file = { fd, 0 };
    gint64 start = g_get_monotonic_time();
    QCryptoBlock *block = qcrypto_block_open(&options, NULL, volume_read, &file, 0, &err);
    if (seconds) {
        *seconds = seconds_since(start);
    }
    check(err, "qcrypto_block_open");
    return block;
}

static int open_file(const char *path, int flags)
{
    int fd = g_open(path, flags | O_CLOEXEC, 0644);
    if (fd < 0) {
        g_error("%s: %s", path, g_strerror(errno));
    }
    return fd;
}

static void crypt_or_die(QCryptoBlock *block, gboolean encrypt, guint64 offset, guint8 *buf,
                         size_t len)
{
    g_autoptr(GError) err = NULL;
    if (encrypt) {
        qcrypto_block_encrypt(block, offset, buf, len, &err);
    } else {
        qcrypto_block_decrypt(block, offset, buf, len, &err);
    }
    check(err, encrypt ? "qcrypto_block_encrypt" : "qcrypto_block_decrypt");
}

/* A page-aligned buffer, to free(), as QEMU aligns its I/O buffers (qemu_blockalign()):
 * the kernel copied tmpfs pages into a 1 MiB buffer from malloc() (16 bytes past a page
 * boundary) five times slower than into an aligned one on the AMD machine of the
 * README. */
static guint8 *io_buffer(gsize size)
{
    void *buf;
    if (posix_memalign(&buf, 4096, size)) {
        g_error("out of memory for %zu bytes", size);
    }
    return buf;
}

/* file_io(), ending the program on failure. */
static void io_or_die(int fd, void *buf, size_t len, off_t offset, gboolean write)
{
    g_autoptr(GError) err = NULL;
    file_io(fd, buf, len, offset, write, &err);
    check(err, "file");
}

/* ---- qio's side of the file operations ---- */

/* As `qemu-img convert -O luks RAW IMAGE` (CREATE) or `qemu-img convert -n` into the
 * existing IMAGE: seconds from opening RAW to closing IMAGE. */
static double qio_convert(const char *raw, const char *image, gboolean create)
{
    gint64 start = g_get_monotonic_time();
    int in = open_file(raw, O_RDONLY);
    int out = open_file(image, O_RDWR | (create ? O_CREAT | O_TRUNC : 0));
    struct stat st;
    if (fstat(in, &st) < 0 || st.st_size % 512) {
        g_error("%s: not a raw image of whole 512-byte sectors", raw);
    }
    guint64 size = st.st_size;
    QCryptoBlock *block = create ? volume_create(out, size, FAST_ITER_TIME) : volume_open(out, NULL);
    guint64 payload = qcrypto_block_get_payload_offset(block);
    guint8 *buf = io_buffer(CHUNK);
    for (guint64 off = 0; off < size; off += CHUNK) {
        size_t n = MIN(CHUNK, size - off);
        io_or_die(in, buf, n, off, FALSE);
        crypt_or_die(block, TRUE, off, buf, n);
        io_or_die(out, buf, n, payload + off, TRUE);
    }
    free(buf);
    qcrypto_block_free(block);
    close(in);
    close(out);
    return seconds_since(start);
}

/* As `qemu-io -c 'write -P 0xab 0 SIZE'` on the LUKS image IMAGE: seconds from opening
 * IMAGE to closing it; *LOOP_SECONDS gets the request loop's alone, the part qemu-io's
 * own rate covers. */
static double qio_write(const char *image, guint64 size, double *loop_seconds)
{
    gint64 start = g_get_monotonic_time();
    int fd = open_file(image, O_RDWR);
    QCryptoBlock *block = volume_open(fd, NULL);
    guint64 payload = qcrypto_block_get_payload_offset(block);
    guint8 *data = io_buffer(size), *bounce = io_buffer(CHUNK);
    memset(data, PATTERN, size);
    gint64 loop_start = g_get_monotonic_time();
    for (guint64 off = 0; off < size; off += CHUNK) {
        size_t n = MIN(CHUNK, size - off);
        memcpy(bounce, data + off, n);
        crypt_or_die(block, TRUE, off, bounce, n);
        io_or_die(fd, bounce, n, payload + off, TRUE);
    }
    *loop_seconds = seconds_since(loop_start);
    free(data);
    free(bounce);
    qcrypto_block_free(block);
    close(fd);
    return seconds_since(start);
}

/* ---- QEMU's side ---- */

/* QEMU's --image-opts for the file at PATH through DRIVER, commas doubled as QEMU's
 * option syntax escapes them. */
static char *image_opts(const char *driver, const char *path)
{
    g_auto(GStrv) parts = g_strsplit(path, ",", -1);
    g_autofree char *escaped = g_strjoinv(",,", parts);
    return g_strdup_printf("driver=%s,%sfile.filename=%s", driver,
                           g_str_equal(driver, "luks") ? "key-secret=sec0," : "", escaped);
}

/* Runs a QEMU tool, ending the program if it fails; whole-process seconds. */
static double run_or_die(const char *const *argv, char **out)
{
    g_autoptr(GError) err = NULL;
    double seconds = bench_run(argv, out, &err);
    check(err, argv[0]);
    return seconds;
}

static double qemu_convert(const char *raw, const char *image, gboolean create)
{
    g_autofree char *opts = image_opts("luks", image);
    const char *create_argv[] = { "qemu-img", "convert", "-f", "raw", "-O", "luks",
                                  "--object", SECRET_OBJECT, "-o",
                                  "key-secret=sec0,iter-time=" G_STRINGIFY(FAST_ITER_TIME),
                                  raw, image, NULL };
    const char *into_argv[] = { "qemu-img", "convert", "-n", "-f", "raw", "--object",
                                SECRET_OBJECT, raw, "--target-image-opts", opts, NULL };
    return run_or_die(create ? create_argv : into_argv, NULL);
}

/* Runs qemu-io COMMAND on the LUKS image IMAGE; whole-process seconds. *OUT (nullable)
 * gets what it printed. */
static double qemu_io(const char *image, const char *command, char **out)
{
    g_autofree char *opts = image_opts("luks", image);
    const char *argv[] = { "qemu-io", "--object", SECRET_OBJECT, "--image-opts", opts,
                           "-c", command, NULL };
    return run_or_die(argv, out);
}

/* The rate qemu-io prints after a command ("1 GiB, 1 ops; 0:00:02.75 (372.256 MiB/sec
 * and 0.3635 ops/sec)"), in MB/s; 0 if there is none. */
static double qemu_io_rate(const char *out)
{
    static const char *const units[] = { "bytes", "KiB", "MiB", "GiB", "TiB" };
    const char *ops = strstr(out, " ops; ");
    const char *rate = ops ? strchr(ops, '(') : NULL;
    if (!rate) {
        return 0;
    }
    char *unit;
    double value = g_ascii_strtod(rate + 1, &unit);
    while (*unit == ' ') {
        unit++;
    }
    for (gsize i = 0; i < G_N_ELEMENTS(units); i++) {
        if (g_str_has_prefix(unit, units[i])) {
            return value * (double)(1ull << (10 * i)) / 1e6;
        }
    }
    return 0;
}

static double qemu_io_write(const char *image, guint64 size, double *own_rate)
{
    g_autofree char *command = g_strdup_printf("write -P 0x%x 0 %" G_GUINT64_FORMAT, PATTERN,
                                               size);
    g_autofree char *out = NULL;
    double seconds = qemu_io(image, command, &out);
    *own_rate = qemu_io_rate(out);
    return seconds;
}

/* A LUKS image of 1 MiB made by qemu-img, PBKDF2 calibrated to ITER_TIME ms. */
static void qemu_create(const char *image, int iter_time)
{
    g_autofree char *options = g_strdup_printf("key-secret=sec0,iter-time=%d", iter_time);
    const char *argv[] = { "qemu-img", "create", "-f", "luks", "--object", SECRET_OBJECT,
                           "-o", options, image, "1M", NULL };
    run_or_die(argv, NULL);
}

/* ---- In memory ---- */

/* The raw data: 64-bit words different from each other and from zero, so that no tool
 * can skip a block as zero or as unchanged. */
static guint64 pattern_word(gsize i)
{
    return (i + 1) * G_GUINT64_CONSTANT(0x9e3779b97f4a7c15);
}

static void pattern_fill(guint8 *buf, gsize size)
{
    guint64 *words = (guint64 *)buf;
    for (gsize i = 0; i < size / 8; i++) {
        words[i] = pattern_word(i);
    }
}

static gboolean pattern_holds(const guint8 *buf, gsize size)
{
    const guint64 *words = (const guint64 *)buf;
    for (gsize i = 0; i < size / 8; i++) {
        if (words[i] != pattern_word(i)) {
            return FALSE;
        }
    }
    return TRUE;
}

/* One thread's share: LEN bytes at BUF, which sit at OFFSET in the payload. */
typedef struct {
    QCryptoBlock *block;
    guint8 *buf;
    guint64 offset;
    gsize len;
    gboolean encrypt;
    int cpu; /* -1: not pinned */
} Region;

static gpointer crypt_region(gpointer data)
{
    Region *region = data;
    if (region->cpu >= 0) {
        bench_pin_to_cpu(region->cpu);
    }
    for (gsize off = 0; off < region->len; off += REQUEST) {
        crypt_or_die(region->block, region->encrypt, region->offset + off, region->buf + off,
                     REQUEST);
    }
    return NULL;
}

/* MB/s of encrypting or decrypting the SIZE bytes at BUF in place, in REQUEST-byte
 * calls from THREADS threads, each its own part of BUF and, when there are two or
 * more, its own CPU. */
static double block_rate(QCryptoBlock *block, guint8 *buf, gsize size, gboolean encrypt,
                         int threads)
{
    g_autofree Region *regions = g_new(Region, threads);
    g_autofree GThread **workers = g_new(GThread *, threads);
    gsize part = size / threads;
    gint64 start = g_get_monotonic_time();
    for (int t = 0; t < threads; t++) {
        regions[t] = (Region){ block, buf + t * part, t * part, part, encrypt,
                               threads > 1 ? t : -1 };
        workers[t] = g_thread_new("bench-crypt", crypt_region, &regions[t]);
    }
    for (int t = 0; t < threads; t++) {
        g_thread_join(workers[t]);
    }
    return size / seconds_since(start) / 1e6;
}

/* ---- The run ---- */

static gboolean is_tmpfs(const char *dir)
{
    struct statfs st;
    return statfs(dir, &st) == 0 && st.f_type == TMPFS_MAGIC;
}

/* One iter-time 2000 image and its unlock times in seconds, a round each: qio's
 * qcrypto_block_open(), and qemu-io's process minus the baseline's. */
typedef struct {
    const char *made_by;
    char *path;
    gint64 slot_iters;
    double *qio, *qemu;
} UnlockImage;

/* The first active key slot's PBKDF2 iterations of the volume in IMAGE. */
static gint64 slot_iterations(const char *image)
{
    int fd = open_file(image, O_RDONLY);
    g_autoptr(QCryptoBlock) block = volume_open(fd, NULL);
    close(fd);
    g_autoptr(GError) err = NULL;
    g_autoptr(QCryptoBlockInfo) info = qcrypto_block_get_info(block, &err);
    check(err, "qcrypto_block_get_info");
    for (QCryptoBlockInfoLUKSSlotList *slot = info->u.luks.slots; slot; slot = slot->next) {
        if (slot->value->active) {
            return slot->value->iters;
        }
    }
    return 0;
}

static double qio_unlock(const char *image)
{
    double seconds;
    int fd = open_file(image, O_RDONLY);
    qcrypto_block_free(volume_open(fd, &seconds));
    close(fd);
    return seconds;
}

static void print_ms_cell(double seconds)
{
    g_print(" %.0f |", seconds * 1e3);
}

int main(int argc, char **argv)
{
    gint rounds = 3;
    gint64 mib = 1024;
    g_autofree char *dir_option = NULL;
    gboolean convert_only = FALSE, no_create = FALSE, write_only = FALSE;
    const GOptionEntry entries[] = {
        { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Best (unlock: median) of this many rounds",
          "ROUNDS" },
        { "size", 's', 0, G_OPTION_ARG_INT64, &mib, "MiB through each operation (default 1024)",
          "MIB" },
        { "dir", 'd', 0, G_OPTION_ARG_FILENAME, &dir_option,
          "Directory for the files (default: a tmpfs one)", "DIR" },
        { "convert", 0, 0, G_OPTION_ARG_NONE, &convert_only,
          "Only convert RAW into the LUKS image IMAGE through qio, as qemu-img convert -O luks",
          NULL },
        { "no-create", 'n', 0, G_OPTION_ARG_NONE, &no_create,
          "With --convert: into the existing IMAGE, as qemu-img convert -n", NULL },
        { "write", 0, 0, G_OPTION_ARG_NONE, &write_only,
          "Only write MIB MiB of 0xab into the LUKS image IMAGE through qio, as qemu-io -c "
          "'write -P 0xab'", NULL },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    if (!bench_parse_options(&argc, &argv, entries)) {
        return 2;
    }
    if (rounds < 1 || mib < 1 || (convert_only && argc != 3) || (write_only && argc != 2) ||
        (!convert_only && !write_only && argc != 1) || (no_create && !convert_only)) {
        g_printerr("Usage: %s [-r ROUNDS] [-s MIB] [-d DIR] | --convert [-n] RAW IMAGE | "
                   "--write [-s MIB] IMAGE (see --help)\n", g_get_prgname());
        return 2;
    }
    guint64 size = (guint64)mib * MIB;
    double loop_seconds;
    if (convert_only) {
        double seconds = qio_convert(argv[1], argv[2], !no_create);
        g_print("qio convert%s: %.3f s\n", no_create ? " -n" : "", seconds);
        return 0;
    }
    if (write_only) {
        double seconds = qio_write(argv[1], size, &loop_seconds);
        g_print("qio write: %.3f s, request loop %.3f s (%.0f MB/s)\n", seconds, loop_seconds,
                size / loop_seconds / 1e6);
        return 0;
    }

    /* The files' directory: DIR, else a tmpfs one, so that the figures are CPU work. */
    const char *parent = dir_option;
    if (!parent) {
        parent = is_tmpfs(g_get_tmp_dir()) || !is_tmpfs("/dev/shm") ? g_get_tmp_dir() : "/dev/shm";
    }
    g_autofree char *dir = g_build_filename(parent, "qio-bench-block-XXXXXX", NULL);
    if (!g_mkdtemp(dir)) {
        g_error("%s: %s", dir, g_strerror(errno));
    }
    g_autofree char *raw = g_build_filename(dir, "raw.img", NULL);
    g_autofree char *qemu_image = g_build_filename(dir, "qemu.luks", NULL);
    g_autofree char *qio_image = g_build_filename(dir, "qio.luks", NULL);
    g_autofree char *base_image = g_build_filename(dir, "unlock-base.luks", NULL);
    UnlockImage unlock[] = {
        { .made_by = "qemu-img", .path = g_build_filename(dir, "unlock-qemu.luks", NULL) },
        { .made_by = "qio", .path = g_build_filename(dir, "unlock-qio.luks", NULL) },
    };
    g_autofree char *qemu_img = g_find_program_in_path("qemu-img");
    g_autofree char *qemu_io_path = g_find_program_in_path("qemu-io");
    gboolean have_qemu = qemu_img && qemu_io_path;
    g_print("%" G_GINT64_FORMAT " MiB; files in %s (%s); %d rounds%s\n\n", mib, parent,
            is_tmpfs(parent) ? "tmpfs" : "not tmpfs", rounds,
            have_qemu ? "" : "; qemu-img or qemu-io not in PATH: no QEMU figures");

    /* The buffer holds the raw file's data, which the in-memory rounds encrypt and
     * decrypt back. */
    guint8 *buf = io_buffer(size);
    pattern_fill(buf, size);
    int fd = open_file(raw, O_WRONLY | O_CREAT | O_TRUNC);
    io_or_die(fd, buf, size, 0, TRUE);
    close(fd);
    int memfd = memfd_create("bench-crypto-block", MFD_CLOEXEC);
    if (memfd < 0) {
        g_error("memfd_create: %s", g_strerror(errno));
    }
    QCryptoBlock *block = volume_create(memfd, 0, FAST_ITER_TIME);

    /* Throughput: in memory, then the files; qio and its reference take turns. */
    enum { ENC1, DEC1, ENC2, DEC2, MEMORY_ROWS };
    enum { CONVERT, CONVERT_N, WRITE, WRITE_LOOP, FILE_ROWS };
    double openssl[MEMORY_ROWS] = { 0 }, qio[MEMORY_ROWS] = { 0 };
    double qemu_s[FILE_ROWS], qio_s[FILE_ROWS];
    for (int row = 0; row < FILE_ROWS; row++) {
        qemu_s[row] = qio_s[row] = G_MAXDOUBLE;
    }
    for (int r = 0; r < rounds; r++) {
        for (int row = 0; row < MEMORY_ROWS; row++) {
            gboolean encrypt = row == ENC1 || row == ENC2;
            int threads = row < ENC2 ? 1 : 2;
            openssl[row] = MAX(openssl[row], bench_openssl_speed("aes-256-xts", !encrypt, 512,
                                                                 threads));
            qio[row] = MAX(qio[row], block_rate(block, buf, size, encrypt, threads));
        }
        double seconds[FILE_ROWS] = { 0 }, rate = 0;
        if (have_qemu) {
            seconds[CONVERT] = qemu_convert(raw, qemu_image, TRUE);
        }
        qio_s[CONVERT] = MIN(qio_s[CONVERT], qio_convert(raw, qio_image, TRUE));
        if (have_qemu) {
            seconds[CONVERT_N] = qemu_convert(raw, qemu_image, FALSE);
        }
        qio_s[CONVERT_N] = MIN(qio_s[CONVERT_N], qio_convert(raw, qio_image, FALSE));
        if (have_qemu && r == 0) {
            /* QEMU reads qio's image as the raw file. */
            g_autofree char *raw_opts = image_opts("raw", raw);
            g_autofree char *luks_opts = image_opts("luks", qio_image);
            const char *argv_compare[] = { "qemu-img", "compare", "--object", SECRET_OBJECT,
                                           "--image-opts", raw_opts, luks_opts, NULL };
            run_or_die(argv_compare, NULL);
        }
        if (have_qemu) {
            seconds[WRITE] = qemu_io_write(qemu_image, size, &rate);
            seconds[WRITE_LOOP] = size / (rate * 1e6);
        }
        qio_s[WRITE] = MIN(qio_s[WRITE], qio_write(qio_image, size, &loop_seconds));
        qio_s[WRITE_LOOP] = MIN(qio_s[WRITE_LOOP], loop_seconds);
        for (int row = 0; have_qemu && row < FILE_ROWS; row++) {
            qemu_s[row] = MIN(qemu_s[row], seconds[row]);
        }
    }
    if (!pattern_holds(buf, size)) {
        g_error("decryption did not give the data back");
    }
    qcrypto_block_free(block);
    close(memfd);
    free(buf);
    if (have_qemu) {
        /* QEMU reads the pattern qio wrote. */
        g_autofree char *command = g_strdup_printf("read -P 0x%x 0 %" G_GUINT64_FORMAT, PATTERN,
                                                   size);
        qemu_io(qio_image, command, NULL);
    }
    g_unlink(raw);
    g_unlink(qemu_image);
    g_unlink(qio_image);

    /* Unlock: each image's slot iterations are calibrated by its maker. */
    fd = open_file(unlock[1].path, O_RDWR | O_CREAT | O_TRUNC);
    qcrypto_block_free(volume_create(fd, MIB, UNLOCK_ITER_TIME));
    close(fd);
    if (have_qemu) {
        qemu_create(unlock[0].path, UNLOCK_ITER_TIME);
        qemu_create(base_image, FAST_ITER_TIME);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(unlock); i++) {
        unlock[i].qio = g_new0(double, rounds);
        unlock[i].qemu = g_new0(double, rounds);
        if (have_qemu || i == 1) {
            unlock[i].slot_iters = slot_iterations(unlock[i].path);
        }
    }
    double *base = g_new0(double, rounds);
    for (int r = 0; r < rounds; r++) {
        for (gsize i = have_qemu ? 0 : 1; i < G_N_ELEMENTS(unlock); i++) {
            unlock[i].qio[r] = qio_unlock(unlock[i].path);
            if (have_qemu) {
                unlock[i].qemu[r] = qemu_io(unlock[i].path, "read 0 512", NULL);
            }
        }
        if (have_qemu) {
            base[r] = qemu_io(base_image, "read 0 512", NULL);
            for (gsize i = 0; i < G_N_ELEMENTS(unlock); i++) {
                unlock[i].qemu[r] -= base[r];
            }
        }
    }
    double base_median = bench_median(base, rounds);
    g_free(base);
    g_unlink(base_image);

    g_print("| aes-256-xts-plain64 | threads | openssl speed MB/s | qio MB/s | qio / openssl |\n");
    g_print("|---|--:|--:|--:|--:|\n");
    for (int row = 0; row < MEMORY_ROWS; row++) {
        g_autofree char *ref = bench_cell(openssl[row]), *value = bench_cell(qio[row]),
                        *ratio = bench_ratio(qio[row], openssl[row]);
        g_print("| %s, 64 KiB requests | %d | %s | %s | %s |\n",
                row == ENC1 || row == ENC2 ? "encrypt" : "decrypt", row < ENC2 ? 1 : 2, ref,
                value, ratio);
    }

    static const char *const file_rows[] = {
        "`qemu-img convert -O luks`: create, then payload",
        "`qemu-img convert -n`: unlock, then payload",
        "`qemu-io -c 'write -P 0xab'`: unlock, fill, payload",
        "`qemu-io -c 'write -P 0xab'`: payload (qemu-io's own rate)",
    };
    g_print("\n| %" G_GINT64_FORMAT " MiB, files | QEMU s | qio s | QEMU MB/s | qio MB/s "
            "| qio / QEMU |\n", mib);
    g_print("|---|--:|--:|--:|--:|--:|\n");
    for (int row = 0; row < FILE_ROWS; row++) {
        double qemu_rate = have_qemu ? size / qemu_s[row] / 1e6 : 0;
        double qio_rate = size / qio_s[row] / 1e6;
        g_autofree char *ref = bench_cell(qemu_rate), *value = bench_cell(qio_rate),
                        *ratio = bench_ratio(qio_rate, qemu_rate);
        g_autofree char *ref_s = have_qemu ? g_strdup_printf("%.2f", qemu_s[row]) : g_strdup("-");
        g_print("| %s | %s | %.2f | %s | %s | %s |\n", file_rows[row], ref_s, qio_s[row], ref,
                value, ratio);
    }

    g_print("\n| unlock, iter-time %d, image made by | slot iterations | qemu-io ms "
            "(minus %.0f ms baseline) | qio ms | qio / QEMU |\n", UNLOCK_ITER_TIME,
            base_median * 1e3);
    g_print("|---|--:|--:|--:|--:|\n");
    for (gsize i = have_qemu ? 0 : 1; i < G_N_ELEMENTS(unlock); i++) {
        double qio_median = bench_median(unlock[i].qio, rounds);
        double qemu_median = have_qemu ? bench_median(unlock[i].qemu, rounds) : 0;
        g_autofree char *ratio = bench_ratio(qemu_median, qio_median);
        g_print("| %s | %" G_GINT64_FORMAT " |", unlock[i].made_by, unlock[i].slot_iters);
        if (have_qemu) {
            print_ms_cell(qemu_median);
        } else {
            g_print(" - |");
        }
        print_ms_cell(qio_median);
        g_print(" %s |\n", ratio);
    }
    for (gsize i = 0; i < G_N_ELEMENTS(unlock); i++) {
        g_unlink(unlock[i].path);
        g_free(unlock[i].path);
        g_free(unlock[i].qio);
        g_free(unlock[i].qemu);
    }
    g_rmdir(dir);
    return 0;
}
