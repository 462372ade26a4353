/* Block sync. A replica that holds a block whose parent it lacks asks the
 * block's sender for the parent (HS_BLOCK_REQ by digest), then rotates over
 * the other replicas on retry. The answer is HS_BLOCK_RESP: header digest =
 * batch digest, body = the block's fields, payload = the batch; a response
 * is accepted only if the digest computed from it is one we asked for, so
 * a liar can only waste a request. One request may bring several
 * ancestors (newest first). Fetches are bounded (HS_FETCH_MAX outstanding,
 * HS_SYNC_BUDGET blocks served per peer between refills), and a replica
 * that is further behind than the history other replicas keep fetches
 * state instead (hotstuff_state.c). */
#include <string.h>

#include "core/hotstuff/hotstuff_internal.h"

static uint64_t fetch_ms(const struct bft_core *c)
{
    uint64_t ms = c->cfg.request_timeout_ms / 8;
    return ms ? ms : 1;
}

static uint32_t next_peer(const struct bft_core *c, uint32_t p)
{
    p = (p + 1) % c->n;
    if (p == c->self) p = (p + 1) % c->n;
    return p;
}

static void send_req(struct bft_core *c, struct hs_fetch *f)
{
    uint32_t to = f->peer;
    if (to >= c->n || to == c->self) to = next_peer(c, c->self);
    struct bft_msg m = {.type = BFT_MSG_HS_BLOCK_REQ, .view = c->view, .seq = HS_SYNC_BATCH};
    m.digest = f->digest;
    c->io.send(c->io.ctx, to, &m);
    f->peer = next_peer(c, to);
    f->tries++;
}

void hs_note_height(struct bft_core *c, uint64_t height)
{
    if (height > c->root_height + c->history / 2) hs_state_start(c);
}

bool hs_fetch_wanted(const struct bft_core *c, const bft_digest *d)
{
    for (uint32_t i = 0; i < HS_FETCH_MAX; i++)
        if (c->fetch[i].used && hs_deq(&c->fetch[i].digest, d)) return true;
    return false;
}

void hs_fetch_done(struct bft_core *c, const bft_digest *d)
{
    for (uint32_t i = 0; i < HS_FETCH_MAX; i++)
        if (c->fetch[i].used && hs_deq(&c->fetch[i].digest, d)) c->fetch[i].used = false;
}

void hs_fetch_want(struct bft_core *c, const bft_digest *d, uint64_t height, uint32_t from,
                   bool send_now)
{
    if (height <= c->root_height) return; /* committed, or a dead fork */
    if (height > c->root_height + c->history / 2) {
        hs_note_height(c, height); /* beyond others' history: state */
        return;
    }
    if (hs_block_get(c, d) || hs_fetch_wanted(c, d)) return;
    struct hs_fetch *f = NULL;
    for (uint32_t i = 0; i < HS_FETCH_MAX && !f; i++)
        if (!c->fetch[i].used) f = &c->fetch[i];
    if (!f) {
        hs_reject(c, BFT_REJECT_OVERLOAD);
        return;
    }
    f->used = true;
    f->digest = *d;
    f->peer = from;
    f->tries = 0;
    /* A parent learned from a block response is usually already on its
     * way (responses carry ancestors): ask only if the timer finds it
     * still missing. */
    if (send_now) send_req(c, f);
    if (!c->fetch_timer_armed) {
        c->fetch_timer_armed = true;
        c->io.set_timer(c->io.ctx, HS_TIMER_FETCH, fetch_ms(c));
    }
}

/* Is our high QC's block cut off from our root? Then certified blocks exist
 * above us that we cannot reach: we are behind. */
static bool cut_off(struct bft_core *c)
{
    if (c->high_qc.height <= c->root_height || c->st_active) return false;
    const struct hs_block *b = hs_block_get(c, &c->high_qc.block);
    return !b || !b->connected;
}

/* Pick block sync up again toward the high QC. A fetch gives up after a
 * few rounds and only a later proposal would ask again; after a state
 * restore, or in a cluster gone idle, no proposal comes, and a replica
 * left behind would stay behind for good. Called after a restore and by
 * the fetch timer, which keeps running (at the base timeout) while the
 * high QC stays cut off. */
void hs_sync_resume(struct bft_core *c)
{
    if (!cut_off(c)) return;
    if (c->high_qc.height > c->root_height + c->history / 2) {
        hs_state_start(c); /* beyond the history others keep */
        return;
    }
    uint32_t peer = next_peer(c, c->resume_peer);
    c->resume_peer = peer;
    struct hs_block *b = hs_block_get(c, &c->high_qc.block);
    if (b)
        hs_block_arrived(c, b, peer, true); /* fetches its missing ancestor */
    else
        hs_fetch_want(c, &c->high_qc.block, c->high_qc.height, peer, true);
    if (!c->fetch_timer_armed) {
        c->fetch_timer_armed = true;
        c->io.set_timer(c->io.ctx, HS_TIMER_FETCH, c->cfg.request_timeout_ms);
    }
}

void hs_on_fetch_timer(struct bft_core *c)
{
    c->fetch_timer_armed = false;
    bool any = false;
    for (uint32_t i = 0; i < HS_FETCH_MAX; i++) {
        struct hs_fetch *f = &c->fetch[i];
        if (!f->used) continue;
        /* Give up after asking everyone a few times; a later proposal
         * that still needs the block asks again. */
        if (hs_block_get(c, &f->digest) || f->tries >= 3 * c->n) {
            f->used = false;
            continue;
        }
        send_req(c, f);
        any = true;
    }
    if (any) {
        c->fetch_timer_armed = true;
        c->io.set_timer(c->io.ctx, HS_TIMER_FETCH, fetch_ms(c));
    } else {
        hs_sync_resume(c);
    }
}

static void send_block(struct bft_core *c, uint32_t to, const struct hs_block *b)
{
    uint8_t *body = hs_body(c, HS_PROPOSAL_BODY_MAX);
    if (!body) return; /* out of memory: as if lost; the asker retries */
    struct wire_wr w;
    wire_wr_init(&w, body, c->body.cap);
    wire_put_bytes(&w, b->parent.b, 32);
    hs_qc_write(&w, &b->justify);
    wire_put_u8(&w, 0);
    if (w.err) return;
    struct bft_msg m = {.type = BFT_MSG_HS_BLOCK_RESP,
                        .view = b->view,
                        .seq = b->height,
                        .digest = b->batch_digest,
                        .body = body,
                        .body_len = (uint32_t)w.len,
                        .payload = b->batch_len ? b->batch : NULL,
                        .payload_len = b->batch_len};
    c->io.send(c->io.ctx, to, &m);
}

void hs_on_block_req(struct bft_core *c, const struct bft_msg *m)
{
    if (m->body_len != 0 || m->payload_len != 0 || m->seq == 0) {
        hs_reject(c, BFT_REJECT_MALFORMED);
        return;
    }
    uint64_t want = m->seq < HS_SYNC_BATCH ? m->seq : HS_SYNC_BATCH;
    const struct hs_block *b = hs_block_get(c, &m->digest);
    for (uint64_t i = 0; b && i < want; i++) {
        if (c->sync_budget[m->sender] == 0) {
            hs_reject(c, BFT_REJECT_OVERLOAD);
            return;
        }
        c->sync_budget[m->sender]--;
        send_block(c, m->sender, b);
        b = b->height > 1 ? hs_block_get(c, &b->parent) : NULL;
    }
}

static bool fetching(const struct bft_core *c)
{
    for (uint32_t i = 0; i < HS_FETCH_MAX; i++)
        if (c->fetch[i].used) return true;
    return false;
}

/* Is a stored trusted block's parent this one? Then it is trusted too. */
static bool named_by_child(struct bft_core *c, const bft_digest *d)
{
    for (int32_t i = 0; i < (int32_t)c->blocks_hwm; i++) {
        const struct hs_block *k = hs_blk(c, i);
        if (k->used && !k->spec && hs_deq(&k->parent, d)) return true;
    }
    return false;
}

void hs_on_block_resp(struct bft_core *c, const struct bft_msg *m)
{
    struct hs_wire_block w;
    int why = hs_block_parse(c, m, false, true, &w);
    bool wanted = why < 0 && hs_fetch_wanted(c, &w.digest);
    if (why < 0 && !wanted) {
        /* Not asked for by digest: an ancestor riding along with the one
         * we asked for (they may arrive in any order). Taken only while we
         * fetch, within the window a fetch may cover. */
        if (hs_block_get(c, &w.digest))
            why = BFT_REJECT_DUPLICATE;
        else if (!fetching(c) || w.height <= c->root_height ||
                 w.height > c->root_height + c->history / 2)
            why = BFT_REJECT_OUT_OF_WINDOW;
    }
    if (why < 0) why = hs_qc_verify(c, &w.justify);
    if (why >= 0) {
        hs_reject(c, why);
        return;
    }
    struct hs_block *b = hs_block_insert(c, &w, m->sender);
    if (!b) {
        hs_reject(c, BFT_REJECT_OVERLOAD);
        return;
    }
    if (!wanted && !named_by_child(c, &w.digest)) {
        b->spec = true;
        return;
    }
    hs_block_arrived(c, b, m->sender, false);
}
