/* PRE-PREPARE relay: a backup that sees a PREPARE or COMMIT for (v, n, d)
 * while it holds no pre-prepare for (v, n) asks the voter for it at once,
 * instead of waiting for the primary's retransmission (docs/pbft.md
 * "Missing PRE-PREPAREs").
 *
 * Why this is safe: the pre-prepare is signed by primary(v) (§4.2; the
 * signature covers v, n and d, and d = SHA-256 of the batch), so a copy
 * from any replica proves exactly what the primary's own delivery would.
 * The relayed copy goes through the same acceptance rules (§4.2, §4.4 O)
 * as a direct one, and never replaces a digest accepted for (v, n). The
 * batch did not pass the node's checks on the way in, so its requests'
 * client signatures are verified here (validity).
 *
 * Why it is needed: a corrupted PRE-PREPARE cannot be blamed on the primary
 * (the network may have mangled it), yet it kept that backup from
 * preparing n, and with 2f backups short of it n stalled until the
 * primary's retransmission; a backup missing only the pre-prepare of a seq
 * the others committed could not execute n (nor anything after it) until
 * a checkpoint-driven log fetch. This is receiver-driven recovery from a
 * replica known to hold the message, as in the retransmission scheme of
 * Castro's library (Castro, PhD thesis, MIT 2001, §5.2).
 *
 * Wire: STATE_REQ kind PBFT_SREQ_RELAY (view = v, seq = n, digest = d),
 * answered by STATE_RESP kind PBFT_SRESP_RELAY (layouts in pbft_wire.h).
 * A primary asked for its own pre-prepare resends the PRE-PREPARE itself.
 *
 * Bounds: a slot asks each replica at most once per view on votes, and
 * again once per retransmit tick while still missing it (at most
 * PBFT_RETRANSMIT_BURST slots); answers spend the asker's help budget. */
#include <assert.h>
#include <string.h>

#include "core/pbft/pbft_internal.h"

static void relay_sync(const struct bft_core *c, struct pbft_slot *s)
{
    if (s->relay_view == c->view) return;
    s->relay_view = c->view;
    s->relay_asked = s->relay_resent1 = s->relay_resent2 = 0;
}

static void ask(struct bft_core *c, struct pbft_slot *s, uint32_t to, const bft_digest *d)
{
    uint8_t body[PBFT_SREQ_MAX];
    struct pbft_state_req q = {.kind = PBFT_SREQ_RELAY};
    size_t blen = pbft_state_req_encode(&q, body);
    struct bft_msg m = {.type = BFT_MSG_STATE_REQ, .view = s->view, .seq = s->seq};
    m.digest = *d;
    m.body = body;
    m.body_len = (uint32_t)blen;
    s->relay_asked |= 1u << to;
    c->io.send(c->io.ctx, to, &m);
}

/* The slot lacks what only a pre-prepare (or a commit certificate with its
 * batch, pbft_fetch.c) would give it. */
static bool missing_pp(const struct bft_core *c, const struct pbft_slot *s)
{
    return s->view == c->view && !s->has_pp && !s->executed &&
           !(pbft_has_proof(c, s) && s->has_batch);
}

void pbft_relay_on_vote(struct bft_core *c, struct pbft_slot *s, uint32_t from, const bft_digest *d)
{
    if (c->in_vc || !missing_pp(c, s) || from >= c->n || from == c->self) return;
    relay_sync(c, s);
    if (s->relay_asked & (1u << from)) return;
    ask(c, s, from, d);
    pbft_arm_retransmit(c);
}

bool pbft_relay_retransmit(struct bft_core *c)
{
    if (c->in_vc) return false;
    bool missing = false;
    uint32_t asked = 0;
    for (uint64_t seq = pbft_scan_start(c); seq <= c->h + c->L; seq++) {
        struct pbft_slot *s = pbft_slot_peek(c, seq);
        if (!s || !missing_pp(c, s)) continue;
        uint32_t voters = s->prep_mask | s->commit_mask;
        voters &= ~(1u << c->self);
        /* Again only with f+1 voters, one of them correct: a faulty
         * replica's votes for seqs nobody proposed (faults/ `flood`) must
         * not make us ask every tick. With fewer, the primary's own
         * retransmission covers the seq. */
        if (pbft_popcount(voters) < c->f + 1) continue;
        missing = true;
        /* Every voter once more: an answer may have been lost, or the
         * first voter asked was faulty and stayed silent. */
        relay_sync(c, s);
        s->relay_asked = 0;
        for (uint32_t i = 0; i < c->n; i++) {
            if (!(voters & (1u << i))) continue;
            const bft_digest *d = (s->prep_mask & (1u << i)) ? &s->prep_d[i] : &s->commit_d[i];
            ask(c, s, i, d);
        }
        if (++asked >= PBFT_RETRANSMIT_BURST) break;
    }
    return missing;
}

/* Primary side, for a pre-prepare no backup received (nobody can relay
 * it): backups process pre-prepares as they come, so a vote for our
 * proposal at seq from a backup that has not voted for an earlier seq of
 * ours shows that earlier pre-prepare lost on the way to it. Resend it at
 * once rather than after the retransmission period (the evidence TCP's
 * fast retransmit acts on, duplicate ACKs, RFC 5681 §3.2). With
 * pipeline_max small no later seq is proposed while this one stalls, so
 * the backup's PREPARE and then its COMMIT of the next seq are the only
 * evidence: each may trigger one resend (twice per backup and slot per
 * view); later losses wait for the retransmit tick. The vote must carry
 * the digest we proposed at seq: votes for random digests (faults/
 * `flood`) trigger nothing, and a faulty backup that votes correctly can
 * draw at most two extra copies of each batch. */
void pbft_relay_on_backup_vote(struct bft_core *c, uint32_t from, uint64_t seq, const bft_digest *d)
{
    if (c->in_vc || pbft_primary(c, c->view) != c->self || from >= c->n || from == c->self) return;
    const struct pbft_slot *voted = pbft_slot_peek(c, seq);
    if (!voted || voted->view != c->view || !voted->has_pp || voted->pp.len != 0 ||
        !pbft_deq(&voted->digest, d))
        return;
    uint32_t bit = 1u << from, sent = 0;
    for (uint64_t n = pbft_scan_start(c); n < seq && sent < PBFT_RETRANSMIT_BURST; n++) {
        struct pbft_slot *s = pbft_slot_peek(c, n);
        if (!s || s->view != c->view || !s->has_pp || s->pp.len != 0 || s->executed) continue;
        if ((s->prep_mask | s->commit_mask) & bit) continue;
        relay_sync(c, s);
        if (s->relay_resent2 & bit) continue;
        if (s->relay_resent1 & bit)
            s->relay_resent2 |= bit;
        else
            s->relay_resent1 |= bit;
        struct bft_msg out = {.type = BFT_MSG_PRE_PREPARE, .view = s->view, .seq = s->seq};
        out.digest = s->digest;
        out.payload = s->batch_len ? s->batch : NULL;
        out.payload_len = s->batch_len;
        c->io.send(c->io.ctx, from, &out);
        sent++;
    }
}

void pbft_on_relay_req(struct bft_core *c, const struct bft_msg *m)
{
    const struct pbft_slot *s = pbft_slot_peek(c, m->seq);
    if (!s || !s->has_pp || !s->has_batch || s->view != m->view ||
        !pbft_deq(&s->digest, &m->digest))
        return; /* nothing to give: the asker asks another voter */
    if (c->help_budget[m->sender] == 0) {
        c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
        return;
    }
    c->help_budget[m->sender]--;
    c->helped = true;
    pbft_arm_retransmit(c);
    struct bft_msg out = {.view = s->view, .seq = s->seq};
    out.digest = s->digest;
    out.payload = s->batch_len ? s->batch : NULL;
    out.payload_len = s->batch_len;
    if (s->pp.len == 0) {
        /* Our own pre-prepare (we were primary(v)): send it again. */
        if (pbft_primary(c, s->view) != c->self) return;
        out.type = BFT_MSG_PRE_PREPARE;
        c->io.send(c->io.ctx, m->sender, &out);
        return;
    }
    uint8_t body[1 + 2 + PBFT_RAW_MAX];
    struct wire_wr w = {.buf = body, .cap = sizeof body};
    pbft_relay_resp_put(&w, s->pp.b, s->pp.len);
    assert(!w.err);
    out.type = BFT_MSG_STATE_RESP;
    out.body = body;
    out.body_len = (uint32_t)w.len;
    c->io.send(c->io.ctx, m->sender, &out);
}

/* Every request in a relayed batch is well formed and client-signed (the
 * node checks this for a PRE-PREPARE it receives, not for a STATE-RESP). */
static enum bft_reject check_batch(struct bft_core *c, const struct bft_msg *m)
{
    if (m->payload_len == 0)
        return pbft_is_null(&m->digest) ? BFT_REJECT_NONE : BFT_REJECT_MALFORMED;
    bft_digest d;
    bft_batch_digest(m->payload, m->payload_len, &d);
    if (!pbft_deq(&d, &m->digest)) return BFT_REJECT_MALFORMED;
    struct bft_batch_iter it;
    if (bft_batch_iter_init(&it, m->payload, m->payload_len) != BFT_E_OK)
        return BFT_REJECT_MALFORMED;
    const uint8_t *raw;
    size_t len;
    while (bft_batch_iter_next(&it, &raw, &len)) {
        struct bft_msg req;
        if (bft_msg_decode(raw, len, &req) != BFT_E_OK || req.type != BFT_MSG_REQUEST ||
            req.payload_len != 0)
            return BFT_REJECT_MALFORMED;
        if (!c->env.verify_request(c->env.ctx, &req)) return BFT_REJECT_BAD_SIGNATURE;
    }
    return BFT_REJECT_NONE;
}

void pbft_on_relay_resp(struct bft_core *c, const struct bft_msg *m)
{
    const uint8_t *raw;
    uint16_t len;
    if (pbft_relay_resp_decode(m, &raw, &len) != BFT_REJECT_NONE) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    /* Cheap checks first: most answers race the primary's own copy. */
    const struct pbft_slot *s = pbft_slot_peek(c, m->seq);
    if (c->in_vc || (s && s->view == c->view && s->has_pp) || (s && s->executed)) {
        c->io.reject(c->io.ctx, BFT_REJECT_DUPLICATE);
        return;
    }
    struct bft_msg pp;
    enum bft_reject why = pbft_embedded_check(c, raw, len, BFT_MSG_PRE_PREPARE, &pp, false);
    if (!why && (pp.seq != m->seq || !pbft_deq(&pp.digest, &m->digest))) why = BFT_REJECT_MALFORMED;
    if (!why && pp.view != c->view) why = BFT_REJECT_STALE_VIEW;
    if (!why && pp.sender != pbft_primary(c, pp.view)) why = BFT_REJECT_MALFORMED;
    if (!why) why = pbft_emb_check(c, &pp, true);
    pp.payload = m->payload;
    pp.payload_len = m->payload_len;
    if (!why) why = check_batch(c, &pp);
    if (why != BFT_REJECT_NONE) {
        c->io.reject(c->io.ctx, why);
        return;
    }
    pp.raw_len = (uint32_t)len + m->payload_len;
    pbft_on_relayed_pre_prepare(c, &pp, raw);
}
