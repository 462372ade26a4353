/* HotStuff throughput under a Byzantine leader, in the deterministic
 * simulator (issue 10; docs/hotstuff.md "Byzantine leaders and
 * throughput").
 *
 * Each test runs the same seed twice, n = 4, 8 closed-loop clients with 4
 * requests outstanding and the real default timeout (1 s): once fault-free
 * and once with one replica turning `withhold` (sends to f peers only),
 * `junk` (corrupts a quarter of what it sends), `slow` (delays everything
 * by 0.6 T), `equivocate` (splits its proposals, votes twice) or `flood`
 * 1 s in. It compares the operations completed in the fault phase
 * (virtual seconds 1-16) with the fault-free run's same interval (run once
 * per seed and shared by the tests: it does not depend on the fault). Replica
 * 0 leads the first turn; replica 2 is a backup that leads its own turns
 * under rotation. Virtual time only: deterministic. BFT_SIM_SEEDS_SCALE=12
 * runs seeds 1-24; SIM_TRACE=1 prints ops and views per virtual second.
 *
 * The bar is RBFT's (Aublin et al., ICDCS'13): a faulty replica must not
 * cost more than 20% of the fault-free throughput. The worst seeds found
 * over seeds 1-24 are kept to 85% (test_hotstuff_byz_regression_worst_seeds). */
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
#include "sim_test.h"

#define CLIENTS 8
#define OUTSTANDING 4
#define FAULT_AT (1 * SEC)
#define PHASE (15 * SEC)

static struct sim *mk(uint64_t seed)
{
    struct sim_options o;
    sim_options_default(&o, BFT_PROTO_HOTSTUFF, 4);
    o.clients = CLIENTS;
    o.outstanding = OUTSTANDING;
    o.request_timeout_ms = 1000;
    o.read_pct = 0;
    o.verbose = getenv("SIM_VERBOSE") != NULL;
    struct sim *s = NULL;
    char err[256];
    if (sim_create(&s, &o, seed, err, sizeof(err)) != BFT_E_OK) fail_msg("sim_create: %s", err);
    return s;
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

/* Operations completed in [FAULT_AT, FAULT_AT + PHASE), with `spec`
 * (NULL: fault-free) in force from FAULT_AT on; *tcs: the most views any
 * replica entered by a TC; *view: replica 1's view at the end. */
static uint64_t phase_ops_view(uint64_t seed, const char *spec, uint64_t *tcs, uint64_t *view)
{
    struct sim *s = mk(seed);
    sim_run_until(s, FAULT_AT, NULL, NULL);
    if (spec) {
        struct fault_plan p;
        char err[256];
        fault_plan_init(&p, 4, seed);
        if (fault_plan_add_fault(&p, spec, err, sizeof(err)) != BFT_E_OK) fail_msg("%s", err);
        if (sim_apply_plan(s, &p, NULL, err, sizeof(err)) != BFT_E_OK) fail_msg("%s", err);
    }
    uint64_t from = completed(s);
    for (uint64_t t = FAULT_AT + SEC; t <= FAULT_AT + PHASE; t += SEC) {
        uint64_t was = completed(s);
        sim_run_until(s, t, NULL, NULL);
        if (getenv("SIM_TRACE")) {
            struct sim_replica_status st[4];
            for (uint32_t r = 0; r < 4; r++)
                sim_replica_status(s, r, &st[r]);
            fprintf(stderr, "%s t=%llus ops %llu views %llu %llu %llu %llu tcs %llu %llu %llu\n",
                    spec ? spec : "-", (unsigned long long)(t / SEC),
                    (unsigned long long)(completed(s) - was), (unsigned long long)st[0].view,
                    (unsigned long long)st[1].view, (unsigned long long)st[2].view,
                    (unsigned long long)st[3].view, (unsigned long long)st[1].view_changes,
                    (unsigned long long)st[2].view_changes, (unsigned long long)st[3].view_changes);
        }
    }
    uint64_t ops = completed(s) - from;
    *tcs = 0;
    for (uint32_t r = 0; r < 4; r++) {
        struct sim_replica_status st;
        assert_int_equal(sim_replica_status(s, r, &st), BFT_E_OK);
        if (st.view_changes > *tcs) *tcs = st.view_changes;
        if (r == 1) *view = st.view;
    }
    assert_not_failed(s);
    sim_destroy(s);
    return ops;
}

static uint64_t phase_ops(uint64_t seed, const char *spec, uint64_t *tcs)
{
    uint64_t view;
    return phase_ops_view(seed, spec, tcs, &view);
}

/* The fault-free run of a seed, run once per process: it is the same run
 * for every spec (virtual time only), so the tests below share it. */
static uint64_t fault_free_ops(uint64_t seed, uint64_t *tcs)
{
    static struct {
        uint64_t seed, ops, tcs;
    } memo[32];
    static size_t n_memo;
    for (size_t i = 0; i < n_memo; i++)
        if (memo[i].seed == seed) {
            *tcs = memo[i].tcs;
            return memo[i].ops;
        }
    uint64_t ops = phase_ops(seed, NULL, tcs);
    if (n_memo < sizeof memo / sizeof memo[0]) {
        memo[n_memo].seed = seed;
        memo[n_memo].ops = ops;
        memo[n_memo].tcs = *tcs;
        n_memo++;
    }
    return ops;
}

/* The faulty run keeps at least 80% of the fault-free one, seed by seed.
 * A scaled-down pass (ASan) leaves these runs to the release pass: there
 * test_sim_faults runs every one of these behaviours in HotStuff, at the
 * leader and at a backup, and the regression test below runs equivocate
 * and junk under this load. */
static void keeps_throughput(const char *spec)
{
    if (!have_hotstuff()) skip();
    uint64_t seeds = scaled(2);
    for (uint64_t seed = 1; seed <= seeds; seed++) {
        uint64_t tc0, tc1;
        uint64_t base = fault_free_ops(seed, &tc0);
        uint64_t faulty = phase_ops(seed, spec, &tc1);
        print_message("%s seed %llu: %llu ops fault-free, %llu with the fault (%llu%%), "
                      "TCs %llu / %llu\n",
                      spec, (unsigned long long)seed, (unsigned long long)base,
                      (unsigned long long)faulty,
                      (unsigned long long)(base ? 100 * faulty / base : 0), (unsigned long long)tc0,
                      (unsigned long long)tc1);
        assert_true(base > 0);
        assert_true(5 * faulty >= 4 * base);
    }
}

static void test_hotstuff_withholding_leader_keeps_throughput(void **state)
{
    (void)state;
    keeps_throughput("0:withhold");
}

static void test_hotstuff_withholding_backup_keeps_throughput(void **state)
{
    (void)state;
    keeps_throughput("2:withhold");
}

static void test_hotstuff_junk_leader_keeps_throughput(void **state)
{
    (void)state;
    keeps_throughput("0:junk");
}

static void test_hotstuff_junk_backup_keeps_throughput(void **state)
{
    (void)state;
    keeps_throughput("2:junk");
}

static void test_hotstuff_slow_leader_keeps_throughput(void **state)
{
    (void)state;
    keeps_throughput("0:slow");
}

static void test_hotstuff_slow_backup_keeps_throughput(void **state)
{
    (void)state;
    keeps_throughput("2:slow");
}

/* An equivocating leader splits its last proposal of a window between
 * the replicas: the votes split, and the TC used to name the next,
 * honest leader (60-85% before failed_view in hotstuff_pacemaker.c). */
static void test_hotstuff_equivocating_leader_keeps_throughput(void **state)
{
    (void)state;
    keeps_throughput("0:equivocate");
}

static void test_hotstuff_equivocating_backup_keeps_throughput(void **state)
{
    (void)state;
    keeps_throughput("2:equivocate");
}

/* Guard: a flooding leader kept the bar before issue 10's rules (95%)
 * and keeps it. */
static void test_hotstuff_flooding_leader_keeps_throughput(void **state)
{
    (void)state;
    keeps_throughput("0:flood");
}

/* The worst seeds of seeds 1-24 before the fixes of docs/hotstuff.md "A
 * leader votes for its own proposal late", "Vote collection" (an
 * equivocator's second vote) and the monitor's floor (Slow leaders), each
 * now at 93-96% of fault-free:
 * - 2:equivocate seed 18, 62% with 7 TCs: at the end of the equivocator's
 *   turns the next, honest leader lacked a quorum (its own vote and the
 *   equivocator's real one were not counted) and each TC excluded an
 *   honest leader while the equivocator kept leading;
 * - 0:junk seed 15, 69% with 3 TCs, and 2:junk seed 16, 71%: the junk
 *   leader averaged about one monitor tick (T/20) per view, 4% of the
 *   healthy rate, under the old floor of one tick, and kept its turn for
 *   2-4 s.
 * Each keeps 85% now, with at most one TC, and that TC excluded the faulty
 * replica (leader reputation: epoch = view / 65536, its list read in base
 * n + 1 = 5 with one slot at n = 4, digit r + 1 = replica r). */
static void test_hotstuff_byz_regression_worst_seeds(void **state)
{
    (void)state;
    if (!have_hotstuff()) skip();
    static const struct {
        const char *spec;
        uint64_t seed;
        uint32_t faulty;
    } cases[] = {{"2:equivocate", 18, 2}, {"0:junk", 15, 0}, {"2:junk", 16, 2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t tc0, tc1, view;
        uint64_t base = fault_free_ops(cases[i].seed, &tc0);
        uint64_t faulty = phase_ops_view(cases[i].seed, cases[i].spec, &tc1, &view);
        print_message("%s seed %llu: %llu ops fault-free, %llu with the fault (%llu%%), TCs %llu "
                      "/ %llu\n",
                      cases[i].spec, (unsigned long long)cases[i].seed, (unsigned long long)base,
                      (unsigned long long)faulty,
                      (unsigned long long)(base ? 100 * faulty / base : 0), (unsigned long long)tc0,
                      (unsigned long long)tc1);
        assert_true(base > 0);
        assert_true(100 * faulty >= 85 * base);
        assert_true(tc1 <= 1);
        if (tc1 == 1) assert_int_equal((view / 65536) % 5, cases[i].faulty + 1);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hotstuff_withholding_leader_keeps_throughput),
        cmocka_unit_test(test_hotstuff_withholding_backup_keeps_throughput),
        cmocka_unit_test(test_hotstuff_junk_leader_keeps_throughput),
        cmocka_unit_test(test_hotstuff_junk_backup_keeps_throughput),
        cmocka_unit_test(test_hotstuff_slow_leader_keeps_throughput),
        cmocka_unit_test(test_hotstuff_slow_backup_keeps_throughput),
        cmocka_unit_test(test_hotstuff_equivocating_leader_keeps_throughput),
        cmocka_unit_test(test_hotstuff_equivocating_backup_keeps_throughput),
        cmocka_unit_test(test_hotstuff_flooding_leader_keeps_throughput),
        cmocka_unit_test(test_hotstuff_byz_regression_worst_seeds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
