/* The Byzantine fault matrix in the simulator (issue "Fault injection"):
 * {pbft, hotstuff} x {every behaviour} x {n=4 with 1 faulty, n=7 with 2
 * faulty} keeps agreement, validity and exactly-once among the honest
 * replicas and is live on the 2f+1 honest core once the faults stop;
 * crash-fault Raft with an equivocating or twinned leader is caught by
 * the checker.
 * BFT_SIM_SEEDS_SCALE (e.g. 0.2 under ASan) scales the seed counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/node.h"
#include "core/core.h"
#include "tests/sim/sim_test.h"

static const char *const k_behaviours[] = {"silent",   "slow",   "equivocate", "junk",
                                           "badsig",   "replay", "stale",      "flood",
                                           "withhold", "forge",  "twin",       "crash"};
#define N_BEHAVIOURS (sizeof(k_behaviours) / sizeof(k_behaviours[0]))

/* One cell: `faulty` replicas (0, 1, ...) misbehave from 0.3 s to the end
 * of a 3 s fault phase; then the liveness phase on the healed cluster. */
static void cell(int proto, uint32_t n, uint32_t faulty, const char *beh, uint64_t seeds)
{
    struct fault_plan p;
    fault_plan_init(&p, n, 42);
    char err[256];
    for (uint32_t r = 0; r < faulty; r++) {
        char spec[64];
        snprintf(spec, sizeof(spec), "%u:%s@0.3", r, beh);
        if (fault_plan_add_fault(&p, spec, err, sizeof(err)) != BFT_E_OK) fail_msg("%s", err);
    }
    struct sim_options o;
    sim_options_default(&o, proto, n);
    o.faults = SIM_FAULTS_NONE;
    o.plan = &p;
    o.fault_phase_min_us = 2 * SEC;
    o.fault_phase_max_us = 3 * SEC;
    o.checkpoint_interval = 32;
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        struct sim_result res;
        assert_int_equal(sim_run_seed(&o, seed, &res), BFT_E_OK);
        if (!res.passed)
            fail_msg("%s n=%u %u x %s seed %llu: %s; replay: bftsim --protocol %s --nodes %u "
                     "--seeds %llu --faults none --fault-phase-ms 2000:3000 --byzantine 0:%s@0.3%s",
                     bft_protocol_name(proto), n, faulty, beh, (unsigned long long)seed, res.reason,
                     bft_protocol_name(proto), n, (unsigned long long)seed, beh,
                     faulty > 1 ? " (and 1:...)" : "");
        /* The behaviour really ran: the faulty replica's messages went
         * through its actor (or, for twin/crash, the host acted). */
        if (strcmp(beh, "twin") == 0)
            assert_true(res.faults.twin_cut > 0);
        else if (strcmp(beh, "crash") == 0)
            assert_true(res.stats.crashes >= faulty);
        else
            assert_true(res.faults.actor.seen > 0);
        if (strcmp(beh, "equivocate") == 0) assert_true(res.faults.actor.equivocated > 0);
        if (strcmp(beh, "flood") == 0 || strcmp(beh, "junk") == 0)
            assert_true(res.faults.actor.injected > 0);
    }
}

static void matrix(int proto)
{
    if (!bft_core_ops_for(proto)) {
        print_message("%s is not built: skipped\n", bft_protocol_name(proto));
        skip();
    }
    for (size_t b = 0; b < N_BEHAVIOURS; b++) {
        cell(proto, 4, 1, k_behaviours[b], scaled(3));
        cell(proto, 7, 2, k_behaviours[b], scaled(1));
    }
}

static void test_pbft_matrix_safe_and_live(void **state)
{
    (void)state;
    matrix(BFT_PROTO_PBFT);
}

static void test_hotstuff_matrix_safe_and_live(void **state)
{
    (void)state;
    matrix(BFT_PROTO_HOTSTUFF);
}

/* Raft trusts its leader: an equivocating leader makes two followers
 * commit different entries at one index, and the checker must say so. The
 * faulty replica is whoever wins the first election. */
static bool have_leader(struct sim *s, void *ctx)
{
    uint32_t *leader = ctx;
    for (uint32_t r = 0; r < 3; r++) {
        struct sim_replica_status st;
        sim_replica_status(s, r, &st);
        if (st.up && st.stats.is_leader && st.last_executed > 0) {
            *leader = r;
            return true;
        }
    }
    return false;
}

static void raft_liar_detected(const char *beh)
{
    if (!bft_core_ops_for(BFT_PROTO_RAFT)) skip();
    uint32_t detected = 0, runs = (uint32_t)scaled(5);
    for (uint64_t seed = 1; seed <= runs; seed++) {
        struct sim_options o;
        sim_options_default(&o, BFT_PROTO_RAFT, 3);
        struct sim *s = NULL;
        char err[256];
        assert_int_equal(sim_create(&s, &o, seed, err, sizeof(err)), BFT_E_OK);
        uint32_t leader = UINT32_MAX;
        assert_true(sim_run_until(s, 10 * SEC, have_leader, &leader));
        struct fault_plan p;
        fault_plan_init(&p, 3, seed);
        char spec[32];
        snprintf(spec, sizeof(spec), "%u:%s", leader, beh);
        assert_int_equal(fault_plan_add_fault(&p, spec, err, sizeof(err)), BFT_E_OK);
        assert_int_equal(sim_apply_plan(s, &p, NULL, err, sizeof(err)), BFT_E_OK);
        sim_run_until(s, sim_now_us(s) + 5 * SEC, NULL, NULL);
        const char *why = NULL;
        assert_true(sim_failed(s, &why));
        /* A safety invariant, not liveness: two honest followers applied
         * different batches (agreement) or one request twice. */
        print_message("raft seed %llu, leader %u %s: %s\n", (unsigned long long)seed, leader, beh,
                      why);
        /* ... or a read that saw a state no honest replica had, or missed
         * an acknowledged order (the read checker, when a read runs into
         * the liar first). */
        assert_true(strncmp(why, "agreement", 9) == 0 || strncmp(why, "exactly-once", 12) == 0 ||
                    strncmp(why, "validity", 8) == 0 || strncmp(why, "stale read", 10) == 0 ||
                    strncmp(why, "read of uncommitted write", 25) == 0 ||
                    strncmp(why, "read:", 5) == 0 || strncmp(why, "orders:", 7) == 0);
        detected++;
        sim_destroy(s);
    }
    assert_int_equal(detected, runs);
}

static void test_raft_equivocating_leader_is_detected(void **state)
{
    (void)state;
    raft_liar_detected("equivocate");
}

/* A twin of the leader (a clone with its key and disk) leads one side of
 * the split while the other side elects a new leader with the clone's
 * vote: two leaders commit different entries at one index. */
static void test_raft_twin_leader_is_detected(void **state)
{
    (void)state;
    raft_liar_detected("twin");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pbft_matrix_safe_and_live),
        cmocka_unit_test(test_hotstuff_matrix_safe_and_live),
        cmocka_unit_test(test_raft_equivocating_leader_is_detected),
        cmocka_unit_test(test_raft_twin_leader_is_detected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
