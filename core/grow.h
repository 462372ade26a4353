/* Buffers and arrays that start small and grow on demand up to a fixed
 * bound (the node's outbox, the WAL buffer, snapshot assembly, the pending
 * request queue): the bound is what a Byzantine peer can make us hold, the
 * small start is what an idle or briefly used replica costs
 * (docs/architecture.md "Bounds", docs/style.md #7). */
#ifndef BFT_GROW_H
#define BFT_GROW_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The capacity to grow `cap` to so that `need` fits: doubled as
 * often as needed, but never past `max`. The caller has checked that
 * need <= max. */
static inline size_t bft_grow_cap(size_t cap, size_t need, size_t max)
{
    if (cap == 0) cap = 1;
    while (cap < need && cap <= max / 2)
        cap *= 2;
    if (cap < need) cap = max;
    return cap < max ? cap : max;
}

/* Grow an array of `*cap` elements of `size` bytes so that it holds at
 * least `need` (1 <= need): from `first` elements when empty, then
 * doubling, never past `max`. The elements it adds are zeroed, so a caller
 * can tell never-used ones apart; the ones it had keep their contents, but
 * may move (hold elements by index, not by pointer). Returns the array,
 * the same one if it already held `need`; NULL if need > max or memory is
 * short, and then the array and *cap are unchanged. */
static inline void *bft_grow_array(void *arr, size_t size, uint32_t *cap, size_t need, size_t first,
                                   size_t max)
{
    if (need <= *cap) return arr;
    if (need > max || max > UINT32_MAX || size == 0 || max > SIZE_MAX / size) return NULL;
    size_t n = bft_grow_cap(*cap ? *cap : first, need, max);
    uint8_t *p = realloc(arr, n * size);
    if (!p) return NULL;
    memset(p + (size_t)*cap * size, 0, (n - *cap) * size);
    *cap = (uint32_t)n;
    return p;
}

/* A scratch byte buffer (an encoder's output, a WAL record) that starts
 * empty and grows on demand to the bound its user passes: a replica that
 * only ever writes small messages never holds the bound. */
struct bft_buf {
    uint8_t *p;
    size_t cap;
};

/* Make b hold at least `need` bytes (need <= max), keeping what it holds.
 * Returns b->p, or NULL (b unchanged) if need > max or memory is short. */
static inline uint8_t *bft_buf_reserve(struct bft_buf *b, size_t need, size_t max)
{
    if (need > max) return NULL;
    if (b->p && need <= b->cap) return b->p;
    size_t cap = bft_grow_cap(b->cap ? b->cap : 256, need, max);
    uint8_t *p = realloc(b->p, cap ? cap : 1);
    if (!p) return NULL;
    b->p = p;
    b->cap = cap;
    return p;
}

static inline void bft_buf_free(struct bft_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->cap = 0;
}

#endif
