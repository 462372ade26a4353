/* wire: the vocabulary every layer shares. Limits, error codes, reject
 * reasons, the message header and its codec, the client REQUEST envelope,
 * the REPLY (wire/reply.c) and the batch (docs/wire.md), and the
 * little-endian byte reader and writer every codec uses (wire/bytes.h).
 *
 * Ownership: every pointer passed into a function is borrowed for the
 * duration of the call unless the comment says otherwise; whoever keeps data
 * copies it. */
#ifndef BFT_WIRE_H
#define BFT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bft/common.h"
#include "crypto/crypto.h"
#include "wire/bytes.h"

/* ------------------------------------------------------------------ */
/* Limits. Every queue, window and buffer has one (the ones a caller    */
/* must respect are public, in bft/common.h).                          */
/* ------------------------------------------------------------------ */
#define BFT_ENVELOPE_MAX_OPS 256     /* requests under one client signature */
#define BFT_BODY_MAX (256u << 10)    /* signed body of one message */
#define BFT_PAYLOAD_MAX (512u << 10) /* unsigned, digest-bound attachment */
#define BFT_BATCH_MAX_ENVELOPES 1024

/* ------------------------------------------------------------------ */
/* Errors and reject reasons (docs/style.md #5). BFT_ERR_MAP, enum     */
/* bft_err and bft_strerror are public: bft/common.h.                  */
/* ------------------------------------------------------------------ */

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
/* 0 means "not refused", as BFT_E_OK does (docs/style.md #13): a check
 * that returns a reject reason returns BFT_REJECT_NONE when the input is
 * fine. Counters are indexed by reason; iterate from BFT_REJECT__FIRST. */
enum bft_reject { BFT_REJECT_NONE = 0, BFT_REJECT_MAP(BFT_REJECT_ENUM) BFT_REJECT__COUNT };
#define BFT_REJECT__FIRST 1 /* the first real reason, after NONE */
const char *bft_reject_name(int reason);

/* ------------------------------------------------------------------ */
/* Messages (docs/wire.md).                                            */
/* ------------------------------------------------------------------ */

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
    X(FETCH_REQ, 18, "fetch_req")   /* PBFT log fetch (core/pbft/pbft_wire.h) */                   \
    X(FETCH_RESP, 19, "fetch_resp") /* its answer: a committed entry or a checkpoint proof */      \
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

/* REPLY body (docs/wire.md "REPLY"; wire/reply.c):
 *   u32 client_id | u16 n_ranges |
 *   n_ranges x (u64 first_req_no | u16 count | count x (u16 result_len | result))
 * A replica answers each client once per executed batch: one range per
 * envelope of that client the batch executed, so one signature covers
 * them all (issue 14). A read-only request gets one range. Ranges are in
 * increasing request-number order and disjoint, 1..BFT_REPLY_MAX_RANGES of
 * them, each of 1..BFT_ENVELOPE_MAX_OPS results: the decoder refuses
 * anything else, so a client never has to resolve two results from one
 * replica for one request. view = replier's view (clients learn the
 * primary), seq = consensus seq. Header flag BFT_REPLY_STALE: a local
 * read refused because the replica has not executed a commit within the
 * read's staleness bound (one range, one empty result; docs/reads.md).
 * Header flag BFT_REPLY_NO_RESULT: the request numbers of its one range
 * are closed at this replica (executed, or abandoned when the client
 * moved its window past them: never executed later) and their results are
 * no longer held (every replica restarted from a snapshot since, or the
 * reply cache's byte bound evicted them); every result is empty. A client
 * accepts it from f+1 replicas (Raft: the leader) and stops retrying
 * (docs/wire.md "REPLY"). */
#define BFT_REPLY_STALE 0x0001
#define BFT_REPLY_NO_RESULT 0x0002
#define BFT_REPLY_HDR_LEN 6        /* client_id, n_ranges */
#define BFT_REPLY_RANGE_HDR_LEN 10 /* first_req_no, count */
/* A batch holds at most this many envelopes, so a replica never needs
 * more ranges for one client and batch. */
#define BFT_REPLY_MAX_RANGES BFT_BATCH_MAX_ENVELOPES
/* The encoded size of one range of `count` results totalling `bytes`. */
#define BFT_REPLY_RANGE_LEN(count, bytes) (BFT_REPLY_RANGE_HDR_LEN + 2 * (size_t)(count) + (bytes))
/* The largest range: a full envelope of the largest results. */
#define BFT_REPLY_RANGE_MAX                                                                        \
    BFT_REPLY_RANGE_LEN(BFT_ENVELOPE_MAX_OPS, BFT_ENVELOPE_MAX_OPS *BFT_RESULT_MAX)

/* The whole layout rule above, for the decoder and for tests. */
bool bft_reply_body_valid(const uint8_t *body, size_t len);

/* Writer. Ranges go in the order the caller adds them (it must add them
 * in increasing order); an error (no room, a range of 0 or too many
 * results, too many ranges) is sticky and makes finish return 0. */
struct bft_reply_wr {
    struct wire_wr w;
    uint16_t n_ranges;
    uint16_t count;   /* results in the open range */
    size_t range_off; /* where the open range's header starts */
    bool bad;
};
void bft_reply_wr_init(struct bft_reply_wr *rw, uint8_t *buf, size_t cap, uint32_t client);
/* Open a range at `first`; its results follow (bft_reply_wr_result). */
void bft_reply_wr_range(struct bft_reply_wr *rw, uint64_t first);
void bft_reply_wr_result(struct bft_reply_wr *rw, const uint8_t *res, size_t len);
/* A whole range whose results are already encoded as
 * count x (u16 result_len | result). */
void bft_reply_wr_range_encoded(struct bft_reply_wr *rw, uint64_t first, uint16_t count,
                                const uint8_t *results, size_t len);
/* The body's length, or 0 if it broke a rule or did not fit. */
size_t bft_reply_wr_finish(struct bft_reply_wr *rw);

/* Reader, bounds-safe on any bytes: a truncated range ends the iteration
 * (and sets `bad`); on a body bft_msg_decode accepted it never does. */
struct bft_reply_range {
    uint64_t first;
    uint16_t count;
    const uint8_t *results; /* count x (u16 result_len | result) */
    size_t results_len;
};
struct bft_reply_iter {
    struct wire_rd r;
    uint32_t client;
    uint16_t n_ranges, left;
    uint64_t after; /* where the next range may start: they ascend, disjoint */
    bool bad;
};
/* Reads client_id and n_ranges; false if the body is shorter than that. */
bool bft_reply_iter_init(struct bft_reply_iter *it, const uint8_t *body, size_t len);
bool bft_reply_iter_next(struct bft_reply_iter *it, struct bft_reply_range *rg);
/* The results of one range, with their request numbers. */
struct bft_reply_res_iter {
    struct wire_rd r;
    uint16_t left;
    uint64_t next_req_no;
};
void bft_reply_res_init(struct bft_reply_res_iter *ri, const struct bft_reply_range *rg);
bool bft_reply_res_next(struct bft_reply_res_iter *ri, uint64_t *req_no, const uint8_t **res,
                        size_t *len);
/* Does this body hold a result for req_no? (The node's reply cache.) */
bool bft_reply_covers(const uint8_t *body, size_t len, uint64_t req_no);

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

#endif
