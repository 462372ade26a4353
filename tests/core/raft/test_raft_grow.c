/* What a Raft replica holds grows with what it is given, up to the same
 * bounds as before (docs/architecture.md "Bounds"): the body and record
 * scratch start empty and still take the largest entry (RAFT_ENTRY_MAX)
 * into an AppendEntries, a WAL record and a compaction dump; the request
 * queue and the read queue are rings that start small, double while
 * wrapped without reordering, and still stop at their MAX. */
#include "core/core.h"
#include "test_raft_fixture.h"

/* A REQUEST from `client` whose encoded length is exactly `raw_len`
 * (BFT_MSG_MIN_LEN + 4 + 2 .. a full body), in a malloc'd buffer. */
static uint8_t *big_request(uint64_t cluster, uint32_t client, uint64_t req_no, size_t raw_len)
{
    size_t body_len = raw_len - BFT_MSG_MIN_LEN;
    assert_true(raw_len >= BFT_MSG_MIN_LEN + 4 + 2 + 1 && body_len <= BFT_BODY_MAX);
    uint8_t *body = calloc(1, body_len);
    size_t left = body_len - 4, off = 4;
    uint16_t count = 0;
    while (left) {
        /* Full ops, then one that takes what is left (never a 0-byte op). */
        size_t op = left - 2 > BFT_OP_MAX ? BFT_OP_MAX : left - 2;
        if (left - 2 - op > 0 && left - 2 - op < 3) op -= 3;
        wire_le_store(body + off, op, 2);
        memset(body + off + 2, (int)(count + 1), op);
        off += 2 + op;
        left -= 2 + op;
        count++;
    }
    assert_true(count <= BFT_ENVELOPE_MAX_OPS);
    wire_le_store(body, count, 2);
    struct bft_msg m = {.type = BFT_MSG_REQUEST,
                        .sender = client,
                        .cluster_id = cluster,
                        .seq = req_no,
                        .body = body,
                        .body_len = (uint32_t)body_len};
    uint8_t *buf = malloc(raw_len);
    assert_int_equal(bft_msg_encode(&m, buf, raw_len), raw_len);
    free(body);
    return buf;
}

/* The request numbers of the requests in the leader's log entries
 * [from, last], in log order, into out (at most max). */
static size_t log_req_nos(const struct bft_core *c, uint64_t from, uint64_t *out, size_t max)
{
    size_t k = 0;
    for (uint64_t i = from; i <= c->log.last; i++) {
        const struct raft_entry *e = raft_log_at(&c->log, i);
        if (e->len == 0) continue; /* the leader's no-op */
        struct wire_rd r;
        wire_rd_init(&r, e->batch, e->len);
        uint16_t n = wire_get_u16(&r);
        for (uint16_t j = 0; j < n; j++) {
            uint32_t len = wire_get_u32(&r);
            const uint8_t *raw = wire_get_ptr(&r, len);
            assert_false(r.err);
            struct bft_msg m;
            assert_int_equal(bft_msg_decode(raw, len, &m), BFT_E_OK);
            assert_true(k < max);
            out[k++] = m.seq;
        }
        assert_int_equal(wire_rd_left(&r), 0);
    }
    return k;
}

/* ---- the rings ---- */

/* A full ring grown while wrapped keeps its FIFO order and every slot's
 * contents; at its max it does not grow. */
static void test_ring_grow_keeps_order(void **state)
{
    (void)state;
    uint32_t cap = 4, head = 2;
    uint32_t *ring = malloc(cap * sizeof(*ring));
    /* FIFO a=10 b=11 c=12 d=13 starting at slot 2. */
    for (uint32_t i = 0; i < cap; i++)
        ring[(head + i) % cap] = 10 + i;
    assert_true(raft_ring_grow((void **)&ring, &cap, head, sizeof(*ring), 16));
    assert_int_equal(cap, 8);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(ring[(head + i) % cap], 10 + i);
    for (uint32_t i = 4; i < cap; i++) /* the new slots start empty */
        assert_int_equal(ring[(head + i) % cap], 0);
    /* Unwrapped (head 0) and then at the bound. */
    assert_true(raft_ring_grow((void **)&ring, &cap, 0, sizeof(*ring), 16));
    assert_int_equal(cap, 16);
    assert_false(raft_ring_grow((void **)&ring, &cap, 0, sizeof(*ring), 16));
    assert_int_equal(cap, 16);
    free(ring);
}

/* A fresh replica holds no scratch and small rings; a leader that saw
 * only small requests holds small scratch. */
static void test_create_is_small(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    for (uint32_t i = 0; i < 3; i++) {
        const struct bft_core *c = fx_core(fx, i);
        assert_int_equal(c->buf.cap, 0);
        assert_int_equal(c->rec.cap, 0);
        assert_int_equal(c->pend_cap, RAFT_PENDING_CAP_INIT);
        assert_int_equal(c->reads_cap, RAFT_READS_CAP_INIT);
        for (uint32_t p = 0; p < RAFT_SEEN_SLOTS / RAFT_SEEN_PAGE; p++)
            assert_null(c->seen[p]);
    }
    fx_boot(fx);
    fx_elect(fx, 0);
    for (uint64_t r = 1; r <= 4; r++)
        fx_submit(fx, 0, 0, r, false);
    fx_run(fx, 100000);
    fx_heartbeat(fx, 0);
    assert_int_equal(fx->node[1].exec_reqs, 4);
    assert_true(fx_core(fx, 0)->buf.cap <= 4096);
    assert_true(fx_core(fx, 0)->rec.cap <= 4096);
    fx_free(fx);
}

/* The request queue grows past its first capacity while wrapped (head in
 * the middle), and every request still commits once, in arrival order. */
static void test_pending_grows_wrapped_in_order(void **state)
{
    (void)state;
    struct fx *fx = fx_alloc(3);
    fx->cfg.pipeline_max = 1;
    fx->cfg.batch_max = 4;
    fx->cfg.n_clients = 0; /* no per-client share: the queue's own bound */
    fx_start_nodes(fx);
    fx_boot(fx);
    fx_elect(fx, 0);
    struct bft_core *c = fx_core(fx, 0);
    uint64_t first = c->log.last + 1;
    /* Cut off, the leader's entries stay in flight (pipeline 1): request 1
     * is cut at once, the next ones fill the queue. */
    fx_partition(fx, 0x1);
    uint64_t r = 1;
    for (; r <= RAFT_PENDING_CAP_INIT + 1; r++)
        fx_submit(fx, 0, 0, r, false);
    assert_int_equal(c->pend_count, RAFT_PENDING_CAP_INIT);
    assert_int_equal(c->pend_cap, RAFT_PENDING_CAP_INIT);
    assert_int_equal(c->pend_head, 1); /* request 1 left slot 0 */
    /* Healed, one message at a time (heartbeats retransmit), until a
     * commit cuts a batch of 4 and moves the head on; then cut off again. */
    fx_drop_all(fx);
    fx_heal(fx);
    for (int k = 0; k < 1000 && c->pend_head == 1; k++)
        if (!fx_run(fx, 1)) assert_true(fx_fire(fx, 0, RAFT_TIMER_HEARTBEAT));
    fx_partition(fx, 0x1);
    assert_int_equal(c->pend_head, 5);
    assert_int_equal(c->pend_count, RAFT_PENDING_CAP_INIT - 4);
    /* Refill the wrapped slots, then one more: the ring doubles. */
    for (uint32_t k = 0; k < 5; k++, r++)
        fx_submit(fx, 0, 0, r, false);
    assert_int_equal(c->pend_cap, RAFT_PENDING_CAP_INIT * 2);
    assert_int_equal(c->pend_head, 5);
    assert_int_equal(c->pend_count, RAFT_PENDING_CAP_INIT + 1);
    fx_drop_all(fx);
    fx_heal(fx);
    assert_int_equal(fx->node[0].rejects[BFT_REJECT_OVERLOAD], 0);
    for (int round = 0; round < 64 && c->pend_count; round++) {
        fx_run(fx, 100000);
        fx_heartbeat(fx, 0);
    }
    fx_heartbeat(fx, 0);
    assert_int_equal(c->pend_count, 0);
    uint64_t nos[64];
    size_t k = log_req_nos(c, first, nos, 64);
    assert_int_equal(k, r - 1);
    for (size_t i = 0; i < k; i++)
        assert_int_equal(nos[i], i + 1);
    assert_int_equal(fx->node[1].exec_reqs, r - 1);
    assert_int_equal(fx->node[2].exec_reqs, r - 1);
    /* Empty again: the grown ring is reused, not regrown. */
    fx_submit(fx, 0, 0, r, false);
    assert_int_equal(c->pend_cap, RAFT_PENDING_CAP_INIT * 2);
    fx_free(fx);
}

/* The queue grows to RAFT_PENDING_MAX and no further: the next request is
 * refused as before. */
static void test_pending_bound_at_max(void **state)
{
    (void)state;
    struct fx *fx = fx_alloc(3);
    fx->cfg.pipeline_max = 1;
    fx->cfg.n_clients = 0;
    fx_start_nodes(fx);
    fx_boot(fx);
    fx_elect(fx, 0);
    struct bft_core *c = fx_core(fx, 0);
    /* Request 1 is cut at once; the next RAFT_PENDING_MAX queue up. */
    for (uint64_t r = 1; r <= RAFT_PENDING_MAX + 4; r++)
        fx_submit(fx, 0, 0, r, false);
    assert_int_equal(c->pend_count, RAFT_PENDING_MAX);
    assert_int_equal(c->pend_cap, RAFT_PENDING_MAX);
    assert_int_equal(fx->node[0].rejects[BFT_REJECT_OVERLOAD], 3);
    /* A retry of a queued request is still caught by the dedup cache. */
    fx_submit(fx, 0, 0, 7, false);
    assert_int_equal(fx->node[0].rejects[BFT_REJECT_DUPLICATE], 1);
    fx_free(fx);
}

/* The read queue grows while wrapped too (reads wait for a confirmed
 * heartbeat round); its bound is test_raft_read's
 * test_read_forwarding_and_bounds. */
static void expire_leases(struct fx *fx, uint32_t i)
{
    for (uint32_t s = 0; s < RAFT_LEASE_RING; s++)
        fx_fire(fx, i, RAFT_TIMER_LEASE_BASE + s);
}

static void test_reads_grow_wrapped(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    fx_elect(fx, 0);
    fx_heartbeat(fx, 0);
    struct bft_core *c = fx_core(fx, 0);
    uint64_t served = fx->node[0].reads_ready;
    /* Cut off with no lease, reads wait: two of them, then served, so the
     * head is not at slot 0. */
    fx_partition(fx, 0x1);
    expire_leases(fx, 0);
    fx_submit(fx, 0, 5, 1, true);
    fx_submit(fx, 0, 5, 2, true);
    assert_int_equal(c->reads_count, 2);
    fx_drop_all(fx);
    fx_heal(fx);
    for (int round = 0; round < 8 && c->reads_count; round++)
        fx_heartbeat(fx, 0);
    assert_int_equal(c->reads_count, 0);
    assert_int_equal(fx->node[0].reads_ready, served + 2);
    assert_int_equal(c->reads_head, 2);
    /* Cut off again: reads pile up, wrap, and the ring grows. */
    fx_partition(fx, 0x1);
    expire_leases(fx, 0);
    uint64_t want = RAFT_READS_CAP_INIT * 3;
    for (uint64_t r = 0; r < want; r++)
        fx_submit(fx, 0, 5, 10 + r, true);
    assert_int_equal(c->reads_count, want);
    assert_true(c->reads_cap >= want);
    assert_int_equal(c->reads_head, 2);
    fx_drop_all(fx);
    fx_heal(fx);
    for (int round = 0; round < 8 && c->reads_count; round++)
        fx_heartbeat(fx, 0);
    assert_int_equal(c->reads_count, 0);
    assert_int_equal(fx->node[0].reads_ready, served + 2 + want);
    fx_free(fx);
}

/* ---- the scratch buffers at their bound ---- */

/* The largest request the leader takes (one entry of RAFT_ENTRY_MAX with
 * the batch framing) still goes into an entry, a WAL record, an
 * AppendEntries and a compaction dump, and replays; one byte more is
 * refused as before. */
static void test_full_size_entry(void **state)
{
    (void)state;
    struct fx *fx = fx_new(3);
    fx_boot(fx);
    fx_elect(fx, 0);
    fx_heartbeat(fx, 0);
    struct bft_core *c = fx_core(fx, 0);
    size_t raw_len = RAFT_ENTRY_MAX - 2 - 4;
    uint8_t *too_big = big_request(fx_cluster(fx), 0, 1, raw_len + 1);
    fx_submit_raw(fx, 0, too_big, raw_len + 1);
    free(too_big);
    assert_int_equal(fx->node[0].rejects[BFT_REJECT_OVERLOAD], 1);
    assert_int_equal(c->pend_count, 0);

    uint8_t *req = big_request(fx_cluster(fx), 0, 1, raw_len);
    size_t ev_before = fx->node[1].n_ev;
    fx_submit_raw(fx, 0, req, raw_len);
    free(req);
    assert_int_equal(fx->node[0].rejects[BFT_REJECT_OVERLOAD], 1);
    uint64_t idx = c->log.last;
    assert_int_equal(raft_log_at(&c->log, idx)->len, RAFT_ENTRY_MAX);
    /* The leader's record of it: the full entry. */
    assert_int_equal(fx_last_persist_len(&fx->node[0]), RAFT_REC_ENTRY_HDR + RAFT_ENTRY_MAX);
    assert_true(c->rec.cap <= RAFT_REC_MAX && c->buf.cap <= BFT_BODY_MAX);
    fx_run(fx, 100000);
    fx_heartbeat(fx, 0);
    for (uint32_t i = 1; i < 3; i++) {
        assert_int_equal(fx->node[i].executed, idx);
        assert_int_equal(fx->node[i].exec_reqs, 1);
    }
    /* The follower's WAL has it too (the fixture keeps every record
     * persisted, or the adapter fails the test); a restart replays it. */
    assert_true(fx_persisted_len(&fx->node[1], ev_before, RAFT_REC_ENTRY_HDR + RAFT_ENTRY_MAX));
    fx_crash(fx, 1);
    fx_restart(fx, 1, true);
    struct bft_core *f = fx_core(fx, 1);
    assert_int_equal(f->log.last, idx);
    assert_int_equal(raft_log_at(&f->log, idx)->len, RAFT_ENTRY_MAX);

    /* A compaction dump after the snapshot below it carries the entry;
     * a fresh core replays the dump. */
    assert_int_equal(bft_raft_ops.compact(c, idx - 1, NULL, NULL), BFT_E_OK);
    struct fx_recs dump = {0};
    assert_int_equal(bft_raft_ops.compact(c, idx - 1, fx_recs_emit, &dump), BFT_E_OK);
    bool found = false;
    for (size_t k = 0; k < dump.n; k++)
        if (dump.len[k] == RAFT_REC_ENTRY_HDR + RAFT_ENTRY_MAX) found = true;
    assert_true(found);
    /* Node 2 comes back with the dump as its whole WAL. */
    fx_restart_with_wal(fx, 2, &dump);
    fx_recs_free(&dump);
    struct bft_core *g = fx_core(fx, 2);
    assert_int_equal(g->log.last, idx);
    assert_int_equal(raft_log_at(&g->log, idx)->len, RAFT_ENTRY_MAX);
    fx_free(fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ring_grow_keeps_order),
        cmocka_unit_test(test_create_is_small),
        cmocka_unit_test(test_pending_grows_wrapped_in_order),
        cmocka_unit_test(test_pending_bound_at_max),
        cmocka_unit_test(test_reads_grow_wrapped),
        cmocka_unit_test(test_full_size_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
