/* Chained HotStuff: proposals, the voting rule, the 2-chain lock and the
 * 3-chain commit (PODC'19 §5, Algorithm 3, with safeNode from §4.2).
 *
 *   update(b*): b'' = b*.justify.node, b' = b''.justify.node,
 *               b = b'.justify.node
 *     qc_high  <- b*.justify if higher                     (pre-commit b'')
 *     b_lock   <- b' if b''.justify is from a higher view   (commit b')
 *     if b''.parent = b' and b'.parent = b, with consecutive views,
 *        commit b and its uncommitted ancestors             (decide b)
 *   vote for b* only if b*.view > vheight (the last voted view) and
 *   safeNode(b*): b* extends b_lock, or b*.justify.view > b_lock's view.
 *
 * Parents are always the justify node here (createLeaf(qc_high.node)), so
 * "direct parent" holds by construction and the commit rule reduces to
 * consecutive views; a chain with a gap does not commit.
 */
#include <assert.h>
#include <string.h>

#include "core/hotstuff/hotstuff_internal.h"

int hs_block_check_batch(const struct bft_core *c, const struct hs_wire_block *w)
{
    if (w->batch_len == 0) return BFT_REJECT_NONE; /* the decoder checked its zero digest */
    return bft_batch_verify(&c->env, c->cfg.n_clients, w->batch, w->batch_len, &w->batch_digest);
}

/* ---- catching up on certificates ---- */

void hs_on_qc(struct bft_core *c, const struct hs_qc *q)
{
    if (q->view > c->high_qc.view) c->high_qc = *q;
    hs_note_height(c, q->height);
    /* 2f+1 replicas voted in q.view: that view is over (catch-up). */
    if (q->view + 1 > c->view) hs_advance_view(c, q->view + 1, false);
    hs_try_propose(c);
}

/* ---- proposals ---- */

static int seen_check(struct bft_core *c, uint64_t view, const bft_digest *d)
{
    for (uint32_t i = 0; i < HS_SEEN_MAX; i++)
        if (c->seen[i].view == view)
            return hs_deq(&c->seen[i].digest, d) ? BFT_REJECT_DUPLICATE : BFT_REJECT_EQUIVOCATION;
    return BFT_REJECT_NONE;
}

static void seen_add(struct bft_core *c, uint64_t view, const bft_digest *d)
{
    uint32_t lo = 0;
    for (uint32_t i = 1; i < HS_SEEN_MAX; i++)
        if (c->seen[i].view < c->seen[lo].view) lo = i;
    if (c->seen[lo].view >= view) return;
    c->seen[lo].view = view;
    c->seen[lo].digest = *d;
}

/* A trusted block entered the store. Its stored ancestors are trusted
 * too (each names the next by digest), so walk down to the deepest one not
 * yet connected, connect from there (which reaches b), and if the chain
 * still does not reach the root, fetch the missing parent (block sync). */
void hs_block_arrived(struct bft_core *c, struct hs_block *b, uint32_t from, bool send_now)
{
    bft_digest d = b->digest;
    hs_fetch_done(c, &d);
    struct hs_block *x = b;
    for (uint32_t steps = 0; steps < HS_BLOCKS_MAX; steps++) {
        struct hs_block *p = hs_block_get(c, &x->parent);
        if (!p || p->connected) break;
        if (p->spec) {
            p->spec = false;
            hs_fetch_done(c, &p->digest);
        }
        x = p;
    }
    bft_digest missing = x->parent;
    uint64_t missing_height = x->height - 1;
    hs_block_try_connect(c, x);
    b = hs_block_get(c, &d);
    if (b && !b->connected && missing_height > c->root_height && !hs_block_get(c, &missing))
        hs_fetch_want(c, &missing, missing_height, from, send_now);
}

/* The leader retransmits when its QC did not form: our vote may have been
 * lost. Send it again (the collector counts it once). */
static void resend_vote(struct bft_core *c, const struct hs_wire_block *w)
{
    if (!c->my_vote.valid || c->my_vote.view != w->view || !hs_deq(&c->my_vote.block, &w->digest) ||
        hs_leader(c, w->view + 1) == c->self)
        return;
    struct hs_vote_msg v = {.view = w->view, .height = w->height, .block = w->digest};
    struct bft_msg m;
    hs_vote_encode(&v, &m);
    c->io.send(c->io.ctx, hs_leader(c, w->view + 1), &m);
}

/* A proposal for view v is justified by QC(v-1), or by a TC whose view
 * leads to v (the last window's) with a justify at least as high as every
 * QC the TC's signers reported (DiemBFT's "qc.round >= max high_qc round
 * in the TC"). */
static int check_justify(struct bft_core *c, const struct hs_wire_block *w)
{
    int why = hs_qc_verify(c, &w->justify);
    if (why != BFT_REJECT_NONE) return why;
    if (!w->has_tc) return w->justify.view + 1 == w->view ? BFT_REJECT_NONE : BFT_REJECT_MALFORMED;
    if (hs_view_after_tc(c, w->tc.view) != w->view) return BFT_REJECT_MALFORMED;
    why = hs_tc_verify(c, &w->tc);
    if (why != BFT_REJECT_NONE) return why;
    return w->justify.view < hs_tc_max_hqc(&w->tc) ? BFT_REJECT_MALFORMED : BFT_REJECT_NONE;
}

void hs_on_proposal(struct bft_core *c, uint32_t from, const struct hs_wire_block *w)
{
    /* Only the leader of a view proposes in it (hs_leader: leader windows). */
    if (hs_leader(c, w->view) != from) {
        hs_reject(c, BFT_REJECT_MALFORMED);
        return;
    }
    int why = seen_check(c, w->view, &w->digest);
    if (why == BFT_REJECT_DUPLICATE) resend_vote(c, w);
    if (why == BFT_REJECT_NONE) why = check_justify(c, w);
    if (why != BFT_REJECT_NONE) {
        hs_reject(c, why);
        return;
    }
    seen_add(c, w->view, &w->digest);
    if (w->has_tc) hs_on_tc(c, &w->tc);
    hs_on_qc(c, &w->justify);
    hs_monitor_on_proposal(c, w);
    /* A recent past view's block is kept (no vote) as a likely ancestor of
     * the next proposal; anything older is stale. */
    if (w->height <= c->root_height || (w->view + 2 < c->view && !hs_fetch_wanted(c, &w->digest))) {
        hs_reject(c, BFT_REJECT_STALE_VIEW);
        return;
    }
    struct hs_block *b = hs_block_insert(c, w, from);
    if (!b) {
        hs_reject(c, BFT_REJECT_OVERLOAD); /* the store is full of live blocks */
        return;
    }
    if (w->view == c->view) b->proposal = true;
    hs_block_arrived(c, b, from, true);
}

/* ---- update, vote, commit ---- */

/* safeNode (§4.2, Algorithm 3): extends the locked block, or carries a QC
 * newer than the lock (the liveness rule). */
static bool safe_node(struct bft_core *c, const struct hs_block *b)
{
    if (b->justify.view > c->locked_qc.view || c->locked_qc.view == 0) return true;
    return hs_extends(c, b, &c->locked_qc.block, c->locked_qc.height);
}

static void vote(struct bft_core *c, const struct hs_block *b)
{
    uint64_t view = b->view, height = b->height;
    bft_digest d = b->digest;
    /* The block, vheight and the vote are durable before the vote leaves
     * (the node flushes this step's persists before its sends). If the
     * block's record cannot be built (out of memory) we do not vote at
     * all: withholding a vote is always safe. */
    if (!hs_persist_block(c, b)) return;
    c->last_voted_view = view;
    c->my_vote.valid = true;
    c->my_vote.view = view;
    c->my_vote.height = height;
    hs_note_vote_height(c, height);
    c->my_vote.block = d;
    hs_persist_vote(c, view, height, &d);
    /* Algorithm 3: send the vote to leader(curView + 1) and move on. */
    hs_advance_view(c, view + 1, false);
    uint32_t next = hs_leader(c, view + 1);
    if (next == c->self) {
        uint8_t region[BFT_HDR_LEN - BFT_SIGNED_OFF], sig[BFT_SIG_LEN];
        hs_vote_region(c, c->self, view, height, &d, region);
        c->env.sign(c->env.ctx, BFT_MSG_HS_VOTE, region, sizeof region, sig);
        hs_vote_add(c, c->self, view, height, &d, sig);
        return;
    }
    struct bft_msg v = {.type = BFT_MSG_HS_VOTE, .view = view, .seq = height, .digest = d};
    c->io.send(c->io.ctx, next, &v);
}

void hs_on_connected(struct bft_core *c, struct hs_block *b)
{
    bft_digest d = b->digest;
    hs_on_qc(c, &b->justify);
    b = hs_block_get(c, &d);
    if (!b) return;
    struct hs_block *b2 = hs_block_get(c, &b->justify.block); /* b'' */
    if (b2) {
        /* Lock on the 2-chain b'' <- b': b_lock <- b''.justify. */
        if (b2->justify.view > c->locked_qc.view) {
            c->locked_qc = b2->justify;
            hs_persist_lock(c);
        }
        struct hs_block *b1 = hs_block_get(c, &b2->justify.block);             /* b' */
        struct hs_block *b0 = b1 ? hs_block_get(c, &b1->justify.block) : NULL; /* b */
        if (b1 && b0 && hs_deq(&b2->parent, &b1->digest) && hs_deq(&b1->parent, &b0->digest) &&
            b2->view == b1->view + 1 && b1->view == b0->view + 1)
            hs_commit(c, b0);
    }
    b = hs_block_get(c, &d);
    if (!b || !b->proposal) return;
    if (b->view != c->view || b->view <= c->last_voted_view || c->pm.timed_out) return;
    if (!safe_node(c, b)) return;
    vote(c, b);
}

void hs_commit(struct bft_core *c, struct hs_block *b)
{
    if (b->height <= c->root_height || c->st.exec_blocked) return;
    /* Collect b and its uncommitted ancestors down to the root, then
     * execute them oldest first: seq = height, so seqs are consecutive. */
    int32_t chain[HS_BLOCKS_MAX];
    uint32_t n = 0;
    struct hs_block *x = b;
    while (x && x->height > c->root_height && n < HS_BLOCKS_MAX) {
        chain[n++] = x->idx;
        if (x->height == c->root_height + 1) break;
        x = hs_block_get(c, &x->parent);
    }
    if (!x || x->height != c->root_height + 1 || !hs_deq(&x->parent, &c->root)) return;
    for (uint32_t i = n; i-- > 0;) {
        struct hs_block *k = hs_blk(c, chain[i]);
        /* Logged so a restart re-executes locally instead of depending on
         * others still holding the state. A block whose record cannot be
         * built (out of memory) is not executed yet: it and the rest of
         * the chain stay above the root for the next commit. */
        if (!hs_persist_commit(c, k)) break;
        hs_execute_block(c, k);
    }
    /* Progress: the pacemaker's backoff starts over. */
    c->pm.backoff = 0;
    c->gc_tick++;
    for (uint32_t i = 0; i < c->n; i++)
        c->sync.budget[i] = HS_SYNC_BUDGET;
}

void hs_execute_block(struct bft_core *c, struct hs_block *b)
{
    assert(b->height == c->root_height + 1 && hs_deq(&b->parent, &c->root));
    bft_digest state = {{0}};
    c->io.execute(c->io.ctx, b->height, b->view, b->batch_len ? b->batch : NULL, b->batch_len,
                  &b->batch_digest, &state);
    b->committed = true;
    c->root = b->digest;
    c->root_height = b->height;
    c->root_view = b->view;
    hs_pending_remove_batch(&c->pend, b->batch, b->batch_len);
    hs_state_executed(c, b->height, &b->digest, &state);
}

/* ---- leader ---- */

/* Our proposal b (from the store) to everyone; a block whose justify is
 * not from the view before carries the TC that let us into its view. */
static bool broadcast_proposal(struct bft_core *c, const struct hs_block *b)
{
    bool has_tc = b->justify.view + 1 != b->view;
    if (has_tc && hs_view_after_tc(c, c->high_tc.view) != b->view) return false;
    uint8_t *body = hs_body(c, HS_PROPOSAL_BODY_MAX);
    if (!body) return false; /* out of memory: as if lost; resent by the timer */
    struct hs_wire_block w;
    hs_wire_block_of(b, &w);
    w.has_tc = has_tc;
    if (has_tc) w.tc = c->high_tc;
    struct bft_msg m;
    bool ok = hs_block_encode(&w, BFT_MSG_HS_PROPOSAL, body, c->body.cap, &m);
    assert(ok); /* the scratch holds HS_PROPOSAL_BODY_MAX: a bug otherwise */
    (void)ok;
    c->io.broadcast(c->io.ctx, &m);
    return true;
}

/* The k-th retransmission of a proposal waits T/20 << k after the one
 * before (T with the pacemaker's backoff): at 0.05, 0.15 and 0.35 T. */
static uint64_t resend_ms(const struct bft_core *c, uint32_t k)
{
    uint64_t ms = (hs_timeout_ms(c) / 20) << k;
    return ms ? ms : 1;
}

/* Retransmit our last proposal while its QC has not formed, up to
 * HS_RESEND_MAX times: one lost proposal (a full send queue, a
 * reconnecting peer, a lossy link) at a replica whose vote the quorum
 * needs would otherwise cost a whole view timeout. Replicas that already
 * voted answer the copy by resending their vote (hs_on_proposal), which
 * covers a lost vote too. PBFT's primary retransmits until it knows a
 * message arrived (Castro-Liskov TOCS'02 §5.2). The first copy goes
 * after T/20, one tick of the leader monitor (hotstuff_monitor.c), whose
 * windows are two ticks: a message lost once then costs a fraction of a
 * window, and two windows over the bar are a leader that does not
 * answer, not a lossy link (docs/hotstuff.md "Proposal retransmission"). */
void hs_on_resend_timer(struct bft_core *c)
{
    if (c->resend.view == 0 || c->resend.sent >= HS_RESEND_MAX) return;
    if (c->high_qc.view >= c->resend.view || c->view > c->resend.view + 1) return;
    const struct hs_block *b = hs_block_get(c, &c->resend.block);
    if (!b || b->view != c->resend.view) return;
    c->resend.sent++;
    if (c->resend.sent < HS_RESEND_MAX)
        c->io.set_timer(c->io.ctx, HS_TIMER_RESEND, resend_ms(c, c->resend.sent));
    broadcast_proposal(c, b);
}

void hs_try_propose(struct bft_core *c)
{
    if (hs_leader(c, c->view) != c->self) return;
    if (c->proposed_view >= c->view || c->last_voted_view >= c->view) return;
    bool by_qc = c->high_qc.view + 1 == c->view;
    bool by_tc = c->high_tc.view != 0 && hs_view_after_tc(c, c->high_tc.view) == c->view;
    if (!by_qc && !by_tc) return;
    if (!by_qc && c->high_qc.view < hs_tc_max_hqc(&c->high_tc)) return; /* wait for that QC */
    /* Requests already in an uncommitted ancestor are not proposed again. */
    c->pend.gen++;
    bool inflight = false;
    const struct hs_block *x = hs_block_get(c, &c->high_qc.block);
    uint64_t h = c->high_qc.height;
    for (uint32_t s = 0; h > c->root_height && s < HS_BLOCKS_MAX; s++) {
        if (!x) {
            inflight = true; /* unknown ancestors: assume work */
            break;
        }
        if (x->batch_len) {
            inflight = true;
            hs_pending_mark_batch(&c->pend, x->batch, x->batch_len);
        }
        h = x->height - 1;
        x = hs_block_get(c, &x->parent);
    }
    uint32_t len;
    /* Out of memory for the batch: no proposal now (as a slow leader);
     * the next request, QC or TC tries again. */
    if (hs_pending_build(&c->pend, c->cfg.batch_max, &c->batch, &len) != BFT_E_OK) return;
    /* Propose promptly, even empty, while uncommitted blocks need three
     * more to commit; otherwise idle until a request or a TC. */
    if (len == 0 && !inflight && !by_tc) return;
    struct hs_wire_block w = {.view = c->view, .height = c->high_qc.height + 1};
    w.parent = c->high_qc.block;
    w.justify = c->high_qc;
    w.batch = len ? c->batch.p : NULL;
    w.batch_len = len;
    if (len) bft_batch_digest(c->batch.p, len, &w.batch_digest);
    w.has_tc = !by_qc;
    hs_block_digest(w.view, w.height, &w.parent, &w.batch_digest, &w.justify, &w.digest);
    struct hs_block *b = hs_block_insert(c, &w, c->self);
    if (!b) return; /* store full of live blocks */
    b->proposal = true;
    c->proposed_view = c->view;
    seen_add(c, w.view, &w.digest);
    broadcast_proposal(c, b);
    /* Retransmitted from T/20 on while its QC has not formed
     * (hs_on_resend_timer). */
    c->resend.view = w.view;
    c->resend.block = w.digest;
    c->resend.sent = 0;
    c->io.set_timer(c->io.ctx, HS_TIMER_RESEND, resend_ms(c, 0));
    uint64_t view = w.view;
    hs_block_arrived(c, b, c->self, true);
    if (c->last_voted_view < view) {
        /* Not voted: the parent is still being fetched (we formed its QC
         * from the others' votes without holding the block, e.g. after an
         * equivocating leader gave us another one). The WAL marks the view
         * so that a restart never proposes twice in it, but in memory
         * proposed_view guards that and last_voted_view stays below: we
         * vote for our own block when its parent arrives
         * (hs_on_connected), since no other block of this view can come
         * (we are its only proposer). Marking the view as voted here left
         * the quorum short of the leader's own vote; with a Byzantine
         * voter among the others no QC formed and the view ended in a TC
         * that excluded the honest leader (docs/hotstuff.md "A leader
         * votes for its own proposal late"). */
        static const bft_digest zero;
        hs_persist_vote(c, view, 0, &zero);
    }
}
