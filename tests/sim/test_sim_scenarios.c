/* Every scenario file in the simulator (docs/simulator.md "Scenarios"):
 * scenarios/ is listed when the test runs, so a new file is picked up
 * without touching this test; each runs for every protocol it names (and
 * that is built) over a few seeds and must match its expect block. A
 * mismatch prints the bftsim command that replays it. The verdict itself
 * is tested too: a wrong expectation must not match, and every expect
 * key the scenario parser knows has a simulator check.
 * BFT_SCENARIOS_DIR overrides where the files are; BFT_SIM_SEEDS_SCALE
 * scales the seeds per file and protocol (3). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "faults/faults.h"
#include "tests/sim/sim_test.h"

#define MAX_FILES 128

#ifndef BFT_SOURCE_DIR
#define BFT_SOURCE_DIR "."
#endif

static const char *scenarios_dir(void)
{
    const char *env = getenv("BFT_SCENARIOS_DIR");
    return env ? env : BFT_SOURCE_DIR "/scenarios";
}

static int by_name(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The *.json names in dir, sorted (readdir order is not). */
static size_t list_files(const char *dir, char *names[MAX_FILES])
{
    DIR *d = opendir(dir);
    if (!d) fail_msg("cannot open %s (set BFT_SCENARIOS_DIR)", dir);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".json") != 0) continue;
        if (n == MAX_FILES) fail_msg("more than %d scenario files", MAX_FILES);
        names[n] = strdup(e->d_name);
        assert_non_null(names[n]);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    return n;
}

/* One file, every protocol it names: returns the mismatches (printed). */
static uint32_t run_file(const char *path, uint64_t seeds, uint32_t *runs)
{
    static struct fault_scenario sc;
    char err[512];
    if (fault_scenario_load(&sc, path, err, sizeof err) != BFT_E_OK) fail_msg("%s", err);
    uint32_t bad = 0;
    for (uint32_t i = 0; i < sc.n_protocols; i++) {
        int proto = sc.protocols[i].protocol;
        if (!bft_core_ops_for(proto)) {
            print_message("%s: %s is not built: skipped\n", sc.name, bft_protocol_name(proto));
            continue;
        }
        struct sim_options o;
        sim_scenario_options(&o, &sc, proto, 0);
        for (uint64_t seed = 1; seed <= seeds; seed++) {
            struct sim_scenario_result r;
            assert_int_equal(sim_run_scenario(&sc, &o, seed, &r), BFT_E_OK);
            (*runs)++;
            if (r.passed) continue;
            bad++;
            print_message("FAIL %s %s seed=%llu: %s; replay: bftsim --scenario %s --protocol %s "
                          "--seeds %llu:%llu\n",
                          sc.name, bft_protocol_name(proto), (unsigned long long)seed, r.why, path,
                          bft_protocol_name(proto), (unsigned long long)seed,
                          (unsigned long long)seed);
        }
    }
    return bad;
}

static void test_every_scenario_file_matches_in_the_simulator(void **state)
{
    (void)state;
    char *names[MAX_FILES];
    size_t n = list_files(scenarios_dir(), names);
    assert_true(n > 0);
    uint32_t bad = 0, runs = 0;
    for (size_t i = 0; i < n; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/%s", scenarios_dir(), names[i]);
        bad += run_file(path, scaled(3), &runs);
        free(names[i]);
    }
    print_message("%zu scenario files, %u runs, %u mismatches\n", n, runs, bad);
    assert_int_equal(bad, 0);
}

/* The parser's expect keys (fault_expect_key) each map to a check: a key
 * added to the schema without one fails here, not silently in bftsim. */
static void test_every_expect_key_has_a_simulator_check(void **state)
{
    (void)state;
    size_t keys = 0;
    for (size_t i = 0; fault_expect_key(i); i++, keys++)
        assert_non_null(sim_scenario_check_of(fault_expect_key(i)));
    assert_int_equal(keys, 3);
    char list[128];
    assert_int_equal(sim_scenario_unchecked(list, sizeof list), 0);
    assert_string_equal(list, "");
}

static void run_text(const char *text, int proto, uint64_t seed, struct sim_scenario_result *r)
{
    static struct fault_scenario sc;
    char err[512];
    if (fault_scenario_parse(&sc, text, err, sizeof err) != BFT_E_OK) fail_msg("%s", err);
    struct sim_options o;
    sim_scenario_options(&o, &sc, proto, 0);
    assert_int_equal(sim_run_scenario(&sc, &o, seed, r), BFT_E_OK);
}

/* A wrong expectation does not match: the checks are not vacuous. PBFT
 * with one equivocating replica stays safe and live, so "violated" and
 * "no progress" are both refused, each with its reason. */
static void test_wrong_expectations_do_not_match(void **state)
{
    (void)state;
    if (!bft_core_ops_for(BFT_PROTO_PBFT)) skip();
    struct sim_scenario_result r;
    run_text("{\"name\":\"x\",\"protocols\":[\"pbft\"],\"nodes\":4,\"duration_s\":6,"
             "\"faults\":[\"0:equivocate@1\"],\"expect\":{\"safety\":\"violated\"}}",
             BFT_PROTO_PBFT, 1, &r);
    assert_false(r.passed);
    assert_false(r.violated);
    assert_non_null(strstr(r.why, "expected violated"));
    run_text("{\"name\":\"x\",\"protocols\":[\"pbft\"],\"nodes\":4,\"duration_s\":6,"
             "\"faults\":[\"0:equivocate@1\"],"
             "\"expect\":{\"progress\":false,\"progress_after_s\":4}}",
             BFT_PROTO_PBFT, 1, &r);
    assert_false(r.passed);
    assert_true(r.ops_after > 0);
    assert_non_null(strstr(r.why, "expected none"));
    /* A progress window that opens after the end sees no progress. */
    run_text("{\"name\":\"x\",\"protocols\":[\"pbft\"],\"nodes\":4,\"duration_s\":3,"
             "\"expect\":{\"progress_after_s\":5}}",
             BFT_PROTO_PBFT, 1, &r);
    assert_false(r.passed);
    assert_non_null(strstr(r.why, "no progress after 5.0 s"));
}

/* Raft with an equivocating replica 1: the simulator's first Raft leader
 * is not always it, so other leaders are restarted until replica 1 leads
 * at T=0; then the checker reports a safety invariant, which is what the
 * scenario expects (an agreement or order-router split, or a read the liar
 * answered from a state no honest replica has applied). */
static void test_raft_liar_leads_then_breaks_safety(void **state)
{
    (void)state;
    if (!bft_core_ops_for(BFT_PROTO_RAFT)) skip();
    uint32_t restarted = 0;
    for (uint64_t seed = 1; seed <= scaled(5); seed++) {
        struct sim_scenario_result r;
        run_text("{\"name\":\"x\",\"protocols\":[\"raft\"],\"nodes\":3,\"duration_s\":8,"
                 "\"faults\":[\"1:equivocate@1\"],\"expect\":{\"safety\":\"violated\"}}",
                 BFT_PROTO_RAFT, seed, &r);
        if (!r.passed) fail_msg("seed %llu: %s", (unsigned long long)seed, r.why);
        assert_true(r.violated);
        assert_true(r.faults.actor.seen > 0);
        restarted += r.leader_restarts;
    }
    print_message("leader restarts before the liar led: %u\n", restarted);
    assert_true(restarted > 0);
}

/* One seed, one run: the same seed twice gives the same counts. */
static void test_same_seed_same_scenario_run(void **state)
{
    (void)state;
    if (!bft_core_ops_for(BFT_PROTO_HOTSTUFF)) skip();
    static const char text[] =
        "{\"name\":\"x\",\"protocols\":[\"hotstuff\"],\"nodes\":4,\"duration_s\":5,"
        "\"partitions\":[\"0|1,2,3@1-3\"],\"expect\":{\"progress_after_s\":4}}";
    struct sim_scenario_result a, b;
    run_text(text, BFT_PROTO_HOTSTUFF, 7, &a);
    run_text(text, BFT_PROTO_HOTSTUFF, 7, &b);
    assert_true(a.passed);
    assert_int_equal(a.ops_total, b.ops_total);
    assert_int_equal(a.ops_after, b.ops_after);
    assert_int_equal(a.stats.events, b.stats.events);
    assert_int_equal(a.stats.msgs_sent, b.stats.msgs_sent);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_expect_key_has_a_simulator_check),
        cmocka_unit_test(test_wrong_expectations_do_not_match),
        cmocka_unit_test(test_raft_liar_leads_then_breaks_safety),
        cmocka_unit_test(test_same_seed_same_scenario_run),
        cmocka_unit_test(test_every_scenario_file_matches_in_the_simulator),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
