/* Chained HotStuff pending-request table (hotstuff_pending.c) under a
 * flooding client (issue 12): one authenticated client may hold only its
 * share of the table, so every other client's requests are still queued. */
#include "tests/unit/hotstuff_fixture.h"

static void test_flooding_client_leaves_room_for_others(void **state)
{
    (void)state;
    /* Client 1 sends as many requests as the whole table holds. */
    for (uint64_t r = 1; r <= HS_PENDING_MAX; r++)
        submit_one(0, 1, r);
    uint32_t flood = status(0).pending_requests;
    uint32_t refused = H->rep[0].rejected[BFT_REJECT_OVERLOAD];
    assert_int_equal(flood + refused, HS_PENDING_MAX);
    /* Client 2's requests are all queued. */
    for (uint64_t r = 1; r <= 64; r++)
        submit_one(0, 2, r);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_OVERLOAD], refused);
    assert_int_equal(status(0).pending_requests, flood + 64);
    /* And so are a third client's, though client 2 keeps sending. */
    for (uint64_t r = 65; r <= HS_PENDING_MAX; r++)
        submit_one(0, 2, r);
    for (uint64_t r = 1; r <= 16; r++)
        submit_one(0, 3, r);
    uint32_t now = status(0).pending_requests;
    for (uint64_t r = 17; r <= 32; r++)
        submit_one(0, 3, r);
    assert_int_equal(status(0).pending_requests, now + 16);
}

/* The per-client counter table itself: clients come and go (deletion
 * shifts probe runs back), counts stay exact, shares follow the number of
 * clients holding entries. */
static void test_quota_table_counts(void **state)
{
    (void)state;
    struct bft_quota q;
    assert_int_equal(bft_quota_init(&q, 64, 1u << 20, 4, 1024), BFT_E_OK);
    for (uint32_t c = 0; c < 64; c++)
        bft_quota_add(&q, c * 1024u, 10);
    for (uint32_t c = 0; c < 64; c += 2)
        bft_quota_sub(&q, c * 1024u, 10);
    for (uint32_t c = 0; c < 64; c++)
        assert_int_equal(bft_quota_count(&q, c * 1024u), c % 2);
    assert_int_equal(q.clients, 32);
    /* 32 holders: share max(4, 64 / 33) = 4. */
    for (uint32_t k = 1; k < 4; k++)
        bft_quota_add(&q, 1024u, 10);
    assert_false(bft_quota_admit(&q, 1024u, 10));
    assert_true(bft_quota_admit(&q, 3 * 1024u, 10));
    assert_true(bft_quota_admit(&q, 7777u, 10)); /* a newcomer */
    for (uint32_t c = 1; c < 64; c += 2)
        while (bft_quota_count(&q, c * 1024u))
            bft_quota_sub(&q, c * 1024u, 10);
    assert_int_equal(q.clients, 0);
    for (uint32_t i = 0; i <= q.mask; i++)
        assert_int_equal(q.t[i].count, 0);
    bft_quota_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_flooding_client_leaves_room_for_others, setup,
                                        teardown),
        cmocka_unit_test(test_quota_table_counts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
