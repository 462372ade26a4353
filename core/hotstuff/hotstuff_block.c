/* The block store: up to HS_BLOCKS_MAX blocks (slots in chunks of
 * HS_BLOCK_CHUNK, allocated as first used) with a hash on the block
 * digest. The tree hangs off the root, the last committed block
 * (Algorithm 3 b_exec); a block is "connected" once its parent chain reaches
 * the root, and only connected blocks are acted on (voted for, used for
 * locks and commits), because the safety rule and the commit rule both look
 * at ancestors. Blocks whose parents are missing wait here while block sync
 * fetches the parents. Committed blocks are kept for `history` heights
 * below the root so laggards can fetch them; dead forks below the root go
 * at once. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/hotstuff/hotstuff_internal.h"

static uint32_t bucket_of(const bft_digest *d)
{
    return (uint32_t)wire_le_load(d->b, 4) & (HS_BUCKETS - 1);
}

int hs_store_init(struct bft_core *c)
{
    c->bucket = malloc(HS_BUCKETS * sizeof(*c->bucket));
    if (!c->bucket) return BFT_E_NOMEM;
    memset(c->bucket, 0xff, HS_BUCKETS * sizeof(*c->bucket)); /* every bucket -1: empty */
    return BFT_E_OK;
}

void hs_store_free(struct bft_core *c)
{
    for (uint32_t k = 0; k < HS_BLOCKS_MAX / HS_BLOCK_CHUNK; k++) {
        if (!c->block_chunk[k]) continue;
        for (uint32_t i = 0; i < HS_BLOCK_CHUNK; i++)
            free(c->block_chunk[k][i].batch);
        free(c->block_chunk[k]);
        c->block_chunk[k] = NULL;
    }
    c->blocks_hwm = 0;
    free(c->bucket);
    c->bucket = NULL;
}

static int32_t find(const struct bft_core *c, const bft_digest *d)
{
    for (int32_t i = c->bucket[bucket_of(d)]; i >= 0; i = hs_blk(c, i)->hnext)
        if (hs_deq(&hs_blk(c, i)->digest, d)) return i;
    return -1;
}

struct hs_block *hs_block_get(struct bft_core *c, const bft_digest *d)
{
    int32_t i = find(c, d);
    return i >= 0 ? hs_blk(c, i) : NULL;
}

static void remove_at(struct bft_core *c, int32_t i)
{
    struct hs_block *b = hs_blk(c, i);
    assert(b->used);
    int32_t *link = &c->bucket[bucket_of(&b->digest)];
    while (*link != i)
        link = &hs_blk(c, *link)->hnext;
    *link = b->hnext;
    if (!b->connected) c->n_unconnected--;
    b->used = false;
    c->n_blocks--;
    /* The batch goes with the block: kept for the slot's next block, each
     * of the HS_BLOCKS_MAX slots would pin the largest batch it ever held,
     * not the batches of the blocks stored (issue 14). */
    free(b->batch);
    b->batch = NULL;
    b->batch_cap = 0;
    b->batch_len = 0;
}

/* Live blocks (connected, above the root) are the ones a vote, a lock or a
 * commit may still need; anything else may make room. */
static bool live(const struct bft_core *c, const struct hs_block *b)
{
    return b->connected && b->height > c->root_height;
}

static int32_t victim(const struct bft_core *c)
{
    int32_t best = -1;
    for (int32_t i = 0; i < (int32_t)c->blocks_hwm; i++) {
        const struct hs_block *b = hs_blk(c, i);
        if (!b->used || live(c, b)) continue;
        /* Committed history first (oldest), then unconnected strays. */
        if (best < 0) {
            best = i;
            continue;
        }
        const struct hs_block *o = hs_blk(c, best);
        bool bc = b->connected, oc = o->connected;
        if (bc != oc ? bc : b->height < o->height) best = i;
    }
    return best;
}

void hs_wire_block_of(const struct hs_block *b, struct hs_wire_block *w)
{
    memset(w, 0, sizeof(*w));
    w->view = b->view;
    w->height = b->height;
    w->parent = b->parent;
    w->batch_digest = b->batch_digest;
    w->digest = b->digest;
    w->justify = b->justify;
    w->batch = b->batch_len ? b->batch : NULL;
    w->batch_len = b->batch_len;
}

struct hs_block *hs_block_insert(struct bft_core *c, const struct hs_wire_block *w, uint32_t from)
{
    int32_t have = find(c, &w->digest);
    if (have >= 0) return hs_blk(c, have);
    int32_t slot = -1;
    if (c->n_blocks == HS_BLOCKS_MAX) {
        slot = victim(c);
        if (slot < 0) return NULL;
        remove_at(c, slot);
    } else {
        /* The lowest free slot: below the high-water mark, or the next. */
        for (int32_t i = 0; i < (int32_t)c->blocks_hwm; i++)
            if (!hs_blk(c, i)->used) {
                slot = i;
                break;
            }
        if (slot < 0) slot = (int32_t)c->blocks_hwm;
    }
    assert(slot >= 0 && slot < HS_BLOCKS_MAX);
    struct hs_block **chunk = &c->block_chunk[slot / HS_BLOCK_CHUNK];
    if (!*chunk && !(*chunk = calloc(HS_BLOCK_CHUNK, sizeof(**chunk)))) return NULL;
    if ((uint32_t)slot >= c->blocks_hwm) c->blocks_hwm = (uint32_t)slot + 1;
    struct hs_block *b = hs_blk(c, slot);
    if (w->batch_len > b->batch_cap) {
        uint8_t *p = realloc(b->batch, w->batch_len);
        if (!p) return NULL;
        b->batch = p;
        b->batch_cap = w->batch_len;
    }
    if (w->batch_len) memcpy(b->batch, w->batch, w->batch_len);
    b->batch_len = w->batch_len;
    b->used = true;
    b->connected = b->committed = b->proposal = b->spec = false;
    b->view = w->view;
    b->height = w->height;
    b->digest = w->digest;
    b->parent = w->parent;
    b->batch_digest = w->batch_digest;
    b->justify = w->justify;
    b->from = from;
    b->idx = slot;
    uint32_t k = bucket_of(&b->digest);
    b->hnext = c->bucket[k];
    c->bucket[k] = slot;
    c->n_blocks++;
    c->n_unconnected++;
    return b;
}

static bool parent_connected(struct bft_core *c, const struct hs_block *b)
{
    if (b->height <= c->root_height) return false;
    if (b->height == c->root_height + 1) return hs_deq(&b->parent, &c->root);
    const struct hs_block *p = hs_block_get(c, &b->parent);
    return p && p->connected && p->height + 1 == b->height && p->height > c->root_height;
}

static void mark_connected(struct bft_core *c, struct hs_block *b)
{
    b->connected = true;
    c->n_unconnected--;
}

void hs_block_try_connect(struct bft_core *c, struct hs_block *first)
{
    if (first->connected || first->spec || !parent_connected(c, first)) return;
    mark_connected(c, first);
    if (c->n_unconnected == 0) {
        /* The common case: a proposal extending what we have. */
        hs_on_connected(c, first);
        return;
    }
    /* Worklist of digests, not pointers: processing a block may insert
     * (our own proposal) and so reuse slots; and it may re-enter here, so
     * the list is not shared. Only reached while blocks wait for parents. */
    const uint32_t cap = HS_BLOCKS_MAX;
    bft_digest *work = malloc(cap * sizeof(*work));
    if (!work) {
        hs_on_connected(c, first);
        return;
    }
    uint32_t n = 0;
    work[n++] = first->digest;
    while (n > 0) {
        bft_digest d = work[--n];
        struct hs_block *b = hs_block_get(c, &d);
        if (!b || !b->connected) continue;
        hs_on_connected(c, b);
        if (c->n_unconnected == 0) continue;
        for (int32_t i = 0; i < (int32_t)c->blocks_hwm && n < cap; i++) {
            struct hs_block *k = hs_blk(c, i);
            if (!k->used || k->connected || k->spec || !hs_deq(&k->parent, &d)) continue;
            if (!parent_connected(c, k)) continue;
            mark_connected(c, k);
            work[n++] = k->digest;
        }
    }
    free(work);
}

/* After the root moves by state transfer: rebuild connectivity from it. */
void hs_store_reconnect(struct bft_core *c)
{
    for (int32_t i = 0; i < (int32_t)c->blocks_hwm; i++) {
        struct hs_block *b = hs_blk(c, i);
        if (b->used && b->connected && !b->committed) {
            b->connected = false;
            c->n_unconnected++;
        }
    }
    hs_store_gc(c);
    for (int32_t i = 0; i < (int32_t)c->blocks_hwm; i++) {
        struct hs_block *b = hs_blk(c, i);
        if (b->used && !b->connected && !b->spec && b->height == c->root_height + 1)
            hs_block_try_connect(c, b);
    }
}

void hs_store_gc(struct bft_core *c)
{
    for (int32_t i = 0; i < (int32_t)c->blocks_hwm; i++) {
        struct hs_block *b = hs_blk(c, i);
        if (!b->used) continue;
        bool dead = b->height <= c->root_height && !b->committed;
        bool old = b->committed && b->height + c->history < c->root_height;
        if (dead || old) remove_at(c, i);
    }
}

bool hs_extends(struct bft_core *c, const struct hs_block *b, const bft_digest *anc, uint64_t h)
{
    const struct hs_block *x = b;
    bft_digest d = b->digest;
    uint64_t ht = b->height;
    /* Each step goes one height down, so this ends within height - h
     * steps, and every step needs a stored block. */
    while (ht > h) {
        if (!x) return false;
        d = x->parent;
        ht = x->height - 1;
        x = hs_block_get(c, &d);
    }
    return ht == h && hs_deq(&d, anc);
}
