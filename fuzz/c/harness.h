/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* What the C fuzz targets for the examples' servers (fuzz/c/nbd_server.c,
 * vnc_server.c) share: the process setup, a socketpair between the server under test
 * and the harness's client, the client's handshakes, and the loop that feeds the
 * server the fuzzed bytes while dropping its replies. Everything runs from the default
 * main context, which the helpers iterate without blocking; their loops are bounded. */

#ifndef QIO_FUZZ_HARNESS_H
#define QIO_FUZZ_HARNESS_H

#include <qio.h>

/* Loop bounds: every round writes, reads or dispatches something, except the idle
 * ones in a row that mean the connection waits for the client. */
#define HARNESS_MAX_ROUNDS 100000
#define HARNESS_MAX_IDLE_ROUNDS 16

/* From LLVMFuzzerInitialize: GLib criticals abort (a finding, with an artifact),
 * the servers' per-client messages are dropped (unless QIO_FUZZ_VERBOSE is set),
 * SIGPIPE is ignored. */
void harness_init(void);

/* A connected pair: *SERVER for the server under test, *CLIENT non-blocking for the
 * harness. */
void harness_socketpair(QIOChannel **server, QIOChannel **client);

/* Reads and drops what the server has sent; TRUE if there was anything. */
gboolean harness_drain(QIOChannel *ioc);

/* Writes all LEN bytes and reads exactly LEN bytes, iterating the main context
 * meanwhile; a server that does not send them is a finding (abort). */
void harness_write(QIOChannel *ioc, const void *buf, size_t len);
void harness_read(QIOChannel *ioc, void *buf, size_t len);

/* The client's TLS session over MASTER (handshake done) with CREDS, and its websocket
 * over MASTER (upgrade done). Both must succeed. */
QIOChannelTLS *harness_tls_client(QIOChannel *master, QCryptoTLSCreds *creds);
QIOChannelWebsock *harness_websocket_client(QIOChannel *master);

/* Sends DATA through CLIENT in writes of at most CHUNK bytes while dropping what comes
 * back, until the server has closed (*CLOSED) or nothing moves. Then, unless SILENT,
 * the client shuts SOCKET (its end of the socketpair) for writing and the server must
 * close by itself (abort if not). Returns *CLOSED: FALSE when the server waits for a
 * silent client, which the caller then closes as a stopping server would. */
gboolean harness_run_client(QIOChannel *client, QIOChannel *socket, const uint8_t *data, size_t size, size_t chunk,
                            gboolean silent, const gboolean *closed);

/* Lets what a closed connection left behind (idle callbacks) run and free. */
void harness_settle(void);

#endif
