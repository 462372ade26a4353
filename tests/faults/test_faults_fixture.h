/* Shared by the fault actor tests (test_faults_actor.c,
 * test_faults_equivocate.c): a capture of what the actor emits, replica
 * keys, and crafted, genuinely signed messages. */
#ifndef BFT_TEST_FAULTS_FIXTURE_H
#define BFT_TEST_FAULTS_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "faults/faults.h"
#include "net/net.h"

#define CLUSTER 0x5eed
#define CAP_MAX 4096

struct emitted {
    uint32_t dest;
    uint64_t delay_ms;
    size_t len;
    uint8_t *msg;
};
struct capture {
    uint32_t count;
    struct emitted e[CAP_MAX];
};

static struct capture cap;
static struct crypto_keypair keys[8];

static inline void on_emit(void *ctx, uint32_t dest, const uint8_t *msg, size_t len,
                           uint64_t delay_ms)
{
    struct capture *c = ctx;
    assert_true(c->count < CAP_MAX);
    struct emitted *e = &c->e[c->count++];
    e->dest = dest;
    e->delay_ms = delay_ms;
    e->len = len;
    e->msg = malloc(len);
    assert_non_null(e->msg);
    memcpy(e->msg, msg, len);
}

static inline void cap_reset(void)
{
    for (uint32_t i = 0; i < cap.count; i++)
        free(cap.e[i].msg);
    cap.count = 0;
}

static inline int setup(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), 0);
    for (int i = 0; i < 8; i++) {
        uint8_t seed[CRYPTO_SEED_LEN] = {(uint8_t)(i + 1)};
        crypto_keypair_from_seed(&keys[i], seed);
    }
    return 0;
}

static inline int teardown_each(void **state)
{
    (void)state;
    cap_reset();
    return 0;
}

/* ---- crafting messages ---- */

static inline size_t sign_encode(struct bft_msg *m, uint32_t signer, uint8_t *buf, size_t cap_len)
{
    m->sender = signer;
    m->cluster_id = CLUSTER;
    size_t len = bft_msg_encode(m, buf, cap_len);
    assert_true(len > 0);
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(buf, &region, &rlen);
    uint8_t sig[BFT_SIG_LEN];
    crypto_sign_msg(&keys[signer], m->type, CLUSTER, region, rlen, sig);
    bft_msg_set_sig(buf, sig);
    return len;
}

static inline bool verifies(const uint8_t *msg, size_t len, uint32_t as)
{
    struct bft_msg m;
    if (bft_msg_decode(msg, len, &m) != BFT_E_OK) return false;
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(msg, &region, &rlen);
    return crypto_verify_msg(keys[as].pk, m.type, CLUSTER, region, rlen, m.sig);
}

/* One client REQUEST with op bytes `tag` (client-signed with key 7). */
static inline size_t make_request(uint8_t *buf, size_t cap_len, uint64_t req_no, uint8_t tag)
{
    uint8_t body[4 + 2 + 8];
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    wire_put_u16(&w, 1);
    wire_put_u8(&w, 0);
    wire_put_u8(&w, 0);
    wire_put_u16(&w, 8);
    for (int i = 0; i < 8; i++)
        wire_put_u8(&w, tag);
    struct bft_msg m = {.type = BFT_MSG_REQUEST, .seq = req_no, .body = body, .body_len = 14};
    return sign_encode(&m, 7, buf, cap_len);
}

static uint8_t batch[8192];
static inline size_t make_batch(int count)
{
    struct wire_wr w;
    wire_wr_init(&w, batch, sizeof batch);
    wire_put_u16(&w, (uint16_t)count);
    for (int i = 0; i < count; i++) {
        uint8_t req[256];
        size_t l = make_request(req, sizeof req, 1 + (uint64_t)i, (uint8_t)(0x40 + i));
        wire_put_u32(&w, (uint32_t)l);
        wire_put_bytes(&w, req, l);
    }
    assert_false(w.err);
    return w.len;
}

static inline size_t make_pre_prepare(uint8_t *buf, size_t cap_len, int count, uint64_t view,
                                      uint64_t seq)
{
    size_t blen = make_batch(count);
    struct bft_msg m = {.type = BFT_MSG_PRE_PREPARE, .view = view, .seq = seq};
    m.payload = batch;
    m.payload_len = (uint32_t)blen;
    bft_batch_digest(batch, blen, &m.digest);
    return sign_encode(&m, 0, buf, cap_len);
}

static inline size_t make_vote(uint8_t *buf, size_t cap_len, uint8_t type, uint32_t signer,
                               uint64_t view, uint64_t seq, const bft_digest *d)
{
    struct bft_msg m = {.type = type, .view = view, .seq = seq, .digest = *d};
    return sign_encode(&m, signer, buf, cap_len);
}

static inline struct fault_actor *make_actor(uint32_t n, uint32_t self, const char *const *specs,
                                             int protocol, const struct fault_params *params)
{
    struct fault_plan p;
    char err[256];
    fault_plan_init(&p, n, 42);
    for (int i = 0; specs[i]; i++)
        if (fault_plan_add_fault(&p, specs[i], err, sizeof err) != BFT_E_OK) fail_msg("%s", err);
    if (params) p.params = *params;
    struct fault_actor_config c = {.plan = &p,
                                   .protocol = protocol,
                                   .n = n,
                                   .f = protocol == BFT_PROTO_RAFT ? (n - 1) / 2 : (n - 1) / 3,
                                   .self = self,
                                   .cluster_id = CLUSTER,
                                   .request_timeout_ms = 1000,
                                   .key = keys[self]};
    struct fault_actor *a;
    if (fault_actor_create(&a, &c, err, sizeof err) != BFT_E_OK) fail_msg("%s", err);
    return a;
}

static inline void broadcast(struct fault_actor *a, uint64_t now, uint32_t n, uint32_t self,
                             const uint8_t *msg, size_t len)
{
    for (uint32_t d = 0; d < n; d++)
        if (d != self) fault_actor_outgoing(a, now, d, msg, len, on_emit, &cap);
}

static inline struct bft_msg decode_ok(const struct emitted *e)
{
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(e->msg, e->len, &m), BFT_E_OK);
    return m;
}

static uint8_t pp[16384];

#endif
