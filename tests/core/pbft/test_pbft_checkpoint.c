/* PBFT core, checkpoints and catching up by paper section (Castro & Liskov
 * OSDI'99 §4.3 garbage collection and state transfer, TOCS'02 §4.6 stable
 * log): stable checkpoints and watermarks, bounded future checkpoints,
 * state transfer with a 2f+1 proof, fetching committed entries with their
 * COMMIT proof, and recovery from the WAL records (KEPT records too). */
#include "core/core.h"
#include "pbft_fixture.h"
#include "pbft_script.h"

/* §4.3: after seq K a replica multicasts CHECKPOINT (persisted first); it
 * is stable at 2f+1 matching ones, h moves and the log is discarded. */
static void test_4_3_checkpoint_stable_at_2f_plus_1_and_gc(void **state)
{
    (void)state;
    struct bft_core_config cfg = small_window(4);
    struct fx fx;
    fx_init_cfg(&fx, 4, &cfg);
    struct fx_node *b = &fx.node[1];
    bft_digest d;
    for (uint64_t s = 1; s <= 4; s++)
        commit_seq(&fx, 1, s, &d);
    assert_int_equal(b->nexec, 4);
    int rec = fx_find(b, FX_PERSIST, PBFT_REC_CKPT, 0);
    int ck = fx_find(b, FX_BCAST, BFT_MSG_CHECKPOINT, 0);
    assert_true(rec >= 0 && ck > rec);
    assert_int_equal(b->eff[ck].seq, 4);
    bft_digest st = b->state;
    assert_memory_equal(b->eff[ck].digest.b, st.b, 32);
    bft_digest wrong;
    memset(wrong.b, 9, 32);
    struct bft_msg m = fx_vote(BFT_MSG_CHECKPOINT, 0, 4, &wrong);
    fx_inject(&fx, 3, 1, &m); /* a different state does not count */
    m = fx_vote(BFT_MSG_CHECKPOINT, 0, 4, &st);
    fx_inject(&fx, 2, 1, &m); /* own + 1 = 2f */
    assert_int_equal(fx_status(b).stable_checkpoint, 0);
    fx_inject(&fx, 0, 1, &m); /* 2f+1 */
    assert_int_equal(fx_status(b).stable_checkpoint, 4);
    assert_int_equal(b->core->h, 4);
    assert_int_equal(pbft_popcount(b->core->h_proof_mask), 3);
    assert_true(fx_find(b, FX_PERSIST, PBFT_REC_STABLE, 0) >= 0);
    assert_int_equal(used_slots(b->core), 0); /* seqs 1..4 collected */
    uint64_t oow = b->rejects[BFT_REJECT_OUT_OF_WINDOW];
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 4, &d);
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 13, &d);
    assert_int_equal(b->rejects[BFT_REJECT_OUT_OF_WINDOW], oow + 2);
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 12, &d); /* new h + L */
    assert_int_equal(b->rejects[BFT_REJECT_OUT_OF_WINDOW], oow + 2);
    /* A responder at its stable checkpoint serves state with the proof. */
    struct bft_msg req = {.type = BFT_MSG_STATE_REQ, .seq = 4};
    fx_inject(&fx, 3, 1, &req);
    int resp = fx_find(b, FX_SEND, BFT_MSG_STATE_RESP, 0);
    assert_true(resp >= 0);
    assert_int_equal(b->eff[resp].to, 3);
    assert_int_equal(b->eff[resp].seq, 4);
    assert_int_equal(b->eff[resp].payload_len, fx_snap_len());
    assert_int_equal(b->eff[resp].body[0], 0);  /* kind: state */
    assert_int_equal(b->eff[resp].body[5], 0);  /* offset 0: the first chunk */
    assert_int_equal(b->eff[resp].body[41], 3); /* 2f+1 proof */
    /* Snapshot bytes per asker are bounded per retransmit tick. */
    b->core->snap_budget[3] = 1;
    fx_inject(&fx, 3, 1, &req);
    assert_int_equal(fx_count(b, FX_SEND, BFT_MSG_STATE_RESP), 1);
    assert_int_equal(b->rejects[BFT_REJECT_OVERLOAD], 1);
    assert_true(b->timer_armed[PBFT_TIMER_RETRANSMIT]);
    fx_fire(&fx, 1, PBFT_TIMER_RETRANSMIT);
    fx_inject(&fx, 3, 1, &req);
    assert_int_equal(fx_count(b, FX_SEND, BFT_MSG_STATE_RESP), 2);
    fx_free(&fx);
}

/* Checkpoints far above the window from one replica stay bounded. */
static void test_4_3_future_checkpoints_bounded(void **state)
{
    (void)state;
    struct bft_core_config cfg = small_window(4);
    struct fx fx;
    fx_init_cfg(&fx, 4, &cfg);
    struct fx_node *b = &fx.node[1];
    bft_digest d;
    memset(d.b, 3, 32);
    for (uint64_t k = 1; k <= 100; k++) {
        struct bft_msg m = fx_vote(BFT_MSG_CHECKPOINT, 0, 4 * k, &d);
        fx_inject(&fx, 2, 1, &m);
    }
    uint64_t lowest = UINT64_MAX;
    for (uint32_t j = 0; j < PBFT_CKPT_RING; j++)
        if (b->core->ck[2][j].seq < lowest) lowest = b->core->ck[2][j].seq;
    assert_int_equal(lowest, 4 * (100 - PBFT_CKPT_RING + 1)); /* kept the highest */
    assert_int_equal(fx_status(b).stable_checkpoint, 0);
    fx_free(&fx);
}

/* Body of a single-chunk STATE-RESP (kind 0) with k proofs. */
static uint32_t state_chunk_body(uint8_t *body, size_t cap, const uint8_t *snap, size_t len,
                                 uint32_t k, uint8_t *const *raws, const uint32_t *rlen)
{
    struct wire_wr w = {.buf = body, .cap = cap};
    uint8_t sha[32];
    crypto_sha256(snap, len, sha);
    wire_put_le(&w, 0, 1);
    wire_put_le(&w, len, 4);
    wire_put_le(&w, 0, 4);
    wire_put_bytes(&w, sha, 32);
    wire_put_le(&w, k, 1);
    for (uint32_t i = 0; i < k; i++) {
        wire_put_le(&w, rlen[i], 2);
        wire_put_bytes(&w, raws[i], rlen[i]);
    }
    assert_false(w.err);
    return (uint32_t)w.len;
}

/* State transfer: 2f+1 checkpoints above the window mean we fell behind;
 * fetch the state, accept it only with a 2f+1 proof and a matching digest. */
static void test_4_3_state_transfer_when_behind(void **state)
{
    (void)state;
    struct bft_core_config cfg = small_window(4);
    struct fx fx;
    fx_init_cfg(&fx, 4, &cfg);
    struct fx_node *b = &fx.node[3];
    /* A snapshot of tests/lib's application: its state digest first. */
    const size_t snap_len = fx_snap_len();
    uint8_t *snap = calloc(1, snap_len);
    assert_non_null(snap);
    memset(snap, 0x42, 32);
    bft_digest st;
    memcpy(st.b, snap, 32);
    uint8_t *raws[3];
    uint32_t rlen[3];
    for (uint32_t i = 0; i < 3; i++) {
        struct bft_msg m = fx_vote(BFT_MSG_CHECKPOINT, 0, 16, &st);
        raws[i] = fx_encode(i, &m, &rlen[i]);
        fx_inject(&fx, i, 3, &m);
    }
    int req = fx_find(b, FX_SEND, BFT_MSG_STATE_REQ, 0);
    assert_true(req >= 0);
    assert_true(b->eff[req].to < 3);
    assert_int_equal(b->eff[req].seq, 16);
    assert_int_equal(fx_status(b).stable_checkpoint, 16);
    assert_true(b->timer_armed[PBFT_TIMER_STATE]);

    uint8_t body[42 + 3 * (2 + BFT_MSG_MIN_LEN)];
    struct bft_msg resp = {.type = BFT_MSG_STATE_RESP, .seq = 16, .digest = st};
    resp.body = body;
    resp.body_len = state_chunk_body(body, sizeof body, snap, snap_len, 2, raws, rlen);
    resp.payload = snap;
    resp.payload_len = (uint32_t)snap_len;
    fx_inject(&fx, 0, 3, &resp); /* only 2f proofs: refused */
    assert_int_equal(b->restores, 0);
    assert_int_equal(b->rejects[BFT_REJECT_MALFORMED], 1);

    resp.body_len = state_chunk_body(body, sizeof body, snap, snap_len, 3, raws, rlen);
    snap[40] ^= 1; /* bytes that do not hash to the snapshot SHA-256 sent */
    fx_inject(&fx, 0, 3, &resp);
    assert_int_equal(b->restores, 0);
    assert_int_equal(b->rejects[BFT_REJECT_MALFORMED], 2);
    /* A consistent snapshot whose state does not hash to the certified
     * digest: refused before it replaces anything. */
    snap[0] ^= 1;
    resp.body_len = state_chunk_body(body, sizeof body, snap, snap_len, 3, raws, rlen);
    fx_inject(&fx, 0, 3, &resp);
    assert_int_equal(fx_status(b).last_executed, 0);
    assert_int_equal(b->rejects[BFT_REJECT_MALFORMED], 3);
    assert_int_equal(b->restores, 0);
    assert_memory_not_equal(b->state.b, snap, 32);
    snap[0] ^= 1;
    snap[40] ^= 1;
    resp.body_len = state_chunk_body(body, sizeof body, snap, snap_len, 3, raws, rlen);
    fx_inject(&fx, 0, 3, &resp);
    assert_int_equal(fx_status(b).last_executed, 16);
    assert_memory_equal(b->state.b, st.b, 32);
    assert_false(b->core->st.active);
    assert_int_equal(b->restores, 1);
    /* What it restored it now serves (the certifiers may lose theirs). */
    assert_int_equal(b->core->snap.seq, 16);
    assert_int_equal(b->core->snap.len, snap_len);
    for (uint32_t i = 0; i < 3; i++)
        free(raws[i]);
    free(snap);
    fx_free(&fx);
}

/* Fetching missed entries: a replica that executed seq 1 answers a log
 * fetch with the batch and the 2f+1 COMMITs that committed it (§4.2
 * committed(m, v, n)); a replica that missed everything executes from that
 * alone, and refuses a proof with 2f commits or a batch that does not match. */
static void test_4_3_log_fetch_with_commit_proof(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct fx_node *b = &fx.node[1];
    bft_digest d;
    commit_seq(&fx, 1, 1, &d);
    uint8_t want[2] = {1, 0}; /* u16 count 1 */
    struct bft_msg req = {.type = BFT_MSG_FETCH_REQ, .seq = 1, .body = want, .body_len = 2};
    fx_inject(&fx, 3, 1, &req);
    int resp = fx_find(b, FX_SEND, BFT_MSG_FETCH_RESP, 0);
    assert_true(resp >= 0);
    const struct fx_effect *e = &b->eff[resp];
    assert_int_equal(e->to, 3);
    assert_int_equal(e->body[0], 1);     /* kind: log entry */
    assert_int_equal(e->body[1 + 8], 3); /* 2f+1 COMMITs */
    assert_memory_equal(e->digest.b, d.b, 32);

    struct fx fx2;
    fx_init(&fx2, 4);
    struct fx_node *l = &fx2.node[3];
    struct bft_msg m = {.type = BFT_MSG_FETCH_RESP, .seq = 1, .digest = e->digest};
    uint8_t *body = malloc(e->body_len), *batch = malloc(e->payload_len);
    memcpy(body, e->body, e->body_len);
    memcpy(batch, e->payload, e->payload_len);
    m.body = body;
    m.body_len = e->body_len;
    m.payload = batch;
    m.payload_len = e->payload_len;
    batch[e->payload_len - 1] ^= 1; /* not the committed batch */
    fx_inject(&fx2, 1, 3, &m);
    batch[e->payload_len - 1] ^= 1;
    body[1 + 8] = 2; /* only 2f commits */
    m.body_len = e->body_len - (2 + BFT_MSG_MIN_LEN);
    fx_inject(&fx2, 1, 3, &m);
    assert_int_equal(l->rejects[BFT_REJECT_MALFORMED], 2);
    assert_int_equal(l->nexec, 0);
    body[1 + 8] = 3;
    m.body_len = e->body_len;
    fx_inject(&fx2, 1, 3, &m);
    assert_int_equal(l->nexec, 1);
    assert_memory_equal(l->exec_digest[0].b, d.b, 32);
    assert_memory_equal(l->state.b, b->state.b, 32);
    free(body);
    free(batch);
    fx_free(&fx2);
    fx_free(&fx);
}

/* TOCS'02 §4.6: a restarted replica keeps its promises: after recovering
 * its WAL it still refuses a different pre-prepare for the same (v, n). */
static void test_recover_keeps_accepted_preprepare(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct fx_node *b = &fx.node[1];
    bft_digest d1, d2;
    struct bft_msg pp1 = make_pp(0, 1, 1, 1, &d1);
    fx_inject(&fx, 0, 1, &pp1);
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 1, &d1); /* prepared: COMMIT record */
    struct fx fx2;
    fx_init(&fx2, 4);
    struct fx_node *r = &fx2.node[1];
    for (uint32_t i = 0; i < b->neff; i++)
        if (b->eff[i].kind == FX_PERSIST)
            bft_pbft_ops.recover(r->core, b->eff[i].payload, b->eff[i].payload_len);
    struct bft_msg pp2 = make_pp(0, 1, 50, 1, &d2);
    fx_inject(&fx2, 0, 1, &pp2);
    assert_int_equal(r->rejects[BFT_REJECT_EQUIVOCATION], 1);
    assert_true(pbft_slot_at(r->core, 1)->prepared);
    assert_true(pbft_slot_at(r->core, 1)->cert.valid);
    send_vote(&fx2, 2, 1, BFT_MSG_COMMIT, 1, &d1);
    send_vote(&fx2, 3, 1, BFT_MSG_COMMIT, 1, &d1);
    assert_int_equal(r->nexec, 1);
    assert_memory_equal(r->exec_digest[0].b, d1.b, 32);
    fx_free(&fx2);
    fx_free(&fx);
}

/* A KEPT record (pbft_rec.h) read back joins the entries a restart replays
 * onto its own snapshot below h; one whose lengths or mask do not add up,
 * a repeat, or one before the run's end is not taken, and a gap starts a
 * new run. */
static void test_recover_kept_records(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct bft_core *c = fx.node[1].core;
    uint8_t rec[PBFT_KEPT_REC_HDR + 8];
    struct {
        uint64_t seq;
        uint32_t mask, raws_len, batch_len;
        size_t len;
        uint32_t want_n; /* own_n after it */
        uint64_t want_first;
    } cases[] = {
        {5, 0x7, 0, 8, sizeof rec, 1, 5},     /* taken */
        {6, 0x7, 0, 8, sizeof rec, 2, 5},     /* extends the run */
        {6, 0x7, 0, 8, sizeof rec, 2, 5},     /* a repeat: the same entry */
        {7, 0x7, 0, 9, sizeof rec, 2, 5},     /* lengths do not add up */
        {7, 0x7, 4, 8, sizeof rec, 2, 5},     /* nor here */
        {7, 0x17, 0, 8, sizeof rec, 2, 5},    /* a sender beyond n */
        {0, 0x7, 0, 8, sizeof rec, 2, 5},     /* seq 0 */
        {7, 0x7, 0, 8, sizeof rec - 1, 2, 5}, /* cut short */
        {9, 0x7, 0, 8, sizeof rec, 1, 9},     /* a gap: a new run */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct wire_wr w = {.buf = rec, .cap = sizeof rec};
        wire_put_le(&w, PBFT_REC_KEPT, 1);
        wire_put_le(&w, cases[i].seq, 8);
        wire_put_le(&w, 0, 8);
        for (int k = 0; k < 32; k++)
            wire_put_le(&w, 0xab, 1);
        wire_put_le(&w, cases[i].mask, 4);
        wire_put_le(&w, cases[i].raws_len, 4);
        wire_put_le(&w, cases[i].batch_len, 4);
        for (int k = 0; k < 8; k++)
            wire_put_le(&w, k, 1);
        assert_false(w.err);
        bft_pbft_ops.recover(c, rec, cases[i].len);
        assert_int_equal(c->own_n, cases[i].want_n);
        assert_int_equal(c->own[0]->seq, cases[i].want_first);
    }
    assert_memory_equal(c->own[0]->data, "\0\1\2\3\4\5\6\7", 8);
    fx_free(&fx); /* frees them (ASan) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_4_3_checkpoint_stable_at_2f_plus_1_and_gc),
        cmocka_unit_test(test_4_3_future_checkpoints_bounded),
        cmocka_unit_test(test_4_3_state_transfer_when_behind),
        cmocka_unit_test(test_4_3_log_fetch_with_commit_proof),
        cmocka_unit_test(test_recover_keeps_accepted_preprepare),
        cmocka_unit_test(test_recover_kept_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
