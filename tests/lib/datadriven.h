/* tests/lib/datadriven.h: a small runner for data-driven test files, in
 * the manner of etcd-io/raft's datadriven interaction tests
 * (docs/style.md #10). A file holds test cases:
 *
 *     # comments and blank lines between cases are kept as they are
 *     command arg key=value ...
 *     another command
 *     ----
 *     expected output, one or more lines
 *     <blank line or end of file>
 *
 * Every command line of a case is given to the handler in order; the
 * case's output is what they returned, concatenated ("ok" if empty).
 * A mismatch prints file:line and a unified-style diff. In rewrite mode
 * the expected outputs are replaced in place by the actual ones (review
 * them before committing). Output never contains blank lines: they would
 * end the case. */
#ifndef BFT_TESTS_DATADRIVEN_H
#define BFT_TESTS_DATADRIVEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#define DD_ARGS_MAX 16         /* arguments on one command line */
#define DD_LINE_MAX 512        /* characters in one line of a test file */
#define DD_FILE_MAX (1u << 20) /* bytes in one test file */

struct dd_cmd {
    const char *file;
    int line;                     /* 1-based line of the command */
    const char *name;             /* the first word */
    int argc;                     /* arguments after the name */
    const char *key[DD_ARGS_MAX]; /* NULL for a positional argument */
    const char *val[DD_ARGS_MAX];
};

/* The value of key=value, or NULL. */
const char *dd_arg(const struct dd_cmd *c, const char *key);
/* The i-th positional argument (no '='), or NULL. */
const char *dd_pos(const struct dd_cmd *c, int i);

/* Run one command; append its output to *out (grow with dd_appendf).
 * Returning false marks the case failed even if the output matches (a
 * command error is also written to the output, so it shows in the
 * diff). */
struct dd_buf {
    char *p;
    size_t len, cap;
};
void dd_appendf(struct dd_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dd_append(struct dd_buf *b, const char *s);
typedef bool (*dd_handler)(void *ctx, const struct dd_cmd *cmd, struct dd_buf *out);

struct dd_result {
    int cases, failed;
    bool io_error; /* the file could not be read, parsed or rewritten */
};

/* Run every case of `path`. Messages (mismatches, parse errors) go to err.
 * rewrite: replace the expected outputs in the file. */
void dd_run_file(const char *path, bool rewrite, dd_handler h, void *ctx, FILE *err,
                 struct dd_result *res);
/* True if the environment asks for rewriting (BFT_REWRITE=1). */
bool dd_rewrite_from_env(void);

#endif
