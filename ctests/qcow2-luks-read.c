/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * qcow2-luks-read IMAGE PASSPHRASE OFFSET LENGTH: writes LENGTH bytes of a LUKS-encrypted
 * qcow2 image's guest data from OFFSET (one cluster at most) to standard output, as
 * QEMU's qcow2 driver reads them: the LUKS header found through the full-disk-encryption
 * header extension and read through qcrypto_block_open()'s callback, the data cluster
 * through the L1 and L2 tables, decrypted with the host offset as the IV's sector.
 */

#define _GNU_SOURCE /* pread under -std=c11 */

#include <qio.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define QCOW2_MAGIC 0x514649fbu
#define QCOW2_EXT_FDE 0x0537be77u
#define QCOW2_OFFSET_MASK 0x00fffffffffffe00ull

/* Where the LUKS header lives in the qcow2 file. */
typedef struct {
    int fd;
    guint64 offset;
    guint64 length;
} CryptoHeader;

static gboolean read_exact(int fd, guint64 offset, void *buf, size_t len)
{
    return pread(fd, buf, len, (off_t)offset) == (ssize_t)len;
}

static guint32 be32(const guint8 *p)
{
    return (guint32)p[0] << 24 | (guint32)p[1] << 16 | (guint32)p[2] << 8 | p[3];
}

static guint64 be64(const guint8 *p)
{
    return (guint64)be32(p) << 32 | be32(p + 4);
}

/* QEMU's qcow2_crypto_hdr_read_func: reads inside the extension's range only. */
static int header_read(QCryptoBlock *block, size_t offset, uint8_t *buf, size_t buflen,
                       void *opaque, GError **errp)
{
    CryptoHeader *header = opaque;

    (void)block;
    if (offset > header->length || buflen > header->length - offset) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL,
                    "Request for data outside of extension header");
        return -1;
    }
    if (!read_exact(header->fd, header->offset + offset, buf, buflen)) {
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_IO, "Could not read encryption header");
        return -1;
    }
    return 0;
}

static int die(const char *message)
{
    g_printerr("qcow2-luks-read: %s\n", message);
    return 1;
}

int main(int argc, char **argv)
{
    g_autoptr(GError) err = NULL;
    guint8 h[112];

    if (argc != 5) {
        return die("usage: qcow2-luks-read IMAGE PASSPHRASE OFFSET LENGTH");
    }
    guint64 guest = g_ascii_strtoull(argv[3], NULL, 10);
    size_t len = g_ascii_strtoull(argv[4], NULL, 10);
    int fd = open(argv[1], O_RDONLY);
    if (fd < 0 || !read_exact(fd, 0, h, sizeof(h)) || be32(h) != QCOW2_MAGIC) {
        return die("not a qcow2 image");
    }
    guint32 version = be32(h + 4), cluster_bits = be32(h + 20);
    guint32 ext = version >= 3 ? be32(h + 100) : 72;
    if (be32(h + 32) != 2 || cluster_bits < 9 || cluster_bits > 21) {
        return die("not a LUKS-encrypted qcow2 image");
    }

    /* The header extensions, up to the end marker, for the LUKS header's place. */
    CryptoHeader crypto = { fd, 0, 0 };
    for (guint8 e[24]; read_exact(fd, ext, e, 8) && be32(e) != 0;
         ext += 8 + ((be32(e + 4) + 7) & ~7u)) {
        if (be32(e) == QCOW2_EXT_FDE && be32(e + 4) == 16 && read_exact(fd, ext + 8, e + 8, 16)) {
            crypto.offset = be64(e + 8);
            crypto.length = be64(e + 16);
        }
    }
    if (!crypto.length) {
        return die("no full disk encryption header extension");
    }

    g_autoptr(QCryptoSecret) secret = qcrypto_secret_new(argv[2], NULL,
                                                         QCRYPTO_SECRET_FORMAT_RAW, NULL,
                                                         NULL, &err);
    QCryptoBlockOpenOptions options = { .format = QCRYPTO_BLOCK_FORMAT_LUKS };
    options.u.luks.key_secret = secret;
    g_autoptr(QCryptoBlock) block = secret ? qcrypto_block_open(&options, "encrypt.",
                                                                header_read, &crypto, 0, &err)
                                           : NULL;
    if (!block) {
        return die(err->message);
    }

    /* Guest offset to host cluster through L1 and L2. */
    guint64 cluster = 1ull << cluster_bits;
    guint32 l2_bits = cluster_bits - 3;
    guint64 l1_index = guest >> (cluster_bits + l2_bits);
    guint64 l2_index = (guest >> cluster_bits) & ((1ull << l2_bits) - 1);
    guint8 entry[8];
    if (l1_index >= be32(h + 36) || guest % cluster + len > cluster ||
        !read_exact(fd, be64(h + 40) + 8 * l1_index, entry, 8) ||
        !read_exact(fd, (be64(entry) & QCOW2_OFFSET_MASK) + 8 * l2_index, entry, 8)) {
        return die("the guest range has no cluster");
    }
    guint64 host = (be64(entry) & QCOW2_OFFSET_MASK) + guest % cluster;
    g_autofree guint8 *data = g_malloc(len);
    if (!host || !read_exact(fd, host, data, len)) {
        return die("cannot read the data cluster");
    }
    if (qcrypto_block_decrypt(block, host, data, len, &err) < 0) {
        return die(err->message);
    }
    close(fd);
    return fwrite(data, 1, len, stdout) == len ? 0 : die(g_strerror(errno));
}
