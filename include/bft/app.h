/* bft/app.h: the state machine a replica executes, supplied by the user of
 * the library (docs/embedding.md "The application"). The replica calls it
 * from one thread only (the replica's), so an application needs no locks
 * of its own. */
#ifndef BFT_PUBLIC_APP_H
#define BFT_PUBLIC_APP_H

#include <stddef.h>
#include <stdint.h>

#include "bft/common.h"

/* The layout of struct bft_app_ops this header describes. A replica refuses
 * an ops struct whose version differs from the library's, with a clear
 * error, instead of calling through a table of another shape (the
 * version-first pattern of canonical/raft's struct raft_io). */
#define BFT_APP_OPS_VERSION 1

struct bft_app_ops {
    uint32_t version; /* BFT_APP_OPS_VERSION; first, so every layout can be checked */
    const char *name; /* for messages and stats.json */
    /* A new, empty state. `user` is bft_replica_options.app_user (NULL
     * elsewhere): the embedder's configuration for its state machine.
     * Called once at start and again for every snapshot restored by state
     * transfer (a fresh state the snapshot is restored into). NULL: out of
     * memory. */
    void *(*create)(void *user);
    void (*destroy)(void *app);
    /* Apply one operation committed at `seq`; write the result (at most
     * BFT_RESULT_MAX bytes) and return its length. Must be deterministic and
     * must answer garbage ops with an error result, never crash. */
    size_t (*apply)(void *app, uint64_t seq, uint32_t client_id, uint64_t req_no, const uint8_t *op,
                    size_t op_len, uint8_t *result);
    /* Read-only query, not ordered (docs/reads.md): must not change the
     * state; the same rules as apply. */
    size_t (*query)(void *app, const uint8_t *op, size_t op_len, uint8_t *result);
    /* A digest of the whole state: replicas compare it at checkpoints, and
     * a replica that fetches a snapshot by state transfer checks it against
     * the digest 2f+1 replicas certified, so equal states must give equal
     * digests on every host, and the digest must be collision-resistant
     * (a Byzantine peer must not find another state with the same one):
     * use a cryptographic hash such as bft_sha256 below. */
    void (*digest)(void *app, bft_digest *out);
    /* Snapshot into a malloc'd buffer the caller frees; restore replaces the
     * state. Both return BFT_E_OK or an error. restore must reject a buffer
     * it did not write (a Byzantine peer's junk), never crash on it. */
    int (*snapshot)(void *app, uint8_t **buf, size_t *len);
    int (*restore)(void *app, const uint8_t *buf, size_t len);
};

/* SHA-256 of len bytes at data: what the built-in apps use for their
 * digests, for an app that has no hash of its own. */
BFT_API void bft_sha256(const void *data, size_t len, bft_digest *out);

#endif
