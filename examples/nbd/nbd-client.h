/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NbdClient: qio-nbd-client's session with one NBD server over a connected
 * QIOChannel, with blocking I/O: the fixed-newstyle greeting, the options (STARTTLS,
 * structured replies, NBD_OPT_GO with the NBD_OPT_EXPORT_NAME fallback, NBD_OPT_LIST)
 * and the transmission phase, with several requests in flight. Every length the server
 * sends is checked against what was asked before anything is read or allocated for
 * it, so a hostile server can only make a call fail, with a message fit for a
 * terminal. */

#ifndef QIO_NBD_CLIENT_H
#define QIO_NBD_CLIENT_H

#include <qio.h>

typedef struct NbdClient NbdClient;

/* What was agreed for the open export. */
typedef struct {
    gboolean structured; /* structured replies */
    char *name;          /* as the server names it, else as it was asked for; printable */
    char *description;   /* NULL: the server gave none; printable */
    uint64_t size;
    uint16_t flags;                            /* NBD_FLAG_* transmission flags */
    uint32_t min_block, pref_block, max_block; /* the server's, else the protocol's defaults */
} NbdClientExport;

/* Receives one export of NBD_OPT_LIST: its name and description (maybe empty), made
 * printable. */
typedef void (*NbdClientListFunc)(const char *name, const char *description, gpointer opaque);

/* Moves the next LEN bytes of a transfer, in the order of their offsets: for
 * NBD_CMD_WRITE it fills BUF with them; for NBD_CMD_READ it takes them from BUF,
 * where HOLE says the server sent them as a hole (all zeroes). */
typedef gboolean (*NbdClientData)(uint8_t *buf, size_t len, gboolean hole, gpointer opaque, GError **error);

/* Sets ERROR from FORMAT; FALSE, for the caller to return. */
gboolean nbd_fail(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);

/* A session over IOC, a connection to an NBD server, taking a reference to it. */
NbdClient *nbd_client_new(QIOChannel *ioc);

/* Reads the server's greeting and answers with the client flags: options follow. */
gboolean nbd_client_greet(NbdClient *client, GError **error);

/* NBD_OPT_STARTTLS, then a TLS handshake with CREDS, expecting the server's
 * certificate to name HOSTNAME. Anything but success leaves the session unusable:
 * it never goes on in plaintext. */
gboolean nbd_client_starttls(NbdClient *client, QCryptoTLSCreds *creds, const char *hostname, GError **error);

/* The TLS channel after nbd_client_starttls(); NULL: plaintext. */
QIOChannelTLS *nbd_client_get_tls(NbdClient *client);

/* NBD_OPT_LIST: FUNC for each export, as the server's replies come. */
gboolean nbd_client_list(NbdClient *client, NbdClientListFunc func, gpointer opaque, GError **error);

/* Asks for structured replies, then opens export NAME (NBD_OPT_GO, NBD_OPT_EXPORT_NAME
 * if the server does not know it): the session then takes requests. */
gboolean nbd_client_open(NbdClient *client, const char *name, GError **error);

/* The open export. */
const NbdClientExport *nbd_client_get_export(NbdClient *client);

/* Moves bytes START to END (at most the export's size) between the export and DATA,
 * with several requests in flight. NBD_CMD_READ asks for the whole blocks around the
 * range, as the minimum block size says, and passes on the part wanted;
 * NBD_CMD_WRITE takes whole blocks only. */
gboolean nbd_client_transfer(NbdClient *client, uint16_t command, uint64_t start, uint64_t end, NbdClientData data,
                             gpointer opaque, GError **error);

/* NBD_CMD_FLUSH: waits until what the server acknowledged writing is on stable
 * storage. */
gboolean nbd_client_flush(NbdClient *client, GError **error);

/* Ends the session as its phase wants (NBD_OPT_ABORT while negotiating, NBD_CMD_DISC
 * once transmitting, nothing if neither), then TLS with its closure alert, closes the
 * channel and frees; errors no longer matter. */
void nbd_client_free(NbdClient *client);

#endif
