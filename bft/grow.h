/* Buffers that start small and grow on demand up to a fixed bound (the
 * node's outbox, the WAL buffer, snapshot assembly): the bound is what a
 * Byzantine peer can make us hold, the small start is what an idle or
 * briefly used replica costs (docs/architecture.md "Bounds"). Internal to
 * bft/. */
#ifndef BFT_GROW_H
#define BFT_GROW_H

#include <stddef.h>

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

#endif
