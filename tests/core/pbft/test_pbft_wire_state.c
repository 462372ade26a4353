/* PBFT body codec, state transfer and log fetch (core/pbft/pbft_wire.c):
 * STATE_REQ, FETCH_REQ, snapshot chunks, log entries, checkpoint proofs,
 * relayed pre-prepares and FETCH_RESP kinds round-trip, and every decoder
 * refuses what it must. View change bodies are in test_pbft_wire.c. */
#include "tests/core/pbft/pbft_wire_test_util.h"

static void test_state_req_round_trip_and_rejects(void **state)
{
    (void)state;
    const struct pbft_state_req qs[] = {{.kind = PBFT_SREQ_FIRST},
                                        {.kind = PBFT_SREQ_CHUNK, .offset = 262144},
                                        {.kind = PBFT_SREQ_RELAY}};
    const size_t lens[] = {0, 5, 1};
    for (size_t i = 0; i < 3; i++) {
        uint8_t body[PBFT_SREQ_MAX + 1];
        size_t len = pbft_state_req_encode(&qs[i], body);
        assert_int_equal(len, lens[i]);
        struct bft_msg m = body_msg(BFT_MSG_STATE_REQ, body, len);
        struct pbft_state_req q;
        assert_int_equal(pbft_state_req_decode(&m, &q), BFT_REJECT_NONE);
        assert_int_equal(q.kind, qs[i].kind);
        assert_int_equal(q.offset, qs[i].offset);
        if (len > 1) { /* truncated */
            m.body_len = (uint32_t)len - 1;
            assert_int_equal(pbft_state_req_decode(&m, &q), BFT_REJECT_MALFORMED);
        }
        if (len > 0) { /* trailing */
            body[len] = 0;
            m.body_len = (uint32_t)len + 1;
            assert_int_equal(pbft_state_req_decode(&m, &q), BFT_REJECT_MALFORMED);
        }
    }
    /* Unknown kinds, log fetch (kind 1) included: it has its own type. */
    uint8_t unknown[3] = {4, 64, 0};
    struct bft_msg m = body_msg(BFT_MSG_STATE_REQ, unknown, 1);
    struct pbft_state_req q;
    assert_int_equal(pbft_state_req_decode(&m, &q), BFT_REJECT_MALFORMED);
    unknown[0] = 1;
    m.body_len = 3;
    assert_int_equal(pbft_state_req_decode(&m, &q), BFT_REJECT_MALFORMED);
}

/* ---- FETCH-REQ ---- */

static void test_fetch_req_round_trip_and_rejects(void **state)
{
    (void)state;
    uint8_t body[PBFT_FETCH_REQ_LEN + 1];
    pbft_fetch_req_encode(300, body);
    struct bft_msg m = body_msg(BFT_MSG_FETCH_REQ, body, PBFT_FETCH_REQ_LEN);
    uint16_t count;
    assert_int_equal(pbft_fetch_req_decode(&m, &count), BFT_REJECT_NONE);
    assert_int_equal(count, 300);
    m.body_len = 1;
    assert_int_equal(pbft_fetch_req_decode(&m, &count), BFT_REJECT_MALFORMED);
    m.body_len = 3;
    assert_int_equal(pbft_fetch_req_decode(&m, &count), BFT_REJECT_MALFORMED);
    m.body_len = 0;
    assert_int_equal(pbft_fetch_req_decode(&m, &count), BFT_REJECT_MALFORMED);
}

/* ---- STATE-RESP ---- */

static uint8_t rbuf[4096];
static const uint8_t payload[16] = {1, 2, 3};

static struct bft_msg chunk_msg(uint32_t total, uint32_t off, uint32_t k, uint32_t want)
{
    struct wire_wr w;
    wire_wr_init(&w, rbuf, sizeof rbuf);
    bft_digest sha = dig(0x99);
    pbft_chunk_put_head(&w, total, off, &sha, k);
    for (uint32_t i = 0; i < k; i++)
        put_raw(&w, BFT_MSG_CHECKPOINT, i, 0, 4, 0x44);
    assert_false(w.err);
    struct bft_msg m = body_msg(BFT_MSG_STATE_RESP, rbuf, w.len);
    m.payload = payload;
    m.payload_len = want;
    return m;
}

static enum bft_reject chunk(uint32_t total, uint32_t off, uint32_t k, uint32_t want)
{
    struct bft_msg m = chunk_msg(total, off, k, want);
    struct pbft_chunk_wire cw;
    return pbft_chunk_decode(&m, &LIM, 64, 16, &cw);
}

static void test_state_chunk_round_trip_and_rejects(void **state)
{
    (void)state;
    struct bft_msg m = chunk_msg(40, 0, 3, 16);
    assert_int_equal(pbft_resp_kind(&m), PBFT_SRESP_CHUNK);
    struct pbft_chunk_wire cw;
    assert_int_equal(pbft_chunk_decode(&m, &LIM, 64, 16, &cw), BFT_REJECT_NONE);
    assert_int_equal(cw.total, 40);
    assert_int_equal(cw.offset, 0);
    assert_memory_equal(cw.sha.b, dig(0x99).b, CRYPTO_DIGEST_LEN);
    assert_int_equal(cw.proof.count, 3);
    assert_int_equal(cw.proof.m[1].sender, 1);
    assert_int_equal(chunk(40, 32, 0, 8), BFT_REJECT_NONE); /* the last chunk */
    assert_int_equal(chunk(0, 0, 3, 0), BFT_REJECT_NONE);   /* an empty snapshot */
    for (uint32_t cut = 0; cut < m.body_len; cut++) {
        struct bft_msg t = m;
        t.body_len = cut;
        assert_int_equal(pbft_chunk_decode(&t, &LIM, 64, 16, &cw), BFT_REJECT_MALFORMED);
    }
    m.body_len++; /* trailing */
    assert_int_equal(pbft_chunk_decode(&m, &LIM, 64, 16, &cw), BFT_REJECT_MALFORMED);
    assert_int_equal(chunk(65, 0, 3, 16), BFT_REJECT_MALFORMED);  /* over snap_max */
    assert_int_equal(chunk(40, 41, 0, 0), BFT_REJECT_MALFORMED);  /* offset past the end */
    assert_int_equal(chunk(40, 32, 0, 9), BFT_REJECT_MALFORMED);  /* past the end */
    assert_int_equal(chunk(64, 0, 3, 17), BFT_REJECT_MALFORMED);  /* over chunk_max */
    assert_int_equal(chunk(40, 16, 0, 0), BFT_REJECT_MALFORMED);  /* empty, not the end */
    assert_int_equal(chunk(40, 0, 0, 16), BFT_REJECT_MALFORMED);  /* first without proof */
    assert_int_equal(chunk(40, 16, 3, 16), BFT_REJECT_MALFORMED); /* proof after the first */
    assert_int_equal(chunk(40, 0, 5, 16), BFT_REJECT_MALFORMED);  /* over n */
    rbuf[0] = PBFT_FRESP_ENTRY;
    assert_int_equal(pbft_chunk_decode(&m, &LIM, 64, 16, &cw), BFT_REJECT_MALFORMED);
}

static struct bft_msg entry_msg(uint32_t k)
{
    struct wire_wr w;
    wire_wr_init(&w, rbuf, sizeof rbuf);
    pbft_entry_put_head(&w, 77, k);
    for (uint32_t i = 0; i < k; i++)
        put_raw(&w, BFT_MSG_COMMIT, i, 2, 9, 0x55);
    assert_false(w.err);
    return body_msg(BFT_MSG_FETCH_RESP, rbuf, w.len);
}

static void test_log_entry_round_trip_and_rejects(void **state)
{
    (void)state;
    struct bft_msg m = entry_msg(3);
    assert_int_equal(pbft_resp_kind(&m), PBFT_FRESP_ENTRY);
    struct pbft_entry_wire ew;
    assert_int_equal(pbft_entry_decode(&m, &LIM, &ew), BFT_REJECT_NONE);
    assert_int_equal(ew.their_exec, 77);
    assert_int_equal(ew.commits.count, 3);
    assert_int_equal(ew.commits.m[2].type, BFT_MSG_COMMIT);
    assert_int_equal(ew.commits.m[2].seq, 9);
    for (uint32_t cut = 0; cut < m.body_len; cut++) {
        struct bft_msg t = m;
        t.body_len = cut;
        assert_int_equal(pbft_entry_decode(&t, &LIM, &ew), BFT_REJECT_MALFORMED);
    }
    m.body_len++;
    assert_int_equal(pbft_entry_decode(&m, &LIM, &ew), BFT_REJECT_MALFORMED);
    m = entry_msg(2); /* under 2f+1 */
    assert_int_equal(pbft_entry_decode(&m, &LIM, &ew), BFT_REJECT_MALFORMED);
    m = entry_msg(5); /* over n */
    assert_int_equal(pbft_entry_decode(&m, &LIM, &ew), BFT_REJECT_MALFORMED);
    m = entry_msg(3);
    rbuf[0] = PBFT_FRESP_CKPT;
    assert_int_equal(pbft_entry_decode(&m, &LIM, &ew), BFT_REJECT_MALFORMED);
}

static struct bft_msg ckpt_msg(uint32_t k)
{
    struct wire_wr w;
    wire_wr_init(&w, rbuf, sizeof rbuf);
    pbft_ckpt_proof_put_head(&w, k);
    for (uint32_t i = 0; i < k; i++)
        put_raw(&w, BFT_MSG_CHECKPOINT, i, 0, 8, 0x44);
    assert_false(w.err);
    return body_msg(BFT_MSG_FETCH_RESP, rbuf, w.len);
}

static void test_checkpoint_proof_round_trip_and_rejects(void **state)
{
    (void)state;
    struct bft_msg m = ckpt_msg(4);
    assert_int_equal(pbft_resp_kind(&m), PBFT_FRESP_CKPT);
    struct pbft_emb_list l;
    assert_int_equal(pbft_ckpt_proof_decode(&m, &LIM, &l), BFT_REJECT_NONE);
    assert_int_equal(l.count, 4);
    assert_int_equal(l.m[3].sender, 3);
    assert_int_equal(l.m[3].seq, 8);
    for (uint32_t cut = 0; cut < m.body_len; cut++) {
        struct bft_msg t = m;
        t.body_len = cut;
        assert_int_equal(pbft_ckpt_proof_decode(&t, &LIM, &l), BFT_REJECT_MALFORMED);
    }
    m.body_len++;
    assert_int_equal(pbft_ckpt_proof_decode(&m, &LIM, &l), BFT_REJECT_MALFORMED);
    m = ckpt_msg(5); /* over n */
    assert_int_equal(pbft_ckpt_proof_decode(&m, &LIM, &l), BFT_REJECT_MALFORMED);
    m = ckpt_msg(1);
    rbuf[0] = PBFT_SRESP_CHUNK;
    assert_int_equal(pbft_ckpt_proof_decode(&m, &LIM, &l), BFT_REJECT_MALFORMED);
}

static void test_relay_round_trip_and_rejects(void **state)
{
    (void)state;
    uint8_t raw[PBFT_RAW_MAX];
    make_raw(raw, BFT_MSG_PRE_PREPARE, 1, 5, 9, 0x55);
    struct wire_wr w;
    wire_wr_init(&w, rbuf, sizeof rbuf);
    pbft_relay_resp_put(&w, raw, sizeof raw);
    assert_false(w.err);
    struct bft_msg m = body_msg(BFT_MSG_STATE_RESP, rbuf, w.len);
    assert_int_equal(pbft_resp_kind(&m), PBFT_SRESP_RELAY);
    const uint8_t *got;
    uint16_t len;
    assert_int_equal(pbft_relay_resp_decode(&m, &got, &len), BFT_REJECT_NONE);
    assert_int_equal(len, sizeof raw);
    assert_memory_equal(got, raw, sizeof raw);
    for (uint32_t cut = 0; cut < w.len; cut++) {
        struct bft_msg t = m;
        t.body_len = cut;
        assert_int_equal(pbft_relay_resp_decode(&t, &got, &len), BFT_REJECT_MALFORMED);
    }
    m.body_len++;
    assert_int_equal(pbft_relay_resp_decode(&m, &got, &len), BFT_REJECT_MALFORMED);
    m.body_len--;
    rbuf[0] = PBFT_SRESP_CHUNK;
    assert_int_equal(pbft_relay_resp_decode(&m, &got, &len), BFT_REJECT_MALFORMED);
}

static void test_resp_kind_unknown(void **state)
{
    (void)state;
    uint8_t b[1] = {4};
    struct bft_msg m = body_msg(BFT_MSG_STATE_RESP, b, 1);
    assert_int_equal(pbft_resp_kind(&m), -1);
    m.body_len = 0;
    assert_int_equal(pbft_resp_kind(&m), -1);
    /* Each kind belongs to one type: a log entry is not a STATE-RESP, a
     * snapshot chunk not a FETCH-RESP. */
    b[0] = PBFT_FRESP_ENTRY;
    m.body_len = 1;
    assert_int_equal(pbft_resp_kind(&m), -1);
    m.type = BFT_MSG_FETCH_RESP;
    assert_int_equal(pbft_resp_kind(&m), PBFT_FRESP_ENTRY);
    b[0] = PBFT_SRESP_CHUNK;
    assert_int_equal(pbft_resp_kind(&m), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_state_req_round_trip_and_rejects),
        cmocka_unit_test(test_fetch_req_round_trip_and_rejects),
        cmocka_unit_test(test_state_chunk_round_trip_and_rejects),
        cmocka_unit_test(test_log_entry_round_trip_and_rejects),
        cmocka_unit_test(test_checkpoint_proof_round_trip_and_rejects),
        cmocka_unit_test(test_relay_round_trip_and_rejects),
        cmocka_unit_test(test_resp_kind_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
