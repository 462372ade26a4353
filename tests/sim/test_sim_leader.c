/* HotStuff leader reputation in the simulator (docs/hotstuff.md, "Leader
 * reputation"): with replicas crashed for good, a dead leader's window
 * costs one timeout, not one per turn, and a replica restored by state
 * transfer (no history) follows the same leaders as the others. With
 * windows alone (leader_windows_only) the same runs cost a timeout every
 * time a dead window comes round. BFT_SIM_SEEDS_SCALE scales the seeds; a
 * scaled-down pass (ASan) leaves out the windows-only runs and their
 * comparison: the release pass checks it, and test_sim_hotstuff_fork runs
 * windows alone, a dead leader included, in every pass. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/sim_test.h"

static struct sim *make(uint32_t n, uint64_t seed, bool windows_only)
{
    struct sim_options o;
    sim_options_default(&o, BFT_PROTO_HOTSTUFF, n);
    o.clients = 8;
    o.outstanding = 1;
    o.latency_min_us = 100;
    o.latency_max_us = 400;
    o.leader_windows_only = windows_only;
    struct sim *s;
    char err[256];
    assert_int_equal(sim_create(&s, &o, seed, err, sizeof err), BFT_E_OK);
    return s;
}

static void run_to(struct sim *s, uint64_t t, uint64_t seed)
{
    sim_run_until(s, t, NULL, NULL);
    const char *why = NULL;
    if (sim_failed(s, &why)) fail_msg("seed %llu: %s", (unsigned long long)seed, why);
}

static struct sim_replica_status st(struct sim *s, uint32_t r)
{
    struct sim_replica_status x;
    assert_int_equal(sim_replica_status(s, r, &x), BFT_E_OK);
    return x;
}

/* n replicas, the `dead` ones crashed at 1 s for good, 30 s of load.
 * Returns the most TCs a live replica went through; fails if a live
 * replica stopped committing. */
static uint64_t crashed_for_good(uint32_t n, const uint32_t *dead, uint32_t k, uint64_t seed,
                                 bool windows_only)
{
    struct sim *s = make(n, seed, windows_only);
    for (uint32_t i = 0; i < k; i++)
        assert_int_equal(sim_schedule_crash(s, 1 * SEC, dead[i]), BFT_E_OK);
    run_to(s, 20 * SEC, seed);
    uint64_t mid = sim_max_executed(s);
    run_to(s, 30 * SEC, seed);
    assert_true(sim_max_executed(s) > mid + 100);
    uint64_t tcs = 0;
    for (uint32_t r = 0; r < n; r++) {
        struct sim_replica_status x = st(s, r);
        if (!x.up) continue;
        if (x.view_changes > tcs) tcs = x.view_changes;
    }
    sim_destroy(s);
    return tcs;
}

/* n = 4, replica 1 dead: one TC (its first window) and no more; windows
 * alone pay one per rotation. */
static void test_n4_dead_leader_one_timeout(void **state)
{
    (void)state;
    if (!have_hotstuff()) return;
    static const uint32_t dead[] = {1};
    for (uint64_t seed = 1; seed <= scaled(3); seed++) {
        uint64_t rep = crashed_for_good(4, dead, 1, seed, false);
        assert_true(rep <= 2);
        uint64_t win = crashed_for_good(4, dead, 1, seed, true);
        print_message("seed %llu: TCs with reputation %llu, windows only %llu\n",
                      (unsigned long long)seed, (unsigned long long)rep, (unsigned long long)win);
        assert_true(win >= 3 * rep);
    }
}

/* n = 7, replicas 1 and 2 dead (f = 2): both excluded after a TC each. */
static void test_n7_two_dead_leaders_two_timeouts(void **state)
{
    (void)state;
    if (!have_hotstuff()) return;
    static const uint32_t dead[] = {1, 2};
    for (uint64_t seed = 1; seed <= scaled(2); seed++) {
        uint64_t rep = crashed_for_good(7, dead, 2, seed, false);
        assert_true(rep <= 3);
        uint64_t win = crashed_for_good(7, dead, 2, seed, true);
        print_message("seed %llu: TCs with reputation %llu, windows only %llu\n",
                      (unsigned long long)seed, (unsigned long long)rep, (unsigned long long)win);
        assert_true(win >= 2 * rep);
    }
}

/* n = 4: replica 1 dead for good and excluded; replica 2 crashes at 6 s
 * and comes back at 9 s with an empty disk, so it holds no history and
 * catches up by state transfer. With 1 down every live vote is needed: if
 * the restored replica named other leaders than 0 and 3, nothing would
 * commit again. */
static void test_n4_state_transferred_replica_follows_leaders(void **state)
{
    (void)state;
    if (!have_hotstuff()) return;
    for (uint64_t seed = 1; seed <= scaled(3); seed++) {
        struct sim *s = make(4, seed, false);
        assert_int_equal(sim_schedule_crash(s, 1 * SEC, 1), BFT_E_OK);
        assert_int_equal(sim_schedule_crash(s, 6 * SEC, 2), BFT_E_OK);
        assert_int_equal(sim_schedule_restart(s, 9 * SEC, 2, false), BFT_E_OK);
        run_to(s, 20 * SEC, seed);
        uint64_t tcs20 = st(s, 0).view_changes;
        uint64_t mid = sim_max_executed(s);
        run_to(s, 30 * SEC, seed);
        struct sim_replica_status r0 = st(s, 0), r2 = st(s, 2), r3 = st(s, 3);
        assert_true(r2.up);
        assert_true(sim_max_executed(s) > mid + 100);
        assert_true(r2.last_executed + 128 >= sim_max_executed(s));
        assert_true(r2.view == r0.view || r2.view == r3.view || r2.view + 2 >= r0.view);
        /* Settled: no timeout in the last 10 s. */
        assert_int_equal(r0.view_changes, tcs20);
        print_message("seed %llu: replica 2 at seq %llu view %llu, replica 0 at %llu view %llu, "
                      "TCs %llu\n",
                      (unsigned long long)seed, (unsigned long long)r2.last_executed,
                      (unsigned long long)r2.view, (unsigned long long)r0.last_executed,
                      (unsigned long long)r0.view, (unsigned long long)r0.view_changes);
        sim_destroy(s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_n4_dead_leader_one_timeout),
        cmocka_unit_test(test_n7_two_dead_leaders_two_timeouts),
        cmocka_unit_test(test_n4_state_transferred_replica_follows_leaders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
