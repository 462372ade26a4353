/* runtime/runtime_stats.c: the "rejected" object of stats.json is JSON that
 * bftctl can read back, one count per reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "runtime/runtime_internal.h"

static void test_rejected_object_parses_with_every_reason(void **state)
{
    (void)state;
    uint64_t rejected[BFT_REJECT__COUNT] = {0};
    for (int r = BFT_REJECT__FIRST; r < BFT_REJECT__COUNT; r++)
        rejected[r] = 100u + (uint64_t)r;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    fprintf(f, "{\"rejected\": {");
    rt_stats_rejected_json(f, rejected);
    fprintf(f, "}");
    assert_int_equal(fclose(f), 0);
    cJSON *o = cJSON_Parse(text);
    assert_non_null(o); /* a comma before the first reason made this NULL */
    const cJSON *rej = cJSON_GetObjectItemCaseSensitive(o, "rejected");
    assert_true(cJSON_IsObject(rej));
    assert_int_equal(cJSON_GetArraySize(rej), BFT_REJECT__COUNT - BFT_REJECT__FIRST);
    for (int r = BFT_REJECT__FIRST; r < BFT_REJECT__COUNT; r++) {
        const cJSON *n = cJSON_GetObjectItemCaseSensitive(rej, bft_reject_name(r));
        assert_true(cJSON_IsNumber(n));
        assert_true(n->valuedouble == (double)(100u + (unsigned)r));
    }
    cJSON_Delete(o);
    free(text);
}

/* The latency budget's members: every stage in us and per op, the means
 * of the phases some sample reached (others absent), and the counts. */
static void test_budget_members_parse(void **state)
{
    (void)state;
    struct bft_budget b;
    bft_budget_start(&b, BFT_STAGE_OTHER, 0);
    for (int s = 0; s < BFT_STAGE__COUNT; s++) {
        b.ns[s] = 1000000u * (uint64_t)(s + 1); /* stage s: (s+1) ms */
        b.calls[s] = 10u * (uint64_t)(s + 1);
    }
    struct bft_phase_stats ph = {.sampled = 7, .unproposed = 2, .evicted = 1};
    ph.sum_ns[BFT_PHASE_PROPOSED] = 3 * 20000;
    ph.count[BFT_PHASE_PROPOSED] = 3;
    ph.sum_ns[BFT_PHASE_REPLY_SENT] = 3 * 4000000;
    ph.count[BFT_PHASE_REPLY_SENT] = 3;
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    assert_non_null(f);
    fprintf(f, "{\"id\": 0");
    rt_stats_budget_json(f, &b, &ph, 500);
    fprintf(f, "}");
    assert_int_equal(fclose(f), 0);
    cJSON *o = cJSON_Parse(text);
    assert_non_null(o);
    const cJSON *us = cJSON_GetObjectItemCaseSensitive(o, "stage_us");
    const cJSON *per = cJSON_GetObjectItemCaseSensitive(o, "stage_us_per_op");
    assert_int_equal(cJSON_GetArraySize(us), BFT_STAGE__COUNT);
    for (int s = 0; s < BFT_STAGE__COUNT; s++) {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(us, bft_stage_name(s));
        assert_true(cJSON_IsNumber(v) && v->valuedouble == 1000.0 * (s + 1));
        v = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(o, "stage_calls"),
                                             bft_stage_name(s));
        assert_true(cJSON_IsNumber(v) && v->valuedouble == 10.0 * (s + 1));
        v = cJSON_GetObjectItemCaseSensitive(per, bft_stage_name(s));
        assert_true(cJSON_IsNumber(v) && v->valuedouble == 2.0 * (s + 1)); /* / 500 ops */
    }
    const cJSON *pu = cJSON_GetObjectItemCaseSensitive(o, "phase_us");
    assert_int_equal(cJSON_GetArraySize(pu), 2);
    assert_true(cJSON_GetObjectItemCaseSensitive(pu, "proposed")->valuedouble == 20.0);
    assert_true(cJSON_GetObjectItemCaseSensitive(pu, "reply_sent")->valuedouble == 4000.0);
    assert_null(cJSON_GetObjectItemCaseSensitive(pu, "prepared"));
    const cJSON *pn = cJSON_GetObjectItemCaseSensitive(o, "phase_n");
    assert_true(cJSON_GetObjectItemCaseSensitive(pn, "sampled")->valuedouble == 7);
    assert_true(cJSON_GetObjectItemCaseSensitive(pn, "unproposed")->valuedouble == 2);
    assert_true(cJSON_GetObjectItemCaseSensitive(pn, "evicted")->valuedouble == 1);
    assert_true(cJSON_GetObjectItemCaseSensitive(pn, "proposed")->valuedouble == 3);
    assert_true(cJSON_GetObjectItemCaseSensitive(pn, "executed")->valuedouble == 0);
    cJSON_Delete(o);
    free(text);
    /* No op executed: per-op figures are 0, not a division by zero. */
    text = NULL;
    f = open_memstream(&text, &len);
    fprintf(f, "{\"id\": 0");
    rt_stats_budget_json(f, &b, &ph, 0);
    fprintf(f, "}");
    assert_int_equal(fclose(f), 0);
    o = cJSON_Parse(text);
    assert_non_null(o);
    per = cJSON_GetObjectItemCaseSensitive(o, "stage_us_per_op");
    assert_true(cJSON_GetObjectItemCaseSensitive(per, "wal")->valuedouble == 0.0);
    cJSON_Delete(o);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejected_object_parses_with_every_reason),
        cmocka_unit_test(test_budget_members_parse),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
