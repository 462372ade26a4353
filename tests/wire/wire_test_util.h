/* Helpers shared by test_wire*.c (test code only). */
#ifndef WIRE_TEST_UTIL_H
#define WIRE_TEST_UTIL_H

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

static inline void fill_header(struct bft_msg *m, uint8_t type)
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

static inline size_t encode(const struct bft_msg *m, uint8_t *out, size_t cap)
{
    size_t len = bft_msg_encode(m, out, cap);
    assert_int_equal(len, bft_msg_encoded_len(m));
    return len;
}

/* REQUEST body from ops (each op_len given explicitly so tests can lie). */
static inline size_t req_body(uint8_t *body, uint16_t count, uint8_t flags, const char *const *ops)
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

static inline size_t make_request(uint8_t *out, size_t cap, uint64_t seq, uint8_t *body)
{
    struct bft_msg m;
    fill_header(&m, BFT_MSG_REQUEST);
    m.seq = seq;
    m.body = body;
    m.body_len = (uint32_t)req_body(body, 3, BFT_REQ_READONLY, three_ops);
    return encode(&m, out, cap);
}

/* A REPLY body of two ranges (docs/wire.md): client 9; [100, 102) with
 * results "abc" and ""; [105, 106) with "z". 36 bytes; the offsets the
 * error tests poke at are in test_wire_reply.c. */
static inline size_t make_reply_body(uint8_t *body)
{
    struct wire_wr w;
    wire_wr_init(&w, body, 256);
    wire_put_u32(&w, 9);
    wire_put_u16(&w, 2);
    wire_put_u64(&w, 100);
    wire_put_u16(&w, 2);
    wire_put_u16(&w, 3);
    wire_put_bytes(&w, "abc", 3);
    wire_put_u16(&w, 0);
    wire_put_u64(&w, 105);
    wire_put_u16(&w, 1);
    wire_put_u16(&w, 1);
    wire_put_bytes(&w, "z", 1);
    return w.len;
}

/* A batch of `n` copies of one encoded request. */
static inline size_t make_batch(uint8_t *out, const uint8_t *req, size_t req_len, uint16_t n)
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

static inline void assert_same_header(const struct bft_msg *a, const struct bft_msg *b)
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

static inline void expect_malformed(const uint8_t *p, size_t len)
{
    struct bft_msg m;
    memset(&m, 0x5a, sizeof(m));
    struct bft_msg before = m;
    assert_int_equal(bft_msg_decode(p, len, &m), BFT_E_MALFORMED);
    assert_memory_equal(&m, &before, sizeof(m)); /* untouched on failure */
}

/* ---- Round trips ---- */

#endif
