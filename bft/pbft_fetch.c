/* Log fetch: a replica that missed the messages for seqs others executed
 * (it was partitioned, restarted, or just restored a checkpoint) pulls each
 * missing entry with the 2f+1 COMMITs that committed it. 2f+1 COMMITs for
 * (v, n, d) contain f+1 correct replicas that prepared d at n, which is
 * committed(m, v, n) in Castro & Liskov §4.2, so executing d at n is safe
 * without the pre-prepare. This fills the gap between a restored checkpoint
 * and the live log that plain retransmission does not cover (§4.3 leaves
 * "fetching missing messages" to the implementation). */
#include <assert.h>
#include <string.h>

#include "bft/pbft_internal.h"

void pbft_fetch_request(struct bft_core *c, int to)
{
    static const uint8_t kind = 1;
    struct bft_msg m = {.type = BFT_MSG_STATE_REQ, .view = c->view, .seq = c->last_exec + 1};
    m.body = &kind;
    m.body_len = 1;
    if (to < 0)
        c->io.broadcast(c->io.ctx, &m);
    else
        c->io.send(c->io.ctx, (uint32_t)to, &m);
}

void pbft_on_fetch_req(struct bft_core *c, const struct bft_msg *m)
{
    struct pbft_slot *s = pbft_slot_peek(c, m->seq);
    if (!s || !s->executed || !s->has_batch || pbft_popcount(s->proof_mask) < 2 * c->f + 1)
        return; /* nothing to give (collected, or not executed here) */
    if (c->help_budget[m->sender] == 0) {
        c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
        return;
    }
    c->help_budget[m->sender]--;
    c->helped = true;
    pbft_arm_retransmit(c);
    uint8_t body[1 + 8 + 1 + BFT_MAX_REPLICAS * (2 + PBFT_RAW_MAX)];
    struct pbft_wr w = {.p = body, .cap = sizeof body};
    pbft_put(&w, 1, 1);
    pbft_put(&w, c->last_exec, 8);
    pbft_put(&w, pbft_popcount(s->proof_mask), 1);
    for (uint32_t i = 0; i < c->n; i++) {
        if (!(s->proof_mask & (1u << i))) continue;
        struct pbft_raw own;
        const struct pbft_raw *r = &s->commit_raw[i];
        if (i == c->self || r->len == 0) {
            pbft_sign_own(c, BFT_MSG_COMMIT, s->proof_view, s->seq, &s->digest, &own);
            r = &own;
        }
        pbft_put(&w, r->len, 2);
        pbft_put_bytes(&w, r->b, r->len);
    }
    assert(!w.err);
    struct bft_msg out = {.type = BFT_MSG_STATE_RESP, .view = c->view, .seq = s->seq};
    out.digest = s->digest;
    out.body = body;
    out.body_len = (uint32_t)w.len;
    out.payload = s->batch_len ? s->batch : NULL;
    out.payload_len = s->batch_len;
    c->io.send(c->io.ctx, m->sender, &out);
}

void pbft_on_fetch_resp(struct bft_core *c, const struct bft_msg *m)
{
    if (m->seq != c->last_exec + 1) {
        c->io.reject(c->io.ctx, BFT_REJECT_DUPLICATE);
        return;
    }
    if (!pbft_in_window(c, m->seq)) {
        c->io.reject(c->io.ctx, BFT_REJECT_OUT_OF_WINDOW);
        return;
    }
    struct pbft_rd r = {.p = m->body, .len = m->body_len, .off = 1};
    uint64_t their_exec = pbft_get(&r, 8);
    uint32_t k = (uint32_t)pbft_get(&r, 1);
    if (r.err || k < 2 * c->f + 1 || k > c->n) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    struct pbft_raw raws[BFT_MAX_REPLICAS];
    uint32_t mask = 0;
    uint64_t view = 0;
    for (uint32_t i = 0; i < k; i++) {
        uint16_t len = (uint16_t)pbft_get(&r, 2);
        const uint8_t *p = pbft_get_ptr(&r, len);
        struct bft_msg e;
        int why = p ? pbft_embedded_check(c, p, len, BFT_MSG_COMMIT, &e, true)
                    : BFT_REJECT_MALFORMED;
        if (why < 0 && i == 0) view = e.view;
        if (why < 0 && (e.seq != m->seq || e.view != view || !pbft_deq(&e.digest, &m->digest) ||
                        (mask & (1u << e.sender))))
            why = BFT_REJECT_MALFORMED;
        if (why >= 0) {
            c->io.reject(c->io.ctx, why);
            return;
        }
        mask |= 1u << e.sender;
        raws[e.sender].len = len;
        memcpy(raws[e.sender].b, p, len);
    }
    bool null = pbft_is_null(&m->digest);
    bool ok = r.off == r.len && null == (m->payload_len == 0);
    if (ok && !null) {
        struct bft_batch_iter it;
        bft_digest d;
        bft_batch_digest(m->payload, m->payload_len, &d);
        ok = pbft_deq(&d, &m->digest) &&
             bft_batch_iter_init(&it, m->payload, m->payload_len) == BFT_E_OK;
    }
    if (!ok) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    struct pbft_slot *s = pbft_slot_get(c, m->seq);
    if (!pbft_slot_set_batch(s, m->payload, m->payload_len)) return;
    if (s->has_pp && !pbft_deq(&s->digest, &m->digest)) s->has_pp = false;
    s->digest = m->digest;
    s->committed = true;
    s->proof_view = view;
    s->proof_mask = mask;
    for (uint32_t i = 0; i < c->n; i++)
        if (mask & (1u << i)) s->commit_raw[i] = raws[i];
    pbft_try_execute(c);
    if (their_exec > c->last_exec) pbft_fetch_request(c, (int)m->sender);
}
