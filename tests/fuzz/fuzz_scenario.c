/* Target fuzz_scenario: scenario files (fault_scenario_parse, the
 * scenarios/NAME.json schema). A scenario that parses must give a plan for
 * every protocol it lists (fault_scenario_plan) that validates.
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
    static struct fault_scenario s;
    static struct fault_plan p;
    char err[512];
    if (fault_scenario_parse(&s, text, err, sizeof err) == BFT_E_OK) {
        static const int protos[3] = {BFT_PROTO_PBFT, BFT_PROTO_HOTSTUFF, BFT_PROTO_RAFT};
        for (int i = 0; i < 3; i++) {
            const struct fault_scenario_protocol *sp = fault_scenario_for(&s, protos[i]);
            if (!sp) continue;
            if (fault_scenario_plan(&s, protos[i], &p, err, sizeof err) == BFT_E_OK &&
                fault_plan_validate(&p, err, sizeof err) != BFT_E_OK) {
                fprintf(stderr, "scenario plan does not validate: %s\n", err);
                abort();
            }
        }
    }
    free(text);
    return 0;
}
