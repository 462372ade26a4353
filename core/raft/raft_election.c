/* Leader election (§5.2, §5.4.1) with pre-vote (diss. §9.6) and leader
 * stickiness (diss. §4.2.3), plus a guard for replicas that restart
 * without their disk.
 *
 * Pre-vote: a replica whose election timer fires first asks whether it
 * could win (term + 1, its last log index/term) without touching anyone's
 * term; only with a majority of yes does it increment its term and run a
 * real election. A replica that was partitioned away therefore does not
 * come back with an inflated term and depose a healthy leader.
 *
 * Stickiness: a replica that heard from a current leader less than the
 * minimum election timeout T ago refuses votes and pre-votes without
 * updating its term. This is also what makes the leader lease safe
 * (raft_read.c): no new leader can be elected until T after a majority
 * last acked the old one.
 *
 * Disk-loss guard: Raft assumes stable storage. A replica that starts with
 * no WAL cannot tell a first boot from a lost disk, and after a lost disk
 * it could vote twice in a term or help elect a leader that lacks an entry
 * it had acknowledged. So it starts un-anchored: it neither votes nor
 * campaigns until (1) a probe answered by n - maj + 1 other replicas gave
 * it a vote floor (every term in which it might have voted is <= the
 * highest term they report: a winning quorum holding its old vote
 * intersects any n - maj + 1 others), and (2) either all of them reported
 * term 0 (no leader ever existed: nothing was ever acknowledged), or a
 * leader's anchor handshake brought its log up to that leader's last index
 * as seen after the restart (raft_replication.c), so it again holds every
 * entry that may be committed. Both facts then hold forever (WAL). Until
 * then it probes again at every election timeout; vote replies carry
 * max(term, floor) so candidates learn to campaign above the floor. */
#include <string.h>

#include "core/raft/raft_internal.h"

static uint32_t popcount(uint32_t m)
{
    return (uint32_t)__builtin_popcount(m);
}

static void send_vote(struct bft_core *c, uint8_t kind, uint64_t term, uint64_t nonce)
{
    struct raft_vote v = {.term = term,
                          .kind = kind,
                          .last_index = c->log.last,
                          .last_term = raft_last_term(&c->log),
                          .nonce = nonce};
    uint8_t body[RAFT_VOTE_LEN];
    struct bft_msg m;
    raft_encode_vote(&v, body, &m);
    c->io.broadcast(c->io.ctx, &m);
}

/* A vote reply carries max(term, vote floor): a candidate refused because
 * of our floor learns a term to go above. A probe reply carries the plain
 * current term (the prober computes its own floor from it). */
static void send_vote_resp(struct bft_core *c, uint32_t to, uint8_t kind, bool granted,
                           uint64_t asked, uint64_t nonce)
{
    uint64_t view = c->term;
    if (kind != RAFT_VOTE_PROBE && c->vote_floor > view) view = c->vote_floor;
    struct raft_vote_resp v = {
        .term = view, .kind = kind, .granted = granted, .asked_term = asked, .nonce = nonce};
    uint8_t body[RAFT_VOTE_RESP_LEN];
    struct bft_msg m;
    raft_encode_vote_resp(&v, body, &m);
    c->io.send(c->io.ctx, to, &m);
}

static void anchor(struct bft_core *c)
{
    if (c->anchored) return;
    c->anchored = true;
    raft_persist_hard(c);
}

void raft_anchor_check(struct bft_core *c)
{
    c->leader_anchor_ok = true;
    if (c->probe_done) anchor(c);
}

/* One probe round; an un-anchored replica starts a new one at every
 * election timeout until it is anchored. Each round stands alone (fresh
 * nonce, fresh answers), so a round in which n - maj + 1 others all report
 * term 0 proves no leader ever existed, whatever earlier rounds said. */
static void probe(struct bft_core *c)
{
    if (c->anchored) return;
    /* The nonce derives from this incarnation's boot id: answers carrying
     * it were produced after we restarted. */
    c->probe_round++;
    c->probe_nonce = c->boot_id + c->probe_round;
    c->probe_mask = 0;
    c->probe_max = 0;
    send_vote(c, RAFT_VOTE_PROBE, c->term, c->probe_nonce);
}

void raft_start(struct bft_core *c)
{
    if (c->started) return;
    c->started = true;
    c->boot_id = c->env.random(c->env.ctx) | 1;
    /* A replica restarted from its WAL (it has seen a term) does not know
     * when it last heard from a leader, which may still hold a lease that
     * counts on our refusal: refuse votes for one election timeout (diss.
     * §4.2.3, §6.4.1). A new replica has heard from nobody; one that lost
     * its disk does not vote until anchored anyway. */
    if (c->term > 0) bft_timeout_restart(&c->sticky, &c->io, c->elect_ms);
    if (c->n == 1 && !c->anchored) {
        c->anchored = true; /* nobody to lose state to */
        raft_persist_hard(c);
    }
    raft_apply(c);
    raft_reset_election_timer(c);
    if (!c->anchored) probe(c);
    if (raft_need_state(c)) raft_request_state(c);
}

static void start_election(struct bft_core *c)
{
    /* §5.2: increment the term, vote for self, persist, ask everyone. */
    raft_set_term(c, (c->term > c->vote_floor ? c->term : c->vote_floor) + 1);
    c->voted_for = c->self;
    c->role = RAFT_CANDIDATE;
    c->leader = RAFT_NONE;
    c->votes = 1u << c->self;
    raft_persist_hard(c);
    raft_reset_election_timer(c);
    if (popcount(c->votes) >= c->maj) {
        raft_become_leader(c);
        return;
    }
    send_vote(c, RAFT_VOTE_REAL, c->term, 0);
}

static void start_prevote(struct bft_core *c)
{
    c->role = RAFT_PRECANDIDATE;
    c->leader = RAFT_NONE;
    c->pre_term = (c->term > c->vote_floor ? c->term : c->vote_floor) + 1;
    c->votes = 1u << c->self;
    if (popcount(c->votes) >= c->maj) {
        start_election(c);
        return;
    }
    send_vote(c, RAFT_VOTE_PRE, c->pre_term, 0);
}

void raft_on_election_timer(struct bft_core *c)
{
    if (raft_is_leader(c)) return;
    raft_reset_election_timer(c);
    if (!c->anchored) {
        probe(c);
        return;
    }
    start_prevote(c);
}

/* §5.4.1: the candidate's log is at least as up-to-date as ours. */
static bool up_to_date(const struct bft_core *c, uint64_t last_index, uint64_t last_term)
{
    uint64_t mine = raft_last_term(&c->log);
    return last_term > mine || (last_term == mine && last_index >= c->log.last);
}

/* RequestVote receiver (Fig. 2), with pre-vote and probes. */
void raft_on_vote(struct bft_core *c, uint32_t from, const struct raft_vote *v)
{
    if (v->kind == RAFT_VOTE_PROBE) {
        send_vote_resp(c, from, v->kind, false, v->term, v->nonce);
        return;
    }
    bool ok_log = up_to_date(c, v->last_index, v->last_term);
    /* Heard from a live leader within T (or we are it): refuse, and do not
     * let the request move our term (diss. §4.2.3). */
    if (c->sticky.armed || raft_is_leader(c)) {
        send_vote_resp(c, from, v->kind, false, v->term, 0);
        return;
    }
    if (v->kind == RAFT_VOTE_PRE) {
        /* Never change our term for a pre-vote (diss. §9.6). */
        bool grant = c->anchored && v->term > c->term && v->term > c->vote_floor && ok_log;
        send_vote_resp(c, from, v->kind, grant, v->term, 0);
        return;
    }
    if (v->term < c->term) {
        c->io.reject(c->io.ctx, BFT_REJECT_STALE_VIEW);
        send_vote_resp(c, from, v->kind, false, v->term, 0);
        return;
    }
    if (v->term > c->term) raft_become_follower(c, v->term, RAFT_NONE);
    /* §5.2: at most one vote per term, first come first served. */
    bool grant = c->anchored && v->term > c->vote_floor && ok_log &&
                 (c->voted_for == RAFT_NONE || c->voted_for == from);
    if (grant) {
        /* Durable before the reply leaves (the node orders persists first). */
        if (c->voted_for != from) {
            c->voted_for = from;
            raft_persist_hard(c);
        }
        raft_reset_election_timer(c);
    }
    send_vote_resp(c, from, v->kind, grant, v->term, 0);
}

/* A probe answer for the current round: enough of them give the vote
 * floor, and maybe the anchor (see the top of this file). */
static void on_probe_resp(struct bft_core *c, uint32_t from, const struct raft_vote_resp *v)
{
    if (c->anchored || v->nonce != c->probe_nonce || v->nonce == 0) return;
    c->probe_mask |= 1u << from;
    if (v->term > c->probe_max) c->probe_max = v->term;
    if (popcount(c->probe_mask) < c->n - c->maj + 1) return;
    c->probe_done = true;
    c->probe_nonce = 0; /* this round is complete */
    if (c->probe_max > c->vote_floor) c->vote_floor = c->probe_max;
    if (c->probe_max == 0 || c->leader_anchor_ok)
        anchor(c);
    else
        raft_persist_hard(c);
}

void raft_on_vote_resp(struct bft_core *c, uint32_t from, const struct raft_vote_resp *v)
{
    uint32_t bit = 1u << from;
    if (v->kind == RAFT_VOTE_PROBE) {
        on_probe_resp(c, from, v);
        return;
    }
    if (v->term > c->term) {
        raft_become_follower(c, v->term, RAFT_NONE);
        return;
    }
    if (!v->granted) return;
    if (v->kind == RAFT_VOTE_PRE) {
        if (c->role != RAFT_PRECANDIDATE || v->asked_term != c->pre_term) return;
        c->votes |= bit;
        if (popcount(c->votes) >= c->maj) start_election(c);
        return;
    }
    /* §5.2: a candidate with votes from a majority becomes leader. */
    if (c->role != RAFT_CANDIDATE || v->asked_term != c->term || v->term != c->term) return;
    c->votes |= bit;
    if (popcount(c->votes) >= c->maj) raft_become_leader(c);
}
