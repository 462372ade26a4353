/* Private to crypto/: shared pieces of the signing path and the counters.
 * Nothing outside crypto/ includes this except the crypto unit test. */
#ifndef BFT_CRYPTO_INTERNAL_H
#define BFT_CRYPTO_INTERNAL_H

#include <stdatomic.h>

#include "crypto/crypto.h"

/* "BFTSIG01" || domain u32 LE || cluster_id u64 LE || SHA-256(msg). */
#define CRYPTO_SIG_TAG "BFTSIG01"
#define CRYPTO_SIG_TAG_LEN 8
#define CRYPTO_SIGNED_LEN (CRYPTO_SIG_TAG_LEN + 4 + 8 + CRYPTO_DIGEST_LEN)
_Static_assert(CRYPTO_SIGNED_LEN == 52, "signed bytes layout is part of the wire contract");

/* Build the 52 bytes that are actually signed for (domain, cluster, msg). */
void crypto_signed_bytes(uint32_t domain, uint64_t cluster_id, const uint8_t *msg, size_t len,
                         uint8_t out[CRYPTO_SIGNED_LEN]);
/* Ed25519 verification of already-built signed bytes; counts verifies and
 * failures. */
bool crypto_verify_signed(const uint8_t pk[CRYPTO_PK_LEN], const uint8_t bytes[CRYPTO_SIGNED_LEN],
                          const uint8_t sig[CRYPTO_SIG_LEN]);

/* Process-wide counters (relaxed atomics: they are statistics, not
 * synchronisation). Defined in sign.c. */
extern _Atomic uint64_t crypto_ctr_signs;
extern _Atomic uint64_t crypto_ctr_verifies;
extern _Atomic uint64_t crypto_ctr_cache_hits;
extern _Atomic uint64_t crypto_ctr_verify_fail;

/* Fetch SHA-256 once; 0 or -1. Called by crypto_init, and lazily. */
int crypto_digest_init(void);

/* Introspection for tests: fixed capacity and current fill of a cache. */
size_t crypto_vcache_capacity(const struct crypto_vcache *c);
size_t crypto_vcache_count(const struct crypto_vcache *c);

#endif
