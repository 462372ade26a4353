/* Shared by the node tests: host callbacks that do nothing (for a
 * bft_host built around what a test checks), and the body of an envelope
 * of NEW orders. */
#ifndef BFT_TESTS_NODE_TEST_HOST_H
#define BFT_TESTS_NODE_TEST_HOST_H

#include <stddef.h>
#include <stdint.h>

#include "app/app.h"
#include "wire/bytes.h"

static inline void no_send(void *ctx, uint32_t to, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)to, (void)msg, (void)len;
}
static inline void no_persist(void *ctx, const uint8_t *rec, size_t len)
{
    (void)ctx, (void)rec, (void)len;
}
static inline void no_timer(void *ctx, uint32_t timer, uint64_t ms)
{
    (void)ctx, (void)timer, (void)ms;
}
static inline void no_cancel(void *ctx, uint32_t timer)
{
    (void)ctx, (void)timer;
}

/* The body of an envelope of `count` NEW orders with client order ids
 * coid0, coid0 + 1, ... into body[cap]; its length, or 0 if it does not
 * fit. */
static inline size_t orders_envelope_body(uint8_t *body, size_t cap, uint16_t count, uint64_t coid0)
{
    struct wire_wr w;
    wire_wr_init(&w, body, cap);
    wire_put_u16(&w, count);
    wire_put_u8(&w, 0);
    wire_put_u8(&w, 0);
    for (uint16_t i = 0; i < count; i++) {
        uint8_t op[BFT_ORDER_OP_LEN];
        size_t ol = bft_order_encode(op, coid0 + i, "ACME", 1, 10, 100);
        wire_put_u16(&w, (uint16_t)ol);
        wire_put_bytes(&w, op, ol);
    }
    return w.err ? 0 : w.len;
}

#endif
