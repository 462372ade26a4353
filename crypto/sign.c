/* Domain-separated Ed25519 signatures (libsodium) and the process-wide
 * counters.
 *
 * What is signed is never the raw message but
 *   "BFTSIG01" || domain (u32 LE) || cluster_id (u64 LE) || SHA-256(msg)
 * so a signature cannot be replayed into another cluster or reinterpreted
 * as another message type (domain = message type, see crypto.h). Hashing
 * first keeps Ed25519's input fixed at 52 bytes however long the message. */
#include <sodium.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/crypto_internal.h"

_Atomic uint64_t crypto_ctr_signs;
_Atomic uint64_t crypto_ctr_verifies;
_Atomic uint64_t crypto_ctr_cache_hits;
_Atomic uint64_t crypto_ctr_verify_fail;

static void put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_u64le(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

void crypto_signed_bytes(uint32_t domain, uint64_t cluster_id, const uint8_t *msg, size_t len,
                         uint8_t out[CRYPTO_SIGNED_LEN])
{
    memcpy(out, CRYPTO_SIG_TAG, CRYPTO_SIG_TAG_LEN);
    put_u32le(out + CRYPTO_SIG_TAG_LEN, domain);
    put_u64le(out + CRYPTO_SIG_TAG_LEN + 4, cluster_id);
    crypto_sha256(msg, len, out + CRYPTO_SIG_TAG_LEN + 12);
}

void crypto_sign_msg(const struct crypto_keypair *kp, uint32_t domain, uint64_t cluster_id,
                     const uint8_t *msg, size_t len, uint8_t sig[CRYPTO_SIG_LEN])
{
    uint8_t bytes[CRYPTO_SIGNED_LEN];
    crypto_signed_bytes(domain, cluster_id, msg, len, bytes);
    /* Cannot fail with libsodium's detached API and a valid sk buffer. */
    (void)crypto_sign_detached(sig, NULL, bytes, sizeof bytes, kp->sk);
    atomic_fetch_add_explicit(&crypto_ctr_signs, 1, memory_order_relaxed);
}

bool crypto_verify_signed(const uint8_t pk[CRYPTO_PK_LEN], const uint8_t bytes[CRYPTO_SIGNED_LEN],
                          const uint8_t sig[CRYPTO_SIG_LEN])
{
    bool ok = crypto_sign_verify_detached(sig, bytes, CRYPTO_SIGNED_LEN, pk) == 0;
    atomic_fetch_add_explicit(&crypto_ctr_verifies, 1, memory_order_relaxed);
    if (!ok) atomic_fetch_add_explicit(&crypto_ctr_verify_fail, 1, memory_order_relaxed);
    return ok;
}

bool crypto_verify_msg(const uint8_t pk[CRYPTO_PK_LEN], uint32_t domain, uint64_t cluster_id,
                       const uint8_t *msg, size_t len, const uint8_t sig[CRYPTO_SIG_LEN])
{
    uint8_t bytes[CRYPTO_SIGNED_LEN];
    crypto_signed_bytes(domain, cluster_id, msg, len, bytes);
    return crypto_verify_signed(pk, bytes, sig);
}

void crypto_counters_get(struct crypto_counters *out)
{
    out->signs = atomic_load_explicit(&crypto_ctr_signs, memory_order_relaxed);
    out->verifies = atomic_load_explicit(&crypto_ctr_verifies, memory_order_relaxed);
    out->cache_hits = atomic_load_explicit(&crypto_ctr_cache_hits, memory_order_relaxed);
    out->verify_fail = atomic_load_explicit(&crypto_ctr_verify_fail, memory_order_relaxed);
}
