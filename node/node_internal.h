/* Private to the replica node (node*.c). */
#ifndef BFT_NODE_INTERNAL_H
#define BFT_NODE_INTERNAL_H

#include "node/node.h"
#include "store/store.h"

/* Exactly-once table (Castro & Liskov §4.1: a replica keeps the last reply
 * per client). Clients may keep several envelopes outstanding, so instead of
 * one timestamp we keep a sliding window: every req_no below `low` has been
 * executed, and `bits` marks executed ones in [low, low + WINDOW). A request
 * at or above low + WINDOW is refused (the client broke its bound). */
#define NODE_CLIENT_WINDOW 1024
/* Replies kept per client. Since issue 14 a replica answers a client
 * once per executed batch (node/node_reply.c), so one cached reply covers
 * every envelope of that client in its batch. A client may have up to 64
 * envelopes in flight (the simulator's clients do; bftctl's at most 16):
 * if the reply to its oldest is lost, the replies to everything newer must
 * not push the old one out before the client's retransmission arrives, or
 * that request is stuck forever (found by bftsim; guarded by
 * tests/sim/test_sim_regressions.c test_reply_cache_keeps_oldest_reply_pbft
 * and _raft_lossy: only Raft's leader replies, so one loss is enough
 * there). 128 replies cover a full window twice even at one envelope per
 * batch. Memory: at most clients x 128 replies, each bounded by
 * NODE_REPLY_BODY_MAX, allocated only as clients use them. */
#define NODE_REPLY_CACHE 128
/* ... and at most this many bytes of them per client (issue 14): 128
 * replies of up to NODE_REPLY_BODY_MAX bytes would let one client pin
 * 16 MiB. 1 MiB covers a full client window twice even at the largest
 * results (1024 requests x (BFT_RESULT_MAX + 2) bytes, ~264 KiB, plus a
 * range header per envelope and a header and signature per reply: ~410
 * KiB with one request per envelope and batch), so it never pushes out a
 * reply the count bound would have kept for an honest client. Past it the
 * oldest replies go first (counted in replies_evicted). All clients:
 * n_clients x 1 MiB at most. */
#define NODE_REPLY_CACHE_BYTES (1u << 20)
/* One REPLY body carries at most this much; a client whose results in one
 * batch exceed it gets several replies (whole ranges each). Above the
 * largest range (a full envelope of the largest results, ~65 KiB), so an
 * envelope is never split, and well below BFT_BODY_MAX and the transport's
 * per-client queue (1 MiB). */
#define NODE_REPLY_BODY_MAX (128u << 10)
/* Results waiting for the end of their batch, all clients together: past
 * this the replies built so far go out and the batch continues with new
 * ones, so a batch of large results cannot grow the node without bound.
 * The buffer is freed after a batch that grew it past NODE_REPLY_KEEP. */
#define NODE_REPLY_PENDING_MAX (1u << 20)
#define NODE_REPLY_KEEP (256u << 10)

/* A cached REPLY: the request numbers it answers lie in [lo, hi) (ranges,
 * possibly with gaps: bft_reply_covers tells exactly). */
struct node_reply {
    uint64_t lo, hi;
    uint32_t len;
    uint32_t cap;
    uint8_t *msg; /* encoded signed REPLY */
};
struct node_client {
    uint64_t low;
    uint64_t bits[NODE_CLIENT_WINDOW / 64];
    struct node_reply replies[NODE_REPLY_CACHE];
    uint32_t next_reply;
    uint32_t reply_bytes; /* held by replies[]: the sum of their caps */
    /* Slots [0, filled) were ever used (cache_reply fills them in order
     * from 0): lookups and frees touch only those, so a replica created
     * and destroyed per fuzz input or simulated restart does not walk
     * NODE_REPLY_CACHE empty slots per client. */
    uint32_t filled;
};

/* The replies of the batch being executed (node_reply.c): each executed
 * envelope's results, in batch order, until the batch ends and each client
 * gets one REPLY covering all of its envelopes. */
struct node_reply_part {
    uint64_t first;
    uint32_t client;
    uint16_t count;
    uint32_t off, len; /* its count x (u16 len | result) in `buf` */
};
struct node_replies {
    uint64_t seq, view; /* of the batch */
    uint8_t *buf;
    uint32_t len, cap; /* cap <= NODE_REPLY_PENDING_MAX + a range */
    struct node_reply_part *part;
    uint32_t n_part, part_cap; /* part_cap <= BFT_BATCH_MAX_ENVELOPES */
    uint8_t *body;             /* NODE_REPLY_BODY_MAX, one REPLY body being built */
    bool open_bad;             /* the open part lost its results (out of memory) */
};

/* Outbox: sends buffered until bft_node_flush (durable before send). One
 * arena of encoded bytes plus (destination, offset, len) entries; a
 * broadcast is encoded and signed once and referenced n-1 times. Both
 * start small and grow by doubling up to their bounds (node_out.c): most
 * flushes carry a few KB, and a replica created per fuzz input or per
 * simulated node should not map 8 MB it never touches. */
#define NODE_OUTBOX_BYTES (8u << 20)
#define NODE_OUTBOX_ENTRIES 16384
#define NODE_OUTBOX_BYTES_INIT (64u << 10)
/* An arena above this is freed after a flush that used less than a quarter
 * of it (node_out.c): the bound is for bursts, not to be kept. */
#define NODE_OUTBOX_KEEP (1u << 20)
#define NODE_OUTBOX_ENTRIES_INIT 256
#define NODE_DEST_CLIENT 0x80000000u
/* The entry may leave before the step's sync (bft_io.send_ahead). */
#define NODE_DEST_AHEAD 0x40000000u

struct node_out {
    uint32_t dest; /* replica id, or NODE_DEST_CLIENT | client id */
    uint32_t off;
    uint32_t len;
};

/* Linearizable reads waiting for execution to reach the read_floor at
 * their arrival (node_read.c): a ring of fixed slots; when full, the oldest
 * is dropped. A read REQUEST is one op, so its encoding fits a slot. */
#define NODE_READS_WAITING 64
#define NODE_READ_RAW_MAX (BFT_HDR_LEN + 4 + 2 + BFT_OP_MAX + BFT_SIG_LEN)
struct node_read_wait {
    uint64_t floor;
    uint32_t len;
    uint8_t raw[NODE_READ_RAW_MAX];
};

/* Phase sampling (node_phase.c): every NODE_PHASE_EVERY-th write request
 * handed to the core is followed in one of NODE_PHASE_SLOTS slots; a
 * sample that never finishes (proposed by another replica and not
 * answered here, or lost in a view change) gives its slot to the next
 * once all are taken. */
#define NODE_PHASE_EVERY 16
#define NODE_PHASE_SLOTS 32
struct node_phase_slot {
    bool used, proposed, reply_queued;
    uint32_t client;
    uint64_t req_no, seq;
    uint64_t t0_ns;
    uint64_t t_ns[BFT_PHASE__COUNT]; /* 0: not reached */
};
struct node_phase {
    struct node_phase_slot slot[NODE_PHASE_SLOTS];
    uint32_t in_use;
    uint64_t arrivals;
    struct bft_phase_stats stats;
};

struct bft_node {
    struct bft_node_config cfg;
    struct bft_host host;
    const struct bft_core_ops *ops;
    struct bft_core *core;
    void *app;
    struct crypto_vcache *vcache;
    struct bft_env env;
    struct bft_io io;
    uint8_t null_secret[32];
    uint64_t rng;

    struct node_client *clients; /* cfg.n_clients entries */
    struct node_replies rep;

    uint8_t *arena;
    uint32_t arena_len, arena_cap; /* arena_cap <= NODE_OUTBOX_BYTES */
    struct node_out *out;
    uint32_t n_out, out_cap; /* out_cap <= NODE_OUTBOX_ENTRIES */
    bool dirty;              /* persisted since last flush */
    uint32_t n_ahead;        /* entries marked NODE_DEST_AHEAD */

    uint8_t *snap; /* the snapshot handed to the core this step (freed at flush) */
    size_t snap_len;

    /* Durable snapshots (docs/storage.md): those the host loaded before
     * replay, offered to the core through io->load_snapshot until the
     * first event after recovery; and the newest one on disk (the base
     * compaction may rely on). */
    struct bft_snapfile disk[BFT_SNAPFILE_KEEP];
    uint32_t n_disk;
    bool disk_loaded; /* replay is over once an event was handled */
    uint64_t base;
    uint64_t wal_base; /* the snapshot recovery restored (bft_node_wal_base) */
    uint8_t result[BFT_RESULT_MAX];

    /* When this replica last executed a committed batch or installed a
     * committed snapshot (node_now_ms): local reads answer only within
     * their staleness bound of it (docs/reads.md). */
    uint64_t exec_ms;
    bool exec_ever;
    struct node_read_wait *reads_wait; /* NODE_READS_WAITING slots */
    uint32_t reads_head, reads_count;

    struct bft_node_stats stats;
    struct node_phase phase;
};

/* node_crypto.c */
void node_crypto_init(struct bft_node *n);
void node_sign(struct bft_node *n, uint32_t domain, const uint8_t *region, size_t len,
               uint8_t sig[BFT_SIG_LEN]);
bool node_verify_replica(struct bft_node *n, uint32_t signer, uint32_t domain,
                         const uint8_t *region, size_t len, const uint8_t sig[BFT_SIG_LEN]);
bool node_verify_request(struct bft_node *n, const struct bft_msg *req);
/* A batch-carrying message (PRE-PREPARE, HS_PROPOSAL): its digest binds
 * the payload and every request inside is client-signed
 * (bft_batch_verify). BFT_REJECT_NONE if fine. */
int node_check_batch(struct bft_node *n, const struct bft_msg *m);

/* node_out.c */
/* Encode m as this replica, sign it, and queue it for `dest` (or for every
 * other replica when broadcast). False if it was dropped (out of memory);
 * true means it is the outbox's last entry (n->out[n->n_out - 1]). */
bool node_queue_msg(struct bft_node *n, const struct bft_msg *m, bool broadcast, uint32_t dest);
/* Queue already encoded bytes (forwarded client request, cached reply);
 * false if dropped (out of memory). */
bool node_queue_raw(struct bft_node *n, uint32_t dest, const uint8_t *buf, size_t len);

/* node_read.c */
void node_answer_read(struct bft_node *n, const struct bft_msg *req);
void node_answer_local(struct bft_node *n, const struct bft_msg *req);
/* Answer the waiting reads whose floor is at most `executed`. */
void node_reads_serve(struct bft_node *n, uint64_t executed);
/* The host's clock (bft_host.now_ms) or CLOCK_MONOTONIC, in ms. */
uint64_t node_now_ms(struct bft_node *n);
/* A committed state was just executed or installed: note when. */
void node_mark_fresh(struct bft_node *n);

/* node_phase.c: the stage and phase stamps, no-ops without a budget. */
static inline void node_stage_in(struct bft_node *n, int stage)
{
    if (n->host.budget) bft_budget_push(n->host.budget, stage, bft_budget_clock_ns());
}
static inline void node_stage_out(struct bft_node *n)
{
    if (n->host.budget) bft_budget_pop(n->host.budget, bft_budget_clock_ns());
}
/* A write request is handed to the core. */
void node_phase_arrive(struct bft_node *n, const struct bft_msg *req);
/* A replica message was queued (proposals, PBFT COMMITs). */
void node_phase_queued(struct bft_node *n, const struct bft_msg *m);
/* The reply to the envelope (client, first req_no) was queued. */
void node_phase_replied(struct bft_node *n, uint32_t client, uint64_t req_no);
/* The outbox was handed to the transport. */
void node_phase_flushed(struct bft_node *n);

/* node_exec.c */
void node_execute(struct bft_node *n, uint64_t seq, uint64_t view, const uint8_t *batch, size_t len,
                  const bft_digest *batch_digest, bft_digest *state);
/* true if the envelope starting at req->seq was executed (or abandoned:
 * below the table's window); answers it with the cached reply that covers
 * it, or, when none is held any more, with a signed "no result" reply. */
bool node_already_executed(struct bft_node *n, const struct bft_msg *req);
void node_table_digest(struct bft_node *n, bft_digest *out);
int node_snapshot(struct bft_node *n, uint8_t **buf, size_t *len);
int node_restore(struct bft_node *n, const uint8_t *buf, size_t len, const bft_digest *expect,
                 bft_digest *state);
struct node_client *node_clients_new(uint32_t count);
void node_clients_free(struct bft_node *n);

/* node_reply.c: replies per client per batch, and the reply cache. */
/* A batch starts executing at (seq, view). */
void node_replies_begin(struct bft_node *n, uint64_t seq, uint64_t view);
/* An envelope of `count` requests from `client` starting at `first` is
 * executed: its `count` results follow through node_reply_result. */
void node_reply_open(struct bft_node *n, uint32_t client, uint64_t first, uint16_t count);
void node_reply_result(struct bft_node *n, const uint8_t *res, size_t len);
/* The batch is over: every client with results gets its signed REPLY,
 * which is cached and queued. (Past NODE_REPLY_PENDING_MAX this happens
 * during the batch too.) */
void node_replies_end(struct bft_node *n);
void node_replies_free(struct bft_node *n);
/* Queue again the cached reply that covers (client, req_no), if one is
 * still held (a retransmitted request that was executed): true if so. */
bool node_reply_resend(struct bft_node *n, uint32_t client, uint64_t req_no);
/* Answer a retry of the closed envelope [first, first + count) whose
 * reply is no longer held: a signed BFT_REPLY_NO_RESULT reply, cached like
 * any reply so repeated retries cost no more signatures. */
void node_reply_no_result(struct bft_node *n, uint32_t client, uint64_t first, uint16_t count);
/* Queue a signed REPLY of one range [first, first + count) of empty
 * results with header `flags` (STALE or NO_RESULT); false if not queued. */
bool node_queue_empty_reply(struct bft_node *n, uint32_t client, uint64_t first, uint16_t count,
                            uint16_t flags, const struct bft_core_status *st);
/* Free one client's cached replies. */
void node_reply_cache_free(struct node_client *c);

#endif
