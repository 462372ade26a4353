/* The bounded queue of client requests a core holds until they commit: one
 * for PBFT and HotStuff (docs/architecture.md "Bounds", docs/style.md #7).
 *
 * It holds at most `max` requests and `bytes_max` bytes, and each client
 * at most its share (core/client_quota.h), so a flooding client, honest or
 * not, gets OVERLOAD for its own requests while the others' still fit.
 * Requests are found by (client, first req_no) through a hash
 * (wire/hash.h bft_hash_bucket) and kept in arrival (FIFO) order.
 *
 * A core may take a request out of the FIFO while a proposal carries it
 * (bft_pending_take: PBFT's primary does, with the proposal's seq as the
 * mark) and put it back if that proposal is lost (bft_pending_requeue).
 * `mark` and `gen` are the core's, the queue only keeps them: HotStuff tags
 * the requests of uncommitted ancestors with the current `gen` and bumps
 * it to untag them all at once.
 *
 * Memory: the entry table is allocated with the first request (`first`
 * entries) and doubles up to `max` as the queue fills (core/grow.h), so an
 * idle replica holds only the hash buckets. A request's buffer stays with
 * its entry when the entry is freed, so after warm-up queuing does not
 * allocate. The table may move as it grows: entries are held by index,
 * never by pointer. Pure: no I/O, clock or randomness (docs/style.md #1). */
#ifndef BFT_CORE_PENDING_H
#define BFT_CORE_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/client_quota.h"
#include "wire/wire.h"

struct bft_pending_limits {
    uint32_t max;          /* requests held at most (< 2^31: entries are int32_t) */
    uint32_t first;        /* entries allocated with the first request */
    uint32_t bucket_bits;  /* 2^bucket_bits hash buckets */
    uint64_t bytes_max;    /* bytes held at most */
    uint32_t client_floor; /* requests one client may always hold (client_quota.h) */
    uint64_t client_floor_bytes;
};

struct bft_pending_req {
    uint32_t client;
    uint64_t req_no;
    uint64_t mark; /* the core's (0 when added): PBFT's proposal seq, HotStuff's gen */
    uint8_t *raw;  /* the encoded REQUEST, len bytes, in a buffer of cap */
    uint32_t len, cap;
    int32_t prev, next; /* the FIFO while queued; next is the free list while unused */
    int32_t hnext;      /* the hash chain */
    bool used;          /* held */
    bool queued;        /* in the FIFO, i.e. not taken by a proposal */
};

struct bft_pending {
    struct bft_pending_limits lim;
    struct bft_pending_req *e; /* cap entries, NULL until the first request */
    uint32_t cap;
    int32_t *bucket;
    int32_t free_head, head, tail;
    uint32_t count;                /* held */
    uint32_t unproposed;           /* held and in the FIFO */
    uint64_t bytes;                /* held */
    uint64_t gen;                  /* the core's, see above */
    struct bft_client_quota quota; /* one client's share */
};

/* n_clients: for the per-client quota (0: unknown, no quota). BFT_E_OK,
 * BFT_E_INVALID for limits it cannot hold, or BFT_E_NOMEM (then
 * bft_pending_free is still safe). */
int bft_pending_init(struct bft_pending *p, const struct bft_pending_limits *lim,
                     uint32_t n_clients);
void bft_pending_free(struct bft_pending *p);

/* Queue a copy of raw[0..len) (the request is borrowed) as (client,
 * req_no), at the tail of the FIFO. Returns
 *   BFT_E_OK       queued;
 *   BFT_E_INVALID  (client, req_no) is already held: a retransmission,
 *                  which the caller decides whether to count;
 *   BFT_E_FULL     the queue or the client's share is at its bound;
 *   BFT_E_NOMEM    memory is short: a local shortage the caller counts as
 *                  overload, never as the client's fault (docs/style.md #14).
 * Nothing changes unless it returns BFT_E_OK. */
int bft_pending_add(struct bft_pending *p, uint32_t client, uint64_t req_no, const uint8_t *raw,
                    uint32_t len);
/* The entry holding (client, req_no), or -1. */
int32_t bft_pending_find(const struct bft_pending *p, uint32_t client, uint64_t req_no);
/* Drop entry i (queued or taken); nothing if it is not held. */
void bft_pending_remove(struct bft_pending *p, int32_t i);
/* Take queued entry i out of the FIFO into the proposal `mark` (non-zero);
 * nothing if it is not held or already taken. */
void bft_pending_take(struct bft_pending *p, int32_t i, uint64_t mark);
/* Put taken entry i back at the tail of the FIFO (mark 0); nothing if it is
 * not held or not taken. */
void bft_pending_requeue(struct bft_pending *p, int32_t i);
/* Requeue every taken entry, in entry order. */
void bft_pending_requeue_all(struct bft_pending *p);
/* The head of the FIFO, else the first held entry in entry order, else -1. */
int32_t bft_pending_oldest(const struct bft_pending *p);
/* Drop every entry, in entry order. */
void bft_pending_clear(struct bft_pending *p);

/* (client, first req_no) from the header of an encoded REQUEST (a batch
 * element); false if it is not one. */
bool bft_pending_key(const uint8_t *raw, size_t len, uint32_t *client, uint64_t *req_no);
/* The next request of a batch that the queue holds: its entry, or -1 when
 * the batch has no more. Start `it` with bft_batch_iter_init. */
int32_t bft_pending_batch_next(const struct bft_pending *p, struct bft_batch_iter *it);

#endif
