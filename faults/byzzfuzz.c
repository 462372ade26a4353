/* ByzzFuzz schedules (Winter, Buchholz, Kaptein, Nair, Meng, Lawall,
 * "Randomized Testing of Byzantine Fault Tolerant Algorithms", OOPSLA'23
 * §3): one Byzantine process; c process faults, each (round, subset of
 * recipients, mutation seed), and d network faults, each (round,
 * partition of all processes). The paper's insight is that small-scope
 * mutations (a round off by one, an old proposal) of a Byzantine replica's
 * real messages, mixed with round-bounded partitions, find bugs that random
 * bytes never do. Rounds here are time slices of round_ms so one schedule
 * fits all three protocols; the mutations themselves are in mutate.c. */
#include <string.h>

#include "faults/faults_internal.h"

#define BYZZFUZZ_STR(name, str) [BYZZFUZZ_##name] = str,
static const char *const mutation_names[BYZZFUZZ__COUNT] = {BYZZFUZZ_MUTATION_MAP(BYZZFUZZ_STR)};

const char *byzzfuzz_mutation_name(int m)
{
    return m >= 0 && m < BYZZFUZZ__COUNT ? mutation_names[m] : NULL;
}

int byzzfuzz_generate(struct byzzfuzz_schedule *s, const struct byzzfuzz_config *c, uint64_t seed,
                      char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    if (c->n < 2 || c->n > BFT_MAX_REPLICAS || c->byz >= c->n)
        return fault_err(err, errlen, BFT_E_INVALID, "byzzfuzz: need 2 <= n <= %d and byz < n",
                         BFT_MAX_REPLICAS);
    if (c->rounds < 1 || c->round_ms < 1 || c->proc_faults > BYZZFUZZ_MAX_FAULTS ||
        c->net_faults > BYZZFUZZ_MAX_FAULTS)
        return fault_err(err, errlen, BFT_E_INVALID,
                         "byzzfuzz: need rounds >= 1, round_ms >= 1 and at most %d faults of "
                         "each kind",
                         BYZZFUZZ_MAX_FAULTS);
    s->seed = seed;
    s->cfg = *c;
    uint64_t rng = fault_seed_mix(seed, 0xb22f);
    uint32_t others = (uint32_t)((1ull << c->n) - 1) & ~(1u << c->byz);
    for (uint32_t i = 0; i < c->proc_faults; i++) {
        struct byzzfuzz_proc_fault *pf = &s->proc[i];
        pf->round = (uint32_t)fault_rng_below(&rng, c->rounds);
        /* A random non-empty subset of the other replicas. */
        while (pf->recipients == 0)
            pf->recipients = (uint32_t)fault_rng_next(&rng) & others;
        pf->seed = fault_rng_next(&rng);
    }
    uint32_t max_groups = c->n < 3 ? c->n : 3;
    for (uint32_t i = 0; i < c->net_faults; i++) {
        struct byzzfuzz_net_fault *nf = &s->net[i];
        nf->round = (uint32_t)fault_rng_below(&rng, c->rounds);
        uint32_t k = 2 + (uint32_t)fault_rng_below(&rng, max_groups - 1);
        uint32_t g[FAULT_MAX_GROUPS] = {0};
        for (uint32_t r = 0; r < c->n; r++)
            g[fault_rng_below(&rng, k)] |= 1u << r;
        for (uint32_t j = 0; j < k; j++)
            if (g[j]) nf->group[nf->n_groups++] = g[j];
        if (nf->n_groups == 1) {
            /* Everyone landed together: split one replica off. */
            uint32_t r = (uint32_t)fault_rng_below(&rng, c->n);
            nf->group[0] &= ~(1u << r);
            nf->group[nf->n_groups++] = 1u << r;
        }
    }
    return BFT_E_OK;
}

const struct byzzfuzz_proc_fault *byzzfuzz_fault_at(const struct byzzfuzz_schedule *s,
                                                    uint32_t dest, uint64_t now_ms)
{
    if (s->cfg.round_ms == 0 || dest >= 32) return NULL;
    uint64_t round = now_ms / s->cfg.round_ms;
    for (uint32_t i = 0; i < s->cfg.proc_faults; i++)
        if (s->proc[i].round == round && (s->proc[i].recipients & (1u << dest))) return &s->proc[i];
    return NULL;
}

int byzzfuzz_to_plan(const struct byzzfuzz_schedule *s, struct fault_plan *p, char *err,
                     size_t errlen)
{
    if (p->n != s->cfg.n)
        return fault_err(err, errlen, BFT_E_INVALID,
                         "byzzfuzz: schedule is for %u replicas, plan for %u", s->cfg.n, p->n);
    if (p->n_faults + 1 > FAULT_MAX_FAULTS ||
        p->n_partitions + s->cfg.net_faults > FAULT_MAX_PARTITIONS)
        return fault_err(err, errlen, BFT_E_FULL, "byzzfuzz: plan has no room for the schedule");
    p->fault[p->n_faults++] = (struct fault_entry){
        .replica = s->cfg.byz, .behaviour = FAULT_BYZZFUZZ, .win = {0, FAULT_FOREVER}};
    for (uint32_t i = 0; i < s->cfg.net_faults; i++) {
        const struct byzzfuzz_net_fault *nf = &s->net[i];
        struct fault_partition *pt = &p->partition[p->n_partitions++];
        memset(pt, 0, sizeof *pt);
        pt->n_groups = nf->n_groups;
        memcpy(pt->group, nf->group, sizeof pt->group);
        pt->win.from_ms = (uint64_t)nf->round * s->cfg.round_ms;
        pt->win.until_ms = pt->win.from_ms + s->cfg.round_ms;
    }
    return BFT_E_OK;
}

size_t byzzfuzz_format(const struct byzzfuzz_schedule *s, char *out, size_t cap)
{
    const struct byzzfuzz_config *c = &s->cfg;
    int k = snprintf(out, cap, "byzzfuzz seed=%llu n=%u byz=%u rounds=%u c=%u d=%u round_ms=%u",
                     (unsigned long long)s->seed, c->n, c->byz, c->rounds, c->proc_faults,
                     c->net_faults, c->round_ms);
    return k < 0 || (size_t)k >= cap ? 0 : (size_t)k;
}
