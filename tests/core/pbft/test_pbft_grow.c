/* The PBFT core's buffers start small and grow to the same bounds as the
 * fixed buffers they replaced (docs/architecture.md "Bounds"): a new
 * replica holds no scratch near its bound and no log slot it has not used;
 * a full-size batch still goes into a WAL record that replays; a
 * VIEW-CHANGE still carries batches up to BFT_BODY_MAX and omits the rest. */
#include "core/core.h"
#include "pbft_script.h"

/* A batch of exactly `len` bytes (one envelope of filler: the core does not
 * parse a batch to log, prepare or view-change it). */
static uint8_t *big_batch(uint32_t len, uint8_t fill, bft_digest *d)
{
    uint8_t *b = malloc(len);
    assert_non_null(b);
    memset(b, fill, len);
    struct wire_wr w = {.buf = b, .cap = len};
    wire_put_le(&w, 1, 2);
    wire_put_le(&w, len - 6, 4);
    assert_false(w.err);
    bft_batch_digest(b, len, d);
    return b;
}

static struct bft_msg pp_of(uint64_t seq, const uint8_t *batch, uint32_t len, const bft_digest *d)
{
    struct bft_msg m = {.type = BFT_MSG_PRE_PREPARE, .view = 0, .seq = seq, .digest = *d};
    m.payload = batch;
    m.payload_len = len;
    return m;
}

static uint32_t chunks_used(const struct bft_core *c)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->L; i += PBFT_SLOT_CHUNK)
        k += pbft_slot_at(c, i) != NULL;
    return k;
}

static void test_new_replica_holds_little(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    const struct bft_core *c = fx.node[1].core;
    assert_true(c->rec.cap >= pbft_rec_floor(c));
    assert_true(c->rec.cap < (128u << 10));
    assert_null(c->vchg.own_vc.p);
    assert_null(c->vchg.nv_sent.p);
    assert_int_equal(c->pend.cap, 0); /* allocated with the first request */
    assert_int_equal(chunks_used(c), 0);
    assert_null(pbft_slot_peek(fx.node[1].core, 1));
    /* One seq brings in one chunk of slots, no more. */
    bft_digest d;
    struct bft_msg pp = make_pp(0, 1, 1, 1, &d);
    fx_inject(&fx, 0, 1, &pp);
    assert_int_equal(chunks_used(c), 1);
    assert_non_null(pbft_slot_peek(fx.node[1].core, 1));
    assert_true(c->rec.cap < (128u << 10)); /* a small batch, a small record */
    fx_free(&fx);
}

/* A batch of BFT_PAYLOAD_MAX bytes, the largest a PRE-PREPARE carries, is
 * accepted, logged whole, and replays into a restarted replica that then
 * keeps its promise (TOCS'02 §4.6). */
static void test_full_batch_logged_and_replayed(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct fx_node *b = &fx.node[1];
    bft_digest d;
    uint8_t *batch = big_batch(BFT_PAYLOAD_MAX, 0x5a, &d);
    struct bft_msg pp = pp_of(1, batch, BFT_PAYLOAD_MAX, &d);
    fx_inject(&fx, 0, 1, &pp);
    assert_true(fx_find(b, FX_BCAST, BFT_MSG_PREPARE, 0) >= 0);
    int rec = fx_find(b, FX_PERSIST, PBFT_REC_PP, 0);
    assert_true(rec >= 0);
    assert_int_equal(b->eff[rec].payload_len, pbft_pp_rec_len(PBFT_RAW_MAX, BFT_PAYLOAD_MAX));
    assert_true(b->core->rec.cap <= PBFT_REC_MAX);

    struct fx fx2;
    fx_init(&fx2, 4);
    struct fx_node *r = &fx2.node[1];
    for (uint32_t i = 0; i < b->neff; i++)
        if (b->eff[i].kind == FX_PERSIST)
            bft_pbft_ops.recover(r->core, b->eff[i].payload, b->eff[i].payload_len);
    const struct pbft_slot *s = pbft_slot_peek(r->core, 1);
    assert_non_null(s);
    assert_true(s->has_pp);
    assert_int_equal(s->batch_len, BFT_PAYLOAD_MAX);
    assert_memory_equal(s->batch, batch, BFT_PAYLOAD_MAX);
    bft_digest d2;
    struct bft_msg other = make_pp(0, 1, 50, 1, &d2);
    fx_inject(&fx2, 0, 1, &other);
    assert_int_equal(r->rejects[BFT_REJECT_EQUIVOCATION], 1);
    free(batch);
    fx_free(&fx2);
    fx_free(&fx);
}

/* The primary's WAL dump (compaction) holds the same full-size record. */
static void test_full_batch_in_compaction_dump(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct fx_node *b = &fx.node[1];
    bft_digest d;
    uint8_t *batch = big_batch(BFT_PAYLOAD_MAX, 0x33, &d);
    struct bft_msg pp = pp_of(1, batch, BFT_PAYLOAD_MAX, &d);
    fx_inject(&fx, 0, 1, &pp);
    fx_clear_effects(b);
    assert_int_equal(bft_pbft_ops.compact(b->core, 0, NULL, NULL), BFT_E_OK);
    assert_int_equal(bft_pbft_ops.compact(b->core, 0, fx_io_persist, b), BFT_E_OK);
    int rec = fx_find(b, FX_PERSIST, PBFT_REC_PP, 0);
    assert_true(rec >= 0);
    assert_int_equal(b->eff[rec].payload_len, pbft_pp_rec_len(PBFT_RAW_MAX, BFT_PAYLOAD_MAX));
    assert_memory_equal(b->eff[rec].payload + b->eff[rec].payload_len - BFT_PAYLOAD_MAX, batch,
                        BFT_PAYLOAD_MAX);
    free(batch);
    fx_free(&fx);
}

/* Prepare seq at backup 1 with this batch (n = 4: its own PREPARE and
 * replica 2's are the 2f). */
static void prepare_at_1(struct fx *fx, uint64_t seq, const uint8_t *batch, uint32_t len,
                         const bft_digest *d)
{
    struct bft_msg pp = pp_of(seq, batch, len, d);
    fx_inject(fx, 0, 1, &pp);
    send_vote(fx, 2, 1, BFT_MSG_PREPARE, seq, d);
    assert_true(pbft_slot_peek(fx->node[1].core, seq)->prepared);
}

/* Skip one certificate of a VIEW-CHANGE body; returns its batch_len field. */
static uint32_t skip_cert(struct wire_rd *r)
{
    wire_get_ptr(r, wire_get_le(r, 2)); /* pre-prepare */
    uint32_t nprep = (uint32_t)wire_get_le(r, 1);
    for (uint32_t i = 0; i < nprep; i++)
        wire_get_ptr(r, wire_get_le(r, 2));
    uint32_t blen = (uint32_t)wire_get_le(r, 4);
    if (blen != PBFT_BATCH_OMITTED) wire_get_ptr(r, blen);
    assert_false(r->err);
    return blen;
}

/* §4.4 P set: batches go along while the body has room (BFT_BODY_MAX), as
 * with the fixed buffer; our VIEW-CHANGE buffer grows to that body only. */
static void test_view_change_batches_up_to_body_max(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    struct fx_node *b = &fx.node[1];
    const uint32_t len = 200000; /* one fits a body, two do not */
    bft_digest d1, d2;
    uint8_t *b1 = big_batch(len, 1, &d1), *b2 = big_batch(len, 2, &d2);
    prepare_at_1(&fx, 1, b1, len, &d1);
    prepare_at_1(&fx, 2, b2, len, &d2);
    fx_clear_effects(b);
    pbft_start_view_change(b->core, 1);
    int vc = fx_find(b, FX_BCAST, BFT_MSG_VIEW_CHANGE, 0);
    assert_true(vc >= 0);
    const struct fx_effect *e = &b->eff[vc];
    assert_int_equal(e->body_len, b->core->vchg.own_vc_len);
    assert_true(b->core->vchg.own_vc.cap >= e->body_len &&
                b->core->vchg.own_vc.cap <= BFT_BODY_MAX);
    struct wire_rd r = {.p = e->body, .len = e->body_len};
    wire_get_ptr(&r, 8 + 32);
    assert_int_equal(wire_get_le(&r, 1), 0); /* no stable checkpoint yet */
    assert_int_equal(wire_get_le(&r, 2), 2);
    assert_int_equal(skip_cert(&r), len);
    assert_int_equal(skip_cert(&r), PBFT_BATCH_OMITTED);
    assert_int_equal(r.off, r.len);
    /* Our own VIEW-CHANGE is in the store, as the others see it. */
    assert_true(b->core->vchg.vcs[1].valid);
    assert_int_equal(b->core->vchg.vcs[1].view, 1);
    free(b1);
    free(b2);
    fx_free(&fx);
}

/* issue 14: a log slot's batch goes with its seq. A slot reset by the
 * checkpoint GC (or reused for another seq) holds no batch, so the window
 * holds the batches of its seqs, not the largest batch each of its L slots
 * ever held. */
static void test_slot_reset_frees_its_batch(void **state)
{
    (void)state;
    struct pbft_slot s;
    memset(&s, 0, sizeof s);
    static uint8_t batch[BFT_PAYLOAD_MAX];
    assert_true(pbft_slot_set_batch(&s, batch, sizeof batch));
    assert_int_equal(s.batch_cap, sizeof batch);
    pbft_slot_reset(&s);
    assert_null(s.batch);
    assert_int_equal(s.batch_cap, 0);
    assert_false(s.has_batch);
    assert_true(pbft_slot_set_batch(&s, batch, 100));
    assert_int_equal(s.batch_cap, 100);
    pbft_slot_reset(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_new_replica_holds_little),
        cmocka_unit_test(test_full_batch_logged_and_replayed),
        cmocka_unit_test(test_full_batch_in_compaction_dump),
        cmocka_unit_test(test_view_change_batches_up_to_body_max),
        cmocka_unit_test(test_slot_reset_frees_its_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
