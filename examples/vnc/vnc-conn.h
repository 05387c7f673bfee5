/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VncConn: one client of qio-vnc-demo, from the first byte to the end of the session:
 * on the websocket port the TLS and websocket handshakes, then the RFB handshake
 * (version, security, ClientInit), then framebuffer updates on request. Driven by
 * watches on the connection's QIOChannel from the default main context. */

#ifndef QIO_VNC_CONN_H
#define QIO_VNC_CONN_H

#include "vnc-framebuffer.h"

#include <qio.h>

typedef struct {
    const char *name;            /* the desktop's name, sent in ServerInit (required) */
    const char *password;        /* NULL: no VNC Authentication; only 8 bytes count */
    QCryptoTLSCreds *tls_creds;  /* NULL: no TLS; else VeNCrypt on the RFB port, wss on websockets */
    gboolean tls_x509;           /* the creds are x509 (VeNCrypt X509*), else anonymous (TLS*) */
    QAuthZ *tls_authz;           /* NULL: any client certificate the CA signed */
    unsigned handshake_limit_ms; /* from connecting to the end of ClientInit; 0: none */
} VncServerConfig;

typedef struct VncConn VncConn;

/* Called once when the connection has ended and released everything, just before
 * CONN itself is freed: CONN serves as a key only. */
typedef void (*VncConnClosed)(VncConn *conn, gpointer opaque);

/* Serves FB to the peer of IOC under CONFIG (both must outlive the connection), taking
 * a reference to IOC. WEBSOCKET: IOC came from the websocket port, so the client first
 * opens a websocket, over TLS if its first byte starts a TLS handshake (peeked with
 * QIO_CHANNEL_READ_FLAG_MSG_PEEK), and security is then None or VNC Authentication.
 * PEER names the client in messages. The connection starts from the main loop: CLOSED
 * never runs before this returns. */
VncConn *vnc_conn_new(const VncServerConfig *config, VncFramebuffer *fb, QIOChannel *ioc, gboolean websocket,
                      const char *peer, VncConnClosed closed, gpointer opaque);

/* Ends the connection at once (the server is stopping): calls CLOSED and frees. */
void vnc_conn_close(VncConn *conn);

/* FB changed (drawn, or a new size): a client waiting for an update gets it soon,
 * from the main loop. Safe to call from inside any VncConn's callbacks. */
void vnc_conn_framebuffer_changed(VncConn *conn);

#endif
