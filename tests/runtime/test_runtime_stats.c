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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rejected_object_parses_with_every_reason),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
