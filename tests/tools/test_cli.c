/* tools/cli.c: one option table drives parsing, range checks and --help. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tools/cli.h"

struct t_opts {
    const char *name;
    uint32_t count;
    uint16_t port;
    double rate;
    bool flag;
    int verbose;
    int fn_calls;
};

static int t_fn(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    (void)prog;
    (void)o;
    struct t_opts *t = ctx;
    if (strcmp(arg, "ok") != 0) return -1;
    t->fn_calls++;
    return 0;
}

#define OFF(f) offsetof(struct t_opts, f)
static const struct cli_opt k_opts[] = {
    {"name", 'n', "NAME", CLI_STR, OFF(name), 0, 0, NULL, "a name"},
    {"count", 0, "C", CLI_U32, OFF(count), 1, 16, NULL, "a count\nsecond line"},
    {"port", 0, "PORT", CLI_U16, OFF(port), 1024, 65000, NULL, "a port"},
    {"rate", 0, "P", CLI_DOUBLE, OFF(rate), 0, 1, NULL, "a rate"},
    {"flag", 0, NULL, CLI_FLAG, OFF(flag), 0, 0, NULL, "a flag"},
    {"verbose", 'v', NULL, CLI_COUNT, OFF(verbose), 0, 0, NULL, "louder"},
    {"fn", 0, "X", CLI_FN, 0, 0, 0, t_fn, "custom"},
};
static const struct cli_spec k_spec = {.prog = "t",
                                       .synopsis = "t [options]",
                                       .opts = k_opts,
                                       .n_opts = sizeof k_opts / sizeof *k_opts,
                                       .outro = "Exit codes: none.\n"};

static enum cli_result parse(struct t_opts *t, uint64_t *seen, int argc, const char **argv)
{
    memset(t, 0, sizeof *t);
    return cli_parse(&k_spec, argc, (char **)argv, t, seen);
}

static void test_every_kind_lands_in_its_field(void **state)
{
    (void)state;
    const char *argv[] = {"t",   "--name", "x",  "--count", "16",   "--port", "1024", "--rate",
                          "0.5", "--flag", "-v", "-v",      "--fn", "ok",     NULL};
    struct t_opts t;
    uint64_t seen;
    assert_int_equal(parse(&t, &seen, 14, argv), CLI_PARSED);
    assert_string_equal(t.name, "x");
    assert_int_equal(t.count, 16);
    assert_int_equal(t.port, 1024);
    assert_true(t.rate == 0.5);
    assert_true(t.flag);
    assert_int_equal(t.verbose, 2);
    assert_int_equal(t.fn_calls, 1);
    assert_true(cli_given(&k_spec, seen, "count"));
    assert_true(cli_given(&k_spec, seen, "fn"));
    assert_false(cli_given(&k_spec, seen, "nosuch"));
    const char *few[] = {"t", "-n", "y", NULL};
    assert_int_equal(parse(&t, &seen, 3, few), CLI_PARSED);
    assert_string_equal(t.name, "y");
    assert_false(cli_given(&k_spec, seen, "count"));
    assert_true(cli_given(&k_spec, seen, "name"));
}

static void test_out_of_range_and_junk_are_refused(void **state)
{
    (void)state;
    struct t_opts t;
    const char *bad[][3] = {{"t", "--count", "0"},   {"t", "--count", "17"},
                            {"t", "--count", "4.5"}, {"t", "--count", ""},
                            {"t", "--port", "80"},   {"t", "--rate", "1.5"},
                            {"t", "--rate", "nan"},  {"t", "--fn", "no"},
                            {"t", "--bogus", "1"},   {"t", "--flag", "operand"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        const char *argv[] = {bad[i][0], bad[i][1], bad[i][2], NULL};
        assert_int_equal(parse(&t, NULL, 3, argv), CLI_BAD);
    }
    const char *missing[] = {"t", "--count", NULL};
    assert_int_equal(parse(&t, NULL, 2, missing), CLI_BAD);
}

static void test_help_lists_every_option(void **state)
{
    (void)state;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    cli_usage(&k_spec, f);
    fclose(f);
    for (size_t i = 0; i < k_spec.n_opts; i++) {
        char flag[32];
        snprintf(flag, sizeof flag, "--%s", k_opts[i].name);
        assert_non_null(strstr(buf, flag));
    }
    assert_non_null(strstr(buf, "usage: t [options]"));
    assert_non_null(strstr(buf, "-v, --verbose"));
    assert_non_null(strstr(buf, "\n                      second line\n"));
    assert_non_null(strstr(buf, "--help"));
    assert_non_null(strstr(buf, "Exit codes: none."));
    free(buf);
}

static void test_uint_messages(void **state)
{
    (void)state;
    uint32_t v = 7;
    assert_int_equal(cli_uint("t", "id", "-1", 0, UINT32_MAX, &v), -1);
    assert_int_equal(v, 7);
    assert_int_equal(cli_uint("t", "id", "4294967295", 0, UINT32_MAX, &v), 0);
    assert_int_equal(v, UINT32_MAX);
    assert_int_equal(cli_uint("t", "id", "4294967296", 0, UINT32_MAX, &v), -1);
    double d = 0;
    assert_int_equal(cli_number("t", "x", "1e3", 0, 1000, &d), 0);
    assert_true(d == 1000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_kind_lands_in_its_field),
        cmocka_unit_test(test_out_of_range_and_junk_are_refused),
        cmocka_unit_test(test_help_lists_every_option),
        cmocka_unit_test(test_uint_messages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
