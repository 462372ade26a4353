/* Client library, limits and edge paths: submitting from the completion
 * callback, read quorums and their fallback to an ordered request, invalid
 * configurations, and the body limit that splits an envelope. The quorum
 * and retransmission rules are in test_client.c. */
#include "tests/client/client_test_util.h"

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
        cmocka_unit_test_setup_teardown(test_submit_from_done_callback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_quorum_and_fallback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_invalid_config, setup, teardown),
        cmocka_unit_test_setup_teardown(test_body_limit_splits_envelope, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
