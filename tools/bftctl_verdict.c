/* bftctl cluster: what "progressed" means. A run progressed when clients
 * saw commits after the last fault healed (the last crashed replica
 * restarted, the last partition / slow / silent ... window ended; a fault
 * that never ends counts from when it starts). Progress is required only
 * when a quorum of honest replicas (2f+1; a majority for Raft) is up and
 * connected at the end. Throughput is split in three phases: before the
 * first fault, during the faults, after the last heal. */
#include <math.h>
#include <string.h>

#include "tools/bftctl_run.h"

static void span(struct ctl_schedule *s, double t0, double t1, double duration_s)
{
    if (t0 >= duration_s) return; /* never applied */
    double settle = t1 >= 0 ? t1 : t0;
    if (!s->any || t0 < s->first_s) s->first_s = t0;
    if (!s->any || settle > s->settle_s) s->settle_s = settle;
    s->any = true;
}

static double win_end(const struct fault_window *w)
{
    return w->until_ms == FAULT_FOREVER ? -1 : (double)w->until_ms / 1000.0;
}

void ctl_schedule(const struct ctl_run *run, double duration_s, struct ctl_schedule *s)
{
    memset(s, 0, sizeof *s);
    for (uint32_t i = 0; i < run->n_faults; i++)
        span(s, run->faults[i].t0, run->faults[i].t1, duration_s);
    if (!run->have_plan) return;
    const struct fault_plan *p = &run->plan;
    for (uint32_t i = 0; i < p->n_faults; i++)
        span(s, (double)p->fault[i].win.from_ms / 1000.0, win_end(&p->fault[i].win), duration_s);
    for (uint32_t i = 0; i < p->n_partitions; i++)
        span(s, (double)p->partition[i].win.from_ms / 1000.0, win_end(&p->partition[i].win),
             duration_s);
    const struct fault_net_rates *nr = &p->net;
    if (nr->drop_ppm || nr->duplicate_ppm || nr->reorder_ppm || nr->delay_ms || nr->jitter_ms)
        span(s, (double)nr->win.from_ms / 1000.0, win_end(&nr->win), duration_s);
}

static void phase(const struct load_result *L, double from, double to, struct ctl_phase *ph)
{
    memset(ph, 0, sizeof *ph);
    if (to > L->elapsed_s) to = L->elapsed_s;
    if (from < 0) from = 0;
    ph->from_s = from;
    ph->to_s = to > from ? to : from;
    /* 100 ms buckets wholly after `from` (a commit is counted after a heal
     * only if it is surely after it), up to the one holding `to`. */
    uint32_t a = (uint32_t)ceil(from * 10 - 1e-9), b = (uint32_t)ceil(ph->to_s * 10 - 1e-9);
    for (uint32_t k = a; k < b && k < LOAD_MAX_SECONDS * 10; k++)
        ph->ops += L->per_tenth[k];
    ph->ops_s = ph->to_s > from ? (double)ph->ops / (ph->to_s - from) : 0;
}

/* Honest replicas up at the end that can all talk to each other: with a
 * partition that never heals, the best group (plus the replicas in no
 * group); an asymmetric one is counted like a symmetric one. */
static uint32_t honest_core(const struct ctl_run *run)
{
    uint32_t up = 0;
    for (uint32_t i = 0; i < run->nodes; i++)
        if (run->reps[i].honest && !run->reps[i].killed) up |= 1u << i;
    uint32_t core = up;
    for (uint32_t k = 0; run->have_plan && k < run->plan.n_partitions; k++) {
        const struct fault_partition *pt = &run->plan.partition[k];
        if (pt->win.until_ms != FAULT_FOREVER) continue;
        uint32_t in_any = 0, best = 0;
        for (uint32_t g = 0; g < pt->n_groups; g++)
            in_any |= pt->group[g];
        for (uint32_t g = 0; g < pt->n_groups; g++) {
            uint32_t side = core & (pt->group[g] | ~in_any);
            if (__builtin_popcount(side) > __builtin_popcount(best)) best = side;
        }
        core = best;
    }
    return (uint32_t)__builtin_popcount(core);
}

void ctl_phases(const struct ctl_run *run, struct ctl_phases *ph)
{
    memset(ph, 0, sizeof *ph);
    const struct load_result *L = run->load;
    ctl_schedule(run, L->elapsed_s, &ph->sched);
    const struct ctl_schedule *s = &ph->sched;
    if (s->any) {
        phase(L, 0, s->first_s, &ph->before);
        phase(L, s->first_s, s->settle_s, &ph->during);
        phase(L, s->settle_s, L->elapsed_s, &ph->after);
    } else {
        phase(L, 0, L->elapsed_s, &ph->before);
        phase(L, L->elapsed_s, L->elapsed_s, &ph->during);
        phase(L, 0, L->elapsed_s, &ph->after);
    }
    ph->quorum = run->protocol == BFT_PROTO_RAFT ? run->nodes / 2 + 1 : 2 * run->cl.f + 1;
    ph->honest_up = honest_core(run);
    ph->core_up = ph->honest_up >= ph->quorum;
    ph->progressed = ph->after.ops > 0;
}
