/* What hosts ask of a plan: is this behaviour on now, is this link cut,
 * when does anything change next, and (for twins run by the host) which
 * instance each peer talks to. */
#include "faults/faults_internal.h"

bool fault_window_active(const struct fault_window *w, uint64_t now_ms)
{
    return now_ms >= w->from_ms && now_ms < w->until_ms;
}

/* ---- queries ---- */

bool fault_plan_has(const struct fault_plan *p, uint32_t replica, int behaviour, uint64_t now_ms)
{
    for (uint32_t i = 0; i < p->n_faults; i++)
        if (p->fault[i].replica == replica && p->fault[i].behaviour == behaviour &&
            fault_window_active(&p->fault[i].win, now_ms))
            return true;
    return false;
}

bool fault_plan_has_ever(const struct fault_plan *p, uint32_t replica, int behaviour)
{
    for (uint32_t i = 0; i < p->n_faults; i++)
        if (p->fault[i].replica == replica && p->fault[i].behaviour == behaviour) return true;
    return false;
}

/* Raft trusts its leader: a follower that lies is outvoted or ignored, a
 * leader that lies is believed (docs/faults.md "Raft under Byzantine
 * faults"). */
bool fault_behaviour_needs_leader(int b)
{
    return b == FAULT_EQUIVOCATE || b == FAULT_TWIN || b == FAULT_FORGE || b == FAULT_STALE ||
           b == FAULT_REPLAY || b == FAULT_BYZZFUZZ;
}

bool fault_plan_byzantine(const struct fault_plan *p, uint32_t replica)
{
    for (uint32_t i = 0; i < p->n_faults; i++)
        if (p->fault[i].replica == replica && p->fault[i].behaviour != FAULT_CRASH) return true;
    return false;
}

bool fault_plan_cut(const struct fault_plan *p, uint32_t from, uint32_t to, uint64_t now_ms)
{
    if (from >= 32 || to >= 32 || from == to) return false;
    uint32_t fb = 1u << from, tb = 1u << to;
    for (uint32_t i = 0; i < p->n_partitions; i++) {
        const struct fault_partition *pt = &p->partition[i];
        if (!fault_window_active(&pt->win, now_ms)) continue;
        if (pt->asym) {
            if ((pt->group[0] & fb) && (pt->group[1] & tb)) return true;
            continue;
        }
        int gf = -1, gt = -1;
        for (uint32_t g = 0; g < pt->n_groups; g++) {
            if (pt->group[g] & fb) gf = (int)g;
            if (pt->group[g] & tb) gt = (int)g;
        }
        if (gf >= 0 && gt >= 0 && gf != gt) return true;
    }
    return false;
}

static void next_edge(const struct fault_window *w, uint64_t now_ms, uint64_t *best)
{
    if (w->from_ms > now_ms && w->from_ms < *best) *best = w->from_ms;
    if (w->until_ms > now_ms && w->until_ms < *best) *best = w->until_ms;
}

uint64_t fault_plan_next_change_ms(const struct fault_plan *p, uint64_t now_ms)
{
    uint64_t best = FAULT_FOREVER;
    for (uint32_t i = 0; i < p->n_faults; i++)
        next_edge(&p->fault[i].win, now_ms, &best);
    for (uint32_t i = 0; i < p->n_partitions; i++)
        next_edge(&p->partition[i].win, now_ms, &best);
    next_edge(&p->net.win, now_ms, &best);
    return best;
}

/* ---- twins (host-run): which side of the split each peer is on ---- */

void fault_twin_split(uint32_t n, uint32_t twin, uint32_t *side0_mask, uint32_t *side1_mask)
{
    uint32_t others = n > 0 ? n - 1 : 0, want0 = (others + 1) / 2, k = 0;
    *side0_mask = *side1_mask = 0;
    for (uint32_t i = 0; i < n && i < 32; i++) {
        if (i == twin) continue;
        if (k++ < want0)
            *side0_mask |= 1u << i;
        else
            *side1_mask |= 1u << i;
    }
}

uint32_t fault_twin_side_of(uint32_t n, uint32_t twin, uint32_t peer)
{
    uint32_t s0, s1;
    fault_twin_split(n, twin, &s0, &s1);
    return peer < 32 && (s1 & (1u << peer)) ? 1 : 0;
}
