/* The HotStuff message codec, part two (core/hotstuff/hotstuff_wire.c):
 * timeouts (DiemBFT v4 timeout messages and their signed region), state
 * transfer bodies, encoder bounds and full-size certificates; test names
 * follow test_hotstuff_wire.c. Blocks and votes are in test_hotstuff_wire.c. */
#include "tests/core/hotstuff/hotstuff_wire_test_util.h"

static void make_timeout(struct hs_timeout_msg *t, bool vote, bool tc)
{
    memset(t, 0, sizeof *t);
    t->view = 8;
    make_qc(&t->high_qc, 6, 4, 3);
    memset(t->sig, 0x5a, BFT_SIG_LEN);
    if (vote) {
        t->has_vote = true;
        t->vote = (struct hs_carried_vote){.view = 7, .height = 5};
        fill_digest(&t->vote.block, 0x21);
        memset(t->vote.sig, 0x22, BFT_SIG_LEN);
    }
    if (tc) {
        t->has_tc = true;
        make_tc(&t->tc, 7, 3);
    }
}

static void timeout_roundtrip(bool vote, bool tc)
{
    struct hs_timeout_msg t, d;
    make_timeout(&t, vote, tc);
    struct bft_msg m, got;
    assert_true(hs_timeout_encode(&t, g_body, sizeof g_body, &m));
    trip(&m, &got);
    assert_int_equal(hs_timeout_decode(&got, N, &d), NONE);
    assert_true(d.view == 8 && d.has_vote == vote && d.has_tc == tc);
    assert_qc_equal(&d.high_qc, &t.high_qc);
    assert_memory_equal(d.sig, t.sig, BFT_SIG_LEN);
    if (vote) {
        assert_true(d.vote.view == 7 && d.vote.height == 5);
        assert_memory_equal(d.vote.block.b, t.vote.block.b, CRYPTO_DIGEST_LEN);
        assert_memory_equal(d.vote.sig, t.vote.sig, BFT_SIG_LEN);
    }
    if (tc) assert_tc_equal(&d.tc, &t.tc);
}

/* docs/hotstuff.md "Messages": HS_TIMEOUT. */
static void test_impl_msg_timeout_roundtrip(void **state)
{
    (void)state;
    timeout_roundtrip(false, false);
    timeout_roundtrip(true, false);
    timeout_roundtrip(false, true);
    timeout_roundtrip(true, true);
}

/* Encode t as it is (the encoder checks nothing), then edit the body:
 * set byte `at` (from the end if negative) to `val`, cut or extend. */
static int timeout_edit(const struct hs_timeout_msg *t, long at, int val, uint32_t cut,
                        uint32_t extra, uint8_t type, uint32_t payload_len)
{
    struct bft_msg m;
    assert_true(hs_timeout_encode(t, g_body, sizeof g_body - 8, &m));
    size_t len = m.body_len;
    if (val >= 0) g_body[at >= 0 ? (size_t)at : len - (size_t)(-at)] = (uint8_t)val;
    memset(g_body + len, 0, extra);
    m.body_len = (uint32_t)(len - cut + extra);
    m.type = type;
    m.payload = payload_len ? g_batch : NULL;
    m.payload_len = payload_len;
    struct hs_timeout_msg d;
    return hs_timeout_decode(&m, N, &d);
}

#define QC3_LEN (8 + 8 + CRYPTO_DIGEST_LEN + 1 + 3 * (1 + BFT_SIG_LEN))

/* docs/hotstuff.md "Messages": HS_TIMEOUT shapes refused. */
static void test_impl_msg_timeout_decode_rejects(void **state)
{
    (void)state;
    const uint8_t T = BFT_MSG_HS_TIMEOUT;
    struct hs_timeout_msg t;
    make_timeout(&t, true, true);
    assert_int_equal(timeout_edit(&t, 0, -1, 0, 0, T, 0), NONE);
    assert_int_equal(timeout_edit(&t, 0, -1, 0, 0, BFT_MSG_HS_VOTE, 0), BAD);
    assert_int_equal(timeout_edit(&t, 0, -1, 0, 0, T, 1), BAD); /* a payload */
    assert_int_equal(timeout_edit(&t, 0, -1, 0, 1, T, 0), BAD); /* trailing byte */
    assert_int_equal(timeout_edit(&t, 0, -1, 1, 0, T, 0), BAD); /* TC cut short */
    assert_int_equal(timeout_edit(&t, 8 + 8 + CRYPTO_DIGEST_LEN, N + 1, 0, 0, T, 0),
                     BAD); /* QC k */
    /* has_vote = 2 */
    assert_int_equal(timeout_edit(&t, QC3_LEN + BFT_SIG_LEN, 2, 0, 0, T, 0), BAD);
    /* has_tc = 2 */
    long has_tc_at = QC3_LEN + BFT_SIG_LEN + 1 + HS_TIMEOUT_VOTE_LEN;
    assert_int_equal(timeout_edit(&t, has_tc_at, 2, 0, 0, T, 0), BAD);
    assert_int_equal(timeout_edit(&t, has_tc_at + 9, N + 1, 0, 0, T, 0), BAD); /* TC k */
    struct hs_timeout_msg no;
    make_timeout(&no, false, false);
    assert_int_equal(timeout_edit(&no, 0, -1, 1, 0, T, 0), BAD);      /* has_tc missing */
    assert_int_equal(timeout_edit(&no, 0, -1, 2 + 10, 0, T, 0), BAD); /* sig cut short */
    assert_int_equal(timeout_edit(&no, -1, 1, 0, 0, T, 0), BAD);      /* has_tc, no TC */
    assert_int_equal(timeout_edit(&no, -2, 1, 0, 0, T, 0), BAD);      /* has_vote, no vote */

    struct hs_timeout_msg bad = t;
    bad.view = 0;
    assert_int_equal(timeout_edit(&bad, 0, -1, 0, 0, T, 0), BAD);
    bad = t;
    bad.high_qc.view = 8; /* a QC of the timed-out view itself */
    assert_int_equal(timeout_edit(&bad, 0, -1, 0, 0, T, 0), BAD);
    bad = t;
    bad.tc.view = 8;
    assert_int_equal(timeout_edit(&bad, 0, -1, 0, 0, T, 0), BAD);
    bad = t;
    bad.vote.view = 0;
    assert_int_equal(timeout_edit(&bad, 0, -1, 0, 0, T, 0), BAD);
    bad = t;
    bad.vote.height = 0;
    assert_int_equal(timeout_edit(&bad, 0, -1, 0, 0, T, 0), BAD);
    bad = t;
    bad.vote.view = 9; /* a vote from after the view */
    assert_int_equal(timeout_edit(&bad, 0, -1, 0, 0, T, 0), BAD);
    bad.vote.view = 8; /* the view itself is fine */
    assert_int_equal(timeout_edit(&bad, 0, -1, 0, 0, T, 0), NONE);
}

/* The signed timeout statement: "HSTO" | u64 view | u64 hqc_view. */
/* docs/hotstuff.md "Messages": the TC signature region. */
static void test_impl_msg_timeout_region_layout(void **state)
{
    (void)state;
    uint8_t region[HS_TIMEOUT_REGION_LEN];
    hs_timeout_region(0x0102030405060708ull, 7, region);
    static const uint8_t want[HS_TIMEOUT_REGION_LEN] = {'H', 'S', 'T', 'O', 8, 7, 6, 5, 4, 3,
                                                        2,   1,   7,   0,   0, 0, 0, 0, 0, 0};
    assert_memory_equal(region, want, sizeof want);
}

/* ---- state transfer ---- */

/* docs/hotstuff.md "Messages": STATE_REQ. */
static void test_impl_msg_state_req_roundtrip_and_rejects(void **state)
{
    (void)state;
    struct hs_state_req offer = {.last_exec = 40},
                        chunk = {.last_exec = 41, .chunk = true, .snap_seq = 100, .off = 262144};
    struct hs_state_req d;
    struct bft_msg m, got;
    assert_true(hs_state_req_encode(&offer, 3, NULL, 0, &m));
    assert_int_equal(m.body_len, 0);
    trip(&m, &got);
    assert_int_equal(hs_state_req_decode(&got, &d), NONE);
    assert_true(d.last_exec == 40 && !d.chunk);
    uint8_t buf[HS_STATE_CHUNK_REQ_LEN];
    assert_false(hs_state_req_encode(&chunk, 3, buf, sizeof buf - 1, &m)); /* does not fit */
    assert_true(hs_state_req_encode(&chunk, 3, buf, sizeof buf, &m));
    trip(&m, &got);
    assert_int_equal(hs_state_req_decode(&got, &d), NONE);
    assert_true(d.last_exec == 41 && d.chunk && d.snap_seq == 100 && d.off == 262144);

    const uint8_t five[5] = {0};
    m = (struct bft_msg){.type = BFT_MSG_STATE_RESP};
    assert_int_equal(hs_state_req_decode(&m, &d), BAD);
    m = (struct bft_msg){.type = BFT_MSG_STATE_REQ, .payload = five, .payload_len = 1};
    assert_int_equal(hs_state_req_decode(&m, &d), BAD);
    m = (struct bft_msg){.type = BFT_MSG_STATE_REQ, .body = five, .body_len = 5};
    assert_int_equal(hs_state_req_decode(&m, &d), BAD);
}

static uint8_t g_snap[1000];

static void make_resp(struct hs_state_resp *r, uint8_t k, uint32_t total, uint32_t off,
                      uint32_t chunk_len)
{
    memset(r, 0, sizeof *r);
    r->snap.seq = 64;
    fill_digest(&r->snap.state, 0x51);
    fill_digest(&r->snap.block, 0x52);
    r->nclaims = k;
    for (uint8_t i = 0; i < k; i++) {
        r->claims[i].seq = 16u * (i + 1);
        fill_digest(&r->claims[i].state, (uint8_t)(0x80 + i));
        fill_digest(&r->claims[i].block, (uint8_t)(0x90 + i));
    }
    r->total = total;
    r->off = off;
    r->chunk = chunk_len ? g_snap + off : NULL;
    r->chunk_len = chunk_len;
}

/* docs/hotstuff.md "Messages": STATE_RESP. */
static void test_impl_msg_state_resp_roundtrip(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < sizeof g_snap; i++)
        g_snap[i] = (uint8_t)(i * 7);
    struct hs_state_resp r, d;
    make_resp(&r, HS_CLAIMS, sizeof g_snap, 600, 400);
    struct bft_msg m, got;
    assert_true(hs_state_resp_encode(&r, 9, g_body, HS_STATE_RESP_BODY_MAX, &m));
    trip(&m, &got);
    assert_int_equal(hs_state_resp_decode(&got, &d), NONE);
    assert_true(d.snap.seq == 64 && d.nclaims == HS_CLAIMS && d.total == sizeof g_snap);
    assert_true(d.off == 600 && d.chunk_len == 400);
    assert_memory_equal(&d.snap, &r.snap, sizeof r.snap);
    assert_memory_equal(d.claims, r.claims, sizeof r.claims);
    assert_memory_equal(d.chunk, g_snap + 600, 400);
    /* No snapshot: claims only. */
    make_resp(&r, 2, 0, 0, 0);
    memset(&r.snap, 0, sizeof r.snap);
    assert_true(hs_state_resp_encode(&r, 9, g_body, sizeof g_body, &m));
    trip(&m, &got);
    assert_int_equal(hs_state_resp_decode(&got, &d), NONE);
    assert_true(d.snap.seq == 0 && d.nclaims == 2 && d.chunk == NULL && d.chunk_len == 0);
    assert_memory_equal(d.claims, r.claims, 2 * sizeof r.claims[0]);
    /* The encoder refuses what it cannot fit or describe. */
    assert_false(hs_state_resp_encode(&r, 9, g_body, 10, &m));
    r.nclaims = HS_CLAIMS + 1;
    assert_false(hs_state_resp_encode(&r, 9, g_body, sizeof g_body, &m));
}

static int resp_decode(uint64_t seq, uint8_t k, uint32_t total, uint32_t off, uint32_t payload,
                       int body_delta)
{
    struct hs_state_resp r;
    /* At most two claims are sent; k may claim more. */
    make_resp(&r, k > 2 ? 2 : k, total, off, 0);
    struct bft_msg m;
    assert_true(hs_state_resp_encode(&r, 1, g_body, sizeof g_body - 8, &m));
    g_body[CRYPTO_DIGEST_LEN] = k; /* k as written */
    memset(g_body + m.body_len, 0, 8);
    m.body_len = (uint32_t)((int)m.body_len + body_delta);
    m.seq = seq;
    m.payload = payload ? g_snap : NULL;
    m.payload_len = payload;
    struct hs_state_resp d;
    return hs_state_resp_decode(&m, &d);
}

/* docs/hotstuff.md "Messages": STATE_RESP shapes refused. */
static void test_impl_msg_state_resp_decode_rejects(void **state)
{
    (void)state;
    assert_int_equal(resp_decode(64, 2, 1000, 0, 100, 0), NONE);
    assert_int_equal(resp_decode(64, 2, 1000, 900, 100, 0), NONE); /* the last chunk */
    assert_int_equal(resp_decode(0, 2, 0, 0, 0, 0), NONE);         /* no snapshot */
    struct bft_msg m = {.type = BFT_MSG_STATE_REQ};
    struct hs_state_resp d;
    assert_int_equal(hs_state_resp_decode(&m, &d), BAD);
    assert_int_equal(resp_decode(64, HS_CLAIMS + 1, 1000, 0, 100, 0), BAD); /* too many claims */
    assert_int_equal(resp_decode(64, 3, 1000, 0, 100, 0), BAD);  /* k beyond the claims sent */
    assert_int_equal(resp_decode(64, 2, 1000, 0, 100, -1), BAD); /* offset cut short */
    assert_int_equal(resp_decode(64, 2, 1000, 0, 100, 1), BAD);  /* trailing byte */
    assert_int_equal(resp_decode(0, 2, 0, 0, 10, 0), BAD);       /* no snapshot, but bytes */
    assert_int_equal(resp_decode(0, 2, 10, 0, 0, 0), BAD);       /* no snapshot, but a length */
    assert_int_equal(resp_decode(64, 2, HS_SNAP_MAX + 1, 0, 100, 0), BAD); /* too big */
    assert_int_equal(resp_decode(64, 2, 1000, 1001, 0, 0), BAD);           /* offset past the end */
    assert_int_equal(resp_decode(64, 2, 1000, 950, 100, 0), BAD);          /* chunk past the end */
    assert_int_equal(resp_decode(64, 2, 1000, 0, 0, 0), BAD);              /* empty, not the last */
}

/* docs/hotstuff.md "State transfer": chunks of 256 KiB. */
static void test_impl_msg_state_resp_chunk_bound(void **state)
{
    (void)state;
    /* A chunk above HS_STATE_CHUNK is refused even inside the snapshot. */
    static uint8_t big[HS_STATE_CHUNK + 1];
    struct hs_state_resp r;
    make_resp(&r, 0, HS_STATE_CHUNK + 10, 0, 0);
    struct bft_msg m;
    assert_true(hs_state_resp_encode(&r, 1, g_body, sizeof g_body, &m));
    m.payload = big;
    m.payload_len = sizeof big;
    struct hs_state_resp d;
    assert_int_equal(hs_state_resp_decode(&m, &d), BAD);
    m.payload_len = HS_STATE_CHUNK;
    assert_int_equal(hs_state_resp_decode(&m, &d), NONE);
}

/* ---- encoders refuse a body that does not fit ---- */

/* docs/hotstuff.md "Messages": encoders refuse what does not fit. */
static void test_impl_msg_encoders_refuse_small_buffers(void **state)
{
    (void)state;
    struct hs_wire_block w;
    make_block(&w, 3, 4, true);
    struct bft_msg m;
    assert_false(hs_block_encode(&w, BFT_MSG_HS_PROPOSAL, g_body, 40, &m));
    assert_true(hs_block_encode(&w, BFT_MSG_HS_PROPOSAL, g_body, HS_PROPOSAL_BODY_MAX, &m));
    struct hs_timeout_msg t;
    make_timeout(&t, true, true);
    assert_false(hs_timeout_encode(&t, g_body, 40, &m));
    assert_true(hs_timeout_encode(&t, g_body, HS_TIMEOUT_BODY_MAX, &m));
}

/* A full QC and TC (BFT_MAX_REPLICAS signers) fit the declared bounds. */
/* docs/hotstuff.md "Messages": QC and TC layouts at n = BFT_MAX_REPLICAS. */
static void test_impl_msg_full_certificates_fit_bounds(void **state)
{
    (void)state;
    struct hs_wire_block w;
    make_block(&w, 3, 4, false);
    make_qc(&w.justify, 3, 2, BFT_MAX_REPLICAS);
    w.parent = w.justify.block;
    make_tc(&w.tc, 4, BFT_MAX_REPLICAS);
    struct bft_msg m;
    assert_true(hs_block_encode(&w, BFT_MSG_HS_PROPOSAL, g_body, HS_PROPOSAL_BODY_MAX, &m));
    assert_int_equal(m.body_len, HS_PROPOSAL_BODY_MAX);
    struct hs_wire_block d;
    assert_int_equal(hs_block_decode(&m, BFT_MAX_REPLICAS, &d), NONE);
    assert_int_equal(hs_block_decode(&m, BFT_MAX_REPLICAS - 1, &d), BAD); /* k > n */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_impl_msg_timeout_roundtrip),
        cmocka_unit_test(test_impl_msg_timeout_decode_rejects),
        cmocka_unit_test(test_impl_msg_timeout_region_layout),
        cmocka_unit_test(test_impl_msg_state_req_roundtrip_and_rejects),
        cmocka_unit_test(test_impl_msg_state_resp_roundtrip),
        cmocka_unit_test(test_impl_msg_state_resp_decode_rejects),
        cmocka_unit_test(test_impl_msg_state_resp_chunk_bound),
        cmocka_unit_test(test_impl_msg_encoders_refuse_small_buffers),
        cmocka_unit_test(test_impl_msg_full_certificates_fit_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
