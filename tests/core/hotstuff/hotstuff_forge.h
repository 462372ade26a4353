/* Certificates, blocks and messages the HotStuff scripted tests build by
 * hand, as an honest or a Byzantine replica could: QCs (§4.2) and
 * DiemBFT v4 TCs signed with the fixture's replica keys, empty blocks and
 * their proposals, block responses and TIMEOUTs. Included by
 * hotstuff_fixture.h (H, N, deliver_raw). */
#ifndef BFT_TESTS_HOTSTUFF_FORGE_H
#define BFT_TESTS_HOTSTUFF_FORGE_H

static inline void sign_vote(uint32_t signer, uint64_t view, uint64_t height,
                             const bft_digest *block, uint8_t sig[BFT_SIG_LEN])
{
    uint8_t region[BFT_HDR_LEN - BFT_SIGNED_OFF];
    hs_vote_region(core(0), signer, view, height, block, region);
    cf_sign_region(H->cf, signer, BFT_MSG_HS_VOTE, region, sizeof region, sig);
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

static inline void sign_timeout(uint32_t signer, uint64_t view, uint64_t hqc_view,
                                uint8_t sig[BFT_SIG_LEN])
{
    uint8_t region[20];
    hs_timeout_region(view, hqc_view, region);
    cf_sign_region(H->cf, signer, HS_DOM_TIMEOUT, region, sizeof region, sig);
}

static inline void make_tc(struct hs_tc *t, uint64_t view, uint64_t hqc_view)
{
    memset(t, 0, sizeof(*t));
    t->view = view;
    t->k = FX_QUORUM;
    for (uint32_t i = 0; i < FX_QUORUM; i++) {
        t->signer[i] = (uint8_t)i;
        t->hqc_view[i] = hqc_view;
        sign_timeout(i, view, hqc_view, t->sig[i]);
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
    uint8_t body[4096], sig[BFT_SIG_LEN];
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    hs_qc_write(&w, hqc);
    sign_timeout(from, view, hqc->view, sig);
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

#endif
