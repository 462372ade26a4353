/* bftctl read: one read at a chosen consistency level (docs/reads.md)
 * against a running cluster (bftd started by hand, README.md), as client
 * ID: a LOOKUP of an order (orders app) or a get of a key (kv app). Prints
 * the result, the latency and how the read completed (answered, refused as
 * stale by N replicas, ordered as a fallback). */
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "config/cluster.h"
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

static void read_usage(FILE *f)
{
    fprintf(f, "usage: bftctl read --config DIR/cluster.json --client ID\n"
               "                   (--order CLIENT:CLIENT_ORDER_ID | --key KEY)\n"
               "                   [--level linearizable|quorum|local[:MS]] [--timeout MS]\n"
               "One read at a consistency level (docs/reads.md) against a running cluster.\n"
               "Exit codes: 0 answered, 2 usage/setup error, 4 no answer within the timeout.\n");
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

int cmd_read(int argc, char **argv)
{
    static const struct option lo[] = {
        {"config", 1, 0, 'c'}, {"client", 1, 0, 'i'},  {"order", 1, 0, 'o'}, {"key", 1, 0, 'k'},
        {"level", 1, 0, 'l'},  {"timeout", 1, 0, 't'}, {"help", 0, 0, 'h'},  {0, 0, 0, 0}};
    const char *cfg = NULL, *key = NULL, *order = NULL;
    long client_id = -1, timeout_ms = 5000;
    int level = BFT_READ_LINEARIZABLE;
    uint32_t staleness = 0;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'c':
            cfg = optarg;
            break;
        case 'i':
            client_id = strtol(optarg, &end, 10);
            if (*end || client_id < 0) client_id = -2;
            break;
        case 'o':
            order = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'l':
            if (bft_read_level_parse(optarg, &level, &staleness)) {
                fprintf(stderr, "bftctl read: --level wants linearizable, quorum or local[:MS]\n");
                return BFT_EXIT_USAGE;
            }
            break;
        case 't':
            timeout_ms = strtol(optarg, &end, 10);
            if (*end || timeout_ms <= 0 || timeout_ms > 600000) {
                fprintf(stderr, "bftctl read: --timeout wants 1..600000 ms\n");
                return BFT_EXIT_USAGE;
            }
            break;
        case 'h':
            read_usage(stdout);
            return BFT_EXIT_OK;
        default:
            fprintf(stderr, "bftctl read: unknown or incomplete option '%s'\n", argv[optind - 1]);
            read_usage(stderr);
            return BFT_EXIT_USAGE;
        }
    }
    if (!cfg || client_id < 0 || (!order == !key) || optind < argc) {
        read_usage(stderr);
        return BFT_EXIT_USAGE;
    }
    uint8_t op[BFT_OP_MAX];
    size_t op_len;
    if (order) {
        uint32_t oc;
        uint64_t coid;
        if (parse_order(order, &oc, &coid)) {
            fprintf(stderr, "bftctl read: --order wants CLIENT:CLIENT_ORDER_ID\n");
            return BFT_EXIT_USAGE;
        }
        op_len = bft_order_lookup_encode(op, oc, coid);
    } else {
        if (strlen(key) == 0 || strlen(key) > BFT_KV_KEY_MAX) {
            fprintf(stderr, "bftctl read: --key wants 1..%d bytes\n", BFT_KV_KEY_MAX);
            return BFT_EXIT_USAGE;
        }
        op_len = bft_kv_encode(op, BFT_KV_GET, key, strlen(key), NULL, 0);
    }
    struct bft_cluster cl;
    char err[512];
    if (bft_cluster_load(&cl, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl read: %s\n", err);
        return BFT_EXIT_USAGE;
    }
    int rc = BFT_EXIT_USAGE;
    struct one_read r = {0};
    struct bft_client *c = NULL;
    if ((uint32_t)client_id >= cl.n_clients) {
        fprintf(stderr, "bftctl read: the cluster has clients 0..%u\n", cl.n_clients - 1);
        goto out;
    }
    if ((order != NULL) != (strcmp(cl.app, "kv") != 0)) {
        fprintf(stderr, "bftctl read: the cluster runs the %s app: use %s\n", cl.app,
                strcmp(cl.app, "kv") ? "--order" : "--key");
        goto out;
    }
    struct bft_client_config cc = {.protocol = cl.protocol,
                                   .n = cl.n,
                                   .f = cl.f,
                                   .id = (uint32_t)client_id,
                                   .cluster_id = cl.cluster_id,
                                   .retransmit_ms = 500,
                                   .envelope = 1,
                                   .max_outstanding = 2};
    for (uint32_t i = 0; i < cl.n; i++)
        memcpy(cc.replica_pk[i], cl.replicas[i].pk, CRYPTO_PK_LEN);
    char path[700];
    bft_cluster_client_key_path(&cl, (uint32_t)client_id, path, sizeof path);
    if (crypto_key_read_pem(path, &cc.key, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl read: %s\n", err);
        goto out;
    }
    if (net_open(&r.net, cl.clients[client_id].address, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl read: %s\n", err);
        goto out;
    }
    for (uint32_t i = 0; i < cl.n; i++)
        if (net_add_peer(r.net, i, cl.replicas[i].address, err, sizeof err) != 0) {
            fprintf(stderr, "bftctl read: %s\n", err);
            goto out;
        }
    struct bft_client_host h = {.ctx = &r, .send = r_send, .done = r_done};
    if (bft_client_create(&c, &cc, &h) != BFT_E_OK) {
        fprintf(stderr, "bftctl read: cannot create the client\n");
        goto out;
    }
    uint64_t t0 = mono_us();
    r.id = bft_client_read_at(c, op, op_len, level, staleness, t0 / 1000);
    net_flush(r.net);
    bool ok = r.id && wait_read(c, &r, t0 + (uint64_t)timeout_ms * 1000);
    double ms = (double)(mono_us() - t0) / 1000.0;
    struct bft_client_stats st;
    bft_client_stats(c, &st);
    /* A BFT quorum read is ordered by design (docs/reads.md). */
    const char *how = !st.read_fallbacks         ? "answered"
                      : level == BFT_READ_QUORUM ? "ordered"
                                                 : "ordered as a fallback";
    if (!ok) {
        printf("no answer within %ld ms (%s read, %llu stale refusals)\n", timeout_ms,
               bft_read_level_name(level), (unsigned long long)st.read_refusals);
        rc = BFT_EXIT_NO_PROGRESS;
        goto out;
    }
    if (order) {
        uint8_t status;
        uint64_t seq;
        if (bft_order_result_decode(r.res, r.res_len, &status, &seq) == 0 && status == BFT_ORDER_OK)
            printf("order %s: order_seq %llu", order, (unsigned long long)seq);
        else
            printf("order %s: not found", order);
    } else if (r.res_len >= 1 && r.res[0] == 0) {
        printf("key %s: %.*s", key, (int)(r.res_len - 1), (const char *)r.res + 1);
    } else {
        printf("key %s: not found", key);
    }
    printf("  (%s read, %.2f ms, %s, %llu stale refusals)\n", bft_read_level_name(level), ms, how,
           (unsigned long long)st.read_refusals);
    rc = BFT_EXIT_OK;
out:
    bft_client_destroy(c);
    if (r.net) net_close(r.net);
    bft_cluster_free(&cl);
    return rc;
}
