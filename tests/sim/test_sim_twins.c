/* Twins (Bano et al., OPODIS'21 §4) and ByzzFuzz (Winter et al.,
 * OOPSLA'23) sweeps in the simulator: every generated scenario must keep
 * agreement, validity and exactly-once among the honest replicas, and the
 * cluster must be live once the faults stop. make test runs
 * TWINS_SEEDS / BYZZFUZZ_SEEDS scenarios (scaled by BFT_SIM_SEEDS_SCALE);
 * make sim-long runs 10,000 / 2,000 through bftsim (docs/simulator.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "node/node.h"
#include "core/core.h"
#include "tests/sim/sim_test.h"

#define TWINS_SEEDS 400
#define BYZZFUZZ_SEEDS 200

/* The same options bftsim uses with --fault-phase-ms 1000:2000, so every
 * failure line replays there. */
static void sweep(int proto, int profile, uint64_t seeds)
{
    if (!bft_core_ops_for(proto)) skip();
    struct sim_options o;
    sim_options_default(&o, proto, 4);
    o.faults = profile;
    o.fault_phase_min_us = 1 * SEC;
    o.fault_phase_max_us = 2 * SEC;
    uint64_t failed = 0;
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        struct sim_result res;
        assert_int_equal(sim_run_seed(&o, seed, &res), BFT_E_OK);
        if (res.passed) continue;
        failed++;
        print_message("FAIL seed=%llu: %s; replay: bftsim --protocol %s --nodes 4 --seeds %llu "
                      "--faults %s --fault-phase-ms 1000:2000\n",
                      (unsigned long long)seed, res.reason, bft_protocol_name(proto),
                      (unsigned long long)seed, sim_profile_name(profile));
    }
    assert_int_equal(failed, 0);
}

static void test_twins_pbft(void **state)
{
    (void)state;
    sweep(BFT_PROTO_PBFT, SIM_FAULTS_TWINS, scaled(TWINS_SEEDS));
}

static void test_twins_hotstuff(void **state)
{
    (void)state;
    sweep(BFT_PROTO_HOTSTUFF, SIM_FAULTS_TWINS, scaled(TWINS_SEEDS));
}

static void test_byzzfuzz_pbft(void **state)
{
    (void)state;
    sweep(BFT_PROTO_PBFT, SIM_FAULTS_BYZZFUZZ, scaled(BYZZFUZZ_SEEDS));
}

static void test_byzzfuzz_hotstuff(void **state)
{
    (void)state;
    sweep(BFT_PROTO_HOTSTUFF, SIM_FAULTS_BYZZFUZZ, scaled(BYZZFUZZ_SEEDS));
}

/* The generators are reproducible: one seed, one scenario. */
static void test_generators_deterministic(void **state)
{
    (void)state;
    struct twins_gen *g = malloc(sizeof(*g));
    assert_non_null(g);
    struct twins_config c = {
        .n = 4, .twin = 0, .rounds = 4, .max_groups = 2, .fixed_leaders = true, .round_ms = 250};
    char err[128];
    assert_int_equal(twins_gen_init(g, &c, err, sizeof(err)), BFT_E_OK);
    assert_true(twins_count(g) >= 10000); /* enough distinct scenarios for sim-long */
    struct twins_scenario a, b;
    twins_scenario_sample(g, 99, &a);
    twins_scenario_sample(g, 99, &b);
    assert_memory_equal(&a, &b, sizeof(a));
    free(g);
    struct byzzfuzz_config bc = {
        .n = 4, .byz = 1, .rounds = 10, .proc_faults = 3, .net_faults = 2, .round_ms = 200};
    struct byzzfuzz_schedule x, y;
    assert_int_equal(byzzfuzz_generate(&x, &bc, 7, err, sizeof(err)), BFT_E_OK);
    assert_int_equal(byzzfuzz_generate(&y, &bc, 7, err, sizeof(err)), BFT_E_OK);
    assert_memory_equal(&x, &y, sizeof(x));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_generators_deterministic), cmocka_unit_test(test_twins_pbft),
        cmocka_unit_test(test_twins_hotstuff),           cmocka_unit_test(test_byzzfuzz_pbft),
        cmocka_unit_test(test_byzzfuzz_hotstuff),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
