/* Verification cache: each signature is verified once per replica
 * (docs/design.md: "verify each signature once per replica (cache by digest),
 * never twice"). A PBFT COMMIT, for example, is checked when it arrives and
 * again when it is embedded in a view-change certificate; the second check
 * is a hit.
 *
 * Fixed size, 4-way set-associative, oldest entry of a set evicted (LRU: a
 * hit refreshes the entry), so a flooding peer cannot grow it. Only
 * successful verifications are stored, keyed by
 *   SHA-256(pk || "BFTSIG01" || domain || cluster || SHA-256(msg) || sig)
 * i.e. by everything that determines the outcome of the verification, so a
 * different message, key, domain, cluster or signature can never hit.
 *
 * One mutex per cache, held only for the table probe and never during the
 * Ed25519 verification itself, so verify workers may share a cache. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crypto.h"
#include "crypto/crypto_internal.h"

#define VC_WAYS 4
#define VC_MAX_ENTRIES (1u << 20) /* 40 MiB: well above any sane window */

struct vc_entry {
    uint8_t key[CRYPTO_DIGEST_LEN];
    uint64_t stamp; /* 0 = empty; otherwise larger = more recently used */
};

struct crypto_vcache {
    pthread_mutex_t mu;
    size_t set_mask; /* number of sets - 1 (a power of two) */
    uint64_t clock;
    size_t used;
    struct vc_entry *e; /* (set_mask + 1) * VC_WAYS entries */
};

/* `entries` is rounded up to a power-of-two number of 4-way sets, and
 * clamped to [VC_WAYS, VC_MAX_ENTRIES]. */
struct crypto_vcache *crypto_vcache_new(size_t entries)
{
    if (entries > VC_MAX_ENTRIES) entries = VC_MAX_ENTRIES;
    size_t sets = 1;
    while (sets * VC_WAYS < entries)
        sets <<= 1;
    struct crypto_vcache *c = calloc(1, sizeof *c);
    if (c == NULL) return NULL;
    c->e = calloc(sets * VC_WAYS, sizeof *c->e);
    if (c->e == NULL || pthread_mutex_init(&c->mu, NULL) != 0) {
        free(c->e);
        free(c);
        return NULL;
    }
    c->set_mask = sets - 1;
    return c;
}

void crypto_vcache_free(struct crypto_vcache *c)
{
    if (c == NULL) return;
    pthread_mutex_destroy(&c->mu);
    free(c->e);
    free(c);
}

size_t crypto_vcache_capacity(const struct crypto_vcache *c)
{
    return (c->set_mask + 1) * VC_WAYS;
}

size_t crypto_vcache_count(const struct crypto_vcache *c)
{
    /* Read under the lock: the cast is safe, the mutex is not part of the
     * logical state. */
    struct crypto_vcache *m = (struct crypto_vcache *)c;
    pthread_mutex_lock(&m->mu);
    size_t n = m->used;
    pthread_mutex_unlock(&m->mu);
    return n;
}

static struct vc_entry *set_of(struct crypto_vcache *c, const uint8_t key[CRYPTO_DIGEST_LEN])
{
    uint64_t h = 0;
    for (int i = 0; i < 8; i++)
        h |= (uint64_t)key[i] << (8 * i);
    return &c->e[(size_t)(h & c->set_mask) * VC_WAYS];
}

/* Caller holds c->mu. */
static bool probe(struct crypto_vcache *c, const uint8_t key[CRYPTO_DIGEST_LEN])
{
    struct vc_entry *set = set_of(c, key);
    for (int w = 0; w < VC_WAYS; w++) {
        if (set[w].stamp != 0 && memcmp(set[w].key, key, CRYPTO_DIGEST_LEN) == 0) {
            set[w].stamp = ++c->clock;
            return true;
        }
    }
    return false;
}

/* Caller holds c->mu. Fills an empty way, else replaces the least recently
 * used one. A concurrent insert of the same key is detected by probe(). */
static void insert(struct crypto_vcache *c, const uint8_t key[CRYPTO_DIGEST_LEN])
{
    if (probe(c, key)) return;
    struct vc_entry *set = set_of(c, key);
    struct vc_entry *victim = &set[0];
    for (int w = 0; w < VC_WAYS; w++) {
        if (set[w].stamp == 0) {
            victim = &set[w];
            c->used++;
            break;
        }
        if (set[w].stamp < victim->stamp) victim = &set[w];
    }
    memcpy(victim->key, key, CRYPTO_DIGEST_LEN);
    victim->stamp = ++c->clock;
}

bool crypto_vcache_verify(struct crypto_vcache *c, const uint8_t pk[CRYPTO_PK_LEN], uint32_t domain,
                          uint64_t cluster_id, const uint8_t *msg, size_t len,
                          const uint8_t sig[CRYPTO_SIG_LEN])
{
    /* The signed bytes already carry tag, domain, cluster and the message
     * digest: hash them once and reuse them for the key and the verify. */
    uint8_t kin[CRYPTO_PK_LEN + CRYPTO_SIGNED_LEN + CRYPTO_SIG_LEN];
    uint8_t *bytes = kin + CRYPTO_PK_LEN;
    memcpy(kin, pk, CRYPTO_PK_LEN);
    crypto_signed_bytes(domain, cluster_id, msg, len, bytes);
    memcpy(bytes + CRYPTO_SIGNED_LEN, sig, CRYPTO_SIG_LEN);
    /* No cache (e.g. creation failed): still a correct, uncached verify. */
    if (c == NULL) return crypto_verify_signed(pk, bytes, sig);
    uint8_t key[CRYPTO_DIGEST_LEN];
    crypto_sha256(kin, sizeof kin, key);

    pthread_mutex_lock(&c->mu);
    bool hit = probe(c, key);
    pthread_mutex_unlock(&c->mu);
    if (hit) {
        atomic_fetch_add_explicit(&crypto_ctr_cache_hits, 1, memory_order_relaxed);
        return true;
    }
    if (!crypto_verify_signed(pk, bytes, sig)) return false;
    pthread_mutex_lock(&c->mu);
    insert(c, key);
    pthread_mutex_unlock(&c->mu);
    return true;
}
