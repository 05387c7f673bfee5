/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* QAuthZ through <qio.h>: QEMU's test-authz-simple, -list and -listfile cases, a
 * rules file edited under a live policy, and the failures. */

#include "qio-test.h"

#include <string.h>

#include <glib/gstdio.h>

static void test_simple(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QAuthZSimple) authz = qauthz_simple_new("fred", &error);
    g_assert_no_error(error);
    g_assert_true(qauthz_is_allowed(QAUTHZ(authz), "fred", &error));
    g_assert_false(qauthz_is_allowed(QAUTHZ(authz), "bob", &error));
    g_assert_no_error(error);

    /* References: the policy lives until the last one goes. */
    QAuthZ *extra = qauthz_ref(QAUTHZ(authz));
    g_assert_true(extra == QAUTHZ(authz));
    qauthz_unref(extra);
    g_assert_true(qauthz_is_allowed(QAUTHZ(authz), "fred", &error));
    qauthz_unref(NULL);

    /* Identities are text: bytes that are not UTF-8 get an error, not a verdict. */
    g_assert_false(qauthz_is_allowed(QAUTHZ(authz), "fr\xff" "ed", &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Identity is not valid UTF-8");
    g_assert_null(qauthz_simple_new("\xc3", &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Identity is not valid UTF-8");
}

static void test_list(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QAuthZList) deny = qauthz_list_new(QAUTHZ_LIST_POLICY_DENY);
    g_assert_false(qauthz_is_allowed(QAUTHZ(deny), "fred", &error));
    g_assert_cmpint(qauthz_list_append_rule(deny, "fred", QAUTHZ_LIST_POLICY_ALLOW,
                                            QAUTHZ_LIST_FORMAT_EXACT, &error), ==, 0);
    g_assert_cmpint(qauthz_list_append_rule(deny, "bob", QAUTHZ_LIST_POLICY_ALLOW,
                                            QAUTHZ_LIST_FORMAT_EXACT, &error), ==, 1);
    g_assert_cmpint(qauthz_list_append_rule(deny, "dan*", QAUTHZ_LIST_POLICY_ALLOW,
                                            QAUTHZ_LIST_FORMAT_GLOB, &error), ==, 2);
    g_assert_no_error(error);
    g_assert_true(qauthz_is_allowed(QAUTHZ(deny), "fred", &error));
    g_assert_true(qauthz_is_allowed(QAUTHZ(deny), "bob", &error));
    g_assert_true(qauthz_is_allowed(QAUTHZ(deny), "dan", &error));
    g_assert_true(qauthz_is_allowed(QAUTHZ(deny), "danny", &error));
    g_assert_false(qauthz_is_allowed(QAUTHZ(deny), "dave", &error));

    /* The first match decides: a deny inserted first overrides the allow after it. */
    g_assert_cmpint(qauthz_list_insert_rule(deny, "fr?d", QAUTHZ_LIST_POLICY_DENY,
                                            QAUTHZ_LIST_FORMAT_GLOB, 0, &error), ==, 0);
    g_assert_false(qauthz_is_allowed(QAUTHZ(deny), "fred", &error));
    g_assert_cmpint(qauthz_list_insert_rule(deny, "eve", QAUTHZ_LIST_POLICY_ALLOW,
                                            QAUTHZ_LIST_FORMAT_EXACT, 1000, &error), ==, 4);
    g_assert_cmpint(qauthz_list_delete_rule(deny, "fr?d"), ==, 0);
    g_assert_cmpint(qauthz_list_delete_rule(deny, "fr?d"), ==, -1);
    g_assert_true(qauthz_is_allowed(QAUTHZ(deny), "fred", &error));
    g_assert_true(qauthz_is_allowed(QAUTHZ(deny), "eve", &error));
    g_assert_no_error(error);

    /* Allow by default, deny some. */
    g_autoptr(QAuthZList) allow = qauthz_list_new(QAUTHZ_LIST_POLICY_ALLOW);
    qauthz_list_append_rule(allow, "CN=*.evil.example", QAUTHZ_LIST_POLICY_DENY,
                            QAUTHZ_LIST_FORMAT_GLOB, &error);
    g_assert_false(qauthz_is_allowed(QAUTHZ(allow), "CN=vm.evil.example", &error));
    g_assert_true(qauthz_is_allowed(QAUTHZ(allow), "CN=vm.good.example", &error));
    g_assert_no_error(error);

    g_assert_cmpint(qauthz_list_append_rule(allow, "\xff", QAUTHZ_LIST_POLICY_DENY,
                                            QAUTHZ_LIST_FORMAT_EXACT, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Rule match is not valid UTF-8");
    g_assert_cmpint(qauthz_list_insert_rule(allow, "\xff", QAUTHZ_LIST_POLICY_DENY,
                                            QAUTHZ_LIST_FORMAT_EXACT, 0, &error), ==, -1);
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Rule match is not valid UTF-8");
}

/* Replaces PATH's content through a rename, as editors and deployment tools do. */
static void replace_file(const char *path, const char *text)
{
    g_autoptr(GError) error = NULL;
    g_assert_true(g_file_set_contents(path, text, -1, &error));
}

static void test_list_file(void)
{
    g_autoptr(GError) error = NULL;
    g_autofree char *dir = g_dir_make_tmp("qio-authz-XXXXXX", &error);
    g_autofree char *path = g_build_filename(dir, "rules.json", NULL);
    replace_file(path, "{ \"policy\": \"deny\", \"rules\": ["
                       "  { \"match\": \"fred\", \"policy\": \"allow\", \"format\": \"exact\" },"
                       "  { \"match\": \"bob\", \"policy\": \"allow\" },"
                       "  { \"match\": \"dan*\", \"policy\": \"allow\", \"format\": \"glob\" } ] }");
    g_autoptr(QAuthZListFile) live = qauthz_list_file_new(path, TRUE, &error);
    g_autoptr(QAuthZListFile) fixed = qauthz_list_file_new(path, FALSE, &error);
    g_assert_no_error(error);
    g_assert_true(qauthz_is_allowed(QAUTHZ(live), "fred", &error));
    g_assert_true(qauthz_is_allowed(QAUTHZ(live), "danny", &error));
    g_assert_false(qauthz_is_allowed(QAUTHZ(live), "dave", &error));
    g_assert_no_error(error);

    /* An edit reaches the refreshing policy only. */
    replace_file(path, "{ \"policy\": \"allow\", \"rules\": [ { \"match\": \"fred\", \"policy\": \"deny\" } ] }");
    g_assert_false(qauthz_is_allowed(QAUTHZ(live), "fred", &error));
    g_assert_true(qauthz_is_allowed(QAUTHZ(live), "dave", &error));
    g_assert_true(qauthz_is_allowed(QAUTHZ(fixed), "fred", &error));
    g_assert_false(qauthz_is_allowed(QAUTHZ(fixed), "dave", &error));
    g_assert_no_error(error);

    /* A broken edit fails closed, with the reason; fixing the file recovers. */
    replace_file(path, "{ \"policy\": \"allow\", \"rules\": [ { \"match\": \"fred\" } ] }");
    g_assert_false(qauthz_is_allowed(QAUTHZ(live), "dave", &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, "Parameter 'rules[0].policy' is missing");
    g_assert_cmpint(g_unlink(path), ==, 0);
    g_autofree char *unreadable = g_strdup_printf("Unable to read '%s': No such file or directory", path);
    g_assert_false(qauthz_is_allowed(QAUTHZ(live), "dave", &error));
    qio_test_assert_error(error, QIO_ERROR_FAILED, unreadable);
    g_assert_null(qauthz_list_file_new(path, TRUE, &error));
    qio_test_assert_error(error, QIO_ERROR_FAILED, unreadable);
    replace_file(path, "{ \"policy\": \"allow\" }");
    g_assert_true(qauthz_is_allowed(QAUTHZ(live), "dave", &error));
    g_assert_no_error(error);

    replace_file(path, "[ \"fred\" ]");
    g_autofree char *not_object = g_strdup_printf("File '%s' must contain a JSON object", path);
    g_assert_null(qauthz_list_file_new(path, TRUE, &error));
    qio_test_assert_error(error, QIO_ERROR_INVALID_ARGUMENT, not_object);
    replace_file(path, "{ \"policy\": ");
    g_assert_null(qauthz_list_file_new(path, TRUE, &error));
    g_assert_error(error, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT);
    g_autofree char *unparsable = g_strdup_printf("Unable to parse '%s': ", path);
    g_assert_true(g_str_has_prefix(error->message, unparsable));
    g_clear_error(&error);

    /* A repeated key is refused as QEMU's JSON parser refuses it, at any depth: taking
     * the last one would let this file turn a deny into an allow. */
    const char *repeated[] = {
        "{ \"policy\": \"deny\", \"policy\": \"allow\" }",
        "{ \"rules\": [ { \"match\": \"fred\", \"policy\": \"deny\", \"policy\": \"allow\" } ] }",
    };
    for (gsize i = 0; i < G_N_ELEMENTS(repeated); i++) {
        replace_file(path, repeated[i]);
        g_assert_null(qauthz_list_file_new(path, TRUE, &error));
        g_assert_error(error, QIO_ERROR, QIO_ERROR_INVALID_ARGUMENT);
        g_assert_true(g_str_has_prefix(error->message, unparsable));
        g_assert_nonnull(strstr(error->message, "duplicate key \"policy\""));
        g_clear_error(&error);
    }

    /* A FIFO or a huge file is refused, at creation and by a refresh, without blocking
     * or reading it; the refreshing policy fails closed. */
    for (QIOTestHostile kind = QIO_TEST_FIFO; kind <= QIO_TEST_OVERSIZED; kind++) {
        g_autofree char *reason = qio_test_hostile_file(path, kind);
        g_autofree char *message = g_strdup_printf("Unable to read '%s': %s", path, reason);
        g_assert_null(qauthz_list_file_new(path, TRUE, &error));
        qio_test_assert_error(error, QIO_ERROR_FAILED, message);
        g_assert_false(qauthz_is_allowed(QAUTHZ(live), "dave", &error));
        qio_test_assert_error(error, QIO_ERROR_FAILED, message);
    }

    g_assert_cmpint(g_unlink(path), ==, 0);
    g_assert_cmpint(g_rmdir(dir), ==, 0);
}

static void test_misuse(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(QAuthZSimple) simple = qauthz_simple_new("fred", &error);
    qio_test_expect_critical("QAUTHZ_IS_LIST (auth)");
    g_assert_cmpint(qauthz_list_append_rule(QAUTHZ_LIST(simple), "x", QAUTHZ_LIST_POLICY_ALLOW,
                                            QAUTHZ_LIST_FORMAT_EXACT, &error), ==, -1);
    g_test_assert_expected_messages();
    g_autoptr(QAuthZList) list = qauthz_list_new(QAUTHZ_LIST_POLICY_DENY);
    qio_test_expect_critical("policy is a QAuthZListPolicy");
    g_assert_cmpint(qauthz_list_append_rule(list, "x", (QAuthZListPolicy)7,
                                            QAUTHZ_LIST_FORMAT_EXACT, &error), ==, -1);
    g_test_assert_expected_messages();
    qio_test_expect_critical("format is a QAuthZListFormat");
    g_assert_cmpint(qauthz_list_insert_rule(list, "x", QAUTHZ_LIST_POLICY_DENY,
                                            (QAuthZListFormat)-1, 0, &error), ==, -1);
    g_test_assert_expected_messages();
    qio_test_expect_critical("match != NULL");
    g_assert_cmpint(qauthz_list_delete_rule(list, NULL), ==, -1);
    g_test_assert_expected_messages();
    qio_test_expect_critical("identity != NULL");
    g_assert_false(qauthz_is_allowed(QAUTHZ(list), NULL, &error));
    g_test_assert_expected_messages();
    int not_authz[4] = { 0 };
    qio_test_expect_critical("authz is a valid QAuthZ");
    qauthz_unref((QAuthZ *)not_authz);
    g_test_assert_expected_messages();
    g_assert_no_error(error);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/authz/simple", test_simple);
    g_test_add_func("/authz/list", test_list);
    g_test_add_func("/authz/list-file", test_list_file);
    g_test_add_func("/authz/misuse", test_misuse);
    return g_test_run();
}
