/* Helpers shared by the simulator tests (tests/sim/test_sim_*.c). */
#ifndef BFT_TESTS_SIM_TEST_H
#define BFT_TESTS_SIM_TEST_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

#include "node/node.h"
#include "core/core.h"
#include "sim/sim.h"

#define SEC 1000000ull /* virtual microseconds */

/* A seed count scaled by BFT_SIM_SEEDS_SCALE (make test's ASan pass runs
 * 0.2; an ASan build run by hand defaults to it too), at least 1. */
static inline uint64_t scaled(uint64_t n)
{
    const char *env = getenv("BFT_SIM_SEEDS_SCALE");
    double k = env ? strtod(env, NULL) : 1.0;
#if defined(__SANITIZE_ADDRESS__)
    if (!env) k = 0.2;
#endif
    uint64_t v = (uint64_t)((double)n * k);
    return v ? v : 1;
}

/* The first of replicas 0..n-1 that is up and reports itself leader, or
 * -1. */
static inline int sim_test_leader(const struct sim *s, uint32_t n)
{
    for (uint32_t r = 0; r < n; r++) {
        struct sim_replica_status st;
        if (sim_replica_status(s, r, &st) == BFT_E_OK && st.up && st.stats.is_leader) return (int)r;
    }
    return -1;
}

/* HotStuff tests are cmocka skips in a tree built without it. */
static inline bool have_hotstuff(void)
{
    if (bft_core_ops_for(BFT_PROTO_HOTSTUFF)) return true;
    print_message("hotstuff is not built: skipped\n");
    return false;
}

#endif
