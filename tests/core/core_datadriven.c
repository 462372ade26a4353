/* tests/core/core_datadriven.c: runs tests/core/<protocol>/testdata
 * against the core fixture (tests/lib/core_fixture.h) with the
 * data-driven runner (tests/lib/datadriven.h). The command language is
 * in tests/core/README.md.
 *
 *   core_datadriven [--rewrite] FILE_OR_DIR...
 *
 * A directory runs its *.txt files in name order; each file starts with
 * no cluster (its first case says `init`). Exit 0 if every case of every
 * file matched, 1 if one did not, 2 on a usage or file error. */
#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tests/core/dd_commands.h"

#define DD_FILES_MAX 256

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_one(const char *path, bool rewrite, int *failed)
{
    struct dd_ctx ctx = {0};
    struct dd_result res;
    dd_run_file(path, rewrite, dd_commands_run, &ctx, stderr, &res);
    dd_ctx_reset(&ctx);
    printf("%s: %d cases, %d failed%s\n", path, res.cases, res.failed,
           rewrite ? " (rewritten)" : "");
    *failed += res.failed;
    return res.io_error ? 2 : 0;
}

static int run_dir(const char *dir, bool rewrite, int *failed)
{
    DIR *d = opendir(dir);
    if (!d) {
        fprintf(stderr, "%s: cannot open directory\n", dir);
        return 2;
    }
    char *names[DD_FILES_MAX];
    int n = 0, rv = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".txt") != 0) continue;
        if (n == DD_FILES_MAX) {
            fprintf(stderr, "%s: more than %d test files\n", dir, DD_FILES_MAX);
            rv = 2;
            break;
        }
        names[n] = malloc(strlen(dir) + len + 2);
        if (!names[n]) break;
        sprintf(names[n], "%s/%s", dir, e->d_name);
        n++;
    }
    closedir(d);
    if (n == 0 && rv == 0) {
        fprintf(stderr, "%s: no *.txt test files\n", dir);
        rv = 2;
    }
    qsort(names, (size_t)n, sizeof names[0], by_name);
    for (int i = 0; i < n; i++) {
        if (run_one(names[i], rewrite, failed) != 0) rv = 2;
        free(names[i]);
    }
    return rv;
}

int main(int argc, char **argv)
{
    bool rewrite = dd_rewrite_from_env();
    int rv = 0, failed = 0, paths = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rewrite") == 0) {
            rewrite = true;
            continue;
        }
        if (argv[i][0] == '-') {
            fprintf(stderr, "usage: %s [--rewrite] FILE_OR_DIR...\n", argv[0]);
            return 2;
        }
        paths++;
        struct stat st;
        int r = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode) ? run_dir(argv[i], rewrite, &failed)
                                                               : run_one(argv[i], rewrite, &failed);
        if (r) rv = r;
    }
    if (paths == 0) {
        fprintf(stderr, "usage: %s [--rewrite] FILE_OR_DIR...\n", argv[0]);
        return 2;
    }
    if (rv) return rv;
    return failed ? 1 : 0;
}
