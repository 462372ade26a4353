/* sim: hooks for Byzantine replicas (behaviours live in faults/). A
 * Byzantine replica keeps its real key, so anything it rewrites must be
 * signed again as itself; the node's signing routine is private to bft/, so
 * this is the one place the simulator reaches into bft/node_internal.h
 * (header change recommended: a public bft_node_sign_encoded()). */
#include "bft/node_internal.h"
#include "sim/sim_internal.h"

int sim_sign_as(struct sim *s, uint32_t r, uint8_t *msg, size_t len)
{
    if (r >= s->o.n || !s->rep[r].node || len < BFT_MSG_MIN_LEN) return BFT_E_INVALID;
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(msg, &region, &rlen);
    if (BFT_SIGNED_OFF + rlen + BFT_SIG_LEN > len) return BFT_E_INVALID;
    uint8_t sig[BFT_SIG_LEN];
    node_sign(s->rep[r].node, sim_msg_type(msg, len), region, rlen, sig);
    bft_msg_set_sig(msg, sig);
    return BFT_E_OK;
}

void sim_set_tap(struct sim *s, sim_tap_fn fn, void *ctx)
{
    s->tap = fn;
    s->tap_ctx = ctx;
}
