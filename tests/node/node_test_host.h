/* Host callbacks that do nothing, shared by the node tests that build a
 * bft_host around what they check. */
#ifndef BFT_TESTS_NODE_TEST_HOST_H
#define BFT_TESTS_NODE_TEST_HOST_H

#include <stddef.h>
#include <stdint.h>

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

#endif
