/* crypto: Ed25519 keys and signatures (libsodium), SHA-256 digests (OpenSSL EVP),
 * PEM key files (OpenSSL), and a bounded verification cache.
 *
 * Signatures never cover raw bytes alone: what is signed is
 *   "BFTSIG01" || domain (u32 LE) || cluster_id (u64 LE) || SHA-256(msg)
 * so a message cannot be replayed into another cluster or as another type
 * (the domain is the message type). See docs/wire.md.
 */
#ifndef BFT_CRYPTO_H
#define BFT_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CRYPTO_PK_LEN 32
#define CRYPTO_SK_LEN 64 /* libsodium layout: seed || pk */
#define CRYPTO_SEED_LEN 32
#define CRYPTO_SIG_LEN 64
#define CRYPTO_DIGEST_LEN 32

struct crypto_keypair {
    uint8_t pk[CRYPTO_PK_LEN];
    uint8_t sk[CRYPTO_SK_LEN];
};

/* Call once per process before any other function; returns 0 or -1. */
int crypto_init(void);

/* Fill buf with random bytes from the OS CSPRNG (libsodium). 0 or -1. */
int crypto_random_bytes(void *buf, size_t len);

/* Fresh random key pair. */
int crypto_keypair_generate(struct crypto_keypair *kp);
/* Deterministic key pair from a 32-byte seed (simulator, tests). */
void crypto_keypair_from_seed(struct crypto_keypair *kp, const uint8_t seed[CRYPTO_SEED_LEN]);

/* PEM (PKCS#8) private key file, written with mode 0600 so `openssl pkey`
 * can inspect it. Return 0, or -1 with a message in err. */
int crypto_key_write_pem(const char *path, const struct crypto_keypair *kp, char *err,
                         size_t errlen);
int crypto_key_read_pem(const char *path, struct crypto_keypair *kp, char *err, size_t errlen);

/* Hex helpers for public keys in cluster.json. from_hex returns 0 or -1. */
void crypto_to_hex(const uint8_t *in, size_t len, char *out /* 2*len+1 */);
int crypto_from_hex(const char *hex, uint8_t *out, size_t len);

/* SHA-256 through OpenSSL EVP (uses the CPU's SHA extensions). */
void crypto_sha256(const void *data, size_t len, uint8_t out[CRYPTO_DIGEST_LEN]);
/* Two-part digest without a copy: SHA-256(a || b). */
void crypto_sha256_2(const void *a, size_t alen, const void *b, size_t blen,
                     uint8_t out[CRYPTO_DIGEST_LEN]);

/* Domain-separated detached signatures (see top of file). */
void crypto_sign_msg(const struct crypto_keypair *kp, uint32_t domain, uint64_t cluster_id,
                     const uint8_t *msg, size_t len, uint8_t sig[CRYPTO_SIG_LEN]);
bool crypto_verify_msg(const uint8_t pk[CRYPTO_PK_LEN], uint32_t domain, uint64_t cluster_id,
                       const uint8_t *msg, size_t len, const uint8_t sig[CRYPTO_SIG_LEN]);

/* Verification cache: each signature is verified once per replica. Only
 * successful verifications are remembered, keyed by a digest of
 * (pk, domain, cluster, msg digest, sig), so a hit cannot be produced by a
 * different message. Fixed size (set-associative, oldest evicted): a
 * flooding peer cannot grow it. */
struct crypto_vcache;
struct crypto_vcache *crypto_vcache_new(size_t entries);
void crypto_vcache_free(struct crypto_vcache *c);
bool crypto_vcache_verify(struct crypto_vcache *c, const uint8_t pk[CRYPTO_PK_LEN], uint32_t domain,
                          uint64_t cluster_id, const uint8_t *msg, size_t len,
                          const uint8_t sig[CRYPTO_SIG_LEN]);

/* Process-wide counters (atomic), for msgs_per_op-style figures. */
struct crypto_counters {
    uint64_t signs;
    uint64_t verifies;    /* real Ed25519 verifications */
    uint64_t cache_hits;  /* verifications skipped thanks to the cache */
    uint64_t verify_fail; /* verifications that failed */
};
void crypto_counters_get(struct crypto_counters *out);

#endif
