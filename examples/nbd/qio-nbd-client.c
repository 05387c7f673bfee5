/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qio-nbd-client: lists, reads, copies and writes NBD exports, over TLS when asked.
 *
 *   qio-nbd-client [--tls-creds DIR | --tls-creds-psk DIR [--tls-username NAME]]
 *                  [--tls-hostname NAME] URI
 *                  [--list | --read OFFSET:LENGTH | --copy-to FILE | --write-from FILE]
 *
 * URI is nbd://HOST[:PORT]/NAME, nbds://HOST[:PORT]/NAME (TLS), nbd+unix:///NAME?socket=PATH
 * or nbds+unix:///NAME?socket=PATH. The client speaks the fixed newstyle handshake
 * (NBD_OPT_STARTTLS first whenever TLS is asked for: it never goes on in plaintext),
 * asks for structured replies, opens the export with NBD_OPT_GO (NBD_OPT_EXPORT_NAME
 * for servers without it), and keeps several requests in flight while copying.
 * Everything comes from <qio.h>. The I/O is blocking; the server's every length is
 * checked against what was asked, so a hostile server cannot make the client read
 * or write outside its buffers. */

#define _POSIX_C_SOURCE 200809L /* ftruncate() under -std=c11 */

#include <qio.h>

#include "nbd-proto.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

static char *opt_tls_creds, *opt_tls_creds_psk, *opt_tls_username, *opt_tls_hostname;
static char *opt_read, *opt_copy_to, *opt_write_from;
static gboolean opt_list;
static char **opt_args; /* the URI */
static uint64_t read_offset, read_length;

static const GOptionEntry entries[] = {
    { "tls-creds", 0, 0, G_OPTION_ARG_FILENAME, &opt_tls_creds,
      "TLS with the x509 credentials in DIR (implies TLS for nbd:// too)", "DIR" },
    { "tls-creds-psk", 0, 0, G_OPTION_ARG_FILENAME, &opt_tls_creds_psk,
      "TLS with a pre-shared key from DIR/keys.psk (implies TLS too)", "DIR" },
    { "tls-username", 0, 0, G_OPTION_ARG_STRING, &opt_tls_username, "the PSK user name (default qemu)", "NAME" },
    { "tls-hostname", 0, 0, G_OPTION_ARG_STRING, &opt_tls_hostname,
      "the name the server's certificate must have (default: the URI's host; localhost for a UNIX socket)",
      "NAME" },
    { "list", 0, 0, G_OPTION_ARG_NONE, &opt_list, "print the server's exports on standard output", NULL },
    { "read", 0, 0, G_OPTION_ARG_STRING, &opt_read, "write LENGTH bytes from OFFSET to standard output",
      "OFFSET:LENGTH" },
    { "copy-to", 0, 0, G_OPTION_ARG_FILENAME, &opt_copy_to, "copy the whole export into FILE", "FILE" },
    { "write-from", 0, 0, G_OPTION_ARG_FILENAME, &opt_write_from, "write FILE to the export from offset 0",
      "FILE" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_args, NULL, "URI" },
    { NULL },
};

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

static gboolean fail(GError **error, const char *format, ...) G_GNUC_PRINTF(2, 3);

/* Sets ERROR from FORMAT; FALSE, for the caller to return. */
static gboolean fail(GError **error, const char *format, ...)
{
    va_list args;
    va_start(args, format);
    g_autofree char *message = g_strdup_vprintf(format, args);
    va_end(args);
    g_set_error_literal(error, QIO_ERROR, QIO_ERROR_FAILED, message);
    return FALSE;
}

/* ---- The URI ---- */

typedef struct {
    gboolean tls;
    char *host, *port; /* TCP */
    char *socket;      /* a UNIX socket's path */
    char *name;        /* the export's name, percent-decoded */
} NbdUri;

static void nbd_uri_clear(NbdUri *uri)
{
    g_free(uri->host);
    g_free(uri->port);
    g_free(uri->socket);
    g_free(uri->name);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(NbdUri, nbd_uri_clear)

/* The UNIX socket's path from QUERY, which may say nothing else. */
static gboolean uri_socket(NbdUri *uri, const char *query, GError **error)
{
    g_autoptr(GHashTable) params = query ? g_uri_parse_params(query, -1, "&", G_URI_PARAMS_NONE, error) : NULL;
    if (query && !params) {
        return FALSE;
    }
    const char *path = params ? g_hash_table_lookup(params, "socket") : NULL;
    if (!path || !*path || g_hash_table_size(params) != 1) {
        return fail(error, "a +unix URI takes ?socket=PATH and no other parameter");
    }
    uri->socket = g_strdup(path);
    return TRUE;
}

/* TEXT as an NBD URI (the protocol's doc/uri.md, without vsock and TLS parameters). */
static gboolean uri_parse(NbdUri *uri, const char *text, GError **error)
{
    g_autoptr(GUri) parsed = g_uri_parse(text, G_URI_FLAGS_ENCODED_PATH | G_URI_FLAGS_ENCODED_QUERY, error);
    if (!parsed) {
        return FALSE;
    }
    const char *scheme = g_uri_get_scheme(parsed), *host = g_uri_get_host(parsed);
    const char *path = g_uri_get_path(parsed), *query = g_uri_get_query(parsed);
    gboolean unix_socket = g_str_equal(scheme, "nbd+unix") || g_str_equal(scheme, "nbds+unix");
    if (!unix_socket && !g_str_equal(scheme, "nbd") && !g_str_equal(scheme, "nbds")) {
        return fail(error, "'%s': the URI must start with nbd://, nbds://, nbd+unix:// or nbds+unix://", text);
    }
    uri->tls = g_str_has_prefix(scheme, "nbds");
    if (unix_socket) {
        if ((host && *host) || g_uri_get_port(parsed) != -1) {
            return fail(error, "'%s': a +unix URI has no host or port", text);
        }
        if (!uri_socket(uri, query, error)) {
            return FALSE;
        }
    } else {
        if (!host || !*host || query) {
            return fail(error, "'%s': a TCP URI needs a host, and takes no ?parameters", text);
        }
        uri->host = g_strdup(host);
        int port = g_uri_get_port(parsed);
        uri->port = g_strdup_printf("%d", port == -1 ? NBD_DEFAULT_PORT : port);
    }
    if (*path && *path != '/') {
        return fail(error, "'%s': the export name must follow a '/'", text);
    }
    uri->name = g_uri_unescape_string(*path ? path + 1 : path, NULL);
    if (!uri->name || strlen(uri->name) > NBD_MAX_STRING_SIZE) {
        return fail(error, "'%s': the export name must be valid percent-encoding, without %%00, of at most %d bytes",
                    text, NBD_MAX_STRING_SIZE);
    }
    return TRUE;
}

/* ---- The connection and the option haggling ---- */

typedef enum {
    PHASE_NONE,         /* nothing can be said to the server */
    PHASE_OPTIONS,      /* negotiating: NBD_OPT_ABORT ends it */
    PHASE_TRANSMISSION, /* NBD_CMD_DISC ends it */
} NbdPhase;

typedef struct {
    QIOChannelSocket *sioc;
    QIOChannelTLS *tls; /* NULL: plaintext */
    QIOChannel *ioc;    /* where NBD travels: sioc, or tls over it */
    NbdPhase phase;
    gboolean no_zeroes;  /* NBD_FLAG_C_NO_ZEROES was agreed */
    gboolean structured; /* structured replies were agreed */
    char *name, *description; /* as the server names the export; NULL: it did not */
    uint64_t size;
    uint16_t flags;
    uint32_t min_block, pref_block, max_block;
    uint64_t cookie; /* the last request's */
} Nbd;

static gboolean recv_exact(Nbd *nbd, void *buf, size_t len, GError **error)
{
    return qio_channel_read_all(nbd->ioc, buf, len, error) == 0;
}

static gboolean nbd_connect(Nbd *nbd, const NbdUri *uri, GError **error)
{
    g_autoptr(QIOSocketAddress) addr = uri->socket ? qio_socket_address_new_unix(uri->socket)
                                                   : qio_socket_address_new_inet(uri->host, uri->port);
    nbd->sioc = qio_channel_socket_new();
    nbd->ioc = QIO_CHANNEL(nbd->sioc);
    if (qio_channel_socket_connect_sync(nbd->sioc, addr, error) < 0) {
        return FALSE;
    }
    qio_channel_set_delay(nbd->ioc, FALSE); /* requests leave at once */
    return TRUE;
}

/* Reads a fixed-newstyle server's greeting and answers with the client flags. */
static gboolean nbd_greet(Nbd *nbd, GError **error)
{
    uint8_t hello[18], flags[4];
    if (!recv_exact(nbd, hello, sizeof(hello), error)) {
        g_prefix_error(error, "reading the server's greeting: ");
        return FALSE;
    }
    if (nbd_get64(hello) != NBD_INIT_MAGIC) {
        return fail(error, "this is not an NBD server (its greeting lacks NBDMAGIC)");
    }
    if (nbd_get64(hello + 8) == NBD_CLISERV_MAGIC) {
        return fail(error, "the server speaks the oldstyle handshake, without export names or TLS: not supported");
    }
    if (nbd_get64(hello + 8) != NBD_OPTS_MAGIC) {
        return fail(error, "the server's greeting has an unknown handshake magic");
    }
    uint16_t server_flags = nbd_get16(hello + 16);
    if (!(server_flags & NBD_FLAG_FIXED_NEWSTYLE)) {
        return fail(error, "the server does not speak the fixed newstyle handshake");
    }
    nbd->no_zeroes = server_flags & NBD_FLAG_NO_ZEROES;
    nbd_put32(flags, NBD_FLAG_C_FIXED_NEWSTYLE | (nbd->no_zeroes ? NBD_FLAG_C_NO_ZEROES : 0));
    if (qio_channel_write_all(nbd->ioc, (char *)flags, sizeof(flags), error) < 0) {
        return FALSE;
    }
    nbd->phase = PHASE_OPTIONS;
    return TRUE;
}

static gboolean option_send(Nbd *nbd, uint32_t option, const void *data, uint32_t len, GError **error)
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
static gboolean option_reply(Nbd *nbd, uint32_t option, OptionReply *reply, GError **error)
{
    uint8_t head[20];
    if (!recv_exact(nbd, head, sizeof(head), error)) {
        g_prefix_error(error, "reading the reply to %s: ", nbd_option_name(option));
        return FALSE;
    }
    if (nbd_get64(head) != NBD_REP_MAGIC || nbd_get32(head + 8) != option) {
        return fail(error, "the server's reply to %s is malformed", nbd_option_name(option));
    }
    reply->type = nbd_get32(head + 12);
    reply->len = nbd_get32(head + 16);
    if (reply->len > MAX_OPTION_REPLY) {
        return fail(error, "the server's reply to %s is too long (%" PRIu32 " bytes)", nbd_option_name(option),
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
        return fail(error, "the server sent an unexpected reply to %s (%s, %" PRIu32 " bytes)", nbd_option_name(option),
                    type, reply->len);
    }
    g_autofree char *message = printable(reply->data, reply->len);
    const char *hint = reply->type == NBD_REP_ERR_TLS_REQD ? " (the server requires TLS: see --tls-creds)" : "";
    return fail(error, "the server refused %s: %s%s%s%s", nbd_option_name(option), type, hint, *message ? ": " : "",
                message);
}

/* Sends OPTION, without data, and reads its one reply. */
static gboolean option_ask(Nbd *nbd, uint32_t option, OptionReply *reply, GError **error)
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

/* NBD_OPT_STARTTLS, then TLS over the connection. Anything but an ACK ends the
 * session: a client that asked for TLS never goes on in plaintext. */
static gboolean nbd_starttls(Nbd *nbd, QCryptoTLSCreds *creds, const char *hostname, GError **error)
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
    nbd->tls = qio_channel_tls_new_client(QIO_CHANNEL(nbd->sioc), creds, hostname, error);
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

/* NBD_OPT_STRUCTURED_REPLY: agreed on an ACK; simple replies if the server does not
 * know it. */
static gboolean nbd_structured_reply(Nbd *nbd, GError **error)
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
    nbd->structured = TRUE;
    return TRUE;
}

static gboolean is_power_of_2(uint32_t n)
{
    return n && !(n & (n - 1));
}

/* The block sizes in an NBD_INFO_BLOCK_SIZE, if the protocol allows them: the client
 * relies on them to size its requests. */
static gboolean take_block_sizes(Nbd *nbd, const uint8_t *p, GError **error)
{
    uint32_t min = nbd_get32(p), pref = nbd_get32(p + 4), max = nbd_get32(p + 8);
    if (!is_power_of_2(min) || min > 65536 || !is_power_of_2(pref) || pref < min || max < min ||
        (max % min && max != UINT32_MAX)) {
        return fail(error, "the server's block sizes are invalid (minimum %" PRIu32 ", preferred %" PRIu32
                    ", maximum %" PRIu32 ")", min, pref, max);
    }
    nbd->min_block = min;
    nbd->pref_block = pref;
    nbd->max_block = max;
    return TRUE;
}

/* Takes in one NBD_REP_INFO reply to NBD_OPT_GO. */
static gboolean take_info(Nbd *nbd, const OptionReply *reply, gboolean *have_export, GError **error)
{
    if (reply->len < 2) {
        return fail(error, "the server sent an empty NBD_REP_INFO");
    }
    uint16_t type = nbd_get16(reply->data);
    const uint8_t *p = reply->data + 2;
    uint32_t len = reply->len - 2;
    if (type == NBD_INFO_EXPORT && len == 10) {
        nbd->size = nbd_get64(p);
        nbd->flags = nbd_get16(p + 8);
        *have_export = TRUE;
        return TRUE;
    }
    if ((type == NBD_INFO_NAME || type == NBD_INFO_DESCRIPTION) && len <= NBD_MAX_STRING_SIZE) {
        char **field = type == NBD_INFO_NAME ? &nbd->name : &nbd->description;
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
    return fail(error, "the server sent a malformed NBD_REP_INFO (item %" PRIu16 ", %" PRIu32 " bytes)", type, len);
}

/* NBD_OPT_GO for NAME, asking for its name, description and block sizes. Fails with
 * QIO_ERROR_NOT_SUPPORTED when the server does not know NBD_OPT_GO. */
static gboolean nbd_go(Nbd *nbd, const char *name, GError **error)
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
            return have_export || fail(error, "the server opened the export without saying its size");
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
static gboolean nbd_export_name(Nbd *nbd, const char *name, GError **error)
{
    uint8_t info[10 + 124]; /* size, flags, and zeroes unless NO_ZEROES was agreed */
    if (!option_send(nbd, NBD_OPT_EXPORT_NAME, name, strlen(name), error)) {
        return FALSE;
    }
    if (!recv_exact(nbd, info, nbd->no_zeroes ? 10 : sizeof(info), error)) {
        g_prefix_error(error, "export '%s' (NBD_OPT_EXPORT_NAME, after NBD_OPT_GO was not supported): ", name);
        return FALSE;
    }
    nbd->size = nbd_get64(info);
    nbd->flags = nbd_get16(info + 8);
    return TRUE;
}

/* Negotiates the options that open export NAME, which then takes requests. */
static gboolean nbd_open(Nbd *nbd, const char *name, GError **error)
{
    g_autoptr(GError) go_error = NULL;
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

/* NBD_OPT_LIST: one export a line on standard output, a tab and its description
 * after it if the server has one. */
static gboolean nbd_list(Nbd *nbd, GError **error)
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
            return fail(error, "the server sent a malformed NBD_REP_SERVER (%" PRIu32 " bytes)", reply.len);
        }
        g_autofree char *export = printable(reply.data + 4, name_len);
        g_autofree char *description = printable(reply.data + 4 + name_len, reply.len - 4 - name_len);
        printf("%s%s%s\n", export, *description ? "\t" : "", description);
    }
}

/* Says on standard error how the connection is secured. */
static void describe_tls(Nbd *nbd)
{
    if (!nbd->tls) {
        g_printerr("tls: no\n");
        return;
    }
    QCryptoTLSSession *session = qio_channel_tls_get_session(nbd->tls);
    g_autofree char *version = qcrypto_tls_session_get_protocol_name(session, NULL);
    g_autofree char *cipher = qcrypto_tls_session_get_cipher_name(session, NULL);
    g_autofree char *peer = qcrypto_tls_session_get_peer_name(session);
    g_printerr("tls: %s, %s%s%s\n", version, cipher, peer ? ", server " : "", peer ? peer : "");
}

/* Says on standard error what was agreed for the export. */
static void describe_export(Nbd *nbd, const char *name)
{
    static const struct {
        uint16_t flag;
        const char *name;
    } flags[] = {
        { NBD_FLAG_READ_ONLY, "read-only" }, { NBD_FLAG_SEND_FLUSH, "flush" },
        { NBD_FLAG_SEND_FUA, "fua" },        { NBD_FLAG_ROTATIONAL, "rotational" },
        { NBD_FLAG_SEND_TRIM, "trim" },      { NBD_FLAG_SEND_WRITE_ZEROES, "write-zeroes" },
        { NBD_FLAG_SEND_DF, "df" },          { NBD_FLAG_CAN_MULTI_CONN, "multi-conn" },
        { NBD_FLAG_SEND_RESIZE, "resize" },  { NBD_FLAG_SEND_CACHE, "cache" },
        { NBD_FLAG_SEND_FAST_ZERO, "fast-zero" },
    };
    g_autoptr(GString) names = g_string_new(NULL);
    for (size_t i = 0; i < G_N_ELEMENTS(flags); i++) {
        if (nbd->flags & flags[i].flag) {
            g_string_append_printf(names, " %s", flags[i].name);
        }
    }
    g_autofree char *shown = printable((const uint8_t *)name, strlen(name));
    g_printerr("structured replies: %s\n", nbd->structured ? "yes" : "no");
    g_printerr("export: '%s'%s%s%s\n", nbd->name ? nbd->name : shown, nbd->description ? " (" : "",
               nbd->description ? nbd->description : "", nbd->description ? ")" : "");
    g_printerr("size: %" PRIu64 " bytes\n", nbd->size);
    g_printerr("flags: 0x%04x%s\n", nbd->flags, names->str);
    g_printerr("block sizes: minimum %" PRIu32 ", preferred %" PRIu32 ", maximum %" PRIu32 "\n", nbd->min_block,
               nbd->pref_block, nbd->max_block);
}

/* ---- Transmission ---- */

typedef struct {
    uint16_t command;
    uint64_t cookie; /* 0: not in flight */
    uint64_t offset;
    uint32_t length;
    uint8_t *buf;      /* NBD_CMD_READ and _WRITE: length bytes */
    uint32_t received; /* NBD_CMD_READ: the bytes the replies covered so far */
    gboolean hole;     /* NBD_CMD_READ: every byte came as a hole */
    gboolean done;
} Request;

static gboolean request_send(Nbd *nbd, Request *req, GError **error)
{
    uint8_t head[NBD_REQUEST_SIZE];
    req->cookie = ++nbd->cookie;
    req->received = 0;
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
    return fail(error, "the server failed %s (offset %" PRIu64 ", %" PRIu32 " bytes): %s%s%s",
                command_name(req->command), req->offset, req->length, name, *message ? ": " : "", message);
}

/* A reply the protocol does not allow for REQ. */
static gboolean reply_invalid(const Request *req, const char *what, GError **error)
{
    return fail(error, "the server sent %s in reply to %s (offset %" PRIu64 ", %" PRIu32 " bytes)", what,
                command_name(req->command), req->offset, req->length);
}

/* A simple reply to REQ: an error, or success, with a read's data after it. */
static gboolean reply_simple(Nbd *nbd, Request *req, uint32_t value, GError **error)
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

/* An OFFSET_DATA or OFFSET_HOLE chunk of LEN bytes: its bytes land in REQ's buffer,
 * only inside the range REQ asked for and only once. */
static gboolean chunk_data(Nbd *nbd, Request *req, uint16_t type, uint32_t len, GError **error)
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
    if (!count || count > req->length - req->received || offset < req->offset ||
        offset - req->offset > req->length - count) {
        return reply_invalid(req, "a chunk outside the range asked for", error);
    }
    uint8_t *at = req->buf + (offset - req->offset);
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
static gboolean chunk_error(Nbd *nbd, Request *req, uint16_t type, uint32_t len, GError **error)
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
static gboolean reply_chunk(Nbd *nbd, Request *req, uint16_t flags, uint16_t type, uint32_t len, GError **error)
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
static gboolean reply_recv(Nbd *nbd, Request *reqs, size_t n, GError **error)
{
    uint8_t head[NBD_STRUCTURED_REPLY_SIZE];
    if (!recv_exact(nbd, head, 4, error)) {
        return FALSE;
    }
    uint32_t magic = nbd_get32(head);
    if (magic != NBD_SIMPLE_REPLY_MAGIC && !(magic == NBD_STRUCTURED_REPLY_MAGIC && nbd->structured)) {
        return fail(error, "the server sent a reply with the wrong magic (0x%08" PRIx32 ")", magic);
    }
    size_t size = magic == NBD_SIMPLE_REPLY_MAGIC ? NBD_SIMPLE_REPLY_SIZE : NBD_STRUCTURED_REPLY_SIZE;
    if (!recv_exact(nbd, head + 4, size - 4, error)) {
        return FALSE;
    }
    uint64_t cookie = nbd_get64(head + 8);
    for (size_t i = 0; i < n; i++) {
        if (reqs[i].cookie == cookie && !reqs[i].done) {
            return magic == NBD_SIMPLE_REPLY_MAGIC
                ? reply_simple(nbd, &reqs[i], nbd_get32(head + 4), error)
                : reply_chunk(nbd, &reqs[i], nbd_get16(head + 4), nbd_get16(head + 6), nbd_get32(head + 16), error);
        }
    }
    return fail(error, "the server replied to a request that is not in flight (cookie %" PRIu64 ")", cookie);
}

/* A copy between the export and a file, MAX_IN_FLIGHT requests at a time. */
typedef struct {
    Nbd *nbd;
    uint16_t command;   /* NBD_CMD_READ or NBD_CMD_WRITE */
    QIOChannel *file;   /* a read's destination, a write's source */
    gboolean sparse;    /* FILE reads back zeroes where not written */
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
    }
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(Transfer, transfer_clear)

/* Sends the next request: its data first read from the file for a write. */
static gboolean transfer_issue(Transfer *t, GError **error)
{
    Request *req = &t->reqs[(t->head + t->count) % MAX_IN_FLIGHT];
    req->command = t->command;
    req->offset = t->next;
    req->length = MIN(t->chunk, t->stop - t->next);
    if (!req->buf) {
        req->buf = g_malloc(t->chunk);
    }
    if (t->command == NBD_CMD_WRITE && qio_channel_read_all(t->file, (char *)req->buf, req->length, error) < 0) {
        g_prefix_error(error, "reading the file: ");
        return FALSE;
    }
    if (!request_send(t->nbd, req, error)) {
        return FALSE;
    }
    t->next += req->length;
    t->count++;
    return TRUE;
}

/* Ends the oldest request, answered: a read's wanted bytes go to the file, where a
 * sparse file skips holes. */
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
    if (t->sparse && req->hole) {
        return qio_channel_io_seek(t->file, to - from, SEEK_CUR, error) >= 0;
    }
    return qio_channel_write_all(t->file, (char *)req->buf + (from - req->offset), to - from, error) == 0;
}

/* END rounded up to a multiple of MIN, but at most SIZE (END <= SIZE), without
 * overflowing whatever size the server claims. */
static uint64_t round_up_within(uint64_t end, uint32_t min, uint64_t size)
{
    uint64_t pad = end % min ? min - end % min : 0;
    return size - end >= pad ? end + pad : size;
}

/* Copies bytes START to END of the export to FILE (NBD_CMD_READ), or from FILE
 * (NBD_CMD_WRITE, whole blocks only). Reads ask for whole blocks around the range,
 * as the server's minimum block size says, and keep the part wanted. */
static gboolean transfer(Nbd *nbd, uint16_t command, QIOChannel *file, gboolean sparse, uint64_t start, uint64_t end,
                         GError **error)
{
    uint32_t min = nbd->min_block;
    g_auto(Transfer) t = {
        .nbd = nbd, .command = command, .file = file, .sparse = sparse, .start = start, .end = end,
        .next = start / min * min,
        .stop = round_up_within(end, min, nbd->size),
        .chunk = MIN(REQUEST_SIZE, nbd->max_block) / min * min,
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

/* --read: the range to standard output. */
static gboolean do_read(Nbd *nbd, GError **error)
{
    if (read_offset > nbd->size || read_length > nbd->size - read_offset) {
        return fail(error, "--read %s goes past the end of the export (%" PRIu64 " bytes)", opt_read, nbd->size);
    }
    g_autoptr(QIOChannelFile) out = qio_channel_file_new_dupfd(STDOUT_FILENO, error);
    return out && transfer(nbd, NBD_CMD_READ, QIO_CHANNEL(out), FALSE, read_offset, read_offset + read_length, error);
}

/* --copy-to: the whole export into a file, which a regular file gets the size of
 * first so holes need no writing. */
static gboolean do_copy_to(Nbd *nbd, GError **error)
{
    struct stat st;
    g_autoptr(QIOChannelFile) out = qio_channel_file_new_path(opt_copy_to, O_WRONLY | O_CREAT | O_TRUNC, 0666, error);
    if (!out) {
        return FALSE;
    }
    int fd = qio_channel_file_get_fd(out);
    gboolean regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    if (regular && (nbd->size > G_MAXINT64 || ftruncate(fd, nbd->size) < 0)) {
        return fail(error, "%s: cannot make it %" PRIu64 " bytes: %s", opt_copy_to, nbd->size, g_strerror(errno));
    }
    return transfer(nbd, NBD_CMD_READ, QIO_CHANNEL(out), regular, 0, nbd->size, error);
}

/* Waits until what the server acknowledged writing is on stable storage. */
static gboolean nbd_flush(Nbd *nbd, GError **error)
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

/* --write-from: a file to the start of the export, then a flush if the server has it. */
static gboolean do_write_from(Nbd *nbd, GError **error)
{
    g_autoptr(QIOChannelFile) in = qio_channel_file_new_path(opt_write_from, O_RDONLY, 0, error);
    off_t size = in ? qio_channel_io_seek(QIO_CHANNEL(in), 0, SEEK_END, error) : -1;
    if (size < 0 || qio_channel_io_seek(QIO_CHANNEL(in), 0, SEEK_SET, error) < 0) {
        return FALSE;
    }
    if (nbd->flags & NBD_FLAG_READ_ONLY) {
        return fail(error, "the export is read-only");
    }
    if ((uint64_t)size > nbd->size) {
        return fail(error, "%s has %lld bytes, more than the export's %" PRIu64, opt_write_from, (long long)size,
                    nbd->size);
    }
    if (size % nbd->min_block) {
        return fail(error, "%s has %lld bytes, not a multiple of the export's block size (%" PRIu32 ")",
                    opt_write_from, (long long)size, nbd->min_block);
    }
    return transfer(nbd, NBD_CMD_WRITE, QIO_CHANNEL(in), FALSE, 0, size, error) &&
           (!(nbd->flags & NBD_FLAG_SEND_FLUSH) || nbd_flush(nbd, error));
}

/* Ends the session as its phase wants (NBD_OPT_ABORT while negotiating, NBD_CMD_DISC
 * once transmitting), then TLS with its closure alert; errors no longer matter. */
static void nbd_close(Nbd *nbd)
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
    if (nbd->sioc) {
        qio_channel_close(QIO_CHANNEL(nbd->sioc), NULL);
        qio_channel_unref(QIO_CHANNEL(nbd->sioc));
    }
    g_free(nbd->name);
    g_free(nbd->description);
}

/* Connects to URI, negotiates (with TLS when CREDS are given), and does what the
 * options ask. */
static int run(const NbdUri *uri, QCryptoTLSCreds *creds, const char *hostname)
{
    g_autoptr(GError) error = NULL;
    /* The protocol's defaults when the server says nothing of block sizes. */
    Nbd nbd = { .min_block = 1, .pref_block = 4096, .max_block = NBD_MAX_BUFFER_SIZE };
    gboolean ok = nbd_connect(&nbd, uri, &error) && nbd_greet(&nbd, &error) &&
                  (!creds || nbd_starttls(&nbd, creds, hostname, &error));
    if (ok) {
        describe_tls(&nbd);
        ok = opt_list ? nbd_list(&nbd, &error) : nbd_open(&nbd, uri->name, &error);
    }
    if (ok && !opt_list) {
        describe_export(&nbd, uri->name);
        ok = opt_read ? do_read(&nbd, &error)
           : opt_copy_to ? do_copy_to(&nbd, &error)
           : opt_write_from ? do_write_from(&nbd, &error)
           : TRUE;
    }
    nbd_close(&nbd);
    if (!ok) {
        g_printerr("qio-nbd-client: %s\n", error->message);
    }
    return ok ? 0 : 1;
}

/* ---- The command line ---- */

/* OFFSET:LENGTH of --read. */
static gboolean parse_range(const char *text, GError **error)
{
    g_auto(GStrv) parts = g_strsplit(text, ":", 0);
    if (g_strv_length(parts) != 2 ||
        !g_ascii_string_to_unsigned(parts[0], 10, 0, G_MAXUINT64, &read_offset, NULL) ||
        !g_ascii_string_to_unsigned(parts[1], 10, 0, G_MAXUINT64, &read_length, NULL)) {
        return fail(error, "--read takes OFFSET:LENGTH, two numbers of bytes, not '%s'", text);
    }
    return TRUE;
}

/* Checks the options that go together, and the URI. */
static gboolean check_usage(NbdUri *uri, GError **error)
{
    if (!opt_args || !opt_args[0] || opt_args[1]) {
        return fail(error, "give one URI (see --help)");
    }
    if (!!opt_list + !!opt_read + !!opt_copy_to + !!opt_write_from > 1) {
        return fail(error, "--list, --read, --copy-to and --write-from go alone");
    }
    if (opt_tls_creds && opt_tls_creds_psk) {
        return fail(error, "--tls-creds and --tls-creds-psk exclude each other");
    }
    if (opt_tls_username && !opt_tls_creds_psk) {
        return fail(error, "--tls-username goes with --tls-creds-psk");
    }
    if ((opt_read && !parse_range(opt_read, error)) || !uri_parse(uri, opt_args[0], error)) {
        return FALSE;
    }
    if (uri->tls && !opt_tls_creds && !opt_tls_creds_psk) {
        return fail(error, "%s asks for TLS: give --tls-creds DIR or --tls-creds-psk DIR", opt_args[0]);
    }
    return TRUE;
}

int main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GOptionContext) options = g_option_context_new(NULL);
    g_option_context_set_summary(options,
                                 "Lists, reads, copies or writes an NBD export, over TLS when asked.\n"
                                 "\n"
                                 "URI is nbd://HOST[:PORT]/NAME or nbd+unix:///NAME?socket=PATH, and nbds://\n"
                                 "or nbds+unix:// for TLS (the port defaults to 10809; the export NAME may be\n"
                                 "empty, and is percent-decoded).");
    g_option_context_set_description(
        options,
        "Without --list, --read, --copy-to or --write-from the client opens the export and only\n"
        "reports it. What was negotiated (TLS version and cipher, structured replies, the export's\n"
        "name, size, flags and block sizes) goes to standard error.\n"
        "\n"
        "TLS: nbds:// needs credentials, and --tls-creds or --tls-creds-psk make nbd:// use TLS\n"
        "too. --tls-creds DIR holds QEMU's layout: ca-cert.pem, and client-cert.pem with\n"
        "client-key.pem if the server wants a client certificate; the server's certificate must\n"
        "name --tls-hostname. --tls-creds-psk DIR holds keys.psk (psktool's username:hexkey lines).\n"
        "A server that does not agree to TLS is left, never talked to in plaintext.\n"
        "\n"
        "--copy-to creates or truncates FILE, sized to the export; --write-from refuses a FILE\n"
        "larger than the export and a read-only export, and flushes at the end if the server\n"
        "can. Copies keep 8 requests of up to 2 MiB in flight.\n"
        "\n"
        "Exit status: 0 on success, 1 if the connection, the server or a file failed, 2 for\n"
        "bad usage.");
    g_option_context_add_main_entries(options, entries, NULL);
    g_auto(NbdUri) uri = { 0 };
    if (!g_option_context_parse(options, &argc, &argv, &error) || !check_usage(&uri, &error)) {
        g_printerr("qio-nbd-client: %s\n", error->message);
        return 2;
    }
    g_autoptr(QCryptoTLSCreds) creds = NULL;
    if (opt_tls_creds) {
        creds = qcrypto_tls_creds_x509_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, opt_tls_creds, TRUE, NULL, TRUE, NULL,
                                           &error);
    } else if (opt_tls_creds_psk) {
        creds = qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, opt_tls_creds_psk, opt_tls_username,
                                          NULL, &error);
    }
    if (error) {
        g_printerr("qio-nbd-client: %s\n", error->message);
        return 1;
    }
    const char *hostname = opt_tls_hostname ? opt_tls_hostname : uri.host ? uri.host : "localhost";
    return run(&uri, creds, hostname);
}
