/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A VNC server beside QEMU's, the same RFB client against both in the same run, as
 * Markdown tables.
 *
 *   bench-vnc [-r ROUNDS] [-t SECONDS] [-n CLIENTS] [--qemu COMMAND] [--certs DIR]
 *             SERVER [CERTS_SCRIPT]
 *
 * SERVER is qio-vnc-demo, or "qemu" for a dry run with QEMU in both columns. The
 * reference is `qemu-system-x86_64 -machine pc -vga std -S` showing 1920x1080: the
 * stopped guest's Bochs VBE registers are set through the human monitor (`o` port
 * writes), and QEMU's VGA code resizes the console at its next refresh. COMMAND (split
 * like a shell) runs QEMU: bench/qemu-system.sh DIR unpacks Debian's QEMU 7.2 into DIR
 * without installing it. The client is this program: RFB 3.8 on a QIOChannelSocket,
 * 32 bpp true colour, Raw encoding only, shared.
 *
 * Updates: over VeNCrypt X509None (TLS 1.3 with a client certificate; a QIOChannelTLS
 * client), non-incremental FramebufferUpdateRequests for the whole screen back to
 * back, one outstanding, each update read whole; updates per second and MB/s of
 * everything received. Each turn is a fresh connection (QEMU resets its refresh
 * interval for a new client), one update untimed, then SECONDS timed; the two servers
 * take turns in each of ROUNDS rounds, the client on CPU 0 and the servers on CPU 1.
 * Two rows: a still screen (qio-vnc-demo --freeze; QEMU as it is), and a changing one
 * (the demo's animation; QEMU's palette switched every 15 ms through its monitor
 * while its turn lasts). Best round, median ratio.
 *
 * Idle clients: CLIENTS plaintext (security type None) clients that each complete the
 * handshake through ServerInit, one after the other, then stay connected and silent;
 * the server's VmRSS after them minus before them (one client already connected, so
 * that first-client setup is not counted), per client.
 *
 * Certificates come from DIR (QEMU's layout: DIR/server, DIR/client) or are made
 * fresh by CERTS_SCRIPT (examples/secure-console-certs.sh) with RSA keys, which QEMU
 * requires. The servers' stderr goes to $TMPDIR/qio-bench-vnc-XXXXXX/server-N.log, kept
 * when the benchmark fails.
 */

#define _GNU_SOURCE /* sched_setaffinity */
#include <qio.h>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench-common.h"

#define WIDTH 1920
#define HEIGHT 1080
#define FRAME_BYTES ((gsize)WIDTH * HEIGHT * 4)
#define SECURITY_NONE 1
#define SECURITY_VENCRYPT 19
#define VENCRYPT_X509NONE 260
#define TLS13 "NORMAL:-VERS-ALL:+VERS-TLS1.3"

/* ---- Servers ---- */

typedef struct {
    const char *label;
    GPid pid;
    int monitor;    /* QEMU's monitor (its stdin), or -1 */
    FILE *out;      /* qio-vnc-demo's stdout, kept open while it runs */
    int port;
    GThread *ticker; /* changes QEMU's screen while ticking, until stop */
    gint ticking, stop;
} Server;

static char **qemu_command;
static const char *certs_dir;

static char *work_dir; /* certificates (unless --certs) and the servers' logs */
static int servers_started;

/* In the child before exec: the server on CPU 1, its stderr appended to the file
 * named by DATA, and gone with this process. */
static void server_child_setup(gpointer data)
{
    int log = open(data, O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (log >= 0) {
        dup2(log, STDERR_FILENO);
        close(log);
    }
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(1, &set);
    if (g_get_num_processors() > 1) {
        sched_setaffinity(0, sizeof(set), &set);
    }
    prctl(PR_SET_PDEATHSIG, SIGTERM);
}

/* Starts ARGV with pipes to its stdin (IN) and from its stdout (OUT) where not NULL;
 * its stderr goes to a log in work_dir. */
static GPid spawn(GPtrArray *argv, int *in, int *out)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *log = g_strdup_printf("%s/server-%d.log", work_dir, ++servers_started);
    GPid pid;
    g_ptr_array_add(argv, NULL);
    GSpawnFlags flags = G_SPAWN_SEARCH_PATH | G_SPAWN_DO_NOT_REAP_CHILD |
                        (out ? 0 : G_SPAWN_STDOUT_TO_DEV_NULL);
    if (!g_spawn_async_with_pipes(NULL, (char **)argv->pdata, NULL, flags, server_child_setup,
                                  log, &pid, in, out, NULL, &error)) {
        g_error("%s: %s", (char *)argv->pdata[0], error->message);
    }
    return pid;
}

static void push_words(GPtrArray *argv, const char *const *words, gsize n)
{
    for (gsize i = 0; i < n; i++) {
        g_ptr_array_add(argv, g_strdup(words[i]));
    }
}

static struct sockaddr_in loopback(int port)
{
    return (struct sockaddr_in){ .sin_family = AF_INET, .sin_port = htons(port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
}

/* A TCP port from 6000 up that nobody has bound now (QEMU takes a display number,
 * not port 0). */
static int free_vnc_port(void)
{
    for (int port = 6000 + g_random_int_range(0, 900);; port++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sin = loopback(port);
        int rc = bind(fd, (struct sockaddr *)&sin, sizeof(sin));
        close(fd);
        if (rc == 0) {
            return port;
        }
    }
}

static void monitor_send(const Server *s, const char *commands)
{
    if (write(s->monitor, commands, strlen(commands)) != (ssize_t)strlen(commands)) {
        g_error("writing to QEMU's monitor failed");
    }
}

/* While S->ticking, keeps a stopped QEMU's screen changing: DAC colour 0, every
 * pixel's (the video memory is zeroed), alternates every 15 ms, so that each VNC
 * refresh finds the whole screen changed and the refresh interval stays at its 30 ms
 * floor. */
static gpointer palette_ticker(gpointer data)
{
    Server *s = data;
    for (int i = 0; !g_atomic_int_get(&s->stop); i++) {
        if (g_atomic_int_get(&s->ticking)) {
            monitor_send(s, i % 2 ? "o /b 0x3c8 0\no /b 0x3c9 63\no /b 0x3c9 0\no /b 0x3c9 0\n"
                                  : "o /b 0x3c8 0\no /b 0x3c9 0\no /b 0x3c9 0\no /b 0x3c9 63\n");
        }
        g_usleep(15 * 1000);
    }
    return NULL;
}

/* QEMU stopped before its firmware ran, its VGA switched to WIDTH x HEIGHT x 8 bpp by
 * the Bochs VBE registers (index port 0x1ce, data 0x1cf: XRES, YRES, BPP, then ENABLE
 * with the linear framebuffer) and the attribute controller's video-enable bit
 * (without it the VGA code draws a blank 640x480 screen). The console, and so the VNC
 * server's framebuffer, is 32 bpp whatever the guest's depth; 8 bpp lets the palette
 * change the picture. */
static void qemu_start(Server *s, gboolean tls, gboolean changing, int clients)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    const char *args[] = { "-machine", "pc", "-vga", "std", "-nic", "none", "-S",
                           "-display", "none", "-monitor", "stdio", "-vnc" };
    push_words(argv, (const char *const *)qemu_command, g_strv_length(qemu_command));
    push_words(argv, args, G_N_ELEMENTS(args));
    s->port = free_vnc_port();
    /* connections= bounds the clients not yet past ClientInit (default 32). */
    g_ptr_array_add(argv, g_strdup_printf("127.0.0.1:%d,connections=%d%s", s->port - 5900,
                                          clients + 2, tls ? ",tls-creds=tls0" : ""));
    if (tls) {
        g_ptr_array_add(argv, g_strdup("-object"));
        g_ptr_array_add(argv, g_strdup_printf("tls-creds-x509,id=tls0,dir=%s/server,"
                                              "endpoint=server,verify-peer=on", certs_dir));
    }
    s->pid = spawn(argv, &s->monitor, NULL);
    g_autofree char *vbe = g_strdup_printf(
        "o /h 0x1ce 1\no /h 0x1cf %d\no /h 0x1ce 2\no /h 0x1cf %d\n"
        "o /h 0x1ce 3\no /h 0x1cf 8\no /h 0x1ce 4\no /h 0x1cf 0x41\no /b 0x3c0 0x20\n",
        WIDTH, HEIGHT);
    monitor_send(s, vbe);
    if (changing) {
        s->ticker = g_thread_new("palette", palette_ticker, s);
    }
}

/* qio-vnc-demo on an ephemeral port, which it prints: "vnc listening on
 * tcp:127.0.0.1:PORT,ipv4=on". Unless CHANGING, --freeze keeps its picture still. */
static void demo_start(Server *s, const char *program, gboolean tls, gboolean changing)
{
    g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func(g_free);
    const char *args[] = { program, "--listen", "127.0.0.1:0", "--size",
                           G_STRINGIFY(WIDTH) "x" G_STRINGIFY(HEIGHT), "--max-clients", "0" };
    push_words(argv, args, G_N_ELEMENTS(args));
    if (!changing) {
        g_ptr_array_add(argv, g_strdup("--freeze"));
    }
    if (tls) {
        g_ptr_array_add(argv, g_strdup("--tls-creds"));
        g_ptr_array_add(argv, g_strdup_printf("%s/server", certs_dir));
    }
    int out;
    s->pid = spawn(argv, NULL, &out);
    s->out = fdopen(out, "r");
    char line[256];
    const char *addr;
    if (!fgets(line, sizeof(line), s->out) || !(addr = strstr(line, "tcp:")) ||
        !strchr(addr, ',')) {
        g_error("%s did not say where it listens (see %s/server-%d.log)", program, work_dir,
                servers_started);
    }
    *strchr(addr, ',') = '\0';
    s->port = atoi(strrchr(addr, ':') + 1);
}

/* Waits until S accepts connections, or fails if it exits. */
static void server_wait(const Server *s)
{
    struct sockaddr_in sin = loopback(s->port);
    for (int tries = 0;; tries++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        int rc = connect(fd, (struct sockaddr *)&sin, sizeof(sin));
        close(fd);
        if (rc == 0) {
            return;
        }
        if (waitpid(s->pid, NULL, WNOHANG) != 0 || tries == 600) {
            g_error("%s is not listening on port %d (see %s/server-%d.log)", s->label, s->port,
                    work_dir, servers_started);
        }
        g_usleep(G_USEC_PER_SEC / 20);
    }
}

/* PROGRAM ("qemu" for QEMU) with TLS or not, its screen changing or not, ready for
 * CLIENTS clients. */
static void server_start(Server *s, const char *program, gboolean tls, gboolean changing,
                         int clients)
{
    s->monitor = -1;
    if (g_str_equal(program, "qemu")) {
        qemu_start(s, tls, changing, clients);
    } else {
        demo_start(s, program, tls, changing);
    }
    server_wait(s);
}

static void server_stop(Server *s)
{
    if (s->ticker) {
        g_atomic_int_set(&s->stop, 1);
        g_thread_join(s->ticker);
    }
    kill(s->pid, SIGTERM);
    waitpid(s->pid, NULL, 0);
    g_spawn_close_pid(s->pid);
    if (s->monitor >= 0) {
        close(s->monitor);
    }
    if (s->out) {
        fclose(s->out);
    }
}

/* The server's resident set in bytes, from /proc/PID/status. */
static guint64 server_rss(const Server *s)
{
    g_autofree char *path = g_strdup_printf("/proc/%d/status", s->pid), *text = NULL;
    const char *line;
    if (!g_file_get_contents(path, &text, NULL, NULL) || !(line = strstr(text, "\nVmRSS:"))) {
        g_error("no VmRSS in %s", path);
    }
    return g_ascii_strtoull(line + 7, NULL, 10) * 1024;
}

/* ---- The RFB client ---- */

typedef struct {
    QIOChannelSocket *sioc;
    QIOChannel *ioc; /* the socket, or TLS over it */
    guint64 bytes;   /* received since connecting */
    int width, height;
} Client;

static guint8 *frame; /* where pixel data is read to, and dropped */

static void recv_bytes(Client *c, void *buf, gsize len)
{
    g_autoptr(GError) error = NULL;
    if (qio_channel_read_all(c->ioc, buf, len, &error) < 0) {
        g_error("reading from the server: %s", error ? error->message : "end of stream");
    }
    c->bytes += len;
}

static guint32 recv_u32(Client *c)
{
    guint32 v;
    recv_bytes(c, &v, 4);
    return GUINT32_FROM_BE(v);
}

static guint8 recv_u8(Client *c)
{
    guint8 v;
    recv_bytes(c, &v, 1);
    return v;
}

/* Reads LEN bytes and drops them. */
static void recv_skip(Client *c, gsize len)
{
    for (gsize left = len; left > 0; left -= MIN(left, FRAME_BYTES)) {
        recv_bytes(c, frame, MIN(left, FRAME_BYTES));
    }
}

static void send_bytes(Client *c, const void *buf, gsize len)
{
    g_autoptr(GError) error = NULL;
    if (qio_channel_write_all(c->ioc, buf, len, &error) < 0) {
        g_error("writing to the server: %s", error->message);
    }
}

/* Reads a failure reason (u32 length, text) and stops. */
static void G_GNUC_NORETURN refused(Client *c, const char *what)
{
    guint32 len = MIN(recv_u32(c), 1000);
    char reason[1001] = "";
    recv_bytes(c, reason, len);
    g_error("%s: %s", what, reason);
}

typedef struct {
    gboolean done;
    GError *error;
} Handshake;

static void handshake_done(QIOTask *task, gpointer opaque)
{
    Handshake *hs = opaque;
    hs->done = TRUE;
    qio_task_propagate_error(task, &hs->error);
}

/* VeNCrypt 0.2 with X509None, then TLS over the socket. */
static void vencrypt(Client *c, QCryptoTLSCreds *creds)
{
    guint8 version[2];
    recv_bytes(c, version, 2);
    send_bytes(c, (guint8[]){ 0, 2 }, 2);
    if (version[0] != 0 || version[1] < 2 || recv_u8(c) != 0) {
        g_error("the server does not speak VeNCrypt 0.2");
    }
    gboolean offered = FALSE;
    for (int n = recv_u8(c); n > 0; n--) {
        offered |= recv_u32(c) == VENCRYPT_X509NONE;
    }
    if (!offered) {
        g_error("the server does not offer VeNCrypt X509None");
    }
    guint32 subtype = GUINT32_TO_BE(VENCRYPT_X509NONE);
    send_bytes(c, &subtype, 4);
    if (recv_u8(c) != 1) {
        g_error("the server refused X509None");
    }

    g_autoptr(GError) error = NULL;
    QIOChannelTLS *tls = qio_channel_tls_new_client(c->ioc, creds, "127.0.0.1", &error);
    if (!tls) {
        g_error("TLS client: %s", error->message);
    }
    Handshake hs = { 0 };
    GMainContext *context = g_main_context_new();
    qio_channel_tls_handshake(tls, handshake_done, &hs, NULL, context);
    while (!hs.done) {
        g_main_context_iteration(context, TRUE);
    }
    g_main_context_unref(context);
    if (hs.error) {
        g_error("TLS handshake: %s", hs.error->message);
    }
    c->ioc = QIO_CHANNEL(tls);
}

/* Connects to PORT and runs RFB 3.8 through ServerInit: security type None, or
 * VeNCrypt X509None with CREDS; a shared session. */
static Client *client_connect(int port, QCryptoTLSCreds *creds)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *service = g_strdup_printf("%d", port);
    g_autoptr(QIOSocketAddress) addr = qio_socket_address_new_inet("127.0.0.1", service);
    Client *c = g_new0(Client, 1);
    c->sioc = qio_channel_socket_new();
    c->ioc = QIO_CHANNEL(c->sioc);
    if (qio_channel_socket_connect_sync(c->sioc, addr, &error) < 0) {
        g_error("connecting to port %d: %s", port, error->message);
    }

    char version[12];
    recv_bytes(c, version, 12);
    if (memcmp(version, "RFB 003.008\n", 12) != 0) {
        g_error("the server does not speak RFB 3.8: %.11s", version);
    }
    send_bytes(c, "RFB 003.008\n", 12);
    guint8 want = creds ? SECURITY_VENCRYPT : SECURITY_NONE, types[255];
    int ntypes = recv_u8(c);
    if (ntypes == 0) {
        refused(c, "the server refused the connection");
    }
    recv_bytes(c, types, ntypes);
    if (!memchr(types, want, ntypes)) {
        g_error("the server does not offer security type %d", want);
    }
    send_bytes(c, &want, 1);
    if (creds) {
        vencrypt(c, creds);
    }
    if (recv_u32(c) != 0) {
        refused(c, "security failed");
    }

    send_bytes(c, (guint8[]){ 1 }, 1); /* ClientInit: shared */
    guint8 init[24];
    recv_bytes(c, init, sizeof(init));
    c->width = init[0] << 8 | init[1];
    c->height = init[2] << 8 | init[3];
    recv_skip(c, (guint32)init[20] << 24 | init[21] << 16 | init[22] << 8 | init[23]);
    return c;
}

static void client_close(Client *c)
{
    if (c->ioc != QIO_CHANNEL(c->sioc)) {
        qio_channel_tls_bye(QIO_CHANNEL_TLS(c->ioc), NULL);
    }
    qio_channel_close(c->ioc, NULL);
    if (c->ioc != QIO_CHANNEL(c->sioc)) {
        qio_channel_unref(c->ioc);
    }
    qio_channel_unref(QIO_CHANNEL(c->sioc));
    g_free(c);
}

/* A client of S that saw a WIDTH x HEIGHT framebuffer: QEMU resizes its console at a
 * display refresh after the monitor commands, so early clients may see 640x480. */
static Client *client_connect_full_size(const Server *s, QCryptoTLSCreds *creds)
{
    for (int tries = 0;; tries++) {
        Client *c = client_connect(s->port, creds);
        if (c->width == WIDTH && c->height == HEIGHT) {
            return c;
        }
        if (tries == 100) {
            g_error("%s: framebuffer %dx%d, not %dx%d", s->label, c->width, c->height, WIDTH,
                    HEIGHT);
        }
        client_close(c);
        g_usleep(100 * 1000);
    }
}

/* SetPixelFormat: 32 bpp, depth 24, little-endian true colour, 8 bits each at 16, 8,
 * 0; SetEncodings: Raw alone. */
static void client_use_raw(Client *c)
{
    static const guint8 messages[] = {
        0, 0, 0, 0, 32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0,
        2, 0, 0, 1, 0, 0, 0, 0,
    };
    send_bytes(c, messages, sizeof(messages));
}

/* One non-incremental update of the whole screen, read to its end. */
static void client_full_update(Client *c)
{
    guint8 request[10] = { 3, 0, 0, 0, 0, 0, WIDTH >> 8, WIDTH & 255, HEIGHT >> 8,
                           HEIGHT & 255 };
    send_bytes(c, request, sizeof(request));
    for (gsize area = 0; area < (gsize)WIDTH * HEIGHT;) {
        guint8 type = recv_u8(c), head[3];
        if (type == 2) { /* Bell */
            continue;
        } else if (type == 3) { /* ServerCutText */
            recv_bytes(c, head, 3);
            recv_skip(c, recv_u32(c));
            continue;
        } else if (type != 0) {
            g_error("unexpected server message %d", type);
        }
        recv_bytes(c, head, 3);
        for (int n = head[1] << 8 | head[2]; n > 0; n--) {
            guint8 rect[12];
            recv_bytes(c, rect, sizeof(rect));
            int w = rect[4] << 8 | rect[5], h = rect[6] << 8 | rect[7];
            if (memcmp(rect + 8, (guint8[]){ 0, 0, 0, 0 }, 4) != 0) {
                g_error("a rectangle not in Raw encoding");
            }
            recv_bytes(c, frame, (gsize)w * h * 4);
            area += (gsize)w * h;
        }
    }
}

/* ---- Updates over TLS ---- */

typedef struct {
    double updates, mbs;
} Rate;

/* A turn of SECONDS on a fresh connection to S (QEMU resets its refresh interval to
 * 30 ms for a new client), after one update untimed; the negotiated TLS into *TLS. */
static Rate updates_turn(Server *s, QCryptoTLSCreds *creds, double seconds, char **tls)
{
    g_atomic_int_set(&s->ticking, 1);
    Client *c = client_connect_full_size(s, creds);
    client_use_raw(c);
    client_full_update(c);
    guint64 bytes = c->bytes, n = 0;
    gint64 start = g_get_monotonic_time(), now;
    do {
        client_full_update(c);
        n++;
        now = g_get_monotonic_time();
    } while (now - start < seconds * G_USEC_PER_SEC);
    double elapsed = (now - start) / (double)G_USEC_PER_SEC;
    Rate rate = { n / elapsed, (c->bytes - bytes) / elapsed / 1e6 };
    g_atomic_int_set(&s->ticking, 0);

    QCryptoTLSSession *session = qio_channel_tls_get_session(QIO_CHANNEL_TLS(c->ioc));
    g_autofree char *protocol = qcrypto_tls_session_get_protocol_name(session, NULL);
    g_autofree char *cipher = qcrypto_tls_session_get_cipher_name(session, NULL);
    g_free(*tls);
    *tls = g_strdup_printf("%s %s", protocol ? protocol : "?", cipher ? cipher : "?");
    client_close(c);
    return rate;
}

/* One row: SERVER (the program, or "qemu") beside QEMU, the screen CHANGING or still,
 * taking turns; the negotiated TLS into *TLS. */
static void updates_row(const char *server, const char *label, gboolean changing, int rounds,
                        double seconds, QCryptoTLSCreds *creds, char **tls)
{
    Server servers[2] = { { .label = "qemu" }, { .label = label } };
    char *tls_of[2] = { NULL, NULL };
    server_start(&servers[0], "qemu", TRUE, changing, 1);
    server_start(&servers[1], server, TRUE, changing, 1);

    Rate best[2] = { { 0 } };
    g_autofree double *ratios = g_new(double, rounds);
    for (int r = 0; r < rounds; r++) {
        Rate rate[2];
        for (int k = 0; k < 2; k++) {
            int i = (k + r) % 2; /* the order alternates */
            rate[i] = updates_turn(&servers[i], creds, seconds, &tls_of[i]);
            if (rate[i].updates > best[i].updates) {
                best[i] = rate[i];
            }
        }
        ratios[r] = rate[1].updates / rate[0].updates;
        g_printerr("%s screen, round %d: qemu %.1f updates/s, %s %.1f updates/s\n",
                   changing ? "changing" : "still", r + 1, rate[0].updates, label,
                   rate[1].updates);
    }
    g_print("| %s | %.1f | %.0f | %.1f | %.0f | %.2f |\n", changing ? "changing" : "still",
            best[0].updates, best[0].mbs, best[1].updates, best[1].mbs,
            bench_median(ratios, rounds));

    g_free(*tls);
    *tls = g_strdup_printf("qemu %s, %s %s", tls_of[0], label, tls_of[1]);
    for (int i = 0; i < 2; i++) {
        g_free(tls_of[i]);
        server_stop(&servers[i]);
    }
}

static void updates_table(const char *server, const char *label, int rounds, double seconds)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *client_dir = g_strdup_printf("%s/client", certs_dir), *tls = NULL;
    QCryptoTLSCreds *creds = qcrypto_tls_creds_x509_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT,
                                                        client_dir, TRUE, TLS13, TRUE, NULL,
                                                        &error);
    if (!creds) {
        g_error("client credentials: %s", error->message);
    }
    g_print("\n%dx%d Raw, non-incremental full updates back to back over VeNCrypt X509None, "
            "best of %d rounds of %.0f s, median ratio:\n\n", WIDTH, HEIGHT, rounds, seconds);
    g_print("| screen | qemu updates/s | qemu MB/s | %s updates/s | %s MB/s | %s / qemu |\n"
            "|---|--:|--:|--:|--:|--:|\n", label, label, label);
    updates_row(server, label, FALSE, rounds, seconds, creds, &tls);
    updates_row(server, label, TRUE, rounds, seconds, creds, &tls);
    g_print("\nTLS: %s.\n", tls);
    qcrypto_tls_creds_unref(creds);
}

/* ---- Idle clients ---- */

/* Bytes of VmRSS per idle client of a plaintext SERVER. */
static double idle_client_bytes(const char *server, const char *label, int n)
{
    Server s = { .label = label };
    server_start(&s, server, FALSE, FALSE, n);
    Client *first = client_connect_full_size(&s, NULL);
    g_usleep(G_USEC_PER_SEC / 2);
    guint64 before = server_rss(&s);
    Client **clients = g_new(Client *, n);
    for (int i = 0; i < n; i++) {
        clients[i] = client_connect(s.port, NULL);
    }
    g_usleep(G_USEC_PER_SEC);
    guint64 after = server_rss(&s);
    for (int i = 0; i < n; i++) {
        client_close(clients[i]);
    }
    g_free(clients);
    client_close(first);
    server_stop(&s);
    g_printerr("%s: VmRSS %" G_GUINT64_FORMAT " kB with one client, %" G_GUINT64_FORMAT
               " kB with %d more\n", label, before / 1024, after / 1024, n);
    return ((double)after - before) / n;
}

static void memory_table(const char *server, const char *label, int n)
{
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_max < (rlim_t)n + 64) {
        g_error("%d clients need %d descriptors; the hard limit is %lu", n, n + 64,
                (unsigned long)limit.rlim_max);
    }
    double qemu = idle_client_bytes("qemu", "qemu", n);
    double qio = idle_client_bytes(server, label, n);
    g_print("\nServer VmRSS per idle client, %d plaintext clients (security type None) past "
            "ServerInit:\n\n", n);
    g_print("| server | bytes / client | %s / qemu (below 1: less) |\n|---|--:|--:|\n", label);
    g_print("| qemu | %.0f | |\n| %s | %.0f | %.2f |\n", qemu, label, qio, qio / qemu);
}

int main(int argc, char **argv)
{
    int rounds = 3, clients = 1000;
    double seconds = 5;
    char *qemu = NULL, *certs = NULL;
    const GOptionEntry entries[] = {
        { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Rounds of updates", "N" },
        { "time", 't', 0, G_OPTION_ARG_DOUBLE, &seconds,
          "Seconds of updates per server per round (0: none)", "SECONDS" },
        { "clients", 'n', 0, G_OPTION_ARG_INT, &clients, "Idle clients (0: none)", "N" },
        { "qemu", 0, 0, G_OPTION_ARG_STRING, &qemu,
          "How to run qemu-system-x86_64 (default: that, from PATH)", "COMMAND" },
        { "certs", 0, 0, G_OPTION_ARG_FILENAME, &certs,
          "x509 credentials with server/ and client/ (default: made fresh)", "DIR" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    if (!bench_parse_options(&argc, &argv, entries)) {
        return 1;
    }
    if (argc < 2 || argc > 3 || rounds < 1) {
        g_printerr("usage: bench-vnc [OPTION...] SERVER [CERTS_SCRIPT]\n");
        return 1;
    }
    g_autoptr(GError) error = NULL;
    if (!g_shell_parse_argv(qemu ? qemu : "qemu-system-x86_64", NULL, &qemu_command, &error)) {
        g_printerr("--qemu: %s\n", error->message);
        return 1;
    }
    const char *server = argv[1];
    g_autofree char *label = g_str_equal(server, "qemu") ? g_strdup("qemu (dry run)")
                                                         : g_path_get_basename(server);
    work_dir = g_dir_make_tmp("qio-bench-vnc-XXXXXX", &error);
    if (!work_dir) {
        g_printerr("%s\n", error->message);
        return 1;
    }
    if (certs) {
        certs_dir = certs;
    } else {
        g_autofree char *dir = g_build_filename(work_dir, "certs", NULL);
        const char *make[] = { "sh", argc > 2 ? argv[2] : "examples/secure-console-certs.sh",
                               dir, "rsa", NULL };
        if (bench_run(make, NULL, &error) < 0) {
            g_printerr("certificates: %s\n", error->message);
            return 1;
        }
        certs_dir = g_steal_pointer(&dir);
    }

    /* Writes to a server that died fail rather than kill; 1000 clients need
     * descriptors, and the servers inherit the raised limit. */
    signal(SIGPIPE, SIG_IGN);
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    frame = g_malloc(FRAME_BYTES);
    bench_pin_to_cpu(0);

    /* Which QEMU; this also lets qemu-system.sh fetch it before anything is timed. */
    g_autoptr(GPtrArray) version = g_ptr_array_new_with_free_func(g_free);
    push_words(version, (const char *const *)qemu_command, g_strv_length(qemu_command));
    g_ptr_array_add(version, g_strdup("--version"));
    g_ptr_array_add(version, NULL);
    g_autofree char *qemu_version = NULL;
    if (bench_run((const char *const *)version->pdata, &qemu_version, &error) < 0) {
        g_printerr("%s\n", error->message);
        return 1;
    }
    g_print("Reference: %s\n", strtok(qemu_version, "\n"));

    if (seconds > 0) {
        updates_table(server, label, rounds, seconds);
    }
    if (clients > 0) {
        memory_table(server, label, clients);
    }
    g_free(frame);
    const char *rm[] = { "rm", "-rf", work_dir, NULL };
    bench_run(rm, NULL, NULL);
    return 0;
}
