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
 * Everything comes from <qio.h>. The protocol is NbdClient's (nbd-client.c); this
 * file has the command line, the URI, the connection and the files. */

#define _POSIX_C_SOURCE 200809L /* ftruncate() under -std=c11 */

#include "nbd-client.h"
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
    { 0 },
};

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
        return nbd_fail(error, "a +unix URI takes ?socket=PATH and no other parameter");
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
        return nbd_fail(error, "'%s': the URI must start with nbd://, nbds://, nbd+unix:// or nbds+unix://", text);
    }
    uri->tls = g_str_has_prefix(scheme, "nbds");
    if (unix_socket) {
        if ((host && *host) || g_uri_get_port(parsed) != -1) {
            return nbd_fail(error, "'%s': a +unix URI has no host or port", text);
        }
        if (!uri_socket(uri, query, error)) {
            return FALSE;
        }
    } else {
        if (!host || !*host || query) {
            return nbd_fail(error, "'%s': a TCP URI needs a host, and takes no ?parameters", text);
        }
        uri->host = g_strdup(host);
        int port = g_uri_get_port(parsed);
        uri->port = g_strdup_printf("%d", port == -1 ? NBD_DEFAULT_PORT : port);
    }
    if (*path && *path != '/') {
        return nbd_fail(error, "'%s': the export name must follow a '/'", text);
    }
    uri->name = g_uri_unescape_string(*path ? path + 1 : path, NULL);
    if (!uri->name || strlen(uri->name) > NBD_MAX_STRING_SIZE) {
        return nbd_fail(error,
                        "'%s': the export name must be valid percent-encoding, without %%00, of at most %d bytes",
                        text, NBD_MAX_STRING_SIZE);
    }
    return TRUE;
}

/* ---- The session ---- */

/* A session with the server at URI; NULL if it cannot be reached. */
static NbdClient *connect_uri(const NbdUri *uri, GError **error)
{
    g_autoptr(QIOSocketAddress) addr = uri->socket ? qio_socket_address_new_unix(uri->socket)
                                                   : qio_socket_address_new_inet(uri->host, uri->port);
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    if (qio_channel_socket_connect_sync(sioc, addr, error) < 0) {
        return NULL;
    }
    qio_channel_set_delay(QIO_CHANNEL(sioc), FALSE); /* requests leave at once */
    return nbd_client_new(QIO_CHANNEL(sioc));
}

/* --list: one export a line on standard output, a tab and its description after it
 * if the server has one. */
static void print_export(const char *name, const char *description, gpointer opaque)
{
    (void)opaque;
    printf("%s%s%s\n", name, *description ? "\t" : "", description);
}

/* Says on standard error how the connection is secured. */
static void describe_tls(NbdClient *nbd)
{
    QIOChannelTLS *tls = nbd_client_get_tls(nbd);
    if (!tls) {
        g_printerr("tls: no\n");
        return;
    }
    QCryptoTLSSession *session = qio_channel_tls_get_session(tls);
    g_autofree char *version = qcrypto_tls_session_get_protocol_name(session, NULL);
    g_autofree char *cipher = qcrypto_tls_session_get_cipher_name(session, NULL);
    g_autofree char *peer = qcrypto_tls_session_get_peer_name(session);
    g_printerr("tls: %s, %s%s%s\n", version, cipher, peer ? ", server " : "", peer ? peer : "");
}

/* Says on standard error what was agreed for the export. */
static void describe_export(const NbdClientExport *export)
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
        if (export->flags & flags[i].flag) {
            g_string_append_printf(names, " %s", flags[i].name);
        }
    }
    const char *description = export->description;
    g_printerr("structured replies: %s\n", export->structured ? "yes" : "no");
    g_printerr("export: '%s'%s%s%s\n", export->name, description ? " (" : "", description ? description : "",
               description ? ")" : "");
    g_printerr("size: %" PRIu64 " bytes\n", export->size);
    g_printerr("flags: 0x%04x%s\n", export->flags, names->str);
    g_printerr("block sizes: minimum %" PRIu32 ", preferred %" PRIu32 ", maximum %" PRIu32 "\n", export->min_block,
               export->pref_block, export->max_block);
}

/* ---- Files ---- */

/* Where a read's bytes go. */
typedef struct {
    QIOChannel *file;
    gboolean sparse; /* FILE reads back zeroes where not written: holes are skipped */
} Sink;

static gboolean to_file(uint8_t *buf, size_t len, gboolean hole, gpointer opaque, GError **error)
{
    Sink *sink = opaque;
    if (sink->sparse && hole) {
        return qio_channel_io_seek(sink->file, len, SEEK_CUR, error) >= 0;
    }
    return qio_channel_write_all(sink->file, (char *)buf, len, error) == 0;
}

/* A write's bytes, from the file OPAQUE. */
static gboolean from_file(uint8_t *buf, size_t len, gboolean hole, gpointer opaque, GError **error)
{
    (void)hole;
    if (qio_channel_read_all(opaque, (char *)buf, len, error) < 0) {
        g_prefix_error(error, "reading the file: ");
        return FALSE;
    }
    return TRUE;
}

/* --read: the range to standard output. */
static gboolean do_read(NbdClient *nbd, GError **error)
{
    uint64_t size = nbd_client_get_export(nbd)->size;
    if (read_offset > size || read_length > size - read_offset) {
        return nbd_fail(error, "--read %s goes past the end of the export (%" PRIu64 " bytes)", opt_read, size);
    }
    g_autoptr(QIOChannelFile) out = qio_channel_file_new_dupfd(STDOUT_FILENO, error);
    Sink sink = { QIO_CHANNEL(out), FALSE };
    return out &&
           nbd_client_transfer(nbd, NBD_CMD_READ, read_offset, read_offset + read_length, to_file, &sink, error);
}

/* --copy-to: the whole export into a file, which a regular file gets the size of
 * first so holes need no writing. */
static gboolean do_copy_to(NbdClient *nbd, GError **error)
{
    struct stat st;
    uint64_t size = nbd_client_get_export(nbd)->size;
    g_autoptr(QIOChannelFile) out = qio_channel_file_new_path(opt_copy_to, O_WRONLY | O_CREAT | O_TRUNC, 0666, error);
    if (!out) {
        return FALSE;
    }
    int fd = qio_channel_file_get_fd(out);
    Sink sink = { QIO_CHANNEL(out), fstat(fd, &st) == 0 && S_ISREG(st.st_mode) };
    if (sink.sparse && (size > G_MAXINT64 || ftruncate(fd, size) < 0)) {
        return nbd_fail(error, "%s: cannot make it %" PRIu64 " bytes: %s", opt_copy_to, size, g_strerror(errno));
    }
    return nbd_client_transfer(nbd, NBD_CMD_READ, 0, size, to_file, &sink, error);
}

/* --write-from: a file to the start of the export, then a flush if the server has it. */
static gboolean do_write_from(NbdClient *nbd, GError **error)
{
    const NbdClientExport *export = nbd_client_get_export(nbd);
    g_autoptr(QIOChannelFile) in = qio_channel_file_new_path(opt_write_from, O_RDONLY, 0, error);
    off_t size = in ? qio_channel_io_seek(QIO_CHANNEL(in), 0, SEEK_END, error) : -1;
    if (size < 0 || qio_channel_io_seek(QIO_CHANNEL(in), 0, SEEK_SET, error) < 0) {
        return FALSE;
    }
    if (export->flags & NBD_FLAG_READ_ONLY) {
        return nbd_fail(error, "the export is read-only");
    }
    if ((uint64_t)size > export->size) {
        return nbd_fail(error, "%s has %lld bytes, more than the export's %" PRIu64, opt_write_from,
                        (long long)size, export->size);
    }
    if (size % export->min_block) {
        return nbd_fail(error, "%s has %lld bytes, not a multiple of the export's block size (%" PRIu32 ")",
                        opt_write_from, (long long)size, export->min_block);
    }
    return nbd_client_transfer(nbd, NBD_CMD_WRITE, 0, size, from_file, QIO_CHANNEL(in), error) &&
           (!(export->flags & NBD_FLAG_SEND_FLUSH) || nbd_client_flush(nbd, error));
}

/* Connects to URI, negotiates (with TLS when CREDS are given), and does what the
 * options ask. */
static int run(const NbdUri *uri, QCryptoTLSCreds *creds, const char *hostname)
{
    g_autoptr(GError) error = NULL;
    NbdClient *nbd = connect_uri(uri, &error);
    gboolean ok = nbd && nbd_client_greet(nbd, &error) &&
                  (!creds || nbd_client_starttls(nbd, creds, hostname, &error));
    if (ok) {
        describe_tls(nbd);
        ok = opt_list ? nbd_client_list(nbd, print_export, NULL, &error) : nbd_client_open(nbd, uri->name, &error);
    }
    if (ok && !opt_list) {
        describe_export(nbd_client_get_export(nbd));
        ok = opt_read ? do_read(nbd, &error)
           : opt_copy_to ? do_copy_to(nbd, &error)
           : opt_write_from ? do_write_from(nbd, &error)
           : TRUE;
    }
    if (nbd) {
        nbd_client_free(nbd);
    }
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
        return nbd_fail(error, "--read takes OFFSET:LENGTH, two numbers of bytes, not '%s'", text);
    }
    return TRUE;
}

/* Checks the options that go together, and the URI. */
static gboolean check_usage(NbdUri *uri, GError **error)
{
    if (!opt_args || !opt_args[0] || opt_args[1]) {
        return nbd_fail(error, "give one URI (see --help)");
    }
    if (!!opt_list + !!opt_read + !!opt_copy_to + !!opt_write_from > 1) {
        return nbd_fail(error, "--list, --read, --copy-to and --write-from go alone");
    }
    if (opt_tls_creds && opt_tls_creds_psk) {
        return nbd_fail(error, "--tls-creds and --tls-creds-psk exclude each other");
    }
    if (opt_tls_username && !opt_tls_creds_psk) {
        return nbd_fail(error, "--tls-username goes with --tls-creds-psk");
    }
    if ((opt_read && !parse_range(opt_read, error)) || !uri_parse(uri, opt_args[0], error)) {
        return FALSE;
    }
    if (uri->tls && !opt_tls_creds && !opt_tls_creds_psk) {
        return nbd_fail(error, "%s asks for TLS: give --tls-creds DIR or --tls-creds-psk DIR", opt_args[0]);
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
