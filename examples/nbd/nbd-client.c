/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* NbdClient: qio-nbd-client's session with an NBD server (see nbd-client.h). The I/O
 * is blocking, each step reading exactly what it expects: the server's every length is
 * checked against what was asked, so a hostile server cannot make the client read or
 * write outside its buffers. */

#include "nbd-client.h"
#include "nbd-proto.h"

#include <errno.h>
#include <inttypes.h>

enum {
    MAX_IN_FLIGHT = 8,              /* requests sent and not answered yet, at most */
    REQUEST_SIZE = 2 * 1024 * 1024, /* what one NBD_CMD_READ or _WRITE moves, at most */
    MAX_OPTION_REPLY = 64 * 1024,   /* the longest option reply taken in */
    HANDSHAKE_TIMEOUT_MS = 30 * 1000,
};

/* ---- Names for messages ---- */

/* TEXT fit for a terminal: valid UTF-8 with the control characters made '?'. */
static char *printable(const uint8_t *text, size_t len)
{
    char *s = g_utf8_make_valid((const char *)text, len);
    for (char *p = s; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            *p = '?';
        }
    }
    return s;
}

/* An option reply's type: the NBD_REP_ERR_* name, or its number. */
static char *reply_type_name(uint32_t type)
{
    static const char *const errors[] = {
        [1] = "NBD_REP_ERR_UNSUP", [2] = "NBD_REP_ERR_POLICY", [3] = "NBD_REP_ERR_INVALID",
        [4] = "NBD_REP_ERR_PLATFORM", [5] = "NBD_REP_ERR_TLS_REQD", [6] = "NBD_REP_ERR_UNKNOWN",
        [7] = "NBD_REP_ERR_SHUTDOWN", [8] = "NBD_REP_ERR_BLOCK_SIZE_REQD", [9] = "NBD_REP_ERR_TOO_BIG",
    };
    uint32_t code = type & ~NBD_REP_ERR(0);
    if (type != code && code < G_N_ELEMENTS(errors) && errors[code]) {
        return g_strdup(errors[code]);
    }
    return g_strdup_printf("reply type 0x%08" PRIx32, type);
}

/* A transmission error value: its NBD_E* name and what it means. */
static char *error_name(uint32_t value)
{
    static const struct {
        uint32_t value;
        const char *name;
        int host; /* the errno that describes it */
    } errors[] = {
        { NBD_EPERM, "NBD_EPERM", EPERM },       { NBD_EIO, "NBD_EIO", EIO },
        { NBD_ENOMEM, "NBD_ENOMEM", ENOMEM },    { NBD_EINVAL, "NBD_EINVAL", EINVAL },
        { NBD_ENOSPC, "NBD_ENOSPC", ENOSPC },    { NBD_EOVERFLOW, "NBD_EOVERFLOW", EOVERFLOW },
        { NBD_ENOTSUP, "NBD_ENOTSUP", ENOTSUP }, { NBD_ESHUTDOWN, "NBD_ESHUTDOWN", ESHUTDOWN },
    };
    for (size_t i = 0; i < G_N_ELEMENTS(errors); i++) {
        if (errors[i].value == value) {
            return g_strdup_printf("%s (%s)", errors[i].name, g_strerror(errors[i].host));
        }
    }
    return g_strdup_printf("error %" PRIu32, value);
}

gboolean nbd_fail(GError **error, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *message = g_strdup_vprintf(format, args);
    va_end(args);
    g_set_error_literal(error, QIO_ERROR, QIO_ERROR_FAILED, message);
    return FALSE;
}

/* ---- The connection and the option haggling ---- */

typedef enum {
    PHASE_NONE,         /* nothing can be said to the server */
    PHASE_OPTIONS,      /* negotiating: NBD_OPT_ABORT ends it */
    PHASE_TRANSMISSION, /* NBD_CMD_DISC ends it */
} NbdPhase;

struct NbdClient {
    QIOChannel *socket;
    QIOChannelTLS *tls; /* NULL: plaintext */
    QIOChannel *ioc;    /* where NBD travels: the socket, or TLS over it */
    NbdPhase phase;
    gboolean no_zeroes; /* NBD_FLAG_C_NO_ZEROES was agreed */
    NbdClientExport export;
    uint64_t cookie; /* the last request's */
};

NbdClient *nbd_client_new(QIOChannel *ioc)
{
    NbdClient *nbd = g_new0(NbdClient, 1);
    nbd->socket = nbd->ioc = ioc;
    qio_channel_ref(ioc);
    /* The protocol's defaults when the server says nothing of block sizes. */
    nbd->export.min_block = 1;
    nbd->export.pref_block = 4096;
    nbd->export.max_block = NBD_MAX_BUFFER_SIZE;
    return nbd;
}

static gboolean recv_exact(NbdClient *nbd, void *buf, size_t len, GError **error)
{
    return qio_channel_read_all(nbd->ioc, buf, len, error) == 0;
}

gboolean nbd_client_greet(NbdClient *nbd, GError **error)
{
    uint8_t hello[18], flags[4];
    if (!recv_exact(nbd, hello, sizeof(hello), error)) {
        g_prefix_error(error, "reading the server's greeting: ");
        return FALSE;
    }
    if (nbd_get64(hello) != NBD_INIT_MAGIC) {
        return nbd_fail(error, "this is not an NBD server (its greeting lacks NBDMAGIC)");
    }
    if (nbd_get64(hello + 8) == NBD_CLISERV_MAGIC) {
        return nbd_fail(error, "the server speaks the oldstyle handshake, without export names or TLS: not supported");
    }
    if (nbd_get64(hello + 8) != NBD_OPTS_MAGIC) {
        return nbd_fail(error, "the server's greeting has an unknown handshake magic");
    }
    uint16_t server_flags = nbd_get16(hello + 16);
    if (!(server_flags & NBD_FLAG_FIXED_NEWSTYLE)) {
        return nbd_fail(error, "the server does not speak the fixed newstyle handshake");
    }
    nbd->no_zeroes = server_flags & NBD_FLAG_NO_ZEROES;
    nbd_put32(flags, NBD_FLAG_C_FIXED_NEWSTYLE | (nbd->no_zeroes ? NBD_FLAG_C_NO_ZEROES : 0));
    if (qio_channel_write_all(nbd->ioc, (char *)flags, sizeof(flags), error) < 0) {
        return FALSE;
    }
    nbd->phase = PHASE_OPTIONS;
    return TRUE;
}

static gboolean option_send(NbdClient *nbd, uint32_t option, const void *data, uint32_t len, GError **error)
{
    uint8_t head[16];
    nbd_put64(head, NBD_OPTS_MAGIC);
    nbd_put32(head + 8, option);
    nbd_put32(head + 12, len);
    struct iovec iov[] = { { head, sizeof(head) }, { (void *)data, len } };
    return qio_channel_writev_all(nbd->ioc, iov, len ? 2 : 1, error) == 0;
}

typedef struct {
    uint32_t type;
    uint32_t len;
    uint8_t *data; /* len bytes and a NUL */
} OptionReply;

static void option_reply_clear(OptionReply *reply)
{
    g_free(reply->data);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(OptionReply, option_reply_clear)

/* Reads one reply to OPTION; its length is bounded, not trusted. */
static gboolean option_reply(NbdClient *nbd, uint32_t option, OptionReply *reply, GError **error)
{
    uint8_t head[20];
    if (!recv_exact(nbd, head, sizeof(head), error)) {
        g_prefix_error(error, "reading the reply to %s: ", nbd_option_name(option));
        return FALSE;
    }
    if (nbd_get64(head) != NBD_REP_MAGIC || nbd_get32(head + 8) != option) {
        return nbd_fail(error, "the server's reply to %s is malformed", nbd_option_name(option));
    }
    reply->type = nbd_get32(head + 12);
    reply->len = nbd_get32(head + 16);
    if (reply->len > MAX_OPTION_REPLY) {
        return nbd_fail(error, "the server's reply to %s is too long (%" PRIu32 " bytes)", nbd_option_name(option),
                        reply->len);
    }
    reply->data = g_malloc0(reply->len + 1);
    return recv_exact(nbd, reply->data, reply->len, error);
}

/* The failure an unwelcome REPLY to OPTION means: the server's refusal (with its
 * message), or a reply the protocol does not allow there. */
static gboolean option_failed(const OptionReply *reply, uint32_t option, GError **error)
{
    g_autofree char *type = reply_type_name(reply->type);
    if (!(reply->type & NBD_REP_ERR(0))) {
        return nbd_fail(error, "the server sent an unexpected reply to %s (%s, %" PRIu32 " bytes)",
                        nbd_option_name(option), type, reply->len);
    }
    g_autofree char *message = printable(reply->data, reply->len);
    const char *hint = reply->type == NBD_REP_ERR_TLS_REQD ? " (the server requires TLS: see --tls-creds)" : "";
    return nbd_fail(error, "the server refused %s: %s%s%s%s", nbd_option_name(option), type, hint, *message ? ": " : "",
                    message);
}

/* Sends OPTION, without data, and reads its one reply. */
static gboolean option_ask(NbdClient *nbd, uint32_t option, OptionReply *reply, GError **error)
{
    return option_send(nbd, option, NULL, 0, error) && option_reply(nbd, option, reply, error);
}

typedef struct {
    gboolean done;
    GError *error;
} Handshake;

static void handshaken(QIOTask *task, gpointer opaque)
{
    Handshake *hs = opaque;
    qio_task_propagate_error(task, &hs->error);
    hs->done = TRUE;
}

/* Runs the TLS handshake to its end from the default main context, for at most
 * HANDSHAKE_TIMEOUT_MS whatever the server does. */
static gboolean tls_handshake(QIOChannelTLS *tls, GError **error)
{
    Handshake hs = { 0 };
    qio_channel_tls_set_handshake_timeout(tls, HANDSHAKE_TIMEOUT_MS);
    qio_channel_tls_handshake(tls, handshaken, &hs, NULL, NULL);
    while (!hs.done) {
        g_main_context_iteration(NULL, TRUE);
    }
    if (hs.error) {
        g_propagate_prefixed_error(error, hs.error, "TLS handshake: ");
        return FALSE;
    }
    return TRUE;
}

/* Anything but an ACK to NBD_OPT_STARTTLS ends the session: a client that asked for
 * TLS never goes on in plaintext. */
gboolean nbd_client_starttls(NbdClient *nbd, QCryptoTLSCreds *creds, const char *hostname, GError **error)
{
    g_auto(OptionReply) reply = { 0 };
    if (!option_ask(nbd, NBD_OPT_STARTTLS, &reply, error)) {
        return FALSE;
    }
    if (reply.type != NBD_REP_ACK || reply.len) {
        option_failed(&reply, NBD_OPT_STARTTLS, error);
        g_prefix_error(error, "the server does not offer TLS: ");
        return FALSE;
    }
    nbd->tls = qio_channel_tls_new_client(nbd->socket, creds, hostname, error);
    if (!nbd->tls) {
        return FALSE;
    }
    nbd->ioc = QIO_CHANNEL(nbd->tls);
    nbd->phase = PHASE_NONE; /* until the handshake is through */
    if (!tls_handshake(nbd->tls, error)) {
        return FALSE;
    }
    nbd->phase = PHASE_OPTIONS;
    return TRUE;
}

QIOChannelTLS *nbd_client_get_tls(NbdClient *nbd)
{
    return nbd->tls;
}

/* NBD_OPT_STRUCTURED_REPLY: agreed on an ACK; simple replies if the server does not
 * know it. */
static gboolean nbd_structured_reply(NbdClient *nbd, GError **error)
{
    g_auto(OptionReply) reply = { 0 };
    if (!option_ask(nbd, NBD_OPT_STRUCTURED_REPLY, &reply, error)) {
        return FALSE;
    }
    if (reply.type == NBD_REP_ERR_UNSUP) {
        return TRUE;
    }
    if (reply.type != NBD_REP_ACK || reply.len) {
        return option_failed(&reply, NBD_OPT_STRUCTURED_REPLY, error);
    }
    nbd->export.structured = TRUE;
    return TRUE;
}

static gboolean is_power_of_2(uint32_t n)
{
    return n && !(n & (n - 1));
}

/* The block sizes in an NBD_INFO_BLOCK_SIZE, if the protocol allows them: the client
 * relies on them to size its requests. */
static gboolean take_block_sizes(NbdClient *nbd, const uint8_t *p, GError **error)
{
    uint32_t min = nbd_get32(p), pref = nbd_get32(p + 4), max = nbd_get32(p + 8);
    if (!is_power_of_2(min) || min > 65536 || !is_power_of_2(pref) || pref < min || max < min ||
        (max % min && max != UINT32_MAX)) {
        return nbd_fail(error, "the server's block sizes are invalid (minimum %" PRIu32 ", preferred %" PRIu32
                        ", maximum %" PRIu32 ")", min, pref, max);
    }
    nbd->export.min_block = min;
    nbd->export.pref_block = pref;
    nbd->export.max_block = max;
    return TRUE;
}

/* Takes in one NBD_REP_INFO reply to NBD_OPT_GO. */
static gboolean take_info(NbdClient *nbd, const OptionReply *reply, gboolean *have_export, GError **error)
{
    if (reply->len < 2) {
        return nbd_fail(error, "the server sent an empty NBD_REP_INFO");
    }
    uint16_t type = nbd_get16(reply->data);
    const uint8_t *p = reply->data + 2;
    uint32_t len = reply->len - 2;
    if (type == NBD_INFO_EXPORT && len == 10) {
        nbd->export.size = nbd_get64(p);
        nbd->export.flags = nbd_get16(p + 8);
        *have_export = TRUE;
        return TRUE;
    }
    if ((type == NBD_INFO_NAME || type == NBD_INFO_DESCRIPTION) && len <= NBD_MAX_STRING_SIZE) {
        char **field = type == NBD_INFO_NAME ? &nbd->export.name : &nbd->export.description;
        g_free(*field);
        *field = printable(p, len);
        return TRUE;
    }
    if (type == NBD_INFO_BLOCK_SIZE && len == 12) {
        return take_block_sizes(nbd, p, error);
    }
    if (type > NBD_INFO_BLOCK_SIZE) {
        return TRUE; /* information we did not ask for: ignored, as the protocol says */
    }
    return nbd_fail(error, "the server sent a malformed NBD_REP_INFO (item %" PRIu16 ", %" PRIu32 " bytes)", type, len);
}

/* NBD_OPT_GO for NAME, asking for its name, description and block sizes. Fails with
 * QIO_ERROR_NOT_SUPPORTED when the server does not know NBD_OPT_GO. */
static gboolean nbd_go(NbdClient *nbd, const char *name, GError **error)
{
    static const uint16_t wanted[] = { NBD_INFO_NAME, NBD_INFO_DESCRIPTION, NBD_INFO_BLOCK_SIZE };
    size_t name_len = strlen(name);
    g_autofree uint8_t *data = g_malloc(4 + name_len + 2 + sizeof(wanted));
    uint8_t *p = data;
    nbd_put32(p, name_len);
    memcpy(p + 4, name, name_len);
    p += 4 + name_len;
    nbd_put16(p, G_N_ELEMENTS(wanted));
    p += 2;
    for (size_t i = 0; i < G_N_ELEMENTS(wanted); i++, p += 2) {
        nbd_put16(p, wanted[i]);
    }
    if (!option_send(nbd, NBD_OPT_GO, data, p - data, error)) {
        return FALSE;
    }
    for (gboolean have_export = FALSE;;) {
        g_auto(OptionReply) reply = { 0 };
        if (!option_reply(nbd, NBD_OPT_GO, &reply, error)) {
            return FALSE;
        }
        if (reply.type == NBD_REP_ERR_UNSUP) {
            g_set_error(error, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED, "the server does not know NBD_OPT_GO");
            return FALSE;
        }
        if (reply.type == NBD_REP_ACK && !reply.len) {
            return have_export || nbd_fail(error, "the server opened the export without saying its size");
        }
        if (reply.type != NBD_REP_INFO) {
            option_failed(&reply, NBD_OPT_GO, error);
            g_prefix_error(error, "export '%s': ", name);
            return FALSE;
        }
        if (!take_info(nbd, &reply, &have_export, error)) {
            return FALSE;
        }
    }
}

/* NBD_OPT_EXPORT_NAME, for servers without NBD_OPT_GO: the only answer is the
 * export's size and flags, or the connection closed when there is no such export. */
static gboolean nbd_export_name(NbdClient *nbd, const char *name, GError **error)
{
    uint8_t info[10 + 124]; /* size, flags, and zeroes unless NO_ZEROES was agreed */
    if (!option_send(nbd, NBD_OPT_EXPORT_NAME, name, strlen(name), error)) {
        return FALSE;
    }
    if (!recv_exact(nbd, info, nbd->no_zeroes ? 10 : sizeof(info), error)) {
        g_prefix_error(error, "export '%s' (NBD_OPT_EXPORT_NAME, after NBD_OPT_GO was not supported): ", name);
        return FALSE;
    }
    nbd->export.size = nbd_get64(info);
    nbd->export.flags = nbd_get16(info + 8);
    return TRUE;
}

gboolean nbd_client_open(NbdClient *nbd, const char *name, GError **error)
{
    g_autoptr(GError) go_error = NULL;
    nbd->export.name = printable((const uint8_t *)name, strlen(name)); /* until the server names it */
    if (!nbd_structured_reply(nbd, error)) {
        return FALSE;
    }
    if (!nbd_go(nbd, name, &go_error)) {
        if (!g_error_matches(go_error, QIO_ERROR, QIO_ERROR_NOT_SUPPORTED)) {
            g_propagate_error(error, g_steal_pointer(&go_error));
            return FALSE;
        }
        if (!nbd_export_name(nbd, name, error)) {
            return FALSE;
        }
    }
    nbd->phase = PHASE_TRANSMISSION;
    return TRUE;
}

const NbdClientExport *nbd_client_get_export(NbdClient *nbd)
{
    return &nbd->export;
}

gboolean nbd_client_list(NbdClient *nbd, NbdClientListFunc func, gpointer opaque, GError **error)
{
    if (!option_send(nbd, NBD_OPT_LIST, NULL, 0, error)) {
        return FALSE;
    }
    for (;;) {
        g_auto(OptionReply) reply = { 0 };
        if (!option_reply(nbd, NBD_OPT_LIST, &reply, error)) {
            return FALSE;
        }
        if (reply.type == NBD_REP_ACK && !reply.len) {
            return TRUE;
        }
        if (reply.type != NBD_REP_SERVER) {
            return option_failed(&reply, NBD_OPT_LIST, error);
        }
        uint32_t name_len = reply.len >= 4 ? nbd_get32(reply.data) : 0;
        if (reply.len < 4 || name_len > reply.len - 4 || name_len > NBD_MAX_STRING_SIZE) {
            return nbd_fail(error, "the server sent a malformed NBD_REP_SERVER (%" PRIu32 " bytes)", reply.len);
        }
        g_autofree char *export = printable(reply.data + 4, name_len);
        g_autofree char *description = printable(reply.data + 4 + name_len, reply.len - 4 - name_len);
        func(export, description, opaque);
    }
}

/* ---- Transmission ---- */

typedef struct {
    uint16_t command;
    uint64_t cookie; /* 0: not in flight */
    uint64_t offset;
    uint32_t length;
    uint8_t *buf;      /* NBD_CMD_READ and _WRITE: length bytes */
    uint8_t *map;      /* NBD_CMD_READ: a bit for each byte the replies covered */
    uint32_t received; /* NBD_CMD_READ: how many they are */
    gboolean hole;     /* NBD_CMD_READ: every byte came as a hole */
    gboolean done;
} Request;

static gboolean request_send(NbdClient *nbd, Request *req, GError **error)
{
    uint8_t head[NBD_REQUEST_SIZE];
    req->cookie = ++nbd->cookie;
    req->received = 0;
    if (req->map) {
        memset(req->map, 0, req->length / 8 + 1);
    }
    req->hole = TRUE;
    req->done = FALSE;
    nbd_put32(head, NBD_REQUEST_MAGIC);
    nbd_put16(head + 4, 0);
    nbd_put16(head + 6, req->command);
    nbd_put64(head + 8, req->cookie);
    nbd_put64(head + 16, req->offset);
    nbd_put32(head + 24, req->length);
    struct iovec iov[] = { { head, sizeof(head) }, { req->buf, req->length } };
    return qio_channel_writev_all(nbd->ioc, iov, req->command == NBD_CMD_WRITE ? 2 : 1, error) == 0;
}

static const char *command_name(uint16_t command)
{
    return command == NBD_CMD_READ ? "NBD_CMD_READ" : command == NBD_CMD_WRITE ? "NBD_CMD_WRITE" : "NBD_CMD_FLUSH";
}

/* The server's error VALUE, with its MESSAGE, for REQ. */
static gboolean request_failed(const Request *req, uint32_t value, const char *message, GError **error)
{
    g_autofree char *name = error_name(value);
    return nbd_fail(error, "the server failed %s (offset %" PRIu64 ", %" PRIu32 " bytes): %s%s%s",
                    command_name(req->command), req->offset, req->length, name, *message ? ": " : "", message);
}

/* A reply the protocol does not allow for REQ. */
static gboolean reply_invalid(const Request *req, const char *what, GError **error)
{
    return nbd_fail(error, "the server sent %s in reply to %s (offset %" PRIu64 ", %" PRIu32 " bytes)", what,
                    command_name(req->command), req->offset, req->length);
}

/* A simple reply to REQ: an error, or success, with a read's data after it. */
static gboolean reply_simple(NbdClient *nbd, Request *req, uint32_t value, GError **error)
{
    if (value) {
        return request_failed(req, value, "", error);
    }
    if (req->command == NBD_CMD_READ) {
        if (!recv_exact(nbd, req->buf, req->length, error)) {
            return FALSE;
        }
        req->received = req->length;
        req->hole = FALSE;
    }
    req->done = TRUE;
    return TRUE;
}

/* Marks bytes FROM to TO of REQ as covered; FALSE if a chunk already covered any of
 * them. The protocol forbids overlapping chunks, and counting bytes without this would
 * take a read as complete with some of its buffer never written. */
static gboolean mark_received(Request *req, uint32_t from, uint32_t to)
{
    for (uint32_t i = from; i < to;) {
        uint8_t bits = i % 8 == 0 && to - i >= 8 ? 0xff : 1u << (i % 8);
        if (req->map[i / 8] & bits) {
            return FALSE;
        }
        req->map[i / 8] |= bits;
        i += bits == 0xff ? 8 : 1;
    }
    return TRUE;
}

/* An OFFSET_DATA or OFFSET_HOLE chunk of LEN bytes: its bytes land in REQ's buffer,
 * only inside the range REQ asked for and only once. */
static gboolean chunk_data(NbdClient *nbd, Request *req, uint16_t type, uint32_t len, GError **error)
{
    uint8_t head[12];
    uint32_t head_len = type == NBD_REPLY_TYPE_OFFSET_DATA ? 8 : 12;
    if (req->command != NBD_CMD_READ || len < head_len || (type == NBD_REPLY_TYPE_OFFSET_HOLE && len != 12)) {
        return reply_invalid(req, "a malformed data chunk", error);
    }
    if (!recv_exact(nbd, head, head_len, error)) {
        return FALSE;
    }
    uint64_t offset = nbd_get64(head);
    uint32_t count = type == NBD_REPLY_TYPE_OFFSET_DATA ? len - 8 : nbd_get32(head + 8);
    if (!count || count > req->length || offset < req->offset || offset - req->offset > req->length - count) {
        return reply_invalid(req, "a chunk outside the range asked for", error);
    }
    uint32_t from = offset - req->offset;
    if (!mark_received(req, from, from + count)) {
        return reply_invalid(req, "chunks that overlap", error);
    }
    uint8_t *at = req->buf + from;
    if (type == NBD_REPLY_TYPE_OFFSET_HOLE) {
        memset(at, 0, count);
    } else if (!recv_exact(nbd, at, count, error)) {
        return FALSE;
    } else {
        req->hole = FALSE;
    }
    req->received += count;
    return TRUE;
}

/* An error chunk (ERROR, ERROR_OFFSET, or one this client does not know): the
 * server's error value and message. Always FALSE. */
static gboolean chunk_error(NbdClient *nbd, Request *req, uint16_t type, uint32_t len, GError **error)
{
    if (len < 6 || len > 6 + NBD_MAX_STRING_SIZE + 8) {
        return reply_invalid(req, "a malformed error chunk", error);
    }
    g_autofree uint8_t *payload = g_malloc(len);
    if (!recv_exact(nbd, payload, len, error)) {
        return FALSE;
    }
    uint32_t value = nbd_get32(payload), message_len = nbd_get16(payload + 4);
    uint32_t expected = 6 + message_len + (type == NBD_REPLY_TYPE_ERROR_OFFSET ? 8 : 0);
    if (!value || expected > len || (type == NBD_REPLY_TYPE_ERROR_OFFSET && expected != len)) {
        return reply_invalid(req, "a malformed error chunk", error);
    }
    g_autofree char *message = printable(payload + 6, message_len);
    if (type == NBD_REPLY_TYPE_ERROR_OFFSET) {
        g_autofree char *with_offset = g_strdup_printf("%s%sat offset %" PRIu64, message, *message ? ", " : "",
                                                       nbd_get64(payload + 6 + message_len));
        return request_failed(req, value, with_offset, error);
    }
    return request_failed(req, value, message, error);
}

/* One chunk of a structured reply to REQ, with LEN bytes of payload. */
static gboolean reply_chunk(NbdClient *nbd, Request *req, uint16_t flags, uint16_t type, uint32_t len, GError **error)
{
    if (NBD_REPLY_TYPE_IS_ERR(type)) {
        return chunk_error(nbd, req, type, len, error);
    }
    if (type == NBD_REPLY_TYPE_OFFSET_DATA || type == NBD_REPLY_TYPE_OFFSET_HOLE) {
        if (!chunk_data(nbd, req, type, len, error)) {
            return FALSE;
        }
    } else if (type != NBD_REPLY_TYPE_NONE || len) {
        return reply_invalid(req, "a chunk of an unknown type", error);
    }
    if (flags & NBD_REPLY_FLAG_DONE) {
        if (req->received != (req->command == NBD_CMD_READ ? req->length : 0)) {
            return reply_invalid(req, "chunks that leave bytes out", error);
        }
        req->done = TRUE;
    }
    return TRUE;
}

/* Reads one simple reply, or one chunk of a structured reply, to one of the N
 * requests at REQS that are in flight. */
static gboolean reply_recv(NbdClient *nbd, Request *reqs, size_t n, GError **error)
{
    uint8_t head[NBD_STRUCTURED_REPLY_SIZE];
    if (!recv_exact(nbd, head, 4, error)) {
        return FALSE;
    }
    uint32_t magic = nbd_get32(head);
    if (magic != NBD_SIMPLE_REPLY_MAGIC && !(magic == NBD_STRUCTURED_REPLY_MAGIC && nbd->export.structured)) {
        return nbd_fail(error, "the server sent a reply with the wrong magic (0x%08" PRIx32 ")", magic);
    }
    size_t size = magic == NBD_SIMPLE_REPLY_MAGIC ? NBD_SIMPLE_REPLY_SIZE : NBD_STRUCTURED_REPLY_SIZE;
    if (!recv_exact(nbd, head + 4, size - 4, error)) {
        return FALSE;
    }
    uint64_t cookie = nbd_get64(head + 8);
    for (size_t i = 0; cookie && i < n; i++) { /* 0 is the cookie of the requests not in flight */
        if (reqs[i].cookie == cookie && !reqs[i].done) {
            return magic == NBD_SIMPLE_REPLY_MAGIC
                ? reply_simple(nbd, &reqs[i], nbd_get32(head + 4), error)
                : reply_chunk(nbd, &reqs[i], nbd_get16(head + 4), nbd_get16(head + 6), nbd_get32(head + 16), error);
        }
    }
    return nbd_fail(error, "the server replied to a request that is not in flight (cookie %" PRIu64 ")", cookie);
}

/* A transfer, MAX_IN_FLIGHT requests at a time. */
typedef struct {
    NbdClient *nbd;
    uint16_t command; /* NBD_CMD_READ or NBD_CMD_WRITE */
    NbdClientData data;
    gpointer opaque;
    uint64_t start, end; /* the bytes of the export wanted */
    uint64_t next, stop; /* what is left to ask for, in whole blocks */
    uint32_t chunk;      /* a request's length, at most */
    Request reqs[MAX_IN_FLIGHT]; /* a ring, in order of offset */
    unsigned head, count;
} Transfer;

static void transfer_clear(Transfer *t)
{
    for (size_t i = 0; i < MAX_IN_FLIGHT; i++) {
        g_free(t->reqs[i].buf);
        g_free(t->reqs[i].map);
    }
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Transfer, transfer_clear)

/* Sends the next request: a write's data first taken from the caller. */
static gboolean transfer_issue(Transfer *t, GError **error)
{
    Request *req = &t->reqs[(t->head + t->count) % MAX_IN_FLIGHT];
    req->command = t->command;
    req->offset = t->next;
    req->length = MIN(t->chunk, t->stop - t->next);
    if (!req->buf) {
        req->buf = g_malloc(t->chunk);
        req->map = t->command == NBD_CMD_READ ? g_malloc(t->chunk / 8 + 1) : NULL;
    }
    if ((t->command == NBD_CMD_WRITE && !t->data(req->buf, req->length, FALSE, t->opaque, error)) ||
        !request_send(t->nbd, req, error)) {
        return FALSE;
    }
    t->next += req->length;
    t->count++;
    return TRUE;
}

/* Ends the oldest request, answered: a read's wanted bytes go to the caller. */
static gboolean transfer_retire(Transfer *t, GError **error)
{
    Request *req = &t->reqs[t->head];
    t->head = (t->head + 1) % MAX_IN_FLIGHT;
    t->count--;
    req->cookie = 0;
    if (t->command != NBD_CMD_READ) {
        return TRUE;
    }
    uint64_t from = MAX(req->offset, t->start), to = MIN(req->offset + req->length, t->end);
    if (from >= to) {
        return TRUE;
    }
    return t->data(req->buf + (from - req->offset), to - from, req->hole, t->opaque, error);
}

/* END rounded up to a multiple of MIN, but at most SIZE (END <= SIZE), without
 * overflowing whatever size the server claims. */
static uint64_t round_up_within(uint64_t end, uint32_t min, uint64_t size)
{
    uint64_t pad = end % min ? min - end % min : 0;
    return size - end >= pad ? end + pad : size;
}

gboolean nbd_client_transfer(NbdClient *nbd, uint16_t command, uint64_t start, uint64_t end, NbdClientData data,
                             gpointer opaque, GError **error)
{
    uint32_t min = nbd->export.min_block;
    g_return_val_if_fail(nbd->phase == PHASE_TRANSMISSION && start <= end && end <= nbd->export.size, FALSE);
    g_return_val_if_fail(command == NBD_CMD_READ || (command == NBD_CMD_WRITE && !(start % min) && !(end % min)),
                         FALSE);
    g_auto(Transfer) t = {
        .nbd = nbd, .command = command, .data = data, .opaque = opaque, .start = start, .end = end,
        .next = start / min * min,
        .stop = round_up_within(end, min, nbd->export.size),
        .chunk = MIN(REQUEST_SIZE, nbd->export.max_block) / min * min,
    };
    while (t.next < t.stop || t.count) {
        while (t.count < MAX_IN_FLIGHT && t.next < t.stop) {
            if (!transfer_issue(&t, error)) {
                return FALSE;
            }
        }
        if (!reply_recv(nbd, t.reqs, MAX_IN_FLIGHT, error)) {
            return FALSE;
        }
        while (t.count && t.reqs[t.head].done) {
            if (!transfer_retire(&t, error)) {
                return FALSE;
            }
        }
    }
    return TRUE;
}

gboolean nbd_client_flush(NbdClient *nbd, GError **error)
{
    Request req = { .command = NBD_CMD_FLUSH };
    if (!request_send(nbd, &req, error)) {
        return FALSE;
    }
    while (!req.done) {
        if (!reply_recv(nbd, &req, 1, error)) {
            return FALSE;
        }
    }
    return TRUE;
}

void nbd_client_free(NbdClient *nbd)
{
    if (nbd->phase == PHASE_OPTIONS) {
        option_send(nbd, NBD_OPT_ABORT, NULL, 0, NULL);
    } else if (nbd->phase == PHASE_TRANSMISSION) {
        Request disc = { .command = NBD_CMD_DISC };
        request_send(nbd, &disc, NULL);
    }
    if (nbd->tls) {
        qio_channel_tls_bye(nbd->tls, NULL);
        qio_channel_unref(QIO_CHANNEL(nbd->tls));
    }
    qio_channel_close(nbd->socket, NULL);
    qio_channel_unref(nbd->socket);
    g_free(nbd->export.name);
    g_free(nbd->export.description);
    g_free(nbd);
}
