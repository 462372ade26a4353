/* PBFT's pending client requests: the shared bounded queue
 * (core/pending.h) with PBFT's limits and words. A backup keeps every
 * request it relays, to watch the primary (§4.4); the primary proposes
 * them in FIFO order and takes each out of the FIFO while its batch is in
 * flight (mark = the batch's seq). */
#include "core/pbft/pbft_internal.h"

static const struct bft_pending_limits pbft_pending_limits = {
    .max = PBFT_PENDING_MAX,
    .first = PBFT_PENDING_FIRST,
    .bucket_bits = PBFT_PENDING_BUCKET_BITS,
    .bytes_max = PBFT_PENDING_BYTES_MAX,
    .client_floor = PBFT_QUOTA_FLOOR,
    .client_floor_bytes = PBFT_QUOTA_FLOOR_BYTES,
};

int pbft_pending_init(struct bft_pending *p, uint32_t n_clients)
{
    return bft_pending_init(p, &pbft_pending_limits, n_clients);
}

void pbft_pending_free(struct bft_pending *p)
{
    bft_pending_free(p);
}

int32_t pbft_pending_find(const struct bft_pending *p, uint32_t client, uint64_t req_no)
{
    return bft_pending_find(p, client, req_no);
}

int pbft_pending_add(struct bft_pending *p, const struct bft_msg *req)
{
    switch (bft_pending_add(p, req->sender, req->seq, req->raw, req->raw_len)) {
    case BFT_E_OK:
        return BFT_REJECT_NONE;
    case BFT_E_INVALID:
        return BFT_REJECT_DUPLICATE; /* the caller relays it again */
    default:
        /* Full, over the client's share (client_quota.h), or short of
         * memory: all local, so overload (docs/style.md #14). */
        return BFT_REJECT_OVERLOAD;
    }
}

void pbft_pending_remove(struct bft_pending *p, int32_t i)
{
    bft_pending_remove(p, i);
}

void pbft_pending_mark(struct bft_pending *p, int32_t i, uint64_t seq)
{
    bft_pending_take(p, i, seq);
}

/* Put one proposed request back in the queue: the batch that carried it
 * lost its seq to another batch (fetched with a commit certificate). */
void pbft_pending_requeue(struct bft_pending *p, int32_t i)
{
    bft_pending_requeue(p, i);
}

/* A new view: every proposal of the old one is void, so every request is
 * waiting again, in entry order. */
void pbft_pending_unmark_all(struct bft_pending *p)
{
    bft_pending_requeue_all(p);
}

/* The oldest request not yet in a batch, else any held one, else -1. */
int32_t pbft_pending_oldest(const struct bft_pending *p)
{
    return bft_pending_oldest(p);
}

void pbft_pending_clear(struct bft_pending *p)
{
    bft_pending_clear(p);
}

bool pbft_req_key(const uint8_t *raw, size_t len, uint32_t *client, uint64_t *req_no)
{
    return bft_pending_key(raw, len, client, req_no);
}
