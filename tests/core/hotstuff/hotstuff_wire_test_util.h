/* Helpers shared by test_hotstuff_wire.c and test_hotstuff_wire_timeout.c (test code only). */
#ifndef HOTSTUFF_WIRE_TEST_UTIL_H
#define HOTSTUFF_WIRE_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/hotstuff/hotstuff_wire.h"

#define N 4
#define NONE BFT_REJECT_NONE
#define BAD BFT_REJECT_MALFORMED

static uint8_t g_body[BFT_BODY_MAX];
static uint8_t g_enc[BFT_MSG_MIN_LEN + BFT_BODY_MAX + 4096];

/* Through the real message codec, as a peer's message arrives. */
static inline void trip(const struct bft_msg *in, struct bft_msg *out)
{
    struct bft_msg m = *in;
    m.sender = 2;
    m.cluster_id = 77;
    memset(m.sig, 0xab, sizeof m.sig);
    size_t len = bft_msg_encode(&m, g_enc, sizeof g_enc);
    assert_true(len > 0);
    assert_int_equal(bft_msg_decode(g_enc, len, out), BFT_E_OK);
}

static inline void fill_digest(bft_digest *d, uint8_t v)
{
    memset(d->b, v, sizeof d->b);
}

static inline void make_qc(struct hs_qc *q, uint64_t view, uint64_t height, uint8_t k)
{
    memset(q, 0, sizeof *q);
    q->view = view;
    q->height = height;
    fill_digest(&q->block, (uint8_t)(0x10 + height));
    q->k = k;
    for (uint8_t i = 0; i < k; i++) {
        q->signer[i] = i;
        memset(q->sig[i], 0x40 + i, BFT_SIG_LEN);
    }
}

static inline void make_tc(struct hs_tc *t, uint64_t view, uint8_t k)
{
    memset(t, 0, sizeof *t);
    t->view = view;
    t->k = k;
    for (uint8_t i = 0; i < k; i++) {
        t->signer[i] = (uint8_t)(k - 1 - i);
        t->hqc_view[i] = view > 1 ? view - 1 - (i % 2) : 0;
        memset(t->sig[i], 0x60 + i, BFT_SIG_LEN);
    }
}

static inline void assert_qc_equal(const struct hs_qc *a, const struct hs_qc *b)
{
    assert_true(a->view == b->view && a->height == b->height && a->k == b->k);
    assert_memory_equal(a->block.b, b->block.b, CRYPTO_DIGEST_LEN);
    assert_memory_equal(a->signer, b->signer, a->k);
    assert_memory_equal(a->sig, b->sig, (size_t)a->k * BFT_SIG_LEN);
}

static inline void assert_tc_equal(const struct hs_tc *a, const struct hs_tc *b)
{
    assert_true(a->view == b->view && a->k == b->k);
    assert_memory_equal(a->signer, b->signer, a->k);
    assert_memory_equal(a->hqc_view, b->hqc_view, a->k * sizeof a->hqc_view[0]);
    assert_memory_equal(a->sig, b->sig, (size_t)a->k * BFT_SIG_LEN);
}

/* ---- blocks ---- */

static const uint8_t g_batch[] = {1, 2, 3, 4, 5, 6, 7};

/* Block (view 5, height 3) on QC(view, 2); with a TC when tc_view != 0. */
static inline void make_block(struct hs_wire_block *w, uint64_t qc_view, uint64_t tc_view,
                              bool batch)
{
    memset(w, 0, sizeof *w);
    w->view = 5;
    w->height = 3;
    make_qc(&w->justify, qc_view, 2, 3);
    w->parent = w->justify.block;
    if (tc_view) {
        w->has_tc = true;
        make_tc(&w->tc, tc_view, 3);
    }
    if (batch) {
        w->batch = g_batch;
        w->batch_len = sizeof g_batch;
        bft_batch_digest(g_batch, sizeof g_batch, &w->batch_digest);
    }
}

static inline void block_roundtrip(uint8_t type, uint64_t tc_view, bool batch)
{
    struct hs_wire_block w, d;
    make_block(&w, 4, tc_view, batch);
    struct bft_msg m, got;
    assert_true(hs_block_encode(&w, type, g_body, sizeof g_body, &m));
    trip(&m, &got);
    assert_int_equal(hs_block_decode(&got, N, &d), NONE);
    assert_true(d.view == w.view && d.height == w.height && d.has_tc == w.has_tc);
    assert_memory_equal(d.parent.b, w.parent.b, CRYPTO_DIGEST_LEN);
    assert_memory_equal(d.batch_digest.b, w.batch_digest.b, CRYPTO_DIGEST_LEN);
    assert_qc_equal(&d.justify, &w.justify);
    if (w.has_tc) assert_tc_equal(&d.tc, &w.tc);
    assert_int_equal(d.batch_len, w.batch_len);
    if (batch)
        assert_memory_equal(d.batch, g_batch, sizeof g_batch);
    else
        assert_null(d.batch);
    bft_digest want;
    hs_block_digest(w.view, w.height, &w.parent, &w.batch_digest, &w.justify, &want);
    assert_memory_equal(d.digest.b, want.b, CRYPTO_DIGEST_LEN);
}

#endif
