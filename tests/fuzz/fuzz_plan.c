/* Target fuzz_plan: fault-plan JSON (fault_plan_from_json, the plan.json
 * bftctl hands each bftd). A plan that parses must validate, print
 * (fault_plan_to_json) and parse back to the same text; the host queries
 * must answer for every replica.
 */
#include <stdio.h>

#include "faults/faults.h"
#include "tests/fuzz/fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) return 0;
    memcpy(text, data, size);
    text[size] = 0;
    static struct fault_plan p, q;
    char err[512];
    if (fault_plan_from_json(&p, text, err, sizeof err) == BFT_E_OK) {
        if (fault_plan_validate(&p, err, sizeof err) != BFT_E_OK) {
            fprintf(stderr, "parsed plan does not validate: %s\n", err);
            abort();
        }
        char *j = fault_plan_to_json(&p);
        if (j) {
            if (fault_plan_from_json(&q, j, err, sizeof err) != BFT_E_OK) {
                fprintf(stderr, "printed plan does not parse: %s\n%s\n", err, j);
                abort();
            }
            char *j2 = fault_plan_to_json(&q);
            if (j2 && strcmp(j, j2) != 0) {
                fprintf(stderr, "plan JSON round trip differs:\n%s\n%s\n", j, j2);
                abort();
            }
            free(j2);
            free(j);
        }
        for (uint32_t r = 0; r < p.n && r < BFT_MAX_REPLICAS; r++) {
            for (int b = 0; b < FAULT__COUNT; b++)
                (void)fault_plan_has_ever(&p, r, b);
            (void)fault_plan_byzantine(&p, r);
            (void)fault_plan_cut(&p, r, (r + 1) % p.n, 1500);
        }
        (void)fault_plan_next_change_ms(&p, 0);
    }
    free(text);
    return 0;
}
