/* Message codec (wire/wire.c, wire/batch.c, wire/names.c): round trips,
 * every truncation and every field error rejected, the signed region, the
 * request and batch iterators. */
#include "tests/wire/wire_test_util.h"

static void test_roundtrip_fixed_types(void **state)
{
    (void)state;
    static const uint8_t fixed[] = {BFT_MSG_PREPARE, BFT_MSG_COMMIT, BFT_MSG_CHECKPOINT,
                                    BFT_MSG_HS_VOTE};
    for (size_t i = 0; i < sizeof(fixed); i++) {
        struct bft_msg m, d;
        fill_header(&m, fixed[i]);
        m.seq = 1000 + i;
        size_t len = encode(&m, buf, sizeof(buf));
        assert_int_equal(len, BFT_MSG_MIN_LEN);
        assert_int_equal(bft_msg_decode(buf, len, &d), BFT_E_OK);
        assert_same_header(&m, &d);
        assert_ptr_equal(d.raw, buf);
        assert_int_equal(d.raw_len, len);
    }
    /* Opaque bodies (owned by the cores) pass through unchanged. */
    static const uint8_t opaque[] = {BFT_MSG_VIEW_CHANGE, BFT_MSG_NEW_VIEW, BFT_MSG_HS_TIMEOUT,
                                     BFT_MSG_RAFT_APPEND};
    const uint8_t body[] = {1, 2, 3, 4, 5, 6, 7};
    for (size_t i = 0; i < sizeof(opaque); i++) {
        struct bft_msg m, d;
        fill_header(&m, opaque[i]);
        m.body = body;
        m.body_len = sizeof(body);
        size_t len = encode(&m, buf, sizeof(buf));
        assert_int_equal(bft_msg_decode(buf, len, &d), BFT_E_OK);
        assert_same_header(&m, &d);
    }
}

static void test_encode_small_cap(void **state)
{
    (void)state;
    struct bft_msg m;
    fill_header(&m, BFT_MSG_PREPARE);
    assert_int_equal(bft_msg_encode(&m, buf, BFT_MSG_MIN_LEN - 1), 0);
    assert_int_equal(bft_msg_encode(&m, buf, BFT_MSG_MIN_LEN), BFT_MSG_MIN_LEN);
    /* Explicit little-endian layout at the documented offsets. */
    assert_int_equal(buf[4], BFT_WIRE_VERSION);
    assert_int_equal(buf[5], BFT_MSG_PREPARE);
    assert_int_equal(wire_le_load(buf + 8, 4), 3);
    assert_true(wire_le_load(buf + 16, 8) == 0x1122334455667788ull);
    assert_int_equal(buf[16], 0x88);
    assert_int_equal(wire_le_load(buf + 24, 8), 7);
    assert_int_equal(wire_le_load(buf + 32, 8), 42);
    assert_memory_equal(buf + 40, m.digest.b, 32);
    assert_memory_equal(buf + 72, m.sig, 64);
}

static void test_roundtrip_request_and_iterator(void **state)
{
    (void)state;
    uint8_t body[512];
    size_t len = make_request(buf, sizeof(buf), 500, body);
    struct bft_msg d;
    assert_int_equal(bft_msg_decode(buf, len, &d), BFT_E_OK);
    assert_int_equal(d.type, BFT_MSG_REQUEST);
    assert_int_equal(bft_req_count(&d), 3);
    assert_int_equal(bft_req_flags(&d), BFT_REQ_READONLY);
    struct bft_req_iter it;
    bft_req_iter_init(&it, &d);
    uint64_t req_no;
    const uint8_t *op;
    size_t op_len;
    for (int i = 0; i < 3; i++) {
        assert_true(bft_req_iter_next(&it, &req_no, &op, &op_len));
        assert_true(req_no == 500u + (unsigned)i);
        assert_int_equal(op_len, strlen(three_ops[i]));
        assert_memory_equal(op, three_ops[i], op_len);
    }
    assert_false(bft_req_iter_next(&it, &req_no, &op, &op_len));
    /* The iterator on a non-request yields nothing. */
    struct bft_msg p;
    fill_header(&p, BFT_MSG_PREPARE);
    bft_req_iter_init(&it, &p);
    assert_false(bft_req_iter_next(&it, &req_no, &op, &op_len));
    assert_int_equal(bft_req_count(&p), 0);
}

static void test_roundtrip_reply(void **state)
{
    (void)state;
    uint8_t body[256];
    struct bft_msg m, d;
    fill_header(&m, BFT_MSG_REPLY);
    m.body = body;
    m.body_len = (uint32_t)make_reply_body(body);
    size_t len = encode(&m, buf, sizeof(buf));
    assert_int_equal(bft_msg_decode(buf, len, &d), BFT_E_OK);
    assert_same_header(&m, &d);
}

static void test_roundtrip_pre_prepare_and_batch(void **state)
{
    (void)state;
    uint8_t body[512], req[1024], batch[4096];
    size_t req_len = make_request(req, sizeof(req), 1, body);
    size_t batch_len = make_batch(batch, req, req_len, 3);
    struct bft_msg m, d;
    fill_header(&m, BFT_MSG_PRE_PREPARE);
    m.payload = batch;
    m.payload_len = (uint32_t)batch_len;
    bft_batch_digest(batch, batch_len, &m.digest);
    size_t len = encode(&m, buf, sizeof(buf));
    assert_int_equal(bft_msg_decode(buf, len, &d), BFT_E_OK);
    assert_same_header(&m, &d);
    assert_ptr_equal(d.payload, buf + BFT_MSG_MIN_LEN);

    struct bft_batch_iter it;
    assert_int_equal(bft_batch_iter_init(&it, d.payload, d.payload_len), BFT_E_OK);
    const uint8_t *r;
    size_t rl;
    int n = 0;
    while (bft_batch_iter_next(&it, &r, &rl)) {
        struct bft_msg inner;
        assert_int_equal(rl, req_len);
        assert_int_equal(bft_msg_decode(r, rl, &inner), BFT_E_OK);
        assert_int_equal(inner.type, BFT_MSG_REQUEST);
        n++;
    }
    assert_int_equal(n, 3);

    /* The digest is over the whole payload: one flipped byte changes it. */
    bft_digest a, b;
    bft_batch_digest(batch, batch_len, &a);
    batch[batch_len - 1] ^= 1;
    bft_batch_digest(batch, batch_len, &b);
    assert_memory_not_equal(a.b, b.b, 32);
}

/* ---- Rejection ---- */

static void test_every_truncation_rejected(void **state)
{
    (void)state;
    uint8_t body[512], req[1024], batch[4096], rbody[256];
    size_t lens[4];
    uint8_t *msgs[4];
    for (int i = 0; i < 4; i++)
        msgs[i] = malloc(8192);

    lens[0] = make_request(msgs[0], 8192, 1, body);
    size_t req_len = make_request(req, sizeof(req), 1, body);
    struct bft_msg m;
    fill_header(&m, BFT_MSG_PRE_PREPARE);
    m.payload = batch;
    m.payload_len = (uint32_t)make_batch(batch, req, req_len, 2);
    lens[1] = encode(&m, msgs[1], 8192);
    fill_header(&m, BFT_MSG_REPLY);
    m.body = rbody;
    m.body_len = (uint32_t)make_reply_body(rbody);
    lens[2] = encode(&m, msgs[2], 8192);
    fill_header(&m, BFT_MSG_COMMIT);
    lens[3] = encode(&m, msgs[3], 8192);

    for (int i = 0; i < 4; i++) {
        struct bft_msg d;
        assert_int_equal(bft_msg_decode(msgs[i], lens[i], &d), BFT_E_OK);
        for (size_t cut = 0; cut < lens[i]; cut++) {
            /* Copy so ASan catches any read past the cut. */
            uint8_t *p = malloc(cut ? cut : 1);
            memcpy(p, msgs[i], cut);
            expect_malformed(p, cut);
            free(p);
        }
        free(msgs[i]);
    }
}

/* Encode a valid PREPARE, then let `mutate` break one field. */
static size_t valid_prepare(uint8_t *out)
{
    struct bft_msg m;
    fill_header(&m, BFT_MSG_PREPARE);
    return encode(&m, out, BUF_MAX);
}

static void test_header_field_errors(void **state)
{
    (void)state;
    struct bft_msg d;
    size_t len = valid_prepare(buf);
    assert_int_equal(bft_msg_decode(buf, len, &d), BFT_E_OK);

    buf[4] = 2; /* version */
    expect_malformed(buf, len);
    buf[4] = 0;
    expect_malformed(buf, len);
    len = valid_prepare(buf);
    static const uint8_t bad_types[] = {0, 3, 9, 18, 29, 35, 49, 54, 99, 255};
    for (size_t i = 0; i < sizeof(bad_types); i++) {
        buf[5] = bad_types[i];
        expect_malformed(buf, len);
    }
    len = valid_prepare(buf);
    wire_le_store(buf + 6, 1, 2); /* flags */
    expect_malformed(buf, len);
    wire_le_store(buf + 6, 0x8000, 2);
    expect_malformed(buf, len);

    /* Trailing byte and a lying length field. */
    len = valid_prepare(buf);
    buf[len] = 0;
    expect_malformed(buf, len + 1);
    wire_le_store(buf + 12, 1, 4);
    expect_malformed(buf, len + 1); /* PREPARE with a body */
    wire_le_store(buf + 12, 0, 4);
    wire_le_store(buf + 0, 1, 4);
    expect_malformed(buf, len + 1); /* PREPARE with a payload */

    /* body_len over the maximum, with every byte present. */
    struct bft_msg m;
    fill_header(&m, BFT_MSG_VIEW_CHANGE);
    static uint8_t big[BFT_BODY_MAX + 1];
    m.body = big;
    m.body_len = BFT_BODY_MAX;
    len = encode(&m, buf, sizeof(buf));
    assert_int_equal(bft_msg_decode(buf, len, &d), BFT_E_OK);
    m.body_len = BFT_BODY_MAX + 1;
    len = encode(&m, buf, sizeof(buf));
    expect_malformed(buf, len);

    /* payload_len over the maximum (claimed; checked before the length). */
    len = valid_prepare(buf);
    buf[5] = BFT_MSG_STATE_RESP;
    wire_le_store(buf, BFT_PAYLOAD_MAX + 1, 4);
    expect_malformed(buf, len);
}

static void test_payload_only_where_allowed(void **state)
{
    (void)state;
    const uint8_t payload[] = {9, 9, 9};
    static const uint8_t types[] = {BFT_MSG_REQUEST,  BFT_MSG_REPLY,      BFT_MSG_PREPARE,
                                    BFT_MSG_COMMIT,   BFT_MSG_CHECKPOINT, BFT_MSG_VIEW_CHANGE,
                                    BFT_MSG_NEW_VIEW, BFT_MSG_HS_VOTE,    BFT_MSG_RAFT_APPEND};
    struct bft_msg m, d;
    for (size_t i = 0; i < sizeof(types); i++) {
        fill_header(&m, types[i]);
        m.payload = payload;
        m.payload_len = sizeof(payload);
        expect_malformed(buf, encode(&m, buf, sizeof(buf)));
    }
    static const uint8_t carriers[] = {BFT_MSG_STATE_RESP, BFT_MSG_HS_PROPOSAL,
                                       BFT_MSG_HS_BLOCK_RESP};
    for (size_t i = 0; i < sizeof(carriers); i++) {
        fill_header(&m, carriers[i]);
        m.payload = payload;
        m.payload_len = sizeof(payload);
        assert_int_equal(bft_msg_decode(buf, encode(&m, buf, sizeof(buf)), &d), BFT_E_OK);
        assert_int_equal(d.payload_len, sizeof(payload));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip_fixed_types),
        cmocka_unit_test(test_encode_small_cap),
        cmocka_unit_test(test_roundtrip_request_and_iterator),
        cmocka_unit_test(test_roundtrip_reply),
        cmocka_unit_test(test_roundtrip_pre_prepare_and_batch),
        cmocka_unit_test(test_every_truncation_rejected),
        cmocka_unit_test(test_header_field_errors),
        cmocka_unit_test(test_payload_only_where_allowed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
