/* tests/lib/core_fixture_ext_hotstuff.c: what the HotStuff programmatic
 * tests (tests/core/hotstuff/hotstuff_fixture.h, which declares these)
 * need of the core fixture beyond core_fixture.h:
 *
 * - signing a region that is not a whole message, as a replica: a vote
 *   or a timeout statement inside a QC or TC that a Byzantine replica
 *   crafts (docs/hotstuff.md "Quorum certificates"), which cf_sign_as
 *   (whole encoded messages) cannot make;
 * - signing a client REQUEST the test built itself (any request number,
 *   any size), as cf_request signs its own;
 * - a node's env and io, to create one more core of another shape beside
 *   the cluster, whose pure functions of the configuration (the leader
 *   rule) a test checks.
 *
 * Both signing calls follow the fixture's mode (keyed hash, or zeros
 * under null_sigs). */
#include <string.h>

#include "tests/lib/core_fixture_internal.h"

void cf_sign_region(const struct cf *cf, uint32_t signer, uint32_t domain, const uint8_t *region,
                    size_t len, uint8_t sig[BFT_SIG_LEN])
{
    if (cf->opt.null_sigs)
        memset(sig, 0, BFT_SIG_LEN);
    else
        cf_sig(signer, domain, region, len, sig);
}

bool cf_sign_request(const struct cf *cf, uint8_t *buf, size_t len)
{
    struct bft_msg m;
    if (bft_msg_decode(buf, len, &m) != BFT_E_OK || m.type != BFT_MSG_REQUEST) return false;
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(buf, &region, &rlen);
    uint8_t sig[BFT_SIG_LEN];
    cf_sign_region(cf, CF_CLIENT_KEY + m.sender, BFT_MSG_REQUEST, region, rlen, sig);
    bft_msg_set_sig(buf, sig);
    return true;
}

const struct bft_env *cf_env(const struct cf *cf, uint32_t id)
{
    return id < cf->opt.n ? &cf->node[id].env : NULL;
}

const struct bft_io *cf_io(const struct cf *cf, uint32_t id)
{
    return id < cf->opt.n ? &cf->node[id].io : NULL;
}
