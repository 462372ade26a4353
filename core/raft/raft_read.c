/* Linearizable reads without a log entry (diss. §6.4): leader leases, and
 * ReadIndex as the fallback.
 *
 * Heartbeat rounds. Every heartbeat tick (and a ReadIndex that needs one)
 * starts round r; each AppendEntries carries the round current when it was
 * sent and each ack echoes it. Round r is confirmed once a majority
 * (counting the leader) acked r or later: every one of them received an
 * AppendEntries of this leader sent after r started.
 *
 * Lease (diss. §6.4.1). The core has no clock, so at the start of round r
 * the leader arms lease timer r for lease_ms = T - drift. While the highest
 * confirmed round's timer has not fired, no other leader can exist: each
 * acker reset its stickiness at or after r's start and refuses every vote
 * until T later (raft_election.c), and any new leader needs one of their
 * votes. The lease ends drift earlier than that on the leader's timers;
 * docs/raft.md states the bound. A ring of RAFT_LEASE_RING timers covers
 * the rounds in flight; reusing a slot first counts its old round expired,
 * which is conservative.
 *
 * ReadIndex. Otherwise (and always for a quorum-level read, docs/reads.md)
 * a read waits for (1) a round started after it
 * arrived to be confirmed (we were still leader when it arrived), and
 * (2) applied >= max(commit at arrival, this term's no-op) (§6.4 steps
 * 1-4: a new leader first commits an entry of its term). */
#include <stdlib.h>
#include <string.h>

#include "core/raft/raft_internal.h"

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

void raft_round_start(struct bft_core *c)
{
    c->round++;
    uint32_t slot = (uint32_t)(c->round % RAFT_LEASE_RING);
    if (c->lease_slot[slot] > c->lease_expired) c->lease_expired = c->lease_slot[slot];
    c->lease_slot[slot] = c->round;
    c->io.set_timer(c->io.ctx, RAFT_TIMER_LEASE_BASE + slot, c->lease_ms);
    if (c->maj == 1) raft_round_acked(c);
}

void raft_on_lease_timer(struct bft_core *c, uint32_t slot)
{
    if (slot >= RAFT_LEASE_RING || !c->lease_slot[slot]) return;
    if (c->lease_slot[slot] > c->lease_expired) c->lease_expired = c->lease_slot[slot];
    c->lease_slot[slot] = 0;
}

bool raft_lease_valid(const struct bft_core *c)
{
    return raft_is_leader(c) && c->confirmed_round >= c->term_round &&
           c->confirmed_round > c->lease_expired && c->commit >= c->term_first;
}

static bool reads_need_round(const struct bft_core *c)
{
    if (!c->reads_count) return false;
    const struct raft_read *last = &c->reads[(c->reads_head + c->reads_count - 1) % c->reads_cap];
    return last->round > c->round;
}

void raft_round_acked(struct bft_core *c)
{
    if (!raft_is_leader(c)) return;
    uint64_t v[BFT_MAX_REPLICAS];
    for (uint32_t p = 0; p < c->n; p++)
        v[p] = p == c->self ? c->round : c->prog[p].acked_round;
    qsort(v, c->n, sizeof v[0], cmp_desc);
    if (v[c->maj - 1] <= c->confirmed_round) return;
    c->confirmed_round = v[c->maj - 1];
    raft_reads_serve(c);
    /* Self-clocked ReadIndex rounds: one in flight at a time. */
    if (c->maj > 1 && c->confirmed_round == c->round && reads_need_round(c)) {
        raft_round_start(c);
        raft_broadcast_append(c);
    }
}

void raft_reads_serve(struct bft_core *c)
{
    while (c->reads_count) {
        struct raft_read *r = &c->reads[c->reads_head];
        if (c->confirmed_round < r->round || c->applied < r->index) return;
        c->io.read_ready(c->io.ctx, r->raw, r->len);
        c->reads_bytes -= r->len;
        c->reads_head = (c->reads_head + 1) % c->reads_cap;
        c->reads_count--;
    }
}

void raft_reads_clear(struct bft_core *c)
{
    /* Dropped, not answered: the client retries at the new leader. */
    c->reads_head = c->reads_count = 0;
    c->reads_bytes = 0;
}

void raft_on_read(struct bft_core *c, const struct bft_msg *req)
{
    if (!raft_is_leader(c)) {
        if (c->leader != RAFT_NONE && c->leader != c->self) c->io.send(c->io.ctx, c->leader, req);
        return;
    }
    /* A quorum read (docs/reads.md) never takes the lease: it waits for a
     * heartbeat round confirmed by a majority after it arrived, so it does
     * not rely on bounded clock drift. */
    bool quorum = bft_req_flags(req) & BFT_REQ_READ_QUORUM;
    if (!quorum && raft_lease_valid(c) && c->applied >= c->commit) {
        c->io.read_ready(c->io.ctx, req->raw, req->raw_len);
        return;
    }
    if (c->reads_count >= RAFT_READS_MAX || c->reads_bytes + req->raw_len > RAFT_READS_BYTES_MAX) {
        c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
        return;
    }
    if (c->reads_count == c->reads_cap &&
        !raft_ring_grow((void **)&c->reads, &c->reads_cap, c->reads_head, sizeof(*c->reads),
                        RAFT_READS_MAX)) {
        c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
        return;
    }
    struct raft_read *r = &c->reads[(c->reads_head + c->reads_count) % c->reads_cap];
    if (r->cap < req->raw_len) {
        uint8_t *p = realloc(r->raw, req->raw_len);
        if (!p) {
            c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
            return;
        }
        r->raw = p;
        r->cap = req->raw_len;
    }
    memcpy(r->raw, req->raw, req->raw_len);
    r->len = req->raw_len;
    r->index = c->commit > c->term_first ? c->commit : c->term_first;
    r->round = c->round + 1;
    c->reads_count++;
    c->reads_bytes += req->raw_len;
    if (c->maj == 1 || c->confirmed_round == c->round) {
        raft_round_start(c);
        raft_broadcast_append(c);
    }
}
