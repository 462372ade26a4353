/* Every replica restarts at once (a power loss), after WAL rotations.
 *
 * 1. The PBFT kept log (docs/pbft.md "Snapshots") lived in memory only and
 *    a rotation drops the WAL below h, so each replica came back at its own
 *    snapshot below h with nobody holding the entries from there to h: the
 *    cluster stalled for good, those committed batches on no disk (PBFT
 *    seed 1: every replica at 1712, h = 1840). The entries are WAL records
 *    now (KEPT, pbft_rec.h) and a replica replays them from its own disk.
 * 2. A retried request that every replica executed but none can answer
 *    (docs/simulator.md; found as `bftsim --protocol raft --nodes 3 --seeds
 *    1631:1631 --faults default`): the exactly-once table travels in
 *    snapshots, the reply cache does not, so the client retried forever.
 *    The replicas now answer with a signed NO_RESULT reply (docs/wire.md
 *    "REPLY") and the client closes the request on f+1 of them (Raft: the
 *    leader's); the simulated client checks that it had executed.
 *
 * Each case: 4 closed-loop clients, checkpoints every 16 seqs so snapshots
 * and rotations happen within seconds; every replica crashes at 3 s and
 * restarts from its durable state at 3.5 s. In case 2 every REPLY to
 * client 0 is dropped from 1 s to 4 s, so its requests execute and it
 * keeps retrying them. By 20 s: the checker's invariants held (agreement,
 * validity, exactly-once), commits went on after the restart, every
 * client has nothing outstanding. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/wire.h"
#include "tests/sim/sim_test.h"

struct tally {
    uint64_t compactions, closed;
};

static void one_seed(int proto, uint32_t n, uint64_t seed, bool drop_replies, struct tally *t)
{
    struct sim_options o;
    sim_options_default(&o, proto, n);
    o.clients = 4;
    o.outstanding = 2;
    o.read_pct = 0;
    o.checkpoint_interval = 16;
    o.verbose = getenv("SIM_VERBOSE") != NULL;
    struct sim *s;
    char err[256];
    if (sim_create(&s, &o, seed, err, sizeof err) != BFT_E_OK) fail_msg("sim_create: %s", err);
    struct sim_rule drop = {.action = SIM_RULE_DROP,
                            .type = BFT_MSG_REPLY,
                            .from_mask = SIM_MASK_REPLICAS,
                            .to_mask = SIM_MASK(SIM_EP_CLIENT(0)),
                            .after_us = 1 * SEC,
                            .until_us = 4 * SEC};
    if (drop_replies) assert_true(sim_rule_add(s, &drop) >= 0);
    sim_run_until(s, 3 * SEC, NULL, NULL);
    struct sim_stats st;
    sim_stats(s, &st);
    t->compactions += st.compactions;
    for (uint32_t r = 0; r < n; r++)
        assert_int_equal(sim_crash(s, r), BFT_E_OK);
    sim_run_until(s, 3 * SEC + SEC / 2, NULL, NULL);
    for (uint32_t r = 0; r < n; r++)
        assert_int_equal(sim_restart(s, r, true), BFT_E_OK);
    uint64_t at_restart = sim_max_executed(s);
    sim_run_until(s, 8 * SEC, NULL, NULL);
    sim_clients_load(s, false);
    sim_run_until(s, 20 * SEC, NULL, NULL);
    const char *why = NULL;
    if (sim_failed(s, &why)) fail_msg("seed %llu: %s", (unsigned long long)seed, why);
    uint64_t top = sim_max_executed(s);
    if (top <= at_restart)
        fail_msg("seed %llu: no commit after every replica restarted (seq %llu)",
                 (unsigned long long)seed, (unsigned long long)top);
    if (!sim_clients_idle(s))
        fail_msg("seed %llu: a client still has requests outstanding 12 s after the load stopped",
                 (unsigned long long)seed);
    sim_stats(s, &st);
    t->closed += st.no_result;
    sim_destroy(s);
}

static void sweep(int proto, uint32_t n, uint64_t seeds, bool drop_replies)
{
    struct tally t = {0};
    uint64_t k = scaled(seeds);
    for (uint64_t seed = 1; seed <= k; seed++)
        one_seed(proto, n, seed, drop_replies, &t);
    print_message("%s n=%u: %llu seeds, %llu WAL rotations before the crash, %llu requests "
                  "closed without a result\n",
                  bft_protocol_name(proto), n, (unsigned long long)k,
                  (unsigned long long)t.compactions, (unsigned long long)t.closed);
    /* The cases this file exists for must have happened. */
    assert_true(t.compactions > 0);
    if (drop_replies) assert_true(t.closed > 0);
}

static void test_pbft_every_replica_restarts_after_rotations(void **state)
{
    (void)state;
    sweep(BFT_PROTO_PBFT, 4, 5, false);
}

static void test_hotstuff_every_replica_restarts_after_rotations(void **state)
{
    (void)state;
    if (!have_hotstuff()) skip();
    sweep(BFT_PROTO_HOTSTUFF, 4, 5, false);
}

static void test_raft_every_replica_restarts_after_rotations(void **state)
{
    (void)state;
    sweep(BFT_PROTO_RAFT, 3, 5, false);
}

static void test_raft_retry_answered_after_every_replica_restarted(void **state)
{
    (void)state;
    sweep(BFT_PROTO_RAFT, 3, 5, true);
}

static void test_pbft_retry_answered_after_every_replica_restarted(void **state)
{
    (void)state;
    sweep(BFT_PROTO_PBFT, 4, 5, true);
}

static void test_hotstuff_retry_answered_after_every_replica_restarted(void **state)
{
    (void)state;
    if (!have_hotstuff()) skip();
    sweep(BFT_PROTO_HOTSTUFF, 4, 5, true);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pbft_every_replica_restarts_after_rotations),
        cmocka_unit_test(test_hotstuff_every_replica_restarts_after_rotations),
        cmocka_unit_test(test_raft_every_replica_restarts_after_rotations),
        cmocka_unit_test(test_raft_retry_answered_after_every_replica_restarted),
        cmocka_unit_test(test_pbft_retry_answered_after_every_replica_restarted),
        cmocka_unit_test(test_hotstuff_retry_answered_after_every_replica_restarted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
