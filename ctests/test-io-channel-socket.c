/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QIOChannelSocket through <qio.h>: what QEMU's test-io-channel-socket.c checks
 * (IPv4/IPv6/UNIX x sync/async listen-connect-accept, 1 MB threaded transfers,
 * features, fd passing, listener path cleanup, new_fd), plus datagrams, zero copy,
 * peek, shutdown, addresses and the failures. Loopback only. */

#include "qio-test.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <linux/vm_sockets.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <unistd.h>

static QIOSocketAddress *parse(const char *text)
{
    g_autoptr(GError) error = NULL;
    QIOSocketAddress *addr = qio_socket_address_parse(text, &error);
    g_assert_no_error(error);
    return addr;
}

/* Whether the host has an IPv6 loopback to test with. */
static gboolean have_ipv6(void)
{
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    if (fd < 0) {
        return FALSE;
    }
    struct sockaddr_in6 addr = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
    gboolean ok = bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0;
    close(fd);
    return ok;
}

typedef struct {
    GMainLoop *loop;
    GError *error;
    int calls;
} AsyncResult;

static void async_done(QIOTask *task, gpointer opaque)
{
    AsyncResult *result = opaque;
    result->calls++;
    qio_task_propagate_error(task, &result->error);
    g_main_loop_quit(result->loop);
}

/* Runs an async socket operation's completion in a private main loop. */
static void async_wait(AsyncResult *result, GMainContext *context)
{
    g_main_loop_run(result->loop);
    g_assert_cmpint(result->calls, ==, 1);
    g_assert_no_error(result->error);
    g_main_context_iteration(context, FALSE);
}

/* A listening socket on ADDR, a client connected to it and the accepted server end,
 * made synchronously or through the async calls on a private context. */
static void make_pair(const char *addr_text, gboolean async, QIOChannelSocket **listener,
                      QIOChannelSocket **client, QIOChannelSocket **server)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QIOSocketAddress) addr = parse(addr_text);
    g_autoptr(QIOSocketAddress) bound = NULL;

    *listener = qio_channel_socket_new();
    *client = qio_channel_socket_new();
    if (async) {
        GMainContext *context = g_main_context_new();
        AsyncResult result = { .loop = g_main_loop_new(context, FALSE) };
        qio_channel_socket_listen_async(*listener, addr, 1, async_done, &result, NULL, context);
        async_wait(&result, context);
        bound = qio_channel_socket_get_local_address(*listener, &error);
        g_assert_no_error(error);
        result.calls = 0;
        qio_channel_socket_connect_async(*client, bound, async_done, &result, NULL, context);
        async_wait(&result, context);
        g_main_loop_unref(result.loop);
        g_main_context_unref(context);
    } else {
        g_assert_cmpint(qio_channel_socket_listen_sync(*listener, addr, 1, &error), ==, 0);
        g_assert_no_error(error);
        bound = qio_channel_socket_get_local_address(*listener, &error);
        g_assert_cmpint(qio_channel_socket_connect_sync(*client, bound, &error), ==, 0);
        g_assert_no_error(error);
    }
    qio_channel_wait(QIO_CHANNEL(*listener), G_IO_IN);
    *server = qio_channel_socket_accept(*listener, &error);
    g_assert_no_error(error);
    g_assert_nonnull(*server);
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(*listener), QIO_CHANNEL_FEATURE_LISTEN));
}

static void check_features(QIOChannelSocket *client, QIOChannelSocket *server, gboolean unix_socket)
{
    QIOChannel *ends[] = { QIO_CHANNEL(client), QIO_CHANNEL(server) };
    for (guint i = 0; i < G_N_ELEMENTS(ends); i++) {
        g_assert_true(qio_channel_has_feature(ends[i], QIO_CHANNEL_FEATURE_SHUTDOWN));
        g_assert_true(qio_channel_has_feature(ends[i], QIO_CHANNEL_FEATURE_READ_MSG_PEEK));
        g_assert_cmpint(qio_channel_has_feature(ends[i], QIO_CHANNEL_FEATURE_FD_PASS), ==,
                        unix_socket);
        g_assert_false(qio_channel_has_feature(ends[i], QIO_CHANNEL_FEATURE_LISTEN));
    }
}

static void round_trip(const char *addr_text, gboolean async, gboolean unix_socket)
{
    QIOChannelSocket *listener, *client, *server;
    make_pair(addr_text, async, &listener, &client, &server);
    check_features(client, server, unix_socket);
    qio_test_transfer(QIO_CHANNEL(client), QIO_CHANNEL(server), TRUE);
    qio_test_transfer(QIO_CHANNEL(server), QIO_CHANNEL(client), FALSE);

    g_autoptr(GError) error = NULL;
    g_autoptr(QIOSocketAddress) local = qio_channel_socket_get_local_address(client, &error);
    g_autoptr(QIOSocketAddress) remote = qio_channel_socket_get_remote_address(server, &error);
    g_assert_no_error(error);
    if (!unix_socket) {
        g_autofree char *a = qio_socket_address_to_string(local);
        g_autofree char *b = qio_socket_address_to_string(remote);
        g_assert_cmpstr(a, ==, b);
    }
    /* QEMU's finalize cases: one end closed first, the other only unreffed. */
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(server), &error), ==, 0);
    qio_channel_unref(QIO_CHANNEL(server));
    qio_channel_unref(QIO_CHANNEL(client));
    qio_channel_unref(QIO_CHANNEL(listener));
}

static void test_ipv4_sync(void)
{
    round_trip("tcp:127.0.0.1:0", FALSE, FALSE);
}

static void test_ipv4_async(void)
{
    round_trip("tcp:127.0.0.1:0", TRUE, FALSE);
}

static void test_ipv6_sync(void)
{
    if (!have_ipv6()) {
        g_test_fail_printf("no IPv6 loopback on this host");
        return;
    }
    round_trip("tcp:[::1]:0", FALSE, FALSE);
}

static void test_ipv6_async(void)
{
    if (!have_ipv6()) {
        g_test_fail_printf("no IPv6 loopback on this host");
        return;
    }
    round_trip("tcp:[::1]:0", TRUE, FALSE);
}

static char *temp_socket_path(const char *name)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("qio-socket-XXXXXX", &error);
    g_assert_no_error(error);
    return g_build_filename(dir, name, NULL);
}

static void remove_temp_path(const char *path)
{
    g_autofree char *dir = g_path_get_dirname(path);
    g_unlink(path);
    g_rmdir(dir);
}

static void unix_round_trip(gboolean async)
{
    g_autofree char *path = temp_socket_path("sock");
    g_autofree char *text = g_strdup_printf("unix:%s", path);
    round_trip(text, async, TRUE);
    /* The listener was finalized: its path is gone. */
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    remove_temp_path(path);
}

static void test_unix_sync(void)
{
    unix_round_trip(FALSE);
}

static void test_unix_async(void)
{
    unix_round_trip(TRUE);
}

static void test_unix_abstract(void)
{
    g_autofree char *text = g_strdup_printf("unix-abstract:qio-test-%d", getpid());
    round_trip(text, FALSE, TRUE);
}

/* A listener adopted with new_fd has no LISTEN feature, so closing it leaves the
 * path; one made by listen_sync removes it when closed. */
static void test_unix_listen_cleanup(void)
{
    g_autofree char *path = temp_socket_path("cleanup");
    g_autoptr(GError) error = NULL;
    int fd = socket(AF_UNIX, SOCK_STREAM, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    g_strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    g_assert_cmpint(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), ==, 0);
    g_assert_cmpint(listen(fd, 1), ==, 0);
    QIOChannelSocket *adopted = qio_channel_socket_new_fd(fd, &error);
    g_assert_no_error(error);
    g_assert_false(qio_channel_has_feature(QIO_CHANNEL(adopted), QIO_CHANNEL_FEATURE_LISTEN));
    qio_channel_unref(QIO_CHANNEL(adopted));
    g_assert_true(g_file_test(path, G_FILE_TEST_EXISTS));

    g_autofree char *text = g_strdup_printf("unix:%s", path);
    g_autoptr(QIOSocketAddress) addr = parse(text);
    QIOChannelSocket *listener = qio_channel_socket_new();
    g_assert_cmpint(qio_channel_socket_listen_sync(listener, addr, 1, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(listener), &error), ==, 0);
    g_assert_false(g_file_test(path, G_FILE_TEST_EXISTS));
    qio_channel_unref(QIO_CHANNEL(listener));
    remove_temp_path(path);
}

/* QEMU's unix-fd-pass: one fd sent three times arrives as three distinct descriptors
 * with the data, and writing through one reaches the file. */
static void test_unix_fd_pass(void)
{
    int sv[2];
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_autoptr(QIOChannelSocket) src = qio_channel_socket_new_fd(sv[0], &error);
    g_autoptr(QIOChannelSocket) dst = qio_channel_socket_new_fd(sv[1], &error);
    g_assert_no_error(error);
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(src), QIO_CHANNEL_FEATURE_FD_PASS));
    /* new_fd does not set MSG_PEEK (QEMU only sets it on connect and accept). */
    g_assert_false(qio_channel_has_feature(QIO_CHANNEL(src), QIO_CHANNEL_FEATURE_READ_MSG_PEEK));

    g_autofree char *path = temp_socket_path("fdpass");
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    g_assert_cmpint(fd, >=, 0);
    int fds[3] = { fd, fd, fd };
    struct iovec iov = { (char *)"Hello", 5 };
    g_assert_cmpint(qio_channel_writev_full(QIO_CHANNEL(src), &iov, 1, fds, 3, 0, &error), ==, 5);
    g_assert_no_error(error);

    char buf[5];
    struct iovec in = { buf, sizeof(buf) };
    int *got = NULL;
    size_t ngot = 0;
    g_assert_cmpint(qio_channel_readv_full(QIO_CHANNEL(dst), &in, 1, &got, &ngot, 0, &error), ==, 5);
    g_assert_no_error(error);
    g_assert_cmpmem(buf, 5, "Hello", 5);
    g_assert_cmpuint(ngot, ==, 3);
    for (size_t i = 0; i < ngot; i++) {
        g_assert_cmpint(got[i], !=, fd);
        for (size_t j = 0; j < i; j++) {
            g_assert_cmpint(got[i], !=, got[j]);
        }
        g_assert_true(fcntl(got[i], F_GETFD) & FD_CLOEXEC);
        g_assert_false(fcntl(got[i], F_GETFL) & O_NONBLOCK);
        g_assert_cmpint(write(got[i], "x", 1), ==, 1);
        close(got[i]);
    }
    g_free(got);
    struct stat st;
    g_assert_cmpint(fstat(fd, &st), ==, 0);
    g_assert_cmpint(st.st_size, ==, 3);

    /* Seventeen descriptors are one too many. */
    int many[17];
    for (int i = 0; i < 17; i++) {
        many[i] = STDERR_FILENO;
    }
    g_assert_cmpint(qio_channel_writev_full(QIO_CHANNEL(src), &iov, 1, many, 17, 0, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Only 16 FDs can be sent, got 17: Invalid argument");

    /* Descriptors through the _all helpers, with the data. */
    g_assert_cmpint(qio_channel_writev_full_all(QIO_CHANNEL(src), &iov, 1, fds, 1, 0, &error), ==, 0);
    g_assert_cmpint(qio_channel_readv_full_all(QIO_CHANNEL(dst), &in, 1, &got, &ngot, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_cmpuint(ngot, ==, 1);
    close(got[0]);
    g_free(got);
    close(fd);
    remove_temp_path(path);
}

/* The descriptors open in this process. */
static guint count_open_fds(void)
{
    g_autoptr(GDir) dir = g_dir_open("/proc/self/fd", 0, NULL);
    g_assert_nonnull(dir);
    guint n = 0;
    while (g_dir_read_name(dir)) {
        n++;
    }
    return n;
}

/* A peer that sends more descriptors than one read takes (253, the kernel's most) gets
 * an error, not a silent loss; the descriptors that came are closed, none leaked. */
static void test_unix_fd_truncated(void)
{
    int sv[2];
    g_autoptr(GError) error = NULL;
    guint open_before = count_open_fds();
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    g_autoptr(QIOChannelSocket) dst = qio_channel_socket_new_fd(sv[1], &error);
    g_assert_no_error(error);

    enum { SENT = 253 };
    union {
        char buf[CMSG_SPACE(SENT * sizeof(int))];
        struct cmsghdr align;
    } control;
    memset(&control, 0, sizeof(control));
    struct iovec out = { (char *)"x", 1 };
    struct msghdr msg = { .msg_iov = &out, .msg_iovlen = 1,
                          .msg_control = control.buf, .msg_controllen = sizeof(control.buf) };
    struct cmsghdr *cmsg = CMSG_FIRSTHDR(&msg);
    cmsg->cmsg_level = SOL_SOCKET;
    cmsg->cmsg_type = SCM_RIGHTS;
    cmsg->cmsg_len = CMSG_LEN(SENT * sizeof(int));
    int *sent = (int *)CMSG_DATA(cmsg);
    for (int i = 0; i < SENT; i++) {
        sent[i] = STDERR_FILENO;
    }
    g_assert_cmpint(sendmsg(sv[0], &msg, 0), ==, 1);
    close(sv[0]);

    char buf[1];
    struct iovec in = { buf, sizeof(buf) };
    int *got = NULL;
    size_t ngot = 0;
    g_assert_cmpint(qio_channel_readv_full(QIO_CHANNEL(dst), &in, 1, &got, &ngot, 0, &error), ==, -1);
    g_assert_error(error, QIO_ERROR, QIO_ERROR_FAILED);
    g_assert_true(g_str_has_prefix(error->message,
                                   "Unable to read from socket: file descriptors truncated"));
    g_assert_null(got);
    g_assert_cmpuint(ngot, ==, 0);
    g_clear_error(&error);
    qio_channel_unref(QIO_CHANNEL(g_steal_pointer(&dst)));
    g_assert_cmpuint(count_open_fds(), ==, open_before);
}

static void test_ipv4_fd(void)
{
    g_autoptr(GError) error = NULL;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    QIOChannel *ioc = qio_channel_new_fd(fd, &error);
    g_assert_no_error(error);
    g_assert_nonnull(ioc);
    /* A socket, so a socket channel: socket-only calls accept it. */
    g_autoptr(QIOSocketAddress) local =
        qio_channel_socket_get_local_address(QIO_CHANNEL_SOCKET(ioc), &error);
    g_assert_no_error(error);
    g_assert_cmpint(qio_socket_address_get_type(local), ==, QIO_SOCKET_ADDRESS_TYPE_INET);
    qio_channel_unref(ioc);
}

static void test_peek_shutdown_and_options(void)
{
    QIOChannelSocket *listener, *client, *server;
    g_autoptr(GError) error = NULL;
    make_pair("tcp:127.0.0.1:0", FALSE, &listener, &client, &server);
    qio_channel_set_delay(QIO_CHANNEL(client), FALSE);
    qio_channel_set_cork(QIO_CHANNEL(client), TRUE);
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(client), "peekaboo", 8, &error), ==, 0);
    qio_channel_set_cork(QIO_CHANNEL(client), FALSE);
    g_assert_cmpint(qio_channel_socket_set_send_buffer(client, 65536, &error), ==, 0);
    g_assert_no_error(error);

    char buf[8];
    struct iovec iov = { buf, 4 };
    qio_channel_wait(QIO_CHANNEL(server), G_IO_IN);
    g_assert_cmpint(qio_channel_readv_full(QIO_CHANNEL(server), &iov, 1, NULL, NULL,
                                           QIO_CHANNEL_READ_FLAG_MSG_PEEK, &error), ==, 4);
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(server), buf, 8, &error), ==, 0);
    g_assert_cmpmem(buf, 8, "peekaboo", 8);

    g_assert_cmpint(qio_channel_shutdown(QIO_CHANNEL(client), QIO_CHANNEL_SHUTDOWN_WRITE, &error), ==, 0);
    g_assert_cmpint(qio_channel_read_all_eof(QIO_CHANNEL(server), buf, 8, &error), ==, 0);
    g_assert_no_error(error);

    /* After close, I/O fails with the system's reason. */
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(server), &error), ==, 0);
    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(server), "x", 1, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Unable to write to socket: Bad file descriptor");
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(server), buf, 1, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Unable to read from socket: Bad file descriptor");
    unsigned int pid = 0;
    g_assert_cmpint(qio_channel_get_peerpid(QIO_CHANNEL(server), &pid, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Unable to get peer credentials: Bad file descriptor");

    qio_channel_unref(QIO_CHANNEL(server));
    qio_channel_unref(QIO_CHANNEL(client));
    qio_channel_unref(QIO_CHANNEL(listener));
}

/* MSG_ZEROCOPY on a TCP connection: loopback always falls back to copying, which
 * flush reports as 1. */
static void test_zero_copy(void)
{
    QIOChannelSocket *listener, *client, *server;
    g_autoptr(GError) error = NULL;
    make_pair("tcp:127.0.0.1:0", FALSE, &listener, &client, &server);
    if (!qio_channel_has_feature(QIO_CHANNEL(client), QIO_CHANNEL_FEATURE_WRITE_ZERO_COPY)) {
        g_test_fail_printf("the kernel refused SO_ZEROCOPY");
    } else {
        static char data[65536];
        struct iovec iov = { data, sizeof(data) };
        g_assert_cmpint(qio_channel_writev_full_all(QIO_CHANNEL(client), &iov, 1, NULL, 0,
                                                    QIO_CHANNEL_WRITE_FLAG_ZERO_COPY, &error), ==, 0);
        g_assert_no_error(error);
        g_autofree char *in = g_malloc(sizeof(data));
        g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(server), in, sizeof(data), &error), ==, 0);
        g_assert_cmpint(qio_channel_flush(QIO_CHANNEL(client), &error), ==, 1);
        g_assert_no_error(error);
    }
    /* The server end has no zero copy: flush is 0 at once, the flag an error. */
    g_assert_cmpint(qio_channel_flush(QIO_CHANNEL(server), &error), ==, 0);
    struct iovec one = { (char *)"x", 1 };
    g_assert_cmpint(qio_channel_writev_full(QIO_CHANNEL(server), &one, 1, NULL, 0,
                                            QIO_CHANNEL_WRITE_FLAG_ZERO_COPY, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED,
                          "Requested Zero Copy feature is not available: Invalid argument");
    qio_channel_unref(QIO_CHANNEL(server));
    qio_channel_unref(QIO_CHANNEL(client));
    qio_channel_unref(QIO_CHANNEL(listener));
}

/* Two channels over the ends of a UNIX socketpair. */
static void channel_pair(QIOChannel **a, QIOChannel **b)
{
    int sv[2];
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), ==, 0);
    *a = qio_channel_new_fd(sv[0], &error);
    *b = qio_channel_new_fd(sv[1], &error);
    g_assert_no_error(error);
}

static void test_peerpid_and_peek_refused(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QIOChannel) a = NULL, b = NULL;
    channel_pair(&a, &b);
    unsigned int pid = 0;
    g_assert_cmpint(qio_channel_get_peerpid(a, &pid, &error), ==, 0);
    g_assert_cmpuint(pid, ==, getpid());
    char c;
    struct iovec iov = { &c, 1 };
    g_assert_cmpint(qio_channel_readv_full(b, &iov, 1, NULL, NULL, QIO_CHANNEL_READ_FLAG_MSG_PEEK,
                                           &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Channel does not support peek read: Invalid argument");
    /* Non-blocking with nothing to read: QIO_CHANNEL_ERR_BLOCK, no error. */
    g_assert_true(qio_channel_set_blocking(b, FALSE, &error));
    g_assert_cmpint(qio_channel_read(b, &c, 1, &error), ==, QIO_CHANNEL_ERR_BLOCK);
    g_assert_no_error(error);
    g_assert_true(qio_channel_set_blocking(b, TRUE, &error));
    /* Data, then end-of-file, through the plain and the _all_eof calls. */
    struct iovec out = { (char *)"z", 1 };
    g_assert_cmpint(qio_channel_writev(a, &out, 1, &error), ==, 1);
    g_assert_cmpint(qio_channel_readv_full_all_eof(b, &iov, 1, NULL, NULL, 0, &error), ==, 1);
    g_assert_cmpint(c, ==, 'z');
    g_assert_cmpint(qio_channel_shutdown(a, QIO_CHANNEL_SHUTDOWN_WRITE, &error), ==, 0);
    g_assert_cmpint(qio_channel_readv_full_all_eof(b, &iov, 1, NULL, NULL, 0, &error), ==, 0);
    g_assert_no_error(error);
}

typedef struct {
    QIOChannel *src, *dst;
    gboolean blocking;
} Transfer;

static gpointer transfer_thread(gpointer opaque)
{
    Transfer *t = opaque;
    qio_test_transfer(t->src, t->dst, t->blocking);
    return NULL;
}

/* Both directions at once: each channel is written by one thread while another reads
 * it, blocking and non-blocking. */
static void test_full_duplex(void)
{
    for (int blocking = 1; blocking >= 0; blocking--) {
        g_autoptr(QIOChannel) a = NULL, b = NULL;
        channel_pair(&a, &b);
        Transfer back = { b, a, blocking };
        GThread *thread = g_thread_new("b-to-a", transfer_thread, &back);
        qio_test_transfer(a, b, blocking);
        g_thread_join(thread);
    }
}

/* End-of-file inside the _all helpers: an error when some but not all of the data
 * came, and for the plain _all calls even when none did; 0 from _all_eof at a clean EOF. */
static void test_eof_inside_read_all(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QIOChannel) a = NULL, b = NULL;
    channel_pair(&a, &b);
    char buf[8];
    g_assert_cmpint(qio_channel_write_all(a, "abc", 3, &error), ==, 0);
    g_assert_cmpint(qio_channel_shutdown(a, QIO_CHANNEL_SHUTDOWN_WRITE, &error), ==, 0);
    g_assert_cmpint(qio_channel_read_all(b, buf, sizeof(buf), &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Unexpected end-of-file before all data were read");
    g_assert_cmpint(qio_channel_read_all_eof(b, buf, sizeof(buf), &error), ==, 0);
    g_assert_no_error(error);
    g_assert_cmpint(qio_channel_read_all(b, buf, sizeof(buf), &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Unexpected end-of-file before all data were read");

    /* The same through a non-blocking channel, whose helpers wait for more data. */
    g_autoptr(QIOChannel) c = NULL, d = NULL;
    channel_pair(&c, &d);
    g_assert_true(qio_channel_set_blocking(d, FALSE, &error));
    g_assert_cmpint(qio_channel_write_all(c, "abc", 3, &error), ==, 0);
    g_assert_cmpint(qio_channel_close(c, &error), ==, 0);
    g_assert_cmpint(qio_channel_read_all_eof(d, buf, sizeof(buf), &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Unexpected end-of-file before all data were read");
}

/* A thread in qio_channel_wait(), and whether the wait has returned. */
typedef struct {
    QIOChannel *ioc;
    GMutex lock;
    GCond returned_cond;
    gboolean returned;
} Waiter;

static gpointer wait_thread(gpointer opaque)
{
    Waiter *waiter = opaque;
    qio_channel_wait(waiter->ioc, G_IO_IN);
    g_mutex_lock(&waiter->lock);
    waiter->returned = TRUE;
    g_cond_signal(&waiter->returned_cond);
    g_mutex_unlock(&waiter->lock);
    return NULL;
}

/* Starts a wait for input on @ioc, runs @close_what (unless NULL) and checks that the
 * wait returns, allowing it 10 s. */
static void assert_wait_returns(QIOChannel *ioc, QIOChannel *close_what)
{
    Waiter waiter = { .ioc = ioc };
    g_mutex_init(&waiter.lock);
    g_cond_init(&waiter.returned_cond);
    GThread *thread = g_thread_new("waiter", wait_thread, &waiter);
    /* Give the thread time to be inside poll(): closing must wake it there. */
    g_usleep(50 * 1000);
    if (close_what) {
        g_autoptr(GError) error = NULL;
        g_assert_cmpint(qio_channel_close(close_what, &error), ==, 0);
        g_assert_no_error(error);
    }
    gint64 deadline = g_get_monotonic_time() + 10 * G_TIME_SPAN_SECOND;
    g_mutex_lock(&waiter.lock);
    while (!waiter.returned && g_cond_wait_until(&waiter.returned_cond, &waiter.lock, deadline)) {
    }
    gboolean returned = waiter.returned;
    g_mutex_unlock(&waiter.lock);
    g_assert_true(returned);
    g_thread_join(thread);
    g_mutex_clear(&waiter.lock);
    g_cond_clear(&waiter.returned_cond);
}

/* qio_channel_wait() returns on a closed channel, and a wait is woken when another
 * thread closes the channel, or the one a websocket channel is layered over. */
static void test_wait_closed(void)
{
    g_autoptr(QIOChannel) a = NULL, b = NULL;
    channel_pair(&a, &b);

    assert_wait_returns(a, a);
    /* Closed before the wait started. */
    assert_wait_returns(a, NULL);

    g_autoptr(QIOChannelWebsock) wioc = qio_channel_websock_new_server(b);
    assert_wait_returns(QIO_CHANNEL(wioc), b);
}

/* vsock where the kernel has it: listening on any CID with a kernel-chosen port, and
 * what is refused. Connecting needs a peer, which a guest without a loopback
 * transport (vsock_loopback) cannot be for itself, so no transfer is tried. */
static void test_vsock(void)
{
    int probe = socket(AF_VSOCK, SOCK_STREAM, 0);
    if (probe < 0) {
        g_test_skip("the kernel has no AF_VSOCK");
        return;
    }
    close(probe);
    g_autoptr(GError) error = NULL;
    g_autoptr(QIOSocketAddress) any = parse("vsock:4294967295:4294967295");
    g_autoptr(QIOChannelSocket) listener = qio_channel_socket_new();
    g_assert_cmpint(qio_channel_socket_listen_sync(listener, any, 1, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(listener), QIO_CHANNEL_FEATURE_LISTEN));
    g_autoptr(QIOSocketAddress) bound = qio_channel_socket_get_local_address(listener, &error);
    g_assert_no_error(error);
    g_assert_cmpint(qio_socket_address_get_type(bound), ==, QIO_SOCKET_ADDRESS_TYPE_VSOCK);
    g_autofree char *text = qio_socket_address_to_string(bound);
    g_assert_true(g_str_has_prefix(text, "vsock:4294967295:"));
    g_assert_cmpstr(text, !=, "vsock:4294967295:4294967295");

    /* A second listener on the same port, and a vsock datagram, are refused. */
    g_autoptr(QIOChannelSocket) again = qio_channel_socket_new();
    g_assert_cmpint(qio_channel_socket_listen_sync(again, bound, 1, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Failed to bind socket: Address already in use");
    g_autoptr(QIOChannelSocket) dgram = qio_channel_socket_new();
    g_assert_cmpint(qio_channel_socket_dgram_sync(dgram, NULL, bound, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "socket type unsupported for datagram");
}

/* Datagram sockets sync and async, each sending to a plain UDP socket. */
static void test_dgram(void)
{
    g_autoptr(GError) error = NULL;
    int receiver = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof(sin);
    g_assert_cmpint(bind(receiver, (struct sockaddr *)&sin, sizeof(sin)), ==, 0);
    g_assert_cmpint(getsockname(receiver, (struct sockaddr *)&sin, &len), ==, 0);
    g_autofree char *text = g_strdup_printf("tcp:127.0.0.1:%d", ntohs(sin.sin_port));
    g_autoptr(QIOSocketAddress) remote = parse(text);
    g_autoptr(QIOSocketAddress) local = parse("tcp:127.0.0.1:0");

    QIOChannelSocket *sync_sender = qio_channel_socket_new();
    g_assert_cmpint(qio_channel_socket_dgram_sync(sync_sender, local, remote, &error), ==, 0);
    g_assert_no_error(error);
    QIOChannelSocket *async_sender = qio_channel_socket_new();
    GMainContext *context = g_main_context_new();
    AsyncResult result = { .loop = g_main_loop_new(context, FALSE) };
    qio_channel_socket_dgram_async(async_sender, NULL, remote, async_done, &result, NULL, context);
    async_wait(&result, context);

    QIOChannelSocket *senders[] = { sync_sender, async_sender };
    for (guint i = 0; i < G_N_ELEMENTS(senders); i++) {
        g_assert_cmpint(qio_channel_write(QIO_CHANNEL(senders[i]), "datagram", 8, &error), ==, 8);
        char buf[16];
        g_assert_cmpint(recv(receiver, buf, sizeof(buf), 0), ==, 8);
        g_assert_cmpmem(buf, 8, "datagram", 8);
        qio_channel_unref(QIO_CHANNEL(senders[i]));
    }
    g_main_loop_unref(result.loop);
    g_main_context_unref(context);
    close(receiver);
}

static void test_connect_failures(void)
{
    g_autoptr(GError) error = NULL;
    QIOChannelSocket *listener, *client, *server;
    make_pair("tcp:127.0.0.1:0", FALSE, &listener, &client, &server);
    g_autoptr(QIOSocketAddress) bound = qio_channel_socket_get_local_address(listener, &error);
    g_autofree char *expected = g_strdup_printf("Failed to connect to '127.0.0.1:%s': Connection refused",
                                                qio_socket_address_get_port(bound));
    qio_channel_unref(QIO_CHANNEL(server));
    qio_channel_unref(QIO_CHANNEL(client));
    qio_channel_unref(QIO_CHANNEL(listener));

    g_autoptr(QIOChannelSocket) refused = qio_channel_socket_new();
    g_assert_cmpint(qio_channel_socket_connect_sync(refused, bound, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, expected);

    /* The same, reported through the async task. */
    GMainContext *context = g_main_context_new();
    AsyncResult result = { .loop = g_main_loop_new(context, FALSE) };
    qio_channel_socket_connect_async(refused, bound, async_done, &result, NULL, context);
    g_main_loop_run(result.loop);
    qio_test_assert_error(result.error, QIO_ERROR_FAILED, expected);
    g_main_loop_unref(result.loop);
    g_main_context_unref(context);

    /* A bad fd number, and a file that is not a socket. */
    g_autoptr(QIOChannelSocket) byfd = qio_channel_socket_new();
    g_autoptr(QIOSocketAddress) notfd = qio_socket_address_new_fd("twelve");
    g_assert_cmpint(qio_channel_socket_connect_sync(byfd, notfd, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Unable to parse FD number twelve");
    int devnull = open("/dev/null", O_RDONLY);
    g_autofree char *name = g_strdup_printf("%d", devnull);
    g_autoptr(QIOSocketAddress) file = qio_socket_address_new_fd(name);
    g_assert_cmpint(qio_channel_socket_connect_sync(byfd, file, &error), ==, -1);
    g_assert_nonnull(error);
    g_assert_true(g_str_has_suffix(error->message, "is not a socket"));
    g_clear_error(&error);
    g_assert_null(qio_channel_socket_new_fd(devnull, &error));
    g_assert_nonnull(error);
    close(devnull);
}

static void test_misuse(void)
{
    g_autoptr(QIOChannel) null = QIO_CHANNEL(qio_channel_null_new());
    g_autoptr(GError) error = NULL;
    qio_test_expect_critical("QIO_IS_CHANNEL_SOCKET (ioc)");
    g_assert_null(qio_channel_socket_accept(QIO_CHANNEL_SOCKET(null), &error));
    g_test_assert_expected_messages();
    qio_test_expect_critical("ioc != NULL");
    g_assert_cmpint(qio_channel_write(NULL, "x", 1, &error), ==, -1);
    g_test_assert_expected_messages();
    int not_a_channel[4] = { 0 };
    qio_test_expect_critical("QIO_IS_CHANNEL (ioc)");
    qio_channel_unref((QIOChannel *)not_a_channel);
    g_test_assert_expected_messages();
    g_assert_no_error(error);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/io/channel/socket/ipv4-sync", test_ipv4_sync);
    g_test_add_func("/io/channel/socket/ipv4-async", test_ipv4_async);
    g_test_add_func("/io/channel/socket/ipv6-sync", test_ipv6_sync);
    g_test_add_func("/io/channel/socket/ipv6-async", test_ipv6_async);
    g_test_add_func("/io/channel/socket/unix-sync", test_unix_sync);
    g_test_add_func("/io/channel/socket/unix-async", test_unix_async);
    g_test_add_func("/io/channel/socket/unix-abstract", test_unix_abstract);
    g_test_add_func("/io/channel/socket/unix-listen-cleanup", test_unix_listen_cleanup);
    g_test_add_func("/io/channel/socket/unix-fd-pass", test_unix_fd_pass);
    g_test_add_func("/io/channel/socket/unix-fd-truncated", test_unix_fd_truncated);
    g_test_add_func("/io/channel/socket/ipv4-fd", test_ipv4_fd);
    g_test_add_func("/io/channel/socket/peek-shutdown-options", test_peek_shutdown_and_options);
    g_test_add_func("/io/channel/socket/zero-copy", test_zero_copy);
    g_test_add_func("/io/channel/socket/peerpid-and-peek-refused", test_peerpid_and_peek_refused);
    g_test_add_func("/io/channel/socket/full-duplex", test_full_duplex);
    g_test_add_func("/io/channel/socket/eof-inside-read-all", test_eof_inside_read_all);
    g_test_add_func("/io/channel/socket/wait-closed", test_wait_closed);
    g_test_add_func("/io/channel/socket/vsock", test_vsock);
    g_test_add_func("/io/channel/socket/dgram", test_dgram);
    g_test_add_func("/io/channel/socket/connect-failures", test_connect_failures);
    g_test_add_func("/io/channel/socket/misuse", test_misuse);
    return g_test_run();
}
