/* The PBFT cmocka tests' fixture: a thin adapter over the one core fixture
 * (tests/lib/core_fixture.h, issue 13), which holds the cores, the fake
 * env/io and application, the WAL and the per-link FIFO network. This
 * header keeps only what the scripted tests read and the scripting they
 * were written against:
 *  - per node, every effect in order (from cf's observer), the executed
 *    (seq, digest, length) list, reject counters, timer state, and the
 *    application's state and restores (read from cf after every step);
 *  - one global send order: cf queues per link, and every send is noted
 *    here as (from, to) (a broadcast as one hop per destination in id
 *    order, as cf pushes them); fx_run delivers hop by hop with
 *    cf_deliver(from, to, 1), so, each link being FIFO, packets arrive in
 *    exactly the order they were sent;
 *  - "down" replicas: kept alive but cut off (their packets dropped at
 *    delivery) and frozen (their timers do not fire), so a test can
 *    script a replica's messages by hand or let it rejoin later; cf's
 *    crash would lose the core, and its clock fires every node's timers;
 *  - a virtual clock of its own (fx_advance fires each due timer once, in
 *    node then timer order, via cf_fire);
 *  - null signatures (cf_options.null_sigs): sign writes zeros, verify
 *    accepts all but signatures starting with FX_BAD_SIG, so tests forge
 *    messages of any replica and bad embedded signatures.
 * Scripted deliveries (fx_inject, fx_submit, fx_deliver_buf) reach the
 * core at once, past the down/drop rules, checked as any packet is
 * (decode, sender, signature). */
#ifndef PBFT_FIXTURE_H
#define PBFT_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "core/pbft/pbft.h"
#include "core/pbft/pbft_internal.h"
#include "crypto/crypto.h"
#include "tests/lib/core_fixture.h"
#include "wire/wire.h"

#define FX_TIMERS 6 /* PBFT timer ids 1..5 */
#define FX_BAD_SIG CF_BAD_SIG
#define FX_MAX_EFFECTS 8192
#define FX_HOPS_MAX 65536 /* packets in flight over all links */
#define FX_EXEC_MAX 1024  /* executions remembered per node */
#define FX_RUN_MAX 200000 /* hops one fx_run delivers */

enum { FX_SEND = 1, FX_BCAST, FX_PERSIST, FX_EXEC, FX_SET_TIMER, FX_CANCEL, FX_REJECT };

struct fx_effect {
    int kind;
    uint32_t to;
    uint8_t type; /* message type, or record type for FX_PERSIST */
    uint64_t view, seq;
    bft_digest digest;
    uint32_t body_len, payload_len;
    uint8_t *body, *payload; /* copies, freed by fx_clear_effects */
    uint32_t timer;
    uint64_t ms;
    int reason;
};

struct fx_node {
    struct fx *fx;
    uint32_t id;
    struct bft_core *core; /* cf_core, refreshed after every step */
    struct bft_core_config cfg;
    struct fx_effect *eff;
    uint32_t neff;
    bft_digest state; /* the application's, refreshed after every step */
    uint64_t exec_seq[FX_EXEC_MAX];
    bft_digest exec_digest[FX_EXEC_MAX];
    uint32_t exec_len[FX_EXEC_MAX];
    uint32_t nexec;
    uint64_t timer_ms[FX_TIMERS];
    uint64_t deadline[FX_TIMERS];
    bool timer_armed[FX_TIMERS];
    uint64_t rejects[BFT_REJECT__COUNT];
    bool down;
    uint32_t restores; /* snapshots restored (cf's log: "restore ... ok") */
};

struct fx_hop {
    uint8_t from, to;
};

struct fx;
typedef bool (*fx_filter)(struct fx *fx, uint32_t from, uint32_t to, const struct bft_msg *m);

struct fx {
    struct cf *cf;
    uint32_t n;
    struct fx_node node[CF_MAX_NODES];
    struct fx_hop *hop; /* the global send order, a ring */
    uint32_t hop_head, hop_count;
    fx_filter drop; /* optional: return true to drop a packet */
    void *arg;
    uint64_t now_ms; /* virtual clock for timers */
    uint64_t rng;
    struct bft_core_config tmpl; /* every node's config but self */
    bool direct;                 /* a scripted delivery is under way */
};

/* Requests and messages are built without a fixture at hand (make_pp,
 * fx_batch, fx_encode); they carry the cluster id of the last fixture
 * created, which every cluster of a test shares. */
static uint64_t fx_cluster_id;

/* ---- what cf's observer reports ---- */

static inline void fx_clear_effects(struct fx_node *nd)
{
    for (uint32_t i = 0; i < nd->neff; i++) {
        free(nd->eff[i].body);
        free(nd->eff[i].payload);
    }
    nd->neff = 0;
}

static inline struct fx_effect *fx_push(struct fx_node *nd, int kind)
{
    if (nd->neff == FX_MAX_EFFECTS) fx_clear_effects(nd); /* long runs: keep the tail */
    struct fx_effect *e = &nd->eff[nd->neff++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    return e;
}

static inline uint8_t *fx_copy(const uint8_t *p, size_t len)
{
    if (!len) return NULL;
    uint8_t *c = malloc(len);
    assert_non_null(c);
    memcpy(c, p, len);
    return c;
}

static inline void fx_record_msg(struct fx_effect *e, const struct bft_msg *m)
{
    e->type = m->type;
    e->view = m->view;
    e->seq = m->seq;
    e->digest = m->digest;
    e->body_len = m->body_len;
    e->payload_len = m->payload_len;
    e->body = fx_copy(m->body, m->body_len);
    e->payload = fx_copy(m->payload, m->payload_len);
}

/* Note the hop from -> to in the global order, as cf is about to queue
 * it (cf queues nothing to itself or past n). */
static inline void fx_note_hop(struct fx *fx, uint32_t from, uint32_t to)
{
    if (to >= fx->n || to == from) return;
    assert_true(fx->hop_count < FX_HOPS_MAX);
    assert_true(cf_queued(fx->cf, from, to) < CF_LINK_MAX); /* cf would drop it */
    struct fx_hop *h = &fx->hop[(fx->hop_head + fx->hop_count) % FX_HOPS_MAX];
    h->from = (uint8_t)from;
    h->to = (uint8_t)to;
    fx->hop_count++;
}

static inline void fx_on_send(struct fx *fx, struct fx_node *nd, const struct cf_effect *e)
{
    bool bcast = e->to == CF_BROADCAST;
    struct fx_effect *f = fx_push(nd, bcast ? FX_BCAST : FX_SEND);
    fx_record_msg(f, e->msg);
    if (!bcast) {
        f->to = e->to;
        fx_note_hop(fx, nd->id, e->to);
        return;
    }
    for (uint32_t i = 0; i < fx->n; i++)
        fx_note_hop(fx, nd->id, i);
}

static inline void fx_on_exec(struct fx_node *nd, const struct cf_effect *e)
{
    struct fx_effect *f = fx_push(nd, FX_EXEC);
    f->seq = e->seq;
    f->view = e->view;
    f->digest = *e->digest;
    f->payload_len = (uint32_t)e->len;
    assert_true(e->len == 0 ? e->data == NULL : e->data != NULL);
    assert_true(nd->nexec < FX_EXEC_MAX);
    nd->exec_seq[nd->nexec] = e->seq;
    nd->exec_digest[nd->nexec] = *e->digest;
    nd->exec_len[nd->nexec] = (uint32_t)e->len;
    nd->nexec++;
    nd->state = *e->state;
}

static inline void fx_on_timer(struct fx *fx, struct fx_node *nd, const struct cf_effect *e)
{
    struct fx_effect *f = fx_push(nd, e->cancel ? FX_CANCEL : FX_SET_TIMER);
    f->timer = e->timer;
    f->ms = e->ms;
    assert_true(e->timer < FX_TIMERS);
    nd->timer_armed[e->timer] = !e->cancel;
    if (e->cancel) return;
    nd->timer_ms[e->timer] = e->ms;
    nd->deadline[e->timer] = fx->now_ms + e->ms;
}

static inline void fx_observe(void *arg, const struct cf_effect *e)
{
    struct fx *fx = arg;
    assert_true(e->node < fx->n);
    struct fx_node *nd = &fx->node[e->node];
    switch (e->kind) {
    case CF_LOG_SEND:
        fx_on_send(fx, nd, e);
        break;
    case CF_LOG_PERSIST: {
        struct fx_effect *f = fx_push(nd, FX_PERSIST);
        f->type = e->data[0];
        f->payload = fx_copy(e->data, e->len);
        f->payload_len = (uint32_t)e->len;
        break;
    }
    case CF_LOG_EXEC:
        fx_on_exec(nd, e);
        break;
    case CF_LOG_TIMER:
        fx_on_timer(fx, nd, e);
        break;
    case CF_LOG_REJECT:
        fx_push(nd, FX_REJECT)->reason = e->reason;
        assert_true(e->reason >= BFT_REJECT__FIRST && e->reason < BFT_REJECT__COUNT);
        nd->rejects[e->reason]++;
        break;
    default:
        break;
    }
}

/* cf's delivery filter: down replicas are cut off, then the test's. */
static inline bool fx_filter_cb(void *arg, uint32_t from, uint32_t to, const struct bft_msg *m)
{
    struct fx *fx = arg;
    if (fx->direct) return false;
    if (fx->node[to].down || fx->node[from].down) return true;
    return fx->drop && fx->drop(fx, from, to, m);
}

/* After every step: the cores (a wiped node has a new one), the
 * application states, and the restores cf logged (the log shows only
 * checkpoint lines, taken here so it never reaches its bound). */
static inline void fx_sync(struct fx *fx)
{
    char *log = cf_log_take(fx->cf);
    assert_non_null(log);
    assert_null(strstr(log, "not kept"));
    for (char *line = log; *line;) {
        char *end = strchr(line, '\n');
        if (end) *end = '\0';
        unsigned id;
        char what[16], res[16];
        if (sscanf(line, "%u %15s s=%*s %15s", &id, what, res) == 3 && id < fx->n &&
            strcmp(what, "restore") == 0 && strcmp(res, "ok") == 0)
            fx->node[id].restores++;
        if (!end) break;
        line = end + 1;
    }
    free(log);
    for (uint32_t i = 0; i < fx->n; i++) {
        fx->node[i].core = cf_core(fx->cf, i);
        cf_app_state(fx->cf, i, &fx->node[i].state);
    }
}

/* ---- setup ---- */

/* Each node's config is the test's template (cf's cluster id kept). */
static inline void fx_tune(void *arg, uint32_t id, struct bft_core_config *c)
{
    const struct fx *fx = arg;
    uint64_t cluster = c->cluster_id;
    *c = fx->tmpl;
    c->self = id;
    c->cluster_id = cluster;
}

static inline void fx_init_cfg(struct fx *fx, uint32_t n, const struct bft_core_config *tmpl)
{
    memset(fx, 0, sizeof(*fx));
    fx->n = n;
    if (tmpl) {
        fx->tmpl = *tmpl;
    } else {
        bft_core_config_defaults(&fx->tmpl, BFT_PROTO_PBFT, n, 0);
        fx->tmpl.pipeline_max = 8; /* tests script pipelining explicitly */
    }
    fx->hop = calloc(FX_HOPS_MAX, sizeof(*fx->hop));
    assert_non_null(fx->hop);
    struct cf_options o = {
        .protocol = BFT_PROTO_PBFT, .n = n, .null_sigs = true, .tune = fx_tune, .tune_arg = fx};
    char err[128];
    assert_int_equal(cf_create(&fx->cf, &o, err, sizeof err), BFT_E_OK);
    cf_set_observer(fx->cf, fx_observe, fx);
    cf_set_filter(fx->cf, fx_filter_cb, fx);
    cf_set_log_mask(fx->cf, CF_LOG_CKPT);
    fx_cluster_id = cf_config(fx->cf, 0)->cluster_id;
    for (uint32_t i = 0; i < n; i++) {
        struct fx_node *nd = &fx->node[i];
        nd->fx = fx;
        nd->id = i;
        nd->cfg = *cf_config(fx->cf, i);
        nd->eff = calloc(FX_MAX_EFFECTS, sizeof(*nd->eff));
        assert_non_null(nd->eff);
    }
    fx_sync(fx);
}

static inline void fx_init(struct fx *fx, uint32_t n)
{
    fx_init_cfg(fx, n, NULL);
}

static inline void fx_drop_queue(struct fx *fx)
{
    for (uint32_t i = 0; i < fx->n; i++)
        for (uint32_t j = 0; j < fx->n; j++)
            cf_drop(fx->cf, i, j);
    fx->hop_head = fx->hop_count = 0;
}

static inline void fx_free(struct fx *fx)
{
    cf_destroy(fx->cf);
    fx->cf = NULL;
    free(fx->hop);
    for (uint32_t i = 0; i < fx->n; i++) {
        fx_clear_effects(&fx->node[i]);
        free(fx->node[i].eff);
    }
}

/* Replica id loses everything (WAL, snapshots, application) and starts
 * as a new, empty core; what the test kept about it is cleared too. */
static inline void fx_wipe(struct fx *fx, uint32_t id)
{
    struct fx_node *nd = &fx->node[id];
    if (!cf_is_down(fx->cf, id)) assert_int_equal(cf_crash(fx->cf, id), BFT_E_OK);
    assert_int_equal(cf_lose_disk(fx->cf, id, true), BFT_E_OK);
    assert_int_equal(cf_restart(fx->cf, id), BFT_E_OK);
    /* cf dropped its links both ways: forget those hops. */
    uint32_t k = 0;
    for (uint32_t i = 0; i < fx->hop_count; i++) {
        struct fx_hop h = fx->hop[(fx->hop_head + i) % FX_HOPS_MAX];
        if (h.from != id && h.to != id) fx->hop[(fx->hop_head + k++) % FX_HOPS_MAX] = h;
    }
    fx->hop_count = k;
    fx_clear_effects(nd);
    nd->nexec = 0;
    nd->restores = 0;
    memset(nd->timer_armed, 0, sizeof nd->timer_armed);
    fx_sync(fx);
}

/* ---- building messages (null signatures: zeros, as cf signs) ---- */

static uint8_t *fx_encode(uint32_t sender, const struct bft_msg *in, uint32_t *len_out)
{
    struct bft_msg m = *in;
    m.sender = sender;
    m.cluster_id = fx_cluster_id;
    memset(m.sig, 0, sizeof m.sig);
    size_t len = bft_msg_encoded_len(&m);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    assert_int_equal(bft_msg_encode(&m, buf, len), len);
    *len_out = (uint32_t)len;
    return buf;
}

/* A client REQUEST envelope with one op, encoded (client-signed: zeros). */
static uint8_t *fx_request(uint32_t client, uint64_t req_no, uint32_t *len)
{
    uint8_t body[4 + 2 + 8];
    struct wire_wr w = {.buf = body, .cap = sizeof body};
    wire_put_le(&w, 1, 2);
    wire_put_le(&w, 0, 2);
    wire_put_le(&w, 8, 2);
    wire_put_le(&w, req_no * 1000 + client, 8);
    struct bft_msg m = {.type = BFT_MSG_REQUEST, .seq = req_no, .body = body, .body_len = w.len};
    return fx_encode(client, &m, len);
}

/* A batch of `count` requests (client, first_req_no + i). */
static inline uint32_t fx_batch(uint8_t *out, size_t cap, uint32_t client, uint64_t first,
                                uint32_t count)
{
    struct wire_wr w = {.buf = out, .cap = cap};
    wire_put_le(&w, count, 2);
    for (uint32_t i = 0; i < count; i++) {
        uint32_t len;
        uint8_t *req = fx_request(client, first + i, &len);
        wire_put_le(&w, len, 4);
        wire_put_bytes(&w, req, len);
        free(req);
    }
    assert_false(w.err);
    return (uint32_t)w.len;
}

static inline struct bft_msg fx_vote(uint8_t type, uint64_t view, uint64_t seq, const bft_digest *d)
{
    struct bft_msg m = {.type = type, .view = view, .seq = seq};
    if (d) m.digest = *d;
    return m;
}

/* ---- driving ---- */

/* Hand encoded bytes to replica `to` now, as from their sender (a client
 * REQUEST goes through cf's node filtering: executed requests are
 * answered from the application's table, not given to the core). */
static inline void fx_deliver_buf(struct fx *fx, uint32_t to, const uint8_t *buf, uint32_t len)
{
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(buf, len, &m), BFT_E_OK);
    uint32_t from = m.type == BFT_MSG_REQUEST ? to : m.sender; /* cf: any replica id */
    assert_true(from < fx->n && to < fx->n);
    fx->direct = true;
    cf_receive(fx->cf, from, to, buf, len);
    fx->direct = false;
    fx_sync(fx);
}

/* Encode msg as coming from `from` and hand it to replica `to`. */
static inline void fx_inject(struct fx *fx, uint32_t from, uint32_t to, const struct bft_msg *m)
{
    uint32_t len;
    uint8_t *buf = fx_encode(from, m, &len);
    fx_deliver_buf(fx, to, buf, len);
    free(buf);
}

/* Hand a client request to replica `to`. */
static inline void fx_submit(struct fx *fx, uint32_t to, uint32_t client, uint64_t req_no)
{
    uint32_t len;
    uint8_t *buf = fx_request(client, req_no, &len);
    fx_deliver_buf(fx, to, buf, len);
    free(buf);
}

/* Deliver queued packets, in send order, until the network is quiet
 * (bounded); returns the packets taken off the links. */
static inline uint32_t fx_run(struct fx *fx)
{
    uint32_t delivered = 0;
    while (fx->hop_count > 0 && delivered < FX_RUN_MAX) {
        struct fx_hop h = fx->hop[fx->hop_head];
        fx->hop_head = (fx->hop_head + 1) % FX_HOPS_MAX;
        fx->hop_count--;
        /* Every hop noted has its packet on the link (cf drops nothing
         * here: no partition, no crash but fx_wipe's, links below their
         * bound), so the send order is replayed exactly. */
        assert_int_equal(cf_deliver(fx->cf, h.from, h.to, 1), 1);
        delivered++;
    }
    fx_sync(fx);
    return delivered;
}

/* Expire `timer` at replica id, armed or not (tests script expiries). */
static inline void fx_fire(struct fx *fx, uint32_t id, uint32_t timer)
{
    assert_true(id < fx->n && timer < FX_TIMERS);
    fx->node[id].timer_armed[timer] = false;
    if (!cf_fire(fx->cf, id, timer)) {
        struct bft_core *c = cf_core(fx->cf, id);
        assert_non_null(c);
        cf_ops(fx->cf)->on_timer(c, timer); /* not armed: cf_fire would not */
    }
    fx_sync(fx);
}

/* Advance the virtual clock, firing due timers of live replicas (in id and
 * timer order, each once) and delivering what they send. */
static inline void fx_advance(struct fx *fx, uint64_t ms)
{
    fx->now_ms += ms;
    for (uint32_t i = 0; i < fx->n; i++) {
        struct fx_node *nd = &fx->node[i];
        for (uint32_t t = 1; t < FX_TIMERS; t++)
            if (!nd->down && nd->timer_armed[t] && nd->deadline[t] <= fx->now_ms) fx_fire(fx, i, t);
    }
    fx_run(fx);
}

static inline uint64_t fx_rand(struct fx *fx)
{
    fx->rng ^= fx->rng << 13;
    fx->rng ^= fx->rng >> 7;
    fx->rng ^= fx->rng << 17;
    return fx->rng;
}

/* ---- reading ---- */

/* Index of the first effect matching (kind, type) at or after `from`, or -1. */
static inline int fx_find(const struct fx_node *nd, int kind, int type, uint32_t from)
{
    for (uint32_t i = from; i < nd->neff; i++)
        if (nd->eff[i].kind == kind && (type < 0 || nd->eff[i].type == type)) return (int)i;
    return -1;
}

static inline uint32_t fx_count(const struct fx_node *nd, int kind, int type)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < nd->neff; i++)
        if (nd->eff[i].kind == kind && (type < 0 || nd->eff[i].type == type)) k++;
    return k;
}

static inline struct bft_core_status fx_status(const struct fx_node *nd)
{
    struct bft_core_status st;
    assert_true(cf_status(nd->fx->cf, nd->id, &st));
    return st;
}

/* Whether replica nd's application executed (client, req_no). */
static inline bool fx_done(const struct fx_node *nd, uint32_t client, uint64_t req_no)
{
    return cf_executed(nd->fx->cf, nd->id, client, req_no);
}

/* Bytes in one application snapshot (state digest, applied seq, table). */
static inline size_t fx_snap_len(void)
{
    return cf_snap_len();
}

/* A PERSIST effect on nd, for callers that pass a persist callback of
 * their own (ops->compact's dump): recorded, not written to cf's WAL. */
static inline void fx_io_persist(void *ctx, const uint8_t *rec, size_t len)
{
    struct fx_node *nd = ctx;
    struct fx_effect *e = fx_push(nd, FX_PERSIST);
    e->type = rec[0];
    e->payload = fx_copy(rec, len);
    e->payload_len = (uint32_t)len;
}

#endif
