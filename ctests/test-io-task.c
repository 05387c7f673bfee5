/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QIOTask (QEMU's test-io-task.c cases), QIONetListener, QIODNSResolver and
 * QIOSocketAddress through <qio.h>. */

#include "qio-test.h"

#include <string.h>

typedef struct {
    gpointer source;
    int calls;
    int freed;
    GError *error;
    GThread *callback_thread;
    GThread *worker_thread;
    GMainLoop *loop;
} TaskData;

static void task_callback(QIOTask *task, gpointer opaque)
{
    TaskData *data = opaque;
    data->source = qio_task_get_source(task);
    data->calls++;
    data->callback_thread = g_thread_self();
    qio_task_propagate_error(task, &data->error);
    if (data->loop) {
        g_main_loop_quit(data->loop);
    }
}

static void task_data_free(gpointer opaque)
{
    ((TaskData *)opaque)->freed++;
}

static void test_task_complete(void)
{
    g_autoptr(QIOChannelNull) null = qio_channel_null_new();
    TaskData data = { 0 };
    QIOTask *task = qio_task_new(null, task_callback, &data, task_data_free);
    qio_task_complete(task);
    g_assert_cmpint(data.calls, ==, 1);
    g_assert_true(data.source == (gpointer)null);
    g_assert_cmpint(data.freed, ==, 0);
    qio_task_free(task);
    g_assert_cmpint(data.freed, ==, 1);
    g_assert_no_error(data.error);
}

static void test_task_cancel(void)
{
    TaskData data = { 0 };
    QIOTask *task = qio_task_new(NULL, task_callback, &data, task_data_free);
    qio_task_free(task);
    g_assert_cmpint(data.calls, ==, 0);
    g_assert_cmpint(data.freed, ==, 1);
}

static void test_task_data_and_failure(void)
{
    TaskData data = { 0 };
    QIOTask *task = qio_task_new(NULL, task_callback, &data, NULL);
    int freed = 0;
    qio_task_set_result_pointer(task, &freed, (GDestroyNotify)(void (*)(void))g_nullify_pointer);
    g_assert_true(qio_task_get_result_pointer(task) == &freed);
    qio_task_set_error(task, g_error_new_literal(G_FILE_ERROR, G_FILE_ERROR_FAILED, "first"));
    qio_task_set_error(task, g_error_new_literal(G_FILE_ERROR, G_FILE_ERROR_FAILED, "second"));
    qio_task_set_error(task, NULL);
    qio_task_complete(task);
    g_assert_error(data.error, G_FILE_ERROR, G_FILE_ERROR_FAILED);
    g_assert_cmpstr(data.error->message, ==, "first");
    g_clear_error(&data.error);
    g_assert_false(qio_task_propagate_error(task, &data.error));
    qio_task_free(task);
}

/* An error already set on entry is a programming error, as for every qio export: a
 * critical, the failure value, the caller's error untouched and the task's kept. */
static void test_task_propagate_over_error(void)
{
    QIOTask *task = qio_task_new(NULL, NULL, NULL, NULL);
    qio_task_set_error(task, g_error_new_literal(G_FILE_ERROR, G_FILE_ERROR_FAILED, "task's"));
    g_autoptr(GError) error = g_error_new_literal(G_FILE_ERROR, G_FILE_ERROR_IO, "caller's");
    qio_test_expect_critical("error == NULL || *error == NULL");
    g_assert_false(qio_task_propagate_error(task, &error));
    g_test_assert_expected_messages();
    g_assert_cmpstr(error->message, ==, "caller's");
    g_clear_error(&error);
    g_assert_true(qio_task_propagate_error(task, &error));
    g_assert_cmpstr(error->message, ==, "task's");
    qio_task_free(task);
}

static void worker_ok(QIOTask *task, gpointer opaque)
{
    TaskData *data = opaque;
    data->worker_thread = g_thread_self();
    qio_task_set_result_pointer(task, data, NULL);
}

static void worker_fails(QIOTask *task, gpointer opaque)
{
    worker_ok(task, opaque);
    qio_task_set_error(task, g_error_new_literal(G_FILE_ERROR, G_FILE_ERROR_PIPE, "worker failed"));
}

static void thread_task(QIOTaskWorker worker, gboolean wait)
{
    GMainContext *context = g_main_context_new();
    TaskData data = { .loop = g_main_loop_new(context, FALSE) }, worker_data = { 0 };
    QIOTask *task = qio_task_new(NULL, task_callback, &data, task_data_free);
    qio_task_run_in_thread(task, worker, &worker_data, task_data_free, context);
    if (wait) {
        qio_task_wait_thread(task);
    } else {
        g_main_loop_run(data.loop);
    }
    g_assert_cmpint(data.calls, ==, 1);
    g_assert_cmpint(data.freed, ==, 1);
    g_assert_cmpint(worker_data.freed, ==, 1);
    g_assert_true(data.callback_thread == g_thread_self());
    g_assert_true(worker_data.worker_thread != g_thread_self());
    if (worker == worker_fails) {
        g_assert_error(data.error, G_FILE_ERROR, G_FILE_ERROR_PIPE);
        g_clear_error(&data.error);
    }
    g_assert_no_error(data.error);
    /* Nothing is left to dispatch after wait_thread completed the task itself. */
    g_assert_false(g_main_context_iteration(context, FALSE));
    g_main_loop_unref(data.loop);
    g_main_context_unref(context);
}

static void test_task_thread_complete(void)
{
    thread_task(worker_ok, FALSE);
}

static void test_task_thread_failure(void)
{
    thread_task(worker_fails, FALSE);
}

static void test_task_thread_wait(void)
{
    thread_task(worker_ok, TRUE);
}

typedef struct {
    QIOChannelSocket *client;
    int notified;
    GMainLoop *loop;
} ListenerData;

static void client_func(QIONetListener *listener, QIOChannelSocket *sioc, gpointer opaque)
{
    ListenerData *data = opaque;
    g_assert_nonnull(listener);
    data->client = QIO_CHANNEL_SOCKET(qio_channel_ref(QIO_CHANNEL(sioc)));
    g_main_loop_quit(data->loop);
}

static void listener_notify(gpointer opaque)
{
    ((ListenerData *)opaque)->notified++;
}

static void test_net_listener(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QIOSocketAddress) addr = qio_socket_address_parse("tcp:localhost:0", &error);
    QIONetListener *listener = qio_net_listener_new();
    qio_net_listener_set_name(listener, "test");
    g_assert_false(qio_net_listener_is_connected(listener));
    /* Port 0 on "localhost" binds one socket per address family the name has. */
    g_assert_cmpint(qio_net_listener_open_sync(listener, addr, 4, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_true(qio_net_listener_is_connected(listener));
    g_assert_cmpuint(qio_net_listener_nsioc(listener), >=, 1);
    g_autoptr(QIOSocketAddress) bound = qio_net_listener_get_local_address(listener, 0, &error);
    g_assert_no_error(error);

    GMainContext *context = g_main_context_new();
    ListenerData data = { .loop = g_main_loop_new(context, FALSE) };
    qio_net_listener_set_client_func_full(listener, client_func, &data, listener_notify, context);
    g_autoptr(QIOChannelSocket) client = qio_channel_socket_new();
    g_assert_cmpint(qio_channel_socket_connect_sync(client, bound, &error), ==, 0);
    g_main_loop_run(data.loop);
    g_assert_nonnull(data.client);
    qio_channel_unref(QIO_CHANNEL(data.client));

    /* wait_client suspends the callback and hands the client over directly. */
    g_autoptr(QIOChannelSocket) second = qio_channel_socket_new();
    g_assert_cmpint(qio_channel_socket_connect_sync(second, bound, &error), ==, 0);
    QIOChannelSocket *accepted = qio_net_listener_wait_client(listener);
    g_assert_nonnull(accepted);
    qio_channel_unref(QIO_CHANNEL(accepted));

    /* Replacing the function runs the old notify; a socket added later is watched. */
    qio_net_listener_set_client_func(listener, NULL, NULL, NULL);
    g_assert_cmpint(data.notified, ==, 1);
    g_autoptr(QIOChannelSocket) extra = qio_channel_socket_new();
    g_autoptr(QIOSocketAddress) any = qio_socket_address_parse("tcp:127.0.0.1:0", &error);
    g_assert_cmpint(qio_channel_socket_listen_sync(extra, any, 1, &error), ==, 0);
    qio_net_listener_add(listener, extra);
    g_assert_true(qio_net_listener_sioc(listener, qio_net_listener_nsioc(listener) - 1) == extra);

    g_assert_true(qio_net_listener_ref(listener) == listener);
    qio_net_listener_unref(listener);
    qio_net_listener_disconnect(listener);
    g_assert_false(qio_net_listener_is_connected(listener));
    qio_net_listener_unref(listener);
    g_main_loop_unref(data.loop);
    g_main_context_unref(context);

    /* Nothing to listen on: the first failure is reported. */
    QIONetListener *busy = qio_net_listener_new();
    g_autoptr(QIOSocketAddress) taken = qio_socket_address_parse("tcp:256.1.1.1:0,numeric", &error);
    g_assert_cmpint(qio_net_listener_open_sync(busy, taken, 1, &error), ==, -1);
    g_assert_nonnull(error);
    g_assert_true(g_str_has_prefix(error->message, "address resolution failed for 256.1.1.1:0: "));
    g_clear_error(&error);
    qio_net_listener_unref(busy);
}

static void collect_client(QIONetListener *listener, QIOChannelSocket *sioc, gpointer opaque)
{
    (void)listener;
    g_ptr_array_add(opaque, qio_channel_ref(QIO_CHANNEL(sioc)));
}

/* A connected client socket of @listener's first address. */
static QIOChannelSocket *connect_to(QIONetListener *listener)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QIOSocketAddress) bound = qio_net_listener_get_local_address(listener, 0, &error);
    QIOChannelSocket *sioc = qio_channel_socket_new();
    g_assert_cmpint(qio_channel_socket_connect_sync(sioc, bound, &error), ==, 0);
    g_assert_no_error(error);
    return sioc;
}

/* Iterates @context until @done says so, for at most 10 s. */
static void iterate_until(GMainContext *context, gboolean (*done)(gpointer), gpointer opaque)
{
    for (int i = 0; i < 10000 && !done(opaque); i++) {
        if (!g_main_context_iteration(context, FALSE)) {
            g_usleep(1000);
        }
    }
    g_assert_true(done(opaque));
}

static gboolean two_accepted(gpointer opaque)
{
    return ((GPtrArray *)opaque)->len == 2;
}

static gboolean one_refused(gpointer opaque)
{
    return qio_net_listener_get_num_refused(opaque) == 1;
}

/* A refused connection ends: the peer reads end-of-file. */
static void assert_refused(QIOChannelSocket *sioc)
{
    g_autoptr(GError) error = NULL;
    char c;
    g_assert_cmpint(qio_channel_read(QIO_CHANNEL(sioc), &c, 1, &error), ==, 0);
    g_assert_no_error(error);
}

typedef struct {
    QIONetListener *listener;
    QIOChannel *to_close;
    QIOChannelSocket *refused, *admitted;
} RefillData;

/* Connects a client the full listener refuses, then closes a client to free a slot
 * and connects one more. */
static gpointer refill_thread(gpointer opaque)
{
    RefillData *data = opaque;
    g_autoptr(GError) error = NULL;
    data->refused = connect_to(data->listener);
    assert_refused(data->refused);
    g_assert_cmpint(qio_channel_close(data->to_close, &error), ==, 0);
    data->admitted = connect_to(data->listener);
    return NULL;
}

/* The client limit: connections past it are accepted, closed and counted; a client
 * stops counting when it is closed or dropped, and wait_client() obeys it too. */
static void test_net_listener_max_clients(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QIOSocketAddress) addr = qio_socket_address_parse("tcp:127.0.0.1:0", &error);
    QIONetListener *listener = qio_net_listener_new();
    g_assert_cmpint(qio_net_listener_open_sync(listener, addr, 8, &error), ==, 0);
    g_assert_cmpuint(qio_net_listener_get_max_clients(listener), ==, 0);
    qio_net_listener_set_max_clients(listener, 2);
    g_assert_cmpuint(qio_net_listener_get_max_clients(listener), ==, 2);

    GMainContext *context = g_main_context_new();
    g_autoptr(GPtrArray) accepted = g_ptr_array_new_with_free_func((GDestroyNotify)qio_channel_unref);
    qio_net_listener_set_client_func_full(listener, collect_client, accepted, NULL, context);
    g_autoptr(QIOChannelSocket) c1 = connect_to(listener);
    g_autoptr(QIOChannelSocket) c2 = connect_to(listener);
    iterate_until(context, two_accepted, accepted);
    g_autoptr(QIOChannelSocket) c3 = connect_to(listener);
    iterate_until(context, one_refused, listener);
    assert_refused(c3);
    g_assert_cmpuint(accepted->len, ==, 2);
    g_assert_cmpuint(qio_net_listener_get_num_clients(listener), ==, 2);

    /* A closed client and a dropped one free their slots. */
    g_assert_cmpint(qio_channel_close(g_ptr_array_index(accepted, 0), &error), ==, 0);
    g_assert_cmpuint(qio_net_listener_get_num_clients(listener), ==, 1);
    g_ptr_array_remove_index(accepted, 1);
    g_assert_cmpuint(qio_net_listener_get_num_clients(listener), ==, 0);
    g_ptr_array_set_size(accepted, 0);
    g_autoptr(QIOChannelSocket) c4 = connect_to(listener);
    g_autoptr(QIOChannelSocket) c5 = connect_to(listener);
    iterate_until(context, two_accepted, accepted);
    g_assert_cmpuint(qio_net_listener_get_num_refused(listener), ==, 1);

    /* wait_client() refuses past the limit and waits on for one it may hand out. */
    RefillData refill = { .listener = listener, .to_close = g_ptr_array_index(accepted, 0) };
    GThread *thread = g_thread_new("refill", refill_thread, &refill);
    QIOChannelSocket *waited = qio_net_listener_wait_client(listener);
    g_thread_join(thread);
    g_assert_nonnull(waited);
    g_assert_cmpuint(qio_net_listener_get_num_refused(listener), ==, 2);
    g_assert_cmpuint(qio_net_listener_get_num_clients(listener), ==, 2);
    qio_channel_unref(QIO_CHANNEL(waited));
    qio_channel_unref(QIO_CHANNEL(refill.refused));
    qio_channel_unref(QIO_CHANNEL(refill.admitted));

    qio_net_listener_unref(listener);
    g_main_context_unref(context);
}

static void test_dns_resolver(void)
{
    QIODNSResolver *resolver = qio_dns_resolver_get_instance();
    g_autoptr(GError) error = NULL;
    g_autoptr(QIOSocketAddress) addr = qio_socket_address_parse("tcp:localhost:5900", &error);
    size_t n = 0;
    QIOSocketAddress **found = NULL;
    g_assert_cmpint(qio_dns_resolver_lookup_sync(resolver, addr, &n, &found, &error), ==, 0);
    g_assert_no_error(error);
    g_assert_cmpuint(n, >=, 1);
    for (size_t i = 0; i < n; i++) {
        g_assert_cmpstr(qio_socket_address_get_port(found[i]), ==, "5900");
        qio_socket_address_free(found[i]);
    }
    g_free(found);

    TaskData data = { .loop = g_main_loop_new(NULL, FALSE) };
    qio_dns_resolver_lookup_async(resolver, addr, task_callback, &data, NULL);
    g_main_loop_run(data.loop);
    g_assert_no_error(data.error);
    g_assert_true(data.source == (gpointer)resolver);
    g_main_loop_unref(data.loop);

    /* lookup_result is read inside the callback, while the task lives. */
    g_autoptr(QIOSocketAddress) numeric = qio_socket_address_parse("tcp:127.0.0.1:1", &error);
    data = (TaskData){ .loop = g_main_loop_new(NULL, FALSE) };
    qio_dns_resolver_lookup_async(resolver, numeric, task_callback, &data, NULL);
    g_main_loop_run(data.loop);
    g_main_loop_unref(data.loop);
}

static void result_callback(QIOTask *task, gpointer opaque)
{
    size_t *count = opaque;
    QIOSocketAddress **found = NULL;
    qio_dns_resolver_lookup_result(qio_dns_resolver_get_instance(), task, count, &found);
    for (size_t i = 0; i < *count; i++) {
        g_autofree char *text = qio_socket_address_to_string(found[i]);
        g_assert_cmpstr(text, ==, "tcp:127.0.0.1:1,numeric");
        qio_socket_address_free(found[i]);
    }
    g_free(found);
}

static void test_dns_lookup_result(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QIOSocketAddress) numeric = qio_socket_address_parse("tcp:127.0.0.1:1", &error);
    size_t count = 0;
    qio_dns_resolver_lookup_async(qio_dns_resolver_get_instance(), numeric, result_callback, &count, NULL);
    while (count == 0) {
        g_main_context_iteration(NULL, TRUE);
    }
    g_assert_cmpuint(count, ==, 1);
}

static void test_socket_address(void)
{
    g_autoptr(GError) error = NULL;
    const char *forms[] = { "tcp:[::1]:22,ipv6=on", "unix:/run/x.sock", "unix-abstract:qio",
                            "vsock:3:1024", "fd:5" };
    const QIOSocketAddressType types[] = { QIO_SOCKET_ADDRESS_TYPE_INET, QIO_SOCKET_ADDRESS_TYPE_UNIX,
                                           QIO_SOCKET_ADDRESS_TYPE_UNIX, QIO_SOCKET_ADDRESS_TYPE_VSOCK,
                                           QIO_SOCKET_ADDRESS_TYPE_FD };
    for (guint i = 0; i < G_N_ELEMENTS(forms); i++) {
        g_autoptr(QIOSocketAddress) addr = qio_socket_address_parse(forms[i], &error);
        g_assert_no_error(error);
        g_autoptr(QIOSocketAddress) copy = qio_socket_address_copy(addr);
        g_autofree char *text = qio_socket_address_to_string(copy);
        g_assert_cmpstr(text, ==, forms[i]);
        g_assert_cmpint(qio_socket_address_get_type(copy), ==, types[i]);
    }
    g_autoptr(QIOSocketAddress) inet = qio_socket_address_new_inet("::1", "80");
    g_assert_cmpstr(qio_socket_address_get_host(inet), ==, "::1");
    g_assert_cmpstr(qio_socket_address_get_port(inet), ==, "80");
    g_assert_null(qio_socket_address_get_path(inet));
    g_autofree char *inet_text = qio_socket_address_to_string(inet);
    g_assert_cmpstr(inet_text, ==, "tcp:[::1]:80");
    g_autoptr(QIOSocketAddress) path = qio_socket_address_new_unix("/tmp/s");
    g_assert_cmpstr(qio_socket_address_get_path(path), ==, "/tmp/s");
    g_autoptr(QIOSocketAddress) abstract = qio_socket_address_new_unix_abstract("name");
    g_autofree char *abstract_text = qio_socket_address_to_string(abstract);
    g_assert_cmpstr(abstract_text, ==, "unix-abstract:name");
    g_autoptr(QIOSocketAddress) vsock = qio_socket_address_new_vsock(2, 9);
    g_autofree char *vsock_text = qio_socket_address_to_string(vsock);
    g_assert_cmpstr(vsock_text, ==, "vsock:2:9");

    /* QEMU's messages, naming the text after the type prefix. */
    g_assert_null(qio_socket_address_parse("tcp:nohost", &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "error parsing address 'nohost'");
    g_assert_null(qio_socket_address_parse("vsock:2", &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "error parsing address '2'");
    g_assert_null(qio_socket_address_parse("unix:", &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "invalid Unix socket address");
    /* Without a known prefix the text is HOST:PORT, as in QEMU. */
    g_autoptr(QIOSocketAddress) bare = qio_socket_address_parse("localhost:5900", &error);
    g_assert_no_error(error);
    g_assert_cmpstr(qio_socket_address_get_host(bare), ==, "localhost");
    g_assert_cmpstr(qio_socket_address_get_port(bare), ==, "5900");
    qio_test_expect_critical("text != NULL");
    g_assert_null(qio_socket_address_parse(NULL, &error));
    g_test_assert_expected_messages();
    qio_socket_address_free(NULL);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/io/task/complete", test_task_complete);
    g_test_add_func("/io/task/cancel", test_task_cancel);
    g_test_add_func("/io/task/data-and-failure", test_task_data_and_failure);
    g_test_add_func("/io/task/propagate-over-error", test_task_propagate_over_error);
    g_test_add_func("/io/task/thread-complete", test_task_thread_complete);
    g_test_add_func("/io/task/thread-failure", test_task_thread_failure);
    g_test_add_func("/io/task/thread-wait", test_task_thread_wait);
    g_test_add_func("/io/net-listener", test_net_listener);
    g_test_add_func("/io/net-listener/max-clients", test_net_listener_max_clients);
    g_test_add_func("/io/dns-resolver/lookup", test_dns_resolver);
    g_test_add_func("/io/dns-resolver/lookup-result", test_dns_lookup_result);
    g_test_add_func("/io/socket-address", test_socket_address);
    return g_test_run();
}
