/* The segmented WAL (store/wal_seg.c, docs/storage.md): replay across
 * segments in order, a torn tail cut only on the newest, damage in an
 * older segment refused, the legacy single-file WAL migrated, rotation
 * deleting the old segments, and a crash injected at every step of a
 * rotation (bft_storage_fault_hook) and in the middle of the dump.
 *
 * Records model what cores write: "key k now has value v" (u8 k | u64 v),
 * and the dump restates every key's current value, as compact() does. The
 * replayed state must be the state before the rotation after any crash. */
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

#define KEYS 8

struct model {
    uint64_t v[KEYS];
    long records;
};

static void apply(void *ctx, const uint8_t *rec, size_t len)
{
    struct model *m = ctx;
    assert_int_equal(len, 9);
    assert_true(rec[0] < KEYS);
    uint64_t v = 0;
    for (int i = 8; i >= 1; i--)
        v = v << 8 | rec[i];
    m->v[rec[0]] = v;
    m->records++;
}

static void put(struct bft_walseg *s, struct model *m, uint8_t k, uint64_t v)
{
    uint8_t rec[9] = {k};
    for (int i = 0; i < 8; i++)
        rec[1 + i] = (uint8_t)(v >> (8 * i));
    assert_int_equal(bft_walseg_append(s, rec, sizeof rec), BFT_E_OK);
    if (m) m->v[k] = v;
}

/* The dump: every key's value (keys 0..upto-1). Errors are sticky in the
 * WAL, so they show at rotate_end. */
static void dump(struct bft_walseg *s, const struct model *m, int upto)
{
    for (int k = 0; k < upto; k++) {
        uint8_t rec[9] = {(uint8_t)k};
        for (int i = 0; i < 8; i++)
            rec[1 + i] = (uint8_t)(m->v[k] >> (8 * i));
        bft_walseg_append(s, rec, sizeof rec);
    }
}

struct fixture {
    char dir[64];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test_wal_seg.XXXXXX");
    if (!mkdtemp(fx->dir)) return -1;
    *state = fx;
    return 0;
}

static void clear_dir(const char *dir)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        if (e->d_name[0] != '.') unlink(p);
    }
    if (d) closedir(d);
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    bft_storage_fault_hook(NULL, NULL);
    clear_dir(fx->dir);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static int count_segs(const char *dir)
{
    DIR *d = opendir(dir);
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        k += strncmp(e->d_name, "wal-", 4) == 0;
    closedir(d);
    return k;
}

static void seg_path(const char *dir, uint64_t n, char *out, size_t cap)
{
    snprintf(out, cap, "%s/wal-%020" PRIu64, dir, n);
}

static struct bft_walseg *open_seg(const char *dir)
{
    struct bft_walseg *s;
    char err[256];
    struct model scratch = {0};
    assert_true(bft_walseg_replay(dir, apply, &scratch, err, sizeof err) >= 0);
    assert_int_equal(bft_walseg_open(&s, dir, err, sizeof err), BFT_E_OK);
    return s;
}

static void replay_into(const char *dir, struct model *m)
{
    char err[256];
    memset(m, 0, sizeof *m);
    long n = bft_walseg_replay(dir, apply, m, err, sizeof err);
    if (n < 0) fail_msg("replay: %s", err);
    assert_int_equal(n, m->records);
}

static void test_empty_dir(void **state)
{
    struct fixture *fx = *state;
    struct model m;
    replay_into(fx->dir, &m);
    assert_int_equal(m.records, 0);
    struct bft_walseg *s = open_seg(fx->dir);
    assert_int_equal(bft_walseg_active_index(s), 0);
    assert_int_equal(bft_walseg_active_bytes(s), 0);
    bft_walseg_close(s);
}

static void test_rotation_deletes_old_segments(void **state)
{
    struct fixture *fx = *state;
    struct model want = {0}, got;
    struct bft_walseg *s = open_seg(fx->dir);
    for (uint64_t i = 0; i < 100; i++)
        put(s, &want, (uint8_t)(i % KEYS), i);
    assert_int_equal(bft_walseg_active_bytes(s), 100 * 17);
    assert_int_equal(bft_walseg_rotate_begin(s), BFT_E_OK);
    dump(s, &want, KEYS);
    assert_int_equal(bft_walseg_rotate_end(s), BFT_E_OK);
    assert_int_equal(bft_walseg_active_index(s), 1);
    assert_int_equal(bft_walseg_active_bytes(s), KEYS * 17);
    assert_int_equal(count_segs(fx->dir), 1);
    put(s, &want, 3, 1000);
    assert_int_equal(bft_walseg_sync(s), BFT_E_OK);
    bft_walseg_close(s);
    replay_into(fx->dir, &got);
    assert_memory_equal(got.v, want.v, sizeof want.v);
    assert_int_equal(got.records, KEYS + 1); /* the dump and one record: bounded */
    /* Reopening appends to the newest segment. */
    s = open_seg(fx->dir);
    assert_int_equal(bft_walseg_active_index(s), 1);
    assert_int_equal(bft_walseg_active_bytes(s), (KEYS + 1) * 17);
    bft_walseg_close(s);
}

static void test_torn_tail_cut_on_newest_only(void **state)
{
    struct fixture *fx = *state;
    struct model want = {0}, got;
    struct bft_walseg *s = open_seg(fx->dir);
    put(s, &want, 1, 11);
    assert_int_equal(bft_walseg_rotate_begin(s), BFT_E_OK);
    dump(s, &want, KEYS);
    put(s, &want, 2, 22);
    assert_int_equal(bft_walseg_sync(s), BFT_E_OK);
    bft_walseg_close(s); /* a crash before rotate_end: both segments stay */
    assert_int_equal(count_segs(fx->dir), 2);
    char p[256];
    seg_path(fx->dir, 1, p, sizeof p);
    int fd = open(p, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, "\x09\x00\x00\x00\x01", 5), 5); /* torn record */
    close(fd);
    replay_into(fx->dir, &got);
    assert_memory_equal(got.v, want.v, sizeof want.v);
    struct stat st;
    assert_int_equal(stat(p, &st), 0);
    assert_int_equal(st.st_size, (KEYS + 1) * 17); /* cut */
    /* The same damage in the older segment is a refusal to start. */
    seg_path(fx->dir, 0, p, sizeof p);
    fd = open(p, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, "\x09\x00\x00\x00\x01", 5), 5);
    close(fd);
    char err[300];
    assert_int_equal(bft_walseg_replay(fx->dir, apply, &got, err, sizeof err), -1);
    assert_non_null(strstr(err, "not the newest segment"));
}

static void test_legacy_wal_migrates(void **state)
{
    struct fixture *fx = *state;
    char p[256], err[256];
    snprintf(p, sizeof p, "%s/wal", fx->dir);
    struct bft_wal *w;
    assert_int_equal(bft_wal_open(&w, p, err, sizeof err), BFT_E_OK);
    uint8_t rec[9] = {4, 44};
    assert_int_equal(bft_wal_append(w, rec, sizeof rec), BFT_E_OK);
    assert_int_equal(bft_wal_sync(w), BFT_E_OK);
    bft_wal_close(w);
    struct model got;
    replay_into(fx->dir, &got);
    assert_int_equal(got.records, 1);
    assert_int_equal(got.v[4], 44);
    assert_int_equal(access(p, F_OK), -1); /* renamed */
    seg_path(fx->dir, 0, p, sizeof p);
    assert_int_equal(access(p, F_OK), 0);
}

/* ---- crash points ---- */

static int crash_step, crash_after;
static int hook(void *ctx, int step)
{
    (void)ctx;
    if (step != crash_step) return 0;
    return crash_after-- == 0;
}

/* Three rotations' worth of history (segments 0..2 after crashes that left
 * them), then a rotation that crashes at `step`. */
static void crash_case(const char *dir, int step, int after)
{
    clear_dir(dir);
    struct model want = {0}, got;
    struct bft_walseg *s = open_seg(dir);
    uint64_t v = 1;
    for (int seg = 0; seg < 3; seg++) {
        for (int i = 0; i < 20; i++, v++)
            put(s, &want, (uint8_t)(v % KEYS), v);
        /* A rotation that dies before deleting: several old segments. */
        assert_int_equal(bft_walseg_rotate_begin(s), BFT_E_OK);
        dump(s, &want, KEYS);
        assert_int_equal(bft_walseg_sync(s), BFT_E_OK);
    }
    for (int i = 0; i < 20; i++, v++)
        put(s, &want, (uint8_t)(v % KEYS), v);
    assert_int_equal(count_segs(dir), 4);
    crash_step = step;
    crash_after = after;
    bft_storage_fault_hook(hook, NULL);
    int rv = bft_walseg_rotate_begin(s);
    if (rv == BFT_E_OK) {
        dump(s, &want, KEYS);
        rv = bft_walseg_rotate_end(s);
    }
    bft_storage_fault_hook(NULL, NULL);
    assert_int_equal(rv, BFT_E_IO);
    /* Failed for good: no append is taken after an injected crash. */
    assert_int_equal(bft_walseg_append(s, (const uint8_t *)"x", 1), BFT_E_IO);
    bft_walseg_close(s);
    replay_into(dir, &got);
    print_message("crash at step %d (+%d): %d segments left, %ld records replayed\n", step, after,
                  count_segs(dir), got.records);
    assert_memory_equal(got.v, want.v, sizeof want.v);
    /* And the WAL goes on from there: a later rotation leaves one. */
    s = open_seg(dir);
    put(s, &want, 0, 999);
    assert_int_equal(bft_walseg_rotate_begin(s), BFT_E_OK);
    dump(s, &want, KEYS);
    assert_int_equal(bft_walseg_rotate_end(s), BFT_E_OK);
    bft_walseg_close(s);
    assert_int_equal(count_segs(dir), 1);
    replay_into(dir, &got);
    assert_memory_equal(got.v, want.v, sizeof want.v);
}

static void test_crash_at_every_rotation_step(void **state)
{
    struct fixture *fx = *state;
    crash_case(fx->dir, BFT_STEP_SEG_OLD_SYNCED, 0);
    crash_case(fx->dir, BFT_STEP_SEG_CREATED, 0);
    crash_case(fx->dir, BFT_STEP_SEG_NEW_SYNCED, 0);
    for (int k = 0; k < 4; k++) /* after deleting 1, 2, 3, 4 old segments */
        crash_case(fx->dir, BFT_STEP_SEG_DELETED, k);
}

/* A crash in the middle of the dump: the new segment holds part of it. */
static void test_crash_mid_dump(void **state)
{
    struct fixture *fx = *state;
    for (int upto = 0; upto <= KEYS; upto++) {
        clear_dir(fx->dir);
        struct model want = {0}, got;
        struct bft_walseg *s = open_seg(fx->dir);
        for (uint64_t v = 1; v <= 50; v++)
            put(s, &want, (uint8_t)(v % KEYS), v);
        assert_int_equal(bft_walseg_rotate_begin(s), BFT_E_OK);
        dump(s, &want, upto);
        assert_int_equal(bft_walseg_sync(s), BFT_E_OK);
        bft_walseg_close(s);
        replay_into(fx->dir, &got);
        assert_memory_equal(got.v, want.v, sizeof want.v);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_empty_dir, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotation_deletes_old_segments, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_cut_on_newest_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_wal_migrates, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_at_every_rotation_step, setup, teardown),
        cmocka_unit_test_setup_teardown(test_crash_mid_dump, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
