/* Pending client requests: a table of at most PBFT_PENDING_MAX entries with
 * a hash on (client, first req_no) and a FIFO of requests not yet in any
 * in-flight batch. Buffers are kept when an entry is freed and reused, so
 * after warm-up queuing a request does not allocate. The table itself
 * starts at PBFT_PENDING_FIRST entries and doubles when a request needs an
 * entry past its end (docs/architecture.md "Bounds"): everything refers to
 * entries by index, so moving the table is safe. */
#include <stdlib.h>
#include <string.h>

#include "core/pbft/pbft_internal.h"
#include "wire/hash.h"

/* The free entry after free entry i: a never-used entry (raw NULL: every
 * used entry keeps its buffer) is followed by i + 1, see the init. */
static int32_t free_next(const struct pbft_pending *p, int32_t i)
{
    if (p->e[i].raw) return p->e[i].next;
    return i + 1 < PBFT_PENDING_MAX ? i + 1 : -1;
}

/* Make entry i exist: grow the table (doubling, up to PBFT_PENDING_MAX)
 * with never-used entries. Used entries are a prefix, so only never-used
 * ones lie past the old end. */
static bool ensure_entry(struct pbft_pending *p, int32_t i)
{
    if ((uint32_t)i < p->cap) return true;
    size_t cap = bft_grow_cap(p->cap, (size_t)i + 1, PBFT_PENDING_MAX);
    struct pbft_req *e = realloc(p->e, cap * sizeof(*e));
    if (!e) return false;
    memset(e + p->cap, 0, (cap - p->cap) * sizeof(*e));
    p->e = e;
    p->cap = (uint32_t)cap;
    return true;
}

int pbft_pending_init(struct pbft_pending *p, uint32_t n_clients)
{
    memset(p, 0, sizeof(*p));
    p->e = calloc(PBFT_PENDING_FIRST, sizeof(*p->e));
    p->cap = PBFT_PENDING_FIRST;
    p->bucket = malloc(PBFT_PENDING_BUCKETS * sizeof(*p->bucket));
    if (!p->e || !p->bucket) return BFT_E_NOMEM;
    if (bft_quota_init(&p->quota, n_clients, PBFT_PENDING_MAX, PBFT_QUOTA_FLOOR,
                       PBFT_PENDING_BYTES_MAX, PBFT_QUOTA_FLOOR_BYTES) != 0)
        return BFT_E_NOMEM;
    /* Every bucket empty (-1, all bits set) in one memset: a loop over the
     * 8,192 buckets took about 24% of fuzz_node_pbft's CPU (perf) under the
     * fuzzer's per-comparison instrumentation. */
    memset(p->bucket, 0xff, PBFT_PENDING_BUCKETS * sizeof(*p->bucket));
    /* The free list is threaded lazily: an entry that was never used (no
     * buffer yet) is followed by the next index (free_next), so creating a
     * replica does not write every entry. Used entries form a
     * prefix of the table, since never-used ones are taken in index
     * order. */
    p->free_head = 0;
    p->head = p->tail = -1;
    return BFT_E_OK;
}

void pbft_pending_free(struct pbft_pending *p)
{
    if (p->e)
        for (uint32_t i = 0; i < p->cap && p->e[i].raw; i++)
            free(p->e[i].raw);
    free(p->e);
    free(p->bucket);
    bft_quota_free(&p->quota);
    memset(p, 0, sizeof(*p));
}

int32_t pbft_pending_find(const struct pbft_pending *p, uint32_t client, uint64_t req_no)
{
    for (int32_t i = p->bucket[bft_hash_bucket(client, req_no, PBFT_PENDING_BUCKET_BITS)]; i >= 0;
         i = p->e[i].hnext)
        if (p->e[i].client == client && p->e[i].req_no == req_no) return i;
    return -1;
}

static void fifo_append(struct pbft_pending *p, int32_t i)
{
    p->e[i].prev = p->tail;
    p->e[i].next = -1;
    if (p->tail >= 0)
        p->e[p->tail].next = i;
    else
        p->head = i;
    p->tail = i;
    p->unproposed++;
}

static void fifo_unlink(struct pbft_pending *p, int32_t i)
{
    struct pbft_req *r = &p->e[i];
    if (r->prev >= 0)
        p->e[r->prev].next = r->next;
    else
        p->head = r->next;
    if (r->next >= 0)
        p->e[r->next].prev = r->prev;
    else
        p->tail = r->prev;
    r->prev = r->next = -1;
    p->unproposed--;
}

int pbft_pending_add(struct pbft_pending *p, const struct bft_msg *req)
{
    if (pbft_pending_find(p, req->sender, req->seq) >= 0) return BFT_REJECT_DUPLICATE;
    /* Bounded, and fair: one client gets at most its share (client_quota.h). */
    if (p->free_head < 0 || p->bytes + req->raw_len > PBFT_PENDING_BYTES_MAX ||
        !bft_quota_take(&p->quota, req->sender, req->raw_len))
        return BFT_REJECT_OVERLOAD;
    int32_t i = p->free_head;
    if (!ensure_entry(p, i)) {
        bft_quota_put(&p->quota, req->sender, req->raw_len);
        return BFT_REJECT_OVERLOAD;
    }
    int32_t next = free_next(p, i);
    struct pbft_req *r = &p->e[i];
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
    r->proposed = 0;
    r->used = true;
    uint32_t b = bft_hash_bucket(r->client, r->req_no, PBFT_PENDING_BUCKET_BITS);
    r->hnext = p->bucket[b];
    p->bucket[b] = i;
    fifo_append(p, i);
    p->count++;
    p->bytes += r->len;
    return -1;
}

void pbft_pending_remove(struct pbft_pending *p, int32_t i)
{
    struct pbft_req *r = &p->e[i];
    if (!r->used) return;
    if (!r->proposed) fifo_unlink(p, i);
    int32_t *link = &p->bucket[bft_hash_bucket(r->client, r->req_no, PBFT_PENDING_BUCKET_BITS)];
    while (*link != i)
        link = &p->e[*link].hnext;
    *link = r->hnext;
    r->used = false;
    bft_quota_put(&p->quota, r->client, r->len);
    p->count--;
    p->bytes -= r->len;
    r->next = p->free_head;
    p->free_head = i;
}

void pbft_pending_mark(struct pbft_pending *p, int32_t i, uint64_t seq)
{
    struct pbft_req *r = &p->e[i];
    if (!r->used || r->proposed) return;
    fifo_unlink(p, i);
    r->proposed = seq;
}

/* Put one proposed request back in the queue: the batch that carried it
 * lost its seq to another batch (fetched with a commit certificate). */
void pbft_pending_requeue(struct pbft_pending *p, int32_t i)
{
    struct pbft_req *r = &p->e[i];
    if (!r->used || !r->proposed) return;
    r->proposed = 0;
    fifo_append(p, i);
}

/* The oldest request not yet in a batch, else any queued one, else -1. */
int32_t pbft_pending_oldest(const struct pbft_pending *p)
{
    if (p->head >= 0) return p->head;
    if (p->count == 0) return -1;
    /* Scans stop at the first never-used entry (see the init). */
    for (int32_t i = 0; (uint32_t)i < p->cap && p->e[i].raw; i++)
        if (p->e[i].used) return i;
    return -1;
}

void pbft_pending_unmark_all(struct pbft_pending *p)
{
    for (int32_t i = 0; (uint32_t)i < p->cap && p->e[i].raw; i++) {
        struct pbft_req *r = &p->e[i];
        if (r->used && r->proposed) {
            r->proposed = 0;
            fifo_append(p, i);
        }
    }
}

void pbft_pending_clear(struct pbft_pending *p)
{
    for (int32_t i = 0; (uint32_t)i < p->cap && p->e[i].raw; i++)
        if (p->e[i].used) pbft_pending_remove(p, i);
}

bool pbft_req_key(const uint8_t *raw, size_t len, uint32_t *client, uint64_t *req_no)
{
    if (len < BFT_MSG_MIN_LEN || raw[5] != BFT_MSG_REQUEST) return false;
    *client = (uint32_t)pbft_le(raw + 8, 4);
    *req_no = pbft_le(raw + 32, 8);
    return true;
}
