/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The file, command, buffer and null channels through <qio.h>: QEMU's
 * test-io-channel-{file,command,buffer,null}.c cases, written anew (with `cat`
 * instead of socat), plus positioned I/O, seeking, watches and the failures. */

#include "qio-test.h"

#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *temp_dir(void)
{
    g_autoptr(GError) error = NULL;
    char *dir = g_dir_make_tmp("qio-file-XXXXXX", &error);
    g_assert_no_error(error);
    return dir;
}

static void test_file_path(void)
{
    g_autofree char *dir = temp_dir();
    g_autofree char *path = g_build_filename(dir, "data", NULL);
    g_autoptr(GError) error = NULL;

    QIOChannelFile *out = qio_channel_file_new_path(path, O_WRONLY | O_CREAT | O_TRUNC, 0600, &error);
    g_assert_no_error(error);
    g_assert_true(qio_channel_has_feature(QIO_CHANNEL(out), QIO_CHANNEL_FEATURE_SEEKABLE));
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(out), "Hello World", 11, &error), ==, 0);
    g_assert_cmpint(qio_channel_pwrite(QIO_CHANNEL(out), "w", 1, 6, &error), ==, 1);
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(out), &error), ==, 0);
    qio_channel_unref(QIO_CHANNEL(out));

    g_autoptr(QIOChannelFile) in = qio_channel_file_new_path(path, O_RDONLY, 0, &error);
    g_assert_no_error(error);
    char buf[11];
    g_assert_cmpint(qio_channel_pread(QIO_CHANNEL(in), buf, 5, 6, &error), ==, 5);
    g_assert_cmpmem(buf, 5, "world", 5);
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(in), buf, 11, &error), ==, 0);
    g_assert_cmpmem(buf, 11, "Hello world", 11);
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(in), buf, 1, &error), ==, 0);
    g_assert_cmpint(qio_channel_io_seek(QIO_CHANNEL(in), -5, SEEK_END, &error), ==, 6);
    struct iovec iov[2] = { { buf, 2 }, { buf + 2, 3 } };
    g_assert_cmpint(qio_channel_readv(QIO_CHANNEL(in), iov, 2, &error), ==, 5);
    g_assert_cmpint(qio_channel_preadv(QIO_CHANNEL(in), iov, 2, 0, &error), ==, 5);
    g_assert_cmpmem(buf, 5, "Hello", 5);
    g_assert_no_error(error);

    g_assert_null(qio_channel_file_new_path(path, O_WRONLY | O_CREAT | O_EXCL, 0600, &error));
    g_autofree char *exists = g_strdup_printf("Could not create '%s': File exists", path);
    qio_test_assert_error(error, QIO_ERROR_FAILED, exists);
    g_autofree char *missing_path = g_build_filename(dir, "missing", NULL);
    g_assert_null(qio_channel_file_new_path(missing_path, O_RDONLY, 0, &error));
    g_autofree char *missing = g_strdup_printf("Could not open '%s': No such file or directory", missing_path);
    qio_test_assert_error(error, QIO_ERROR_FAILED, missing);
    g_unlink(path);
    g_rmdir(dir);
}

static void test_file_fd(void)
{
    g_autofree char *dir = temp_dir();
    g_autofree char *path = g_build_filename(dir, "fd", NULL);
    g_autoptr(GError) error = NULL;
    int fd = open(path, O_RDWR | O_CREAT, 0600);
    g_autoptr(QIOChannelFile) dup = qio_channel_file_new_dupfd(fd, &error);
    g_assert_no_error(error);
    g_autoptr(QIOChannelFile) owned = qio_channel_file_new_fd(fd);
    struct iovec iov = { (char *)"abc", 3 };
    g_assert_cmpint(qio_channel_pwritev(QIO_CHANNEL(dup), &iov, 1, 0, &error), ==, 3);
    char buf[3];
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(owned), buf, 3, &error), ==, 0);
    g_assert_cmpmem(buf, 3, "abc", 3);
    g_assert_null(qio_channel_file_new_dupfd(1000000, &error));
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Could not dup FD 1000000: Bad file descriptor");
    g_unlink(path);
    g_rmdir(dir);
}

static void pipe_transfer(gboolean blocking)
{
    int fds[2];
    g_assert_cmpint(pipe(fds), ==, 0);
    g_autoptr(QIOChannelFile) src = qio_channel_file_new_fd(fds[1]);
    g_autoptr(QIOChannelFile) dst = qio_channel_file_new_fd(fds[0]);
    g_assert_false(qio_channel_has_feature(QIO_CHANNEL(src), QIO_CHANNEL_FEATURE_SEEKABLE));
    qio_test_transfer(QIO_CHANNEL(src), QIO_CHANNEL(dst), blocking);

    g_autoptr(GError) error = NULL;
    char c;
    g_assert_cmpint(qio_channel_pread(QIO_CHANNEL(dst), &c, 1, 0, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Requested channel is not seekable: Invalid argument");
    g_assert_cmpint(qio_channel_shutdown(QIO_CHANNEL(dst), QIO_CHANNEL_SHUTDOWN_BOTH, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_NOT_SUPPORTED, "Data path shutdown not supported");
    /* The read end reports end-of-file once the write end is closed. */
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(src), &error), ==, 0);
    g_assert_cmpint(qio_channel_read_all_eof(QIO_CHANNEL(dst), &c, 1, &error), ==, 0);
    g_assert_no_error(error);
}

static void test_pipe_sync(void)
{
    pipe_transfer(TRUE);
}

static void test_pipe_async(void)
{
    pipe_transfer(FALSE);
}

/* QEMU's echo case: a 1 MB round trip through `cat`. */
static void command_echo(gboolean blocking)
{
    const char *argv[] = { "cat", NULL };
    g_autoptr(GError) error = NULL;
    QIOChannelCommand *cat = qio_channel_command_new_spawn(argv, O_RDWR, &error);
    g_assert_no_error(error);
    qio_test_transfer(QIO_CHANNEL(cat), QIO_CHANNEL(cat), blocking);
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(cat), &error), ==, 0);
    g_assert_no_error(error);
    qio_channel_unref(QIO_CHANNEL(cat));
}

static void test_command_echo_sync(void)
{
    command_echo(TRUE);
}

static void test_command_echo_async(void)
{
    command_echo(FALSE);
}

/* Shutting down the write side closes the child's stdin: `cat` then sends what it
 * has and ends, while its output can still be read. */
static void test_command_shutdown(void)
{
    const char *argv[] = { "cat", NULL };
    g_autoptr(GError) error = NULL;
    g_autoptr(QIOChannelCommand) cat = qio_channel_command_new_spawn(argv, O_RDWR, &error);
    g_assert_no_error(error);
    QIOChannel *ioc = QIO_CHANNEL(cat);
    g_assert_true(qio_channel_has_feature(ioc, QIO_CHANNEL_FEATURE_SHUTDOWN));
    g_assert_cmpint(qio_channel_write_all(ioc, "last words", 10, &error), ==, 0);
    g_assert_cmpint(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_WRITE, &error), ==, 0);
    g_assert_cmpint(qio_channel_write(ioc, "x", 1, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Unable to write to command: Bad file descriptor");
    char buf[10];
    g_assert_cmpint(qio_channel_read_all(ioc, buf, sizeof(buf), &error), ==, 0);
    g_assert_cmpmem(buf, 10, "last words", 10);
    g_assert_cmpint(qio_channel_read_all_eof(ioc, buf, 1, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_cmpint(qio_channel_shutdown(ioc, QIO_CHANNEL_SHUTDOWN_READ, &error), ==, 0);
    g_assert_cmpint(qio_channel_read(ioc, buf, 1, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Unable to read from command: Bad file descriptor");
    g_assert_cmpint(qio_channel_close(ioc, &error), ==, 0);
    g_assert_no_error(error);
}

/* QEMU's fifo case: one command writes into a fifo, another reads it back. */
static void test_command_fifo(void)
{
    g_autofree char *dir = temp_dir();
    g_autofree char *fifo = g_build_filename(dir, "fifo", NULL);
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(mkfifo(fifo, 0600), ==, 0);
    g_autofree char *write_cmd = g_strdup_printf("cat > %s", fifo);
    g_autofree char *read_cmd = g_strdup_printf("cat %s", fifo);
    const char *writer_argv[] = { "sh", "-c", write_cmd, NULL };
    const char *reader_argv[] = { "sh", "-c", read_cmd, NULL };
    QIOChannelCommand *writer = qio_channel_command_new_spawn(writer_argv, O_WRONLY, &error);
    QIOChannelCommand *reader = qio_channel_command_new_spawn(reader_argv, O_RDONLY, &error);
    g_assert_no_error(error);
    g_assert_cmpint(qio_channel_write_all(QIO_CHANNEL(writer), "through a fifo", 14, &error), ==, 0);
    /* Closing the writer's stdin lets it finish; close waits for it. */
    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(writer), &error), ==, 0);
    char buf[14];
    g_assert_cmpint(qio_channel_read_all(QIO_CHANNEL(reader), buf, 14, &error), ==, 0);
    g_assert_cmpmem(buf, 14, "through a fifo", 14);
    g_assert_cmpint(qio_channel_read_all_eof(QIO_CHANNEL(reader), buf, 1, &error), ==, 0);
    g_assert_no_error(error);
    qio_channel_unref(QIO_CHANNEL(reader));
    qio_channel_unref(QIO_CHANNEL(writer));
    g_unlink(fifo);
    g_rmdir(dir);
}

/* The last unref kills a child that is still running. */
static void test_command_killed_on_finalize(void)
{
    const char *argv[] = { "sleep", "60", NULL };
    g_autoptr(GError) error = NULL;
    GTimer *timer = g_timer_new();
    QIOChannelCommand *sleeper = qio_channel_command_new_spawn(argv, O_RDONLY, &error);
    g_assert_no_error(error);
    qio_channel_unref(QIO_CHANNEL(sleeper));
    g_assert_cmpfloat(g_timer_elapsed(timer, NULL), <, 30);
    g_timer_destroy(timer);

    const char *missing[] = { "qio-no-such-program", NULL };
    g_assert_null(qio_channel_command_new_spawn(missing, O_RDWR, &error));
    qio_test_assert_error(error, QIO_ERROR_FAILED,
                          "Failed to execute child process \"qio-no-such-program\" (No such file or directory)");
}

/* QEMU's buffer case: 1 MB of iovecs written, rewound, read back. */
static void test_buffer(void)
{
    g_autoptr(QIOChannelBuffer) buffer = qio_channel_buffer_new(0);
    g_autoptr(GError) error = NULL;
    gsize total = 250 * 4194;
    g_autofree guint8 *data = qio_test_pattern(total, 7);
    struct iovec iov[250];
    for (guint i = 0; i < 250; i++) {
        iov[i] = (struct iovec){ data + i * 4194, 4194 };
    }
    g_assert_cmpint(qio_channel_writev_all(QIO_CHANNEL(buffer), iov, 250, &error), ==, 0);
    g_assert_cmpint(qio_channel_io_seek(QIO_CHANNEL(buffer), 0, SEEK_SET, &error), ==, 0);
    g_autofree guint8 *back = g_malloc(total);
    for (guint i = 0; i < 250; i++) {
        iov[i] = (struct iovec){ back + i * 4194, 4194 };
    }
    g_assert_cmpint(qio_channel_readv_all(QIO_CHANNEL(buffer), iov, 250, &error), ==, 0);
    g_assert_cmpmem(back, total, data, total);
    g_assert_cmpint(qio_channel_readv_all_eof(QIO_CHANNEL(buffer), iov, 1, &error), ==, 0);

    /* Writing past the end zero-fills the gap (not the start, as QEMU does). */
    g_assert_cmpint(qio_channel_io_seek(QIO_CHANNEL(buffer), total + 2, SEEK_SET, &error), ==, (off_t)total + 2);
    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(buffer), "z", 1, &error), ==, 1);
    size_t usage = 0;
    g_autofree guint8 *copy = qio_channel_buffer_dup_data(buffer, &usage);
    g_assert_cmpuint(usage, ==, total + 3);
    g_assert_cmpmem(copy, total, data, total);
    g_assert_cmpmem(copy + total, 3, "\0\0z", 3);
    g_assert_no_error(error);
}

/* Memory the system cannot give is an error, not an abort: a capacity is only a hint,
 * and a write after a seek to 1 TiB (or to the last offset) fails and leaves the
 * buffer as it was. */
static void test_buffer_huge(void)
{
    g_autoptr(QIOChannelBuffer) buffer = qio_channel_buffer_new((size_t)1 << 44);
    g_autoptr(GError) error = NULL;
    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(buffer), "ab", 2, &error), ==, 2);
    g_assert_no_error(error);

    const off_t offsets[] = { (off_t)1 << 40, G_MAXINT64 };
    for (guint i = 0; i < G_N_ELEMENTS(offsets); i++) {
        g_assert_cmpint(qio_channel_io_seek(QIO_CHANNEL(buffer), offsets[i], SEEK_SET, &error), ==,
                        offsets[i]);
        g_assert_cmpint(qio_channel_write(QIO_CHANNEL(buffer), "z", 1, &error), ==, -1);
        g_autofree char *message = g_strdup_printf(
            "Unable to grow the buffer to %" G_GUINT64_FORMAT " bytes: Cannot allocate memory",
            (guint64)offsets[i] + 1);
        qio_test_assert_error(error, QIO_ERROR_FAILED, message);
        g_clear_error(&error);
    }
    size_t usage = 0;
    g_autofree char *data = (char *)qio_channel_buffer_dup_data(buffer, &usage);
    g_assert_cmpmem(data, usage, "ab", 2);
}

typedef struct {
    GIOCondition seen;
    int calls;
    int notified;
} WatchResult;

static gboolean watch_func(QIOChannel *ioc, GIOCondition condition, gpointer opaque)
{
    WatchResult *result = opaque;
    g_assert_nonnull(ioc);
    result->seen = condition;
    result->calls++;
    return G_SOURCE_REMOVE;
}

static void watch_notify(gpointer opaque)
{
    ((WatchResult *)opaque)->notified++;
}

/* QEMU's null case, and the watch entry points on the null and buffer channels. */
static void test_null(void)
{
    g_autoptr(QIOChannelNull) null = qio_channel_null_new();
    g_autoptr(GError) error = NULL;
    char buf[1];
    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(null), "Hello World", 11, &error), ==, 11);
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(null), buf, 1, &error), ==, 0);
    g_assert_cmpint(qio_channel_io_seek(QIO_CHANNEL(null), 42, SEEK_SET, &error), ==, 0);

    WatchResult result = { 0 };
    qio_channel_set_name(QIO_CHANNEL(null), "null-watch");
    qio_channel_add_watch(QIO_CHANNEL(null), G_IO_IN, watch_func, &result, watch_notify);
    g_main_context_iteration(NULL, FALSE);
    g_assert_cmpint(result.seen, ==, G_IO_IN);
    g_assert_cmpint(result.calls, ==, 1);
    g_assert_cmpint(result.notified, ==, 1);

    GMainContext *context = g_main_context_new();
    GSource *source = qio_channel_add_watch_source(QIO_CHANNEL(null), G_IO_IN | G_IO_OUT, watch_func,
                                                   &result, NULL, context);
    g_assert_cmpstr(g_source_get_name(source), ==, "null-watch");
    g_main_context_iteration(context, FALSE);
    g_assert_cmpint(result.seen, ==, G_IO_IN | G_IO_OUT);
    g_source_unref(source);

    g_autoptr(QIOChannelBuffer) buffer = qio_channel_buffer_new(16);
    guint id = qio_channel_add_watch_full(QIO_CHANNEL(buffer), G_IO_OUT | G_IO_HUP, watch_func, &result,
                                          NULL, context);
    g_assert_cmpuint(id, >, 0);
    g_main_context_iteration(context, FALSE);
    g_assert_cmpint(result.seen, ==, G_IO_OUT);
    GSource *raw = qio_channel_create_watch(QIO_CHANNEL(buffer), G_IO_IN);
    g_source_set_callback(raw, (GSourceFunc)(void (*)(void))watch_func, &result, NULL);
    g_source_attach(raw, context);
    g_main_context_iteration(context, FALSE);
    g_assert_cmpint(result.seen, ==, G_IO_IN);
    g_assert_cmpint(result.calls, ==, 4);
    g_source_unref(raw);
    g_main_context_unref(context);

    g_assert_cmpint(qio_channel_close(QIO_CHANNEL(null), &error), ==, 0);
    g_assert_cmpint(qio_channel_write(QIO_CHANNEL(null), "x", 1, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Channel is closed: Invalid argument");
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(null), buf, 1, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_FAILED, "Channel is closed: Invalid argument");
}

/* Features, names and references through the generic entry points. */
static void test_generic(void)
{
    QIOChannel *null = QIO_CHANNEL(qio_channel_null_new());
    g_assert_false(qio_channel_has_feature(null, QIO_CHANNEL_FEATURE_CONCURRENT_IO));
    qio_channel_set_feature(null, QIO_CHANNEL_FEATURE_CONCURRENT_IO);
    g_assert_true(qio_channel_has_feature(null, QIO_CHANNEL_FEATURE_CONCURRENT_IO));
    g_assert_true(qio_channel_ref(null) == null);
    qio_channel_unref(null);
    qio_channel_set_delay(null, FALSE);
    qio_channel_set_cork(null, TRUE);
    qio_channel_wait(null, G_IO_OUT);
    qio_channel_unref(null);
    qio_channel_unref(NULL);

    qio_test_expect_critical("feature is a QIOChannelFeature");
    g_autoptr(QIOChannelNull) other = qio_channel_null_new();
    g_assert_false(qio_channel_has_feature(QIO_CHANNEL(other), (QIOChannelFeature)99));
    g_test_assert_expected_messages();
    qio_test_expect_critical("QIO_IS_CHANNEL_BUFFER (bioc)");
    size_t usage;
    g_assert_null(qio_channel_buffer_dup_data(QIO_CHANNEL_BUFFER(other), &usage));
    g_test_assert_expected_messages();
}

int main(int argc, char **argv)
{
    /* A pipe whose reader is gone must be an error, not the end of the test process. */
    signal(SIGPIPE, SIG_IGN);
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/io/channel/file/path", test_file_path);
    g_test_add_func("/io/channel/file/fd", test_file_fd);
    g_test_add_func("/io/channel/pipe/sync", test_pipe_sync);
    g_test_add_func("/io/channel/pipe/async", test_pipe_async);
    g_test_add_func("/io/channel/command/echo/sync", test_command_echo_sync);
    g_test_add_func("/io/channel/command/echo/async", test_command_echo_async);
    g_test_add_func("/io/channel/command/shutdown", test_command_shutdown);
    g_test_add_func("/io/channel/command/fifo", test_command_fifo);
    g_test_add_func("/io/channel/command/killed-on-finalize", test_command_killed_on_finalize);
    g_test_add_func("/io/channel/buffer", test_buffer);
    g_test_add_func("/io/channel/buffer/huge", test_buffer_huge);
    g_test_add_func("/io/channel/null", test_null);
    g_test_add_func("/io/channel/generic", test_generic);
    return g_test_run();
}
