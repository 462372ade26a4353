/* Reads in the simulator: read-only LOOKUPs (bft_client_read_at) at every
 * consistency level (docs/reads.md), each checked against its level's
 * promise (sim/checker.c: linearizable and quorum reads for
 * linearizability against the orders; local reads for no uncommitted write
 * and freshness within their bound), for all three protocols, under
 * faults, and one scripted Raft regression:
 *
 * Lease safety across a follower restart (diss. §6.4.1, issue 12 defect
 * 1). Raft leader L holds a lease confirmed by follower F; candidate C has
 * been cut off from L for a while, so its election timer runs. L is cut
 * off from F too, and F crashes and restarts from its WAL. Before the fix
 * (raft_start: a replica restarted from its WAL refuses votes for one
 * election timeout), F voted for C at once; C was elected and committed an
 * order (acknowledged to client A) while L, cut off, still served reads
 * from its lease: client B's LOOKUP of A's acknowledged order returned
 * "not found" -- a stale read, which the read checker reports. With the
 * fix every one of these runs passes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/node.h"
#include "client/client.h"
#include "core/core.h"
#include "tests/sim/sim_test.h"

#define MS 1000ull

/* ---- the Raft lease scenario ---- */

struct wait_order {
    uint32_t client;
    uint64_t req_no;
};
static bool order_done(struct sim *s, void *ctx)
{
    const struct wait_order *w = ctx;
    return sim_client_done(s, w->client, w->req_no);
}
struct wait_read {
    uint32_t client;
    uint64_t id;
};
static bool read_done(struct sim *s, void *ctx)
{
    const struct wait_read *w = ctx;
    return sim_client_read_done(s, w->client, w->id);
}

static int raft_leader(struct sim *s)
{
    return sim_test_leader(s, 3);
}

/* One run of the scenario: C cut off from L for `cut_ms` before L is
 * isolated and F restarted. Returns the failure reason ("" if it passed)
 * in why; *acked says whether A's order was acknowledged in the lease
 * window's reach (the scenario happened as intended). */
static void lease_scenario(uint64_t seed, uint64_t cut_ms, char *why, size_t cap, bool *acked)
{
    struct sim_options o;
    sim_options_default(&o, BFT_PROTO_RAFT, 3);
    o.clients = 2;
    struct sim *s = NULL;
    char err[256];
    assert_int_equal(sim_create(&s, &o, seed, err, sizeof err), BFT_E_OK);
    sim_clients_load(s, false);
    sim_run_until(s, 3 * SEC, NULL, NULL);
    int L = raft_leader(s);
    assert_true(L >= 0);
    uint32_t F = ((uint32_t)L + 1) % 3, C = ((uint32_t)L + 2) % 3;
    /* Both clients learn that L leads (a Raft reply comes from the leader). */
    struct wait_order wa = {0, sim_client_submit_order(s, 0, sim_client_order_id(0, 1))};
    struct wait_order wb = {1, sim_client_submit_order(s, 1, sim_client_order_id(1, 1))};
    assert_true(sim_run_until(s, sim_now_us(s) + 3 * SEC, order_done, &wa));
    assert_true(sim_run_until(s, sim_now_us(s) + 3 * SEC, order_done, &wb));
    /* C stops hearing from L: its election timer runs; F, which hears L,
     * refuses it. */
    sim_partition(s, 1u << L, 1u << C);
    sim_run_until(s, sim_now_us(s) + cut_ms * MS, NULL, NULL);
    *acked = false;
    if (raft_leader(s) != L) goto out; /* C got elected anyway: no lease left to test */
    /* L is cut off (its lease still holds); F restarts from its WAL. */
    sim_partition(s, 1u << L, 1u << F);
    assert_int_equal(sim_crash(s, F), BFT_E_OK);
    assert_int_equal(sim_restart(s, F, true), BFT_E_OK);
    uint64_t t0 = sim_now_us(s);
    struct wait_order w2 = {0, sim_client_submit_order(s, 0, sim_client_order_id(0, 2))};
    if (!sim_run_until(s, t0 + 5 * SEC, order_done, &w2)) goto out;
    *acked = sim_now_us(s) < t0 + 1 * SEC;
    /* B, which still believes L leads, reads A's acknowledged order. */
    struct wait_read wr = {1, sim_client_read(s, 1, 0, sim_client_order_id(0, 2))};
    assert_true(wr.id != 0);
    if (!sim_run_until(s, sim_now_us(s) + 10 * SEC, read_done, &wr) && !sim_failed(s, NULL))
        sim_fail(s, "B's read did not complete");
out:;
    const char *reason = NULL;
    snprintf(why, cap, "%s", sim_failed(s, &reason) ? reason : "");
    sim_destroy(s);
}

/* The regression: seeds 1-3 x C cut off for 1000..3000 ms in 50 ms steps
 * (123 short runs, no load). With the `if (c->term > 0) { c->sticky =
 * true; ... }` block of raft_start removed (a scratch build), 67 of them
 * get A's order acknowledged by the new leader within 1 s of F's restart
 * and all 67 fail with "stale read: client 1 LOOKUP of client 0 order
 * 1099511627778 ... returned not found ...; the order (order_seq 3, ...)
 * was acknowledged ..." (e.g. seed 1, cut 1250 ms). With the fix none is
 * acknowledged that early (F refuses votes until L's lease is over) and
 * every run passes: B's read at L finds no lease, falls back to an ordered
 * LOOKUP and finds the order. */
static void test_raft_restarted_follower_no_stale_lease_read(void **state)
{
    (void)state;
    if (!bft_core_ops_for(BFT_PROTO_RAFT)) skip();
    uint32_t failed = 0, acked = 0;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        for (uint64_t cut = 1000; cut <= 3000; cut += 50) {
            char why[SIM_REASON_LEN];
            bool a = false;
            lease_scenario(seed, cut, why, sizeof why, &a);
            acked += a;
            if (!why[0]) continue;
            failed++;
            print_message("FAIL seed=%llu cut=%llu ms: %s\n", (unsigned long long)seed,
                          (unsigned long long)cut, why);
        }
    }
    print_message("lease scenario: %u runs with A's order acknowledged within 1 s, %u failed\n",
                  acked, failed);
    assert_int_equal(failed, 0);
}

/* ---- reads under faults: seeds x profiles, every read checked ---- */

/* Each read at `level` (SIM_READ_MIX: each picks one); local reads with a
 * 50 ms bound. */
static void read_sweep_at(int proto, uint32_t n, int profile, uint64_t seeds, uint64_t min_ms,
                          uint64_t max_ms, int level)
{
    if (!bft_core_ops_for(proto)) skip();
    struct sim_options o;
    sim_options_default(&o, proto, n);
    o.read_level = level;
    o.read_staleness_ms = 50;
    o.faults = profile;
    o.fault_phase_min_us = min_ms * MS;
    o.fault_phase_max_us = max_ms * MS;
    uint64_t failed = 0, total = scaled(seeds), reads = 0, found = 0;
    uint64_t by_level[BFT_READ_LEVELS] = {0}, local_answers = 0;
    for (uint64_t seed = 1; seed <= total; seed++) {
        struct sim_result res;
        assert_int_equal(sim_run_seed(&o, seed, &res), BFT_E_OK);
        reads += res.stats.reads_completed;
        found += res.stats.reads_found;
        for (int l = 0; l < BFT_READ_LEVELS; l++)
            by_level[l] += res.stats.reads_level[l];
        local_answers += res.stats.local_answers;
        if (res.passed) continue;
        failed++;
        print_message("FAIL seed=%llu: %s; replay: bftsim --protocol %s --nodes %u --seeds "
                      "%llu:%llu --faults %s --fault-phase-ms %llu:%llu --read-level %s\n",
                      (unsigned long long)seed, res.reason, bft_protocol_name(proto), n,
                      (unsigned long long)seed, (unsigned long long)seed, sim_profile_name(profile),
                      (unsigned long long)min_ms, (unsigned long long)max_ms,
                      level == SIM_READ_MIX     ? "mix:50"
                      : level == BFT_READ_LOCAL ? "local:50"
                                                : bft_read_level_name(level));
    }
    print_message("%s n=%u %s %s: %llu passed, %llu failed; %llu reads (%llu/%llu/%llu "
                  "linearizable/quorum/local, %llu local answers checked), %llu found\n",
                  bft_protocol_name(proto), n, sim_profile_name(profile),
                  level == SIM_READ_MIX ? "mix" : bft_read_level_name(level),
                  (unsigned long long)(total - failed), (unsigned long long)failed,
                  (unsigned long long)reads, (unsigned long long)by_level[0],
                  (unsigned long long)by_level[1], (unsigned long long)by_level[2],
                  (unsigned long long)local_answers, (unsigned long long)found);
    assert_int_equal(failed, 0);
    /* The reads really ran, at the levels asked for, and both answers
     * occurred. */
    assert_true(reads > total);
    assert_true(found > 0 && found < reads);
    for (int l = 0; l < BFT_READ_LEVELS; l++)
        if (level == l || level == SIM_READ_MIX)
            assert_true(by_level[l] > 0);
        else
            assert_int_equal(by_level[l], 0);
    /* Local reads were answered by replicas, not only by the ordered
     * fallback, and every such answer was checked for freshness. */
    if (level == BFT_READ_LOCAL || level == SIM_READ_MIX) assert_true(local_answers > 0);
}

static void read_sweep(int proto, uint32_t n, int profile, uint64_t seeds, uint64_t min_ms,
                       uint64_t max_ms)
{
    read_sweep_at(proto, n, profile, seeds, min_ms, max_ms, BFT_READ_LINEARIZABLE);
}

static void sweeps(int proto, uint32_t n)
{
    read_sweep(proto, n, SIM_FAULTS_CRASH, 10, 1000, 3000);
    read_sweep(proto, n, SIM_FAULTS_PARTITION, 10, 1000, 3000);
    read_sweep(proto, n, SIM_FAULTS_RESTARTS, 2, 6000, 8000);
    if (proto != BFT_PROTO_RAFT) read_sweep(proto, n, SIM_FAULTS_TWINS, 20, 1000, 2000);
}

static void test_pbft_reads_under_faults(void **state)
{
    (void)state;
    sweeps(BFT_PROTO_PBFT, 4);
}
static void test_hotstuff_reads_under_faults(void **state)
{
    (void)state;
    sweeps(BFT_PROTO_HOTSTUFF, 4);
}
static void test_raft_reads_under_faults(void **state)
{
    (void)state;
    sweeps(BFT_PROTO_RAFT, 3);
}

/* The other levels, and a mix of all three, under crash, partition and
 * restart faults. Twins only for quorum reads: a local read trusts the one
 * replica it asks (docs/reads.md), so a Byzantine replica is outside its
 * promise. */
static void level_sweeps(int proto, uint32_t n, int level)
{
    read_sweep_at(proto, n, SIM_FAULTS_CRASH, 5, 1000, 3000, level);
    read_sweep_at(proto, n, SIM_FAULTS_PARTITION, 5, 1000, 3000, level);
    read_sweep_at(proto, n, SIM_FAULTS_RESTARTS, 1, 6000, 8000, level);
    if (proto != BFT_PROTO_RAFT && level == BFT_READ_QUORUM)
        read_sweep_at(proto, n, SIM_FAULTS_TWINS, 10, 1000, 2000, level);
}

#define LEVEL_TESTS(proto, n, name)                                                                \
    static void test_##name##_quorum_reads_under_faults(void **state)                              \
    {                                                                                              \
        (void)state;                                                                               \
        level_sweeps(proto, n, BFT_READ_QUORUM);                                                   \
    }                                                                                              \
    static void test_##name##_local_reads_under_faults(void **state)                               \
    {                                                                                              \
        (void)state;                                                                               \
        level_sweeps(proto, n, BFT_READ_LOCAL);                                                    \
    }                                                                                              \
    static void test_##name##_mixed_level_reads_under_faults(void **state)                         \
    {                                                                                              \
        (void)state;                                                                               \
        level_sweeps(proto, n, SIM_READ_MIX);                                                      \
    }
LEVEL_TESTS(BFT_PROTO_PBFT, 4, pbft)
LEVEL_TESTS(BFT_PROTO_HOTSTUFF, 4, hotstuff)
LEVEL_TESTS(BFT_PROTO_RAFT, 3, raft)

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raft_restarted_follower_no_stale_lease_read),
        cmocka_unit_test(test_pbft_reads_under_faults),
        cmocka_unit_test(test_hotstuff_reads_under_faults),
        cmocka_unit_test(test_raft_reads_under_faults),
        cmocka_unit_test(test_pbft_quorum_reads_under_faults),
        cmocka_unit_test(test_pbft_local_reads_under_faults),
        cmocka_unit_test(test_pbft_mixed_level_reads_under_faults),
        cmocka_unit_test(test_hotstuff_quorum_reads_under_faults),
        cmocka_unit_test(test_hotstuff_local_reads_under_faults),
        cmocka_unit_test(test_hotstuff_mixed_level_reads_under_faults),
        cmocka_unit_test(test_raft_quorum_reads_under_faults),
        cmocka_unit_test(test_raft_local_reads_under_faults),
        cmocka_unit_test(test_raft_mixed_level_reads_under_faults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
