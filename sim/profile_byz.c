/* sim: Byzantine fault profiles for sim_run_seed (bftsim --faults
 * byzantine|twins|byzzfuzz, --byzantine ID:BEHAVIOUR). Each turns the seed
 * into a faults/ plan or scenario for the fault phase; the phase end stops
 * them all (sim_faults_stop) and the liveness phase then runs on the
 * healed cluster, with the faulty replicas still ignored by the checker. */
#include <stdio.h>
#include <string.h>

#include "sim/sim_internal.h"

/* Behaviours a Byzantine replica may draw (crash is a crash fault; byzzfuzz
 * has its own profile). */
static const int k_byz[] = {FAULT_SILENT,   FAULT_SLOW,   FAULT_EQUIVOCATE, FAULT_JUNK,
                            FAULT_BADSIG,   FAULT_REPLAY, FAULT_STALE,      FAULT_FLOOD,
                            FAULT_WITHHOLD, FAULT_FORGE,  FAULT_TWIN};

static int add(struct fault_plan *p, uint32_t r, int b, uint64_t from_ms, uint64_t until_ms,
               char *err, size_t errlen)
{
    char spec[FAULT_SPEC_MAX];
    snprintf(spec, sizeof(spec), "%u:%s@%llums-%llums", r, fault_behaviour_name(b),
             (unsigned long long)from_ms, (unsigned long long)until_ms);
    return fault_plan_add_fault(p, spec, err, errlen);
}

/* Up to f replicas (the first-view leader, replica 0, half the time), one
 * behaviour each, from some point in the first half of the phase to its
 * end. */
static int byzantine_plan(struct sim *s, struct sim_rng *rng, uint64_t phase_ms, char *err,
                          size_t errlen)
{
    struct fault_plan p;
    fault_plan_init(&p, s->o.n, sim_rng_next(rng));
    uint32_t k = (uint32_t)sim_rng_range(rng, 1, s->f ? s->f : 1), mask = 0;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t r = i == 0 && sim_rng_below(rng, 2) ? 0 : (uint32_t)sim_rng_below(rng, s->o.n);
        while (mask >> r & 1)
            r = (r + 1) % s->o.n;
        mask |= 1u << r;
        int b = k_byz[sim_rng_below(rng, sizeof(k_byz) / sizeof(k_byz[0]))];
        uint64_t from = sim_rng_range(rng, 0, phase_ms / 2);
        int rv = add(&p, r, b, from, phase_ms, err, errlen);
        if (rv != BFT_E_OK) return rv;
        sim_log(s, "byzantine: replica %u %s from %llu ms", r, fault_behaviour_name(b),
                (unsigned long long)from);
    }
    return sim_apply_plan(s, &p, NULL, err, errlen);
}

/* Twins: scenario index and twin id from the seed, so consecutive seeds
 * are distinct scenarios. */
static int twins_setup(struct sim *s, const struct sim_options *o, uint64_t seed, uint64_t phase_ms,
                       char *err, size_t errlen)
{
    static struct twins_gen g; /* 33 KiB: static, rebuilt when the shape changes */
    struct twins_config c = {.n = s->o.n,
                             .twin = (uint32_t)(seed % s->o.n),
                             .rounds = o->twins_rounds ? o->twins_rounds : 4,
                             .max_groups = 2,
                             .fixed_leaders = true};
    c.round_ms = (uint32_t)(phase_ms / c.rounds ? phase_ms / c.rounds : 1);
    if (memcmp(&g.cfg, &c, sizeof(c)) != 0) {
        int rv = twins_gen_init(&g, &c, err, errlen);
        if (rv != BFT_E_OK) {
            memset(&g.cfg, 0, sizeof(g.cfg));
            return rv;
        }
    }
    struct twins_scenario ts;
    twins_scenario_at(&g, (seed / s->o.n) % twins_count(&g), &ts);
    if (s->o.verbose) {
        char line[512];
        twins_scenario_format(&ts, line, sizeof(line));
        sim_log(s, "%s", line);
    }
    return sim_apply_twins(s, &ts, err, errlen);
}

static int byzzfuzz_setup(struct sim *s, const struct sim_options *o, struct sim_rng *rng,
                          uint64_t seed, uint64_t phase_ms, char *err, size_t errlen)
{
    struct byzzfuzz_config c = {.n = s->o.n,
                                .byz = (uint32_t)(seed % s->o.n),
                                .rounds = o->byzzfuzz_rounds ? o->byzzfuzz_rounds : 10,
                                .proc_faults = (uint32_t)sim_rng_range(rng, 1, 6),
                                .net_faults = (uint32_t)sim_rng_range(rng, 0, 3)};
    c.round_ms = (uint32_t)(phase_ms / c.rounds ? phase_ms / c.rounds : 1);
    struct byzzfuzz_schedule sch;
    int rv = byzzfuzz_generate(&sch, &c, seed, err, errlen);
    if (rv != BFT_E_OK) return rv;
    struct fault_plan p;
    fault_plan_init(&p, s->o.n, seed);
    rv = byzzfuzz_to_plan(&sch, &p, err, errlen);
    if (rv != BFT_E_OK) return rv;
    if (s->o.verbose) {
        char line[1024];
        byzzfuzz_format(&sch, line, sizeof(line));
        sim_log(s, "%s", line);
    }
    return sim_apply_plan(s, &p, &sch, err, errlen);
}

int sim_byz_profile_setup(struct sim *s, const struct sim_options *o, uint64_t seed,
                          uint64_t phase_us, char *err, size_t errlen)
{
    struct sim_rng rng;
    sim_rng_seed(&rng, seed, 4);
    uint64_t phase_ms = phase_us / 1000;
    if (o->plan) return sim_apply_plan(s, o->plan, NULL, err, errlen);
    switch (o->faults) {
    case SIM_FAULTS_BYZANTINE:
        return byzantine_plan(s, &rng, phase_ms, err, errlen);
    case SIM_FAULTS_TWINS:
        return twins_setup(s, o, seed, phase_ms, err, errlen);
    case SIM_FAULTS_BYZZFUZZ:
        return byzzfuzz_setup(s, o, &rng, seed, phase_ms, err, errlen);
    default:
        return BFT_E_OK;
    }
}
