/* tests/lib/core_fixture_names_hotstuff.c: HotStuff's WAL records and
 * timers as the effect log names them; the ids are the core's own
 * (hotstuff_internal.h). */
#include "core/hotstuff/hotstuff_internal.h"
#include "tests/lib/core_fixture_internal.h"

static const struct cf_rec_name recs[] = {
    {HS_REC_VOTE, "vote", "v", "h", 8},          {HS_REC_LOCK, "lock", NULL, NULL, 0},
    {HS_REC_COMMIT, "commit", "v", "h", 8},      {HS_REC_SNAP, "snap", "s", NULL, 0},
    {HS_REC_BLOCK, "block", "v", "h", 8},        {HS_REC_SNAP_PART, "snap_part", "s", NULL, 0},
    {HS_REC_SNAP_END, "snap_end", "s", NULL, 0}, {HS_REC_BASE, "base", "h", NULL, 0},
};

static const struct cf_timer_name timers[] = {
    {HS_TIMER_VIEW, "view"},     {HS_TIMER_FETCH, "fetch"},     {HS_TIMER_STATE, "state"},
    {HS_TIMER_RESEND, "resend"}, {HS_TIMER_REQUEST, "request"}, {HS_TIMER_MONITOR, "monitor"},
};

const struct cf_names cf_names_hotstuff = {
    recs, sizeof recs / sizeof recs[0], timers, sizeof timers / sizeof timers[0], 0, 0, NULL};
