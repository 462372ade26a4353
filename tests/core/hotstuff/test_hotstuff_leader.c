/* HotStuff leader windows and reputation (core/hotstuff/hotstuff_leader.c,
 * docs/hotstuff.md "Blocks and leaders"): a leader whose window ended in a
 * TC is skipped in the following turns; the leader is a function of the
 * view alone, so a restarted replica (or one with no history at all) names
 * the same one. The paper leaves getLeader to the application (Algorithm
 * 5), so all of it is ours (test_impl_).
 *
 * Test names start with the section they check, like etcd's
 * raft_paper_test and our PBFT and Raft tests: test_4_2_x is §4.2 of the
 * HotStuff paper (Yin, Malkhi, Reiter, Gueta, Abraham, PODC'19, arXiv
 * v6), test_alg3_x its Algorithm 3, test_diembft_x a rule of DiemBFT v4
 * (its timeout certificates, pacemaker and voting rule), and
 * test_impl_<part>_x one of our own extensions, each described in
 * docs/hotstuff.md. The line above each test names the section. */
#include "core/core.h"
#include "tests/core/hotstuff/hotstuff_fixture.h"

/* Leader windows of 4 views; replica 1 crashed for good (sends nothing,
 * receives nothing). Requests arrive one at a time; whenever the network
 * is quiet with work left, every view timer fires. */
static int setup_rep(void **state)
{
    fixture_leader_views = 4;
    fixture_reputation = 1;
    return setup(state);
}
static int setup_windows(void **state)
{
    fixture_leader_views = 4;
    fixture_reputation = 0;
    return setup(state);
}
static int teardown_rep(void **state)
{
    fixture_leader_views = 1;
    fixture_reputation = 0;
    return teardown(state);
}

/* Commit `count` requests from client 0 starting at *req; returns the
 * replica-0 view changes (TCs) they cost. */
static uint64_t drive(uint64_t *req, int count)
{
    uint64_t vc0 = status(0).view_changes;
    for (int k = 0; k < count; k++) {
        uint64_t before = status(0).last_executed;
        submit(0, (*req)++);
        for (int round = 0; round < 8 && status(0).pending_requests; round++)
            run_rounds(1);
        assert_int_equal(status(0).pending_requests, 0);
        assert_true(status(0).last_executed > before);
    }
    return status(0).view_changes - vc0;
}

static void crash(uint32_t r)
{
    H->drop_from[r] = true;
    H->drop_to[r] = true;
}

/* The live leaders 0, 2, 3 hold windows of 4 views; 40 requests take the
 * views through many rotations. With reputation, replica 1's window costs
 * one TC and then never comes round again; with plain windows it costs a
 * TC every rotation (test_impl_leader_windows_dead_leader_costs_a_timeout_per_turn). */
/* docs/hotstuff.md "Blocks and leaders", Leader reputation. */
static void test_impl_reputation_dead_leader_skipped_after_one_timeout(void **state)
{
    (void)state;
    crash(1);
    uint64_t req = 1;
    uint64_t tcs = drive(&req, 4);
    assert_int_equal(tcs, 1); /* replica 1's first window */
    uint64_t v0 = status(0).view;
    tcs = drive(&req, 40);
    uint64_t v1 = status(0).view;
    /* At least 5 rotations of the three live leaders' windows... */
    assert_true(v1 - v0 >= 5 * 3 * 4);
    /* ... and not one more timeout. */
    assert_int_equal(tcs, 0);
    for (uint32_t i = 0; i < N; i++) {
        if (i == 1) continue;
        assert_int_equal(status(i).view, v1);
        assert_int_equal(status(i).view_changes, 1);
    }
    for (uint64_t v = v0; v <= v1; v++)
        assert_int_not_equal(hs_leader(core(0), v), 1);
}

/* The same schedule with plain windows: a timeout at every turn of the
 * dead replica (what the test above improves on). */
/* docs/hotstuff.md "Blocks and leaders", Leader windows (without reputation). */
static void test_impl_leader_windows_dead_leader_costs_a_timeout_per_turn(void **state)
{
    (void)state;
    crash(1);
    uint64_t req = 1;
    drive(&req, 4);
    uint64_t v0 = status(0).view;
    uint64_t tcs = drive(&req, 40);
    uint64_t rotations = (status(0).view - v0) / (4 * N);
    assert_true(rotations >= 3);
    assert_true(tcs >= rotations - 1);
}

/* Replica 1 crashed and excluded; then replica 2 restarts from its WAL,
 * and a brand-new core with no history is asked too. All name the same
 * leaders, and since n = 4 with one replica down needs every other vote,
 * commits without a timeout show the restarted replica votes for the
 * leaders the others follow. */
/* docs/hotstuff.md "Blocks and leaders", Leader reputation: the view alone decides. */
static void test_impl_reputation_restarted_replica_agrees_on_leader(void **state)
{
    (void)state;
    crash(1);
    uint64_t req = 1;
    assert_int_equal(drive(&req, 6), 1);
    restart(2); /* recovery executes the committed blocks again */
    uint64_t v = status(0).view;
    for (uint64_t x = v; x < v + 64; x++)
        assert_int_equal(hs_leader(core(2), x), hs_leader(core(0), x));
    assert_int_equal(drive(&req, 20), 0);
    assert_int_equal(status(2).view, status(0).view);
    assert_int_equal(status(2).leader, status(0).leader);
    assert_int_equal(status(2).last_executed, status(0).last_executed);
    /* A replica that knows nothing (fresh, as before a state transfer:
     * replica 1's config and no WAL) names the same leader for every view
     * the others are in. */
    struct bft_core *fresh = extra_core(1, cf_config(H->cf, 1));
    v = status(0).view;
    for (uint64_t x = v - 64; x < v + 64; x++)
        assert_int_equal(hs_leader(fresh, x), hs_leader(core(0), x));
    OPS->destroy(fresh);
}

/* The rule itself, for n = 4 (f = 1) and n = 7 (f = 2), W = 4 and 256,
 * over many views: a TC leads to a later view, the same one for every
 * view of a window, led by another replica; the TC's leader leads no
 * window of the epoch it leads to; with f = 2 a second TC there skips
 * both failed leaders. */
static void check_rule(uint32_t n, uint32_t w)
{
    struct bft_core_config cfg;
    bft_core_config_defaults(&cfg, BFT_PROTO_HOTSTUFF, n, 0);
    cfg.leader_views = w;
    cfg.leader_reputation = 1;
    struct bft_core *c = extra_core(0, &cfg);
    uint64_t x = 1;
    for (int k = 0; k < 3000; k++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        uint64_t v = 1 + (x >> 24) % (1ull << 36);
        uint32_t l = hs_leader(c, v);
        uint64_t t = hs_view_after_tc(c, v);
        assert_true(t > v);
        uint64_t first = v - v % w;
        assert_int_equal(hs_view_after_tc(c, first), t);
        assert_int_equal(hs_view_after_tc(c, first + w - 1), t);
        uint32_t l2 = hs_leader(c, t);
        assert_int_not_equal(l2, l);
        uint64_t epoch = t - t % HS_EPOCH_VIEWS;
        for (uint64_t u = epoch; u < epoch + 2 * n * w; u += w)
            assert_int_not_equal(hs_leader(c, u), l);
        if (cfg.f >= 2) {
            uint64_t t2 = hs_view_after_tc(c, t);
            uint64_t e2 = t2 - t2 % HS_EPOCH_VIEWS;
            for (uint64_t u = e2; u < e2 + 2 * n * w; u += w) {
                assert_int_not_equal(hs_leader(c, u), l);
                assert_int_not_equal(hs_leader(c, u), l2);
            }
        }
    }
    OPS->destroy(c);
}
/* docs/hotstuff.md "Blocks and leaders", Leader reputation: epochs and exclusion lists. */
static void test_impl_reputation_rule_properties(void **state)
{
    (void)state;
    check_rule(4, 4);
    check_rule(4, 256);
    check_rule(7, 4);
    check_rule(7, 256);
    check_rule(16, 256);
}

/* TC order. W = 4, n = 4: TC(13) (window 3, leader 3) leads to epoch 4,
 * view 262144; TC(17) (window 4, leader 0) to epoch 1, view 65536: the
 * later TC leads to the earlier view. A replica holding TC(17) that learns
 * TC(13) moves on to 262144 and keeps TC(13) as its high TC (so it
 * proposes or times out carrying it there); one holding TC(13) keeps it. A
 * TC(13) with a bad signature is refused, though hs_tc_verify takes TCs
 * older than the high TC as checked. */
/* docs/hotstuff.md "Blocks and leaders", Leader reputation: TC order. */
static void test_impl_reputation_tc_that_leads_further_wins(void **state)
{
    (void)state;
    struct bft_core *c = core(2);
    assert_int_equal(hs_view_after_tc(c, 13), 4 * HS_EPOCH_VIEWS);
    assert_int_equal(hs_view_after_tc(c, 17), HS_EPOCH_VIEWS);
    assert_int_equal(hs_leader(c, 4 * HS_EPOCH_VIEWS), 0);
    assert_int_equal(hs_leader(c, HS_EPOCH_VIEWS), 1);
    struct hs_tc t13, t17, bad;
    make_tc(&t13, 13, 0);
    make_tc(&t17, 17, 0);
    bad = t13;
    bad.sig[1][0] ^= 1;
    /* Replica 2: TC(17), then a forged TC(13), then the real one. */
    hs_on_tc(c, &t17);
    assert_int_equal(c->view, HS_EPOCH_VIEWS);
    assert_int_equal(c->high_tc.view, 17);
    hs_on_tc(c, &bad);
    assert_int_equal(c->view, HS_EPOCH_VIEWS);
    assert_int_equal(c->high_tc.view, 17);
    assert_int_equal(H->rep[2].rejected[BFT_REJECT_BAD_SIGNATURE], 1);
    hs_on_tc(c, &t13);
    assert_int_equal(c->view, 4 * HS_EPOCH_VIEWS);
    assert_int_equal(c->high_tc.view, 13);
    /* Replica 3: TC(13) first; TC(17) changes nothing. */
    hs_on_tc(core(3), &t13);
    hs_on_tc(core(3), &t17);
    assert_int_equal(core(3)->view, 4 * HS_EPOCH_VIEWS);
    assert_int_equal(core(3)->high_tc.view, 13);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_impl_reputation_dead_leader_skipped_after_one_timeout,
                                        setup_rep, teardown_rep),
        cmocka_unit_test_setup_teardown(
            test_impl_leader_windows_dead_leader_costs_a_timeout_per_turn, setup_windows,
            teardown_rep),
        cmocka_unit_test_setup_teardown(test_impl_reputation_restarted_replica_agrees_on_leader,
                                        setup_rep, teardown_rep),
        cmocka_unit_test_setup_teardown(test_impl_reputation_rule_properties, setup_rep,
                                        teardown_rep),
        cmocka_unit_test_setup_teardown(test_impl_reputation_tc_that_leads_further_wins, setup_rep,
                                        teardown_rep),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
