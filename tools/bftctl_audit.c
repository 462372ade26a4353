/* bftctl audit --dir DIR: verify the orders audit logs of a run.
 *   - every replica's log is an intact hash chain from 32 zero bytes (each
 *     line's hash matches its fields and the previous line's hash), with
 *     no gap: orders installed by state transfer are logged too;
 *   - all replicas agree on the order behind every order number, and on
 *     the chain hash there (so on the head: the chain is the orders
 *     application's, certified in the state digest);
 *   - order numbers are gap-free over the union of the logs;
 *   - no (client, client order id) got two order numbers: the order-router
 *     incident this project exists to prevent.
 * Exit codes: 0 verified, 3 a violation, 2 usage or unreadable input. */
#include <dirent.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "crypto/crypto.h"
#include "tools/bftctl.h"

#define AUDIT_MAX_ORDERS (64u << 20)

struct slot {
    bool set;
    uint32_t replica;
    struct bft_audit_entry e;
};

struct key {
    uint32_t client;
    uint64_t coid, order_seq;
};

static int cmp_key(const void *a, const void *b)
{
    const struct key *x = a, *y = b;
    if (x->client != y->client) return x->client < y->client ? -1 : 1;
    if (x->coid != y->coid) return x->coid < y->coid ? -1 : 1;
    return (x->order_seq > y->order_seq) - (x->order_seq < y->order_seq);
}

static bool same_order(const struct bft_audit_entry *a, const struct bft_audit_entry *b)
{
    return a->client == b->client && a->client_order_id == b->client_order_id &&
           !strcmp(a->symbol, b->symbol) && a->side == b->side && a->qty == b->qty &&
           a->price == b->price && a->seq == b->seq && !memcmp(a->hash, b->hash, sizeof a->hash);
}

/* What the logs read so far say. Bounded: order numbers below
 * AUDIT_MAX_ORDERS, one key per order number. */
struct audit {
    struct slot *slots;
    size_t cap, max_seq;
    struct key *keys;
    size_t n_keys, key_cap;
    int violations, logs;
};

/* One replica's chain as it is read: the line count, the previous hash
 * and order number, orders skipped. */
struct chain {
    uint32_t replica;
    uint64_t lines, last, skipped;
    uint8_t prev[CRYPTO_DIGEST_LEN];
};

/* The chain rules for the next line e; false: the log is broken here (a
 * gap is a violation, but the chain goes on). */
static bool chain_ok(struct audit *a, struct chain *c, const struct bft_audit_entry *e)
{
    const char *why = NULL;
    if (c->lines == 1 && (e->order_seq != 1 || memcmp(e->prev, c->prev, sizeof c->prev) != 0)) {
        printf("replica %u line 1: the log starts at order %" PRIu64
               " instead of order 1 from the zero hash\n",
               c->replica, e->order_seq);
        a->violations++;
        return false;
    }
    if (c->lines > 1 && memcmp(e->prev, c->prev, sizeof c->prev) != 0)
        why = "chain broken (prev hash is not the previous line's)";
    else if (c->lines > 1 && e->order_seq <= c->last)
        why = "order number not increasing";
    if (why) {
        printf("replica %u line %" PRIu64 ": order %" PRIu64 " after %" PRIu64 ": %s\n", c->replica,
               c->lines, e->order_seq, c->last, why);
        a->violations++;
        return false;
    }
    if (c->lines > 1 && e->order_seq > c->last + 1) {
        printf("replica %u line %" PRIu64 ": orders %" PRIu64 "..%" PRIu64
               " are missing (a gap in its log)\n",
               c->replica, c->lines, c->last + 1, e->order_seq - 1);
        c->skipped += e->order_seq - c->last - 1;
        a->violations++;
    }
    return true;
}

static int grow_slots(struct audit *a, uint64_t order_seq)
{
    while (order_seq >= a->cap) {
        struct slot *p = realloc(a->slots, 2 * a->cap * sizeof *p);
        if (!p) return -1;
        memset(p + a->cap, 0, a->cap * sizeof *p);
        a->slots = p;
        a->cap *= 2;
    }
    if (a->n_keys == a->key_cap) {
        struct key *p = realloc(a->keys, 2 * a->key_cap * sizeof *p);
        if (!p) return -1;
        a->keys = p;
        a->key_cap *= 2;
    }
    return 0;
}

/* Replica r holds e at its order number: the first to say so sets it; the
 * others must agree. -1 out of memory. */
static int record(struct audit *a, uint32_t r, const struct bft_audit_entry *e)
{
    if (e->order_seq == 0 || e->order_seq >= AUDIT_MAX_ORDERS) return 0;
    if (grow_slots(a, e->order_seq) != 0) return -1;
    struct slot *s = &a->slots[e->order_seq];
    if (!s->set) {
        s->set = true;
        s->replica = r;
        s->e = *e;
        a->keys[a->n_keys++] = (struct key){e->client, e->client_order_id, e->order_seq};
    } else if (!same_order(&s->e, e)) {
        char ha[17], hb[17];
        crypto_to_hex(s->e.hash, 8, ha);
        crypto_to_hex(e->hash, 8, hb);
        printf("order %" PRIu64 ": replica %u has client %u order %" PRIu64 " %s %u@%" PRId64
               " at seq %" PRIu64 " (chain %s), replica %u has client %u order %" PRIu64
               " %s %u@%" PRId64 " at seq %" PRIu64 " (chain %s)\n",
               e->order_seq, s->replica, s->e.client, s->e.client_order_id, s->e.symbol, s->e.qty,
               s->e.price, s->e.seq, ha, r, e->client, e->client_order_id, e->symbol, e->qty,
               e->price, e->seq, hb);
        a->violations++;
    }
    if (e->order_seq > a->max_seq) a->max_seq = e->order_seq;
    return 0;
}

/* DIR/replica-r/audit.log, if there is one; -1 out of memory. */
static int read_log(struct audit *a, const char *dir, uint32_t r)
{
    char path[700], line[BFT_AUDIT_LINE_MAX + 8];
    snprintf(path, sizeof path, "%s/replica-%u/audit.log", dir, r);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    a->logs++;
    struct chain c = {.replica = r};
    int before = a->violations, rv = 0;
    while (rv == 0 && fgets(line, sizeof line, f)) {
        struct bft_audit_entry e;
        c.lines++;
        if (bft_audit_parse(line, &e) != 0) {
            printf("replica %u line %" PRIu64
                   ": hash does not match its fields (tampered or torn)\n",
                   r, c.lines);
            a->violations++;
            break;
        }
        if (!chain_ok(a, &c, &e)) break;
        memcpy(c.prev, e.hash, sizeof c.prev);
        c.last = e.order_seq;
        rv = record(a, r, &e);
    }
    fclose(f);
    char head[17] = "-";
    if (c.lines) crypto_to_hex(c.prev, 8, head);
    printf("replica %u: %" PRIu64 " orders, chain %s, head order %" PRIu64 " %s%s\n", r, c.lines,
           a->violations > before ? "BROKEN" : "intact", c.last, head,
           c.skipped ? " (with gaps)" : "");
    return rv;
}

/* Over the union of the logs: numbers gap-free, one number per order. */
static void check_union(struct audit *a)
{
    uint64_t gaps = 0;
    for (uint64_t s = 1; s <= a->max_seq; s++)
        if (!a->slots[s].set) gaps++;
    if (gaps) {
        printf("order numbers 1..%zu: %" PRIu64 " missing from every log\n", a->max_seq, gaps);
        a->violations++;
    }
    qsort(a->keys, a->n_keys, sizeof *a->keys, cmp_key);
    for (size_t i = 1; i < a->n_keys; i++) {
        const struct key *k = &a->keys[i], *p = &a->keys[i - 1];
        if (k->client == p->client && k->coid == p->coid) {
            printf("client %u order %" PRIu64 " got two order numbers: %" PRIu64 " and %" PRIu64
                   "\n",
                   k->client, k->coid, p->order_seq, k->order_seq);
            a->violations++;
        }
    }
}

static const struct cli_opt k_opts[] = {
    {"dir", 0, "DIR", CLI_STR, 0, 0, 0, NULL, "a run directory: DIR/replica-I/audit.log"},
};
static const struct cli_spec k_spec = {
    .prog = "bftctl audit",
    .synopsis = "bftctl audit --dir DIR",
    .opts = k_opts,
    .n_opts = 1,
    .outro = "Exit codes: 0 verified, 3 a violation (each one named), 2 usage, unreadable\n"
             "input, or no log found.\n",
};

static int verdict(struct audit *a, const char *dir)
{
    if (!a->logs) {
        fprintf(stderr, "bftctl audit: no replica-*/audit.log under %s\n", dir);
        return BFT_EXIT_USAGE;
    }
    check_union(a);
    if (a->violations) {
        printf("AUDIT FAILED: %d violation(s)\n", a->violations);
        return BFT_EXIT_UNSAFE;
    }
    printf("audit ok: %zu orders, numbers 1..%zu gap-free and unique, %d replica logs agree\n",
           a->max_seq, a->max_seq, a->logs);
    return BFT_EXIT_OK;
}

int cmd_audit(int argc, char **argv)
{
    const char *dir = NULL;
    enum cli_result cr = cli_parse(&k_spec, argc, argv, &dir, NULL);
    if (cr != CLI_PARSED) return cr == CLI_HELP ? BFT_EXIT_OK : BFT_EXIT_USAGE;
    if (!dir) {
        fprintf(stderr, "bftctl audit: --dir is required\n");
        cli_usage(&k_spec, stderr);
        return BFT_EXIT_USAGE;
    }
    struct audit a = {.cap = 1u << 16, .key_cap = 1u << 16};
    a.slots = calloc(a.cap, sizeof *a.slots);
    a.keys = malloc(a.key_cap * sizeof *a.keys);
    bool oom = !a.slots || !a.keys;
    for (uint32_t r = 0; !oom && r < BFT_MAX_REPLICAS; r++)
        oom = read_log(&a, dir, r) != 0;
    int rc = BFT_EXIT_USAGE;
    if (oom) /* no verdict on logs we could not hold */
        fprintf(stderr, "bftctl audit: out of memory\n");
    else
        rc = verdict(&a, dir);
    free(a.slots);
    free(a.keys);
    return rc;
}
