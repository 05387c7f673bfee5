/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NbdExport: the image qio-nbd serves, a plain file or the decrypted payload of a
 * LUKS volume (through qcrypto_block_*). Offsets and lengths are the export's; the
 * caller has checked them against nbd_export_size(). Failures return a protocol
 * error (NBD_EIO, NBD_ENOSPC...) and say why in ERRP. */

#ifndef QIO_NBD_EXPORT_H
#define QIO_NBD_EXPORT_H

#include <qio.h>

typedef struct NbdExport NbdExport;

/* Opens PATH for reading, and writing unless READONLY. With LUKS_SECRET, PATH is a
 * LUKS volume unlocked with that passphrase. */
NbdExport *nbd_export_open(const char *path, gboolean readonly, QCryptoSecret *luks_secret, GError **errp);
void nbd_export_free(NbdExport *exp);

uint64_t nbd_export_size(const NbdExport *exp);
gboolean nbd_export_is_readonly(const NbdExport *exp);
/* The smallest request size that needs no read-modify-write (1, or the LUKS sector). */
uint32_t nbd_export_min_block(const NbdExport *exp);

int nbd_export_read(NbdExport *exp, uint64_t offset, uint32_t len, uint8_t *buf, GError **errp);
int nbd_export_write(NbdExport *exp, uint64_t offset, uint32_t len, const uint8_t *buf, GError **errp);
/* Writes LEN zero bytes; PUNCH lets a plain file free the range instead. */
int nbd_export_write_zeroes(NbdExport *exp, uint64_t offset, uint32_t len, gboolean punch, GError **errp);
/* Discards a range as a hint: the data there becomes unspecified. */
int nbd_export_trim(NbdExport *exp, uint64_t offset, uint32_t len, GError **errp);
int nbd_export_flush(NbdExport *exp, GError **errp);

#endif
