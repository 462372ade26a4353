/* PBFT core, view changes by paper section (Castro & Liskov OSDI'99 §4.4
 * view-change protocol, TOCS'02 §4.5.2 liveness). Runs whole clusters on
 * the scripted network of pbft_fixture.h and tampers with messages. */
#include "core/core.h"
#include "pbft_fixture.h"

static bool drop_commits(struct fx *fx, uint32_t from, uint32_t to, const struct bft_msg *m)
{
    (void)fx, (void)from, (void)to;
    return m->type == BFT_MSG_COMMIT;
}

static bool drop_commits_and_pp2(struct fx *fx, uint32_t from, uint32_t to, const struct bft_msg *m)
{
    (void)fx, (void)from, (void)to;
    return m->type == BFT_MSG_COMMIT || (m->type == BFT_MSG_PRE_PREPARE && m->seq == 2);
}

static bool drop_new_view(struct fx *fx, uint32_t from, uint32_t to, const struct bft_msg *m)
{
    (void)fx, (void)from;
    return m->type == BFT_MSG_NEW_VIEW && (fx->arg == NULL || to == 3);
}

/* The request timer expires at `id`. The first expiries only probe the
 * others for entries we missed; then it suspects the primary. */
static void suspect(struct fx *fx, uint32_t id)
{
    fx_fire(fx, id, PBFT_TIMER_VIEW_CHANGE);
    for (int i = 0; i < PBFT_PROBES && !fx_status(&fx->node[id]).in_view_change; i++)
        fx_fire(fx, id, PBFT_TIMER_VIEW_CHANGE);
}

/* Every replica in `ids` has executed the same seqs with the same batches. */
static void assert_same_log(struct fx *fx, const uint32_t *ids, uint32_t k, uint32_t nexec)
{
    for (uint32_t i = 0; i < k; i++) {
        const struct fx_node *a = &fx->node[ids[i]], *b = &fx->node[ids[0]];
        assert_int_equal(a->nexec, nexec);
        for (uint32_t j = 0; j < nexec; j++) {
            assert_int_equal(a->exec_seq[j], j + 1);
            assert_memory_equal(a->exec_digest[j].b, b->exec_digest[j].b, 32);
        }
    }
}

/* Client request r of client 7 to every live replica. */
static void submit_all(struct fx *fx, uint64_t r)
{
    for (uint32_t i = 0; i < fx->n; i++)
        if (!fx->node[i].down) fx_submit(fx, i, 7, r);
}

/* Seq 1 prepared everywhere, committed nowhere (commits are lost). */
static void prepare_without_commit(struct fx *fx)
{
    fx->drop = drop_commits;
    submit_all(fx, 1);
    fx_run(fx);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(fx->node[i].nexec, 0);
        assert_true(pbft_slot_at(fx->node[i].core, 1)->prepared);
    }
    fx->drop = NULL;
}

/* §4.4: when the timer expires a backup moves to v+1 and multicasts
 * VIEW-CHANGE carrying its prepared certificates (pre-prepare + 2f
 * prepares) and the batch, persisted before it leaves. */
static void test_4_4_timer_expiry_sends_view_change_with_certificate(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    prepare_without_commit(&fx);
    struct fx_node *b = &fx.node[2];
    assert_true(b->timer_armed[PBFT_TIMER_VIEW_CHANGE]);
    uint32_t mark = b->neff;
    fx_fire(&fx, 2, PBFT_TIMER_VIEW_CHANGE); /* first: probe the others */
    int probe = fx_find(b, FX_BCAST, BFT_MSG_FETCH_REQ, mark);
    assert_true(probe >= 0);
    assert_int_equal(b->eff[probe].seq, 1);
    assert_false(fx_status(b).in_view_change);
    assert_true(b->timer_armed[PBFT_TIMER_VIEW_CHANGE]);
    for (int i = 1; i < PBFT_PROBES; i++)
        fx_fire(&fx, 2, PBFT_TIMER_VIEW_CHANGE);
    assert_false(fx_status(b).in_view_change);
    assert_int_equal(fx_count(b, FX_BCAST, BFT_MSG_FETCH_REQ), PBFT_PROBES);
    fx_fire(&fx, 2, PBFT_TIMER_VIEW_CHANGE); /* nobody is ahead: suspect */
    int rec = fx_find(b, FX_PERSIST, PBFT_REC_VIEW, mark);
    int vc = fx_find(b, FX_BCAST, BFT_MSG_VIEW_CHANGE, mark);
    assert_true(rec >= 0 && vc > rec);
    assert_true(fx_status(b).in_view_change);
    assert_int_equal(fx_status(b).view, 1);
    const struct fx_effect *e = &b->eff[vc];
    assert_int_equal(e->view, 1);
    struct pbft_limits lim = pbft_limits_of(b->core);
    struct pbft_vc_wire w;
    assert_int_equal(pbft_vc_decode(e->body, e->body_len, &lim, &w), BFT_REJECT_NONE);
    assert_int_equal(w.h, 0);
    assert_int_equal(w.proof.count, 0); /* no checkpoint yet */
    assert_int_equal(w.ncert, 1);       /* one certificate */
    struct pbft_vc_wire_cert ct;
    assert_true(pbft_vc_next_cert(&w, &ct));
    assert_int_equal(ct.pp.type, BFT_MSG_PRE_PREPARE);
    assert_int_equal(ct.pp.sender, 0); /* signed by primary 0 */
    assert_int_equal(ct.pp.seq, 1);
    assert_int_equal(ct.prep.count, 2); /* 2f prepares */
    for (uint32_t i = 0; i < 2; i++) {
        assert_int_equal(ct.prep.m[i].type, BFT_MSG_PREPARE);
        assert_memory_equal(ct.prep.m[i].digest.b, ct.pp.digest.b, CRYPTO_DIGEST_LEN);
    }
    assert_non_null(ct.batch);
    struct pbft_vc_wire_cert more;
    assert_false(pbft_vc_next_cert(&w, &more)); /* only one */
    bft_digest d;
    bft_batch_digest(ct.batch, ct.batch_len, &d);
    assert_memory_equal(d.b, ct.pp.digest.b, CRYPTO_DIGEST_LEN);
    /* Normal-case messages are refused during the view change. */
    struct bft_msg v = fx_vote(BFT_MSG_PREPARE, 0, 2, &d);
    fx_inject(&fx, 1, 2, &v);
    assert_int_equal(b->rejects[BFT_REJECT_STALE_VIEW], 1);
    fx_free(&fx);
}

/* §4.4: the new primary collects 2f+1 VIEW-CHANGEs and its NEW-VIEW
 * re-proposes the prepared batch in the new view; pending client requests
 * are proposed after it. Nothing executes twice. */
static void test_4_4_new_view_reproposes_prepared_value(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    prepare_without_commit(&fx);
    bft_digest d1 = pbft_slot_at(fx.node[1].core, 1)->digest;
    fx.node[0].down = true; /* the old primary is gone */
    fx_submit(&fx, 1, 7, 2);
    fx_submit(&fx, 2, 7, 2);
    fx_submit(&fx, 3, 7, 2);
    fx_run(&fx);
    for (uint32_t i = 1; i < 4; i++)
        suspect(&fx, i);
    fx_run(&fx);
    int nv = fx_find(&fx.node[1], FX_BCAST, BFT_MSG_NEW_VIEW, 0);
    assert_true(nv >= 0);
    const uint32_t live[] = {1, 2, 3};
    for (uint32_t i = 1; i < 4; i++) {
        struct bft_core_status st = fx_status(&fx.node[i]);
        assert_int_equal(st.view, 1);
        assert_false(st.in_view_change);
        assert_int_equal(st.view_changes, 1);
        assert_int_equal(st.pending_requests, 0);
    }
    assert_same_log(&fx, live, 3, 2);
    assert_memory_equal(fx.node[2].exec_digest[0].b, d1.b, 32); /* the prepared value */
    assert_int_equal(fx.node[2].eff[fx_find(&fx.node[2], FX_EXEC, -1, 0)].view, 1);
    /* The next request runs normally in view 1. */
    submit_all(&fx, 3);
    fx_run(&fx);
    assert_same_log(&fx, live, 3, 3);
    fx_free(&fx);
}

/* §4.4: seqs between min-s and max-s with no prepared certificate in V are
 * filled with null requests (empty batch, zero digest). */
static void test_4_4_new_view_fills_gaps_with_null_requests(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    fx.drop = drop_commits_and_pp2;
    submit_all(&fx, 1);
    submit_all(&fx, 2);
    submit_all(&fx, 3);
    fx_run(&fx);
    fx.drop = NULL;
    fx.node[0].down = true;
    for (uint32_t i = 1; i < 4; i++)
        suspect(&fx, i);
    fx_run(&fx);
    const uint32_t live[] = {1, 2, 3};
    assert_same_log(&fx, live, 3, 4);
    struct fx_node *b = &fx.node[3];
    assert_int_equal(b->exec_len[1], 0); /* seq 2: null request */
    static const bft_digest zero;
    assert_memory_equal(b->exec_digest[1].b, zero.b, 32);
    assert_true(b->exec_len[0] > 0 && b->exec_len[2] > 0 && b->exec_len[3] > 0);
    assert_int_equal(fx_status(b).pending_requests, 0); /* request 2 re-proposed at 4 */
    fx_free(&fx);
}

/* §4.4: a backup recomputes O from the VIEW-CHANGEs in the NEW-VIEW and
 * refuses a primary that drops a prepared value. */
static void test_4_4_backup_rejects_new_view_dropping_prepared_value(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    prepare_without_commit(&fx);
    fx.node[0].down = true;
    fx.drop = drop_new_view;
    fx.arg = &fx; /* only replica 3 misses the NEW-VIEW */
    for (uint32_t i = 1; i < 4; i++)
        suspect(&fx, i);
    fx_run(&fx);
    fx.drop = NULL;
    struct fx_node *b = &fx.node[3];
    assert_true(fx_status(b).in_view_change);
    int nv = fx_find(&fx.node[1], FX_BCAST, BFT_MSG_NEW_VIEW, 0);
    assert_true(nv >= 0);
    const struct fx_effect *e = &fx.node[1].eff[nv];
    uint8_t *body = malloc(e->body_len);
    memcpy(body, e->body, e->body_len);
    uint32_t nref = body[48];
    size_t dig_off = 8 + 32 + 8 + 1 + nref * 36 + 2;
    assert_int_equal(wire_le_load(body + 40, 8), 1); /* max-s: seq 1 is in O */
    memset(body + dig_off, 0, 32);                   /* ... but claim it is null */
    struct bft_msg forged = {.type = BFT_MSG_NEW_VIEW, .view = 1, .seq = 1};
    forged.body = body;
    forged.body_len = e->body_len;
    fx_inject(&fx, 1, 3, &forged);
    assert_int_equal(b->rejects[BFT_REJECT_EQUIVOCATION], 1);
    assert_true(fx_status(b).in_view_change);
    /* Claiming max-s = 0 (dropping seq 1 altogether) fails as well. */
    uint8_t short_body[8 + 32 + 8 + 1 + BFT_MAX_REPLICAS * 36 + 2 + 1];
    size_t refs = 8 + 32 + 8 + 1 + nref * 36;
    memcpy(short_body, body, refs);
    memset(short_body + 40, 0, 8);
    memset(short_body + refs, 0, 3); /* ndig 0, nemb 0 */
    forged.body = short_body;
    forged.body_len = (uint32_t)(refs + 3);
    fx_inject(&fx, 1, 3, &forged);
    assert_int_equal(b->rejects[BFT_REJECT_EQUIVOCATION], 2);
    assert_true(fx_status(b).in_view_change);
    /* The genuine one is accepted; retransmission brings the re-proposal. */
    forged.body = e->body;
    forged.body_len = e->body_len;
    fx_inject(&fx, 1, 3, &forged);
    assert_false(fx_status(b).in_view_change);
    assert_int_equal(fx_status(b).view, 1);
    for (int tick = 0; tick < 2; tick++) { /* resent after one tick of grace */
        fx_fire(&fx, 1, PBFT_TIMER_RETRANSMIT);
        fx_fire(&fx, 2, PBFT_TIMER_RETRANSMIT);
        fx_run(&fx);
    }
    const uint32_t live[] = {1, 2, 3};
    assert_same_log(&fx, live, 3, 1);
    free(body);
    fx_free(&fx);
}

/* §4.5.2: f+1 VIEW-CHANGEs for higher views make a replica join even
 * before its own timer expires; one is not enough. */
static void test_4_5_2_f_plus_1_view_changes_make_replica_join(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    suspect(&fx, 1);
    fx_run(&fx);
    assert_false(fx_status(&fx.node[3]).in_view_change);
    assert_int_equal(fx_status(&fx.node[3]).view, 0);
    assert_int_equal(fx_count(&fx.node[3], FX_BCAST, BFT_MSG_VIEW_CHANGE), 0);
    suspect(&fx, 2);
    fx_run(&fx);
    assert_int_equal(fx_count(&fx.node[3], FX_BCAST, BFT_MSG_VIEW_CHANGE), 1);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(fx_status(&fx.node[i]).view, 1);
        assert_false(fx_status(&fx.node[i]).in_view_change);
    }
    fx_free(&fx);
}

/* §4.5.2: each failed view change doubles the new-view timeout. */
static void test_4_5_2_timeouts_double(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    fx.drop = drop_new_view; /* arg NULL: every NEW-VIEW is lost */
    uint64_t T = fx.node[3].cfg.request_timeout_ms;
    for (uint32_t i = 0; i < 4; i++)
        suspect(&fx, i);
    fx_run(&fx);
    assert_int_equal(fx_status(&fx.node[3]).view, 1);
    assert_true(fx.node[3].timer_armed[PBFT_TIMER_VIEW_CHANGE]);
    assert_int_equal(fx.node[3].timer_ms[PBFT_TIMER_VIEW_CHANGE], T);
    for (uint32_t i = 0; i < 4; i++)
        if (fx_status(&fx.node[i]).in_view_change) suspect(&fx, i);
    fx_run(&fx);
    assert_int_equal(fx_status(&fx.node[3]).view, 2);
    assert_true(fx_status(&fx.node[3]).in_view_change);
    assert_int_equal(fx.node[3].timer_ms[PBFT_TIMER_VIEW_CHANGE], 2 * T);
    for (uint32_t i = 0; i < 4; i++)
        if (fx_status(&fx.node[i]).in_view_change) suspect(&fx, i);
    fx_run(&fx);
    assert_int_equal(fx_status(&fx.node[1]).view, 3);
    assert_true(fx_status(&fx.node[1]).in_view_change);
    assert_true(fx.node[1].timer_armed[PBFT_TIMER_VIEW_CHANGE]);
    assert_int_equal(fx.node[1].timer_ms[PBFT_TIMER_VIEW_CHANGE], 4 * T);
    /* Once NEW-VIEWs get through and a request executes, back to T. */
    fx.drop = NULL;
    for (uint32_t i = 0; i < 4; i++)
        if (fx_status(&fx.node[i]).in_view_change) suspect(&fx, i);
    fx_run(&fx);
    assert_int_equal(fx_status(&fx.node[1]).view, 4);
    assert_false(fx_status(&fx.node[1]).in_view_change);
    submit_all(&fx, 1);
    fx_run(&fx);
    submit_all(&fx, 2);
    assert_int_equal(fx.node[1].timer_ms[PBFT_TIMER_VIEW_CHANGE], T);
    fx_free(&fx);
}

/* §4.4: VIEW-CHANGEs are validated in full; an embedded prepare with a bad
 * signature, or a truncated body, is refused and not stored. */
static void test_4_4_view_change_with_bad_embedded_signature_rejected(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    prepare_without_commit(&fx);
    suspect(&fx, 1);
    int vc = fx_find(&fx.node[1], FX_BCAST, BFT_MSG_VIEW_CHANGE, 0);
    assert_true(vc >= 0);
    fx_drop_queue(&fx);
    const struct fx_effect *e = &fx.node[1].eff[vc];
    uint8_t *body = malloc(e->body_len);
    memcpy(body, e->body, e->body_len);
    size_t prep_sig = 8 + 32 + 1 + 2 + 2 + BFT_MSG_MIN_LEN + 1 + 2 + BFT_HDR_LEN;
    body[prep_sig] = FX_BAD_SIG;
    struct bft_msg m = {.type = BFT_MSG_VIEW_CHANGE, .view = 1};
    m.body = body;
    m.body_len = e->body_len;
    struct fx_node *b = &fx.node[2];
    fx_inject(&fx, 1, 2, &m);
    assert_int_equal(b->rejects[BFT_REJECT_BAD_SIGNATURE], 1);
    assert_false(b->core->vchg.vcs[1].valid);
    body[prep_sig] = 0;
    m.body_len = e->body_len - 1; /* truncated */
    fx_inject(&fx, 1, 2, &m);
    assert_int_equal(b->rejects[BFT_REJECT_MALFORMED], 1);
    assert_false(b->core->vchg.vcs[1].valid);
    /* A prepared certificate with only 2f-1 prepares is not a certificate. */
    body[8 + 32 + 1 + 2 + 2 + BFT_MSG_MIN_LEN] = 1;
    m.body_len = e->body_len;
    fx_inject(&fx, 1, 2, &m);
    assert_int_equal(b->rejects[BFT_REJECT_MALFORMED], 2);
    body[8 + 32 + 1 + 2 + 2 + BFT_MSG_MIN_LEN] = 2;
    fx_inject(&fx, 1, 2, &m);
    assert_true(b->core->vchg.vcs[1].valid);
    assert_int_equal(b->core->vchg.vcs[1].ncert, 1);
    free(body);
    fx_free(&fx);
}

/* Checkpoints survive the view change: a VIEW-CHANGE carries the stable
 * checkpoint with its proof and the new view starts above it. */
static void test_4_4_view_change_after_checkpoint(void **state)
{
    (void)state;
    struct bft_core_config cfg;
    bft_core_config_defaults(&cfg, BFT_PROTO_PBFT, 4, 0);
    cfg.window = 8;
    cfg.checkpoint_interval = 4;
    struct fx fx;
    fx_init_cfg(&fx, 4, &cfg);
    for (uint64_t r = 1; r <= 5; r++) {
        submit_all(&fx, r);
        fx_run(&fx);
    }
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(fx_status(&fx.node[i]).stable_checkpoint, 4);
    fx.node[0].down = true;
    submit_all(&fx, 6);
    fx_run(&fx);
    for (uint32_t i = 1; i < 4; i++)
        suspect(&fx, i);
    fx_run(&fx);
    const uint32_t live[] = {1, 2, 3};
    assert_same_log(&fx, live, 3, 6);
    for (uint32_t i = 1; i < 4; i++)
        assert_int_equal(fx_status(&fx.node[i]).view, 1);
    fx_free(&fx);
}

static bool drop_vc_and_nv_to_3(struct fx *fx, uint32_t from, uint32_t to, const struct bft_msg *m)
{
    (void)fx, (void)from;
    return to == 3 && (m->type == BFT_MSG_VIEW_CHANGE || m->type == BFT_MSG_NEW_VIEW);
}

/* Replay an effect (a message node `from` broadcast) to node `to`. */
static void replay_effect(struct fx *fx, uint32_t from, uint32_t to, const struct fx_effect *e,
                          const uint8_t *body, uint32_t body_len)
{
    struct bft_msg m = {.type = e->type, .view = e->view, .seq = e->seq, .digest = e->digest};
    m.body = body;
    m.body_len = body_len;
    m.payload = e->payload;
    m.payload_len = e->payload_len;
    fx_inject(fx, from, to, &m);
}

/* §4.4 liveness under a Byzantine future primary (issue 12 defect 6a): a
 * backup keeps a NEW-VIEW whose VIEW-CHANGEs it has not seen yet. Replica
 * 2, the primary of view 2, must not be able to replace that waiting
 * NEW-VIEW of view 1 with one of its own that names VIEW-CHANGEs nobody
 * sent: once the missing VIEW-CHANGEs arrive, the backup enters view 1. */
static void test_4_4_waiting_new_view_not_replaced_by_future_primary(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    fx.node[0].down = true;
    fx.drop = drop_vc_and_nv_to_3;
    for (uint32_t i = 1; i < 4; i++)
        suspect(&fx, i);
    fx_run(&fx);
    fx.drop = NULL;
    struct fx_node *b = &fx.node[3];
    assert_true(fx_status(b).in_view_change);
    assert_int_equal(fx_status(&fx.node[1]).view, 1);
    assert_false(fx_status(&fx.node[1]).in_view_change);
    /* The genuine NEW-VIEW of view 1 without its embedded VIEW-CHANGEs:
     * replica 3 lacks those of 1 and 2, so it waits. */
    int nv = fx_find(&fx.node[1], FX_BCAST, BFT_MSG_NEW_VIEW, 0);
    assert_true(nv >= 0);
    const struct fx_effect *e = &fx.node[1].eff[nv];
    uint32_t nref = e->body[48];
    uint32_t ndig = (uint32_t)wire_le_load(e->body + 49 + nref * 36, 2);
    uint32_t nemb_off = 49 + nref * 36 + 2 + ndig * 32;
    uint8_t *refs_only = malloc(nemb_off + 1);
    memcpy(refs_only, e->body, nemb_off);
    refs_only[nemb_off] = 0;
    replay_effect(&fx, 1, 3, e, refs_only, nemb_off + 1);
    assert_true(fx_status(b).in_view_change);
    /* Replica 2 (primary of view 2) sends a NEW-VIEW naming VIEW-CHANGEs
     * that do not exist: it waits too, in its own slot. */
    uint8_t junk[49 + 3 * 36 + 2 + 1];
    memset(junk, 0, sizeof junk);
    junk[48] = 3;
    for (uint32_t i = 0; i < 3; i++) {
        junk[49 + i * 36] = (uint8_t)i;
        memset(junk + 49 + i * 36 + 4, 0x5a + (int)i, 32);
    }
    struct bft_msg fake = {.type = BFT_MSG_NEW_VIEW, .view = 2, .seq = 0};
    fake.body = junk;
    fake.body_len = sizeof junk;
    fx_inject(&fx, 2, 3, &fake);
    assert_true(fx_status(b).in_view_change);
    /* The VIEW-CHANGEs of 1 and 2 for view 1 arrive: view 1 starts. */
    for (uint32_t from = 1; from <= 2; from++) {
        int vc = fx_find(&fx.node[from], FX_BCAST, BFT_MSG_VIEW_CHANGE, 0);
        assert_true(vc >= 0);
        const struct fx_effect *v = &fx.node[from].eff[vc];
        replay_effect(&fx, from, 3, v, v->body, v->body_len);
    }
    assert_false(fx_status(b).in_view_change);
    assert_int_equal(fx_status(b).view, 1);
    free(refs_only);
    fx_free(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_4_4_timer_expiry_sends_view_change_with_certificate),
        cmocka_unit_test(test_4_4_new_view_reproposes_prepared_value),
        cmocka_unit_test(test_4_4_new_view_fills_gaps_with_null_requests),
        cmocka_unit_test(test_4_4_backup_rejects_new_view_dropping_prepared_value),
        cmocka_unit_test(test_4_5_2_f_plus_1_view_changes_make_replica_join),
        cmocka_unit_test(test_4_5_2_timeouts_double),
        cmocka_unit_test(test_4_4_view_change_with_bad_embedded_signature_rejected),
        cmocka_unit_test(test_4_4_view_change_after_checkpoint),
        cmocka_unit_test(test_4_4_waiting_new_view_not_replaced_by_future_primary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
