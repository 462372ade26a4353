/* Table-driven option parsing: one struct cli_opt table per command drives
 * getopt_long, the value checks and the --help text (tools/cli.h). */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "tools/cli.h"

#define CLI_HELP_COL 22    /* help text starts in this column */
#define CLI_VAL_BASE 0x100 /* getopt_long value of opts[i]: above every char */

int cli_number(const char *prog, const char *flag, const char *arg, double lo, double hi,
               double *out)
{
    char *end;
    errno = 0;
    double v = arg ? strtod(arg, &end) : 0;
    /* !(v >= lo) also refuses NaN */
    if (!arg || !*arg || *end || errno || !(v >= lo) || v > hi) {
        fprintf(stderr, "%s: --%s needs a number in [%g, %g], got '%s'\n", prog, flag, lo, hi,
                arg ? arg : "");
        return -1;
    }
    *out = v;
    return 0;
}

int cli_uint(const char *prog, const char *flag, const char *arg, double lo, double hi,
             uint32_t *out)
{
    char *end;
    errno = 0;
    long long v = arg ? strtoll(arg, &end, 10) : 0;
    if (!arg || !*arg || *end || errno || (double)v < lo || (double)v > hi) {
        if (lo == 0 && hi >= UINT32_MAX)
            fprintf(stderr, "%s: --%s needs a non-negative integer, got '%s'\n", prog, flag,
                    arg ? arg : "");
        else
            fprintf(stderr, "%s: --%s needs an integer in [%g, %g], got '%s'\n", prog, flag, lo, hi,
                    arg ? arg : "");
        return -1;
    }
    *out = (uint32_t)v;
    return 0;
}

static int apply(const struct cli_spec *s, const struct cli_opt *o, void *ctx, const char *arg)
{
    char *t = (char *)ctx + o->off;
    uint32_t u;
    switch (o->kind) {
    case CLI_FLAG:
        *(bool *)t = true;
        return 0;
    case CLI_COUNT:
        (*(int *)t)++;
        return 0;
    case CLI_STR:
        *(const char **)t = arg;
        return 0;
    case CLI_U32:
        return cli_uint(s->prog, o->name, arg, o->lo, o->hi, (uint32_t *)t);
    case CLI_U16:
        if (cli_uint(s->prog, o->name, arg, o->lo, o->hi, &u) != 0) return -1;
        *(uint16_t *)t = (uint16_t)u;
        return 0;
    case CLI_DOUBLE:
        return cli_number(s->prog, o->name, arg, o->lo, o->hi, (double *)t);
    case CLI_FN:
        return o->fn(s->prog, o, ctx, arg);
    }
    return -1;
}

/* getopt_long's value -> index into s->opts, or -1. */
static int index_of(const struct cli_spec *s, int ch)
{
    if (ch >= CLI_VAL_BASE && (size_t)(ch - CLI_VAL_BASE) < s->n_opts) return ch - CLI_VAL_BASE;
    for (size_t i = 0; ch > 0 && ch < CLI_VAL_BASE && i < s->n_opts; i++)
        if (s->opts[i].short_name == ch) return (int)i;
    return -1;
}

/* The getopt_long tables for s: --help / -h first, then every option. */
static void build(const struct cli_spec *s, struct option *lo, char *shorts)
{
    size_t k = 0;
    shorts[k++] = 'h';
    for (size_t i = 0; i < s->n_opts; i++) {
        const struct cli_opt *o = &s->opts[i];
        lo[i] = (struct option){o->name, o->arg ? required_argument : no_argument, NULL,
                                CLI_VAL_BASE + (int)i};
        if (o->short_name) {
            shorts[k++] = o->short_name;
            if (o->arg) shorts[k++] = ':';
        }
    }
    shorts[k] = 0;
    lo[s->n_opts] = (struct option){"help", no_argument, NULL, 'h'};
    lo[s->n_opts + 1] = (struct option){0, 0, 0, 0};
}

enum cli_result cli_parse(const struct cli_spec *s, int argc, char **argv, void *ctx,
                          uint64_t *seen)
{
    struct option lo[CLI_MAX_OPTS + 2];
    char shorts[2 * CLI_MAX_OPTS + 2];
    assert(s->n_opts <= CLI_MAX_OPTS); /* our own tables, fixed at compile time */
    build(s, lo, shorts);
    uint64_t got = 0;
    opterr = 0; /* we print our own messages */
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, shorts, lo, NULL)) != -1) {
        if (ch == 'h') {
            cli_usage(s, stdout);
            return CLI_HELP;
        }
        int i = index_of(s, ch);
        if (i < 0) {
            fprintf(stderr, "%s: unknown or incomplete option '%s'\n", s->prog, argv[optind - 1]);
            cli_usage(s, stderr);
            return CLI_BAD;
        }
        got |= 1ull << i;
        if (apply(s, &s->opts[i], ctx, optarg) != 0) return CLI_BAD;
    }
    if (optind < argc) {
        fprintf(stderr, "%s: unexpected argument '%s'\n", s->prog, argv[optind]);
        return CLI_BAD;
    }
    if (seen) *seen = got;
    return CLI_PARSED;
}

bool cli_given(const struct cli_spec *s, uint64_t seen, const char *name)
{
    for (size_t i = 0; i < s->n_opts; i++)
        if (!strcmp(s->opts[i].name, name)) return (seen >> i) & 1;
    return false;
}

/* One option: "  -v, --verbose", then its help, continuation lines under
 * the first. */
static void usage_opt(FILE *f, const char *sname, const char *name, const char *arg,
                      const char *help)
{
    int n = fprintf(f, "  %s%s--%s%s%s", sname, *sname ? ", " : "", name, arg ? " " : "",
                    arg ? arg : "");
    int pad = n < CLI_HELP_COL - 1 ? CLI_HELP_COL - n : 2;
    for (const char *line = help; line && *line;) {
        const char *nl = strchr(line, '\n');
        int len = nl ? (int)(nl - line) : (int)strlen(line);
        fprintf(f, "%*s%.*s\n", pad, "", len, line);
        pad = CLI_HELP_COL;
        line = nl ? nl + 1 : NULL;
    }
    if (!help || !*help) fputc('\n', f);
}

void cli_usage(const struct cli_spec *s, FILE *f)
{
    fprintf(f, "usage: %s\n", s->synopsis);
    if (s->intro) fputs(s->intro, f);
    for (size_t i = 0; i < s->n_opts; i++) {
        const struct cli_opt *o = &s->opts[i];
        char sname[3] = {0};
        if (o->short_name) sname[0] = '-', sname[1] = o->short_name;
        usage_opt(f, sname, o->name, o->arg, o->help);
    }
    usage_opt(f, "-h", "help", NULL, "this text");
    if (s->outro) fputs(s->outro, f);
}
