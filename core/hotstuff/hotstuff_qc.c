/* Quorum and timeout certificates, and vote collection.
 *
 * A QC is 2f+1 votes on (view, height, block) from distinct replicas
 * (§4.2 "a quorum certificate ... collection of (n - f) votes", §5
 * Algorithm 3). Each vote is the voter's own HS_VOTE message, whose signed
 * region is its 68-byte header from the version byte on; a QC carries only
 * (signer, signature) pairs and the verifier rebuilds each header, so the
 * signatures the leader collected are checked as they were made. Every
 * check is done in full: signer < n, no repeated signer, at least 2f+1 of
 * them, every signature valid. A QC is verified once: recently verified QC
 * identities are cached (and the node caches each signature as well).
 *
 * A TC is 2f+1 signed timeout statements (view, hqc_view) from distinct
 * replicas (the LibraBFT/DiemBFT pacemaker; HotStuff §4.4 leaves the
 * pacemaker abstract).
 */
#include <assert.h>
#include <string.h>

#include "core/hotstuff/hotstuff_internal.h"

void hs_qc_genesis(struct hs_qc *q)
{
    memset(q, 0, sizeof(*q));
}

void hs_vote_region(const struct bft_core *c, uint32_t signer, uint64_t view, uint64_t height,
                    const bft_digest *block, uint8_t region[HS_VOTE_REGION_LEN])
{
    struct bft_msg m = {.type = BFT_MSG_HS_VOTE,
                        .sender = signer,
                        .cluster_id = c->cfg.cluster_id,
                        .view = view,
                        .seq = height,
                        .digest = *block};
    uint8_t buf[BFT_MSG_MIN_LEN];
    size_t len = bft_msg_encode(&m, buf, sizeof buf);
    assert(len == BFT_MSG_MIN_LEN);
    memcpy(region, buf + BFT_SIGNED_OFF, HS_VOTE_REGION_LEN);
}

bool hs_qc_same(const struct hs_qc *a, const struct hs_qc *b)
{
    return a->view == b->view && a->height == b->height && hs_deq(&a->block, &b->block) &&
           a->k == b->k && a->k <= BFT_MAX_REPLICAS && memcmp(a->signer, b->signer, a->k) == 0 &&
           memcmp(a->sig, b->sig, (size_t)a->k * BFT_SIG_LEN) == 0;
}

/* Issue 12: the cache answers only for the very copy that was verified.
 * Matching on (view, height, block) alone let a Byzantine leader plant a
 * copy with garbage signatures that we would then store, log, serve in
 * block-sync answers and forward, and that others reject. A different
 * copy of a certificate we hold is verified like any other (the node's
 * signature cache makes the honest case cheap). */
static bool qc_cached(const struct bft_core *c, const struct hs_qc *q)
{
    if (hs_qc_same(q, &c->high_qc)) return true;
    for (uint32_t i = 0; i < HS_QC_CACHE; i++)
        if (c->cache.qc[i].view != 0 && hs_qc_same(q, &c->cache.qc[i])) return true;
    return false;
}

static void qc_cache_put(struct bft_core *c, const struct hs_qc *q)
{
    c->cache.qc[c->cache.qc_next++ % HS_QC_CACHE] = *q;
}

int hs_qc_verify(struct bft_core *c, const struct hs_qc *q)
{
    if (q->view == 0) {
        /* The genesis QC is the only one without signatures. */
        if (q->height != 0 || q->k != 0 || !hs_is_zero(&q->block)) return BFT_REJECT_MALFORMED;
        return BFT_REJECT_NONE;
    }
    if (q->height == 0) return BFT_REJECT_MALFORMED;
    if (q->k < c->quorum || q->k > c->n) return BFT_REJECT_MALFORMED;
    uint32_t mask = 0;
    for (uint32_t i = 0; i < q->k; i++) {
        if (q->signer[i] >= c->n) return BFT_REJECT_UNKNOWN_SENDER;
        if (mask & (1u << q->signer[i])) return BFT_REJECT_DUPLICATE;
        mask |= 1u << q->signer[i];
    }
    if (qc_cached(c, q)) return BFT_REJECT_NONE;
    for (uint32_t i = 0; i < q->k; i++) {
        uint8_t region[HS_VOTE_REGION_LEN];
        hs_vote_region(c, q->signer[i], q->view, q->height, &q->block, region);
        if (!c->env.verify(c->env.ctx, q->signer[i], BFT_MSG_HS_VOTE, region, sizeof region,
                           q->sig[i]))
            return BFT_REJECT_BAD_SIGNATURE;
    }
    qc_cache_put(c, q);
    return BFT_REJECT_NONE;
}

/* ---- timeout certificates ---- */

uint64_t hs_tc_max_hqc(const struct hs_tc *t)
{
    uint64_t m = 0;
    for (uint32_t i = 0; i < t->k; i++)
        if (t->hqc_view[i] > m) m = t->hqc_view[i];
    return m;
}

static bool tc_same(const struct hs_tc *a, const struct hs_tc *b)
{
    return a->view == b->view && a->k == b->k && a->k <= BFT_MAX_REPLICAS &&
           memcmp(a->signer, b->signer, a->k) == 0 &&
           memcmp(a->hqc_view, b->hqc_view, (size_t)a->k * sizeof a->hqc_view[0]) == 0 &&
           memcmp(a->sig, b->sig, (size_t)a->k * BFT_SIG_LEN) == 0;
}

/* Issue 12: every TC that justifies anything is verified. A TC at or
 * below high_tc used to pass unchecked, yet a proposal may rest on it: its
 * reported high-QC views decide how old a justify the proposal may carry
 * (DiemBFT's "qc.round >= max high_qc round in the TC"), so a forged one
 * left safety to the lock alone. Only the very copies verified before
 * (high_tc, which holds nothing else, and a small ring) skip the check. */
int hs_tc_verify(struct bft_core *c, const struct hs_tc *t)
{
    if (t->view == 0 || t->k < c->quorum || t->k > c->n) return BFT_REJECT_MALFORMED;
    uint32_t mask = 0;
    for (uint32_t i = 0; i < t->k; i++) {
        if (t->signer[i] >= c->n) return BFT_REJECT_UNKNOWN_SENDER;
        if (mask & (1u << t->signer[i])) return BFT_REJECT_DUPLICATE;
        mask |= 1u << t->signer[i];
        if (t->hqc_view[i] >= t->view) return BFT_REJECT_MALFORMED;
    }
    if (tc_same(t, &c->high_tc)) return BFT_REJECT_NONE;
    for (uint32_t i = 0; i < HS_TC_CACHE; i++)
        if (c->cache.tc[i].view != 0 && tc_same(t, &c->cache.tc[i])) return BFT_REJECT_NONE;
    for (uint32_t i = 0; i < t->k; i++) {
        uint8_t region[HS_TIMEOUT_REGION_LEN];
        hs_timeout_region(t->view, t->hqc_view[i], region);
        if (!c->env.verify(c->env.ctx, t->signer[i], HS_DOM_TIMEOUT, region, sizeof region,
                           t->sig[i]))
            return BFT_REJECT_BAD_SIGNATURE;
    }
    c->cache.tc[c->cache.tc_next++ % HS_TC_CACHE] = *t;
    return BFT_REJECT_NONE;
}

/* ---- vote collection (at the next view's leader, and from timeouts) ---- */

/* Vote collection keeps each replica's votes apart: voter i's votes in view
 * v live in votes[i][v % HS_VOTE_VIEWS], and a QC forms when 2f+1 voters'
 * records name the same (view, height, block). A Byzantine voter, whatever
 * it sends (directly or inside TIMEOUTs), fills only its own records. Issue
 * 12: the former 8 collectors shared by everyone could be filled by f
 * Byzantine replicas at n >= 7 with junk for views v..v+3, so honest votes
 * for the current proposal were refused as OVERLOAD and no QC formed.
 *
 * Each voter has HS_VOTE_ALTS records per view: its first vote and one
 * other. An honest replica votes once per view (§4.2; Algorithm 3's
 * vheight) and fills only the first. An equivocating one that sends a vote
 * for some other digest first and its real vote second used to lose the
 * real one (refused as equivocation); at n = 4 with a replica that could
 * not vote for the real block (an equivocating leader gave it another
 * one), that vote was needed and the view ended in a timeout. Counting a
 * Byzantine replica's second vote does not weaken safety: two QCs of one
 * view need two quorums, which share f+1 replicas, one of them honest,
 * and an honest replica signed only one of the two blocks (the same
 * argument that lets a QC's verifier ignore how it was collected). */
static bool vote_is(const struct hs_vote_rec *v, uint64_t view, uint64_t height,
                    const bft_digest *block)
{
    return v->used && v->view == view && v->height == height && hs_deq(&v->block, block);
}

/* Voter i's record for (view, height, block), if it has one. */
static const struct hs_vote_rec *vote_of(const struct bft_core *c, uint32_t i, uint64_t view,
                                         uint64_t height, const bft_digest *block)
{
    const struct hs_vote_rec *r = c->votes[i][view % HS_VOTE_VIEWS];
    for (uint32_t a = 0; a < HS_VOTE_ALTS; a++)
        if (vote_is(&r[a], view, height, block)) return &r[a];
    return NULL;
}

static void form_qc(struct bft_core *c, uint64_t view, uint64_t height, const bft_digest *block)
{
    struct hs_qc q = {.view = view, .height = height, .block = *block};
    for (uint32_t i = 0; i < c->n && q.k < c->quorum; i++) {
        const struct hs_vote_rec *v = vote_of(c, i, view, height, block);
        if (!v) continue;
        q.signer[q.k] = (uint8_t)i;
        memcpy(q.sig[q.k], v->sig, BFT_SIG_LEN);
        q.k++;
    }
    qc_cache_put(c, &q); /* made of votes verified one by one */
    hs_on_qc(c, &q);
}

void hs_vote_add(struct bft_core *c, uint32_t from, uint64_t view, uint64_t height,
                 const bft_digest *block, const uint8_t sig[BFT_SIG_LEN])
{
    /* Votes are kept only around the current view: older ones can no
     * longer make a useful QC, and far-future ones cannot be genuine. */
    /* The n - 2f - 1 votes arriving after the QC formed are expected:
     * dropped without counting a reject (a QC for the view exists, and
     * two cannot: any two quorums share an honest replica). */
    if (view <= c->high_qc.view) return;
    if (view + 2 < c->view) {
        hs_reject(c, BFT_REJECT_STALE_VIEW);
        return;
    }
    if (view > c->view + 2) {
        hs_reject(c, BFT_REJECT_OUT_OF_WINDOW);
        return;
    }
    if (from >= c->n) {
        hs_reject(c, BFT_REJECT_UNKNOWN_SENDER);
        return;
    }
    struct hs_vote_rec *r = c->votes[from][view % HS_VOTE_VIEWS];
    /* The window holds 5 views < HS_VOTE_VIEWS, so a record of another
     * view in this slot is from an older view: replaced. (A newer one can
     * only exist if our view went back, which it never does.) */
    if (r[0].used && r[0].view > view) {
        hs_reject(c, BFT_REJECT_STALE_VIEW);
        return;
    }
    if (r[0].used && r[0].view < view) memset(r, 0, HS_VOTE_ALTS * sizeof *r);
    struct hs_vote_rec *v = NULL;
    for (uint32_t a = 0; a < HS_VOTE_ALTS && !v; a++) {
        if (vote_is(&r[a], view, height, block)) {
            hs_reject(c, BFT_REJECT_DUPLICATE);
            return;
        }
        if (!r[a].used) v = &r[a];
    }
    /* A vote after the first is an equivocation (counted), kept while the
     * voter has a free record; beyond that it is dropped. */
    if (r[0].used) hs_reject(c, BFT_REJECT_EQUIVOCATION);
    if (!v) return;
    v->used = true;
    v->view = view;
    v->height = height;
    v->block = *block;
    memcpy(v->sig, sig, BFT_SIG_LEN);
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if (vote_of(c, i, view, height, block)) k++;
    if (k >= c->quorum) form_qc(c, view, height, block);
}

/* HS_VOTE: "send vote to leader(curView + 1)" (Algorithm 3). The node has
 * verified the vote's signature, which is exactly the QC entry. */
void hs_on_vote(struct bft_core *c, uint32_t from, const struct hs_vote_msg *v)
{
    if (hs_leader(c, v->view + 1) != c->self) {
        hs_reject(c, BFT_REJECT_MALFORMED); /* votes go to the next leader only */
        return;
    }
    hs_vote_add(c, from, v->view, v->height, &v->block, v->sig);
}
