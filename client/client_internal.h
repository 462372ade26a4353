/* Private to the client library (client/client*.c): its state, shared by
 * the ordered path (client.c) and read-only requests (client_readonly.c). */
#ifndef BFT_CLIENT_CLIENT_INTERNAL_H
#define BFT_CLIENT_CLIENT_INTERNAL_H

#include <string.h>

#include "client/client.h"

#define CLIENT_CAP 4096u /* most outstanding requests */
#define CLIENT_READS 16u /* most outstanding read-only requests */
/* Read ids live in their own number space (bit 62 set): replicas never put
 * reads in their exactly-once table, so reads need no ordered number. */
#define CLIENT_READ_BIT (1ull << 62)
#define CLIENT_BACKOFF_MAX 8u /* retransmission interval cap, x retransmit_ms */

struct client_slot {
    uint64_t req_no; /* 0: free */
    uint64_t env_first;
    uint32_t replied; /* bit r: replica r's result hash is recorded */
    uint16_t op_len;
    bool done;
    /* Valid in the slot of an envelope's first request only. */
    uint16_t env_count, env_left;
    uint64_t interval_ms;
    uint64_t deadline_ms;
    uint8_t sig[BFT_SIG_LEN];
};

/* A read-only request at one of three levels (docs/reads.md).
 * Linearizable (PBFT §5.1.3): sent to every replica, answered from their
 * current state without ordering, accepted on 2f+1 matching replies (so
 * the result reflects a state a quorum holds); Raft: the leader's answer
 * (lease or ReadIndex). Quorum: Raft ReadIndex without the lease; BFT an
 * ordered request. Local: one replica's answer, if it executed a commit
 * within staleness_ms; a refusal moves the read to the next replica. If a
 * read cannot complete (conflicting replies, a timeout, every replica
 * refused), it is re-issued as an ordered request and completes like any
 * other. */
struct client_read {
    uint64_t id;       /* 0: free */
    uint64_t fallback; /* ordered req_no once fallen back, else 0 */
    uint64_t deadline_ms;
    uint32_t replied;
    uint8_t level;         /* enum bft_read_level */
    uint32_t staleness_ms; /* local only */
    uint32_t target;       /* local: the replica asked now */
    uint32_t asked;        /* local: bit r: replica r was asked */
    uint16_t op_len;
    uint8_t op[BFT_OP_MAX];
    uint8_t hash[BFT_MAX_REPLICAS][CRYPTO_DIGEST_LEN];
    uint8_t sig[BFT_SIG_LEN];
};

struct bft_client {
    struct bft_client_config cfg;
    struct client_read reads[CLIENT_READS];
    uint64_t next_read;
    struct bft_client_host host;
    uint32_t cap;     /* slots */
    uint32_t env_ops; /* ops per envelope: min(envelope, cap) */
    size_t body_max;  /* largest envelope body */
    struct client_slot *slots;
    uint8_t *ops;                         /* cap x BFT_OP_MAX */
    uint8_t (*hashes)[CRYPTO_DIGEST_LEN]; /* cap x n */
    uint8_t *body;                        /* body_max */
    uint8_t *msg;                         /* encoded envelope */
    size_t msg_cap;
    uint64_t next_req_no; /* next number to assign */
    uint64_t oldest;      /* first request of the oldest live envelope */
    uint64_t unsent;      /* first request not yet in an envelope */
    size_t unsent_body;   /* body bytes the unsent requests would take */
    uint64_t replica_view[BFT_MAX_REPLICAS];
    uint64_t view;   /* believed view (PBFT) */
    uint32_t leader; /* believed primary / leader */
    struct bft_client_stats stats;
};

static inline struct client_slot *slot_of(struct bft_client *c, uint64_t req_no)
{
    return &c->slots[req_no % c->cap];
}

static inline uint8_t *op_of(struct bft_client *c, uint64_t req_no)
{
    return c->ops + (size_t)(req_no % c->cap) * BFT_OP_MAX;
}

static inline uint8_t *hash_of(struct bft_client *c, uint64_t req_no, uint32_t replica)
{
    return c->hashes[(size_t)(req_no % c->cap) * c->cfg.n + replica];
}

static inline bool is_bft(const struct bft_client *c)
{
    return c->cfg.protocol != BFT_PROTO_RAFT;
}

/* client.c */
void client_send_all(struct bft_client *c, size_t len);
void client_send_unsent(struct bft_client *c, uint64_t now_ms);
/* A sent request still waiting for its result, or NULL. */
struct client_slot *client_pending(struct bft_client *c, uint64_t req_no);
/* Free the slots of fully completed envelopes at the bottom of the window. */
void client_advance_window(struct bft_client *c);

/* client_readonly.c */
/* The pending read a reply with this first number answers, or NULL. */
struct client_read *client_read_of(struct bft_client *c, uint64_t first);
void client_local_ask_next(struct bft_client *c, struct client_read *rd, uint64_t now_ms);
/* Order the read instead (window full: retried at the next tick past). */
void client_read_fall_back(struct bft_client *c, struct client_read *rd, uint64_t now_ms);
void client_read_reply(struct bft_client *c, struct client_read *rd, uint32_t r, const uint8_t *res,
                       size_t res_len, uint64_t now_ms);

#endif
