/* Raft core, scripted (no sockets, no clock), organised by paper section
 * like etcd's raft_paper_test. This file: leader election (§5.2, §5.4.1),
 * pre-vote and stickiness (diss. §9.6, §4.2.3), leader crash. Replication
 * and commitment are in test_raft_replication.c, durability and snapshots
 * in test_raft_durable.c, reads in test_raft_read.c.
 *
 * Test names start with the section they check, like etcd's
 * raft_paper_test: test_5_3_x is §5.3 of the Raft paper (Ongaro and
 * Ousterhout, ATC'14), test_fig2_x its Figure 2, test_diss_6_4_x §6.4 of
 * Ongaro's dissertation. */
#include "core/core.h"
#include "test_raft_fixture.h"

/* ---- §5.2 leader election ---- */

static void test_5_2_election_basic(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    /* Nobody is leader before an election timeout. */
    assert_int_equal(fx_leader(fx), -1);
    fx_elect(fx, 0);
    assert_int_equal(fx_leader(fx), 0);
    /* The leader's no-op committed on the acks; followers learn the commit
     * index from the next AppendEntries (a heartbeat). */
    assert_int_equal(fx_status(fx, 0).last_executed, 1);
    fx_heartbeat(fx, 0);
    for (uint32_t i = 0; i < 3; i++) {
        struct bft_core_status st = fx_status(fx, i);
        assert_int_equal(st.view, 1);
        assert_int_equal(st.leader, 0);
        assert_int_equal(st.view_changes, 1);
        assert_int_equal(st.last_executed, 1);
    }
    assert_true(fx_armed(fx, 0, RAFT_TIMER_HEARTBEAT));
    assert_false(fx_armed(fx, 0, RAFT_TIMER_ELECTION));
    fx_free(fx);
}

/* Randomised timeouts (§5.2): in [T, 2T), not all equal. */
static void test_5_2_election_timeout_randomised(void **state)
{
    (void)state;
    struct fx *fx = fx_new(5);
    fx_boot(fx);
    uint64_t lo = UINT64_MAX, hi = 0;
    for (int round = 0; round < 20; round++) {
        for (uint32_t i = 0; i < 5; i++) {
            uint64_t t = fx->node[i].after_ms[RAFT_TIMER_ELECTION];
            assert_true(t >= 100 && t < 200);
            if (t < lo) lo = t;
            if (t > hi) hi = t;
            /* re-arm by letting the timer fire while partitioned alone */
        }
        fx_partition(fx, 1u << (round % 5));
        fx_fire(fx, (uint32_t)(round % 5), RAFT_TIMER_ELECTION);
        fx_run(fx, 1000);
    }
    assert_true(hi > lo);
    fx_free(fx);
}

/* Election safety (Fig. 3): split votes and competing candidates never give
 * two leaders in one term. */
static void test_5_2_election_safety_competing(void **state)
{
    (void)state;
    struct fx *fx = fx_new(5);
    struct fx_terms seen = {0};
    fx_boot(fx);
    for (int round = 0; round < 30; round++) {
        /* Several candidates at once, messages interleaved. */
        for (uint32_t i = 0; i < 5; i++)
            if ((round + i) % 2 == 0) fx_fire(fx, i, RAFT_TIMER_ELECTION);
        while (fx->len) {
            fx_run(fx, 1);
            fx_check_safety(fx, &seen);
        }
        /* Expire stickiness so the next round may elect again. */
        for (uint32_t i = 0; i < 5; i++)
            fx_fire(fx, i, RAFT_TIMER_STICKY);
        int l = fx_leader(fx);
        if (l >= 0) {
            fx_crash(fx, (uint32_t)l);
            fx_restart(fx, (uint32_t)l, true);
            fx_fire(fx, (uint32_t)l, RAFT_TIMER_START);
        }
    }
    assert_true(seen.n >= 5); /* elections did happen */
    fx_free(fx);
}

/* §5.4.1: a voter refuses a candidate whose log is less up-to-date. */
static void test_5_4_1_election_restriction(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    fx_elect(fx, 0);
    fx_submit(fx, 0, 0, 1, false);
    /* Node 2 misses the entry. */
    fx_partition(fx, 1u << 2);
    fx_run(fx, 1000);
    fx_heartbeat(fx, 0);
    fx_heal(fx);
    struct bft_core_status st = fx_status(fx, 0);
    assert_int_equal(st.last_executed, 2);
    /* Leader 0 dies; node 2 (shorter log) cannot win, node 1 can. */
    fx_crash(fx, 0);
    for (uint32_t i = 1; i < 3; i++)
        fx_fire(fx, i, RAFT_TIMER_STICKY);
    fx_elect(fx, 2);
    assert_int_equal(fx_leader(fx), -1);
    fx_elect(fx, 1);
    assert_int_equal(fx_leader(fx), 1);
    fx_free(fx);
}

/* ---- diss. §9.6 pre-vote ---- */

/* A partitioned node's timeouts do not inflate its term, and when it comes
 * back it does not depose the healthy leader. */
static void test_diss_9_6_prevote_rejoin_does_not_disrupt(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    fx_elect(fx, 0);
    fx_partition(fx, 1u << 2);
    for (int k = 0; k < 10; k++) {
        assert_true(fx_fire(fx, 2, RAFT_TIMER_ELECTION));
        fx_run(fx, 1000);
        fx_heartbeat(fx, 0);
    }
    assert_int_equal(fx_status(fx, 2).view, 1); /* pre-votes never got a majority */
    fx_heal(fx);
    /* Its next attempt after rejoining: the others heard from the leader
     * within T and refuse, without moving their term. */
    fx_fire(fx, 2, RAFT_TIMER_ELECTION);
    fx_run(fx, 1000);
    assert_int_equal(fx_leader(fx), 0);
    assert_int_equal(fx_status(fx, 0).view, 1);
    assert_int_equal(fx_status(fx, 1).view, 1);
    fx_heartbeat(fx, 0);
    assert_int_equal(fx_status(fx, 2).leader, 0);
    fx_free(fx);
}

/* Even a real RequestVote with a higher term (a node that did bump its
 * term) does not depose a leader whose followers heard from it (diss.
 * §4.2.3); check-quorum keeps the leader in place. */
static void test_diss_4_2_3_sticky_followers_ignore_higher_term_votes(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    fx_elect(fx, 0);
    uint8_t body[17] = {RAFT_VOTE_REAL};
    wire_le_store(body + 1, 1, 8);
    struct bft_msg v = {.type = BFT_MSG_RAFT_VOTE,
                        .sender = 2,
                        .cluster_id = fx_cluster(fx),
                        .view = 9,
                        .seq = 100,
                        .body = body,
                        .body_len = sizeof body};
    bft_raft_ops.on_message(fx_core(fx, 1), &v);
    bft_raft_ops.on_message(fx_core(fx, 0), &v);
    assert_int_equal(fx_status(fx, 1).view, 1);
    assert_int_equal(fx_leader(fx), 0);
    fx_free(fx);
}

/* ---- leader crash and re-election ---- */

static void test_5_2_leader_crash_reelection(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    fx_elect(fx, 0);
    fx_submit(fx, 0, 0, 1, false);
    fx_run(fx, 1000);
    fx_crash(fx, 0);
    /* Followers stop hearing the leader: stickiness lapses, a timeout
     * elects a new leader in term 2. */
    for (uint32_t i = 1; i < 3; i++)
        fx_fire(fx, i, RAFT_TIMER_STICKY);
    fx_elect(fx, 1);
    assert_int_equal(fx_leader(fx), 1);
    assert_int_equal(fx_status(fx, 1).view, 2);
    assert_int_equal(fx_status(fx, 2).view_changes, 2);
    /* The new leader keeps committing with the remaining majority. */
    fx_submit(fx, 1, 0, 2, false);
    fx_run(fx, 1000);
    fx_heartbeat(fx, 1);
    assert_int_equal(fx_status(fx, 1).last_executed, 4); /* noop, r1, noop, r2 */
    assert_int_equal(fx_status(fx, 2).last_executed, 4);
    assert_int_equal(fx_state(fx, 1), fx_state(fx, 2));
    /* The old leader comes back from its WAL, re-executes, catches up. */
    fx_restart(fx, 0, true);
    fx_fire(fx, 0, RAFT_TIMER_START);
    fx_heartbeat(fx, 1);
    fx_heartbeat(fx, 1);
    assert_int_equal(fx_status(fx, 0).last_executed, 4);
    assert_int_equal(fx_state(fx, 0), fx_state(fx, 1));
    assert_false(fx_status(fx, 0).is_leader);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_5_2_election_basic),
        cmocka_unit_test(test_5_2_election_timeout_randomised),
        cmocka_unit_test(test_5_2_election_safety_competing),
        cmocka_unit_test(test_5_4_1_election_restriction),
        cmocka_unit_test(test_diss_9_6_prevote_rejoin_does_not_disrupt),
        cmocka_unit_test(test_diss_4_2_3_sticky_followers_ignore_higher_term_votes),
        cmocka_unit_test(test_5_2_leader_crash_reelection),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
