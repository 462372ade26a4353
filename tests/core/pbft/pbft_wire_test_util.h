/* Helpers shared by test_pbft_wire.c and test_pbft_wire_state.c (test code only). */
#ifndef PBFT_WIRE_TEST_UTIL_H
#define PBFT_WIRE_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/pbft/pbft_wire.h"

#define CLUSTER 0x5eedull
static const struct pbft_limits LIM = {.n = 4, .f = 1, .K = 4, .L = 8};

static inline bft_digest dig(uint8_t v)
{
    bft_digest d;
    memset(d.b, v, sizeof d.b);
    return d;
}

/* An embedded raw: a bodiless signed message of `type` (fake signature). */
static inline void make_raw(uint8_t *out, uint8_t type, uint32_t sender, uint64_t view,
                            uint64_t seq, uint8_t d)
{
    struct bft_msg m = {.type = type, .sender = sender, .cluster_id = CLUSTER};
    m.view = view;
    m.seq = seq;
    m.digest = dig(d);
    memset(m.sig, 0x5a, sizeof m.sig);
    assert_int_equal(bft_msg_encode(&m, out, PBFT_RAW_MAX), PBFT_RAW_MAX);
}

static inline void put_raw(struct wire_wr *w, uint8_t type, uint32_t sender, uint64_t view,
                           uint64_t seq, uint8_t d)
{
    uint8_t raw[PBFT_RAW_MAX];
    make_raw(raw, type, sender, view, seq, d);
    pbft_emb_put(w, raw, PBFT_RAW_MAX);
}

static inline struct bft_msg body_msg(uint8_t type, const uint8_t *body, size_t len)
{
    struct bft_msg m = {.type = type, .view = 5, .seq = 4, .body = body};
    m.body_len = (uint32_t)len;
    return m;
}

/* ---- embedded messages ---- */

#endif
