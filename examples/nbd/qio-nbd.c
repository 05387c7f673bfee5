/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qio-nbd: serves a disk image over NBD, in the clear or over TLS (x509 with client
 * certificates, or PSK), to many clients at once from one GLib main loop; with
 * --luks-secret the image is a LUKS volume and clients see its decrypted payload.
 * Flags follow qemu-nbd's where it has them. Built on <qio.h> alone: QIONetListener
 * accepts, QIOChannelTLS secures, QCryptoBlock decrypts. */

#include "../serve-loop.h"
#include "nbd-conn.h"
#include "nbd-proto.h"

#include <stdio.h>
#include <unistd.h>

static char *opt_bind, *opt_socket, *opt_name, *opt_description, *opt_tls_creds, *opt_tls_creds_psk, *opt_tls_authz,
    *opt_tls_priority, *opt_luks_secret;
static int opt_port = NBD_DEFAULT_PORT, opt_shared = 100, opt_handshake_limit = 10;
static gboolean opt_readonly;
static char **opt_files;

static const GOptionEntry entries[] = {
    { "bind", 'b', 0, G_OPTION_ARG_STRING, &opt_bind, "listen on ADDR (default: every address)", "ADDR" },
    { "port", 'p', 0, G_OPTION_ARG_INT, &opt_port, "listen on TCP port PORT (default 10809; 0: any free one)",
      "PORT" },
    { "socket", 'k', 0, G_OPTION_ARG_FILENAME, &opt_socket, "listen on the UNIX socket PATH instead of TCP", "PATH" },
    { "export-name", 'x', 0, G_OPTION_ARG_STRING, &opt_name, "the export's name (default: the empty name)", "NAME" },
    { "description", 'D', 0, G_OPTION_ARG_STRING, &opt_description, "a description clients may ask for", "TEXT" },
    { "read-only", 'r', 0, G_OPTION_ARG_NONE, &opt_readonly, "export read-only: writes fail with EPERM", NULL },
    { "shared", 'e', 0, G_OPTION_ARG_INT, &opt_shared,
      "serve at most N clients at once (default 100; 0: no limit); more are closed at once", "N" },
    { "tls-creds", 0, 0, G_OPTION_ARG_FILENAME, &opt_tls_creds,
      "require TLS with the x509 credentials in DIR; clients must present a certificate its CA signed", "DIR" },
    { "tls-creds-psk", 0, 0, G_OPTION_ARG_FILENAME, &opt_tls_creds_psk,
      "require TLS with the pre-shared keys in DIR/keys.psk", "DIR" },
    { "tls-authz", 0, 0, G_OPTION_ARG_FILENAME, &opt_tls_authz,
      "let in only client certificates whose DN this QAuthZ list file allows (reread when it changes)", "FILE" },
    { "tls-priority", 0, 0, G_OPTION_ARG_STRING, &opt_tls_priority, "the gnutls priority string for TLS sessions",
      "STRING" },
    { "luks-secret", 0, 0, G_OPTION_ARG_FILENAME, &opt_luks_secret,
      "FILE is a LUKS volume: unlock it with the passphrase in SECRETFILE (its raw bytes)", "SECRETFILE" },
    { "handshake-limit", 0, 0, G_OPTION_ARG_INT, &opt_handshake_limit,
      "close clients that have not finished negotiating within SECONDS (default 10; 0: no limit)", "SECONDS" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_FILENAME_ARRAY, &opt_files, NULL, "FILE" },
    { NULL },
};

static const char description[] =
    "Serves FILE as one NBD export (fixed-newstyle negotiation; NBD_OPT_GO, _INFO, _LIST,\n"
    "_EXPORT_NAME, _STRUCTURED_REPLY, _STARTTLS, _ABORT; READ, WRITE, FLUSH, TRIM, WRITE_ZEROES,\n"
    "DISC). The server runs until SIGINT or SIGTERM, serving any number of clients in turn.\n"
    "\n"
    "TLS: with --tls-creds (a directory holding ca-cert.pem, server-cert.pem and\n"
    "server-key.pem, QEMU's layout) or --tls-creds-psk (a directory holding keys.psk, lines\n"
    "of USER:HEXKEY as psktool writes them), clients must send NBD_OPT_STARTTLS first: any\n"
    "other option is answered NBD_REP_ERR_TLS_REQD, and NBD_OPT_EXPORT_NAME closes the\n"
    "connection.\n"
    "\n"
    "Limits: an option carries at most 64 KiB and an export name 4096 bytes; a request moves\n"
    "at most 32 MiB and must lie inside the export. A client has --handshake-limit seconds\n"
    "from connecting to the end of its negotiation, TLS included; past -e clients, new\n"
    "connections are closed at once.\n"
    "\n"
    "With --luks-secret, FILE is a LUKS1 or LUKS2 volume (as qemu-img create -f luks or\n"
    "cryptsetup make them) and clients read and write its plaintext; TRIM is ignored there.\n"
    "\n"
    "Examples:\n"
    "  qio-nbd -x disk --tls-creds /etc/pki/qemu disk.img\n"
    "  qio-nbd -k /run/disk.sock -r disk.img\n"
    "  qio-nbd --tls-creds-psk /etc/nbd-psk --luks-secret pass.txt encrypted.luks\n"
    "\n"
    "Exit status: 0 when stopped by a signal, 1 if the export or the listener cannot be\n"
    "set up, 2 for bad usage.";

static GHashTable *conns; /* every open NbdConn */
static gboolean finished;

static void conn_closed(NbdConn *conn, gpointer opaque)
{
    (void)opaque;
    g_hash_table_remove(conns, conn);
}

static char *describe(const QIOSocketAddress *addr)
{
    return addr ? qio_socket_address_to_string(addr) : g_strdup("client");
}

static void accepted(QIONetListener *listener, QIOChannelSocket *sioc, gpointer opaque)
{
    (void)listener;
    g_autoptr(QIOSocketAddress) addr = qio_channel_socket_get_remote_address(sioc, NULL);
    g_autofree char *peer = describe(addr);
    g_printerr("%s: connected\n", peer);
    qio_channel_set_delay(QIO_CHANNEL(sioc), FALSE); /* replies go out as they are ready */
    g_hash_table_add(conns, nbd_conn_new(opaque, QIO_CHANNEL(sioc), peer, conn_closed, NULL));
}

static gboolean check_usage(void)
{
    const char *why = !opt_files || !opt_files[0] || opt_files[1] ? "give exactly one FILE"
                    : opt_socket && (opt_bind || opt_port != NBD_DEFAULT_PORT) ? "-k excludes -b and -p"
                    : opt_port < 0 || opt_port > 65535 ? "-p must be 0 to 65535"
                    : opt_shared < 0 ? "-e must be 0 (no limit) or more"
                    : opt_handshake_limit < 0 || opt_handshake_limit > G_MAXINT / 1000
                        ? "--handshake-limit must be 0 (no limit) to 2147483 seconds"
                    : opt_tls_creds && opt_tls_creds_psk ? "--tls-creds and --tls-creds-psk exclude each other"
                    : opt_tls_authz && !opt_tls_creds ? "--tls-authz needs --tls-creds (x509)"
                    : opt_tls_priority && !opt_tls_creds && !opt_tls_creds_psk ? "--tls-priority needs TLS"
                    : opt_name && strlen(opt_name) > NBD_MAX_STRING_SIZE ? "-x NAME is longer than 4096 bytes"
                    : opt_description && strlen(opt_description) > NBD_MAX_STRING_SIZE
                        ? "-D TEXT is longer than 4096 bytes"
                    : NULL;
    if (why) {
        g_printerr("qio-nbd: %s (see --help)\n", why);
    }
    return !why;
}

/* Everything the connections share, from the flags. */
static gboolean configure(NbdServerConfig *config, GError **errp)
{
    g_autoptr(QCryptoSecret) secret = NULL;
    if (opt_luks_secret) {
        secret = qcrypto_secret_new(NULL, opt_luks_secret, QCRYPTO_SECRET_FORMAT_RAW, NULL, NULL, errp);
        if (!secret) {
            return FALSE;
        }
    }
    *config = (NbdServerConfig){
        .name = opt_name ? opt_name : "",
        .description = opt_description,
        .handshake_limit_ms = opt_handshake_limit * 1000u,
    };
    config->export = nbd_export_open(opt_files[0], opt_readonly, secret, errp);
    if (!config->export) {
        return FALSE;
    }
    if (opt_tls_creds) {
        config->tls_creds = qcrypto_tls_creds_x509_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, opt_tls_creds, TRUE,
                                                       opt_tls_priority, TRUE, NULL, errp);
    } else if (opt_tls_creds_psk) {
        config->tls_creds = qcrypto_tls_creds_psk_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, opt_tls_creds_psk, NULL,
                                                      opt_tls_priority, errp);
    }
    if ((opt_tls_creds || opt_tls_creds_psk) && !config->tls_creds) {
        return FALSE;
    }
    if (opt_tls_authz) {
        config->tls_authz = QAUTHZ(qauthz_list_file_new(opt_tls_authz, TRUE, errp));
        if (!config->tls_authz) {
            return FALSE;
        }
    }
    return TRUE;
}

static void unconfigure(NbdServerConfig *config)
{
    nbd_export_free(config->export);
    g_clear_pointer(&config->tls_creds, qcrypto_tls_creds_unref);
    g_clear_pointer(&config->tls_authz, qauthz_unref);
}

static QIONetListener *listen_on(GError **errp)
{
    g_autofree char *port = g_strdup_printf("%d", opt_port);
    g_autoptr(QIOSocketAddress) addr = opt_socket ? qio_socket_address_new_unix(opt_socket)
                                                  : qio_socket_address_new_inet(opt_bind ? opt_bind : "", port);
    g_autoptr(QIONetListener) listener = qio_net_listener_new();
    qio_net_listener_set_name(listener, "qio-nbd");
    if (qio_net_listener_open_sync(listener, addr, 64, errp) < 0) {
        return NULL;
    }
    for (size_t i = 0; i < qio_net_listener_nsioc(listener); i++) {
        g_autoptr(QIOSocketAddress) local = qio_net_listener_get_local_address(listener, i, NULL);
        g_autofree char *where = describe(local);
        printf("listening on %s\n", where);
    }
    fflush(stdout);
    return g_steal_pointer(&listener);
}

static int serve(void)
{
    GError *error = NULL;
    NbdServerConfig config = { 0 };
    g_autoptr(QIONetListener) listener = NULL;
    if (!configure(&config, &error) || !(listener = listen_on(&error))) {
        g_printerr("qio-nbd: %s\n", error->message);
        g_error_free(error);
        unconfigure(&config);
        return 1;
    }
    g_printerr("qio-nbd: serving %s (%" G_GUINT64_FORMAT " bytes%s%s)%s\n", opt_files[0],
               nbd_export_size(config.export), opt_luks_secret ? ", LUKS payload" : "",
               opt_readonly ? ", read-only" : "",
               opt_tls_creds ? " over TLS (x509)" : opt_tls_creds_psk ? " over TLS (PSK)" : "");
    conns = g_hash_table_new(NULL, NULL);
    qio_net_listener_set_max_clients(listener, opt_shared);
    qio_net_listener_set_client_func(listener, accepted, &config, NULL);
    serve_until_stopped(listener, "-e", &finished);
    GHashTableIter iter;
    gpointer conn;
    while (g_hash_table_iter_init(&iter, conns), g_hash_table_iter_next(&iter, &conn, NULL)) {
        nbd_conn_close(conn); /* removes itself */
    }
    g_hash_table_unref(conns);
    if (opt_socket) {
        unlink(opt_socket);
    }
    unconfigure(&config);
    return 0;
}

int main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GOptionContext) options = g_option_context_new(NULL);
    g_option_context_set_summary(options, "Serve FILE over NBD, optionally with TLS and as a decrypted LUKS volume.");
    g_option_context_set_description(options, description);
    g_option_context_add_main_entries(options, entries, NULL);
    if (!g_option_context_parse(options, &argc, &argv, &error)) {
        g_printerr("qio-nbd: %s (see --help)\n", error->message);
        return 2;
    }
    int ret = check_usage() ? serve() : 2;
    g_strfreev(opt_files);
    return ret;
}
