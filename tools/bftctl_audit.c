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
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
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
           a->price == b->price && a->seq == b->seq && !memcmp(a->hash, b->hash, 32);
}

int cmd_audit(int argc, char **argv)
{
    static const struct option lo[] = {{"dir", 1, 0, 'd'}, {"help", 0, 0, 'h'}, {0, 0, 0, 0}};
    const char *dir = NULL;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        if (ch == 'd')
            dir = optarg;
        else if (ch == 'h') {
            printf("usage: bftctl audit --dir DIR   (a run directory: DIR/replica-I/audit.log)\n");
            return BFT_EXIT_OK;
        } else {
            fprintf(stderr, "bftctl audit: unknown or incomplete option '%s'\n", argv[optind - 1]);
            return BFT_EXIT_USAGE;
        }
    }
    if (!dir || optind < argc) {
        fprintf(stderr, "usage: bftctl audit --dir DIR\n");
        return BFT_EXIT_USAGE;
    }
    size_t cap = 1u << 16, max_seq = 0, n_keys = 0, key_cap = 1u << 16;
    struct slot *slots = calloc(cap, sizeof *slots);
    struct key *keys = malloc(key_cap * sizeof *keys);
    if (!slots || !keys) return BFT_EXIT_USAGE;
    int violations = 0, logs = 0;
    for (uint32_t r = 0; r < BFT_MAX_REPLICAS; r++) {
        char path[700];
        snprintf(path, sizeof path, "%s/replica-%u/audit.log", dir, r);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        logs++;
        char line[BFT_AUDIT_LINE_MAX + 8];
        uint8_t prev[32] = {0};
        uint64_t lines = 0, last = 0, skipped = 0;
        int before = violations;
        bool first = true;
        while (fgets(line, sizeof line, f)) {
            struct bft_audit_entry e;
            lines++;
            if (bft_audit_parse(line, &e) != 0) {
                printf("replica %u line %" PRIu64
                       ": hash does not match its fields (tampered or torn)\n",
                       r, lines);
                violations++;
                break;
            }
            if (first && (e.order_seq != 1 || memcmp(e.prev, prev, 32) != 0)) {
                printf("replica %u line 1: the log starts at order %" PRIu64
                       " instead of order 1 from the zero hash\n",
                       r, e.order_seq);
                violations++;
                break;
            }
            if (!first && memcmp(e.prev, prev, 32) != 0) {
                printf("replica %u line %" PRIu64
                       ": chain broken (prev hash is not the previous line's)\n",
                       r, lines);
                violations++;
                break;
            }
            if (!first && e.order_seq <= last) {
                printf("replica %u line %" PRIu64 ": order %" PRIu64 " after %" PRIu64
                       " (not increasing)\n",
                       r, lines, e.order_seq, last);
                violations++;
                break;
            }
            if (!first && e.order_seq > last + 1) {
                printf("replica %u line %" PRIu64 ": orders %" PRIu64 "..%" PRIu64
                       " are missing (a gap in its log)\n",
                       r, lines, last + 1, e.order_seq - 1);
                skipped += e.order_seq - last - 1;
                violations++;
            }
            first = false;
            memcpy(prev, e.hash, 32);
            last = e.order_seq;
            if (e.order_seq == 0 || e.order_seq >= AUDIT_MAX_ORDERS) continue;
            while (e.order_seq >= cap) {
                struct slot *p = realloc(slots, 2 * cap * sizeof *p);
                if (!p) return BFT_EXIT_USAGE;
                memset(p + cap, 0, cap * sizeof *p);
                slots = p;
                cap *= 2;
            }
            struct slot *s = &slots[e.order_seq];
            if (!s->set) {
                s->set = true;
                s->replica = r;
                s->e = e;
                if (n_keys == key_cap) {
                    struct key *p = realloc(keys, 2 * key_cap * sizeof *p);
                    if (!p) return BFT_EXIT_USAGE;
                    keys = p;
                    key_cap *= 2;
                }
                keys[n_keys++] = (struct key){e.client, e.client_order_id, e.order_seq};
            } else if (!same_order(&s->e, &e)) {
                char ha[17], hb[17];
                crypto_to_hex(s->e.hash, 8, ha);
                crypto_to_hex(e.hash, 8, hb);
                printf("order %" PRIu64 ": replica %u has client %u order %" PRIu64
                       " %s %u@%" PRId64 " at seq %" PRIu64
                       " (chain %s), replica %u has client %u order %" PRIu64 " %s %u@%" PRId64
                       " at seq %" PRIu64 " (chain %s)\n",
                       e.order_seq, s->replica, s->e.client, s->e.client_order_id, s->e.symbol,
                       s->e.qty, s->e.price, s->e.seq, ha, r, e.client, e.client_order_id, e.symbol,
                       e.qty, e.price, e.seq, hb);
                violations++;
            }
            if (e.order_seq > max_seq) max_seq = e.order_seq;
        }
        fclose(f);
        char head[17] = "-";
        if (lines) crypto_to_hex(prev, 8, head);
        printf("replica %u: %" PRIu64 " orders, chain %s, head order %" PRIu64 " %s%s\n", r, lines,
               violations > before ? "BROKEN" : "intact", last, head,
               skipped ? " (with gaps)" : "");
    }
    if (!logs) {
        fprintf(stderr, "bftctl audit: no replica-*/audit.log under %s\n", dir);
        free(slots);
        free(keys);
        return BFT_EXIT_USAGE;
    }
    uint64_t gaps = 0;
    for (uint64_t s = 1; s <= max_seq; s++)
        if (!slots[s].set) gaps++;
    if (gaps) {
        printf("order numbers 1..%zu: %" PRIu64 " missing from every log\n", max_seq, gaps);
        violations++;
    }
    qsort(keys, n_keys, sizeof *keys, cmp_key);
    for (size_t i = 1; i < n_keys; i++) {
        if (keys[i].client == keys[i - 1].client && keys[i].coid == keys[i - 1].coid) {
            printf("client %u order %" PRIu64 " got two order numbers: %" PRIu64 " and %" PRIu64
                   "\n",
                   keys[i].client, keys[i].coid, keys[i - 1].order_seq, keys[i].order_seq);
            violations++;
        }
    }
    free(slots);
    free(keys);
    if (violations) {
        printf("AUDIT FAILED: %d violation(s)\n", violations);
        return BFT_EXIT_UNSAFE;
    }
    printf("audit ok: %zu orders, numbers 1..%zu gap-free and unique, %d replica logs agree\n",
           max_seq, max_seq, logs);
    return BFT_EXIT_OK;
}
