/* node: a replica. It wires a pure core (core/core.h) to an application
 * (app/app.h) with the exactly-once client table, signing and
 * verification, and holds every send until the step's persists are durable.
 * Driven by bftd (runtime/runtime.c) and by the simulator (sim/). */
#ifndef BFT_NODE_H
#define BFT_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "node/budget.h"
#include "core/core.h"
#include "wire/wire.h"

/* ------------------------------------------------------------------ */
/* Replica node: core + application + exactly-once client table +      */
/* signing and verification. Driven by bftd and by the simulator.      */
/* ------------------------------------------------------------------ */

/* What a host (bftd runtime or simulator) provides. */
struct bft_host {
    void *ctx;
    void (*send)(void *ctx, uint32_t replica, const uint8_t *msg, size_t len);
    void (*send_client)(void *ctx, uint32_t client, const uint8_t *msg, size_t len);
    /* Append a record to the WAL (buffered). */
    void (*persist)(void *ctx, const uint8_t *rec, size_t len);
    /* Make every appended record durable; 0 or -1. Called by
     * bft_node_flush before any buffered send leaves. May be NULL. */
    int (*sync)(void *ctx);
    /* Push what send handed over so far onto the wire now (may be NULL):
     * called by bft_node_flush after the sends that may go ahead of the
     * sync (bft_io.send_ahead), so they travel while the disk works. */
    void (*push)(void *ctx);
    void (*set_timer)(void *ctx, uint32_t timer, uint64_t after_ms);
    void (*cancel_timer)(void *ctx, uint32_t timer);
    /* Observation hooks (may be NULL): a batch committed and executed at
     * seq; and one client request applied to the application at seq (each
     * (client, req_no) is applied at most once: the exactly-once table
     * skips repeats). */
    void (*on_execute)(void *ctx, uint64_t seq, uint64_t view, const bft_digest *batch_digest,
                       const bft_digest *state_digest);
    void (*on_apply)(void *ctx, uint32_t client, uint64_t req_no, uint64_t seq, const uint8_t *op,
                     size_t op_len);
    /* Optional (docs/storage.md): write a durable snapshot of the state
     * at seq (bytes of the node's snapshot, digest *state). 0 if it is on
     * disk now, 1 if the host chose not to write it, -1 on a storage
     * failure. */
    int (*save_snapshot)(void *ctx, uint64_t seq, const bft_digest *state, const uint8_t *snap,
                         size_t len);
    /* Optional: whether save_snapshot would write one at seq now; false
     * spares the node serialising the state for nothing. */
    bool (*snapshot_wanted)(void *ctx, uint64_t seq);
    /* Also optional: the result the application gave (bftd writes the
     * orders audit log from it). */
    void (*on_result)(void *ctx, uint32_t client, uint64_t req_no, uint64_t seq, uint64_t view,
                      const uint8_t *op, size_t op_len, const uint8_t *result, size_t result_len);
    /* Optional: the host's clock in ms, read only to time local reads'
     * staleness (docs/reads.md); the simulator gives its virtual clock.
     * NULL: the node reads CLOCK_MONOTONIC. Cores never see it. */
    uint64_t (*now_ms)(void *ctx);
    /* Optional (docs/design.md "Latency budget"): where the node charges
     * its stages (verify, core, WAL, execute, sign, send) and, with it,
     * every NODE_PHASE_EVERY-th write request is followed through its
     * phases. NULL: nothing is timed (the simulator: no clock is read). The
     * host starts it and owns it. */
    struct bft_budget *budget;
};

struct bft_node_config {
    struct bft_core_config core;
    const struct bft_app_ops *app;
    void *app_user; /* passed to app->create (bft/app.h) */
    /* Public keys by id; self keypair. */
    uint8_t replica_pk[BFT_MAX_REPLICAS][CRYPTO_PK_LEN];
    uint32_t n_clients;
    const uint8_t (*client_pk)[CRYPTO_PK_LEN]; /* n_clients entries, borrowed for life */
    struct crypto_keypair self_key;
    /* Null crypto (simulator): signatures are a keyed hash that only this
     * process can produce; no Ed25519 cost. */
    bool null_crypto;
    /* Raft only: sign replica messages (--sign). BFT always signs. */
    bool sign_replica_msgs;
    /* Seed of env->random. 0: derived from cluster and replica id (the
     * simulator, reproducible). bftd passes fresh entropy, so a restarted
     * incarnation does not repeat its predecessor's choices. */
    uint64_t random_seed;
};

/* Per-phase wall latency of sampled write requests at the replica that
 * proposed them (docs/design.md "Latency budget"): for each phase, the
 * summed ns from the request's arrival and how many samples reached it. */
#define BFT_PHASE_MAP(X)                                                                           \
    X(PROPOSED, "proposed") /* PRE-PREPARE, proposal or AppendEntries queued */                    \
    X(PREPARED, "prepared") /* PBFT: own COMMIT queued (2f+1 matching PREPAREs) */                 \
    X(QC1, "qc1")           /* HotStuff: own proposal at height + 1 queued (QC on the block) */    \
    X(QC2, "qc2")           /* ... at height + 2 (QC on its child: the block is locked) */         \
    X(QC3, "qc3")           /* ... at height + 3 (QC on its grandchild: 3-chain, committed) */     \
    X(EXECUTED, "executed") /* committed and applied, reply queued */                              \
    X(REPLY_SENT, "reply_sent") /* reply handed to the transport, after the WAL sync */
#define BFT_PHASE_ENUM(name, str) BFT_PHASE_##name,
enum bft_phase { BFT_PHASE_MAP(BFT_PHASE_ENUM) BFT_PHASE__COUNT };
const char *bft_phase_name(int phase);
struct bft_phase_stats {
    uint64_t sum_ns[BFT_PHASE__COUNT];
    uint64_t count[BFT_PHASE__COUNT];
    uint64_t sampled;    /* samples taken at arrival */
    uint64_t unproposed; /* replied but proposed elsewhere (a backup) */
    uint64_t evicted;    /* never finished before their slot was needed */
};

struct bft_node_stats {
    uint64_t rejected[BFT_REJECT__COUNT];
    uint64_t msgs_sent;
    uint64_t bytes_sent;
    uint64_t msgs_received;
    uint64_t requests_executed; /* operations */
    uint64_t batches_executed;
    uint64_t reads_deferred;  /* read-only requests not answered: not caught up */
    uint64_t snapshot_loaded; /* seq of the durable snapshot restored at restart (0: none) */
    uint64_t snapshot_base;   /* newest durable snapshot (bft_node_snapshot_base) */
    uint64_t reads_local;     /* local reads answered from this replica's state */
    uint64_t reads_stale;     /* local reads refused: no commit within the bound */
    uint64_t
        replies_evicted; /* cached replies dropped for the byte bound (NODE_REPLY_CACHE_BYTES) */
    /* Retries of an executed request answered "no result held" (the reply
     * was evicted, or this replica restarted from a snapshot since). */
    uint64_t replies_no_result;
    /* Status over the network (docs/design.md "bftctl status"): messages
     * accepted from each replica (well-formed, of this cluster, signature
     * checked where the protocol signs), and write requests handed to the
     * core. Counters, not times: the host, which has the clock, turns a
     * change into "heard from at" (runtime/runtime_status.c). */
    uint64_t heard_from[BFT_MAX_REPLICAS];
    /* Messages the core had no use for, dropped before their signature
     * check (bft_core_ops.needless: votes after their quorum). */
    uint64_t needless;
    uint64_t requests_ordered;
    uint64_t last_executed;
    uint64_t view;
    uint64_t view_changes;
    uint64_t stable_checkpoint;
    uint32_t leader;
    bool in_view_change;
    bool is_leader;
    bft_digest state_digest;
    struct bft_phase_stats phase; /* zero unless the host gave a budget */
};

struct bft_node;
int bft_node_create(struct bft_node **out, const struct bft_node_config *cfg,
                    const struct bft_host *host, char *err, size_t errlen);
void bft_node_destroy(struct bft_node *n);
/* Replay WAL records (before any other event). */
void bft_node_recover(struct bft_node *n, const uint8_t *rec, size_t len);
/* Before replay: a durable snapshot the host loaded (copied; at most
 * BFT_SNAPFILE_KEEP are kept, the newest). The core asks for it through
 * io->load_snapshot while it recovers; the copies are dropped once the
 * first event after recovery was handled. */
int bft_node_add_snapshot(struct bft_node *n, uint64_t seq, const bft_digest *state,
                          const uint8_t *snap, size_t len);
/* The newest durable snapshot's seq (saved by host->save_snapshot or
 * added before replay), 0 if none. */
uint64_t bft_node_snapshot_base(const struct bft_node *n);
/* The durable snapshot the replayed WAL builds on (the one the core
 * restored through io->load_snapshot during recovery; 0: none, the WAL
 * starts at the beginning or its base was lost). Until the next rotation the host must not
 * delete that file (bft_snapfile_write's pin). */
uint64_t bft_node_wal_base(const struct bft_node *n);
/* WAL compaction through the core's compact op with base =
 * bft_node_snapshot_base. emit NULL: only whether it could. */
int bft_node_compact(struct bft_node *n, void (*emit)(void *ctx, const uint8_t *rec, size_t len),
                     void *ctx);
/* One encoded message from the network (replica or client). Anything bad is
 * counted and dropped. */
void bft_node_receive(struct bft_node *n, const uint8_t *msg, size_t len);
void bft_node_timer(struct bft_node *n, uint32_t timer);
/* Release the sends buffered since the last flush, after making this
 * step's persists durable (group commit). Hosts call it after processing a
 * burst of input; the node also flushes by itself when its bounded outbox
 * fills. If sync fails the buffered sends are dropped: a replica never
 * promises what is not on disk. */
void bft_node_flush(struct bft_node *n);
/* Re-sign an encoded replica message in place as this replica (the key it
 * really holds): fault injection rewrites messages of Byzantine replicas.
 * Returns BFT_E_OK or BFT_E_INVALID if `msg` is not a complete message. */
int bft_node_sign_encoded(struct bft_node *n, uint8_t *msg, size_t len);
/* Full replicated-state digest: SHA-256(app digest || client table digest). */
void bft_node_state_digest(struct bft_node *n, bft_digest *out);
/* The application state the node executes on (read it only between
 * steps: e.g. bft_orders_entry). */
const void *bft_node_app(const struct bft_node *n);
void bft_node_stats(const struct bft_node *n, struct bft_node_stats *out);
void bft_node_reject(struct bft_node *n, int reason); /* count a host-level reject */

/* Protocol cores by number (node/registry.c); NULL if not built. */
const struct bft_core_ops *bft_core_ops_for(int protocol);

#endif
