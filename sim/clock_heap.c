/* sim: the event heap. A binary min-heap on (at_us, order): the single
 * earliest event fires next and equal times fire in insertion order, the
 * fixed tie-break that makes a run a function of its seed (canonical/raft
 * raft_fixture_step). Bounded by SIM_EVENTS_MAX. */
#include <stdlib.h>

#include "sim/sim_internal.h"

static bool before(const struct sim_event *a, const struct sim_event *b)
{
    if (a->at_us != b->at_us) return a->at_us < b->at_us;
    return a->order < b->order;
}

void sim_heap_free(struct sim_heap *h)
{
    for (size_t i = 0; i < h->len; i++)
        free(h->ev[i].data);
    free(h->ev);
    h->ev = NULL;
    h->len = h->cap = 0;
}

int sim_heap_push(struct sim_heap *h, struct sim_event *e)
{
    if (h->len == h->cap) {
        if (h->cap >= SIM_EVENTS_MAX) return BFT_E_FULL;
        size_t cap = h->cap ? h->cap * 2 : 1024;
        if (cap > SIM_EVENTS_MAX) cap = SIM_EVENTS_MAX;
        struct sim_event *ev = realloc(h->ev, cap * sizeof(*ev));
        if (!ev) return BFT_E_NOMEM;
        h->ev = ev;
        h->cap = cap;
    }
    e->order = h->next_order++;
    size_t i = h->len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(e, &h->ev[parent])) break;
        h->ev[i] = h->ev[parent];
        i = parent;
    }
    h->ev[i] = *e;
    return BFT_E_OK;
}

bool sim_heap_pop(struct sim_heap *h, struct sim_event *out)
{
    if (h->len == 0) return false;
    *out = h->ev[0];
    struct sim_event last = h->ev[--h->len];
    size_t i = 0;
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        const struct sim_event *best = &last;
        if (l < h->len && before(&h->ev[l], best)) {
            m = l;
            best = &h->ev[l];
        }
        if (r < h->len && before(&h->ev[r], best)) m = r;
        if (m == i) break;
        h->ev[i] = h->ev[m];
        i = m;
    }
    if (h->len > 0) h->ev[i] = last;
    return true;
}
