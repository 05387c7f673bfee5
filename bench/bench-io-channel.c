/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Socket channel cost, beside the same work done without qio in the same run, as
 * Markdown tables.
 *
 *   bench-io-channel [-r ROUNDS] [-s MIB] [-o OP] [-n CONNECTIONS] [-e EVENTS]
 *
 * Throughput: MIB MiB (default 1 GiB) through one connection, over a socketpair and
 * over TCP loopback. The measured side uses qio_channel_write_all() of 64 KiB,
 * qio_channel_writev_all() of 4 x 16 KiB or qio_channel_read() of 64 KiB on a blocking
 * QIOChannelSocket; the reference does the same with write(2), writev(2) and read(2),
 * short writes finished the same way. The other end is the same raw thread in both.
 * A figure is the time until both ends are done, best of ROUNDS interleaved rounds;
 * the measured end runs on CPU 0 and the other on CPU 1.
 *
 * Idle connections: CONNECTIONS socketpairs, each end watched for G_IO_IN in one
 * GMainContext: through a QIOChannelSocket and qio_channel_add_watch_full(), through
 * GLib's own GIOChannel and g_io_add_watch(), and as a bare fd with g_unix_fd_add() (the
 * reference). The peer ends live in a child process. Memory is heap bytes (mallinfo2)
 * per connection for the object and its watch; dispatch time is from asking the child
 * to write one byte to a random peer until that connection's callback has read it,
 * median and 99th percentile over EVENTS events.
 */

#include <qio.h>

#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <glib-unix.h>

#include "bench-common.h"

#define CHUNK (64 * 1024)
#define NIOV 4

typedef enum { OP_WRITE, OP_WRITEV, OP_READ } Op;
static const char *const op_names[] = { "write 64 KiB", "writev 4 x 16 KiB", "read 64 KiB" };
static const char *const op_options[] = { "write", "writev", "read" };

/* ---- Throughput ---- */

static void raw_write_all(int fd, const guint8 *buf, gsize len)
{
    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            g_error("write: %s", g_strerror(errno));
        }
        buf += n;
        len -= n;
    }
}

/* writev(2), then the rest of a short write chunk by chunk, as a caller would. */
static void raw_writev_all(int fd, const struct iovec *iov, int niov)
{
    ssize_t done;
    do {
        done = writev(fd, iov, niov);
    } while (done < 0 && errno == EINTR);
    if (done < 0) {
        g_error("writev: %s", g_strerror(errno));
    }
    for (int i = 0; i < niov; i++) {
        gsize skip = MIN((gsize)done, iov[i].iov_len);
        raw_write_all(fd, (const guint8 *)iov[i].iov_base + skip, iov[i].iov_len - skip);
        done -= skip;
    }
}

/* Reads up to LEN bytes; 0 at EOF. */
static gsize raw_read(int fd, guint8 *buf, gsize len)
{
    ssize_t n;
    do {
        n = read(fd, buf, len);
    } while (n < 0 && errno == EINTR);
    if (n < 0) {
        g_error("read: %s", g_strerror(errno));
    }
    return n;
}

/* The end of a connection that is not measured: a raw sink or source of TOTAL bytes. */
typedef struct {
    int fd;
    guint64 total;
    gboolean source;
} Peer;

static gpointer peer_thread(gpointer data)
{
    Peer *peer = data;
    bench_pin_to_cpu(1);
    g_autofree guint8 *buf = g_malloc0(CHUNK);
    for (guint64 done = 0; done < peer->total;) {
        gsize len = MIN(CHUNK, peer->total - done);
        if (peer->source) {
            raw_write_all(peer->fd, buf, len);
        } else if ((len = raw_read(peer->fd, buf, len)) == 0) {
            g_error("peer: early EOF");
        }
        done += len;
    }
    return NULL;
}

/* A connected pair of stream sockets: a socketpair, or TCP over 127.0.0.1. */
static void connect_pair(gboolean tcp, int fds[2])
{
    if (!tcp) {
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
            g_error("socketpair: %s", g_strerror(errno));
        }
        return;
    }
    struct sockaddr_in addr = { .sin_family = AF_INET,
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t addrlen = sizeof(addr);
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        listen(lfd, 1) < 0 || getsockname(lfd, (struct sockaddr *)&addr, &addrlen) < 0) {
        g_error("listen on loopback: %s", g_strerror(errno));
    }
    fds[0] = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fds[0] < 0 || connect(fds[0], (struct sockaddr *)&addr, sizeof(addr)) < 0 ||
        (fds[1] = accept(lfd, NULL, NULL)) < 0) {
        g_error("connect on loopback: %s", g_strerror(errno));
    }
    close(lfd);
}

/* The measured end: OP on FD, through a qio channel or raw syscalls, TOTAL bytes. */
static void measured_end(int fd, Op op, gboolean qio, guint64 total, guint8 *buf)
{
    g_autoptr(GError) error = NULL;
    QIOChannel *ioc = NULL;
    if (qio) {
        ioc = QIO_CHANNEL(qio_channel_socket_new_fd(fd, &error));
        g_assert_no_error(error);
    }
    struct iovec iov[NIOV];
    for (int i = 0; i < NIOV; i++) {
        iov[i] = (struct iovec){ buf + i * (CHUNK / NIOV), CHUNK / NIOV };
    }
    for (guint64 done = 0; done < total;) {
        gsize len = MIN(CHUNK, total - done);
        int rc = 0;
        if (op == OP_READ) {
            if (qio) {
                ssize_t n = qio_channel_read(ioc, (char *)buf, len, &error);
                rc = n < 0 ? -1 : 0;
                len = n;
            } else {
                len = raw_read(fd, buf, len);
            }
            if (rc == 0 && len == 0) {
                g_error("early EOF");
            }
        } else if (op == OP_WRITE || len < CHUNK) {
            if (qio) {
                rc = qio_channel_write_all(ioc, (const char *)buf, len, &error);
            } else {
                raw_write_all(fd, buf, len);
            }
        } else if (qio) {
            rc = qio_channel_writev_all(ioc, iov, NIOV, &error);
        } else {
            raw_writev_all(fd, iov, NIOV);
        }
        if (rc < 0) {
            g_error("qio: %s", error->message);
        }
        done += len;
    }
    if (qio) {
        qio_channel_unref(ioc);
    } else {
        close(fd);
    }
}

/* MB/s of TOTAL bytes through one fresh connection. */
static double throughput(gboolean tcp, Op op, gboolean qio, guint64 total, guint8 *buf)
{
    int fds[2];
    connect_pair(tcp, fds);
    Peer peer = { .fd = fds[1], .total = total, .source = op == OP_READ };
    gint64 start = g_get_monotonic_time();
    GThread *thread = g_thread_new("peer", peer_thread, &peer);
    measured_end(fds[0], op, qio, total, buf);
    g_thread_join(thread);
    gint64 elapsed = g_get_monotonic_time() - start;
    close(fds[1]);
    return total / (elapsed / (double)G_USEC_PER_SEC) / 1e6;
}

/* The table, or the rows of ONLY_OP (an op_options name) when not NULL. */
static void throughput_table(int rounds, guint64 total, const char *only_op)
{
    g_autofree guint8 *buf = g_malloc0(CHUNK);
    bench_pin_to_cpu(0);
    g_print("| transport | op | raw MB/s | qio MB/s | qio / raw |\n");
    g_print("|---|---|--:|--:|--:|\n");
    for (int tcp = 0; tcp <= 1; tcp++) {
        for (Op op = OP_WRITE; op <= OP_READ; op++) {
            if (only_op && !g_str_equal(only_op, op_options[op])) {
                continue;
            }
            double raw = 0, qio = 0;
            for (int r = 0; r < rounds; r++) {
                /* Alternate which goes first, so neither always gets the warm cache. */
                for (int i = 0; i < 2; i++) {
                    gboolean use_qio = (r + i) % 2;
                    double rate = throughput(tcp, op, use_qio, total, buf);
                    if (use_qio) {
                        qio = MAX(qio, rate);
                    } else {
                        raw = MAX(raw, rate);
                    }
                }
            }
            g_autofree char *raw_cell = bench_cell(raw), *qio_cell = bench_cell(qio),
                            *ratio = bench_ratio(qio, raw);
            g_print("| %s | %s | %s | %s | %s |\n", tcp ? "TCP loopback" : "socketpair",
                    op_names[op], raw_cell, qio_cell, ratio);
        }
    }
}

/* ---- Idle connections ---- */

/*
 * The peer end of every connection lives in a child process, so that each process
 * needs one descriptor per connection (hard limits of 20 000 are common). The parent
 * talks to it over a SOCK_SEQPACKET socket, one gint32 per message: PEER_ADD with a
 * descriptor attached (the next peer), PEER_CLOSE_ALL, or an index i >= 0: write one
 * byte to peer i.
 */
#define PEER_ADD (-1)
#define PEER_CLOSE_ALL (-2)

static void peer_command(int ctl, gint32 command, int fd)
{
    struct iovec iov = { &command, sizeof(command) };
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } control;
    struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1 };
    if (fd >= 0) {
        msg.msg_control = control.buf;
        msg.msg_controllen = sizeof(control.buf);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cmsg), &fd, sizeof(int));
    }
    ssize_t n;
    do {
        n = sendmsg(ctl, &msg, 0);
    } while (n < 0 && errno == EINTR);
    if (n != sizeof(command)) {
        g_error("peer command: %s", g_strerror(errno));
    }
}

/* The child: serves commands until the parent closes CTL. */
static void peer_serve(int ctl, int max_peers)
{
    int *peers = g_new(int, max_peers), npeers = 0;
    for (;;) {
        gint32 command;
        struct iovec iov = { &command, sizeof(command) };
        union {
            char buf[CMSG_SPACE(sizeof(int))];
            struct cmsghdr align;
        } control;
        struct msghdr msg = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf,
                              .msg_controllen = sizeof(control.buf) };
        ssize_t n = recvmsg(ctl, &msg, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n != sizeof(command)) {
            return; /* the parent is done */
        }
        struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
        if (command == PEER_ADD && cmsg && cmsg->cmsg_type == SCM_RIGHTS && npeers < max_peers) {
            memcpy(&peers[npeers++], CMSG_DATA(cmsg), sizeof(int));
        } else if (command == PEER_CLOSE_ALL) {
            while (npeers > 0) {
                close(peers[--npeers]);
            }
        } else if (command >= 0 && command < npeers) {
            raw_write_all(peers[command], (const guint8 *)"x", 1);
        } else {
            g_error("peer: bad command %d", command);
        }
    }
}

/* Forks the child holding up to MAX_PEERS peer ends; returns the control socket. */
static int peers_start(int max_peers, GPid *child)
{
    int ctl[2];
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
        g_error("socketpair: %s", g_strerror(errno));
    }
    *child = fork();
    if (*child < 0) {
        g_error("fork: %s", g_strerror(errno));
    }
    if (*child == 0) {
        close(ctl[0]);
        peer_serve(ctl[1], max_peers);
        _exit(0);
    }
    close(ctl[1]);
    return ctl[0];
}

typedef enum { WATCH_UNIX_FD, WATCH_GIOCHANNEL, WATCH_QIO } WatchKind;
static const char *const watch_names[] = { "g_unix_fd_add (reference)",
                                           "GIOChannel + g_io_add_watch",
                                           "QIOChannelSocket + qio_channel_add_watch_full" };

typedef struct {
    int fd;
    gpointer object; /* the GIOChannel or QIOChannel, if any */
    guint source_id;
    gboolean *fired;
} Conn;

static gboolean on_unix_fd(gint fd, GIOCondition condition, gpointer data)
{
    (void)condition;
    char byte;
    if (raw_read(fd, (guint8 *)&byte, 1) != 1) {
        g_error("event: nothing to read");
    }
    *((Conn *)data)->fired = TRUE;
    return G_SOURCE_CONTINUE;
}

static gboolean on_giochannel(GIOChannel *channel, GIOCondition condition, gpointer data)
{
    (void)condition;
    char byte;
    gsize n = 0;
    if (g_io_channel_read_chars(channel, &byte, 1, &n, NULL) != G_IO_STATUS_NORMAL || n != 1) {
        g_error("event: GIOChannel read failed");
    }
    *((Conn *)data)->fired = TRUE;
    return G_SOURCE_CONTINUE;
}

static gboolean on_qio(QIOChannel *ioc, GIOCondition condition, gpointer data)
{
    (void)condition;
    char byte;
    if (qio_channel_read(ioc, &byte, 1, NULL) != 1) {
        g_error("event: qio_channel_read failed");
    }
    *((Conn *)data)->fired = TRUE;
    return G_SOURCE_CONTINUE;
}

static gsize heap_in_use(void)
{
    struct mallinfo2 info = mallinfo2();
    return info.uordblks + info.hblkhd;
}

/* Watches CONN's fd in CONTEXT the way KIND says. */
static void conn_watch(Conn *conn, WatchKind kind, GMainContext *context)
{
    GSource *source;
    if (kind == WATCH_UNIX_FD) {
        source = g_unix_fd_source_new(conn->fd, G_IO_IN);
        g_source_set_callback(source, G_SOURCE_FUNC(on_unix_fd), conn, NULL);
    } else if (kind == WATCH_GIOCHANNEL) {
        GIOChannel *channel = g_io_channel_unix_new(conn->fd);
        g_io_channel_set_encoding(channel, NULL, NULL);
        g_io_channel_set_buffered(channel, FALSE);
        conn->object = channel;
        source = g_io_create_watch(channel, G_IO_IN);
        g_source_set_callback(source, G_SOURCE_FUNC(on_giochannel), conn, NULL);
    } else {
        g_autoptr(GError) error = NULL;
        QIOChannel *ioc = QIO_CHANNEL(qio_channel_socket_new_fd(conn->fd, &error));
        g_assert_no_error(error);
        conn->object = ioc;
        conn->source_id = qio_channel_add_watch_full(ioc, G_IO_IN, on_qio, conn, NULL, context);
        return;
    }
    conn->source_id = g_source_attach(source, context);
    g_source_unref(source);
}

static void conn_unwatch(Conn *conn, WatchKind kind, GMainContext *context)
{
    g_source_destroy(g_main_context_find_source_by_id(context, conn->source_id));
    if (kind == WATCH_GIOCHANNEL) {
        g_io_channel_unref(conn->object);
    }
    if (kind == WATCH_QIO) {
        qio_channel_unref(conn->object); /* closes the fd */
    } else {
        close(conn->fd);
    }
}

static int compare_gint64(gconstpointer a, gconstpointer b)
{
    gint64 x = *(const gint64 *)a, y = *(const gint64 *)b;
    return (x > y) - (x < y);
}

/* Measures KIND with NCONN connections whose peers the child behind CTL holds: heap
 * bytes per connection, and the median and 99th percentile microseconds from asking
 * for a write to a random peer until its connection's callback has read the byte. */
static void idle_connections(int ctl, WatchKind kind, int nconn, int nevents, double *bytes,
                             double *median, double *p99)
{
    GMainContext *context = g_main_context_new();
    Conn *conns = g_new0(Conn, nconn);
    gboolean fired = FALSE;
    for (int i = 0; i < nconn; i++) {
        int fds[2];
        connect_pair(FALSE, fds);
        peer_command(ctl, PEER_ADD, fds[1]);
        close(fds[1]);
        conns[i] = (Conn){ .fd = fds[0], .fired = &fired };
    }
    /* Let the context allocate its first structures outside the measurement. */
    while (g_main_context_iteration(context, FALSE)) {
    }
    gsize before = heap_in_use();
    for (int i = 0; i < nconn; i++) {
        conn_watch(&conns[i], kind, context);
    }
    g_main_context_iteration(context, FALSE); /* the poll array grows to its size here */
    *bytes = (double)(heap_in_use() - before) / nconn;

    g_autofree gint64 *times = g_new(gint64, nevents);
    GRand *rand = g_rand_new_with_seed(42);
    for (int e = 0; e < nevents; e++) {
        fired = FALSE;
        gint64 start = g_get_monotonic_time();
        peer_command(ctl, g_rand_int_range(rand, 0, nconn), -1);
        while (!fired) {
            g_main_context_iteration(context, TRUE);
        }
        times[e] = g_get_monotonic_time() - start;
    }
    g_rand_free(rand);
    qsort(times, nevents, sizeof(*times), compare_gint64);
    *median = times[nevents / 2];
    *p99 = times[MIN(nevents - 1, nevents * 99 / 100)];

    for (int i = 0; i < nconn; i++) {
        conn_unwatch(&conns[i], kind, context);
    }
    peer_command(ctl, PEER_CLOSE_ALL, -1);
    g_free(conns);
    g_main_context_unref(context);
}

/* Makes room for NEEDED descriptors, or fails saying why. */
static void raise_fd_limit(rlim_t needed)
{
    struct rlimit limit;
    getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < needed) {
        limit.rlim_cur = MIN(needed, limit.rlim_max);
        setrlimit(RLIMIT_NOFILE, &limit);
    }
    if (limit.rlim_cur < needed) {
        g_error("%llu connections need %llu descriptors per process; the hard limit is %llu",
                (unsigned long long)needed - 64, (unsigned long long)needed,
                (unsigned long long)limit.rlim_max);
    }
}

static void idle_table(int ctl, int nconn, int nevents)
{
    double bytes[3], median[3], p99[3];
    for (WatchKind kind = WATCH_UNIX_FD; kind <= WATCH_QIO; kind++) {
        idle_connections(ctl, kind, nconn, nevents, &bytes[kind], &median[kind], &p99[kind]);
    }
    g_print("\n%d idle connections, one G_IO_IN watch each in one GMainContext:\n\n", nconn);
    g_print("| watch | heap bytes / connection | dispatch median us | dispatch p99 us "
            "| median / reference |\n");
    g_print("|---|--:|--:|--:|--:|\n");
    for (WatchKind kind = WATCH_UNIX_FD; kind <= WATCH_QIO; kind++) {
        g_autofree char *ratio = bench_ratio(median[kind], median[WATCH_UNIX_FD]);
        g_print("| %s | %.0f | %.0f | %.0f | %s |\n", watch_names[kind], bytes[kind],
                median[kind], p99[kind], ratio);
    }
}

int main(int argc, char **argv)
{
    gint rounds = 3, mib = 1024, nconn = 10000, nevents = 1000;
    const char *only_op = NULL;
    const GOptionEntry entries[] = {
        { "rounds", 'r', 0, G_OPTION_ARG_INT, &rounds, "Best of this many rounds", "ROUNDS" },
        { "size", 's', 0, G_OPTION_ARG_INT, &mib, "MiB per throughput figure (0: none)", "MIB" },
        { "op", 'o', 0, G_OPTION_ARG_STRING, &only_op, "Only this op: write, writev or read",
          "OP" },
        { "connections", 'n', 0, G_OPTION_ARG_INT, &nconn, "Idle connections (0: none)", "N" },
        { "events", 'e', 0, G_OPTION_ARG_INT, &nevents, "Events dispatched among them", "N" },
        { NULL, 0, 0, 0, NULL, NULL, NULL },
    };
    if (!bench_parse_options(&argc, &argv, entries)) {
        return 2;
    }
    if (rounds < 1 || mib < 0 || nconn < 0 || nevents < 1) {
        g_printerr("rounds and events must be positive, size and connections not negative\n");
        return 2;
    }
    /* The child is forked before any thread exists, and inherits the raised limit. */
    raise_fd_limit((rlim_t)nconn + 64);
    GPid child;
    int ctl = peers_start(nconn, &child);
    if (mib > 0) {
        throughput_table(rounds, (guint64)mib << 20, only_op);
    }
    if (nconn > 0) {
        idle_table(ctl, nconn, nevents);
    }
    close(ctl);
    int status = 0;
    if (waitpid(child, &status, 0) != child || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        g_printerr("the peer process failed\n");
        return 1;
    }
    return 0;
}
