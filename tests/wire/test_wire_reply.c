/* The REPLY body (wire/reply.c, docs/wire.md "REPLY"): the decoder refuses
 * every broken range list (count 0, too many results or ranges, ranges
 * out of order or overlapping, a wrap, trailing or missing bytes), the
 * writer refuses to build one, and the readers walk what the decoder
 * accepts; a STALE or NO_RESULT reply holds one range of empty results. */
#include "tests/wire/wire_test_util.h"

/* Offsets in make_reply_body's 36 bytes. */
enum {
    N_RANGES = 4,
    FIRST1 = 6,
    COUNT1 = 14,
    RES1_LEN = 16,
    FIRST2 = 23,
    COUNT2 = 31,
    BODY_LEN = 36,
};

static bool decodes(const uint8_t *body, size_t body_len)
{
    struct bft_msg m, d;
    fill_header(&m, BFT_MSG_REPLY);
    m.body = body;
    m.body_len = (uint32_t)body_len;
    bool ok = bft_msg_decode(buf, encode(&m, buf, sizeof(buf)), &d) == BFT_E_OK;
    /* The decoder and the layout rule are the same rule. */
    assert_int_equal(ok, bft_reply_body_valid(body, body_len));
    return ok;
}

/* make_reply_body with one field changed. */
static bool decodes_with(size_t off, uint64_t v, size_t width)
{
    uint8_t body[256];
    size_t bl = make_reply_body(body);
    wire_le_store(body + off, v, width);
    return decodes(body, bl);
}

static void test_reply_ranges_decode(void **state)
{
    (void)state;
    uint8_t body[256];
    size_t bl = make_reply_body(body);
    assert_int_equal(bl, BODY_LEN);
    assert_true(decodes(body, bl));
    assert_true(decodes_with(FIRST2, 102, 8)); /* adjacent to the first range */
    assert_true(decodes_with(FIRST2, UINT64_MAX - 1, 8));
}

static void test_reply_range_errors(void **state)
{
    (void)state;
    assert_false(decodes_with(N_RANGES, 0, 2)); /* no range */
    assert_false(decodes_with(N_RANGES, 3, 2)); /* more ranges than present */
    assert_false(decodes_with(N_RANGES, 1, 2)); /* fewer: trailing bytes */
    assert_false(decodes_with(COUNT1, 0, 2));   /* a range of no result */
    assert_false(decodes_with(COUNT1, 3, 2));   /* more results than present */
    assert_false(decodes_with(COUNT2, BFT_ENVELOPE_MAX_OPS + 1, 2));
    assert_false(decodes_with(FIRST1, 0, 8));          /* request number 0 */
    assert_false(decodes_with(FIRST2, 101, 8));        /* overlaps the first range */
    assert_false(decodes_with(FIRST2, 100, 8));        /* the same range again */
    assert_false(decodes_with(FIRST2, 99, 8));         /* descending */
    assert_false(decodes_with(FIRST2, UINT64_MAX, 8)); /* wraps */
    assert_false(decodes_with(RES1_LEN, 200, 2));      /* result longer than the body */
    assert_false(decodes_with(RES1_LEN, BFT_RESULT_MAX + 1, 2));
    uint8_t body[256];
    size_t bl = make_reply_body(body);
    body[bl] = 0;
    assert_false(decodes(body, bl + 1)); /* trailing */
    for (size_t cut = 0; cut < bl; cut++)
        assert_false(decodes(body, cut)); /* every truncation */
    /* A result over BFT_RESULT_MAX with its bytes present. */
    struct wire_wr w;
    static uint8_t big[1024];
    wire_wr_init(&w, big, sizeof big);
    wire_put_u32(&w, 1), wire_put_u16(&w, 1), wire_put_u64(&w, 1), wire_put_u16(&w, 1);
    wire_put_u16(&w, BFT_RESULT_MAX + 1);
    memset(wire_wr_reserve(&w, BFT_RESULT_MAX + 1), 'r', BFT_RESULT_MAX + 1);
    assert_false(decodes(big, w.len));
}

/* Up to BFT_REPLY_MAX_RANGES ranges (one per envelope of a batch), not one
 * more, even with every byte present. */
static void test_reply_range_count_bound(void **state)
{
    (void)state;
    static uint8_t body[BFT_REPLY_HDR_LEN + (BFT_REPLY_MAX_RANGES + 1) * BFT_REPLY_RANGE_LEN(1, 0)];
    for (uint32_t n = BFT_REPLY_MAX_RANGES; n <= BFT_REPLY_MAX_RANGES + 1; n++) {
        struct wire_wr w;
        wire_wr_init(&w, body, sizeof body);
        wire_put_u32(&w, 1);
        wire_put_u16(&w, (uint16_t)n);
        for (uint32_t i = 0; i < n; i++) {
            wire_put_u64(&w, 1 + 2 * (uint64_t)i); /* gaps between ranges are fine */
            wire_put_u16(&w, 1);
            wire_put_u16(&w, 0);
        }
        assert_false(w.err);
        assert_int_equal(decodes(body, w.len), n == BFT_REPLY_MAX_RANGES);
    }
}

/* The writer builds what the decoder accepts, and refuses to build what
 * it would refuse. */
static void test_reply_writer(void **state)
{
    (void)state;
    uint8_t body[256], want[256];
    struct bft_reply_wr w;
    bft_reply_wr_init(&w, body, sizeof body, 9);
    bft_reply_wr_range(&w, 100);
    bft_reply_wr_result(&w, (const uint8_t *)"abc", 3);
    bft_reply_wr_result(&w, NULL, 0);
    const uint8_t z[] = {1, 0, 'z'}; /* "z", already encoded */
    bft_reply_wr_range_encoded(&w, 105, 1, z, sizeof z);
    size_t bl = bft_reply_wr_finish(&w);
    assert_int_equal(bl, make_reply_body(want));
    assert_memory_equal(body, want, bl);

    bft_reply_wr_init(&w, body, sizeof body, 9); /* no range */
    assert_int_equal(bft_reply_wr_finish(&w), 0);
    bft_reply_wr_init(&w, body, sizeof body, 9); /* a range of no result */
    bft_reply_wr_range(&w, 1);
    bft_reply_wr_range(&w, 2);
    bft_reply_wr_result(&w, z, 1);
    assert_int_equal(bft_reply_wr_finish(&w), 0);
    bft_reply_wr_init(&w, body, sizeof body, 9); /* a result before any range */
    bft_reply_wr_result(&w, z, 1);
    bft_reply_wr_range(&w, 2);
    bft_reply_wr_result(&w, z, 1);
    assert_int_equal(bft_reply_wr_finish(&w), 0);
    bft_reply_wr_init(&w, body, 20, 9); /* no room */
    bft_reply_wr_range(&w, 1);
    bft_reply_wr_result(&w, (const uint8_t *)"0123456789", 10);
    assert_int_equal(bft_reply_wr_finish(&w), 0);
    static uint8_t large[BFT_REPLY_HDR_LEN + BFT_REPLY_RANGE_MAX + 16];
    bft_reply_wr_init(&w, large, sizeof large, 9); /* one result too many */
    bft_reply_wr_range(&w, 1);
    for (int i = 0; i <= BFT_ENVELOPE_MAX_OPS; i++)
        bft_reply_wr_result(&w, z, 1);
    assert_int_equal(bft_reply_wr_finish(&w), 0);
    bft_reply_wr_init(&w, large, sizeof large, 9); /* a result over the limit */
    bft_reply_wr_range(&w, 1);
    bft_reply_wr_result(&w, large, BFT_RESULT_MAX + 1);
    assert_int_equal(bft_reply_wr_finish(&w), 0);
}

static void test_reply_readers(void **state)
{
    (void)state;
    uint8_t body[256];
    size_t bl = make_reply_body(body);
    struct bft_reply_iter it;
    struct bft_reply_range rg;
    assert_true(bft_reply_iter_init(&it, body, bl));
    assert_int_equal(it.client, 9);
    assert_int_equal(it.n_ranges, 2);
    static const struct {
        uint64_t no;
        const char *res;
    } want[] = {{100, "abc"}, {101, ""}, {105, "z"}};
    size_t k = 0;
    while (bft_reply_iter_next(&it, &rg)) {
        struct bft_reply_res_iter ri;
        bft_reply_res_init(&ri, &rg);
        uint64_t no;
        const uint8_t *res;
        size_t len;
        while (bft_reply_res_next(&ri, &no, &res, &len)) {
            assert_true(k < 3);
            assert_int_equal(no, want[k].no);
            assert_int_equal(len, strlen(want[k].res));
            assert_memory_equal(res, want[k].res, len);
            k++;
        }
    }
    assert_int_equal(k, 3);
    assert_false(it.bad);

    for (uint64_t no = 98; no < 108; no++)
        assert_int_equal(bft_reply_covers(body, bl, no), no == 100 || no == 101 || no == 105);
    /* Junk never reads out of bounds; a bad range ends the walk. */
    assert_false(bft_reply_iter_init(&it, body, 5));
    assert_false(bft_reply_covers(body, 5, 100));
    assert_true(bft_reply_iter_init(&it, body, 20)); /* the first range cut short */
    assert_false(bft_reply_iter_next(&it, &rg));
    assert_true(it.bad);
    wire_le_store(body + FIRST2, 101, 8); /* overlapping */
    assert_true(bft_reply_iter_init(&it, body, bl));
    assert_true(bft_reply_iter_next(&it, &rg));
    assert_false(bft_reply_iter_next(&it, &rg));
    assert_true(it.bad);
}

/* A header-flagged REPLY's body. */
static bool decodes_flagged(uint16_t flags, const uint8_t *body, size_t body_len)
{
    struct bft_msg m, d;
    fill_header(&m, BFT_MSG_REPLY);
    m.flags = flags;
    m.body = body;
    m.body_len = (uint32_t)body_len;
    return bft_msg_decode(buf, encode(&m, buf, sizeof(buf)), &d) == BFT_E_OK;
}

/* STALE and NO_RESULT replies: one range of empty results, one flag. */
static void test_reply_flags(void **state)
{
    (void)state;
    uint8_t body[256];
    struct bft_reply_wr w;
    bft_reply_wr_init(&w, body, sizeof body, 7);
    bft_reply_wr_range(&w, 10);
    for (int i = 0; i < 3; i++)
        bft_reply_wr_result(&w, NULL, 0);
    size_t empty = bft_reply_wr_finish(&w);
    assert_true(decodes_flagged(BFT_REPLY_NO_RESULT, body, empty));
    assert_true(decodes_flagged(BFT_REPLY_STALE, body, empty));
    assert_false(decodes_flagged(BFT_REPLY_STALE | BFT_REPLY_NO_RESULT, body, empty));
    assert_false(decodes_flagged(0x0004, body, empty)); /* undefined */
    size_t bl = make_reply_body(body);                  /* results, two ranges */
    assert_true(decodes_flagged(0, body, bl));
    assert_false(decodes_flagged(BFT_REPLY_NO_RESULT, body, bl));
    assert_false(decodes_flagged(BFT_REPLY_STALE, body, bl));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reply_ranges_decode),     cmocka_unit_test(test_reply_range_errors),
        cmocka_unit_test(test_reply_range_count_bound), cmocka_unit_test(test_reply_writer),
        cmocka_unit_test(test_reply_readers),           cmocka_unit_test(test_reply_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
