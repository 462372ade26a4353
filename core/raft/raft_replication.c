/* Log replication (§5.3), commitment (§5.3, §5.4.2) and application.
 *
 * The leader keeps nextIndex/matchIndex per follower and a replication
 * state after etcd's Progress: PROBE sends one AppendEntries at a time
 * until the follower's log matches; REPLICATE pipelines entries without
 * waiting for acks (at most RAFT_INFLIGHT_MAX unacked entries). A rejected
 * append carries a conflict hint (term of the conflicting entry and the
 * first index of that term, or the follower's last index + 1) so the leader
 * skips a whole term per round trip instead of one entry (§5.3, "the
 * protocol can be optimized to reduce the number of rejected AppendEntries").
 * Every heartbeat round retransmits what a follower has not acked since the
 * previous round, so loss only costs a round.
 *
 * Entries commit when stored on a majority and of the current term
 * (§5.4.2, Figure 8); a new leader appends a no-op so earlier entries
 * commit (diss. §3.6.2). The log index is the execution seq. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/raft/raft_internal.h"
#include "wire/bytes.h"

enum { SEND_NEW = 0, SEND_ALWAYS = 1, SEND_HEARTBEAT = 2 };

/* How many entries after prev go in one append to pr, adding their bytes
 * to *need: at most RAFT_APPEND_ENTRIES_MAX, within BFT_BODY_MAX, and in
 * REPLICATE at most RAFT_INFLIGHT_MAX past what it acked. */
static uint32_t entries_that_fit(const struct bft_core *c, const struct raft_progress *pr,
                                 uint64_t prev, size_t *need)
{
    uint32_t k = 0;
    for (uint64_t i = prev + 1; i <= c->log.last && k < RAFT_APPEND_ENTRIES_MAX; i++) {
        if (pr->state == RAFT_REPLICATE && raft_inflight(pr, i) > RAFT_INFLIGHT_MAX) break;
        const struct raft_entry *e = raft_log_at(&c->log, i);
        if (*need + RAFT_ENTRY_HDR + e->len > BFT_BODY_MAX) break;
        *need += RAFT_ENTRY_HDR + e->len;
        k++;
    }
    return k;
}

/* Encode the append into c->buf (sized to need) and send it to p. */
static bool put_append(struct bft_core *c, uint32_t p, const struct raft_append *a, size_t need)
{
    /* Memory short: the append is not sent, as if lost; the next
     * heartbeat round retransmits (docs/architecture.md "Bounds"). */
    if (!bft_buf_reserve(&c->buf, need, BFT_BODY_MAX)) return false;
    struct wire_wr w;
    wire_wr_init(&w, c->buf.p, c->buf.cap);
    raft_put_append_head(&w, a);
    for (uint64_t i = a->prev_index + 1; i <= a->prev_index + a->count; i++) {
        const struct raft_entry *e = raft_log_at(&c->log, i);
        struct raft_entry_ref ref = {.term = e->term, .len = e->len, .batch = e->batch};
        raft_put_entry(&w, &ref);
    }
    assert(!w.err && w.len == need);
    struct bft_msg m;
    raft_append_msg(a, &w, &m);
    /* §10.2.1: the leader's own write of these entries need not precede
     * sending them; it counts itself in a later step, after the sync. */
    if (c->io.send_ahead)
        c->io.send_ahead(c->io.ctx, p, &m);
    else
        c->io.send(c->io.ctx, p, &m);
    return true;
}

static void send_entries(struct bft_core *c, uint32_t p, int mode)
{
    struct raft_progress *pr = &c->prog[p];
    if (pr->next < c->log.start) {
        /* The entries it needs are compacted: InstallSnapshot (§7). The
         * first chunk is pushed once per round; the follower pulls the rest. */
        if (!pr->snap_pushed) {
            pr->snap_pushed = true;
            raft_send_snapshot(c, p, 0);
        }
        return;
    }
    if (mode == SEND_NEW && (pr->paused || pr->next > c->log.last)) return;
    struct raft_append a = {.term = c->term,
                            .prev_index = pr->next - 1,
                            .commit = c->commit,
                            .round = c->round,
                            .anchor = pr->anchor_boot != 0,
                            .boot_id = pr->anchor_boot,
                            .anchor_index = pr->anchor_index};
    if (mode == SEND_HEARTBEAT) {
        /* Entries are in flight and progressing: prove liveness against
         * what is known to match, so reordering cannot cause a reject. */
        a.prev_index = pr->match + 1 >= c->log.start ? pr->match : c->log.start - 1;
    }
    bool known = raft_log_term(&c->log, a.prev_index, &a.prev_term);
    assert(known); /* prev_index >= start - 1: its term is held */
    (void)known;
    size_t need = raft_append_head_len(a.anchor);
    a.count = mode == SEND_HEARTBEAT ? 0 : entries_that_fit(c, pr, a.prev_index, &need);
    if (mode == SEND_NEW && a.count == 0) return;
    if (!put_append(c, p, &a, need)) return;
    if (pr->state == RAFT_PROBE)
        pr->paused = true; /* one probe at a time */
    else if (a.count)
        pr->next = a.prev_index + a.count + 1;
}

void raft_send_append(struct bft_core *c, uint32_t p, bool tick)
{
    send_entries(c, p, tick ? SEND_ALWAYS : SEND_NEW);
}

void raft_broadcast_append(struct bft_core *c)
{
    for (uint32_t p = 0; p < c->n; p++)
        if (p != c->self) send_entries(c, p, SEND_ALWAYS);
}

void raft_progress_reset(struct raft_progress *pr, uint64_t next)
{
    *pr = (struct raft_progress){.next = next, .state = RAFT_PROBE};
}

void raft_become_leader(struct bft_core *c)
{
    c->role = RAFT_LEADER;
    c->votes = 0;
    raft_note_leader(c, c->self);
    c->io.cancel_timer(c->io.ctx, RAFT_TIMER_ELECTION);
    for (uint32_t p = 0; p < c->n; p++)
        raft_progress_reset(&c->prog[p], c->log.last + 1);
    c->term_round = c->round + 1;
    c->confirmed_round = c->round;
    c->lease_expired = c->round;
    /* §5.4.2 / diss. §3.6.2: a no-op of the new term commits the past. */
    if (!raft_leader_append(c, NULL, 0)) {
        raft_become_follower(c, c->term, RAFT_NONE);
        return;
    }
    c->term_first = c->log.last;
    raft_round_start(c);
    raft_broadcast_append(c);
    c->io.set_timer(c->io.ctx, RAFT_TIMER_HEARTBEAT, c->hb_ms);
    c->io.set_timer(c->io.ctx, RAFT_TIMER_QUORUM, c->elect_ms);
    raft_advance_commit(c);
    raft_propose(c); /* requests held while the election was on */
}

/* Fig. 2 "Rules for Servers", leaders: idle periods get heartbeats, and
 * each round resends what a follower has not acked since the last one. */
void raft_on_heartbeat_timer(struct bft_core *c)
{
    if (!raft_is_leader(c)) return;
    c->io.set_timer(c->io.ctx, RAFT_TIMER_HEARTBEAT, c->hb_ms);
    raft_round_start(c);
    for (uint32_t p = 0; p < c->n; p++) {
        if (p == c->self) continue;
        struct raft_progress *pr = &c->prog[p];
        pr->paused = false;
        pr->snap_pushed = false;
        int mode = SEND_ALWAYS;
        if (pr->state == RAFT_REPLICATE && pr->next - 1 > pr->match) {
            if (pr->match == pr->match_at_tick)
                pr->next = pr->match + 1; /* no ack for a round: resend */
            else
                mode = SEND_HEARTBEAT;
        }
        pr->match_at_tick = pr->match;
        send_entries(c, p, mode);
    }
}

/* Check-quorum (diss. §6.2): a leader that has not heard from a majority
 * for a whole election timeout steps down, so a partitioned leader stops
 * taking requests and clients move on. */
void raft_on_quorum_timer(struct bft_core *c)
{
    if (!raft_is_leader(c)) return;
    uint32_t active = 1; /* ourselves */
    for (uint32_t p = 0; p < c->n; p++)
        if (p != c->self && c->prog[p].recent_active) active++;
    if (active < c->maj) {
        raft_become_follower(c, c->term, RAFT_NONE);
        return;
    }
    for (uint32_t p = 0; p < c->n; p++)
        c->prog[p].recent_active = false;
    c->io.set_timer(c->io.ctx, RAFT_TIMER_QUORUM, c->elect_ms);
}

/* A reply echoes the heartbeat round its append carried (raft_read.c). */
static void note_round(struct bft_core *c, struct raft_progress *pr, uint64_t round)
{
    if (round > pr->acked_round && round <= c->round && round >= c->term_round) {
        pr->acked_round = round;
        raft_round_acked(c);
    }
}

/* Disk-loss guard (raft_election.c): a FRESH replier's anchor is our last
 * index as of now, which is after it restarted. Refreshed on every such
 * ack, so an anchor from an earlier incarnation never lingers; true (send
 * it again) only when it moved, so this cannot ping-pong. */
static bool note_anchor(struct bft_core *c, struct raft_progress *pr,
                        const struct raft_append_resp *a)
{
    if (!a->fresh) {
        pr->anchor_boot = 0;
        return false;
    }
    bool moved = pr->anchor_boot != a->boot_id || pr->anchor_index != c->log.last;
    pr->anchor_boot = a->boot_id;
    pr->anchor_index = c->log.last;
    return moved;
}

/* Success (Fig. 2): matchIndex and nextIndex move up; the follower's log
 * matches ours, so it leaves PROBE and entries pipeline. */
static void on_ack(struct bft_core *c, uint32_t p, uint64_t match, bool anchor_new)
{
    struct raft_progress *pr = &c->prog[p];
    if (match > c->log.last) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED); /* acks what we never sent */
        return;
    }
    if (match > pr->match) pr->match = match;
    if (pr->next < match + 1) pr->next = match + 1;
    pr->state = RAFT_REPLICATE;
    pr->paused = false;
    raft_advance_commit(c);
    if (!raft_is_leader(c)) return;
    send_entries(c, p, anchor_new ? SEND_ALWAYS : SEND_NEW);
}

/* Failure: decrement nextIndex and retry (Fig. 2), skipping the follower's
 * whole conflicting term at once (fast back-off, §5.3). */
static void on_nack(struct bft_core *c, uint32_t p, const struct raft_append_resp *a)
{
    struct raft_progress *pr = &c->prog[p];
    uint64_t nn = a->conflict_index;
    if (a->conflict_term) {
        uint64_t li = raft_log_last_of_term(&c->log, a->conflict_term);
        if (li) nn = li + 1;
    }
    if (nn > c->log.last + 1) nn = c->log.last + 1;
    if (nn <= pr->match) {
        /* matchIndex only moves back for a replica that lost its disk
         * (its acks are void); for others this is a reordered reject. */
        if (a->fresh)
            pr->match = nn - 1;
        else
            nn = pr->match + 1;
    }
    if (pr->state == RAFT_REPLICATE && nn >= pr->next) return; /* stale reject */
    pr->next = nn;
    pr->state = RAFT_PROBE;
    pr->paused = false;
    send_entries(c, p, SEND_ALWAYS);
}

void raft_on_append_resp(struct bft_core *c, uint32_t from, const struct raft_append_resp *a)
{
    if (a->term > c->term) {
        raft_become_follower(c, a->term, RAFT_NONE);
        return;
    }
    if (!raft_is_leader(c) || a->term < c->term) return; /* stale */
    struct raft_progress *pr = &c->prog[from];
    pr->recent_active = true;
    note_round(c, pr, a->round);
    bool anchor_new = note_anchor(c, pr, a);
    if (a->success)
        on_ack(c, from, a->match, anchor_new);
    else
        on_nack(c, from, a);
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

void raft_advance_commit(struct bft_core *c)
{
    if (!raft_is_leader(c)) return;
    uint64_t v[BFT_MAX_REPLICAS];
    for (uint32_t p = 0; p < c->n; p++)
        v[p] = p == c->self ? c->log.last : c->prog[p].match;
    qsort(v, c->n, sizeof v[0], cmp_desc);
    uint64_t nidx = v[c->maj - 1], t = 0;
    /* §5.4.2: only entries of the current term commit by counting. */
    if (nidx <= c->commit || !raft_log_term(&c->log, nidx, &t) || t != c->term) return;
    raft_commit_to(c, nidx);
    raft_apply(c);
    raft_propose(c);
}

void raft_apply(struct bft_core *c)
{
    assert(c->applied <= c->commit); /* Fig. 2: lastApplied <= commitIndex */
    while (c->applied < c->commit && !raft_need_state(c)) {
        uint64_t idx = c->applied + 1;
        const struct raft_entry *e = raft_log_at(&c->log, idx);
        assert(e);
        bft_digest d;
        memset(&d, 0, sizeof d);
        if (e->len) bft_batch_digest(e->batch, e->len, &d);
        c->applied = idx;
        c->io.execute(c->io.ctx, idx, e->term, e->len ? e->batch : NULL, e->len, &d, NULL);
    }
    if (c->started && c->commit >= c->commit_hint + 32) raft_persist_commit(c);
    raft_maybe_compact(c, false);
    if (raft_is_leader(c)) raft_reads_serve(c);
}
