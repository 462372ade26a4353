/* Scenario generators for the simulator: Twins (faults/twins.c, OPODIS'21
 * §4) and ByzzFuzz schedules (faults/byzzfuzz.c, OOPSLA'23 §3): counts,
 * every scenario well-formed, index order stable and one-to-one,
 * determinism from a seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "faults/faults.h"

static char err[256];
static struct twins_gen gen; /* large: keep it off the stack */

/* Recover the index of a scenario from its rounds: the generator must be a
 * bijection between [0, count) and scenarios. */
static uint64_t index_of(const struct twins_gen *g, const struct twins_scenario *s)
{
    uint64_t leaders = g->cfg.fixed_leaders ? 1 : g->cfg.n, radix = g->n_partitions * leaders;
    uint64_t idx = 0;
    for (int r = (int)s->rounds - 1; r >= 0; r--) {
        const struct twins_round *rd = &s->round[r];
        uint64_t part = UINT64_MAX;
        for (uint32_t p = 0; p < g->n_partitions && part == UINT64_MAX; p++) {
            bool same = true;
            for (uint32_t i = 0; i <= s->n && same; i++)
                for (uint32_t j = 0; j <= s->n && same; j++)
                    same = ((g->rgs[p][i] == g->rgs[p][j]) == twins_can_talk(s, (uint32_t)r, i, j));
            if (same) part = p;
        }
        assert_true(part != UINT64_MAX);
        idx = idx * radix + part * leaders + (g->cfg.fixed_leaders ? 0 : rd->leader);
    }
    return idx;
}

static void test_twins_counts(void **state)
{
    (void)state;
    /* n = 4 plus one twin: 5 identities. Partitions into at most 2 groups:
     * S(5,1) + S(5,2) = 16; at most 3: + S(5,3) = 41; any: Bell(5) = 52. */
    struct twins_config c = {.n = 4, .twin = 0, .rounds = 2, .max_groups = 2, .round_ms = 500};
    assert_int_equal(twins_gen_init(&gen, &c, err, sizeof err), BFT_E_OK);
    assert_int_equal(gen.n_partitions, 16);
    assert_int_equal(twins_count(&gen), 64 * 64);
    c.max_groups = 3;
    assert_int_equal(twins_gen_init(&gen, &c, err, sizeof err), BFT_E_OK);
    assert_int_equal(gen.n_partitions, 41);
    c.max_groups = 5;
    c.rounds = 3;
    c.fixed_leaders = true;
    assert_int_equal(twins_gen_init(&gen, &c, err, sizeof err), BFT_E_OK);
    assert_int_equal(gen.n_partitions, 52);
    assert_int_equal(twins_count(&gen), 52 * 52 * 52);
    /* n = 7: 8 identities, Bell(8) = 4140 partitions. */
    struct twins_config c7 = {.n = 7, .twin = 3, .rounds = 1, .max_groups = 8};
    assert_int_equal(twins_gen_init(&gen, &c7, err, sizeof err), BFT_E_OK);
    assert_int_equal(gen.n_partitions, 4140);

    struct twins_config bad[] = {
        {.n = 8, .twin = 0, .rounds = 1, .max_groups = 2},
        {.n = 4, .twin = 4, .rounds = 1, .max_groups = 2},
        {.n = 4, .twin = 0, .rounds = 0, .max_groups = 2},
        {.n = 4, .twin = 0, .rounds = 9, .max_groups = 2},
        {.n = 4, .twin = 0, .rounds = 1, .max_groups = 6},
        {.n = 7, .twin = 0, .rounds = 8, .max_groups = 8}, /* (4140*7)^8 overflows */
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(twins_gen_init(&gen, &bad[i], err, sizeof err), BFT_E_INVALID);
    assert_non_null(strstr(err, "overflow"));
}

static void test_twins_every_scenario(void **state)
{
    (void)state;
    struct twins_config c = {.n = 4, .twin = 1, .rounds = 2, .max_groups = 2, .round_ms = 500};
    assert_int_equal(twins_gen_init(&gen, &c, err, sizeof err), BFT_E_OK);
    uint32_t leader_seen = 0, twin_split = 0;
    for (uint64_t i = 0; i < twins_count(&gen); i++) {
        struct twins_scenario s;
        assert_int_equal(twins_scenario_at(&gen, i, &s), BFT_E_OK);
        assert_true(twins_scenario_valid(&s));
        assert_true(index_of(&gen, &s) == i);
        assert_true(s.round[0].n_groups <= 2);
        leader_seen |= 1u << s.round[1].leader;
        /* The twin's two instances (identities 1 and 4) apart? */
        if (!twins_can_talk(&s, 0, 1, 4)) twin_split++;
    }
    assert_int_equal(leader_seen, 0xf);
    assert_true(twin_split > 0);
    struct twins_scenario s;
    assert_int_equal(twins_scenario_at(&gen, twins_count(&gen), &s), BFT_E_INVALID);
}

static void test_twins_deterministic(void **state)
{
    (void)state;
    struct twins_config c = {.n = 4, .twin = 0, .rounds = 4, .max_groups = 2, .round_ms = 250};
    assert_int_equal(twins_gen_init(&gen, &c, err, sizeof err), BFT_E_OK);
    struct twins_scenario a, b, d;
    twins_scenario_sample(&gen, 99, &a);
    twins_scenario_sample(&gen, 99, &b);
    twins_scenario_sample(&gen, 100, &d);
    assert_memory_equal(&a, &b, sizeof a);
    assert_true(a.index != d.index);
    assert_true(twins_scenario_valid(&a));
    assert_int_equal(twins_identity_replica(&a, 4), 0);
    assert_int_equal(twins_identity_replica(&a, 2), 2);
    assert_int_equal(twins_round_at(&a, 0), 0);
    assert_int_equal(twins_round_at(&a, 251), 1);
    assert_int_equal(twins_round_at(&a, 1000000), 3);
    /* A known index decodes to a known scenario (the order is a contract
     * so that "twins #i" in a failure report means one thing). */
    assert_int_equal(twins_scenario_at(&gen, 0, &a), BFT_E_OK);
    for (uint32_t r = 0; r < 4; r++) {
        assert_int_equal(a.round[r].n_groups, 1);
        assert_int_equal(a.round[r].leader, 0);
    }
    assert_int_equal(twins_scenario_at(&gen, 5, &a), BFT_E_OK); /* partition 1, leader 1 */
    assert_int_equal(a.round[0].leader, 1);
    assert_int_equal(a.round[0].n_groups, 2);
    assert_int_equal(a.round[0].group[0], 0x0f);
    assert_int_equal(a.round[0].group[1], 0x10); /* the twin alone */
    char text[512];
    assert_true(twins_scenario_format(&a, text, sizeof text) > 0);
    assert_non_null(strstr(text, "r0 L1 {0,1,2,3}{4}"));
    /* Fixed leaders follow the protocol's rotation. */
    c.fixed_leaders = true;
    assert_int_equal(twins_gen_init(&gen, &c, err, sizeof err), BFT_E_OK);
    assert_int_equal(twins_count(&gen), 16 * 16 * 16 * 16);
    twins_scenario_sample(&gen, 3, &a);
    for (uint32_t r = 0; r < 4; r++)
        assert_int_equal(a.round[r].leader, r % 4);
}

static void test_byzzfuzz_schedule(void **state)
{
    (void)state;
    struct byzzfuzz_config c = {
        .n = 4, .byz = 2, .rounds = 10, .proc_faults = 8, .net_faults = 5, .round_ms = 200};
    struct byzzfuzz_schedule a, b, d;
    assert_int_equal(byzzfuzz_generate(&a, &c, 1234, err, sizeof err), BFT_E_OK);
    assert_int_equal(byzzfuzz_generate(&b, &c, 1234, err, sizeof err), BFT_E_OK);
    assert_int_equal(byzzfuzz_generate(&d, &c, 1235, err, sizeof err), BFT_E_OK);
    assert_memory_equal(&a, &b, sizeof a);
    assert_memory_not_equal(&a, &d, sizeof a);
    for (uint32_t seed = 0; seed < 200; seed++) {
        assert_int_equal(byzzfuzz_generate(&a, &c, seed, err, sizeof err), BFT_E_OK);
        for (uint32_t i = 0; i < c.proc_faults; i++) {
            assert_true(a.proc[i].round < c.rounds);
            assert_int_not_equal(a.proc[i].recipients, 0);
            assert_int_equal(a.proc[i].recipients & ~0xbu, 0); /* never byz, never >= n */
        }
        for (uint32_t i = 0; i < c.net_faults; i++) {
            const struct byzzfuzz_net_fault *nf = &a.net[i];
            assert_true(nf->round < c.rounds);
            assert_true(nf->n_groups >= 2 && nf->n_groups <= 3);
            uint32_t all = 0;
            for (uint32_t g = 0; g < nf->n_groups; g++) {
                assert_int_not_equal(nf->group[g], 0);
                assert_int_equal(all & nf->group[g], 0);
                all |= nf->group[g];
            }
            assert_int_equal(all, 0xf);
        }
        struct fault_plan p;
        fault_plan_init(&p, 4, seed);
        assert_int_equal(byzzfuzz_to_plan(&a, &p, err, sizeof err), BFT_E_OK);
        assert_int_equal(fault_plan_validate(&p, err, sizeof err), BFT_E_OK);
        assert_true(fault_plan_byzantine(&p, 2));
        assert_int_equal(p.n_partitions, c.net_faults);
        for (uint32_t i = 0; i < c.net_faults; i++)
            assert_int_equal(p.partition[i].win.from_ms, a.net[i].round * 200);
        /* fault_at finds a fault exactly in its round, for its recipients. */
        for (uint32_t i = 0; i < c.proc_faults; i++) {
            uint32_t dest = (uint32_t)__builtin_ctz(a.proc[i].recipients);
            assert_non_null(byzzfuzz_fault_at(&a, dest, a.proc[i].round * 200 + 199));
        }
        assert_null(byzzfuzz_fault_at(&a, 2, 0));        /* never to itself */
        assert_null(byzzfuzz_fault_at(&a, 0, 10 * 200)); /* after the last round */
    }
    struct fault_plan p3;
    fault_plan_init(&p3, 3, 1);
    assert_int_equal(byzzfuzz_to_plan(&a, &p3, err, sizeof err), BFT_E_INVALID);
    c.byz = 4;
    assert_int_equal(byzzfuzz_generate(&a, &c, 1, err, sizeof err), BFT_E_INVALID);
    char text[256];
    c.byz = 1;
    assert_int_equal(byzzfuzz_generate(&a, &c, 77, err, sizeof err), BFT_E_OK);
    assert_true(byzzfuzz_format(&a, text, sizeof text) > 0);
    assert_non_null(strstr(text, "seed=77"));
    assert_string_equal(byzzfuzz_mutation_name(BYZZFUZZ_RESEND), "resend-earlier-proposal");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_twins_counts),
        cmocka_unit_test(test_twins_every_scenario),
        cmocka_unit_test(test_twins_deterministic),
        cmocka_unit_test(test_byzzfuzz_schedule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
