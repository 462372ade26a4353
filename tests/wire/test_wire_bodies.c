/* Message codec, body layouts (wire/wire.c, wire/batch.c, wire/names.c):
 * every REQUEST and batch field error rejected, the signed region and
 * signature, the name tables. Round trips and header errors are in
 * test_wire.c, the REPLY body in test_wire_reply.c. */
#include "tests/wire/wire_test_util.h"

/* Encode a REQUEST with a hand-made body and expect it refused. */
static void expect_bad_request(const uint8_t *body, size_t body_len, uint64_t seq)
{
    struct bft_msg m;
    fill_header(&m, BFT_MSG_REQUEST);
    m.seq = seq;
    m.body = body;
    m.body_len = (uint32_t)body_len;
    expect_malformed(buf, encode(&m, buf, sizeof(buf)));
}

static void test_request_body_errors(void **state)
{
    (void)state;
    static uint8_t body[4 + 2 * (2 + BFT_OP_MAX + 1)];
    struct wire_wr w;

    /* count 0 */
    req_body(body, 0, 0, NULL);
    expect_bad_request(body, 4, 1);
    /* count over the envelope maximum (ops all present) */
    {
        static const char *ops[BFT_ENVELOPE_MAX_OPS + 1];
        for (int i = 0; i <= BFT_ENVELOPE_MAX_OPS; i++)
            ops[i] = "x";
        uint8_t *big = malloc(8192);
        size_t bl = req_body(big, BFT_ENVELOPE_MAX_OPS, 0, ops);
        struct bft_msg m, d;
        fill_header(&m, BFT_MSG_REQUEST);
        m.body = big;
        m.body_len = (uint32_t)bl;
        assert_int_equal(bft_msg_decode(buf, encode(&m, buf, sizeof(buf)), &d), BFT_E_OK);
        bl = req_body(big, BFT_ENVELOPE_MAX_OPS + 1, 0, ops);
        expect_bad_request(big, bl, 1);
        free(big);
    }
    /* op_len 0 */
    wire_wr_init(&w, body, sizeof(body));
    wire_put_u16(&w, 1), wire_put_u16(&w, 0), wire_put_u16(&w, 0);
    expect_bad_request(body, w.len, 1);
    /* op_len at and over BFT_OP_MAX, bytes present */
    for (uint32_t n = BFT_OP_MAX; n <= BFT_OP_MAX + 1; n++) {
        wire_wr_init(&w, body, sizeof(body));
        wire_put_u16(&w, 1), wire_put_u16(&w, 0), wire_put_u16(&w, (uint16_t)n);
        memset(wire_wr_reserve(&w, n), 'o', n);
        if (n == BFT_OP_MAX) {
            struct bft_msg m, d;
            fill_header(&m, BFT_MSG_REQUEST);
            m.body = body;
            m.body_len = (uint32_t)w.len;
            assert_int_equal(bft_msg_decode(buf, encode(&m, buf, sizeof(buf)), &d), BFT_E_OK);
        } else {
            expect_bad_request(body, w.len, 1);
        }
    }
    /* Inner lengths that do not add up: op_len past the end, fewer ops than
     * count, bytes after the last op, a body shorter than its header. */
    size_t bl = req_body(body, 3, 0, three_ops);
    wire_le_store(body + 4, 6, 2); /* "alpha" is 5 bytes: now overlaps the next */
    expect_bad_request(body, bl, 1);
    bl = req_body(body, 3, 0, three_ops);
    wire_le_store(body, 4, 2);
    expect_bad_request(body, bl, 1);
    bl = req_body(body, 3, 0, three_ops);
    body[bl] = 0;
    expect_bad_request(body, bl + 1, 1);
    expect_bad_request(body, 3, 1);
    wire_le_store(body + bl - 8 - 2, 100, 2); /* last op claims past the end */
    expect_bad_request(body, bl, 1);
    /* Envelope flags, reserved byte, request numbers. */
    bl = req_body(body, 3, 0x02, three_ops);
    expect_bad_request(body, bl, 1);
    bl = req_body(body, 3, 0, three_ops);
    body[3] = 1;
    expect_bad_request(body, bl, 1);
    body[3] = 0;
    expect_bad_request(body, bl, 0);
    expect_bad_request(body, bl, UINT64_MAX - 2);
    struct bft_msg m, d;
    fill_header(&m, BFT_MSG_REQUEST);
    m.seq = UINT64_MAX - 3;
    m.body = body;
    m.body_len = (uint32_t)bl;
    assert_int_equal(bft_msg_decode(buf, encode(&m, buf, sizeof(buf)), &d), BFT_E_OK);
}

static void expect_bad_pre_prepare(const uint8_t *payload, size_t len, uint32_t body_len)
{
    struct bft_msg m;
    uint8_t body[4] = {0};
    fill_header(&m, BFT_MSG_PRE_PREPARE);
    m.body = body;
    m.body_len = body_len;
    m.payload = payload;
    m.payload_len = (uint32_t)len;
    expect_malformed(buf, encode(&m, buf, sizeof(buf)));
}

static void test_batch_errors(void **state)
{
    (void)state;
    uint8_t body[512], req[1024], batch[4096];
    size_t req_len = make_request(req, sizeof(req), 1, body);
    size_t bl = make_batch(batch, req, req_len, 2);
    struct bft_batch_iter it;
    assert_int_equal(bft_batch_iter_init(&it, batch, bl), BFT_E_OK);

    expect_bad_pre_prepare(batch, bl, 4); /* PRE_PREPARE with a body */
    {
        /* No batch: a null request or a certificate copy with its batch
         * stripped is well-formed to the codec (the node refuses a stripped
         * one from the network). */
        struct bft_msg m, d;
        fill_header(&m, BFT_MSG_PRE_PREPARE);
        m.body_len = 0;
        m.payload_len = 0;
        size_t n = encode(&m, buf, sizeof(buf));
        assert_int_equal(bft_msg_decode(buf, n, &d), BFT_E_OK);
        assert_int_equal(d.payload_len, 0);
    }
    wire_le_store(batch, 0, 2); /* count 0 */
    expect_bad_pre_prepare(batch, bl, 0);
    wire_le_store(batch, 3, 2); /* count larger than present */
    expect_bad_pre_prepare(batch, bl, 0);
    wire_le_store(batch, 2, 2);
    batch[bl] = 0;
    expect_bad_pre_prepare(batch, bl + 1, 0);           /* trailing */
    wire_le_store(batch + 2, (uint32_t)req_len + 1, 4); /* entries overlap */
    expect_bad_pre_prepare(batch, bl, 0);
    assert_int_equal(bft_batch_iter_init(&it, batch, bl), BFT_E_MALFORMED);
    const uint8_t *r;
    size_t rl;
    assert_false(bft_batch_iter_next(&it, &r, &rl)); /* failed init yields nothing */
    /* An entry too short to be a message. */
    uint8_t tiny[2 + 4 + 8] = {1, 0, 8, 0, 0, 0};
    expect_bad_pre_prepare(tiny, sizeof(tiny), 0);
    /* Over BFT_BATCH_MAX_ENVELOPES. */
    size_t cap = 2 + (BFT_BATCH_MAX_ENVELOPES + 1) * (4 + BFT_MSG_MIN_LEN);
    uint8_t *many = calloc(1, cap);
    struct wire_wr w;
    wire_wr_init(&w, many, cap);
    wire_put_u16(&w, BFT_BATCH_MAX_ENVELOPES + 1);
    for (int i = 0; i <= BFT_BATCH_MAX_ENVELOPES; i++) {
        wire_put_u32(&w, BFT_MSG_MIN_LEN);
        wire_wr_reserve(&w, BFT_MSG_MIN_LEN);
    }
    assert_int_equal(w.len, cap);
    assert_int_equal(bft_batch_iter_init(&it, many, cap), BFT_E_MALFORMED);
    wire_le_store(many, BFT_BATCH_MAX_ENVELOPES, 2);
    assert_int_equal(bft_batch_iter_init(&it, many, cap - 4 - BFT_MSG_MIN_LEN), BFT_E_OK);
    free(many);
}

/* ---- Signing helpers ---- */

static void test_signed_region_and_sig(void **state)
{
    (void)state;
    uint8_t body[512], batch[4096], req[1024];
    size_t req_len = make_request(req, sizeof(req), 1, body);
    struct bft_msg m, d;
    fill_header(&m, BFT_MSG_PRE_PREPARE);
    m.payload = batch;
    m.payload_len = (uint32_t)make_batch(batch, req, req_len, 1);
    size_t len = encode(&m, buf, sizeof(buf));
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(buf, &region, &rlen);
    assert_ptr_equal(region, buf + 4);
    assert_int_equal(rlen, BFT_HDR_LEN - 4);

    /* With a body: [4, 72 + body_len). */
    len = make_request(buf, sizeof(buf), 1, body);
    struct bft_msg r;
    assert_int_equal(bft_msg_decode(buf, len, &r), BFT_E_OK);
    bft_msg_signed_region(buf, &region, &rlen);
    assert_ptr_equal(region, buf + BFT_SIGNED_OFF);
    assert_int_equal(rlen, BFT_HDR_LEN + r.body_len - BFT_SIGNED_OFF);

    uint8_t sig[BFT_SIG_LEN];
    for (int i = 0; i < BFT_SIG_LEN; i++)
        sig[i] = (uint8_t)(255 - i);
    bft_msg_set_sig(buf, sig);
    assert_memory_equal(buf + BFT_HDR_LEN + r.body_len, sig, BFT_SIG_LEN);
    assert_int_equal(bft_msg_decode(buf, len, &d), BFT_E_OK);
    assert_memory_equal(d.sig, sig, BFT_SIG_LEN);
    assert_int_equal(d.body_len, r.body_len); /* body untouched */
    assert_memory_equal(d.body, r.body, r.body_len);
}

/* ---- Names ---- */

static void test_names(void **state)
{
    (void)state;
#define CHECK_TYPE(name, val, str)                                                                 \
    assert_true(bft_msg_type_valid(val));                                                          \
    assert_string_equal(bft_msg_type_name(val), str);
    BFT_MSG_TYPE_MAP(CHECK_TYPE)
#undef CHECK_TYPE
    assert_false(bft_msg_type_valid(0));
    assert_false(bft_msg_type_valid(99));
    assert_false(bft_msg_type_valid(-1));
    assert_false(bft_msg_type_valid(256 + BFT_MSG_REQUEST));
    assert_null(bft_msg_type_name(99));
    assert_true(bft_msg_from_client(BFT_MSG_REQUEST));
    assert_false(bft_msg_from_client(BFT_MSG_PREPARE));
    assert_false(bft_msg_from_client(BFT_MSG_REPLY));

    assert_string_equal(bft_strerror(BFT_E_OK), "ok");
    assert_string_equal(bft_strerror(BFT_E_MALFORMED), "malformed input");
    assert_string_equal(bft_strerror(BFT_E__COUNT), "unknown error");
    assert_string_equal(bft_reject_name(BFT_REJECT_BAD_SIGNATURE), "bad_signature");
    assert_string_equal(bft_reject_name(BFT_REJECT_OVERLOAD), "overload");
    assert_string_equal(bft_reject_name(-1), "unknown");
    /* 0 is "not refused", as BFT_E_OK is "ok": never a counted reason. */
    assert_int_equal(BFT_REJECT_NONE, 0);
    assert_int_equal(BFT_REJECT_MALFORMED, BFT_REJECT__FIRST);
    assert_string_equal(bft_reject_name(BFT_REJECT_NONE), "unknown");
    assert_string_equal(bft_reject_name(BFT_REJECT_MALFORMED), "malformed");

    assert_int_equal(bft_protocol_parse("pbft"), BFT_PROTO_PBFT);
    assert_int_equal(bft_protocol_parse("hotstuff"), BFT_PROTO_HOTSTUFF);
    assert_int_equal(bft_protocol_parse("raft"), BFT_PROTO_RAFT);
    assert_int_equal(bft_protocol_parse("paxos"), -1);
    assert_int_equal(bft_protocol_parse(NULL), -1);
    assert_string_equal(bft_protocol_name(BFT_PROTO_HOTSTUFF), "hotstuff");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_body_errors),
        cmocka_unit_test(test_batch_errors),
        cmocka_unit_test(test_signed_region_and_sig),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
