/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NbdConn: one client of qio-nbd, from the greeting through the fixed-newstyle
 * negotiation (STARTTLS first when TLS is configured) to the end of transmission,
 * driven by watches on the connection's QIOChannel from the thread-default main
 * context. */

#ifndef QIO_NBD_CONN_H
#define QIO_NBD_CONN_H

#include "nbd-export.h"

typedef struct {
    const char *name;            /* the one export's name */
    const char *description;     /* NULL: none */
    NbdExport *export;
    QCryptoTLSCreds *tls_creds;  /* NULL: plaintext; else STARTTLS is required */
    QAuthZ *tls_authz;           /* NULL: any certificate the CA signed */
    unsigned handshake_limit_ms; /* the whole negotiation's deadline; 0: none */
} NbdServerConfig;

typedef struct NbdConn NbdConn;

/* Called once when the connection has ended and released everything, just before
 * CONN itself is freed: CONN serves as a key only. */
typedef void (*NbdConnClosed)(NbdConn *conn, gpointer opaque);

/* Serves CONFIG (which must outlive the connection) to the peer of IOC, taking a
 * reference to IOC. PEER names the client in messages. The connection starts from
 * the main loop: CLOSED never runs before this returns. */
NbdConn *nbd_conn_new(const NbdServerConfig *config, QIOChannel *ioc, const char *peer, NbdConnClosed closed,
                      gpointer opaque);

/* Ends the connection at once (the server is stopping): calls CLOSED and frees. */
void nbd_conn_close(NbdConn *conn);

#endif
