/* Shared pieces of the fuzz harnesses (tests/fuzz/README.md).
 *
 * Every harness defines LLVMFuzzerTestOneInput. Built with clang and
 * -fsanitize=fuzzer it is a libFuzzer target; built without (gcc, the
 * normal build) replay_main.c supplies a main() that runs each file named
 * on the command line (or each file in a directory) through it once, so
 * `make test` replays the committed corpora without clang.
 *
 * The node harnesses and the seed generator share one cluster: the same
 * cluster id, replica keys and null crypto, so a message captured by the
 * generator is also correctly signed for the harness.
 */
#ifndef BFT_FUZZ_COMMON_H
#define BFT_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/node.h"
#include "app/app.h"
#include "core/core.h"
#include "wire/wire.h"
#include "crypto/crypto.h"

#define FZ_CLUSTER_ID 0xf22u
#define FZ_CLIENTS 4u

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A bounded reader over the fuzz input: past the end everything is 0. */
struct fz {
    const uint8_t *p;
    size_t len, off;
};
static inline bool fz_more(const struct fz *f)
{
    return f->off < f->len;
}
static inline uint8_t fz_u8(struct fz *f)
{
    return f->off < f->len ? f->p[f->off++] : 0;
}
static inline uint16_t fz_u16(struct fz *f)
{
    uint16_t lo = fz_u8(f);
    return (uint16_t)(lo | (uint16_t)fz_u8(f) << 8);
}
static inline uint32_t fz_u32(struct fz *f)
{
    uint32_t lo = fz_u16(f);
    return lo | (uint32_t)fz_u16(f) << 16;
}
/* Up to `want` bytes (fewer at the end of the input). */
static inline const uint8_t *fz_bytes(struct fz *f, size_t want, size_t *got)
{
    size_t left = f->len - f->off;
    *got = want < left ? want : left;
    const uint8_t *p = f->p + f->off;
    f->off += *got;
    return p;
}

/* Replica and client keys of the shared cluster: distinct per identity.
 * Derived from a fixed seed, so the same in every process (the seeds that
 * gen_seeds.c writes are signed for the harnesses). */
static inline void fz_key_derive(struct crypto_keypair *kp, uint32_t kind, uint32_t id)
{
    uint8_t seed[CRYPTO_SEED_LEN] = {0};
    memcpy(seed, "bft-fuzz-key", 12);
    seed[16] = (uint8_t)kind;
    seed[20] = (uint8_t)id;
    crypto_keypair_from_seed(kp, seed);
}

/* The keys of every replica (kind 1) and of the FZ_CLIENTS clients (kind
 * 2), derived once per process: an Ed25519 key derivation costs more than
 * most fuzz inputs, and the harnesses need n+1 of them per input. */
#define FZ_KEY_IDS (BFT_MAX_REPLICAS > FZ_CLIENTS ? BFT_MAX_REPLICAS : FZ_CLIENTS)
static inline void fz_key(struct crypto_keypair *kp, uint32_t kind, uint32_t id)
{
    static struct crypto_keypair cache[2][FZ_KEY_IDS];
    static bool ready;
    if (kind < 1 || kind > 2 || id >= FZ_KEY_IDS) {
        fz_key_derive(kp, kind, id);
        return;
    }
    if (!ready) {
        if (crypto_init() != 0) abort();
        for (uint32_t k = 1; k <= 2; k++)
            for (uint32_t i = 0; i < FZ_KEY_IDS; i++)
                fz_key_derive(&cache[k - 1][i], k, i);
        ready = true;
    }
    *kp = cache[kind - 1][id];
}

static inline uint32_t fz_nodes(int proto)
{
    return proto == BFT_PROTO_RAFT ? 3u : 4u;
}

/* Node configuration of replica `self` in the shared cluster. */
static inline void fz_node_config(struct bft_node_config *cfg, int proto, uint32_t self)
{
    static uint8_t client_pk[FZ_CLIENTS][CRYPTO_PK_LEN];
    static bool ready;
    if (!ready) {
        for (uint32_t c = 0; c < FZ_CLIENTS; c++) {
            struct crypto_keypair kp;
            fz_key(&kp, 2, c);
            memcpy(client_pk[c], kp.pk, CRYPTO_PK_LEN);
        }
        ready = true;
    }
    memset(cfg, 0, sizeof *cfg);
    uint32_t n = fz_nodes(proto);
    bft_core_config_defaults(&cfg->core, proto, n, self);
    cfg->core.cluster_id = FZ_CLUSTER_ID;
    cfg->core.batch_max = 8;
    cfg->core.window = 32;
    cfg->core.checkpoint_interval = 4;
    cfg->app = &bft_app_orders;
    cfg->null_crypto = true;
    cfg->sign_replica_msgs = true;
    for (uint32_t i = 0; i < n; i++) {
        struct crypto_keypair kp;
        fz_key(&kp, 1, i);
        memcpy(cfg->replica_pk[i], kp.pk, CRYPTO_PK_LEN);
        if (i == self) cfg->self_key = kp;
    }
    cfg->n_clients = FZ_CLIENTS;
    cfg->client_pk = (const uint8_t(*)[CRYPTO_PK_LEN])client_pk;
}

/* One NEW order op for client order id `coid` (30 bytes). */
static inline size_t fz_order(uint8_t *op, uint64_t coid, uint8_t side, uint32_t qty)
{
    return bft_order_encode(op, coid, "ACME", side, qty, 100 + (int64_t)(coid % 7));
}

#endif
