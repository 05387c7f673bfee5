/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NbdConn: one client of qio-nbd.
 *
 * The connection is a loop over two buffers driven from the main loop: replies
 * queued in OUT are written first; then the bytes the current step wants are read
 * into IN, and the step's handler runs on them, queueing replies and choosing the next
 * step. Only one of reading and writing waits at a time, so a client that stops
 * reading its replies stops being read (its requests wait in its socket), and memory
 * per client stays at one request and one reply. Handlers see whole messages only;
 * every length the client sends is checked before anything is read or allocated for
 * it. The deadline covers the whole negotiation, the TLS handshake included. */

#include "../conn-buffer.h"
#include "nbd-conn.h"
#include "nbd-proto.h"

#include <stdio.h>

/* An option's data: an export name (≤ 4096) and a few info requests fit with room
 * to spare; longer options end the connection unread (CVE-2017-15119). */
#define MAX_OPTION_LENGTH 65536
/* Requests handled in one turn before other clients get theirs. */
#define REQUESTS_PER_TURN 16
/* Buffers past this are released after their request, not kept for the next. */
#define KEPT_BUFFER (1u << 20)

#define OPTION_HEADER 16 /* IHAVEOPT, option, length */

typedef void (*Handler)(NbdConn *conn);

struct NbdConn {
    const NbdServerConfig *config;
    char *peer;
    NbdConnClosed closed;
    gpointer opaque;

    QIOChannel *socket;
    QIOChannelTLS *tls; /* after STARTTLS */
    QIOChannel *ioc;    /* where messages travel: the socket, or TLS over it */
    guint watch;        /* what the loop waits for */
    guint resume;       /* an idle continuing a turn that used its budget */
    guint deadline;     /* the end of negotiation's time */

    ConnBuffer buf;
    Handler handler;     /* runs once buf.in holds buf.in_want bytes */
    Handler after_flush; /* runs once OUT is written: a step that needs the peer caught up */

    gboolean fixed_newstyle, no_zeroes, structured;
    gboolean transmission; /* past negotiation */
    gboolean waiting;      /* for a TLS handshake */
    gboolean running;      /* inside conn_run */
    gboolean ending;       /* close once OUT is written */
    gboolean clean;        /* the client said goodbye */
};

static void conn_run(NbdConn *conn);

/* ---- Buffers ---- */

/* Room for N more bytes of output, which count as queued. */
static uint8_t *out_append(NbdConn *conn, size_t n)
{
    return conn_buffer_append(&conn->buf, n);
}

/* The next step: read until IN holds WANT bytes, then HANDLER. */
static void expect_more(NbdConn *conn, size_t want, Handler handler)
{
    conn_buffer_want(&conn->buf, want, FALSE);
    conn->handler = handler;
}

/* The next step starts a new message. */
static void expect(NbdConn *conn, size_t want, Handler handler)
{
    conn_buffer_want(&conn->buf, want, TRUE);
    conn->handler = handler;
}

/* ---- Ending ---- */

static void conn_free(NbdConn *conn)
{
    g_clear_handle_id(&conn->watch, g_source_remove);
    g_clear_handle_id(&conn->resume, g_source_remove);
    g_clear_handle_id(&conn->deadline, g_source_remove);
    if (conn->tls && conn->clean) {
        /* A goodbye in kind, if the socket takes it at once. */
        qcrypto_tls_session_bye(qio_channel_tls_get_session(conn->tls), NULL);
    }
    /* Closing also cancels a TLS handshake in progress, without its callback. */
    qio_channel_close(conn->ioc, NULL);
    if (conn->tls) {
        qio_channel_unref(QIO_CHANNEL(conn->tls));
    }
    qio_channel_unref(conn->socket);
    conn_buffer_clear(&conn->buf);
    g_free(conn->peer);
    conn->closed(conn, conn->opaque);
    g_free(conn);
}

/* Ends the connection for REASON (NULL: the client left in good order). */
static void conn_fail(NbdConn *conn, const char *reason, ...) G_GNUC_PRINTF(2, 3);
static void conn_fail(NbdConn *conn, const char *reason, ...)
{
    if (reason) {
        va_list ap;
        va_start(ap, reason);
        g_autofree char *message = g_strdup_vprintf(reason, ap);
        va_end(ap);
        g_printerr("%s: %s\n", conn->peer, message);
    }
    conn->ending = TRUE;
    conn->buf.out_len = conn->buf.out_done = 0; /* nothing more goes out */
    conn->after_flush = NULL;
}

void nbd_conn_close(NbdConn *conn)
{
    conn_free(conn);
}

static gboolean deadline_passed(gpointer opaque)
{
    NbdConn *conn = opaque;
    conn->deadline = 0;
    g_printerr("%s: negotiation not finished within %u ms: closed\n", conn->peer, conn->config->handshake_limit_ms);
    conn_free(conn);
    return G_SOURCE_REMOVE;
}

/* ---- Negotiation ---- */

static void read_option(NbdConn *conn);
static void read_request(NbdConn *conn);

/* Queues an option reply of TYPE to OPTION with LEN bytes of DATA. */
static void reply_option(NbdConn *conn, uint32_t option, uint32_t type, const void *data, uint32_t len)
{
    uint8_t *p = out_append(conn, 20 + len);
    nbd_put64(p, NBD_REP_MAGIC);
    nbd_put32(p + 8, option);
    nbd_put32(p + 12, type);
    nbd_put32(p + 16, len);
    if (len) {
        memcpy(p + 20, data, len);
    }
}

/* Queues an error reply to OPTION whose message says why. */
static void reply_option_error(NbdConn *conn, uint32_t option, uint32_t type, const char *why, ...)
    G_GNUC_PRINTF(4, 5);
static void reply_option_error(NbdConn *conn, uint32_t option, uint32_t type, const char *why, ...)
{
    va_list ap;
    va_start(ap, why);
    g_autofree char *message = g_strdup_vprintf(why, ap);
    va_end(ap);
    reply_option(conn, option, type, message, strlen(message));
}

static uint16_t transmission_flags(NbdConn *conn)
{
    uint16_t flags = NBD_FLAG_HAS_FLAGS | NBD_FLAG_SEND_FLUSH | NBD_FLAG_SEND_FUA | NBD_FLAG_SEND_TRIM |
                     NBD_FLAG_SEND_WRITE_ZEROES | NBD_FLAG_CAN_MULTI_CONN;
    if (nbd_export_is_readonly(conn->config->export)) {
        flags |= NBD_FLAG_READ_ONLY;
    }
    if (conn->structured) {
        flags |= NBD_FLAG_SEND_DF;
    }
    return flags;
}

/* Negotiation is over: requests from now on, with no deadline. */
static void start_transmission(NbdConn *conn)
{
    g_clear_handle_id(&conn->deadline, g_source_remove);
    conn->transmission = TRUE;
    expect(conn, NBD_REQUEST_SIZE, read_request);
}

static void tls_handshaken(QIOTask *task, gpointer opaque)
{
    NbdConn *conn = opaque;
    GError *error = NULL;
    conn->waiting = FALSE;
    if (qio_task_propagate_error(task, &error)) {
        conn_fail(conn, "%s", error->message);
        g_error_free(error);
    } else {
        QCryptoTLSSession *session = qio_channel_tls_get_session(conn->tls);
        g_autofree char *version = qcrypto_tls_session_get_protocol_name(session, NULL);
        g_autofree char *cipher = qcrypto_tls_session_get_cipher_name(session, NULL);
        g_autofree char *dn = qcrypto_tls_session_get_peer_name(session);
        g_printerr("%s: %s %s%s%s\n", conn->peer, version ? version : "TLS", cipher ? cipher : "",
                   dn ? ", client " : "", dn ? dn : "");
    }
    if (!conn->running) {
        conn_run(conn);
    }
}

/* After the ACK to STARTTLS is out: the rest of the negotiation goes through TLS. */
static void start_tls(NbdConn *conn)
{
    GError *error = NULL;
    conn->tls = qio_channel_tls_new_server(conn->socket, conn->config->tls_creds, conn->config->tls_authz, &error);
    if (!conn->tls) {
        conn_fail(conn, "TLS: %s", error->message);
        g_error_free(error);
        return;
    }
    conn->ioc = QIO_CHANNEL(conn->tls);
    conn->waiting = TRUE;
    expect(conn, OPTION_HEADER, read_option);
    qio_channel_tls_handshake(conn->tls, tls_handshaken, conn, NULL, NULL);
}

/* NBD_INFO_EXPORT's payload, also the EXPORT_NAME reply's: size and flags. */
static void put_export_info(NbdConn *conn, uint8_t *p)
{
    nbd_put64(p, nbd_export_size(conn->config->export));
    nbd_put16(p + 8, transmission_flags(conn));
}

/* NBD_OPT_INFO and NBD_OPT_GO: the name and the info requests in DATA. */
static void handle_info(NbdConn *conn, uint32_t option, const uint8_t *data, uint32_t len)
{
    uint32_t name_len = len >= 4 ? nbd_get32(data) : 0;
    if (len < 6 || name_len > len - 6) {
        reply_option_error(conn, option, NBD_REP_ERR_INVALID, "option length %u too short", len);
        return;
    }
    if (name_len > NBD_MAX_STRING_SIZE) {
        reply_option_error(conn, option, NBD_REP_ERR_INVALID, "export name longer than %d bytes",
                           NBD_MAX_STRING_SIZE);
        return;
    }
    const uint8_t *requests = data + 4 + name_len + 2;
    uint16_t count = nbd_get16(requests - 2);
    if (len != 4 + name_len + 2 + 2u * count) {
        reply_option_error(conn, option, NBD_REP_ERR_INVALID, "option length %u does not match its %u requests",
                           len, count);
        return;
    }
    const char *want = conn->config->name;
    if (name_len != strlen(want) || memcmp(data + 4, want, name_len)) {
        reply_option_error(conn, option, NBD_REP_ERR_UNKNOWN, "export '%.*s' not present", (int)name_len,
                           (const char *)data + 4);
        return;
    }
    gboolean name = FALSE, description = FALSE;
    for (uint16_t i = 0; i < count; i++) {
        uint16_t info = nbd_get16(requests + 2 * i);
        name |= info == NBD_INFO_NAME;
        description |= info == NBD_INFO_DESCRIPTION;
    }
    uint8_t buf[2 + NBD_MAX_STRING_SIZE];
    if (name) {
        nbd_put16(buf, NBD_INFO_NAME);
        memcpy(buf + 2, want, strlen(want));
        reply_option(conn, option, NBD_REP_INFO, buf, 2 + strlen(want));
    }
    const char *text = conn->config->description;
    if (description && text) {
        nbd_put16(buf, NBD_INFO_DESCRIPTION);
        memcpy(buf + 2, text, strlen(text));
        reply_option(conn, option, NBD_REP_INFO, buf, 2 + strlen(text));
    }
    /* Any size works (unaligned LUKS requests are read-modify-write), the
     * encryption sector and page size work best. */
    nbd_put16(buf, NBD_INFO_BLOCK_SIZE);
    nbd_put32(buf + 2, 1);
    nbd_put32(buf + 6, MAX(4096, nbd_export_min_block(conn->config->export)));
    nbd_put32(buf + 10, NBD_MAX_BUFFER_SIZE);
    reply_option(conn, option, NBD_REP_INFO, buf, 14);
    nbd_put16(buf, NBD_INFO_EXPORT);
    put_export_info(conn, buf + 2);
    reply_option(conn, option, NBD_REP_INFO, buf, 12);
    reply_option(conn, option, NBD_REP_ACK, NULL, 0);
    if (option == NBD_OPT_GO) {
        start_transmission(conn);
    }
}

/* NBD_OPT_EXPORT_NAME: no reply is possible on failure but closing. */
static void handle_export_name(NbdConn *conn, const uint8_t *data, uint32_t len)
{
    const char *want = conn->config->name;
    if (len != strlen(want) || memcmp(data, want, len)) {
        conn_fail(conn, "export '%.*s' not present", (int)len, (const char *)data);
        return;
    }
    uint8_t *p = out_append(conn, 10 + (conn->no_zeroes ? 0 : 124));
    put_export_info(conn, p);
    memset(p + 10, 0, conn->no_zeroes ? 0 : 124);
    start_transmission(conn);
}

static void handle_list(NbdConn *conn)
{
    const char *name = conn->config->name, *text = conn->config->description;
    size_t name_len = strlen(name), text_len = text ? strlen(text) : 0;
    g_autofree uint8_t *buf = g_malloc(4 + name_len + text_len);
    nbd_put32(buf, name_len);
    memcpy(buf + 4, name, name_len);
    memcpy(buf + 4 + name_len, text ? text : "", text_len);
    reply_option(conn, NBD_OPT_LIST, NBD_REP_SERVER, buf, 4 + name_len + text_len);
    reply_option(conn, NBD_OPT_LIST, NBD_REP_ACK, NULL, 0);
}

/* An option with its data in IN, from a client that may be waiting for TLS. */
static void handle_option(NbdConn *conn)
{
    uint32_t option = nbd_get32(conn->buf.in + 8), len = nbd_get32(conn->buf.in + 12);
    const uint8_t *data = conn->buf.in + OPTION_HEADER;
    gboolean tls_needed = conn->config->tls_creds && !conn->tls;
    expect(conn, OPTION_HEADER, read_option);

    if (option == NBD_OPT_ABORT) {
        /* The protocol has the server acknowledge, then both sides close. */
        reply_option(conn, option, NBD_REP_ACK, NULL, 0);
        conn->ending = TRUE;
        conn->clean = TRUE;
    } else if (option == NBD_OPT_EXPORT_NAME && len > NBD_MAX_STRING_SIZE) {
        conn_fail(conn, "export name longer than %d bytes (CVE-2017-15118): closed", NBD_MAX_STRING_SIZE);
    } else if (tls_needed && option == NBD_OPT_EXPORT_NAME) {
        conn_fail(conn, "NBD_OPT_EXPORT_NAME before STARTTLS: closed");
    } else if (tls_needed && option != NBD_OPT_STARTTLS) {
        reply_option_error(conn, option, NBD_REP_ERR_TLS_REQD, "%s (%u) not allowed before STARTTLS",
                           nbd_option_name(option), option);
    } else if (option == NBD_OPT_STARTTLS) {
        if (len) {
            reply_option_error(conn, option, NBD_REP_ERR_INVALID, "STARTTLS takes no data");
        } else if (conn->tls) {
            reply_option_error(conn, option, NBD_REP_ERR_INVALID, "TLS is already on");
        } else if (!conn->config->tls_creds) {
            reply_option_error(conn, option, NBD_REP_ERR_POLICY, "TLS is not configured");
        } else {
            reply_option(conn, option, NBD_REP_ACK, NULL, 0);
            conn->after_flush = start_tls;
        }
    } else if (option == NBD_OPT_EXPORT_NAME) {
        handle_export_name(conn, data, len);
    } else if (option == NBD_OPT_INFO || option == NBD_OPT_GO) {
        handle_info(conn, option, data, len);
    } else if (option == NBD_OPT_LIST) {
        if (len) {
            reply_option_error(conn, option, NBD_REP_ERR_INVALID, "LIST takes no data");
        } else {
            handle_list(conn);
        }
    } else if (option == NBD_OPT_STRUCTURED_REPLY) {
        if (len || conn->structured) {
            reply_option_error(conn, option, NBD_REP_ERR_INVALID,
                               len ? "STRUCTURED_REPLY takes no data" : "structured replies are already on");
        } else {
            reply_option(conn, option, NBD_REP_ACK, NULL, 0);
            conn->structured = TRUE;
        }
    } else if (conn->fixed_newstyle) {
        reply_option_error(conn, option, NBD_REP_ERR_UNSUP, "option %u not supported", option);
    } else {
        conn_fail(conn, "option %u from a client without fixed newstyle: closed", option);
    }
}

/* An option's header is in IN: check it, then read its data. */
static void read_option(NbdConn *conn)
{
    uint64_t magic = nbd_get64(conn->buf.in);
    uint32_t option = nbd_get32(conn->buf.in + 8), len = nbd_get32(conn->buf.in + 12);
    if (magic != NBD_OPTS_MAGIC) {
        conn_fail(conn, "bad option magic 0x%" G_GINT64_MODIFIER "x: closed", magic);
    } else if (len > MAX_OPTION_LENGTH) {
        /* Reading it would cost the server what the client chose (CVE-2017-15119). */
        reply_option_error(conn, option, NBD_REP_ERR_TOO_BIG, "option length %u past the limit of %d", len,
                           MAX_OPTION_LENGTH);
        g_printerr("%s: %s (%u) with %u bytes of data, past the limit of %d: closed\n", conn->peer,
                   nbd_option_name(option), option, len, MAX_OPTION_LENGTH);
        conn->ending = TRUE;
    } else {
        expect_more(conn, OPTION_HEADER + len, handle_option);
    }
}

static void read_client_flags(NbdConn *conn)
{
    uint32_t flags = nbd_get32(conn->buf.in);
    if (flags & ~(NBD_FLAG_C_FIXED_NEWSTYLE | NBD_FLAG_C_NO_ZEROES)) {
        conn_fail(conn, "unknown client flags 0x%x: closed", flags);
        return;
    }
    conn->fixed_newstyle = flags & NBD_FLAG_C_FIXED_NEWSTYLE;
    conn->no_zeroes = flags & NBD_FLAG_C_NO_ZEROES;
    expect(conn, OPTION_HEADER, read_option);
}

/* ---- Transmission ---- */

typedef struct {
    uint16_t flags, type;
    uint64_t cookie, offset;
    uint32_t len;
} Request;

static Request parse_request(const uint8_t *p)
{
    return (Request){
        .flags = nbd_get16(p + 4),
        .type = nbd_get16(p + 6),
        .cookie = nbd_get64(p + 8),
        .offset = nbd_get64(p + 16),
        .len = nbd_get32(p + 24),
    };
}

static void reply_simple(NbdConn *conn, const Request *req, uint32_t error)
{
    uint8_t *p = out_append(conn, NBD_SIMPLE_REPLY_SIZE);
    nbd_put32(p, NBD_SIMPLE_REPLY_MAGIC);
    nbd_put32(p + 4, error);
    nbd_put64(p + 8, req->cookie);
}

static void put_chunk_header(uint8_t *p, const Request *req, uint16_t type, uint32_t len)
{
    nbd_put32(p, NBD_STRUCTURED_REPLY_MAGIC);
    nbd_put16(p + 4, NBD_REPLY_FLAG_DONE);
    nbd_put16(p + 6, type);
    nbd_put64(p + 8, req->cookie);
    nbd_put32(p + 16, len);
}

/* A failed request's reply: an error chunk with a message under structured
 * replies, a simple reply otherwise (and for every command but READ, as QEMU). */
static void reply_error(NbdConn *conn, const Request *req, uint32_t error, const char *message)
{
    if (!conn->structured || req->type != NBD_CMD_READ) {
        reply_simple(conn, req, error);
        return;
    }
    size_t len = MIN(strlen(message), NBD_MAX_STRING_SIZE);
    uint8_t *p = out_append(conn, NBD_STRUCTURED_REPLY_SIZE + 6 + len);
    put_chunk_header(p, req, NBD_REPLY_TYPE_ERROR, 6 + len);
    nbd_put32(p + 20, error);
    nbd_put16(p + 24, len);
    memcpy(p + 26, message, len);
}

/* Reads the export straight into the reply. */
static void do_read(NbdConn *conn, const Request *req)
{
    GError *error = NULL;
    size_t header = conn->structured ? NBD_STRUCTURED_REPLY_SIZE + 8 : NBD_SIMPLE_REPLY_SIZE;
    uint8_t *p = out_append(conn, header + req->len);
    int ret = nbd_export_read(conn->config->export, req->offset, req->len, p + header, &error);
    if (ret) {
        conn->buf.out_len -= header + req->len; /* the reply becomes an error */
        g_printerr("%s: %s\n", conn->peer, error->message);
        reply_error(conn, req, ret, error->message);
        g_error_free(error);
        return;
    }
    if (conn->structured) {
        put_chunk_header(p, req, NBD_REPLY_TYPE_OFFSET_DATA, 8 + req->len);
        nbd_put64(p + NBD_STRUCTURED_REPLY_SIZE, req->offset);
    } else {
        nbd_put32(p, NBD_SIMPLE_REPLY_MAGIC);
        nbd_put32(p + 4, 0);
        nbd_put64(p + 8, req->cookie);
    }
}

/* Runs a request whose checks passed and replies; DATA is a WRITE's payload. */
static void do_request(NbdConn *conn, const Request *req, const uint8_t *data)
{
    NbdExport *exp = conn->config->export;
    GError *error = NULL;
    int ret = 0;
    switch (req->type) {
    case NBD_CMD_READ:
        do_read(conn, req);
        return;
    case NBD_CMD_WRITE:
        ret = nbd_export_write(exp, req->offset, req->len, data, &error);
        break;
    case NBD_CMD_WRITE_ZEROES:
        ret = nbd_export_write_zeroes(exp, req->offset, req->len, !(req->flags & NBD_CMD_FLAG_NO_HOLE), &error);
        break;
    case NBD_CMD_TRIM:
        ret = nbd_export_trim(exp, req->offset, req->len, &error);
        break;
    case NBD_CMD_FLUSH:
        ret = nbd_export_flush(exp, &error);
        break;
    }
    if (!ret && (req->flags & NBD_CMD_FLAG_FUA)) {
        ret = nbd_export_flush(exp, &error);
    }
    if (ret) {
        g_printerr("%s: %s\n", conn->peer, error->message);
        reply_error(conn, req, ret, error->message);
        g_error_free(error);
        return;
    }
    reply_simple(conn, req, 0);
}

/* The flags each supported command takes; -1 for a command qio-nbd does not know. */
static int allowed_flags(uint16_t type)
{
    switch (type) {
    case NBD_CMD_READ:
        return NBD_CMD_FLAG_DF;
    case NBD_CMD_WRITE:
    case NBD_CMD_TRIM:
        return NBD_CMD_FLAG_FUA;
    case NBD_CMD_WRITE_ZEROES:
        return NBD_CMD_FLAG_FUA | NBD_CMD_FLAG_NO_HOLE;
    case NBD_CMD_FLUSH:
        return 0;
    default:
        return -1;
    }
}

/* Why REQ cannot run, as the protocol's error and a message; 0 if it can. */
static uint32_t check_request(NbdConn *conn, const Request *req, const char **why)
{
    uint64_t size = nbd_export_size(conn->config->export);
    int allowed = allowed_flags(req->type);
    if (allowed < 0) {
        *why = "unsupported command";
        return NBD_EINVAL;
    }
    if ((req->flags & ~allowed) || ((req->flags & NBD_CMD_FLAG_DF) && !conn->structured)) {
        *why = "unsupported flags";
        return NBD_EINVAL;
    }
    if (req->type == NBD_CMD_FLUSH) {
        return 0;
    }
    if (req->type != NBD_CMD_READ && nbd_export_is_readonly(conn->config->export)) {
        *why = "the export is read-only";
        return NBD_EPERM;
    }
    if (req->len > NBD_MAX_BUFFER_SIZE && (req->type == NBD_CMD_READ || req->type == NBD_CMD_WRITE)) {
        *why = "request longer than 32 MiB";
        return NBD_EINVAL;
    }
    if (req->len > size || req->offset > size - req->len) {
        *why = "request past the end of the export";
        /* The protocol asks ENOSPC for writes, EINVAL for the rest. */
        return req->type == NBD_CMD_WRITE || req->type == NBD_CMD_WRITE_ZEROES ? NBD_ENOSPC : NBD_EINVAL;
    }
    return 0;
}

/* A request with its payload (WRITE) in IN. */
static void handle_request(NbdConn *conn)
{
    Request req = parse_request(conn->buf.in);
    const char *why = NULL;
    uint32_t error = check_request(conn, &req, &why);
    if (error) {
        reply_error(conn, &req, error, why);
    } else {
        do_request(conn, &req, conn->buf.in + NBD_REQUEST_SIZE);
    }
    expect(conn, NBD_REQUEST_SIZE, read_request);
}

/* A request's header is in IN: check it, then read a WRITE's payload. */
static void read_request(NbdConn *conn)
{
    Request req = parse_request(conn->buf.in);
    if (nbd_get32(conn->buf.in) != NBD_REQUEST_MAGIC) {
        conn_fail(conn, "bad request magic 0x%x: closed", nbd_get32(conn->buf.in));
    } else if (req.type == NBD_CMD_DISC) {
        conn->ending = TRUE;
        conn->clean = TRUE;
    } else if (req.type == NBD_CMD_WRITE && req.len > NBD_MAX_BUFFER_SIZE) {
        /* Its payload cannot be skipped without reading it all: refuse and close. */
        reply_error(conn, &req, NBD_EINVAL, "request longer than 32 MiB");
        g_printerr("%s: a %u-byte write, past the 32 MiB limit: closed\n", conn->peer, req.len);
        conn->ending = TRUE;
    } else if (req.type == NBD_CMD_WRITE) {
        expect_more(conn, NBD_REQUEST_SIZE + req.len, handle_request);
    } else {
        handle_request(conn);
    }
}

/* ---- The loop ---- */

static gboolean conn_ready(QIOChannel *ioc, GIOCondition condition, gpointer opaque)
{
    (void)ioc, (void)condition;
    NbdConn *conn = opaque;
    conn->watch = 0;
    conn_run(conn);
    return G_SOURCE_REMOVE;
}

static gboolean conn_resume(gpointer opaque)
{
    NbdConn *conn = opaque;
    conn->resume = 0;
    conn_run(conn);
    return G_SOURCE_REMOVE;
}

/* Writes what is queued. Returns FALSE to stop the turn (blocked or failed). */
static gboolean conn_flush(NbdConn *conn)
{
    GError *error = NULL;
    int ret = conn_buffer_flush(&conn->buf, conn->ioc, KEPT_BUFFER, &error);
    if (ret == QIO_CHANNEL_ERR_BLOCK) {
        conn->watch = qio_channel_add_watch(conn->ioc, G_IO_OUT, conn_ready, conn, NULL);
        return FALSE;
    }
    if (ret < 0) {
        conn_fail(conn, "%s", error->message);
        g_error_free(error);
    }
    return TRUE;
}

/* Reads toward what the current step wants. Returns FALSE to stop the turn. */
static gboolean conn_fill(NbdConn *conn)
{
    GError *error = NULL;
    ssize_t n = conn_buffer_fill(&conn->buf, conn->ioc, 0, &error);
    if (n == QIO_CHANNEL_ERR_BLOCK) {
        conn->watch = qio_channel_add_watch(conn->ioc, G_IO_IN, conn_ready, conn, NULL);
        return FALSE;
    }
    if (n == 0) {
        /* Between requests a client may just go; anywhere else it broke off. */
        conn_fail(conn, conn->buf.in_have ? "the client went away mid-message"
                        : conn->transmission ? NULL
                        : "the client went away during negotiation");
    } else if (n < 0) {
        conn_fail(conn, "%s", error->message);
        g_error_free(error);
    }
    return TRUE;
}

/* Moves the connection on until it waits for the peer, has had its turn, or ends. */
static void conn_run(NbdConn *conn)
{
    conn->running = TRUE;
    for (int handled = 0; !conn->waiting;) {
        if (!conn_flush(conn)) {
            break;
        }
        if (conn->ending) {
            conn_free(conn);
            return;
        }
        if (conn->after_flush) {
            Handler step = conn->after_flush;
            conn->after_flush = NULL;
            step(conn);
            continue;
        }
        if (conn->buf.in_have < conn->buf.in_want) {
            if (!conn_fill(conn)) {
                break;
            }
            continue;
        }
        if (handled++ == REQUESTS_PER_TURN) {
            conn->resume = g_idle_add(conn_resume, conn);
            break;
        }
        conn->handler(conn);
        if (conn->buf.in_size > KEPT_BUFFER && conn->buf.in_want <= KEPT_BUFFER) {
            /* A large request's buffer goes; the next message's takes its place. */
            conn->buf.in = g_realloc(conn->buf.in, conn->buf.in_want);
            conn->buf.in_size = conn->buf.in_want;
        }
    }
    conn->running = FALSE;
}

NbdConn *nbd_conn_new(const NbdServerConfig *config, QIOChannel *ioc, const char *peer, NbdConnClosed closed,
                      gpointer opaque)
{
    NbdConn *conn = g_new0(NbdConn, 1);
    *conn = (NbdConn){
        .config = config,
        .peer = g_strdup(peer),
        .closed = closed,
        .opaque = opaque,
        .socket = qio_channel_ref(ioc),
        .ioc = ioc,
    };
    if (config->handshake_limit_ms) {
        conn->deadline = g_timeout_add(config->handshake_limit_ms, deadline_passed, conn);
    }
    uint8_t *p = out_append(conn, 18);
    nbd_put64(p, NBD_INIT_MAGIC);
    nbd_put64(p + 8, NBD_OPTS_MAGIC);
    nbd_put16(p + 16, NBD_FLAG_FIXED_NEWSTYLE | NBD_FLAG_NO_ZEROES);
    expect(conn, 4, read_client_flags);
    GError *error = NULL;
    if (!qio_channel_set_blocking(ioc, FALSE, &error)) {
        conn_fail(conn, "%s", error->message);
        g_error_free(error);
    }
    conn->resume = g_idle_add(conn_resume, conn);
    return conn;
}
