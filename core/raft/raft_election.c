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
#include "wire/bytes.h"

static uint32_t popcount(uint32_t m)
{
    return (uint32_t)__builtin_popcount(m);
}

static void send_vote(struct bft_core *c, uint8_t kind, uint64_t term, uint64_t nonce)
{
    uint8_t body[17];
    body[0] = kind;
    wire_le_store(body + 1, raft_last_term(&c->log), 8);
    wire_le_store(body + 9, nonce, 8);
    struct bft_msg m = {.type = BFT_MSG_RAFT_VOTE,
                        .view = term,
                        .seq = c->log.last,
                        .body = body,
                        .body_len = sizeof body};
    c->io.broadcast(c->io.ctx, &m);
}

/* A vote reply carries max(term, vote floor): a candidate refused because
 * of our floor learns a term to go above. A probe reply carries the plain
 * current term (the prober computes its own floor from it). */
static void send_vote_resp(struct bft_core *c, uint32_t to, uint8_t kind, bool granted,
                           uint64_t asked, uint64_t nonce)
{
    uint8_t body[18];
    body[0] = kind;
    body[1] = granted ? 1 : 0;
    wire_le_store(body + 2, asked, 8);
    wire_le_store(body + 10, nonce, 8);
    uint64_t view = c->term;
    if (kind != RAFT_VOTE_PROBE && c->vote_floor > view) view = c->vote_floor;
    struct bft_msg m = {
        .type = BFT_MSG_RAFT_VOTE_RESP, .view = view, .body = body, .body_len = sizeof body};
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
    if (c->term > 0) {
        c->sticky = true;
        c->io.set_timer(c->io.ctx, RAFT_TIMER_STICKY, c->elect_ms);
    }
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
    c->term = (c->term > c->vote_floor ? c->term : c->vote_floor) + 1;
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

void raft_on_vote(struct bft_core *c, const struct bft_msg *m)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    uint8_t kind = wire_get_u8(&r);
    uint64_t last_term = wire_get_u64(&r);
    uint64_t nonce = wire_get_u64(&r);
    if (r.err || wire_rd_left(&r) != 0 || kind < RAFT_VOTE_REAL || kind > RAFT_VOTE_PROBE ||
        (kind != RAFT_VOTE_PROBE && (nonce != 0 || m->view == 0))) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    if (kind == RAFT_VOTE_PROBE) {
        send_vote_resp(c, m->sender, kind, false, m->view, nonce);
        return;
    }
    bool ok_log = up_to_date(c, m->seq, last_term);
    /* Heard from a live leader within T (or we are it): refuse, and do not
     * let the request move our term (diss. §4.2.3). */
    if (c->sticky || raft_is_leader(c)) {
        send_vote_resp(c, m->sender, kind, false, m->view, 0);
        return;
    }
    if (kind == RAFT_VOTE_PRE) {
        /* Never change our term for a pre-vote (diss. §9.6). */
        bool grant = c->anchored && m->view > c->term && m->view > c->vote_floor && ok_log;
        send_vote_resp(c, m->sender, kind, grant, m->view, 0);
        return;
    }
    if (m->view < c->term) {
        c->io.reject(c->io.ctx, BFT_REJECT_STALE_VIEW);
        send_vote_resp(c, m->sender, kind, false, m->view, 0);
        return;
    }
    if (m->view > c->term) raft_become_follower(c, m->view, RAFT_NONE);
    bool grant = c->anchored && m->view > c->vote_floor && ok_log &&
                 (c->voted_for == RAFT_NONE || c->voted_for == m->sender);
    if (grant) {
        /* Durable before the reply leaves (the node orders persists first). */
        if (c->voted_for != m->sender) {
            c->voted_for = m->sender;
            raft_persist_hard(c);
        }
        raft_reset_election_timer(c);
    }
    send_vote_resp(c, m->sender, kind, grant, m->view, 0);
}

void raft_on_vote_resp(struct bft_core *c, const struct bft_msg *m)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    uint8_t kind = wire_get_u8(&r);
    uint8_t granted = wire_get_u8(&r);
    uint64_t asked = wire_get_u64(&r);
    uint64_t nonce = wire_get_u64(&r);
    if (r.err || wire_rd_left(&r) != 0 || kind < RAFT_VOTE_REAL || kind > RAFT_VOTE_PROBE ||
        granted > 1 || (kind == RAFT_VOTE_PROBE && granted)) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    uint32_t bit = 1u << m->sender;
    if (kind == RAFT_VOTE_PROBE) {
        if (c->anchored || nonce != c->probe_nonce || nonce == 0) return;
        c->probe_mask |= bit;
        if (m->view > c->probe_max) c->probe_max = m->view;
        if (popcount(c->probe_mask) < c->n - c->maj + 1) return;
        c->probe_done = true;
        c->probe_nonce = 0; /* this round is complete */
        if (c->probe_max > c->vote_floor) c->vote_floor = c->probe_max;
        if (c->probe_max == 0 || c->leader_anchor_ok)
            anchor(c);
        else
            raft_persist_hard(c);
        return;
    }
    if (m->view > c->term) {
        raft_become_follower(c, m->view, RAFT_NONE);
        return;
    }
    if (!granted) return;
    if (kind == RAFT_VOTE_PRE) {
        if (c->role != RAFT_PRECANDIDATE || asked != c->pre_term) return;
        c->votes |= bit;
        if (popcount(c->votes) >= c->maj) start_election(c);
        return;
    }
    if (c->role != RAFT_CANDIDATE || asked != c->term || m->view != c->term) return;
    c->votes |= bit;
    if (popcount(c->votes) >= c->maj) raft_become_leader(c);
}
