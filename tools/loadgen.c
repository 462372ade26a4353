/* Closed-loop client load for `bftctl cluster`: C clients multiplexed on one
 * thread and one nng endpoint (every client of the generated cluster.json
 * shares the load generator's address). Each client keeps `outstanding`
 * envelopes of `envelope` orders in flight and submits a new one as soon as
 * one completes under the client rule (f+1 matching signed replies).
 * With --reads, each client also keeps up to LOAD_READS_MAX reads in flight
 * at the chosen level (loadgen_reads.h), timed per level. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client/client.h"
#include "config/cluster.h"
#include "config/cluster_net.h"
#include "app/app.h"
#include "crypto/crypto.h"
#include "net/net.h"
#include "node/budget.h"
#include "tools/bftctl.h"
#include "tools/loadgen_reads.h"
#include "tools/loadgen_window.h"
#include "wire/hash.h"

#define LAT_CAP (8u << 20) /* latency samples kept (bounded) */
#define SEQ_SEEN_BITS (64u << 20)
#define READ_LAT_CAP (1u << 20) /* read latency samples kept per level */

struct lg;
struct lg_client {
    struct lg *lg;
    uint32_t id;
    struct bft_client *c;
    uint32_t in_flight;
    uint64_t next_coid;
    uint64_t *sent_us;  /* by req_no % cap */
    uint64_t *coid;     /* client order id, by req_no % cap */
    uint64_t *first_us; /* the first reply to req_no % cap (0: none yet) */
    uint64_t *req_of;   /* the write request number the slot holds (reads have none) */
    uint32_t cap;
    uint64_t last_acked_coid; /* what its reads look up */
    struct {
        uint64_t id, sent_us;
        int level;
    } rd[LOAD_READS_MAX];
    uint32_t n_rd;
};

struct lg {
    const struct load_opts *o;
    struct load_result *r;
    struct net_transport *net;
    struct lg_client *cl;
    uint32_t *lat_us;
    uint64_t n_lat;
    uint8_t *seq_seen;
    uint64_t t0_us;
    uint64_t last_done_us;
    bool submitting;
    bool is_orders;
    struct lg_reads reads;
    uint64_t rng;             /* xorshift64: which read slots refill */
    struct bft_budget budget; /* the loop's time by LOAD_STAGE_* */
};

const char *load_stage_name(int stage)
{
#define LOAD_STAGE_STR(name, str) str,
    static const char *const names[] = {LOAD_STAGE_MAP(LOAD_STAGE_STR)};
#undef LOAD_STAGE_STR
    return stage >= 0 && stage < LOAD_STAGE__COUNT ? names[stage] : "?";
}

static void stage_in(struct lg *lg, int stage)
{
    bft_budget_push(&lg->budget, stage, bft_budget_clock_ns());
}

static void stage_out(struct lg *lg)
{
    bft_budget_pop(&lg->budget, bft_budget_clock_ns());
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void lg_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len)
{
    struct lg_client *c = ctx;
    stage_in(c->lg, LOAD_STAGE_SEND);
    net_send(c->lg->net, replica, msg, len);
    stage_out(c->lg);
}

static const char *k_symbols[] = {"AAPL", "MSFT", "GOOG", "AMZN", "NVDA", "TSLA", "META", "IBM"};

/* The window without completions that ends at t (since the last completion,
 * or since the start). */
static void gap_to(struct lg *lg, uint64_t t)
{
    uint64_t from = lg->last_done_us ? lg->last_done_us : lg->t0_us;
    double gap = (double)(t - from) / 1e6;
    if (gap > lg->r->longest_gap_s) {
        lg->r->longest_gap_s = gap;
        lg->r->longest_gap_from_s = (double)(from - lg->t0_us) / 1e6;
    }
}

static bool submit_one(struct lg_client *c, uint64_t t_us)
{
    struct lg *lg = c->lg;
    uint8_t op[BFT_OP_MAX];
    size_t len;
    if (lg->is_orders) {
        uint64_t coid = ++c->next_coid;
        len = bft_order_encode(op, coid, k_symbols[coid % 8], (uint8_t)(1 + coid % 2),
                               (uint32_t)(1 + coid % 100), (int64_t)(10000 + coid % 500));
    } else {
        /* kv put: key "c<id>-<n>", value of --payload bytes */
        char key[32];
        int kl = snprintf(key, sizeof key, "c%u-%llu", c->id,
                          (unsigned long long)(++c->next_coid % 1000));
        uint32_t vl = lg->o->payload < BFT_RESULT_MAX - 1 ? lg->o->payload : BFT_RESULT_MAX - 1;
        op[0] = 1;
        op[1] = (uint8_t)kl;
        op[2] = 0;
        memcpy(op + 3, key, (size_t)kl);
        op[3 + kl] = (uint8_t)vl;
        op[4 + kl] = (uint8_t)(vl >> 8);
        memset(op + 5 + kl, 'v', vl);
        len = 5 + (size_t)kl + vl;
    }
    uint64_t req = bft_client_submit(c->c, op, len, t_us / 1000);
    if (!req) {
        c->next_coid--; /* the id was not used */
        return false;
    }
    c->sent_us[req % c->cap] = t_us;
    c->first_us[req % c->cap] = 0;
    c->req_of[req % c->cap] = req;
    c->coid[req % c->cap] = c->next_coid;
    lg->r->submitted++;
    return true;
}

struct fill_ctx {
    struct lg_client *c;
    uint64_t t_us;
};

static uint32_t fill_room(void *ctx)
{
    return bft_client_room(((struct fill_ctx *)ctx)->c->c);
}

static bool fill_submit(void *ctx)
{
    struct fill_ctx *x = ctx;
    return submit_one(x->c, x->t_us);
}

static void refill_reads(struct lg_client *c, uint64_t t_us);

/* Top up the client's window to outstanding x envelope requests, as far as
 * the client library has room (lg_window_fill: bounded, never spins). */
static void refill(struct lg_client *c, uint64_t t_us)
{
    const struct load_opts *o = c->lg->o;
    if (!c->lg->submitting) return;
    struct fill_ctx x = {.c = c, .t_us = t_us};
    struct lg_window_ops ops = {.ctx = &x, .room = fill_room, .submit = fill_submit};
    /* Encoding and signing the envelope; its sends are charged to send. */
    stage_in(c->lg, LOAD_STAGE_SIGN);
    if (lg_window_fill(&c->in_flight, o->outstanding * o->envelope, &ops))
        bft_client_flush(c->c, t_us / 1000);
    refill_reads(c, t_us);
    stage_out(c->lg);
}

/* Refill the client's free read slots, each with probability read_pct. */
static void refill_reads(struct lg_client *c, uint64_t t_us)
{
    struct lg *lg = c->lg;
    const struct load_opts *o = lg->o;
    /* Only once one of its writes is acknowledged: every read then looks
     * up something that exists, so a linearizable or quorum read that does
     * not find it shows in the `found` count. */
    if (!lg->submitting || !o->read_pct || !c->last_acked_coid) return;
    for (uint32_t k = c->n_rd; k < LOAD_READS_MAX; k++) { /* bounded */
        lg->rng ^= lg->rng << 13;
        lg->rng ^= lg->rng >> 7;
        lg->rng ^= lg->rng << 17;
        if (lg->rng % 100 >= o->read_pct) continue;
        uint8_t op[BFT_OP_MAX];
        size_t len = lg_read_op(lg->is_orders, c->id, c->last_acked_coid, op);
        int level = lg_reads_next_level(&lg->reads);
        uint64_t id = bft_client_read_at(c->c, op, len, level, o->read_staleness_ms, t_us / 1000);
        if (!id) return;
        lg_reads_issued(&lg->reads, level);
        c->rd[c->n_rd].id = id;
        c->rd[c->n_rd].sent_us = t_us;
        c->rd[c->n_rd].level = level;
        c->n_rd++;
    }
}

/* A read completed: time it at its level. false if `id` is not a read. */
static bool read_done(struct lg_client *c, uint64_t id, const uint8_t *result, size_t len,
                      uint64_t t)
{
    for (uint32_t k = 0; k < c->n_rd; k++) {
        if (c->rd[k].id != id) continue;
        bool found;
        if (c->lg->is_orders) {
            uint8_t status;
            uint64_t seq;
            found =
                bft_order_result_decode(result, len, &status, &seq) == 0 && status == BFT_ORDER_OK;
        } else {
            found = len > 0 && result[0] == 0;
        }
        lg_reads_done(&c->lg->reads, c->rd[k].level, t - c->rd[k].sent_us, found);
        c->rd[k] = c->rd[--c->n_rd];
        refill_reads(c, t);
        return true;
    }
    return false;
}

static void lg_complete(struct lg_client *c, uint64_t req_no, bool no_result, const uint8_t *result,
                        size_t len);

static void lg_done(void *ctx, uint64_t req_no, const uint8_t *result, size_t len)
{
    lg_complete(ctx, req_no, false, result, len);
}

/* Closed without a result (BFT_REPLY_NO_RESULT): not an acknowledgement
 * the ledger can hold (no order number), counted on its own. */
static void lg_no_result(void *ctx, uint64_t req_no)
{
    lg_complete(ctx, req_no, true, NULL, 0);
}

static void lg_complete(struct lg_client *c, uint64_t req_no, bool no_result, const uint8_t *result,
                        size_t len)
{
    struct lg *lg = c->lg;
    stage_in(lg, LOAD_STAGE_OTHER);
    uint64_t t = now_us();
    if (read_done(c, req_no, result, len, t)) {
        stage_out(lg);
        return;
    }
    if (c->in_flight) c->in_flight--;
    uint64_t lat = t - c->sent_us[req_no % c->cap];
    uint64_t first = c->first_us[req_no % c->cap];
    if (first && first >= c->sent_us[req_no % c->cap] && first <= t) {
        lg->r->budget.first_reply_ns += (first - c->sent_us[req_no % c->cap]) * 1000;
        lg->r->budget.accept_reply_ns += lat * 1000;
        lg->r->budget.timed++;
    }
    if (lg->n_lat < LAT_CAP)
        lg->lat_us[lg->n_lat++] = (uint32_t)(lat > UINT32_MAX ? UINT32_MAX : lat);
    struct load_result *r = lg->r;
    r->completed++;
    double since = (double)(t - lg->t0_us) / 1e6;
    uint32_t sec = (uint32_t)since;
    if (sec < LOAD_MAX_SECONDS) r->per_second[sec]++;
    uint32_t tenth = (uint32_t)(since * 10);
    if (tenth < LOAD_MAX_SECONDS * 10) r->per_tenth[tenth]++;
    if (lg->last_done_us) {
        double gap = (double)(t - lg->last_done_us) / 1000.0;
        if (gap > r->max_stall_ms) r->max_stall_ms = gap;
    }
    gap_to(lg, t);
    lg->last_done_us = t;
    if (no_result) {
        r->acks_no_result++;
    } else if (lg->is_orders) {
        uint8_t status;
        uint64_t seq;
        if (bft_order_result_decode(result, len, &status, &seq) != 0 || status != BFT_ORDER_OK) {
            r->acks_not_ok++;
        } else {
            /* the acknowledgement ledger (bounded: counted beyond its cap) */
            ledger_add(&r->acks, c->id, req_no, c->coid[req_no % c->cap], seq, 0);
            if (c->coid[req_no % c->cap] > c->last_acked_coid)
                c->last_acked_coid = c->coid[req_no % c->cap];
            if (seq > r->max_order_seq) r->max_order_seq = seq;
            if (seq < SEQ_SEEN_BITS) {
                if (lg->seq_seen[seq / 8] & (1u << (seq % 8))) r->dup_order_seq++;
                lg->seq_seen[seq / 8] |= (uint8_t)(1u << (seq % 8));
            }
        }
    }
    if (!lg->is_orders && c->coid[req_no % c->cap] > c->last_acked_coid)
        c->last_acked_coid = c->coid[req_no % c->cap]; /* a kv put */
    refill(c, t);
    stage_out(lg);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(const uint32_t *v, uint64_t n, double p)
{
    if (!n) return 0;
    uint64_t i = (uint64_t)(p * (double)(n - 1) + 0.5);
    return v[i] / 1000.0;
}

static void dispatch(struct lg *lg, const uint8_t *frame, size_t len, uint64_t t_ms)
{
    struct net_frame_iter it;
    if (net_frame_check(frame, len, &it) != NET_FRAME_OK) return;
    const uint8_t *m;
    size_t ml;
    while (net_frame_next(&it, &m, &ml)) {
        if (ml < BFT_HDR_LEN + 4) continue;
        uint32_t cid = (uint32_t)wire_le_load(m + BFT_HDR_LEN, 4);
        if (cid >= lg->o->clients) continue;
        /* The first reply to each request, before any check: the wait a
         * client sees before a replica answers at all. A REPLY's ranges
         * (wire/wire.h) are read with bounds; junk ends the walk. */
        struct bft_reply_iter ri;
        struct bft_reply_range rg;
        struct lg_client *c = &lg->cl[cid];
        uint64_t t = now_us();
        size_t body_len = (size_t)wire_le_load(m + 12, 4);
        if (body_len <= ml - BFT_HDR_LEN && bft_reply_iter_init(&ri, m + BFT_HDR_LEN, body_len)) {
            while (bft_reply_iter_next(&ri, &rg)) {
                for (uint32_t k = 0; k < rg.count && k < c->cap; k++) {
                    uint64_t no = rg.first + k;
                    uint32_t i = (uint32_t)(no % c->cap);
                    /* Only the write that holds the slot: not a read's
                     * reply, nor a late one to an older write. */
                    if (c->req_of[i] == no && !c->first_us[i] && c->sent_us[i] <= t)
                        c->first_us[i] = t;
                }
            }
        }
        stage_in(lg, LOAD_STAGE_VERIFY);
        bft_client_on_reply(lg->cl[cid].c, m, ml, t_ms);
        stage_out(lg);
    }
}

static int setup(struct lg *lg, char *err, size_t errlen)
{
    const struct load_opts *o = lg->o;
    const struct bft_cluster *cl = o->cl;
    if (o->clients == 0 || o->clients > cl->n_clients) {
        snprintf(err, errlen, "need 1..%u clients, asked for %u", cl->n_clients, o->clients);
        return -1;
    }
    if (bft_cluster_net_open(cl, true, 0, cl->clients[0].address, &lg->net, err, errlen) != 0)
        return -1;
    for (uint32_t i = 0; i < cl->n; i++)
        if (bft_cluster_net_add_replica(cl, lg->net, i, i, NULL, err, errlen) != 0) return -1;
    lg->cl = calloc(o->clients, sizeof *lg->cl);
    lg->lat_us = malloc(LAT_CAP * sizeof *lg->lat_us);
    lg->seq_seen = calloc(SEQ_SEEN_BITS / 8, 1);
    if (o->read_pct > 100) {
        snprintf(err, errlen, "--reads wants a percentage 0..100");
        return -1;
    }
    lg->rng = BFT_GOLDEN64 ^ (uint64_t)now_us();
    if (!lg->cl || !lg->lat_us || !lg->seq_seen ||
        lg_reads_init(&lg->reads, o->read_pct ? o->read_level : BFT_READ_LINEARIZABLE,
                      o->read_pct ? READ_LAT_CAP : 1) != 0) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    for (uint32_t i = 0; i < o->clients; i++) {
        struct lg_client *c = &lg->cl[i];
        c->lg = lg;
        c->id = i;
        struct bft_client_config cc;
        memset(&cc, 0, sizeof cc);
        cc.protocol = cl->protocol;
        cc.n = cl->n;
        cc.f = cl->f;
        cc.id = i;
        cc.cluster_id = cl->cluster_id;
        for (uint32_t r = 0; r < cl->n; r++)
            memcpy(cc.replica_pk[r], cl->replicas[r].pk, CRYPTO_PK_LEN);
        char path[700];
        bft_cluster_client_key_path(cl, i, path, sizeof path);
        if (crypto_key_read_pem(path, &cc.key, err, errlen) != 0) return -1;
        cc.retransmit_ms = 500;
        cc.envelope = o->envelope;
        cc.first_req_no = o->first_id;
        c->next_coid = o->first_id ? o->first_id - 1 : 0;
        /* Room for reads that are ordered (BFT quorum, fallbacks) besides
         * the write window, which refill() keeps full. */
        cc.max_outstanding = o->outstanding * o->envelope + (o->read_pct ? LOAD_READS_MAX : 0);
        c->cap = cc.max_outstanding * 2 + 1;
        c->sent_us = calloc(c->cap, sizeof *c->sent_us);
        c->coid = calloc(c->cap, sizeof *c->coid);
        c->first_us = calloc(c->cap, sizeof *c->first_us);
        c->req_of = calloc(c->cap, sizeof *c->req_of);
        struct bft_client_host h = {
            .ctx = c, .send = lg_send, .done = lg_done, .no_result = lg_no_result};
        if (!c->sent_us || !c->coid || !c->first_us || !c->req_of ||
            bft_client_create(&c->c, &cc, &h) != BFT_E_OK) {
            snprintf(err, errlen, "cannot create client %u", i);
            return -1;
        }
    }
    return 0;
}

static void teardown(struct lg *lg)
{
    if (lg->cl) {
        for (uint32_t i = 0; i < lg->o->clients; i++) {
            if (lg->cl[i].c) bft_client_destroy(lg->cl[i].c);
            free(lg->cl[i].sent_us);
            free(lg->cl[i].coid);
            free(lg->cl[i].first_us);
            free(lg->cl[i].req_of);
        }
    }
    free(lg->cl);
    free(lg->lat_us);
    free(lg->seq_seen);
    lg_reads_free(&lg->reads);
    /* The process exits soon: see net_abandon. */
    net_abandon(lg->net);
}

int ctl_load_run(const struct load_opts *o, struct load_result *r, char *err, size_t errlen)
{
    struct lg lg;
    memset(&lg, 0, sizeof lg);
    memset(r, 0, sizeof *r);
    lg.o = o;
    lg.r = r;
    lg.is_orders = strcmp(o->cl->app, "kv") != 0;
    int rv = setup(&lg, err, errlen);
    if (rv != 0) {
        teardown(&lg);
        return rv;
    }
    lg.t0_us = now_us();
    bft_budget_start(&lg.budget, LOAD_STAGE_OTHER, bft_budget_clock_ns());
    uint64_t end_us = lg.t0_us + (uint64_t)(o->duration_s * 1e6);
    uint64_t next_tick_us = 0, next_fault_us = 0;
    lg.submitting = true;
    for (uint32_t i = 0; i < o->clients; i++)
        refill(&lg.cl[i], lg.t0_us);
    net_flush(lg.net);
    for (;;) {
        uint64_t t = now_us();
        if (t >= end_us) break;
        uint8_t *frame;
        size_t len;
        /* At most 256 frames or 20 ms of them per iteration, so that the
         * client ticks and the fault timeline below keep their schedule
         * whatever the load does. */
        stage_in(&lg, LOAD_STAGE_WAIT);
        int got = net_recv(lg.net, 2, &frame, &len);
        stage_out(&lg);
        uint64_t burst_end = t + 20000;
        for (int k = 0; got == 1 && k < 256 && now_us() < burst_end; k++) {
            dispatch(&lg, frame, len, now_us() / 1000);
            net_frame_free(frame);
            got = net_recv(lg.net, 0, &frame, &len);
        }
        if (got == 1) {
            dispatch(&lg, frame, len, now_us() / 1000);
            net_frame_free(frame);
        }
        t = now_us();
        uint64_t up = net_peers_up(lg.net);
        if (t >= next_tick_us || up) {
            for (uint32_t i = 0; i < o->clients; i++) {
                bft_client_peers_up(lg.cl[i].c, up, t / 1000);
                bft_client_tick(lg.cl[i].c, t / 1000);
                refill(&lg.cl[i], t); /* slots freed without a done() */
            }
            next_tick_us = t + 5000;
        }
        if (o->on_tick && t >= next_fault_us) {
            o->on_tick(o->tick_ctx, (double)(t - lg.t0_us) / 1e6);
            next_fault_us = t + 10000;
        }
        stage_in(&lg, LOAD_STAGE_SEND);
        net_flush(lg.net);
        stage_out(&lg);
    }
    bft_budget_settle(&lg.budget, bft_budget_clock_ns());
    for (int s = 0; s < LOAD_STAGE__COUNT; s++)
        r->budget.stage_ns[s] = lg.budget.ns[s];
    uint64_t t_end = now_us();
    gap_to(&lg, t_end);
    r->elapsed_s = (double)(t_end - lg.t0_us) / 1e6;
    r->seconds = (uint32_t)(r->elapsed_s + 0.999);
    if (r->seconds > LOAD_MAX_SECONDS) r->seconds = LOAD_MAX_SECONDS;
    for (uint32_t i = 0; i < o->clients; i++) {
        struct bft_client_stats cs;
        bft_client_stats(lg.cl[i].c, &cs);
        r->retransmits += cs.retransmits;
        r->bad_replies += cs.bad_replies;
        r->read_refusals += cs.read_refusals;
        r->read_fallbacks += cs.read_fallbacks;
    }
    lg_reads_summary(&lg.reads, r->reads);
    qsort(lg.lat_us, lg.n_lat, sizeof *lg.lat_us, cmp_u32);
    r->lat_ms_p50 = pct(lg.lat_us, lg.n_lat, 0.50);
    r->lat_ms_p90 = pct(lg.lat_us, lg.n_lat, 0.90);
    r->lat_ms_p99 = pct(lg.lat_us, lg.n_lat, 0.99);
    r->lat_ms_max = lg.n_lat ? lg.lat_us[lg.n_lat - 1] / 1000.0 : 0;
    teardown(&lg);
    return 0;
}
