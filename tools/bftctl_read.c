/* bftctl read: one read at a chosen consistency level (docs/reads.md)
 * against a running cluster (bftd started by hand, README.md), as client
 * ID: a LOOKUP of an order (orders app) or a get of a key (kv app). Prints
 * the result, the latency and how the read completed (answered, refused as
 * stale by N replicas, ordered as a fallback). It runs on the client
 * session (include/bft/client.h), like bftctl submit. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "app/app.h"
#include "app/app_internal.h"
#include "config/cluster.h"
#include "tools/bftctl.h"
#include "tools/bftctl_session.h"

static int parse_order(const char *s, uint32_t *client, uint64_t *coid)
{
    char *end;
    errno = 0;
    unsigned long c = strtoul(s, &end, 10);
    if (errno || end == s || *end != ':' || c > UINT32_MAX) return -1;
    const char *p = end + 1;
    unsigned long long o = strtoull(p, &end, 10);
    if (errno || end == p || *end) return -1;
    *client = (uint32_t)c;
    *coid = o;
    return 0;
}

struct read_opts {
    struct ctl_session_flags sf;
    const char *key, *order;
    uint32_t staleness;
    int level;
};

static int opt_level(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    (void)o;
    struct read_opts *ro = ctx;
    if (bft_read_level_parse(arg, &ro->level, &ro->staleness)) {
        fprintf(stderr, "%s: --level wants linearizable, quorum or local[:MS], got '%s'\n", prog,
                arg);
        return -1;
    }
    return 0;
}

#define OFF(field) offsetof(struct read_opts, field)
static const struct cli_opt k_opts[] = {
    {"config", 0, "PATH", CLI_STR, OFF(sf.config), 0, 0, NULL, "cluster.json (required)"},
    {"client", 0, "ID", CLI_U32, OFF(sf.client_id), 0, BFT_MAX_CLIENTS - 1, NULL,
     "read as this client: its key and address (required)"},
    {"order", 0, "C:ID", CLI_STR, OFF(order), 0, 0, NULL,
     "orders app: LOOKUP client C's order with client order id ID"},
    {"key", 0, "KEY", CLI_STR, OFF(key), 0, 0, NULL, "kv app: get KEY"},
    {"level", 0, "L", CLI_FN, 0, 0, 0, opt_level,
     "linearizable (default), quorum or local[:MS] (docs/reads.md)"},
    {"state", 0, "PATH", CLI_STR, OFF(sf.state), 0, 0, NULL,
     "request-number state file (default: the key's path + .reqno)"},
    {"timeout", 0, "MS", CLI_U32, OFF(sf.timeout_ms), 1, 600000, NULL,
     "give up after MS (default 5000)"},
};
#undef OFF

static const struct cli_spec k_spec = {
    .prog = "bftctl read",
    .synopsis = "bftctl read --config DIR/cluster.json --client ID\n"
                "                   (--order CLIENT:CLIENT_ORDER_ID | --key KEY)\n"
                "                   [--level linearizable|quorum|local[:MS]] [--timeout MS]",
    .intro = "One read at a consistency level (docs/reads.md) against a running cluster.\n",
    .opts = k_opts,
    .n_opts = sizeof k_opts / sizeof *k_opts,
    .outro = "Exit codes: 0 answered, 2 usage/setup error, 4 no answer within the timeout.\n",
};

/* The read operation: a LOOKUP (--order) or a kv get (--key); its length,
 * or 0 (message printed). */
static size_t build_op(const struct read_opts *o, uint8_t *op)
{
    if (o->order) {
        uint32_t oc;
        uint64_t coid;
        if (parse_order(o->order, &oc, &coid)) {
            fprintf(stderr, "bftctl read: --order wants CLIENT:CLIENT_ORDER_ID\n");
            return 0;
        }
        return bft_order_lookup_encode(op, oc, coid);
    }
    if (strlen(o->key) == 0 || strlen(o->key) > BFT_KV_KEY_MAX) {
        fprintf(stderr, "bftctl read: --key wants 1..%d bytes\n", BFT_KV_KEY_MAX);
        return 0;
    }
    return bft_kv_encode(op, BFT_KV_GET, o->key, strlen(o->key), NULL, 0);
}

static void print_result(const struct read_opts *o, const struct bft_outcome *r)
{
    if (o->order) {
        uint8_t status;
        uint64_t seq;
        if (bft_order_result_decode(r->result, r->result_len, &status, &seq) == 0 &&
            status == BFT_ORDER_OK)
            printf("order %s: order_seq %llu", o->order, (unsigned long long)seq);
        else
            printf("order %s: not found", o->order);
    } else if (r->result_len >= 1 && r->result[0] == 0) {
        printf("key %s: %.*s", o->key, (int)(r->result_len - 1), (const char *)r->result + 1);
    } else {
        printf("key %s: not found", o->key);
    }
}

/* Issue the read through a session, wait, print; the exit code. */
static int do_read(const struct read_opts *o, const uint8_t *op, size_t op_len)
{
    struct bft_session *s;
    int rc = ctl_session_open("bftctl read", &o->sf, &s);
    if (rc != BFT_EXIT_OK) return rc;
    struct bft_outcome r;
    int rv = bft_session_read(s, op, op_len, o->level, o->staleness, o->sf.timeout_ms, &r);
    struct bft_session_stats st;
    bft_session_stats(s, &st);
    bft_session_close(s);
    if (rv != BFT_E_OK) {
        fprintf(stderr, "bftctl read: nothing sent: %s\n", bft_strerror(rv));
        return BFT_EXIT_USAGE;
    }
    if (r.status == BFT_OUTCOME_NO_RESULT) {
        printf("the ordered read's result is no longer held by the replicas: read again\n");
        return BFT_EXIT_NO_PROGRESS;
    }
    if (r.status != BFT_OUTCOME_DONE) {
        printf("no answer within %u ms (%s read, %llu stale refusals)\n", o->sf.timeout_ms,
               bft_read_level_name(o->level), (unsigned long long)st.read_refusals);
        return BFT_EXIT_NO_PROGRESS;
    }
    /* A BFT quorum read is ordered by design (docs/reads.md). */
    const char *how = !(r.flags & BFT_OUTCOME_ORDERED) ? "answered"
                      : o->level == BFT_READ_QUORUM    ? "ordered"
                                                       : "ordered as a fallback";
    print_result(o, &r);
    printf("  (%s read, %.2f ms, %s, %llu stale refusals)\n", bft_read_level_name(o->level),
           (double)r.latency_us / 1000.0, how, (unsigned long long)st.read_refusals);
    return BFT_EXIT_OK;
}

int cmd_read(int argc, char **argv)
{
    struct read_opts o = {.sf.timeout_ms = 5000, .level = BFT_READ_LINEARIZABLE};
    uint64_t seen;
    enum cli_result cr = cli_parse(&k_spec, argc, argv, &o, &seen);
    if (cr != CLI_PARSED) return cr == CLI_HELP ? BFT_EXIT_OK : BFT_EXIT_USAGE;
    if (!o.sf.config || !cli_given(&k_spec, seen, "client") || (!o.order == !o.key)) {
        fprintf(stderr, "bftctl read: --config, --client and one of --order or --key are "
                        "required\n");
        cli_usage(&k_spec, stderr);
        return BFT_EXIT_USAGE;
    }
    uint8_t op[BFT_OP_MAX];
    size_t op_len = build_op(&o, op);
    if (!op_len) return BFT_EXIT_USAGE;
    struct bft_cluster cl;
    char err[512];
    if (bft_cluster_load(&cl, o.sf.config, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl read: %s\n", err);
        return BFT_EXIT_USAGE;
    }
    bool kv = strcmp(cl.app, "kv") == 0;
    bft_cluster_free(&cl);
    if ((o.order != NULL) == kv) {
        fprintf(stderr, "bftctl read: the cluster runs the %s app: use %s\n", kv ? "kv" : "orders",
                kv ? "--key" : "--order");
        return BFT_EXIT_USAGE;
    }
    return do_read(&o, op, op_len);
}
