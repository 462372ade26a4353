/* HotStuff (Yin et al., PODC'19) and Raft (Ongaro & Ousterhout, ATC'14) in
 * the deterministic simulator: seed sweeps with the default fault profile
 * (crashes and restarts, loss, duplication, reordering, partitions), each
 * seed a whole run followed by a liveness phase on the healed cluster; the
 * checker asserts agreement, validity, exactly-once and equal state digests
 * after every step. PBFT's sweeps and scenarios are in test_sim_pbft.c; the
 * scripted HotStuff and Raft scenarios are unit tests
 * (tests/core/hotstuff/test_hotstuff*.c, test_raft*.c). */
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

/* BFT_SIM_SEEDS_SCALE (e.g. 0.2 under sanitizers) scales the seed counts. */

static void sweep(int proto, uint32_t n, uint64_t seeds)
{
    if (!bft_core_ops_for(proto)) skip();
    const char *name = bft_protocol_name(proto);
    struct sim_options o;
    sim_options_default(&o, proto, n);
    o.faults = SIM_FAULTS_DEFAULT;
    o.fault_phase_min_us = 1 * SEC;
    o.fault_phase_max_us = 4 * SEC;
    /* Reads at 20% (bftsim's default is 50%) keep the sweep's time budget:
     * about +2% instead of +16%; tests/sim/test_sim_reads.c has more. */
    o.read_pct = 20;
    uint64_t failed = 0, total = scaled(seeds);
    for (uint64_t seed = 1; seed <= total; seed++) {
        struct sim_result res;
        assert_int_equal(sim_run_seed(&o, seed, &res), BFT_E_OK);
        if (res.passed) continue;
        failed++;
        print_message("FAIL seed=%llu: %s; replay: bftsim --protocol %s --nodes %u --seeds "
                      "%llu:%llu --faults default --fault-phase-ms 1000:4000 --reads 20\n",
                      (unsigned long long)seed, res.reason, name, n, (unsigned long long)seed,
                      (unsigned long long)seed);
    }
    print_message("%s n=%u: %llu passed, %llu failed\n", name, n,
                  (unsigned long long)(total - failed), (unsigned long long)failed);
    assert_int_equal(failed, 0);
}

static void test_hotstuff_500_seeds_n4_default_profile(void **state)
{
    (void)state;
    sweep(BFT_PROTO_HOTSTUFF, 4, 500);
}

static void test_hotstuff_100_seeds_n7_default_profile(void **state)
{
    (void)state;
    sweep(BFT_PROTO_HOTSTUFF, 7, 100);
}

static void test_raft_500_seeds_n3_default_profile(void **state)
{
    (void)state;
    sweep(BFT_PROTO_RAFT, 3, 500);
}

static void test_raft_100_seeds_n5_default_profile(void **state)
{
    (void)state;
    sweep(BFT_PROTO_RAFT, 5, 100);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hotstuff_500_seeds_n4_default_profile),
        cmocka_unit_test(test_hotstuff_100_seeds_n7_default_profile),
        cmocka_unit_test(test_raft_500_seeds_n3_default_profile),
        cmocka_unit_test(test_raft_100_seeds_n5_default_profile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
