/* Chained HotStuff core: lifecycle, event dispatch, status. Yin et al.,
 * PODC'19 §5 (Algorithm 3). See hotstuff_internal.h for the wire bodies
 * and records, docs/hotstuff.md for the rules. */
#include <stdlib.h>
#include <string.h>

#include "core/hotstuff/hotstuff_internal.h"

/* Is there anything to drive to commit? Pending requests, or uncommitted
 * blocks below qc_high that carry requests (unknown ones count). The
 * pacemaker only runs the view timer when there is: an idle cluster does
 * not change views. */
bool hs_has_work(struct bft_core *c)
{
    if (c->pend.count > 0) return true;
    /* f+1 others (at least one honest) stuck in our view or one of the two
     * before: time out with them even with nothing of our own pending. Our
     * timeout carries the QC they may lack and joins the TC they cannot
     * form alone. Without this, replicas spread over views v, v+1, v+2
     * with the idle one ahead never form a TC (regression test
     * test_hotstuff_idle_replica_joins_stuck_views in
     * tests/sim/test_sim_regressions.c). Older timeouts expire
     * as our view moves on, so an idle cluster does not churn views.
     * Timeouts for views ahead count only up to the view a TC of ours
     * would lead to (plus HS_STUCK_VIEWS): an honest replica's timeout
     * carries the QC or TC that brought it there, which moves us up to
     * it first. A Byzantine one for view v + 10^6 used to count forever
     * (issue 12). */
    uint64_t ahead = hs_view_after_tc(c, c->view) + HS_STUCK_VIEWS;
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        const struct hs_timeout_rec *t = hs_to_high(c, i);
        if (i != c->self && t && t->view + HS_STUCK_VIEWS >= c->view && t->view <= ahead) k++;
    }
    if (k >= c->f + 1) return true;
    const struct hs_block *x = hs_block_get(c, &c->high_qc.block);
    uint64_t h = c->high_qc.height;
    for (uint32_t s = 0; h > c->root_height && s < HS_BLOCKS_MAX; s++) {
        if (!x || x->batch_len) return true;
        h = x->height - 1;
        x = hs_block_get(c, &x->parent);
    }
    return false;
}

static void hs_destroy(struct bft_core *c)
{
    if (!c) return;
    hs_store_free(c);
    hs_pending_free(&c->pend);
    hs_state_free(c);
    bft_buf_free(&c->body);
    bft_buf_free(&c->batch);
    bft_buf_free(&c->rec);
    free(c);
}

static int hs_create(struct bft_core **out, const struct bft_core_config *cfg,
                     const struct bft_env *env, const struct bft_io *io)
{
    *out = NULL;
    if (cfg->n < 4 || cfg->n > BFT_MAX_REPLICAS || cfg->self >= cfg->n) return BFT_E_INVALID;
    if (cfg->f < 1 || 3 * cfg->f + 1 > cfg->n) return BFT_E_INVALID;
    if (cfg->batch_max == 0 || cfg->batch_max > BFT_BATCH_MAX_ENVELOPES) return BFT_E_INVALID;
    if (cfg->checkpoint_interval == 0 || cfg->request_timeout_ms == 0) return BFT_E_INVALID;
    if (cfg->leader_views > HS_LEADER_VIEWS_MAX) return BFT_E_INVALID;
    struct bft_core *c = calloc(1, sizeof(*c));
    if (!c) return BFT_E_NOMEM;
    c->cfg = *cfg;
    c->env = *env;
    c->io = *io;
    c->n = cfg->n;
    c->f = cfg->f;
    c->self = cfg->self;
    /* Any two quorums share f+1 replicas: 2f+1 when n = 3f+1. */
    c->quorum = (c->n + c->f) / 2 + 1;
    c->leader_views = cfg->leader_views ? cfg->leader_views : 1;
    if (c->quorum < 2 * c->f + 1) c->quorum = 2 * c->f + 1;
    /* Committed history kept for block sync; a laggard beyond half of it
     * fetches state, whose checkpoints are checkpoint_interval apart. */
    c->history = 2 * (uint64_t)cfg->checkpoint_interval;
    if (c->history < HS_HISTORY_MIN) c->history = HS_HISTORY_MIN;
    if (c->history > HS_BLOCKS_MAX / 2) c->history = HS_BLOCKS_MAX / 2;
    c->view = 1;
    bft_timeout_init(&c->pm.view_timer, HS_TIMER_VIEW);
    bft_timeout_init(&c->req_timer.timer, HS_TIMER_REQUEST);
    bft_timeout_init(&c->sync.timer, HS_TIMER_FETCH);
    bft_timeout_init(&c->st.timer, HS_TIMER_STATE);
    hs_qc_genesis(&c->high_qc);
    hs_qc_genesis(&c->locked_qc);
    for (uint32_t i = 0; i < BFT_MAX_REPLICAS; i++)
        c->sync.budget[i] = HS_SYNC_BUDGET;
    /* The scratch buffers (body, batch, rec) start empty: each grows to
     * what is written into it (docs/architecture.md "Bounds"). */
    if (hs_store_init(c) != BFT_E_OK || hs_pending_init(&c->pend, cfg->n_clients) != BFT_E_OK) {
        hs_destroy(c);
        return BFT_E_NOMEM;
    }
    hs_monitor_init(c);
    *out = c;
    return BFT_E_OK;
}

static void hs_status(const struct bft_core *c, struct bft_core_status *out)
{
    memset(out, 0, sizeof(*out));
    out->view = c->view;
    out->leader = hs_leader(c, c->view);
    out->last_executed = c->root_height;
    out->read_floor = c->read_floor;
    out->view_changes = c->pm.view_changes;
    out->pending_requests = c->pend.count;
    out->in_view_change = c->pm.timed_out;
    out->is_leader = out->leader == c->self;
}

/* Work that follows every event: drop what is no longer needed, and run
 * the view timer only while there is something to commit. */
static void after_event(struct bft_core *c)
{
    if (c->gc_tick >= 16) {
        c->gc_tick = 0;
        hs_store_gc(c);
    }
    hs_timer_update(c);
    hs_request_timer_update(c);
    hs_monitor_arm(c);
}

/* Decode a message body into its typed struct (hotstuff_wire.c) and hand
 * it to its handler; a malformed one is counted and dropped
 * (docs/style.md #6). The structs are large (certificates): one per
 * message type, each in its own frame. */
static void recv_block(struct bft_core *c, const struct bft_msg *m)
{
    struct hs_wire_block w;
    int why = hs_block_decode(m, c->n, &w);
    if (why != BFT_REJECT_NONE)
        hs_reject(c, why);
    else if (m->type == BFT_MSG_HS_PROPOSAL)
        hs_on_proposal(c, m->sender, &w);
    else
        hs_on_block_resp(c, m->sender, &w);
}

static void recv_timeout(struct bft_core *c, const struct bft_msg *m)
{
    /* A stale timeout is dropped before its body is parsed (the handler
     * checks again): it is counted as stale, even if its body is bad. */
    if (m->view != 0 && m->payload_len == 0 && hs_view_after_tc(c, m->view) < c->view) {
        hs_reject(c, BFT_REJECT_STALE_VIEW);
        return;
    }
    struct hs_timeout_msg t;
    int why = hs_timeout_decode(m, c->n, &t);
    if (why != BFT_REJECT_NONE)
        hs_reject(c, why);
    else
        hs_on_timeout_msg(c, m->sender, &t);
}

static void recv_state_resp(struct bft_core *c, const struct bft_msg *m)
{
    struct hs_state_resp r;
    int why = hs_state_resp_decode(m, &r);
    if (why != BFT_REJECT_NONE)
        hs_reject(c, why);
    else
        hs_on_state_resp(c, m->sender, &r);
}

static void recv_small(struct bft_core *c, const struct bft_msg *m)
{
    int why;
    if (m->type == BFT_MSG_HS_VOTE) {
        struct hs_vote_msg v;
        if ((why = hs_vote_decode(m, &v)) == BFT_REJECT_NONE) hs_on_vote(c, m->sender, &v);
    } else if (m->type == BFT_MSG_HS_BLOCK_REQ) {
        struct hs_block_req q;
        if ((why = hs_block_req_decode(m, &q)) == BFT_REJECT_NONE)
            hs_on_block_req(c, m->sender, &q);
    } else {
        struct hs_state_req q;
        if ((why = hs_state_req_decode(m, &q)) == BFT_REJECT_NONE)
            hs_on_state_req(c, m->sender, &q);
    }
    if (why != BFT_REJECT_NONE) hs_reject(c, why);
}

static void hs_on_message(struct bft_core *c, const struct bft_msg *m)
{
    if (c->post_recover) hs_post_recover(c);
    /* The node bound the sender to its key; still never index with it
     * unchecked (docs/style.md #6). */
    if (m->sender >= c->n || m->sender == c->self) {
        hs_reject(c, BFT_REJECT_UNKNOWN_SENDER);
        return;
    }
    if (m->cluster_id != c->cfg.cluster_id) {
        hs_reject(c, BFT_REJECT_WRONG_CLUSTER);
        return;
    }
    switch (m->type) {
    case BFT_MSG_HS_PROPOSAL:
    case BFT_MSG_HS_BLOCK_RESP:
        recv_block(c, m);
        break;
    case BFT_MSG_HS_TIMEOUT:
        recv_timeout(c, m);
        break;
    case BFT_MSG_STATE_RESP:
        recv_state_resp(c, m);
        break;
    case BFT_MSG_HS_VOTE:
    case BFT_MSG_HS_BLOCK_REQ:
    case BFT_MSG_STATE_REQ:
        recv_small(c, m);
        break;
    default:
        hs_reject(c, BFT_REJECT_MALFORMED);
        break;
    }
    after_event(c);
}

static void hs_on_request(struct bft_core *c, const struct bft_msg *req)
{
    if (c->post_recover) hs_post_recover(c);
    int why = hs_pending_add(&c->pend, req);
    if (why != BFT_REJECT_NONE) {
        hs_reject(c, why);
        return;
    }
    /* An idle leader holding the previous view's QC proposes now. */
    hs_try_propose(c);
    after_event(c);
}

static void hs_on_timer(struct bft_core *c, uint32_t timer)
{
    if (c->post_recover) hs_post_recover(c);
    switch (timer) {
    case HS_TIMER_VIEW:
        hs_on_view_timer(c);
        break;
    case HS_TIMER_FETCH:
        hs_on_fetch_timer(c);
        break;
    case HS_TIMER_STATE:
        hs_on_state_timer(c);
        break;
    case HS_TIMER_RESEND:
        hs_on_resend_timer(c);
        break;
    case HS_TIMER_REQUEST:
        hs_on_request_timer(c);
        break;
    case HS_TIMER_MONITOR:
        hs_monitor_on_timer(c);
        break;
    default:
        break;
    }
    after_event(c);
}

/* The n - 2f - 1 votes arriving after their QC formed: hs_vote_add drops
 * a vote for a view at or below high_qc's without a trace. */
static bool hs_needless(const struct bft_core *c, const struct bft_msg *m)
{
    struct hs_vote_msg v;
    return m->type == BFT_MSG_HS_VOTE && !c->post_recover && m->sender < c->n &&
           m->sender != c->self && m->cluster_id == c->cfg.cluster_id &&
           hs_vote_decode(m, &v) == BFT_REJECT_NONE && v.view <= c->high_qc.view;
}

const struct bft_core_ops bft_hotstuff_ops = {
    .name = "hotstuff",
    .create = hs_create,
    .destroy = hs_destroy,
    .recover = hs_recover,
    .compact = hs_compact,
    .on_message = hs_on_message,
    .on_request = hs_on_request,
    .on_timer = hs_on_timer,
    .status = hs_status,
    .needless = hs_needless,
};
