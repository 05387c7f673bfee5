/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NbdExport: a plain file, or the payload of a LUKS volume that reads decrypt and
 * writes encrypt through qcrypto_block_*. Requests that do not cover whole sectors
 * of an encrypted payload read, patch and rewrite the sectors at their edges. */

#define _GNU_SOURCE /* fallocate() */

#include "nbd-export.h"
#include "nbd-proto.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/falloc.h>
#include <sys/stat.h>
#include <unistd.h>

/* The most a zeroing or unaligned write handles in one step. */
#define CHUNK (1u << 20)

struct NbdExport {
    int fd;
    gboolean readonly;
    uint64_t size;       /* what clients see */
    QCryptoBlock *block; /* NULL: the file is the export */
    uint64_t payload;    /* where the export starts in the file */
    uint32_t sector;     /* the encryption sector, 1 for a plain file */
    uint8_t *scratch;    /* CHUNK bytes to encrypt into, for an encrypted export */
};

/* The protocol's error for a failed system call, with ERRP saying what failed. */
static int io_error(int err, const char *what, uint64_t offset, GError **errp)
{
    g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(err), "%s at %" G_GUINT64_FORMAT ": %s", what, offset,
                g_strerror(err));
    switch (err) {
    case ENOSPC:
    case EDQUOT:
        return NBD_ENOSPC;
    case EPERM:
    case EACCES:
    case EROFS:
        return NBD_EPERM;
    case ENOMEM:
        return NBD_ENOMEM;
    default:
        return NBD_EIO;
    }
}

/* Reads LEN bytes at file offset POS: a short file is an I/O error, not zeroes. */
static int pread_all(int fd, uint8_t *buf, size_t len, uint64_t pos, GError **errp)
{
    while (len) {
        ssize_t n = pread(fd, buf, len, pos);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return io_error(n < 0 ? errno : EIO, "reading the image", pos, errp);
        }
        buf += n, len -= n, pos += n;
    }
    return 0;
}

static int pwrite_all(int fd, const uint8_t *buf, size_t len, uint64_t pos, GError **errp)
{
    while (len) {
        ssize_t n = pwrite(fd, buf, len, pos);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return io_error(errno, "writing the image", pos, errp);
        }
        buf += n, len -= n, pos += n;
    }
    return 0;
}

static int luks_header_read(QCryptoBlock *block, size_t offset, uint8_t *buf, size_t len, void *opaque,
                            GError **errp)
{
    (void)block;
    NbdExport *exp = opaque;
    return pread_all(exp->fd, buf, len, offset, errp) ? -1 : 0;
}

static gboolean open_luks(NbdExport *exp, QCryptoSecret *secret, GError **errp)
{
    QCryptoBlockOpenOptions options = { .format = QCRYPTO_BLOCK_FORMAT_LUKS, .u.luks.key_secret = secret };
    exp->block = qcrypto_block_open(&options, NULL, luks_header_read, exp, 0, errp);
    if (!exp->block) {
        return FALSE;
    }
    exp->payload = qcrypto_block_get_payload_offset(exp->block);
    exp->sector = qcrypto_block_get_sector_size(exp->block);
    exp->scratch = g_malloc(CHUNK);
    return TRUE;
}

NbdExport *nbd_export_open(const char *path, gboolean readonly, QCryptoSecret *luks_secret, GError **errp)
{
    g_autofree NbdExport *exp = g_new0(NbdExport, 1);
    *exp = (NbdExport){ .readonly = readonly, .sector = 1 };
    /* O_NONBLOCK: a FIFO given by mistake is refused below, not waited on; files and
     * block devices ignore it. */
    exp->fd = open(path, (readonly ? O_RDONLY : O_RDWR) | O_CLOEXEC | O_NONBLOCK);
    struct stat st;
    off_t file_size = 0;
    if (exp->fd < 0 || fstat(exp->fd, &st) < 0 ||
        (file_size = S_ISBLK(st.st_mode) ? lseek(exp->fd, 0, SEEK_END) : st.st_size) < 0) {
        int err = errno;
        g_set_error(errp, G_FILE_ERROR, g_file_error_from_errno(err), "%s: %s", path, g_strerror(err));
        if (exp->fd >= 0) {
            close(exp->fd);
        }
        return NULL;
    }
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: not a regular file or a block device", path);
        close(exp->fd);
        return NULL;
    }
    if (luks_secret && !open_luks(exp, luks_secret, errp)) {
        g_prefix_error(errp, "%s: ", path);
        close(exp->fd);
        return NULL;
    }
    /* An encrypted export ends at its last whole sector. */
    exp->size = (uint64_t)file_size > exp->payload ? ((uint64_t)file_size - exp->payload) / exp->sector * exp->sector : 0;
    return g_steal_pointer(&exp);
}

void nbd_export_free(NbdExport *exp)
{
    if (!exp) {
        return;
    }
    close(exp->fd);
    g_clear_pointer(&exp->block, qcrypto_block_free);
    g_free(exp->scratch);
    g_free(exp);
}

uint64_t nbd_export_size(const NbdExport *exp)
{
    return exp->size;
}

gboolean nbd_export_is_readonly(const NbdExport *exp)
{
    return exp->readonly;
}

uint32_t nbd_export_min_block(const NbdExport *exp)
{
    return exp->sector;
}

/* Reads and decrypts whole sectors: OFFSET and LEN are multiples of the sector. */
static int read_sectors(NbdExport *exp, uint64_t offset, size_t len, uint8_t *buf, GError **errp)
{
    int ret = pread_all(exp->fd, buf, len, exp->payload + offset, errp);
    if (!ret && exp->block && qcrypto_block_decrypt(exp->block, offset, buf, len, errp) < 0) {
        ret = NBD_EIO;
    }
    return ret;
}

/* Encrypts (into the scratch buffer, leaving BUF alone) and writes whole sectors,
 * at most CHUNK bytes. */
static int write_sectors(NbdExport *exp, uint64_t offset, size_t len, const uint8_t *buf, GError **errp)
{
    if (exp->block) {
        memcpy(exp->scratch, buf, len);
        if (qcrypto_block_encrypt(exp->block, offset, exp->scratch, len, errp) < 0) {
            return NBD_EIO;
        }
        buf = exp->scratch;
    }
    return pwrite_all(exp->fd, buf, len, exp->payload + offset, errp);
}

/* Writes LEN bytes at OFFSET, inside one sector, keeping the rest of that sector. */
static int write_partial(NbdExport *exp, uint64_t offset, size_t len, const uint8_t *buf, GError **errp)
{
    uint8_t sector[4096];
    uint64_t start = offset / exp->sector * exp->sector;
    g_assert(exp->sector <= sizeof(sector) && offset + len <= start + exp->sector);
    int ret = read_sectors(exp, start, exp->sector, sector, errp);
    if (!ret) {
        memcpy(sector + (offset - start), buf, len);
        ret = write_sectors(exp, start, exp->sector, sector, errp);
    }
    return ret;
}

int nbd_export_read(NbdExport *exp, uint64_t offset, uint32_t len, uint8_t *buf, GError **errp)
{
    uint64_t start = offset / exp->sector * exp->sector;
    uint64_t end = (offset + len + exp->sector - 1) / exp->sector * exp->sector;
    if (start == offset && end == offset + len) {
        return read_sectors(exp, offset, len, buf, errp);
    }
    /* Unaligned on an encrypted export: decrypt the covering sectors, copy a part. */
    g_autofree uint8_t *whole = g_try_malloc(end - start);
    if (!whole) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "out of memory for a %u-byte read", len);
        return NBD_ENOMEM;
    }
    int ret = read_sectors(exp, start, end - start, whole, errp);
    if (!ret) {
        memcpy(buf, whole + (offset - start), len);
    }
    return ret;
}

int nbd_export_write(NbdExport *exp, uint64_t offset, uint32_t len, const uint8_t *buf, GError **errp)
{
    int ret = 0;
    while (len && !ret) {
        uint64_t in_sector = offset % exp->sector;
        size_t n;
        if (in_sector || len < exp->sector) {
            n = MIN(len, exp->sector - in_sector);
            ret = write_partial(exp, offset, n, buf, errp);
        } else {
            n = MIN(len / exp->sector * exp->sector, exp->block ? CHUNK : len);
            ret = write_sectors(exp, offset, n, buf, errp);
        }
        offset += n, buf += n, len -= n;
    }
    return ret;
}

/* Writes zeroes through the normal path, a chunk at a time. */
static int write_zero_bytes(NbdExport *exp, uint64_t offset, uint32_t len, GError **errp)
{
    g_autofree uint8_t *zeroes = g_malloc0(MIN(len, CHUNK));
    int ret = 0;
    while (len && !ret) {
        uint32_t n = MIN(len, CHUNK);
        ret = nbd_export_write(exp, offset, n, zeroes, errp);
        offset += n, len -= n;
    }
    return ret;
}

int nbd_export_write_zeroes(NbdExport *exp, uint64_t offset, uint32_t len, gboolean punch, GError **errp)
{
    if (len && !exp->block) {
        /* A plain file frees or zeroes the range in place when its filesystem can. */
        int mode = punch ? FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE : FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE;
        if (fallocate(exp->fd, mode, offset, len) == 0) {
            return 0;
        }
        if (errno != EOPNOTSUPP && errno != ENODEV && errno != EINVAL) {
            return io_error(errno, "zeroing the image", offset, errp);
        }
    }
    return write_zero_bytes(exp, offset, len, errp);
}

int nbd_export_trim(NbdExport *exp, uint64_t offset, uint32_t len, GError **errp)
{
    /* TRIM is a hint. An encrypted payload keeps its ciphertext: freeing it would
     * show which sectors are in use. */
    if (!len || exp->block || fallocate(exp->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, len) == 0 ||
        errno == EOPNOTSUPP || errno == ENODEV) {
        return 0;
    }
    return io_error(errno, "trimming the image", offset, errp);
}

int nbd_export_flush(NbdExport *exp, GError **errp)
{
    return fdatasync(exp->fd) == 0 ? 0 : io_error(errno, "flushing the image", 0, errp);
}
