/* bft: messages and their codec, the pure-core interface (events in,
 * effects out), the protocol cores, the applications, the replica node that
 * wires a core to an application, and the client library.
 *
 * Ownership: every pointer passed into a function is borrowed for the
 * duration of the call unless the comment says otherwise; whoever keeps data
 * copies it. Cores never do I/O, read clocks or call rand(): the node (bftd)
 * or the simulator carries out their effects. See docs/architecture.md.
 */
#ifndef BFT_BFT_H
#define BFT_BFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "crypto/crypto.h"

/* ------------------------------------------------------------------ */
/* Limits. Every queue, window and buffer has one.                     */
/* ------------------------------------------------------------------ */
#define BFT_MAX_REPLICAS 16
#define BFT_MAX_CLIENTS 1024
#define BFT_OP_MAX 1024              /* bytes in one client operation */
#define BFT_RESULT_MAX 256           /* bytes in one operation's result */
#define BFT_ENVELOPE_MAX_OPS 256     /* requests under one client signature */
#define BFT_BODY_MAX (256u << 10)    /* signed body of one message */
#define BFT_PAYLOAD_MAX (512u << 10) /* unsigned, digest-bound attachment */
#define BFT_BATCH_MAX_ENVELOPES 1024

/* ------------------------------------------------------------------ */
/* Errors: a positive enum with one string table (STYLE.md #5).        */
/* ------------------------------------------------------------------ */
#define BFT_ERR_MAP(X)                                                                             \
    X(OK, "ok")                                                                                    \
    X(NOMEM, "out of memory")                                                                      \
    X(INVALID, "invalid argument")                                                                 \
    X(MALFORMED, "malformed input")                                                                \
    X(FULL, "bounded queue or table full")                                                         \
    X(IO, "I/O error")                                                                             \
    X(NOTFOUND, "not found")                                                                       \
    X(AGAIN, "not possible now; try later")
#define BFT_ERR_ENUM(name, str) BFT_E_##name,
enum bft_err { BFT_ERR_MAP(BFT_ERR_ENUM) BFT_E__COUNT };
const char *bft_strerror(int err);

/* Reasons a replica refuses input. Every refusal is counted by reason and
 * reported in the JSON `rejected` object under exactly these names. */
#define BFT_REJECT_MAP(X)                                                                          \
    X(MALFORMED, "malformed")                                                                      \
    X(BAD_SIGNATURE, "bad_signature")                                                              \
    X(UNKNOWN_SENDER, "unknown_sender")                                                            \
    X(STALE_VIEW, "stale_view")                                                                    \
    X(OUT_OF_WINDOW, "out_of_window")                                                              \
    X(DUPLICATE, "duplicate")                                                                      \
    X(EQUIVOCATION, "equivocation")                                                                \
    X(WRONG_CLUSTER, "wrong_cluster")                                                              \
    X(OVERLOAD, "overload")
#define BFT_REJECT_ENUM(name, str) BFT_REJECT_##name,
enum bft_reject { BFT_REJECT_MAP(BFT_REJECT_ENUM) BFT_REJECT__COUNT };
const char *bft_reject_name(int reason);

/* ------------------------------------------------------------------ */
/* Messages (docs/wire.md).                                            */
/* ------------------------------------------------------------------ */
typedef struct {
    uint8_t b[32];
} bft_digest;

enum bft_protocol { BFT_PROTO_PBFT = 1, BFT_PROTO_HOTSTUFF = 2, BFT_PROTO_RAFT = 3 };
const char *bft_protocol_name(int proto);
int bft_protocol_parse(const char *s); /* -1 if unknown */

#define BFT_MSG_TYPE_MAP(X)                                                                        \
    X(REQUEST, 1, "request") /* client envelope, signed by the client */                           \
    X(REPLY, 2, "reply")     /* replica -> client */                                               \
    X(PRE_PREPARE, 10, "pre_prepare")                                                              \
    X(PREPARE, 11, "prepare")                                                                      \
    X(COMMIT, 12, "commit")                                                                        \
    X(CHECKPOINT, 13, "checkpoint")                                                                \
    X(VIEW_CHANGE, 14, "view_change")                                                              \
    X(NEW_VIEW, 15, "new_view")                                                                    \
    X(STATE_REQ, 16, "state_req")                                                                  \
    X(STATE_RESP, 17, "state_resp")                                                                \
    X(HS_PROPOSAL, 30, "hs_proposal")                                                              \
    X(HS_VOTE, 31, "hs_vote")                                                                      \
    X(HS_TIMEOUT, 32, "hs_timeout")                                                                \
    X(HS_BLOCK_REQ, 33, "hs_block_req")                                                            \
    X(HS_BLOCK_RESP, 34, "hs_block_resp")                                                          \
    X(RAFT_APPEND, 50, "raft_append")                                                              \
    X(RAFT_APPEND_RESP, 51, "raft_append_resp")                                                    \
    X(RAFT_VOTE, 52, "raft_vote")                                                                  \
    X(RAFT_VOTE_RESP, 53, "raft_vote_resp")
#define BFT_MSG_TYPE_ENUM(name, val, str) BFT_MSG_##name = val,
enum bft_msg_type { BFT_MSG_TYPE_MAP(BFT_MSG_TYPE_ENUM) };
const char *bft_msg_type_name(int type); /* NULL if unknown */
bool bft_msg_type_valid(int type);
/* Messages a client may send / a replica may send. */
bool bft_msg_from_client(int type);

/* Fixed header, explicit little-endian, 72 bytes:
 *   0  u32 payload_len   (NOT signed: the payload is bound by `digest`)
 *   4  u8  version (1)   5 u8 type   6 u16 flags
 *   8  u32 sender        12 u32 body_len
 *   16 u64 cluster_id    24 u64 view (or term)   32 u64 seq (or index)
 *   40 u8[32] digest
 *   72 body[body_len]  then sig[64]  then payload[payload_len]
 * The signature covers bytes [4, 72 + body_len) under domain = type. */
#define BFT_WIRE_VERSION 1
#define BFT_HDR_LEN 72
#define BFT_SIGNED_OFF 4
#define BFT_SIG_LEN 64
#define BFT_MSG_MIN_LEN (BFT_HDR_LEN + BFT_SIG_LEN)

/* A decoded message. Variable parts point into the buffer it was decoded
 * from (borrowed). For an outgoing message the core fills the header fields,
 * body and payload; the node sets sender/cluster and signs. */
struct bft_msg {
    uint8_t type;
    uint16_t flags;
    uint32_t sender;
    uint64_t cluster_id;
    uint64_t view;
    uint64_t seq;
    bft_digest digest;
    const uint8_t *body;
    uint32_t body_len;
    const uint8_t *payload;
    uint32_t payload_len;
    uint8_t sig[BFT_SIG_LEN];
    /* Set by the decoder: the whole encoded message and its signed region. */
    const uint8_t *raw;
    uint32_t raw_len;
};

/* Decode and structurally validate one message (version, type, flags,
 * lengths, and the type-specific body layout). Returns BFT_E_OK or
 * BFT_E_MALFORMED. Does not check the signature. */
int bft_msg_decode(const uint8_t *buf, size_t len, struct bft_msg *m);
/* Exact encoded size of m. */
size_t bft_msg_encoded_len(const struct bft_msg *m);
/* Encode m (with m->sig as given) into buf; returns the length or 0 if cap
 * is too small. bft_msg_signed_region gives the bytes to sign inside an
 * encoded buffer. */
size_t bft_msg_encode(const struct bft_msg *m, uint8_t *buf, size_t cap);
void bft_msg_signed_region(const uint8_t *encoded, const uint8_t **region, size_t *len);
/* Copy the signature into an encoded buffer after signing it. */
void bft_msg_set_sig(uint8_t *encoded, const uint8_t sig[BFT_SIG_LEN]);

/* REQUEST body: u16 count | u8 flags | u8 reserved | count x (u16 op_len | op)
 * Request numbers are msg.seq .. msg.seq + count - 1; sender = client id. */
#define BFT_REQ_READONLY 0x01
/* Read consistency levels (docs/reads.md), only with BFT_REQ_READONLY and
 * count 1; neither bit: linearizable. A local read carries its staleness
 * bound in ms (>= 1) in the header's `view` field (signed, like the rest). */
#define BFT_REQ_READ_QUORUM 0x02
#define BFT_REQ_READ_LOCAL 0x04
#define BFT_REQ_FLAGS_ALL (BFT_REQ_READONLY | BFT_REQ_READ_QUORUM | BFT_REQ_READ_LOCAL)
struct bft_req_iter {
    const uint8_t *p;
    size_t len, off;
    uint16_t left;
    uint64_t next_req_no;
};
void bft_req_iter_init(struct bft_req_iter *it, const struct bft_msg *req);
bool bft_req_iter_next(struct bft_req_iter *it, uint64_t *req_no, const uint8_t **op,
                       size_t *op_len);
uint16_t bft_req_count(const struct bft_msg *req);
uint8_t bft_req_flags(const struct bft_msg *req);

/* REPLY body: u32 client_id | u64 first_req_no | u16 count |
 *             count x (u16 result_len | result)
 * view = replier's view (clients learn the primary), seq = consensus seq.
 * Header flag BFT_REPLY_STALE: a local read refused because the replica has
 * not executed a commit within the read's staleness bound (one empty
 * result; docs/reads.md). */
#define BFT_REPLY_STALE 0x0001

/* A batch (PRE-PREPARE / proposal payload): u16 count | count x (u32 len |
 * one encoded REQUEST message with payload_len 0). Its digest is SHA-256 of
 * the whole payload. */
struct bft_batch_iter {
    const uint8_t *p;
    size_t len, off;
    uint16_t left;
};
int bft_batch_iter_init(struct bft_batch_iter *it, const uint8_t *batch, size_t len);
bool bft_batch_iter_next(struct bft_batch_iter *it, const uint8_t **req, size_t *len);
void bft_batch_digest(const uint8_t *batch, size_t len, bft_digest *out);

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

/* Effects. The node buffers sends made during one step and releases them
 * only after every persist of that step is durable ("persist before you
 * promise", STYLE.md #2, etcd's Ready.MustSync). */
struct bft_io {
    void *ctx;
    /* Send to one replica / to every other replica. The node encodes, sets
     * sender and cluster, and signs. Borrowed. */
    void (*send)(void *ctx, uint32_t to, const struct bft_msg *m);
    void (*broadcast)(void *ctx, const struct bft_msg *m);
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
     * node owns the returned buffer until the next call. */
    int (*snapshot)(void *ctx, const uint8_t **buf, size_t *len);
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
};
const struct bft_core_ops *bft_core_ops_for(int protocol); /* NULL if not built */
extern const struct bft_core_ops bft_pbft_ops;
extern const struct bft_core_ops bft_hotstuff_ops;
extern const struct bft_core_ops bft_raft_ops;

/* ------------------------------------------------------------------ */
/* Applications: deterministic state machines.                         */
/* ------------------------------------------------------------------ */
struct bft_app_ops {
    const char *name;
    void *(*create)(void);
    void (*destroy)(void *app);
    /* Apply one operation committed at `seq`; write the result (at most
     * BFT_RESULT_MAX bytes) and return its length. Must be deterministic and
     * must answer garbage ops with an error result, never crash. */
    size_t (*apply)(void *app, uint64_t seq, uint32_t client_id, uint64_t req_no, const uint8_t *op,
                    size_t op_len, uint8_t *result);
    /* Read-only query, not ordered. */
    size_t (*query)(void *app, const uint8_t *op, size_t op_len, uint8_t *result);
    void (*digest)(void *app, bft_digest *out);
    /* Snapshot into a malloc'd buffer the caller frees; restore replaces the
     * state. Both return BFT_E_OK or an error. */
    int (*snapshot)(void *app, uint8_t **buf, size_t *len);
    int (*restore)(void *app, const uint8_t *buf, size_t len);
};
extern const struct bft_app_ops bft_app_orders;
extern const struct bft_app_ops bft_app_kv;
const struct bft_app_ops *bft_app_for(const char *name); /* NULL if unknown */

/* orders: operation and result encodings (docs/orders.md).
 * op  NEW: u8 kind=1 | u64 client_order_id | char symbol[8] | u8 side (1 buy,
 *          2 sell) | u32 qty | i64 price
 * res:     u8 status | u64 order_seq
 * order_seq is unique and gap-free over all accepted orders; a retried
 * (client, client_order_id) returns its original order_seq with status DUP. */
enum bft_order_status {
    BFT_ORDER_OK = 0,
    BFT_ORDER_DUP = 1,
    BFT_ORDER_INVALID = 2,
    BFT_ORDER_FULL = 3,
};
#define BFT_ORDER_OP_LEN 30
#define BFT_ORDER_RES_LEN 9
#define BFT_ORDERS_MAX (1u << 22) /* orders remembered for dedup */
size_t bft_order_encode(uint8_t *op, uint64_t client_order_id, const char *symbol, uint8_t side,
                        uint32_t qty, int64_t price);
int bft_order_result_decode(const uint8_t *res, size_t len, uint8_t *status, uint64_t *order_seq);

/* Decode a NEW order op; 0 or -1. symbol gets up to 8 chars + NUL. */
int bft_order_decode(const uint8_t *op, size_t len, uint64_t *client_order_id, char symbol[9],
                     uint8_t *side, uint32_t *qty, int64_t *price);

/* The orders audit log: one line per accepted order, hash-chained
 * (bft/audit.c has the format): each line carries the previous line's hash
 * and its own, SHA-256(prev || the order's record), so a changed, dropped
 * or reordered order breaks the chain. The chain is the orders
 * application's own (its head is in the state digest), so every honest
 * replica's log has the same lines and hashes. `bftctl audit` verifies. */
struct bft_audit_entry {
    uint64_t order_seq; /* the order's unique, gap-free number */
    uint64_t seq;       /* consensus sequence number that committed it */
    uint32_t client;
    uint64_t client_order_id;
    char symbol[9];
    uint8_t side;
    uint32_t qty;
    int64_t price;
    uint8_t prev[32];
    uint8_t hash[32];
};
#define BFT_AUDIT_LINE_MAX 320
#define BFT_AUDIT_RECORD_LEN 49
/* out = SHA-256(prev || the entry's record): one link of the chain. */
void bft_audit_link(const uint8_t prev[32], const struct bft_audit_entry *e, uint8_t out[32]);
/* Compute e->hash from e->prev and the fields, and format the line
 * (newline-terminated). Returns the length. */
size_t bft_audit_format(struct bft_audit_entry *e, char *line, size_t cap);
/* Parse one line and check its own hash; 0, or -1 if malformed, not in
 * the exact form format writes, or the hash does not match its fields. */
int bft_audit_parse(const char *line, struct bft_audit_entry *e);
/* The orders application's accepted orders (app: its state, e.g. from
 * bft_node_app): how many, and order number k (1-based) as an audit
 * entry without prev/hash; 0, or -1 if there is no such order. */
uint64_t bft_orders_count(const void *app);
int bft_orders_entry(const void *app, uint64_t order_seq, struct bft_audit_entry *e);

/* kv: op u8 kind (1 put, 2 get, 3 delete) | u16 klen | key | u16 vlen | value
 *     res u8 status (0 ok, 1 not found, 2 invalid, 3 full) | value */
#define BFT_KV_MAX_KEYS (1u << 20)

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
};

struct bft_node_config {
    struct bft_core_config core;
    const struct bft_app_ops *app;
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
    uint64_t last_executed;
    uint64_t view;
    uint64_t view_changes;
    uint64_t stable_checkpoint;
    uint32_t leader;
    bool in_view_change;
    bool is_leader;
    bft_digest state_digest;
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

/* ------------------------------------------------------------------ */
/* Client library (pure: the caller supplies time and transport).      */
/* ------------------------------------------------------------------ */
struct bft_client_host {
    void *ctx;
    void (*send)(void *ctx, uint32_t replica, const uint8_t *msg, size_t len);
    /* A request completed with an accepted result (f+1 matching signed
     * replies for BFT, the leader's reply for Raft). */
    void (*done)(void *ctx, uint64_t req_no, const uint8_t *result, size_t len);
};

struct bft_client_config {
    int protocol;
    uint32_t n, f, id;
    uint64_t cluster_id;
    uint8_t replica_pk[BFT_MAX_REPLICAS][CRYPTO_PK_LEN];
    struct crypto_keypair key;
    uint32_t retransmit_ms;   /* first retransmission; doubles, capped */
    uint32_t envelope;        /* requests per signature (1..BFT_ENVELOPE_MAX_OPS) */
    uint32_t max_outstanding; /* bounded: submit fails with BFT_E_FULL beyond */
    bool null_crypto;
};

struct bft_client_stats {
    uint64_t submitted, completed, retransmits, replies, bad_replies, read_fallbacks;
    uint64_t read_refusals; /* local reads a replica refused as stale */
};

/* Read consistency levels (docs/reads.md). */
enum bft_read_level {
    BFT_READ_LINEARIZABLE = 0, /* the default */
    BFT_READ_QUORUM = 1,
    BFT_READ_LOCAL = 2, /* with a staleness bound in ms */
};
#define BFT_READ_LEVELS 3
#define BFT_READ_STALENESS_DEFAULT_MS 100u
const char *bft_read_level_name(int level); /* NULL if unknown */
/* Parse "linearizable", "quorum", "local" or "local:MS" (MS >= 1; "local"
 * alone: BFT_READ_STALENESS_DEFAULT_MS). 0, or -1 if malformed. */
int bft_read_level_parse(const char *s, int *level, uint32_t *staleness_ms);

struct bft_client;
int bft_client_create(struct bft_client **out, const struct bft_client_config *cfg,
                      const struct bft_client_host *host);
void bft_client_destroy(struct bft_client *c);
/* Queue one operation; returns its request number (>0), or 0 with BFT_E_FULL
 * when max_outstanding requests are pending. Requests are sent when an
 * envelope fills or on bft_client_flush. */
uint64_t bft_client_submit(struct bft_client *c, const uint8_t *op, size_t len, uint64_t now_ms);
void bft_client_flush(struct bft_client *c, uint64_t now_ms);
/* How many bft_client_submit calls would succeed now (free request slots:
 * slots are freed only when the oldest envelope completes, so completions
 * out of order free nothing until it does). Read-only. */
uint32_t bft_client_room(const struct bft_client *c);
/* A read-only request (not ordered): sent to every replica, accepted on
 * 2f+1 matching replies for BFT (the leader's for Raft); if that cannot
 * happen, re-issued as an ordered request. Completes through host->done
 * with the returned id (never equal to an ordered request number); 0 if
 * the op is invalid or 16 reads are already outstanding. */
uint64_t bft_client_read(struct bft_client *c, const uint8_t *op, size_t len, uint64_t now_ms);
/* The same at a chosen level (docs/reads.md): LINEARIZABLE is
 * bft_client_read; QUORUM is a Raft ReadIndex round every time (no lease),
 * and for BFT an ordered request from the start; LOCAL asks one replica,
 * which answers from its own state only if it executed a commit within
 * staleness_ms (>= 1) and otherwise refuses (BFT_REPLY_STALE): the client
 * then asks the next replica, and after all n refused or timed out, orders
 * the read. 0 if the op or the level is invalid, or reads are full. */
uint64_t bft_client_read_at(struct bft_client *c, const uint8_t *op, size_t len, int level,
                            uint32_t staleness_ms, uint64_t now_ms);
/* The ordered request number a read fell back to, 0 while it has not (or
 * if `read_id` is not an outstanding read). Read-only: lets a caller that
 * tracks request numbers (the simulator's checker) know the fallback. */
uint64_t bft_client_read_fallback(const struct bft_client *c, uint64_t read_id);
void bft_client_on_reply(struct bft_client *c, const uint8_t *msg, size_t len, uint64_t now_ms);
/* Retransmit overdue requests to all replicas. Returns the ms until the
 * next deadline (or UINT32_MAX if idle). */
uint32_t bft_client_tick(struct bft_client *c, uint64_t now_ms);
void bft_client_stats(const struct bft_client *c, struct bft_client_stats *out);

/* ------------------------------------------------------------------ */
/* Write-ahead log: records with CRC32C-style checksums, batched fsync,  */
/* recovery that tolerates (and truncates) a torn tail.                  */
/* Record on disk: u32 len | u32 crc | len bytes (little-endian).        */
/* ------------------------------------------------------------------ */
#define BFT_WAL_RECORD_MAX (4u << 20)
struct bft_wal;
int bft_wal_open(struct bft_wal **out, const char *path, char *err, size_t errlen);
/* Buffer one record (bounded; flushes itself when the buffer fills).
 * Returns BFT_E_OK or BFT_E_IO (disk full, ...): the caller must then stop
 * sending anything that relies on the record. */
int bft_wal_append(struct bft_wal *w, const uint8_t *rec, size_t len);
/* Write buffered records and fdatasync. BFT_E_OK or BFT_E_IO. */
int bft_wal_sync(struct bft_wal *w);
bool bft_wal_dirty(const struct bft_wal *w);
void bft_wal_close(struct bft_wal *w);
/* Replay every intact record in order; a torn or corrupt tail is cut off
 * (the file is truncated to the last good record). Returns the number of
 * records replayed, or -1 with err. A missing file replays nothing. */
long bft_wal_replay(const char *path, void (*cb)(void *ctx, const uint8_t *rec, size_t len),
                    void *ctx, char *err, size_t errlen);

/* Segmented WAL (docs/storage.md): DIR/wal-<n, 20 digits>, replayed in
 * order. Rotation starts segment n+1 with the core's compact() dump and
 * then deletes every older segment, so the WAL stays bounded. A legacy
 * single DIR/wal is renamed to segment 0 on replay (migration). */
#define BFT_WAL_SEGMENT_DEFAULT (16u << 20)
struct bft_walseg;
/* Replay every segment in order: only the newest may have a torn tail
 * (cut off); damage in an older one is an error. Returns the number of
 * records, or -1 with err. An empty directory replays nothing. */
long bft_walseg_replay(const char *dir, void (*cb)(void *ctx, const uint8_t *rec, size_t len),
                       void *ctx, char *err, size_t errlen);
/* Open the newest segment for append (creating segment 0 if none). */
int bft_walseg_open(struct bft_walseg **out, const char *dir, char *err, size_t errlen);
int bft_walseg_append(struct bft_walseg *s, const uint8_t *rec, size_t len);
int bft_walseg_sync(struct bft_walseg *s);
bool bft_walseg_dirty(const struct bft_walseg *s);
void bft_walseg_close(struct bft_walseg *s);
uint64_t bft_walseg_active_bytes(const struct bft_walseg *s); /* newest segment's size */
uint64_t bft_walseg_active_index(const struct bft_walseg *s);
/* Rotation, in two calls around the dump: begin syncs the active segment,
 * creates the next one (durable directory entry) and sends later appends
 * there; end syncs it and deletes every older segment, oldest first. Any
 * failure is BFT_E_IO and leaves the WAL failed (a storage failure). A
 * crash anywhere in between replays correctly: every segment replayed
 * after the first starts with a complete dump or is the newest one. */
int bft_walseg_rotate_begin(struct bft_walseg *s);
int bft_walseg_rotate_end(struct bft_walseg *s);

/* Snapshot files (docs/storage.md): DIR/snap-<seq, 20 digits> =
 *   "BFTSNAP1" | u32 version=1 | u32 0 | u64 seq | u64 len | u8[32] state
 *   digest | len bytes (the node's snapshot: application + exactly-once
 *   table) | u8[32] SHA-256 of everything before it.
 * Written atomically: DIR/snap-<seq>.tmp, fsync, rename, fsync of DIR. */
#define BFT_SNAPFILE_KEEP 2
#define BFT_SNAPFILE_HDR 64
struct bft_snapfile {
    uint64_t seq;
    bft_digest state;
    uint8_t *buf; /* malloc'd, len bytes */
    size_t len;
};
/* Write snapshot seq atomically, then delete all but the newest
 * BFT_SNAPFILE_KEEP snapshot files. BFT_E_OK or BFT_E_IO with err. */
int bft_snapfile_write(const char *dir, uint64_t seq, const bft_digest *state, const uint8_t *buf,
                       size_t len, char *err, size_t errlen);
/* Read and check one snapshot file: BFT_E_OK, BFT_E_MALFORMED (torn,
 * corrupt, wrong name) or BFT_E_IO, with err. */
int bft_snapfile_read(const char *path, struct bft_snapfile *out, char *err, size_t errlen);
/* Load up to max intact snapshots, newest first; a damaged one is
 * skipped and named in note. Returns how many (out[0..k-1], free each
 * buf), or -1 with note if the directory cannot be read. */
int bft_snapfile_load(const char *dir, struct bft_snapfile *out, int max, char *note,
                      size_t notelen);
void bft_snapfile_free(struct bft_snapfile *f);

/* Deterministic crash points for tests: the storage code calls hook(ctx,
 * step) at each step of a snapshot write or a rotation; a non-zero return
 * stops the operation right there as a crash would (returns BFT_E_IO,
 * nothing after that step is done). NULL: no hook. Not thread-safe: tests
 * only. */
enum bft_storage_step {
    BFT_STEP_SNAP_TMP_PARTIAL = 1, /* half the temp file written */
    BFT_STEP_SNAP_TMP_WRITTEN,     /* whole temp file written, not synced */
    BFT_STEP_SNAP_TMP_SYNCED,
    BFT_STEP_SNAP_RENAMED,
    BFT_STEP_SNAP_DIR_SYNCED,
    BFT_STEP_SNAP_PRUNED, /* one old snapshot deleted */
    BFT_STEP_SEG_OLD_SYNCED,
    BFT_STEP_SEG_CREATED,
    BFT_STEP_SEG_NEW_SYNCED, /* rotate_end: the dump is durable */
    BFT_STEP_SEG_DELETED,    /* one old segment deleted */
};
void bft_storage_fault_hook(int (*hook)(void *ctx, int step), void *ctx);

/* ------------------------------------------------------------------ */
/* Cluster configuration (cluster.json).                               */
/* ------------------------------------------------------------------ */
struct bft_cluster_replica {
    uint32_t id;
    char address[128];
    uint8_t pk[CRYPTO_PK_LEN];
};
struct bft_cluster_client {
    uint32_t id;
    char address[128];
    uint8_t pk[CRYPTO_PK_LEN];
};
struct bft_cluster {
    char path[512];
    char dir[512]; /* directory holding cluster.json */
    uint64_t cluster_id;
    int protocol;
    uint32_t f, n;
    char app[16];
    uint32_t batch_max;
    bool sign; /* raft --sign */
    struct bft_cluster_replica replicas[BFT_MAX_REPLICAS];
    uint32_t n_clients;
    struct bft_cluster_client *clients; /* malloc'd */
    char keys_dir[512];
    char metrics_base[64]; /* optional, e.g. "http://127.0.0.1:9100" */
};
/* Load and validate cluster.json; every problem is a clear message in err. */
int bft_cluster_load(struct bft_cluster *c, const char *path, char *err, size_t errlen);
int bft_cluster_save(const struct bft_cluster *c, const char *path, char *err, size_t errlen);
void bft_cluster_free(struct bft_cluster *c);
/* Paths of private key files under the keys dir. */
void bft_cluster_replica_key_path(const struct bft_cluster *c, uint32_t id, char *out, size_t cap);
void bft_cluster_client_key_path(const struct bft_cluster *c, uint32_t id, char *out, size_t cap);

#endif
