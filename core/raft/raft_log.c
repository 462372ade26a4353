/* The in-memory Raft log: a ring of up to RAFT_LOG_CAP entries holding
 * indices [start, last]. The ring starts at RAFT_LOG_CAP_INIT slots and
 * doubles when the live entries fill it (a replica that never holds many
 * entries does not allocate and free 64K slots). Everything before `start` is covered by a snapshot
 * (diss. §5.1: "each server compacts its log independently"); `base_term`
 * remembers the term of entry start - 1 so the AppendEntries consistency
 * check (§5.3) still works right after compaction. A slot's batch buffer
 * lives while its entry does (truncated slots keep theirs for reuse). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/raft/raft_internal.h"

_Static_assert((RAFT_LOG_CAP & (RAFT_LOG_CAP - 1)) == 0, "ring size is a power of two");

_Static_assert((RAFT_LOG_CAP_INIT & (RAFT_LOG_CAP_INIT - 1)) == 0 &&
                   RAFT_LOG_CAP_INIT <= RAFT_LOG_CAP,
               "initial ring size is a power of two within the bound");

int raft_log_init(struct raft_log *l)
{
    memset(l, 0, sizeof(*l));
    l->e = calloc(RAFT_LOG_CAP_INIT, sizeof(*l->e));
    if (!l->e) return BFT_E_NOMEM;
    l->cap = RAFT_LOG_CAP_INIT;
    l->start = 1;
    l->last = 0;
    return BFT_E_OK;
}

void raft_log_free(struct raft_log *l)
{
    if (l->e)
        for (uint32_t i = 0; i < l->cap; i++)
            free(l->e[i].batch);
    free(l->e);
    l->e = NULL;
    l->cap = 0;
}

static struct raft_entry *slot(const struct raft_log *l, uint64_t i)
{
    return &l->e[i & (l->cap - 1)];
}

/* Double the ring: live entries move to their slot in the bigger ring;
 * the buffers that slots outside [start, last] kept for reuse are freed.
 * False if out of memory (the log is unchanged). */
static bool grow(struct raft_log *l)
{
    uint32_t cap = l->cap * 2;
    struct raft_entry *e = calloc(cap, sizeof(*e));
    if (!e) return false;
    for (uint64_t i = l->start; i <= l->last; i++) {
        struct raft_entry *from = slot(l, i);
        e[i & (cap - 1)] = *from;
        from->batch = NULL;
    }
    for (uint32_t i = 0; i < l->cap; i++)
        free(l->e[i].batch);
    free(l->e);
    l->e = e;
    l->cap = cap;
    return true;
}

bool raft_log_term(const struct raft_log *l, uint64_t i, uint64_t *term)
{
    if (i + 1 == l->start) {
        *term = l->base_term;
        return true;
    }
    if (i < l->start || i > l->last) return false;
    *term = slot(l, i)->term;
    return true;
}

struct raft_entry *raft_log_at(const struct raft_log *l, uint64_t i)
{
    if (i < l->start || i > l->last) return NULL;
    return slot(l, i);
}

bool raft_log_full(const struct raft_log *l)
{
    return l->last - l->start + 1 >= RAFT_LOG_CAP || l->bytes >= RAFT_LOG_BYTES_MAX;
}

bool raft_log_append(struct raft_log *l, uint64_t term, const uint8_t *batch, uint32_t len)
{
    if (raft_log_full(l)) return false;
    if (l->last - l->start + 1 >= l->cap && !grow(l)) return false;
    struct raft_entry *e = slot(l, l->last + 1);
    if (len > e->cap) {
        uint8_t *p = realloc(e->batch, len);
        if (!p) return false;
        e->batch = p;
        e->cap = len;
    }
    if (len) memcpy(e->batch, batch, len);
    e->len = len;
    e->term = term;
    l->last++;
    l->bytes += len;
    return true;
}

void raft_log_truncate(struct raft_log *l, uint64_t i)
{
    assert(i >= l->start);
    while (l->last >= i) {
        l->bytes -= slot(l, l->last)->len;
        slot(l, l->last)->len = 0;
        l->last--;
    }
}

void raft_log_compact(struct raft_log *l, uint64_t i)
{
    assert(i <= l->last);
    while (l->start <= i) {
        struct raft_entry *e = slot(l, l->start);
        l->base_term = e->term;
        l->bytes -= e->len;
        e->len = 0;
        /* Memory follows the live entries: a compacted slot gives its
         * buffer back (one allocation per entry, never per request). */
        free(e->batch);
        e->batch = NULL;
        e->cap = 0;
        l->start++;
    }
}

void raft_log_reset(struct raft_log *l, uint64_t i, uint64_t t)
{
    while (l->last >= l->start) {
        l->bytes -= slot(l, l->last)->len;
        slot(l, l->last)->len = 0;
        l->last--;
    }
    l->start = i + 1;
    l->last = i;
    l->base_term = t;
    assert(l->bytes == 0);
}

uint64_t raft_log_term_start(const struct raft_log *l, uint64_t i)
{
    uint64_t t;
    if (!raft_log_term(l, i, &t)) return l->start;
    while (i > l->start && slot(l, i - 1)->term == t)
        i--;
    return i;
}

uint64_t raft_log_last_of_term(const struct raft_log *l, uint64_t term)
{
    for (uint64_t i = l->last; i >= l->start && i > 0; i--) {
        uint64_t t = slot(l, i)->term;
        if (t == term) return i;
        if (t < term) break; /* terms never decrease along the log */
    }
    if (l->start > 1 && l->base_term == term) return l->start - 1;
    return 0;
}

void raft_log_install(struct raft_log *l, uint64_t i, uint64_t t)
{
    uint64_t have;
    if (i + 1 < l->start) return; /* already compacted past it */
    if (raft_log_term(l, i, &have) && have == t) {
        if (i >= l->start) raft_log_compact(l, i);
        return;
    }
    raft_log_reset(l, i, t);
}
