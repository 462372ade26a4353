/* bftctl read: one read at a chosen consistency level (docs/reads.md)
 * against a running cluster (bftd started by hand, README.md), as client
 * ID: a LOOKUP of an order (orders app) or a get of a key (kv app). Prints
 * the result, the latency and how the read completed (answered, refused as
 * stale by N replicas, ordered as a fallback). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "config/cluster.h"
#include "config/cluster_net.h"
#include "app/app.h"
#include "app/app_internal.h"
#include "crypto/crypto.h"
#include "net/net.h"
#include "tools/bftctl.h"

struct one_read {
    struct net_transport *net;
    uint64_t id;
    bool done;
    uint8_t res[BFT_RESULT_MAX];
    size_t res_len;
};

static void r_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len)
{
    struct one_read *r = ctx;
    net_send(r->net, replica, msg, len);
}

static void r_done(void *ctx, uint64_t id, const uint8_t *res, size_t len)
{
    struct one_read *r = ctx;
    if (id != r->id) return;
    r->done = true;
    r->res_len = len;
    memcpy(r->res, res, len);
}

static uint64_t mono_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

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

/* Wait for the read, ticking the client (retransmissions, the next
 * replica, the ordered fallback). */
static bool wait_read(struct bft_client *c, struct one_read *r, uint64_t deadline_us)
{
    while (!r->done && mono_us() < deadline_us) {
        uint8_t *frame;
        size_t len;
        if (net_recv(r->net, 5, &frame, &len) == 1) {
            struct net_frame_iter it;
            if (net_frame_check(frame, len, &it) == NET_FRAME_OK) {
                const uint8_t *m;
                size_t ml;
                while (net_frame_next(&it, &m, &ml))
                    bft_client_on_reply(c, m, ml, mono_us() / 1000);
            }
            net_frame_free(frame);
        }
        bft_client_tick(c, mono_us() / 1000);
        net_flush(r->net);
    }
    return r->done;
}

struct read_opts {
    const char *cfg, *key, *order;
    uint32_t client_id, timeout_ms, staleness;
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
    {"config", 0, "PATH", CLI_STR, OFF(cfg), 0, 0, NULL, "cluster.json (required)"},
    {"client", 0, "ID", CLI_U32, OFF(client_id), 0, BFT_MAX_CLIENTS - 1, NULL,
     "read as this client: its key and address (required)"},
    {"order", 0, "C:ID", CLI_STR, OFF(order), 0, 0, NULL,
     "orders app: LOOKUP client C's order with client order id ID"},
    {"key", 0, "KEY", CLI_STR, OFF(key), 0, 0, NULL, "kv app: get KEY"},
    {"level", 0, "L", CLI_FN, 0, 0, 0, opt_level,
     "linearizable (default), quorum or local[:MS] (docs/reads.md)"},
    {"timeout", 0, "MS", CLI_U32, OFF(timeout_ms), 1, 600000, NULL,
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

/* Client o->client_id of cl, its transport dialling every replica; 0 or
 * -1 (message printed). */
static int open_client(const struct bft_cluster *cl, const struct read_opts *o, struct one_read *r,
                       struct bft_client **c)
{
    char err[512], path[700];
    struct bft_client_config cc = {.protocol = cl->protocol,
                                   .n = cl->n,
                                   .f = cl->f,
                                   .id = o->client_id,
                                   .cluster_id = cl->cluster_id,
                                   .retransmit_ms = 500,
                                   .envelope = 1,
                                   .max_outstanding = 2};
    for (uint32_t i = 0; i < cl->n; i++)
        memcpy(cc.replica_pk[i], cl->replicas[i].pk, CRYPTO_PK_LEN);
    bft_cluster_client_key_path(cl, o->client_id, path, sizeof path);
    if (crypto_key_read_pem(path, &cc.key, err, sizeof err) != 0 ||
        bft_cluster_net_open(cl, true, o->client_id, cl->clients[o->client_id].address, &r->net,
                             err, sizeof err) != 0) {
        fprintf(stderr, "bftctl read: %s\n", err);
        return -1;
    }
    for (uint32_t i = 0; i < cl->n; i++)
        if (bft_cluster_net_add_replica(cl, r->net, i, i, NULL, err, sizeof err) != 0) {
            fprintf(stderr, "bftctl read: %s\n", err);
            return -1;
        }
    struct bft_client_host h = {.ctx = r, .send = r_send, .done = r_done};
    if (bft_client_create(c, &cc, &h) != BFT_E_OK) {
        fprintf(stderr, "bftctl read: cannot create the client\n");
        return -1;
    }
    return 0;
}

static void print_result(const struct read_opts *o, const struct one_read *r)
{
    if (o->order) {
        uint8_t status;
        uint64_t seq;
        if (bft_order_result_decode(r->res, r->res_len, &status, &seq) == 0 &&
            status == BFT_ORDER_OK)
            printf("order %s: order_seq %llu", o->order, (unsigned long long)seq);
        else
            printf("order %s: not found", o->order);
    } else if (r->res_len >= 1 && r->res[0] == 0) {
        printf("key %s: %.*s", o->key, (int)(r->res_len - 1), (const char *)r->res + 1);
    } else {
        printf("key %s: not found", o->key);
    }
}

/* Issue the read, wait, print; the exit code. */
static int do_read(struct bft_client *c, struct one_read *r, const struct read_opts *o,
                   const uint8_t *op, size_t op_len)
{
    uint64_t t0 = mono_us();
    r->id = bft_client_read_at(c, op, op_len, o->level, o->staleness, t0 / 1000);
    net_flush(r->net);
    bool ok = r->id && wait_read(c, r, t0 + (uint64_t)o->timeout_ms * 1000);
    double ms = (double)(mono_us() - t0) / 1000.0;
    struct bft_client_stats st;
    bft_client_stats(c, &st);
    if (!ok) {
        printf("no answer within %u ms (%s read, %llu stale refusals)\n", o->timeout_ms,
               bft_read_level_name(o->level), (unsigned long long)st.read_refusals);
        return BFT_EXIT_NO_PROGRESS;
    }
    /* A BFT quorum read is ordered by design (docs/reads.md). */
    const char *how = !st.read_fallbacks            ? "answered"
                      : o->level == BFT_READ_QUORUM ? "ordered"
                                                    : "ordered as a fallback";
    print_result(o, r);
    printf("  (%s read, %.2f ms, %s, %llu stale refusals)\n", bft_read_level_name(o->level), ms,
           how, (unsigned long long)st.read_refusals);
    return BFT_EXIT_OK;
}

int cmd_read(int argc, char **argv)
{
    struct read_opts o = {.timeout_ms = 5000, .level = BFT_READ_LINEARIZABLE};
    uint64_t seen;
    enum cli_result cr = cli_parse(&k_spec, argc, argv, &o, &seen);
    if (cr != CLI_PARSED) return cr == CLI_HELP ? BFT_EXIT_OK : BFT_EXIT_USAGE;
    if (!o.cfg || !cli_given(&k_spec, seen, "client") || (!o.order == !o.key)) {
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
    if (bft_cluster_load(&cl, o.cfg, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl read: %s\n", err);
        return BFT_EXIT_USAGE;
    }
    int rc = BFT_EXIT_USAGE;
    struct one_read r = {0};
    struct bft_client *c = NULL;
    if (o.client_id >= cl.n_clients) {
        fprintf(stderr, "bftctl read: the cluster has clients 0..%u\n", cl.n_clients - 1);
        goto out;
    }
    if ((o.order != NULL) != (strcmp(cl.app, "kv") != 0)) {
        fprintf(stderr, "bftctl read: the cluster runs the %s app: use %s\n", cl.app,
                strcmp(cl.app, "kv") ? "--order" : "--key");
        goto out;
    }
    if (open_client(&cl, &o, &r, &c) == 0) rc = do_read(c, &r, &o, op, op_len);
out:
    bft_client_destroy(c);
    if (r.net) net_close(r.net);
    bft_cluster_free(&cl);
    return rc;
}
