/* Message codec (wire/wire.c, wire/batch.c, wire/names.c): round trips,
 * every truncation and every field error rejected, the signed region, the
 * request and batch iterators. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/wire.h"
#include "net/net.h"

#define BUF_MAX (BFT_HDR_LEN + BFT_BODY_MAX + BFT_SIG_LEN + 4096)
static uint8_t buf[BUF_MAX];

static void fill_header(struct bft_msg *m, uint8_t type)
{
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->sender = 3;
    m->cluster_id = 0x1122334455667788ull;
    m->view = 7;
    m->seq = 42;
    for (int i = 0; i < 32; i++)
        m->digest.b[i] = (uint8_t)(i * 7 + 1);
    for (int i = 0; i < BFT_SIG_LEN; i++)
        m->sig[i] = (uint8_t)(0xA0 ^ i);
}

static size_t encode(const struct bft_msg *m, uint8_t *out, size_t cap)
{
    size_t len = bft_msg_encode(m, out, cap);
    assert_int_equal(len, bft_msg_encoded_len(m));
    return len;
}

/* REQUEST body from ops (each op_len given explicitly so tests can lie). */
static size_t req_body(uint8_t *body, uint16_t count, uint8_t flags, const char *const *ops)
{
    struct wire_wr w;
    wire_wr_init(&w, body, 8192);
    wire_put_u16(&w, count);
    wire_put_u8(&w, flags);
    wire_put_u8(&w, 0);
    for (uint16_t i = 0; i < count; i++) {
        wire_put_u16(&w, (uint16_t)strlen(ops[i]));
        wire_put_bytes(&w, ops[i], strlen(ops[i]));
    }
    assert_false(w.err);
    return w.len;
}

static const char *const three_ops[] = {"alpha", "b", "gamma-op"};

static size_t make_request(uint8_t *out, size_t cap, uint64_t seq, uint8_t *body)
{
    struct bft_msg m;
    fill_header(&m, BFT_MSG_REQUEST);
    m.seq = seq;
    m.body = body;
    m.body_len = (uint32_t)req_body(body, 3, BFT_REQ_READONLY, three_ops);
    return encode(&m, out, cap);
}

static size_t make_reply_body(uint8_t *body)
{
    struct wire_wr w;
    wire_wr_init(&w, body, 256);
    wire_put_u32(&w, 9);
    wire_put_u64(&w, 100);
    wire_put_u16(&w, 2);
    wire_put_u16(&w, 3);
    wire_put_bytes(&w, "abc", 3);
    wire_put_u16(&w, 0);
    return w.len;
}

/* A batch of `n` copies of one encoded request. */
static size_t make_batch(uint8_t *out, const uint8_t *req, size_t req_len, uint16_t n)
{
    struct wire_wr w;
    wire_wr_init(&w, out, 65536);
    wire_put_u16(&w, n);
    for (uint16_t i = 0; i < n; i++) {
        wire_put_u32(&w, (uint32_t)req_len);
        wire_put_bytes(&w, req, req_len);
    }
    assert_false(w.err);
    return w.len;
}

static void assert_same_header(const struct bft_msg *a, const struct bft_msg *b)
{
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->flags, b->flags);
    assert_int_equal(a->sender, b->sender);
    assert_true(a->cluster_id == b->cluster_id);
    assert_true(a->view == b->view);
    assert_true(a->seq == b->seq);
    assert_memory_equal(a->digest.b, b->digest.b, 32);
    assert_memory_equal(a->sig, b->sig, BFT_SIG_LEN);
    assert_int_equal(a->body_len, b->body_len);
    assert_int_equal(a->payload_len, b->payload_len);
    if (a->body_len) assert_memory_equal(a->body, b->body, a->body_len);
    if (a->payload_len) assert_memory_equal(a->payload, b->payload, a->payload_len);
}

static void expect_malformed(const uint8_t *p, size_t len)
{
    struct bft_msg m;
    memset(&m, 0x5a, sizeof(m));
    struct bft_msg before = m;
    assert_int_equal(bft_msg_decode(p, len, &m), BFT_E_MALFORMED);
    assert_memory_equal(&m, &before, sizeof(m)); /* untouched on failure */
}

/* ---- Round trips ---- */

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

static void expect_bad_reply(const uint8_t *body, size_t body_len)
{
    struct bft_msg m;
    fill_header(&m, BFT_MSG_REPLY);
    m.body = body;
    m.body_len = (uint32_t)body_len;
    expect_malformed(buf, encode(&m, buf, sizeof(buf)));
}

static void test_reply_body_errors(void **state)
{
    (void)state;
    uint8_t body[1024];
    size_t bl = make_reply_body(body);
    wire_le_store(body + 12, 0, 2); /* count 0 */
    expect_bad_reply(body, bl);
    bl = make_reply_body(body);
    wire_le_store(body + 12, 3, 2); /* count larger than present */
    expect_bad_reply(body, bl);
    bl = make_reply_body(body);
    body[bl] = 0;
    expect_bad_reply(body, bl + 1); /* trailing */
    expect_bad_reply(body, 13);     /* shorter than its header */
    bl = make_reply_body(body);
    wire_le_store(body + 4, 0, 8); /* first_req_no 0 */
    expect_bad_reply(body, bl);
    /* result over BFT_RESULT_MAX, bytes present */
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof(body));
    wire_put_u32(&w, 1), wire_put_u64(&w, 1), wire_put_u16(&w, 1);
    wire_put_u16(&w, BFT_RESULT_MAX + 1);
    memset(wire_wr_reserve(&w, BFT_RESULT_MAX + 1), 'r', BFT_RESULT_MAX + 1);
    expect_bad_reply(body, w.len);
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
        cmocka_unit_test(test_roundtrip_fixed_types),
        cmocka_unit_test(test_encode_small_cap),
        cmocka_unit_test(test_roundtrip_request_and_iterator),
        cmocka_unit_test(test_roundtrip_reply),
        cmocka_unit_test(test_roundtrip_pre_prepare_and_batch),
        cmocka_unit_test(test_every_truncation_rejected),
        cmocka_unit_test(test_header_field_errors),
        cmocka_unit_test(test_payload_only_where_allowed),
        cmocka_unit_test(test_request_body_errors),
        cmocka_unit_test(test_reply_body_errors),
        cmocka_unit_test(test_batch_errors),
        cmocka_unit_test(test_signed_region_and_sig),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
