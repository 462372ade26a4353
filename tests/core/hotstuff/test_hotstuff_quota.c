/* Chained HotStuff pending-request table (hotstuff_pending.c) under a
 * flooding client (issue 12): one authenticated client may hold only its
 * share of the table (core/client_quota.h: with 16 clients, max(64, 4096 /
 * 16) = 256), so every other client's requests are still queued
 * (docs/hotstuff.md "Clients and batching"; ours, test_impl_).
 *
 * Test names start with the section they check, like etcd's
 * raft_paper_test and our PBFT and Raft tests: test_4_2_x is §4.2 of the
 * HotStuff paper (Yin, Malkhi, Reiter, Gueta, Abraham, PODC'19, arXiv
 * v6), test_alg3_x its Algorithm 3, test_diembft_x a rule of DiemBFT v4
 * (its timeout certificates, pacemaker and voting rule), and
 * test_impl_<part>_x one of our own extensions, each described in
 * docs/hotstuff.md. The line above each test names the section. */
#include "tests/core/hotstuff/hotstuff_fixture.h"

/* docs/hotstuff.md "Clients and batching": a per-client share of the queue. */
static void test_impl_clients_flooding_client_leaves_room_for_others(void **state)
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

/* docs/hotstuff.md "Clients and batching", issue 14: the table is bounded
 * in bytes too: large envelopes from many clients stop at
 * HS_PENDING_BYTES_MAX, counted as overload, whatever their count. */
static void test_impl_clients_pending_bytes_bound(void **state)
{
    (void)state;
    struct bft_pending p;
    const uint32_t clients = 64, len = BFT_BODY_MAX;
    static uint8_t raw[BFT_BODY_MAX];
    assert_int_equal(hs_pending_init(&p, clients), BFT_E_OK);
    uint32_t ok = 0, over = 0;
    for (uint64_t r = 1; r <= 4; r++)
        for (uint32_t c = 0; c < clients; c++) {
            struct bft_msg m = {.type = BFT_MSG_REQUEST, .sender = c, .seq = r};
            m.raw = raw;
            m.raw_len = len;
            int rv = hs_pending_add(&p, &m);
            if (rv == BFT_REJECT_NONE) ok++;
            if (rv == BFT_REJECT_OVERLOAD) over++;
        }
    assert_int_equal(ok, HS_PENDING_BYTES_MAX / len);
    assert_int_equal(over, 4 * clients - ok);
    assert_true(p.bytes <= HS_PENDING_BYTES_MAX);
    hs_pending_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_impl_clients_flooding_client_leaves_room_for_others,
                                        setup, teardown),
        cmocka_unit_test(test_impl_clients_pending_bytes_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
