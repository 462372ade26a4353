/* Replies per client per batch (node/node_reply.c, docs/wire.md "REPLY"):
 * a batch answers each client with one signed REPLY whose ranges cover all
 * its envelopes, in request-number order whatever the batch order; a
 * client's results past NODE_REPLY_BODY_MAX go in several replies of whole
 * ranges; past NODE_REPLY_PENDING_MAX a batch sends what it has and goes
 * on; a retransmission of any executed envelope gets back the cached reply
 * that covers it; a Raft follower caches its reply but does not send it;
 * the reply cache keeps its byte bound with batch replies; a retry whose
 * reply is no longer held gets a NO_RESULT reply. */
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
#include "tests/node/node_test_host.h"

#define CLIENTS 8
#define MAX_REPLIES 64
static const uint8_t client_pk[CLIENTS][CRYPTO_PK_LEN];

/* Every REPLY the node sent, in order. */
static struct sent {
    uint32_t to;
    size_t len;
    uint8_t *msg;
} replies[MAX_REPLIES];
static int n_replies;

static void capture(void *ctx, uint32_t to, const uint8_t *msg, size_t len)
{
    (void)ctx;
    assert_true(n_replies < MAX_REPLIES);
    struct sent *s = &replies[n_replies++];
    s->to = to;
    s->len = len;
    s->msg = malloc(len);
    assert_non_null(s->msg);
    memcpy(s->msg, msg, len);
}

static void forget(void)
{
    for (int i = 0; i < n_replies; i++)
        free(replies[i].msg);
    n_replies = 0;
}

static struct bft_node *mk(int proto, const struct bft_app_ops *app)
{
    struct bft_node_config cfg;
    memset(&cfg, 0, sizeof cfg);
    bft_core_config_defaults(&cfg.core, proto, proto == BFT_PROTO_RAFT ? 3 : 4, 1);
    cfg.app = app;
    cfg.n_clients = CLIENTS;
    cfg.client_pk = client_pk;
    cfg.null_crypto = true;
    uint8_t seed[CRYPTO_SEED_LEN] = {2};
    crypto_keypair_from_seed(&cfg.self_key, seed);
    struct bft_host host = {.send = no_send,
                            .send_client = capture,
                            .persist = no_persist,
                            .set_timer = no_timer,
                            .cancel_timer = no_cancel};
    struct bft_node *n = NULL;
    char err[128];
    assert_int_equal(crypto_init(), 0);
    assert_int_equal(bft_node_create(&n, &cfg, &host, err, sizeof err), BFT_E_OK);
    bft_node_flush(n);
    forget();
    return n;
}

/* A batch under construction: u16 count | count x (u32 len | REQUEST). */
struct batch {
    uint8_t *p;
    size_t len, cap;
    uint16_t count;
};

static void batch_init(struct batch *b, size_t cap)
{
    b->p = malloc(cap);
    assert_non_null(b->p);
    b->cap = cap;
    b->len = 2;
    b->count = 0;
}

/* Add `client`'s envelope numbered from `first` with this REQUEST body. */
static void batch_add_body(struct batch *b, uint32_t client, uint64_t first, const uint8_t *body,
                           size_t body_len)
{
    struct bft_msg m = {.type = BFT_MSG_REQUEST,
                        .sender = client,
                        .seq = first,
                        .body = body,
                        .body_len = (uint32_t)body_len};
    size_t len = bft_msg_encoded_len(&m);
    assert_true(b->len + 4 + len <= b->cap);
    wire_le_store(b->p + b->len, len, 4);
    assert_int_equal(bft_msg_encode(&m, b->p + b->len + 4, len), len);
    b->len += 4 + len;
    wire_le_store(b->p, ++b->count, 2);
}

/* An envelope of `count` copies of one op (kv GETs). */
static void batch_add(struct batch *b, uint32_t client, uint64_t first, uint16_t count,
                      const uint8_t *op, size_t op_len)
{
    static uint8_t body[BFT_BODY_MAX];
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    wire_put_u16(&w, count);
    wire_put_u8(&w, 0);
    wire_put_u8(&w, 0);
    for (uint16_t i = 0; i < count; i++) {
        wire_put_u16(&w, (uint16_t)op_len);
        wire_put_bytes(&w, op, op_len);
    }
    assert_false(w.err);
    batch_add_body(b, client, first, body, w.len);
}

/* An envelope of `count` NEW orders with client order ids coid0.. (each
 * gets the next order number; results are u8 status | u64 order_seq). */
static void batch_add_orders(struct batch *b, uint32_t client, uint64_t first, uint16_t count,
                             uint64_t coid0)
{
    uint8_t body[4 + 16 * (2 + BFT_ORDER_OP_LEN)];
    size_t len = orders_envelope_body(body, sizeof body, count, coid0);
    assert_true(len > 0);
    batch_add_body(b, client, first, body, len);
}

/* Check a sent REPLY and list its ranges as (first, count) pairs. */
static uint16_t ranges_of(const struct sent *s, uint32_t client, uint64_t *first, uint16_t *count,
                          uint16_t max)
{
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(s->msg, s->len, &m), BFT_E_OK);
    assert_int_equal(m.type, BFT_MSG_REPLY);
    assert_int_equal(s->to, client);
    struct bft_reply_iter it;
    struct bft_reply_range rg;
    assert_true(bft_reply_iter_init(&it, m.body, m.body_len));
    assert_int_equal(it.client, client);
    uint16_t k = 0;
    while (bft_reply_iter_next(&it, &rg)) {
        assert_true(k < max);
        first[k] = rg.first;
        count[k++] = rg.count;
    }
    assert_false(it.bad);
    return k;
}

/* Three envelopes of client 2 (in the batch out of order) and one of
 * client 5: two REPLYs, client 2's with three ascending ranges and the
 * order numbers in execution order. */
static void test_one_reply_per_client_per_batch(void **state)
{
    (void)state;
    struct bft_node *n = mk(BFT_PROTO_PBFT, &bft_app_orders);
    struct batch b;
    batch_init(&b, 8192);
    batch_add_orders(&b, 2, 5, 2, 50); /* executed first: order numbers 1, 2 */
    batch_add_orders(&b, 5, 1, 1, 10); /* 3 */
    batch_add_orders(&b, 2, 1, 2, 10); /* 4, 5 */
    batch_add_orders(&b, 2, 3, 2, 30); /* 6, 7 */
    node_execute(n, 1, 0, b.p, b.len, NULL, NULL);
    assert_int_equal(n->stats.requests_executed, 7);
    assert_int_equal(n_replies, 0); /* only a flush sends */
    bft_node_flush(n);
    assert_int_equal(n_replies, 2);
    uint64_t first[8];
    uint16_t count[8];
    assert_int_equal(ranges_of(&replies[0], 2, first, count, 8), 3);
    assert_int_equal(first[0], 1);
    assert_int_equal(first[1], 3);
    assert_int_equal(first[2], 5);
    for (int i = 0; i < 3; i++)
        assert_int_equal(count[i], 2);
    assert_int_equal(ranges_of(&replies[1], 5, first, count, 8), 1);
    assert_int_equal(first[0], 1);
    assert_int_equal(count[0], 1);
    /* Results travel with their request numbers: request 5 was the
     * batch's first op (the orders app numbers them in order). */
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(replies[0].msg, replies[0].len, &m), BFT_E_OK);
    struct bft_reply_iter it;
    struct bft_reply_range rg;
    bft_reply_iter_init(&it, m.body, m.body_len);
    while (bft_reply_iter_next(&it, &rg)) {
        struct bft_reply_res_iter ri;
        bft_reply_res_init(&ri, &rg);
        uint64_t no;
        const uint8_t *res;
        size_t len;
        while (bft_reply_res_next(&ri, &no, &res, &len)) {
            uint8_t st;
            uint64_t order_seq;
            assert_int_equal(bft_order_result_decode(res, len, &st, &order_seq), BFT_E_OK);
            uint64_t want = no >= 5 ? no - 4 : no + 3; /* 5,6 -> 1,2; 1..4 -> 4..7 */
            assert_int_equal(st, BFT_ORDER_OK);
            assert_int_equal(order_seq, want);
        }
    }
    free(b.p);
    forget();
    bft_node_destroy(n);
}

/* A retransmission of any executed envelope gets the cached batch reply
 * that covers it, byte for byte; a number the cache does not cover (a
 * gap between ranges) finds nothing. */
static void test_retry_finds_the_covering_reply(void **state)
{
    (void)state;
    struct bft_node *n = mk(BFT_PROTO_PBFT, &bft_app_orders);
    struct batch b;
    batch_init(&b, 8192);
    batch_add_orders(&b, 3, 1, 2, 1);
    batch_add_orders(&b, 3, 10, 3, 10);
    node_execute(n, 1, 0, b.p, b.len, NULL, NULL);
    b.len = 2, b.count = 0;
    batch_add_orders(&b, 3, 3, 1, 3); /* the next batch: a reply of its own */
    node_execute(n, 2, 0, b.p, b.len, NULL, NULL);
    bft_node_flush(n);
    assert_int_equal(n_replies, 2);
    struct sent first = replies[0], second = replies[1];
    n_replies = 0;
    const struct node_client *c = &n->clients[3];
    assert_int_equal(c->replies[0].lo, 1);
    assert_int_equal(c->replies[0].hi, 13);

    /* The client retries its envelope 10..12 (the same bytes). */
    b.len = 2, b.count = 0;
    batch_add_orders(&b, 3, 10, 3, 10);
    const uint8_t *retry = b.p + 2 + 4;
    size_t retry_len = (size_t)wire_le_load(b.p + 2, 4);
    bft_node_receive(n, retry, retry_len);
    bft_node_flush(n);
    assert_int_equal(n_replies, 1);
    assert_int_equal(replies[0].len, first.len);
    assert_memory_equal(replies[0].msg, first.msg, first.len);
    forget();
    /* By number: 11 (inside a range) and 3 (the second batch's). */
    node_reply_resend(n, 3, 11);
    node_reply_resend(n, 3, 3);
    /* 5 is in neither reply's ranges (inside the first one's span). */
    node_reply_resend(n, 3, 5);
    bft_node_flush(n);
    assert_int_equal(n_replies, 2);
    assert_memory_equal(replies[0].msg, first.msg, first.len);
    assert_memory_equal(replies[1].msg, second.msg, second.len);
    free(first.msg);
    free(second.msg);
    free(b.p);
    forget();
    bft_node_destroy(n);
}

/* Four envelopes of 200 kv GETs of a 255-byte value (~52 KB of results
 * each) for one client in one batch: more than NODE_REPLY_BODY_MAX, so
 * several replies, each within the bound, of whole ranges, covering every
 * envelope once. */
static void test_large_results_split_into_whole_ranges(void **state)
{
    (void)state;
    struct bft_node *n = mk(BFT_PROTO_PBFT, &bft_app_kv);
    struct batch b;
    batch_init(&b, 1u << 20);
    uint8_t op[5 + 1 + BFT_KV_VALUE_MAX], val[BFT_KV_VALUE_MAX];
    memset(val, 'v', sizeof val);
    size_t ol = bft_kv_encode(op, BFT_KV_PUT, "k", 1, val, sizeof val);
    batch_add(&b, 0, 1, 1, op, ol);
    ol = bft_kv_encode(op, BFT_KV_GET, "k", 1, NULL, 0);
    for (uint64_t k = 0; k < 4; k++)
        batch_add(&b, 0, 2 + 200 * k, 200, op, ol);
    node_execute(n, 1, 0, b.p, b.len, NULL, NULL);
    bft_node_flush(n);
    assert_true(n_replies >= 2);
    uint64_t next = 1;
    for (int i = 0; i < n_replies; i++) {
        assert_true(replies[i].len <= BFT_HDR_LEN + NODE_REPLY_BODY_MAX + BFT_SIG_LEN);
        uint64_t first[8];
        uint16_t count[8];
        uint16_t k = ranges_of(&replies[i], 0, first, count, 8);
        for (uint16_t j = 0; j < k; j++) {
            assert_int_equal(first[j], next); /* whole envelopes, in order */
            assert_int_equal(count[j], next == 1 ? 1 : 200);
            next += count[j];
        }
    }
    assert_int_equal(next, 802);
    free(b.p);
    forget();
    bft_node_destroy(n);
}

/* A batch whose results pass NODE_REPLY_PENDING_MAX (8 clients x 3
 * envelopes of 200 ~257-byte results, ~1.2 MB) sends what it holds and
 * goes on: every envelope is still answered exactly once, and the big
 * buffer is not kept after the batch. */
static void test_pending_bound_sends_early(void **state)
{
    (void)state;
    struct bft_node *n = mk(BFT_PROTO_PBFT, &bft_app_kv);
    struct batch b;
    batch_init(&b, 1u << 20);
    uint8_t op[5 + 1 + BFT_KV_VALUE_MAX], val[BFT_KV_VALUE_MAX];
    memset(val, 'v', sizeof val);
    size_t ol = bft_kv_encode(op, BFT_KV_PUT, "k", 1, val, sizeof val);
    batch_add(&b, 0, 1, 1, op, ol);
    node_execute(n, 1, 0, b.p, b.len, NULL, NULL);
    bft_node_flush(n);
    forget();
    b.len = 2, b.count = 0;
    ol = bft_kv_encode(op, BFT_KV_GET, "k", 1, NULL, 0);
    for (uint64_t e = 0; e < 3; e++)
        for (uint32_t cl = 0; cl < CLIENTS; cl++)
            batch_add(&b, cl, 100 + 200 * e, 200, op, ol);
    node_execute(n, 2, 0, b.p, b.len, NULL, NULL);
    bft_node_flush(n);
    assert_true(n_replies > CLIENTS); /* some client got two */
    uint32_t seen[CLIENTS] = {0};
    for (int i = 0; i < n_replies; i++) {
        uint64_t first[8];
        uint16_t count[8];
        uint16_t k = ranges_of(&replies[i], replies[i].to, first, count, 8);
        for (uint16_t j = 0; j < k; j++) {
            assert_int_equal(count[j], 200);
            uint64_t e = (first[j] - 100) / 200;
            assert_int_equal(first[j], 100 + 200 * e);
            assert_false(seen[replies[i].to] & (1u << e)); /* once */
            seen[replies[i].to] |= 1u << e;
        }
    }
    for (uint32_t cl = 0; cl < CLIENTS; cl++)
        assert_int_equal(seen[cl], 7);
    assert_int_equal(n->rep.cap, 0);
    assert_int_equal(n->rep.n_part, 0);
    free(b.p);
    forget();
    bft_node_destroy(n);
}

/* Raft (crash-fault): only the leader's reply goes out. A follower (a
 * fresh node is one) executes and caches, sends nothing, and keeps no
 * trace of the dropped reply in its outbox. */
static void test_raft_follower_caches_but_does_not_send(void **state)
{
    (void)state;
    struct bft_node *n = mk(BFT_PROTO_RAFT, &bft_app_orders);
    struct batch b;
    batch_init(&b, 8192);
    batch_add_orders(&b, 1, 1, 2, 1);
    batch_add_orders(&b, 4, 1, 1, 1);
    uint32_t arena_before = n->arena_len;
    node_execute(n, 1, 0, b.p, b.len, NULL, NULL);
    assert_int_equal(n->n_out, 0);
    assert_int_equal(n->arena_len, arena_before);
    bft_node_flush(n);
    assert_int_equal(n_replies, 0);
    assert_int_equal(n->clients[1].replies[0].lo, 1);
    assert_int_equal(n->clients[1].replies[0].hi, 3);
    assert_true(n->clients[4].replies[0].len > 0);
    free(b.p);
    bft_node_destroy(n);
}

/* issue 14: the reply cache holds at most NODE_REPLY_CACHE_BYTES per
 * client, whatever the size of the replies: 128 replies of large results
 * would pin 16 MiB. Each batch here carries two envelopes of 100 kv GETs
 * of a 255-byte value (one ~52 KB REPLY per batch). The oldest replies go
 * first, counted; the newest stays, so a retransmission of either of its
 * envelopes is still answered, and one of an evicted batch is not. */
static void test_reply_cache_bytes_bound(void **state)
{
    (void)state;
    struct bft_node *n = mk(BFT_PROTO_PBFT, &bft_app_kv);
    struct batch b;
    batch_init(&b, 1u << 20);
    uint8_t op[5 + 1 + BFT_KV_VALUE_MAX], val[BFT_KV_VALUE_MAX];
    memset(val, 'v', sizeof val);
    size_t ol = bft_kv_encode(op, BFT_KV_PUT, "k", 1, val, sizeof val);
    uint64_t seq = 1, no = 1;
    batch_add(&b, 0, no++, 1, op, ol);
    node_execute(n, seq++, 0, b.p, b.len, NULL, NULL);
    ol = bft_kv_encode(op, BFT_KV_GET, "k", 1, NULL, 0);
    const uint16_t per = 100;
    uint64_t last = 0;
    for (int k = 0; k < 30; k++) {
        b.len = 2, b.count = 0;
        batch_add(&b, 0, no + per, per, op, ol); /* out of order in the batch */
        batch_add(&b, 0, no, per, op, ol);
        node_execute(n, seq++, 0, b.p, b.len, NULL, NULL);
        bft_node_flush(n);
        last = no;
        no += 2 * per;
    }
    assert_int_equal(n->stats.requests_executed, 1 + 30 * 2 * per);
    assert_int_equal(n_replies, 31);
    forget();
    const struct node_client *c = &n->clients[0];
    assert_true(c->reply_bytes <= NODE_REPLY_CACHE_BYTES);
    uint32_t held = 0, bytes = 0;
    bool newest = false, oldest = false;
    for (uint32_t i = 0; i < c->filled; i++) {
        const struct node_reply *r = &c->replies[i];
        if (!r->msg) continue;
        held++;
        bytes += r->cap;
        assert_true(r->len > 50000); /* the PUT's small reply went first */
        newest = newest || (r->lo == last && r->hi == last + 2 * per);
        oldest = oldest || r->lo == 2;
    }
    assert_int_equal(bytes, c->reply_bytes);
    assert_true(newest);
    assert_false(oldest);
    assert_true(held < 31 && held >= NODE_REPLY_CACHE_BYTES / 60000);
    assert_int_equal(n->stats.replies_evicted, 31 - held);
    struct bft_node_stats st;
    bft_node_stats(n, &st);
    assert_int_equal(st.replies_evicted, 31 - held);
    node_reply_resend(n, 0, last);       /* the newest batch's first envelope */
    node_reply_resend(n, 0, last + per); /* and its second: the same reply */
    node_reply_resend(n, 0, 2);          /* evicted */
    bft_node_flush(n);
    assert_int_equal(n_replies, 2);
    assert_int_equal(replies[0].len, replies[1].len);
    assert_memory_equal(replies[0].msg, replies[1].msg, replies[0].len);
    free(b.p);
    forget();
    bft_node_destroy(n); /* frees what is cached (ASan) */
}

/* Receive client 3's envelope of `count` orders numbered from `first` (a
 * retransmission when it was executed). */
static void retry_orders(struct bft_node *n, uint64_t first, uint16_t count)
{
    struct batch b;
    batch_init(&b, 4096);
    batch_add_orders(&b, 3, first, count, first);
    bft_node_receive(n, b.p + 2 + 4, (size_t)wire_le_load(b.p + 2, 4));
    bft_node_flush(n);
    free(b.p);
}

/* The exactly-once table travels in snapshots, the reply cache does not:
 * a replica restored from a snapshot taken after an envelope executed
 * answers its retry with a signed NO_RESULT reply (one range, empty
 * results), cached so the next retry costs no signature; a number never
 * executed is ordered as usual (bftsim --protocol raft --nodes 3 --seeds
 * 1631 retried forever without it). A Raft follower does not answer. */
static void test_retry_after_restore_gets_no_result(void **state)
{
    (void)state;
    const int protos[] = {BFT_PROTO_PBFT, BFT_PROTO_RAFT};
    for (size_t k = 0; k < 2; k++) {
        int proto = protos[k];
        struct bft_node *n = mk(proto, &bft_app_orders);
        struct batch b;
        batch_init(&b, 4096);
        batch_add_orders(&b, 3, 1, 2, 1);
        node_execute(n, 1, 0, b.p, b.len, NULL, NULL);
        bft_node_flush(n);
        forget();
        uint8_t *snap;
        size_t snap_len;
        assert_int_equal(node_snapshot(n, &snap, &snap_len), BFT_E_OK);
        struct bft_node *fresh = mk(proto, &bft_app_orders);
        bft_digest st;
        assert_int_equal(node_restore(fresh, snap, snap_len, NULL, &st), BFT_E_OK);
        retry_orders(fresh, 1, 2);
        if (proto == BFT_PROTO_RAFT) { /* a follower: the leader answers */
            assert_int_equal(n_replies, 0);
        } else {
            assert_int_equal(n_replies, 1);
            struct bft_msg m;
            assert_int_equal(bft_msg_decode(replies[0].msg, replies[0].len, &m), BFT_E_OK);
            assert_int_equal(m.flags, BFT_REPLY_NO_RESULT);
            uint64_t first[2];
            uint16_t count[2];
            assert_int_equal(ranges_of(&replies[0], 3, first, count, 2), 1);
            assert_int_equal(first[0], 1);
            assert_int_equal(count[0], 2);
            assert_int_equal(fresh->stats.replies_no_result, 1);
            struct sent again = replies[0];
            n_replies = 0;
            retry_orders(fresh, 1, 2); /* the cached reply, byte for byte */
            assert_int_equal(n_replies, 1);
            assert_memory_equal(replies[0].msg, again.msg, again.len);
            free(again.msg);
            forget();
            retry_orders(fresh, 3, 1); /* never executed: ordered, not closed */
            assert_int_equal(fresh->stats.replies_no_result, 1);
            assert_int_equal(fresh->stats.requests_ordered, 1);
        }
        /* The replica that executed it still answers with the result. */
        retry_orders(n, 1, 2);
        assert_int_equal(n->stats.replies_no_result, 0);
        free(snap);
        free(b.p);
        forget();
        bft_node_destroy(fresh);
        bft_node_destroy(n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_reply_per_client_per_batch),
        cmocka_unit_test(test_retry_finds_the_covering_reply),
        cmocka_unit_test(test_large_results_split_into_whole_ranges),
        cmocka_unit_test(test_pending_bound_sends_early),
        cmocka_unit_test(test_raft_follower_caches_but_does_not_send),
        cmocka_unit_test(test_reply_cache_bytes_bound),
        cmocka_unit_test(test_retry_after_restore_gets_no_result),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
