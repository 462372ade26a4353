/* sim: hooks for Byzantine replicas (behaviours live in faults/). A
 * Byzantine replica keeps its real key, so anything it rewrites must be
 * signed again as itself (bft_node_sign_encoded). */
#include "sim/sim_internal.h"

int sim_sign_as(struct sim *s, uint32_t r, uint8_t *msg, size_t len)
{
    if (r >= s->o.n || !s->rep[r].node || len < BFT_MSG_MIN_LEN) return BFT_E_INVALID;
    return bft_node_sign_encoded(s->rep[r].node, msg, len);
}

void sim_set_tap(struct sim *s, sim_tap_fn fn, void *ctx)
{
    s->tap = fn;
    s->tap_ctx = ctx;
}
