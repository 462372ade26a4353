/* Scripted fixture for the PBFT core tests: a fake env/io per replica that
 * records every effect in order, and a tiny in-memory network that carries
 * encoded messages between cores (no sockets, no clock). Null signatures:
 * sign writes zeros, verify accepts everything except signatures whose
 * first byte is FX_BAD_SIG (for tests about bad embedded signatures). */
#ifndef PBFT_FIXTURE_H
#define PBFT_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "core/pbft/pbft.h"
#include "wire/wire.h"
#include "core/pbft/pbft_internal.h"

#define FX_TIMERS 6 /* PBFT timer ids 1..5 */
#include "crypto/crypto.h"

#define FX_CLUSTER 0x5eed
#define FX_BAD_SIG 0xBA
#define FX_MAX_EFFECTS 8192
#define FX_QUEUE_MAX 65536
#define FX_REQS 4096

enum { FX_SEND = 1, FX_BCAST, FX_PERSIST, FX_EXEC, FX_SET_TIMER, FX_CANCEL, FX_REJECT };

struct fx_effect {
    int kind;
    uint32_t to;
    uint8_t type; /* message type, or record type for FX_PERSIST */
    uint64_t view, seq;
    bft_digest digest;
    uint32_t body_len, payload_len;
    uint8_t *body, *payload; /* copies, freed by fx_free */
    uint32_t timer;
    uint64_t ms;
    int reason;
};

struct fx_node {
    struct fx *fx;
    uint32_t id;
    struct bft_core *core;
    struct bft_core_config cfg;
    struct fx_effect *eff;
    uint32_t neff;
    bft_digest state;
    uint64_t exec_seq[1024];
    bft_digest exec_digest[1024];
    uint32_t exec_len[1024];
    uint32_t nexec;
    uint64_t timer_ms[FX_TIMERS];
    uint64_t deadline[FX_TIMERS];
    bool timer_armed[FX_TIMERS];
    /* The node's exactly-once table (client ignored, req_no < FX_REQS):
     * part of the replicated state, so it travels in snapshots. */
    bool done[FX_REQS];
    uint64_t rejects[BFT_REJECT__COUNT];
    uint8_t snap[32 + FX_REQS];
    bool down;
    uint32_t restores;
};

struct fx_pkt {
    uint32_t from, to;
    uint8_t *buf;
    uint32_t len;
};

typedef bool (*fx_filter)(struct fx *fx, uint32_t from, uint32_t to, const struct bft_msg *m);

struct fx {
    uint32_t n;
    struct fx_node node[BFT_MAX_REPLICAS];
    struct fx_pkt *q;
    uint32_t qhead, qtail;
    fx_filter drop; /* optional: return true to drop a packet */
    void *arg;
    uint64_t now_ms; /* virtual clock for timers */
    uint64_t rng;
};

/* ---- env ---- */
static inline void fx_sign(void *ctx, uint32_t domain, const uint8_t *region, size_t len,
                           uint8_t sig[BFT_SIG_LEN])
{
    (void)ctx, (void)domain, (void)region, (void)len;
    memset(sig, 0, BFT_SIG_LEN);
}
static inline bool fx_verify(void *ctx, uint32_t signer, uint32_t domain, const uint8_t *region,
                             size_t len, const uint8_t sig[BFT_SIG_LEN])
{
    (void)ctx, (void)signer, (void)domain, (void)region, (void)len;
    return sig[0] != FX_BAD_SIG;
}
static inline bool fx_verify_req(void *ctx, const struct bft_msg *req)
{
    (void)ctx, (void)req;
    return true;
}
static inline uint64_t fx_random(void *ctx)
{
    (void)ctx;
    return 4;
}

/* ---- decoding, with the null PRE-PREPARE the core needs (see report:
 * wire.c must accept a PRE-PREPARE with an empty payload and a zero
 * digest) ---- */
static inline int fx_decode(const uint8_t *buf, size_t len, struct bft_msg *m)
{
    if (bft_msg_decode(buf, len, m) == BFT_E_OK) return 0;
    if (len == BFT_MSG_MIN_LEN && buf[5] == BFT_MSG_PRE_PREPARE) {
        memset(m, 0, sizeof(*m));
        m->type = buf[5];
        m->sender = (uint32_t)wire_le_load(buf + 8, 4);
        m->cluster_id = wire_le_load(buf + 16, 8);
        m->view = wire_le_load(buf + 24, 8);
        m->seq = wire_le_load(buf + 32, 8);
        memcpy(m->digest.b, buf + 40, 32);
        m->body = buf + BFT_HDR_LEN;
        memcpy(m->sig, buf + BFT_HDR_LEN, BFT_SIG_LEN);
        m->payload = buf + len;
        m->raw = buf;
        m->raw_len = (uint32_t)len;
        return 0;
    }
    return -1;
}

static uint8_t *fx_encode(uint32_t sender, const struct bft_msg *in, uint32_t *len_out)
{
    struct bft_msg m = *in;
    m.sender = sender;
    m.cluster_id = FX_CLUSTER;
    memset(m.sig, 0, sizeof m.sig);
    size_t len = bft_msg_encoded_len(&m);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    assert_int_equal(bft_msg_encode(&m, buf, len), len);
    *len_out = (uint32_t)len;
    return buf;
}

/* ---- io ---- */
static inline void fx_clear_effects(struct fx_node *nd);

static struct fx_effect *fx_push(struct fx_node *nd, int kind)
{
    if (nd->neff == FX_MAX_EFFECTS) fx_clear_effects(nd); /* long runs: keep the tail */
    struct fx_effect *e = &nd->eff[nd->neff++];
    memset(e, 0, sizeof(*e));
    e->kind = kind;
    return e;
}

static inline void fx_record_msg(struct fx_effect *e, const struct bft_msg *m)
{
    e->type = m->type;
    e->view = m->view;
    e->seq = m->seq;
    e->digest = m->digest;
    e->body_len = m->body_len;
    e->payload_len = m->payload_len;
    if (m->body_len) {
        e->body = malloc(m->body_len);
        memcpy(e->body, m->body, m->body_len);
    }
    if (m->payload_len) {
        e->payload = malloc(m->payload_len);
        memcpy(e->payload, m->payload, m->payload_len);
    }
}

static inline void fx_enqueue(struct fx *fx, uint32_t from, uint32_t to, const uint8_t *buf,
                              uint32_t len)
{
    assert_true(fx->qtail < FX_QUEUE_MAX);
    struct fx_pkt *p = &fx->q[fx->qtail++];
    p->from = from;
    p->to = to;
    p->buf = malloc(len);
    memcpy(p->buf, buf, len);
    p->len = len;
}

static inline void fx_io_send(void *ctx, uint32_t to, const struct bft_msg *m)
{
    struct fx_node *nd = ctx;
    struct fx_effect *e = fx_push(nd, FX_SEND);
    e->to = to;
    fx_record_msg(e, m);
    if (m->type == BFT_MSG_REQUEST) {
        fx_enqueue(nd->fx, nd->id, to, m->raw, m->raw_len);
        return;
    }
    uint32_t len;
    uint8_t *buf = fx_encode(nd->id, m, &len);
    fx_enqueue(nd->fx, nd->id, to, buf, len);
    free(buf);
}

static inline void fx_io_broadcast(void *ctx, const struct bft_msg *m)
{
    struct fx_node *nd = ctx;
    struct fx_effect *e = fx_push(nd, FX_BCAST);
    fx_record_msg(e, m);
    uint32_t len;
    uint8_t *buf = fx_encode(nd->id, m, &len);
    for (uint32_t i = 0; i < nd->fx->n; i++)
        if (i != nd->id) fx_enqueue(nd->fx, nd->id, i, buf, len);
    free(buf);
}

static inline void fx_io_persist(void *ctx, const uint8_t *rec, size_t len)
{
    struct fx_node *nd = ctx;
    struct fx_effect *e = fx_push(nd, FX_PERSIST);
    e->type = rec[0];
    e->payload = malloc(len);
    memcpy(e->payload, rec, len);
    e->payload_len = (uint32_t)len;
}

static inline void fx_io_execute(void *ctx, uint64_t seq, uint64_t view, const uint8_t *batch,
                                 size_t len, const bft_digest *bd, bft_digest *state)
{
    struct fx_node *nd = ctx;
    struct fx_effect *e = fx_push(nd, FX_EXEC);
    e->seq = seq;
    e->view = view;
    e->digest = *bd;
    e->payload_len = (uint32_t)len;
    assert_true(len == 0 ? batch == NULL : batch != NULL);
    assert_true(nd->nexec < 1024);
    nd->exec_seq[nd->nexec] = seq;
    nd->exec_digest[nd->nexec] = *bd;
    nd->exec_len[nd->nexec] = (uint32_t)len;
    nd->nexec++;
    crypto_sha256_2(nd->state.b, 32, bd->b, 32, nd->state.b);
    if (state) *state = nd->state;
    struct bft_batch_iter it;
    if (len && bft_batch_iter_init(&it, batch, len) == BFT_E_OK) {
        const uint8_t *raw;
        size_t rlen;
        while (bft_batch_iter_next(&it, &raw, &rlen)) {
            uint64_t req_no = wire_le_load(raw + 32, 8);
            if (req_no < FX_REQS) nd->done[req_no] = true;
        }
    }
}

static inline void fx_io_set_timer(void *ctx, uint32_t timer, uint64_t ms)
{
    struct fx_node *nd = ctx;
    struct fx_effect *e = fx_push(nd, FX_SET_TIMER);
    e->timer = timer;
    e->ms = ms;
    assert_true(timer < FX_TIMERS);
    nd->timer_armed[timer] = true;
    nd->timer_ms[timer] = ms;
    nd->deadline[timer] = nd->fx->now_ms + ms;
}

static inline void fx_io_cancel_timer(void *ctx, uint32_t timer)
{
    struct fx_node *nd = ctx;
    struct fx_effect *e = fx_push(nd, FX_CANCEL);
    e->timer = timer;
    assert_true(timer < FX_TIMERS);
    nd->timer_armed[timer] = false;
}

static inline int fx_io_snapshot(void *ctx, const uint8_t **buf, size_t *len)
{
    struct fx_node *nd = ctx;
    memcpy(nd->snap, nd->state.b, 32);
    for (uint32_t i = 0; i < FX_REQS; i++)
        nd->snap[32 + i] = nd->done[i];
    *buf = nd->snap;
    *len = sizeof nd->snap;
    return BFT_E_OK;
}

static inline int fx_io_restore(void *ctx, uint64_t seq, const uint8_t *buf, size_t len,
                                const bft_digest *expect, bft_digest *state)
{
    struct fx_node *nd = ctx;
    (void)seq;
    if (len != sizeof nd->snap) return BFT_E_MALFORMED;
    /* Like the node: check the state digest before replacing anything. */
    if (expect && memcmp(buf, expect->b, 32) != 0) return BFT_E_MALFORMED;
    memcpy(nd->state.b, buf, 32);
    for (uint32_t i = 0; i < FX_REQS; i++)
        nd->done[i] = buf[32 + i] != 0;
    *state = nd->state;
    nd->restores++;
    return BFT_E_OK;
}

static inline void fx_io_reject(void *ctx, int reason)
{
    struct fx_node *nd = ctx;
    struct fx_effect *e = fx_push(nd, FX_REJECT);
    e->reason = reason;
    assert_true(reason >= BFT_REJECT__FIRST && reason < BFT_REJECT__COUNT);
    nd->rejects[reason]++;
}

/* ---- setup ---- */
static inline void fx_init_cfg(struct fx *fx, uint32_t n, const struct bft_core_config *tmpl)
{
    memset(fx, 0, sizeof(*fx));
    fx->n = n;
    fx->q = calloc(FX_QUEUE_MAX, sizeof(*fx->q));
    assert_non_null(fx->q);
    for (uint32_t i = 0; i < n; i++) {
        struct fx_node *nd = &fx->node[i];
        nd->fx = fx;
        nd->id = i;
        nd->eff = calloc(FX_MAX_EFFECTS, sizeof(*nd->eff));
        assert_non_null(nd->eff);
        if (tmpl) {
            nd->cfg = *tmpl;
            nd->cfg.self = i;
        } else {
            bft_core_config_defaults(&nd->cfg, BFT_PROTO_PBFT, n, i);
            nd->cfg.pipeline_max = 8; /* tests script pipelining explicitly */
        }
        nd->cfg.cluster_id = FX_CLUSTER;
        struct bft_env env = {nd, fx_sign, fx_verify, fx_verify_req, fx_random};
        struct bft_io io = {.ctx = nd,
                            .send = fx_io_send,
                            .broadcast = fx_io_broadcast,
                            .persist = fx_io_persist,
                            .execute = fx_io_execute,
                            .set_timer = fx_io_set_timer,
                            .cancel_timer = fx_io_cancel_timer,
                            .snapshot = fx_io_snapshot,
                            .restore = fx_io_restore,
                            .reject = fx_io_reject};
        assert_int_equal(bft_pbft_ops.create(&nd->core, &nd->cfg, &env, &io), BFT_E_OK);
    }
}

static inline void fx_init(struct fx *fx, uint32_t n)
{
    fx_init_cfg(fx, n, NULL);
}

static inline void fx_clear_effects(struct fx_node *nd)
{
    for (uint32_t i = 0; i < nd->neff; i++) {
        free(nd->eff[i].body);
        free(nd->eff[i].payload);
    }
    nd->neff = 0;
}

static inline void fx_drop_queue(struct fx *fx)
{
    for (uint32_t i = fx->qhead; i < fx->qtail; i++)
        free(fx->q[i].buf);
    fx->qhead = fx->qtail = 0;
}

static inline void fx_free(struct fx *fx)
{
    fx_drop_queue(fx);
    free(fx->q);
    for (uint32_t i = 0; i < fx->n; i++) {
        bft_pbft_ops.destroy(fx->node[i].core);
        fx_clear_effects(&fx->node[i]);
        free(fx->node[i].eff);
    }
}

/* ---- driving ---- */
static inline void fx_deliver_buf(struct fx *fx, uint32_t to, const uint8_t *buf, uint32_t len)
{
    struct fx_node *nd = &fx->node[to];
    struct bft_msg m;
    assert_int_equal(fx_decode(buf, len, &m), 0);
    if (m.type == BFT_MSG_REQUEST) {
        /* The node answers executed requests from its table. */
        if (m.seq < FX_REQS && nd->done[m.seq]) return;
        bft_pbft_ops.on_request(nd->core, &m);
    } else {
        bft_pbft_ops.on_message(nd->core, &m);
    }
}

/* Encode msg as coming from `from` and hand it to replica `to`. */
static inline void fx_inject(struct fx *fx, uint32_t from, uint32_t to, const struct bft_msg *m)
{
    uint32_t len;
    uint8_t *buf = fx_encode(from, m, &len);
    fx_deliver_buf(fx, to, buf, len);
    free(buf);
}

/* Deliver queued packets until the network is quiet (bounded). */
static inline uint32_t fx_run(struct fx *fx)
{
    uint32_t delivered = 0;
    while (fx->qhead < fx->qtail && delivered < 200000) {
        struct fx_pkt p = fx->q[fx->qhead++];
        bool drop = fx->node[p.to].down || fx->node[p.from].down;
        if (!drop && fx->drop) {
            struct bft_msg m;
            assert_int_equal(fx_decode(p.buf, p.len, &m), 0);
            drop = fx->drop(fx, p.from, p.to, &m);
        }
        if (!drop) {
            fx_deliver_buf(fx, p.to, p.buf, p.len);
            delivered++;
        }
        free(p.buf);
        if (fx->qhead == fx->qtail) fx->qhead = fx->qtail = 0;
    }
    return delivered;
}

static inline void fx_fire(struct fx *fx, uint32_t id, uint32_t timer)
{
    fx->node[id].timer_armed[timer] = false;
    bft_pbft_ops.on_timer(fx->node[id].core, timer);
}

/* Advance the virtual clock, firing due timers of live replicas (in id and
 * timer order) and delivering what they send. */
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

/* Hand a client request to replica `to` (as the node would: requests it
 * executed already are answered from its table, not given to the core). */
static inline void fx_submit(struct fx *fx, uint32_t to, uint32_t client, uint64_t req_no)
{
    if (req_no < FX_REQS && fx->node[to].done[req_no]) return;
    uint32_t len;
    uint8_t *buf = fx_request(client, req_no, &len);
    fx_deliver_buf(fx, to, buf, len);
    free(buf);
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
    bft_pbft_ops.status(nd->core, &st);
    return st;
}

#endif
