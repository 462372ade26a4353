/* node/node_phase.c: per-phase latency samples at the proposing replica
 * (docs/design.md "Latency budget"). One arrival in NODE_PHASE_EVERY is
 * sampled; the phases are stamped from what the node sees (its proposal
 * carrying the request, its PBFT COMMIT, its next HotStuff proposals, the
 * reply queued by execution, the flush); samples proposed elsewhere or
 * never finished are counted apart; without a budget nothing is sampled.
 * The stamps are real clock readings: the tests check which phases were
 * reached and their order, never a duration. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/app.h"
#include "app/app_internal.h"
#include "crypto/crypto.h"
#include "node/node_internal.h"
#include "wire/bytes.h"
#include "wire/wire.h"

static const uint8_t client_pk[2][CRYPTO_PK_LEN];
static struct bft_budget g_budget;
static int g_replies;

static void no_send(void *ctx, uint32_t to, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)to, (void)msg, (void)len;
}

static void count_client(void *ctx, uint32_t to, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)to, (void)msg, (void)len;
    g_replies++;
}

static void no_persist(void *ctx, const uint8_t *rec, size_t len)
{
    (void)ctx, (void)rec, (void)len;
}

static void no_timer(void *ctx, uint32_t timer, uint64_t ms)
{
    (void)ctx, (void)timer, (void)ms;
}

static void no_cancel(void *ctx, uint32_t timer)
{
    (void)ctx, (void)timer;
}

static struct bft_node *mk(int proto, bool timed)
{
    struct bft_node_config cfg;
    memset(&cfg, 0, sizeof cfg);
    bft_core_config_defaults(&cfg.core, proto, 4, 0);
    cfg.app = &bft_app_orders;
    cfg.n_clients = 2;
    cfg.client_pk = client_pk;
    cfg.null_crypto = true;
    uint8_t seed[CRYPTO_SEED_LEN] = {1};
    crypto_keypair_from_seed(&cfg.self_key, seed);
    bft_budget_start(&g_budget, BFT_STAGE_OTHER, bft_budget_clock_ns());
    struct bft_host host = {.send = no_send,
                            .send_client = count_client,
                            .persist = no_persist,
                            .set_timer = no_timer,
                            .cancel_timer = no_cancel,
                            .budget = timed ? &g_budget : NULL};
    struct bft_node *n = NULL;
    char err[128];
    assert_int_equal(crypto_init(), 0);
    assert_int_equal(bft_node_create(&n, &cfg, &host, err, sizeof err), BFT_E_OK);
    g_replies = 0;
    return n;
}

/* Client 0's one-order envelope with request number req_no. */
static size_t envelope(uint8_t *buf, size_t cap, uint64_t req_no)
{
    uint8_t body[4 + 2 + BFT_ORDER_OP_LEN];
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    wire_put_u16(&w, 1);
    wire_put_u8(&w, 0);
    wire_put_u8(&w, 0);
    uint8_t op[BFT_ORDER_OP_LEN];
    size_t ol = bft_order_encode(op, req_no, "ACME", 1, 10, 100);
    wire_put_u16(&w, (uint16_t)ol);
    wire_put_bytes(&w, op, ol);
    assert_false(w.err);
    struct bft_msg m = {.type = BFT_MSG_REQUEST, .sender = 0, .seq = req_no};
    m.body = body;
    m.body_len = (uint32_t)w.len;
    size_t len = bft_msg_encode(&m, buf, cap);
    assert_true(len > 0);
    return len;
}

static size_t batch_of(uint8_t *batch, size_t cap, const uint8_t *req, size_t len)
{
    struct wire_wr w;
    wire_wr_init(&w, batch, cap);
    wire_put_u16(&w, 1);
    wire_put_u32(&w, (uint32_t)len);
    wire_put_bytes(&w, req, len);
    assert_false(w.err);
    return w.len;
}

/* Arrivals of requests 1..count; returns the encoded last one in req. */
static size_t arrive(struct bft_node *n, uint64_t count, uint8_t *req, size_t cap)
{
    size_t rl = 0;
    for (uint64_t k = 1; k <= count; k++) {
        rl = envelope(req, cap, k);
        struct bft_msg m;
        assert_int_equal(bft_msg_decode(req, rl, &m), BFT_E_OK);
        node_phase_arrive(n, &m);
    }
    return rl;
}

static struct bft_phase_stats stats_of(struct bft_node *n)
{
    struct bft_node_stats st;
    bft_node_stats(n, &st);
    return st.phase;
}

static void test_pbft_sample_reaches_every_phase_in_order(void **state)
{
    (void)state;
    struct bft_node *n = mk(BFT_PROTO_PBFT, true);
    uint8_t req[512], batch[600];
    size_t rl = arrive(n, NODE_PHASE_EVERY - 1, req, sizeof req);
    assert_int_equal(stats_of(n).sampled, 0); /* not the first: start-up waits */
    rl = envelope(req, sizeof req, NODE_PHASE_EVERY);
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(req, rl, &m), BFT_E_OK);
    node_phase_arrive(n, &m);
    assert_int_equal(stats_of(n).sampled, 1);
    size_t bl = batch_of(batch, sizeof batch, req, rl);
    struct bft_msg pp = {
        .type = BFT_MSG_PRE_PREPARE, .seq = 7, .payload = batch, .payload_len = (uint32_t)bl};
    node_phase_queued(n, &pp);
    struct bft_msg other = {.type = BFT_MSG_COMMIT, .seq = 6};
    node_phase_queued(n, &other); /* another sequence number: not ours */
    struct bft_msg commit = {.type = BFT_MSG_COMMIT, .seq = 7};
    node_phase_queued(n, &commit);
    node_execute(n, 7, 0, batch, bl, NULL, NULL);                 /* queues the reply */
    assert_int_equal(stats_of(n).count[BFT_PHASE_REPLY_SENT], 0); /* not sent yet */
    bft_node_flush(n);
    assert_int_equal(g_replies, 1);
    struct bft_phase_stats ph = stats_of(n);
    assert_int_equal(ph.count[BFT_PHASE_PROPOSED], 1);
    assert_int_equal(ph.count[BFT_PHASE_PREPARED], 1);
    assert_int_equal(ph.count[BFT_PHASE_EXECUTED], 1);
    assert_int_equal(ph.count[BFT_PHASE_REPLY_SENT], 1);
    assert_int_equal(ph.count[BFT_PHASE_QC1], 0);
    assert_true(ph.sum_ns[BFT_PHASE_PROPOSED] <= ph.sum_ns[BFT_PHASE_PREPARED]);
    assert_true(ph.sum_ns[BFT_PHASE_PREPARED] <= ph.sum_ns[BFT_PHASE_EXECUTED]);
    assert_true(ph.sum_ns[BFT_PHASE_EXECUTED] <= ph.sum_ns[BFT_PHASE_REPLY_SENT]);
    assert_int_equal(n->phase.in_use, 0); /* the slot is free again */
    /* The node's own stages were charged meanwhile (execute, send). */
    bft_budget_settle(&g_budget, bft_budget_clock_ns());
    assert_true(g_budget.ns[BFT_STAGE_SEND] > 0);
    bft_node_destroy(n);
}

static void test_hotstuff_chain_stamps_three_qcs(void **state)
{
    (void)state;
    struct bft_node *n = mk(BFT_PROTO_HOTSTUFF, true);
    uint8_t req[512], batch[600];
    size_t rl = arrive(n, NODE_PHASE_EVERY, req, sizeof req);
    size_t bl = batch_of(batch, sizeof batch, req, rl);
    struct bft_msg prop = {
        .type = BFT_MSG_HS_PROPOSAL, .seq = 10, .payload = batch, .payload_len = (uint32_t)bl};
    node_phase_queued(n, &prop);
    for (uint64_t h = 11; h <= 12; h++) {
        struct bft_msg next = {.type = BFT_MSG_HS_PROPOSAL, .seq = h};
        node_phase_queued(n, &next);
    }
    assert_true(n->phase.slot[0].t_ns[BFT_PHASE_QC2] != 0);
    assert_int_equal(n->phase.slot[0].t_ns[BFT_PHASE_QC3], 0);
    struct bft_msg next = {.type = BFT_MSG_HS_PROPOSAL, .seq = 13};
    node_phase_queued(n, &next);
    node_execute(n, 10, 0, batch, bl, NULL, NULL);
    bft_node_flush(n);
    struct bft_phase_stats ph = stats_of(n);
    for (int p = BFT_PHASE_QC1; p <= BFT_PHASE_QC3; p++)
        assert_int_equal(ph.count[p], 1);
    assert_int_equal(ph.count[BFT_PHASE_PREPARED], 0);
    assert_true(ph.sum_ns[BFT_PHASE_QC1] <= ph.sum_ns[BFT_PHASE_QC2]);
    assert_true(ph.sum_ns[BFT_PHASE_QC2] <= ph.sum_ns[BFT_PHASE_QC3]);
    bft_node_destroy(n);
}

/* A backup's sample (the primary proposed it) is counted as unproposed
 * and adds to no phase; samples that never finish give up their slots. */
static void test_unproposed_and_evicted_samples(void **state)
{
    (void)state;
    struct bft_node *n = mk(BFT_PROTO_PBFT, true);
    uint8_t req[512], batch[600];
    size_t rl = arrive(n, NODE_PHASE_EVERY, req, sizeof req);
    node_execute(n, 3, 0, batch, batch_of(batch, sizeof batch, req, rl), NULL, NULL);
    bft_node_flush(n);
    struct bft_phase_stats ph = stats_of(n);
    assert_int_equal(ph.unproposed, 1);
    assert_int_equal(ph.count[BFT_PHASE_REPLY_SENT], 0);
    /* NODE_PHASE_SLOTS + 2 more samples that never finish. */
    n->phase.arrivals = 0;
    for (uint32_t k = 0; k < (NODE_PHASE_SLOTS + 2) * NODE_PHASE_EVERY; k++) {
        struct bft_msg m = {.type = BFT_MSG_REQUEST, .sender = 1, .seq = 100 + k};
        node_phase_arrive(n, &m);
    }
    ph = stats_of(n);
    assert_int_equal(ph.sampled, 1 + NODE_PHASE_SLOTS + 2);
    assert_int_equal(ph.evicted, 2);
    assert_int_equal(n->phase.in_use, NODE_PHASE_SLOTS);
    bft_node_destroy(n);
}

static void test_no_budget_no_samples(void **state)
{
    (void)state;
    struct bft_node *n = mk(BFT_PROTO_RAFT, false);
    uint8_t req[512];
    arrive(n, 4 * NODE_PHASE_EVERY, req, sizeof req);
    struct bft_msg ae = {.type = BFT_MSG_RAFT_APPEND, .seq = 1};
    node_phase_queued(n, &ae);
    assert_int_equal(stats_of(n).sampled, 0);
    assert_int_equal(n->phase.in_use, 0);
    bft_node_destroy(n);
}

/* Raft: the first AppendEntries after the arrival stands for the one
 * carrying it (the node does not parse Raft's entries). */
static void test_raft_append_marks_open_samples_proposed(void **state)
{
    (void)state;
    struct bft_node *n = mk(BFT_PROTO_RAFT, true);
    uint8_t req[512];
    arrive(n, NODE_PHASE_EVERY, req, sizeof req);
    assert_false(n->phase.slot[0].proposed);
    struct bft_msg ae = {.type = BFT_MSG_RAFT_APPEND, .seq = 1};
    node_phase_queued(n, &ae);
    assert_true(n->phase.slot[0].proposed);
    assert_true(n->phase.slot[0].t_ns[BFT_PHASE_PROPOSED] >= n->phase.slot[0].t0_ns);
    bft_node_destroy(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pbft_sample_reaches_every_phase_in_order),
        cmocka_unit_test(test_hotstuff_chain_stamps_three_qcs),
        cmocka_unit_test(test_unproposed_and_evicted_samples),
        cmocka_unit_test(test_no_budget_no_samples),
        cmocka_unit_test(test_raft_append_marks_open_samples_proposed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
