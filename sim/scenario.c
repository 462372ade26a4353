/* sim: scenario files in the simulator (bftsim --scenario FILE.json,
 * docs/simulator.md "Scenarios").
 *
 * A scenario (faults/scenario.c, docs/faults.md "Scenario schema") is a
 * fault plan on a fixed timeline plus the outcome it must have. One seed
 * runs it for one protocol:
 *   1. the seed picks the clients, their outstanding requests and the
 *      latency range, as sim_run_seed does;
 *   2. Raft only: when the plan makes replica L lie in a way that only
 *      hurts from the leader's seat (fault_behaviour_needs_leader), L must
 *      lead at T=0, as bftctl makes it on real clusters (docs/faults.md
 *      "Raft: the liar must lead"): while another replica leads, it is
 *      crashed and restarted from its WAL 1.2 s later (an honest crash,
 *      which Raft tolerates);
 *   3. T=0: the plan is applied (its windows count from here) and the
 *      cluster runs to T = duration_s under client load, the checker on
 *      every step; nothing is healed, the file's timeline is the run;
 *   4. the verdict: each key of the expect block is one check (k_checks).
 * There is no separate liveness phase: "progress" is what the file says. */
#include <stdio.h>
#include <string.h>

#include "sim/sim_internal.h"

#define HEAD_START_US (30 * 1000000ull) /* bound on step 2 */
#define HEAD_START_DOWN_US 1200000      /* a deposed leader's downtime */
#define HEAD_START_RESTARTS_MAX 20

/* ---- the verdict: one check per expect key ---- */

typedef bool (*expect_check_fn)(const struct fault_expect *e, const struct sim_scenario_result *r,
                                char *why, size_t cap);

static bool check_safety(const struct fault_expect *e, const struct sim_scenario_result *r,
                         char *why, size_t cap)
{
    if (e->safety == FAULT_SAFETY_OK && r->violated) {
        snprintf(why, cap, "safety violated (expected ok): %s", r->reason);
        return false;
    }
    if (e->safety == FAULT_SAFETY_VIOLATED && !r->violated) {
        snprintf(why, cap, "safety held (expected violated): no invariant failed in %u s",
                 (unsigned)(r->duration_us / 1000000));
        return false;
    }
    return true;
}

/* Clients completed operations from progress_after_s to the end (the same
 * rule as bftctl's scenario verdict). Not judged when a violation is the
 * expectation: the checker stops the run at the first one. */
static bool check_progress(const struct fault_expect *e, const struct sim_scenario_result *r,
                           char *why, size_t cap)
{
    if (e->safety == FAULT_SAFETY_VIOLATED) return true;
    double after_s = (double)e->progress_after_ms / 1000.0;
    if (e->progress && r->ops_after == 0) {
        snprintf(why, cap, "no progress after %.1f s (expected some; %llu ops before)", after_s,
                 (unsigned long long)r->ops_total);
        return false;
    }
    if (!e->progress && r->ops_after > 0) {
        snprintf(why, cap, "%llu ops completed after %.1f s (expected none)",
                 (unsigned long long)r->ops_after, after_s);
        return false;
    }
    return true;
}

/* Every key faults/scenario.c accepts (fault_expect_key) must be here; a
 * key with no check would be reported as not checked, never passed. */
static const struct {
    const char *key;
    const char *how; /* what the simulator checks, for the header line */
    expect_check_fn check;
} k_checks[] = {
    {"safety",
     "the checker's invariants on every step (agreement, validity, exactly-once, order, "
     "order router, reads)",
     check_safety},
    {"progress", "client operations completed from progress_after_s to the end", check_progress},
    {"progress_after_s", "the start of the progress window (checked with progress)", NULL},
};

const char *sim_scenario_check_of(const char *key)
{
    for (size_t i = 0; i < sizeof k_checks / sizeof *k_checks; i++)
        if (strcmp(k_checks[i].key, key) == 0) return k_checks[i].how;
    return NULL;
}

size_t sim_scenario_unchecked(char *out, size_t cap)
{
    size_t off = 0, n = 0;
    if (cap) out[0] = 0;
    for (size_t i = 0; fault_expect_key(i); i++) {
        if (sim_scenario_check_of(fault_expect_key(i))) continue;
        n++;
        if (off < cap)
            off += (size_t)snprintf(out + off, cap - off, "%s%s", off ? ", " : "",
                                    fault_expect_key(i));
    }
    return n;
}

static void verdict(const struct fault_expect *e, struct sim_scenario_result *r)
{
    r->passed = true;
    if (r->failed && !r->violated) {
        /* A bound or the simulator itself, not the protocol: no verdict. */
        snprintf(r->why, sizeof r->why, "simulator: %s", r->reason);
        r->passed = false;
        return;
    }
    for (size_t i = 0; i < sizeof k_checks / sizeof *k_checks; i++)
        if (k_checks[i].check && !k_checks[i].check(e, r, r->why, sizeof r->why)) {
            r->passed = false;
            return;
        }
}

/* ---- the run ---- */

void sim_scenario_options(struct sim_options *o, const struct fault_scenario *sc, int protocol,
                          uint32_t nodes)
{
    const struct fault_scenario_protocol *sp = fault_scenario_for(sc, protocol);
    sim_options_default(o, protocol, nodes ? nodes : sp ? sp->nodes : sc->nodes);
    o->faults = SIM_FAULTS_NONE;
    o->honest_until_fault = true;
}

static bool find_leader(struct sim *s, void *ctx)
{
    int *leader = ctx;
    for (uint32_t r = 0; r < s->o.n; r++) {
        struct sim_replica_status st;
        sim_replica_status(s, r, &st);
        if (st.up && st.stats.is_leader) {
            *leader = (int)r;
            return true;
        }
    }
    return false;
}

/* Step 2: until `liar` leads, crash whoever else leads (restarted from its
 * WAL HEAD_START_DOWN_US later), so the others elect again. */
static bool head_start(struct sim *s, uint32_t liar, struct sim_scenario_result *r)
{
    uint64_t deadline = s->now_us + HEAD_START_US;
    while (r->leader_restarts < HEAD_START_RESTARTS_MAX) {
        int leader = -1;
        if (!sim_run_until(s, deadline, find_leader, &leader)) break;
        if ((uint32_t)leader == liar) return true;
        sim_crash(s, (uint32_t)leader);
        sim_schedule_restart(s, s->now_us + HEAD_START_DOWN_US, (uint32_t)leader, true);
        sim_log(s, "scenario: replica %d leads, not the liar %u: restarted", leader, liar);
        r->leader_restarts++;
        if (!sim_run_until(s, s->now_us + HEAD_START_DOWN_US + 1, NULL, NULL)) break;
    }
    if (!s->failed)
        snprintf(r->why, sizeof r->why,
                 "setup: replica %u did not lead within %llu s (%u leader restarts)", liar,
                 (unsigned long long)(HEAD_START_US / 1000000), r->leader_restarts);
    return false;
}

/* The replica a Raft run must let lead, or -1. */
static int liar_of(const struct sim_options *o, const struct fault_plan *p)
{
    if (o->protocol != BFT_PROTO_RAFT) return -1;
    for (uint32_t i = 0; i < p->n_faults; i++)
        if (fault_behaviour_needs_leader(p->fault[i].behaviour)) return (int)p->fault[i].replica;
    return -1;
}

static void mark_progress(struct sim *s, void *ctx)
{
    struct sim_scenario_result *r = ctx;
    r->ops_at_mark = s->st.ops_completed;
    r->marked = true;
}

/* The seed picks the load and the latency, as in sim_run_seed. */
static void seed_options(struct sim_options *ro, const struct sim_options *o, uint64_t seed)
{
    struct sim_rng rng;
    sim_rng_seed(&rng, seed, 3);
    *ro = *o;
    ro->plan = NULL;
    ro->clients = (uint32_t)sim_rng_range(&rng, o->clients > 1 ? 2 : 1, o->clients);
    ro->outstanding = (uint32_t)sim_rng_range(&rng, 1, o->outstanding);
    ro->latency_max_us = sim_rng_range(&rng, o->latency_min_us, o->latency_max_us);
}

/* Steps 3 and 4 on a built cluster. */
static void run_timeline(struct sim *s, const struct fault_plan *p, const struct fault_expect *e,
                         struct sim_scenario_result *r)
{
    char err[SIM_REASON_LEN - 32];
    int liar = liar_of(&s->o, p);
    if (liar >= 0 && !head_start(s, (uint32_t)liar, r) && !s->failed) return;
    r->t0_us = s->now_us;
    if (!s->failed && sim_apply_plan(s, p, NULL, err, sizeof err) != BFT_E_OK) {
        snprintf(r->why, sizeof r->why, "setup: %s", err);
        return;
    }
    uint64_t ops0 = s->st.ops_completed;
    if (e->progress_after_ms < r->duration_us / 1000)
        sim_at(s, r->t0_us + e->progress_after_ms * 1000, mark_progress, r);
    sim_run_until(s, r->t0_us + r->duration_us, NULL, NULL);
    r->ops_total = s->st.ops_completed - ops0;
    r->ops_after = r->marked ? s->st.ops_completed - r->ops_at_mark : 0;
    const char *reason = NULL;
    r->failed = sim_failed(s, &reason);
    r->violated = sim_violated(s);
    if (reason) snprintf(r->reason, sizeof r->reason, "%s", reason);
    verdict(e, r);
}

int sim_run_scenario(const struct fault_scenario *sc, const struct sim_options *o, uint64_t seed,
                     struct sim_scenario_result *r)
{
    memset(r, 0, sizeof *r);
    r->seed = seed;
    r->duration_us = (uint64_t)sc->duration_s * 1000000;
    const struct fault_scenario_protocol *sp = fault_scenario_for(sc, o->protocol);
    static struct fault_plan plan; /* 3 KiB: off the stack, one run at a time */
    char err[SIM_REASON_LEN - 32];
    if (!sp || fault_scenario_plan(sc, o->protocol, &plan, err, sizeof err) != BFT_E_OK) {
        snprintf(r->why, sizeof r->why, "setup: %s",
                 sp ? err : "the scenario does not list this protocol");
        return BFT_E_INVALID;
    }
    plan.n = o->n;
    if (!sc->seed_set) plan.seed = seed; /* else the file's seed drives the actors */
    if (fault_plan_validate(&plan, err, sizeof err) != BFT_E_OK) {
        snprintf(r->why, sizeof r->why, "setup: with %u nodes: %s", o->n, err);
        return BFT_E_INVALID;
    }
    struct sim_options ro;
    seed_options(&ro, o, seed);
    struct sim *s = NULL;
    if (sim_create(&s, &ro, seed, err, sizeof err) != BFT_E_OK) {
        snprintf(r->why, sizeof r->why, "setup: %s", err);
        return BFT_E_INVALID;
    }
    sim_log(s, "scenario %s seed %llu: %s n=%u clients=%u outstanding=%u for %u s", sc->name,
            (unsigned long long)seed, bft_protocol_name(o->protocol), ro.n, ro.clients,
            ro.outstanding, sc->duration_s);
    run_timeline(s, &plan, &sp->expect, r);
    sim_stats(s, &r->stats);
    sim_fault_stats(s, &r->faults);
    sim_destroy(s);
    return BFT_E_OK;
}
