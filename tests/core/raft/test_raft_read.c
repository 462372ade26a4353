/* Raft reads without log entries (diss. §6.4): leader-lease reads served
 * locally while the lease holds and refused once its timer fires, ReadIndex
 * that confirms leadership with a heartbeat round and waits for the state
 * machine to catch up, the bounds on pending reads, and quorum-level reads
 * (docs/reads.md) that never take the lease.
 *
 * Test names start with the section they check, like etcd's
 * raft_paper_test: test_5_3_x is §5.3 of the Raft paper (Ongaro and
 * Ousterhout, ATC'14), test_fig2_x its Figure 2, test_diss_6_4_x §6.4 of
 * Ongaro's dissertation. */
#include "test_raft_fixture.h"

/* Fire every armed lease timer of node i: the lease runs out. */
static void expire_leases(struct fx *fx, uint32_t i)
{
    for (uint32_t s = 0; s < RAFT_LEASE_RING; s++)
        fx_fire(fx, i, RAFT_TIMER_LEASE_BASE + s);
}

static void test_diss_6_4_1_lease_read_served_locally(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    fx_elect(fx, 0);
    /* The election's round was acked by a majority and the no-op is
     * committed: the lease holds. */
    assert_true(raft_lease_valid(fx_core(fx, 0)));
    /* Armed for T minus the drift bound (T = 100 ms). */
    uint32_t slot = (uint32_t)(fx_core(fx, 0)->round % RAFT_LEASE_RING);
    assert_int_equal(fx->node[0].after_ms[RAFT_TIMER_LEASE_BASE + slot], 100 - 100 / 8);
    size_t sent = fx->sent_by_type[BFT_MSG_RAFT_APPEND];
    fx_submit(fx, 0, 0, 1, true);
    assert_int_equal(fx->node[0].reads_ready, 1);
    assert_int_equal(fx->sent_by_type[BFT_MSG_RAFT_APPEND], sent); /* no round trip */
    fx_free(fx);
}

static void test_diss_6_4_1_lease_refused_after_timer(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    fx_elect(fx, 0);
    fx_partition(fx, 1u << 0); /* the leader is cut off */
    expire_leases(fx, 0);
    assert_false(raft_lease_valid(fx_core(fx, 0)));
    size_t sent = fx->sent_by_type[BFT_MSG_RAFT_APPEND];
    fx_submit(fx, 0, 0, 1, true);
    /* Not served locally: a ReadIndex round went out instead. */
    assert_int_equal(fx->node[0].reads_ready, 0);
    assert_int_equal(fx->sent_by_type[BFT_MSG_RAFT_APPEND], sent + 2);
    fx_run(fx, 100000);
    fx_heartbeat(fx, 0);
    assert_int_equal(fx->node[0].reads_ready, 0); /* nobody confirms it */
    /* Heal: the next round is acked by a majority; the read is served and
     * a fresh lease holds again. */
    fx_heal(fx);
    fx_heartbeat(fx, 0);
    assert_int_equal(fx->node[0].reads_ready, 1);
    assert_true(raft_lease_valid(fx_core(fx, 0)));
    fx_free(fx);
}

/* A lease only counts rounds of the current leadership, and a new leader
 * has none until its first round (and its no-op) are confirmed. */
static void test_diss_6_4_new_leader_has_no_lease(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    assert_true(fx_fire(fx, 0, RAFT_TIMER_ELECTION));
    fx_run_only(fx, FX_T(BFT_MSG_RAFT_VOTE) | FX_T(BFT_MSG_RAFT_VOTE_RESP));
    assert_int_equal(fx_leader(fx), 0);
    assert_false(raft_lease_valid(fx_core(fx, 0)));
    fx_free(fx);
}

/* ReadIndex (§6.4): a read arriving before the new leader's no-op commits
 * waits for leadership confirmation and for applied >= read index. */
static void test_diss_6_4_readindex_waits_for_apply(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    /* A committed-elsewhere past: entries 1..3 of term 1 on everyone. */
    for (uint32_t i = 0; i < 3; i++) {
        fx_rec_hard(&fx->node[i], 1, RAFT_NONE, 0, true);
        for (uint64_t k = 1; k <= 3; k++)
            fx_rec_entry(&fx->node[i], k, 1);
    }
    fx_boot(fx);
    assert_true(fx_fire(fx, 0, RAFT_TIMER_ELECTION));
    fx_run_only(fx, FX_T(BFT_MSG_RAFT_VOTE) | FX_T(BFT_MSG_RAFT_VOTE_RESP));
    assert_int_equal(fx_leader(fx), 0);
    assert_int_equal(fx->node[0].executed, 0);
    fx_submit(fx, 0, 0, 1, true);
    assert_int_equal(fx->node[0].reads_ready, 0);
    /* The election's round was lost; the read needs a round started after
     * it arrived: the next heartbeat. Its acks confirm leadership and
     * commit the no-op at 4, which applies 1..4; only then is it answered. */
    fx_run(fx, 100000);
    assert_int_equal(fx->node[0].reads_ready, 0);
    fx_heartbeat(fx, 0);
    assert_int_equal(fx->node[0].executed, 4);
    assert_int_equal(fx->node[0].reads_ready, 1);
    fx_free(fx);
}

/* Reads at a follower go to the leader it knows; pending reads are
 * bounded; a leader that steps down drops its pending reads. */
static void test_diss_6_4_read_forwarding_and_bounds(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    fx_elect(fx, 0);
    fx_drop_all(fx);
    fx_submit(fx, 1, 0, 1, true);
    assert_int_equal(fx_queued(fx, BFT_MSG_REQUEST, 0), 1);
    fx_run(fx, 100000);
    assert_int_equal(fx->node[0].reads_ready, 1);
    fx_partition(fx, 1u << 0);
    expire_leases(fx, 0);
    for (uint64_t r = 0; r < RAFT_READS_MAX + 5; r++)
        fx_submit(fx, 0, 0, 10 + r, true);
    assert_int_equal(fx->node[0].rejects[BFT_REJECT_OVERLOAD], 5);
    assert_int_equal(fx_core(fx, 0)->reads_count, RAFT_READS_MAX);
    fx_heartbeat(fx, 0);
    fx_heartbeat(fx, 0);
    assert_true(fx_fire(fx, 0, RAFT_TIMER_QUORUM));
    assert_true(fx_fire(fx, 0, RAFT_TIMER_QUORUM));
    assert_false(fx_status(fx, 0).is_leader);
    assert_int_equal(fx_core(fx, 0)->reads_count, 0);
    assert_int_equal(fx->node[0].reads_ready, 1);
    fx_free(fx);
}

/* Lease safety across a follower restart (diss. §6.4.1; the lease relies on
 * §4.2.3's rule that a server which heard from a leader within the
 * election timeout refuses votes). The rule must survive a restart: a
 * follower that restarts does not know when it last heard from the
 * leader, so it refuses votes for one election timeout after it starts.
 * Otherwise the restarted follower votes at once, another leader is
 * elected and commits writes, while the old leader, cut off, still serves
 * reads from its lease: stale reads. */
static void test_diss_6_4_1_restarted_follower_keeps_the_lease_rule(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    fx_elect(fx, 0);
    assert_true(raft_lease_valid(fx_core(fx, 0)));
    fx_partition(fx, 1u << 0); /* the leader is cut off; its lease still holds */
    fx_crash(fx, 1);
    fx_restart(fx, 1, true);
    fx_fire(fx, 1, RAFT_TIMER_START);
    fx_run(fx, 100000);
    /* Node 2 times out and campaigns: node 1 must refuse while node 0 may
     * still hold its lease. */
    assert_true(fx_fire(fx, 2, RAFT_TIMER_ELECTION));
    fx_run(fx, 100000);
    assert_false(fx_status(fx, 2).is_leader);
    assert_true(raft_lease_valid(fx_core(fx, 0)));
    /* One election timeout after the restart the rule lapses (the lease,
     * T minus the drift bound, has run out by then): node 2 is elected. */
    assert_true(fx_fire(fx, 1, RAFT_TIMER_STICKY));
    if (!fx_status(fx, 2).is_leader) {
        assert_true(fx_fire(fx, 2, RAFT_TIMER_ELECTION));
        fx_run(fx, 100000);
    }
    assert_true(fx_status(fx, 2).is_leader);
    fx_free(fx);
}

/* A read-only request flagged quorum (docs/reads.md), straight to node i. */
static void submit_quorum_read(struct fx *fx, uint32_t i, uint64_t req_no)
{
    uint8_t buf[256];
    size_t len = fx_request(buf, sizeof buf, fx_cluster(fx), 0, req_no, true);
    buf[BFT_HDR_LEN + 2] |= BFT_REQ_READ_QUORUM; /* the body's flags byte */
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(buf, len, &m), BFT_E_OK);
    assert_int_equal(bft_req_flags(&m), BFT_REQ_READONLY | BFT_REQ_READ_QUORUM);
    fx_submit_raw(fx, i, buf, len); /* a read: on_read */
}

/* Quorum level: even with a valid lease the leader answers only after a
 * heartbeat round started after the read arrived is acked by a majority
 * (ReadIndex, §6.4 steps 1-4), so the read does not rely on clock drift.
 * A linearizable read in the same state is served from the lease. */
static void test_diss_6_4_quorum_read_skips_lease(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    fx_elect(fx, 0);
    assert_true(raft_lease_valid(fx_core(fx, 0)));
    size_t sent = fx->sent_by_type[BFT_MSG_RAFT_APPEND];
    submit_quorum_read(fx, 0, 1);
    assert_int_equal(fx->node[0].reads_ready, 0);
    assert_int_equal(fx->sent_by_type[BFT_MSG_RAFT_APPEND], sent + 2); /* its own round */
    fx_run(fx, 100000);
    assert_int_equal(fx->node[0].reads_ready, 1);
    fx_submit(fx, 0, 0, 2, true);
    assert_int_equal(fx->node[0].reads_ready, 2); /* linearizable: the lease */
    fx_free(fx);
}

/* A cut-off leader with its lease still valid serves linearizable reads
 * from it but never answers a quorum read: no majority acks its round. */
static void test_diss_6_4_quorum_read_cut_off_leader_never_answers(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    fx_elect(fx, 0);
    fx_partition(fx, 1u << 0);
    assert_true(raft_lease_valid(fx_core(fx, 0)));
    submit_quorum_read(fx, 0, 1);
    fx_run(fx, 100000);
    fx_heartbeat(fx, 0);
    assert_int_equal(fx->node[0].reads_ready, 0);
    fx_submit(fx, 0, 0, 2, true);
    assert_int_equal(fx->node[0].reads_ready, 1); /* the lease read, not the quorum one */
    fx_heal(fx);
    fx_heartbeat(fx, 0);
    assert_int_equal(fx->node[0].reads_ready, 2);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_diss_6_4_1_lease_read_served_locally),
        cmocka_unit_test(test_diss_6_4_1_lease_refused_after_timer),
        cmocka_unit_test(test_diss_6_4_new_leader_has_no_lease),
        cmocka_unit_test(test_diss_6_4_readindex_waits_for_apply),
        cmocka_unit_test(test_diss_6_4_read_forwarding_and_bounds),
        cmocka_unit_test(test_diss_6_4_1_restarted_follower_keeps_the_lease_rule),
        cmocka_unit_test(test_diss_6_4_quorum_read_skips_lease),
        cmocka_unit_test(test_diss_6_4_quorum_read_cut_off_leader_never_answers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
