/* Raft log replication and commitment, scripted: pipelining and adaptive
 * batching, log matching and fast back-off (§5.3), fencing of a deposed
 * leader by term (§5.1), commit only by counting entries of the current
 * term (§5.4.2, Figure 8), minority and majority partitions, n = 4 and 1,
 * follower forwarding.
 *
 * Test names start with the section they check, like etcd's
 * raft_paper_test: test_5_3_x is §5.3 of the Raft paper (Ongaro and
 * Ousterhout, ATC'14), test_fig2_x its Figure 2, test_diss_6_4_x §6.4 of
 * Ongaro's dissertation. */
#include "test_raft_fixture.h"

/* ---- §5.3 log replication ---- */

/* Pipelining: the leader sends new entries without waiting for acks. */
static void test_5_3_pipelined_append(void **state)
{
    (void)state;
    struct fx *fx = fx_alloc(3);
    fx->cfg.batch_max = 1;
    fx->cfg.pipeline_max = 8;
    fx_start_nodes(fx);
    fx_boot(fx);
    fx_elect(fx, 0);
    for (uint64_t r = 1; r <= 5; r++)
        fx_submit(fx, 0, 0, r, false);
    /* Five entries (pipeline_max 8) went out before any ack came back. */
    assert_int_equal(fx_queued(fx, BFT_MSG_RAFT_APPEND, 1), 5);
    fx_run(fx, 100000);
    assert_int_equal(fx_status(fx, 1).last_executed, 1);
    fx_heartbeat(fx, 0); /* followers learn the commit index */
    assert_int_equal(fx_status(fx, 1).last_executed, 6);
    assert_int_equal(fx->node[1].exec_reqs, 5);
    fx_free(fx);
}

/* Adaptive batching: with the pipeline full, requests accumulate and are
 * cut into one entry when a commit frees room. */
static void test_5_3_batching_when_pipeline_full(void **state)
{
    (void)state;
    struct fx *fx = fx_alloc(3);
    fx->cfg.pipeline_max = 1;
    fx_start_nodes(fx);
    fx_boot(fx);
    fx_elect(fx, 0);
    fx_submit(fx, 0, 0, 1, false); /* cut at once: nothing in flight */
    for (uint64_t r = 2; r <= 6; r++)
        fx_submit(fx, 0, 0, r, false);
    assert_int_equal(fx_status(fx, 0).pending_requests, 5);
    fx_run(fx, 100000);
    fx_heartbeat(fx, 0);
    /* noop + entry(1 request) + entry(5 requests) */
    assert_int_equal(fx_status(fx, 0).last_executed, 3);
    assert_int_equal(fx->node[0].exec_reqs, 6);
    fx_free(fx);
}

/* Log matching and fast back-off (§5.3): a follower with a long divergent
 * suffix is repaired with one rejection per conflicting term, not one per
 * entry. */
static void test_5_3_fast_backoff(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    /* Scripted durable pasts: node 0 = [1:t1 2:t1 3:t3 4:t3], node 1 the
     * same, node 2 = [1:t1 2:t1 3:t2 ... 9:t2] (a stale leader's tail). */
    for (uint32_t i = 0; i < 3; i++)
        fx_rec_hard(&fx->node[i], 3, RAFT_NONE, 0, true);
    for (uint32_t i = 0; i < 3; i++) {
        fx_rec_entry(&fx->node[i], 1, 1);
        fx_rec_entry(&fx->node[i], 2, 1);
    }
    for (uint32_t i = 0; i < 2; i++) {
        fx_rec_entry(&fx->node[i], 3, 3);
        fx_rec_entry(&fx->node[i], 4, 3);
    }
    for (uint64_t k = 3; k <= 9; k++)
        fx_rec_entry(&fx->node[2], k, 2);
    fx_boot(fx);
    fx_elect(fx, 0);
    assert_int_equal(fx_leader(fx), 0);
    /* One rejection from node 2 (conflict term 2 starting at 3), then the
     * leader sends from index 3 and node 2 truncates its tail. */
    assert_int_equal(fx->node[2].rejects[BFT_REJECT_EQUIVOCATION], 0);
    fx_heartbeat(fx, 0);
    fx_heartbeat(fx, 0);
    assert_int_equal(fx_status(fx, 2).last_executed, 5);
    assert_int_equal(fx_state(fx, 2), fx_state(fx, 0));
    fx_free(fx);
}

/* The same, counting messages: a divergent tail of 7 entries in one term
 * costs one rejected round trip. */
static void test_5_3_fast_backoff_one_round_trip(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    for (uint32_t i = 0; i < 3; i++)
        fx_rec_hard(&fx->node[i], 3, RAFT_NONE, 0, true);
    for (uint32_t i = 0; i < 3; i++)
        fx_rec_entry(&fx->node[i], 1, 1);
    for (uint32_t i = 0; i < 2; i++)
        fx_rec_entry(&fx->node[i], 2, 3);
    for (uint64_t k = 2; k <= 8; k++)
        fx_rec_entry(&fx->node[2], k, 2);
    fx_boot(fx);
    fx_partition(fx, 1u << 2);
    fx_elect(fx, 0);
    fx_heal(fx);
    fx_drop_all(fx);
    /* Leader probes node 2 at prev = 3 (its last). */
    assert_true(fx_fire(fx, 0, RAFT_TIMER_HEARTBEAT));
    size_t appends = 0, fails = 0;
    while (fx->len) {
        struct fx_msg *m = fx_peek(fx, 0);
        struct bft_msg d;
        assert_int_equal(bft_msg_decode(m->buf, m->len, &d), BFT_E_OK);
        if (m->to == 2 && d.type == BFT_MSG_RAFT_APPEND) appends++;
        if (m->from == 2 && d.type == BFT_MSG_RAFT_APPEND_RESP && !(d.body[0] & RAFT_AR_SUCCESS))
            fails++;
        fx_run(fx, 1);
    }
    assert_int_equal(fails, 1);
    assert_int_equal(appends, 2);
    fx_heartbeat(fx, 0);
    assert_int_equal(fx_status(fx, 2).last_executed, 3);
    fx_free(fx);
}

/* §5.1: a deposed leader's late appends are rejected by term (the term is
 * a fencing token) and the reply makes it step down. */
static void test_5_1_stale_leader_fenced_by_term(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    fx_elect(fx, 0);
    fx_partition(fx, 1u << 0);
    fx_submit(fx, 0, 0, 1, false); /* the old leader still hears clients */
    /* Capture its append (term 1) for later, then drop everything. */
    assert_true(fx->len > 0);
    struct fx_msg late = *fx_peek(fx, 0);
    late.buf = malloc(late.len);
    memcpy(late.buf, fx_peek(fx, 0)->buf, late.len);
    fx_run(fx, 100000);
    for (uint32_t i = 1; i < 3; i++)
        fx_fire(fx, i, RAFT_TIMER_STICKY);
    fx_elect(fx, 1);
    assert_int_equal(fx_status(fx, 1).view, 2);
    fx_heal(fx);
    /* The late append reaches node 2: rejected as stale, answered. */
    late.to = 2;
    fx_deliver_one(fx, &late);
    free(late.buf);
    assert_int_equal(fx->node[2].rejects[BFT_REJECT_STALE_VIEW], 1);
    assert_int_equal(fx_status(fx, 2).view, 2);
    assert_int_equal(fx_status(fx, 2).leader, 1);
    fx_run(fx, 100000);
    assert_false(fx_status(fx, 0).is_leader);
    assert_int_equal(fx_status(fx, 0).view, 2);
    /* Its uncommitted entry never executes anywhere. */
    fx_heartbeat(fx, 1);
    assert_int_equal(fx->node[0].exec_reqs, 0);
    assert_int_equal(fx_status(fx, 0).last_executed, 2); /* two no-ops */
    fx_free(fx);
}

/* ---- §5.4.2 commitment: Figure 8 ---- */

/* A leader never commits an entry of an earlier term by counting replicas:
 * index 2 (term 2) stored on a majority stays uncommitted until an entry of
 * the current term (its no-op at 3) is. */
static void test_5_4_2_figure8_commit_only_current_term(void **state)
{
    (void)state;
    struct fx *fx = fx_new(5);
    for (uint32_t i = 0; i < 5; i++)
        fx_rec_hard(&fx->node[i], 3, RAFT_NONE, 0, true);
    for (uint32_t i = 0; i < 5; i++)
        fx_rec_entry(&fx->node[i], 1, 1);
    for (uint32_t i = 0; i < 3; i++)
        fx_rec_entry(&fx->node[i], 2, 2);
    fx_boot(fx);
    /* Elect 0 but lose every AppendEntries: nobody acks the no-op. */
    assert_true(fx_fire(fx, 0, RAFT_TIMER_ELECTION));
    fx_run_only(fx, FX_T(BFT_MSG_RAFT_VOTE) | FX_T(BFT_MSG_RAFT_VOTE_RESP));
    assert_int_equal(fx_leader(fx), 0);
    assert_int_equal(fx_status(fx, 0).view, 4);
    /* Acks for index 2 only (from 1 and 2): a majority holds entry 2. */
    uint8_t body[25] = {RAFT_AR_SUCCESS};
    struct bft_msg ack = {.type = BFT_MSG_RAFT_APPEND_RESP,
                          .cluster_id = fx_cluster(fx),
                          .view = 4,
                          .seq = 2,
                          .body = body,
                          .body_len = sizeof body};
    ack.sender = 1;
    bft_raft_ops.on_message(fx_core(fx, 0), &ack);
    ack.sender = 2;
    bft_raft_ops.on_message(fx_core(fx, 0), &ack);
    assert_int_equal(fx->node[0].executed, 0);
    /* Now the term-4 no-op is on a majority: 1..3 commit together. */
    ack.seq = 3;
    ack.sender = 1;
    bft_raft_ops.on_message(fx_core(fx, 0), &ack);
    assert_int_equal(fx->node[0].executed, 0);
    ack.sender = 2;
    bft_raft_ops.on_message(fx_core(fx, 0), &ack);
    assert_int_equal(fx->node[0].executed, 3);
    fx_free(fx);
}

/* Fig. 2 nextIndex/matchIndex, kept per follower in one raft_progress (etcd's
 * tracker.Progress): a new leader starts every follower at PROBE with
 * next = last + 1 and match = 0; an ack moves match and next up and
 * switches it to REPLICATE; check-quorum (diss. §6.2) counts and clears
 * recent_active. A follower's stickiness (diss. §4.2.3) is a bft_timeout
 * that runs from each append until its timer fires. */
static void test_fig2_progress_next_match_and_recent_activity(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    struct bft_core *l = fx_core(fx, 0), *f = fx_core(fx, 1);
    assert_false(f->sticky.armed);
    assert_true(fx_fire(fx, 0, RAFT_TIMER_ELECTION));
    /* Before any ack: PROBE, next = last + 1 (the no-op is at last). */
    for (uint32_t p = 1; p < 3; p++) {
        assert_int_equal(l->prog[p].state, RAFT_PROBE);
        assert_int_equal(l->prog[p].match, 0);
        assert_false(l->prog[p].recent_active);
    }
    fx_run(fx, 100000);
    assert_true(fx_status(fx, 0).is_leader);
    for (uint32_t p = 1; p < 3; p++) {
        assert_int_equal(l->prog[p].state, RAFT_REPLICATE);
        assert_int_equal(l->prog[p].match, l->log.last);
        assert_int_equal(l->prog[p].next, l->log.last + 1);
        assert_true(l->prog[p].recent_active);
        assert_int_equal(raft_inflight(&l->prog[p], l->log.last), 0);
    }
    assert_true(f->sticky.armed);
    assert_int_equal(f->sticky.id, RAFT_TIMER_STICKY);
    assert_true(fx_fire(fx, 1, RAFT_TIMER_STICKY));
    assert_false(f->sticky.armed);
    /* Check-quorum clears recent activity; an ack sets it again. */
    assert_true(fx_fire(fx, 0, RAFT_TIMER_QUORUM));
    assert_false(l->prog[1].recent_active || l->prog[2].recent_active);
    fx_heartbeat(fx, 0);
    assert_true(l->prog[1].recent_active && l->prog[2].recent_active);
    assert_true(f->sticky.armed);
    /* Entries sent to a cut-off follower stay in flight. */
    fx_partition(fx, (1u << 0) | (1u << 1));
    fx_submit(fx, 0, 0, 1, false);
    fx_run(fx, 100000);
    assert_int_equal(l->prog[1].match, l->log.last);
    assert_int_equal(raft_inflight(&l->prog[2], l->prog[2].next - 1), 1);
    fx_free(fx);
}

/* ---- partitions ---- */

static void test_5_3_minority_cannot_commit_majority_can(void **state)
{
    (void)state;
    struct fx *fx = fx_new(5);
    fx_boot(fx);
    fx_elect(fx, 0);
    uint64_t base = fx_status(fx, 0).last_executed;
    /* Leader 0 with 1 in the minority. */
    fx_partition(fx, (1u << 0) | (1u << 1));
    for (uint64_t r = 1; r <= 3; r++)
        fx_submit(fx, 0, 0, r, false);
    fx_run(fx, 100000);
    fx_heartbeat(fx, 0);
    assert_int_equal(fx_status(fx, 0).last_executed, base);
    assert_int_equal(fx->node[0].exec_reqs, 0);
    /* Check-quorum: after a whole period hearing only node 1, the
     * minority leader steps down. */
    assert_true(fx_fire(fx, 0, RAFT_TIMER_QUORUM));
    assert_true(fx_status(fx, 0).is_leader); /* heard a majority earlier */
    fx_heartbeat(fx, 0);
    assert_true(fx_fire(fx, 0, RAFT_TIMER_QUORUM));
    assert_false(fx_status(fx, 0).is_leader);
    /* The majority elects and keeps committing. */
    for (uint32_t i = 2; i < 5; i++)
        fx_fire(fx, i, RAFT_TIMER_STICKY);
    fx_elect(fx, 3);
    assert_int_equal(fx_leader(fx), 3);
    for (uint64_t r = 1; r <= 3; r++)
        fx_submit(fx, 3, 1, r, false);
    fx_run(fx, 100000);
    fx_heartbeat(fx, 3);
    assert_int_equal(fx->node[3].exec_reqs, 3);
    assert_int_equal(fx->node[4].exec_reqs, 3);
    /* Heal: the minority's uncommitted entries are overwritten. */
    fx_heal(fx);
    fx_heartbeat(fx, 3);
    fx_heartbeat(fx, 3);
    for (uint32_t i = 0; i < 5; i++) {
        assert_int_equal(fx_state(fx, i), fx_state(fx, 3));
        assert_int_equal(fx->node[i].exec_reqs, 3);
    }
    fx_free(fx);
}

/* n = 4: majority is 3, so 2 + 2 cannot commit on either side. */
static void test_5_3_even_cluster_majority(void **state)
{
    (void)state;
    struct fx *fx = fx_new(4);
    fx_boot(fx);
    fx_elect(fx, 0);
    fx_partition(fx, (1u << 0) | (1u << 1));
    fx_submit(fx, 0, 0, 1, false);
    fx_run(fx, 100000);
    fx_heartbeat(fx, 0);
    assert_int_equal(fx->node[0].exec_reqs, 0);
    fx_heal(fx);
    fx_heartbeat(fx, 0);
    fx_heartbeat(fx, 0);
    assert_int_equal(fx->node[0].exec_reqs, 1);
    assert_int_equal(fx->node[3].exec_reqs, 1);
    fx_free(fx);
}

/* n = 1: a single replica elects itself and commits alone. */
static void test_5_3_single_node(void **state)
{
    (void)state;
    struct fx *fx = fx_new(1);
    fx_boot(fx);
    fx_elect(fx, 0);
    assert_true(fx_status(fx, 0).is_leader);
    fx_submit(fx, 0, 0, 1, false);
    assert_int_equal(fx->node[0].exec_reqs, 1);
    fx_free(fx);
}

/* Followers forward client requests to the leader they know; while they
 * know none they hold them and forward them to the leader they learn of
 * (after every replica restarted, dropping them cost the client's whole
 * retransmission backoff). */
static void test_8_follower_forwards_to_leader(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    fx_submit(fx, 1, 0, 1, false); /* no leader known: held */
    assert_int_equal(fx->len, 0);
    assert_int_equal(fx_status(fx, 1).pending_requests, 1);
    fx_elect(fx, 0); /* node 1 learns of leader 0 and hands it over */
    assert_int_equal(fx_status(fx, 1).pending_requests, 0);
    fx_run(fx, 100000);
    fx_heartbeat(fx, 0);
    assert_int_equal(fx->node[0].exec_reqs, 1);
    assert_int_equal(fx->node[1].exec_reqs, 1);
    fx_submit(fx, 1, 0, 3, false); /* a leader known: forwarded at once */
    assert_int_equal(fx_queued(fx, BFT_MSG_REQUEST, 0), 1);
    fx_run(fx, 100000);
    fx_heartbeat(fx, 0);
    assert_int_equal(fx->node[1].exec_reqs, 2);
    /* A retry of the same request at the leader is not appended twice. */
    fx_submit(fx, 0, 0, 2, false);
    fx_submit(fx, 0, 0, 2, false);
    assert_int_equal(fx->node[0].rejects[BFT_REJECT_DUPLICATE], 1);
    fx_free(fx);
}

/* A replica that held a request during the election and wins it proposes
 * the request itself. */
static void test_8_held_request_proposed_by_the_winner(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    fx_submit(fx, 0, 0, 1, false);
    assert_int_equal(fx_status(fx, 0).pending_requests, 1);
    fx_elect(fx, 0);
    fx_run(fx, 100000);
    fx_heartbeat(fx, 0);
    assert_int_equal(fx->node[0].exec_reqs, 1);
    assert_int_equal(fx->node[2].exec_reqs, 1);
    fx_free(fx);
}

/* One client must not crowd out the others (issue 12 defect 7): with 16
 * clients each may queue 4096 / 16 = 256 envelopes at the leader. Client 0
 * floods more than the whole queue while the leader cannot propose (its followers are cut off, so
 * the pipeline stays full); once client 0 hits its share it is refused,
 * and client 1 is still accepted. */
static void test_8_per_client_quota_at_the_leader(void **state)
{
    (void)state;
    struct fx *fx = fx_alloc(3);
    fx->cfg.n_clients = 16;
    fx->cfg.pipeline_max = 1;
    fx_start_nodes(fx);
    fx_boot(fx);
    fx_elect(fx, 0);
    fx_partition(fx, 1u << 0);
    uint64_t over0 = fx->node[0].rejects[BFT_REJECT_OVERLOAD];
    for (uint64_t r = 1; r <= 5000; r++) /* more than the whole queue */
        fx_submit(fx, 0, 0, r, false);
    uint64_t refused = fx->node[0].rejects[BFT_REJECT_OVERLOAD] - over0;
    assert_true(refused >= 5000 - 256 - 2); /* the share, plus what the pipeline took */
    assert_true(refused <= 5000 - 256);
    uint64_t before = fx->node[0].rejects[BFT_REJECT_OVERLOAD];
    for (uint64_t r = 1; r <= 10; r++)
        fx_submit(fx, 0, 1, r, false);
    assert_int_equal(fx->node[0].rejects[BFT_REJECT_OVERLOAD], before);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_5_3_pipelined_append),
        cmocka_unit_test(test_5_3_batching_when_pipeline_full),
        cmocka_unit_test(test_5_3_fast_backoff),
        cmocka_unit_test(test_5_3_fast_backoff_one_round_trip),
        cmocka_unit_test(test_5_1_stale_leader_fenced_by_term),
        cmocka_unit_test(test_5_4_2_figure8_commit_only_current_term),
        cmocka_unit_test(test_fig2_progress_next_match_and_recent_activity),
        cmocka_unit_test(test_5_3_minority_cannot_commit_majority_can),
        cmocka_unit_test(test_5_3_even_cluster_majority),
        cmocka_unit_test(test_5_3_single_node),
        cmocka_unit_test(test_8_follower_forwards_to_leader),
        cmocka_unit_test(test_8_held_request_proposed_by_the_winner),
        cmocka_unit_test(test_8_per_client_quota_at_the_leader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
