/* The pacemaker (HotStuff §4.4 and §5 leave it abstract; this is the
 * timeout-certificate design of LibraBFT/DiemBFT).
 *
 * Views advance only on evidence: a QC for view v or a TC for view v moves a
 * replica to v+1 (catch-up from any message carrying one), and voting in v
 * moves the voter on to v+1 (Algorithm 3: vote to leader(v+1)). When the
 * view timer fires while there is work (pending requests or uncommitted
 * blocks carrying requests) a replica broadcasts a signed HS_TIMEOUT(v)
 * with its highest QC, its last vote and the TC that let it into v, and
 * stops voting in v. 2f+1 timeouts for v form TC(v), which moves everyone
 * to v+1; that view's leader extends the highest QC the timeouts reported
 * and forwards TC(v) in its proposal. The votes riding in the timeouts let
 * any replica assemble the QC the silent leader was to form, so a crashed
 * leader costs one timeout and the 3-chain over the views before it still
 * commits.
 *
 * One replica alone cannot move anyone: a TC needs 2f+1 signers, and a
 * replica joins a view other replicas time out only on f+1 timeouts for it
 * (at least one honest replica), like PBFT's f+1 view-change rule (§4.5.2).
 * A replica that can send but not receive just times out its own view
 * with growing intervals. Timeouts back off exponentially until a commit.
 */
#include <assert.h>
#include <string.h>

#include "core/hotstuff/hotstuff_internal.h"

uint64_t hs_timeout_ms(const struct bft_core *c)
{
    uint32_t shift = c->pm.backoff < HS_BACKOFF_MAX ? c->pm.backoff : HS_BACKOFF_MAX;
    return (uint64_t)c->cfg.request_timeout_ms << shift;
}

void hs_timer_update(struct bft_core *c)
{
    if (hs_has_work(c)) {
        bft_timeout_start(&c->pm.view_timer, &c->io, hs_timeout_ms(c));
    } else {
        bft_timeout_stop(&c->pm.view_timer, &c->io);
    }
}

static void send_timeout(struct bft_core *c);
static void send_timeout_for(struct bft_core *c, uint64_t view);
static void check_tc(struct bft_core *c, uint64_t view);
static void give_up(struct bft_core *c);

void hs_advance_view(struct bft_core *c, uint64_t view, bool by_timeout)
{
    if (view <= c->view) return;
    uint32_t old_leader = hs_leader(c, c->view);
    c->view = view;
    c->pm.timed_out = false;
    /* A replica that complained about a request (hs_on_request_timer)
     * keeps refusing the same leader's views. A new leader gets a fresh
     * request interval, whether we complained about the last one or were
     * still waiting: the time the last leader took is not the new one's
     * to answer for (it used to inherit what was left, and could be
     * refused at once). after_event watches the oldest request again. */
    bool complain = c->req_timer.complain;
    if (by_timeout || hs_leader(c, view) != old_leader) {
        complain = false;
        c->req_timer.complain = false;
        bft_timeout_stop(&c->req_timer.timer, &c->io);
    }
    if (hs_monitor_enter_view(c, old_leader, by_timeout)) complain = true;
    if (by_timeout) c->pm.view_changes++;
    /* A fresh view gets a fresh timer. */
    bft_timeout_stop(&c->pm.view_timer, &c->io);
    hs_timer_update(c);
    if (complain) {
        send_timeout(c);
        check_tc(c, c->view);
        return;
    }
    hs_try_propose(c);
}

/* ---- per-request timer ----
 *
 * The view timer only sees views that stop; a leader that keeps proposing
 * but leaves one client's request out is not deposed by it. Like PBFT's
 * request timer (Castro-Liskov OSDI'99 §4.4: a backup that has a request
 * and does not see it execute within a timeout starts a view change), each
 * replica watches its oldest pending request:
 *   1. after one view timeout (base x backoff) it is still pending: forward
 *      it to every replica (the leader may never have received it; PBFT
 *      backups forward requests to the primary) and wait once more;
 *   2. still pending: complain. Time out the current view (HS_TIMEOUT, no
 *      more votes in it), and keep doing so in every later view of the same
 *      leader's window, until the request commits or a TC moves everyone
 *      to the next leader, who gets a fresh interval.
 * Every honest replica received the request (clients send to all, and
 * step 1 forwards it), so their timers expire within about one interval
 * of each other; the f+1 rule (hs_on_timeout_msg) pulls the rest along and
 * 2f+1 complaints form the TC. A request stuck at one replica alone moves
 * nobody: it needs f+1. */
void hs_request_timer_update(struct bft_core *c)
{
    if (c->req_timer.timer.armed) {
        uint32_t len;
        if (hs_pending_get(&c->pend, c->req_timer.client, c->req_timer.req_no, &len)) return;
        /* It committed: watch the next one, from scratch. */
        c->req_timer.complain = false;
        bft_timeout_stop(&c->req_timer.timer, &c->io);
    }
    uint32_t client;
    uint64_t req_no;
    if (!hs_pending_oldest(&c->pend, &client, &req_no)) return;
    c->req_timer.forwarded = false;
    c->req_timer.complain = false;
    c->req_timer.client = client;
    c->req_timer.req_no = req_no;
    bft_timeout_restart(&c->req_timer.timer, &c->io, hs_timeout_ms(c));
}

void hs_on_request_timer(struct bft_core *c)
{
    if (!c->req_timer.timer.armed) return;
    uint32_t len;
    const uint8_t *raw = hs_pending_get(&c->pend, c->req_timer.client, c->req_timer.req_no, &len);
    bft_timeout_fired(&c->req_timer.timer);
    if (!raw) return; /* committed meanwhile: after_event watches the next */
    bft_timeout_restart(&c->req_timer.timer, &c->io, hs_timeout_ms(c));
    if (!c->req_timer.forwarded) {
        c->req_timer.forwarded = true;
        struct bft_msg m;
        if (bft_msg_decode(raw, len, &m) == BFT_E_OK) c->io.broadcast(c->io.ctx, &m);
        return;
    }
    c->req_timer.complain = true;
    give_up(c);
    /* Resend the timeouts every base interval, as the view timer does. */
    bft_timeout_start(&c->pm.view_timer, &c->io, c->cfg.request_timeout_ms);
}

void hs_give_up_view(struct bft_core *c)
{
    if (!c->pm.timed_out)
        give_up(c);
    else
        check_tc(c, c->view);
    /* Resent every base interval, as the view timer does. */
    bft_timeout_start(&c->pm.view_timer, &c->io, c->cfg.request_timeout_ms);
}

/* Replica i's timeout for exactly `view`, if recorded. */
static const struct hs_timeout_rec *timeout_of(const struct bft_core *c, uint32_t i, uint64_t view)
{
    const struct hs_timeout_rec *t = &c->to[i][view & 1];
    return t->valid && t->view == view ? t : NULL;
}

static uint32_t count_timeouts(const struct bft_core *c, uint64_t view, bool others_only)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if (timeout_of(c, i, view) && !(others_only && i == c->self)) k++;
    return k;
}

static void send_timeout(struct bft_core *c)
{
    send_timeout_for(c, c->view);
}

/* The failed view (DiemBFT: a replica does not leave a round by voting, so
 * it times out the round it voted in). We voted in view - 1, entered our
 * view by that vote alone, and no QC or TC for view - 1 reached us: the
 * view that failed is view - 1, whose leader's proposal gathered no QC
 * (it equivocated, or withheld it), or whose votes the next leader did
 * not turn into a proposal. Time that view out, carrying our vote for it:
 * if 2f+1 such votes agree, every replica assembles QC(view - 1), no
 * TC(view - 1) forms (check_tc) and the next leader is judged on its own
 * view (hs_on_timeout_msg); if they do not, TC(view - 1) names the leader
 * of view - 1, not the next one, as the failed one (leader reputation). */
static uint64_t failed_view(const struct bft_core *c)
{
    uint64_t v = c->view;
    if (v > 1 && c->my_vote.valid && c->my_vote.view + 1 == v && c->high_qc.view + 1 < v &&
        c->high_tc.view + 1 < v)
        return v - 1;
    return v;
}

/* Give up: no more votes in our view, HS_TIMEOUT for the failed view. */
static void give_up(struct bft_core *c)
{
    uint64_t v = failed_view(c);
    send_timeout_for(c, v);
    c->pm.timed_out = true;
    check_tc(c, v);
}

/* HS_TIMEOUT(view) with our statement `sig`, and our vote if with_vote. */
static void broadcast_timeout(struct bft_core *c, uint64_t view, const uint8_t sig[BFT_SIG_LEN],
                              bool with_vote)
{
    /* Out of memory for the body: not sent, as if lost; the view timer
     * resends our timeout. */
    uint8_t *body = hs_body(c, HS_TIMEOUT_BODY_MAX);
    if (!body) return;
    struct hs_timeout_msg t = {.view = view, .high_qc = c->high_qc, .has_vote = with_vote};
    memcpy(t.sig, sig, BFT_SIG_LEN);
    if (with_vote) {
        uint8_t vr[HS_VOTE_REGION_LEN];
        hs_vote_region(c, c->self, c->my_vote.view, c->my_vote.height, &c->my_vote.block, vr);
        c->env.sign(c->env.ctx, BFT_MSG_HS_VOTE, vr, sizeof vr, t.vote.sig);
        t.vote.view = c->my_vote.view;
        t.vote.height = c->my_vote.height;
        t.vote.block = c->my_vote.block;
    }
    /* Our highest TC whenever it says more than our QC: a replica left
     * behind in an older view catches up on it (view synchronisation). */
    t.has_tc = c->high_tc.view && c->high_tc.view < view &&
               hs_view_after_tc(c, c->high_tc.view) > c->high_qc.view;
    if (t.has_tc) t.tc = c->high_tc;
    struct bft_msg m;
    bool ok = hs_timeout_encode(&t, body, c->body.cap, &m);
    assert(ok); /* the scratch holds HS_TIMEOUT_BODY_MAX: a bug otherwise */
    (void)ok;
    c->io.broadcast(c->io.ctx, &m);
}

/* Broadcast HS_TIMEOUT(view): our own view, or the view just below it
 * when we join the others' timeouts for the view we voted in (Split
 * views, hs_on_timeout_msg). */
static void send_timeout_for(struct bft_core *c, uint64_t view)
{
    assert(view == c->view || (view + 1 == c->view && c->high_qc.view < view));
    if (view == c->view) c->pm.timed_out = true;
    uint8_t region[HS_TIMEOUT_REGION_LEN];
    hs_timeout_region(view, c->high_qc.view, region);
    struct hs_timeout_rec *own = &c->to[c->self][view & 1];
    own->valid = true;
    own->view = view;
    own->hqc_view = c->high_qc.view;
    c->env.sign(c->env.ctx, HS_DOM_TIMEOUT, region, sizeof region, own->sig);
    bool with_vote = c->my_vote.valid && c->my_vote.view <= view && c->my_vote.view + 1 >= view &&
                     c->my_vote.view > c->high_qc.view;
    broadcast_timeout(c, view, own->sig, with_vote);
    if (with_vote) {
        /* Our vote counts toward the QC the timeouts may assemble. */
        uint8_t vr[HS_VOTE_REGION_LEN], sig[BFT_SIG_LEN];
        hs_vote_region(c, c->self, c->my_vote.view, c->my_vote.height, &c->my_vote.block, vr);
        c->env.sign(c->env.ctx, BFT_MSG_HS_VOTE, vr, sizeof vr, sig);
        hs_vote_add(c, c->self, c->my_vote.view, c->my_vote.height, &c->my_vote.block, sig);
    }
}

/* 2f+1 timeouts for `view` (ours or the one just below, Split views) form
 * TC(view) and move us to the view it leads to. */
static void check_tc(struct bft_core *c, uint64_t view)
{
    if (view + 1 < c->view || count_timeouts(c, view, false) < c->quorum) return;
    /* The votes riding in the timeouts for the view below ours assembled
     * its QC: that view did not fail, ours is judged on its own. */
    if (view + 1 == c->view && c->high_qc.view >= view) return;
    struct hs_tc t = {.view = view};
    for (uint32_t i = 0; i < c->n && t.k < c->quorum; i++) {
        const struct hs_timeout_rec *r = timeout_of(c, i, view);
        if (!r) continue;
        t.signer[t.k] = (uint8_t)i;
        t.hqc_view[t.k] = r->hqc_view;
        memcpy(t.sig[t.k], r->sig, BFT_SIG_LEN);
        t.k++;
    }
    hs_on_tc(c, &t);
}

void hs_on_tc(struct bft_core *c, const struct hs_tc *t)
{
    /* The high TC is the one that leads furthest (hotstuff_leader.c: with
     * leader reputation, a TC for an earlier window may lead further than
     * one for a later window); replicas split between two such TCs meet at
     * the further view. hs_tc_verify takes a TC no newer than the high TC
     * as checked before, so such a TC is verified here in full first. */
    if (hs_tc_leads_further(c, t->view, c->high_tc.view)) {
        if (t->view <= c->high_tc.view) {
            struct hs_tc held = c->high_tc;
            c->high_tc.view = 0;
            int why = hs_tc_verify(c, t);
            c->high_tc = held;
            if (why != BFT_REJECT_NONE) {
                hs_reject(c, why);
                return;
            }
        }
        c->high_tc = *t;
    }
    uint64_t next = hs_view_after_tc(c, t->view);
    if (next > c->view)
        hs_advance_view(c, next, true);
    else
        hs_try_propose(c);
}

void hs_on_view_timer(struct bft_core *c)
{
    bft_timeout_fired(&c->pm.view_timer);
    for (uint32_t i = 0; i < c->n; i++)
        c->sync.budget[i] = HS_SYNC_BUDGET;
    if (!hs_has_work(c)) return;
    /* Each view given up without a commit since makes the next one wait
     * longer (§4.4: eventually longer than the real delay). */
    if (!c->pm.timed_out && c->pm.backoff < HS_BACKOFF_MAX) c->pm.backoff++;
    /* Resent every base interval: timeouts may be lost like anything
     * else, and a view split must not wait for the backed-off timer. */
    give_up(c);
    bft_timeout_start(&c->pm.view_timer, &c->io, c->cfg.request_timeout_ms);
}

/* Check what a timeout carries and catch up on it: its signed statement,
 * its high QC and TC (then acted on), and the vote riding in it. False if
 * the timeout is refused (counted). */
static bool timeout_take_certs(struct bft_core *c, uint32_t from, const struct hs_timeout_msg *t)
{
    uint8_t region[HS_TIMEOUT_REGION_LEN];
    hs_timeout_region(t->view, t->high_qc.view, region);
    if (!c->env.verify(c->env.ctx, from, HS_DOM_TIMEOUT, region, sizeof region, t->sig)) {
        hs_reject(c, BFT_REJECT_BAD_SIGNATURE);
        return false;
    }
    int why = hs_qc_verify(c, &t->high_qc);
    if (why == BFT_REJECT_NONE && t->has_tc) why = hs_tc_verify(c, &t->tc);
    if (why != BFT_REJECT_NONE) {
        hs_reject(c, why);
        return false;
    }
    if (t->has_tc) hs_on_tc(c, &t->tc);
    hs_on_qc(c, &t->high_qc);
    const struct hs_carried_vote *v = &t->vote;
    if (t->has_vote && v->view > c->high_qc.view) {
        uint8_t vr[HS_VOTE_REGION_LEN];
        hs_vote_region(c, from, v->view, v->height, &v->block, vr);
        if (c->env.verify(c->env.ctx, from, BFT_MSG_HS_VOTE, vr, sizeof vr, v->sig))
            hs_vote_add(c, from, v->view, v->height, &v->block, v->sig);
        else
            hs_reject(c, BFT_REJECT_BAD_SIGNATURE);
    }
    return true;
}

/* Record `from`'s timeout for t->view; false if it says nothing new (a
 * resend, or older than its last). */
static bool timeout_record(struct bft_core *c, uint32_t from, const struct hs_timeout_msg *t)
{
    struct hs_timeout_rec *r = &c->to[from][t->view & 1];
    if (r->valid && r->view >= t->view) return false;
    r->valid = true;
    r->view = t->view;
    r->hqc_view = t->high_qc.view;
    memcpy(r->sig, t->sig, BFT_SIG_LEN);
    hs_monitor_on_timeout(c, t->view);
    return true;
}

void hs_on_timeout_msg(struct bft_core *c, uint32_t from, const struct hs_timeout_msg *t)
{
    /* Only a view whose TC would lead to ours or later can still teach us
     * something (the QC and vote a next leader needs); older timeouts are
     * stale. */
    if (hs_view_after_tc(c, t->view) < c->view) {
        hs_reject(c, BFT_REJECT_STALE_VIEW);
        return;
    }
    if (!timeout_take_certs(c, from, t)) return;
    /* We gave up on the view below ours (failed_view) and the votes in the
     * timeouts just assembled its QC: the next leader had those votes a
     * whole view timeout ago and did not propose. Give up our view too. */
    if (c->pm.timed_out && c->high_qc.view + 1 == c->view && timeout_of(c, c->self, c->view - 1) &&
        !timeout_of(c, c->self, c->view)) {
        send_timeout_for(c, c->view);
        check_tc(c, c->view);
    }
    /* Used what it carried. A recent view before ours is over, but the
     * timeout is still recorded: hs_has_work counts replicas stuck there. */
    if (t->view + HS_STUCK_VIEWS < c->view) return;
    if (!timeout_record(c, from, t)) return;
    /* Split views. We voted in t->view and so moved on to the next view
     * (Algorithm 3), but no QC for it reached us, and f+1 others (one
     * honest) gave up on it: its leader's proposal did not reach enough
     * replicas (withheld, corrupted). Our timeout for our own view would
     * never meet theirs, so join theirs and let TC(t->view) form. */
    if (t->view + 1 == c->view && c->high_qc.view < t->view && !timeout_of(c, c->self, t->view) &&
        count_timeouts(c, t->view, true) >= c->f + 1) {
        send_timeout_for(c, t->view);
        check_tc(c, t->view);
        return;
    }
    /* f+1 timeouts for a view (one of them honest): join it, so the
     * honest replicas reach 2f+1 together (PBFT §4.5.2's f+1 rule). */
    if ((t->view > c->view || !c->pm.timed_out) && count_timeouts(c, t->view, true) >= c->f + 1) {
        hs_advance_view(c, t->view, false);
        if (c->view == t->view && !c->pm.timed_out) send_timeout(c);
    }
    check_tc(c, t->view);
}
