/* PBFT core, normal case by paper section (Castro & Liskov OSDI'99 §4.2
 * normal-case operation, §4.3 watermarks, §4.4 request timer). Scripted:
 * messages are injected by hand into one core and its effects are checked
 * in order. Checkpoints and catching up: test_pbft_checkpoint.c; view
 * changes: test_pbft_viewchange.c; whole clusters: test_pbft_cluster.c. */
#include "core/core.h"
#include "pbft_fixture.h"
#include "pbft_script.h"

/* §4.2 pre-prepare phase: the primary assigns the next seq, persists, then
 * multicasts <PRE-PREPARE, v, n, d> with the batch. */
static void test_4_2_primary_assigns_seq_persist_then_preprepare(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct fx_node *p = &fx.node[0];
    fx_submit(&fx, 0, 7, 1);
    int rec = fx_find(p, FX_PERSIST, PBFT_REC_PP, 0);
    int pp = fx_find(p, FX_BCAST, BFT_MSG_PRE_PREPARE, 0);
    assert_true(rec >= 0 && pp > rec);
    assert_int_equal(p->eff[pp].seq, 1);
    assert_int_equal(p->eff[pp].view, 0);
    assert_int_equal(wire_le_load(p->eff[pp].payload, 2), 1); /* low load: batch of one */
    bft_digest d;
    bft_batch_digest(p->eff[pp].payload, p->eff[pp].payload_len, &d);
    assert_memory_equal(d.b, p->eff[pp].digest.b, 32);
    /* The same request again is a duplicate and is not re-proposed. */
    fx_submit(&fx, 0, 7, 1);
    assert_int_equal(p->rejects[BFT_REJECT_DUPLICATE], 1);
    assert_int_equal(fx_count(p, FX_BCAST, BFT_MSG_PRE_PREPARE), 1);
    fx_free(&fx);
}

/* §4.2: prepared = pre-prepare + 2f matching PREPAREs from distinct backups
 * (own counts); 2f-1 is not enough. n=7, f=2. Persist precedes each send. */
static void test_4_2_prepared_needs_2f_prepares(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 7);
    struct fx_node *b = &fx.node[1];
    bft_digest d;
    struct bft_msg pp = make_pp(0, 1, 1, 1, &d);
    fx_inject(&fx, 0, 1, &pp);
    int rec = fx_find(b, FX_PERSIST, PBFT_REC_PP, 0);
    int prep = fx_find(b, FX_BCAST, BFT_MSG_PREPARE, 0);
    assert_true(rec >= 0 && prep > rec); /* persist before the promise leaves */
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 1, &d);
    send_vote(&fx, 3, 1, BFT_MSG_PREPARE, 1, &d); /* own + 2 = 3 = 2f-1 */
    assert_int_equal(fx_count(b, FX_BCAST, BFT_MSG_COMMIT), 0);
    send_vote(&fx, 4, 1, BFT_MSG_PREPARE, 1, &d); /* 2f */
    assert_int_equal(fx_count(b, FX_BCAST, BFT_MSG_COMMIT), 1);
    int crec = fx_find(b, FX_PERSIST, PBFT_REC_COMMIT, 0);
    int commit = fx_find(b, FX_BCAST, BFT_MSG_COMMIT, 0);
    assert_true(crec >= 0 && commit > crec);
    fx_free(&fx);
}

/* §4.2: committed-local needs 2f+1 matching COMMITs (own counts), not 2f. */
static void test_4_2_committed_needs_2f_plus_1_commits(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 7);
    struct fx_node *b = &fx.node[1];
    bft_digest d;
    struct bft_msg pp = make_pp(0, 1, 1, 1, &d);
    fx_inject(&fx, 0, 1, &pp);
    for (uint32_t i = 2; i <= 4; i++)
        send_vote(&fx, i, 1, BFT_MSG_PREPARE, 1, &d);
    send_vote(&fx, 2, 1, BFT_MSG_COMMIT, 1, &d);
    send_vote(&fx, 3, 1, BFT_MSG_COMMIT, 1, &d);
    send_vote(&fx, 4, 1, BFT_MSG_COMMIT, 1, &d); /* own + 3 = 4 = 2f */
    assert_int_equal(b->nexec, 0);
    send_vote(&fx, 5, 1, BFT_MSG_COMMIT, 1, &d); /* 2f+1 */
    assert_int_equal(b->nexec, 1);
    assert_int_equal(b->exec_seq[0], 1);
    assert_memory_equal(b->exec_digest[0].b, d.b, 32);
    assert_int_equal(fx_status(b).last_executed, 1);
    fx_free(&fx);
}

/* Quorums count distinct replicas: a repeated vote counts once. */
static void test_4_2_duplicate_votes_count_once(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 7);
    struct fx_node *b = &fx.node[1];
    bft_digest d;
    struct bft_msg pp = make_pp(0, 1, 1, 1, &d);
    fx_inject(&fx, 0, 1, &pp);
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 1, &d);
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 1, &d);
    send_vote(&fx, 3, 1, BFT_MSG_PREPARE, 1, &d);
    send_vote(&fx, 3, 1, BFT_MSG_PREPARE, 1, &d);
    assert_int_equal(b->rejects[BFT_REJECT_DUPLICATE], 2);
    assert_int_equal(fx_count(b, FX_BCAST, BFT_MSG_COMMIT), 0);
    fx_free(&fx);
}

/* Matching means the same digest: votes for another digest never count,
 * and a prepare "from the primary" is refused. */
static void test_4_2_vote_for_other_digest_does_not_count(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 7);
    struct fx_node *b = &fx.node[1];
    bft_digest d, other;
    memset(other.b, 0x77, 32);
    struct bft_msg pp = make_pp(0, 1, 1, 1, &d);
    fx_inject(&fx, 0, 1, &pp);
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 1, &d);
    send_vote(&fx, 3, 1, BFT_MSG_PREPARE, 1, &other);
    send_vote(&fx, 4, 1, BFT_MSG_PREPARE, 1, &other);
    send_vote(&fx, 0, 1, BFT_MSG_PREPARE, 1, &d);
    assert_int_equal(b->rejects[BFT_REJECT_MALFORMED], 1);
    assert_int_equal(fx_count(b, FX_BCAST, BFT_MSG_COMMIT), 0);
    /* A replica cannot change its vote: the second one is equivocation. */
    send_vote(&fx, 3, 1, BFT_MSG_PREPARE, 1, &d);
    assert_int_equal(b->rejects[BFT_REJECT_EQUIVOCATION], 1);
    assert_int_equal(fx_count(b, FX_BCAST, BFT_MSG_COMMIT), 0);
    fx_free(&fx);
}

/* Votes may arrive before the pre-prepare; they are kept and count. */
static void test_4_2_votes_before_preprepare_are_kept(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct fx_node *b = &fx.node[1];
    bft_digest d;
    struct bft_msg pp = make_pp(0, 1, 1, 1, &d);
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 1, &d);
    send_vote(&fx, 3, 1, BFT_MSG_PREPARE, 1, &d);
    send_vote(&fx, 2, 1, BFT_MSG_COMMIT, 1, &d);
    send_vote(&fx, 3, 1, BFT_MSG_COMMIT, 1, &d);
    assert_int_equal(fx_count(b, FX_BCAST, BFT_MSG_COMMIT), 0); /* no pre-prepare yet */
    fx_inject(&fx, 0, 1, &pp);
    assert_int_equal(fx_count(b, FX_BCAST, BFT_MSG_COMMIT), 1);
    assert_int_equal(b->nexec, 1);
    fx_free(&fx);
}

/* §4.2: a backup accepts a pre-prepare only if it has not accepted one for
 * the same view and seq with a different digest; the first stays. */
static void test_4_2_second_preprepare_is_equivocation(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct fx_node *b = &fx.node[1];
    bft_digest d1, d2;
    struct bft_msg pp1 = make_pp(0, 1, 1, 1, &d1);
    fx_inject(&fx, 0, 1, &pp1);
    struct bft_msg pp2 = make_pp(0, 1, 50, 2, &d2);
    fx_inject(&fx, 0, 1, &pp2);
    assert_int_equal(b->rejects[BFT_REJECT_EQUIVOCATION], 1);
    assert_int_equal(fx_count(b, FX_BCAST, BFT_MSG_PREPARE), 1);
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 1, &d1);
    send_vote(&fx, 2, 1, BFT_MSG_COMMIT, 1, &d1);
    send_vote(&fx, 3, 1, BFT_MSG_COMMIT, 1, &d1);
    assert_int_equal(b->nexec, 1);
    assert_memory_equal(b->exec_digest[0].b, d1.b, 32);
    /* Only the primary of the view may pre-prepare; wrong views are stale. */
    struct bft_msg pp3 = make_pp(0, 2, 60, 1, &d2);
    fx_inject(&fx, 2, 1, &pp3);
    assert_int_equal(b->rejects[BFT_REJECT_MALFORMED], 1);
    pp3.view = 5;
    fx_inject(&fx, 0, 1, &pp3);
    assert_int_equal(b->rejects[BFT_REJECT_STALE_VIEW], 1);
    fx_free(&fx);
}

/* §4.3: messages outside (h, h+L] are refused and never stored. */
static void test_4_3_out_of_window_rejected_without_memory(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct fx_node *b = &fx.node[1];
    bft_digest d;
    memset(d.b, 1, 32);
    uint64_t L = b->cfg.window;
    for (uint64_t i = 0; i < 1000; i++) {
        send_vote(&fx, 2, 1, BFT_MSG_PREPARE, L + 1 + i, &d);
        send_vote(&fx, 3, 1, BFT_MSG_COMMIT, L + 1 + i * 7, &d);
    }
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 0, &d);
    struct bft_msg pp = make_pp(0, L + 1, 1, 1, &d);
    fx_inject(&fx, 0, 1, &pp);
    assert_int_equal(b->rejects[BFT_REJECT_OUT_OF_WINDOW], 2002);
    assert_int_equal(used_slots(b->core), 0);
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, L, &d); /* h+L is inside */
    assert_int_equal(b->rejects[BFT_REJECT_OUT_OF_WINDOW], 2002);
    assert_int_equal(used_slots(b->core), 1);
    fx_free(&fx);
}

/* §4.2: execution follows seq order even when seq 2 commits first. */
static void test_4_2_execution_in_seq_order(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct fx_node *b = &fx.node[1];
    bft_digest d1, d2;
    commit_seq(&fx, 1, 2, &d2);
    assert_int_equal(b->nexec, 0);
    commit_seq(&fx, 1, 1, &d1);
    assert_int_equal(b->nexec, 2);
    assert_int_equal(b->exec_seq[0], 1);
    assert_int_equal(b->exec_seq[1], 2);
    assert_memory_equal(b->exec_digest[1].b, d2.b, 32);
    /* Late duplicates never execute anything twice. */
    commit_seq(&fx, 1, 1, &d1);
    assert_int_equal(b->nexec, 2);
    fx_free(&fx);
}

/* Batching and pipelining: with the pipeline full, requests accumulate and
 * the next batch carries all of them. */
static void test_4_2_batching_grows_when_pipeline_full(void **state)
{
    (void)state;
    struct bft_core_config cfg;
    bft_core_config_defaults(&cfg, BFT_PROTO_PBFT, 4, 0);
    cfg.pipeline_max = 2;
    struct fx fx;
    fx_init_cfg(&fx, 4, &cfg);
    struct fx_node *p = &fx.node[0];
    fx_submit(&fx, 0, 7, 1);
    fx_submit(&fx, 0, 7, 2);
    assert_int_equal(fx_count(p, FX_BCAST, BFT_MSG_PRE_PREPARE), 2);
    for (uint64_t r = 3; r <= 12; r++)
        fx_submit(&fx, 0, 7, r);
    assert_int_equal(fx_count(p, FX_BCAST, BFT_MSG_PRE_PREPARE), 2);
    assert_int_equal(fx_status(p).pending_requests, 12);
    int first = fx_find(p, FX_BCAST, BFT_MSG_PRE_PREPARE, 0);
    bft_digest d = p->eff[first].digest;
    send_vote(&fx, 1, 0, BFT_MSG_PREPARE, 1, &d);
    send_vote(&fx, 2, 0, BFT_MSG_PREPARE, 1, &d);
    send_vote(&fx, 1, 0, BFT_MSG_COMMIT, 1, &d);
    send_vote(&fx, 2, 0, BFT_MSG_COMMIT, 1, &d);
    assert_int_equal(p->nexec, 1);
    assert_int_equal(fx_count(p, FX_BCAST, BFT_MSG_PRE_PREPARE), 3);
    int third = -1;
    for (int i = 0; i < 3; i++)
        third = fx_find(p, FX_BCAST, BFT_MSG_PRE_PREPARE, (uint32_t)third + 1);
    assert_int_equal(p->eff[third].seq, 3);
    assert_int_equal(wire_le_load(p->eff[third].payload, 2), 10);
    assert_int_equal(fx_status(p).pending_requests, 11); /* request 1 executed */
    fx_free(&fx);
}

/* §4.4 (request timer): a backup relays the request to the primary and
 * starts its timer; the timer stops once nothing is pending. */
static void test_4_4_backup_relays_request_and_times_it(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct fx_node *b = &fx.node[1];
    fx_submit(&fx, 1, SCRIPT_CLIENT, 10);
    int s = fx_find(b, FX_SEND, BFT_MSG_REQUEST, 0);
    assert_true(s >= 0);
    assert_int_equal(b->eff[s].to, 0);
    assert_true(b->timer_armed[PBFT_TIMER_VIEW_CHANGE]);
    assert_int_equal(b->timer_ms[PBFT_TIMER_VIEW_CHANGE], b->cfg.request_timeout_ms);
    bft_digest d;
    commit_seq(&fx, 1, 1, &d); /* batch holds request (SCRIPT_CLIENT, 10) */
    assert_int_equal(b->nexec, 1);
    assert_false(b->timer_armed[PBFT_TIMER_VIEW_CHANGE]);
    assert_int_equal(fx_status(b).pending_requests, 0);
    fx_free(&fx);
}

/* Retransmission: a lost message is resent on the retransmit timer, and a
 * replica that executed answers a laggard's repeated votes. */
static void test_4_2_retransmit_own_messages(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct fx_node *b = &fx.node[1];
    bft_digest d;
    struct bft_msg pp = make_pp(0, 1, 1, 1, &d);
    fx_inject(&fx, 0, 1, &pp);
    assert_true(b->timer_armed[PBFT_TIMER_RETRANSMIT]);
    fx_fire(&fx, 1, PBFT_TIMER_RETRANSMIT); /* one tick of grace first */
    assert_int_equal(fx_count(b, FX_BCAST, BFT_MSG_PREPARE), 1);
    assert_true(b->timer_armed[PBFT_TIMER_RETRANSMIT]);
    fx_fire(&fx, 1, PBFT_TIMER_RETRANSMIT);
    assert_int_equal(fx_count(b, FX_BCAST, BFT_MSG_PREPARE), 2);
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 1, &d);
    send_vote(&fx, 2, 1, BFT_MSG_COMMIT, 1, &d);
    send_vote(&fx, 3, 1, BFT_MSG_COMMIT, 1, &d);
    assert_int_equal(b->nexec, 1);
    uint32_t before = fx_count(b, FX_SEND, BFT_MSG_COMMIT);
    send_vote(&fx, 3, 1, BFT_MSG_COMMIT, 1, &d); /* 3 retransmits: it lags */
    assert_int_equal(fx_count(b, FX_SEND, BFT_MSG_COMMIT), before + 1);
    fx_free(&fx);
}

/* A whole cluster on the scripted network: every replica executes the same
 * batches in the same order. */
static void test_4_2_cluster_agrees(void **state)
{
    (void)state;
    struct bft_core_config cfg = small_window(4);
    struct fx fx;
    fx_init_cfg(&fx, 4, &cfg);
    for (uint64_t r = 1; r <= 40; r++) {
        for (uint32_t i = 0; i < 4; i++)
            fx_submit(&fx, i, 5, r);
        if (r % 3 == 0) fx_run(&fx);
    }
    fx_run(&fx);
    for (uint32_t i = 0; i < 4; i++) {
        struct fx_node *nd = &fx.node[i];
        assert_int_equal(fx_status(nd).pending_requests, 0);
        assert_int_equal(nd->nexec, fx.node[0].nexec);
        assert_memory_equal(nd->state.b, fx.node[0].state.b, 32);
        for (uint32_t k = 0; k < nd->nexec; k++)
            assert_int_equal(nd->exec_seq[k], k + 1);
        assert_true(fx_status(nd).stable_checkpoint >= 4);
    }
    fx_free(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_4_2_primary_assigns_seq_persist_then_preprepare),
        cmocka_unit_test(test_4_2_prepared_needs_2f_prepares),
        cmocka_unit_test(test_4_2_committed_needs_2f_plus_1_commits),
        cmocka_unit_test(test_4_2_duplicate_votes_count_once),
        cmocka_unit_test(test_4_2_vote_for_other_digest_does_not_count),
        cmocka_unit_test(test_4_2_votes_before_preprepare_are_kept),
        cmocka_unit_test(test_4_2_second_preprepare_is_equivocation),
        cmocka_unit_test(test_4_3_out_of_window_rejected_without_memory),
        cmocka_unit_test(test_4_2_execution_in_seq_order),
        cmocka_unit_test(test_4_2_batching_grows_when_pipeline_full),
        cmocka_unit_test(test_4_4_backup_relays_request_and_times_it),
        cmocka_unit_test(test_4_2_retransmit_own_messages),
        cmocka_unit_test(test_4_2_cluster_agrees),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
