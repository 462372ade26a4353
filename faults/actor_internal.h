/* Private to the fault actor (actor.c, behaviour.c, mutate.c). */
#ifndef BFT_FAULTS_ACTOR_INTERNAL_H
#define BFT_FAULTS_ACTOR_INTERNAL_H

#include "faults/faults_internal.h"

/* Largest encoded message (header + body + signature + payload). */
#define ACTOR_MSG_MAX ((size_t)BFT_HDR_LEN + BFT_BODY_MAX + BFT_SIG_LEN + BFT_PAYLOAD_MAX)
/* Past outgoing messages kept for replay / stale / resend; larger ones are
 * not kept. Fixed: the Byzantine process itself stays bounded. */
#define ACTOR_RING 32
#define ACTOR_RING_MSG_MAX (16u << 10)
/* Client requests seen in our own proposals (Raft equivocation swaps one
 * for another of the same length). */
#define ACTOR_REQS 32
#define ACTOR_REQ_MAX 2048
/* (view, seq) -> (original, variant) digests, so our votes match the
 * variant each half received. */
#define ACTOR_EQ 64
/* Embedded requests located in one opaque body. */
#define ACTOR_SPANS 64

/* Header field offsets (bft.h "Fixed header"). */
enum {
    HDR_TYPE = 5,
    HDR_SENDER = 8,
    HDR_BODY_LEN = 12,
    HDR_VIEW = 24,
    HDR_SEQ = 32,
    HDR_DIGEST = 40,
};

struct actor_slot {
    uint32_t len;
    uint8_t type;
    uint8_t *buf; /* ACTOR_RING_MSG_MAX bytes */
};

struct actor_eq {
    bool used;
    uint64_t view, seq;
    bft_digest orig, variant;
};

struct fault_actor {
    struct fault_actor_config cfg; /* plan pointer cleared: not kept */
    struct fault_params params;
    uint32_t n_entries;
    struct fault_entry entry[FAULT_MAX_FAULTS];
    struct byzzfuzz_schedule bf;
    uint64_t rng;
    uint64_t bf_count; /* messages byzzfuzz has mutated */

    /* scratch_a holds the cached equivocation variant of the message whose
     * signed-region hash is variant_of; scratch_b is for one-shot rewrites;
     * payload for a rebuilt batch. */
    uint8_t *scratch_a, *scratch_b, *payload;
    size_t variant_len;
    bool variant_ok;
    uint8_t variant_of[32];
    const uint8_t **items; /* batch items, BFT_BATCH_MAX_ENVELOPES */
    uint32_t *item_len;

    struct actor_eq eq[ACTOR_EQ];
    uint32_t eq_next;

    struct actor_slot ring[ACTOR_RING];
    uint32_t ring_next, ring_count;
    struct actor_slot reqs[ACTOR_REQS];
    uint32_t req_next, req_count;

    uint64_t max_view, max_seq; /* highest seen in our own messages */
    uint32_t withhold_mask;     /* peers still served under withhold */
    uint32_t forge_next;
    uint64_t slow_ms;
    struct fault_actor_stats st;
};

/* actor.c */
/* Send one message out, applying withhold and slow. */
void actor_out(struct fault_actor *a, uint64_t now_ms, uint32_t dest, const uint8_t *msg,
               size_t len, uint64_t delay_ms, fault_emit_fn emit, void *ctx);
bool actor_half_b(const struct fault_actor *a, uint32_t dest);
/* Most recent ring message that is not `skip` bytes (NULL if none); with
 * proposal set, only PRE_PREPARE / HS_PROPOSAL / RAFT_APPEND. */
const struct actor_slot *actor_ring_pick(struct fault_actor *a, bool random, bool proposal,
                                         const uint8_t *skip, size_t skip_len);

/* mutate.c: copies of an encoded message with header fields changed. */
bool actor_signed(const uint8_t *msg, size_t len);
/* Sign an encoded message (len bytes) in place as this replica. */
void actor_resign(struct fault_actor *a, uint8_t *buf, size_t len);
/* Copy msg into out and patch the header; re-sign if the original was
 * signed (or force). Returns the length. */
size_t actor_rewrite(struct fault_actor *a, const uint8_t *msg, size_t len, uint8_t *out,
                     const uint64_t *view, const uint64_t *seq, const bft_digest *digest,
                     const uint32_t *sender, bool force_sign);
size_t actor_badsig(struct fault_actor *a, const uint8_t *msg, size_t len, uint8_t *out);
/* Malformed copy (truncated, bad version, lying lengths, unknown type). */
size_t actor_corrupt(struct fault_actor *a, const uint8_t *msg, size_t len, uint8_t *out,
                     size_t cap);
size_t actor_junk(struct fault_actor *a, uint8_t *out, size_t cap);
void actor_byzzfuzz(struct fault_actor *a, uint64_t now_ms, uint32_t dest, const struct bft_msg *m,
                    const uint8_t *msg, size_t len, const struct byzzfuzz_proc_fault *pf,
                    fault_emit_fn emit, void *ctx);

/* behaviour.c: equivocation and flooding. */
bool actor_is_proposal(const struct bft_msg *m);
void actor_equivocate(struct fault_actor *a, uint64_t now_ms, uint32_t dest,
                      const struct bft_msg *m, const uint8_t *msg, size_t len, fault_emit_fn emit,
                      void *ctx);
void actor_flood(struct fault_actor *a, uint64_t now_ms, fault_emit_fn emit, void *ctx);
/* Remember client requests carried in one of our messages. */
void actor_learn_requests(struct fault_actor *a, const struct bft_msg *m);

#endif
