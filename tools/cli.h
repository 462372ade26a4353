/* Table-driven command-line options for every tool (bftd, bftctl and its
 * commands). One table per command names each option, its argument, where
 * the value goes and its help line; the same table drives getopt_long and
 * the --help text, so the two cannot drift apart (docs/design.md
 * "Command-line contract"). */
#ifndef BFT_TOOLS_CLI_H
#define BFT_TOOLS_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_MAX_OPTS 48 /* options in one table (a bitmask records which were given) */

enum cli_kind {
    CLI_FLAG,   /* bool at off: set to true; no argument */
    CLI_COUNT,  /* int at off: incremented; no argument */
    CLI_STR,    /* const char * at off: the argument itself */
    CLI_U32,    /* uint32_t at off: an integer in [lo, hi] */
    CLI_U16,    /* uint16_t at off: an integer in [lo, hi] */
    CLI_DOUBLE, /* double at off: a number in [lo, hi] */
    CLI_FN,     /* fn(ctx, arg): anything else */
};

struct cli_opt;
/* Parse one argument into ctx (o->off may say where); 0, or -1 after
 * printing a message that starts with prog and names the flag and the
 * input. */
typedef int (*cli_fn)(const char *prog, const struct cli_opt *o, void *ctx, const char *arg);

struct cli_opt {
    const char *name; /* long name without "--" */
    char short_name;  /* 0: none */
    const char *arg;  /* argument in the help text; NULL: takes none */
    enum cli_kind kind;
    size_t off; /* offsetof the target in ctx */
    double lo, hi;
    cli_fn fn;
    const char *help; /* '\n' separates lines */
};

struct cli_spec {
    const char *prog;     /* "bftctl cluster": prefixes every message */
    const char *synopsis; /* after "usage: " */
    const char *intro;    /* text between the synopsis and the options, or NULL */
    const struct cli_opt *opts;
    size_t n_opts;
    const char *outro; /* text after the options (exit codes), or NULL */
};

enum cli_result {
    CLI_PARSED = 0, /* every option parsed, no operand left */
    CLI_HELP,       /* --help: the help is on stdout */
    CLI_BAD,        /* a message is on stderr */
};

/* Parse argv[1..] (argv[0] is the command) into ctx. seen (may be NULL)
 * gets bit i for every opts[i] given. */
enum cli_result cli_parse(const struct cli_spec *s, int argc, char **argv, void *ctx,
                          uint64_t *seen);
/* Was the option named `name` given? */
bool cli_given(const struct cli_spec *s, uint64_t seen, const char *name);
void cli_usage(const struct cli_spec *s, FILE *f);
/* "PROG: --FLAG needs an integer in [lo, hi], got 'ARG'" and friends: the
 * number parsers CLI_U32/CLI_DOUBLE use, for CLI_FN parsers too. */
int cli_uint(const char *prog, const char *flag, const char *arg, double lo, double hi,
             uint32_t *out);
int cli_number(const char *prog, const char *flag, const char *arg, double lo, double hi,
               double *out);

#endif
