/* The network filter: for one message (from, to, now) it says drop, or
 * deliver after some delay, perhaps twice. Partitions cut only links
 * between replicas; clients always reach every replica, which is the shape
 * of the order-router incident (the old leader keeps hearing clients,
 * docs/design.md "Partition specs"). Rates follow TigerBeetle's packet simulator
 * (loss, duplication, reordering as data); every draw comes from one
 * seeded PRNG, so a simulator run replays exactly. */
#include <stdlib.h>
#include <string.h>

#include "faults/faults_internal.h"

struct fault_net {
    struct fault_plan plan;
    uint64_t rng;
    bool twin;
    uint32_t twin_self, twin_instance;
    struct fault_net_stats st;
};

int fault_net_create(struct fault_net **out, const struct fault_plan *p)
{
    struct fault_net *fn = calloc(1, sizeof *fn);
    if (!fn) return BFT_E_NOMEM;
    fn->plan = *p;
    fn->rng = fault_seed_mix(p->seed, 0x6e657466);
    *out = fn;
    return BFT_E_OK;
}

void fault_net_destroy(struct fault_net *fn)
{
    free(fn);
}

void fault_net_set_twin(struct fault_net *fn, uint32_t self, uint32_t instance)
{
    fn->twin = true;
    fn->twin_self = self;
    fn->twin_instance = instance;
}

void fault_net_stats(const struct fault_net *fn, struct fault_net_stats *out)
{
    *out = fn->st;
}

static uint64_t draw_delay(struct fault_net *fn, const struct fault_net_rates *r)
{
    uint64_t d = r->delay_ms;
    if (r->jitter_ms) d += fault_rng_below(&fn->rng, (uint64_t)r->jitter_ms + 1);
    if (fault_rng_ppm(&fn->rng, r->reorder_ppm)) {
        /* Held back while later messages overtake it. */
        d += 1 + fault_rng_below(&fn->rng, r->reorder_ms ? r->reorder_ms : 1);
        fn->st.reordered++;
    }
    if (d) fn->st.delayed++;
    return d;
}

void fault_net_decide(struct fault_net *fn, uint32_t from, uint32_t to, uint64_t now_ms,
                      struct fault_net_verdict *v)
{
    memset(v, 0, sizeof *v);
    bool replicas = !(from & FAULT_CLIENT) && !(to & FAULT_CLIENT);
    if (replicas && fault_plan_cut(&fn->plan, from, to, now_ms)) {
        v->reason = FAULT_NET_DROP_PARTITION;
        fn->st.dropped_partition++;
        return;
    }
    /* A twin instance talks only to its side of the split (Twins §3). */
    if (replicas && fn->twin && from == fn->twin_self &&
        fault_plan_has(&fn->plan, from, FAULT_TWIN, now_ms) &&
        fault_twin_side_of(fn->plan.n, from, to) != fn->twin_instance) {
        v->reason = FAULT_NET_DROP_TWIN;
        fn->st.dropped_twin++;
        return;
    }
    const struct fault_net_rates *r = &fn->plan.net;
    if (!fault_window_active(&r->win, now_ms)) {
        v->copies = 1;
        fn->st.delivered++;
        return;
    }
    if (fault_rng_ppm(&fn->rng, r->drop_ppm)) {
        v->reason = FAULT_NET_DROP_LOSS;
        fn->st.dropped_loss++;
        return;
    }
    v->copies = 1;
    v->delay_ms[0] = draw_delay(fn, r);
    if (fault_rng_ppm(&fn->rng, r->duplicate_ppm)) {
        v->copies = 2;
        v->delay_ms[1] = draw_delay(fn, r);
        fn->st.duplicated++;
    }
    fn->st.delivered++;
}
