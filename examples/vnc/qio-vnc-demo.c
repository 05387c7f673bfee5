/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* qio-vnc-demo: an RFB (VNC) server showing a test pattern, to many clients at once
 * from one GLib main loop, on the RFB port (security None, VNC Authentication, or
 * VeNCrypt over anonymous or x509 TLS) and optionally a websocket port (ws, or wss
 * when TLS is configured) for browser clients such as noVNC. Security follows
 * QEMU's -vnc: exactly one type is offered. Built on <qio.h> alone: QIONetListener
 * accepts, QIOChannelTLS and QIOChannelWebsock carry, QCryptoCipher checks
 * passwords. */

#include "../serve-loop.h"
#include "vnc-conn.h"
#include "vnc-auth.h"

#include <stdio.h>
#include <string.h>

/* Animation steps a second (none with --freeze). */
#define FRAMES_PER_SECOND 10

static char *opt_listen, *opt_websocket, *opt_tls_creds, *opt_tls_authz, *opt_password_file, *opt_size,
    *opt_dump_frame;
static gboolean opt_tls_anon, opt_freeze;
static int opt_handshake_limit = 10, opt_max_clients = 100;

static const GOptionEntry entries[] = {
    { "listen", 0, 0, G_OPTION_ARG_STRING, &opt_listen,
      "serve RFB on ADDR:PORT (default 127.0.0.1:5900; port 0: any free one)", "ADDR:PORT" },
    { "websocket", 0, 0, G_OPTION_ARG_STRING, &opt_websocket,
      "also serve RFB inside websockets on ADDR:PORT (ws, or wss with TLS)", "ADDR:PORT" },
    { "tls-creds", 0, 0, G_OPTION_ARG_FILENAME, &opt_tls_creds,
      "require TLS (VeNCrypt X509None, or X509Vnc with a password) with the x509 credentials in DIR; "
      "clients must present a certificate its CA signed",
      "DIR" },
    { "tls-anon", 0, 0, G_OPTION_ARG_NONE, &opt_tls_anon,
      "require anonymous TLS (VeNCrypt TLSNone, or TLSVnc with a password): encrypted, unauthenticated", NULL },
    { "tls-authz", 0, 0, G_OPTION_ARG_FILENAME, &opt_tls_authz,
      "let in only client certificates whose DN this QAuthZ list file allows (reread when it changes)", "FILE" },
    { "password-file", 0, 0, G_OPTION_ARG_FILENAME, &opt_password_file,
      "require VNC Authentication with the first line of FILE as the password (only its first 8 bytes count)",
      "FILE" },
    { "size", 0, 0, G_OPTION_ARG_STRING, &opt_size, "the framebuffer's size (default 800x600; 16 to 8192 each)",
      "WxH" },
    { "freeze", 0, 0, G_OPTION_ARG_NONE, &opt_freeze,
      "draw the pattern once, the size in place of the clock, so that it is the same every time", NULL },
    { "dump-frame", 0, 0, G_OPTION_ARG_FILENAME, &opt_dump_frame,
      "write the first frame to FILE as a binary PPM before listening", "FILE" },
    { "handshake-limit", 0, 0, G_OPTION_ARG_INT, &opt_handshake_limit,
      "close clients that have not finished their handshakes within SECONDS (default 10; 0: no limit)",
      "SECONDS" },
    { "max-clients", 0, 0, G_OPTION_ARG_INT, &opt_max_clients,
      "serve at most N clients at once on each port (default 100; 0: no limit); more are closed at once", "N" },
    { NULL },
};

static const char description[] =
    "Serves a test pattern over RFB 3.8 (3.7 and 3.3 clients are served too): colour bars\n"
    "and ramps, a clock and a bouncing square, updated " G_STRINGIFY(FRAMES_PER_SECOND) " times a second. Clicking\n"
    "(button 1) leaves a dot, shown to every client. Pressing 'r' switches the framebuffer\n"
    "between --size and half of it: clients that asked for the DesktopSize pseudo-encoding\n"
    "follow, the others are closed (as QEMU does). Encodings: Raw, and Hextile for clients\n"
    "that prefer it. Any true-colour pixel format of 8, 16 or 32 bits is served.\n"
    "\n"
    "Security, one type offered as QEMU does: VeNCrypt with --tls-creds (X509None, or\n"
    "X509Vnc with --password-file) or --tls-anon (TLSNone or TLSVnc); without TLS, VNC\n"
    "Authentication with --password-file, else None. VeNCrypt needs RFB 3.7: 3.3 clients\n"
    "are refused. --tls-creds DIR holds ca-cert.pem, server-cert.pem and server-key.pem\n"
    "(QEMU's layout).\n"
    "\n"
    "With --websocket, the second port takes websocket clients (noVNC): plain ws, or with\n"
    "--tls-creds or --tls-anon only wss (TLS first, with the same credentials and client\n"
    "certificate check; a plain ws client is refused, as QEMU does). Inside websockets\n"
    "security is VNC Authentication with --password-file, else None.\n"
    "\n"
    "Limits: a client has --handshake-limit seconds from connecting to the end of\n"
    "ClientInit (TLS and websocket handshakes included); cut text is dropped and may not\n"
    "pass 1 MiB; a client that reads slowly is sent fewer, later updates and never holds up\n"
    "the others. Past --max-clients connections on a port, new ones are closed at once.\n"
    "\n"
    "On start, one line per listening socket goes to standard output:\n"
    "  vnc listening on ADDR:PORT\n"
    "  websocket listening on ADDR:PORT\n"
    "\n"
    "Examples:\n"
    "  qio-vnc-demo --listen 127.0.0.1:5901 && gvncviewer 127.0.0.1:1\n"
    "  qio-vnc-demo --tls-creds /etc/pki/qemu --password-file pass.txt\n"
    "  qio-vnc-demo --websocket 0.0.0.0:5700 --tls-anon\n"
    "\n"
    "Exit status: 0 when stopped by SIGINT or SIGTERM, 1 if the server cannot be set up,\n"
    "2 for bad usage.";

static GHashTable *conns; /* every open VncConn */
static gboolean finished;
static int width = 800, height = 600;
static char *password;

static void conn_closed(VncConn *conn, gpointer opaque)
{
    (void)opaque;
    g_hash_table_remove(conns, conn);
}

static void framebuffer_changed(gpointer opaque)
{
    (void)opaque;
    GHashTableIter iter;
    gpointer conn;
    g_hash_table_iter_init(&iter, conns);
    while (g_hash_table_iter_next(&iter, &conn, NULL)) {
        vnc_conn_framebuffer_changed(conn);
    }
}

static gboolean animate(gpointer fb)
{
    vnc_framebuffer_tick(fb);
    return G_SOURCE_CONTINUE;
}

typedef struct {
    const VncServerConfig *config;
    VncFramebuffer *fb;
    gboolean websocket;
} Port;

/* A client's address for messages: HOST:PORT ([HOST]:PORT for IPv6) when it has one. */
static char *describe_peer(QIOChannelSocket *sioc)
{
    g_autoptr(QIOSocketAddress) addr = qio_channel_socket_get_remote_address(sioc, NULL);
    if (!addr) {
        return g_strdup("client");
    }
    if (qio_socket_address_get_type(addr) != QIO_SOCKET_ADDRESS_TYPE_INET) {
        return qio_socket_address_to_string(addr);
    }
    const char *host = qio_socket_address_get_host(addr);
    return g_strdup_printf(strchr(host, ':') ? "[%s]:%s" : "%s:%s", host, qio_socket_address_get_port(addr));
}

static void accepted(QIONetListener *listener, QIOChannelSocket *sioc, gpointer opaque)
{
    (void)listener;
    Port *port = opaque;
    g_autofree char *peer = describe_peer(sioc);
    g_printerr("%s: connected%s\n", peer, port->websocket ? " (websocket port)" : "");
    qio_channel_set_delay(QIO_CHANNEL(sioc), FALSE); /* small messages go out at once */
    g_hash_table_add(conns, vnc_conn_new(port->config, port->fb, QIO_CHANNEL(sioc), port->websocket, peer,
                                         conn_closed, NULL));
}

/* The first line of the password file; NULL with *USAGE set when it is empty. */
static char *read_password(gboolean *usage, GError **errp)
{
    g_autofree char *contents = NULL;
    if (!g_file_get_contents(opt_password_file, &contents, NULL, errp)) {
        return NULL;
    }
    contents[strcspn(contents, "\n")] = 0;
    if (!contents[0]) {
        *usage = TRUE;
        g_set_error(errp, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s: the password (its first line) is empty",
                    opt_password_file);
        return NULL;
    }
    if (strlen(contents) > VNC_AUTH_PASSWORD_MAX) {
        g_printerr("qio-vnc-demo: note: only the first %d bytes of the password count\n", VNC_AUTH_PASSWORD_MAX);
    }
    return g_steal_pointer(&contents);
}

static gboolean check_address(const char *text, const char *option)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QIOSocketAddress) addr = qio_socket_address_parse(text, &error);
    if (!addr) {
        g_printerr("qio-vnc-demo: %s %s: %s (see --help)\n", option, text, error->message);
    }
    return addr != NULL;
}

static gboolean check_usage(void)
{
    char end;
    gboolean size_ok = !opt_size || (sscanf(opt_size, "%dx%d%c", &width, &height, &end) == 2 &&
                                     width >= VNC_FRAMEBUFFER_MIN_SIZE && width <= VNC_FRAMEBUFFER_MAX_SIZE &&
                                     height >= VNC_FRAMEBUFFER_MIN_SIZE && height <= VNC_FRAMEBUFFER_MAX_SIZE);
    const char *why = !size_ok ? "--size must be WxH, each from 16 to 8192"
                    : opt_tls_creds && opt_tls_anon ? "--tls-creds and --tls-anon exclude each other"
                    : opt_tls_authz && !opt_tls_creds ? "--tls-authz needs --tls-creds (x509)"
                    : opt_max_clients < 0 ? "--max-clients must be 0 (no limit) or more"
                    : opt_handshake_limit < 0 || opt_handshake_limit > G_MAXINT / 1000
                        ? "--handshake-limit must be 0 (no limit) to 2147483 seconds"
                        : NULL;
    if (why) {
        g_printerr("qio-vnc-demo: %s (see --help)\n", why);
        return FALSE;
    }
    return check_address(opt_listen, "--listen") && (!opt_websocket || check_address(opt_websocket, "--websocket"));
}

/* Everything the connections share, from the flags. */
static gboolean configure(VncServerConfig *config, GError **errp)
{
    *config = (VncServerConfig){
        .name = "qio-vnc-demo",
        .password = password,
        .tls_x509 = opt_tls_creds != NULL,
        .handshake_limit_ms = opt_handshake_limit * 1000u,
    };
    if (opt_tls_creds) {
        config->tls_creds =
            qcrypto_tls_creds_x509_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, opt_tls_creds, TRUE, NULL, TRUE, NULL, errp);
    } else if (opt_tls_anon) {
        config->tls_creds = qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, NULL, NULL, errp);
    }
    if ((opt_tls_creds || opt_tls_anon) && !config->tls_creds) {
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

static void unconfigure(VncServerConfig *config)
{
    g_clear_pointer(&config->tls_creds, qcrypto_tls_creds_unref);
    g_clear_pointer(&config->tls_authz, qauthz_unref);
}

/* A listener on TEXT (checked already), its sockets printed as "KIND listening on
 * ADDRESS" for whoever started the server to read. */
static QIONetListener *listen_on(const char *text, const char *kind, Port *port, GError **errp)
{
    g_autoptr(QIOSocketAddress) addr = qio_socket_address_parse(text, errp);
    g_autoptr(QIONetListener) listener = qio_net_listener_new();
    qio_net_listener_set_name(listener, kind);
    if (!addr || qio_net_listener_open_sync(listener, addr, 64, errp) < 0) {
        return NULL;
    }
    for (size_t i = 0; i < qio_net_listener_nsioc(listener); i++) {
        g_autoptr(QIOSocketAddress) local = qio_net_listener_get_local_address(listener, i, NULL);
        g_autofree char *where = local ? qio_socket_address_to_string(local) : g_strdup("?");
        printf("%s listening on %s\n", kind, where);
    }
    qio_net_listener_set_max_clients(listener, opt_max_clients);
    qio_net_listener_set_client_func(listener, accepted, port, NULL);
    return g_steal_pointer(&listener);
}

static int serve(void)
{
    GError *error = NULL;
    VncServerConfig config = { 0 };
    g_autoptr(QIONetListener) listener = NULL;
    g_autoptr(QIONetListener) websocket = NULL;
    VncFramebuffer *fb = vnc_framebuffer_new(width, height, opt_freeze);
    Port rfb_port = { &config, fb, FALSE }, websocket_port = { &config, fb, TRUE };

    conns = g_hash_table_new(NULL, NULL);
    vnc_framebuffer_set_changed_func(fb, framebuffer_changed, NULL);
    if (!configure(&config, &error) ||
        (opt_dump_frame && !vnc_framebuffer_write_ppm(fb, opt_dump_frame, &error)) ||
        !(listener = listen_on(opt_listen, "vnc", &rfb_port, &error)) ||
        (opt_websocket && !(websocket = listen_on(opt_websocket, "websocket", &websocket_port, &error)))) {
        g_printerr("qio-vnc-demo: %s\n", error->message);
        g_error_free(error);
        g_clear_pointer(&listener, qio_net_listener_unref); /* not listening after all */
        unconfigure(&config);
        vnc_framebuffer_free(fb);
        g_hash_table_unref(conns);
        return 1;
    }
    fflush(stdout);
    g_printerr("qio-vnc-demo: serving %dx%d%s, security %s%s%s\n", width, height, opt_freeze ? " (frozen)" : "",
               opt_tls_creds  ? "VeNCrypt x509"
               : opt_tls_anon ? "VeNCrypt anonymous TLS"
                              : "",
               (opt_tls_creds || opt_tls_anon) ? (password ? " + VNC password" : "")
               : password                      ? "VNC Authentication"
                                               : "None",
               opt_websocket ? ", and websockets" : "");

    guint animation = opt_freeze ? 0 : g_timeout_add(1000 / FRAMES_PER_SECOND, animate, fb);
    /* serve_until_stopped() watches the RFB listener; the websocket one's refusals
     * are reported the same way here. */
    ServeLoopRefusals websocket_refusals = { .listener = websocket, .limit_option = "--max-clients" };
    guint reporter = websocket ? g_timeout_add_seconds(1, serve_loop_report, &websocket_refusals) : 0;
    serve_until_stopped(listener, "--max-clients", &finished);
    if (websocket) {
        g_source_remove(reporter);
        serve_loop_report(&websocket_refusals);
        qio_net_listener_disconnect(websocket);
    }
    g_clear_handle_id(&animation, g_source_remove);

    GHashTableIter iter;
    gpointer conn;
    while (g_hash_table_iter_init(&iter, conns), g_hash_table_iter_next(&iter, &conn, NULL)) {
        vnc_conn_close(conn); /* removes itself */
    }
    g_hash_table_unref(conns);
    unconfigure(&config);
    vnc_framebuffer_free(fb);
    return 0;
}

int main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GOptionContext) options = g_option_context_new(NULL);
    g_option_context_set_summary(options, "Serve a test pattern over VNC (RFB), optionally with TLS, a password and "
                                          "websockets.");
    g_option_context_set_description(options, description);
    g_option_context_add_main_entries(options, entries, NULL);
    if (!g_option_context_parse(options, &argc, &argv, &error)) {
        g_printerr("qio-vnc-demo: %s (see --help)\n", error->message);
        return 2;
    }
    if (argc > 1) {
        g_printerr("qio-vnc-demo: unexpected argument '%s' (see --help)\n", argv[1]);
        return 2;
    }
    if (!opt_listen) {
        opt_listen = g_strdup("127.0.0.1:5900");
    }
    int ret = 2;
    if (check_usage()) {
        gboolean usage = FALSE;
        if (opt_password_file && !(password = read_password(&usage, &error))) {
            g_printerr("qio-vnc-demo: %s%s\n", error->message, usage ? " (see --help)" : "");
            ret = usage ? 2 : 1;
        } else {
            ret = serve();
        }
    }
    if (password) {
        memset(password, 0, strlen(password));
    }
    g_free(password);
    g_free(opt_listen);
    g_free(opt_websocket);
    g_free(opt_tls_creds);
    g_free(opt_tls_authz);
    g_free(opt_password_file);
    g_free(opt_size);
    g_free(opt_dump_frame);
    return ret;
}
