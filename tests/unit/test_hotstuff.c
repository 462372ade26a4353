/* Chained HotStuff core, scripted: cores driven through their ops table
 * with a fake io that records every effect in order, a FIFO "network"
 * between them (no sockets), and real Ed25519 signatures (crypto/), since
 * most of what is tested here is about certificates.
 *
 * Paper references: Yin et al., PODC'19, §4.2 (safeNode), §5 Algorithm 3
 * (chained HotStuff: 2-chain lock, 3-chain commit over consecutive views);
 * the pacemaker rules are docs/hotstuff.md's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bft/hotstuff_internal.h"

#define N 4
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
};

static struct h *H;

/* ---- fake env / io ---- */

static void env_sign(void *ctx, uint32_t domain, const uint8_t *region, size_t len,
                     uint8_t sig[BFT_SIG_LEN])
{
    struct rep *r = ctx;
    crypto_sign_msg(&r->h->keys[r->id], domain, CLUSTER, region, len, sig);
}

static bool env_verify(void *ctx, uint32_t signer, uint32_t domain, const uint8_t *region,
                       size_t len, const uint8_t sig[BFT_SIG_LEN])
{
    struct rep *r = ctx;
    if (signer >= N) return false;
    return crypto_verify_msg(r->h->keys[signer].pk, domain, CLUSTER, region, len, sig);
}

static bool env_verify_request(void *ctx, const struct bft_msg *req)
{
    (void)ctx;
    return req->type == BFT_MSG_REQUEST;
}

static uint64_t env_random(void *ctx)
{
    (void)ctx;
    return 4;
}

static void log_fx(struct effect e)
{
    assert_true(H->nfx < MAX_EFFECTS);
    H->fx[H->nfx++] = e;
}

/* Encode and sign as the node would (sender, cluster, domain = type). */
static size_t encode_signed(uint32_t from, const struct bft_msg *m, uint8_t **out)
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

static void enqueue(uint32_t from, uint32_t to, const struct bft_msg *m)
{
    log_fx((struct effect){.kind = E_SEND,
                           .replica = from,
                           .to = to,
                           .type = m->type,
                           .view = m->view,
                           .seq = m->seq,
                           .digest = m->digest});
    if (H->drop_from[from] || H->drop_to[to]) return;
    assert_true(H->net_tail < MAX_NET);
    struct packet *p = &H->net[H->net_tail++];
    p->from = from;
    p->to = to;
    p->len = encode_signed(from, m, &p->buf);
}

static void io_send(void *ctx, uint32_t to, const struct bft_msg *m)
{
    struct rep *r = ctx;
    assert_true(to < N && to != r->id);
    enqueue(r->id, to, m);
}

static void io_broadcast(void *ctx, const struct bft_msg *m)
{
    struct rep *r = ctx;
    for (uint32_t i = 0; i < N; i++)
        if (i != r->id) enqueue(r->id, i, m);
}

static void io_persist(void *ctx, const uint8_t *rec, size_t len)
{
    struct rep *r = ctx;
    log_fx((struct effect){.kind = E_PERSIST, .replica = r->id, .type = rec[0]});
    assert_true(r->nrecs < 4096);
    r->recs[r->nrecs].p = malloc(len);
    memcpy(r->recs[r->nrecs].p, rec, len);
    r->recs[r->nrecs].len = len;
    r->nrecs++;
}

static void io_execute(void *ctx, uint64_t seq, uint64_t view, const uint8_t *batch, size_t len,
                       const bft_digest *bd, bft_digest *state)
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

static void io_set_timer(void *ctx, uint32_t t, uint64_t ms)
{
    struct rep *r = ctx;
    (void)ms;
    assert_true(t < 8);
    r->armed[t] = true;
}

static void io_cancel_timer(void *ctx, uint32_t t)
{
    struct rep *r = ctx;
    r->armed[t] = false;
}

static int io_snapshot(void *ctx, const uint8_t **buf, size_t *len)
{
    (void)ctx;
    static const uint8_t none[1];
    *buf = none;
    *len = 0;
    return BFT_E_OK;
}

static int io_restore(void *ctx, uint64_t seq, const uint8_t *buf, size_t len, bft_digest *st)
{
    (void)ctx, (void)seq, (void)buf, (void)len, (void)st;
    return BFT_E_INVALID;
}

static void io_reject(void *ctx, int reason)
{
    struct rep *r = ctx;
    r->rejected[reason]++;
    log_fx((struct effect){.kind = E_REJECT, .replica = r->id, .reason = reason});
}

static void make_core(uint32_t i)
{
    struct bft_core_config cfg;
    bft_core_config_defaults(&cfg, BFT_PROTO_HOTSTUFF, N, i);
    cfg.cluster_id = CLUSTER;
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

static int setup(void **state)
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

static int teardown(void **state)
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
static void deliver_one(void)
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

static void run(void)
{
    while (H->net_head < H->net_tail)
        deliver_one();
}

static void deliver_raw(uint32_t from, uint32_t to, const struct bft_msg *m)
{
    uint8_t *buf;
    size_t len = encode_signed(from, m, &buf);
    struct bft_msg d;
    assert_int_equal(bft_msg_decode(buf, len, &d), BFT_E_OK);
    bft_hotstuff_ops.on_message(H->core[to], &d);
    free(buf);
}

/* A client REQUEST with one op (client-signed with zeros: env accepts). */
static void submit(uint32_t client, uint64_t req_no)
{
    uint8_t body[64];
    struct net_wr w;
    net_wr_init(&w, body, sizeof body);
    net_put_u16(&w, 1);
    net_put_u8(&w, 0);
    net_put_u8(&w, 0);
    net_put_u16(&w, 3);
    net_put_bytes(&w, "op!", 3);
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
        if (!H->drop_to[i]) bft_hotstuff_ops.on_request(H->core[i], &d);
}

static void fire(uint32_t i, uint32_t timer)
{
    if (!H->rep[i].armed[timer]) return;
    H->rep[i].armed[timer] = false;
    bft_hotstuff_ops.on_timer(H->core[i], timer);
}

/* Run the network; when it is quiet, fire every armed timer; repeat. */
static void run_rounds(int rounds)
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

static uint32_t count_fx(int kind, int replica, uint8_t type)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < H->nfx; i++)
        if (H->fx[i].kind == kind && (replica < 0 || H->fx[i].replica == (uint32_t)replica) &&
            (type == 0 || H->fx[i].type == type))
            k++;
    return k;
}

static struct bft_core_status status(uint32_t i)
{
    struct bft_core_status st;
    bft_hotstuff_ops.status(H->core[i], &st);
    return st;
}

/* ---- certificates built by hand ---- */

static void sign_vote(uint32_t signer, uint64_t view, uint64_t height, const bft_digest *block,
                      uint8_t sig[BFT_SIG_LEN])
{
    uint8_t region[BFT_HDR_LEN - BFT_SIGNED_OFF];
    hs_vote_region(H->core[0], signer, view, height, block, region);
    crypto_sign_msg(&H->keys[signer], BFT_MSG_HS_VOTE, CLUSTER, region, sizeof region, sig);
}

static void make_qc(struct hs_qc *q, uint64_t view, uint64_t height, const bft_digest *block,
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

static void make_tc(struct hs_tc *t, uint64_t view, uint64_t hqc_view)
{
    memset(t, 0, sizeof(*t));
    t->view = view;
    t->k = 3;
    for (uint32_t i = 0; i < 3; i++) {
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

static void make_block(struct blk *b, uint64_t view, const struct hs_qc *justify,
                       const struct hs_tc *tc)
{
    static const bft_digest zero;
    b->view = view;
    b->height = justify->height + 1;
    b->justify = *justify;
    hs_block_digest(view, b->height, &justify->block, &zero, justify, &b->digest);
    struct net_wr w;
    net_wr_init(&w, b->body, sizeof b->body);
    net_put_bytes(&w, justify->block.b, 32);
    hs_qc_write(&w, justify);
    net_put_u8(&w, tc ? 1 : 0);
    if (tc) hs_tc_write(&w, tc);
    assert_false(w.err);
    b->body_len = (uint32_t)w.len;
    net_wr_init(&w, b->rbody, sizeof b->rbody);
    net_put_bytes(&w, justify->block.b, 32);
    hs_qc_write(&w, justify);
    net_put_u8(&w, 0);
    assert_false(w.err);
    b->rbody_len = (uint32_t)w.len;
}

static void respond_block(uint32_t from, uint32_t to, const struct blk *b)
{
    struct bft_msg r = {.type = BFT_MSG_HS_BLOCK_RESP,
                        .view = b->view,
                        .seq = b->height,
                        .body = b->rbody,
                        .body_len = b->rbody_len};
    deliver_raw(from, to, &r);
}

static void propose_to(uint32_t to, const struct blk *b)
{
    struct bft_msg m = {.type = BFT_MSG_HS_PROPOSAL,
                        .view = b->view,
                        .seq = b->height,
                        .body = b->body,
                        .body_len = b->body_len};
    deliver_raw((uint32_t)(b->view % N), to, &m);
}

static const uint8_t Q012[] = {0, 1, 2};

/* A certified chain of empty blocks in the given views, each extending the
 * previous one (QCs signed by 0, 1, 2); TCs fill the gaps. */
static struct hs_qc chain_qc[16];

static void make_chain(struct blk *out, const uint64_t *views, uint32_t k)
{
    struct hs_qc g;
    hs_qc_genesis(&g);
    const struct hs_qc *j = &g;
    for (uint32_t i = 0; i < k; i++) {
        struct hs_tc tc;
        bool gap = views[i] != j->view + 1;
        if (gap) make_tc(&tc, views[i] - 1, j->view);
        make_block(&out[i], views[i], j, gap ? &tc : NULL);
        make_qc(&chain_qc[i], out[i].view, out[i].height, &out[i].digest, Q012, 3);
        j = &chain_qc[i];
    }
}

/* ---- tests ---- */

/* §4.2: a QC is n - f votes from distinct replicas: a duplicate counts
 * once, and the QC still forms from distinct voters. */
static void test_duplicate_vote_counts_once(void **state)
{
    (void)state;
    submit(0, 1); /* give the next leader something to propose */
    bft_digest d;
    memset(d.b, 0xab, 32);
    /* Votes for view 1 go to leader(2) = replica 2. */
    struct bft_msg v = {.type = BFT_MSG_HS_VOTE, .view = 1, .seq = 1, .digest = d};
    deliver_raw(0, 2, &v);
    deliver_raw(0, 2, &v);
    assert_int_equal(H->rep[2].rejected[BFT_REJECT_DUPLICATE], 1);
    deliver_raw(1, 2, &v);
    assert_int_equal(status(2).view, 1); /* two distinct voters: no QC */
    deliver_raw(3, 2, &v);
    assert_int_equal(status(2).view, 2); /* the third forms QC(1) */
    /* And the leader of view 2 proposes on it, carrying a QC with three
     * distinct signers. */
    assert_int_equal(count_fx(E_SEND, 2, BFT_MSG_HS_PROPOSAL), N - 1);
    struct bft_msg m = {0};
    for (uint32_t k = H->net_tail; k-- > H->net_head;) {
        struct packet *p = &H->net[k];
        assert_int_equal(bft_msg_decode(p->buf, p->len, &m), BFT_E_OK);
        if (p->from == 2 && m.type == BFT_MSG_HS_PROPOSAL) break;
    }
    assert_int_equal(m.type, BFT_MSG_HS_PROPOSAL);
    assert_int_equal(m.view, 2);
    struct net_rd r;
    net_rd_init(&r, m.body, m.body_len);
    net_get_ptr(&r, 32);
    struct hs_qc q;
    assert_true(hs_qc_read(&r, N, &q));
    assert_int_equal(q.view, 1);
    assert_int_equal(q.k, 3);
    assert_true(q.signer[0] != q.signer[1] && q.signer[1] != q.signer[2] &&
                q.signer[0] != q.signer[2]);
    assert_int_equal(hs_qc_verify(H->core[0], &q), -1);
}

/* A proposal for view 2 justified by a bad QC(1): nothing is accepted, no
 * vote, no view change. */
static void check_bad_qc(const struct hs_qc *q, int reason)
{
    struct blk b;
    make_block(&b, 2, q, NULL);
    propose_to(0, &b);
    assert_int_equal(H->rep[0].rejected[reason], 1);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 0);
    assert_int_equal(status(0).view, 1);
}

static void test_qc_repeated_signer_rejected(void **state)
{
    (void)state;
    bft_digest d;
    memset(d.b, 0x11, 32);
    static const uint8_t rep[] = {0, 1, 1};
    struct hs_qc q;
    make_qc(&q, 1, 1, &d, rep, 3);
    check_bad_qc(&q, BFT_REJECT_DUPLICATE);
}

static void test_qc_unknown_or_too_few_signers_rejected(void **state)
{
    (void)state;
    bft_digest d;
    memset(d.b, 0x12, 32);
    struct hs_qc q;
    make_qc(&q, 1, 1, &d, Q012, 3);
    q.signer[2] = N; /* signer >= n */
    check_bad_qc(&q, BFT_REJECT_UNKNOWN_SENDER);
    make_qc(&q, 1, 1, &d, Q012, 2); /* 2 < 2f+1 */
    struct blk b;
    make_block(&b, 2, &q, NULL);
    propose_to(0, &b);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_MALFORMED], 1);
    assert_int_equal(status(0).view, 1);
}

static void test_qc_bad_signature_rejected(void **state)
{
    (void)state;
    bft_digest d;
    memset(d.b, 0x22, 32);
    struct hs_qc q;
    make_qc(&q, 1, 1, &d, Q012, 3);
    q.sig[1][5] ^= 1;
    check_bad_qc(&q, BFT_REJECT_BAD_SIGNATURE);
    /* A signature by the wrong replica for that slot is just as bad. */
    make_qc(&q, 1, 1, &d, Q012, 3);
    sign_vote(3, 1, 1, &d, q.sig[0]);
    struct blk b;
    make_block(&b, 2, &q, NULL);
    propose_to(0, &b);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_BAD_SIGNATURE], 2);
}

/* A proposal must carry a justify QC that is valid and certifies view
 * v-1 (or come with TC(v-1)). */
static void test_proposal_missing_or_invalid_justify(void **state)
{
    (void)state;
    /* No body at all: no justify. */
    struct bft_msg m = {.type = BFT_MSG_HS_PROPOSAL, .view = 1, .seq = 1};
    deliver_raw(1, 0, &m);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_MALFORMED], 1);
    /* A valid QC(1), but for view 3: neither QC(2) nor TC(2). */
    struct blk chain[1];
    static const uint64_t v1[] = {1};
    make_chain(chain, v1, 1);
    struct hs_qc q;
    make_qc(&q, 1, 1, &chain[0].digest, Q012, 3);
    struct blk b;
    make_block(&b, 3, &q, NULL);
    propose_to(0, &b);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_MALFORMED], 2);
    /* The justify QC must certify the parent. */
    make_block(&b, 2, &q, NULL);
    b.body[0] ^= 1; /* parent digest != justify block */
    propose_to(0, &b);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_MALFORMED], 3);
    /* A genesis QC with signatures is no genesis QC. */
    struct hs_qc g;
    hs_qc_genesis(&g);
    g.k = 1;
    make_block(&b, 1, &g, NULL);
    propose_to(0, &b);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_MALFORMED], 4);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 0);
    /* A proposal from a replica that does not lead the view. */
    make_block(&b, 1, &(struct hs_qc){0}, NULL);
    struct bft_msg p = {
        .type = BFT_MSG_HS_PROPOSAL, .view = 1, .seq = 1, .body = b.body, .body_len = b.body_len};
    deliver_raw(2, 0, &p);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_MALFORMED], 5);
    /* The right one is voted for. */
    propose_to(0, &b);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 1);
}

/* Algorithm 3 decides b only if b'' <- b' <- b are direct parents in
 * consecutive views. Chain over views 1, 2, 4, 5, 6, 8 (none led by the
 * receiver, replica 3): the 3-chains (1,2,4) and (2,4,5) have gaps and
 * commit nothing; (4,5,6), certified by view 8's QC(6), commits 4 and its
 * ancestors 1 and 2 first, in order. */
static void test_commit_needs_consecutive_views(void **state)
{
    (void)state;
    static const uint64_t views[] = {1, 2, 4, 5, 6, 8};
    struct blk c[6];
    make_chain(c, views, 6);
    for (int i = 0; i < 5; i++) {
        propose_to(3, &c[i]);
        assert_int_equal(count_fx(E_EXECUTE, 3, 0), 0);
    }
    /* c[4] (view 6) carries QC(5): b''=5, b'=4, b=2 -> gap, no commit. */
    propose_to(3, &c[5]); /* view 8 carries QC(6): 6 <- 5 <- 4 */
    assert_int_equal(count_fx(E_EXECUTE, 3, 0), 3);
    uint32_t k = 0;
    for (uint32_t i = 0; i < H->nfx; i++) {
        if (H->fx[i].kind != E_EXECUTE) continue;
        assert_int_equal(H->fx[i].seq, k + 1);
        assert_int_equal(H->fx[i].view, views[k]);
        k++;
    }
    assert_int_equal(status(3).last_executed, 3);
    /* Replica 3 voted for every block (each extends its lock). */
    assert_int_equal(H->core[3]->last_voted_view, 8);
}

/* The vote is durable first: the VOTE record is persisted before the vote
 * is sent (the node then flushes persists before sends). */
static void test_persist_precedes_vote(void **state)
{
    (void)state;
    struct blk c[1];
    static const uint64_t v1[] = {1};
    make_chain(c, v1, 1);
    propose_to(0, &c[0]);
    int persist_at = -1, vote_at = -1;
    for (uint32_t i = 0; i < H->nfx; i++) {
        if (H->fx[i].kind == E_PERSIST && H->fx[i].type == HS_REC_VOTE && persist_at < 0)
            persist_at = (int)i;
        if (H->fx[i].kind == E_SEND && H->fx[i].type == BFT_MSG_HS_VOTE && vote_at < 0)
            vote_at = (int)i;
    }
    assert_true(persist_at >= 0 && vote_at >= 0);
    assert_true(persist_at < vote_at);
    assert_int_equal(H->fx[vote_at].to, 2); /* to the next view's leader */
}

/* Two different proposals from one leader for one view: the second is
 * rejected as equivocation and gets no vote; a repeat is a duplicate. */
static void test_equivocation_rejected(void **state)
{
    (void)state;
    struct hs_qc g;
    hs_qc_genesis(&g);
    struct blk a, b;
    make_block(&a, 1, &g, NULL);
    propose_to(0, &a);
    propose_to(0, &a);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_DUPLICATE], 1);
    /* Same view, other content: a one-request batch. */
    make_block(&b, 1, &g, NULL);
    uint8_t batch[2 + 4 + BFT_MSG_MIN_LEN + 8];
    memset(batch, 0, sizeof batch);
    net_le_store(batch, 1, 2);
    net_le_store(batch + 2, BFT_MSG_MIN_LEN + 8, 4);
    struct bft_msg m = {.type = BFT_MSG_HS_PROPOSAL,
                        .view = 1,
                        .seq = 1,
                        .body = b.body,
                        .body_len = b.body_len,
                        .payload = batch,
                        .payload_len = sizeof batch};
    bft_batch_digest(batch, sizeof batch, &m.digest);
    deliver_raw(1, 0, &m);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_EQUIVOCATION], 1);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 1);
}

/* Votes from two conflicting blocks in one view by one voter. */
static void test_vote_equivocation_rejected(void **state)
{
    (void)state;
    bft_digest d1, d2;
    memset(d1.b, 1, 32);
    memset(d2.b, 2, 32);
    struct bft_msg v = {.type = BFT_MSG_HS_VOTE, .view = 1, .seq = 1, .digest = d1};
    deliver_raw(0, 2, &v);
    v.digest = d2;
    deliver_raw(0, 2, &v);
    assert_int_equal(H->rep[2].rejected[BFT_REJECT_EQUIVOCATION], 1);
}

/* A replica restarted from its records keeps its lock and its last voted
 * view: it does not vote again in a view it voted in, even for another
 * block the (equivocating) leader shows the new incarnation. */
static void test_restart_keeps_lock_and_vote(void **state)
{
    (void)state;
    /* Views led by 2, 3, 0: replica 1 only follows. */
    static const uint64_t views[] = {2, 3, 4};
    struct blk c[3];
    make_chain(c, views, 3);
    for (int i = 0; i < 3; i++)
        propose_to(1, &c[i]);
    /* c[2] carries QC(c[1]) whose justify is QC(c[0]): locked on c[0]. */
    assert_int_equal(H->core[1]->locked_qc.view, 2);
    assert_int_equal(H->core[1]->last_voted_view, 4);
    assert_int_equal(count_fx(E_SEND, 1, BFT_MSG_HS_VOTE), 2); /* to 3, 0; then self */
    /* Crash and restart from the persisted records. */
    bft_hotstuff_ops.destroy(H->core[1]);
    make_core(1);
    for (uint32_t k = 0; k < H->rep[1].nrecs; k++)
        bft_hotstuff_ops.recover(H->core[1], H->rep[1].recs[k].p, H->rep[1].recs[k].len);
    assert_int_equal(H->core[1]->locked_qc.view, 2);
    assert_true(hs_deq(&H->core[1]->locked_qc.block, &c[0].digest));
    assert_int_equal(H->core[1]->last_voted_view, 4);
    /* The (equivocating) leader of view 4 shows the new incarnation another
     * block for view 4: no second vote in view 4. */
    struct hs_qc q3;
    make_qc(&q3, 3, 2, &c[1].digest, Q012, 3);
    struct blk other;
    make_block(&other, 4, &q3, NULL);
    uint8_t batch[2 + 4 + BFT_MSG_MIN_LEN];
    memset(batch, 0, sizeof batch);
    net_le_store(batch, 1, 2);
    net_le_store(batch + 2, BFT_MSG_MIN_LEN, 4);
    struct bft_msg m = {.type = BFT_MSG_HS_PROPOSAL,
                        .view = 4,
                        .seq = 3,
                        .body = other.body,
                        .body_len = other.body_len,
                        .payload = batch,
                        .payload_len = sizeof batch};
    bft_batch_digest(batch, sizeof batch, &m.digest);
    deliver_raw(0, 1, &m);
    assert_int_equal(status(1).view, 5); /* resumed after its last vote */
    assert_int_equal(H->core[1]->last_voted_view, 4);
    assert_int_equal(count_fx(E_SEND, 1, BFT_MSG_HS_VOTE), 2);
    /* A block for view 6 that does not extend the lock, with a justify no
     * newer than the lock, is refused by safeNode. */
    struct hs_qc g;
    hs_qc_genesis(&g);
    struct hs_tc tc;
    make_tc(&tc, 5, 0);
    struct blk fork;
    make_block(&fork, 6, &g, &tc);
    propose_to(1, &fork);
    assert_int_equal(status(1).view, 6);
    assert_int_equal(H->core[1]->last_voted_view, 4);
    /* While one (view 7) that extends the lock is voted for. */
    make_tc(&tc, 6, 3);
    struct blk ext;
    make_block(&ext, 7, &q3, &tc);
    propose_to(1, &ext);
    /* Blocks are not in the WAL: the restarted replica fetches the
     * ancestors (block sync) before it can check the lock and vote. */
    assert_int_equal(H->core[1]->last_voted_view, 4);
    assert_true(count_fx(E_SEND, 1, BFT_MSG_HS_BLOCK_REQ) >= 1);
    respond_block(3, 1, &c[1]);
    respond_block(3, 1, &c[0]);
    assert_int_equal(H->core[1]->last_voted_view, 7);
    assert_int_equal(count_fx(E_SEND, 1, BFT_MSG_HS_VOTE), 3);
}

/* A silent leader costs a timeout: TC(1) moves everyone to view 2, whose
 * leader proposes; with replica 1 silent for good (leader of 1, 5, 9...)
 * the votes riding in the timeouts still let commits happen. */
static void test_silent_leader_tc_then_commits(void **state)
{
    (void)state;
    H->drop_from[1] = true;
    submit(0, 1);
    run();
    assert_int_equal(status(0).view, 1);
    run_rounds(1); /* view timers fire: timeouts, TC(1) */
    for (uint32_t i = 0; i < N; i++)
        if (i != 1) assert_true(status(i).view >= 2);
    assert_true(count_fx(E_SEND, 2, BFT_MSG_HS_PROPOSAL) >= 1);
    assert_true(status(0).view_changes >= 1);
    run_rounds(6);
    for (uint32_t i = 0; i < N; i++) {
        if (i == 1) continue;
        assert_true(status(i).last_executed >= 1);
        assert_int_equal(status(i).pending_requests, 0);
    }
    /* All honest replicas executed the same blocks. */
    bft_digest at1[N];
    memset(at1, 0, sizeof at1);
    for (uint32_t i = 0; i < H->nfx; i++)
        if (H->fx[i].kind == E_EXECUTE && H->fx[i].seq == 1)
            at1[H->fx[i].replica] = H->fx[i].digest;
    assert_true(hs_deq(&at1[0], &at1[2]) && hs_deq(&at1[0], &at1[3]));
    /* More requests keep committing with the leader still silent. */
    uint64_t before = status(0).last_executed;
    submit(1, 1);
    run_rounds(8);
    assert_true(status(0).last_executed > before);
    assert_int_equal(status(0).pending_requests, 0);
}

/* Replica 3 can send but not receive: its timeouts (1 < f+1, < 2f+1)
 * neither form a TC nor make the others change views. */
static void test_send_only_replica_no_view_changes(void **state)
{
    (void)state;
    H->drop_to[3] = true;
    submit(0, 1);
    run(); /* 0, 1, 2 run views 1 and 2, then wait for leader 3 */
    uint64_t views[3];
    for (uint32_t i = 0; i < 3; i++)
        views[i] = status(i).view;
    assert_int_equal(views[0], 3);
    /* Give replica 3 work so its view timer runs, then fire it often. */
    H->drop_to[3] = false;
    submit(0, 2);
    H->drop_to[3] = true;
    for (int k = 0; k < 20; k++) {
        fire(3, HS_TIMER_VIEW);
        run();
    }
    assert_int_equal(count_fx(E_SEND, 3, BFT_MSG_HS_TIMEOUT), 20 * 3);
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(status(i).view_changes, 0);
        assert_int_equal(status(i).view, views[i]);
    }
    assert_int_equal(status(3).view, 1); /* alone it cannot form a TC */
    assert_int_equal(status(3).view_changes, 0);
    /* Positive control: f+1 = 2 replicas time out view 3, the third joins
     * them (f+1 rule) and together they form TC(3). */
    fire(0, HS_TIMER_VIEW);
    run();
    assert_int_equal(status(2).view, 3);
    fire(1, HS_TIMER_VIEW);
    run();
    for (uint32_t i = 0; i < 3; i++) {
        assert_int_equal(status(i).view_changes, 1);
        assert_true(status(i).view >= 4);
    }
}

/* A proposal whose parent is unknown: the block is fetched from the
 * proposer (HS_BLOCK_REQ by digest), checked against the digest asked for,
 * and then voted on. */
static void test_block_sync_fetches_parent(void **state)
{
    (void)state;
    static const uint64_t views[] = {1, 2};
    struct blk c[2];
    make_chain(c, views, 2);
    /* A block nobody asked for is refused. */
    struct bft_msg r = {.type = BFT_MSG_HS_BLOCK_RESP,
                        .view = c[0].view,
                        .seq = c[0].height,
                        .body = c[0].body,
                        .body_len = c[0].body_len};
    deliver_raw(2, 0, &r);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_OUT_OF_WINDOW], 1);
    propose_to(0, &c[1]); /* parent c[0] unknown */
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_BLOCK_REQ), 1);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 0);
    /* A response that is not the block asked for (its digest covers the
     * view) connects nothing and gets no vote. */
    r.view = 1000;
    deliver_raw(2, 0, &r);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 0);
    /* The requested one connects the chain; view 2's block gets a vote. */
    struct bft_msg ok = {.type = BFT_MSG_HS_BLOCK_RESP,
                         .view = c[0].view,
                         .seq = c[0].height,
                         .body = c[0].body,
                         .body_len = c[0].body_len};
    deliver_raw(2, 0, &ok);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 1);
}

/* End to end over the fake network: a request commits everywhere at seq 1
 * (three more blocks push it over the 3-chain), then the cluster idles: no
 * empty-block storm and no armed view timer. */
static void test_commit_then_idle(void **state)
{
    (void)state;
    submit(0, 1);
    run();
    for (uint32_t i = 0; i < N; i++) {
        assert_true(status(i).last_executed >= 1);
        assert_int_equal(status(i).pending_requests, 0);
        assert_false(H->rep[i].armed[HS_TIMER_VIEW]);
    }
    uint32_t proposals = count_fx(E_SEND, -1, BFT_MSG_HS_PROPOSAL);
    assert_true(proposals <= 5 * (N - 1));
    run_rounds(3);
    assert_int_equal(count_fx(E_SEND, -1, BFT_MSG_HS_PROPOSAL), proposals);
    assert_int_equal(count_fx(E_SEND, -1, BFT_MSG_HS_TIMEOUT), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_duplicate_vote_counts_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qc_repeated_signer_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_qc_unknown_or_too_few_signers_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_qc_bad_signature_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proposal_missing_or_invalid_justify, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_needs_consecutive_views, setup, teardown),
        cmocka_unit_test_setup_teardown(test_persist_precedes_vote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_equivocation_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_vote_equivocation_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_keeps_lock_and_vote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_silent_leader_tc_then_commits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_send_only_replica_no_view_changes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_block_sync_fetches_parent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_commit_then_idle, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
