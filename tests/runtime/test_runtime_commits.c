/* bftd's commits.log (runtime/runtime_commits.c) and bftctl's reader of it
 * (tools/bftctl_check.c): lines reach the file whole, a torn tail is cut
 * before anything is appended, a short write (disk full) is undone, and
 * the reader skips a torn line glued to the next one instead of reading
 * it as a divergence. e2e_disk_full once reported "first divergence at seq
 * 302: replica 0 state 4dfc69ead0f07007... vs replica 3 state
 * 4dfc69ead0f07007...": a line cut by ENOSPC, with the next incarnation's
 * "303 ..." glued to it, read as a 64-hex state. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "tools/bftctl_check.h"
#include "runtime/runtime_commits.h"

static char g_dir[64];
static char g_path[256];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/bft-commits-XXXXXX");
    if (!mkdtemp(g_dir)) return -1;
    char sub[128];
    snprintf(sub, sizeof sub, "%s/replica-0", g_dir);
    if (mkdir(sub, 0700) != 0) return -1;
    snprintf(g_path, sizeof g_path, "%s/commits.log", sub);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(g_path);
    char sub[128];
    snprintf(sub, sizeof sub, "%s/replica-0", g_dir);
    rmdir(sub);
    rmdir(g_dir);
    return 0;
}

static bft_digest dg(uint8_t v)
{
    bft_digest d;
    memset(d.b, v, sizeof d.b);
    return d;
}

static void write_raw(const char *text)
{
    FILE *f = fopen(g_path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static long file_size(void)
{
    struct stat st;
    return stat(g_path, &st) == 0 ? (long)st.st_size : -1;
}

/* The reader's view of the file: entries as bftctl compares them. */
static size_t read_back(struct ctl_replica *r)
{
    memset(r, 0, sizeof *r);
    r->id = 0;
    assert_int_equal(ctl_read_commits(g_dir, r), 0);
    return r->n_log;
}

static void test_lines_written_whole_and_read_back(void **state)
{
    (void)state;
    unlink(g_path);
    struct rt_commits *c = calloc(1, sizeof *c);
    char err[256];
    assert_int_equal(rt_commits_open(c, g_path, err, sizeof err), 0);
    for (uint64_t s = 1; s <= 1000; s++) {
        bft_digest b = dg((uint8_t)s), st = dg((uint8_t)(s + 1));
        rt_commits_add(c, s, 0, &b, &st);
    }
    rt_commits_close(c);
    free(c);
    struct ctl_replica r;
    assert_int_equal(read_back(&r), 1000);
    assert_int_equal(r.log[999].seq, 1000);
    assert_int_equal(r.log[999].state[0], (uint8_t)1001);
    free(r.log);
}

/* A torn tail (kill -9 mid-write) is cut at open, so the next
 * incarnation's first line starts a line of its own. */
static void test_torn_tail_cut_before_appending(void **state)
{
    (void)state;
    char first[200];
    snprintf(first, sizeof first, "1 0 %064d %064d\n", 0, 0);
    char text[400];
    /* seq 2's state cut after 61 hex digits: "303" appended to it would
     * make 64 (the failure seen in e2e_disk_full). */
    snprintf(text, sizeof text, "%s2 0 %064d %061d", first, 0, 0);
    write_raw(text);
    struct rt_commits *c = calloc(1, sizeof *c);
    char err[256];
    assert_int_equal(rt_commits_open(c, g_path, err, sizeof err), 0);
    assert_int_equal(c->cut, strlen(text) - strlen(first));
    assert_int_equal(file_size(), (long)strlen(first));
    bft_digest b = dg(0xab), st = dg(0xcd);
    rt_commits_add(c, 303, 0, &b, &st);
    rt_commits_close(c);
    free(c);
    struct ctl_replica r;
    assert_int_equal(read_back(&r), 2);
    assert_int_equal(r.log[1].seq, 303);
    assert_int_equal(r.log[1].state[31], 0xcd);
    free(r.log);
}

/* The reader's side: a torn line with the next line glued to it, as an
 * older bftd left it, is skipped, not read as seq 302 with a state whose
 * last digits are "303". */
static void test_reader_skips_glued_line(void **state)
{
    (void)state;
    char text[600];
    snprintf(text, sizeof text, "302 0 %064d %061d303 0 %064d %064d\n304 0 %064d %064d\n", 0, 0, 0,
             0, 0, 0);
    write_raw(text);
    struct ctl_replica r;
    assert_int_equal(read_back(&r), 1);
    assert_int_equal(r.log[0].seq, 304);
    free(r.log);
    /* A last line without its newline is torn too. */
    snprintf(text, sizeof text, "1 0 %064d %064d\n2 0 %064d %064d", 0, 0, 0, 0);
    write_raw(text);
    assert_int_equal(read_back(&r), 1);
    free(r.log);
}

/* Disk full: a write that does not fit is undone whole (the file keeps
 * its whole lines), the lines are counted as lost, and writing goes on
 * once there is room. RLIMIT_FSIZE stands in for a full disk: write(2)
 * then stops short at the limit (SIGXFSZ ignored). */
static void test_short_write_undone(void **state)
{
    (void)state;
    unlink(g_path);
    struct rt_commits *c = calloc(1, sizeof *c);
    char err[256];
    assert_int_equal(rt_commits_open(c, g_path, err, sizeof err), 0);
    bft_digest b = dg(1), st = dg(2);
    rt_commits_add(c, 1, 0, &b, &st);
    rt_commits_flush(c);
    long one = file_size();
    assert_true(one > 0);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = (rlim_t)one + (rlim_t)one / 2; /* room for half a line */
    signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    rt_commits_add(c, 2, 0, &b, &st);
    rt_commits_add(c, 3, 0, &b, &st);
    rt_commits_flush(c);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    assert_int_equal(file_size(), one);
    assert_int_equal(c->lost, 2);
    rt_commits_add(c, 4, 0, &b, &st);
    rt_commits_close(c);
    free(c);
    struct ctl_replica r;
    assert_int_equal(read_back(&r), 2);
    assert_int_equal(r.log[0].seq, 1);
    assert_int_equal(r.log[1].seq, 4);
    free(r.log);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_written_whole_and_read_back),
        cmocka_unit_test(test_torn_tail_cut_before_appending),
        cmocka_unit_test(test_reader_skips_glued_line),
        cmocka_unit_test(test_short_write_undone),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
