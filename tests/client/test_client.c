/* Client library: f+1 matching replies from distinct replicas (PBFT §4.1),
 * signature checks, retransmission with identical bytes, envelopes, the
 * outstanding bound, primary learning, and the Raft and HotStuff send
 * policies. A fake host records every send and every completion; replies
 * are built and signed here with real Ed25519 replica keys. */
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

static void fake_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len)
{
    struct fake *fk = ctx;
    assert_true(fk->n_sent < MAX_SENT);
    assert_true(len <= MSG_CAP);
    struct sent *s = &fk->sent[fk->n_sent++];
    s->to = replica;
    s->len = len;
    memcpy(s->msg, msg, len);
}

static void fake_done(void *ctx, uint64_t req_no, const uint8_t *res, size_t len)
{
    struct fake *fk = ctx;
    assert_true(fk->n_done < MAX_DONE);
    assert_true(len <= BFT_RESULT_MAX);
    struct done *d = &fk->done[fk->n_done++];
    d->req_no = req_no;
    d->len = len;
    memcpy(d->res, res, len);
}

static void seed_key(struct crypto_keypair *kp, uint8_t tag)
{
    uint8_t seed[CRYPTO_SEED_LEN];
    memset(seed, tag, sizeof seed);
    crypto_keypair_from_seed(kp, seed);
}

static int setup(void **state)
{
    if (crypto_init() != 0) return -1;
    struct fake *fk = calloc(1, sizeof *fk);
    for (uint8_t i = 0; i < N; i++)
        seed_key(&fk->replica[i], (uint8_t)(i + 1));
    seed_key(&fk->client, 100);
    *state = fk;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static struct bft_client *make_client(struct fake *fk, int protocol, uint32_t envelope,
                                      uint32_t max_outstanding, bool null_crypto)
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
    struct bft_client_host host = {.ctx = fk, .send = fake_send, .done = fake_done};
    struct bft_client *c = NULL;
    assert_int_equal(bft_client_create(&c, &cfg, &host), BFT_E_OK);
    return c;
}

/* Deliver a REPLY from `from` covering [first, first+count) with the given
 * results, signed by `signer`'s key (NULL: all-zero signature). */
static void reply_n(struct bft_client *c, const struct crypto_keypair *signer, uint32_t from,
                    uint32_t client, uint64_t view, uint64_t first, uint16_t count,
                    const char *const *results)
{
    uint8_t body[4 + 8 + 2 + 16 * (2 + 32)];
    size_t off = 0;
    for (int i = 0; i < 4; i++)
        body[off++] = (uint8_t)(client >> (8 * i));
    for (int i = 0; i < 8; i++)
        body[off++] = (uint8_t)(first >> (8 * i));
    body[off++] = (uint8_t)count;
    body[off++] = (uint8_t)(count >> 8);
    for (uint16_t k = 0; k < count; k++) {
        size_t len = strlen(results[k]);
        assert_true(off + 2 + len <= sizeof body);
        body[off++] = (uint8_t)len;
        body[off++] = 0;
        memcpy(body + off, results[k], len);
        off += len;
    }
    struct bft_msg m = {
        .type = BFT_MSG_REPLY,
        .sender = from,
        .cluster_id = CLUSTER,
        .view = view,
        .seq = 1,
        .body = body,
        .body_len = (uint32_t)off,
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

static void reply1(struct fake *fk, struct bft_client *c, uint32_t from, uint64_t view,
                   uint64_t req_no, const char *result)
{
    reply_n(c, &fk->replica[from], from, CLIENT_ID, view, req_no, 1, &result);
}

static uint64_t submit(struct bft_client *c, const char *op, uint64_t now_ms)
{
    return bft_client_submit(c, (const uint8_t *)op, strlen(op), now_ms);
}

/* Decode a sent REQUEST and check its client signature. */
static void check_request(struct fake *fk, const struct sent *s, uint64_t first, uint16_t count)
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

static void test_quorum_of_distinct_matching_replies(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 1, 16, false);
    assert_int_equal(submit(c, "op", 0), 1);
    assert_int_equal(fk->n_sent, 1);
    assert_int_equal(fk->sent[0].to, 0); /* the initial primary */
    check_request(fk, &fk->sent[0], 1, 1);

    reply1(fk, c, 0, 0, 1, "A");
    reply1(fk, c, 0, 0, 1, "A"); /* same replica again: one vote */
    assert_int_equal(fk->n_done, 0);
    reply1(fk, c, 1, 0, 1, "B"); /* mismatching result */
    assert_int_equal(fk->n_done, 0);
    reply1(fk, c, 2, 0, 1, "B"); /* second B from a distinct replica: f+1 */
    assert_int_equal(fk->n_done, 1);
    assert_int_equal(fk->done[0].req_no, 1);
    assert_int_equal(fk->done[0].len, 1);
    assert_memory_equal(fk->done[0].res, "B", 1);
    reply1(fk, c, 3, 0, 1, "B"); /* late reply for a completed request */
    assert_int_equal(fk->n_done, 1);

    struct bft_client_stats st;
    bft_client_stats(c, &st);
    assert_int_equal(st.submitted, 1);
    assert_int_equal(st.completed, 1);
    assert_int_equal(st.replies, 5);
    assert_int_equal(st.bad_replies, 0);
    assert_int_equal(bft_client_tick(c, 1000), UINT32_MAX); /* idle */
    bft_client_destroy(c);
}

static void test_bad_replies_rejected(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 1, 16, false);
    assert_int_equal(submit(c, "op", 0), 1);
    const char *a = "A";
    /* Replica 1's reply signed with replica 2's key. */
    reply_n(c, &fk->replica[2], 1, CLIENT_ID, 0, 1, 1, &a);
    /* Unsigned (all-zero signature). */
    reply_n(c, NULL, 3, CLIENT_ID, 0, 1, 1, &a);
    /* Sender outside the cluster, and a reply meant for another client. */
    reply_n(c, &fk->replica[0], 9, CLIENT_ID, 0, 1, 1, &a);
    reply_n(c, &fk->replica[0], 0, CLIENT_ID + 1, 0, 1, 1, &a);
    /* Not a message at all. */
    static const uint8_t junk[200] = {1, 2, 3};
    bft_client_on_reply(c, junk, sizeof junk, 0);
    struct bft_client_stats st;
    bft_client_stats(c, &st);
    assert_int_equal(st.bad_replies, 5);
    assert_int_equal(st.replies, 5);

    /* None of them counted: one honest reply is still not enough. */
    reply1(fk, c, 0, 0, 1, "A");
    assert_int_equal(fk->n_done, 0);
    /* The forged replica can still vote with its real signature. */
    reply1(fk, c, 1, 0, 1, "A");
    assert_int_equal(fk->n_done, 1);
    /* Replies for unknown requests are ignored, not counted as bad. */
    reply1(fk, c, 2, 0, 42, "A");
    bft_client_stats(c, &st);
    assert_int_equal(st.bad_replies, 5);
    assert_int_equal(st.replies, 8);
    bft_client_destroy(c);
}

static void test_retransmit_to_all_with_identical_bytes(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 1, 16, false);
    assert_int_equal(submit(c, "order-1", 1000), 1);
    assert_int_equal(fk->n_sent, 1);
    struct sent first = fk->sent[0];

    assert_int_equal(bft_client_tick(c, 1050), 50);
    assert_int_equal(fk->n_sent, 1);
    assert_int_equal(bft_client_tick(c, 1100), 200); /* sent; next wait doubles */
    assert_int_equal(fk->n_sent, 1 + N);
    for (int i = 1; i <= N; i++) {
        assert_int_equal(fk->sent[i].to, i - 1);
        assert_int_equal(fk->sent[i].len, first.len);
        assert_memory_equal(fk->sent[i].msg, first.msg, first.len);
        check_request(fk, &fk->sent[i], 1, 1);
    }
    /* Backoff 200, 400, 800, then capped at 8 x 100. */
    assert_int_equal(bft_client_tick(c, 1300), 400);
    assert_int_equal(bft_client_tick(c, 1700), 800);
    assert_int_equal(bft_client_tick(c, 2500), 800);
    assert_int_equal(bft_client_tick(c, 2600), 700);
    assert_int_equal(fk->n_sent, 1 + 4 * N);
    for (int i = 1; i < fk->n_sent; i++)
        assert_memory_equal(fk->sent[i].msg, first.msg, first.len);
    struct bft_client_stats st;
    bft_client_stats(c, &st);
    assert_int_equal(st.retransmits, 4);

    /* Once it completes, nothing is retransmitted. */
    reply1(fk, c, 0, 0, 1, "ok");
    reply1(fk, c, 3, 0, 1, "ok");
    assert_int_equal(fk->n_done, 1);
    assert_int_equal(bft_client_tick(c, 10000), UINT32_MAX);
    assert_int_equal(fk->n_sent, 1 + 4 * N);
    bft_client_destroy(c);
}

static void test_envelope_of_k_ops(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 4, 64, false);
    for (uint64_t i = 1; i <= 3; i++)
        assert_int_equal(submit(c, "op", 0), i);
    assert_int_equal(fk->n_sent, 0); /* waits for the envelope to fill */
    assert_int_equal(bft_client_tick(c, 0), UINT32_MAX);
    assert_int_equal(submit(c, "op4", 0), 4);
    assert_int_equal(fk->n_sent, 1);
    check_request(fk, &fk->sent[0], 1, 4);
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(fk->sent[0].msg, fk->sent[0].len, &m), BFT_E_OK);
    assert_int_equal(m.body_len, 4 + 3 * (2 + 2) + (2 + 3));

    /* One reply per replica covers the whole envelope. */
    const char *res[4] = {"r1", "r2", "r3", "r4"};
    reply_n(c, &fk->replica[1], 1, CLIENT_ID, 0, 1, 4, res);
    assert_int_equal(fk->n_done, 0);
    reply_n(c, &fk->replica[2], 2, CLIENT_ID, 0, 1, 4, res);
    assert_int_equal(fk->n_done, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(fk->done[i].req_no, i + 1);
        assert_memory_equal(fk->done[i].res, res[i], 2);
    }

    /* A partial envelope goes out on flush, numbered on from 5. */
    assert_int_equal(submit(c, "op5", 10), 5);
    assert_int_equal(submit(c, "op6", 10), 6);
    assert_int_equal(fk->n_sent, 1);
    bft_client_flush(c, 10);
    assert_int_equal(fk->n_sent, 2);
    check_request(fk, &fk->sent[1], 5, 2);
    bft_client_flush(c, 10); /* nothing left to send */
    assert_int_equal(fk->n_sent, 2);
    bft_client_destroy(c);
}

static void test_max_outstanding_enforced(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 1, 3, false);
    for (uint64_t i = 1; i <= 3; i++)
        assert_int_equal(submit(c, "op", 0), i);
    assert_int_equal(submit(c, "op", 0), 0);
    assert_int_equal(submit(c, "op", 0), 0);
    reply1(fk, c, 0, 0, 1, "x");
    reply1(fk, c, 1, 0, 1, "x");
    assert_int_equal(fk->n_done, 1);
    assert_int_equal(submit(c, "op", 0), 4); /* numbering never skips */
    assert_int_equal(submit(c, "op", 0), 0);
    /* Invalid ops are refused too. */
    assert_int_equal(bft_client_submit(c, (const uint8_t *)"", 0, 0), 0);
    struct bft_client_stats st;
    bft_client_stats(c, &st);
    assert_int_equal(st.submitted, 4);
    bft_client_destroy(c);
}

static void test_primary_learned_from_reply_view(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 1, 16, false);
    assert_int_equal(submit(c, "a", 0), 1);
    assert_int_equal(fk->sent[0].to, 0);
    /* One replica claiming view 7 is not believed (could be a liar)... */
    reply1(fk, c, 3, 7, 1, "r");
    assert_int_equal(submit(c, "b", 0), 2);
    assert_int_equal(fk->sent[1].to, 0);
    /* ...but f+1 replicas at view >= 5 are: primary = 5 mod 4 = 1. */
    reply1(fk, c, 2, 5, 1, "r");
    assert_int_equal(fk->n_done, 1);
    assert_int_equal(submit(c, "c", 0), 3);
    assert_int_equal(fk->n_sent, 3);
    assert_int_equal(fk->sent[2].to, 1);
    bft_client_destroy(c);
}

static void test_hotstuff_first_send_to_all(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_HOTSTUFF, 1, 16, false);
    assert_int_equal(submit(c, "a", 0), 1);
    assert_int_equal(fk->n_sent, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(fk->sent[i].to, i);
    reply1(fk, c, 0, 3, 1, "r");
    reply1(fk, c, 1, 3, 1, "r");
    assert_int_equal(fk->n_done, 1);
    bft_client_destroy(c);
}

static void test_raft_follows_leader(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_RAFT, 1, 16, false);
    assert_int_equal(submit(c, "a", 0), 1);
    assert_int_equal(fk->sent[0].to, 0);
    /* Timeout: try the next replica, one at a time, round-robin. */
    bft_client_tick(c, 100);
    assert_int_equal(fk->n_sent, 2);
    assert_int_equal(fk->sent[1].to, 1);
    assert_memory_equal(fk->sent[1].msg, fk->sent[0].msg, fk->sent[0].len);
    bft_client_tick(c, 300);
    assert_int_equal(fk->n_sent, 3);
    assert_int_equal(fk->sent[2].to, 2);
    /* The leader's reply alone completes it (Raft signs nothing by
     * default: an unsigned reply is accepted), and its sender is leader. */
    const char *r = "ok";
    reply_n(c, NULL, 2, CLIENT_ID, 4, 1, 1, &r);
    assert_int_equal(fk->n_done, 1);
    assert_int_equal(submit(c, "b", 0), 2);
    assert_int_equal(fk->sent[3].to, 2);
    bft_client_destroy(c);
}

static void test_null_crypto(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 1, 16, true);
    assert_int_equal(submit(c, "a", 0), 1);
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(fk->sent[0].msg, fk->sent[0].len, &m), BFT_E_OK);
    static const uint8_t zero[BFT_SIG_LEN];
    assert_memory_equal(m.sig, zero, BFT_SIG_LEN);
    const char *r = "ok";
    reply_n(c, NULL, 0, CLIENT_ID, 0, 1, 1, &r);
    assert_int_equal(fk->n_done, 0); /* still f+1 */
    reply_n(c, NULL, 1, CLIENT_ID, 0, 1, 1, &r);
    assert_int_equal(fk->n_done, 1);
    bft_client_destroy(c);
}

/* A closed-loop caller submits its next request from inside done(). */
static struct bft_client *loop_client;
static int loop_resubmits;

static void loop_done(void *ctx, uint64_t req_no, const uint8_t *res, size_t len)
{
    fake_done(ctx, req_no, res, len);
    if (bft_client_submit(loop_client, (const uint8_t *)"next", 4, 0) != 0) loop_resubmits++;
}

static void test_submit_from_done_callback(void **state)
{
    struct fake *fk = *state;
    struct bft_client_config cfg = {
        .protocol = BFT_PROTO_PBFT,
        .n = N,
        .f = F,
        .id = CLIENT_ID,
        .cluster_id = CLUSTER,
        .key = fk->client,
        .retransmit_ms = 100,
        .envelope = 1,
        .max_outstanding = 1,
    };
    for (int i = 0; i < N; i++)
        memcpy(cfg.replica_pk[i], fk->replica[i].pk, CRYPTO_PK_LEN);
    struct bft_client_host host = {.ctx = fk, .send = fake_send, .done = loop_done};
    assert_int_equal(bft_client_create(&loop_client, &cfg, &host), BFT_E_OK);
    assert_int_equal(submit(loop_client, "a", 0), 1);
    reply1(fk, loop_client, 0, 0, 1, "r");
    reply1(fk, loop_client, 1, 0, 1, "r");
    assert_int_equal(loop_resubmits, 1);
    assert_int_equal(fk->n_sent, 2);
    check_request(fk, &fk->sent[1], 2, 1);
    bft_client_destroy(loop_client);
}

/* PBFT §5.1.3: a read-only request goes to every replica, unordered, and
 * is accepted on 2f+1 matching replies; when that becomes impossible it is
 * re-issued as an ordered request, whose f+1 rule then completes it. */
static void test_read_quorum_and_fallback(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 1, 16, false);
    uint64_t id = bft_client_read(c, (const uint8_t *)"get", 3, 0);
    assert_true(id != 0);
    assert_int_equal(fk->n_sent, N); /* to every replica */
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(fk->sent[0].msg, fk->sent[0].len, &m), BFT_E_OK);
    assert_int_equal(bft_req_flags(&m), BFT_REQ_READONLY);
    assert_int_equal(m.seq, id);
    reply1(fk, c, 0, 0, id, "v1");
    reply1(fk, c, 1, 0, id, "v1");
    assert_int_equal(fk->n_done, 0); /* f+1 is not enough for a read */
    reply1(fk, c, 2, 0, id, "v1");
    assert_int_equal(fk->n_done, 1); /* 2f+1 = 3 */
    assert_int_equal(fk->done[0].req_no, id);
    assert_memory_equal(fk->done[0].res, "v1", 2);

    /* Conflicting replies: 2 say v1, 2 say v2; 2f+1 matching is impossible,
     * so the client orders the read. */
    fk->n_sent = 0;
    uint64_t id2 = bft_client_read(c, (const uint8_t *)"get", 3, 0);
    reply1(fk, c, 0, 0, id2, "v1");
    reply1(fk, c, 1, 0, id2, "v2");
    reply1(fk, c, 2, 0, id2, "v1");
    assert_int_equal(fk->n_done, 1);
    reply1(fk, c, 3, 0, id2, "v2");
    assert_int_equal(fk->n_done, 1);
    struct bft_client_stats st;
    bft_client_stats(c, &st);
    assert_int_equal(st.read_fallbacks, 1);
    /* The ordered request went out (to the primary) with request number 1. */
    struct bft_msg o;
    assert_int_equal(bft_msg_decode(fk->sent[fk->n_sent - 1].msg, fk->sent[fk->n_sent - 1].len, &o),
                     BFT_E_OK);
    assert_int_equal(o.seq, 1);
    assert_int_equal(bft_req_flags(&o), 0);
    reply1(fk, c, 0, 0, 1, "v2");
    reply1(fk, c, 3, 0, 1, "v2");
    assert_int_equal(fk->n_done, 2);
    assert_int_equal(fk->done[1].req_no, id2); /* completes under the read's id */
    assert_memory_equal(fk->done[1].res, "v2", 2);

    /* A read nobody answers falls back at its timeout. */
    uint64_t id3 = bft_client_read(c, (const uint8_t *)"get", 3, 0);
    assert_true(id3 != 0);
    bft_client_tick(c, 1000);
    bft_client_stats(c, &st);
    assert_int_equal(st.read_fallbacks, 2);
    bft_client_destroy(c);
}

static void test_invalid_config(void **state)
{
    struct fake *fk = *state;
    struct bft_client_config cfg = {
        .protocol = BFT_PROTO_PBFT,
        .n = N,
        .f = F,
        .retransmit_ms = 100,
        .envelope = 0,
        .max_outstanding = 4,
    };
    struct bft_client_host host = {.ctx = fk, .send = fake_send, .done = fake_done};
    struct bft_client *c = (struct bft_client *)1;
    assert_int_equal(bft_client_create(&c, &cfg, &host), BFT_E_INVALID);
    assert_null(c);
    cfg.envelope = BFT_ENVELOPE_MAX_OPS + 1;
    assert_int_equal(bft_client_create(&c, &cfg, &host), BFT_E_INVALID);
    cfg.envelope = 1;
    cfg.n = BFT_MAX_REPLICAS + 1;
    assert_int_equal(bft_client_create(&c, &cfg, &host), BFT_E_INVALID);
}

/* Envelopes never exceed BFT_BODY_MAX: with 256 ops of BFT_OP_MAX bytes the
 * body would, so the client seals the first 255 and starts a new one. */
static size_t big_lens[4];
static uint64_t big_seqs[4];
static int n_big;

static void big_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len)
{
    (void)ctx;
    (void)replica;
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(msg, len, &m), BFT_E_OK);
    assert_true(n_big < 4);
    big_lens[n_big] = m.body_len;
    big_seqs[n_big++] = m.seq;
}

static void test_body_limit_splits_envelope(void **state)
{
    struct fake *fk = *state;
    struct bft_client_config cfg = {
        .protocol = BFT_PROTO_PBFT,
        .n = N,
        .f = F,
        .id = CLIENT_ID,
        .cluster_id = CLUSTER,
        .key = fk->client,
        .retransmit_ms = 100,
        .envelope = BFT_ENVELOPE_MAX_OPS,
        .max_outstanding = 1024,
    };
    struct bft_client_host host = {.ctx = fk, .send = big_send, .done = fake_done};
    struct bft_client *c;
    assert_int_equal(bft_client_create(&c, &cfg, &host), BFT_E_OK);
    static uint8_t op[BFT_OP_MAX];
    memset(op, 0xab, sizeof op);
    for (uint64_t i = 1; i <= 255; i++)
        assert_int_equal(bft_client_submit(c, op, sizeof op, 0), i);
    assert_int_equal(n_big, 0);
    assert_int_equal(bft_client_submit(c, op, sizeof op, 0), 256);
    assert_int_equal(n_big, 1);
    assert_int_equal(big_seqs[0], 1);
    assert_int_equal(big_lens[0], 4 + 255 * (2 + BFT_OP_MAX));
    bft_client_flush(c, 0);
    assert_int_equal(n_big, 2);
    assert_int_equal(big_seqs[1], 256);
    assert_int_equal(big_lens[1], 4 + (2 + BFT_OP_MAX));
    /* Oversized ops are refused. */
    static uint8_t huge[BFT_OP_MAX + 1];
    assert_int_equal(bft_client_submit(c, huge, sizeof huge, 0), 0);
    bft_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_quorum_of_distinct_matching_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_replies_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retransmit_to_all_with_identical_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_envelope_of_k_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_outstanding_enforced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_primary_learned_from_reply_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hotstuff_first_send_to_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raft_follows_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_crypto, setup, teardown),
        cmocka_unit_test_setup_teardown(test_submit_from_done_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_quorum_and_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_limit_splits_envelope, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
