/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VncConn: one client of qio-vnc-demo.
 *
 * The connection is a loop over two buffers driven from the main loop, as NbdConn's:
 * the bytes the current step wants are read into IN, then the step's handler runs on
 * them, queueing output in OUT and choosing the next step. Unlike NBD, RFB output is
 * not a reply to each message: framebuffer updates go out when the picture changes,
 * and pointer events must keep arriving while a large update drains to a slow client.
 * So reading and writing proceed side by side, and memory is bounded another way:
 * an update is produced in chunks, the next one only when OUT has room, and a new
 * update starts only once the previous one is all queued. Changes made meanwhile
 * just leave their tiles dirty; the client gets them, merged, in its next update.
 *
 * Handlers see whole messages only; every length and coordinate the client sends is
 * checked before anything is read, allocated or drawn for it. The deadline covers
 * everything up to ClientInit: sniffing, TLS and websocket handshakes included. */

#include "../conn-buffer.h"
#include "vnc-conn.h"
#include "vnc-auth.h"
#include "vnc-format.h"

#include <stdio.h>
#include <string.h>

/* Security types (RFC 6143 7.1.2) and VeNCrypt subtypes. */
enum {
    SECURITY_INVALID = 0,
    SECURITY_NONE = 1,
    SECURITY_VNC = 2,
    SECURITY_VENCRYPT = 19,
};
enum {
    VENCRYPT_TLSNONE = 257,
    VENCRYPT_TLSVNC = 258,
    VENCRYPT_X509NONE = 260,
    VENCRYPT_X509VNC = 261,
};

/* Client-to-server messages. */
enum {
    MSG_SET_PIXEL_FORMAT = 0,
    MSG_SET_ENCODINGS = 2,
    MSG_UPDATE_REQUEST = 3,
    MSG_KEY_EVENT = 4,
    MSG_POINTER_EVENT = 5,
    MSG_CLIENT_CUT_TEXT = 6,
};

/* Encodings and pseudo-encodings. */
enum {
    ENCODING_RAW = 0,
    ENCODING_HEXTILE = 5,
    ENCODING_DESKTOP_SIZE = -223,
};

/* Hextile subencoding bits. */
enum {
    HEXTILE_RAW = 1,
    HEXTILE_BACKGROUND = 2,
};
#define HEXTILE_SIZE 16

/* Cut text is read and dropped; more than this closes the connection. */
#define MAX_CUT_TEXT (1u << 20)
/* Cut text is skipped through IN in pieces of this. */
#define CUT_TEXT_PIECE 4096
/* An update is produced while less than this is waiting to be written. */
#define OUT_CHUNK (64 * 1024)
/* Messages handled and chunks produced in one turn before other clients get theirs. */
#define STEPS_PER_TURN 16

typedef void (*Handler)(VncConn *conn);

typedef struct {
    int x, y, w, h;
} Rect;

struct VncConn {
    const VncServerConfig *config;
    VncFramebuffer *fb;
    char *peer;
    VncConnClosed closed;
    gpointer opaque;

    QIOChannel *socket;
    QIOChannelTLS *tls;
    QIOChannelWebsock *websock;
    QIOChannel *ioc; /* where messages travel: the outermost of the three */
    guint watch;     /* what the loop waits for */
    guint resume;    /* an idle continuing a turn that used its budget */
    guint deadline;  /* the end of the handshake's time */

    ConnBuffer buf;
    Handler handler;     /* runs once buf.in holds buf.in_want bytes */
    Handler after_flush; /* runs once buf.out is written, reading stopped meanwhile */

    gboolean websocket; /* from the websocket port */
    gboolean sniffing;  /* peeking at the first byte (websocket port) */
    int minor;          /* the RFB version agreed: 3.3, 3.7 or 3.8 */
    uint8_t security;   /* the one type offered */
    uint32_t subtype;   /* its VeNCrypt subtype */
    Handler secured;    /* what follows the TLS handshake */
    uint8_t challenge[VNC_AUTH_CHALLENGE_LEN];

    gboolean waiting; /* for a TLS or websocket handshake */
    gboolean running; /* inside conn_run */
    gboolean ending;  /* close once OUT is written */
    gboolean ready;   /* past ClientInit: normal messages */

    /* What the client asked for. */
    VncPixelFormat format;
    gboolean hextile;      /* its preferred encoding, else Raw */
    gboolean desktop_size; /* it follows size changes */
    int width, height;     /* the size it was last told */
    guint64 *sent;         /* per tile, the framebuffer serial it has */
    int sent_tiles;
    gboolean incremental, full; /* requests held */
    Rect incremental_area, full_area;
    uint32_t cut_text_left;

    /* The update being produced. */
    gboolean updating;
    VncPixelFormat update_format; /* the format when it started, for all its pixels */
    gboolean update_hextile;
    GArray *rects; /* of Rect */
    guint rect_index;
    int rect_row;           /* rows of the current rect done; -1: header not yet out */
    gboolean background_ok; /* Hextile: the previous tile set the background */
    uint32_t background;
};

static void conn_run(VncConn *conn);

/* ---- Wire helpers ---- */

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)p[0] << 8 | p[1];
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint8_t *put8(uint8_t *p, uint8_t v)
{
    *p = v;
    return p + 1;
}

static uint8_t *put16(uint8_t *p, uint16_t v)
{
    p[0] = v >> 8;
    p[1] = v;
    return p + 2;
}

static uint8_t *put32(uint8_t *p, uint32_t v)
{
    p[0] = v >> 24;
    p[1] = v >> 16;
    p[2] = v >> 8;
    p[3] = v;
    return p + 4;
}

/* ---- Buffers ---- */

static size_t out_pending(VncConn *conn)
{
    return conn_buffer_pending(&conn->buf);
}

/* Room for N more bytes of output, which count as queued. */
static uint8_t *out_append(VncConn *conn, size_t n)
{
    return conn_buffer_append(&conn->buf, n);
}

static void out_put8(VncConn *conn, uint8_t v)
{
    put8(out_append(conn, 1), v);
}

static void out_put32(VncConn *conn, uint32_t v)
{
    put32(out_append(conn, 4), v);
}

/* A length-prefixed string, as failure reasons and the desktop name go. */
static void out_put_string(VncConn *conn, const char *s)
{
    size_t len = strlen(s);
    out_put32(conn, len);
    memcpy(out_append(conn, len), s, len);
}

/* The next step: read until IN holds WANT bytes, then HANDLER. */
static void expect_more(VncConn *conn, size_t want, Handler handler)
{
    conn_buffer_want(&conn->buf, want, FALSE);
    conn->handler = handler;
}

/* The next step starts a new message. */
static void expect(VncConn *conn, size_t want, Handler handler)
{
    conn_buffer_want(&conn->buf, want, TRUE);
    conn->handler = handler;
}

/* ---- Ending ---- */

static void conn_free(VncConn *conn)
{
    g_clear_handle_id(&conn->watch, g_source_remove);
    g_clear_handle_id(&conn->resume, g_source_remove);
    g_clear_handle_id(&conn->deadline, g_source_remove);
    /* Closing also cancels a TLS or websocket handshake in progress, without its
     * callback; an open websocket sends its close frame if the socket takes it. */
    qio_channel_close(conn->ioc, NULL);
    if (conn->websock) {
        qio_channel_unref(QIO_CHANNEL(conn->websock));
    }
    if (conn->tls) {
        qio_channel_unref(QIO_CHANNEL(conn->tls));
    }
    qio_channel_unref(conn->socket);
    memset(conn->challenge, 0, sizeof(conn->challenge));
    conn_buffer_clear(&conn->buf);
    g_free(conn->sent);
    g_array_unref(conn->rects);
    g_free(conn->peer);
    conn->closed(conn, conn->opaque);
    g_free(conn);
}

/* Ends the connection for REASON (NULL: the client left in good order), dropping
 * whatever output is queued. */
static void conn_fail(VncConn *conn, const char *reason, ...) G_GNUC_PRINTF(2, 3);
static void conn_fail(VncConn *conn, const char *reason, ...)
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
    conn->updating = FALSE;
}

/* Ends the connection once what is queued (the client's refusal) is written. */
static void conn_refuse(VncConn *conn, const char *why)
{
    g_printerr("%s: %s: closed\n", conn->peer, why);
    conn->ending = TRUE;
}

void vnc_conn_close(VncConn *conn)
{
    conn_free(conn);
}

static gboolean deadline_passed(gpointer opaque)
{
    VncConn *conn = opaque;
    conn->deadline = 0;
    g_printerr("%s: handshake not finished within %u ms: closed\n", conn->peer, conn->config->handshake_limit_ms);
    conn_free(conn);
    return G_SOURCE_REMOVE;
}

/* ---- TLS and websockets ---- */

static void tls_handshaken(QIOTask *task, gpointer opaque)
{
    VncConn *conn = opaque;
    GError *error = NULL;
    /* What follows may start a websocket handshake that completes at once: its
     * callback must leave running the loop to this one. */
    gboolean was_running = conn->running;
    conn->running = TRUE;
    conn->waiting = FALSE;
    if (qio_task_propagate_error(task, &error)) {
        conn_fail(conn, "TLS: %s: closed", error->message);
        g_error_free(error);
    } else {
        QCryptoTLSSession *session = qio_channel_tls_get_session(conn->tls);
        g_autofree char *version = qcrypto_tls_session_get_protocol_name(session, NULL);
        g_autofree char *cipher = qcrypto_tls_session_get_cipher_name(session, NULL);
        g_autofree char *dn = qcrypto_tls_session_get_peer_name(session);
        g_printerr("%s: %s %s%s%s\n", conn->peer, version ? version : "TLS", cipher ? cipher : "",
                   dn ? ", client " : "", dn ? dn : "");
        conn->secured(conn);
    }
    conn->running = was_running;
    if (!was_running) {
        conn_run(conn);
    }
}

/* A TLS server session over the socket, then SECURED. */
static void start_tls(VncConn *conn, Handler secured)
{
    GError *error = NULL;
    conn->tls = qio_channel_tls_new_server(conn->socket, conn->config->tls_creds, conn->config->tls_authz, &error);
    if (!conn->tls) {
        conn_fail(conn, "TLS: %s: closed", error->message);
        g_error_free(error);
        return;
    }
    conn->ioc = QIO_CHANNEL(conn->tls);
    conn->secured = secured;
    conn->waiting = TRUE;
    qio_channel_tls_handshake(conn->tls, tls_handshaken, conn, NULL, NULL);
}

static void start_rfb(VncConn *conn);

static void websocket_handshaken(QIOTask *task, gpointer opaque)
{
    VncConn *conn = opaque;
    GError *error = NULL;
    conn->waiting = FALSE;
    if (qio_task_propagate_error(task, &error)) {
        conn_fail(conn, "websocket: %s: closed", error->message);
        g_error_free(error);
    } else {
        start_rfb(conn);
    }
    if (!conn->running) {
        conn_run(conn);
    }
}

/* The websocket opening handshake, over TLS if the client started it. */
static void start_websocket(VncConn *conn)
{
    conn->websock = qio_channel_websock_new_server(conn->ioc);
    conn->ioc = QIO_CHANNEL(conn->websock);
    conn->waiting = TRUE;
    qio_channel_websock_handshake(conn->websock, websocket_handshaken, conn, NULL);
}

/* The websocket port's first byte, peeked: 0x16 opens a TLS handshake (a ClientHello
 * record), anything else a websocket's HTTP request. With TLS configured only wss is
 * let in, as QEMU: plain ws would skip the certificate check. Returns FALSE while
 * there is no byte yet. */
static gboolean sniff(VncConn *conn)
{
    GError *error = NULL;
    uint8_t byte;
    struct iovec iov = { .iov_base = &byte, .iov_len = 1 };
    ssize_t n = qio_channel_readv_full(conn->socket, &iov, 1, NULL, NULL, QIO_CHANNEL_READ_FLAG_MSG_PEEK, &error);
    if (n == QIO_CHANNEL_ERR_BLOCK) {
        return FALSE;
    }
    conn->sniffing = FALSE;
    if (n < 0) {
        conn_fail(conn, "%s", error->message);
        g_error_free(error);
    } else if (n == 0) {
        conn_fail(conn, "the client went away before its handshake");
    } else if (byte != 0x16 && conn->config->tls_creds) {
        conn_fail(conn, "plain websocket refused: TLS is configured, connect with wss: closed");
    } else if (byte != 0x16) {
        start_websocket(conn);
    } else if (!conn->config->tls_creds) {
        conn_fail(conn, "TLS handshake on the websocket port, but TLS is not configured: closed");
    } else {
        start_tls(conn, start_websocket);
    }
    return TRUE;
}

/* ---- Security ---- */

static const char *security_name(VncConn *conn)
{
    switch (conn->security) {
    case SECURITY_NONE:
        return "None";
    case SECURITY_VNC:
        return "VNC Authentication";
    default:
        switch (conn->subtype) {
        case VENCRYPT_TLSNONE:
            return "VeNCrypt TLSNone";
        case VENCRYPT_TLSVNC:
            return "VeNCrypt TLSVnc";
        case VENCRYPT_X509NONE:
            return "VeNCrypt X509None";
        default:
            return "VeNCrypt X509Vnc";
        }
    }
}

static void read_client_init(VncConn *conn);

/* Security failed: SecurityResult "failed", with WHY from 3.8 on, then close. */
static void security_failed(VncConn *conn, const char *why)
{
    out_put32(conn, 1);
    if (conn->minor >= 8) {
        out_put_string(conn, why);
    }
    conn_refuse(conn, why);
}

/* Security passed: SecurityResult "OK" where the version has one, then ClientInit. */
static void security_passed(VncConn *conn, gboolean result)
{
    if (result) {
        out_put32(conn, 0);
    }
    expect(conn, 1, read_client_init);
}

static void read_vnc_response(VncConn *conn)
{
    GError *error = NULL;
    int ok = vnc_auth_check(conn->config->password, conn->challenge, conn->buf.in, &error);
    memset(conn->challenge, 0, sizeof(conn->challenge));
    if (ok < 0) {
        conn_fail(conn, "VNC Authentication: %s: closed", error->message);
        g_error_free(error);
    } else if (!ok) {
        security_failed(conn, "Authentication failed");
    } else {
        security_passed(conn, TRUE);
    }
}

static void start_vnc_auth(VncConn *conn)
{
    GError *error = NULL;
    if (!vnc_auth_challenge(conn->challenge, &error)) {
        conn_fail(conn, "VNC Authentication: %s: closed", error->message);
        g_error_free(error);
        return;
    }
    memcpy(out_append(conn, VNC_AUTH_CHALLENGE_LEN), conn->challenge, VNC_AUTH_CHALLENGE_LEN);
    expect(conn, VNC_AUTH_CHALLENGE_LEN, read_vnc_response);
}

/* VeNCrypt's TLS is up: its subtype's own authentication. */
static void vencrypt_secured(VncConn *conn)
{
    if (conn->subtype == VENCRYPT_TLSVNC || conn->subtype == VENCRYPT_X509VNC) {
        start_vnc_auth(conn);
    } else {
        security_passed(conn, TRUE); /* as QEMU: VeNCrypt always has a SecurityResult */
    }
}

static void start_vencrypt_tls(VncConn *conn)
{
    start_tls(conn, vencrypt_secured);
}

static void read_vencrypt_subtype(VncConn *conn)
{
    uint32_t subtype = get32(conn->buf.in);
    if (subtype != conn->subtype) {
        out_put8(conn, 0);
        g_autofree char *why = g_strdup_printf("VeNCrypt subtype %u was not offered", subtype);
        conn_refuse(conn, why);
        return;
    }
    out_put8(conn, 1);
    conn->after_flush = start_vencrypt_tls; /* the ClientHello is for TLS to read */
}

static void read_vencrypt_version(VncConn *conn)
{
    if (conn->buf.in[0] != 0 || conn->buf.in[1] != 2) {
        out_put8(conn, 1);
        g_autofree char *why = g_strdup_printf("VeNCrypt version %u.%u unsupported", conn->buf.in[0], conn->buf.in[1]);
        conn_refuse(conn, why);
        return;
    }
    out_put8(conn, 0);
    out_put8(conn, 1);
    out_put32(conn, conn->subtype);
    expect(conn, 4, read_vencrypt_subtype);
}

/* The client's choice among the one type offered (3.7 and 3.8). */
static void read_security_type(VncConn *conn)
{
    if (conn->buf.in[0] != conn->security) {
        g_autofree char *why = g_strdup_printf("security type %u was not offered", conn->buf.in[0]);
        security_failed(conn, why);
        return;
    }
    switch (conn->security) {
    case SECURITY_NONE:
        security_passed(conn, conn->minor >= 8);
        break;
    case SECURITY_VNC:
        start_vnc_auth(conn);
        break;
    default:
        out_put8(conn, 0);
        out_put8(conn, 2); /* VeNCrypt 0.2 */
        expect(conn, 2, read_vencrypt_version);
        break;
    }
}

/* Refuses before security: in 3.3's form (type 0 and a reason), which 3.7 and 3.8
 * clients also read as a failure (no types, and a reason). */
static void refuse_early(VncConn *conn, const char *why)
{
    if (conn->minor == 3) {
        out_put32(conn, SECURITY_INVALID);
    } else {
        out_put8(conn, 0);
    }
    out_put_string(conn, why);
    conn_refuse(conn, why);
}

static void read_version(VncConn *conn)
{
    char text[13];
    memcpy(text, conn->buf.in, 12);
    text[12] = 0;
    gboolean ok = g_str_has_prefix(text, "RFB ") && text[7] == '.' && text[11] == '\n';
    for (int i = 4; i < 11 && ok; i++) {
        ok = i == 7 || g_ascii_isdigit(text[i]);
    }
    if (!ok) {
        g_autofree char *shown = g_strescape(text, NULL);
        conn_fail(conn, "not an RFB client (it sent \"%s\"): closed", shown);
        return;
    }
    int major = (text[4] - '0') * 100 + (text[5] - '0') * 10 + (text[6] - '0');
    int minor = (text[8] - '0') * 100 + (text[9] - '0') * 10 + (text[10] - '0');
    /* As QEMU: 3.4 and 3.5 are 3.3 (so some clients say); past 3.8 is 3.8. */
    conn->minor = major == 3 && minor >= 3 && minor <= 5 ? 3
                : major == 3 && minor == 7                ? 7
                : major > 3 || (major == 3 && minor >= 8) ? 8
                                                          : 0;
    if (!conn->minor) {
        conn->minor = 3;
        g_autofree char *why = g_strdup_printf("RFB version %d.%d unsupported", major, minor);
        refuse_early(conn, why);
        return;
    }
    if (conn->minor == 3) {
        /* The server picks: no SecurityResult after None, and no VeNCrypt. */
        if (conn->security == SECURITY_VENCRYPT) {
            refuse_early(conn, "VeNCrypt (TLS) needs RFB 3.7 or later");
            return;
        }
        out_put32(conn, conn->security);
        if (conn->security == SECURITY_NONE) {
            security_passed(conn, FALSE);
        } else {
            start_vnc_auth(conn);
        }
        return;
    }
    out_put8(conn, 1);
    out_put8(conn, conn->security);
    expect(conn, 1, read_security_type);
}

/* The RFB handshake starts: on the RFB port at once, on the websocket port inside the
 * websocket. */
static void start_rfb(VncConn *conn)
{
    memcpy(out_append(conn, 12), "RFB 003.008\n", 12);
    expect(conn, 12, read_version);
}

/* ---- Pixels ---- */

/* The pixel at (X, Y), black outside the framebuffer (it shrank during an update). */
static uint32_t get_pixel(VncConn *conn, int x, int y)
{
    VncFramebuffer *fb = conn->fb;
    if (x >= vnc_framebuffer_get_width(fb) || y >= vnc_framebuffer_get_height(fb)) {
        return 0;
    }
    return vnc_framebuffer_get_row(fb, y)[x];
}

/* W pixels from (X, Y) into P in the update's format, black past the framebuffer. */
static uint8_t *put_row(VncConn *conn, uint8_t *p, int x, int y, int w)
{
    int fbw = vnc_framebuffer_get_width(conn->fb);
    int have = y < vnc_framebuffer_get_height(conn->fb) ? CLAMP(fbw - x, 0, w) : 0;
    const uint32_t *src = have ? vnc_framebuffer_get_row(conn->fb, y) + x : NULL;
    return vnc_pixel_format_put_row(&conn->update_format, p, src, have, w - have);
}

/* ---- Updates ---- */

static Rect rect_intersect(Rect a, Rect b)
{
    int x0 = MAX(a.x, b.x), y0 = MAX(a.y, b.y);
    int x1 = MIN(a.x + a.w, b.x + b.w), y1 = MIN(a.y + a.h, b.y + b.h);
    return x1 > x0 && y1 > y0 ? (Rect){ x0, y0, x1 - x0, y1 - y0 } : (Rect){ 0, 0, 0, 0 };
}

/* The smallest rectangle holding both; an empty one adds nothing. */
static Rect rect_union(Rect a, Rect b)
{
    if (!a.w || !a.h) {
        return b;
    }
    if (!b.w || !b.h) {
        return a;
    }
    int x0 = MIN(a.x, b.x), y0 = MIN(a.y, b.y);
    int x1 = MAX(a.x + a.w, b.x + b.w), y1 = MAX(a.y + a.h, b.y + b.h);
    return (Rect){ x0, y0, x1 - x0, y1 - y0 };
}

static Rect tile_rect(int tx, int ty)
{
    return (Rect){ tx * VNC_FRAMEBUFFER_TILE, ty * VNC_FRAMEBUFFER_TILE, VNC_FRAMEBUFFER_TILE,
                   VNC_FRAMEBUFFER_TILE };
}

/* Every tile dirty for this client: it has nothing (yet, or since a new size). */
static void forget_sent(VncConn *conn)
{
    conn->sent_tiles = vnc_framebuffer_get_tiles_x(conn->fb) * vnc_framebuffer_get_tiles_y(conn->fb);
    g_free(conn->sent);
    conn->sent = g_new0(guint64, conn->sent_tiles);
}

static void put_rect_header(VncConn *conn, Rect r, int32_t encoding)
{
    uint8_t *p = out_append(conn, 12);
    p = put16(p, r.x);
    p = put16(p, r.y);
    p = put16(p, r.w);
    p = put16(p, r.h);
    put32(p, (uint32_t)encoding);
}

static void put_update_header(VncConn *conn, unsigned nrects)
{
    uint8_t *p = out_append(conn, 4);
    p = put8(p, 0); /* FramebufferUpdate */
    p = put8(p, 0);
    put16(p, nrects);
}

/* The size changed since the client was last told: a DesktopSize rectangle, alone in
 * an update, when it has asked for one (as QEMU, clients that cannot resize are
 * closed rather than shown a clipped or stale picture). */
static gboolean start_resize(VncConn *conn)
{
    int width = vnc_framebuffer_get_width(conn->fb), height = vnc_framebuffer_get_height(conn->fb);
    if (!conn->desktop_size) {
        conn_fail(conn, "the framebuffer is now %dx%d and the client cannot follow (no DesktopSize): closed", width,
                  height);
        return FALSE;
    }
    if (!conn->incremental && !conn->full) {
        return FALSE;
    }
    put_update_header(conn, 1);
    put_rect_header(conn, (Rect){ 0, 0, width, height }, ENCODING_DESKTOP_SIZE);
    conn->width = width;
    conn->height = height;
    forget_sent(conn);
    /* The areas asked for were in the old size; the client asks again. */
    conn->incremental = conn->full = FALSE;
    conn->incremental_area = conn->full_area = (Rect){ 0 };
    return TRUE;
}

/* Starts an update for the requests held, if there is anything to send. */
static gboolean start_update(VncConn *conn)
{
    VncFramebuffer *fb = conn->fb;
    int width = vnc_framebuffer_get_width(fb), height = vnc_framebuffer_get_height(fb);
    int tiles_x = vnc_framebuffer_get_tiles_x(fb), tiles_y = vnc_framebuffer_get_tiles_y(fb);
    Rect screen = { 0, 0, width, height };
    guint64 now = vnc_framebuffer_get_serial(fb);

    if (width != conn->width || height != conn->height) {
        return start_resize(conn);
    }
    g_array_set_size(conn->rects, 0);
    if (conn->full) {
        /* The area now, whatever the client has. */
        Rect area = rect_intersect(conn->full_area, screen);
        if (area.w) {
            g_array_append_val(conn->rects, area);
        }
        for (int ty = 0; ty < tiles_y; ty++) {
            for (int tx = 0; tx < tiles_x; tx++) {
                Rect tile = rect_intersect(tile_rect(tx, ty), screen);
                Rect covered = rect_intersect(tile, area);
                if (covered.w == tile.w && covered.h == tile.h) {
                    conn->sent[ty * tiles_x + tx] = now;
                }
            }
        }
        conn->full = FALSE;
        conn->full_area = (Rect){ 0 };
    } else if (conn->incremental) {
        /* Whole dirty tiles touching the area, each row's runs of them merged. */
        for (int ty = 0; ty < tiles_y; ty++) {
            for (int tx = 0; tx < tiles_x; tx++) {
                int i = ty * tiles_x + tx;
                Rect tile = rect_intersect(tile_rect(tx, ty), screen);
                if (vnc_framebuffer_get_tile_serial(fb, tx, ty) <= conn->sent[i] ||
                    !rect_intersect(tile, conn->incremental_area).w) {
                    continue;
                }
                conn->sent[i] = now;
                Rect *last = conn->rects->len ? &g_array_index(conn->rects, Rect, conn->rects->len - 1) : NULL;
                if (last && last->y == tile.y && last->x + last->w == tile.x) {
                    last->w += tile.w;
                } else {
                    g_array_append_val(conn->rects, tile);
                }
            }
        }
        if (!conn->rects->len) {
            return FALSE; /* held until something changes */
        }
        conn->incremental = FALSE;
        conn->incremental_area = (Rect){ 0 };
    } else {
        return FALSE;
    }
    put_update_header(conn, conn->rects->len);
    conn->update_format = conn->format;
    conn->update_hextile = conn->hextile;
    conn->rect_index = 0;
    conn->rect_row = -1;
    conn->updating = conn->rects->len > 0;
    return TRUE;
}

/* One row of Hextile tiles of R from its row ROW: solid tiles as their colour alone
 * (or nothing when it is the previous tile's), the rest raw. */
static void put_hextile_row(VncConn *conn, Rect r, int row)
{
    const VncPixelFormat *f = &conn->update_format;
    int th = MIN(HEXTILE_SIZE, r.h - row);
    for (int col = 0; col < r.w; col += HEXTILE_SIZE) {
        int tw = MIN(HEXTILE_SIZE, r.w - col);
        uint32_t first = get_pixel(conn, r.x + col, r.y + row);
        gboolean solid = TRUE;
        for (int y = 0; y < th && solid; y++) {
            for (int x = 0; x < tw && solid; x++) {
                solid = get_pixel(conn, r.x + col + x, r.y + row + y) == first;
            }
        }
        if (solid && conn->background_ok && conn->background == first) {
            out_put8(conn, 0);
        } else if (solid) {
            uint8_t *p = out_append(conn, 1 + f->bpp / 8);
            vnc_pixel_format_put(f, put8(p, HEXTILE_BACKGROUND), first);
            conn->background_ok = TRUE;
            conn->background = first;
        } else {
            uint8_t *p = put8(out_append(conn, 1 + tw * th * f->bpp / 8), HEXTILE_RAW);
            for (int y = 0; y < th; y++) {
                p = put_row(conn, p, r.x + col, r.y + row + y, tw);
            }
            conn->background_ok = FALSE; /* raw tiles leave no background to reuse */
        }
    }
}

/* Queues the next piece of the update in progress. */
static void produce_update(VncConn *conn)
{
    Rect r = g_array_index(conn->rects, Rect, conn->rect_index);
    if (conn->rect_row < 0) {
        put_rect_header(conn, r, conn->update_hextile ? ENCODING_HEXTILE : ENCODING_RAW);
        conn->rect_row = 0;
        conn->background_ok = FALSE;
    }
    while (conn->rect_row < r.h && out_pending(conn) < OUT_CHUNK) {
        if (conn->update_hextile) {
            put_hextile_row(conn, r, conn->rect_row);
            conn->rect_row += HEXTILE_SIZE;
        } else {
            size_t row_bytes = (size_t)r.w * (conn->update_format.bpp / 8);
            int rows = MIN(r.h - conn->rect_row, (int)MAX(1, OUT_CHUNK / row_bytes));
            uint8_t *p = out_append(conn, rows * row_bytes);
            for (int i = 0; i < rows; i++) {
                p = put_row(conn, p, r.x, r.y + conn->rect_row + i, r.w);
            }
            conn->rect_row += rows;
        }
    }
    if (conn->rect_row >= r.h) {
        conn->rect_row = -1;
        conn->updating = ++conn->rect_index < conn->rects->len;
    }
}

/* Queues update output if the client is owed some and OUT has room. Returns whether
 * it queued anything. */
static gboolean update_step(VncConn *conn)
{
    if (!conn->ready || conn->ending || out_pending(conn) >= OUT_CHUNK) {
        return FALSE;
    }
    if (!conn->updating) {
        return start_update(conn);
    }
    produce_update(conn);
    return TRUE;
}

/* ---- Normal messages ---- */

static void read_message(VncConn *conn);

static void next_message(VncConn *conn)
{
    expect(conn, 1, read_message);
}

static void handle_set_pixel_format(VncConn *conn)
{
    const char *why = NULL;
    if (!vnc_pixel_format_parse(&conn->format, conn->buf.in + 4, &why)) {
        conn_fail(conn, "SetPixelFormat: %s: closed", why);
        return;
    }
    next_message(conn);
}

static void handle_set_encodings(VncConn *conn)
{
    uint16_t count = get16(conn->buf.in + 2);
    gboolean chosen = FALSE;
    conn->hextile = conn->desktop_size = FALSE;
    for (uint16_t i = 0; i < count; i++) {
        int32_t encoding = (int32_t)get32(conn->buf.in + 4 + 4 * i);
        /* The first encoding listed that the server has wins, as in QEMU. */
        if (!chosen && (encoding == ENCODING_RAW || encoding == ENCODING_HEXTILE)) {
            conn->hextile = encoding == ENCODING_HEXTILE;
            chosen = TRUE;
        }
        conn->desktop_size |= encoding == ENCODING_DESKTOP_SIZE;
    }
    next_message(conn);
}

static void read_set_encodings(VncConn *conn)
{
    expect_more(conn, 4 + 4 * (size_t)get16(conn->buf.in + 2), handle_set_encodings);
}

static void handle_update_request(VncConn *conn)
{
    const uint8_t *p = conn->buf.in;
    Rect area = { get16(p + 2), get16(p + 4), get16(p + 6), get16(p + 8) };
    /* Clipped to what the client knows; what lies outside it cannot be sent. */
    area = rect_intersect(area, (Rect){ 0, 0, conn->width, conn->height });
    if (p[1]) {
        conn->incremental = TRUE;
        conn->incremental_area = rect_union(conn->incremental_area, area);
    } else {
        conn->full = TRUE;
        conn->full_area = rect_union(conn->full_area, area);
    }
    next_message(conn);
}

static void handle_key_event(VncConn *conn)
{
    uint32_t keysym = get32(conn->buf.in + 4);
    if (conn->buf.in[1] && (keysym == 'r' || keysym == 'R')) {
        vnc_framebuffer_toggle_size(conn->fb);
    }
    next_message(conn);
}

static void handle_pointer_event(VncConn *conn)
{
    if (conn->buf.in[1] & 1) {
        /* The framebuffer ignores points outside it. */
        vnc_framebuffer_add_dot(conn->fb, get16(conn->buf.in + 2), get16(conn->buf.in + 4));
    }
    next_message(conn);
}

/* Skips the cut text a piece at a time. */
static void skip_cut_text(VncConn *conn)
{
    conn->cut_text_left -= conn->buf.in_have;
    if (conn->cut_text_left) {
        expect(conn, MIN(conn->cut_text_left, CUT_TEXT_PIECE), skip_cut_text);
    } else {
        next_message(conn);
    }
}

static void handle_client_cut_text(VncConn *conn)
{
    uint32_t len = get32(conn->buf.in + 4);
    if (len > MAX_CUT_TEXT) {
        conn_fail(conn, "ClientCutText of %u bytes, past the limit of %u: closed", len, MAX_CUT_TEXT);
        return;
    }
    conn->cut_text_left = len;
    conn->buf.in_have = 0;
    skip_cut_text(conn);
}

static void read_message(VncConn *conn)
{
    switch (conn->buf.in[0]) {
    case MSG_SET_PIXEL_FORMAT:
        expect_more(conn, 20, handle_set_pixel_format);
        break;
    case MSG_SET_ENCODINGS:
        expect_more(conn, 4, read_set_encodings);
        break;
    case MSG_UPDATE_REQUEST:
        expect_more(conn, 10, handle_update_request);
        break;
    case MSG_KEY_EVENT:
        expect_more(conn, 8, handle_key_event);
        break;
    case MSG_POINTER_EVENT:
        expect_more(conn, 6, handle_pointer_event);
        break;
    case MSG_CLIENT_CUT_TEXT:
        expect_more(conn, 8, handle_client_cut_text);
        break;
    default:
        conn_fail(conn, "unknown message type %u: closed", conn->buf.in[0]);
        break;
    }
}

/* ClientInit (its shared flag is moot: every client shares) ends the handshake;
 * ServerInit starts the session. */
static void read_client_init(VncConn *conn)
{
    g_clear_handle_id(&conn->deadline, g_source_remove);
    const char *why = NULL;
    vnc_pixel_format_parse(&conn->format, vnc_pixel_format_server, &why);
    conn->width = vnc_framebuffer_get_width(conn->fb);
    conn->height = vnc_framebuffer_get_height(conn->fb);
    forget_sent(conn);
    conn->ready = TRUE;

    uint8_t *p = out_append(conn, 4 + VNC_PIXEL_FORMAT_LEN);
    p = put16(p, conn->width);
    p = put16(p, conn->height);
    memcpy(p, vnc_pixel_format_server, VNC_PIXEL_FORMAT_LEN);
    out_put_string(conn, conn->config->name);
    g_printerr("%s: RFB 3.%d, %s%s: ready\n", conn->peer, conn->minor, security_name(conn),
               conn->websock ? (conn->tls ? ", secure websocket" : ", websocket") : "");
    next_message(conn);
}

/* ---- The loop ---- */

static gboolean conn_ready(QIOChannel *ioc, GIOCondition condition, gpointer opaque)
{
    (void)ioc, (void)condition;
    VncConn *conn = opaque;
    conn->watch = 0;
    conn_run(conn);
    return G_SOURCE_REMOVE;
}

static gboolean conn_resume(gpointer opaque)
{
    VncConn *conn = opaque;
    conn->resume = 0;
    conn_run(conn);
    return G_SOURCE_REMOVE;
}

/* Writes what is queued. Returns FALSE when the channel takes no more for now. */
static gboolean conn_flush(VncConn *conn)
{
    GError *error = NULL;
    /* A large refusal or ServerInit's buffer goes once written; chunks fit the next. */
    int ret = conn_buffer_flush(&conn->buf, conn->ioc, 4 * OUT_CHUNK, &error);
    if (ret == QIO_CHANNEL_ERR_BLOCK) {
        return FALSE;
    }
    if (ret < 0) {
        conn_fail(conn, "%s", error->message);
        g_error_free(error);
    }
    return TRUE;
}

/* Reads toward what the current step wants. Returns FALSE when nothing is there. */
static gboolean conn_fill(VncConn *conn)
{
    GError *error = NULL;
    /* Viewers often just close their TLS connection: that is an end like any other
     * (and one mid-message still shows as such). */
    int flags = conn->ioc == QIO_CHANNEL(conn->tls) ? QIO_CHANNEL_READ_FLAG_RELAXED_EOF : 0;
    ssize_t n = conn_buffer_fill(&conn->buf, conn->ioc, flags, &error);
    if (n == QIO_CHANNEL_ERR_BLOCK) {
        return FALSE;
    }
    if (n == 0) {
        /* Between messages a client may just go; anywhere else it broke off. */
        conn_fail(conn, conn->buf.in_have ? "the client went away mid-message"
                        : conn->ready ? NULL
                                      : "the client went away during the handshake");
    } else if (n < 0) {
        conn_fail(conn, "%s", error->message);
        g_error_free(error);
    }
    return TRUE;
}

/* Moves the connection on until it waits for the peer or a handshake, has had its
 * turn, or ends; then waits for what it needs. */
static void conn_run(VncConn *conn)
{
    gboolean read_blocked = FALSE, write_blocked = FALSE;
    g_clear_handle_id(&conn->watch, g_source_remove);
    conn->running = TRUE;
    for (int steps = 0; !conn->waiting;) {
        if (out_pending(conn) && !write_blocked) {
            write_blocked = !conn_flush(conn);
        }
        if (conn->ending) {
            /* A refusal still queued waits for the socket; conn_fail() dropped the
             * rest, so a write blocked earlier in this turn keeps nothing waiting. */
            if (write_blocked && out_pending(conn)) {
                break;
            }
            conn_free(conn);
            return;
        }
        if (!out_pending(conn) && conn->after_flush) {
            Handler step = conn->after_flush;
            conn->after_flush = NULL;
            step(conn);
            continue;
        }
        if (steps == STEPS_PER_TURN) {
            conn->resume = g_idle_add(conn_resume, conn);
            break;
        }
        if (update_step(conn)) {
            steps++;
            continue;
        }
        if (read_blocked || conn->after_flush) {
            break;
        }
        if (conn->sniffing) {
            read_blocked = !sniff(conn);
        } else if (conn->buf.in_have < conn->buf.in_want) {
            read_blocked = !conn_fill(conn);
        } else {
            steps++;
            conn->handler(conn);
        }
    }
    conn->running = FALSE;
    if (conn->waiting || conn->resume) {
        return; /* the handshake's callback or the idle goes on */
    }
    GIOCondition wanted = (out_pending(conn) ? G_IO_OUT : 0) | (conn->ending || conn->after_flush ? 0 : G_IO_IN);
    conn->watch = qio_channel_add_watch(conn->ioc, wanted, conn_ready, conn, NULL);
}

void vnc_conn_framebuffer_changed(VncConn *conn)
{
    gboolean owed = conn->incremental || conn->full || conn->width != vnc_framebuffer_get_width(conn->fb) ||
                    conn->height != vnc_framebuffer_get_height(conn->fb);
    if (conn->ready && owed && !conn->running && !conn->resume && !conn->waiting) {
        conn->resume = g_idle_add(conn_resume, conn);
    }
}

VncConn *vnc_conn_new(const VncServerConfig *config, VncFramebuffer *fb, QIOChannel *ioc, gboolean websocket,
                      const char *peer, VncConnClosed closed, gpointer opaque)
{
    VncConn *conn = g_new0(VncConn, 1);
    *conn = (VncConn){
        .config = config,
        .fb = fb,
        .peer = g_strdup(peer),
        .closed = closed,
        .opaque = opaque,
        .socket = qio_channel_ref(ioc),
        .ioc = ioc,
        .websocket = websocket,
        .rects = g_array_new(FALSE, FALSE, sizeof(Rect)),
    };
    /* One security type, as QEMU offers: websockets carry no VeNCrypt (wss has its
     * TLS outside); elsewhere TLS means VeNCrypt with the matching subtype. */
    if (websocket || !config->tls_creds) {
        conn->security = config->password ? SECURITY_VNC : SECURITY_NONE;
    } else {
        conn->security = SECURITY_VENCRYPT;
        conn->subtype = config->tls_x509 ? (config->password ? VENCRYPT_X509VNC : VENCRYPT_X509NONE)
                                         : (config->password ? VENCRYPT_TLSVNC : VENCRYPT_TLSNONE);
    }
    if (config->handshake_limit_ms) {
        conn->deadline = g_timeout_add(config->handshake_limit_ms, deadline_passed, conn);
    }
    /* Non-blocking before any handshake starts: a handshake begun on a blocking
     * socket makes it blocking again when it ends. */
    GError *error = NULL;
    if (!qio_channel_set_blocking(ioc, FALSE, &error)) {
        conn_fail(conn, "%s", error->message);
        g_error_free(error);
    } else if (!websocket) {
        start_rfb(conn);
    } else if (qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_READ_MSG_PEEK)) {
        conn->sniffing = TRUE;
    } else if (config->tls_creds) {
        start_tls(conn, start_websocket); /* no peeking: what TLS being on says */
    } else {
        conn->after_flush = start_websocket;
    }
    conn->resume = g_idle_add(conn_resume, conn);
    return conn;
}
