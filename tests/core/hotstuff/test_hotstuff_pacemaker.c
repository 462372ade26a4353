/* Chained HotStuff core, scripted: pacemaker (TCs, silent and send-only
 * replicas), restart with the persisted lock, block sync, idling. The
 * paper leaves the pacemaker abstract (§4.4, §6 Algorithm 5); ours uses
 * DiemBFT v4's timeout certificates plus the rules of docs/hotstuff.md
 * "Pacemaker".
 *
 * Test names start with the section they check, like etcd's
 * raft_paper_test and our PBFT and Raft tests: test_4_2_x is §4.2 of the
 * HotStuff paper (Yin, Malkhi, Reiter, Gueta, Abraham, PODC'19, arXiv
 * v6), test_alg3_x its Algorithm 3, test_diembft_x a rule of DiemBFT v4
 * (its timeout certificates, pacemaker and voting rule), and
 * test_impl_<part>_x one of our own extensions, each described in
 * docs/hotstuff.md. The line above each test names the section. */
#include "tests/core/hotstuff/hotstuff_fixture.h"

/* A replica restarted from its records keeps its lock and its last voted
 * view: it does not vote again in a view it voted in, even for another
 * block the (equivocating) leader shows the new incarnation. */
/* Algorithm 4 onReceiveProposal (vheight, b_lock) across a restart from the WAL. */
static void test_alg4_restart_keeps_lock_and_vheight(void **state)
{
    (void)state;
    /* Views led by 2, 3, 0: replica 1 only follows. */
    static const uint64_t views[] = {2, 3, 4};
    struct blk c[3];
    make_chain(c, views, 3);
    for (int i = 0; i < 3; i++)
        propose_to(1, &c[i]);
    /* c[2] carries QC(c[1]) whose justify is QC(c[0]): locked on c[0]. */
    assert_int_equal(core(1)->locked_qc.view, 2);
    assert_int_equal(core(1)->last_voted_view, 4);
    assert_int_equal(count_fx(E_SEND, 1, BFT_MSG_HS_VOTE), 2); /* to 3, 0; then self */
    /* Crash and restart from the persisted records. */
    restart(1);
    assert_int_equal(core(1)->locked_qc.view, 2);
    assert_true(hs_deq(&core(1)->locked_qc.block, &c[0].digest));
    assert_int_equal(core(1)->last_voted_view, 4);
    /* The (equivocating) leader of view 4 shows the new incarnation another
     * block for view 4: no second vote in view 4. */
    struct hs_qc q3;
    make_qc(&q3, 3, 2, &c[1].digest, Q012, 3);
    struct blk other;
    make_block(&other, 4, &q3, NULL);
    uint8_t batch[2 + 4 + BFT_MSG_MIN_LEN];
    memset(batch, 0, sizeof batch);
    wire_le_store(batch, 1, 2);
    wire_le_store(batch + 2, BFT_MSG_MIN_LEN, 4);
    struct bft_msg m = {.type = BFT_MSG_HS_PROPOSAL,
                        .view = 4,
                        .seq = 3,
                        .body = other.body,
                        .body_len = other.body_len,
                        .payload = batch,
                        .payload_len = sizeof batch};
    bft_batch_digest(batch, sizeof batch, &m.digest);
    deliver_raw(0, 1, &m);
    assert_int_equal(status(1).view, 5); /* resumed after its last vote */
    assert_int_equal(core(1)->last_voted_view, 4);
    assert_int_equal(count_fx(E_SEND, 1, BFT_MSG_HS_VOTE), 2);
    /* A block for view 6 that does not extend the lock, with a justify no
     * newer than the lock, is refused by safeNode. */
    struct hs_qc g;
    hs_qc_genesis(&g);
    struct hs_tc tc;
    make_tc(&tc, 5, 0);
    struct blk fork;
    make_block(&fork, 6, &g, &tc);
    propose_to(1, &fork);
    assert_int_equal(status(1).view, 6);
    assert_int_equal(core(1)->last_voted_view, 4);
    /* While one (view 7) that extends the lock is voted for. */
    make_tc(&tc, 6, 3);
    struct blk ext;
    make_block(&ext, 7, &q3, &tc);
    uint32_t reqs = count_fx(E_SEND, 1, BFT_MSG_HS_BLOCK_REQ);
    propose_to(1, &ext);
    /* The blocks it voted for came back from the WAL with their votes: it
     * checks the lock and votes at once, fetching nothing. */
    assert_int_equal(core(1)->last_voted_view, 7);
    assert_int_equal(count_fx(E_SEND, 1, BFT_MSG_HS_VOTE), 3);
    assert_int_equal(count_fx(E_SEND, 1, BFT_MSG_HS_BLOCK_REQ), reqs);
}

/* A silent leader costs a timeout: TC(1) moves everyone to view 2, whose
 * leader proposes; with replica 1 silent for good (leader of 1, 5, 9...)
 * the votes riding in the timeouts still let commits happen. */
/* DiemBFT v4 Pacemaker: 2f+1 timeouts form TC(v), everyone enters the next view. */
static void test_diembft_silent_leader_tc_then_commits(void **state)
{
    (void)state;
    H->drop_from[1] = true;
    submit(0, 1);
    run();
    assert_int_equal(status(0).view, 1);
    run_rounds(1); /* view timers fire: timeouts, TC(1) */
    for (uint32_t i = 0; i < N; i++)
        if (i != 1) assert_true(status(i).view >= 2);
    assert_true(count_fx(E_SEND, 2, BFT_MSG_HS_PROPOSAL) >= 1);
    assert_true(status(0).view_changes >= 1);
    run_rounds(6);
    for (uint32_t i = 0; i < N; i++) {
        if (i == 1) continue;
        assert_true(status(i).last_executed >= 1);
        assert_int_equal(status(i).pending_requests, 0);
    }
    /* All honest replicas executed the same blocks. */
    bft_digest at1[N];
    memset(at1, 0, sizeof at1);
    for (uint32_t i = 0; i < H->nfx; i++)
        if (H->fx[i].kind == E_EXECUTE && H->fx[i].seq == 1)
            at1[H->fx[i].replica] = H->fx[i].digest;
    assert_true(hs_deq(&at1[0], &at1[2]) && hs_deq(&at1[0], &at1[3]));
    /* More requests keep committing with the leader still silent. */
    uint64_t before = status(0).last_executed;
    submit(1, 1);
    run_rounds(8);
    assert_true(status(0).last_executed > before);
    assert_int_equal(status(0).pending_requests, 0);
}

/* Leader windows, W = 4: replica 0 leads views 1-3, replica 1 views 4-7,
 * replica 2 views 8-11, replica 3 views 12-15. With replica 0 silent for
 * good its window costs one timeout, and TC(1) moves everyone straight to
 * view 4; the live windows after it then commit request after request
 * with no timer firing at all. Rotating every view, the next request would
 * need another timeout as soon as view 8 (leader 0) came up. */
static int setup_w4(void **state)
{
    fixture_leader_views = 4;
    return setup(state);
}
static int teardown_w4(void **state)
{
    fixture_leader_views = 1;
    return teardown(state);
}
/* docs/hotstuff.md "Blocks and leaders", Leader windows: one TC per dead window. */
static void test_impl_leader_windows_dead_leader_costs_one_timeout(void **state)
{
    (void)state;
    H->drop_from[0] = true;
    submit(0, 1);
    run();
    assert_int_equal(status(1).view, 1);
    assert_int_equal(status(1).leader, 0);
    run_rounds(1); /* view timers fire: timeouts, TC(1) */
    for (uint32_t i = 1; i < N; i++) {
        assert_true(status(i).view >= 4);
        assert_true(status(i).last_executed >= 1);
    }
    uint64_t vc = status(1).view_changes;
    assert_true(vc >= 1);
    for (uint64_t req = 2; req <= 3; req++) {
        uint64_t before = status(1).last_executed;
        submit(0, req);
        run(); /* no timer fires */
        for (uint32_t i = 1; i < N; i++) {
            assert_true(status(i).last_executed > before);
            assert_int_equal(status(i).pending_requests, 0);
            assert_int_equal(status(i).view_changes, vc);
        }
    }
    uint64_t v = status(1).view;
    assert_true(v >= 12); /* through windows 1 and 2 into 3 or beyond */
    assert_int_equal(status(1).leader, (uint32_t)(v / 4 % N));
}

/* Replica 3 can send but not receive: its timeouts (1 < f+1, < 2f+1)
 * neither form a TC nor make the others change views. */
/* docs/hotstuff.md "Pacemaker", f+1 rule (PBFT §4.5.2): a lone replica moves nobody. */
static void test_impl_pacemaker_send_only_replica_no_view_changes(void **state)
{
    (void)state;
    H->drop_to[3] = true;
    submit(0, 1);
    run(); /* 0, 1, 2 run views 1 and 2, then wait for leader 3 */
    uint64_t views[3];
    for (uint32_t i = 0; i < 3; i++)
        views[i] = status(i).view;
    assert_int_equal(views[0], 3);
    /* Give replica 3 work so its view timer runs, then fire it often. */
    H->drop_to[3] = false;
    submit(0, 2);
    H->drop_to[3] = true;
    for (int k = 0; k < 20; k++) {
        fire(3, HS_TIMER_VIEW);
        run();
    }
    assert_int_equal(count_fx(E_SEND, 3, BFT_MSG_HS_TIMEOUT), 20 * 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(status(i).view_changes, 0);
        assert_int_equal(status(i).view, views[i]);
    }
    assert_int_equal(status(3).view, 1); /* alone it cannot form a TC */
    assert_int_equal(status(3).view_changes, 0);
    /* Positive control: f+1 = 2 replicas time out view 3, the third joins
     * them (f+1 rule) and together they form TC(3). */
    fire(0, HS_TIMER_VIEW);
    run();
    assert_int_equal(status(2).view, 3);
    fire(1, HS_TIMER_VIEW);
    run();
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(status(i).view_changes, 1);
        assert_true(status(i).view >= 4);
    }
}

/* A proposal whose parent is unknown: the block is fetched from the
 * proposer (HS_BLOCK_REQ by digest), checked against the digest asked for,
 * and then voted on. */
/* §4.2 Tree and branches: a replica behind fetches missing nodes ("Block sync"). */
static void test_4_2_block_sync_fetches_parent(void **state)
{
    (void)state;
    static const uint64_t views[] = {1, 2};
    struct blk c[2];
    make_chain(c, views, 2);
    /* A block nobody asked for is refused. */
    struct bft_msg r = {.type = BFT_MSG_HS_BLOCK_RESP,
                        .view = c[0].view,
                        .seq = c[0].height,
                        .body = c[0].body,
                        .body_len = c[0].body_len};
    deliver_raw(2, 0, &r);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_OUT_OF_WINDOW], 1);
    propose_to(0, &c[1]); /* parent c[0] unknown */
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_BLOCK_REQ), 1);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 0);
    /* A response that is not the block asked for (its digest covers the
     * view) connects nothing and gets no vote. */
    r.view = 1000;
    deliver_raw(2, 0, &r);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 0);
    /* The requested one connects the chain; view 2's block gets a vote. */
    struct bft_msg ok = {.type = BFT_MSG_HS_BLOCK_RESP,
                         .view = c[0].view,
                         .seq = c[0].height,
                         .body = c[0].body,
                         .body_len = c[0].body_len};
    deliver_raw(2, 0, &ok);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 1);
}

/* End to end over the fake network: a request commits everywhere at seq 1
 * (three more blocks push it over the 3-chain), then the cluster idles: no
 * empty-block storm and no armed view timer. */
/* docs/hotstuff.md "Pacemaker": the view timer runs only while there is work. */
static void test_impl_pacemaker_commit_then_idle(void **state)
{
    (void)state;
    submit(0, 1);
    run();
    for (uint32_t i = 0; i < N; i++) {
        assert_true(status(i).last_executed >= 1);
        assert_int_equal(status(i).pending_requests, 0);
        assert_false(armed(i, HS_TIMER_VIEW));
    }
    uint32_t proposals = count_fx(E_SEND, -1, BFT_MSG_HS_PROPOSAL);
    assert_true(proposals <= 5 * (N - 1));
    run_rounds(3);
    assert_int_equal(count_fx(E_SEND, -1, BFT_MSG_HS_PROPOSAL), proposals);
    assert_int_equal(count_fx(E_SEND, -1, BFT_MSG_HS_TIMEOUT), 0);
}

/* A signed HS_TIMEOUT(view) from `from` with the genesis QC as its high
 * QC, no vote and no TC. */
static void send_timeout_to(uint32_t from, uint32_t to, uint64_t view)
{
    struct hs_qc g;
    hs_qc_genesis(&g);
    uint8_t sig[BFT_SIG_LEN], body[HS_QC_WIRE_MAX + BFT_SIG_LEN + 2];
    sign_timeout(from, view, g.view, sig);
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    hs_qc_write(&w, &g);
    wire_put_bytes(&w, sig, BFT_SIG_LEN);
    wire_put_u8(&w, 0);
    wire_put_u8(&w, 0);
    assert_false(w.err);
    struct bft_msg m = {
        .type = BFT_MSG_HS_TIMEOUT, .view = view, .body = body, .body_len = (uint32_t)w.len};
    deliver_raw(from, to, &m);
}

/* bftsim --protocol hotstuff --nodes 4 --seeds 1327:1327 (leader windows):
 * replicas split over views v and v+1, and the only one with nothing
 * pending sits in v+1. It must still time out once f+1 others time out in
 * its view or the one before, or no TC ever forms. One such timeout is not
 * enough (it may be a liar's). */
/* docs/hotstuff.md "Pacemaker", Idle replicas join: f+1 timeouts make work. */
static void test_impl_pacemaker_idle_replica_joins_timeouts_of_f_plus_1(void **state)
{
    (void)state;
    submit(0, 1);
    run();
    uint64_t v = status(2).view;
    assert_true(v >= 2);
    assert_false(armed(2, HS_TIMER_VIEW));
    send_timeout_to(0, 2, v - 1);
    assert_false(armed(2, HS_TIMER_VIEW)); /* f = 1: not yet */
    send_timeout_to(1, 2, v - 1);
    assert_true(armed(2, HS_TIMER_VIEW));
    uint32_t before = count_fx(E_SEND, 2, BFT_MSG_HS_TIMEOUT);
    fire(2, HS_TIMER_VIEW);
    assert_true(count_fx(E_SEND, 2, BFT_MSG_HS_TIMEOUT) > before);
    assert_int_equal(status(2).view, v);
}

/* The seq of the last STATE_RESP replica `from` sent to `to`. */
static uint64_t last_state_resp(uint32_t from, uint32_t to)
{
    uint64_t seq = UINT64_MAX;
    for (uint32_t i = 0; i < H->nfx; i++)
        if (H->fx[i].kind == E_SEND && H->fx[i].replica == from && H->fx[i].to == to &&
            H->fx[i].type == BFT_MSG_STATE_RESP)
            seq = H->fx[i].seq;
    return seq;
}

static void ask_state(uint32_t from, uint32_t to)
{
    struct bft_msg m = {.type = BFT_MSG_STATE_REQ, .view = status(from).view, .seq = 0};
    deliver_raw(from, to, &m);
}

/* bftsim --protocol hotstuff --nodes 7 --seeds 63 (with leader windows):
 * a replica asked for state remembers to snapshot at the next checkpoint,
 * or at once if nothing executed by the next request (an idle cluster). A
 * wish made at an older root that no checkpoint fulfilled used to block
 * the idle snapshot for good, and the asker never got f+1 matching
 * offers. Now each request judges idleness afresh: two requests at the
 * same root bring a snapshot of that root. */
/* docs/hotstuff.md "State transfer": idleness judged afresh at every request. */
static void test_impl_state_idle_snapshot_after_a_stale_wish(void **state)
{
    (void)state;
    submit(0, 1);
    run();
    uint64_t r1 = status(0).last_executed;
    assert_true(r1 >= 1);
    ask_state(3, 0); /* the wish, at root r1 */
    assert_int_equal(last_state_resp(0, 3), 0);
    submit(0, 2);
    run();
    uint64_t r2 = status(0).last_executed;
    assert_true(r2 > r1 && r2 < 64); /* no checkpoint in between */
    ask_state(3, 0);                 /* a new root: the idle clock starts over */
    assert_int_equal(last_state_resp(0, 3), 0);
    ask_state(3, 0); /* still r2: idle, snapshot now */
    assert_int_equal(last_state_resp(0, 3), r2);
}

/* A lost proposal costs no view (leader windows W = 4: replica 0 leads
 * views 1-3): replica 3 is down, so the QC needs the votes of 0, 1 and 2,
 * and view 1's proposal to replica 2 is lost, and so are the first two
 * copies the leader sends again (HS_TIMER_RESEND, at T/20, 3T/20 and
 * 7T/20). The third copy arrives, replica 2 votes and the request commits
 * with no view timer firing. Before any retransmission the only way on
 * was the view timer: a timeout and a TC; with one copy, as before, a
 * lossy link still ended in one. */
/* docs/hotstuff.md "Pacemaker", Proposal retransmission. */
static void test_impl_pacemaker_lost_proposal_retransmitted(void **state)
{
    (void)state;
    H->drop_to[3] = true;
    H->drop_from[3] = true;
    H->drop_type = BFT_MSG_HS_PROPOSAL;
    H->drop_dest = 2;
    H->drop_count = 3;
    submit(0, 1);
    run();
    assert_int_equal(status(2).view, 1); /* never saw view 1's proposal */
    assert_int_equal(status(0).last_executed, 0);
    for (int k = 0; k < 8; k++) {
        for (uint32_t i = 0; i < 3; i++)
            fire(i, HS_TIMER_RESEND); /* never the view timer */
        run();
    }
    for (uint32_t i = 0; i < 3; i++) {
        assert_true(status(i).last_executed >= 1);
        assert_int_equal(status(i).view_changes, 0);
        assert_int_equal(status(i).pending_requests, 0);
    }
    assert_int_equal(count_fx(E_SEND, -1, BFT_MSG_HS_TIMEOUT), 0);
}

/* Retransmission is bounded: with every copy to replica 2 lost, the leader
 * sends its proposal HS_RESEND_MAX more times and then leaves the view to
 * the view timer. */
/* docs/hotstuff.md "Pacemaker", Proposal retransmission. */
static void test_impl_pacemaker_retransmission_bounded(void **state)
{
    (void)state;
    H->drop_to[3] = true;
    H->drop_from[3] = true;
    H->drop_type = BFT_MSG_HS_PROPOSAL;
    H->drop_dest = 2;
    H->drop_count = 100;
    submit(0, 1);
    run();
    for (int k = 0; k < 8; k++) {
        fire(0, HS_TIMER_RESEND);
        run();
    }
    uint32_t copies = 0;
    for (uint32_t i = 0; i < H->nfx; i++)
        if (H->fx[i].kind == E_SEND && H->fx[i].replica == 0 &&
            H->fx[i].type == BFT_MSG_HS_PROPOSAL && H->fx[i].view == 1 && H->fx[i].to == 2)
            copies++;
    assert_int_equal(copies, 1 + HS_RESEND_MAX);
    assert_false(armed(0, HS_TIMER_RESEND));
    assert_int_equal(status(2).view, 1);
}

/* Per-request timer: leader windows of 256 views, replica 0 leads views
 * 1-255 and never sees client 5's request (it censors it: the request and
 * its forwarded copies are dropped on the way to it), while client 0's
 * requests keep committing, so views advance and the view timer never
 * fires. The others' request timers first forward the request, then
 * complain: three timeouts form a TC, view 256 belongs to replica 1, and
 * the request commits. Without the request timer it waited for the end
 * of the window, however long the leader kept it. */
static int setup_w256(void **state)
{
    fixture_leader_views = 256;
    return setup(state);
}
/* docs/hotstuff.md "Pacemaker", Per-request timer (PBFT OSDI'99 §4.4). */
static void test_impl_pacemaker_request_timer_deposes_censoring_leader(void **state)
{
    (void)state;
    H->drop_type = BFT_MSG_REQUEST;
    H->drop_dest = 0;
    H->drop_count = 1000;
    submit_mask(5, 1, 0xe); /* replicas 1, 2, 3 */
    uint64_t req = 1;
    for (int round = 0; round < 2; round++) {
        submit(0, req++);
        run();
        assert_true(status(1).view < 256);
        assert_int_equal(status(1).pending_requests, 1); /* client 5's */
        for (uint32_t i = 0; i < N; i++)
            fire(i, HS_TIMER_REQUEST); /* forward, then complain */
    }
    submit(0, req++);
    run_rounds(0);
    for (int k = 0; k < 4; k++) {
        for (uint32_t i = 0; i < N; i++)
            fire(i, HS_TIMER_FETCH);
        run();
    }
    for (uint32_t i = 1; i < N; i++) {
        assert_true(status(i).view >= 256);
        assert_true(status(i).view_changes >= 1);
        assert_int_equal(status(i).pending_requests, 0);
    }
}

/* Leader 1 of view 1 is silent. Replica 3's request timer expires once
 * (it forwards the request), then a TC moves everyone to view 2, the next
 * leader's: replica 3 starts a fresh interval for it (forward, then
 * complain) instead of complaining at the next expiry about the time the
 * silent leader took. */
/* docs/hotstuff.md "Pacemaker", Per-request timer: a new leader gets a fresh interval. */
static void test_impl_pacemaker_new_leader_gets_fresh_request_interval(void **state)
{
    (void)state;
    H->drop_from[1] = true;
    submit(0, 1);
    run();
    fire(3, HS_TIMER_REQUEST);
    run();
    assert_true(core(3)->req_timer.forwarded);
    for (uint32_t i = 0; i < N; i++)
        if (i != 1) fire(i, HS_TIMER_VIEW);
    run();
    assert_true(status(3).view >= 2);
    assert_int_equal(status(3).pending_requests, 1);
    assert_true(armed(3, HS_TIMER_REQUEST));
    assert_false(core(3)->req_timer.forwarded);
    assert_false(core(3)->req_timer.complain);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alg4_restart_keeps_lock_and_vheight, setup, teardown),
        cmocka_unit_test_setup_teardown(test_impl_pacemaker_new_leader_gets_fresh_request_interval,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_impl_pacemaker_request_timer_deposes_censoring_leader,
                                        setup_w256, teardown_w4),
        cmocka_unit_test_setup_teardown(test_impl_pacemaker_retransmission_bounded, setup_w4,
                                        teardown_w4),
        cmocka_unit_test_setup_teardown(test_impl_pacemaker_lost_proposal_retransmitted, setup_w4,
                                        teardown_w4),
        cmocka_unit_test_setup_teardown(test_diembft_silent_leader_tc_then_commits, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_impl_pacemaker_send_only_replica_no_view_changes,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_impl_leader_windows_dead_leader_costs_one_timeout,
                                        setup_w4, teardown_w4),
        cmocka_unit_test_setup_teardown(test_4_2_block_sync_fetches_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_impl_pacemaker_commit_then_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_impl_state_idle_snapshot_after_a_stale_wish, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_impl_pacemaker_idle_replica_joins_timeouts_of_f_plus_1,
                                        setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
