/* core: the interface of a pure protocol core (docs/architecture.md).
 * Events come in through `struct bft_core_ops`, effects go out through
 * `struct bft_io`, and deterministic services come from `struct bft_env`.
 * Cores never do I/O, read clocks or call rand(): the node (bftd) or the
 * simulator carries out their effects. tests/purity/ checks this on every
 * core library (docs/style.md #1). */
#ifndef BFT_CORE_H
#define BFT_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

/* ------------------------------------------------------------------ */
/* Environment and effects: the only way a core touches the world.     */
/* ------------------------------------------------------------------ */

/* Deterministic services (the simulator supplies a null-crypto version). */
struct bft_env {
    void *ctx;
    /* Sign an arbitrary region as this replica under `domain`. */
    void (*sign)(void *ctx, uint32_t domain, const uint8_t *region, size_t len,
                 uint8_t sig[BFT_SIG_LEN]);
    /* Verify a region signed by replica `signer` (cached: each signature is
     * verified once). Used for messages embedded in certificates. */
    bool (*verify)(void *ctx, uint32_t signer, uint32_t domain, const uint8_t *region, size_t len,
                   const uint8_t sig[BFT_SIG_LEN]);
    /* Verify a client's REQUEST envelope (validity: only client-signed
     * requests commit). */
    bool (*verify_request)(void *ctx, const struct bft_msg *req);
    uint64_t (*random)(void *ctx);
};

/* Check a batch a peer sent: `digest` binds its bytes, it parses, and
 * every envelope is a REQUEST (no payload) that its client signed
 * (env->verify_request). n_clients: client ids must be below it (0: not
 * known, not checked). BFT_REJECT_NONE if fine, else the reason
 * (core/batch_verify.c). Used by the node and the HotStuff core alike. */
int bft_batch_verify(const struct bft_env *env, uint32_t n_clients, const uint8_t *batch,
                     size_t len, const bft_digest *digest);

/* Effects. The node buffers sends made during one step and releases them
 * only after every persist of that step is durable ("persist before you
 * promise", docs/style.md #2, etcd's Ready.MustSync). */
struct bft_io {
    void *ctx;
    /* Send to one replica / to every other replica. The node encodes, sets
     * sender and cluster, and signs. Borrowed. */
    void (*send)(void *ctx, uint32_t to, const struct bft_msg *m);
    void (*broadcast)(void *ctx, const struct bft_msg *m);
    /* Send to one replica without waiting for this step's persists (may
     * be NULL: then use send). Only for a message that promises nothing
     * about what this step persists: the Raft leader's AppendEntries,
     * which may leave while the leader writes the same entries to its own
     * disk (Raft §10.2.1; the leader counts its own copy only in a later
     * step, after the sync). Never for a vote, an ack or a reply. */
    void (*send_ahead)(void *ctx, uint32_t to, const struct bft_msg *m);
    /* Append one record to the WAL; durable before this step's sends. */
    void (*persist)(void *ctx, const uint8_t *rec, size_t len);
    /* Execute a committed batch at seq, in order, exactly once. The node
     * applies it to the application, sends the replies, and writes the
     * state digest after the batch into *state (may be NULL). */
    void (*execute)(void *ctx, uint64_t seq, uint64_t view, const uint8_t *batch, size_t len,
                    const bft_digest *batch_digest, bft_digest *state);
    /* Timers are identified by a small core-chosen id; setting an armed
     * timer re-arms it. */
    void (*set_timer)(void *ctx, uint32_t timer, uint64_t after_ms);
    void (*cancel_timer)(void *ctx, uint32_t timer);
    /* Application snapshot for state transfer (checkpoint at seq). The
     * node owns the returned buffer and frees it once the step is over:
     * copy what you keep before returning. */
    int (*snapshot)(void *ctx, const uint8_t **buf, size_t *len);
    /* Optional: the same snapshot in a malloc'd buffer that becomes the
     * core's (it frees it). A core that keeps the snapshot takes it this
     * way when offered, so the state is not copied once more while the
     * node's copy waits to be freed (issue 14: at a checkpoint that copy
     * set the replica's peak memory). */
    int (*snapshot_take)(void *ctx, uint8_t **buf, size_t *len);
    /* Replace the replicated state with a snapshot, but only if its state
     * digest equals *expect (NULL: no check, for a crash-fault leader):
     * on any failure the current state is left as it was. *state gets the
     * digest of the installed state. */
    int (*restore)(void *ctx, uint64_t seq, const uint8_t *buf, size_t len,
                   const bft_digest *expect, bft_digest *state);
    /* Durable snapshots (docs/storage.md). The state at seq, digest
     * *state, is committed (PBFT: a stable checkpoint; HotStuff: a
     * committed checkpoint height; Raft: a compaction or an installed
     * snapshot): the host may save it to disk. snap: its bytes as taken
     * by io->snapshot, or NULL if the application is at seq right now.
     * state NULL: the node computes it (Raft). */
    void (*checkpoint)(void *ctx, uint64_t seq, const bft_digest *state, const uint8_t *snap,
                       size_t len);
    /* Recovery: install the durable snapshot at seq that the host loaded
     * before replay. BFT_E_OK with *state its digest, or BFT_E_NOTFOUND
     * if there is none at seq (or it does not restore): the core then
     * catches up by state transfer. */
    int (*load_snapshot)(void *ctx, uint64_t seq, bft_digest *state);
    /* The highest seq below `seq` at which the host loaded a durable
     * snapshot, 0 if none (NULL: never). Recovery walks the few files the
     * host holds this way instead of probing every checkpoint seq below
     * a stable checkpoint (PBFT's load_stable). */
    uint64_t (*snapshot_below)(void *ctx, uint64_t seq);
    /* A reject counted by the core (stale view, out of window, ...). */
    void (*reject)(void *ctx, int reason);
    /* Answer a read-only REQUEST (raw encoded bytes, as given to on_read)
     * from the local state now: the core has established it is safe (Raft
     * lease or ReadIndex). */
    void (*read_ready)(void *ctx, const uint8_t *req, size_t len);
};

struct bft_core_config {
    int protocol;
    uint32_t n, f, self;
    uint64_t cluster_id;
    uint32_t batch_max;           /* envelopes per batch */
    uint32_t pipeline_max;        /* batches in flight before the primary waits */
    uint32_t window;              /* PBFT L: seqs above the low watermark */
    uint32_t checkpoint_interval; /* PBFT K */
    uint32_t request_timeout_ms;  /* view-change / pacemaker base timeout */
    uint32_t leader_views;        /* HotStuff: consecutive views per leader */
    uint32_t n_clients;           /* clients (ids 0..n_clients-1), for per-client
                                   * quotas; set by the node; 0: unknown */
    uint32_t leader_reputation;   /* HotStuff: skip leaders whose turn ended in a TC */
};
void bft_core_config_defaults(struct bft_core_config *c, int protocol, uint32_t n, uint32_t self);

struct bft_core_status {
    uint64_t view;          /* view or term */
    uint32_t leader;        /* current primary/leader as this replica believes */
    uint64_t last_executed; /* highest seq executed */
    /* Reads answered from local state (the read-only optimisation) must
     * reflect every seq up to here; the node answers none while
     * last_executed is below it (node_answer_read). */
    uint64_t read_floor;
    uint64_t stable_checkpoint;
    uint64_t view_changes; /* completed view changes / elections won by others */
    uint32_t pending_requests;
    bool in_view_change;
    bool is_leader;
};

struct bft_core;
/* One vtable per protocol; the node and the simulator only see this. */
struct bft_core_ops {
    const char *name;
    int (*create)(struct bft_core **out, const struct bft_core_config *cfg,
                  const struct bft_env *env, const struct bft_io *io);
    void (*destroy)(struct bft_core *c);
    /* WAL records, replayed in order on restart before any other event. */
    void (*recover)(struct bft_core *c, const uint8_t *rec, size_t len);
    /* WAL compaction (docs/storage.md): emit, in the core's own record
     * formats, everything recovery needs now, given the durable snapshot
     * at `base` (0: none): replaying these records alone (after loading
     * that snapshot through io->load_snapshot) rebuilds what this replica
     * promised. BFT_E_OK, or BFT_E_AGAIN if it cannot now (base too old
     * for what the core still holds): nothing was emitted. emit NULL:
     * only say whether it could. */
    int (*compact)(struct bft_core *c, uint64_t base,
                   void (*emit)(void *ctx, const uint8_t *rec, size_t len), void *ctx);
    /* Events. Messages are decoded, signature verified, sender bound to key. */
    void (*on_message)(struct bft_core *c, const struct bft_msg *m);
    /* A verified client REQUEST not yet executed (node filtered those). */
    void (*on_request)(struct bft_core *c, const struct bft_msg *req);
    void (*on_timer)(struct bft_core *c, uint32_t timer);
    void (*status)(const struct bft_core *c, struct bft_core_status *out);
    /* A verified read-only REQUEST. NULL for BFT cores: the node answers at
     * once and the client needs 2f+1 matching replies (PBFT §5.1.3). A Raft
     * core answers through io->read_ready when its lease or a ReadIndex
     * round allows, copying what it keeps (bounded). */
    void (*on_read)(struct bft_core *c, const struct bft_msg *req);
    /* May be NULL. True if on_message would drop m without any effect,
     * whatever its signature: the node then skips the signature check (an
     * Ed25519 verification is ~40 us). For the votes that arrive after
     * their quorum formed: "verify only until the quorum". */
    bool (*needless)(const struct bft_core *c, const struct bft_msg *m);
};

#endif
