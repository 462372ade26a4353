/* PBFT core, liveness fixes found by the simulator (bftsim), each as a
 * scripted scenario named for what it proves: chunked state transfer from
 * a replica that itself restored by transfer (§4.3), log fetch that keeps
 * going after a probe, and a replica left in an older view joining the view
 * f+1 replicas work in (§4.4, §4.5.2). */
#include "core/core.h"
#include "pbft_fixture.h"
#include "pbft_script.h"

static bool all_done(struct fx *fx, uint64_t reqs)
{
    for (uint32_t i = 0; i < fx->n; i++)
        if (!fx->node[i].down)
            for (uint64_t r = 1; r <= reqs; r++)
                if (!fx_done(&fx->node[i], 7, r)) return false;
    return true;
}

/* Every live replica gets each request; retransmitted every 500 ms. */
static void drive(struct fx *fx, uint64_t reqs, uint64_t limit_ms)
{
    uint64_t next = 1;
    for (uint64_t t = 0; t < limit_ms && !all_done(fx, reqs); t += 20) {
        for (int k = 0; k < 3 && next <= reqs; k++, next++)
            for (uint32_t i = 0; i < fx->n; i++)
                if (!fx->node[i].down) fx_submit(fx, i, 7, next);
        if (t % 500 == 0)
            for (uint64_t r = 1; r < next; r++)
                for (uint32_t i = 0; i < fx->n; i++)
                    if (!fx->node[i].down) fx_submit(fx, i, 7, r);
        fx_run(fx);
        fx_advance(fx, 20);
    }
}

static struct bft_core_config small(uint32_t n)
{
    struct bft_core_config cfg;
    bft_core_config_defaults(&cfg, BFT_PROTO_PBFT, n, 0);
    cfg.window = 16;
    cfg.checkpoint_interval = 4;
    cfg.pipeline_max = 4;
    cfg.batch_max = 4;
    return cfg;
}

/* bftsim seeds 321 and 330: a snapshot larger than one message (the orders
 * state outgrew BFT_PAYLOAD_MAX) travels in chunks, and a replica that
 * restored its state serves that snapshot in turn: after the certifiers of
 * a checkpoint restart empty, it may hold the only copy. */
static void test_4_3_chunked_state_transfer_served_by_restored_replica(void **state)
{
    (void)state;
    struct bft_core_config cfg = small(4);
    struct fx fx;
    fx_init_cfg(&fx, 4, &cfg);
    /* Five chunks, as the old fixture's 4128-byte snapshot in 1000-byte
     * chunks made: tests/lib's snapshot is smaller, so the chunk is too. */
    uint32_t chunk = (uint32_t)(fx_snap_len() + 4) / 5;
    for (uint32_t i = 0; i < 4; i++)
        fx.node[i].core->st.chunk = chunk;
    fx.node[3].down = true;
    drive(&fx, 60, 60000);
    assert_true(all_done(&fx, 60));
    assert_int_equal(fx.node[3].nexec, 0);
    assert_true(fx_status(&fx.node[0]).stable_checkpoint > cfg.window);
    fx.node[3].down = false;
    drive(&fx, 80, 60000);
    assert_true(all_done(&fx, 80));
    struct fx_node *b = &fx.node[3];
    assert_true(b->restores >= 1);
    uint32_t chunk_reqs = 0;
    for (uint32_t i = 0; i < b->neff; i++)
        if (b->eff[i].kind == FX_SEND && b->eff[i].type == BFT_MSG_STATE_REQ &&
            b->eff[i].body_len == 5)
            chunk_reqs++;
    assert_true(chunk_reqs >= 4); /* asked for chunks 2..5 */
    assert_memory_equal(b->state.b, fx.node[0].state.b, 32);
    assert_false(b->core->xfer.active);
    /* It now serves the snapshot it restored, with the 2f+1 proof. */
    const struct bft_core *c = b->core;
    assert_true(c->snap.seq > 0 && c->snap.seq <= c->h);
    assert_int_equal(c->snap.len, fx_snap_len());
    assert_true(pbft_popcount(c->snap.mask) >= 3);
    struct bft_msg req = {.type = BFT_MSG_STATE_REQ, .seq = c->snap.seq};
    uint32_t before = fx_count(b, FX_SEND, BFT_MSG_STATE_RESP);
    fx_inject(&fx, 1, 3, &req);
    assert_int_equal(fx_count(b, FX_SEND, BFT_MSG_STATE_RESP), before + 1);
    fx_free(&fx);
}

/* bftsim seed 62: a replica that once asked for a range (after a state
 * transfer) and later probes for one entry must ask for the next range as
 * soon as it executed the probed one; a stale high mark made it catch up
 * one entry per probe (one per timeout) and never suspect the primary. */
static void test_4_3_fetch_asks_next_range_after_probe(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    bft_digest d;
    for (uint64_t s = 1; s <= 5; s++)
        commit_seq(&fx, 1, s, &d);
    assert_int_equal(fx.node[1].nexec, 5);
    fx_drop_queue(&fx);
    struct fx_node *b = &fx.node[3];
    pbft_fetch_request(b->core, 2, PBFT_FETCH_RANGE); /* lost: 2 has nothing */
    fx_drop_queue(&fx);
    pbft_fetch_request(b->core, -1, 1); /* the probe */
    fx_run(&fx);
    assert_int_equal(b->nexec, 5);
    assert_int_equal(fx_status(b).last_executed, 5);
    for (uint32_t i = 0; i < 5; i++)
        assert_memory_equal(b->exec_digest[i].b, fx.node[1].exec_digest[i].b, 32);
    fx_free(&fx);
}

/* bftsim seed 62: replica 0 (primary of view 0, so no request timer) missed
 * the view change to 1 behind a partition. PRE-PREPAREs, PREPAREs and
 * COMMITs of view 1 from f+1 replicas show a correct replica entered view
 * 1: it sends VIEW-CHANGE(1), which makes the primary resend NEW-VIEW. One
 * replica alone, however high its view, cannot move it. */
static void test_4_5_2_replica_in_old_view_joins_view_of_f_plus_1(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct fx_node *p = &fx.node[0];
    bft_digest d;
    memset(d.b, 5, 32);
    struct bft_msg v = fx_vote(BFT_MSG_PREPARE, 7, 3, &d);
    fx_inject(&fx, 2, 0, &v); /* a lone (maybe faulty) replica in view 7 */
    v = fx_vote(BFT_MSG_COMMIT, 1, 3, &d);
    fx_inject(&fx, 2, 0, &v);
    assert_int_equal(fx_status(p).view, 0);
    assert_int_equal(fx_count(p, FX_BCAST, BFT_MSG_VIEW_CHANGE), 0);
    v = fx_vote(BFT_MSG_PREPARE, 1, 3, &d);
    fx_inject(&fx, 3, 0, &v); /* f+1: replicas 2 and 3 work in view >= 1 */
    assert_int_equal(fx_status(p).view, 1);
    assert_true(fx_status(p).in_view_change);
    int vc = fx_find(p, FX_BCAST, BFT_MSG_VIEW_CHANGE, 0);
    assert_true(vc >= 0);
    assert_int_equal(p->eff[vc].view, 1);
    assert_true(fx_find(p, FX_PERSIST, PBFT_REC_VIEW, 0) >= 0);
    fx_free(&fx);
}

/* The whole loop of the previous test on a cluster: replica 0 is cut off
 * while the others change to view 1, so it misses the VIEW-CHANGEs and the
 * NEW-VIEW; once it hears them work in view 1 it rejoins (not only catches
 * up on executions) and takes part in view 1 again. */
static bool cut_0_until_10s(struct fx *fx, uint32_t from, uint32_t to, const struct bft_msg *m)
{
    (void)m;
    return (from == 0 || to == 0) && fx->now_ms < 10000;
}

static void test_4_5_2_primary_that_missed_new_view_rejoins(void **state)
{
    (void)state;
    struct bft_core_config cfg = small(4);
    struct fx fx;
    fx_init_cfg(&fx, 4, &cfg);
    fx.drop = cut_0_until_10s;
    for (uint64_t r = 1; r <= 5; r++)
        for (uint32_t i = 1; i < 4; i++)
            fx_submit(&fx, i, 7, r);
    while (fx.now_ms < 10000)
        fx_advance(&fx, 20);
    for (uint32_t i = 1; i < 4; i++) {
        assert_int_equal(fx_status(&fx.node[i]).view, 1);
        for (uint64_t r = 1; r <= 5; r++)
            assert_true(fx_done(&fx.node[i], 7, r));
    }
    assert_int_equal(fx_status(&fx.node[0]).view, 0);
    drive(&fx, 40, 30000);
    assert_true(all_done(&fx, 40));
    assert_int_equal(fx_status(&fx.node[0]).view, 1);
    assert_false(fx_status(&fx.node[0]).in_view_change);
    fx_free(&fx);
}

/* bftsim seed 653: a seq executed in view 0 is re-proposed and committed
 * again in view 1 (it is in O). Its COMMIT certificate for log fetch must
 * stay the one it executed with: mixing view-1 voters with the frozen
 * view-0 COMMITs gave laggards a certificate they rightly refused, and
 * they never caught up. */
static void test_4_4_commit_certificate_stays_one_view_after_view_change(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    fx.node[3].down = true;
    for (uint32_t i = 0; i < 3; i++)
        fx_submit(&fx, i, 7, 1);
    fx_run(&fx);
    for (uint32_t i = 0; i < 3; i++)
        assert_int_equal(fx.node[i].nexec, 1);
    fx.node[0].down = true;
    fx.node[3].down = false;
    for (uint32_t i = 1; i < 4; i++) {
        fx_fire(&fx, i, PBFT_TIMER_VIEW_CHANGE);
        for (int k = 0; k < PBFT_PROBES && !fx_status(&fx.node[i]).in_view_change; k++)
            fx_fire(&fx, i, PBFT_TIMER_VIEW_CHANGE);
    }
    fx_run(&fx);
    for (uint32_t i = 1; i < 4; i++) {
        assert_int_equal(fx_status(&fx.node[i]).view, 1);
        assert_int_equal(fx.node[i].nexec, 1);
    }
    const struct pbft_slot *sl = pbft_slot_at(fx.node[2].core, 1);
    assert_true(sl->executed && sl->committed);
    /* A laggard asks replica 2 for seq 1. */
    uint8_t want[2] = {1, 0}; /* u16 count 1 */
    struct bft_msg req = {.type = BFT_MSG_FETCH_REQ, .seq = 1, .body = want, .body_len = 2};
    fx_clear_effects(&fx.node[2]);
    fx_inject(&fx, 0, 2, &req);
    int resp = fx_find(&fx.node[2], FX_SEND, BFT_MSG_FETCH_RESP, 0);
    assert_true(resp >= 0);
    const struct fx_effect *e = &fx.node[2].eff[resp];
    struct wire_rd r = {.p = e->body, .len = e->body_len, .off = 9};
    uint32_t k = (uint32_t)wire_get_le(&r, 1);
    assert_true(k >= 3);
    uint32_t senders = 0;
    uint64_t view = UINT64_MAX;
    for (uint32_t i = 0; i < k; i++) {
        uint16_t len = (uint16_t)wire_get_le(&r, 2);
        const uint8_t *p = wire_get_ptr(&r, len);
        assert_non_null(p);
        struct bft_msg c;
        assert_int_equal(pbft_embedded_check(fx.node[3].core, p, len, BFT_MSG_COMMIT, &c, true),
                         BFT_REJECT_NONE);
        if (view == UINT64_MAX) view = c.view;
        assert_int_equal(c.view, view);
        assert_int_equal(c.seq, 1);
        assert_false(senders & (1u << c.sender));
        senders |= 1u << c.sender;
    }
    assert_false(r.err);
    assert_int_equal(r.off, r.len);
    fx_free(&fx);
}

/* Replica `to` receives, as a log fetch answer from replica 1, seq `seq`
 * committed in view 0 with SCRIPT_CLIENT's request `req` and the COMMITs of
 * replicas 1-3. */
static void fetch_committed(struct fx *fx, uint32_t to, uint64_t seq, uint64_t req, bft_digest *d)
{
    struct bft_msg pp = make_pp(0, seq, req, 1, d);
    uint8_t batch[1024];
    uint32_t blen = pp.payload_len;
    memcpy(batch, pp.payload, blen);
    uint8_t body[10 + 3 * (2 + BFT_MSG_MIN_LEN)];
    struct wire_wr w = {.buf = body, .cap = sizeof body};
    wire_put_le(&w, 1, 1);
    wire_put_le(&w, seq, 8);
    wire_put_le(&w, 3, 1);
    for (uint32_t i = 1; i < 4; i++) {
        struct bft_msg v = fx_vote(BFT_MSG_COMMIT, 0, seq, d);
        uint32_t len;
        uint8_t *raw = fx_encode(i, &v, &len);
        wire_put_le(&w, len, 2);
        wire_put_bytes(&w, raw, len);
        free(raw);
    }
    assert_false(w.err);
    struct bft_msg resp = {.type = BFT_MSG_FETCH_RESP, .seq = seq, .digest = *d};
    resp.body = body;
    resp.body_len = (uint32_t)w.len;
    resp.payload = batch;
    resp.payload_len = blen;
    fx_inject(fx, 1, to, &resp);
}

/* bftsim seed 86 (agreement): a replica that restarted as the primary of
 * a view the others had left fetched seq 2 with its commit certificate,
 * then cut a new batch for seq 2 from its queued requests. The batch must
 * never replace a committed one (it executed different bytes under the
 * certified digest); the primary skips committed seqs. */
static void test_4_2_primary_never_overwrites_committed_batch(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct fx_node *p = &fx.node[0];
    bft_digest d;
    fetch_committed(&fx, 0, 2, 500, &d);
    assert_true(pbft_slot_at(p->core, 2)->committed);
    assert_int_equal(p->nexec, 0); /* seq 1 is missing */
    for (uint64_t r = 1; r <= 3; r++)
        fx_submit(&fx, 0, 7, r);
    for (uint32_t i = 0; i < p->neff; i++)
        if (p->eff[i].kind == FX_BCAST && p->eff[i].type == BFT_MSG_PRE_PREPARE)
            assert_int_not_equal(p->eff[i].seq, 2);
    assert_int_equal(fx_find(p, FX_BCAST, BFT_MSG_PRE_PREPARE, 0) >= 0, 1);
    const struct pbft_slot *s = pbft_slot_at(p->core, 2);
    bft_digest now;
    bft_batch_digest(s->batch, s->batch_len, &now);
    assert_memory_equal(now.b, d.b, 32);
    assert_memory_equal(s->digest.b, d.b, 32);
    fx_free(&fx);
}

/* bftsim --faults twins seeds 1564 and 2796: the primary proposed client
 * 7's request at seq 1, but seq 1 committed another batch (its twin's),
 * which the primary fetched with 2f+1 COMMITs. The request must go back to
 * the queue and be proposed again at seq 2; left marked as proposed at
 * seq 1 it looked in flight forever and was never ordered. */
static void test_4_2_request_of_a_batch_that_lost_its_seq_is_proposed_again(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct fx_node *p = &fx.node[0];
    fx_submit(&fx, 0, 7, 1);
    int i = fx_find(p, FX_BCAST, BFT_MSG_PRE_PREPARE, 0);
    assert_true(i >= 0);
    assert_int_equal(p->eff[i].seq, 1);
    uint32_t mark = p->neff;
    /* Seq 1 committed SCRIPT_CLIENT's request 500 instead. */
    bft_digest d;
    fetch_committed(&fx, 0, 1, 500, &d);
    assert_int_equal(p->core->last_exec, 1);
    /* Client 7's request is queued again and proposed at seq 2. */
    i = fx_find(p, FX_BCAST, BFT_MSG_PRE_PREPARE, mark);
    assert_true(i >= 0);
    assert_int_equal(p->eff[i].seq, 2);
    int32_t q = pbft_pending_find(&p->core->pend, 7, 1);
    assert_true(q >= 0);
    assert_int_equal(p->core->pend.e[q].mark, 2);
    fx_free(&fx);
}

/* Requests must not crowd each other out (issue 12 defect 7): with 16
 * clients each may hold 4096 / 16 = 256 pending requests at a replica.
 * Client 0 floods the primary with more than the whole table while no
 * batch can commit (the backups are down); once it reaches its share it
 * is refused, and client 1 is still accepted. */
static void test_per_client_quota_on_pending_requests(void **state)
{
    (void)state;
    struct bft_core_config cfg;
    bft_core_config_defaults(&cfg, BFT_PROTO_PBFT, 4, 0);
    cfg.n_clients = 16;
    struct fx fx;
    fx_init_cfg(&fx, 4, &cfg);
    for (uint32_t i = 1; i < 4; i++)
        fx.node[i].down = true;
    struct fx_node *p = &fx.node[0];
    uint64_t over0 = p->rejects[BFT_REJECT_OVERLOAD];
    for (uint64_t r = 1; r <= 5000; r++)
        fx_submit(&fx, 0, 0, r);
    uint64_t refused = p->rejects[BFT_REJECT_OVERLOAD] - over0;
    assert_int_equal(refused, 5000 - 256);
    uint64_t before = p->rejects[BFT_REJECT_OVERLOAD];
    for (uint64_t r = 1; r <= 10; r++)
        fx_submit(&fx, 0, 1, r);
    assert_int_equal(p->rejects[BFT_REJECT_OVERLOAD], before);
    assert_int_equal(fx_status(p).pending_requests, 256 + 10);
    fx_free(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_per_client_quota_on_pending_requests),
        cmocka_unit_test(test_4_3_chunked_state_transfer_served_by_restored_replica),
        cmocka_unit_test(test_4_3_fetch_asks_next_range_after_probe),
        cmocka_unit_test(test_4_5_2_replica_in_old_view_joins_view_of_f_plus_1),
        cmocka_unit_test(test_4_5_2_primary_that_missed_new_view_rejoins),
        cmocka_unit_test(test_4_4_commit_certificate_stays_one_view_after_view_change),
        cmocka_unit_test(test_4_2_primary_never_overwrites_committed_batch),
        cmocka_unit_test(test_4_2_request_of_a_batch_that_lost_its_seq_is_proposed_again),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
