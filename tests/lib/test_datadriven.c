/* Unit tests of the data-driven runner (tests/lib/datadriven.h): cases
 * that match, a mismatch reported with file:line and a diff, rewrite mode,
 * malformed files and argument parsing. The handler echoes its command. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tests/lib/datadriven.h"

/* echo a b k=v -> "a|b|k=v"; fail -> an error and a failed case. */
static bool echo(void *ctx, const struct dd_cmd *c, struct dd_buf *out)
{
    int *calls = ctx;
    (*calls)++;
    if (strcmp(c->name, "fail") == 0) {
        dd_append(out, "error: asked to fail\n");
        return false;
    }
    if (strcmp(c->name, "quiet") == 0) return true;
    for (int i = 0; i < c->argc; i++)
        dd_appendf(out, "%s%s%s%s", i ? "|" : "", c->key[i] ? c->key[i] : "", c->key[i] ? "=" : "",
                   c->val[i]);
    dd_append(out, "\n");
    return true;
}

static char *write_tmp(const char *text)
{
    char *path = strdup("/tmp/dd_testXXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    return path;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

static void run(const char *path, bool rewrite, struct dd_result *res, char **err_text)
{
    int calls = 0;
    char *errp = NULL;
    size_t errn = 0;
    FILE *err = open_memstream(&errp, &errn);
    dd_run_file(path, rewrite, echo, &calls, err, res);
    fclose(err);
    *err_text = errp;
}

static void test_matching_cases_pass(void **state)
{
    (void)state;
    char *path = write_tmp("# a comment\n"
                           "echo a k=v\n"
                           "----\n"
                           "a|k=v\n"
                           "\n"
                           "quiet\n"
                           "echo b\n"
                           "----\n"
                           "b\n");
    struct dd_result res;
    char *err;
    run(path, false, &res, &err);
    assert_int_equal(res.cases, 2);
    assert_int_equal(res.failed, 0);
    assert_false(res.io_error);
    assert_string_equal(err, "");
    free(err);
    unlink(path);
    free(path);
}

static void test_mismatch_reports_line_and_diff(void **state)
{
    (void)state;
    char *path = write_tmp("echo x\n----\nx\n\necho one two\n----\none|three\n");
    struct dd_result res;
    char *err;
    run(path, false, &res, &err);
    assert_int_equal(res.cases, 2);
    assert_int_equal(res.failed, 1);
    char want[256];
    snprintf(want, sizeof want, "%s:5: output differs", path);
    assert_non_null(strstr(err, want));
    assert_non_null(strstr(err, "-one|three\n"));
    assert_non_null(strstr(err, "+one|two\n"));
    free(err);
    unlink(path);
    free(path);
}

static void test_empty_output_is_ok_and_errors_fail(void **state)
{
    (void)state;
    char *path = write_tmp("quiet\n----\nok\n\nfail\n----\nerror: asked to fail\n");
    struct dd_result res;
    char *err;
    run(path, false, &res, &err);
    assert_int_equal(res.cases, 2);
    assert_int_equal(res.failed, 1); /* the output matches, the command failed */
    free(err);
    unlink(path);
    free(path);
}

static void test_rewrite_replaces_expected_only(void **state)
{
    (void)state;
    char *path = write_tmp("# keep me\n"
                           "echo new\n"
                           "----\n"
                           "old\n"
                           "stale\n"
                           "\n"
                           "# and me\n"
                           "echo b c\n"
                           "----\n");
    struct dd_result res;
    char *err;
    run(path, true, &res, &err);
    assert_false(res.io_error);
    free(err);
    char *text = slurp(path);
    assert_string_equal(text, "# keep me\n"
                              "echo new\n"
                              "----\n"
                              "new\n"
                              "\n"
                              "# and me\n"
                              "echo b c\n"
                              "----\n"
                              "b|c\n");
    free(text);
    run(path, false, &res, &err);
    assert_int_equal(res.failed, 0);
    free(err);
    unlink(path);
    free(path);
}

static void test_case_without_separator_is_an_error(void **state)
{
    (void)state;
    char *path = write_tmp("echo a\nb\n");
    struct dd_result res;
    char *err;
    run(path, false, &res, &err);
    assert_true(res.io_error);
    assert_non_null(strstr(err, ":1: a case needs a ---- line"));
    free(err);
    unlink(path);
    free(path);
    run("/nonexistent/dd.txt", false, &res, &err);
    assert_true(res.io_error);
    free(err);
}

static void test_args(void **state)
{
    (void)state;
    struct dd_cmd c = {.name = "x", .argc = 3};
    c.key[0] = NULL, c.val[0] = "0->1";
    c.key[1] = "count", c.val[1] = "2";
    c.key[2] = NULL, c.val[2] = "more";
    assert_string_equal(dd_pos(&c, 0), "0->1");
    assert_string_equal(dd_pos(&c, 1), "more");
    assert_null(dd_pos(&c, 2));
    assert_string_equal(dd_arg(&c, "count"), "2");
    assert_null(dd_arg(&c, "missing"));
}

static void test_rewrite_env(void **state)
{
    (void)state;
    unsetenv("BFT_REWRITE");
    assert_false(dd_rewrite_from_env());
    setenv("BFT_REWRITE", "0", 1);
    assert_false(dd_rewrite_from_env());
    setenv("BFT_REWRITE", "1", 1);
    assert_true(dd_rewrite_from_env());
    unsetenv("BFT_REWRITE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matching_cases_pass),
        cmocka_unit_test(test_mismatch_reports_line_and_diff),
        cmocka_unit_test(test_empty_output_is_ok_and_errors_fail),
        cmocka_unit_test(test_rewrite_replaces_expected_only),
        cmocka_unit_test(test_case_without_separator_is_an_error),
        cmocka_unit_test(test_args),
        cmocka_unit_test(test_rewrite_env),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
