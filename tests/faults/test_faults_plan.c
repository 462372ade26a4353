/* Fault plans (faults/plan.c, plan_json.c, scenario.c): --fault and
 * --partition specs, good and bad (every error quotes what was wrong),
 * network rates, spec and JSON round trips, scenario files including every
 * file shipped in scenarios/. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "faults/faults.h"

static char err[512];

static void expect_fault_error(uint32_t n, const char *spec, const char *needle)
{
    struct fault_plan p;
    fault_plan_init(&p, n, 1);
    err[0] = '\0';
    int rv = fault_plan_add_fault(&p, spec, err, sizeof err);
    if (rv == BFT_E_OK || !strstr(err, needle))
        fail_msg("spec '%s': rv %d, error '%s', wanted '%s'", spec, rv, err, needle);
    assert_int_equal(p.n_faults, 0);
}

static void expect_partition_error(uint32_t n, const char *spec, const char *needle)
{
    struct fault_plan p;
    fault_plan_init(&p, n, 1);
    err[0] = '\0';
    int rv = fault_plan_add_partition(&p, spec, err, sizeof err);
    if (rv == BFT_E_OK || !strstr(err, needle))
        fail_msg("spec '%s': rv %d, error '%s', wanted '%s'", spec, rv, err, needle);
    assert_int_equal(p.n_partitions, 0);
}

static void test_fault_specs_good(void **state)
{
    (void)state;
    struct fault_plan p;
    fault_plan_init(&p, 4, 7);
    assert_int_equal(fault_plan_add_fault(&p, "0:equivocate@2", err, sizeof err), BFT_E_OK);
    assert_int_equal(fault_plan_add_fault(&p, "3:slow@1.5-8", err, sizeof err), BFT_E_OK);
    assert_int_equal(fault_plan_add_fault(&p, "2:junk@250ms-3s", err, sizeof err), BFT_E_OK);
    assert_int_equal(fault_plan_add_fault(&p, "1:silent", err, sizeof err), BFT_E_OK);
    assert_int_equal(fault_plan_add_fault(&p, " 1 : twin @ 0.001 - 0.002 ", err, sizeof err),
                     BFT_E_OK);
    assert_int_equal(p.n_faults, 5);
    assert_int_equal(p.fault[0].replica, 0);
    assert_int_equal(p.fault[0].behaviour, FAULT_EQUIVOCATE);
    assert_int_equal(p.fault[0].win.from_ms, 2000);
    assert_true(p.fault[0].win.until_ms == FAULT_FOREVER);
    assert_int_equal(p.fault[1].behaviour, FAULT_SLOW);
    assert_int_equal(p.fault[1].win.from_ms, 1500);
    assert_int_equal(p.fault[1].win.until_ms, 8000);
    assert_int_equal(p.fault[2].win.from_ms, 250);
    assert_int_equal(p.fault[2].win.until_ms, 3000);
    assert_int_equal(p.fault[3].win.from_ms, 0);
    assert_true(p.fault[3].win.until_ms == FAULT_FOREVER);
    assert_int_equal(p.fault[4].behaviour, FAULT_TWIN);
    assert_int_equal(p.fault[4].win.from_ms, 1);
    assert_int_equal(p.fault[4].win.until_ms, 2);
    assert_int_equal(fault_plan_validate(&p, err, sizeof err), BFT_E_OK);
    /* Every behaviour name parses. */
    for (int b = FAULT_NONE + 1; b < FAULT__COUNT; b++) {
        char spec[64];
        snprintf(spec, sizeof spec, "1:%s", fault_behaviour_name(b));
        struct fault_plan q;
        fault_plan_init(&q, 4, 1);
        assert_int_equal(fault_plan_add_fault(&q, spec, err, sizeof err), BFT_E_OK);
        assert_int_equal(q.fault[0].behaviour, b);
    }
    assert_null(fault_behaviour_name(FAULT_NONE));
    assert_int_equal(fault_behaviour_parse("nope"), -1);
}

static void test_fault_specs_bad(void **state)
{
    (void)state;
    expect_fault_error(4, "equivocate", "'equivocate': expected ID:BEHAVIOUR");
    expect_fault_error(4, "9:silent", "replica 9 does not exist (nodes: 4");
    expect_fault_error(4, "4:silent", "replica 4 does not exist");
    expect_fault_error(4, "x:silent", "replica id 'x' is not a number");
    expect_fault_error(4, ":silent", "replica id '' is not a number");
    expect_fault_error(4, "0:lie", "unknown behaviour 'lie' (known: crash, silent");
    expect_fault_error(4, "0:", "missing behaviour");
    expect_fault_error(4, "0:silent@abc", "bad start time 'abc'");
    expect_fault_error(4, "0:silent@", "bad start time ''");
    expect_fault_error(4, "0:silent@5-2", "window end '2' is not after its start '5'");
    expect_fault_error(4, "0:silent@2-2", "is not after");
    expect_fault_error(4, "0:silent@1-x", "bad end time 'x'");
    expect_fault_error(4, "0:silent@1.2345", "bad start time '1.2345'");
    expect_fault_error(4, "0:silent@1.5ms", "bad start time");
    expect_fault_error(4, "0:silent@-3", "bad start time ''");
    expect_fault_error(4, "0:silent@1@2", "more than one '@'");
    expect_fault_error(4, "", "empty spec");
    char longspec[300];
    memset(longspec, '1', sizeof longspec - 1);
    longspec[sizeof longspec - 1] = '\0';
    expect_fault_error(4, longspec, "longer than");
    /* The bound on the number of faults. */
    struct fault_plan p;
    fault_plan_init(&p, 4, 1);
    for (int i = 0; i < FAULT_MAX_FAULTS; i++)
        assert_int_equal(fault_plan_add_fault(&p, "1:silent", err, sizeof err), BFT_E_OK);
    assert_int_equal(fault_plan_add_fault(&p, "1:silent", err, sizeof err), BFT_E_FULL);
    assert_non_null(strstr(err, "too many faults"));
}

static void test_partition_specs(void **state)
{
    (void)state;
    struct fault_plan p;
    fault_plan_init(&p, 5, 1);
    assert_int_equal(fault_plan_add_partition(&p, "0,1|2,3@2-8", err, sizeof err), BFT_E_OK);
    assert_int_equal(fault_plan_add_partition(&p, "0>1,2@1", err, sizeof err), BFT_E_OK);
    assert_int_equal(fault_plan_add_partition(&p, "0|1|2,3,4", err, sizeof err), BFT_E_OK);
    assert_int_equal(fault_plan_add_partition(&p, "3,4>0", err, sizeof err), BFT_E_OK);
    const struct fault_partition *a = &p.partition[0], *b = &p.partition[1];
    assert_false(a->asym);
    assert_int_equal(a->n_groups, 2);
    assert_int_equal(a->group[0], 0x3);
    assert_int_equal(a->group[1], 0xc);
    assert_int_equal(a->win.from_ms, 2000);
    assert_int_equal(a->win.until_ms, 8000);
    assert_true(b->asym);
    assert_int_equal(b->group[0], 0x1);
    assert_int_equal(b->group[1], 0x6);
    assert_int_equal(p.partition[2].n_groups, 3);
    assert_int_equal(p.partition[3].group[0], 0x18);

    expect_partition_error(4, "0,1", "expected 'A,B|C,D[@T0-T1]' or 'A>B,C[@T0-T1]'");
    expect_partition_error(4, "0,1|1,2", "replica is in two groups");
    expect_partition_error(4, "0>1>2", "more than one '>'");
    expect_partition_error(4, "0|", "'0|': empty replica group");
    expect_partition_error(4, "0,,1|2", "replica id '' is not a number");
    expect_partition_error(4, "0,1|2,9@1-2", "replica 9 does not exist");
    expect_partition_error(4, "0>0", "on both sides");
    expect_partition_error(4, "0|1>2", "not both");
    expect_partition_error(4, "0,0|1", "replica 0 is listed twice");
    expect_partition_error(4, "0|1,", "trailing comma");
    expect_partition_error(4, "0|1@3-1", "is not after");
    expect_partition_error(5, "0|1|2|3|4", "more than 4 groups");
}

static void test_net_specs(void **state)
{
    (void)state;
    struct fault_plan p;
    fault_plan_init(&p, 4, 1);
    assert_int_equal(fault_plan_set_net(&p,
                                        "drop=0.1,delay_ms=5,jitter_ms=3,duplicate=0.01,"
                                        "reorder=0.25,reorder_ms=40@1-2",
                                        err, sizeof err),
                     BFT_E_OK);
    assert_int_equal(p.net.drop_ppm, 100000);
    assert_int_equal(p.net.duplicate_ppm, 10000);
    assert_int_equal(p.net.reorder_ppm, 250000);
    assert_int_equal(p.net.delay_ms, 5);
    assert_int_equal(p.net.jitter_ms, 3);
    assert_int_equal(p.net.reorder_ms, 40);
    assert_int_equal(p.net.win.from_ms, 1000);
    assert_int_equal(p.net.win.until_ms, 2000);
    struct {
        const char *spec, *needle;
    } bad[] = {
        {"drop=2", "drop='2' is not a probability"},
        {"drop=-0.1", "is not a probability"},
        {"foo=1", "unknown key 'foo'"},
        {"delay_ms=abc", "delay_ms='abc' is not a whole number of ms"},
        {"delay_ms=1.5", "is not a whole number"},
        {"drop", "'drop' is not KEY=VALUE"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        struct fault_plan q;
        fault_plan_init(&q, 4, 1);
        err[0] = '\0';
        assert_int_not_equal(fault_plan_set_net(&q, bad[i].spec, err, sizeof err), BFT_E_OK);
        if (!strstr(err, bad[i].needle))
            fail_msg("net '%s': error '%s', wanted '%s'", bad[i].spec, err, bad[i].needle);
        assert_int_equal(q.net.drop_ppm, 0);
    }
}

static void test_spec_round_trip(void **state)
{
    (void)state;
    const char *faults[] = {"0:equivocate@2", "3:slow@1500ms-8", "2:junk", "1:badsig@0.25-0.5"};
    const char *parts[] = {"0,1|2,3@2-8", "0>1,2@1", "0|1|2,3", "1,2>0,3@10ms-20ms"};
    struct fault_plan p, q;
    fault_plan_init(&p, 4, 1);
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal(fault_plan_add_fault(&p, faults[i], err, sizeof err), BFT_E_OK);
        assert_int_equal(fault_plan_add_partition(&p, parts[i], err, sizeof err), BFT_E_OK);
    }
    fault_plan_init(&q, 4, 1);
    for (size_t i = 0; i < 4; i++) {
        char spec[FAULT_SPEC_MAX];
        assert_true(fault_entry_format(&p.fault[i], spec, sizeof spec) > 0);
        assert_int_equal(fault_plan_add_fault(&q, spec, err, sizeof err), BFT_E_OK);
        assert_int_equal(q.fault[i].replica, p.fault[i].replica);
        assert_int_equal(q.fault[i].behaviour, p.fault[i].behaviour);
        assert_true(q.fault[i].win.from_ms == p.fault[i].win.from_ms);
        assert_true(q.fault[i].win.until_ms == p.fault[i].win.until_ms);
        assert_true(fault_partition_format(&p.partition[i], spec, sizeof spec) > 0);
        assert_int_equal(fault_plan_add_partition(&q, spec, err, sizeof err), BFT_E_OK);
        assert_memory_equal(&q.partition[i], &p.partition[i], sizeof q.partition[i]);
    }
    char spec[FAULT_SPEC_MAX];
    fault_entry_format(&p.fault[1], spec, sizeof spec);
    assert_string_equal(spec, "3:slow@1500ms-8");
    fault_partition_format(&p.partition[1], spec, sizeof spec);
    assert_string_equal(spec, "0>1,2@1");
    assert_int_equal(fault_entry_format(&p.fault[0], spec, 4), 0); /* too small: 0 */
}

static void assert_plans_equal(const struct fault_plan *a, const struct fault_plan *b)
{
    assert_int_equal(a->n, b->n);
    assert_true(a->seed == b->seed);
    assert_int_equal(a->n_faults, b->n_faults);
    assert_int_equal(a->n_partitions, b->n_partitions);
    for (uint32_t i = 0; i < a->n_faults; i++)
        assert_memory_equal(&a->fault[i], &b->fault[i], sizeof a->fault[i]);
    for (uint32_t i = 0; i < a->n_partitions; i++)
        assert_memory_equal(&a->partition[i], &b->partition[i], sizeof a->partition[i]);
    assert_memory_equal(&a->net, &b->net, sizeof a->net);
    assert_memory_equal(&a->params, &b->params, sizeof a->params);
}

static void test_json_round_trip(void **state)
{
    (void)state;
    struct fault_plan p, q;
    fault_plan_init(&p, 7, 0xfedcba9876543210ull); /* above 2^53: saved as a string */
    assert_int_equal(fault_plan_add_fault(&p, "0:equivocate@2", err, sizeof err), BFT_E_OK);
    assert_int_equal(fault_plan_add_fault(&p, "6:flood@1.5-3", err, sizeof err), BFT_E_OK);
    assert_int_equal(fault_plan_add_partition(&p, "0,1,2|3,4,5,6@2-8", err, sizeof err), BFT_E_OK);
    assert_int_equal(fault_plan_add_partition(&p, "0>1,2", err, sizeof err), BFT_E_OK);
    assert_int_equal(
        fault_plan_set_net(&p, "drop=0.015,delay_ms=3,duplicate=0.002@1-9", err, sizeof err),
        BFT_E_OK);
    p.params.slow_pct = 70;
    p.params.flood_per_tick = 10;
    char *text = fault_plan_to_json(&p);
    assert_non_null(text);
    assert_int_equal(fault_plan_from_json(&q, text, err, sizeof err), BFT_E_OK);
    assert_plans_equal(&p, &q);
    free(text);

    char path[] = "/tmp/test_faults_plan_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_int_equal(fault_plan_save(&p, path, err, sizeof err), BFT_E_OK);
    memset(&q, 0, sizeof q);
    assert_int_equal(fault_plan_load(&q, path, err, sizeof err), BFT_E_OK);
    assert_plans_equal(&p, &q);
    remove(path);
    assert_int_not_equal(fault_plan_load(&q, path, err, sizeof err), BFT_E_OK);
    assert_non_null(strstr(err, path));

    struct {
        const char *json, *needle;
    } bad[] = {
        {"[1]", "not a JSON object"},
        {"{\"nodes\": 4, \"faults\": [\"7:silent\"]}", "replica 7 does not exist"},
        {"{\"nodes\": 4, \"fault\": []}", "unknown key \"fault\""},
        {"{\"faults\": []}", "\"nodes\" must be"},
        {"{\"nodes\": 4, \"faults\": [3]}", "every entry must be a string"},
        {"{\"nodes\": 4, \"network\": {\"drop\": 3}}", "network.drop must be a probability"},
        {"{\"nodes\": 4, \"network\": {\"lag\": 3}}", "unknown key \"lag\""},
        {"{\"nodes\": 4, \"params\": {\"slow\": 3}}", "params: unknown key \"slow\""},
        {"{\"nodes\": 4, \"seed\": -1}", "\"seed\" must be"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        assert_int_not_equal(fault_plan_from_json(&q, bad[i].json, err, sizeof err), BFT_E_OK);
        if (!strstr(err, bad[i].needle))
            fail_msg("json '%s': error '%s', wanted '%s'", bad[i].json, err, bad[i].needle);
    }
}

static void test_plan_queries(void **state)
{
    (void)state;
    struct fault_plan p;
    fault_plan_init(&p, 4, 1);
    assert_int_equal(fault_plan_add_fault(&p, "2:crash@1-3", err, sizeof err), BFT_E_OK);
    assert_int_equal(fault_plan_add_fault(&p, "1:silent@2-4", err, sizeof err), BFT_E_OK);
    assert_int_equal(fault_plan_add_partition(&p, "0|1,2@5-6", err, sizeof err), BFT_E_OK);
    assert_false(fault_plan_byzantine(&p, 2)); /* crash only: still honest */
    assert_true(fault_plan_byzantine(&p, 1));
    assert_false(fault_plan_byzantine(&p, 0));
    assert_false(fault_plan_has(&p, 1, FAULT_SILENT, 1999));
    assert_true(fault_plan_has(&p, 1, FAULT_SILENT, 2000));
    assert_true(fault_plan_has(&p, 1, FAULT_SILENT, 3999));
    assert_false(fault_plan_has(&p, 1, FAULT_SILENT, 4000));
    assert_true(fault_plan_has_ever(&p, 2, FAULT_CRASH));
    assert_false(fault_plan_has_ever(&p, 2, FAULT_SILENT));
    uint64_t t = 0, edges[8];
    int k = 0;
    while ((t = fault_plan_next_change_ms(&p, t)) != FAULT_FOREVER && k < 8)
        edges[k++] = t;
    uint64_t want[] = {1000, 2000, 3000, 4000, 5000, 6000};
    assert_int_equal(k, 6);
    assert_memory_equal(edges, want, sizeof want);
    uint32_t s0, s1;
    fault_twin_split(4, 0, &s0, &s1);
    assert_int_equal(s0, 0x6);
    assert_int_equal(s1, 0x8);
    fault_twin_split(3, 1, &s0, &s1);
    assert_int_equal(s0, 0x1);
    assert_int_equal(s1, 0x4);
    assert_int_equal(fault_twin_side_of(3, 1, 0), 0);
    assert_int_equal(fault_twin_side_of(3, 1, 2), 1);
}

static const char *scenario_text =
    "{\"name\": \"equivocating_leader\", \"description\": \"d\",\n"
    " \"protocols\": [\"pbft\", \"hotstuff\", \"raft\"], \"nodes\": 4, \"duration_s\": 15,\n"
    " \"faults\": [\"0:equivocate@2\"], \"partitions\": [\"0>1@3-4\"],\n"
    " \"network\": {\"drop\": 0.01, \"delay_ms\": 1},\n"
    " \"expect\": {\"safety\": \"ok\", \"progress\": true, \"progress_after_s\": 5},\n"
    " \"by_protocol\": {\"raft\": {\"nodes\": 3, \"expect\": {\"safety\": \"violated\"}}}}";

static void test_scenario_parse(void **state)
{
    (void)state;
    struct fault_scenario s;
    assert_int_equal(fault_scenario_parse(&s, scenario_text, err, sizeof err), BFT_E_OK);
    assert_string_equal(s.name, "equivocating_leader");
    assert_int_equal(s.nodes, 4);
    assert_int_equal(s.duration_s, 15);
    assert_int_equal(s.n_protocols, 3);
    assert_int_equal(s.plan.n_faults, 1);
    assert_int_equal(s.plan.n_partitions, 1);
    assert_int_equal(s.plan.net.drop_ppm, 10000);
    const struct fault_scenario_protocol *pb = fault_scenario_for(&s, BFT_PROTO_PBFT);
    const struct fault_scenario_protocol *rf = fault_scenario_for(&s, BFT_PROTO_RAFT);
    assert_non_null(pb);
    assert_non_null(rf);
    assert_int_equal(pb->nodes, 4);
    assert_int_equal(pb->expect.safety, FAULT_SAFETY_OK);
    assert_true(pb->expect.progress);
    assert_int_equal(pb->expect.progress_after_ms, 5000);
    assert_int_equal(rf->nodes, 3);
    assert_int_equal(rf->expect.safety, FAULT_SAFETY_VIOLATED);
    assert_true(rf->expect.progress); /* not overridden: inherited */
    struct fault_plan p;
    assert_int_equal(fault_scenario_plan(&s, BFT_PROTO_RAFT, &p, err, sizeof err), BFT_E_OK);
    assert_int_equal(p.n, 3);

    struct {
        const char *from, *to, *needle;
    } bad[] = {
        {"\"0:equivocate@2\"", "\"3:equivocate@2\"", "raft with 3 nodes"},
        {"\"raft\"]", "\"paxos\"]", "unknown protocol paxos"},
        {"\"safety\": \"ok\"", "\"safety\": \"fine\"", "expect.safety must be"},
        {"\"duration_s\": 15", "\"duration_s\": 0", "duration_s"},
        {"\"progress\": true", "\"progress\": 1", "expect.progress must be"},
        {"\"nodes\": 3", "\"nodez\": 3", "unknown key \"nodez\""},
        {"\"description\"", "\"descr\"", "unknown key \"descr\""},
        {"\"0>1@3-4\"", "\"0>1@4-3\"", "is not after"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char text[2048];
        const char *at = strstr(scenario_text, bad[i].from);
        assert_non_null(at);
        snprintf(text, sizeof text, "%.*s%s%s", (int)(at - scenario_text), scenario_text, bad[i].to,
                 at + strlen(bad[i].from));
        err[0] = '\0';
        assert_int_not_equal(fault_scenario_parse(&s, text, err, sizeof err), BFT_E_OK);
        if (!strstr(err, bad[i].needle))
            fail_msg("scenario edit %zu: error '%s', wanted '%s'", i, err, bad[i].needle);
    }
}

/* Every shipped scenario parses and lists all three protocols. */
static void test_shipped_scenarios(void **state)
{
    (void)state;
    char dir[1024];
    const char *tail = strstr(__FILE__, "tests/faults/");
    if (!tail) skip();
    snprintf(dir, sizeof dir, "%.*sscenarios", (int)(tail - __FILE__), __FILE__);
    DIR *d = opendir(dir);
    if (!d) skip();
    struct dirent *e;
    int count = 0;
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0) continue;
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct fault_scenario s;
        if (fault_scenario_load(&s, path, err, sizeof err) != BFT_E_OK) fail_msg("%s", err);
        assert_int_equal(s.n_protocols, 3);
        for (int proto = BFT_PROTO_PBFT; proto <= BFT_PROTO_RAFT; proto++) {
            struct fault_plan p;
            if (fault_scenario_plan(&s, proto, &p, err, sizeof err) != BFT_E_OK)
                fail_msg("%s", err);
        }
        count++;
    }
    closedir(d);
    assert_true(count >= 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fault_specs_good),  cmocka_unit_test(test_fault_specs_bad),
        cmocka_unit_test(test_partition_specs),   cmocka_unit_test(test_net_specs),
        cmocka_unit_test(test_spec_round_trip),   cmocka_unit_test(test_json_round_trip),
        cmocka_unit_test(test_plan_queries),      cmocka_unit_test(test_scenario_parse),
        cmocka_unit_test(test_shipped_scenarios),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
