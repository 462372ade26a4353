/* Helpers shared by test_client.c and test_client_limits.c (test code only). */
#ifndef CLIENT_TEST_UTIL_H
#define CLIENT_TEST_UTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "wire/wire.h"

#define N 4
#define F 1
#define CLUSTER 0xC1u
#define CLIENT_ID 7
#define MAX_SENT 64
#define MAX_DONE 64
#define MSG_CAP (BFT_HDR_LEN + 4096 + BFT_SIG_LEN)

struct sent {
    uint32_t to;
    size_t len;
    uint8_t msg[MSG_CAP];
};

struct done {
    uint64_t req_no;
    size_t len;
    uint8_t res[BFT_RESULT_MAX];
};

struct fake {
    int n_sent, n_done;
    struct sent sent[MAX_SENT];
    struct done done[MAX_DONE];
    struct crypto_keypair replica[N];
    struct crypto_keypair client;
};

static inline void fake_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len)
{
    struct fake *fk = ctx;
    assert_true(fk->n_sent < MAX_SENT);
    assert_true(len <= MSG_CAP);
    struct sent *s = &fk->sent[fk->n_sent++];
    s->to = replica;
    s->len = len;
    memcpy(s->msg, msg, len);
}

static inline void fake_done(void *ctx, uint64_t req_no, const uint8_t *res, size_t len)
{
    struct fake *fk = ctx;
    assert_true(fk->n_done < MAX_DONE);
    assert_true(len <= BFT_RESULT_MAX);
    struct done *d = &fk->done[fk->n_done++];
    d->req_no = req_no;
    d->len = len;
    memcpy(d->res, res, len);
}

static inline void seed_key(struct crypto_keypair *kp, uint8_t tag)
{
    uint8_t seed[CRYPTO_SEED_LEN];
    memset(seed, tag, sizeof seed);
    crypto_keypair_from_seed(kp, seed);
}

static inline int setup(void **state)
{
    if (crypto_init() != 0) return -1;
    struct fake *fk = calloc(1, sizeof *fk);
    for (uint8_t i = 0; i < N; i++)
        seed_key(&fk->replica[i], (uint8_t)(i + 1));
    seed_key(&fk->client, 100);
    *state = fk;
    return 0;
}

static inline int teardown(void **state)
{
    free(*state);
    return 0;
}

/* make_client with these host callbacks (ctx fk, send fake_send). */
static inline struct bft_client *make_client_host(struct fake *fk, int protocol, uint32_t envelope,
                                                  uint32_t max_outstanding, bool null_crypto,
                                                  const struct bft_client_host *cb);

static inline struct bft_client *make_client(struct fake *fk, int protocol, uint32_t envelope,
                                             uint32_t max_outstanding, bool null_crypto)
{
    struct bft_client_host host = {.ctx = fk, .send = fake_send, .done = fake_done};
    return make_client_host(fk, protocol, envelope, max_outstanding, null_crypto, &host);
}

static inline struct bft_client *make_client_host(struct fake *fk, int protocol, uint32_t envelope,
                                                  uint32_t max_outstanding, bool null_crypto,
                                                  const struct bft_client_host *cb)
{
    struct bft_client_config cfg = {
        .protocol = protocol,
        .n = protocol == BFT_PROTO_RAFT ? 3 : N,
        .f = F,
        .id = CLIENT_ID,
        .cluster_id = CLUSTER,
        .key = fk->client,
        .retransmit_ms = 100,
        .envelope = envelope,
        .max_outstanding = max_outstanding,
        .null_crypto = null_crypto,
    };
    for (int i = 0; i < N; i++)
        memcpy(cfg.replica_pk[i], fk->replica[i].pk, CRYPTO_PK_LEN);
    struct bft_client_host host = *cb;
    host.ctx = fk;
    host.send = fake_send;
    struct bft_client *c = NULL;
    assert_int_equal(bft_client_create(&c, &cfg, &host), BFT_E_OK);
    return c;
}

/* A REPLY from replica `from` with header flags and this body, signed
 * with its key, delivered at now_ms. */
static inline void reply_flagged(struct fake *fk, struct bft_client *c, uint32_t from,
                                 uint16_t flags, const uint8_t *body, size_t body_len,
                                 uint64_t now_ms)
{
    struct bft_msg m = {.type = BFT_MSG_REPLY,
                        .flags = flags,
                        .sender = from,
                        .cluster_id = CLUSTER,
                        .seq = 1,
                        .body = body,
                        .body_len = (uint32_t)body_len};
    uint8_t msg[MSG_CAP];
    size_t len = bft_msg_encode(&m, msg, sizeof msg);
    assert_true(len > 0);
    const uint8_t *region;
    size_t rlen;
    uint8_t sig[BFT_SIG_LEN];
    bft_msg_signed_region(msg, &region, &rlen);
    crypto_sign_msg(&fk->replica[from], BFT_MSG_REPLY, CLUSTER, region, rlen, sig);
    bft_msg_set_sig(msg, sig);
    bft_client_on_reply(c, msg, len, now_ms);
}

/* Deliver a REPLY from `from` with this body (any bytes: a liar's too),
 * signed by `signer`'s key (NULL: all-zero signature). */
static inline void reply_body(struct bft_client *c, const struct crypto_keypair *signer,
                              uint32_t from, uint64_t view, const uint8_t *body, size_t body_len)
{
    struct bft_msg m = {
        .type = BFT_MSG_REPLY,
        .sender = from,
        .cluster_id = CLUSTER,
        .view = view,
        .seq = 1,
        .body = body,
        .body_len = (uint32_t)body_len,
    };
    uint8_t msg[MSG_CAP];
    size_t len = bft_msg_encode(&m, msg, sizeof msg);
    assert_true(len > 0);
    if (signer) {
        const uint8_t *region;
        size_t rlen;
        uint8_t sig[BFT_SIG_LEN];
        bft_msg_signed_region(msg, &region, &rlen);
        crypto_sign_msg(signer, BFT_MSG_REPLY, CLUSTER, region, rlen, sig);
        bft_msg_set_sig(msg, sig);
    }
    bft_client_on_reply(c, msg, len, 0);
}

/* One range of a REPLY: results for [first, first + count). */
struct test_range {
    uint64_t first;
    uint16_t count;
    const char *const *results;
};

/* Deliver one REPLY from `from` with these ranges (docs/wire.md). */
static inline void reply_ranges(struct bft_client *c, const struct crypto_keypair *signer,
                                uint32_t from, uint32_t client, uint64_t view, uint16_t n_ranges,
                                const struct test_range *ranges)
{
    uint8_t body[MSG_CAP - BFT_HDR_LEN - BFT_SIG_LEN];
    struct bft_reply_wr w;
    bft_reply_wr_init(&w, body, sizeof body, client);
    for (uint16_t i = 0; i < n_ranges; i++) {
        bft_reply_wr_range(&w, ranges[i].first);
        for (uint16_t k = 0; k < ranges[i].count; k++)
            bft_reply_wr_result(&w, (const uint8_t *)ranges[i].results[k],
                                strlen(ranges[i].results[k]));
    }
    size_t body_len = bft_reply_wr_finish(&w);
    assert_true(body_len > 0);
    reply_body(c, signer, from, view, body, body_len);
}

/* Deliver a REPLY from `from` covering [first, first+count) with the given
 * results, signed by `signer`'s key (NULL: all-zero signature). */
static inline void reply_n(struct bft_client *c, const struct crypto_keypair *signer, uint32_t from,
                           uint32_t client, uint64_t view, uint64_t first, uint16_t count,
                           const char *const *results)
{
    struct test_range r = {first, count, results};
    reply_ranges(c, signer, from, client, view, 1, &r);
}

static inline void reply1(struct fake *fk, struct bft_client *c, uint32_t from, uint64_t view,
                          uint64_t req_no, const char *result)
{
    reply_n(c, &fk->replica[from], from, CLIENT_ID, view, req_no, 1, &result);
}

static inline uint64_t submit(struct bft_client *c, const char *op, uint64_t now_ms)
{
    return bft_client_submit(c, (const uint8_t *)op, strlen(op), now_ms);
}

/* Decode a sent REQUEST and check its client signature. */
static inline void check_request(struct fake *fk, const struct sent *s, uint64_t first,
                                 uint16_t count)
{
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(s->msg, s->len, &m), BFT_E_OK);
    assert_int_equal(m.type, BFT_MSG_REQUEST);
    assert_int_equal(m.sender, CLIENT_ID);
    assert_int_equal(m.cluster_id, CLUSTER);
    assert_int_equal(m.seq, first);
    assert_true(m.body_len >= 4);
    assert_int_equal(m.body[0] | m.body[1] << 8, count);
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(s->msg, &region, &rlen);
    assert_true(crypto_verify_msg(fk->client.pk, BFT_MSG_REQUEST, CLUSTER, region, rlen, m.sig));
}

#endif
