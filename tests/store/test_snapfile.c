/* Snapshot files (store/snapfile.c, docs/storage.md): round trip, the newest
 * two kept, a corrupt / truncated / mislabelled newest file skipped in
 * favour of the previous one, and a crash injected at every step of the
 * atomic write (bft_storage_fault_hook): afterwards the loader finds only
 * intact snapshots, the new one exactly when its rename happened, and the
 * next write cleans up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "wire/wire.h"

struct fixture {
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test_snapfile.XXXXXX");
    if (!mkdtemp(fx->dir)) return -1;
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    bft_storage_fault_hook(NULL, NULL);
    DIR *d = opendir(fx->dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", fx->dir, e->d_name);
        if (e->d_name[0] != '.') unlink(p);
    }
    if (d) closedir(d);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

/* A payload and digest that identify seq. */
static void make(uint64_t seq, uint8_t *buf, size_t len, bft_digest *d)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(seq * 31 + i);
    memset(d->b, (int)(seq & 0xff), 32);
}

static void write_snap_pinned(const char *dir, uint64_t seq, size_t len, uint64_t pin)
{
    uint8_t *buf = malloc(len ? len : 1);
    bft_digest d;
    make(seq, buf, len, &d);
    char err[256];
    assert_int_equal(bft_snapfile_write(dir, seq, &d, buf, len, pin, err, sizeof err), BFT_E_OK);
    free(buf);
}

static void write_snap(const char *dir, uint64_t seq, size_t len)
{
    write_snap_pinned(dir, seq, len, 0);
}

static void check_snap(const struct bft_snapfile *f, uint64_t seq, size_t len)
{
    assert_int_equal(f->seq, seq);
    assert_int_equal(f->len, len);
    uint8_t *buf = malloc(len ? len : 1);
    bft_digest d;
    make(seq, buf, len, &d);
    assert_memory_equal(f->buf, buf, len);
    assert_memory_equal(f->state.b, d.b, 32);
    free(buf);
}

static void path_of(const char *dir, uint64_t seq, char *out, size_t cap)
{
    snprintf(out, cap, "%s/snap-%020" PRIu64, dir, seq);
}

static int count_files(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        k += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return k;
}

/* Load and return how many; out must be freed. */
static int load(const char *dir, struct bft_snapfile out[2], char *note, size_t cap)
{
    return bft_snapfile_load(dir, out, 2, note, cap);
}

static void free2(struct bft_snapfile *f, int k)
{
    for (int i = 0; i < k; i++)
        bft_snapfile_free(&f[i]);
}

static void test_round_trip(void **state)
{
    struct fixture *fx = *state;
    write_snap(fx->dir, 64, 1000);
    char p[256], err[256];
    path_of(fx->dir, 64, p, sizeof p);
    struct bft_snapfile f;
    assert_int_equal(bft_snapfile_read(p, &f, err, sizeof err), BFT_E_OK);
    check_snap(&f, 64, 1000);
    bft_snapfile_free(&f);
    /* The header layout of bft.h, by hand. */
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, BFT_SNAPFILE_HDR + 1000 + 32);
}

static void test_empty_payload(void **state)
{
    struct fixture *fx = *state;
    write_snap(fx->dir, 5, 0);
    struct bft_snapfile f[2];
    char note[512];
    assert_int_equal(load(fx->dir, f, note, sizeof note), 1);
    check_snap(&f[0], 5, 0);
    free2(f, 1);
}

static void test_keeps_newest_two(void **state)
{
    struct fixture *fx = *state;
    write_snap(fx->dir, 10, 100);
    write_snap(fx->dir, 20, 200);
    write_snap(fx->dir, 30, 300);
    assert_int_equal(count_files(fx->dir, "snap-"), 2);
    struct bft_snapfile f[2];
    char note[512];
    assert_int_equal(load(fx->dir, f, note, sizeof note), 2);
    check_snap(&f[0], 30, 300);
    check_snap(&f[1], 20, 200);
    assert_string_equal(note, "");
    free2(f, 2);
}

/* The snapshot the active WAL is based on (pin) survives newer writes: the
 * WAL holds only what lies above it. Before the pin, two snapshots written
 * between rotations deleted it, and a restart found no base (e2e_storage:
 * "restored no snapshot"; with every replica so, no peer could help). */
static void test_keeps_the_wal_base(void **state)
{
    struct fixture *fx = *state;
    write_snap(fx->dir, 10, 100);
    write_snap_pinned(fx->dir, 20, 200, 10);
    write_snap_pinned(fx->dir, 30, 300, 10);
    write_snap_pinned(fx->dir, 40, 400, 10);
    assert_int_equal(count_files(fx->dir, "snap-"), 2);
    struct bft_snapfile f[2];
    char note[512];
    assert_int_equal(load(fx->dir, f, note, sizeof note), 2);
    check_snap(&f[0], 40, 400);
    check_snap(&f[1], 10, 100);
    free2(f, 2);
    /* A pin that is gone, or is the newest, changes nothing. */
    write_snap_pinned(fx->dir, 50, 500, 99);
    assert_int_equal(load(fx->dir, f, note, sizeof note), 2);
    check_snap(&f[0], 50, 500);
    check_snap(&f[1], 40, 400);
    free2(f, 2);
}

static void flip_byte(const char *path, off_t at)
{
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b;
    assert_int_equal(pread(fd, &b, 1, at), 1);
    b ^= 0x40;
    assert_int_equal(pwrite(fd, &b, 1, at), 1);
    close(fd);
}

static void test_corrupt_newest_falls_back(void **state)
{
    struct fixture *fx = *state;
    write_snap(fx->dir, 10, 500);
    write_snap(fx->dir, 20, 500);
    char p[256];
    path_of(fx->dir, 20, p, sizeof p);
    flip_byte(p, BFT_SNAPFILE_HDR + 250); /* a payload byte */
    struct bft_snapfile f[2];
    char note[512];
    assert_int_equal(load(fx->dir, f, note, sizeof note), 1);
    check_snap(&f[0], 10, 500);
    assert_non_null(strstr(note, "checksum"));
    free2(f, 1);
    /* The digest in the header is covered too. */
    write_snap(fx->dir, 30, 500);
    path_of(fx->dir, 30, p, sizeof p);
    flip_byte(p, 40);
    assert_int_equal(load(fx->dir, f, note, sizeof note), 0); /* 20 was pruned, 30 is bad */
}

static void test_truncated_newest_falls_back(void **state)
{
    struct fixture *fx = *state;
    write_snap(fx->dir, 10, 500);
    write_snap(fx->dir, 20, 500);
    char p[256];
    path_of(fx->dir, 20, p, sizeof p);
    assert_int_equal(truncate(p, BFT_SNAPFILE_HDR + 100), 0);
    struct bft_snapfile f[2];
    char note[512];
    assert_int_equal(load(fx->dir, f, note, sizeof note), 1);
    check_snap(&f[0], 10, 500);
    assert_non_null(strstr(note, "torn"));
    free2(f, 1);
    assert_int_equal(truncate(p, 10), 0); /* shorter than a header */
    assert_int_equal(load(fx->dir, f, note, sizeof note), 1);
    assert_non_null(strstr(note, "truncated"));
    free2(f, 1);
}

static void test_renamed_file_refused(void **state)
{
    struct fixture *fx = *state;
    write_snap(fx->dir, 10, 50);
    char a[256], b[256];
    path_of(fx->dir, 10, a, sizeof a);
    path_of(fx->dir, 99, b, sizeof b);
    assert_int_equal(rename(a, b), 0); /* header says 10, name says 99 */
    struct bft_snapfile f[2];
    char note[512];
    assert_int_equal(load(fx->dir, f, note, sizeof note), 0);
    assert_non_null(strstr(note, "bad header"));
    char err[256];
    struct bft_snapfile one;
    assert_int_equal(bft_snapfile_read("/tmp/not-a-snapshot", &one, err, sizeof err),
                     BFT_E_MALFORMED);
}

static void test_missing_dir_loads_nothing(void **state)
{
    (void)state;
    struct bft_snapfile f[2];
    char note[512];
    assert_int_equal(load("/tmp/test_snapfile.does-not-exist", f, note, sizeof note), 0);
}

static void test_write_failure_reports(void **state)
{
    (void)state;
    bft_digest d = {{0}};
    uint8_t buf[4] = {1, 2, 3, 4};
    char err[256] = "";
    assert_int_equal(bft_snapfile_write("/proc/no-such-dir", 1, &d, buf, 4, 0, err, sizeof err),
                     BFT_E_IO);
    assert_non_null(strstr(err, "create"));
}

/* ---- crash points ---- */

static int crash_step;
static int crash_after; /* occurrences of crash_step to let pass */
static int hook(void *ctx, int step)
{
    (void)ctx;
    if (step != crash_step) return 0;
    return crash_after-- == 0;
}

static void test_crash_at_every_step(void **state)
{
    struct fixture *fx = *state;
    for (int step = BFT_STEP_SNAP_TMP_PARTIAL; step <= BFT_STEP_SNAP_PRUNED; step++) {
        write_snap(fx->dir, 10, 4000);
        write_snap(fx->dir, 20, 4000);
        crash_step = step;
        crash_after = 0;
        bft_storage_fault_hook(hook, NULL);
        uint8_t buf[4000];
        bft_digest d;
        make(30, buf, sizeof buf, &d);
        char err[256];
        assert_int_equal(bft_snapfile_write(fx->dir, 30, &d, buf, sizeof buf, 0, err, sizeof err),
                         BFT_E_IO);
        bft_storage_fault_hook(NULL, NULL);
        /* "Restart": only intact snapshots, the new one iff renamed. */
        struct bft_snapfile f[2];
        char note[512];
        int k = load(fx->dir, f, note, sizeof note);
        bool renamed = step >= BFT_STEP_SNAP_RENAMED;
        print_message("crash at step %d: %d loaded, newest %llu\n", step, k,
                      (unsigned long long)(k ? f[0].seq : 0));
        assert_int_equal(k, 2);
        assert_string_equal(note, "");
        if (renamed) {
            check_snap(&f[0], 30, 4000);
            check_snap(&f[1], 20, 4000);
        } else {
            check_snap(&f[0], 20, 4000);
            check_snap(&f[1], 10, 4000);
        }
        free2(f, k);
        /* The next write removes the stale temp file and prunes. */
        write_snap(fx->dir, 40, 10);
        assert_int_equal(count_files(fx->dir, "snap-"), 2);
        assert_int_equal(load(fx->dir, f, note, sizeof note), 2);
        assert_int_equal(f[0].seq, 40);
        assert_int_equal(f[1].seq, renamed ? 30 : 20);
        free2(f, 2);
        /* Start the next step from an empty directory. */
        char p[256];
        path_of(fx->dir, 40, p, sizeof p);
        unlink(p);
        path_of(fx->dir, f[1].seq, p, sizeof p);
        unlink(p);
    }
}

/* The policy bftd and the simulator share (bft_snapshot_due): the first
 * of a process always; then only once the WAL grew by the larger of the
 * minimum and the last snapshot's size, so the bytes snapshots write stay
 * below the WAL bytes behind them. */
static void test_snapshot_policy(void **state)
{
    (void)state;
    assert_true(bft_snapshot_due(0, 0, 1000, 0));
    assert_true(bft_snapshot_due(0, 0, 1000, 5000));
    assert_false(bft_snapshot_due(1, 999, 1000, 10));
    assert_true(bft_snapshot_due(1, 1000, 1000, 10));
    assert_false(bft_snapshot_due(3, 4999, 1000, 5000)); /* the state outgrew the minimum */
    assert_true(bft_snapshot_due(3, 5000, 1000, 5000));
    assert_false(bft_snapshot_due(2, 0, 0, 1)); /* a minimum of 0 still waits for the size */
    /* Linear, not quadratic: a state growing by g WAL bytes per step,
     * snapshotted when due, writes at most about twice the WAL. */
    uint64_t wal = 0, since = 0, last = 0, taken = 0, written = 0;
    for (uint64_t step = 1; step <= 100000; step++) {
        wal += 100;
        since += 100;
        uint64_t len = step * 50; /* the state: half the WAL so far */
        if (bft_snapshot_due(taken, since, 4096, last)) {
            written += len;
            last = len;
            since = 0;
            taken++;
        }
    }
    assert_true(written <= 2 * wal + 4096);
    assert_true(taken > 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_empty_payload, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keeps_newest_two, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keeps_the_wal_base, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_newest_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_truncated_newest_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(test_renamed_file_refused, setup, teardown),
        cmocka_unit_test(test_missing_dir_loads_nothing),
        cmocka_unit_test(test_write_failure_reports),
        cmocka_unit_test_setup_teardown(test_crash_at_every_step, setup, teardown),
        cmocka_unit_test(test_snapshot_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
