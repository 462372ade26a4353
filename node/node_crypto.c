/* Signing and verification for a replica node.
 *
 * Real mode: Ed25519 (crypto_sign_msg) with every verification going
 * through the node's bounded cache, so each signature costs one verify per
 * replica however often it arrives (docs/design.md "Messages and crypto").
 *
 * Null mode (simulator): a signature is SHA-256(secret || signer key ||
 * domain || cluster || region) padded to 64 bytes. Only code holding the
 * process secret can produce one, so a simulated replica still cannot forge
 * another's messages, but there is no Ed25519 cost. Client requests are not
 * checked in null mode (clients sign with zeros); the simulator checks
 * validity itself against what clients really submitted.
 */
#include <string.h>

#include "node/node_internal.h"

void node_crypto_init(struct bft_node *n)
{
    /* Deterministic per cluster, so a restarted simulated replica verifies
     * what its previous incarnation signed. */
    uint8_t seed[16];
    memcpy(seed, "bft-null-crypto", 16);
    crypto_sha256_2(seed, sizeof seed, &n->cfg.core.cluster_id, sizeof n->cfg.core.cluster_id,
                    n->null_secret);
}

static void null_sig(const struct bft_node *n, const uint8_t pk[CRYPTO_PK_LEN], uint32_t domain,
                     const uint8_t *region, size_t len, uint8_t sig[BFT_SIG_LEN])
{
    uint8_t head[32 + CRYPTO_PK_LEN + 4 + 8 + 32];
    memcpy(head, n->null_secret, 32);
    memcpy(head + 32, pk, CRYPTO_PK_LEN);
    memcpy(head + 64, &domain, 4);
    memcpy(head + 68, &n->cfg.core.cluster_id, 8);
    crypto_sha256(region, len, head + 76);
    memset(sig, 0, BFT_SIG_LEN);
    crypto_sha256(head, sizeof head, sig);
}

void node_sign(struct bft_node *n, uint32_t domain, const uint8_t *region, size_t len,
               uint8_t sig[BFT_SIG_LEN])
{
    if (n->cfg.null_crypto) {
        null_sig(n, n->cfg.replica_pk[n->cfg.core.self], domain, region, len, sig);
        return;
    }
    node_stage_in(n, BFT_STAGE_SIGN);
    crypto_sign_msg(&n->cfg.self_key, domain, n->cfg.core.cluster_id, region, len, sig);
    node_stage_out(n);
}

bool node_verify_replica(struct bft_node *n, uint32_t signer, uint32_t domain,
                         const uint8_t *region, size_t len, const uint8_t sig[BFT_SIG_LEN])
{
    if (signer >= n->cfg.core.n) return false;
    if (n->cfg.null_crypto) {
        uint8_t want[BFT_SIG_LEN];
        null_sig(n, n->cfg.replica_pk[signer], domain, region, len, want);
        return memcmp(want, sig, BFT_SIG_LEN) == 0;
    }
    node_stage_in(n, BFT_STAGE_VERIFY);
    bool ok = crypto_vcache_verify(n->vcache, n->cfg.replica_pk[signer], domain,
                                   n->cfg.core.cluster_id, region, len, sig);
    node_stage_out(n);
    return ok;
}

bool node_verify_request(struct bft_node *n, const struct bft_msg *req)
{
    if (req->type != BFT_MSG_REQUEST || req->sender >= n->cfg.n_clients) return false;
    if (req->cluster_id != n->cfg.core.cluster_id) return false;
    if (n->cfg.null_crypto) return true;
    const uint8_t *region;
    size_t len;
    bft_msg_signed_region(req->raw, &region, &len);
    node_stage_in(n, BFT_STAGE_VERIFY);
    bool ok = crypto_vcache_verify(n->vcache, n->cfg.client_pk[req->sender], BFT_MSG_REQUEST,
                                   n->cfg.core.cluster_id, region, len, req->sig);
    node_stage_out(n);
    return ok;
}

/* The same check the HotStuff core runs on block responses (core.h
 * bft_batch_verify), through this node's env, so both refuse the same
 * batches for the same reasons. */
int node_check_batch(struct bft_node *n, const struct bft_msg *m)
{
    /* The batch digest and parse count as verification; the client
     * signatures inside are charged there again (node_verify_request). */
    node_stage_in(n, BFT_STAGE_VERIFY);
    int why = bft_batch_verify(&n->env, n->cfg.n_clients, m->payload, m->payload_len, &m->digest);
    node_stage_out(n);
    return why;
}
