/* See loadgen_ledger.h. */
#include "tools/loadgen_ledger.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

bool ledger_add(struct ledger *l, uint32_t client, uint64_t req_no, uint64_t client_order_id,
                uint64_t order_seq, uint64_t seq)
{
    if (l->n == l->cap) {
        uint64_t cap = l->cap ? l->cap * 2 : 4096;
        if (cap > LEDGER_MAX_ACKS) cap = LEDGER_MAX_ACKS;
        struct ledger_row *p = cap > l->cap ? realloc(l->rows, cap * sizeof *p) : NULL;
        if (!p) {
            l->dropped++;
            return false;
        }
        l->rows = p;
        l->cap = cap;
    }
    l->rows[l->n++] = (struct ledger_row){.client = client,
                                          .req_no = (uint32_t)req_no,
                                          .client_order_id = client_order_id,
                                          .order_seq = order_seq,
                                          .seq = seq};
    return true;
}

void ledger_free(struct ledger *l)
{
    free(l->rows);
    memset(l, 0, sizeof *l);
}

static int cmp_row(const void *a, const void *b)
{
    const struct ledger_row *x = a, *y = b;
    if (x->client != y->client) return x->client < y->client ? -1 : 1;
    if (x->client_order_id != y->client_order_id)
        return x->client_order_id < y->client_order_id ? -1 : 1;
    return (x->order_seq > y->order_seq) - (x->order_seq < y->order_seq);
}

void ledger_sort(struct ledger *l)
{
    if (l->n) qsort(l->rows, l->n, sizeof *l->rows, cmp_row);
}

/* First row of the log with (client, coid) >= the key. */
static uint64_t lower_bound(const struct ledger *log, uint32_t client, uint64_t coid)
{
    uint64_t lo = 0, hi = log->n;
    while (lo < hi) { /* bounded: log2(n) steps */
        uint64_t mid = lo + (hi - lo) / 2;
        const struct ledger_row *r = &log->rows[mid];
        if (r->client < client || (r->client == client && r->client_order_id < coid))
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* Keep the first violation, or else the first problem of any kind. */
static void example(struct ledger_result *o, const char *what, bool violation, uint32_t replica,
                    const struct ledger_row *ack, uint64_t log_seq)
{
    if (o->have_example && (o->ex_violation || !violation)) return;
    o->have_example = true;
    o->ex_violation = violation;
    o->ex_replica = replica;
    o->ex_client = ack->client;
    o->ex_coid = ack->client_order_id;
    o->ex_ack_seq = ack->order_seq;
    o->ex_log_seq = log_seq;
    snprintf(o->ex_what, sizeof o->ex_what, "%s", what);
}

void ledger_check(const struct ledger *acks, const struct ledger_replica *reps, uint32_t n,
                  struct ledger_result *o)
{
    memset(o, 0, sizeof *o);
    o->acks = acks->n;
    for (uint32_t k = 0; k < n; k++) {
        const struct ledger_replica *rp = &reps[k];
        const struct ledger *log = rp->log;
        uint64_t hi_seq = 0;
        for (uint64_t i = 0; i < log->n; i++)
            if (log->rows[i].order_seq > hi_seq) hi_seq = log->rows[i].order_seq;
        for (uint64_t a = 0; a < acks->n; a++) {
            const struct ledger_row *ack = &acks->rows[a];
            o->checked++;
            uint64_t i = lower_bound(log, ack->client, ack->client_order_id);
            uint64_t same = 0, other = 0, other_seq = 0;
            for (; i < log->n && log->rows[i].client == ack->client &&
                   log->rows[i].client_order_id == ack->client_order_id;
                 i++) {
                if (log->rows[i].order_seq == ack->order_seq)
                    same++;
                else if (!other++)
                    other_seq = log->rows[i].order_seq;
            }
            if (other) {
                o->mismatch++;
                example(o, "mismatch", true, rp->id, ack, other_seq);
            } else if (same == 1) {
                o->ok++;
            } else if (same > 1) {
                if (rp->killed)
                    o->repeated_killed++;
                else
                    o->repeated_live++;
                example(o, "repeated", true, rp->id, ack, ack->order_seq);
            } else if (ack->order_seq > hi_seq) {
                o->not_reached++; /* the log ends before it: down or behind */
            } else {
                if (rp->killed)
                    o->missing_killed++;
                else
                    o->missing_live++;
                example(o, "missing", true, rp->id, ack, 0);
            }
        }
    }
}

bool ledger_violated(const struct ledger_result *r)
{
    return r->mismatch || r->missing_live || r->repeated_live || r->missing_killed ||
           r->repeated_killed;
}

bool ledger_clean(const struct ledger_result *r)
{
    return !ledger_violated(r) && !r->missing_killed && !r->repeated_killed;
}
