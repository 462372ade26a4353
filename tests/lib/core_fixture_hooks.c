/* tests/lib/core_fixture_hooks.c: what the protocols' cmocka tests
 * (tests/core/<p>/<p>_fixture.h, thin adapters over this fixture) need
 * beyond the datadriven runner's commands: signing regions and requests
 * they craft, a node's env and io (for a core beside the cluster), the
 * fake application's state, and disk surgery (losing a disk, writing a
 * scripted durable past into a WAL). Declared in core_fixture.h. */
#include <stdlib.h>
#include <string.h>

#include "tests/lib/core_fixture_internal.h"

/* A vote or timeout statement inside a QC or TC a Byzantine replica
 * crafts (docs/hotstuff.md "Quorum certificates"), which cf_sign_as
 * (whole encoded messages) cannot make. Follows the fixture's mode. */
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

void cf_app_state(const struct cf *cf, uint32_t id, bft_digest *out)
{
    memset(out, 0, sizeof *out);
    if (id < cf->opt.n) *out = cf->node[id].app.state;
}

bool cf_executed(const struct cf *cf, uint32_t id, uint32_t client, uint64_t req_no)
{
    return id < cf->opt.n && cf_app_done(&cf->node[id].app, client, req_no);
}

size_t cf_snap_len(void)
{
    return CF_SNAP_LEN;
}

int cf_lose_disk(struct cf *cf, uint32_t id, bool wal)
{
    if (id >= cf->opt.n || cf->node[id].core) return BFT_E_INVALID;
    struct cf_node *nd = &cf->node[id];
    memset(nd->disk, 0, sizeof nd->disk);
    if (!wal) return BFT_E_OK;
    for (uint32_t r = 0; r < nd->n_wal; r++)
        free(nd->wal[r].p);
    nd->n_wal = 0;
    nd->wal_bytes = 0;
    nd->wal_full_logged = false;
    return BFT_E_OK;
}

int cf_wal_append(struct cf *cf, uint32_t id, const uint8_t *rec, size_t len)
{
    if (id >= cf->opt.n) return BFT_E_INVALID;
    struct cf_node *nd = &cf->node[id];
    if (nd->n_wal == CF_WAL_MAX || nd->wal_bytes + len > CF_WAL_BYTES_MAX) return BFT_E_FULL;
    uint8_t *p = malloc(len ? len : 1);
    if (!p) return BFT_E_NOMEM;
    if (len) memcpy(p, rec, len);
    nd->wal[nd->n_wal++] = (struct cf_rec){p, len};
    nd->wal_bytes += len;
    return BFT_E_OK;
}
