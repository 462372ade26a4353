/* tests/lib/core_fixture_names_pbft.c: PBFT's WAL records and timers as
 * the effect log names them; the ids are the core's own (pbft_rec.h,
 * pbft_internal.h). */
#include "core/pbft/pbft_internal.h"
#include "core/pbft/pbft_rec.h"
#include "tests/lib/core_fixture_internal.h"

static const struct cf_rec_name recs[] = {
    {PBFT_REC_VIEW, "view", "v", NULL, 0},     {PBFT_REC_PP, "pre_prepare", "v", "s", 8},
    {PBFT_REC_COMMIT, "commit", "v", "s", 8},  {PBFT_REC_CKPT, "checkpoint", "s", NULL, 0},
    {PBFT_REC_STABLE, "stable", "s", NULL, 0}, {PBFT_REC_NV, "new_view", "v", NULL, 0},
    {PBFT_REC_FLOOR, "floor", "s", NULL, 0},
};

static const struct cf_timer_name timers[] = {
    {PBFT_TIMER_VIEW_CHANGE, "view_change"},
    {PBFT_TIMER_RETRANSMIT, "retransmit"},
    {PBFT_TIMER_STATE, "state"},
    {PBFT_TIMER_STATUS, "status"},
    {PBFT_TIMER_MONITOR, "monitor"},
};

const struct cf_names cf_names_pbft = {
    recs, sizeof recs / sizeof recs[0], timers, sizeof timers / sizeof timers[0], 0, 0, NULL};
