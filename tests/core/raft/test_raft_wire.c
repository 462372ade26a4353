/* Raft codec (core/raft/raft_wire.c): every message body round-trips
 * through its encoder, the message codec (wire.h) and its decoder, and
 * every reason a decoder refuses a body is exercised once. Layouts:
 * raft_wire.h; Fig. 2 of the Raft paper names the fields. */
#include "core/raft/raft_wire.h"
#include "test_raft_fixture.h"

/* Encode m as a replica would send it and decode it back, so the message
 * layer accepts what the Raft encoders produce. */
static struct bft_msg through_wire(const struct bft_msg *m, uint8_t *buf, size_t cap)
{
    struct bft_msg out = *m;
    out.sender = 1;
    out.cluster_id = 77;
    size_t len = bft_msg_encode(&out, buf, cap);
    assert_true(len > 0);
    struct bft_msg d;
    assert_int_equal(bft_msg_decode(buf, len, &d), BFT_E_OK);
    assert_int_equal(d.type, m->type);
    return d;
}

/* A client batch of one REQUEST: u16 k | k x (u32 len | REQUEST). */
static uint32_t one_request_batch(uint8_t *b, size_t cap)
{
    uint8_t req[256];
    size_t rl = fx_request(req, sizeof req, 77, 3, 9, false);
    assert_true(6 + rl <= cap);
    wire_le_store(b, 1, 2);
    wire_le_store(b + 2, rl, 4);
    memcpy(b + 6, req, rl);
    return (uint32_t)(6 + rl);
}

/* An append with a no-op and one client batch, into buf. */
static struct bft_msg make_append(uint8_t *buf, size_t cap, bool anchor, uint64_t t1, uint64_t t2)
{
    static uint8_t batch[300];
    uint32_t blen = one_request_batch(batch, sizeof batch);
    struct raft_append a = {.term = 7,
                            .prev_index = 41,
                            .prev_term = 5,
                            .commit = 40,
                            .round = 12,
                            .anchor = anchor,
                            .boot_id = anchor ? 0xb007 : 0,
                            .anchor_index = anchor ? 43 : 0,
                            .count = 2};
    struct raft_entry_ref e[2] = {{.term = t1, .len = 0, .batch = NULL},
                                  {.term = t2, .len = blen, .batch = batch}};
    struct wire_wr w;
    wire_wr_init(&w, buf, cap);
    raft_put_append_head(&w, &a);
    assert_int_equal(w.len, raft_append_head_len(anchor));
    raft_put_entry(&w, &e[0]);
    raft_put_entry(&w, &e[1]);
    struct bft_msg m;
    raft_append_msg(&a, &w, &m);
    return m;
}

static void test_raft_wire_append_round_trip(void **state)
{
    (void)state;
    for (int anchor = 0; anchor < 2; anchor++) {
        uint8_t body[1024], enc[2048];
        struct bft_msg m = make_append(body, sizeof body, anchor, 6, 7);
        struct bft_msg d = through_wire(&m, enc, sizeof enc);
        struct raft_append a;
        assert_int_equal(raft_decode_append(&d, &a), BFT_REJECT_NONE);
        assert_int_equal(a.term, 7);
        assert_int_equal(a.prev_index, 41);
        assert_int_equal(a.prev_term, 5);
        assert_int_equal(a.commit, 40);
        assert_int_equal(a.round, 12);
        assert_int_equal(a.anchor, anchor);
        assert_int_equal(a.boot_id, anchor ? 0xb007 : 0);
        assert_int_equal(a.anchor_index, anchor ? 43 : 0);
        assert_int_equal(a.count, 2);
        struct raft_entry_ref e;
        assert_true(raft_entry_next(&a.entries, &e));
        assert_int_equal(e.term, 6);
        assert_int_equal(e.len, 0);
        assert_null(e.batch);
        assert_true(raft_entry_next(&a.entries, &e));
        assert_int_equal(e.term, 7);
        assert_true(e.len > 6);
        assert_int_equal(wire_rd_left(&a.entries), 0);
        assert_false(raft_entry_next(&a.entries, &e)); /* past the last entry */
    }
}

/* Append bodies refused whatever our state: framing, flags, bounds, and
 * terms that break Fig. 2's Log Matching order. */
static void test_raft_wire_append_rejects(void **state)
{
    (void)state;
    uint8_t body[1024];
    struct raft_append a;
    struct bft_msg m = make_append(body, sizeof body, false, 6, 7);
    uint32_t full = m.body_len;
    /* Every strict prefix is short. */
    for (uint32_t len = 0; len < full; len++) {
        m.body_len = len;
        assert_int_equal(raft_decode_append(&m, &a), BFT_REJECT_MALFORMED);
    }
    m.body_len = full;
    assert_int_equal(raft_decode_append(&m, &a), BFT_REJECT_NONE);
    /* Trailing bytes. */
    body[full] = 0;
    m.body_len = full + 1;
    assert_int_equal(raft_decode_append(&m, &a), BFT_REJECT_MALFORMED);
    m.body_len = full;
    /* Unknown flag. */
    body[0] = 0x80;
    assert_int_equal(raft_decode_append(&m, &a), BFT_REJECT_MALFORMED);
    body[0] = 0;
    /* Count over RAFT_APPEND_ENTRIES_MAX. */
    wire_le_store(body + 25, RAFT_APPEND_ENTRIES_MAX + 1, 4);
    assert_int_equal(raft_decode_append(&m, &a), BFT_REJECT_MALFORMED);
    wire_le_store(body + 25, 2, 4);
    /* Term 0 has no leader. */
    m.view = 0;
    assert_int_equal(raft_decode_append(&m, &a), BFT_REJECT_MALFORMED);
    m.view = 7;
    /* prev_index + count would wrap. */
    m.seq = UINT64_MAX - 10;
    assert_int_equal(raft_decode_append(&m, &a), BFT_REJECT_MALFORMED);
    m.seq = 41;
    assert_int_equal(raft_decode_append(&m, &a), BFT_REJECT_NONE);
    /* prevLogTerm above the sender's term (a heartbeat: no entries whose
     * own terms would give it away). */
    uint8_t hb[64];
    struct raft_append h0 = {.term = 7, .prev_index = 41, .prev_term = 7};
    struct wire_wr w0;
    wire_wr_init(&w0, hb, sizeof hb);
    raft_put_append_head(&w0, &h0);
    struct bft_msg mh;
    raft_append_msg(&h0, &w0, &mh);
    assert_int_equal(raft_decode_append(&mh, &a), BFT_REJECT_NONE);
    wire_le_store(hb + 1, 8, 8);
    assert_int_equal(raft_decode_append(&mh, &a), BFT_REJECT_MALFORMED);
    /* Term 0 has no leader, even for an empty append at the start. */
    wire_le_store(hb + 1, 0, 8);
    mh.view = 0;
    assert_int_equal(raft_decode_append(&mh, &a), BFT_REJECT_MALFORMED);
    /* Entry terms going down, below prevLogTerm, or above the term. */
    m = make_append(body, sizeof body, false, 7, 6);
    assert_int_equal(raft_decode_append(&m, &a), BFT_REJECT_MALFORMED);
    m = make_append(body, sizeof body, false, 4, 7);
    assert_int_equal(raft_decode_append(&m, &a), BFT_REJECT_MALFORMED);
    m = make_append(body, sizeof body, false, 6, 8);
    assert_int_equal(raft_decode_append(&m, &a), BFT_REJECT_MALFORMED);
    /* An entry whose batch is not client REQUESTs (k = 1, then junk). */
    static const uint8_t junk[3] = {1, 0, 1};
    struct raft_append h = {.term = 7, .prev_index = 41, .prev_term = 5, .count = 1};
    struct raft_entry_ref e = {.term = 7, .len = sizeof junk, .batch = junk};
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    raft_put_append_head(&w, &h);
    raft_put_entry(&w, &e);
    raft_append_msg(&h, &w, &m);
    assert_int_equal(raft_decode_append(&m, &a), BFT_REJECT_MALFORMED);
}

/* An entry longer than RAFT_ENTRY_MAX is refused even when the body holds it. */
static void test_raft_wire_append_entry_too_long(void **state)
{
    (void)state;
    size_t cap = 29 + RAFT_ENTRY_HDR + RAFT_ENTRY_MAX + 1;
    uint8_t *body = calloc(1, cap);
    assert_non_null(body);
    struct wire_wr w;
    wire_wr_init(&w, body, cap);
    struct raft_append h = {.term = 3, .prev_index = 0, .prev_term = 0, .count = 1};
    raft_put_append_head(&w, &h);
    wire_put_u64(&w, 3);
    wire_put_u32(&w, RAFT_ENTRY_MAX + 1);
    w.len = cap;
    struct bft_msg m;
    raft_append_msg(&h, &w, &m);
    struct raft_append a;
    assert_int_equal(raft_decode_append(&m, &a), BFT_REJECT_MALFORMED);
    free(body);
}

static void test_raft_wire_append_resp_round_trip(void **state)
{
    (void)state;
    const struct raft_append_resp cases[] = {
        {.term = 4, .success = true, .match = 99, .round = 3},
        {.term = 4, .success = true, .fresh = true, .match = 9, .round = 3, .boot_id = 77},
        {.term = 5, .success = false, .round = 8, .conflict_term = 2, .conflict_index = 17},
        {.term = 5, .fresh = true, .conflict_index = 1, .boot_id = 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t body[RAFT_APPEND_RESP_MAX], enc[256];
        struct bft_msg m;
        raft_encode_append_resp(&cases[i], body, &m);
        assert_int_equal(m.body_len, cases[i].fresh ? 33 : 25);
        struct bft_msg d = through_wire(&m, enc, sizeof enc);
        struct raft_append_resp a;
        assert_int_equal(raft_decode_append_resp(&d, &a), BFT_REJECT_NONE);
        assert_int_equal(a.term, cases[i].term);
        assert_int_equal(a.success, cases[i].success);
        assert_int_equal(a.fresh, cases[i].fresh);
        assert_int_equal(a.match, cases[i].success ? cases[i].match : 0);
        assert_int_equal(a.round, cases[i].round);
        assert_int_equal(a.conflict_term, cases[i].conflict_term);
        assert_int_equal(a.conflict_index, cases[i].conflict_index);
        assert_int_equal(a.boot_id, cases[i].boot_id);
    }
}

static void test_raft_wire_append_resp_rejects(void **state)
{
    (void)state;
    uint8_t body[RAFT_APPEND_RESP_MAX + 1] = {0};
    struct raft_append_resp a, ok = {.term = 4, .fresh = true, .conflict_index = 3, .boot_id = 8};
    struct bft_msg m;
    raft_encode_append_resp(&ok, body, &m);
    assert_int_equal(raft_decode_append_resp(&m, &a), BFT_REJECT_NONE);
    m.body_len = 32; /* FRESH without its boot id */
    assert_int_equal(raft_decode_append_resp(&m, &a), BFT_REJECT_MALFORMED);
    m.body_len = 34; /* trailing byte */
    assert_int_equal(raft_decode_append_resp(&m, &a), BFT_REJECT_MALFORMED);
    m.body_len = 33;
    body[0] |= 0x04; /* unknown flag */
    assert_int_equal(raft_decode_append_resp(&m, &a), BFT_REJECT_MALFORMED);
    body[0] &= (uint8_t)~0x04;
    wire_le_store(body + 25, 0, 8); /* FRESH with boot id 0 */
    assert_int_equal(raft_decode_append_resp(&m, &a), BFT_REJECT_MALFORMED);
    wire_le_store(body + 25, 8, 8);
    wire_le_store(body + 17, 0, 8); /* a reject that names no index to retry */
    assert_int_equal(raft_decode_append_resp(&m, &a), BFT_REJECT_MALFORMED);
}

static void test_raft_wire_vote_round_trip(void **state)
{
    (void)state;
    const struct raft_vote cases[] = {
        {.term = 3, .kind = RAFT_VOTE_REAL, .last_index = 10, .last_term = 2},
        {.term = 4, .kind = RAFT_VOTE_PRE, .last_index = 0, .last_term = 0},
        {.term = 0, .kind = RAFT_VOTE_PROBE, .last_index = 5, .last_term = 1, .nonce = 0x1234},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t body[RAFT_VOTE_LEN], enc[256];
        struct bft_msg m;
        raft_encode_vote(&cases[i], body, &m);
        struct bft_msg d = through_wire(&m, enc, sizeof enc);
        struct raft_vote v;
        assert_int_equal(raft_decode_vote(&d, &v), BFT_REJECT_NONE);
        assert_int_equal(v.term, cases[i].term);
        assert_int_equal(v.kind, cases[i].kind);
        assert_int_equal(v.last_index, cases[i].last_index);
        assert_int_equal(v.last_term, cases[i].last_term);
        assert_int_equal(v.nonce, cases[i].nonce);
    }
}

static void test_raft_wire_vote_rejects(void **state)
{
    (void)state;
    uint8_t body[RAFT_VOTE_LEN + 1] = {0};
    struct raft_vote v, ok = {.term = 3, .kind = RAFT_VOTE_REAL, .last_index = 1, .last_term = 1};
    struct bft_msg m;
    raft_encode_vote(&ok, body, &m);
    m.body_len = RAFT_VOTE_LEN - 1;
    assert_int_equal(raft_decode_vote(&m, &v), BFT_REJECT_MALFORMED);
    m.body_len = RAFT_VOTE_LEN + 1;
    assert_int_equal(raft_decode_vote(&m, &v), BFT_REJECT_MALFORMED);
    m.body_len = RAFT_VOTE_LEN;
    body[0] = 0; /* kinds are 1..3 */
    assert_int_equal(raft_decode_vote(&m, &v), BFT_REJECT_MALFORMED);
    body[0] = RAFT_VOTE_PROBE + 1;
    assert_int_equal(raft_decode_vote(&m, &v), BFT_REJECT_MALFORMED);
    body[0] = RAFT_VOTE_PRE;
    wire_le_store(body + 9, 1, 8); /* only a probe carries a nonce */
    assert_int_equal(raft_decode_vote(&m, &v), BFT_REJECT_MALFORMED);
    wire_le_store(body + 9, 0, 8);
    m.view = 0; /* no candidate asks for term 0 */
    assert_int_equal(raft_decode_vote(&m, &v), BFT_REJECT_MALFORMED);
    body[0] = RAFT_VOTE_PROBE; /* ... but a probe may come from term 0 */
    assert_int_equal(raft_decode_vote(&m, &v), BFT_REJECT_NONE);
}

static void test_raft_wire_vote_resp_round_trip(void **state)
{
    (void)state;
    const struct raft_vote_resp cases[] = {
        {.term = 3, .kind = RAFT_VOTE_REAL, .granted = true, .asked_term = 3},
        {.term = 9, .kind = RAFT_VOTE_PRE, .granted = false, .asked_term = 4},
        {.term = 2, .kind = RAFT_VOTE_PROBE, .asked_term = 0, .nonce = 0xabcdef},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint8_t body[RAFT_VOTE_RESP_LEN], enc[256];
        struct bft_msg m;
        raft_encode_vote_resp(&cases[i], body, &m);
        struct bft_msg d = through_wire(&m, enc, sizeof enc);
        struct raft_vote_resp v;
        assert_int_equal(raft_decode_vote_resp(&d, &v), BFT_REJECT_NONE);
        assert_int_equal(v.term, cases[i].term);
        assert_int_equal(v.kind, cases[i].kind);
        assert_int_equal(v.granted, cases[i].granted);
        assert_int_equal(v.asked_term, cases[i].asked_term);
        assert_int_equal(v.nonce, cases[i].nonce);
    }
}

static void test_raft_wire_vote_resp_rejects(void **state)
{
    (void)state;
    uint8_t body[RAFT_VOTE_RESP_LEN + 1] = {0};
    struct raft_vote_resp v, ok = {.term = 3, .kind = RAFT_VOTE_REAL, .granted = true};
    struct bft_msg m;
    raft_encode_vote_resp(&ok, body, &m);
    m.body_len = RAFT_VOTE_RESP_LEN - 1;
    assert_int_equal(raft_decode_vote_resp(&m, &v), BFT_REJECT_MALFORMED);
    m.body_len = RAFT_VOTE_RESP_LEN + 1;
    assert_int_equal(raft_decode_vote_resp(&m, &v), BFT_REJECT_MALFORMED);
    m.body_len = RAFT_VOTE_RESP_LEN;
    body[0] = 7; /* unknown kind */
    assert_int_equal(raft_decode_vote_resp(&m, &v), BFT_REJECT_MALFORMED);
    body[0] = RAFT_VOTE_REAL;
    body[1] = 2; /* granted is 0 or 1 */
    assert_int_equal(raft_decode_vote_resp(&m, &v), BFT_REJECT_MALFORMED);
    body[0] = RAFT_VOTE_PROBE;
    body[1] = 1; /* a probe is never granted */
    assert_int_equal(raft_decode_vote_resp(&m, &v), BFT_REJECT_MALFORMED);
    body[1] = 0;
    assert_int_equal(raft_decode_vote_resp(&m, &v), BFT_REJECT_NONE);
}

/* InstallSnapshot (§7, diss. §5.3) pull and chunk. */
static void test_raft_wire_state_round_trip(void **state)
{
    (void)state;
    uint8_t qb[RAFT_STATE_REQ_LEN], rb[RAFT_STATE_RESP_LEN], enc[512];
    struct raft_state_req q = {.term = 6, .want = 120, .snap_index = 130, .offset = 4096};
    struct bft_msg m;
    raft_encode_state_req(&q, qb, &m);
    struct bft_msg d = through_wire(&m, enc, sizeof enc);
    struct raft_state_req q2;
    assert_int_equal(raft_decode_state_req(&d, &q2), BFT_REJECT_NONE);
    assert_memory_equal(&q2, &q, sizeof q);

    static const uint8_t chunk[5] = {1, 2, 3, 4, 5};
    struct raft_state_resp s = {.term = 6,
                                .snap_index = 130,
                                .snap_term = 5,
                                .total = 20,
                                .offset = 15,
                                .chunk = chunk,
                                .chunk_len = sizeof chunk};
    raft_encode_state_resp(&s, rb, &m);
    d = through_wire(&m, enc, sizeof enc);
    struct raft_state_resp s2;
    assert_int_equal(raft_decode_state_resp(&d, &s2), BFT_REJECT_NONE);
    assert_int_equal(s2.term, 6);
    assert_int_equal(s2.snap_index, 130);
    assert_int_equal(s2.snap_term, 5);
    assert_int_equal(s2.total, 20);
    assert_int_equal(s2.offset, 15);
    assert_int_equal(s2.chunk_len, sizeof chunk);
    assert_memory_equal(s2.chunk, chunk, sizeof chunk);
}

static void test_raft_wire_state_rejects(void **state)
{
    (void)state;
    uint8_t qb[RAFT_STATE_REQ_LEN + 1] = {0}, rb[RAFT_STATE_RESP_LEN + 1] = {0};
    struct raft_state_req q = {.term = 1, .want = 1}, q2;
    struct bft_msg m;
    raft_encode_state_req(&q, qb, &m);
    m.body_len = RAFT_STATE_REQ_LEN - 1;
    assert_int_equal(raft_decode_state_req(&m, &q2), BFT_REJECT_MALFORMED);
    m.body_len = RAFT_STATE_REQ_LEN + 1;
    assert_int_equal(raft_decode_state_req(&m, &q2), BFT_REJECT_MALFORMED);

    static const uint8_t chunk[4] = {0};
    struct raft_state_resp s = {.term = 6, .snap_index = 9, .snap_term = 6, .total = 8}, s2;
    s.chunk = chunk;
    s.chunk_len = 4;
    s.offset = 4;
    raft_encode_state_resp(&s, rb, &m);
    assert_int_equal(raft_decode_state_resp(&m, &s2), BFT_REJECT_NONE);
    m.body_len = RAFT_STATE_RESP_LEN - 1;
    assert_int_equal(raft_decode_state_resp(&m, &s2), BFT_REJECT_MALFORMED);
    m.body_len = RAFT_STATE_RESP_LEN + 1;
    assert_int_equal(raft_decode_state_resp(&m, &s2), BFT_REJECT_MALFORMED);
    const struct {
        uint64_t term, index, snap_term, total, offset;
        uint32_t chunk;
    } bad[] = {
        {6, 0, 6, 8, 4, 4},                    /* snapshot index 0 */
        {6, 9, 6, RAFT_SNAP_MAX + 1ull, 0, 4}, /* larger than any snapshot we take */
        {6, 9, 6, 8, 9, 0},                    /* offset past the end */
        {6, 9, 6, 8, 5, 4},                    /* chunk runs past the end */
        {6, 9, 7, 8, 4, 4},                    /* snapshot newer than the sender's term */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s = (struct raft_state_resp){.term = bad[i].term,
                                     .snap_index = bad[i].index,
                                     .snap_term = bad[i].snap_term,
                                     .total = bad[i].total,
                                     .offset = bad[i].offset,
                                     .chunk = chunk,
                                     .chunk_len = bad[i].chunk};
        raft_encode_state_resp(&s, rb, &m);
        assert_int_equal(raft_decode_state_resp(&m, &s2), BFT_REJECT_MALFORMED);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raft_wire_append_round_trip),
        cmocka_unit_test(test_raft_wire_append_rejects),
        cmocka_unit_test(test_raft_wire_append_entry_too_long),
        cmocka_unit_test(test_raft_wire_append_resp_round_trip),
        cmocka_unit_test(test_raft_wire_append_resp_rejects),
        cmocka_unit_test(test_raft_wire_vote_round_trip),
        cmocka_unit_test(test_raft_wire_vote_rejects),
        cmocka_unit_test(test_raft_wire_vote_resp_round_trip),
        cmocka_unit_test(test_raft_wire_vote_resp_rejects),
        cmocka_unit_test(test_raft_wire_state_round_trip),
        cmocka_unit_test(test_raft_wire_state_rejects),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
