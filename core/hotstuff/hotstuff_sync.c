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
    struct hs_block_req q = {.want = f->digest, .count = HS_SYNC_BATCH};
    struct bft_msg m;
    hs_block_req_encode(&q, c->view, &m);
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
        if (c->sync.fetch[i].used && hs_deq(&c->sync.fetch[i].digest, d)) return true;
    return false;
}

void hs_fetch_done(struct bft_core *c, const bft_digest *d)
{
    for (uint32_t i = 0; i < HS_FETCH_MAX; i++)
        if (c->sync.fetch[i].used && hs_deq(&c->sync.fetch[i].digest, d))
            c->sync.fetch[i].used = false;
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
        if (!c->sync.fetch[i].used) f = &c->sync.fetch[i];
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
    bft_timeout_start(&c->sync.timer, &c->io, fetch_ms(c));
}

/* Is our high QC's block cut off from our root? Then certified blocks exist
 * above us that we cannot reach: we are behind. */
static bool cut_off(struct bft_core *c)
{
    if (c->high_qc.height <= c->root_height || c->st.active) return false;
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
    uint32_t peer = next_peer(c, c->sync.resume_peer);
    c->sync.resume_peer = peer;
    struct hs_block *b = hs_block_get(c, &c->high_qc.block);
    if (b)
        hs_block_arrived(c, b, peer, true); /* fetches its missing ancestor */
    else
        hs_fetch_want(c, &c->high_qc.block, c->high_qc.height, peer, true);
    bft_timeout_start(&c->sync.timer, &c->io, c->cfg.request_timeout_ms);
}

void hs_on_fetch_timer(struct bft_core *c)
{
    bft_timeout_fired(&c->sync.timer);
    bool any = false;
    for (uint32_t i = 0; i < HS_FETCH_MAX; i++) {
        struct hs_fetch *f = &c->sync.fetch[i];
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
        bft_timeout_restart(&c->sync.timer, &c->io, fetch_ms(c));
    } else {
        hs_sync_resume(c);
    }
}

static void send_block(struct bft_core *c, uint32_t to, const struct hs_block *b)
{
    uint8_t *body = hs_body(c, HS_PROPOSAL_BODY_MAX);
    if (!body) return; /* out of memory: as if lost; the asker retries */
    struct hs_wire_block w;
    hs_wire_block_of(b, &w);
    struct bft_msg m;
    if (!hs_block_encode(&w, BFT_MSG_HS_BLOCK_RESP, body, c->body.cap, &m)) return;
    c->io.send(c->io.ctx, to, &m);
}

void hs_on_block_req(struct bft_core *c, uint32_t from, const struct hs_block_req *q)
{
    uint64_t want = q->count < HS_SYNC_BATCH ? q->count : HS_SYNC_BATCH;
    const struct hs_block *b = hs_block_get(c, &q->want);
    for (uint64_t i = 0; b && i < want; i++) {
        if (c->sync.budget[from] == 0) {
            hs_reject(c, BFT_REJECT_OVERLOAD);
            return;
        }
        c->sync.budget[from]--;
        send_block(c, from, b);
        b = b->height > 1 ? hs_block_get(c, &b->parent) : NULL;
    }
}

static bool fetching(const struct bft_core *c)
{
    for (uint32_t i = 0; i < HS_FETCH_MAX; i++)
        if (c->sync.fetch[i].used) return true;
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

/* Why a decoded block response is refused, BFT_REJECT_NONE if it is
 * taken; *wanted: we asked for it by digest. */
static int block_resp_check(struct bft_core *c, const struct hs_wire_block *w, bool *wanted)
{
    /* Block responses do not pass the node's batch checks: do them. */
    int why = hs_block_check_batch(c, w);
    if (why != BFT_REJECT_NONE) return why;
    *wanted = hs_fetch_wanted(c, &w->digest);
    if (!*wanted) {
        /* Not asked for by digest: an ancestor riding along with the one
         * we asked for (they may arrive in any order). Taken only while we
         * fetch, within the window a fetch may cover. */
        if (hs_block_get(c, &w->digest)) return BFT_REJECT_DUPLICATE;
        if (!fetching(c) || w->height <= c->root_height ||
            w->height > c->root_height + c->history / 2)
            return BFT_REJECT_OUT_OF_WINDOW;
    }
    return hs_qc_verify(c, &w->justify);
}

void hs_on_block_resp(struct bft_core *c, uint32_t from, const struct hs_wire_block *w)
{
    bool wanted = false;
    int why = block_resp_check(c, w, &wanted);
    if (why != BFT_REJECT_NONE) {
        hs_reject(c, why);
        return;
    }
    struct hs_block *b = hs_block_insert(c, w, from);
    if (!b) {
        hs_reject(c, BFT_REJECT_OVERLOAD); /* the store is full of live blocks */
        return;
    }
    if (!wanted && !named_by_child(c, &w->digest)) {
        b->spec = true;
        return;
    }
    hs_block_arrived(c, b, from, false);
}
