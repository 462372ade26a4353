/* The HotStuff core's scratch buffers (body, batch, WAL record) and its
 * pending table start empty and grow on demand up to the same bounds as
 * before (docs/architecture.md "Bounds", docs/hotstuff.md "Bounds and
 * rejects"): a new replica allocates none of them, a full-size batch
 * (BFT_PAYLOAD_MAX) is still proposed, logged and replayed, the pending
 * table grows past its first capacity by doubling and still refuses at
 * HS_PENDING_MAX. All of it is ours (test_impl_).
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

/* ---- requests of a chosen size ---- */

/* An encoded REQUEST of cluster `cluster` from `client` whose ops (of at
 * most BFT_OP_MAX bytes) make its body exactly body_len bytes; returns
 * its encoded length. */
static size_t big_request(uint64_t cluster, uint32_t client, uint64_t req_no, uint32_t body_len,
                          uint8_t *out, size_t cap)
{
    static uint8_t body[BFT_BODY_MAX];
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    wire_put_u16(&w, 0); /* count, patched below */
    wire_put_u8(&w, 0);
    wire_put_u8(&w, 0);
    uint32_t ops = 0;
    while (w.len < body_len) {
        uint32_t left = body_len - (uint32_t)w.len;
        uint32_t op = left - 2 > BFT_OP_MAX ? BFT_OP_MAX : left - 2;
        /* Never leave less than one op (2 + 1 bytes) behind. */
        if (left - 2 - op > 0 && left - 2 - op < 3) op -= 3;
        wire_put_u16(&w, (uint16_t)op);
        uint8_t *p = wire_wr_reserve(&w, op);
        assert_non_null(p);
        memset(p, (int)(req_no + ops), op);
        ops++;
    }
    assert_false(w.err);
    assert_int_equal(w.len, body_len);
    assert_true(ops <= BFT_ENVELOPE_MAX_OPS);
    wire_le_store(body, ops, 2);
    struct bft_msg m = {.type = BFT_MSG_REQUEST,
                        .sender = client,
                        .cluster_id = cluster,
                        .seq = req_no,
                        .body = body,
                        .body_len = body_len};
    size_t len = bft_msg_encode(&m, out, cap);
    assert_int_equal(len, BFT_MSG_MIN_LEN + body_len);
    return len;
}

static void submit_big(uint32_t client, uint64_t req_no, uint32_t body_len)
{
    static uint8_t buf[BFT_MSG_MIN_LEN + BFT_BODY_MAX];
    size_t len = big_request(CLUSTER, client, req_no, body_len, buf, sizeof buf);
    assert_true(cf_sign_request(H->cf, buf, len));
    struct bft_msg d;
    assert_int_equal(bft_msg_decode(buf, len, &d), BFT_E_OK);
    for (uint32_t i = 0; i < N; i++)
        OPS->on_request(core(i), &d);
}

/* ---- creation ---- */

/* docs/hotstuff.md "Bounds and rejects": buffers start empty. */
static void test_impl_bounds_new_replica_holds_no_scratch(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < N; i++) {
        const struct bft_core *c = core(i);
        assert_null(c->body.p);
        assert_null(c->batch.p);
        assert_null(c->rec.p);
        assert_null(c->pend.e);
        assert_int_equal(c->pend.cap, 0);
    }
}

/* Small requests: every buffer stays far below its bound. */
/* docs/hotstuff.md "Bounds and rejects": buffers grow only on demand. */
static void test_impl_bounds_small_traffic_keeps_buffers_small(void **state)
{
    (void)state;
    for (uint64_t r = 1; r <= 10; r++)
        submit(1, r);
    run_rounds(12);
    for (uint32_t i = 0; i < N; i++) {
        const struct bft_core *c = core(i);
        assert_int_equal(status(i).pending_requests, 0);
        assert_int_equal(H->rep[i].executed > 0, true);
        assert_true(c->body.cap >= HS_PROPOSAL_BODY_MAX || c->body.cap == 0);
        assert_true(c->body.cap <= 2 * HS_TIMEOUT_BODY_MAX);
        assert_true(c->rec.cap <= 4096);
        assert_true(c->batch.cap <= 4096);
        assert_int_equal(c->pend.cap, HS_PENDING_FIRST);
    }
}

/* ---- a full-size batch ---- */

/* The batch is u16 count | k x (u32 len | request): eight requests that
 * fill BFT_PAYLOAD_MAX exactly (seven of 65,668-byte bodies and one that
 * takes the rest). */
#define BIG_BODY 65668u
#define BIG_FILL (BFT_PAYLOAD_MAX - 2u - 8u * (4u + BFT_MSG_MIN_LEN) - 7u * BIG_BODY)

/* The batch length of a COMMIT or BLOCK record. */
static uint32_t rec_batch_len(const uint8_t *rec, size_t rec_len)
{
    struct wire_rd rd;
    wire_rd_init(&rd, rec, rec_len);
    assert_non_null(wire_get_ptr(&rd, 1 + 8 + 8 + 32 + 32));
    struct hs_qc q;
    assert_true(hs_qc_read(&rd, N, &q));
    uint32_t len = wire_get_u32(&rd);
    assert_false(rd.err);
    assert_int_equal(wire_rd_left(&rd), len);
    return len;
}

/* BLOCK and COMMIT records each replica persisted whose batch is full,
 * checked as they are written (every one within the bound). */
static uint32_t full_recs[N];

static void count_full_batch(uint32_t replica, const uint8_t *rec, size_t len)
{
    if (rec[0] != HS_REC_COMMIT && rec[0] != HS_REC_BLOCK) return;
    uint32_t batch_len = rec_batch_len(rec, len);
    assert_true(batch_len <= BFT_PAYLOAD_MAX);
    full_recs[replica] += batch_len == BFT_PAYLOAD_MAX;
}

/* docs/hotstuff.md "What is persisted": BLOCK and COMMIT records replay a full batch. */
static void test_impl_persist_full_batch_is_proposed_logged_and_replayed(void **state)
{
    (void)state;
    memset(full_recs, 0, sizeof full_recs);
    fixture_on_persist = count_full_batch;
    /* Replica 1 leads view 1 and proposes the first request alone. */
    submit(1, 1);
    assert_int_equal(count_fx(E_SEND, 1, BFT_MSG_HS_PROPOSAL), N - 1);
    /* The rest queue behind it: 8 that fill a batch exactly, then one. */
    for (uint64_t r = 0; r < 7; r++)
        submit_big(2, 1 + 1000 * r, BIG_BODY);
    submit_big(2, 1 + 1000 * 7, BIG_FILL);
    submit(3, 1);
    run_rounds(12);
    for (uint32_t i = 0; i < N; i++) {
        assert_int_equal(status(i).pending_requests, 0);
        assert_true(H->rep[i].executed >= 3);
    }
    /* Replica 2 (leader of view 2) built the full batch: its scratch grew to
     * the bound, and no further. */
    assert_int_equal(core(2)->batch.cap, BFT_PAYLOAD_MAX);
    /* Every replica logged the block with its whole batch (BLOCK when it
     * voted, COMMIT when it executed it). */
    for (uint32_t i = 0; i < N; i++) {
        assert_true(full_recs[i] >= 1);
        assert_true(core(i)->rec.cap <= HS_REC_BIG);
        assert_true(core(i)->rec.cap >= HS_BLOCK_REC_FIXED - HS_QC_WIRE_MAX + BFT_PAYLOAD_MAX);
    }
    /* Replica 0 restarts from its records: the full block replays and it is
     * back at the same height with the same state. */
    uint64_t executed = H->rep[0].executed;
    bft_digest st = H->rep[0].state;
    restart(0);
    assert_int_equal(H->rep[0].executed, executed);
    assert_memory_equal(H->rep[0].state.b, st.b, 32);
}

/* ---- the pending table, directly ---- */

/* With 100 clients each may queue max(64, 4096 / 100) = 64: 64 clients
 * fill the table, and the table's own bound refuses the next request of
 * a client that still has its share. */
#define CLIENTS 100

static uint8_t raw_req[BFT_MSG_MIN_LEN + 8];

static int add(struct bft_pending *p, uint32_t client, uint64_t req_no)
{
    memset(raw_req, 0, sizeof raw_req);
    raw_req[5] = BFT_MSG_REQUEST;
    wire_le_store(raw_req + 8, client, 4);
    wire_le_store(raw_req + 32, req_no, 8);
    struct bft_msg m = {.type = BFT_MSG_REQUEST,
                        .sender = client,
                        .seq = req_no,
                        .raw = raw_req,
                        .raw_len = sizeof raw_req};
    return hs_pending_add(p, &m);
}

/* Commit the request (client, req_no) as a batch of one. */
static void commit_one(struct bft_pending *p, uint32_t client, uint64_t req_no)
{
    uint8_t batch[2 + 4 + sizeof raw_req];
    memset(batch, 0, sizeof batch);
    wire_le_store(batch, 1, 2);
    wire_le_store(batch + 2, sizeof raw_req, 4);
    batch[6 + 5] = BFT_MSG_REQUEST;
    wire_le_store(batch + 6 + 8, client, 4);
    wire_le_store(batch + 6 + 32, req_no, 8);
    hs_pending_remove_batch(p, batch, sizeof batch);
}

/* docs/hotstuff.md "Bounds and rejects": 4096 pending requests. */
static void test_impl_bounds_pending_grows_by_doubling_to_its_bound(void **state)
{
    (void)state;
    struct bft_pending p;
    assert_int_equal(hs_pending_init(&p, CLIENTS), BFT_E_OK);
    assert_null(p.e);
    assert_int_equal(p.cap, 0);
    /* The first request allocates the first HS_PENDING_FIRST entries. */
    assert_int_equal(add(&p, 0, 1), BFT_REJECT_NONE);
    assert_int_equal(p.cap, HS_PENDING_FIRST);
    for (uint64_t r = 2; r <= HS_PENDING_FIRST; r++)
        assert_int_equal(add(&p, 0, r), BFT_REJECT_NONE);
    assert_int_equal(p.cap, HS_PENDING_FIRST);
    /* One past it doubles the table; queued requests are still found and
     * still in FIFO order. */
    assert_int_equal(add(&p, 1, 1), BFT_REJECT_NONE);
    assert_int_equal(p.cap, 2 * HS_PENDING_FIRST);
    uint32_t client, len;
    uint64_t req_no;
    assert_true(hs_pending_oldest(&p, &client, &req_no));
    assert_int_equal(client, 0);
    assert_int_equal(req_no, 1);
    for (uint64_t r = 1; r <= HS_PENDING_FIRST; r++)
        assert_non_null(hs_pending_get(&p, 0, r, &len));
    assert_non_null(hs_pending_get(&p, 1, 1, &len));
    assert_int_equal(len, sizeof raw_req);
    assert_int_equal(add(&p, 0, 1), BFT_REJECT_NONE); /* a retransmission: still one entry */
    assert_int_equal(p.count, HS_PENDING_FIRST + 1);
    /* Emptied and refilled, it reuses its entries: no growth. */
    hs_pending_clear(&p);
    assert_int_equal(p.count, 0);
    for (uint64_t r = 1; r <= HS_PENDING_FIRST + 1; r++)
        assert_int_equal(add(&p, 2 + (uint32_t)(r % 2), r), BFT_REJECT_NONE);
    assert_int_equal(p.cap, 2 * HS_PENDING_FIRST);
    /* Filled to the bound, it holds exactly HS_PENDING_MAX and refuses the
     * next request though its client has room in its share. */
    hs_pending_clear(&p);
    for (uint32_t c = 0; c < HS_PENDING_MAX / 64; c++)
        for (uint64_t r = 1; r <= 64; r++)
            assert_int_equal(add(&p, c, 1000 + r), BFT_REJECT_NONE);
    assert_int_equal(p.count, HS_PENDING_MAX);
    assert_int_equal(p.cap, HS_PENDING_MAX);
    assert_int_equal(p.free_head, -1);
    assert_int_equal(add(&p, 70, 1), BFT_REJECT_OVERLOAD);
    assert_int_equal(p.count, HS_PENDING_MAX);
    /* A committed request frees its entry for the next one. */
    commit_one(&p, 5, 1001);
    assert_int_equal(p.count, HS_PENDING_MAX - 1);
    assert_null(hs_pending_get(&p, 5, 1001, &len));
    assert_int_equal(add(&p, 70, 1), BFT_REJECT_NONE);
    assert_non_null(hs_pending_get(&p, 70, 1, &len));
    assert_int_equal(p.cap, HS_PENDING_MAX);
    hs_pending_free(&p);
}

/* A batch takes requests in FIFO order until the next one would pass
 * BFT_PAYLOAD_MAX: one that fills it exactly still fits, one byte more
 * does not (and nothing behind it is taken), and the scratch grows to the
 * batch, not to the bound. */
/* docs/hotstuff.md "Clients and batching": a batch stops at BFT_PAYLOAD_MAX. */
static void test_impl_batching_pending_batch_bound(void **state)
{
    (void)state;
    enum { BIG = 7, K = BIG + 2 }; /* 7 big, the filler, a small one */
    static uint8_t raws[K][BFT_MSG_MIN_LEN + BFT_BODY_MAX];
    size_t lens[K];
    for (uint32_t k = 0; k < BIG; k++)
        lens[k] = big_request(0, 1, 1 + 1000 * k, BIG_BODY, raws[k], sizeof raws[k]);
    lens[K - 1] = big_request(0, 1, 1 + 1000 * (K - 1), 16, raws[K - 1], sizeof raws[K - 1]);
    uint32_t used = 2 + BIG * (4 + (uint32_t)lens[0]);
    struct bft_buf out = {0};
    uint32_t got;
    for (int exact = 1; exact >= 0; exact--) {
        /* The filler leaves 0 bytes, or is one byte too many. */
        lens[BIG] = big_request(0, 1, 1 + 1000 * BIG, BIG_FILL + (exact ? 0 : 1), raws[BIG],
                                sizeof raws[BIG]);
        struct bft_pending p;
        assert_int_equal(hs_pending_init(&p, CLIENTS), BFT_E_OK);
        for (uint32_t k = 0; k < K; k++) {
            struct bft_msg d;
            assert_int_equal(bft_msg_decode(raws[k], lens[k], &d), BFT_E_OK);
            assert_int_equal(hs_pending_add(&p, &d), BFT_REJECT_NONE);
        }
        p.gen++;
        assert_int_equal(hs_pending_build(&p, 64, &out, &got), BFT_E_OK);
        uint32_t taken = exact ? BIG + 1 : BIG;
        assert_int_equal(got, exact ? BFT_PAYLOAD_MAX : used);
        assert_int_equal(wire_le_load(out.p, 2), taken);
        if (exact) assert_int_equal(out.cap, BFT_PAYLOAD_MAX);
        struct bft_batch_iter it;
        assert_int_equal(bft_batch_iter_init(&it, out.p, got), BFT_E_OK);
        const uint8_t *r;
        size_t rlen;
        uint32_t k = 0;
        for (; bft_batch_iter_next(&it, &r, &rlen); k++) {
            assert_int_equal(rlen, lens[k]);
            assert_memory_equal(r, raws[k], rlen);
        }
        assert_int_equal(k, taken);
        /* With max 1 the batch is the first request, in the scratch as it
         * is (no reallocation). */
        uint8_t *before = out.p;
        assert_int_equal(hs_pending_build(&p, 1, &out, &got), BFT_E_OK);
        assert_int_equal(got, 2 + 4 + lens[0]);
        assert_ptr_equal(out.p, before);
        hs_pending_free(&p);
    }
    bft_buf_free(&out);
    /* A fresh scratch grows to the batch it is asked for. */
    struct bft_pending p;
    assert_int_equal(hs_pending_init(&p, CLIENTS), BFT_E_OK);
    struct bft_msg d;
    assert_int_equal(bft_msg_decode(raws[K - 1], lens[K - 1], &d), BFT_E_OK);
    assert_int_equal(hs_pending_add(&p, &d), BFT_REJECT_NONE);
    p.gen++;
    assert_int_equal(hs_pending_build(&p, 64, &out, &got), BFT_E_OK);
    assert_int_equal(got, 2 + 4 + lens[K - 1]);
    assert_true(out.cap >= got && out.cap <= 256);
    /* Everything marked in flight: nothing to propose. */
    hs_pending_mark_batch(&p, out.p, got);
    assert_int_equal(hs_pending_build(&p, 64, &out, &got), BFT_E_OK);
    assert_int_equal(got, 0);
    bft_buf_free(&out);
    hs_pending_free(&p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_impl_bounds_new_replica_holds_no_scratch, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_impl_bounds_small_traffic_keeps_buffers_small, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(
            test_impl_persist_full_batch_is_proposed_logged_and_replayed, setup, teardown),
        cmocka_unit_test(test_impl_bounds_pending_grows_by_doubling_to_its_bound),
        cmocka_unit_test(test_impl_batching_pending_batch_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
