/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Channel identity through <qio.h>, for QEMU code that asks what a channel is or reads
 * its descriptor: each type's QOM name, qio_channel_is_a(), the descriptors of socket
 * and file channels, and the criticals of wrong-type handles. */

#include "qio-test.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void check_type(QIOChannel *ioc, const char *type_name)
{
    g_assert_cmpstr(qio_channel_get_type_name(ioc), ==, type_name);
    g_assert_true(qio_channel_is_a(ioc, type_name));
    g_assert_true(qio_channel_is_a(ioc, TYPE_QIO_CHANNEL));
    g_assert_false(qio_channel_is_a(ioc, "qio-channel-other"));
    g_assert_false(qio_channel_is_a(ioc, "qio-channel-socket-x"));
}

static void test_type_names(void)
{
    g_autoptr(GError) error = NULL;
    int fds[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new_fd(fds[0], &error);
    g_assert_no_error(error);
    close(fds[1]);
    check_type(QIO_CHANNEL(sioc), TYPE_QIO_CHANNEL_SOCKET);
    g_assert_false(qio_channel_is_a(QIO_CHANNEL(sioc), TYPE_QIO_CHANNEL_FILE));

    g_autoptr(QIOChannelFile) fioc = qio_channel_file_new_path("/dev/null", O_RDONLY, 0, &error);
    g_assert_no_error(error);
    check_type(QIO_CHANNEL(fioc), TYPE_QIO_CHANNEL_FILE);

    const char *argv[] = { "true", NULL };
    g_autoptr(QIOChannelCommand) cioc = qio_channel_command_new_spawn(argv, O_RDONLY, &error);
    g_assert_no_error(error);
    check_type(QIO_CHANNEL(cioc), TYPE_QIO_CHANNEL_COMMAND);

    g_autoptr(QIOChannelBuffer) bioc = qio_channel_buffer_new(0);
    check_type(QIO_CHANNEL(bioc), TYPE_QIO_CHANNEL_BUFFER);
    g_autoptr(QIOChannelNull) nioc = qio_channel_null_new();
    check_type(QIO_CHANNEL(nioc), TYPE_QIO_CHANNEL_NULL);

    g_autoptr(QCryptoTLSCreds) creds =
        qcrypto_tls_creds_anon_new(QCRYPTO_TLS_CREDS_ENDPOINT_CLIENT, NULL, NULL, &error);
    g_assert_no_error(error);
    g_autoptr(QIOChannelTLS) tioc =
        qio_channel_tls_new_client(QIO_CHANNEL(sioc), creds, NULL, &error);
    g_assert_no_error(error);
    check_type(QIO_CHANNEL(tioc), TYPE_QIO_CHANNEL_TLS);

    g_autoptr(QIOChannelWebsock) wioc = qio_channel_websock_new_server(QIO_CHANNEL(nioc));
    check_type(QIO_CHANNEL(wioc), TYPE_QIO_CHANNEL_WEBSOCK);
}

/* The descriptors stay the channels': usable for setsockopt() and fstat(), -1 once
 * closed. */
static void test_descriptors(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QIOChannelSocket) unconnected = qio_channel_socket_new();
    g_assert_cmpint(qio_channel_socket_get_fd(unconnected), ==, -1);

    int fds[2];
    g_assert_cmpint(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
    g_autoptr(QIOChannelSocket) sioc = qio_channel_socket_new_fd(fds[0], &error);
    g_assert_no_error(error);
    g_assert_cmpint(qio_channel_socket_get_fd(sioc), ==, fds[0]);
    int size = 65536, got = 0;
    socklen_t len = sizeof(got);
    g_assert_cmpint(setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &size, sizeof(size)), ==, 0);
    g_assert_cmpint(getsockopt(qio_channel_socket_get_fd(sioc), SOL_SOCKET, SO_RCVBUF, &got,
                               &len), ==, 0);
    g_assert_cmpint(got, >=, size);
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(sioc), &error), ==, 0);
    g_assert_cmpint(qio_channel_socket_get_fd(sioc), ==, -1);
    close(fds[1]);

    g_autoptr(QIOChannelFile) fioc = qio_channel_file_new_path("/dev/null", O_RDONLY, 0, &error);
    g_assert_no_error(error);
    struct stat st;
    g_assert_cmpint(fstat(qio_channel_file_get_fd(fioc), &st), ==, 0);
    g_assert_true(S_ISCHR(st.st_mode));
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(fioc), &error), ==, 0);
    g_assert_cmpint(qio_channel_file_get_fd(fioc), ==, -1);
}

static void test_misuse(void)
{
    g_autoptr(QIOChannelNull) nioc = qio_channel_null_new();
    qio_test_expect_critical("QIO_IS_CHANNEL_SOCKET (sioc)");
    g_assert_cmpint(qio_channel_socket_get_fd((QIOChannelSocket *)nioc), ==, -1);
    g_test_assert_expected_messages();
    qio_test_expect_critical("QIO_IS_CHANNEL_FILE (fioc)");
    g_assert_cmpint(qio_channel_file_get_fd((QIOChannelFile *)nioc), ==, -1);
    g_test_assert_expected_messages();
    qio_test_expect_critical("ioc != NULL");
    g_assert_null(qio_channel_get_type_name(NULL));
    g_test_assert_expected_messages();
    qio_test_expect_critical("type_name != NULL");
    g_assert_false(qio_channel_is_a(QIO_CHANNEL(nioc), NULL));
    g_test_assert_expected_messages();
    g_autoptr(QIOTask) task = qio_task_new(NULL, NULL, NULL, NULL);
    qio_test_expect_critical("QIO_IS_CHANNEL (ioc)");
    g_assert_false(qio_channel_is_a((QIOChannel *)task, TYPE_QIO_CHANNEL));
    g_test_assert_expected_messages();
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/io/channel/types/names", test_type_names);
    g_test_add_func("/io/channel/types/descriptors", test_descriptors);
    g_test_add_func("/io/channel/types/misuse", test_misuse);
    return g_test_run();
}
