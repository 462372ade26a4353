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

#include "core/pbft/pbft_internal.h"

void pbft_fetch_request(struct bft_core *c, int to, uint16_t count)
{
    PTRACE(c, "fetch %llu+%u from %d", (unsigned long long)c->last_exec + 1, count, to);
    uint8_t body[PBFT_FETCH_REQ_LEN];
    pbft_fetch_req_encode(count, body);
    struct bft_msg m = {.type = BFT_MSG_FETCH_REQ, .view = c->view, .seq = c->last_exec + 1};
    m.body = body;
    m.body_len = sizeof body;
    /* The end of the range asked for last: once executed, the next range is
     * asked for (a stale higher mark would stall a catch-up to one entry
     * per probe). */
    c->fetch_hi = c->last_exec + count;
    if (to < 0)
        c->io.broadcast(c->io.ctx, &m);
    else
        c->io.send(c->io.ctx, (uint32_t)to, &m);
}

/* A replica that missed the last messages of a burst and then sees no
 * traffic has nothing to retransmit and no later message to notice its gap
 * with, so it would stay behind until the next request. Castro's library
 * sends periodic status messages for this (Castro, PhD thesis, MIT 2001,
 * §5.2); ours is a one-entry fetch to one peer in turn, sent only when
 * nothing executed for a whole status period. A peer with nothing newer
 * answers nothing. */
void pbft_on_status_timer(struct bft_core *c)
{
    bft_timeout_fired(&c->status);
    bool idle = c->last_exec == c->status_exec;
    c->status_exec = c->last_exec;
    if (idle && !c->in_vc && c->n > 1) {
        c->status_peer = (c->status_peer + 1) % c->n;
        if (c->status_peer == c->self) c->status_peer = (c->status_peer + 1) % c->n;
        pbft_fetch_request(c, (int)c->status_peer, 1);
    }
    pbft_arm_status(c);
}

static bool spend_budget(struct bft_core *c, uint32_t to)
{
    if (c->help_budget[to] == 0) {
        c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
        return false;
    }
    c->help_budget[to]--;
    c->helped = true;
    pbft_arm_retransmit(c);
    return true;
}

/* The entry was collected here: tell the asker about our stable checkpoint
 * (with its 2f+1 proof) so it fetches state instead. CHECKPOINT messages
 * are never retransmitted, so a replica that lost them learns it here. */
void pbft_send_checkpoint_proof(struct bft_core *c, uint32_t to)
{
    uint8_t body[2 + BFT_MAX_REPLICAS * (2 + PBFT_RAW_MAX)];
    struct wire_wr w = {.buf = body, .cap = sizeof body};
    pbft_ckpt_proof_put_head(&w, pbft_popcount(c->h_proof_mask));
    for (uint32_t i = 0; i < c->n; i++)
        if (c->h_proof_mask & (1u << i)) pbft_emb_put(&w, c->h_proof[i].b, c->h_proof[i].len);
    assert(!w.err);
    struct bft_msg out = {.type = BFT_MSG_FETCH_RESP, .view = c->view, .seq = c->h};
    out.digest = c->h_digest;
    out.body = body;
    out.body_len = (uint32_t)w.len;
    c->io.send(c->io.ctx, to, &out);
}

/* One committed entry with the 2f+1 COMMITs that prove it. */
static void send_entry(struct bft_core *c, uint32_t to, const struct pbft_slot *s)
{
    uint8_t body[1 + 8 + 1 + BFT_MAX_REPLICAS * (2 + PBFT_RAW_MAX)];
    struct wire_wr w = {.buf = body, .cap = sizeof body};
    pbft_entry_put_head(&w, c->last_exec, pbft_popcount(s->proof_mask));
    for (uint32_t i = 0; i < c->n; i++) {
        if (!(s->proof_mask & (1u << i))) continue;
        struct pbft_raw own;
        const struct pbft_raw *r = &s->commit_raw[i];
        if (i == c->self || r->len == 0) {
            pbft_sign_own(c, BFT_MSG_COMMIT, s->proof_view, s->seq, &s->digest, &own);
            r = &own;
        }
        pbft_emb_put(&w, r->b, r->len);
    }
    assert(!w.err);
    struct bft_msg out = {.type = BFT_MSG_FETCH_RESP, .view = c->view, .seq = s->seq};
    out.digest = s->digest;
    out.body = body;
    out.body_len = (uint32_t)w.len;
    out.payload = s->batch_len ? s->batch : NULL;
    out.payload_len = s->batch_len;
    c->io.send(c->io.ctx, to, &out);
}

void pbft_on_fetch_req(struct bft_core *c, const struct bft_msg *m)
{
    uint16_t asked;
    if (pbft_fetch_req_decode(m, &asked) != BFT_REJECT_NONE) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    /* Below our h only from the log kept since our served snapshot
     * (pbft_kept.c); otherwise the asker needs state: our checkpoint. */
    if (m->seq <= c->h && !pbft_kept_get(c, m->seq)) {
        PTRACE(c, "fetch %llu from %u: below h, not kept", (unsigned long long)m->seq, m->sender);
        if (pbft_popcount(c->h_proof_mask) >= 2 * c->f + 1 && spend_budget(c, m->sender))
            pbft_send_checkpoint_proof(c, m->sender);
        return;
    }
    uint32_t count = asked;
    if (count > PBFT_FETCH_RANGE) count = PBFT_FETCH_RANGE;
    for (uint64_t seq = m->seq; seq - m->seq < count; seq++) {
        if (seq <= c->h) {
            const struct pbft_kept_entry *e = pbft_kept_get(c, seq);
            if (!e || !spend_budget(c, m->sender)) return;
            pbft_kept_send(c, m->sender, e);
            continue;
        }
        const struct pbft_slot *s = pbft_slot_peek(c, seq);
        if (!s || !s->executed || !s->has_batch || pbft_popcount(s->proof_mask) < 2 * c->f + 1)
            return; /* nothing (more) to give */
        if (!spend_budget(c, m->sender)) return;
        send_entry(c, m->sender, s);
    }
}

/* committed(m, v, n) (§4.2): 2f+1 COMMITs of one view for (seq, digest)
 * from distinct replicas; copies them into raws by sender. */
static enum bft_reject check_commits(struct bft_core *c, const struct bft_msg *m,
                                     const struct pbft_emb_list *l, struct pbft_raw *raws,
                                     uint32_t *mask, uint64_t *view)
{
    for (uint32_t i = 0; i < l->count; i++) {
        const struct bft_msg *e = &l->m[i];
        enum bft_reject why = pbft_emb_check(c, e, true);
        if (why != BFT_REJECT_NONE) return why;
        if (i == 0) *view = e->view;
        if (e->seq != m->seq || e->view != *view || !pbft_deq(&e->digest, &m->digest) ||
            (*mask & (1u << e->sender)))
            return BFT_REJECT_MALFORMED;
        *mask |= 1u << e->sender;
        raws[e->sender].len = (uint16_t)e->raw_len;
        memcpy(raws[e->sender].b, e->raw, e->raw_len);
    }
    return BFT_REJECT_NONE;
}

/* The payload is the batch the digest names (empty for a null request). */
static bool entry_batch_ok(const struct bft_msg *m)
{
    bool null = pbft_is_null(&m->digest);
    if (null != (m->payload_len == 0)) return false;
    if (null) return true;
    struct bft_batch_iter it;
    bft_digest d;
    bft_batch_digest(m->payload, m->payload_len, &d);
    return pbft_deq(&d, &m->digest) &&
           bft_batch_iter_init(&it, m->payload, m->payload_len) == BFT_E_OK;
}

void pbft_on_fetch_resp(struct bft_core *c, const struct bft_msg *m)
{
    struct pbft_slot *have = pbft_slot_peek(c, m->seq);
    if (m->seq <= c->last_exec || (have && have->committed)) {
        c->io.reject(c->io.ctx, BFT_REJECT_DUPLICATE);
        return;
    }
    /* At or below h: we restored a snapshot older than our stable
     * checkpoint and replay the others' kept log, in order (pbft_kept.c). */
    bool below = m->seq <= c->h;
    if (below ? m->seq - c->last_exec > PBFT_FETCH_RANGE : !pbft_in_window(c, m->seq)) {
        PTRACE(c, "fetched %llu from %u out of order", (unsigned long long)m->seq, m->sender);
        c->io.reject(c->io.ctx, BFT_REJECT_OUT_OF_WINDOW);
        return;
    }
    struct pbft_limits lim = pbft_limits_of(c);
    struct pbft_entry_wire ew;
    if (pbft_entry_decode(m, &lim, &ew) != BFT_REJECT_NONE) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    uint64_t their_exec = ew.their_exec, view = 0;
    struct pbft_raw raws[BFT_MAX_REPLICAS];
    uint32_t mask = 0;
    enum bft_reject why = check_commits(c, m, &ew.commits, raws, &mask, &view);
    if (why == BFT_REJECT_NONE && !entry_batch_ok(m)) why = BFT_REJECT_MALFORMED;
    if (why != BFT_REJECT_NONE) {
        c->io.reject(c->io.ctx, why);
        return;
    }
    if (below) {
        pbft_kept_fetched(c, m->seq, view, &m->digest, mask, raws, m->payload, m->payload_len);
        if (their_exec > c->last_exec && c->last_exec >= c->fetch_hi)
            pbft_fetch_request(c, (int)m->sender, PBFT_FETCH_RANGE);
        return;
    }
    struct pbft_slot *s = pbft_slot_get(c, m->seq);
    if (!s) return; /* short memory: as if the entry never came */
    if (s->has_batch && !pbft_deq(&s->digest, &m->digest))
        pbft_batch_mark(c, s->batch, s->batch_len, m->seq, PBFT_BATCH_LOST);
    if (!pbft_slot_set_batch(s, m->payload, m->payload_len)) return;
    if (s->has_pp && !pbft_deq(&s->digest, &m->digest)) s->has_pp = false;
    s->digest = m->digest;
    s->committed = true;
    s->proof_view = view;
    s->proof_mask = mask;
    for (uint32_t i = 0; i < c->n; i++)
        if (mask & (1u << i)) s->commit_raw[i] = raws[i];
    pbft_try_execute(c);
    /* Ask for the next range once we executed what we asked for. */
    if (their_exec > c->last_exec && c->last_exec >= c->fetch_hi)
        pbft_fetch_request(c, (int)m->sender, PBFT_FETCH_RANGE);
}

void pbft_on_fetch_ckpt(struct bft_core *c, const struct bft_msg *m)
{
    if (m->seq <= c->h || m->seq % c->K != 0) {
        c->io.reject(c->io.ctx, BFT_REJECT_DUPLICATE);
        return;
    }
    struct pbft_limits lim = pbft_limits_of(c);
    struct pbft_emb_list l;
    struct pbft_raw proof[BFT_MAX_REPLICAS];
    uint32_t mask = 0;
    enum bft_reject why = pbft_ckpt_proof_decode(m, &lim, &l);
    if (why == BFT_REJECT_NONE)
        why = pbft_ckpt_proof_check(c, m->seq, &m->digest, &l, proof, &mask);
    if (why == BFT_REJECT_NONE && pbft_popcount(mask) < 2 * c->f + 1) why = BFT_REJECT_MALFORMED;
    if (why != BFT_REJECT_NONE) {
        c->io.reject(c->io.ctx, why);
        return;
    }
    if (m->seq <= c->last_exec)
        pbft_make_stable(c, m->seq, &m->digest, proof, mask, true); /* we lost the votes */
    else
        pbft_state_note(c, m->seq, &m->digest, proof, mask, true);
}

void pbft_on_fetch_resp_msg(struct bft_core *c, const struct bft_msg *m)
{
    switch (pbft_resp_kind(m)) {
    case PBFT_FRESP_ENTRY:
        pbft_on_fetch_resp(c, m);
        return;
    case PBFT_FRESP_CKPT:
        pbft_on_fetch_ckpt(c, m);
        return;
    default:
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
}
