/* WAL: round trip, torn-tail and corruption recovery, bounds, and sticky
 * write failures.
 *
 * Write failures are simulated two ways: by opening the WAL on /dev/full
 * (every write fails with ENOSPC; skipped if the device cannot be opened
 * for writing), and by lowering RLIMIT_FSIZE with SIGXFSZ ignored, so a
 * write to an ordinary file past the limit fails with EFBIG partway through
 * the buffer: a real partial write on disk, which replay must then cut. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store.h"
#include "wire/wire.h"

#define MAX_RECS 16 /* records one test replays at most */

struct replayed {
    long n;
    size_t len[MAX_RECS];
    uint8_t first[MAX_RECS];
    uint8_t last[MAX_RECS];
};

static void on_rec(void *ctx, const uint8_t *rec, size_t len)
{
    struct replayed *r = ctx;
    assert_true(r->n < MAX_RECS);
    r->len[r->n] = len;
    r->first[r->n] = len ? rec[0] : 0;
    r->last[r->n] = len ? rec[len - 1] : 0;
    r->n++;
}

struct fixture {
    char dir[64];
    char path[128];
};

static int setup(void **state)
{
    struct fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "/tmp/test_wal.XXXXXX");
    if (!mkdtemp(fx->dir)) return -1;
    snprintf(fx->path, sizeof fx->path, "%s/wal", fx->dir);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *fx = *state;
    unlink(fx->path);
    rmdir(fx->dir);
    free(fx);
    return 0;
}

static off_t file_size(const char *path)
{
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    return st.st_size;
}

/* Records of lengths 10, 0, 300 filled with the byte (i + 1). */
static const size_t rec_len[] = {10, 0, 300};
#define N_RECS 3

static void write_records(const char *path)
{
    struct bft_wal *w;
    char err[128];
    assert_int_equal(bft_wal_open(&w, path, err, sizeof err), BFT_E_OK);
    uint8_t rec[300];
    for (int i = 0; i < N_RECS; i++) {
        memset(rec, i + 1, sizeof rec);
        assert_int_equal(bft_wal_append(w, rec, rec_len[i]), BFT_E_OK);
    }
    assert_true(bft_wal_dirty(w));
    assert_int_equal(bft_wal_sync(w), BFT_E_OK);
    assert_false(bft_wal_dirty(w));
    bft_wal_close(w);
}

static long replay(const char *path, struct replayed *r)
{
    char err[128] = "";
    memset(r, 0, sizeof *r);
    return bft_wal_replay(path, on_rec, r, err, sizeof err);
}

static void test_round_trip(void **state)
{
    struct fixture *fx = *state;
    struct replayed r;
    assert_int_equal(replay(fx->path, &r), 0); /* missing file: nothing */
    write_records(fx->path);
    assert_int_equal(file_size(fx->path), 3 * 8 + 10 + 0 + 300);
    for (int pass = 0; pass < 2; pass++) { /* replay does not eat good records */
        assert_int_equal(replay(fx->path, &r), N_RECS);
        for (int i = 0; i < N_RECS; i++) {
            assert_int_equal(r.len[i], rec_len[i]);
            if (rec_len[i]) assert_int_equal(r.last[i], i + 1);
        }
    }
    /* Reopening appends after the existing records. */
    write_records(fx->path);
    assert_int_equal(replay(fx->path, &r), 2 * N_RECS);
}

/* The on-disk format is the documented one: build a record by hand with an
 * independent bitwise CRC-32C over (len bytes || record). */
static uint32_t crc32c_bitwise(const uint8_t *p, size_t len)
{
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < len; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    }
    return ~c;
}

static void test_format_by_hand(void **state)
{
    struct fixture *fx = *state;
    assert_int_equal(crc32c_bitwise((const uint8_t *)"123456789", 9), 0xE3069283u);
    uint8_t buf[8 + 5] = {5, 0, 0, 0, 0, 0, 0, 0, 'h', 'e', 'l', 'l', 'o'};
    uint8_t covered[4 + 5];
    memcpy(covered, buf, 4);
    memcpy(covered + 4, buf + 8, 5);
    uint32_t crc = crc32c_bitwise(covered, sizeof covered);
    for (int i = 0; i < 4; i++)
        buf[4 + i] = (uint8_t)(crc >> (8 * i));
    int fd = open(fx->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, sizeof buf), (ssize_t)sizeof buf);
    close(fd);
    struct replayed r;
    assert_int_equal(replay(fx->path, &r), 1);
    assert_int_equal(r.len[0], 5);
    assert_int_equal(r.first[0], 'h');
}

static void test_torn_tail_truncated(void **state)
{
    struct fixture *fx = *state;
    write_records(fx->path);
    off_t full = file_size(fx->path);
    off_t two = 2 * 8 + 10;
    /* Cut in the middle of the third record's body. */
    assert_int_equal(truncate(fx->path, full - 5), 0);
    struct replayed r;
    assert_int_equal(replay(fx->path, &r), 2);
    assert_int_equal(file_size(fx->path), two);
    /* A header cut short is torn as well. */
    assert_int_equal(truncate(fx->path, two - 8 + 3), 0);
    assert_int_equal(replay(fx->path, &r), 1);
    assert_int_equal(file_size(fx->path), 8 + 10);
    assert_int_equal(r.len[0], 10);
}

static void test_garbage_tail_truncated(void **state)
{
    struct fixture *fx = *state;
    write_records(fx->path);
    off_t good = file_size(fx->path);
    int fd = open(fx->path, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    static const uint8_t junk[] = "garbage bytes after a crash";
    assert_int_equal(write(fd, junk, sizeof junk), (ssize_t)sizeof junk);
    /* A zero-filled tail (a grown file never written) is junk too. */
    static const uint8_t zeros[64];
    assert_int_equal(write(fd, zeros, sizeof zeros), (ssize_t)sizeof zeros);
    close(fd);
    struct replayed r;
    assert_int_equal(replay(fx->path, &r), N_RECS);
    assert_int_equal(file_size(fx->path), good);
    /* The WAL appends cleanly after the cut. */
    write_records(fx->path);
    assert_int_equal(replay(fx->path, &r), 2 * N_RECS);
}

static void test_zero_tail_is_not_a_record(void **state)
{
    struct fixture *fx = *state;
    int fd = open(fx->path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    static const uint8_t zeros[8];
    assert_int_equal(write(fd, zeros, sizeof zeros), (ssize_t)sizeof zeros);
    close(fd);
    struct replayed r;
    assert_int_equal(replay(fx->path, &r), 0);
    assert_int_equal(file_size(fx->path), 0);
}

static void test_corrupt_middle_stops_replay(void **state)
{
    struct fixture *fx = *state;
    write_records(fx->path);
    /* Flip one byte of the third record's body (offset: two records, then
     * its header); records one and two survive, three is cut. */
    off_t third = 2 * 8 + 10;
    int fd = open(fx->path, O_RDWR);
    assert_true(fd >= 0);
    uint8_t b = 0x55;
    assert_int_equal(pwrite(fd, &b, 1, third + 8 + 100), 1);
    close(fd);
    struct replayed r;
    assert_int_equal(replay(fx->path, &r), 2);
    assert_int_equal(file_size(fx->path), third);

    /* Corrupting the first record's CRC loses everything after it. */
    write_records(fx->path);
    fd = open(fx->path, O_RDWR);
    assert_int_equal(pwrite(fd, &b, 1, 4), 1);
    close(fd);
    assert_int_equal(replay(fx->path, &r), 0);
    assert_int_equal(file_size(fx->path), 0);
}

static void test_oversized_length_is_torn(void **state)
{
    struct fixture *fx = *state;
    write_records(fx->path);
    off_t good = file_size(fx->path);
    uint8_t hdr[8] = {0};
    uint32_t big = BFT_WAL_RECORD_MAX + 1;
    for (int i = 0; i < 4; i++)
        hdr[i] = (uint8_t)(big >> (8 * i));
    int fd = open(fx->path, O_WRONLY | O_APPEND);
    assert_int_equal(write(fd, hdr, sizeof hdr), (ssize_t)sizeof hdr);
    close(fd);
    struct replayed r;
    assert_int_equal(replay(fx->path, &r), N_RECS);
    assert_int_equal(file_size(fx->path), good);
}

static void test_oversized_append_refused(void **state)
{
    struct fixture *fx = *state;
    struct bft_wal *w;
    char err[128];
    assert_int_equal(bft_wal_open(&w, fx->path, err, sizeof err), BFT_E_OK);
    uint8_t *rec = calloc(1, BFT_WAL_RECORD_MAX + 1);
    assert_non_null(rec);
    rec[BFT_WAL_RECORD_MAX - 1] = 0x77;
    assert_int_not_equal(bft_wal_append(w, rec, BFT_WAL_RECORD_MAX + 1), BFT_E_OK);
    /* Refusing a caller's oversized record does not fail the WAL; the
     * largest legal record still goes through, twice (the second writes
     * the first out: it is past BFT_WAL_BUF_WRITE). */
    assert_int_equal(bft_wal_append(w, rec, BFT_WAL_RECORD_MAX), BFT_E_OK);
    assert_int_equal(bft_wal_append(w, rec, BFT_WAL_RECORD_MAX), BFT_E_OK);
    assert_int_equal(bft_wal_sync(w), BFT_E_OK);
    bft_wal_close(w);
    free(rec);
    struct replayed r;
    assert_int_equal(replay(fx->path, &r), 2);
    assert_int_equal(r.len[1], BFT_WAL_RECORD_MAX);
    assert_int_equal(r.last[1], 0x77);
}

/* issue 14: the append buffer holds about BFT_WAL_BUF_WRITE bytes, not
 * its 8 MiB capacity bound, however many records a step appends: a run of
 * big records is written out as it goes (no fsync until the sync), and a
 * buffer grown for one larger record shrinks back at the sync. Every
 * record still replays, in order. */
static void test_buffer_stays_small(void **state)
{
    struct fixture *fx = *state;
    struct bft_wal *w;
    char err[128];
    assert_int_equal(bft_wal_open(&w, fx->path, err, sizeof err), BFT_E_OK);
    size_t big = 200u << 10; /* a large PRE-PREPARE record */
    uint8_t *rec = calloc(1, 2 * BFT_WAL_BUF_WRITE);
    assert_non_null(rec);
    for (int i = 0; i < 12; i++) { /* 2.4 MiB in one step */
        memset(rec, i + 1, big);
        assert_int_equal(bft_wal_append(w, rec, big), BFT_E_OK);
        assert_true(bft_wal_buffer_cap(w) <= BFT_WAL_BUF_WRITE);
    }
    /* Written out already, though not synced: the file holds them. */
    assert_true(file_size(fx->path) >= (off_t)(BFT_WAL_BUF_WRITE - big));
    assert_int_equal(bft_wal_sync(w), BFT_E_OK);
    assert_int_equal(file_size(fx->path), 12 * (off_t)(8 + big));
    /* One record larger than the threshold grows the buffer for itself,
     * until the sync. */
    memset(rec, 13, 2 * BFT_WAL_BUF_WRITE);
    assert_int_equal(bft_wal_append(w, rec, 2 * BFT_WAL_BUF_WRITE), BFT_E_OK);
    assert_true(bft_wal_buffer_cap(w) > BFT_WAL_BUF_WRITE);
    assert_int_equal(bft_wal_sync(w), BFT_E_OK);
    assert_true(bft_wal_buffer_cap(w) <= BFT_WAL_BUF_WRITE);
    memset(rec, 14, 10);
    assert_int_equal(bft_wal_append(w, rec, 10), BFT_E_OK);
    assert_int_equal(bft_wal_sync(w), BFT_E_OK);
    bft_wal_close(w);
    free(rec);
    struct replayed r;
    assert_int_equal(replay(fx->path, &r), 14);
    for (int i = 0; i < 12; i++) {
        assert_int_equal(r.len[i], big);
        assert_int_equal(r.first[i], i + 1);
    }
    assert_int_equal(r.len[12], 2 * BFT_WAL_BUF_WRITE);
    assert_int_equal(r.last[12], 13);
    assert_int_equal(r.len[13], 10);
    assert_int_equal(r.last[13], 14);
}

static void test_dev_full_failure_is_sticky(void **state)
{
    (void)state;
    int probe = open("/dev/full", O_WRONLY);
    if (probe < 0) skip();
    close(probe);
    struct bft_wal *w;
    char err[128];
    assert_int_equal(bft_wal_open(&w, "/dev/full", err, sizeof err), BFT_E_OK);
    uint8_t rec[16] = {1};
    assert_int_equal(bft_wal_append(w, rec, sizeof rec), BFT_E_OK); /* buffered only */
    assert_int_equal(bft_wal_sync(w), BFT_E_IO);
    assert_int_equal(bft_wal_append(w, rec, sizeof rec), BFT_E_IO);
    assert_int_equal(bft_wal_sync(w), BFT_E_IO);
    bft_wal_close(w);
}

static void test_partial_write_failure_is_sticky(void **state)
{
    struct fixture *fx = *state;
    write_records(fx->path);
    off_t good = file_size(fx->path);
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    lim = old;
    lim.rlim_cur = (rlim_t)good + 100; /* the next record crosses the limit */
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);

    struct bft_wal *w;
    char err[128];
    assert_int_equal(bft_wal_open(&w, fx->path, err, sizeof err), BFT_E_OK);
    uint8_t rec[1000];
    memset(rec, 9, sizeof rec);
    assert_int_equal(bft_wal_append(w, rec, sizeof rec), BFT_E_OK);
    int rv = bft_wal_sync(w);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(rv, BFT_E_IO);
    /* Sticky even though the disk would now accept the write. */
    assert_int_equal(bft_wal_append(w, rec, 10), BFT_E_IO);
    assert_int_equal(bft_wal_sync(w), BFT_E_IO);
    bft_wal_close(w);
    /* 100 bytes of the record reached the file: replay cuts them. */
    assert_int_equal(file_size(fx->path), good + 100);
    struct replayed r;
    assert_int_equal(replay(fx->path, &r), N_RECS);
    assert_int_equal(file_size(fx->path), good);
}

static void test_open_failure_reports(void **state)
{
    (void)state;
    struct bft_wal *w = (struct bft_wal *)1;
    char err[128] = "";
    assert_int_equal(bft_wal_open(&w, "/nonexistent-dir/wal", err, sizeof err), BFT_E_IO);
    assert_null(w);
    assert_non_null(strstr(err, "/nonexistent-dir/wal"));
    struct replayed r;
    assert_int_equal(replay("/nonexistent-dir/wal", &r), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_format_by_hand, setup, teardown),
        cmocka_unit_test_setup_teardown(test_torn_tail_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_garbage_tail_truncated, setup, teardown),
        cmocka_unit_test_setup_teardown(test_zero_tail_is_not_a_record, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_middle_stops_replay, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_length_is_torn, setup, teardown),
        cmocka_unit_test_setup_teardown(test_oversized_append_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_buffer_stays_small, setup, teardown),
        cmocka_unit_test(test_dev_full_failure_is_sticky),
        cmocka_unit_test_setup_teardown(test_partial_write_failure_is_sticky, setup, teardown),
        cmocka_unit_test(test_open_failure_reports),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
