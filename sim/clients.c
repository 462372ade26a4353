/* sim: closed-loop clients. Each keeps up to `outstanding` orders in flight
 * (ops from the orders app, distinct client_order_ids, and a few deliberate
 * retries of an earlier client_order_id) and drives the pure bft_client
 * state machine with virtual time. Accepted results are checked against
 * the order router's promise (docs/design.md): an order_seq is handed out with
 * status OK once, and a retried order gets its original order_seq.
 *
 * Interleaved with the orders, clients issue read-only LOOKUPs
 * (bft_client_read) of their own and other clients' recent orders, some
 * still in flight, and of ids not yet used; the checker holds every read
 * to linearizability (checker.c). A read that falls back to an ordered
 * request is registered with the checker like any request before the
 * fallback can reach a replica. */
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "app/app.h"
#include "app/app_internal.h"
#include "sim/sim_internal.h"

static uint64_t now_ms(const struct sim *s)
{
    return s->now_us / 1000;
}

static void queue_client_event(struct sim *s, uint32_t c, int kind, uint64_t at_us)
{
    struct sim_event e = {
        .at_us = at_us, .kind = (uint8_t)kind, .to_ep = (uint8_t)SIM_EP_CLIENT(c)};
    if (sim_heap_push(&s->heap, &e) != BFT_E_OK)
        sim_fail(s, "event heap full (%u events)", SIM_EVENTS_MAX);
}

static void schedule_tick(struct sim *s, struct sim_client *cl, uint32_t after_ms)
{
    if (after_ms == UINT32_MAX) return; /* idle: the next submit schedules one */
    uint64_t at = s->now_us + (uint64_t)(after_ms ? after_ms : 1) * 1000;
    if (cl->tick_at_us && cl->tick_at_us <= at) return;
    cl->tick_at_us = at;
    queue_client_event(s, cl->id, SIM_EV_CLIENT_TICK, at);
}

static void schedule_load(struct sim *s, struct sim_client *cl, uint64_t delay_us)
{
    if (cl->load_queued) return;
    cl->load_queued = true;
    queue_client_event(s, cl->id, SIM_EV_CLIENT_LOAD, s->now_us + delay_us);
}

static void client_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len)
{
    struct sim_client *cl = ctx;
    if (replica >= cl->sim->o.n) return;
    sim_net_send(cl->sim, SIM_EP_CLIENT(cl->id), (int)replica, msg, len);
}

static bool mark_order_seq(struct sim *s, uint64_t order_seq)
{
    if (order_seq >= SIM_SEQ_MAX) return true; /* beyond what we track */
    if (order_seq >= s->order_seen_bits) {
        size_t bits = s->order_seen_bits ? s->order_seen_bits : 4096;
        while (bits <= order_seq)
            bits *= 2;
        uint8_t *p = realloc(s->order_seen, bits / 8);
        if (!p) return true;
        memset(p + s->order_seen_bits / 8, 0, (bits - s->order_seen_bits) / 8);
        s->order_seen = p;
        s->order_seen_bits = bits;
    }
    uint8_t bit = (uint8_t)(1u << (order_seq % 8));
    if (s->order_seen[order_seq / 8] & bit) return false;
    s->order_seen[order_seq / 8] |= bit;
    return true;
}

static void check_result(struct sim *s, struct sim_client *cl, uint64_t req_no, uint64_t order_id,
                         const uint8_t *res, size_t len)
{
    uint8_t status = 0;
    uint64_t order_seq = 0;
    if (bft_order_result_decode(res, len, &status, &order_seq) != BFT_E_OK ||
        (status != BFT_ORDER_OK && status != BFT_ORDER_DUP)) {
        sim_violation(s, "client %u req %llu: accepted a bad order result (status %u, %zu bytes)",
                      cl->id, (unsigned long long)req_no, status, len);
        return;
    }
    if (status == BFT_ORDER_OK && !mark_order_seq(s, order_seq)) {
        sim_violation(s, "order_seq %llu accepted twice with status OK (client %u req %llu)",
                      (unsigned long long)order_seq, cl->id, (unsigned long long)req_no);
        return;
    }
    sim_check_order_acked(s, cl->id, order_id, order_seq);
    for (uint32_t i = 0; i < cl->n_recent; i++) {
        if (cl->recent[i].order_id != order_id) continue;
        if (cl->recent[i].order_seq == 0) {
            cl->recent[i].order_seq = order_seq;
        } else if (cl->recent[i].order_seq != order_seq) {
            sim_violation(s, "client %u order %llu got order_seq %llu, earlier %llu", cl->id,
                          (unsigned long long)order_id, (unsigned long long)order_seq,
                          (unsigned long long)cl->recent[i].order_seq);
        }
        return;
    }
}

/* A read completed: check it, free its slot. */
static bool read_done(struct sim *s, struct sim_client *cl, uint64_t id, const uint8_t *result,
                      size_t len)
{
    for (uint32_t i = 0; i < cl->n_reads; i++) {
        if (cl->reads[i].id != id) continue;
        uint32_t client = cl->reads[i].client;
        uint64_t order_id = cl->reads[i].order_id, issued_us = cl->reads[i].issued_us;
        uint64_t issued_ev = cl->reads[i].issued_ev;
        int level = cl->reads[i].level;
        cl->reads[i] = cl->reads[--cl->n_reads];
        cl->reads_completed++;
        s->st.reads_completed++;
        s->st.reads_level[level]++;
        uint8_t status;
        uint64_t order_seq;
        if (bft_order_result_decode(result, len, &status, &order_seq) == BFT_E_OK &&
            status == BFT_ORDER_OK)
            s->st.reads_found++;
        sim_check_read(s, cl->id, level, client, order_id, issued_us, issued_ev, result, len);
        if (s->load_on) schedule_load(s, cl, sim_rng_range(&s->client_rng, 0, 1000));
        return true;
    }
    return false;
}

/* Register the ordered fallback of each read that just fell back: called
 * after every call into the client library that may fall back (tick,
 * reply), before any event runs, so no replica can see it unregistered. */
static void register_fallbacks(struct sim *s, struct sim_client *cl)
{
    for (uint32_t i = 0; i < cl->n_reads; i++) {
        if (cl->reads[i].ordered) continue;
        uint64_t req_no = bft_client_read_fallback(cl->cl, cl->reads[i].id);
        if (!req_no) continue;
        uint8_t op[BFT_ORDER_LOOKUP_LEN];
        size_t len = bft_order_lookup_encode(op, cl->reads[i].client, cl->reads[i].order_id);
        if (sim_check_submitted(s, cl->id, req_no, op, len) != BFT_E_OK) return;
        cl->reads[i].ordered = req_no;
        if (req_no > cl->last_req_no) cl->last_req_no = req_no;
    }
}

static void client_done(void *ctx, uint64_t req_no, const uint8_t *result, size_t len)
{
    struct sim_client *cl = ctx;
    struct sim *s = cl->sim;
    if (read_done(s, cl, req_no, result, len)) return;
    for (uint32_t i = 0; i < cl->n_pending; i++) {
        if (cl->pending[i].req_no != req_no) continue;
        uint64_t order_id = cl->pending[i].order_id;
        cl->pending[i] = cl->pending[--cl->n_pending];
        cl->completed++;
        s->st.ops_completed++;
        check_result(s, cl, req_no, order_id, result, len);
        if (s->load_on) schedule_load(s, cl, sim_rng_range(&s->client_rng, 0, 1000));
        return;
    }
    /* Completion of a request we do not track: the client library broke
     * its contract (done once per submitted request). */
    sim_fail(s, "client %u: done for unknown or repeated req_no %llu", cl->id,
             (unsigned long long)req_no);
}

/* Closed without a result (every replica lost its reply: restarted from a
 * snapshot since, or evicted it). The simulated clients never abandon a
 * request number, so an honest replica must have executed it; a read's
 * ordered fallback is dropped unchecked (it has no answer to check). */
static void client_no_result(void *ctx, uint64_t req_no)
{
    struct sim_client *cl = ctx;
    struct sim *s = cl->sim;
    s->st.no_result++;
    for (uint32_t i = 0; i < cl->n_reads; i++) {
        if (cl->reads[i].id != req_no) continue;
        uint64_t ordered = cl->reads[i].ordered;
        if (ordered && !sim_applied_seq(s, cl->id, ordered))
            sim_violation(s, "client %u read %llu: closed without a result, never executed", cl->id,
                          (unsigned long long)ordered);
        cl->reads[i] = cl->reads[--cl->n_reads];
        cl->reads_completed++;
        s->st.reads_completed++;
        if (s->load_on) schedule_load(s, cl, sim_rng_range(&s->client_rng, 0, 1000));
        return;
    }
    for (uint32_t i = 0; i < cl->n_pending; i++) {
        if (cl->pending[i].req_no != req_no) continue;
        cl->pending[i] = cl->pending[--cl->n_pending];
        cl->completed++;
        s->st.ops_completed++;
        if (!sim_applied_seq(s, cl->id, req_no))
            sim_violation(s, "client %u req %llu: closed without a result, never executed", cl->id,
                          (unsigned long long)req_no);
        if (s->load_on) schedule_load(s, cl, sim_rng_range(&s->client_rng, 0, 1000));
        return;
    }
    sim_fail(s, "client %u: no_result for unknown or repeated req_no %llu", cl->id,
             (unsigned long long)req_no);
}

int sim_clients_create(struct sim *s)
{
    for (uint32_t c = 0; c < s->o.clients; c++) {
        struct sim_client *cl = &s->cli[c];
        cl->sim = s;
        cl->id = c;
        struct bft_client_config cfg = {
            .protocol = s->o.protocol,
            .n = s->o.n,
            .f = s->f,
            .id = c,
            .cluster_id = s->node_cfg.core.cluster_id,
            .key = cl->key,
            .retransmit_ms = s->o.client_retransmit_ms ? s->o.client_retransmit_ms : 250,
            .envelope = 1,
            .max_outstanding = SIM_CLIENT_PENDING_MAX,
            .null_crypto = true,
        };
        memcpy(cfg.replica_pk, s->node_cfg.replica_pk, sizeof(cfg.replica_pk));
        struct bft_client_host host = {
            .ctx = cl, .send = client_send, .done = client_done, .no_result = client_no_result};
        int rv = bft_client_create(&cl->cl, &cfg, &host);
        if (rv != BFT_E_OK) {
            sim_fail(s, "client %u: bft_client_create: %s", c, bft_strerror(rv));
            return rv;
        }
        schedule_load(s, cl, sim_rng_range(&s->client_rng, 0, 2000));
    }
    return BFT_E_OK;
}

void sim_clients_destroy(struct sim *s)
{
    for (uint32_t c = 0; c < SIM_MAX_CLIENTS; c++) {
        if (s->cli[c].cl) bft_client_destroy(s->cli[c].cl);
        s->cli[c].cl = NULL;
    }
}

/* Submit one order; registers it with the checker before it can reach
 * any replica (sends only queue events). */
static uint64_t submit(struct sim *s, struct sim_client *cl, uint64_t order_id)
{
    static const char *const symbols[] = {"AAPL", "MSFT", "GOOG", "TSLA"};
    if (cl->n_pending >= SIM_CLIENT_PENDING_MAX) return 0;
    uint8_t op[BFT_ORDER_OP_LEN];
    struct sim_rng *rng = &s->client_rng;
    size_t len = bft_order_encode(
        op, order_id, symbols[sim_rng_below(rng, 4)], (uint8_t)sim_rng_range(rng, 1, 2),
        (uint32_t)sim_rng_range(rng, 1, 1000), (int64_t)sim_rng_range(rng, 100, 100000));
    uint64_t req_no = bft_client_submit(cl->cl, op, len, now_ms(s));
    if (req_no == 0) return 0;
    if (sim_check_submitted(s, cl->id, req_no, op, len) != BFT_E_OK) return 0;
    cl->pending[cl->n_pending].req_no = req_no;
    cl->pending[cl->n_pending].order_id = order_id;
    cl->n_pending++;
    if (req_no > cl->last_req_no) cl->last_req_no = req_no;
    s->st.ops_submitted++;
    return req_no;
}

static uint64_t pick_order_id(struct sim *s, struct sim_client *cl)
{
    if (cl->n_recent > 0 && sim_rng_below(&s->client_rng, 100) < s->o.retry_pct)
        return cl->recent[sim_rng_below(&s->client_rng, cl->n_recent)].order_id;
    uint64_t id = ((uint64_t)(cl->id + 1) << 40) | ++cl->next_order_id;
    uint32_t slot = cl->recent_next++ % 8;
    cl->recent[slot].order_id = id;
    cl->recent[slot].order_seq = 0;
    if (cl->n_recent < 8) cl->n_recent++;
    return id;
}

static void after_submit(struct sim *s, struct sim_client *cl)
{
    bft_client_flush(cl->cl, now_ms(s));
    schedule_tick(s, cl, bft_client_tick(cl->cl, now_ms(s)));
    register_fallbacks(s, cl);
}

/* A read-only LOOKUP of client `target`'s order `order_id`. */
static uint64_t issue_read(struct sim *s, struct sim_client *cl, uint32_t target, uint64_t order_id)
{
    if (cl->n_reads >= SIM_CLIENT_READS_MAX) return 0;
    uint8_t op[BFT_ORDER_LOOKUP_LEN];
    size_t len = bft_order_lookup_encode(op, target, order_id);
    int level = s->o.read_level;
    if (level == SIM_READ_MIX) level = (int)sim_rng_below(&s->client_rng, BFT_READ_LEVELS);
    uint64_t id = bft_client_read_at(cl->cl, op, len, level, s->o.read_staleness_ms, now_ms(s));
    if (!id) return 0;
    cl->reads[cl->n_reads].level = level;
    cl->reads[cl->n_reads].id = id;
    cl->reads[cl->n_reads].issued_us = s->now_us;
    cl->reads[cl->n_reads].issued_ev = ++s->chk.lclock;
    cl->reads[cl->n_reads].ordered = 0;
    cl->reads[cl->n_reads].client = target;
    cl->reads[cl->n_reads].order_id = order_id;
    cl->n_reads++;
    s->st.reads_submitted++;
    return id;
}

/* One read from the load: of this client's or another's order, among the
 * last few ids handed out (acknowledged, in flight, or retried) or the
 * next one (not submitted yet). */
static bool submit_read(struct sim *s, struct sim_client *cl)
{
    struct sim_rng *rng = &s->client_rng;
    uint32_t target = sim_rng_below(rng, 2) ? cl->id : (uint32_t)sim_rng_below(rng, s->o.clients);
    uint64_t last = s->cli[target].next_order_id;
    uint64_t k = sim_rng_range(rng, last > 8 ? last - 8 : 1, last + 1);
    return issue_read(s, cl, target, ((uint64_t)(target + 1) << 40) | k) != 0;
}

void sim_client_event(struct sim *s, struct sim_event *e)
{
    struct sim_client *cl = &s->cli[e->to_ep - SIM_EP_CLIENT_BASE];
    if (e->kind == SIM_EV_CLIENT_TICK) {
        if (cl->tick_at_us != e->at_us) return; /* superseded */
        cl->tick_at_us = 0;
        schedule_tick(s, cl, bft_client_tick(cl->cl, now_ms(s)));
        register_fallbacks(s, cl);
        return;
    }
    cl->load_queued = false;
    bool any = false;
    while (s->load_on && cl->n_pending < s->o.outstanding && !s->failed) {
        if (!submit(s, cl, pick_order_id(s, cl))) break;
        any = true;
    }
    for (uint32_t i = cl->n_reads; i < SIM_CLIENT_READS_MAX && s->load_on && !s->failed; i++) {
        if (sim_rng_below(&s->client_rng, 100) >= s->o.read_pct) continue;
        if (submit_read(s, cl)) any = true;
    }
    if (any) after_submit(s, cl);
}

void sim_client_receive(struct sim *s, uint32_t c, const uint8_t *msg, size_t len)
{
    struct sim_client *cl = &s->cli[c];
    bft_client_on_reply(cl->cl, msg, len, now_ms(s));
    register_fallbacks(s, cl);
}

void sim_clients_load(struct sim *s, bool on)
{
    s->load_on = on;
    if (!on) return;
    for (uint32_t c = 0; c < s->o.clients; c++)
        schedule_load(s, &s->cli[c], 0);
}

uint64_t sim_client_submit_order(struct sim *s, uint32_t c, uint64_t client_order_id)
{
    if (c >= s->o.clients || s->failed) return 0;
    struct sim_client *cl = &s->cli[c];
    uint64_t id = client_order_id ? client_order_id : pick_order_id(s, cl);
    uint64_t req_no = submit(s, cl, id);
    if (req_no) after_submit(s, cl);
    return req_no;
}

uint64_t sim_client_read(struct sim *s, uint32_t c, uint32_t target, uint64_t client_order_id)
{
    if (c >= s->o.clients || target >= s->o.clients || s->failed) return 0;
    struct sim_client *cl = &s->cli[c];
    uint64_t id = issue_read(s, cl, target, client_order_id);
    if (id) after_submit(s, cl);
    return id;
}

bool sim_client_read_done(const struct sim *s, uint32_t c, uint64_t read_id)
{
    if (c >= s->o.clients || !read_id) return false;
    for (uint32_t i = 0; i < s->cli[c].n_reads; i++)
        if (s->cli[c].reads[i].id == read_id) return false;
    return true;
}

uint64_t sim_client_order_id(uint32_t c, uint64_t k)
{
    return ((uint64_t)(c + 1) << 40) | k;
}

bool sim_clients_idle(const struct sim *s)
{
    for (uint32_t c = 0; c < s->o.clients; c++)
        if (s->cli[c].n_pending || s->cli[c].n_reads) return false;
    return true;
}

uint64_t sim_client_completed(const struct sim *s, uint32_t c)
{
    return c < s->o.clients ? s->cli[c].completed : 0;
}

bool sim_client_done(const struct sim *s, uint32_t c, uint64_t req_no)
{
    if (c >= s->o.clients || req_no == 0 || req_no > s->cli[c].last_req_no) return false;
    for (uint32_t i = 0; i < s->cli[c].n_pending; i++)
        if (s->cli[c].pending[i].req_no == req_no) return false;
    return true;
}
