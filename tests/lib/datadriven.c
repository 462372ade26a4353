/* tests/lib/datadriven.c: the data-driven test file runner (see
 * datadriven.h). The file is read whole (bounded by DD_FILE_MAX), split
 * into lines, and walked once: text outside the expected outputs is kept
 * verbatim for rewrite mode. */
#include "tests/lib/datadriven.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ---- output buffer ---- */

void dd_append(struct dd_buf *b, const char *s)
{
    size_t n = strlen(s);
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) abort(); /* a test harness out of memory cannot report anything useful */
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, s, n + 1);
    b->len += n;
}

void dd_appendf(struct dd_buf *b, const char *fmt, ...)
{
    char line[DD_LINE_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    dd_append(b, line);
}

const char *dd_arg(const struct dd_cmd *c, const char *key)
{
    for (int i = 0; i < c->argc; i++)
        if (c->key[i] && strcmp(c->key[i], key) == 0) return c->val[i];
    return NULL;
}

const char *dd_pos(const struct dd_cmd *c, int i)
{
    for (int k = 0; k < c->argc; k++)
        if (!c->key[k] && i-- == 0) return c->val[k];
    return NULL;
}

bool dd_rewrite_from_env(void)
{
    const char *v = getenv("BFT_REWRITE");
    return v && strcmp(v, "0") != 0 && *v;
}

/* ---- reading the file ---- */

struct dd_file {
    char *text;  /* the whole file, lines split in place */
    char **line; /* line[i]: i-th line without '\n' */
    int n_lines;
};

static bool file_load(const char *path, struct dd_file *f, FILE *err)
{
    memset(f, 0, sizeof *f);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(err, "%s: cannot open\n", path);
        return false;
    }
    f->text = malloc(DD_FILE_MAX + 1);
    size_t len = f->text ? fread(f->text, 1, DD_FILE_MAX + 1, fp) : 0;
    fclose(fp);
    if (!f->text || len > DD_FILE_MAX) {
        fprintf(err, "%s: larger than %u bytes or out of memory\n", path, DD_FILE_MAX);
        return false;
    }
    f->text[len] = '\0';
    size_t max_lines = 1;
    for (size_t i = 0; i < len; i++)
        max_lines += f->text[i] == '\n';
    f->line = calloc(max_lines, sizeof *f->line);
    if (!f->line) return false;
    char *p = f->text, *end = f->text + len;
    while (p < end) {
        f->line[f->n_lines++] = p;
        char *nl = strchr(p, '\n');
        if (!nl) break;
        *nl = '\0';
        p = nl + 1;
    }
    return true;
}

static void file_free(struct dd_file *f)
{
    free(f->text);
    free(f->line);
}

/* Split a command line into name and arguments (in place). */
static bool parse_cmd(char *s, struct dd_cmd *c)
{
    c->argc = 0;
    c->name = NULL;
    for (char *tok = strtok(s, " \t"); tok; tok = strtok(NULL, " \t")) {
        if (!c->name) {
            c->name = tok;
            continue;
        }
        if (c->argc == DD_ARGS_MAX) return false;
        char *eq = strchr(tok, '=');
        if (eq) {
            *eq = '\0';
            c->key[c->argc] = tok;
            c->val[c->argc] = eq + 1;
        } else {
            c->key[c->argc] = NULL;
            c->val[c->argc] = tok;
        }
        c->argc++;
    }
    return c->name != NULL;
}

/* ---- the diff ---- */

static int split_lines(char *s, char **out, int max)
{
    int n = 0;
    while (*s && n < max) {
        out[n++] = s;
        char *nl = strchr(s, '\n');
        if (!nl) break;
        *nl = '\0';
        s = nl + 1;
    }
    return n;
}

#define DD_DIFF_LINES 4096
#define DD_CONTEXT 2

/* Unified-style: common head and tail trimmed, the differing middle shown
 * as - expected / + actual with a little context. */
static void print_diff(FILE *err, const char *expected, const char *actual)
{
    char *e = strdup(expected), *a = strdup(actual);
    char **el = calloc(DD_DIFF_LINES, sizeof *el), **al = calloc(DD_DIFF_LINES, sizeof *al);
    if (!e || !a || !el || !al) goto out;
    int ne = split_lines(e, el, DD_DIFF_LINES), na = split_lines(a, al, DD_DIFF_LINES);
    int head = 0;
    while (head < ne && head < na && strcmp(el[head], al[head]) == 0)
        head++;
    int tail = 0;
    while (tail < ne - head && tail < na - head &&
           strcmp(el[ne - 1 - tail], al[na - 1 - tail]) == 0)
        tail++;
    int from = head > DD_CONTEXT ? head - DD_CONTEXT : 0;
    fprintf(err, "@@ -%d,%d +%d,%d @@\n", head + 1, ne - head - tail, head + 1, na - head - tail);
    for (int i = from; i < head; i++)
        fprintf(err, " %s\n", el[i]);
    for (int i = head; i < ne - tail; i++)
        fprintf(err, "-%s\n", el[i]);
    for (int i = head; i < na - tail; i++)
        fprintf(err, "+%s\n", al[i]);
    for (int i = ne - tail; i < ne && i < ne - tail + DD_CONTEXT; i++)
        fprintf(err, " %s\n", el[i]);
out:
    free(e), free(a), free(el), free(al);
}

/* ---- running ---- */

struct dd_run {
    const char *path;
    struct dd_file f;
    dd_handler h;
    void *ctx;
    FILE *err;
    struct dd_buf rewritten;
    struct dd_result *res;
};

/* Run the commands of lines [first, sep) and compare with [sep+1, end). */
static void run_case(struct dd_run *r, int first, int sep, int end)
{
    struct dd_buf out = {0};
    bool ok = true;
    for (int i = first; i < sep; i++) {
        char copy[DD_LINE_MAX];
        snprintf(copy, sizeof copy, "%s", r->f.line[i]);
        struct dd_cmd c = {.file = r->path, .line = i + 1};
        if (!parse_cmd(copy, &c)) {
            dd_appendf(&out, "error: cannot parse line %d (at most %d arguments)\n", i + 1,
                       DD_ARGS_MAX);
            ok = false;
            continue;
        }
        if (!r->h(r->ctx, &c, &out)) ok = false;
    }
    if (out.len == 0) dd_append(&out, "ok\n");
    if (out.p[out.len - 1] != '\n') dd_append(&out, "\n");
    struct dd_buf want = {0};
    for (int i = sep + 1; i < end; i++)
        dd_appendf(&want, "%s\n", r->f.line[i]);
    if (!want.p) dd_append(&want, "");
    r->res->cases++;
    if (strcmp(want.p, out.p) != 0 && !r->rewritten.p) {
        fprintf(r->err, "%s:%d: output differs\n", r->path, first + 1);
        print_diff(r->err, want.p, out.p);
        ok = false;
    }
    if (!ok) r->res->failed++;
    if (!ok && r->rewritten.p)
        fprintf(r->err, "%s:%d: a command failed (see its output)\n", r->path, first + 1);
    if (r->rewritten.p) dd_append(&r->rewritten, out.p);
    free(out.p);
    free(want.p);
}

static void keep(struct dd_run *r, int i)
{
    if (r->rewritten.p) dd_appendf(&r->rewritten, "%s\n", r->f.line[i]);
}

static bool rewrite_file(const char *path, const struct dd_buf *b)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return false;
    bool ok = fwrite(b->p, 1, b->len, fp) == b->len;
    return fclose(fp) == 0 && ok;
}

void dd_run_file(const char *path, bool rewrite, dd_handler h, void *ctx, FILE *err,
                 struct dd_result *res)
{
    memset(res, 0, sizeof *res);
    struct dd_run r = {.path = path, .h = h, .ctx = ctx, .err = err, .res = res};
    if (!file_load(path, &r.f, err)) {
        res->io_error = true;
        file_free(&r.f);
        return;
    }
    if (rewrite) dd_append(&r.rewritten, "");
    int i = 0;
    while (i < r.f.n_lines) {
        const char *l = r.f.line[i];
        if (l[0] == '\0' || l[0] == '#') {
            keep(&r, i++);
            continue;
        }
        int first = i, sep = i;
        while (sep < r.f.n_lines && strcmp(r.f.line[sep], "----") != 0 && r.f.line[sep][0])
            sep++;
        if (sep == r.f.n_lines || strcmp(r.f.line[sep], "----") != 0) {
            fprintf(err, "%s:%d: a case needs a ---- line after its commands\n", path, first + 1);
            res->io_error = true;
            break;
        }
        for (int k = first; k <= sep; k++)
            keep(&r, k);
        int end = sep + 1;
        while (end < r.f.n_lines && r.f.line[end][0])
            end++;
        run_case(&r, first, sep, end);
        i = end;
    }
    if (rewrite && !res->io_error && !rewrite_file(path, &r.rewritten)) {
        fprintf(err, "%s: cannot rewrite\n", path);
        res->io_error = true;
    }
    free(r.rewritten.p);
    file_free(&r.f);
}
