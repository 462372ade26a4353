/* Private to the PBFT core: the typed codec of every PBFT message body,
 * the single source of their layouts (docs/wire.md points here). Castro &
 * Liskov, "Practical Byzantine Fault Tolerance" (OSDI'99) §4.
 *
 * A decoder checks structure only (lengths, counts against the cluster's
 * bounds, trailing bytes, the fixed header of embedded messages) and
 * returns BFT_REJECT_NONE or BFT_REJECT_MALFORMED (TigerBeetle's
 * invalid_header() style: a reason, never a bool). What the fields mean
 * (signatures, views, quorums) is the handlers' business: they take the
 * decoded structs and never read byte offsets. Decoded structs borrow the
 * message they were decoded from. Encoders write into a bounded wire_wr
 * (wire/bytes.h); an encoder that overflows sets w->err, which for our own
 * messages is a bug the caller asserts on (docs/style.md #6).
 *
 * All integers little-endian. "raw" is an encoded signed message with
 * payload_len 0 (a stripped PRE-PREPARE: the digest binds the batch), always
 * PBFT_RAW_MAX bytes; in a body it is written u16 len | raw.
 *
 * PRE-PREPARE, PREPARE, COMMIT, CHECKPOINT: header only, empty body.
 * VIEW_CHANGE(v+1) (§4.4 <VIEW-CHANGE, v+1, n, C, P, i>), seq = h:
 *   u64 h | u8[32] h_digest | u8 nproof | nproof x (u16 len | CHECKPOINT raw)
 *   | u16 ncert | ncert x ( u16 len | PRE-PREPARE raw
 *                         | u8 nprep | nprep x (u16 len | PREPARE raw)
 *                         | u32 batch_len | batch )
 *   batch_len PBFT_BATCH_OMITTED: the batch did not fit in the body.
 * NEW_VIEW(v+1) (§4.4 <NEW-VIEW, v+1, V, O>), seq = max_s:
 *   u64 min_s | u8[32] min_s_digest | u64 max_s
 *   | u8 nref | nref x (u32 sender | u8[32] SHA-256(signed region of the VC))
 *   | u16 ndig | ndig x u8[32]   (digest for min_s+1 .. max_s, zero = null)
 *   | u8 nemb | nemb x (u32 len | VIEW_CHANGE raw)
 * STATE_REQ: seq = the checkpoint (or pre-prepare) wanted.
 *   empty body: first chunk of a snapshot at seq or later;
 *   u8 2 | u32 offset: the next chunk of the snapshot at seq;
 *   u8 3: relay of the pre-prepare (view, seq, digest) (pbft_relay.c).
 * STATE_RESP: body starts with u8 kind.
 *   0 chunk: seq, digest = state digest, payload = snapshot bytes [offset,
 *     offset + len); u8 0 | u32 total | u32 offset | u8[32] SHA-256(snapshot)
 *     | u8 k | k x (u16 len | CHECKPOINT raw)  (k = 0 after the first chunk)
 *   3 relayed pre-prepare: seq, digest = batch digest, payload = batch;
 *     u8 3 | u16 len | PRE-PREPARE raw (primary-signed)
 * FETCH_REQ (log fetch, pbft_fetch.c): seq = the first committed seq
 *   wanted; body u16 count (the responder sends up to count entries).
 * FETCH_RESP: body starts with u8 kind.
 *   1 log entry (from the window or, at or below h, the kept log): seq,
 *     digest = batch digest, payload = batch; u8 1 | u64 responder's last
 *     executed | u8 k | k x (u16 len | COMMIT raw)  (2f+1 COMMITs, §4.2)
 *   2 checkpoint proof (the entry is below the responder's h): seq = h,
 *     digest = state digest; u8 2 | u8 k | k x (u16 len | CHECKPOINT raw)
 * Null request (§4.4): empty batch, all-zero digest, payload_len 0. */
#ifndef BFT_PBFT_WIRE_H
#define BFT_PBFT_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

#define PBFT_RAW_MAX BFT_MSG_MIN_LEN /* votes/checkpoints have no body */
#define PBFT_BATCH_OMITTED 0xffffffffu

/* The bounds a body is checked against: cluster size, faults, checkpoint
 * interval and log window of the receiving core. */
struct pbft_limits {
    uint32_t n, f, K, L;
};

/* A list of embedded bodiless messages, decoded (header fields only; the
 * signature is the handler's to verify). */
struct pbft_emb_list {
    uint32_t count;
    struct bft_msg m[BFT_MAX_REPLICAS]; /* m[i].raw, raw_len: the raw bytes */
};

/* Decode one embedded raw message of `type` (fixed PBFT_RAW_MAX layout,
 * no body, no payload). */
enum bft_reject pbft_emb_decode(const uint8_t *raw, size_t len, uint8_t type, struct bft_msg *m);
/* u16 len | raw. */
void pbft_emb_put(struct wire_wr *w, const uint8_t *raw, uint16_t len);

/* ---- VIEW-CHANGE ---- */
struct pbft_vc_wire {
    uint64_t h;
    bft_digest h_digest;
    struct pbft_emb_list proof; /* CHECKPOINTs for h */
    uint32_t ncert;
    struct wire_rd certs; /* the certificates, checked: walk with pbft_vc_next_cert */
};
struct pbft_vc_wire_cert {
    struct bft_msg pp;
    struct pbft_emb_list prep;
    bool omitted;         /* batch_len was PBFT_BATCH_OMITTED */
    const uint8_t *batch; /* NULL if null or omitted */
    uint32_t batch_len;
};
enum bft_reject pbft_vc_decode(const uint8_t *body, size_t len, const struct pbft_limits *lim,
                               struct pbft_vc_wire *out);
/* The next certificate of a decoded VIEW-CHANGE; false after the last. */
bool pbft_vc_next_cert(struct pbft_vc_wire *vc, struct pbft_vc_wire_cert *out);
/* Encoding: pbft_vc_put_head (h, h_digest, nproof), nproof raws with
 * pbft_emb_put, then pbft_vc_begin_certs, which writes the certificate
 * count as 0 and returns where it is; each certificate (pre-prepare raw, u8
 * nprep, prepare raws, pbft_vc_put_batch); pbft_vc_put_ncert patches the
 * count. */
void pbft_vc_put_head(struct wire_wr *w, uint64_t h, const bft_digest *hd, uint32_t nproof);
size_t pbft_vc_begin_certs(struct wire_wr *w);
void pbft_vc_put_ncert(struct wire_wr *w, size_t pos, uint16_t ncert);
/* batch NULL with omitted: PBFT_BATCH_OMITTED; NULL otherwise: length 0. */
void pbft_vc_put_batch(struct wire_wr *w, const uint8_t *batch, uint32_t len, bool omitted);

/* ---- NEW-VIEW ---- */
struct pbft_nv_wire {
    uint64_t min_s, max_s;
    bft_digest min_d;
    uint32_t nref;
    uint32_t ref_from[BFT_MAX_REPLICAS]; /* ascending */
    bft_digest ref_id[BFT_MAX_REPLICAS];
    uint32_t ndig;                        /* max_s - min_s */
    const uint8_t *digs;                  /* ndig x CRYPTO_DIGEST_LEN bytes */
    uint32_t nemb;                        /* embedded VIEW-CHANGEs, each of the NEW-VIEW's view */
    struct bft_msg emb[BFT_MAX_REPLICAS]; /* decoded with bft_msg_decode */
};
enum bft_reject pbft_nv_decode(const struct bft_msg *m, const struct pbft_limits *lim,
                               struct pbft_nv_wire *out);
/* Bytes of the NEW-VIEW before its embedded VIEW-CHANGEs. */
size_t pbft_nv_head_len(uint32_t nref, uint32_t ndig);
/* Writes nv (digs: ndig digests; emb[i].raw, raw_len). */
void pbft_nv_encode(struct wire_wr *w, const struct pbft_nv_wire *nv);

/* ---- STATE-REQ ---- */
enum { PBFT_SREQ_FIRST = 0, PBFT_SREQ_CHUNK = 2, PBFT_SREQ_RELAY = 3 };
#define PBFT_SREQ_MAX 5 /* bytes of the largest STATE-REQ body */
struct pbft_state_req {
    uint8_t kind;    /* PBFT_SREQ_* */
    uint32_t offset; /* CHUNK */
};
enum bft_reject pbft_state_req_decode(const struct bft_msg *m, struct pbft_state_req *out);
/* Returns the body length (0 for FIRST), at most PBFT_SREQ_MAX. */
size_t pbft_state_req_encode(const struct pbft_state_req *q, uint8_t body[PBFT_SREQ_MAX]);

/* ---- FETCH-REQ ---- */
#define PBFT_FETCH_REQ_LEN 2
enum bft_reject pbft_fetch_req_decode(const struct bft_msg *m, uint16_t *count);
void pbft_fetch_req_encode(uint16_t count, uint8_t body[PBFT_FETCH_REQ_LEN]);

/* ---- STATE-RESP and FETCH-RESP ---- */
enum { PBFT_SRESP_CHUNK = 0, PBFT_SRESP_RELAY = 3 }; /* STATE-RESP kinds */
enum { PBFT_FRESP_ENTRY = 1, PBFT_FRESP_CKPT = 2 };  /* FETCH-RESP kinds */
/* The kind byte of a STATE-RESP or FETCH-RESP, or -1 if the body is empty
 * or the kind is not one of its type. */
int pbft_resp_kind(const struct bft_msg *m);
struct pbft_chunk_wire {
    uint32_t total, offset;
    bft_digest sha;
    struct pbft_emb_list proof; /* CHECKPOINTs, first chunk only */
};
/* Also checks the payload is a chunk of at most chunk_max bytes inside
 * total <= snap_max, and the proof comes with the first chunk only. */
enum bft_reject pbft_chunk_decode(const struct bft_msg *m, const struct pbft_limits *lim,
                                  size_t snap_max, size_t chunk_max, struct pbft_chunk_wire *out);
struct pbft_entry_wire {
    uint64_t their_exec;
    struct pbft_emb_list commits; /* 2f+1 .. n COMMITs */
};
enum bft_reject pbft_entry_decode(const struct bft_msg *m, const struct pbft_limits *lim,
                                  struct pbft_entry_wire *out);
/* The proof list of a checkpoint-proof answer (FETCH-RESP kind 2). */
enum bft_reject pbft_ckpt_proof_decode(const struct bft_msg *m, const struct pbft_limits *lim,
                                       struct pbft_emb_list *out);
/* The relayed pre-prepare (STATE-RESP kind 3): its raw, not yet decoded (the handler
 * first checks whether it still needs it). */
enum bft_reject pbft_relay_resp_decode(const struct bft_msg *m, const uint8_t **raw, uint16_t *len);
/* Heads of the STATE-RESP and FETCH-RESP bodies; the caller appends k
 * raws with pbft_emb_put after the head. */
void pbft_chunk_put_head(struct wire_wr *w, uint32_t total, uint32_t offset, const bft_digest *sha,
                         uint32_t k);
void pbft_entry_put_head(struct wire_wr *w, uint64_t their_exec, uint32_t k);
void pbft_ckpt_proof_put_head(struct wire_wr *w, uint32_t k);
void pbft_relay_resp_put(struct wire_wr *w, const uint8_t *raw, uint16_t len);

#endif
