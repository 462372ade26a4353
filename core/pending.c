/* See pending.h. The free list is threaded lazily: an entry never used yet
 * (raw NULL: a used entry keeps its buffer) is followed by the next index,
 * so neither init nor growth writes a free list through the whole table.
 * Never-used entries are taken in index order, so the entries ever used
 * are a prefix of the table: the table grows only when that prefix
 * reaches its end, and scans in entry order stop at the first never-used
 * entry. Entry order is part of the behaviour (PBFT requeues in it, and
 * the simulator's output depends on it), so it is kept as it was in
 * pbft_pending.c. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "core/pending.h"
#include "wire/bytes.h"
#include "wire/hash.h"

int bft_pending_init(struct bft_pending *p, const struct bft_pending_limits *lim,
                     uint32_t n_clients)
{
    memset(p, 0, sizeof(*p));
    if (lim->max == 0 || lim->max > INT32_MAX || lim->bucket_bits == 0 || lim->bucket_bits > 24)
        return BFT_E_INVALID;
    p->lim = *lim;
    p->free_head = 0;
    p->head = p->tail = -1;
    size_t buckets = (size_t)1 << lim->bucket_bits;
    p->bucket = malloc(buckets * sizeof(*p->bucket));
    if (!p->bucket) return BFT_E_NOMEM;
    /* Every bucket empty (-1, all bits set) in one memset: a loop over the
     * buckets took about 24% of fuzz_node_pbft's CPU (perf) under the
     * fuzzer's per-comparison instrumentation. */
    memset(p->bucket, 0xff, buckets * sizeof(*p->bucket));
    if (bft_quota_init(&p->quota, n_clients, lim->max, lim->client_floor, lim->bytes_max,
                       lim->client_floor_bytes) != 0)
        return BFT_E_NOMEM;
    return BFT_E_OK;
}

void bft_pending_free(struct bft_pending *p)
{
    for (uint32_t i = 0; i < p->cap && p->e[i].raw; i++)
        free(p->e[i].raw);
    free(p->e);
    free(p->bucket);
    bft_quota_free(&p->quota);
    memset(p, 0, sizeof(*p));
}

static uint32_t bucket_of(const struct bft_pending *p, uint32_t client, uint64_t req_no)
{
    return bft_hash_bucket(client, req_no, p->lim.bucket_bits);
}

int32_t bft_pending_find(const struct bft_pending *p, uint32_t client, uint64_t req_no)
{
    if (!p->bucket) return -1;
    for (int32_t i = p->bucket[bucket_of(p, client, req_no)]; i >= 0; i = p->e[i].hnext)
        if (p->e[i].client == client && p->e[i].req_no == req_no) return i;
    return -1;
}

/* The free entry after free entry i; see the top of the file. */
static int32_t free_next(const struct bft_pending *p, int32_t i)
{
    if (p->e[i].raw) return p->e[i].next;
    return (uint32_t)i + 1 < p->lim.max ? i + 1 : -1;
}

static void fifo_append(struct bft_pending *p, int32_t i)
{
    struct bft_pending_req *r = &p->e[i];
    r->prev = p->tail;
    r->next = -1;
    r->queued = true;
    if (p->tail >= 0)
        p->e[p->tail].next = i;
    else
        p->head = i;
    p->tail = i;
    p->unproposed++;
}

static void fifo_unlink(struct bft_pending *p, int32_t i)
{
    struct bft_pending_req *r = &p->e[i];
    assert(r->queued && p->unproposed > 0);
    if (r->prev >= 0)
        p->e[r->prev].next = r->next;
    else
        p->head = r->next;
    if (r->next >= 0)
        p->e[r->next].prev = r->prev;
    else
        p->tail = r->prev;
    r->prev = r->next = -1;
    r->queued = false;
    p->unproposed--;
}

/* Make free entry i (the free head) exist: grow the table if i lies past
 * its end (only never-used entries do). False if memory is short. */
static bool entry_exists(struct bft_pending *p, int32_t i)
{
    struct bft_pending_req *e =
        bft_grow_array(p->e, sizeof(*e), &p->cap, (size_t)i + 1, p->lim.first, p->lim.max);
    if (!e) return false;
    p->e = e;
    return true;
}

/* Give entry r a buffer of at least len bytes, at least one byte so that a
 * used entry always has one (raw != NULL tells ever-used entries from
 * never-used ones). False if memory is short (r unchanged). */
static bool entry_buffer(struct bft_pending_req *r, uint32_t len)
{
    if (r->raw && r->cap >= len) return true;
    uint32_t cap = len ? len : 1;
    uint8_t *b = realloc(r->raw, cap);
    if (!b) return false;
    r->raw = b;
    r->cap = cap;
    return true;
}

int bft_pending_add(struct bft_pending *p, uint32_t client, uint64_t req_no, const uint8_t *raw,
                    uint32_t len)
{
    if (bft_pending_find(p, client, req_no) >= 0) return BFT_E_INVALID;
    if (!p->bucket || p->count >= p->lim.max || p->bytes + len > p->lim.bytes_max ||
        !bft_quota_take(&p->quota, client, len))
        return BFT_E_FULL;
    int32_t i = p->free_head;
    assert(i >= 0); /* fewer than max held, so some entry is free */
    /* The next free entry is read before the buffer is given: a buffer
     * makes a never-used entry look used (free_next). What grew before a
     * failure stays grown, which is harmless: it is below the bound and
     * reused. */
    if (!entry_exists(p, i)) goto nomem;
    int32_t next = free_next(p, i);
    if (!entry_buffer(&p->e[i], len)) goto nomem;
    struct bft_pending_req *r = &p->e[i];
    p->free_head = next;
    memcpy(r->raw, raw, len);
    r->len = len;
    r->client = client;
    r->req_no = req_no;
    r->mark = 0;
    r->used = true;
    uint32_t b = bucket_of(p, client, req_no);
    r->hnext = p->bucket[b];
    p->bucket[b] = i;
    fifo_append(p, i);
    p->count++;
    p->bytes += len;
    return BFT_E_OK;
nomem:
    bft_quota_put(&p->quota, client, len);
    return BFT_E_NOMEM;
}

void bft_pending_remove(struct bft_pending *p, int32_t i)
{
    struct bft_pending_req *r = &p->e[i];
    if (!r->used) return;
    if (r->queued) fifo_unlink(p, i);
    int32_t *link = &p->bucket[bucket_of(p, r->client, r->req_no)];
    while (*link != i) {
        assert(*link >= 0); /* a held entry is on its chain */
        link = &p->e[*link].hnext;
    }
    *link = r->hnext;
    r->used = false;
    bft_quota_put(&p->quota, r->client, r->len);
    assert(p->count > 0 && p->bytes >= r->len);
    p->count--;
    p->bytes -= r->len;
    r->next = p->free_head;
    p->free_head = i;
}

void bft_pending_take(struct bft_pending *p, int32_t i, uint64_t mark)
{
    struct bft_pending_req *r = &p->e[i];
    if (!r->used || !r->queued) return;
    fifo_unlink(p, i);
    r->mark = mark;
}

void bft_pending_requeue(struct bft_pending *p, int32_t i)
{
    struct bft_pending_req *r = &p->e[i];
    if (!r->used || r->queued) return;
    r->mark = 0;
    fifo_append(p, i);
}

void bft_pending_requeue_all(struct bft_pending *p)
{
    for (int32_t i = 0; (uint32_t)i < p->cap && p->e[i].raw; i++)
        bft_pending_requeue(p, i);
}

int32_t bft_pending_oldest(const struct bft_pending *p)
{
    if (p->head >= 0) return p->head;
    if (p->count == 0) return -1;
    for (int32_t i = 0; (uint32_t)i < p->cap && p->e[i].raw; i++)
        if (p->e[i].used) return i;
    return -1;
}

void bft_pending_clear(struct bft_pending *p)
{
    for (int32_t i = 0; (uint32_t)i < p->cap && p->e[i].raw; i++)
        bft_pending_remove(p, i);
}

bool bft_pending_key(const uint8_t *raw, size_t len, uint32_t *client, uint64_t *req_no)
{
    /* Header offsets (docs/wire.md): type at 5, sender at 8, seq at 32; a
     * REQUEST's seq is its first req_no. */
    if (len < BFT_MSG_MIN_LEN || raw[5] != BFT_MSG_REQUEST) return false;
    *client = (uint32_t)wire_le_load(raw + 8, 4);
    *req_no = wire_le_load(raw + 32, 8);
    return true;
}

int32_t bft_pending_batch_next(const struct bft_pending *p, struct bft_batch_iter *it)
{
    const uint8_t *raw;
    size_t len;
    while (bft_batch_iter_next(it, &raw, &len)) {
        uint32_t client;
        uint64_t req_no;
        if (!bft_pending_key(raw, len, &client, &req_no)) continue;
        int32_t i = bft_pending_find(p, client, req_no);
        if (i >= 0) return i;
    }
    return -1;
}
