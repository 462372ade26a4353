/* PBFT core: missing PRE-PREPAREs (core/pbft/pbft_relay.c, docs/pbft.md "Missing
 * PRE-PREPAREs"). A backup that sees a vote for a seq whose pre-prepare it
 * lacks asks the voter for the primary's signed pre-prepare; the primary
 * resends a pre-prepare at once to a backup that voted for a later seq but
 * not for it. Neither waits for the retransmission period, so a primary
 * whose messages are corrupted on the way (issue 10, faults/ `junk`)
 * costs a round trip, not a second. Relayed pre-prepares must prove what
 * the primary's own delivery would: its signature, the batch digest, the
 * client signatures; mostly relayed ones count against the primary; and a
 * replica whose PREPAREs were lost commits on 2f+1 COMMITs. */
#include "core/core.h"
#include "pbft_fixture.h"
#include "pbft_script.h"

/* ---- helpers ---- */

static void setup_backup(struct fx *fx)
{
    fx_init(fx, 4);
    fx->node[0].down = fx->node[2].down = fx->node[3].down = true;
}

/* Index of the first effect at or after `from` sending `type` to `to`. */
static int find_send(const struct fx_node *nd, uint8_t type, uint32_t to, uint32_t from)
{
    for (int i = fx_find(nd, FX_SEND, type, from); i >= 0; i = fx_find(nd, FX_SEND, type, i + 1))
        if (nd->eff[i].to == to) return i;
    return -1;
}

static uint32_t count_sends(const struct fx_node *nd, uint8_t type, uint32_t to)
{
    uint32_t k = 0;
    for (int i = find_send(nd, type, to, 0); i >= 0; i = find_send(nd, type, to, i + 1))
        k++;
    return k;
}

/* STATE_RESP kind 3 from `relayer`: the pre-prepare (view, seq, d) as
 * signed by `signer`, stripped, with `batch` as the payload. */
static void inject_relay(struct fx *fx, uint32_t relayer, uint32_t to, uint32_t signer,
                         uint64_t view, uint64_t seq, const bft_digest *d, const uint8_t *batch,
                         uint32_t batch_len, bool bad_sig)
{
    struct bft_msg pp = {.type = BFT_MSG_PRE_PREPARE, .view = view, .seq = seq, .digest = *d};
    uint32_t rlen;
    uint8_t *raw = fx_encode(signer, &pp, &rlen);
    assert_int_equal(rlen, PBFT_RAW_MAX);
    if (bad_sig) raw[BFT_HDR_LEN] = FX_BAD_SIG;
    uint8_t body[3 + PBFT_RAW_MAX];
    body[0] = 3;
    body[1] = (uint8_t)rlen;
    body[2] = (uint8_t)(rlen >> 8);
    memcpy(body + 3, raw, rlen);
    free(raw);
    struct bft_msg m = {.type = BFT_MSG_STATE_RESP, .view = view, .seq = seq, .digest = *d};
    m.body = body;
    m.body_len = sizeof body;
    m.payload = batch;
    m.payload_len = batch_len;
    fx_inject(fx, relayer, to, &m);
}

/* ---- backup side: ask the voter ---- */

/* A PREPARE for a seq whose pre-prepare we never got: ask its sender, who
 * prepared it and so holds the pre-prepare; once per voter, and a COMMIT
 * from another replica asks that one too. */
static void test_vote_without_pre_prepare_asks_the_voter(void **state)
{
    (void)state;
    struct fx fx;
    setup_backup(&fx);
    bft_digest d;
    (void)make_pp(0, 1, 10, 1, &d);
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 1, &d);
    const struct fx_node *b = &fx.node[1];
    int i = find_send(b, BFT_MSG_STATE_REQ, 2, 0);
    assert_true(i >= 0);
    assert_int_equal(b->eff[i].seq, 1);
    assert_int_equal(b->eff[i].view, 0);
    assert_memory_equal(b->eff[i].digest.b, d.b, 32);
    assert_int_equal(b->eff[i].body_len, 1);
    assert_int_equal(b->eff[i].body[0], 3);
    send_vote(&fx, 2, 1, BFT_MSG_COMMIT, 1, &d); /* same voter: asked already */
    assert_int_equal(count_sends(b, BFT_MSG_STATE_REQ, 2), 1);
    send_vote(&fx, 3, 1, BFT_MSG_COMMIT, 1, &d);
    assert_int_equal(count_sends(b, BFT_MSG_STATE_REQ, 3), 1);
    fx_free(&fx);
}

/* The retransmit tick asks again only with f+1 voters (one is correct):
 * a lone faulty voter for a seq nobody proposed (faults/ `flood`) is asked
 * once, not every tick. */
static void test_tick_asks_again_only_with_f_plus_1_voters(void **state)
{
    (void)state;
    struct fx fx;
    setup_backup(&fx);
    bft_digest d;
    (void)make_pp(0, 1, 10, 1, &d);
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 1, &d);
    const struct fx_node *b = &fx.node[1];
    assert_int_equal(fx_count(b, FX_SEND, BFT_MSG_STATE_REQ), 1);
    fx_fire(&fx, 1, PBFT_TIMER_RETRANSMIT);
    fx_fire(&fx, 1, PBFT_TIMER_RETRANSMIT);
    assert_int_equal(fx_count(b, FX_SEND, BFT_MSG_STATE_REQ), 1);
    send_vote(&fx, 3, 1, BFT_MSG_COMMIT, 1, &d);
    assert_int_equal(fx_count(b, FX_SEND, BFT_MSG_STATE_REQ), 2);
    fx_fire(&fx, 1, PBFT_TIMER_RETRANSMIT);
    assert_int_equal(count_sends(b, BFT_MSG_STATE_REQ, 2), 2);
    assert_int_equal(count_sends(b, BFT_MSG_STATE_REQ, 3), 2);
    fx_free(&fx);
}

/* With the pre-prepare in hand, votes ask nobody. */
static void test_vote_with_pre_prepare_asks_nobody(void **state)
{
    (void)state;
    struct fx fx;
    setup_backup(&fx);
    bft_digest d;
    struct bft_msg pp = make_pp(0, 1, 10, 1, &d);
    fx_inject(&fx, 0, 1, &pp);
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 1, &d);
    send_vote(&fx, 3, 1, BFT_MSG_PREPARE, 1, &d);
    assert_int_equal(fx_count(&fx.node[1], FX_SEND, BFT_MSG_STATE_REQ), 0);
    fx_free(&fx);
}

/* The relayed pre-prepare is accepted like the primary's own: persisted,
 * PREPAREd, and with the commits in, executed. */
static void test_relayed_pre_prepare_accepted_and_executed(void **state)
{
    (void)state;
    struct fx fx;
    setup_backup(&fx);
    bft_digest d;
    struct bft_msg pp = make_pp(0, 1, 10, 2, &d);
    send_vote(&fx, 2, 1, BFT_MSG_PREPARE, 1, &d);
    fx_clear_effects(&fx.node[1]);
    inject_relay(&fx, 2, 1, 0, 0, 1, &d, pp.payload, pp.payload_len, false);
    const struct fx_node *b = &fx.node[1];
    int rec = fx_find(b, FX_PERSIST, PBFT_REC_PP, 0);
    int prep = fx_find(b, FX_BCAST, BFT_MSG_PREPARE, 0);
    assert_true(rec >= 0 && prep > rec); /* persist before promise */
    assert_memory_equal(b->eff[prep].digest.b, d.b, 32);
    send_vote(&fx, 2, 1, BFT_MSG_COMMIT, 1, &d);
    send_vote(&fx, 3, 1, BFT_MSG_COMMIT, 1, &d);
    assert_int_equal(b->nexec, 1);
    assert_int_equal(b->exec_seq[0], 1);
    assert_memory_equal(b->exec_digest[0].b, d.b, 32);
    fx_free(&fx);
}

/* A relayed copy proves nothing unless primary(v) signed it, for this seq
 * and digest, over this batch. */
static void test_relayed_pre_prepare_must_be_the_primarys(void **state)
{
    (void)state;
    struct fx fx;
    setup_backup(&fx);
    bft_digest d, other;
    struct bft_msg pp = make_pp(0, 1, 10, 2, &d);
    uint8_t batch[1 << 12];
    assert_true(pp.payload_len <= sizeof batch);
    memcpy(batch, pp.payload, pp.payload_len);
    uint32_t blen = pp.payload_len;
    (void)make_pp(0, 1, 20, 2, &other);
    struct fx_node *b = &fx.node[1];

    inject_relay(&fx, 2, 1, 0, 0, 1, &d, batch, blen, true); /* bad signature */
    assert_int_equal(b->rejects[BFT_REJECT_BAD_SIGNATURE], 1);
    inject_relay(&fx, 2, 1, 2, 0, 1, &d, batch, blen, false); /* signed by a backup */
    assert_int_equal(b->rejects[BFT_REJECT_MALFORMED], 1);
    inject_relay(&fx, 2, 1, 0, 0, 1, &other, batch, blen, false); /* batch is not `other` */
    assert_int_equal(b->rejects[BFT_REJECT_MALFORMED], 2);
    inject_relay(&fx, 2, 1, 1, 1, 1, &d, batch, blen, false); /* a view we are not in */
    assert_int_equal(b->rejects[BFT_REJECT_STALE_VIEW], 1);
    assert_int_equal(fx_count(b, FX_BCAST, BFT_MSG_PREPARE), 0);
    assert_int_equal(fx_count(b, FX_PERSIST, PBFT_REC_PP), 0);
    fx_free(&fx);
}

/* A relay never replaces the digest we accepted from the primary. */
static void test_relayed_pre_prepare_never_replaces_accepted_one(void **state)
{
    (void)state;
    struct fx fx;
    setup_backup(&fx);
    bft_digest d, other;
    struct bft_msg pp = make_pp(0, 1, 10, 1, &d);
    fx_inject(&fx, 0, 1, &pp);
    struct bft_msg pp2 = make_pp(0, 1, 30, 1, &other);
    inject_relay(&fx, 2, 1, 0, 0, 1, &other, pp2.payload, pp2.payload_len, false);
    assert_int_equal(fx_count(&fx.node[1], FX_BCAST, BFT_MSG_PREPARE), 1);
    assert_int_equal(pbft_slot_at(fx.node[1].core, 1 % fx.node[1].core->L)->digest.b[0], d.b[0]);
    assert_memory_equal(pbft_slot_at(fx.node[1].core, 1 % fx.node[1].core->L)->digest.b, d.b, 32);
    fx_free(&fx);
}

/* A replica asked for a pre-prepare it holds answers with the primary's
 * signed message and the batch; one it lacks (or holds for another
 * digest) stays silent. */
static void test_holder_answers_relay_request(void **state)
{
    (void)state;
    struct fx fx;
    setup_backup(&fx);
    bft_digest d, other;
    struct bft_msg pp = make_pp(0, 1, 10, 1, &d);
    fx_inject(&fx, 0, 1, &pp);
    (void)make_pp(0, 1, 40, 1, &other);
    fx_clear_effects(&fx.node[1]);
    uint8_t body[1] = {3};
    struct bft_msg req = {.type = BFT_MSG_STATE_REQ, .view = 0, .seq = 1, .digest = other};
    req.body = body;
    req.body_len = 1;
    fx_inject(&fx, 3, 1, &req);
    assert_int_equal(fx_count(&fx.node[1], FX_SEND, BFT_MSG_STATE_RESP), 0);
    req.digest = d;
    fx_inject(&fx, 3, 1, &req);
    const struct fx_node *b = &fx.node[1];
    int i = find_send(b, BFT_MSG_STATE_RESP, 3, 0);
    assert_true(i >= 0);
    assert_int_equal(b->eff[i].body_len, 3 + PBFT_RAW_MAX);
    assert_int_equal(b->eff[i].body[0], 3);
    assert_int_equal(b->eff[i].payload_len, pp.payload_len);
    assert_int_equal(wire_le_load(b->eff[i].body + 3 + 8, 4), 0); /* signed by primary 0 */
    req.seq = 2;
    fx_inject(&fx, 3, 1, &req);
    assert_int_equal(count_sends(b, BFT_MSG_STATE_RESP, 3), 1);
    fx_free(&fx);
}

/* The pre-prepare and 2f+1 matching COMMITs are committed(m, v, n) even if
 * every PREPARE sent to us was lost (f+1 correct replicas prepared): we
 * execute, instead of waiting for PREPAREs that replicas which executed
 * the seq no longer resend. */
static void test_commits_without_prepares_execute(void **state)
{
    (void)state;
    struct fx fx;
    setup_backup(&fx);
    bft_digest d;
    struct bft_msg pp = make_pp(0, 1, 10, 1, &d);
    fx_inject(&fx, 0, 1, &pp);
    send_vote(&fx, 0, 1, BFT_MSG_COMMIT, 1, &d);
    send_vote(&fx, 2, 1, BFT_MSG_COMMIT, 1, &d);
    assert_int_equal(fx.node[1].nexec, 0); /* 2f COMMITs are not enough */
    send_vote(&fx, 3, 1, BFT_MSG_COMMIT, 1, &d);
    assert_int_equal(fx.node[1].nexec, 1);
    assert_memory_equal(fx.node[1].exec_digest[0].b, d.b, 32);
    fx_free(&fx);
}

/* ---- the relay does not shield the primary (core/pbft/pbft_monitor.c) ---- */

#define TICK_MS 50 /* a monitor tick: T/20 */

/* One pre-prepare of primary 0 per monitor tick for `ticks` ticks, every
 * `relay_every`-th only through a relay from replica 2 (1: all relayed). */
static void deliver(struct fx *fx, uint64_t *seq, uint32_t ticks, uint32_t relay_every)
{
    for (uint32_t t = 0; t < ticks; t++, (*seq)++) {
        bft_digest d;
        struct bft_msg pp = make_pp(0, *seq, *seq * 10, 1, &d);
        if (*seq % relay_every == 0)
            inject_relay(fx, 2, 1, 0, 0, *seq, &d, pp.payload, pp.payload_len, false);
        else
            fx_inject(fx, 0, 1, &pp);
        fx_advance(fx, TICK_MS);
    }
}

/* A primary that sends its pre-prepares to f backups only (faults/
 * `withhold`) no longer stalls: the others relay. Most pre-prepares
 * arriving only through relays for two windows in a row is a complaint. */
static void test_mostly_relayed_pre_prepares_vote_out_the_primary(void **state)
{
    (void)state;
    struct fx fx;
    setup_backup(&fx);
    uint64_t seq = 1;
    deliver(&fx, &seq, 10, 1); /* one full window (T/2) */
    assert_int_equal(fx_count(&fx.node[1], FX_BCAST, BFT_MSG_VIEW_CHANGE), 0);
    deliver(&fx, &seq, 11, 1); /* the second */
    assert_true(fx_find(&fx.node[1], FX_BCAST, BFT_MSG_VIEW_CHANGE, 0) >= 0);
    assert_int_equal(fx_status(&fx.node[1]).view, 1);
    fx_free(&fx);
}

/* A primary whose messages get lost or corrupted now and then (a quarter
 * here, like faults/ `junk`) keeps its place. */
static void test_some_relayed_pre_prepares_keep_the_primary(void **state)
{
    (void)state;
    struct fx fx;
    setup_backup(&fx);
    uint64_t seq = 1;
    deliver(&fx, &seq, 60, 4);
    assert_int_equal(fx_count(&fx.node[1], FX_BCAST, BFT_MSG_VIEW_CHANGE), 0);
    assert_int_equal(fx_status(&fx.node[1]).view, 0);
    fx_free(&fx);
}

/* ---- whole clusters, no timer ever fires ---- */

static uint32_t g_lost_pp_mask; /* backups that lose the primary's first PRE-PREPARE(1) */

static bool drop_first_pp(struct fx *fx, uint32_t from, uint32_t to, const struct bft_msg *m)
{
    (void)fx;
    if (from != 0 || m->type != BFT_MSG_PRE_PREPARE || m->seq != 1 ||
        !(g_lost_pp_mask & (1u << to)))
        return false;
    g_lost_pp_mask &= ~(1u << to); /* a resend gets through */
    return true;
}

/* Two of three backups lose PRE-PREPARE(1): the third's PREPARE makes them
 * fetch it, and seq 1 executes everywhere in one burst of messages,
 * without waiting for the primary's retransmission (issue 10). */
static void test_two_backups_missing_pre_prepare_execute_without_retransmission(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    g_lost_pp_mask = (1u << 1) | (1u << 2);
    fx.drop = drop_first_pp;
    fx_submit(&fx, 0, SCRIPT_CLIENT, 1);
    fx_run(&fx);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(fx.node[i].nexec, 1);
        assert_int_equal(fx.node[i].exec_seq[0], 1);
    }
    assert_true(fx_count(&fx.node[1], FX_SEND, BFT_MSG_STATE_REQ) >= 1);
    fx_free(&fx);
}

/* No backup gets PRE-PREPARE(1), so nobody can relay it; each backup's
 * PREPARE for seq 2 shows the primary it skipped seq 1, and the primary
 * resends it at once: both seqs execute with no timer firing. */
static void test_primary_resends_pre_prepare_a_backup_skipped(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    g_lost_pp_mask = 0xe;
    fx.drop = drop_first_pp;
    fx_submit(&fx, 0, SCRIPT_CLIENT, 1); /* seq 1 */
    fx_submit(&fx, 0, SCRIPT_CLIENT, 2); /* seq 2, proposed while seq 1 is in flight */
    fx_run(&fx);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(fx.node[i].nexec, 2);
    uint32_t resent = 0;
    for (uint32_t to = 1; to < 4; to++)
        for (int i = find_send(&fx.node[0], BFT_MSG_PRE_PREPARE, to, 0); i >= 0;
             i = find_send(&fx.node[0], BFT_MSG_PRE_PREPARE, to, i + 1))
            resent += fx.node[0].eff[i].seq == 1;
    assert_true(resent >= 1 && resent <= 6); /* at most twice per backup */
    fx_free(&fx);
}

/* The primary's early resend needs a vote for what it proposed, and is
 * bounded: twice per backup and slot (the
 * backups are down, so seq 1 never completes), the rest is the retransmit
 * tick's job. */
static void test_primary_early_resend_bounded(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    fx.node[1].down = fx.node[2].down = fx.node[3].down = true;
    fx_submit(&fx, 0, SCRIPT_CLIENT, 1);
    fx_submit(&fx, 0, SCRIPT_CLIENT, 2);
    fx_run(&fx);
    fx_clear_effects(&fx.node[0]);
    const struct bft_core *c = fx.node[0].core;
    const struct pbft_slot *s2 = pbft_slot_at(c, 2 % c->L);
    /* Votes for a digest we did not propose at 2 (faults/ `flood`) draw
     * nothing. */
    bft_digest bogus;
    memset(bogus.b, 0x5a, sizeof bogus.b);
    send_vote(&fx, 2, 0, BFT_MSG_PREPARE, 2, &bogus);
    send_vote(&fx, 3, 0, BFT_MSG_COMMIT, 2, &bogus);
    assert_int_equal(fx_count(&fx.node[0], FX_SEND, BFT_MSG_PRE_PREPARE), 0);
    /* PREPARE(2), COMMIT(2), then duplicates: two resends of seq 1. */
    for (int k = 0; k < 5; k++)
        send_vote(&fx, 1, 0, k % 2 ? BFT_MSG_COMMIT : BFT_MSG_PREPARE, 2, &s2->digest);
    assert_int_equal(count_sends(&fx.node[0], BFT_MSG_PRE_PREPARE, 1), 2);
    /* Votes for later seqs add none. */
    struct bft_msg v = fx_vote(BFT_MSG_COMMIT, 0, 3, &s2->digest);
    fx_inject(&fx, 1, 0, &v);
    v.seq = 4;
    fx_inject(&fx, 1, 0, &v);
    uint32_t seq1 = 0;
    for (int i = find_send(&fx.node[0], BFT_MSG_PRE_PREPARE, 1, 0); i >= 0;
         i = find_send(&fx.node[0], BFT_MSG_PRE_PREPARE, 1, i + 1))
        seq1 += fx.node[0].eff[i].seq == 1;
    assert_int_equal(seq1, 2);
    fx_free(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vote_without_pre_prepare_asks_the_voter),
        cmocka_unit_test(test_tick_asks_again_only_with_f_plus_1_voters),
        cmocka_unit_test(test_vote_with_pre_prepare_asks_nobody),
        cmocka_unit_test(test_relayed_pre_prepare_accepted_and_executed),
        cmocka_unit_test(test_relayed_pre_prepare_must_be_the_primarys),
        cmocka_unit_test(test_relayed_pre_prepare_never_replaces_accepted_one),
        cmocka_unit_test(test_holder_answers_relay_request),
        cmocka_unit_test(test_commits_without_prepares_execute),
        cmocka_unit_test(test_mostly_relayed_pre_prepares_vote_out_the_primary),
        cmocka_unit_test(test_some_relayed_pre_prepares_keep_the_primary),
        cmocka_unit_test(test_two_backups_missing_pre_prepare_execute_without_retransmission),
        cmocka_unit_test(test_primary_resends_pre_prepare_a_backup_skipped),
        cmocka_unit_test(test_primary_early_resend_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
