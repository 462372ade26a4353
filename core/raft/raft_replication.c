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

static uint32_t popcount(uint32_t m)
{
    return (uint32_t)__builtin_popcount(m);
}

static void send_entries(struct bft_core *c, uint32_t p, int mode)
{
    if (c->next[p] < c->log.start) {
        /* The entries it needs are compacted: InstallSnapshot (§7). The
         * first chunk is pushed once per round; the follower pulls the rest. */
        if (!c->snap_pushed[p]) {
            c->snap_pushed[p] = true;
            raft_send_snapshot(c, p, 0);
        }
        return;
    }
    if (mode == SEND_NEW && (c->paused[p] || c->next[p] > c->log.last)) return;
    uint64_t prev = c->next[p] - 1;
    if (mode == SEND_HEARTBEAT) {
        /* Entries are in flight and progressing: prove liveness against
         * what is known to match, so reordering cannot cause a reject. */
        prev = c->match[p] + 1 >= c->log.start ? c->match[p] : c->log.start - 1;
    }
    uint64_t prev_term = 0;
    bool known = raft_log_term(&c->log, prev, &prev_term);
    assert(known);
    (void)known;
    bool anchor = c->anchor_boot[p] != 0;
    /* Size the body first (the entries that fit in BFT_BODY_MAX), then grow
     * the scratch to it (docs/architecture.md "Bounds"). */
    size_t need = 1 + 8 + 8 + 8 + (anchor ? 16 : 0) + 4;
    uint32_t k = 0;
    for (uint64_t i = prev + 1; mode != SEND_HEARTBEAT && i <= c->log.last; i++) {
        if (k == RAFT_APPEND_ENTRIES_MAX) break;
        if (c->pstate[p] == RAFT_REPLICATE && i - c->match[p] > RAFT_INFLIGHT_MAX) break;
        const struct raft_entry *e = raft_log_at(&c->log, i);
        if (need + RAFT_ENTRY_HDR + e->len > BFT_BODY_MAX) break;
        need += RAFT_ENTRY_HDR + e->len;
        k++;
    }
    if (mode == SEND_NEW && k == 0) return;
    /* Memory short: the append is not sent, as if lost; the next
     * heartbeat round retransmits. */
    if (!bft_buf_reserve(&c->buf, need, BFT_BODY_MAX)) return;
    struct wire_wr w;
    wire_wr_init(&w, c->buf.p, c->buf.cap);
    wire_put_u8(&w, anchor ? RAFT_AE_ANCHOR : 0);
    wire_put_u64(&w, prev_term);
    wire_put_u64(&w, c->commit);
    wire_put_u64(&w, c->round);
    if (anchor) {
        wire_put_u64(&w, c->anchor_boot[p]);
        wire_put_u64(&w, c->anchor_idx[p]);
    }
    wire_put_u32(&w, k);
    for (uint64_t i = prev + 1; i <= prev + k; i++) {
        const struct raft_entry *e = raft_log_at(&c->log, i);
        wire_put_u64(&w, e->term);
        wire_put_u32(&w, e->len);
        wire_put_bytes(&w, e->batch, e->len);
    }
    assert(!w.err && w.len == need);
    struct bft_msg m = {.type = BFT_MSG_RAFT_APPEND,
                        .view = c->term,
                        .seq = prev,
                        .body = c->buf.p,
                        .body_len = (uint32_t)w.len};
    c->io.send(c->io.ctx, p, &m);
    if (c->pstate[p] == RAFT_PROBE)
        c->paused[p] = true; /* one probe at a time */
    else if (k)
        c->next[p] = prev + k + 1;
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

void raft_become_leader(struct bft_core *c)
{
    c->role = RAFT_LEADER;
    c->votes = 0;
    raft_note_leader(c, c->self);
    c->io.cancel_timer(c->io.ctx, RAFT_TIMER_ELECTION);
    for (uint32_t p = 0; p < c->n; p++) {
        c->next[p] = c->log.last + 1;
        c->match[p] = 0;
        c->pstate[p] = RAFT_PROBE;
        c->paused[p] = false;
        c->match_at_tick[p] = 0;
        c->acked_round[p] = 0;
        c->anchor_boot[p] = 0;
        c->snap_pushed[p] = false;
    }
    c->heard = 0;
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
}

void raft_on_heartbeat_timer(struct bft_core *c)
{
    if (!raft_is_leader(c)) return;
    c->io.set_timer(c->io.ctx, RAFT_TIMER_HEARTBEAT, c->hb_ms);
    raft_round_start(c);
    for (uint32_t p = 0; p < c->n; p++) {
        if (p == c->self) continue;
        c->paused[p] = false;
        c->snap_pushed[p] = false;
        int mode = SEND_ALWAYS;
        if (c->pstate[p] == RAFT_REPLICATE && c->next[p] - 1 > c->match[p]) {
            if (c->match[p] == c->match_at_tick[p])
                c->next[p] = c->match[p] + 1; /* no ack for a round: resend */
            else
                mode = SEND_HEARTBEAT;
        }
        c->match_at_tick[p] = c->match[p];
        send_entries(c, p, mode);
    }
}

/* Check-quorum (diss. §6.2): a leader that has not heard from a majority
 * for a whole election timeout steps down, so a partitioned leader stops
 * taking requests and clients move on. */
void raft_on_quorum_timer(struct bft_core *c)
{
    if (!raft_is_leader(c)) return;
    if (popcount(c->heard) + 1 < c->maj) {
        raft_become_follower(c, c->term, RAFT_NONE);
        return;
    }
    c->heard = 0;
    c->io.set_timer(c->io.ctx, RAFT_TIMER_QUORUM, c->elect_ms);
}

void raft_send_append_resp(struct bft_core *c, uint32_t to, bool ok, uint64_t match, uint64_t round,
                           uint64_t cterm, uint64_t cindex)
{
    uint8_t body[1 + 8 * 4];
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    bool fresh = !c->anchored;
    wire_put_u8(&w, (uint8_t)((ok ? RAFT_AR_SUCCESS : 0) | (fresh ? RAFT_AR_FRESH : 0)));
    wire_put_u64(&w, round);
    wire_put_u64(&w, cterm);
    wire_put_u64(&w, cindex);
    if (fresh) wire_put_u64(&w, c->boot_id);
    assert(!w.err);
    struct bft_msg m = {.type = BFT_MSG_RAFT_APPEND_RESP,
                        .view = c->term,
                        .seq = ok ? match : 0,
                        .body = body,
                        .body_len = (uint32_t)w.len};
    c->io.send(c->io.ctx, to, &m);
}

/* A batch must be framed as client REQUESTs (the node re-checks and skips
 * anything else at execution; this only keeps junk out of the log). */
static bool batch_ok(const uint8_t *b, uint32_t len)
{
    if (len == 0) return true;
    struct bft_batch_iter it;
    if (bft_batch_iter_init(&it, b, len) != BFT_E_OK) return false;
    const uint8_t *raw;
    size_t rlen;
    while (bft_batch_iter_next(&it, &raw, &rlen)) {
        struct bft_msg req;
        if (bft_msg_decode(raw, rlen, &req) != BFT_E_OK || req.type != BFT_MSG_REQUEST ||
            req.payload_len != 0)
            return false;
    }
    return true;
}

struct append_in {
    uint8_t flags;
    uint64_t prev, prev_term, commit, round, boot, anchor;
    uint32_t count;
    struct wire_rd entries;
};

static bool parse_append(const struct bft_msg *m, struct append_in *a)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    a->prev = m->seq;
    a->flags = wire_get_u8(&r);
    a->prev_term = wire_get_u64(&r);
    a->commit = wire_get_u64(&r);
    a->round = wire_get_u64(&r);
    a->boot = a->anchor = 0;
    if (a->flags & RAFT_AE_ANCHOR) {
        a->boot = wire_get_u64(&r);
        a->anchor = wire_get_u64(&r);
    }
    a->count = wire_get_u32(&r);
    if (r.err || (a->flags & ~RAFT_AE_ANCHOR) || a->count > RAFT_APPEND_ENTRIES_MAX ||
        m->view == 0 || a->prev > UINT64_MAX - RAFT_APPEND_ENTRIES_MAX - 1 ||
        a->prev_term > m->view)
        return false;
    a->entries = r;
    /* Validate every entry before acting on any. */
    uint64_t t_prev = a->prev_term;
    for (uint32_t i = 0; i < a->count; i++) {
        uint64_t t = wire_get_u64(&r);
        uint32_t len = wire_get_u32(&r);
        const uint8_t *b = len ? wire_get_ptr(&r, len) : NULL;
        if (r.err || len > RAFT_ENTRY_MAX || t < t_prev || t > m->view || !batch_ok(b, len))
            return false;
        t_prev = t;
    }
    return wire_rd_left(&r) == 0;
}

void raft_on_append(struct bft_core *c, const struct bft_msg *m)
{
    struct append_in a;
    if (!parse_append(m, &a)) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    if (m->view < c->term) {
        /* A deposed leader's late append: the term is the fencing token. */
        c->io.reject(c->io.ctx, BFT_REJECT_STALE_VIEW);
        raft_send_append_resp(c, m->sender, false, 0, a.round, 0, c->log.last + 1);
        return;
    }
    if (m->view == c->term && raft_is_leader(c)) {
        c->io.reject(c->io.ctx, BFT_REJECT_EQUIVOCATION); /* two leaders in a term */
        return;
    }
    if (m->view > c->term || c->role != RAFT_FOLLOWER || c->leader != m->sender)
        raft_become_follower(c, m->view, m->sender);
    else
        raft_reset_election_timer(c);
    c->sticky = true;
    c->io.set_timer(c->io.ctx, RAFT_TIMER_STICKY, c->elect_ms);

    uint64_t prev = a.prev, prev_term = a.prev_term;
    struct wire_rd r = a.entries;
    uint32_t left = a.count;
    /* Entries at or below start - 1 are committed and compacted here, so
     * they match the leader's: skip them (diss. §5.1). */
    while (prev + 1 < c->log.start && left) {
        prev_term = wire_get_u64(&r);
        uint32_t len = wire_get_u32(&r);
        if (len) wire_get_ptr(&r, len);
        prev++;
        left--;
    }
    if (prev + 1 < c->log.start) {
        raft_send_append_resp(c, m->sender, true, prev, a.round, 0, 0);
        return;
    }
    uint64_t have;
    if (prev > c->log.last) {
        raft_send_append_resp(c, m->sender, false, 0, a.round, 0, c->log.last + 1);
        return;
    }
    raft_log_term(&c->log, prev, &have);
    if (have != prev_term) {
        if (prev < c->log.start || prev <= c->commit) {
            /* A committed entry differs: not a crash fault. */
            c->io.reject(c->io.ctx, BFT_REJECT_EQUIVOCATION);
            return;
        }
        raft_send_append_resp(c, m->sender, false, 0, a.round, have,
                              raft_log_term_start(&c->log, prev));
        return;
    }
    uint64_t i = prev;
    while (left--) {
        uint64_t t = wire_get_u64(&r);
        uint32_t len = wire_get_u32(&r);
        const uint8_t *b = len ? wire_get_ptr(&r, len) : NULL;
        i++;
        uint64_t cur;
        if (i <= c->log.last && raft_log_term(&c->log, i, &cur)) {
            if (cur == t) continue;
            if (i <= c->commit) {
                c->io.reject(c->io.ctx, BFT_REJECT_EQUIVOCATION);
                return;
            }
            raft_log_truncate(&c->log, i); /* §5.3 step 3 */
        }
        if (raft_log_full(&c->log)) raft_maybe_compact(c, true);
        if (!raft_log_append(&c->log, t, b, len)) {
            c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
            i--;
            break;
        }
        if (!raft_persist_entry(c, i)) {
            /* No memory for its record: an entry not durable is not held
             * (nor acked), as if the append had failed. */
            raft_log_truncate(&c->log, i);
            c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
            i--;
            break;
        }
    }
    /* Fig. 2: commitIndex = min(leaderCommit, index of last new entry). */
    uint64_t newc = a.commit < i ? a.commit : i;
    if (newc > c->commit) {
        c->commit = newc;
        raft_apply(c);
    }
    if ((a.flags & RAFT_AE_ANCHOR) && a.boot == c->boot_id && !c->anchored && i >= a.anchor)
        raft_anchor_check(c);
    raft_send_append_resp(c, m->sender, true, i, a.round, 0, 0);
}

void raft_on_append_resp(struct bft_core *c, const struct bft_msg *m)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    uint8_t flags = wire_get_u8(&r);
    uint64_t round = wire_get_u64(&r);
    uint64_t cterm = wire_get_u64(&r);
    uint64_t cindex = wire_get_u64(&r);
    uint64_t boot = (flags & RAFT_AR_FRESH) ? wire_get_u64(&r) : 0;
    bool ok = flags & RAFT_AR_SUCCESS;
    if (r.err || wire_rd_left(&r) != 0 || (flags & ~(RAFT_AR_SUCCESS | RAFT_AR_FRESH)) ||
        (!ok && cindex == 0) || ((flags & RAFT_AR_FRESH) && boot == 0)) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    if (m->view > c->term) {
        raft_become_follower(c, m->view, RAFT_NONE);
        return;
    }
    if (!raft_is_leader(c) || m->view < c->term) return; /* stale */
    uint32_t p = m->sender;
    c->heard |= 1u << p;
    if (round > c->acked_round[p] && round <= c->round && round >= c->term_round) {
        c->acked_round[p] = round;
        raft_round_acked(c);
    }
    bool anchor_new = false;
    if (flags & RAFT_AR_FRESH) {
        /* Disk-loss guard (raft_election.c): its anchor is our last index
         * as of now, which is after it restarted. Refreshed on every such
         * ack, so an anchor from an earlier incarnation never lingers;
         * resent only when it moved, so this cannot ping-pong. */
        anchor_new = c->anchor_boot[p] != boot || c->anchor_idx[p] != c->log.last;
        c->anchor_boot[p] = boot;
        c->anchor_idx[p] = c->log.last;
    } else {
        c->anchor_boot[p] = 0;
    }
    if (ok) {
        if (m->seq > c->log.last) {
            c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
            return;
        }
        if (m->seq > c->match[p]) c->match[p] = m->seq;
        if (c->next[p] < m->seq + 1) c->next[p] = m->seq + 1;
        c->pstate[p] = RAFT_REPLICATE;
        c->paused[p] = false;
        raft_advance_commit(c);
        if (!raft_is_leader(c)) return;
        send_entries(c, p, anchor_new ? SEND_ALWAYS : SEND_NEW);
        return;
    }
    /* Fast back-off (§5.3): skip the follower's whole conflicting term. */
    uint64_t nn = cindex;
    if (cterm) {
        uint64_t li = raft_log_last_of_term(&c->log, cterm);
        if (li) nn = li + 1;
    }
    if (nn > c->log.last + 1) nn = c->log.last + 1;
    if (nn <= c->match[p]) {
        /* matchIndex only moves back for a replica that lost its disk
         * (its acks are void); for others this is a reordered reject. */
        if (flags & RAFT_AR_FRESH)
            c->match[p] = nn - 1;
        else
            nn = c->match[p] + 1;
    }
    if (c->pstate[p] == RAFT_REPLICATE && nn >= c->next[p]) return; /* stale reject */
    c->next[p] = nn;
    c->pstate[p] = RAFT_PROBE;
    c->paused[p] = false;
    send_entries(c, p, SEND_ALWAYS);
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
        v[p] = p == c->self ? c->log.last : c->match[p];
    qsort(v, c->n, sizeof v[0], cmp_desc);
    uint64_t nidx = v[c->maj - 1], t = 0;
    /* §5.4.2: only entries of the current term commit by counting. */
    if (nidx <= c->commit || !raft_log_term(&c->log, nidx, &t) || t != c->term) return;
    c->commit = nidx;
    raft_apply(c);
    raft_propose(c);
}

void raft_apply(struct bft_core *c)
{
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
