/* Pending client requests. The client library sends HotStuff requests to
 * every replica because leaders rotate each view, so every replica queues
 * them: a table of up to HS_PENDING_MAX entries, hashed on (client, first
 * req_no), in arrival (FIFO) order. A request leaves the queue when a block
 * holding it commits. While a proposal is built, requests already inside an
 * uncommitted ancestor are marked with the builder's generation number and
 * skipped, so a leader does not propose what is already in flight.
 * Buffers stay with their entry, so after warm-up queuing does not
 * allocate. The table itself starts empty and doubles (HS_PENDING_FIRST,
 * then up to HS_PENDING_MAX) as the queue first fills, so a replica that
 * queues a few requests holds a few entries (docs/architecture.md
 * "Bounds"); entries are only ever held by index, so the table may move.
 * Each client may hold only its share of the table (core/client_quota.h):
 * one client that floods gets OVERLOAD for its own new requests while the
 * others' are still queued (issue 12). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/hotstuff/hotstuff_internal.h"
#include "wire/hash.h"

/* The free entry after free entry i (i < p->cap): a never-used entry (raw
 * NULL: every used entry keeps its buffer) is followed by i + 1, which may
 * be past the entries allocated so far; see the init. */
static int32_t free_next(const struct hs_pending *p, int32_t i)
{
    if (p->e[i].raw) return p->e[i].next;
    return i + 1 < HS_PENDING_MAX ? i + 1 : -1;
}

/* Grow the table (doubling, never past HS_PENDING_MAX) so that entry i
 * exists; the new entries are zeroed, i.e. never used. False if out of
 * memory (the table is unchanged). */
static bool grow_to(struct hs_pending *p, int32_t i)
{
    size_t need = (size_t)i + 1;
    if (need <= p->cap) return true;
    size_t cap = bft_grow_cap(p->cap ? p->cap : HS_PENDING_FIRST, need, HS_PENDING_MAX);
    struct hs_req *e = realloc(p->e, cap * sizeof(*e));
    if (!e) return false;
    memset(e + p->cap, 0, (cap - p->cap) * sizeof(*e));
    p->e = e;
    p->cap = (uint32_t)cap;
    return true;
}

int hs_pending_init(struct hs_pending *p, uint32_t n_clients)
{
    memset(p, 0, sizeof(*p));
    p->bucket = malloc(HS_PENDING_BUCKETS * sizeof(*p->bucket));
    if (!p->bucket) return BFT_E_NOMEM;
    if (bft_quota_init(&p->quota, n_clients, HS_PENDING_MAX, HS_PENDING_CLIENT_MIN,
                       HS_PENDING_BYTES_MAX, HS_PENDING_CLIENT_MIN_BYTES) != 0)
        return BFT_E_NOMEM;
    /* Every bucket empty (-1, all bits set) in one memset, not a loop the
     * fuzz build instruments per comparison (as pbft_pending.c). */
    memset(p->bucket, 0xff, HS_PENDING_BUCKETS * sizeof(*p->bucket));
    /* The free list is threaded lazily: an entry that was never used (no
     * buffer yet) is followed by the next index (free_next), so creating a
     * replica does not write all HS_PENDING_MAX entries. Used entries form a
     * prefix of the table, since never-used ones are taken in index
     * order; so the table grows only when that prefix reaches its end
     * (hs_pending_add). */
    p->free_head = 0;
    p->head = p->tail = -1;
    return BFT_E_OK;
}

void hs_pending_free(struct hs_pending *p)
{
    if (p->e)
        for (uint32_t i = 0; i < p->cap && p->e[i].raw; i++)
            free(p->e[i].raw);
    free(p->e);
    free(p->bucket);
    bft_quota_free(&p->quota);
    memset(p, 0, sizeof(*p));
}

static int32_t find(const struct hs_pending *p, uint32_t client, uint64_t req_no)
{
    for (int32_t i = p->bucket[bft_hash_bucket(client, req_no, HS_PENDING_BUCKET_BITS)]; i >= 0;
         i = p->e[i].hnext)
        if (p->e[i].client == client && p->e[i].req_no == req_no) return i;
    return -1;
}

int hs_pending_add(struct hs_pending *p, const struct bft_msg *req)
{
    if (find(p, req->sender, req->seq) >= 0) return -1; /* a client retransmission */
    if (p->free_head < 0 || p->bytes + req->raw_len > HS_PENDING_BYTES_MAX ||
        !bft_quota_take(&p->quota, req->sender, req->raw_len))
        return BFT_REJECT_OVERLOAD;
    int32_t i = p->free_head;
    /* A never-used entry past the end of the table: grow it first. */
    if (!grow_to(p, i)) {
        bft_quota_put(&p->quota, req->sender, req->raw_len);
        return BFT_REJECT_OVERLOAD;
    }
    int32_t next = free_next(p, i);
    struct hs_req *r = &p->e[i];
    if (r->cap < req->raw_len) {
        uint8_t *b = realloc(r->raw, req->raw_len);
        if (!b) {
            bft_quota_put(&p->quota, req->sender, req->raw_len);
            return BFT_REJECT_OVERLOAD;
        }
        r->raw = b;
        r->cap = req->raw_len;
    }
    p->free_head = next;
    memcpy(r->raw, req->raw, req->raw_len);
    r->len = req->raw_len;
    r->client = req->sender;
    r->req_no = req->seq;
    r->gen = 0;
    r->used = true;
    uint32_t b = bft_hash_bucket(r->client, r->req_no, HS_PENDING_BUCKET_BITS);
    r->hnext = p->bucket[b];
    p->bucket[b] = i;
    r->prev = p->tail;
    r->next = -1;
    if (p->tail >= 0)
        p->e[p->tail].next = i;
    else
        p->head = i;
    p->tail = i;
    p->count++;
    p->bytes += r->len;
    return -1;
}

static void remove_at(struct hs_pending *p, int32_t i)
{
    struct hs_req *r = &p->e[i];
    if (!r->used) return;
    if (r->prev >= 0)
        p->e[r->prev].next = r->next;
    else
        p->head = r->next;
    if (r->next >= 0)
        p->e[r->next].prev = r->prev;
    else
        p->tail = r->prev;
    int32_t *link = &p->bucket[bft_hash_bucket(r->client, r->req_no, HS_PENDING_BUCKET_BITS)];
    while (*link != i)
        link = &p->e[*link].hnext;
    *link = r->hnext;
    r->used = false;
    p->count--;
    p->bytes -= r->len;
    bft_quota_put(&p->quota, r->client, r->len);
    r->prev = -1;
    r->next = p->free_head;
    p->free_head = i;
}

bool hs_pending_oldest(const struct hs_pending *p, uint32_t *client, uint64_t *req_no)
{
    if (p->head < 0) return false;
    *client = p->e[p->head].client;
    *req_no = p->e[p->head].req_no;
    return true;
}

const uint8_t *hs_pending_get(const struct hs_pending *p, uint32_t client, uint64_t req_no,
                              uint32_t *len)
{
    int32_t i = find(p, client, req_no);
    if (i < 0) return NULL;
    *len = p->e[i].len;
    return p->e[i].raw;
}

void hs_pending_clear(struct hs_pending *p)
{
    while (p->head >= 0)
        remove_at(p, p->head);
}

/* (client, first req_no) of an encoded REQUEST inside a batch. */
static bool req_key(const uint8_t *raw, size_t len, uint32_t *client, uint64_t *req_no)
{
    if (len < BFT_MSG_MIN_LEN || raw[5] != BFT_MSG_REQUEST) return false;
    *client = (uint32_t)wire_le_load(raw + 8, 4);
    *req_no = wire_le_load(raw + 32, 8);
    return true;
}

void hs_pending_remove_batch(struct hs_pending *p, const uint8_t *batch, uint32_t len)
{
    struct bft_batch_iter it;
    if (!len || bft_batch_iter_init(&it, batch, len) != BFT_E_OK) return;
    const uint8_t *raw;
    size_t rlen;
    while (bft_batch_iter_next(&it, &raw, &rlen)) {
        uint32_t client;
        uint64_t req_no;
        if (!req_key(raw, rlen, &client, &req_no)) continue;
        int32_t i = find(p, client, req_no);
        if (i >= 0) remove_at(p, i);
    }
}

void hs_pending_mark_batch(struct hs_pending *p, const uint8_t *batch, uint32_t len)
{
    struct bft_batch_iter it;
    if (!len || bft_batch_iter_init(&it, batch, len) != BFT_E_OK) return;
    const uint8_t *raw;
    size_t rlen;
    while (bft_batch_iter_next(&it, &raw, &rlen)) {
        uint32_t client;
        uint64_t req_no;
        if (!req_key(raw, rlen, &client, &req_no)) continue;
        int32_t i = find(p, client, req_no);
        if (i >= 0) p->e[i].gen = p->gen;
    }
}

uint32_t hs_pending_unmarked(const struct hs_pending *p)
{
    uint32_t k = 0;
    for (int32_t i = p->head; i >= 0; i = p->e[i].next)
        k += p->e[i].gen != p->gen;
    return k;
}

/* The requests a batch takes: the first not marked in flight, in FIFO
 * order, up to max, stopping at the first that would take the batch past
 * BFT_PAYLOAD_MAX. Returns the count and sets *bytes to the batch length
 * (u16 count | k x (u32 len | request)). */
static uint32_t batch_extent(const struct hs_pending *p, uint32_t max, size_t *bytes)
{
    size_t len = 2;
    uint32_t k = 0;
    for (int32_t i = p->head; i >= 0 && k < max && k < BFT_BATCH_MAX_ENVELOPES; i = p->e[i].next) {
        const struct hs_req *r = &p->e[i];
        if (r->gen == p->gen) continue;
        if (4 + (size_t)r->len > BFT_PAYLOAD_MAX - len) break; /* batch full */
        len += 4 + (size_t)r->len;
        k++;
    }
    *bytes = len;
    return k;
}

int hs_pending_build(struct hs_pending *p, uint32_t max, struct bft_buf *out, uint32_t *len)
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
        const struct hs_req *r = &p->e[i];
        if (r->gen == p->gen) continue;
        wire_put_u32(&w, r->len);
        wire_put_bytes(&w, r->raw, r->len);
        put++;
    }
    assert(!w.err && w.len == need);
    *len = (uint32_t)w.len;
    return BFT_E_OK;
}
