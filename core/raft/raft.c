/* Raft core: lifecycle, event dispatch and the state changes every part
 * shares (term, role, leader). Ongaro & Ousterhout ATC'14; see
 * raft_internal.h for the wire bodies and WAL records, docs/raft.md for
 * the design. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/raft/raft_internal.h"

/* ---- shared state changes ---- */

void raft_set_term(struct bft_core *c, uint64_t term)
{
    assert(term > c->term);
    c->term = term;
}

void raft_commit_to(struct bft_core *c, uint64_t index)
{
    assert(index > c->commit);
    c->commit = index;
}

void raft_reset_election_timer(struct bft_core *c)
{
    if (!c->started) return;
    /* §5.2: randomised in [T, 2T) so split votes are rare. */
    uint64_t jitter = c->env.random(c->env.ctx) % c->elect_ms;
    c->io.set_timer(c->io.ctx, RAFT_TIMER_ELECTION, c->elect_ms + jitter);
}

/* Count each term's leader once: view_changes = leader changes observed. */
void raft_note_leader(struct bft_core *c, uint32_t leader)
{
    c->leader = leader;
    if (leader != RAFT_NONE && c->leader_term != c->term) {
        c->leader_term = c->term;
        c->view_changes++;
    }
    raft_forward_pending(c); /* what we held while no leader was known */
}

static void stop_leading(struct bft_core *c)
{
    c->io.cancel_timer(c->io.ctx, RAFT_TIMER_HEARTBEAT);
    c->io.cancel_timer(c->io.ctx, RAFT_TIMER_QUORUM);
    for (uint32_t s = 0; s < RAFT_LEASE_RING; s++) {
        if (c->lease_slot[s]) c->io.cancel_timer(c->io.ctx, RAFT_TIMER_LEASE_BASE + s);
        c->lease_slot[s] = 0;
    }
    /* Every round so far counts as expired: a new leadership starts with
     * no lease. */
    c->lease_expired = c->round;
    raft_pending_clear(c);
    raft_reads_clear(c);
}

void raft_become_follower(struct bft_core *c, uint64_t term, uint32_t leader)
{
    if (c->role == RAFT_LEADER) stop_leading(c);
    if (term > c->term) {
        raft_set_term(c, term);
        c->voted_for = RAFT_NONE;
        raft_persist_hard(c);
    }
    c->role = RAFT_FOLLOWER;
    c->votes = 0;
    c->leader = RAFT_NONE;
    if (leader != RAFT_NONE) raft_note_leader(c, leader);
    raft_reset_election_timer(c);
}

bool raft_need_state(const struct bft_core *c)
{
    return c->applied + 1 < c->log.start;
}

/* ---- lifecycle ---- */

static void raft_destroy(struct bft_core *c)
{
    if (!c) return;
    raft_log_free(&c->log);
    raft_pending_free(c);
    free(c->snap);
    free(c->in_snap);
    bft_buf_free(&c->buf);
    bft_buf_free(&c->rec);
    free(c);
}

static int raft_create(struct bft_core **out, const struct bft_core_config *cfg,
                       const struct bft_env *env, const struct bft_io *io)
{
    *out = NULL;
    if (cfg->n == 0 || cfg->n > BFT_MAX_REPLICAS || cfg->self >= cfg->n) return BFT_E_INVALID;
    if (cfg->batch_max == 0 || cfg->batch_max > BFT_BATCH_MAX_ENVELOPES) return BFT_E_INVALID;
    if (cfg->pipeline_max == 0 || cfg->request_timeout_ms < 10) return BFT_E_INVALID;
    struct bft_core *c = calloc(1, sizeof(*c));
    if (!c) return BFT_E_NOMEM;
    c->cfg = *cfg;
    c->env = *env;
    c->io = *io;
    c->n = cfg->n;
    c->self = cfg->self;
    c->maj = cfg->n / 2 + 1;
    c->elect_ms = cfg->request_timeout_ms;
    c->hb_ms = c->elect_ms / 10 ? c->elect_ms / 10 : 1;
    /* Lease = T minus the drift bound (docs/raft.md "Lease"). */
    c->lease_ms = c->elect_ms - c->elect_ms / 8;
    uint64_t k = cfg->checkpoint_interval ? cfg->checkpoint_interval : 64;
    c->compact_every = k * 16 < 2048 ? k * 16 : 2048;
    c->voted_for = RAFT_NONE;
    c->leader = RAFT_NONE;
    bft_timeout_init(&c->sticky, RAFT_TIMER_STICKY);
    /* The scratch buffers and the request tables start empty or small and
     * grow with use (docs/architecture.md "Bounds"). */
    if (raft_log_init(&c->log) != BFT_E_OK || raft_pending_init(c) != BFT_E_OK) {
        raft_destroy(c);
        return BFT_E_NOMEM;
    }
    /* Fires once WAL replay is over (the node replays before any event). */
    c->io.set_timer(c->io.ctx, RAFT_TIMER_START, 0);
    *out = c;
    return BFT_E_OK;
}

static void raft_status(const struct bft_core *c, struct bft_core_status *out)
{
    memset(out, 0, sizeof(*out));
    out->view = c->term;
    out->leader = c->leader;
    out->last_executed = c->applied;
    out->stable_checkpoint = c->snap_index;
    out->view_changes = c->view_changes;
    out->pending_requests = c->pend_count;
    out->in_view_change = c->role == RAFT_CANDIDATE || c->role == RAFT_PRECANDIDATE;
    out->is_leader = c->role == RAFT_LEADER;
}

/* ---- events ---- */

/* Decode the body (raft_wire.c) and hand the struct to its handler; a body
 * that does not decode is refused before any state is touched. */
static enum bft_reject raft_dispatch(struct bft_core *c, const struct bft_msg *m)
{
    enum bft_reject why = BFT_REJECT_MALFORMED; /* unknown type */
    union {
        struct raft_append ae;
        struct raft_append_resp ar;
        struct raft_vote rv;
        struct raft_vote_resp vr;
        struct raft_state_req sq;
        struct raft_state_resp ss;
    } u;
    switch (m->type) {
    case BFT_MSG_RAFT_APPEND:
        if ((why = raft_decode_append(m, &u.ae)) == BFT_REJECT_NONE)
            raft_on_append(c, m->sender, &u.ae);
        break;
    case BFT_MSG_RAFT_APPEND_RESP:
        if ((why = raft_decode_append_resp(m, &u.ar)) == BFT_REJECT_NONE)
            raft_on_append_resp(c, m->sender, &u.ar);
        break;
    case BFT_MSG_RAFT_VOTE:
        if ((why = raft_decode_vote(m, &u.rv)) == BFT_REJECT_NONE)
            raft_on_vote(c, m->sender, &u.rv);
        break;
    case BFT_MSG_RAFT_VOTE_RESP:
        if ((why = raft_decode_vote_resp(m, &u.vr)) == BFT_REJECT_NONE)
            raft_on_vote_resp(c, m->sender, &u.vr);
        break;
    case BFT_MSG_STATE_REQ:
        if ((why = raft_decode_state_req(m, &u.sq)) == BFT_REJECT_NONE)
            raft_on_state_req(c, m->sender, &u.sq);
        break;
    case BFT_MSG_STATE_RESP:
        if ((why = raft_decode_state_resp(m, &u.ss)) == BFT_REJECT_NONE)
            raft_on_state_resp(c, m->sender, &u.ss);
        break;
    default:
        break;
    }
    return why;
}

static void raft_on_message(struct bft_core *c, const struct bft_msg *m)
{
    raft_start(c);
    /* The node bound the sender; never index with it unchecked. */
    if (m->sender >= c->n || m->sender == c->self) {
        c->io.reject(c->io.ctx, BFT_REJECT_UNKNOWN_SENDER);
        return;
    }
    if (m->cluster_id != c->cfg.cluster_id) {
        c->io.reject(c->io.ctx, BFT_REJECT_WRONG_CLUSTER);
        return;
    }
    /* Terms grow by one per election: one near 2^64 is garbage, and
     * adopting it would wrap our next term. */
    if (m->view >= RAFT_TERM_MAX) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    enum bft_reject why = raft_dispatch(c, m);
    if (why != BFT_REJECT_NONE) c->io.reject(c->io.ctx, why);
}

static void raft_on_request_event(struct bft_core *c, const struct bft_msg *req)
{
    raft_start(c);
    raft_on_request(c, req);
}

static void raft_on_read_event(struct bft_core *c, const struct bft_msg *req)
{
    raft_start(c);
    raft_on_read(c, req);
}

static void raft_on_timer(struct bft_core *c, uint32_t timer)
{
    raft_start(c);
    if (timer >= RAFT_TIMER_LEASE_BASE && timer < RAFT_TIMER_LEASE_BASE + RAFT_LEASE_RING) {
        raft_on_lease_timer(c, timer - RAFT_TIMER_LEASE_BASE);
        return;
    }
    switch (timer) {
    case RAFT_TIMER_ELECTION:
        raft_on_election_timer(c);
        break;
    case RAFT_TIMER_HEARTBEAT:
        raft_on_heartbeat_timer(c);
        break;
    case RAFT_TIMER_STICKY:
        bft_timeout_fired(&c->sticky);
        break;
    case RAFT_TIMER_QUORUM:
        raft_on_quorum_timer(c);
        break;
    case RAFT_TIMER_STATE:
        raft_on_state_timer(c);
        break;
    default: /* RAFT_TIMER_START: raft_start above did the work */
        break;
    }
}

const struct bft_core_ops bft_raft_ops = {
    .name = "raft",
    .create = raft_create,
    .destroy = raft_destroy,
    .recover = raft_recover,
    .compact = raft_compact,
    .on_message = raft_on_message,
    .on_request = raft_on_request_event,
    .on_timer = raft_on_timer,
    .status = raft_status,
    .on_read = raft_on_read_event,
};
