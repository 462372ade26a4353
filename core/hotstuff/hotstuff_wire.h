/* Private to the chained HotStuff core: the typed codec of its message
 * bodies (hotstuff_wire.c), the single source of their layouts
 * (docs/wire.md). One struct per message; each decoder checks the shape
 * of a message (lengths, flags, counts, the fields that must agree with
 * each other) and returns BFT_REJECT_NONE or the reason it is refused,
 * as TigerBeetle's invalid_header() does. Decoders never look at core
 * state and never verify signatures: handlers take the decoded struct and
 * judge it against the replica's state (docs/style.md #6: a bad message
 * is counted and dropped). Encoders fill a struct bft_msg whose body
 * lives in a caller's buffer; they return false if it does not fit.
 *
 * Layouts (all integers little-endian, digests CRYPTO_DIGEST_LEN bytes,
 * signatures BFT_SIG_LEN bytes):
 *   QC  = u64 view | u64 height | block | u8 k | k x (u8 signer | sig)
 *         each sig is the signer's HS_VOTE header (sender = signer,
 *         body_len 0, cluster, view, seq = height, digest = block) signed
 *         under domain HS_VOTE.
 *   TC  = u64 view | u8 k | k x (u8 signer | u64 hqc_view | sig)
 *         sig over "HSTO" | u64 view | u64 hqc_view, domain HS_DOM_TIMEOUT.
 *   HS_PROPOSAL   view, seq = height, digest = batch digest (zero if
 *                 empty); body = parent | QC justify | u8 has_tc | [TC];
 *                 payload = batch
 *   HS_BLOCK_RESP as HS_PROPOSAL with has_tc 0
 *   HS_VOTE       view, seq = height, digest = block digest; no body
 *   HS_TIMEOUT    view = view timed out; body = QC high | sig statement
 *                 | u8 has_vote [u64 view | u64 height | block | sig]
 *                 | u8 has_tc [TC]   (our highest TC, if above our QC)
 *   HS_BLOCK_REQ  digest = wanted block, seq = most blocks wanted (its
 *                 ancestors follow, newest first); no body
 *   STATE_REQ     seq = our last executed seq; body empty (an offer,
 *                 asked of everyone) or u64 snapshot seq | u32 offset (the
 *                 next chunk of that snapshot, asked of one replica)
 *   STATE_RESP    seq = snapshot seq, digest = state digest after it (both
 *                 0 with no snapshot); body = block at seq | u8 k |
 *                 k x (u64 seq | state | block) recent claims | u32 total
 *                 snapshot length | u32 offset; payload = snapshot bytes
 *                 [offset, offset + HS_STATE_CHUNK) */
#ifndef BFT_HOTSTUFF_WIRE_H
#define BFT_HOTSTUFF_WIRE_H

#include <stdbool.h>
#include <stdint.h>

#include "wire/bytes.h"
#include "wire/wire.h"

#define HS_DOM_TIMEOUT 0x48530001u /* "HS" timeout statements */
#define HS_TIMEOUT_REGION_LEN 20   /* "HSTO" | u64 view | u64 hqc_view */
#define HS_VOTE_REGION_LEN (BFT_HDR_LEN - BFT_SIGNED_OFF)
#define HS_CLAIMS 8 /* checkpoint claims a replica keeps and offers */
/* State transfer: a snapshot travels in chunks (the orders state outgrows
 * one message after ~12,800 orders). */
#define HS_STATE_CHUNK (256u << 10)
#define HS_SNAP_MAX (256u << 20)
#define HS_STATE_CHUNK_REQ_LEN (8 + 4) /* u64 snapshot seq | u32 offset */

#define HS_QC_WIRE_MAX (8 + 8 + CRYPTO_DIGEST_LEN + 1 + BFT_MAX_REPLICAS * (1 + BFT_SIG_LEN))
#define HS_TC_WIRE_MAX (8 + 1 + BFT_MAX_REPLICAS * (1 + 8 + BFT_SIG_LEN))
/* The largest body of each message (layouts above): what the body scratch
 * grows to for it. All far below BFT_BODY_MAX, so a replica's body
 * scratch stays a few KiB. */
#define HS_PROPOSAL_BODY_MAX (CRYPTO_DIGEST_LEN + HS_QC_WIRE_MAX + 1 + HS_TC_WIRE_MAX)
#define HS_TIMEOUT_VOTE_LEN (8 + 8 + CRYPTO_DIGEST_LEN + BFT_SIG_LEN)
#define HS_TIMEOUT_BODY_MAX                                                                        \
    (HS_QC_WIRE_MAX + BFT_SIG_LEN + 1 + HS_TIMEOUT_VOTE_LEN + 1 + HS_TC_WIRE_MAX)
#define HS_CLAIM_WIRE_LEN (8 + 2 * CRYPTO_DIGEST_LEN)
#define HS_STATE_RESP_BODY_MAX (CRYPTO_DIGEST_LEN + 1 + HS_CLAIMS * HS_CLAIM_WIRE_LEN + 4 + 4)
_Static_assert(HS_PROPOSAL_BODY_MAX <= BFT_BODY_MAX, "proposal body fits a message");
_Static_assert(HS_TIMEOUT_BODY_MAX <= BFT_BODY_MAX, "timeout body fits a message");
_Static_assert(HS_STATE_RESP_BODY_MAX <= BFT_BODY_MAX, "state response body fits a message");
_Static_assert(HS_STATE_CHUNK <= BFT_PAYLOAD_MAX, "a snapshot chunk fits a payload");

/* Quorum certificate (§4.2): 2f+1 votes on (view, height, block). */
struct hs_qc {
    uint64_t view, height;
    bft_digest block;
    uint8_t k;
    uint8_t signer[BFT_MAX_REPLICAS];
    uint8_t sig[BFT_MAX_REPLICAS][BFT_SIG_LEN];
};

/* Timeout certificate (LibraBFT/DiemBFT pacemaker): 2f+1 timeouts. */
struct hs_tc {
    uint64_t view; /* 0: none */
    uint8_t k;
    uint8_t signer[BFT_MAX_REPLICAS];
    uint64_t hqc_view[BFT_MAX_REPLICAS];
    uint8_t sig[BFT_MAX_REPLICAS][BFT_SIG_LEN];
};

/* A checkpoint claim: the state digest after seq, and the block at seq. */
struct hs_claim {
    uint64_t seq;
    bft_digest state, block;
};

/* HS_PROPOSAL / HS_BLOCK_RESP: a block. `digest` is computed by the
 * decoder (hs_block_digest); the encoder ignores it. */
struct hs_wire_block {
    uint64_t view, height;
    bft_digest parent, batch_digest, digest;
    struct hs_qc justify;
    bool has_tc; /* HS_PROPOSAL only */
    struct hs_tc tc;
    const uint8_t *batch; /* borrowed from the message */
    uint32_t batch_len;
};

/* HS_VOTE: the node verified the header signature, which is the vote. */
struct hs_vote_msg {
    uint64_t view, height;
    bft_digest block;
    uint8_t sig[BFT_SIG_LEN];
};

/* A vote carried inside a timeout (so a QC can still form from it). */
struct hs_carried_vote {
    uint64_t view, height;
    bft_digest block;
    uint8_t sig[BFT_SIG_LEN];
};

/* HS_TIMEOUT(view): a signed statement (view, high_qc.view), our high QC,
 * and maybe our last vote and our high TC. */
struct hs_timeout_msg {
    uint64_t view;
    struct hs_qc high_qc;
    uint8_t sig[BFT_SIG_LEN];
    bool has_vote;
    struct hs_carried_vote vote;
    bool has_tc;
    struct hs_tc tc;
};

/* HS_BLOCK_REQ: the block `want` and up to `count - 1` ancestors. */
struct hs_block_req {
    bft_digest want;
    uint64_t count;
};

/* STATE_REQ: an offer request (chunk false) or the next chunk. */
struct hs_state_req {
    uint64_t last_exec;
    bool chunk;
    uint64_t snap_seq;
    uint32_t off;
};

/* STATE_RESP: recent claims, and a snapshot chunk (snap.seq 0: none). */
struct hs_state_resp {
    struct hs_claim snap;
    uint8_t nclaims;
    struct hs_claim claims[HS_CLAIMS];
    uint32_t total, off;
    const uint8_t *chunk; /* borrowed from the message */
    uint32_t chunk_len;
};

/* Certificates (also used by the WAL records, hotstuff_wal.c). A reader
 * returns false on a short input or more than n signers. */
bool hs_qc_read(struct wire_rd *r, uint32_t n, struct hs_qc *q);
void hs_qc_write(struct wire_wr *w, const struct hs_qc *q);
bool hs_tc_read(struct wire_rd *r, uint32_t n, struct hs_tc *t);
void hs_tc_write(struct wire_wr *w, const struct hs_tc *t);

/* The statement a timeout signs (domain HS_DOM_TIMEOUT):
 * "HSTO" | u64 view | u64 hqc_view. */
void hs_timeout_region(uint64_t view, uint64_t hqc_view, uint8_t region[HS_TIMEOUT_REGION_LEN]);

/* Block digest = SHA-256(view | height | parent | batch digest |
 * justify.view | justify.height | justify.block), u64 LE. */
void hs_block_digest(uint64_t view, uint64_t height, const bft_digest *parent,
                     const bft_digest *batch_digest, const struct hs_qc *justify, bft_digest *out);

/* Decoders: BFT_REJECT_NONE, or why the message is refused. n is the
 * number of replicas (the most signers a certificate may have). */
int hs_block_decode(const struct bft_msg *m, uint32_t n, struct hs_wire_block *out);
int hs_vote_decode(const struct bft_msg *m, struct hs_vote_msg *out);
int hs_timeout_decode(const struct bft_msg *m, uint32_t n, struct hs_timeout_msg *out);
int hs_block_req_decode(const struct bft_msg *m, struct hs_block_req *out);
int hs_state_req_decode(const struct bft_msg *m, struct hs_state_req *out);
int hs_state_resp_decode(const struct bft_msg *m, struct hs_state_resp *out);

/* Encoders. The message borrows buf (its body) and the struct's batch or
 * chunk (its payload). False if the body does not fit cap. */
bool hs_block_encode(const struct hs_wire_block *b, uint8_t type, uint8_t *buf, size_t cap,
                     struct bft_msg *m);
void hs_vote_encode(const struct hs_vote_msg *v, struct bft_msg *m);
bool hs_timeout_encode(const struct hs_timeout_msg *t, uint8_t *buf, size_t cap, struct bft_msg *m);
void hs_block_req_encode(const struct hs_block_req *q, uint64_t view, struct bft_msg *m);
bool hs_state_req_encode(const struct hs_state_req *q, uint64_t view, uint8_t *buf, size_t cap,
                         struct bft_msg *m);
bool hs_state_resp_encode(const struct hs_state_resp *s, uint64_t view, uint8_t *buf, size_t cap,
                          struct bft_msg *m);

#endif
