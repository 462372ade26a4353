/* Crashes in the middle of a sync (sim_crash_in_sync): the step's WAL
 * records are lost, what it sent ahead of the sync is out, nothing else of
 * it leaves. Before this the simulator took every record as durable the
 * moment it was written, so it could not test the one place where a
 * message may leave before its record is durable: the Raft leader's
 * AppendEntries (Raft §10.2.1; docs/design.md "Durability"). The leader
 * that loses the entries it sent must still never make two replicas apply
 * different orders at a seq, and the cluster must go on.
 *
 * Each case: 8 closed-loop clients, the leader (the busiest sender) is
 * asked to crash in its next sync 2 s in, restarts from its WAL 1 s later;
 * the checker's invariants (agreement, validity, exactly-once) hold
 * throughout, commits resume, and at the end every replica is up and
 * within a checkpoint interval of the top. BFT_SIM_SEEDS_SCALE scales the
 * seed counts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/sim_test.h"

static void one_seed(int proto, uint32_t n, uint64_t seed, uint64_t *ahead)
{
    struct sim_options o;
    sim_options_default(&o, proto, n);
    o.clients = 8;
    o.outstanding = 2;
    o.read_pct = 0;
    o.verbose = getenv("SIM_VERBOSE") != NULL;
    struct sim *s;
    char err[256];
    if (sim_create(&s, &o, seed, err, sizeof err) != BFT_E_OK) fail_msg("sim_create: %s", err);
    sim_run_until(s, 2 * SEC, NULL, NULL);
    int victim = sim_test_leader(s, n);
    if (victim < 0) fail_msg("seed %llu: no leader at 2 s", (unsigned long long)seed);
    assert_int_equal(sim_crash_in_sync(s, (uint32_t)victim), BFT_E_OK);
    sim_run_until(s, 3 * SEC, NULL, NULL);
    struct sim_stats st;
    sim_stats(s, &st);
    if (st.crashes != 1)
        fail_msg("seed %llu: %llu crashes by 3 s", (unsigned long long)seed,
                 (unsigned long long)st.crashes);
    *ahead += st.torn_ahead;
    assert_int_equal(sim_restart(s, (uint32_t)victim, true), BFT_E_OK);
    uint64_t at_restart = sim_max_executed(s);
    sim_run_until(s, 10 * SEC, NULL, NULL);
    const char *why = NULL;
    if (sim_failed(s, &why)) fail_msg("seed %llu: %s", (unsigned long long)seed, why);
    uint64_t top = sim_max_executed(s);
    if (top <= at_restart)
        fail_msg("seed %llu: no commit after the restart (seq %llu)", (unsigned long long)seed,
                 (unsigned long long)top);
    for (uint32_t r = 0; r < n; r++) {
        struct sim_replica_status rs;
        assert_int_equal(sim_replica_status(s, r, &rs), BFT_E_OK);
        if (!rs.up || rs.last_executed + 128 < top)
            fail_msg("seed %llu: replica %u at seq %llu, the top is %llu", (unsigned long long)seed,
                     r, (unsigned long long)rs.last_executed, (unsigned long long)top);
    }
    sim_destroy(s);
}

static void sweep(int proto, uint32_t n, uint64_t seeds, bool expect_ahead)
{
    uint64_t ahead = 0, k = scaled(seeds);
    for (uint64_t seed = 1; seed <= k; seed++)
        one_seed(proto, n, seed, &ahead);
    print_message("%s n=%u: %llu seeds, %llu of the crashes lost entries already sent ahead\n",
                  bft_protocol_name(proto), n, (unsigned long long)k, (unsigned long long)ahead);
    /* The case this file exists for must have happened. */
    if (expect_ahead) assert_true(ahead > 0);
}

static void test_raft_leader_crashes_in_its_sync_after_sending_ahead(void **state)
{
    (void)state;
    sweep(BFT_PROTO_RAFT, 3, 20, true);
}

static void test_raft_n5_leader_crashes_in_its_sync(void **state)
{
    (void)state;
    sweep(BFT_PROTO_RAFT, 5, 8, true);
}

static void test_pbft_primary_crashes_in_its_sync(void **state)
{
    (void)state;
    sweep(BFT_PROTO_PBFT, 4, 8, false);
}

static void test_hotstuff_leader_crashes_in_its_sync(void **state)
{
    (void)state;
    if (!have_hotstuff()) skip();
    sweep(BFT_PROTO_HOTSTUFF, 4, 8, false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raft_leader_crashes_in_its_sync_after_sending_ahead),
        cmocka_unit_test(test_raft_n5_leader_crashes_in_its_sync),
        cmocka_unit_test(test_pbft_primary_crashes_in_its_sync),
        cmocka_unit_test(test_hotstuff_leader_crashes_in_its_sync),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
