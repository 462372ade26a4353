/* The HotStuff message codec (core/hotstuff/hotstuff_wire.c): every body
 * survives encode -> bft_msg_encode -> bft_msg_decode -> decode unchanged,
 * and every reject path of every decoder refuses its input with the
 * reason it names (docs/hotstuff.md "Messages", docs/wire.md;
 * docs/style.md #6: a malformed message is refused, never read past). The
 * layouts are ours (test_impl_).
 *
 * Test names start with the section they check, like etcd's
 * raft_paper_test and our PBFT and Raft tests: test_4_2_x is §4.2 of the
 * HotStuff paper (Yin, Malkhi, Reiter, Gueta, Abraham, PODC'19, arXiv
 * v6), test_alg3_x its Algorithm 3, test_diembft_x a rule of DiemBFT v4
 * (its timeout certificates, pacemaker and voting rule), and
 * test_impl_<part>_x one of our own extensions, each described in
 * docs/hotstuff.md. The line above each test names the section. */
#include "tests/core/hotstuff/hotstuff_wire_test_util.h"

/* docs/hotstuff.md "Messages": HS_PROPOSAL and HS_BLOCK_RESP. */
static void test_impl_msg_block_roundtrip(void **state)
{
    (void)state;
    block_roundtrip(BFT_MSG_HS_PROPOSAL, 0, true);
    block_roundtrip(BFT_MSG_HS_PROPOSAL, 4, true); /* with the TC into view 5 */
    block_roundtrip(BFT_MSG_HS_PROPOSAL, 0, false);
    block_roundtrip(BFT_MSG_HS_BLOCK_RESP, 0, true);
    block_roundtrip(BFT_MSG_HS_BLOCK_RESP, 0, false);
}

/* The block digest changes with every field it covers. */
/* docs/hotstuff.md "Blocks and leaders": the block digest. */
static void test_impl_blocks_digest_covers_fields(void **state)
{
    (void)state;
    struct hs_qc q;
    make_qc(&q, 4, 2, 3);
    bft_digest p, bd, a, b;
    fill_digest(&p, 1);
    fill_digest(&bd, 2);
    hs_block_digest(5, 3, &p, &bd, &q, &a);
    hs_block_digest(6, 3, &p, &bd, &q, &b);
    assert_memory_not_equal(a.b, b.b, CRYPTO_DIGEST_LEN);
    hs_block_digest(5, 4, &p, &bd, &q, &b);
    assert_memory_not_equal(a.b, b.b, CRYPTO_DIGEST_LEN);
    fill_digest(&bd, 3);
    hs_block_digest(5, 3, &p, &bd, &q, &b);
    assert_memory_not_equal(a.b, b.b, CRYPTO_DIGEST_LEN);
    fill_digest(&bd, 2);
    q.view = 3;
    hs_block_digest(5, 3, &p, &bd, &q, &b);
    assert_memory_not_equal(a.b, b.b, CRYPTO_DIGEST_LEN);
}

/* A block body written field by field, to break one at a time. */
struct raw_block {
    uint8_t type;
    uint64_t view, height;
    bft_digest parent, batch_digest;
    struct hs_qc qc;
    uint8_t qc_k_wire; /* k as written (may exceed the signers that follow) */
    uint8_t has_tc;
    struct hs_tc tc;
    uint32_t cut;   /* drop this many bytes from the end */
    uint32_t extra; /* append this many bytes */
    uint32_t payload_len;
};

static void raw_block_init(struct raw_block *r)
{
    memset(r, 0, sizeof *r);
    r->type = BFT_MSG_HS_PROPOSAL;
    r->view = 5;
    r->height = 3;
    make_qc(&r->qc, 4, 2, 3);
    r->qc_k_wire = 3;
    r->parent = r->qc.block;
    make_tc(&r->tc, 4, 3);
}

static int raw_block_decode(const struct raw_block *r)
{
    struct wire_wr w;
    wire_wr_init(&w, g_body, sizeof g_body);
    wire_put_bytes(&w, r->parent.b, CRYPTO_DIGEST_LEN);
    wire_put_u64(&w, r->qc.view);
    wire_put_u64(&w, r->qc.height);
    wire_put_bytes(&w, r->qc.block.b, CRYPTO_DIGEST_LEN);
    wire_put_u8(&w, r->qc_k_wire);
    for (uint32_t i = 0; i < r->qc.k; i++) {
        wire_put_u8(&w, r->qc.signer[i]);
        wire_put_bytes(&w, r->qc.sig[i], BFT_SIG_LEN);
    }
    wire_put_u8(&w, r->has_tc);
    if (r->has_tc) hs_tc_write(&w, &r->tc);
    for (uint32_t i = 0; i < r->extra; i++)
        wire_put_u8(&w, 0);
    assert_false(w.err);
    struct bft_msg m = {.type = r->type,
                        .view = r->view,
                        .seq = r->height,
                        .digest = r->batch_digest,
                        .body = g_body,
                        .body_len = (uint32_t)(w.len - r->cut),
                        .payload = r->payload_len ? g_batch : NULL,
                        .payload_len = r->payload_len};
    struct hs_wire_block out;
    return hs_block_decode(&m, N, &out);
}

/* docs/hotstuff.md "Messages": block shapes refused. */
static void test_impl_msg_block_decode_rejects(void **state)
{
    (void)state;
    struct raw_block r;
    raw_block_init(&r);
    assert_int_equal(raw_block_decode(&r), NONE); /* the base case is fine */
    r.type = BFT_MSG_HS_VOTE;                     /* not a block message */
    assert_int_equal(raw_block_decode(&r), BAD);
    raw_block_init(&r);
    r.cut = 1; /* has_tc byte missing */
    assert_int_equal(raw_block_decode(&r), BAD);
    raw_block_init(&r);
    r.cut = 2 + BFT_SIG_LEN; /* the QC's last signature cut short */
    assert_int_equal(raw_block_decode(&r), BAD);
    raw_block_init(&r);
    r.qc_k_wire = N + 1; /* more signers than replicas */
    assert_int_equal(raw_block_decode(&r), BAD);
    raw_block_init(&r);
    r.has_tc = 2;
    assert_int_equal(raw_block_decode(&r), BAD);
    raw_block_init(&r);
    r.has_tc = 1;
    assert_int_equal(raw_block_decode(&r), NONE);
    r.type = BFT_MSG_HS_BLOCK_RESP; /* only a proposal carries a TC */
    assert_int_equal(raw_block_decode(&r), BAD);
    raw_block_init(&r);
    r.has_tc = 1;
    r.tc.k = N + 1; /* TC with more signers than replicas */
    assert_int_equal(raw_block_decode(&r), BAD);
    raw_block_init(&r);
    r.has_tc = 1;
    r.cut = 3; /* TC cut short */
    assert_int_equal(raw_block_decode(&r), BAD);
    raw_block_init(&r);
    r.extra = 1; /* trailing bytes */
    assert_int_equal(raw_block_decode(&r), BAD);
    raw_block_init(&r);
    fill_digest(&r.parent, 0xee); /* parent is not the justify block */
    assert_int_equal(raw_block_decode(&r), BAD);
    raw_block_init(&r);
    r.height = 0;
    assert_int_equal(raw_block_decode(&r), BAD);
    raw_block_init(&r);
    r.height = 4; /* not justify.height + 1 */
    assert_int_equal(raw_block_decode(&r), BAD);
    raw_block_init(&r);
    r.view = 4; /* not after the justify's view */
    assert_int_equal(raw_block_decode(&r), BAD);
    raw_block_init(&r);
    fill_digest(&r.batch_digest, 9); /* empty batch, non-zero digest */
    assert_int_equal(raw_block_decode(&r), BAD);
    r.payload_len = sizeof g_batch; /* with a batch, the digest is the node's to check */
    assert_int_equal(raw_block_decode(&r), NONE);
}

/* ---- votes and block requests ---- */

/* docs/hotstuff.md "Messages": HS_VOTE. */
static void test_impl_msg_vote_roundtrip(void **state)
{
    (void)state;
    struct hs_vote_msg v = {.view = 9, .height = 7}, d;
    fill_digest(&v.block, 0x33);
    struct bft_msg m, got;
    hs_vote_encode(&v, &m);
    trip(&m, &got);
    assert_int_equal(hs_vote_decode(&got, &d), NONE);
    assert_true(d.view == 9 && d.height == 7);
    assert_memory_equal(d.block.b, v.block.b, CRYPTO_DIGEST_LEN);
    assert_memory_equal(d.sig, got.sig, BFT_SIG_LEN); /* the header signature is the vote */
}

/* docs/hotstuff.md "Messages": HS_VOTE shapes refused. */
static void test_impl_msg_vote_decode_rejects(void **state)
{
    (void)state;
    const uint8_t one = 1;
    struct hs_vote_msg d;
    struct bft_msg base = {.type = BFT_MSG_HS_VOTE, .view = 2, .seq = 1}, m = base;
    assert_int_equal(hs_vote_decode(&m, &d), NONE);
    m.type = BFT_MSG_HS_TIMEOUT;
    assert_int_equal(hs_vote_decode(&m, &d), BAD);
    m = base;
    m.body = &one;
    m.body_len = 1;
    assert_int_equal(hs_vote_decode(&m, &d), BAD);
    m = base;
    m.payload = &one;
    m.payload_len = 1;
    assert_int_equal(hs_vote_decode(&m, &d), BAD);
    m = base;
    m.view = 0;
    assert_int_equal(hs_vote_decode(&m, &d), BAD);
    m = base;
    m.seq = 0;
    assert_int_equal(hs_vote_decode(&m, &d), BAD);
}

/* docs/hotstuff.md "Messages": HS_BLOCK_REQ. */
static void test_impl_msg_block_req_roundtrip_and_rejects(void **state)
{
    (void)state;
    struct hs_block_req q = {.count = 32}, d;
    fill_digest(&q.want, 0x77);
    struct bft_msg m, got;
    hs_block_req_encode(&q, 12, &m);
    trip(&m, &got);
    assert_int_equal(hs_block_req_decode(&got, &d), NONE);
    assert_true(d.count == 32 && got.view == 12);
    assert_memory_equal(d.want.b, q.want.b, CRYPTO_DIGEST_LEN);

    const uint8_t one = 1;
    struct bft_msg base = {.type = BFT_MSG_HS_BLOCK_REQ, .seq = 1};
    m = base;
    m.type = BFT_MSG_HS_BLOCK_RESP;
    assert_int_equal(hs_block_req_decode(&m, &d), BAD);
    m = base;
    m.body = &one;
    m.body_len = 1;
    assert_int_equal(hs_block_req_decode(&m, &d), BAD);
    m = base;
    m.payload = &one;
    m.payload_len = 1;
    assert_int_equal(hs_block_req_decode(&m, &d), BAD);
    m = base;
    m.seq = 0; /* asks for nothing */
    assert_int_equal(hs_block_req_decode(&m, &d), BAD);
}

/* ---- timeouts ---- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_impl_msg_block_roundtrip),
        cmocka_unit_test(test_impl_blocks_digest_covers_fields),
        cmocka_unit_test(test_impl_msg_block_decode_rejects),
        cmocka_unit_test(test_impl_msg_vote_roundtrip),
        cmocka_unit_test(test_impl_msg_vote_decode_rejects),
        cmocka_unit_test(test_impl_msg_block_req_roundtrip_and_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
