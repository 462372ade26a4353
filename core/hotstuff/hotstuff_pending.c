/* HotStuff's pending client requests: the shared bounded queue
 * (core/pending.h) with HotStuff's limits, and how a leader cuts a batch
 * from it. The client library sends HotStuff requests to every replica
 * because leaders rotate each view, so every replica queues them; a
 * request leaves the queue when a block holding it commits. While a
 * proposal is built, requests already inside an uncommitted ancestor are
 * marked with the queue's generation number and skipped, so a leader does
 * not propose what is already in flight; bumping the generation unmarks
 * them all at once. */
#include <assert.h>

#include "core/hotstuff/hotstuff_internal.h"

static const struct bft_pending_limits hs_pending_limits = {
    .max = HS_PENDING_MAX,
    .first = HS_PENDING_FIRST,
    .bucket_bits = HS_PENDING_BUCKET_BITS,
    .bytes_max = HS_PENDING_BYTES_MAX,
    .client_floor = HS_PENDING_CLIENT_MIN,
    .client_floor_bytes = HS_PENDING_CLIENT_MIN_BYTES,
};

int hs_pending_init(struct bft_pending *p, uint32_t n_clients)
{
    return bft_pending_init(p, &hs_pending_limits, n_clients);
}

void hs_pending_free(struct bft_pending *p)
{
    bft_pending_free(p);
}

int hs_pending_add(struct bft_pending *p, const struct bft_msg *req)
{
    switch (bft_pending_add(p, req->sender, req->seq, req->raw, req->raw_len)) {
    case BFT_E_OK:
    case BFT_E_INVALID: /* already queued: a client retransmission */
        return BFT_REJECT_NONE;
    default:
        /* Full, over the client's share (client_quota.h), or short of
         * memory: all local, so overload (docs/style.md #14). */
        return BFT_REJECT_OVERLOAD;
    }
}

bool hs_pending_oldest(const struct bft_pending *p, uint32_t *client, uint64_t *req_no)
{
    int32_t i = bft_pending_oldest(p);
    if (i < 0) return false;
    *client = p->e[i].client;
    *req_no = p->e[i].req_no;
    return true;
}

const uint8_t *hs_pending_get(const struct bft_pending *p, uint32_t client, uint64_t req_no,
                              uint32_t *len)
{
    int32_t i = bft_pending_find(p, client, req_no);
    if (i < 0) return NULL;
    *len = p->e[i].len;
    return p->e[i].raw;
}

void hs_pending_clear(struct bft_pending *p)
{
    bft_pending_clear(p);
}

void hs_pending_remove_batch(struct bft_pending *p, const uint8_t *batch, uint32_t len)
{
    struct bft_batch_iter it;
    if (!len || bft_batch_iter_init(&it, batch, len) != BFT_E_OK) return;
    for (int32_t i; (i = bft_pending_batch_next(p, &it)) >= 0;)
        bft_pending_remove(p, i);
}

void hs_pending_mark_batch(struct bft_pending *p, const uint8_t *batch, uint32_t len)
{
    struct bft_batch_iter it;
    if (!len || bft_batch_iter_init(&it, batch, len) != BFT_E_OK) return;
    for (int32_t i; (i = bft_pending_batch_next(p, &it)) >= 0;)
        p->e[i].mark = p->gen;
}

uint32_t hs_pending_unmarked(const struct bft_pending *p)
{
    uint32_t k = 0;
    for (int32_t i = p->head; i >= 0; i = p->e[i].next)
        k += p->e[i].mark != p->gen;
    return k;
}

/* The requests a batch takes: the first not marked in flight, in FIFO
 * order, up to max, stopping at the first that would take the batch past
 * BFT_PAYLOAD_MAX. Returns the count and sets *bytes to the batch length
 * (u16 count | k x (u32 len | request)). */
static uint32_t batch_extent(const struct bft_pending *p, uint32_t max, size_t *bytes)
{
    size_t len = 2;
    uint32_t k = 0;
    for (int32_t i = p->head; i >= 0 && k < max && k < BFT_BATCH_MAX_ENVELOPES; i = p->e[i].next) {
        const struct bft_pending_req *r = &p->e[i];
        if (r->mark == p->gen) continue;
        if (4 + (size_t)r->len > BFT_PAYLOAD_MAX - len) break; /* batch full */
        len += 4 + (size_t)r->len;
        k++;
    }
    *bytes = len;
    return k;
}

int hs_pending_build(struct bft_pending *p, uint32_t max, struct bft_buf *out, uint32_t *len)
{
    *len = 0;
    size_t need;
    uint32_t k = batch_extent(p, max, &need);
    if (k == 0) return BFT_E_OK;
    /* Measured first, so the scratch grows to this batch, not to the
     * bound. */
    uint8_t *o = bft_buf_reserve(out, need, BFT_PAYLOAD_MAX);
    if (!o) return BFT_E_NOMEM;
    struct wire_wr w;
    wire_wr_init(&w, o, out->cap);
    wire_put_u16(&w, (uint16_t)k);
    uint32_t put = 0;
    for (int32_t i = p->head; i >= 0 && put < k; i = p->e[i].next) {
        const struct bft_pending_req *r = &p->e[i];
        if (r->mark == p->gen) continue;
        wire_put_u32(&w, r->len);
        wire_put_bytes(&w, r->raw, r->len);
        put++;
    }
    assert(!w.err && w.len == need);
    *len = (uint32_t)w.len;
    return BFT_E_OK;
}
