/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* secure-console: a serial console reached safely over an untrusted network.
 *
 * The server exposes a local character stream (a command's stdin and stdout, or a
 * UNIX socket such as a guest's serial port) over TLS, where both ends prove who
 * they are with x509 certificates, optionally inside a websocket so a browser can
 * reach it too. The client joins its terminal to the remote stream, or measures it.
 *
 *   secure-console server --listen HOST:PORT --creds DIR [--allow DN] [--websock]
 *                         [--once] [--handshake-timeout SECONDS] [--max-clients N]
 *                         (--unix PATH | -- COMMAND [ARG...])
 *   secure-console client --connect HOST:PORT --creds DIR [--hostname NAME]
 *                         [--websock] [--handshake-timeout SECONDS] [--measure MIB]
 *
 * DIR holds QEMU's layout: ca-cert.pem plus server-cert.pem and server-key.pem, or
 * client-cert.pem and client-key.pem. Everything comes from <qio.h>; both ends run
 * the GLib main loop, so one server process serves many consoles at once, and a peer
 * that stalls its handshakes or a flood of connections cannot take it down. */

#include "serve-loop.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static char *opt_listen, *opt_connect, *opt_creds, *opt_allow, *opt_unix, *opt_hostname;
static gboolean opt_websock, opt_once;
static int opt_measure, opt_handshake_timeout = 10, opt_max_clients = 100;
static char **opt_args; /* the mode, then the server's command */

static const GOptionEntry entries[] = {
    { "listen", 0, 0, G_OPTION_ARG_STRING, &opt_listen, "server: the address to listen on", "HOST:PORT" },
    { "connect", 0, 0, G_OPTION_ARG_STRING, &opt_connect, "client: the server's address", "HOST:PORT" },
    { "creds", 0, 0, G_OPTION_ARG_FILENAME, &opt_creds, "the x509 credentials directory", "DIR" },
    { "allow", 0, 0, G_OPTION_ARG_STRING, &opt_allow, "server: the only client DN let in", "DN" },
    { "websock", 0, 0, G_OPTION_ARG_NONE, &opt_websock, "a websocket inside the TLS session", NULL },
    { "once", 0, 0, G_OPTION_ARG_NONE, &opt_once, "server: exit after the first session", NULL },
    { "unix", 0, 0, G_OPTION_ARG_FILENAME, &opt_unix, "server: serve this UNIX socket", "PATH" },
    { "hostname", 0, 0, G_OPTION_ARG_STRING, &opt_hostname, "client: the name the server's certificate must have", "NAME" },
    { "measure", 0, 0, G_OPTION_ARG_INT, &opt_measure, "client: time round trips and echo MIB MiB", "MIB" },
    { "handshake-timeout", 0, 0, G_OPTION_ARG_INT, &opt_handshake_timeout,
      "give up on a peer whose handshakes take longer (default 10; 0: wait for ever)", "SECONDS" },
    { "max-clients", 0, 0, G_OPTION_ARG_INT, &opt_max_clients,
      "server: turn away connections past N open ones (default 100; 0: no limit)", "N" },
    { G_OPTION_REMAINING, 0, 0, G_OPTION_ARG_STRING_ARRAY, &opt_args, NULL, "server|client [-- COMMAND...]" },
    { NULL },
};

/* Set to end the main loop. A handshake whose peer answers at once completes, and
 * calls back, before it returns: a flag, unlike g_main_loop_quit(), also works
 * before the loop runs. */
static gboolean finished;
static QCryptoTLSCreds *creds;
static QAuthZ *authz;
static int status;

/* ---- Pipe: copies one channel into another from the main loop. ---- */

typedef struct {
    QIOChannel *from, *to;
    guint watch;
    char buf[65536];
    size_t len, done;
    /* Called once when reading ends (error NULL) or either side fails. */
    void (*ended)(gpointer owner, GError *error);
    gpointer owner;
} Pipe;

static gboolean pipe_ready(QIOChannel *ioc, GIOCondition condition, gpointer opaque);

/* Waits for what the pipe needs next: room in TO while data is left, else input. */
static void pipe_watch(Pipe *p)
{
    p->watch = p->done < p->len
        ? qio_channel_add_watch(p->to, G_IO_OUT | G_IO_ERR | G_IO_HUP, pipe_ready, p, NULL)
        : qio_channel_add_watch(p->from, G_IO_IN | G_IO_ERR | G_IO_HUP, pipe_ready, p, NULL);
}

static void pipe_start(Pipe *p, QIOChannel *from, QIOChannel *to,
                       void (*ended)(gpointer owner, GError *error), gpointer owner)
{
    *p = (Pipe){ .from = from, .to = to, .ended = ended, .owner = owner };
    pipe_watch(p);
}

static void pipe_stop(Pipe *p)
{
    if (p->watch) {
        g_source_remove(p->watch);
        p->watch = 0;
    }
}

static gboolean pipe_ready(QIOChannel *ioc, GIOCondition condition, gpointer opaque)
{
    (void)ioc, (void)condition;
    Pipe *p = opaque;
    GError *error = NULL;
    gboolean draining = p->done < p->len;
    if (!draining) {
        ssize_t n = qio_channel_read(p->from, p->buf, sizeof(p->buf), &error);
        if (n == QIO_CHANNEL_ERR_BLOCK) {
            return G_SOURCE_CONTINUE;
        }
        if (n <= 0) {
            goto ended;
        }
        p->len = n;
        p->done = 0;
    }
    ssize_t n = qio_channel_write(p->to, p->buf + p->done, p->len - p->done, &error);
    if (n == -1) {
        goto ended;
    }
    p->done += n > 0 ? n : 0;
    if ((p->done < p->len) == draining) {
        return G_SOURCE_CONTINUE;
    }
    pipe_watch(p);
    return G_SOURCE_REMOVE;

ended:
    p->watch = 0;
    p->ended(p->owner, error); /* may free p */
    return G_SOURCE_REMOVE;
}

/* ---- Conn: a TCP connection made secure, then handed to ready(). ---- */

static char *host_port(const QIOSocketAddress *addr)
{
    return g_strdup_printf("%s:%s", qio_socket_address_get_host(addr), qio_socket_address_get_port(addr));
}

typedef struct Conn Conn;
struct Conn {
    char *peer;           /* the other end's address, for messages */
    gboolean server;
    QIOChannelTLS *tls;
    QIOChannel *channel;  /* where data travels: the TLS channel or a websocket in it */
    void (*ready)(Conn *conn);
    void (*failed)(Conn *conn, GError *error);
    gboolean open;        /* both handshakes done and the peer accepted */
    QIOChannel *local;    /* the server's console, or the client's standard input */
    QIOChannel *output;   /* the client's standard output */
    gint64 deadline;      /* when the handshakes must be done (monotonic), 0: never */
    Pipe up, down;
};

/* What is left of the connection's handshake time, in milliseconds: 0 (no deadline)
 * when there is none, else at least 1, which fails at once when time is up. */
static guint handshake_time_left(Conn *conn)
{
    if (!conn->deadline) {
        return 0;
    }
    /* Rounded up: a handshake never ends before its deadline. */
    return MAX(1, (conn->deadline - g_get_monotonic_time() + 999) / 1000);
}

static void conn_free(Conn *conn)
{
    pipe_stop(&conn->up);
    pipe_stop(&conn->down);
    if (conn->tls) {
        /* A clean end tells the peer, if that leaves at once: waiting for a peer
         * that stopped reading would stall every other session. Closing a websocket
         * sends its close frame (inside TLS, so it cannot be forged); plain TLS
         * sends the closure alert. A refused peer just sees the connection drop. */
        if (conn->open && conn->channel == QIO_CHANNEL(conn->tls)) {
            qcrypto_tls_session_bye(qio_channel_tls_get_session(conn->tls), NULL);
        }
        qio_channel_close(conn->channel, NULL);
        qio_channel_unref(conn->channel);
        qio_channel_unref(QIO_CHANNEL(conn->tls));
    }
    g_clear_pointer(&conn->local, qio_channel_unref);
    g_clear_pointer(&conn->output, qio_channel_unref);
    g_free(conn->peer);
    g_free(conn);
}

/* One line saying what the connection agreed on. */
static void conn_describe(Conn *conn)
{
    QCryptoTLSSession *session = qio_channel_tls_get_session(conn->tls);
    g_autofree char *version = qcrypto_tls_session_get_protocol_name(session, NULL);
    g_autofree char *cipher = qcrypto_tls_session_get_cipher_name(session, NULL);
    g_autofree char *dn = qcrypto_tls_session_get_peer_name(session);
    g_autofree char *protocol = NULL;
    if (opt_websock) {
        protocol = qio_channel_websock_get_protocol(QIO_CHANNEL_WEBSOCK(conn->channel));
    }
    g_printerr("%s: %s %s, %s %s%s%s\n", conn->peer, version, cipher, conn->server ? "client" : "server",
               dn, opt_websock ? ", websocket protocol " : "", opt_websock ? (protocol ? protocol : "none") : "");
}

static void conn_handshaken(QIOTask *task, gpointer opaque);

/* Runs the websocket handshake once TLS is up, then ready(). */
static void conn_secured(Conn *conn)
{
    if (!opt_websock || QIO_CHANNEL(conn->tls) != conn->channel) {
        conn_describe(conn);
        conn->open = TRUE;
        conn->ready(conn);
        return;
    }
    const char *const protocols[] = { "binary", NULL };
    GError *error = NULL;
    QIOChannelWebsock *wioc = conn->server
        ? qio_channel_websock_new_server(conn->channel)
        : qio_channel_websock_new_client(conn->channel, opt_hostname, "/", protocols, &error);
    if (!wioc) {
        conn->failed(conn, error);
        return;
    }
    qio_channel_unref(conn->channel);
    conn->channel = QIO_CHANNEL(wioc);
    /* The same deadline covers both handshakes. */
    qio_channel_websock_set_handshake_timeout(wioc, handshake_time_left(conn));
    qio_channel_websock_handshake(wioc, conn_handshaken, conn, NULL);
}

static void conn_handshaken(QIOTask *task, gpointer opaque)
{
    Conn *conn = opaque;
    GError *error = NULL;
    if (qio_task_propagate_error(task, &error)) {
        conn->failed(conn, error);
    } else {
        conn_secured(conn);
    }
}

/* Takes over SIOC: a TLS session with the server's or the client's credentials. */
static void conn_start(Conn *conn, QIOChannelSocket *sioc)
{
    GError *error = NULL;
    g_autoptr(QIOSocketAddress) addr = qio_channel_socket_get_remote_address(sioc, NULL);
    conn->peer = addr ? host_port(addr) : g_strdup("peer");
    qio_channel_set_delay(QIO_CHANNEL(sioc), FALSE); /* keystrokes go out at once */
    conn->tls = conn->server ? qio_channel_tls_new_server(QIO_CHANNEL(sioc), creds, authz, &error)
                             : qio_channel_tls_new_client(QIO_CHANNEL(sioc), creds, opt_hostname, &error);
    if (!conn->tls) {
        conn->failed(conn, error);
        return;
    }
    conn->channel = qio_channel_ref(QIO_CHANNEL(conn->tls));
    if (opt_handshake_timeout > 0) {
        conn->deadline = g_get_monotonic_time() + opt_handshake_timeout * G_TIME_SPAN_SECOND;
        qio_channel_tls_set_handshake_timeout(conn->tls, opt_handshake_timeout * 1000);
    }
    if (opt_measure > 0) { /* measuring reads and writes from two threads */
        qcrypto_tls_session_require_thread_safety(qio_channel_tls_get_session(conn->tls));
    }
    if (!qio_channel_set_blocking(conn->channel, FALSE, &error)) {
        conn->failed(conn, error);
        return;
    }
    qio_channel_tls_handshake(conn->tls, conn_handshaken, conn, NULL, NULL);
}

/* ---- The server ---- */

static void server_end(Conn *conn)
{
    conn_free(conn);
    if (opt_once) {
        finished = TRUE;
    }
}

/* A pipe ended: either side closed, or failed. */
static void server_done(gpointer owner, GError *error)
{
    Conn *conn = owner;
    g_printerr("%s: session ended%s%s\n", conn->peer, error ? ": " : "", error ? error->message : "");
    g_clear_error(&error);
    server_end(conn);
}

/* The client is done sending: the console sees end-of-file, and its last output
 * still reaches the client before the session ends. */
static void server_input_done(gpointer owner, GError *error)
{
    Conn *conn = owner;
    if (error || qio_channel_shutdown(conn->local, QIO_CHANNEL_SHUTDOWN_WRITE, &error) < 0) {
        server_done(conn, error);
    }
}

static void server_failed(Conn *conn, GError *error)
{
    g_printerr("%s: refused: %s\n", conn->peer, error->message);
    g_error_free(error);
    status = 1;
    server_end(conn);
}

/* Opens the console for a client that proved who it is, and joins the two. */
static void server_ready(Conn *conn)
{
    GError *error = NULL;
    if (opt_unix) {
        QIOChannelSocket *sioc = qio_channel_socket_new();
        g_autoptr(QIOSocketAddress) addr = qio_socket_address_new_unix(opt_unix);
        conn->local = QIO_CHANNEL(sioc);
        if (qio_channel_socket_connect_sync(sioc, addr, &error) < 0) {
            server_failed(conn, error);
            return;
        }
    } else {
        conn->local = (QIOChannel *)qio_channel_command_new_spawn((const char *const *)opt_args + 1, O_RDWR, &error);
        if (!conn->local) {
            server_failed(conn, error);
            return;
        }
    }
    if (!qio_channel_set_blocking(conn->local, FALSE, &error)) {
        server_failed(conn, error);
        return;
    }
    pipe_start(&conn->up, conn->channel, conn->local, server_input_done, conn);
    pipe_start(&conn->down, conn->local, conn->channel, server_done, conn);
}

static void accepted(QIONetListener *listener, QIOChannelSocket *sioc, gpointer data)
{
    (void)listener, (void)data;
    Conn *conn = g_new0(Conn, 1);
    *conn = (Conn){ .server = TRUE, .ready = server_ready, .failed = server_failed };
    conn_start(conn, sioc);
}

static int run_server(void)
{
    GError *error = NULL;
    if (!opt_listen || (!opt_unix == !opt_args[1])) {
        g_printerr("server: say --listen, and --unix PATH or -- COMMAND\n");
        return 2;
    }
    if (opt_max_clients < 0) {
        g_printerr("server: --max-clients must be 0 (no limit) or more\n");
        return 2;
    }
    creds = qcrypto_tls_creds_x509_new(QCRYPTO_TLS_CREDS_ENDPOINT_SERVER, opt_creds, TRUE, NULL, TRUE, NULL, &error);
    if (!creds) {
        g_printerr("server: %s\n", error->message);
        return 1;
    }
    if (opt_allow) {
        QAuthZList *list = qauthz_list_new(QAUTHZ_LIST_POLICY_DENY);
        qauthz_list_append_rule(list, opt_allow, QAUTHZ_LIST_POLICY_ALLOW, QAUTHZ_LIST_FORMAT_EXACT, NULL);
        authz = QAUTHZ(list);
    }
    g_autoptr(QIOSocketAddress) addr = qio_socket_address_parse(opt_listen, &error);
    g_autoptr(QIONetListener) listener = qio_net_listener_new();
    if (!addr || qio_net_listener_open_sync(listener, addr, 16, &error) < 0) {
        g_printerr("server: %s\n", error->message);
        return 1;
    }
    g_autoptr(QIOSocketAddress) local = qio_net_listener_get_local_address(listener, 0, NULL);
    g_autofree char *where = host_port(local);
    printf("listening on %s\n", where);
    fflush(stdout);
    qio_net_listener_set_max_clients(listener, opt_max_clients);
    qio_net_listener_set_client_func(listener, accepted, NULL, NULL);
    serve_until_stopped(listener, "--max-clients", &finished);
    return status;
}

/* ---- The client ---- */

static void client_failed(Conn *conn, GError *error)
{
    g_printerr("%s: %s\n", conn->peer, error->message);
    g_error_free(error);
    status = 1;
    finished = TRUE;
}

/* The server ended the session: what it sent is all out. */
static void client_done(gpointer owner, GError *error)
{
    Conn *conn = owner;
    if (error) {
        client_failed(conn, error);
    } else {
        finished = TRUE;
    }
}

/* End of standard input: the TLS closure alert tells the server we are done sending. */
static void client_input_done(gpointer owner, GError *error)
{
    Conn *conn = owner;
    if (error) {
        client_failed(conn, error);
        return;
    }
    qio_channel_tls_bye(conn->tls, &error);
    if (error) {
        client_failed(conn, error);
    }
}

enum { ROUNDS = 200, BLOCK = 65536 };

/* The measuring writer: MIB MiB of BLOCK, while the main thread reads the echo. */
static gpointer measure_writer(gpointer data)
{
    Conn *conn = data;
    GError *error = NULL;
    for (int i = 0; i < opt_measure * (1 << 20) / BLOCK && !error; i++) {
        qio_channel_write_all(conn->channel, conn->up.buf, BLOCK, &error);
    }
    return error;
}

/* Times round trips of one line, then streams MIB MiB through the echo. */
static void client_measure(Conn *conn)
{
    GError *error = NULL;
    QIOChannel *ioc = conn->channel;
    char *out = conn->up.buf, *in = conn->down.buf; /* the pipes are idle: borrow them */
    qcrypto_random_bytes((uint8_t *)out, BLOCK, NULL);
    int line = snprintf(out, 64, "round trip through %s\n", conn->peer);

    qio_channel_set_blocking(ioc, TRUE, NULL);
    gint64 start = g_get_monotonic_time();
    for (int i = 0; i < ROUNDS && !error; i++) {
        if (qio_channel_write_all(ioc, out, line, &error) == 0 && qio_channel_read_all(ioc, in, line, &error) == 0 &&
            memcmp(in, out, line)) {
            g_set_error(&error, QIO_ERROR, QIO_ERROR_FAILED, "the echo differs from what was sent");
        }
    }
    gint64 middle = g_get_monotonic_time();
    GThread *writer = g_thread_new("measure-writer", measure_writer, conn);
    for (gsize got = 0, total = (gsize)opt_measure << 20; got < total && !error;) {
        size_t at = got % BLOCK;
        ssize_t n = qio_channel_read(ioc, in, MIN(BLOCK - at, total - got), &error);
        if (n == 0) {
            g_set_error(&error, QIO_ERROR, QIO_ERROR_FAILED, "the echo ended early");
        } else if (n > 0 && memcmp(in, out + at, n)) {
            g_set_error(&error, QIO_ERROR, QIO_ERROR_FAILED, "the echo differs from what was sent");
        }
        got += n > 0 ? n : 0;
    }
    GError *write_error = g_thread_join(writer);
    gint64 end = g_get_monotonic_time();
    if (error || write_error) {
        client_failed(conn, error ? error : write_error);
        g_clear_error(error ? &write_error : &error);
        return;
    }
    printf("round trip: %d x %d bytes, %.0f us each\n", ROUNDS, line, (double)(middle - start) / ROUNDS);
    printf("throughput: %d MiB echoed in %.2f s, %.0f MiB/s each way\n", opt_measure, (end - middle) / 1e6,
           opt_measure / ((end - middle) / 1e6));
    finished = TRUE;
}

/* Joins standard input and output to the session. */
static void client_ready(Conn *conn)
{
    if (opt_measure > 0) {
        client_measure(conn);
        return;
    }
    conn->local = QIO_CHANNEL(qio_channel_file_new_fd(dup(0)));
    conn->output = QIO_CHANNEL(qio_channel_file_new_fd(dup(1)));
    pipe_start(&conn->up, conn->local, conn->channel, client_input_done, conn);
    pipe_start(&conn->down, conn->channel, conn->output, client_done, conn);
}

static int run_client(void)
{
    GError *error = NULL;
    g_autoptr(QIOSocketAddress) addr = opt_connect ? qio_socket_address_parse(opt_connect, &error) : NULL;
    if (!addr) {
        g_printerr("client: %s\n", error ? error->message : "say --connect HOST:PORT");
        return 2;
    }
    if (!opt_hostname) {
        opt_hostname = g_strdup(qio_socket_address_get_host(addr));
    }
    creds = qcrypto_tls_creds_x509_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, opt_creds, TRUE, NULL, TRUE, NULL, &error);
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new();
    if (!creds || qio_channel_socket_connect_sync(sioc, addr, &error) < 0) {
        g_printerr("client: %s\n", error->message);
        return 1;
    }
    Conn *conn = g_new0(Conn, 1);
    *conn = (Conn){ .ready = client_ready, .failed = client_failed };
    conn_start(conn, sioc);
    while (!finished) {
        g_main_context_iteration(NULL, TRUE);
    }
    conn_free(conn);
    return status;
}

int main(int argc, char **argv)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(GOptionContext) options = g_option_context_new(NULL);
    g_option_context_set_summary(options, "A console over TLS with client certificates, optionally in a websocket.");
    g_option_context_set_description(
        options,
        "The server serves a console (--unix PATH, or the command after --) to each client whose\n"
        "certificate DIR/ca-cert.pem signed and, with --allow, that has that DN. Each connection\n"
        "has --handshake-timeout seconds for its TLS and websocket handshakes; past --max-clients\n"
        "open connections, new ones are closed at once and counted in the log. SIGINT or SIGTERM\n"
        "stops the server.\n"
        "\n"
        "Exit status: 0 if every session went well, 1 if one was refused or failed, 2 for bad usage.");
    g_option_context_add_main_entries(options, entries, NULL);
    if (!g_option_context_parse(options, &argc, &argv, &error) || !opt_args || !opt_creds) {
        g_printerr("%s\n", error ? error->message : "say server or client, and --creds DIR");
        return 2;
    }
    if (opt_handshake_timeout < 0 || opt_handshake_timeout > G_MAXINT / 1000) {
        g_printerr("--handshake-timeout must be 0 (no limit) to %d seconds\n", G_MAXINT / 1000);
        return 2;
    }
    int ret = g_str_equal(opt_args[0], "server") ? run_server()
            : g_str_equal(opt_args[0], "client") ? run_client()
            : 2;
    g_clear_pointer(&creds, qcrypto_tls_creds_unref);
    g_clear_pointer(&authz, qauthz_unref);
    return ret;
}
