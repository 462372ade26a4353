/* Chained HotStuff, adversarial TIMEOUTs (issue 12). The pacemaker is the
 * DiemBFT v4 timeout-certificate design (HotStuff PODC'19 §4.4 and §6
 * leave it abstract); docs/hotstuff.md "Pacemaker" has the rules.
 *
 * Test names start with the section they check, like etcd's
 * raft_paper_test and our PBFT and Raft tests: test_4_2_x is §4.2 of the
 * HotStuff paper (Yin, Malkhi, Reiter, Gueta, Abraham, PODC'19, arXiv
 * v6), test_alg3_x its Algorithm 3, test_diembft_x a rule of DiemBFT v4
 * (its timeout certificates, pacemaker and voting rule), and
 * test_impl_<part>_x one of our own extensions, each described in
 * docs/hotstuff.md. The line above each test names the section. */
#include "tests/core/hotstuff/hotstuff_fixture.h"

/* A Byzantine replica's TIMEOUT for a view a million ahead used to count as
 * "stuck" (hs_has_work) forever: with it, one honest replica's timeout was
 * enough to start the view timer of an idle replica, and so on in every
 * view after. A timeout counts only for views near ours now. */
/* docs/hotstuff.md "Pacemaker", Idle replicas join: only views near ours count. */
static void test_impl_pacemaker_far_future_timeout_not_counted_stuck(void **state)
{
    (void)state;
    struct hs_qc g;
    hs_qc_genesis(&g);
    timeout_to(3, 0, 1000000, &g, 0, 0, NULL, NULL);
    assert_false(armed(0, HS_TIMER_VIEW));
    assert_int_equal(status(0).view, 1);
    /* One honest replica stuck in view 1: f = 1 others, not f + 1. */
    timeout_to(1, 0, 1, &g, 0, 0, NULL, NULL);
    assert_false(armed(0, HS_TIMER_VIEW));
    /* A second one is f + 1: replica 0 joins. */
    timeout_to(2, 0, 1, &g, 0, 0, NULL, NULL);
    assert_true(armed(0, HS_TIMER_VIEW) || status(0).in_view_change);
}

/* Split views (issue 10, the `withhold` fault). The leader of view 1
 * (replica 1) sends its proposal to replica 0 only: replicas 0 and 1 vote
 * in view 1 and so enter view 2 (Algorithm 3), but two votes are no QC;
 * replicas 2 and 3 never see the proposal and time out view 1. Their
 * timeouts (view 1) and any of replicas 0 and 1 (view 2) never meet, and
 * the cluster stalled for good. Now a replica that voted in view 1 without
 * seeing its QC joins f+1 timeouts for it: TC(1) forms and everyone moves
 * on. */
/* DiemBFT v4 Pacemaker: a voter times out the round it voted in (Split views). */
static void test_diembft_voter_joins_timeouts_for_withheld_view(void **state)
{
    (void)state;
    submit(5, 1);
    /* Deliver everything but the leader's proposal to replicas 2 and 3. */
    for (struct packet *p; (p = peek());) {
        struct bft_msg m;
        assert_int_equal(bft_msg_decode(p->buf, p->len, &m), BFT_E_OK);
        if (p->from == 1 && m.type == BFT_MSG_HS_PROPOSAL && m.view == 1 && p->to >= 2) {
            drop_one();
            continue;
        }
        deliver_one();
    }
    assert_int_equal(status(0).view, 2);
    assert_int_equal(status(2).view, 1);
    /* Only the replicas that saw nothing time out. */
    fire(2, HS_TIMER_VIEW);
    fire(3, HS_TIMER_VIEW);
    run();
    for (uint32_t i = 0; i < N; i++)
        assert_true(status(i).view >= 2);
    assert_true(status(2).view_changes >= 1 && status(3).view_changes >= 1);
    /* Replica 0 signed a timeout for view 1, the view it voted in. */
    bool joined = false;
    for (uint32_t i = 0; i < H->nfx; i++)
        joined = joined || (H->fx[i].kind == E_SEND && H->fx[i].replica == 0 &&
                            H->fx[i].type == BFT_MSG_HS_TIMEOUT && H->fx[i].view == 1);
    assert_true(joined);
    run_rounds(3);
    for (uint32_t i = 0; i < N; i++)
        assert_true(status(i).last_executed >= 1);
}

/* A replica that holds the QC of the view below its own (the leader that
 * formed it) does not join timeouts for that view (it could not: its high
 * QC is not below it); the QC it carries in its own timeouts brings the
 * others along instead. */
/* DiemBFT v4 Pacemaker advance_round_qc: a QC holder has left the view. */
static void test_diembft_voter_with_qc_does_not_join_lower_timeouts(void **state)
{
    (void)state;
    submit(5, 1);
    run();
    uint32_t r = N;
    for (uint32_t i = 0; i < N && r == N; i++)
        if (core(i)->high_qc.view + 1 == status(i).view) r = i;
    assert_true(r < N);
    uint64_t v = status(r).view;
    struct hs_qc g;
    hs_qc_genesis(&g);
    uint32_t before = count_fx(E_SEND, (int)r, BFT_MSG_HS_TIMEOUT);
    for (uint32_t k = 1, sent = 0; k < N && sent < 2; k++, sent++)
        timeout_to((r + k) % N, r, v - 1, &g, 0, 0, NULL, NULL);
    assert_int_equal(count_fx(E_SEND, (int)r, BFT_MSG_HS_TIMEOUT), before);
    assert_int_equal(status(r).view, v);
}

static bool sent_timeout(uint32_t r, uint64_t view)
{
    for (uint32_t i = 0; i < H->nfx; i++)
        if (H->fx[i].kind == E_SEND && H->fx[i].replica == r &&
            H->fx[i].type == BFT_MSG_HS_TIMEOUT && H->fx[i].view == view)
            return true;
    return false;
}

/* The failed view (DiemBFT). Replica 2, the leader of view 2 and so the
 * collector of view 1's votes, is dead. Replicas 0, 1 and 3 voted in view
 * 1 and entered view 2 by voting; when their timers fire they time out
 * view 1, the one whose QC is missing, carrying their votes for it. The
 * votes agree, so every replica assembles QC(1) and no TC(1) forms (view
 * 1's leader did nothing wrong); having waited a view timeout already,
 * they give up view 2 at once, and TC(2) names its leader. Block 1 is not
 * lost. (An equivocating leader's votes would not agree, and TC(1) would
 * name it: tests/sim/test_sim_hotstuff_byz.c.) */
/* DiemBFT v4 Pacemaker: time out the failed view (docs/hotstuff.md "Failed view"). */
static void test_diembft_dead_collector_failed_view_then_its_own(void **state)
{
    (void)state;
    H->drop_to[2] = H->drop_from[2] = true;
    submit(5, 1);
    run();
    for (uint32_t i = 0; i < N; i++)
        if (i != 2) assert_int_equal(status(i).view, 2);
    fire(0, HS_TIMER_VIEW);
    fire(1, HS_TIMER_VIEW);
    fire(3, HS_TIMER_VIEW);
    run();
    for (uint32_t i = 0; i < N; i++) {
        if (i == 2) continue;
        assert_true(sent_timeout(i, 1));
        assert_true(sent_timeout(i, 2));
        assert_true(core(i)->high_qc.view >= 1);
        assert_int_equal(core(i)->high_tc.view, 2);
        assert_true(status(i).view >= 3);
    }
    run_rounds(4);
    for (uint32_t i = 0; i < N; i++)
        if (i != 2) assert_true(status(i).last_executed >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_impl_pacemaker_far_future_timeout_not_counted_stuck,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_diembft_voter_joins_timeouts_for_withheld_view, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_diembft_voter_with_qc_does_not_join_lower_timeouts,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_diembft_dead_collector_failed_view_then_its_own, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
