/* AppendEntries receiver (Fig. 2 "AppendEntries RPC", receiver
 * implementation, steps 1-5) and its reply. The body is already decoded
 * and validated (raft_wire.c); this is the state-dependent part.
 *
 * From Figure 2:
 *   1. Reply false if term < currentTerm (§5.1)
 *   2. Reply false if log doesn't contain an entry at prevLogIndex whose
 *      term matches prevLogTerm (§5.3)
 *   3. If an existing entry conflicts with a new one (same index but
 *      different terms), delete the existing entry and all that follow it
 *   4. Append any new entries not already in the log
 *   5. If leaderCommit > commitIndex, set commitIndex =
 *      min(leaderCommit, index of last new entry) */
#include "core/raft/raft_internal.h"

void raft_send_append_resp(struct bft_core *c, uint32_t to, bool ok, uint64_t match, uint64_t round,
                           uint64_t cterm, uint64_t cindex)
{
    struct raft_append_resp a = {.term = c->term,
                                 .success = ok,
                                 .fresh = !c->anchored,
                                 .match = match,
                                 .round = round,
                                 .conflict_term = cterm,
                                 .conflict_index = cindex,
                                 .boot_id = c->boot_id};
    uint8_t body[RAFT_APPEND_RESP_MAX];
    struct bft_msg m;
    raft_encode_append_resp(&a, body, &m);
    c->io.send(c->io.ctx, to, &m);
}

/* A current leader spoke: follow it, and refuse votes for T (diss.
 * §4.2.3). */
static void follow(struct bft_core *c, uint32_t from, uint64_t term)
{
    if (term > c->term || c->role != RAFT_FOLLOWER || c->leader != from)
        raft_become_follower(c, term, from);
    else
        raft_reset_election_timer(c);
    bft_timeout_restart(&c->sticky, &c->io, c->elect_ms);
}

/* Step 2. Entries at or below start - 1 are committed and compacted here,
 * so they match the leader's: skip them (diss. §5.1). Then prev must be
 * in our log with the leader's term. True if the entries after prev are
 * to be stored; otherwise the reply (or the refusal) is done. */
static bool log_matches(struct bft_core *c, uint32_t from, const struct raft_append *a,
                        uint64_t *prev, struct wire_rd *r, uint32_t *left)
{
    uint64_t prev_term = a->prev_term;
    struct raft_entry_ref e;
    while (*prev + 1 < c->log.start && *left) {
        raft_entry_next(r, &e);
        prev_term = e.term;
        (*prev)++;
        (*left)--;
    }
    if (*prev + 1 < c->log.start) {
        raft_send_append_resp(c, from, true, *prev, a->round, 0, 0);
        return false;
    }
    if (*prev > c->log.last) {
        raft_send_append_resp(c, from, false, 0, a->round, 0, c->log.last + 1);
        return false;
    }
    uint64_t have = 0;
    raft_log_term(&c->log, *prev, &have);
    if (have == prev_term) return true;
    if (*prev < c->log.start || *prev <= c->commit) {
        /* A committed entry differs: not a crash fault. */
        c->io.reject(c->io.ctx, BFT_REJECT_EQUIVOCATION);
        return false;
    }
    /* The conflict hint for fast back-off (§5.3). */
    raft_send_append_resp(c, from, false, 0, a->round, have, raft_log_term_start(&c->log, *prev));
    return false;
}

/* Steps 3-4 for the `left` entries after prev; *last gets the index of the
 * last entry now held (and durable). False if a committed entry would
 * change: refused, no reply. */
static bool store_entries(struct bft_core *c, struct wire_rd *r, uint64_t prev, uint32_t left,
                          uint64_t *last)
{
    uint64_t i = prev;
    struct raft_entry_ref e;
    *last = prev;
    while (left--) {
        raft_entry_next(r, &e);
        i++;
        uint64_t cur;
        if (i <= c->log.last && raft_log_term(&c->log, i, &cur)) {
            if (cur == e.term) continue;
            if (i <= c->commit) {
                c->io.reject(c->io.ctx, BFT_REJECT_EQUIVOCATION);
                return false;
            }
            raft_log_truncate(&c->log, i); /* step 3 */
        }
        if (raft_log_full(&c->log)) raft_maybe_compact(c, true);
        /* Out of memory or room is our overload, never the leader's fault:
         * the entry is not held (nor acked), as if the append were cut. */
        if (!raft_log_append(&c->log, e.term, e.batch, e.len)) {
            c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
            i--;
            break;
        }
        if (!raft_persist_entry(c, i)) {
            raft_log_truncate(&c->log, i);
            c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
            i--;
            break;
        }
    }
    *last = i;
    return true;
}

void raft_on_append(struct bft_core *c, uint32_t from, const struct raft_append *a)
{
    if (a->term < c->term) {
        /* Step 1. A deposed leader's late append: the term is the fencing
         * token. */
        c->io.reject(c->io.ctx, BFT_REJECT_STALE_VIEW);
        raft_send_append_resp(c, from, false, 0, a->round, 0, c->log.last + 1);
        return;
    }
    if (a->term == c->term && raft_is_leader(c)) {
        c->io.reject(c->io.ctx, BFT_REJECT_EQUIVOCATION); /* two leaders in a term */
        return;
    }
    follow(c, from, a->term);
    uint64_t prev = a->prev_index, i;
    struct wire_rd r = a->entries;
    uint32_t left = a->count;
    if (!log_matches(c, from, a, &prev, &r, &left)) return;
    if (!store_entries(c, &r, prev, left, &i)) return;
    /* Step 5. */
    uint64_t newc = a->commit < i ? a->commit : i;
    if (newc > c->commit) {
        raft_commit_to(c, newc);
        raft_apply(c);
    }
    if (a->anchor && a->boot_id == c->boot_id && !c->anchored && i >= a->anchor_index)
        raft_anchor_check(c);
    raft_send_append_resp(c, from, true, i, a->round, 0, 0);
}
