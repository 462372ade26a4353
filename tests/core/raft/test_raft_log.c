/* The in-memory Raft log (core/raft/raft_log.c): a ring that starts at
 * RAFT_LOG_CAP_INIT slots and doubles up to RAFT_LOG_CAP. Growing must keep
 * every live entry (term and batch bytes) at its index, across wrap-around,
 * compaction and truncation; the bound stays RAFT_LOG_CAP entries. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/raft/raft_internal.h"

/* Entry i holds (i % 251) + 1 bytes of value (uint8_t)i, term i / 10 + 1. */
static uint32_t len_of(uint64_t i)
{
    return (uint32_t)(i % 251) + 1;
}
static bool append_nth(struct raft_log *l, uint64_t i)
{
    uint8_t b[256];
    memset(b, (uint8_t)i, sizeof b);
    return raft_log_append(l, i / 10 + 1, b, len_of(i));
}
static void check_range(const struct raft_log *l, uint64_t from, uint64_t to)
{
    for (uint64_t i = from; i <= to; i++) {
        const struct raft_entry *e = raft_log_at(l, i);
        assert_non_null(e);
        assert_int_equal(e->term, i / 10 + 1);
        assert_int_equal(e->len, len_of(i));
        for (uint32_t k = 0; k < e->len; k++)
            assert_int_equal(e->batch[k], (uint8_t)i);
    }
}

static void test_grows_and_keeps_entries(void **state)
{
    (void)state;
    struct raft_log l;
    assert_int_equal(raft_log_init(&l), BFT_E_OK);
    assert_int_equal(l.cap, RAFT_LOG_CAP_INIT);
    for (uint64_t i = 1; i <= 3 * RAFT_LOG_CAP_INIT; i++)
        assert_true(append_nth(&l, i));
    assert_true(l.cap >= 3 * RAFT_LOG_CAP_INIT);
    assert_int_equal(l.last, 3 * RAFT_LOG_CAP_INIT);
    check_range(&l, 1, l.last);
    raft_log_free(&l);
}

/* Compact so that the live entries wrap around the ring, then grow: the
 * wrapped entries must land at their slots in the bigger ring. */
static void test_grows_across_wrap_and_truncation(void **state)
{
    (void)state;
    struct raft_log l;
    assert_int_equal(raft_log_init(&l), BFT_E_OK);
    uint64_t next = 1;
    for (; next <= RAFT_LOG_CAP_INIT; next++)
        assert_true(append_nth(&l, next));
    raft_log_compact(&l, RAFT_LOG_CAP_INIT / 2);
    for (; next <= RAFT_LOG_CAP_INIT + RAFT_LOG_CAP_INIT / 2; next++)
        assert_true(append_nth(&l, next));
    assert_int_equal(l.cap, RAFT_LOG_CAP_INIT); /* wrapped, not grown yet */
    /* Truncate the tail (its slots keep buffers), then grow past it. */
    raft_log_truncate(&l, next - 5);
    next -= 5;
    for (; next <= 3 * RAFT_LOG_CAP_INIT; next++)
        assert_true(append_nth(&l, next));
    assert_true(l.cap > RAFT_LOG_CAP_INIT);
    assert_int_equal(l.start, RAFT_LOG_CAP_INIT / 2 + 1);
    uint64_t t;
    assert_true(raft_log_term(&l, l.start - 1, &t)); /* base_term kept */
    assert_int_equal(t, (RAFT_LOG_CAP_INIT / 2) / 10 + 1);
    assert_null(raft_log_at(&l, l.start - 1));
    check_range(&l, l.start, l.last);
    raft_log_free(&l);
}

/* The bound is unchanged: RAFT_LOG_CAP entries, then appends fail. */
static void test_bound_is_raft_log_cap(void **state)
{
    (void)state;
    struct raft_log l;
    assert_int_equal(raft_log_init(&l), BFT_E_OK);
    for (uint64_t i = 1; i <= RAFT_LOG_CAP; i++)
        assert_true(raft_log_append(&l, 1, NULL, 0));
    assert_int_equal(l.cap, RAFT_LOG_CAP);
    assert_true(raft_log_full(&l));
    assert_false(raft_log_append(&l, 1, NULL, 0));
    raft_log_compact(&l, 10);
    assert_true(raft_log_append(&l, 2, NULL, 0));
    assert_int_equal(l.cap, RAFT_LOG_CAP);
    raft_log_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grows_and_keeps_entries),
        cmocka_unit_test(test_grows_across_wrap_and_truncation),
        cmocka_unit_test(test_bound_is_raft_log_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
