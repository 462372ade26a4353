/* Leader of a view, and where a TC sends everyone (docs/hotstuff.md,
 * "Leader reputation").
 *
 * Without reputation (leader_reputation = 0): leader windows. The leader of
 * view v is (v / W) mod n and a TC for view v moves everyone to the first
 * view of the next window.
 *
 * With reputation, the views are cut into epochs of HS_EPOCH_VIEWS views.
 * Epoch e excludes from leadership the replicas of a short list, decoded
 * from e itself (e mod M, one base-(n+1) digit per slot, 0 = empty): the
 * leaders whose last turn ended in a timeout certificate, oldest in the
 * lowest digit. In epoch e the windows of W views rotate over the other
 * replicas in id order, starting at the epoch's first view.
 *
 * A TC for view v (leader L, epoch e with list X) moves everyone to the
 * next epoch e' > e whose list is X with L pushed as the newest entry (the
 * oldest drops out when the list is full), at the window of the first
 * replica after L that is not excluded. So a leader whose turn ended in a
 * TC is skipped in the following turns, until f' = min(f, 3) later TCs
 * push it out of the list or the epoch ends (natural progress into epoch
 * e+1 changes the oldest entry). This is the "exclude failed proposers"
 * half of DiemBFT/Aptos LeaderReputation and of Shoal's reputation (§5),
 * computed from the one thing every replica in a view agrees on: the view
 * number. Everyone reaches view v' = hs_view_after_tc(v) only through
 * TC(v) (or a QC / proposal of a later view), and a replica restarted
 * from its WAL or restored by state transfer names the same leader for
 * the same view without any history.
 *
 * The jump is constant over a window (its leader, hence the list pushed,
 * is), but not monotone across windows: a TC for an earlier window of an
 * epoch can lead further than one for a later window. The pacemaker orders
 * TCs by where they lead (hs_tc_leads_further), so replicas split between
 * two such TCs all end up at the further target. */
#include "core/hotstuff/hotstuff_internal.h"

/* Slots of the exclusion list. */
static uint32_t excl_slots(const struct bft_core *c)
{
    return c->f < HS_EXCLUDE_MAX ? c->f : HS_EXCLUDE_MAX;
}

static uint64_t codes(const struct bft_core *c)
{
    uint64_t m = 1;
    for (uint32_t i = 0; i < excl_slots(c); i++)
        m *= c->n + 1;
    return m;
}

/* Slots of epoch e, oldest first: 0 = empty, r + 1 = replica r. A repeated
 * replica (natural rollover can produce one) counts once. */
static uint32_t excluded_mask(const struct bft_core *c, uint64_t epoch, uint32_t slot[])
{
    uint64_t code = epoch % codes(c);
    uint32_t mask = 0;
    for (uint32_t i = 0; i < excl_slots(c); i++) {
        slot[i] = (uint32_t)(code % (c->n + 1));
        code /= c->n + 1;
        if (slot[i]) mask |= 1u << (slot[i] - 1);
    }
    return mask;
}

/* The k-th replica (mod the count) not in mask, in id order. */
static uint32_t eligible_at(const struct bft_core *c, uint32_t mask, uint64_t k)
{
    uint32_t m = c->n - (uint32_t)__builtin_popcount(mask);
    uint32_t want = (uint32_t)(k % m);
    for (uint32_t r = 0; r < c->n; r++) {
        if (mask & (1u << r)) continue;
        if (want-- == 0) return r;
    }
    return 0; /* unreachable: at most f of n excluded */
}

uint32_t hs_leader(const struct bft_core *c, uint64_t view)
{
    if (!c->cfg.leader_reputation) return (uint32_t)((view / c->leader_views) % c->n);
    uint32_t slot[HS_EXCLUDE_MAX];
    uint32_t mask = excluded_mask(c, view / HS_EPOCH_VIEWS, slot);
    return eligible_at(c, mask, (view % HS_EPOCH_VIEWS) / c->leader_views);
}

uint64_t hs_view_after_tc(const struct bft_core *c, uint64_t tc_view)
{
    if (!c->cfg.leader_reputation) return (tc_view / c->leader_views + 1) * c->leader_views;
    uint64_t e = tc_view / HS_EPOCH_VIEWS;
    uint32_t failed = hs_leader(c, tc_view);
    uint32_t slot[HS_EXCLUDE_MAX], k = excl_slots(c);
    excluded_mask(c, e, slot);
    /* Push the failed leader as the newest entry; the oldest drops out. */
    uint32_t next[HS_EXCLUDE_MAX];
    for (uint32_t i = 0; i + 1 < k; i++)
        next[i] = slot[i + 1] == failed + 1 ? 0 : slot[i + 1];
    next[k - 1] = failed + 1;
    uint64_t code = 0;
    uint32_t mask = 0;
    for (uint32_t i = k; i-- > 0;) {
        code = code * (c->n + 1) + next[i];
        if (next[i]) mask |= 1u << (next[i] - 1);
    }
    /* The first epoch after e with that list. */
    uint64_t m = codes(c);
    uint64_t e2 = e - e % m + code;
    if (e2 <= e) e2 += m;
    /* The window of the first replica after the failed one. */
    uint32_t succ = failed;
    do
        succ = (succ + 1) % c->n;
    while (mask & (1u << succ));
    uint32_t idx = 0;
    for (uint32_t r = 0; r < succ; r++)
        if (!(mask & (1u << r))) idx++;
    return e2 * HS_EPOCH_VIEWS + (uint64_t)idx * c->leader_views;
}

bool hs_tc_leads_further(const struct bft_core *c, uint64_t a_view, uint64_t b_view)
{
    if (b_view == 0) return a_view != 0;
    uint64_t a = hs_view_after_tc(c, a_view), b = hs_view_after_tc(c, b_view);
    return a > b || (a == b && a_view > b_view);
}
