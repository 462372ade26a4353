/* bftd's audit log file (runtime/runtime_audit.c): a torn tail is cut at
 * open and never appended to; orders that WAL replay executes again are
 * not written twice; damage before the tail refuses to start; a failed
 * write or sync is sticky, so the replica stops promising. With the
 * background syncer, a line is in the file (write(2)) when rt_audit_write
 * returns and is fdatasync'ed by the syncer thread; a failed background
 * sync is sticky too. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "app/app.h"
#include "runtime/runtime_audit.h"

static char g_dir[64];

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Feed order number k (client 1, client order id 1000 + k) as executed. */
static void order(struct rt_audit *a, uint64_t k)
{
    uint8_t op[BFT_OP_MAX], res[BFT_ORDER_RES_LEN];
    size_t len = bft_order_encode(op, 1000 + k, "AAPL", 1, 10, 100);
    res[0] = BFT_ORDER_OK;
    put_le64(res + 1, k);
    rt_audit_result(a, 1, k, op, len, res, sizeof res);
}

static char *slurp(size_t *len)
{
    char path[128];
    snprintf(path, sizeof path, "%s/audit.log", g_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    static char buf[1 << 16];
    *len = fread(buf, 1, sizeof buf - 1, f);
    buf[*len] = 0;
    fclose(f);
    return buf;
}

static void append_raw(const char *s)
{
    char path[128];
    snprintf(path, sizeof path, "%s/audit.log", g_dir);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    fputs(s, f);
    fclose(f);
}

/* Every line parses and chains to the one before; returns the count. */
static int check_chain(void)
{
    size_t len;
    char *buf = slurp(&len), *save = NULL;
    uint8_t prev[32] = {0};
    int n = 0;
    for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        struct bft_audit_entry e;
        char line[BFT_AUDIT_LINE_MAX + 2];
        snprintf(line, sizeof line, "%s\n", l);
        assert_int_equal(bft_audit_parse(line, &e), 0);
        if (n) assert_memory_equal(e.prev, prev, 32);
        assert_int_equal(e.order_seq, (uint64_t)n + 1);
        memcpy(prev, e.hash, 32);
        n++;
    }
    return n;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/bft-rtaudit-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void write_three(void)
{
    struct rt_audit a;
    char err[256];
    assert_int_equal(rt_audit_open(&a, g_dir, err, sizeof err), 0);
    for (uint64_t k = 1; k <= 3; k++)
        order(&a, k);
    assert_int_equal(rt_audit_sync(&a), 0);
    rt_audit_close(&a);
}

static void test_torn_tail_is_cut_not_appended_to(void **state)
{
    (void)state;
    write_three();
    append_raw("4 4 0 1 1004 AAPL buy 10 100 ab"); /* kill -9 mid-line */
    struct rt_audit a;
    char err[256];
    assert_int_equal(rt_audit_open(&a, g_dir, err, sizeof err), 0);
    assert_true(a.cut_bytes > 0);
    assert_int_equal(a.lines, 3);
    order(&a, 4);
    assert_int_equal(rt_audit_sync(&a), 0);
    rt_audit_close(&a);
    assert_int_equal(check_chain(), 4);
}

static void test_replayed_orders_are_not_written_twice(void **state)
{
    (void)state;
    write_three();
    struct rt_audit a;
    char err[256];
    assert_int_equal(rt_audit_open(&a, g_dir, err, sizeof err), 0);
    for (uint64_t k = 1; k <= 5; k++) /* replay re-executes 1..3, then 4, 5 are new */
        order(&a, k);
    assert_int_equal(rt_audit_sync(&a), 0);
    rt_audit_close(&a);
    assert_int_equal(check_chain(), 5);
}

static void test_damage_before_the_tail_refuses_to_start(void **state)
{
    (void)state;
    write_three();
    size_t len;
    char *buf = slurp(&len);
    char copy[1 << 16];
    memcpy(copy, buf, len + 1);
    char *second = strchr(copy, '\n') + 1;
    second[0] = second[0] == '2' ? '7' : '2'; /* tamper with line 2's order_seq */
    char path[128];
    snprintf(path, sizeof path, "%s/audit.log", g_dir);
    FILE *f = fopen(path, "w");
    fputs(copy, f);
    fclose(f);
    struct rt_audit a;
    char err[256];
    assert_int_equal(rt_audit_open(&a, g_dir, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a torn tail"));
    size_t after;
    slurp(&after);
    assert_int_equal(after, len); /* nothing cut */
}

/* Orders 1..k in a fresh log. */
static void write_orders(uint64_t k)
{
    struct rt_audit a;
    char err[256];
    assert_int_equal(rt_audit_open(&a, g_dir, err, sizeof err), 0);
    for (uint64_t i = 1; i <= k; i++)
        order(&a, i);
    assert_int_equal(rt_audit_sync(&a), 0);
    rt_audit_close(&a);
}

/* The log's line count, with line k (1-based; 0: the last) parsed into
 * *e. */
static uint64_t line_at(uint64_t k, struct bft_audit_entry *e)
{
    char path[128], line[BFT_AUDIT_LINE_MAX + 8], keep[BFT_AUDIT_LINE_MAX + 8] = "";
    snprintf(path, sizeof path, "%s/audit.log", g_dir);
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    uint64_t n = 0;
    while (fgets(line, sizeof line, f))
        if (++n == k || k == 0) memcpy(keep, line, sizeof keep);
    fclose(f);
    assert_int_equal(bft_audit_parse(keep, e), 0);
    return n;
}

/* A restart reads only the tail (runtime_audit.c, RT_AUDIT_TAIL_BYTES):
 * a log of ~2.4 MB whose second line is damaged opens, because the
 * damage is out of the tail's reach (bftctl audit finds it), and the
 * next order chains onto the last line. */
static void test_restart_reads_only_the_tail(void **state)
{
    (void)state;
    const uint64_t k = 12000; /* ~200 bytes a line: past twice the window */
    write_orders(k);
    char path[128];
    snprintf(path, sizeof path, "%s/audit.log", g_dir);
    FILE *f = fopen(path, "r+");
    assert_non_null(f);
    char line[BFT_AUDIT_LINE_MAX + 8];
    assert_non_null(fgets(line, sizeof line, f));
    long second = ftell(f);
    assert_int_equal(fseek(f, second, SEEK_SET), 0);
    assert_int_equal(fputc('9', f), '9'); /* line 2's order_seq: "2" -> "9" */
    fclose(f);
    struct bft_audit_entry before;
    struct rt_audit a;
    char err[256];
    assert_int_equal(rt_audit_open(&a, g_dir, err, sizeof err), 0);
    assert_int_equal(a.cut_bytes, 0);
    assert_int_equal(a.last_order, k);
    assert_true(a.lines > 0 && a.lines < k); /* the tail only */
    order(&a, k);                            /* replayed: already there */
    order(&a, k + 1);
    assert_int_equal(rt_audit_sync(&a), 0);
    rt_audit_close(&a);
    line_at(k, &before);
    struct bft_audit_entry last;
    assert_int_equal(line_at(0, &last), k + 1);
    assert_int_equal(last.order_seq, k + 1);
    assert_memory_equal(last.prev, before.hash, 32);
}

/* A torn region longer than the tail window (a power loss can leave a
 * long unsynced stretch): the window grows until it holds an intact line,
 * and only the torn region is cut. */
static void test_torn_region_longer_than_the_window(void **state)
{
    (void)state;
    const uint64_t k = 12000;
    write_orders(k);
    char path[128];
    snprintf(path, sizeof path, "%s/audit.log", g_dir);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    const size_t junk = (size_t)3 << 20; /* 3 MiB without a newline */
    for (size_t i = 0; i < junk; i++)
        fputc('\0', f);
    fclose(f);
    struct rt_audit a;
    char err[256];
    assert_int_equal(rt_audit_open(&a, g_dir, err, sizeof err), 0);
    assert_int_equal(a.cut_bytes, junk);
    assert_int_equal(a.last_order, k);
    order(&a, k + 1);
    assert_int_equal(rt_audit_sync(&a), 0);
    rt_audit_close(&a);
    struct bft_audit_entry last;
    assert_int_equal(line_at(0, &last), k + 1);
    assert_int_equal(last.order_seq, k + 1);
}

/* A power loss can leave zero-filled blocks after the last synced line.
 * They are cut like any torn tail, and the log still opens after the next
 * line is appended (before: the NULs were not counted, stayed in front of
 * that line, and the next restart refused to start: "not a torn tail"). */
static void test_zero_filled_tail_is_cut(void **state)
{
    (void)state;
    write_three();
    char path[128];
    snprintf(path, sizeof path, "%s/audit.log", g_dir);
    FILE *f = fopen(path, "a");
    assert_non_null(f);
    for (int i = 0; i < 4096; i++)
        fputc('\0', f);
    fclose(f);
    struct rt_audit a;
    char err[256];
    assert_int_equal(rt_audit_open(&a, g_dir, err, sizeof err), 0);
    assert_int_equal(a.cut_bytes, 4096);
    order(&a, 4);
    assert_int_equal(rt_audit_sync(&a), 0);
    rt_audit_close(&a);
    assert_int_equal(rt_audit_open(&a, g_dir, err, sizeof err), 0);
    assert_int_equal(a.cut_bytes, 0);
    rt_audit_close(&a);
    assert_int_equal(check_chain(), 4);
}

static void test_failed_sync_is_sticky(void **state)
{
    (void)state;
    char path[128];
    snprintf(path, sizeof path, "%s/audit.log", g_dir);
    assert_int_equal(symlink("/dev/full", path), 0);
    struct rt_audit a;
    char err[256];
    assert_int_equal(rt_audit_open(&a, g_dir, err, sizeof err), 0);
    assert_int_equal(rt_audit_sync(&a), 0); /* nothing written yet */
    order(&a, 1);
    assert_int_equal(rt_audit_sync(&a), -1);
    order(&a, 2);
    assert_int_equal(rt_audit_sync(&a), -1);
    rt_audit_close(&a);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = 0, .tv_nsec = ms * 1000000L};
    nanosleep(&ts, NULL);
}

static void test_syncer_writes_before_return_and_syncs_behind(void **state)
{
    (void)state;
    struct rt_audit a;
    char err[256];
    assert_int_equal(rt_audit_open(&a, g_dir, err, sizeof err), 0);
    assert_int_equal(rt_audit_start_syncer(&a), 0);
    order(&a, 1);
    order(&a, 2);
    assert_int_equal(rt_audit_write(&a), 0);
    /* In the file now, before any sync: kill -9 cannot lose it. */
    size_t len;
    char *text = slurp(&len);
    assert_non_null(text);
    assert_non_null(strstr(text, "\n"));
    assert_non_null(strchr(strchr(text, '\n') + 1, '\n')); /* two lines */
    /* The syncer runs fdatasync behind us; bounded wait (2 s). */
    for (int i = 0; i < 400 && atomic_load(&a.syncer.syncs) == 0; i++)
        sleep_ms(5);
    assert_true(atomic_load(&a.syncer.syncs) >= 1);
    assert_false(rt_syncer_failed(&a.syncer));
    order(&a, 3);
    assert_int_equal(rt_audit_write(&a), 0);
    rt_audit_close(&a);
    text = slurp(&len);
    assert_non_null(text);
    int lines = 0;
    for (size_t i = 0; i < len; i++)
        lines += text[i] == '\n';
    assert_int_equal(lines, 3);
}

/* fdatasync on a pipe fails (EINVAL): the syncer's failure is sticky and
 * reaches the owner through rt_audit_write, so the replica stops
 * promising even though the write itself succeeded. */
static void test_failed_background_sync_is_sticky(void **state)
{
    (void)state;
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    struct rt_syncer s;
    assert_int_equal(rt_syncer_start(&s, fds[1]), 0);
    rt_syncer_kick(&s);
    for (int i = 0; i < 400 && !rt_syncer_failed(&s); i++)
        sleep_ms(5);
    assert_true(rt_syncer_failed(&s));
    rt_syncer_kick(&s);
    assert_true(rt_syncer_failed(&s));
    assert_int_equal((int)atomic_load(&s.syncs), 0);
    rt_syncer_stop(&s);
    rt_syncer_stop(&s); /* idempotent */
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_torn_tail_is_cut_not_appended_to, setup, teardown),
        cmocka_unit_test_setup_teardown(test_replayed_orders_are_not_written_twice, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_damage_before_the_tail_refuses_to_start, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_restart_reads_only_the_tail, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_region_longer_than_the_window, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_filled_tail_is_cut, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_sync_is_sticky, setup, teardown),
        cmocka_unit_test_setup_teardown(test_syncer_writes_before_return_and_syncs_behind, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_failed_background_sync_is_sticky, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
