/* Helpers shared by test_sim_pbft.c and test_sim_pbft_slow.c (test code only). */
#ifndef SIM_PBFT_TEST_UTIL_H
#define SIM_PBFT_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sim.h"
#include "sim/sim_internal.h"

#define MS 1000ull
#define SEC 1000000ull

/* ---- helpers ---- */

static inline struct sim *mk(uint32_t n, uint32_t clients, uint32_t ckpt, uint32_t window)
{
    struct sim_options o;
    sim_options_default(&o, BFT_PROTO_PBFT, n);
    o.clients = clients;
    o.request_timeout_ms = 500;
    o.checkpoint_interval = ckpt;
    o.window = window;
    o.verbose = getenv("SIM_VERBOSE") != NULL;
    struct sim *s = NULL;
    char err[256];
    int rv = sim_create(&s, &o, 7, err, sizeof(err));
    if (rv != BFT_E_OK) fail_msg("sim_create: %s", err);
    sim_clients_load(s, false); /* scripted: requests only when a test submits */
    return s;
}

struct done_ctx {
    uint32_t c;
    uint64_t req_no;
};
static inline bool is_done(struct sim *s, void *ctx)
{
    struct done_ctx *d = ctx;
    return sim_client_done(s, d->c, d->req_no);
}

static inline bool wait_done(struct sim *s, uint32_t c, uint64_t req_no, uint64_t within_us)
{
    struct done_ctx d = {c, req_no};
    return sim_run_until(s, sim_now_us(s) + within_us, is_done, &d);
}

static inline uint64_t submit_and_wait(struct sim *s, uint32_t c, uint64_t within_us)
{
    uint64_t r = sim_client_submit_order(s, c, 0);
    assert_true(r > 0);
    if (!wait_done(s, c, r, within_us)) {
        const char *why = NULL;
        sim_failed(s, &why);
        fail_msg("client %u req %llu not done within %llu ms (%s)", c, (unsigned long long)r,
                 (unsigned long long)(within_us / MS), why ? why : "no failure recorded");
    }
    return r;
}

static inline void assert_not_failed(struct sim *s)
{
    const char *why = NULL;
    if (sim_failed(s, &why)) fail_msg("invariant violated: %s", why);
}

static inline struct sim_replica_status status(struct sim *s, uint32_t r)
{
    struct sim_replica_status st;
    assert_int_equal(sim_replica_status(s, r, &st), BFT_E_OK);
    return st;
}

static inline int drop(struct sim *s, uint8_t type, uint64_t from, uint64_t to)
{
    struct sim_rule r = {.action = SIM_RULE_DROP, .type = type, .from_mask = from, .to_mask = to};
    int id = sim_rule_add(s, &r);
    assert_true(id >= 0);
    return id;
}

static inline uint64_t replicas_mask(uint32_t bits)
{
    return (uint64_t)bits;
}

/* ---- seed sweeps ---- */

/* BFT_SIM_SEEDS=K runs K seeds at n=4 and K/5 at n=7. Sanitizer builds run
 * a fifth of the sweep by default so ctest stays within its timeout. */
static inline void sweep(uint32_t n, uint64_t seeds)
{
    const char *env = getenv("BFT_SIM_SEEDS");
#if defined(__SANITIZE_ADDRESS__)
    seeds /= 5;
#endif
    if (env) seeds = strtoull(env, NULL, 10) * (n == 4 ? 5 : 1) / 5;
    struct sim_options o;
    sim_options_default(&o, BFT_PROTO_PBFT, n);
    o.faults = SIM_FAULTS_DEFAULT;
    /* Short fault phases keep 600 runs well within a few minutes at -O2;
     * the replay line carries them so bftsim reproduces the same run. */
    o.fault_phase_min_us = 1 * SEC;
    o.fault_phase_max_us = 4 * SEC;
    /* Reads at 20% (bftsim's default is 50%) keep the sweep's time budget:
     * about +2% instead of +16%; tests/sim/test_sim_reads.c has more. */
    o.read_pct = 20;
    uint64_t failed = 0;
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        struct sim_result res;
        assert_int_equal(sim_run_seed(&o, seed, &res), BFT_E_OK);
        if (res.passed) continue;
        failed++;
        print_message("FAIL seed=%llu: %s; replay: bftsim --protocol pbft --nodes %u --seeds "
                      "%llu:%llu --faults default --fault-phase-ms 1000:4000 --reads 20\n",
                      (unsigned long long)seed, res.reason, n, (unsigned long long)seed,
                      (unsigned long long)seed);
    }
    assert_int_equal(failed, 0);
}

struct view_ctx {
    uint32_t mask;
    uint64_t view;
};
/* Every replica in mask is up and at least in view. */
static inline bool all_in_view(struct sim *s, void *ctx)
{
    struct view_ctx *v = ctx;
    for (uint32_t r = 0; r < BFT_MAX_REPLICAS; r++) {
        if (!(v->mask >> r & 1)) continue;
        struct sim_replica_status st;
        sim_replica_status(s, r, &st);
        if (!st.up || st.view < v->view) return false;
    }
    return true;
}

#endif
