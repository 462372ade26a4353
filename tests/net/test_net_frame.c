/* net/: the bounded reader/writer and the frame codec (net/frame.c): round
 * trips, the builder's limits, and every truncation or bad field named by
 * its error. The transport over nng is in test_net.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/net.h"

/* ---- reader / writer ---- */

static void test_rw_roundtrip_and_bounds(void **state)
{
    (void)state;
    uint8_t buf[15];
    struct wire_wr w;
    wire_wr_init(&w, buf, sizeof buf);
    wire_put_u8(&w, 0xab);
    wire_put_u16(&w, 0x1234);
    wire_put_u32(&w, 0xdeadbeef);
    wire_put_u64(&w, 0x0102030405060708ull);
    assert_false(w.err);
    assert_int_equal(w.len, 15);
    assert_int_equal(buf[1], 0x34); /* little-endian on the wire */
    wire_put_u8(&w, 1);             /* past cap */
    assert_true(w.err);
    assert_int_equal(w.len, 15);

    struct wire_rd r;
    wire_rd_init(&r, buf, sizeof buf);
    assert_int_equal(wire_get_u8(&r), 0xab);
    assert_int_equal(wire_get_u16(&r), 0x1234);
    assert_int_equal(wire_get_u32(&r), 0xdeadbeef);
    assert_int_equal(wire_get_u64(&r), 0x0102030405060708ull);
    assert_false(r.err);
    assert_int_equal(wire_rd_left(&r), 0);
    assert_int_equal(wire_get_u8(&r), 0); /* past the end */
    assert_true(r.err);

    /* Sticky: a later read that would fit still fails and returns 0. */
    wire_rd_init(&r, buf, sizeof buf);
    assert_int_equal(wire_get_u64(&r), 0x08deadbeef1234abull);
    assert_int_equal(wire_get_u64(&r), 0); /* only 7 bytes left */
    assert_true(r.err);
    assert_int_equal(wire_get_u8(&r), 0);
    assert_true(r.err);
    assert_int_equal(wire_rd_left(&r), 0);
    uint8_t dst[2] = {9, 9};
    wire_get_bytes(&r, dst, 2);
    assert_int_equal(dst[0], 0);
    assert_int_equal(dst[1], 0);
}

/* ---- frames ---- */

static uint8_t *frame_buf(void)
{
    uint8_t *b = malloc(NET_FRAME_MAX);
    assert_non_null(b);
    return b;
}

static void test_frame_roundtrip_one(void **state)
{
    (void)state;
    uint8_t *b = frame_buf();
    struct net_frame f;
    net_frame_init(&f, b, NET_FRAME_MAX);
    const uint8_t msg[] = "hello";
    assert_int_equal(net_frame_add(&f, msg, 5), 0);
    size_t len = net_frame_finish(&f);
    assert_int_equal(len, NET_FRAME_HDR_LEN + 4 + 5);
    assert_int_equal(wire_le_load(b, 4), NET_FRAME_MAGIC);

    struct net_frame_iter it;
    assert_int_equal(net_frame_check(b, len, &it), NET_FRAME_OK);
    const uint8_t *m;
    size_t mlen;
    assert_true(net_frame_next(&it, &m, &mlen));
    assert_int_equal(mlen, 5);
    assert_memory_equal(m, msg, 5);
    assert_false(net_frame_next(&it, &m, &mlen));
    free(b);
}

static void test_frame_roundtrip_many(void **state)
{
    (void)state;
    uint8_t *b = frame_buf();
    struct net_frame f;
    net_frame_init(&f, b, NET_FRAME_MAX);
    uint8_t msg[300];
    for (int i = 0; i < 200; i++) {
        memset(msg, i, sizeof msg);
        assert_int_equal(net_frame_add(&f, msg, (size_t)i + 1), 0);
    }
    size_t len = net_frame_finish(&f);
    struct net_frame_iter it;
    assert_int_equal(net_frame_check(b, len, &it), NET_FRAME_OK);
    const uint8_t *m;
    size_t mlen;
    for (int i = 0; i < 200; i++) {
        assert_true(net_frame_next(&it, &m, &mlen));
        assert_int_equal(mlen, (size_t)i + 1);
        assert_int_equal(m[0], (uint8_t)i);
        assert_int_equal(m[mlen - 1], (uint8_t)i);
    }
    assert_false(net_frame_next(&it, &m, &mlen));
    free(b);
}

static void test_frame_builder_limits(void **state)
{
    (void)state;
    uint8_t *b = frame_buf();
    struct net_frame f;
    uint8_t one = 7;
    /* Empty and oversized messages are refused; the frame is unchanged. */
    net_frame_init(&f, b, NET_FRAME_MAX);
    assert_int_equal(net_frame_add(&f, &one, 0), -1);
    assert_int_equal(net_frame_add(&f, b, NET_MSG_MAX + 1), -1);
    assert_int_equal(f.len, NET_FRAME_HDR_LEN);
    assert_int_equal(f.count, 0);
    /* Count cap. */
    for (int i = 0; i < NET_FRAME_MAX_MSGS; i++)
        assert_int_equal(net_frame_add(&f, &one, 1), 0);
    assert_int_equal(net_frame_add(&f, &one, 1), -1);
    assert_int_equal(f.count, NET_FRAME_MAX_MSGS);
    struct net_frame_iter it;
    assert_int_equal(net_frame_check(b, net_frame_finish(&f), &it), NET_FRAME_OK);
    /* Byte cap: the buffer's cap, then NET_FRAME_MAX. */
    net_frame_init(&f, b, 30);
    assert_int_equal(net_frame_add(&f, b, 14), 0); /* 12 + 4 + 14 = 30 */
    assert_int_equal(net_frame_add(&f, &one, 1), -1);
    assert_int_equal(f.len, 30);
    net_frame_init(&f, b, NET_FRAME_MAX);
    static uint8_t big[NET_MSG_MAX];
    for (int i = 0; i < 3; i++)
        assert_int_equal(net_frame_add(&f, big, NET_MSG_MAX), 0);
    assert_int_equal(net_frame_add(&f, big, NET_MSG_MAX), -1);
    assert_int_equal(net_frame_add(&f, big, NET_MSG_MAX - 28), 0); /* exactly full */
    assert_int_equal(f.len, NET_FRAME_MAX);
    assert_int_equal(net_frame_check(b, net_frame_finish(&f), &it), NET_FRAME_OK);
    free(b);
}

/* A valid 3-message frame to corrupt. */
static size_t make_frame(uint8_t *b)
{
    struct net_frame f;
    net_frame_init(&f, b, NET_FRAME_MAX);
    assert_int_equal(net_frame_add(&f, (const uint8_t *)"abc", 3), 0);
    assert_int_equal(net_frame_add(&f, (const uint8_t *)"d", 1), 0);
    assert_int_equal(net_frame_add(&f, (const uint8_t *)"efgh", 4), 0);
    return net_frame_finish(&f);
}

static void expect_err(const uint8_t *b, size_t len, enum net_frame_err want)
{
    struct net_frame_iter it;
    enum net_frame_err e = net_frame_check(b, len, &it);
    assert_int_equal(e, want);
    assert_non_null(net_frame_strerror(e));
    const uint8_t *m;
    size_t mlen;
    assert_false(net_frame_next(&it, &m, &mlen)); /* nothing from a bad frame */
}

static void test_frame_truncations_rejected(void **state)
{
    (void)state;
    uint8_t *b = frame_buf();
    size_t len = make_frame(b);
    struct net_frame_iter it;
    assert_int_equal(net_frame_check(b, len, &it), NET_FRAME_OK);
    for (size_t cut = 0; cut < len; cut++) {
        struct net_frame_iter it2;
        enum net_frame_err e = net_frame_check(b, cut, &it2);
        assert_int_equal(e, cut < NET_FRAME_HDR_LEN ? NET_FRAME_SHORT : NET_FRAME_BAD_LENGTH);
        /* Also with body_len patched to match: the message walk must catch it. */
        if (cut >= NET_FRAME_HDR_LEN) {
            uint8_t *c = malloc(len);
            assert_non_null(c);
            memcpy(c, b, len);
            wire_le_store(c + 8, cut - NET_FRAME_HDR_LEN, 4);
            expect_err(c, cut, NET_FRAME_BAD_LENGTH);
            free(c);
        }
    }
    free(b);
}

static void test_frame_bad_fields_rejected(void **state)
{
    (void)state;
    uint8_t *b = frame_buf();
    size_t len = make_frame(b);
    uint8_t *c = frame_buf();

#define MUTATE(stmt, want)                                                                         \
    do {                                                                                           \
        memcpy(c, b, len);                                                                         \
        stmt;                                                                                      \
        expect_err(c, clen, want);                                                                 \
    } while (0)
    size_t clen = len;
    MUTATE(c[0] ^= 1, NET_FRAME_BAD_MAGIC);
    MUTATE(c[4] = 2, NET_FRAME_BAD_VERSION);
    MUTATE(c[4] = 0, NET_FRAME_BAD_VERSION);
    MUTATE(c[5] = 1, NET_FRAME_BAD_FLAGS);
    MUTATE(wire_le_store(c + 6, 0, 2), NET_FRAME_BAD_COUNT);
    MUTATE(wire_le_store(c + 6, NET_FRAME_MAX_MSGS + 1, 2), NET_FRAME_BAD_COUNT);
    MUTATE(wire_le_store(c + 6, 2, 2), NET_FRAME_BAD_LENGTH); /* leaves a message over */
    MUTATE(wire_le_store(c + 6, 4, 2), NET_FRAME_BAD_LENGTH); /* runs past the end */
    MUTATE(wire_le_store(c + 8, len - NET_FRAME_HDR_LEN + 1, 4), NET_FRAME_BAD_LENGTH);
    MUTATE(wire_le_store(c + 8, len - NET_FRAME_HDR_LEN - 1, 4), NET_FRAME_BAD_LENGTH);
    MUTATE(wire_le_store(c + 12, 0, 4), NET_FRAME_BAD_LENGTH);               /* empty message */
    MUTATE(wire_le_store(c + 12, NET_MSG_MAX + 1, 4), NET_FRAME_BAD_LENGTH); /* oversized */
    MUTATE(wire_le_store(c + 12, 0xffffffffu, 4), NET_FRAME_BAD_LENGTH);
    MUTATE(wire_le_store(c + 12, 2, 4), NET_FRAME_BAD_LENGTH); /* misaligns the walk */

    /* Trailing bytes after `count` messages, with body_len covering them. */
    clen = len + 3;
    MUTATE(wire_le_store(c + 8, clen - NET_FRAME_HDR_LEN, 4), NET_FRAME_BAD_LENGTH);

    /* Larger than NET_FRAME_MAX, otherwise consistent. */
    clen = NET_FRAME_MAX + 1;
    memcpy(c, b, len);
    wire_le_store(c + 8, clen - NET_FRAME_HDR_LEN, 4);
    expect_err(c, clen, NET_FRAME_TOO_BIG);
#undef MUTATE

    assert_string_equal(net_frame_strerror(NET_FRAME_OK), "ok");
    assert_string_not_equal(net_frame_strerror(NET_FRAME_BAD_MAGIC),
                            net_frame_strerror(NET_FRAME_BAD_LENGTH));
    free(c);
    free(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rw_roundtrip_and_bounds),
        cmocka_unit_test(test_frame_roundtrip_one),
        cmocka_unit_test(test_frame_roundtrip_many),
        cmocka_unit_test(test_frame_builder_limits),
        cmocka_unit_test(test_frame_truncations_rejected),
        cmocka_unit_test(test_frame_bad_fields_rejected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
