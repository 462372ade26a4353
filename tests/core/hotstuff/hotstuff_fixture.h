/* Shared fixture for the HotStuff scripted tests (test_hotstuff*.c): cores
 * driven through their ops table, a fake io that records every effect in
 * order, a FIFO "network" between them (no sockets), real Ed25519. */
#ifndef BFT_TESTS_HOTSTUFF_FIXTURE_H
#define BFT_TESTS_HOTSTUFF_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/hotstuff/hotstuff_internal.h"

/* A test file may set N (n = N, f = (N - 1) / 3) before including this. */
#ifndef N
#define N 4
#endif
#define FX_F ((N - 1) / 3)
#define FX_QUORUM ((N + FX_F) / 2 + 1)
#define CLUSTER 77
#define MAX_EFFECTS 20000
#define MAX_NET 20000

enum { E_SEND = 1, E_PERSIST, E_EXECUTE, E_REJECT };

struct effect {
    int kind;
    uint32_t replica, to;
    uint8_t type;
    uint64_t view, seq;
    int reason;
    bft_digest digest;
};

struct packet {
    uint32_t from, to;
    uint8_t *buf;
    size_t len;
};

struct rec {
    uint8_t *p;
    size_t len;
};

struct h;
struct rep {
    struct h *h;
    uint32_t id;
    bool armed[8];
    uint64_t executed;
    bft_digest state;
    struct rec recs[4096];
    uint32_t nrecs;
    uint32_t rejected[BFT_REJECT__COUNT];
};

struct h {
    struct crypto_keypair keys[N];
    struct bft_core *core[N];
    struct rep rep[N];
    struct bft_env env[N];
    struct bft_io io[N];
    struct effect *fx;
    uint32_t nfx;
    struct packet *net;
    uint32_t net_head, net_tail;
    bool drop_from[N], drop_to[N];
    /* One-shot drops: the next `drop_count` messages of `drop_type` to
     * `drop_dest`. */
    uint8_t drop_type;
    uint32_t drop_dest, drop_count;
};

static struct h *H;
static uint32_t fixture_leader_views = 1;
static uint32_t fixture_reputation = 0;

/* ---- fake env / io ---- */

static inline void env_sign(void *ctx, uint32_t domain, const uint8_t *region, size_t len,
                            uint8_t sig[BFT_SIG_LEN])
{
    struct rep *r = ctx;
    crypto_sign_msg(&r->h->keys[r->id], domain, CLUSTER, region, len, sig);
}

static inline bool env_verify(void *ctx, uint32_t signer, uint32_t domain, const uint8_t *region,
                              size_t len, const uint8_t sig[BFT_SIG_LEN])
{
    struct rep *r = ctx;
    if (signer >= N) return false;
    return crypto_verify_msg(r->h->keys[signer].pk, domain, CLUSTER, region, len, sig);
}

static inline bool env_verify_request(void *ctx, const struct bft_msg *req)
{
    (void)ctx;
    return req->type == BFT_MSG_REQUEST;
}

static inline uint64_t env_random(void *ctx)
{
    (void)ctx;
    return 4;
}

static inline void log_fx(struct effect e)
{
    assert_true(H->nfx < MAX_EFFECTS);
    H->fx[H->nfx++] = e;
}

/* Encode and sign as the node would (sender, cluster, domain = type). */
static inline size_t encode_signed(uint32_t from, const struct bft_msg *m, uint8_t **out)
{
    struct bft_msg o = *m;
    o.sender = from;
    o.cluster_id = CLUSTER;
    size_t len = bft_msg_encoded_len(&o);
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    assert_int_equal(bft_msg_encode(&o, buf, len), len);
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(buf, &region, &rlen);
    uint8_t sig[BFT_SIG_LEN];
    crypto_sign_msg(&H->keys[from], m->type, CLUSTER, region, rlen, sig);
    bft_msg_set_sig(buf, sig);
    *out = buf;
    return len;
}

static inline void enqueue(uint32_t from, uint32_t to, const struct bft_msg *m)
{
    log_fx((struct effect){.kind = E_SEND,
                           .replica = from,
                           .to = to,
                           .type = m->type,
                           .view = m->view,
                           .seq = m->seq,
                           .digest = m->digest});
    if (H->drop_from[from] || H->drop_to[to]) return;
    if (H->drop_count && m->type == H->drop_type && to == H->drop_dest) {
        H->drop_count--;
        return;
    }
    assert_true(H->net_tail < MAX_NET);
    struct packet *p = &H->net[H->net_tail++];
    p->from = from;
    p->to = to;
    p->len = encode_signed(from, m, &p->buf);
}

static inline void io_send(void *ctx, uint32_t to, const struct bft_msg *m)
{
    struct rep *r = ctx;
    assert_true(to < N && to != r->id);
    enqueue(r->id, to, m);
}

static inline void io_broadcast(void *ctx, const struct bft_msg *m)
{
    struct rep *r = ctx;
    for (uint32_t i = 0; i < N; i++)
        if (i != r->id) enqueue(r->id, i, m);
}

static inline void io_persist(void *ctx, const uint8_t *rec, size_t len)
{
    struct rep *r = ctx;
    log_fx((struct effect){.kind = E_PERSIST, .replica = r->id, .type = rec[0]});
    assert_true(r->nrecs < 4096);
    r->recs[r->nrecs].p = malloc(len);
    memcpy(r->recs[r->nrecs].p, rec, len);
    r->recs[r->nrecs].len = len;
    r->nrecs++;
}

static inline void io_execute(void *ctx, uint64_t seq, uint64_t view, const uint8_t *batch,
                              size_t len, const bft_digest *bd, bft_digest *state)
{
    struct rep *r = ctx;
    (void)batch;
    (void)len;
    assert_int_equal(seq, r->executed + 1); /* consecutive, exactly once */
    r->executed = seq;
    crypto_sha256_2(r->state.b, 32, bd->b, 32, r->state.b);
    if (state) *state = r->state;
    log_fx((struct effect){
        .kind = E_EXECUTE, .replica = r->id, .view = view, .seq = seq, .digest = *bd});
}

static inline void io_set_timer(void *ctx, uint32_t t, uint64_t ms)
{
    struct rep *r = ctx;
    (void)ms;
    assert_true(t < 8);
    r->armed[t] = true;
}

static inline void io_cancel_timer(void *ctx, uint32_t t)
{
    struct rep *r = ctx;
    r->armed[t] = false;
}

static inline int io_snapshot(void *ctx, const uint8_t **buf, size_t *len)
{
    (void)ctx;
    static const uint8_t none[1];
    *buf = none;
    *len = 0;
    return BFT_E_OK;
}

static inline int io_restore(void *ctx, uint64_t seq, const uint8_t *buf, size_t len,
                             const bft_digest *expect, bft_digest *st)
{
    (void)ctx, (void)seq, (void)buf, (void)len, (void)expect, (void)st;
    return BFT_E_INVALID;
}

static inline void io_reject(void *ctx, int reason)
{
    struct rep *r = ctx;
    r->rejected[reason]++;
    log_fx((struct effect){.kind = E_REJECT, .replica = r->id, .reason = reason});
}

static inline void make_core(uint32_t i)
{
    struct bft_core_config cfg;
    bft_core_config_defaults(&cfg, BFT_PROTO_HOTSTUFF, N, i);
    cfg.cluster_id = CLUSTER;
    /* The scripted tests name leaders as view mod n (one view each); a
     * test of leader windows sets fixture_leader_views before setup. */
    cfg.leader_views = fixture_leader_views;
    cfg.n_clients = 16; /* clients 0..15: each may queue max(64, 4096 / 16) */
    cfg.leader_reputation = fixture_reputation; /* tests of reputation set it */
    H->rep[i].h = H;
    H->rep[i].id = i;
    H->env[i] = (struct bft_env){&H->rep[i], env_sign, env_verify, env_verify_request, env_random};
    H->io[i] = (struct bft_io){.ctx = &H->rep[i],
                               .send = io_send,
                               .broadcast = io_broadcast,
                               .persist = io_persist,
                               .execute = io_execute,
                               .set_timer = io_set_timer,
                               .cancel_timer = io_cancel_timer,
                               .snapshot = io_snapshot,
                               .restore = io_restore,
                               .reject = io_reject};
    assert_int_equal(bft_hotstuff_ops.create(&H->core[i], &cfg, &H->env[i], &H->io[i]), BFT_E_OK);
}

static inline int setup(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), 0);
    H = calloc(1, sizeof(*H));
    H->fx = calloc(MAX_EFFECTS, sizeof(*H->fx));
    H->net = calloc(MAX_NET, sizeof(*H->net));
    for (uint32_t i = 0; i < N; i++) {
        uint8_t seed[CRYPTO_SEED_LEN] = {0};
        seed[0] = (uint8_t)(i + 1);
        crypto_keypair_from_seed(&H->keys[i], seed);
        make_core(i);
    }
    return 0;
}

static inline int teardown(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < N; i++) {
        bft_hotstuff_ops.destroy(H->core[i]);
        for (uint32_t k = 0; k < H->rep[i].nrecs; k++)
            free(H->rep[i].recs[k].p);
    }
    for (uint32_t k = H->net_head; k < H->net_tail; k++)
        free(H->net[k].buf);
    free(H->fx);
    free(H->net);
    free(H);
    return 0;
}

/* ---- driving ---- */

/* Deliver as the node does: decode, check the outer signature, hand over. */
static inline void deliver_one(void)
{
    struct packet *p = &H->net[H->net_head++];
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(p->buf, p->len, &m), BFT_E_OK);
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(m.raw, &region, &rlen);
    assert_true(crypto_verify_msg(H->keys[p->from].pk, m.type, CLUSTER, region, rlen, m.sig));
    bft_hotstuff_ops.on_message(H->core[p->to], &m);
    free(p->buf);
    p->buf = NULL;
}

static inline void run(void)
{
    while (H->net_head < H->net_tail)
        deliver_one();
}

static inline void deliver_raw(uint32_t from, uint32_t to, const struct bft_msg *m)
{
    uint8_t *buf;
    size_t len = encode_signed(from, m, &buf);
    struct bft_msg d;
    assert_int_equal(bft_msg_decode(buf, len, &d), BFT_E_OK);
    bft_hotstuff_ops.on_message(H->core[to], &d);
    free(buf);
}

/* A client REQUEST with one op (client-signed with zeros: env accepts),
 * to every replica in `mask`. */
static inline void submit_mask(uint32_t client, uint64_t req_no, uint32_t mask)
{
    uint8_t body[64];
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    wire_put_u16(&w, 1);
    wire_put_u8(&w, 0);
    wire_put_u8(&w, 0);
    wire_put_u16(&w, 3);
    wire_put_bytes(&w, "op!", 3);
    struct bft_msg m = {.type = BFT_MSG_REQUEST,
                        .sender = client,
                        .cluster_id = CLUSTER,
                        .seq = req_no,
                        .body = body,
                        .body_len = (uint32_t)w.len};
    uint8_t buf[256];
    size_t len = bft_msg_encode(&m, buf, sizeof buf);
    struct bft_msg d;
    assert_int_equal(bft_msg_decode(buf, len, &d), BFT_E_OK);
    for (uint32_t i = 0; i < N; i++)
        if (mask >> i & 1) bft_hotstuff_ops.on_request(H->core[i], &d);
}

/* The same to replica `to` only (to = N: every replica not cut off). */
static inline void submit_one(uint32_t to, uint32_t client, uint64_t req_no)
{
    uint32_t mask = 0;
    for (uint32_t i = 0; i < N; i++)
        if ((to == N || to == i) && !H->drop_to[i]) mask |= 1u << i;
    submit_mask(client, req_no, mask);
}

static inline void submit(uint32_t client, uint64_t req_no)
{
    submit_one(N, client, req_no);
}

static inline void fire(uint32_t i, uint32_t timer)
{
    if (!H->rep[i].armed[timer]) return;
    H->rep[i].armed[timer] = false;
    bft_hotstuff_ops.on_timer(H->core[i], timer);
}

/* Run the network; when it is quiet, fire every armed timer; repeat. */
static inline void run_rounds(int rounds)
{
    for (int k = 0; k < rounds; k++) {
        run();
        for (uint32_t i = 0; i < N; i++) {
            fire(i, HS_TIMER_FETCH);
            fire(i, HS_TIMER_VIEW);
        }
    }
    run();
}

static inline uint32_t count_fx(int kind, int replica, uint8_t type)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < H->nfx; i++)
        if (H->fx[i].kind == kind && (replica < 0 || H->fx[i].replica == (uint32_t)replica) &&
            (type == 0 || H->fx[i].type == type))
            k++;
    return k;
}

static inline struct bft_core_status status(uint32_t i)
{
    struct bft_core_status st;
    bft_hotstuff_ops.status(H->core[i], &st);
    return st;
}

/* ---- certificates built by hand ---- */

static inline void sign_vote(uint32_t signer, uint64_t view, uint64_t height,
                             const bft_digest *block, uint8_t sig[BFT_SIG_LEN])
{
    uint8_t region[BFT_HDR_LEN - BFT_SIGNED_OFF];
    hs_vote_region(H->core[0], signer, view, height, block, region);
    crypto_sign_msg(&H->keys[signer], BFT_MSG_HS_VOTE, CLUSTER, region, sizeof region, sig);
}

static inline void make_qc(struct hs_qc *q, uint64_t view, uint64_t height, const bft_digest *block,
                           const uint8_t *signers, uint32_t k)
{
    memset(q, 0, sizeof(*q));
    q->view = view;
    q->height = height;
    q->block = *block;
    q->k = (uint8_t)k;
    for (uint32_t i = 0; i < k; i++) {
        q->signer[i] = signers[i];
        sign_vote(signers[i], view, height, block, q->sig[i]);
    }
}

static inline void make_tc(struct hs_tc *t, uint64_t view, uint64_t hqc_view)
{
    memset(t, 0, sizeof(*t));
    t->view = view;
    t->k = FX_QUORUM;
    for (uint32_t i = 0; i < FX_QUORUM; i++) {
        uint8_t region[20];
        t->signer[i] = (uint8_t)i;
        t->hqc_view[i] = hqc_view;
        hs_timeout_region(view, hqc_view, region);
        crypto_sign_msg(&H->keys[i], HS_DOM_TIMEOUT, CLUSTER, region, sizeof region, t->sig[i]);
    }
}

/* An empty block extending `justify` at `view`, and its proposal. */
struct blk {
    uint64_t view, height;
    bft_digest digest;
    struct hs_qc justify;
    uint8_t body[4096]; /* as proposed (with its TC, if any) */
    uint32_t body_len;
    uint8_t rbody[4096]; /* as a block response carries it (no TC) */
    uint32_t rbody_len;
};

static inline void make_block(struct blk *b, uint64_t view, const struct hs_qc *justify,
                              const struct hs_tc *tc)
{
    static const bft_digest zero;
    b->view = view;
    b->height = justify->height + 1;
    b->justify = *justify;
    hs_block_digest(view, b->height, &justify->block, &zero, justify, &b->digest);
    struct wire_wr w;
    wire_wr_init(&w, b->body, sizeof b->body);
    wire_put_bytes(&w, justify->block.b, 32);
    hs_qc_write(&w, justify);
    wire_put_u8(&w, tc ? 1 : 0);
    if (tc) hs_tc_write(&w, tc);
    assert_false(w.err);
    b->body_len = (uint32_t)w.len;
    wire_wr_init(&w, b->rbody, sizeof b->rbody);
    wire_put_bytes(&w, justify->block.b, 32);
    hs_qc_write(&w, justify);
    wire_put_u8(&w, 0);
    assert_false(w.err);
    b->rbody_len = (uint32_t)w.len;
}

static inline void respond_block(uint32_t from, uint32_t to, const struct blk *b)
{
    struct bft_msg r = {.type = BFT_MSG_HS_BLOCK_RESP,
                        .view = b->view,
                        .seq = b->height,
                        .body = b->rbody,
                        .body_len = b->rbody_len};
    deliver_raw(from, to, &r);
}

static inline void propose_to(uint32_t to, const struct blk *b)
{
    struct bft_msg m = {.type = BFT_MSG_HS_PROPOSAL,
                        .view = b->view,
                        .seq = b->height,
                        .body = b->body,
                        .body_len = b->body_len};
    deliver_raw((uint32_t)(b->view % N), to, &m);
}

static const uint8_t Q012[] __attribute__((unused)) = {0, 1, 2};
/* The first FX_QUORUM replicas (0, 1, 2 when N = 4). */
static const uint8_t QALL[]
    __attribute__((unused)) = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};

/* A certified chain of empty blocks in the given views, each extending the
 * previous one (QCs signed by 0, 1, 2); TCs fill the gaps. */
static struct hs_qc chain_qc[16];

static inline void make_chain(struct blk *out, const uint64_t *views, uint32_t k)
{
    struct hs_qc g;
    hs_qc_genesis(&g);
    const struct hs_qc *j = &g;
    for (uint32_t i = 0; i < k; i++) {
        struct hs_tc tc;
        bool gap = views[i] != j->view + 1;
        if (gap) make_tc(&tc, views[i] - 1, j->view);
        make_block(&out[i], views[i], j, gap ? &tc : NULL);
        make_qc(&chain_qc[i], out[i].view, out[i].height, &out[i].digest, QALL, FX_QUORUM);
        j = &chain_qc[i];
    }
}

/* HS_TIMEOUT(view) from `from` to `to`, signed with from's key: its
 * statement (view, hqc->view), optionally a vote (view vview, height
 * vheight, block vblock) and a TC, as a Byzantine replica could craft it. */
static inline void timeout_to(uint32_t from, uint32_t to, uint64_t view, const struct hs_qc *hqc,
                              uint64_t vview, uint64_t vheight, const bft_digest *vblock,
                              const struct hs_tc *tc)
{
    uint8_t body[4096], region[20], sig[BFT_SIG_LEN];
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    hs_qc_write(&w, hqc);
    hs_timeout_region(view, hqc->view, region);
    crypto_sign_msg(&H->keys[from], HS_DOM_TIMEOUT, CLUSTER, region, sizeof region, sig);
    wire_put_bytes(&w, sig, BFT_SIG_LEN);
    wire_put_u8(&w, vview ? 1 : 0);
    if (vview) {
        sign_vote(from, vview, vheight, vblock, sig);
        wire_put_u64(&w, vview);
        wire_put_u64(&w, vheight);
        wire_put_bytes(&w, vblock->b, 32);
        wire_put_bytes(&w, sig, BFT_SIG_LEN);
    }
    wire_put_u8(&w, tc ? 1 : 0);
    if (tc) hs_tc_write(&w, tc);
    assert_false(w.err);
    struct bft_msg m = {
        .type = BFT_MSG_HS_TIMEOUT, .view = view, .body = body, .body_len = (uint32_t)w.len};
    deliver_raw(from, to, &m);
}

/* ---- tests ---- */

/* §4.2: a QC is n - f votes from distinct replicas: a duplicate counts
 * once, and the QC still forms from distinct voters. */
#endif
