/* Scripted cluster fixture for the Raft core tests: n cores behind fake
 * bft_io/bft_env that record every effect (sends, persists in order with
 * sends, executions, timers, rejects, reads). No sockets and no clock:
 * messages wait in one FIFO until the test delivers them, timers fire only
 * when the test says so. Messages really go through the wire codec
 * (encode, then bft_msg_decode) so bodies are tested as they travel. */
#ifndef TEST_RAFT_FIXTURE_H
#define TEST_RAFT_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/raft/raft.h"
#include "wire/wire.h"
#include "core/raft/raft_internal.h"
#include "net/net.h"
#include "wire/hash.h"

#define FX_FN static inline __attribute__((unused))
#define FX_MAX_MSGS 65536
#define FX_MAX_EVENTS 4096
#define FX_TIMERS 64

enum { FX_EV_PERSIST = 1, FX_EV_SEND = 2 };

struct fx_msg {
    uint32_t from, to;
    uint8_t *buf;
    size_t len;
};

struct fx_node {
    struct fx *fx;
    uint32_t id;
    struct bft_core *core;
    struct bft_io io;
    struct bft_env env;
    uint64_t rng;
    bool down;
    /* timers */
    bool armed[FX_TIMERS];
    uint64_t after_ms[FX_TIMERS];
    /* WAL */
    uint8_t **wal;
    size_t *wal_len;
    size_t n_wal, cap_wal;
    /* effects in order: persist / send (type) */
    struct {
        uint8_t kind, type, rec_type;
    } ev[FX_MAX_EVENTS];
    size_t n_ev;
    /* execution (fake application: a hash chain over executed batches) */
    uint64_t executed;
    uint64_t state;
    uint64_t exec_count;
    uint32_t exec_reqs;
    uint64_t restores;
    uint8_t snapbuf[16];
    uint64_t rejects[BFT_REJECT__COUNT];
    uint64_t reads_ready;
};

struct fx {
    uint32_t n;
    struct bft_core_config cfg;
    struct fx_node node[BFT_MAX_REPLICAS];
    struct fx_msg *q;
    size_t head, len;
    bool cut[BFT_MAX_REPLICAS][BFT_MAX_REPLICAS];
    uint64_t sent_by_type[256];
};

/* ---- fake env / io ---- */

FX_FN uint64_t fx_random(void *ctx)
{
    struct fx_node *nd = ctx;
    return bft_splitmix64(&nd->rng);
}

FX_FN void fx_push(struct fx *fx, uint32_t from, uint32_t to, const uint8_t *buf, size_t len)
{
    assert_true(fx->head + fx->len < FX_MAX_MSGS);
    struct fx_msg *m = &fx->q[fx->head + fx->len++];
    m->from = from;
    m->to = to;
    m->buf = malloc(len);
    memcpy(m->buf, buf, len);
    m->len = len;
}

FX_FN void fx_note(struct fx_node *nd, uint8_t kind, uint8_t type, uint8_t rec_type)
{
    if (nd->n_ev < FX_MAX_EVENTS) {
        nd->ev[nd->n_ev].kind = kind;
        nd->ev[nd->n_ev].type = type;
        nd->ev[nd->n_ev].rec_type = rec_type;
        nd->n_ev++;
    }
}

FX_FN void fx_send_to(struct fx_node *nd, uint32_t to, const struct bft_msg *m)
{
    struct fx *fx = nd->fx;
    assert_true(to < fx->n);
    assert_int_not_equal(to, nd->id);
    fx_note(nd, FX_EV_SEND, m->type, 0);
    fx->sent_by_type[m->type]++;
    if (m->type == BFT_MSG_REQUEST) { /* forwarded byte for byte */
        fx_push(fx, nd->id, to, m->raw, m->raw_len);
        return;
    }
    struct bft_msg out = *m;
    out.sender = nd->id;
    out.cluster_id = fx->cfg.cluster_id;
    assert_int_equal(out.flags, 0);
    size_t len = bft_msg_encoded_len(&out);
    uint8_t *buf = malloc(len);
    assert_int_equal(bft_msg_encode(&out, buf, len), len);
    fx_push(fx, nd->id, to, buf, len);
    free(buf);
}

FX_FN void fx_io_send(void *ctx, uint32_t to, const struct bft_msg *m)
{
    fx_send_to(ctx, to, m);
}

FX_FN void fx_io_broadcast(void *ctx, const struct bft_msg *m)
{
    struct fx_node *nd = ctx;
    for (uint32_t i = 0; i < nd->fx->n; i++)
        if (i != nd->id) fx_send_to(nd, i, m);
}

FX_FN void fx_io_persist(void *ctx, const uint8_t *rec, size_t len)
{
    struct fx_node *nd = ctx;
    if (nd->n_wal == nd->cap_wal) {
        nd->cap_wal = nd->cap_wal ? nd->cap_wal * 2 : 64;
        nd->wal = realloc(nd->wal, nd->cap_wal * sizeof(*nd->wal));
        nd->wal_len = realloc(nd->wal_len, nd->cap_wal * sizeof(*nd->wal_len));
    }
    nd->wal[nd->n_wal] = malloc(len);
    memcpy(nd->wal[nd->n_wal], rec, len);
    nd->wal_len[nd->n_wal++] = len;
    fx_note(nd, FX_EV_PERSIST, 0, rec[0]);
}

FX_FN void fx_io_execute(void *ctx, uint64_t seq, uint64_t view, const uint8_t *batch, size_t len,
                         const bft_digest *d, bft_digest *state)
{
    struct fx_node *nd = ctx;
    (void)view;
    /* In order, exactly once, consecutive from 1 (or from a restore). */
    assert_int_equal(seq, nd->executed + 1);
    assert_true((batch == NULL) == (len == 0));
    nd->executed = seq;
    nd->exec_count++;
    uint64_t h = nd->state ^ seq;
    for (int i = 0; i < 8; i++)
        h = (h ^ d->b[i]) * 0x100000001b3ull;
    nd->state = h;
    if (len >= 2) nd->exec_reqs += (uint32_t)wire_le_load(batch, 2);
    if (state) memset(state, 0, sizeof(*state));
}

FX_FN void fx_io_set_timer(void *ctx, uint32_t t, uint64_t after)
{
    struct fx_node *nd = ctx;
    assert_true(t < FX_TIMERS);
    nd->armed[t] = true;
    nd->after_ms[t] = after;
}

FX_FN void fx_io_cancel_timer(void *ctx, uint32_t t)
{
    struct fx_node *nd = ctx;
    assert_true(t < FX_TIMERS);
    nd->armed[t] = false;
}

FX_FN int fx_io_snapshot(void *ctx, const uint8_t **buf, size_t *len)
{
    struct fx_node *nd = ctx;
    wire_le_store(nd->snapbuf, nd->executed, 8);
    wire_le_store(nd->snapbuf + 8, nd->state, 8);
    *buf = nd->snapbuf;
    *len = sizeof nd->snapbuf;
    return BFT_E_OK;
}

FX_FN int fx_io_restore(void *ctx, uint64_t seq, const uint8_t *buf, size_t len,
                        const bft_digest *expect, bft_digest *state)
{
    (void)expect; /* Raft passes none */
    struct fx_node *nd = ctx;
    if (len != 16 || wire_le_load(buf, 8) != seq) return BFT_E_MALFORMED;
    nd->executed = seq;
    nd->state = wire_le_load(buf + 8, 8);
    nd->restores++;
    memset(state, 0, sizeof(*state));
    return BFT_E_OK;
}

FX_FN void fx_io_reject(void *ctx, int reason)
{
    struct fx_node *nd = ctx;
    assert_true(reason >= BFT_REJECT__FIRST && reason < BFT_REJECT__COUNT);
    nd->rejects[reason]++;
}

FX_FN void fx_io_read_ready(void *ctx, const uint8_t *req, size_t len)
{
    struct fx_node *nd = ctx;
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(req, len, &m), BFT_E_OK);
    nd->reads_ready++;
}

/* ---- lifecycle ---- */

FX_FN void fx_node_create(struct fx *fx, uint32_t i)
{
    struct fx_node *nd = &fx->node[i];
    nd->fx = fx;
    nd->id = i;
    nd->rng = 0x1234 + i * 7919;
    nd->io = (struct bft_io){.ctx = nd,
                             .send = fx_io_send,
                             .broadcast = fx_io_broadcast,
                             .persist = fx_io_persist,
                             .execute = fx_io_execute,
                             .set_timer = fx_io_set_timer,
                             .cancel_timer = fx_io_cancel_timer,
                             .snapshot = fx_io_snapshot,
                             .restore = fx_io_restore,
                             .reject = fx_io_reject,
                             .read_ready = fx_io_read_ready};
    nd->env = (struct bft_env){.ctx = nd, .random = fx_random};
    struct bft_core_config cfg = fx->cfg;
    cfg.self = i;
    assert_int_equal(bft_raft_ops.create(&nd->core, &cfg, &nd->env, &nd->io), BFT_E_OK);
    nd->down = false;
}

FX_FN void fx_wal_free(struct fx_node *nd)
{
    for (size_t k = 0; k < nd->n_wal; k++)
        free(nd->wal[k]);
    free(nd->wal);
    free(nd->wal_len);
    nd->wal = NULL;
    nd->wal_len = NULL;
    nd->n_wal = nd->cap_wal = 0;
}

/* A fixture with default config and no nodes yet: tests may tune fx->cfg
 * and then call fx_start_nodes. */
FX_FN struct fx *fx_alloc(uint32_t n)
{
    struct fx *fx = calloc(1, sizeof(*fx));
    fx->n = n;
    fx->q = calloc(FX_MAX_MSGS, sizeof(*fx->q));
    bft_core_config_defaults(&fx->cfg, BFT_PROTO_RAFT, n, 0);
    fx->cfg.cluster_id = 77;
    fx->cfg.request_timeout_ms = 100;
    return fx;
}

FX_FN struct fx *fx_start_nodes(struct fx *fx)
{
    for (uint32_t i = 0; i < fx->n; i++)
        fx_node_create(fx, i);
    return fx;
}

FX_FN struct fx *fx_new(uint32_t n)
{
    return fx_start_nodes(fx_alloc(n));
}

FX_FN void fx_free(struct fx *fx)
{
    for (uint32_t i = 0; i < fx->n; i++) {
        bft_raft_ops.destroy(fx->node[i].core);
        fx_wal_free(&fx->node[i]);
    }
    for (size_t k = fx->head; k < fx->head + fx->len; k++)
        free(fx->q[k].buf);
    free(fx->q);
    free(fx);
}

/* Crash: the process is gone (its WAL stays). Restart: a new core replays
 * the WAL (or none: a lost disk). */
FX_FN void fx_crash(struct fx *fx, uint32_t i)
{
    struct fx_node *nd = &fx->node[i];
    bft_raft_ops.destroy(nd->core);
    nd->core = NULL;
    nd->down = true;
    memset(nd->armed, 0, sizeof nd->armed);
    nd->executed = 0;
    nd->state = 0;
}

FX_FN void fx_restart(struct fx *fx, uint32_t i, bool keep_wal)
{
    struct fx_node *nd = &fx->node[i];
    if (!keep_wal) fx_wal_free(nd);
    size_t n_wal = nd->n_wal;
    uint8_t **wal = nd->wal;
    size_t *wal_len = nd->wal_len;
    nd->wal = NULL;
    nd->wal_len = NULL;
    nd->n_wal = nd->cap_wal = 0;
    fx_node_create(fx, i);
    for (size_t k = 0; k < n_wal; k++) {
        bft_raft_ops.recover(nd->core, wal[k], wal_len[k]);
        fx_io_persist(nd, wal[k], wal_len[k]); /* the WAL keeps them */
        free(wal[k]);
    }
    free(wal);
    free(wal_len);
}

/* ---- driving ---- */

FX_FN void fx_deliver_one(struct fx *fx, struct fx_msg *m)
{
    struct fx_node *nd = &fx->node[m->to];
    if (nd->down || fx->node[m->from].down || fx->cut[m->from][m->to]) return;
    struct bft_msg d;
    assert_int_equal(bft_msg_decode(m->buf, m->len, &d), BFT_E_OK);
    if (d.type == BFT_MSG_REQUEST) {
        if (bft_req_flags(&d) & BFT_REQ_READONLY)
            bft_raft_ops.on_read(nd->core, &d);
        else
            bft_raft_ops.on_request(nd->core, &d);
        return;
    }
    bft_raft_ops.on_message(nd->core, &d);
}

/* Deliver queued messages (and whatever they cause) until quiet or until
 * `max` deliveries. Returns the number delivered. */
FX_FN size_t fx_run(struct fx *fx, size_t max)
{
    size_t k = 0;
    while (fx->len && k < max) {
        struct fx_msg m = fx->q[fx->head++];
        fx->len--;
        if (fx->len == 0) fx->head = 0;
        fx_deliver_one(fx, &m);
        free(m.buf);
        k++;
    }
    return k;
}

/* Deliver only messages whose type is in `types` (bit per type below 64);
 * the rest are dropped. */
FX_FN void fx_run_only(struct fx *fx, uint64_t types)
{
    while (fx->len) {
        struct fx_msg m = fx->q[fx->head++];
        fx->len--;
        if (fx->len == 0) fx->head = 0;
        if (m.len > 5 && m.buf[5] < 64 && ((types >> m.buf[5]) & 1)) fx_deliver_one(fx, &m);
        free(m.buf);
    }
}
#define FX_T(type) (1ull << (type))

FX_FN void fx_drop_all(struct fx *fx)
{
    for (size_t k = fx->head; k < fx->head + fx->len; k++)
        free(fx->q[k].buf);
    fx->head = fx->len = 0;
}

FX_FN bool fx_fire(struct fx *fx, uint32_t i, uint32_t t)
{
    struct fx_node *nd = &fx->node[i];
    if (nd->down || !nd->armed[t]) return false;
    nd->armed[t] = false;
    bft_raft_ops.on_timer(nd->core, t);
    return true;
}

FX_FN struct bft_core_status fx_status(struct fx *fx, uint32_t i)
{
    struct bft_core_status st;
    bft_raft_ops.status(fx->node[i].core, &st);
    return st;
}

FX_FN void fx_partition(struct fx *fx, uint32_t mask_a)
{
    for (uint32_t a = 0; a < fx->n; a++)
        for (uint32_t b = 0; b < fx->n; b++)
            fx->cut[a][b] = ((mask_a >> a) & 1) != ((mask_a >> b) & 1);
}

FX_FN void fx_heal(struct fx *fx)
{
    memset(fx->cut, 0, sizeof fx->cut);
}

/* Start every node (first timer) and let the disk-loss probes settle.
 * Nodes that start from a WAL refuse votes for one election timeout
 * (raft_start, diss. §6.4.1); booting lets that timeout pass. */
FX_FN void fx_boot(struct fx *fx)
{
    for (uint32_t i = 0; i < fx->n; i++)
        fx_fire(fx, i, RAFT_TIMER_START);
    fx_run(fx, 100000);
    for (uint32_t i = 0; i < fx->n; i++)
        fx_fire(fx, i, RAFT_TIMER_STICKY);
}

/* Elect node i: fire its election timer and deliver everything. */
FX_FN void fx_elect(struct fx *fx, uint32_t i)
{
    assert_true(fx_fire(fx, i, RAFT_TIMER_ELECTION));
    fx_run(fx, 100000);
}

FX_FN int fx_leader(struct fx *fx)
{
    int l = -1;
    for (uint32_t i = 0; i < fx->n; i++) {
        if (fx->node[i].down) continue;
        if (fx_status(fx, i).is_leader) {
            assert_int_equal(l, -1);
            l = (int)i;
        }
    }
    return l;
}

/* A client REQUEST (one op) encoded as a client would send it. */
FX_FN size_t fx_request(uint8_t *buf, size_t cap, uint32_t client, uint64_t req_no, bool readonly)
{
    uint8_t body[4 + 2 + 8];
    wire_le_store(body, 1, 2);
    body[2] = readonly ? BFT_REQ_READONLY : 0;
    body[3] = 0;
    wire_le_store(body + 4, 8, 2);
    wire_le_store(body + 6, req_no * 31 + client, 8);
    struct bft_msg m = {.type = BFT_MSG_REQUEST,
                        .sender = client,
                        .cluster_id = 77,
                        .seq = req_no,
                        .body = body,
                        .body_len = sizeof body};
    size_t len = bft_msg_encode(&m, buf, cap);
    assert_true(len > 0);
    return len;
}

/* Hand a client request (or read) straight to node i. */
FX_FN void fx_submit(struct fx *fx, uint32_t i, uint32_t client, uint64_t req_no, bool readonly)
{
    uint8_t buf[256];
    size_t len = fx_request(buf, sizeof buf, client, req_no, readonly);
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(buf, len, &m), BFT_E_OK);
    if (readonly)
        bft_raft_ops.on_read(fx->node[i].core, &m);
    else
        bft_raft_ops.on_request(fx->node[i].core, &m);
}

/* Fire node i's heartbeat timer and deliver. */
FX_FN void fx_heartbeat(struct fx *fx, uint32_t i)
{
    assert_true(fx_fire(fx, i, RAFT_TIMER_HEARTBEAT));
    fx_run(fx, 100000);
}

#include "test_raft_script.h"

#endif
