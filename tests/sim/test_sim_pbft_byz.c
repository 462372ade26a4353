/* PBFT with a Byzantine primary (issue 10).
 *
 * - `junk`: the faults/ behaviour replaces a quarter of the primary's
 *   messages, per destination, with malformed copies. A corrupted
 *   PRE-PREPARE cannot be pinned on the primary (the network could have
 *   mangled it), so it must cost a backup a fetch, not a retransmission
 *   period: docs/pbft.md "Missing PRE-PREPAREs".
 * - `withhold`: the relay must not shield a primary that serves f backups
 *   only (core/pbft/pbft_monitor.c "Delivery").
 * - `slow`: everything the primary sends is 600 ms late (Aardvark's
 *   attack); the monitor must vote it out within about two of its windows
 *   (docs/pbft.md "Slow primaries").
 *
 * Throughput is compared in virtual time against a fault-free run of the
 * same seed and load: deterministic, no wall clock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include "faults/faults.h"
#include "sim/sim.h"
#include "sim_test.h"

#define CLIENTS 8
#define OUTSTANDING 4

/* The fault_bench.sh load: 8 closed-loop clients, 4 requests in flight
 * each, default core tuning (T = 1 s). */
static struct sim *mk_loaded(uint32_t n, uint64_t seed)
{
    struct sim_options o;
    sim_options_default(&o, BFT_PROTO_PBFT, n);
    o.clients = CLIENTS;
    o.outstanding = OUTSTANDING;
    o.read_pct = 0;
    o.verbose = getenv("SIM_VERBOSE") != NULL;
    struct sim *s = NULL;
    char err[256];
    if (sim_create(&s, &o, seed, err, sizeof(err)) != BFT_E_OK) fail_msg("sim_create: %s", err);
    return s;
}

static void apply_fault(struct sim *s, uint32_t n, const char *spec)
{
    struct fault_plan p;
    char err[256];
    fault_plan_init(&p, n, 5);
    if (fault_plan_add_fault(&p, spec, err, sizeof(err)) != BFT_E_OK) fail_msg("%s", err);
    if (sim_apply_plan(s, &p, NULL, err, sizeof(err)) != BFT_E_OK) fail_msg("%s", err);
}

static uint64_t completed(struct sim *s)
{
    uint64_t k = 0;
    for (uint32_t c = 0; c < CLIENTS; c++)
        k += sim_client_completed(s, c);
    return k;
}

static void assert_not_failed(struct sim *s)
{
    const char *why = NULL;
    if (sim_failed(s, &why)) fail_msg("invariant violated: %s", why);
}

/* Operations completed in [from, to) of virtual time, with `spec` (NULL:
 * none) active from `fault_at`. */
static uint64_t ops_between(uint32_t n, uint64_t seed, const char *spec, uint64_t fault_at,
                            uint64_t from, uint64_t to, uint64_t *views)
{
    struct sim *s = mk_loaded(n, seed);
    sim_run_until(s, fault_at, NULL, NULL);
    if (spec) apply_fault(s, n, spec);
    sim_run_until(s, from, NULL, NULL);
    uint64_t start = completed(s);
    sim_run_until(s, to, NULL, NULL);
    uint64_t ops = completed(s) - start;
    struct sim_replica_status st;
    assert_int_equal(sim_replica_status(s, n - 1, &st), BFT_E_OK);
    if (views) *views = st.view;
    assert_not_failed(s);
    sim_destroy(s);
    return ops;
}

/* Issue 10: with `junk` on the primary PBFT ran at 1-2% of its fault-free
 * throughput here (12% on a real cluster; p99 = the client retransmission
 * interval). The simulator's cluster is latency-bound (pipeline_max = 2,
 * no CPU cost), so even a silent backup costs about a fifth of the
 * throughput: every quorum then needs all the others. A junk primary
 * makes a random backup miss each PRE-PREPARE, which the relay turns into
 * two more message delays, not a retransmission period. The bars: at
 * least 80% of what the same seed does with one silent backup (a fault
 * PBFT absorbs by design), and at least 60% of fault-free. */
static void check_junk_primary(uint32_t n, uint64_t seed)
{
    uint64_t v0 = 0, v1 = 0, v2 = 0;
    char silent[16];
    snprintf(silent, sizeof silent, "%u:silent", n - 1);
    uint64_t base = ops_between(n, seed, NULL, SEC, 2 * SEC, 8 * SEC, &v0);
    uint64_t crash = ops_between(n, seed, silent, SEC, 2 * SEC, 8 * SEC, &v1);
    uint64_t junk = ops_between(n, seed, "0:junk", SEC, 2 * SEC, 8 * SEC, &v2);
    print_message("n=%u seed %llu: fault-free %llu ops, one silent backup %llu (%llu%%), junk "
                  "primary %llu (%llu%%), views %llu/%llu/%llu\n",
                  n, (unsigned long long)seed, (unsigned long long)base, (unsigned long long)crash,
                  (unsigned long long)(100 * crash / base), (unsigned long long)junk,
                  (unsigned long long)(100 * junk / base), (unsigned long long)v0,
                  (unsigned long long)v1, (unsigned long long)v2);
    assert_true(base > 0);
    assert_true(5 * junk >= 4 * crash);
    assert_true(5 * junk >= 3 * base);
}

static void test_pbft_junk_primary_keeps_throughput(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++)
        check_junk_primary(4, seed);
}

static void test_pbft_junk_primary_keeps_throughput_n7(void **state)
{
    (void)state;
    check_junk_primary(7, 1);
}

struct view_ctx {
    uint32_t n;
    uint64_t view;
};

/* Every honest replica (1..n-1) is in `view` or later. */
static bool backups_in_view(struct sim *s, void *ctx)
{
    const struct view_ctx *v = ctx;
    for (uint32_t r = 1; r < v->n; r++) {
        struct sim_replica_status st;
        if (sim_replica_status(s, r, &st) != BFT_E_OK || !st.up || st.view < v->view) return false;
    }
    return true;
}

/* A real cluster (bftctl cluster, 8 clients x 4 in flight, 2 cores) took
 * 4-5 s to vote out a primary that delays everything by 600 ms: such a
 * primary cuts only about one batch with a backlog (the monitor's sample)
 * per 1.2 s, and a window waited for two samples, so each of the two
 * strikes took two windows. The simulator shows the same pattern. Now one
 * sample is enough for a window that is twice its length, or whose sample
 * waited a whole window. The bar: every honest replica in view 1 within
 * 1.5 s of the fault (three windows of T/2), and at least as many ops in
 * the 3 s after the fault as the same seed's fault-free run does in 1 s. */
static void test_pbft_slow_primary_voted_out_within_two_windows(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 5; seed++) {
        struct sim *s = mk_loaded(4, seed);
        sim_run_until(s, SEC, NULL, NULL);
        apply_fault(s, 4, "0:slow");
        uint64_t start = completed(s);
        struct view_ctx v = {.n = 4, .view = 1};
        bool moved = sim_run_until(s, 4 * SEC, backups_in_view, &v);
        uint64_t took_ms = (sim_now_us(s) - SEC) / 1000;
        sim_run_until(s, 4 * SEC, NULL, NULL);
        uint64_t slow = completed(s) - start;
        assert_not_failed(s);
        sim_destroy(s);
        uint64_t base = ops_between(4, seed, NULL, SEC, SEC, 2 * SEC, NULL);
        print_message("seed %llu: view 1 %llu ms after the fault; 3 s after it %llu ops, "
                      "fault-free 1 s %llu ops\n",
                      (unsigned long long)seed, (unsigned long long)took_ms,
                      (unsigned long long)slow, (unsigned long long)base);
        assert_true(moved);
        assert_true(took_ms <= 1500);
        assert_true(slow >= base);
    }
}

/* A primary that sends everything to f backups only (faults/ `withhold`)
 * must not gain from the relay: before it, the others stalled and their
 * request timers deposed it; now they would relay every pre-prepare and
 * keep it at two message delays per seq. The monitor counts mostly relayed
 * pre-prepares against it (core/pbft/pbft_monitor.c "Delivery"): it is voted
 * out, and the next view runs at least as fast as with one silent
 * backup. */
static void test_pbft_withholding_primary_voted_out(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 3; seed++) {
        uint64_t view = 0;
        uint64_t crash = ops_between(4, seed, "3:silent", SEC, 2 * SEC, 8 * SEC, NULL);
        uint64_t held = ops_between(4, seed, "0:withhold", SEC, 2 * SEC, 8 * SEC, &view);
        print_message("seed %llu: one silent backup %llu ops, withholding primary %llu ops, "
                      "view %llu\n",
                      (unsigned long long)seed, (unsigned long long)crash, (unsigned long long)held,
                      (unsigned long long)view);
        assert_true(view >= 1);
        assert_true(held >= crash);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pbft_junk_primary_keeps_throughput),
        cmocka_unit_test(test_pbft_junk_primary_keeps_throughput_n7),
        cmocka_unit_test(test_pbft_withholding_primary_voted_out),
        cmocka_unit_test(test_pbft_slow_primary_voted_out_within_two_windows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
