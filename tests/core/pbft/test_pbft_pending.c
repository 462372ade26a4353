/* PBFT's pending requests (core/pbft/pbft_pending.c over core/pending.h)
 * with PBFT's limits and words: the free list is threaded lazily
 * (never-used entries follow one another in index order, freed entries are
 * pushed in front); the table holds exactly PBFT_PENDING_MAX requests,
 * reuses freed entries first, and clear/oldest/unmark_all see every used
 * entry. The table is allocated with the first request (PBFT_PENDING_FIRST
 * entries) and doubles as requests need entries past its end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/pbft/pbft_internal.h"

static int add(struct bft_pending *p, uint32_t client, uint64_t req_no)
{
    uint8_t raw[BFT_MSG_MIN_LEN];
    memset(raw, (uint8_t)req_no, sizeof raw);
    struct bft_msg m = {.type = BFT_MSG_REQUEST, .sender = client, .seq = req_no};
    m.raw = raw;
    m.raw_len = sizeof raw;
    return pbft_pending_add(p, &m);
}

/* A REQUEST of `len` raw bytes from client, req_no (the queue keeps the
 * raw bytes; what they say does not matter to it). */
static int add_big(struct bft_pending *p, uint32_t client, uint64_t req_no, uint32_t len)
{
    static uint8_t raw[BFT_BODY_MAX];
    assert_true(len <= sizeof raw);
    struct bft_msg m = {.type = BFT_MSG_REQUEST, .sender = client, .seq = req_no};
    m.raw = raw;
    m.raw_len = len;
    return pbft_pending_add(p, &m);
}

/* issue 14: the queue is bounded in bytes, not only in requests: large
 * envelopes from many clients stop at PBFT_PENDING_BYTES_MAX (OVERLOAD,
 * counted by the node), far below PBFT_PENDING_MAX requests, and a
 * removed request makes room again. */
static void test_bytes_bound(void **state)
{
    (void)state;
    struct bft_pending p;
    const uint32_t clients = 64, len = BFT_BODY_MAX;
    assert_int_equal(pbft_pending_init(&p, clients), BFT_E_OK);
    uint32_t ok = 0, over = 0;
    for (uint64_t r = 1; r <= 4; r++)
        for (uint32_t c = 0; c < clients; c++) {
            int rv = add_big(&p, c, r, len);
            if (rv == BFT_REJECT_NONE) ok++;
            if (rv == BFT_REJECT_OVERLOAD) over++;
        }
    assert_int_equal(ok, PBFT_PENDING_BYTES_MAX / len);
    assert_int_equal(over, 4 * clients - ok);
    assert_true(p.bytes <= PBFT_PENDING_BYTES_MAX);
    assert_true(p.count < PBFT_PENDING_MAX);
    /* Small requests do not fit either while the bytes are used up... */
    assert_int_equal(add(&p, 0, 100), BFT_REJECT_OVERLOAD);
    /* ... and do once one large request left. */
    pbft_pending_remove(&p, pbft_pending_oldest(&p));
    assert_int_equal(add(&p, 0, 100), BFT_REJECT_NONE);
    pbft_pending_free(&p);
}

static void test_holds_exactly_max(void **state)
{
    (void)state;
    struct bft_pending p;
    assert_int_equal(pbft_pending_init(&p, 0), BFT_E_OK);
    for (uint64_t r = 1; r <= PBFT_PENDING_MAX; r++)
        assert_int_equal(add(&p, 0, r), BFT_REJECT_NONE);
    assert_int_equal(p.count, PBFT_PENDING_MAX);
    assert_int_equal(add(&p, 0, PBFT_PENDING_MAX + 1), BFT_REJECT_OVERLOAD);
    assert_int_equal(add(&p, 0, 7), BFT_REJECT_DUPLICATE);
    /* Entries were taken in index order. */
    for (uint64_t r = 1; r <= PBFT_PENDING_MAX; r++)
        assert_int_equal(pbft_pending_find(&p, 0, r), (int32_t)(r - 1));
    pbft_pending_free(&p);
}

static void test_freed_entries_first_then_fresh(void **state)
{
    (void)state;
    struct bft_pending p;
    assert_int_equal(pbft_pending_init(&p, 0), BFT_E_OK);
    for (uint64_t r = 1; r <= 3; r++)
        assert_int_equal(add(&p, 1, r), BFT_REJECT_NONE);
    pbft_pending_remove(&p, pbft_pending_find(&p, 1, 2)); /* entry 1 */
    assert_int_equal(add(&p, 1, 10), BFT_REJECT_NONE);
    assert_int_equal(pbft_pending_find(&p, 1, 10), 1); /* reused */
    assert_int_equal(add(&p, 1, 11), BFT_REJECT_NONE);
    assert_int_equal(pbft_pending_find(&p, 1, 11), 3); /* next fresh one */
    /* Fill the rest: the table is full after exactly MAX live entries. */
    for (uint64_t r = 100; p.count < PBFT_PENDING_MAX; r++)
        assert_int_equal(add(&p, 2, r), BFT_REJECT_NONE);
    assert_int_equal(add(&p, 3, 1), BFT_REJECT_OVERLOAD);
    pbft_pending_free(&p);
}

static void test_clear_oldest_unmark_see_all(void **state)
{
    (void)state;
    struct bft_pending p;
    assert_int_equal(pbft_pending_init(&p, 0), BFT_E_OK);
    assert_int_equal(pbft_pending_oldest(&p), -1);
    for (uint64_t r = 1; r <= 40; r++)
        assert_int_equal(add(&p, 0, r), BFT_REJECT_NONE);
    /* All proposed: the FIFO is empty, oldest still finds one. */
    for (uint64_t r = 1; r <= 40; r++)
        pbft_pending_mark(&p, pbft_pending_find(&p, 0, r), 5);
    assert_int_equal(p.head, -1);
    assert_int_equal(pbft_pending_oldest(&p), 0);
    pbft_pending_unmark_all(&p);
    assert_int_equal(p.head, 0);
    pbft_pending_clear(&p);
    assert_int_equal(p.count, 0);
    assert_int_equal(p.bytes, 0);
    assert_int_equal(pbft_pending_oldest(&p), -1);
    for (uint64_t r = 1; r <= PBFT_PENDING_MAX; r++)
        assert_int_equal(add(&p, 0, r), BFT_REJECT_NONE);
    assert_int_equal(add(&p, 0, 0), BFT_REJECT_OVERLOAD);
    pbft_pending_free(&p);
}

/* Growth moves the table: entries keep their index and their request,
 * the FIFO and the hash survive, and the table never exceeds the bound. */
static void test_grows_past_first_capacity_and_back(void **state)
{
    (void)state;
    struct bft_pending p;
    assert_int_equal(pbft_pending_init(&p, 0), BFT_E_OK);
    assert_int_equal(p.cap, 0);
    assert_null(p.e);
    for (uint64_t r = 1; r <= PBFT_PENDING_FIRST; r++)
        assert_int_equal(add(&p, 0, r), BFT_REJECT_NONE);
    assert_int_equal(p.cap, PBFT_PENDING_FIRST); /* full, not grown */
    pbft_pending_mark(&p, pbft_pending_find(&p, 0, 1), 7);
    assert_int_equal(add(&p, 0, PBFT_PENDING_FIRST + 1), BFT_REJECT_NONE);
    assert_int_equal(p.cap, 2 * PBFT_PENDING_FIRST);
    for (uint64_t r = 1; r <= PBFT_PENDING_FIRST + 1; r++) {
        int32_t i = pbft_pending_find(&p, 0, r);
        assert_int_equal(i, (int32_t)(r - 1));
        assert_int_equal(p.e[i].raw[0], (uint8_t)r);
    }
    assert_int_equal(p.e[0].mark, 7);
    assert_int_equal(p.head, 1); /* the FIFO of unproposed ones */
    assert_int_equal(p.tail, PBFT_PENDING_FIRST);
    /* Back down and up again: freed entries are reused, no growth. */
    pbft_pending_clear(&p);
    assert_int_equal(p.count, 0);
    for (uint64_t r = 1; r <= 2 * PBFT_PENDING_FIRST; r++)
        assert_int_equal(add(&p, 1, r), BFT_REJECT_NONE);
    assert_int_equal(p.cap, 2 * PBFT_PENDING_FIRST);
    /* Up to the bound, never past it. */
    for (uint64_t r = 1; p.count < PBFT_PENDING_MAX; r++)
        assert_int_equal(add(&p, 2, r), BFT_REJECT_NONE);
    assert_int_equal(p.cap, PBFT_PENDING_MAX);
    assert_int_equal(add(&p, 3, 1), BFT_REJECT_OVERLOAD);
    assert_int_equal(p.cap, PBFT_PENDING_MAX);
    pbft_pending_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bytes_bound),
        cmocka_unit_test(test_holds_exactly_max),
        cmocka_unit_test(test_freed_entries_first_then_fresh),
        cmocka_unit_test(test_clear_oldest_unmark_see_all),
        cmocka_unit_test(test_grows_past_first_capacity_and_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
