/* tests/lib/core_fixture_names_raft.c: Raft's WAL records and timers as
 * the effect log names them (the ids are the core's own, raft_internal.h),
 * and the key fields of its bodies, decoded by its codec (raft_wire.h):
 * whether a vote is a pre-vote and was granted, what an append carries
 * and whether it was accepted. These decide what a Raft test shows; the
 * BFT messages say enough in their headers. */
#include <stdio.h>

#include "core/raft/raft_internal.h"
#include "core/raft/raft_wire.h"
#include "tests/lib/core_fixture_internal.h"

static const struct cf_rec_name recs[] = {
    {RAFT_REC_HARD, "hard", "term", "vote", 4},
    {RAFT_REC_ENTRY, "entry", "i", "t", 8},
    {RAFT_REC_COMMIT, "commit", "i", NULL, 0},
    {RAFT_REC_SNAP, "snap", "i", NULL, 0},
};

static const struct cf_timer_name timers[] = {
    {RAFT_TIMER_START, "start"},         {RAFT_TIMER_ELECTION, "election"},
    {RAFT_TIMER_HEARTBEAT, "heartbeat"}, {RAFT_TIMER_STICKY, "sticky"},
    {RAFT_TIMER_QUORUM, "quorum"},       {RAFT_TIMER_STATE, "state"},
};
_Static_assert(RAFT_TIMER_LEASE_BASE + RAFT_LEASE_RING <= CF_TIMERS, "Raft's lease timers fit");

static const char *vote_kind(uint8_t k)
{
    return k == RAFT_VOTE_REAL    ? "real"
           : k == RAFT_VOTE_PRE   ? "pre"
           : k == RAFT_VOTE_PROBE ? "probe"
                                  : "?";
}

static void detail(const struct bft_msg *m, char *out, size_t cap)
{
    out[0] = '\0';
    if (m->type == BFT_MSG_RAFT_VOTE) {
        struct raft_vote v;
        if (raft_decode_vote(m, &v) != BFT_REJECT_NONE) goto bad;
        snprintf(out, cap, " %s last=%llu/%llu", vote_kind(v.kind), (unsigned long long)v.last_term,
                 (unsigned long long)v.last_index);
    } else if (m->type == BFT_MSG_RAFT_VOTE_RESP) {
        struct raft_vote_resp v;
        if (raft_decode_vote_resp(m, &v) != BFT_REJECT_NONE) goto bad;
        snprintf(out, cap, " %s %s", vote_kind(v.kind), v.granted ? "granted" : "denied");
    } else if (m->type == BFT_MSG_RAFT_APPEND) {
        struct raft_append a;
        if (raft_decode_append(m, &a) != BFT_REJECT_NONE) goto bad;
        snprintf(out, cap, " prev=%llu/%llu commit=%llu entries=%u",
                 (unsigned long long)a.prev_term, (unsigned long long)a.prev_index,
                 (unsigned long long)a.commit, a.count);
    } else if (m->type == BFT_MSG_RAFT_APPEND_RESP) {
        struct raft_append_resp a;
        if (raft_decode_append_resp(m, &a) != BFT_REJECT_NONE) goto bad;
        snprintf(out, cap, " %s", a.success ? "ok" : "reject");
    }
    return;
bad:
    snprintf(out, cap, " (malformed)");
}

const struct cf_names cf_names_raft = {recs,
                                       sizeof recs / sizeof recs[0],
                                       timers,
                                       sizeof timers / sizeof timers[0],
                                       RAFT_TIMER_LEASE_BASE,
                                       RAFT_LEASE_RING,
                                       detail};
