/* One check of a batch received from a peer, shared by the node (every
 * PRE-PREPARE and HS_PROPOSAL it takes) and by the HotStuff core (block
 * responses, which the node does not inspect). Validity: only requests
 * that clients really signed may commit, and the header digest must bind
 * the exact bytes, or a Byzantine leader could swap the batch under an
 * agreed digest (Castro-Liskov OSDI'99 §4.2: the pre-prepare carries
 * d = D(m); docs/design.md "Messages and crypto"). */
#include <string.h>

#include "core/core.h"

int bft_batch_verify(const struct bft_env *env, uint32_t n_clients, const uint8_t *batch,
                     size_t len, const bft_digest *digest)
{
    bft_digest d;
    bft_batch_digest(batch, len, &d);
    if (memcmp(d.b, digest->b, CRYPTO_DIGEST_LEN) != 0) return BFT_REJECT_MALFORMED;
    struct bft_batch_iter it;
    if (bft_batch_iter_init(&it, batch, len) != BFT_E_OK) return BFT_REJECT_MALFORMED;
    const uint8_t *raw;
    size_t rlen;
    while (bft_batch_iter_next(&it, &raw, &rlen)) {
        struct bft_msg req;
        if (bft_msg_decode(raw, rlen, &req) != BFT_E_OK || req.type != BFT_MSG_REQUEST ||
            req.payload_len != 0)
            return BFT_REJECT_MALFORMED;
        if (n_clients && req.sender >= n_clients) return BFT_REJECT_UNKNOWN_SENDER;
        if (!env->verify_request(env->ctx, &req)) return BFT_REJECT_BAD_SIGNATURE;
    }
    return BFT_REJECT_NONE;
}
