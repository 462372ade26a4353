/* The replica node's state transfer hook: a snapshot replaces the
 * replicated state (application + exactly-once table) only if its digest
 * is the one the core expects; a snapshot that lies or does not parse
 * leaves the state exactly as it was (docs/architecture.md). And local
 * reads (docs/reads.md): answered only within their staleness bound of
 * the replica's last execution, refused explicitly otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/app_internal.h"
#include "node/node.h"
#include "app/app.h"
#include "core/core.h"
#include "wire/wire.h"
#include "node/node_internal.h"
#include "core/pbft/pbft_internal.h"
#include "crypto/crypto.h"
#include "net/net.h"
#include "tests/node/node_test_host.h"

static const uint8_t client_pk[2][CRYPTO_PK_LEN];

/* The host clock and the last reply sent to the reader (read tests). */
static uint64_t clock_ms;
static uint64_t host_now(void *ctx)
{
    (void)ctx;
    return clock_ms;
}
static uint8_t last_reply[2048];
static size_t last_reply_len;
static int replies;
/* Only client 1's replies: it is the reader; client 0 writes. */
static void capture_client(void *ctx, uint32_t to, const uint8_t *msg, size_t len)
{
    (void)ctx;
    if (to != 1) return;
    assert_true(len <= sizeof last_reply);
    memcpy(last_reply, msg, len);
    last_reply_len = len;
    replies++;
}

static struct bft_node *mk_app(int proto, uint32_t self, const struct bft_app_ops *app)
{
    struct bft_node_config cfg;
    memset(&cfg, 0, sizeof cfg);
    bft_core_config_defaults(&cfg.core, proto, proto == BFT_PROTO_RAFT ? 3 : 4, self);
    cfg.app = app;
    cfg.n_clients = 2;
    cfg.client_pk = client_pk;
    cfg.null_crypto = true;
    uint8_t seed[CRYPTO_SEED_LEN] = {(uint8_t)(self + 1)};
    crypto_keypair_from_seed(&cfg.self_key, seed);
    struct bft_host host = {.send = no_send,
                            .send_client = capture_client,
                            .persist = no_persist,
                            .set_timer = no_timer,
                            .cancel_timer = no_cancel,
                            .now_ms = host_now};
    struct bft_node *n = NULL;
    char err[128];
    assert_int_equal(bft_node_create(&n, &cfg, &host, err, sizeof err), BFT_E_OK);
    return n;
}

static struct bft_node *mk_proto(int proto, uint32_t self)
{
    return mk_app(proto, self, &bft_app_orders);
}

static struct bft_node *mk(uint32_t self)
{
    return mk_proto(BFT_PROTO_PBFT, self);
}

/* One NEW order straight into the application, and the client's request
 * marked executed in the exactly-once table. */
static void apply_order(struct bft_node *n, uint64_t seq, uint64_t coid)
{
    uint8_t op[1 + 8 + 8 + 1 + 4 + 8], res[BFT_RESULT_MAX];
    struct wire_wr w;
    wire_wr_init(&w, op, sizeof op);
    wire_put_u8(&w, 1);
    wire_put_u64(&w, coid);
    wire_put_bytes(&w, "ACME\0\0\0\0", 8);
    wire_put_u8(&w, 1);
    wire_put_u32(&w, 100);
    wire_put_u64(&w, 12345);
    assert_false(w.err);
    assert_true(n->cfg.app->apply(n->app, seq, 0, seq, op, sizeof op, res) > 0);
    n->clients[0].low = seq + 1;
}

/* Encode client 0's envelope of `count` NEW orders, request numbers
 * first..first+count-1, client order ids coid0.. (unsigned: execution does
 * not check signatures, the node did when the batch was accepted). */
/* Client 0's REQUEST with request number `first` and this body. */
static size_t request_msg(uint8_t *buf, size_t cap, uint64_t first, const uint8_t *body,
                          size_t body_len)
{
    struct bft_msg m = {.type = BFT_MSG_REQUEST, .sender = 0, .seq = first};
    m.body = body;
    m.body_len = (uint32_t)body_len;
    size_t len = bft_msg_encode(&m, buf, cap);
    assert_true(len > 0);
    return len;
}

static size_t envelope(uint8_t *buf, size_t cap, uint64_t first, uint16_t count, uint64_t coid0)
{
    uint8_t body[4 + 8 * (2 + BFT_ORDER_OP_LEN)];
    size_t len = orders_envelope_body(body, sizeof body, count, coid0);
    assert_true(len > 0);
    return request_msg(buf, cap, first, body, len);
}

/* A one-envelope batch: u16 count | u32 len | the encoded REQUEST. */
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

/* Exactly-once per request number, not per envelope: a client that signs
 * overlapping envelopes (requests 3..4, then 1..4) must not get requests 3
 * and 4 applied twice. The second envelope is skipped whole (an envelope
 * executes whole or not at all), the same way on every replica. */
static void test_overlapping_envelopes_apply_each_request_once(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), 0);
    struct bft_node *n = mk(0);
    uint8_t req[1024], batch[1100];
    size_t rl = envelope(req, sizeof req, 3, 2, 300);
    node_execute(n, 1, 0, batch, batch_of(batch, sizeof batch, req, rl), NULL, NULL);
    uint64_t after_first = n->stats.requests_executed;
    assert_int_equal(after_first, 2);
    rl = envelope(req, sizeof req, 1, 4, 100);
    node_execute(n, 2, 0, batch, batch_of(batch, sizeof batch, req, rl), NULL, NULL);
    assert_int_equal(n->stats.requests_executed, after_first);
    bft_node_destroy(n);
}

/* A client that moves far ahead (a new session numbered from the clock,
 * or one that gave up on a request) slides its window instead of being
 * refused: the new request executes; the numbers left below the window
 * that never executed are abandoned (never executed later); an executed
 * one stays executed; a number at or above 2^62 is refused. */
static void test_window_slides_for_a_client_that_moved_on(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), 0);
    struct bft_node *n = mk(0);
    uint8_t req[1024], batch[1100];
    uint64_t seq = 1;
    size_t rl = envelope(req, sizeof req, 1, 1, 100); /* executed */
    node_execute(n, seq++, 0, batch, batch_of(batch, sizeof batch, req, rl), NULL, NULL);
    rl = envelope(req, sizeof req, 3, 1, 101); /* 2 left behind */
    node_execute(n, seq++, 0, batch, batch_of(batch, sizeof batch, req, rl), NULL, NULL);
    assert_int_equal(n->stats.requests_executed, 2);
    assert_int_equal(n->clients[0].low, 2);
    /* Just beyond the window: slides by the few numbers needed. */
    rl = envelope(req, sizeof req, 2 + NODE_CLIENT_WINDOW + 5, 1, 102);
    node_execute(n, seq++, 0, batch, batch_of(batch, sizeof batch, req, rl), NULL, NULL);
    assert_int_equal(n->stats.requests_executed, 3);
    assert_int_equal(n->clients[0].low, 2 + 6);
    /* 2 was abandoned, 3 stays executed: neither runs (again). */
    for (uint64_t no = 2; no <= 3; no++) {
        rl = envelope(req, sizeof req, no, 1, 200 + no);
        node_execute(n, seq++, 0, batch, batch_of(batch, sizeof batch, req, rl), NULL, NULL);
    }
    assert_int_equal(n->stats.requests_executed, 3);
    /* Far beyond (a session seeded from the clock in us). */
    uint64_t far = 1796609601381048ull;
    rl = envelope(req, sizeof req, far, 2, 300);
    node_execute(n, seq++, 0, batch, batch_of(batch, sizeof batch, req, rl), NULL, NULL);
    assert_int_equal(n->stats.requests_executed, 5);
    /* Slid only as far as needed: the top request at the window's top. */
    assert_int_equal(n->clients[0].low, far + 2 - NODE_CLIENT_WINDOW);
    node_execute(n, seq++, 0, batch, batch_of(batch, sizeof batch, req, rl), NULL, NULL);
    assert_int_equal(n->stats.requests_executed, 5); /* exactly once */
    /* Read ids live at 2^62 and above: never ordered numbers. */
    uint64_t rej = n->stats.rejected[BFT_REJECT_OUT_OF_WINDOW];
    rl = envelope(req, sizeof req, 1ull << 62, 1, 400);
    node_execute(n, seq++, 0, batch, batch_of(batch, sizeof batch, req, rl), NULL, NULL);
    assert_int_equal(n->stats.requests_executed, 5);
    assert_int_equal(n->stats.rejected[BFT_REJECT_OUT_OF_WINDOW], rej + 1);
    bft_node_destroy(n);
}

static void test_restore_checks_digest_before_replacing(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), 0);
    struct bft_node *a = mk(0), *b = mk(1);
    apply_order(a, 1, 77);
    apply_order(a, 2, 78);
    uint8_t *snap = NULL;
    size_t len = 0;
    assert_int_equal(node_snapshot(a, &snap, &len), BFT_E_OK);
    bft_digest da, db0, db, got, wrong;
    bft_node_state_digest(a, &da);
    apply_order(b, 1, 5); /* b has state of its own */
    bft_node_state_digest(b, &db0);
    assert_memory_not_equal(da.b, db0.b, 32);

    /* The right bytes, the wrong expected digest: refused, b unchanged. */
    wrong = da;
    wrong.b[0] ^= 1;
    assert_int_equal(node_restore(b, snap, len, &wrong, &got), BFT_E_MALFORMED);
    bft_node_state_digest(b, &db);
    assert_memory_equal(db.b, db0.b, 32);
    assert_int_equal(b->clients[0].low, 2);

    /* Bytes that do not parse (cut short, or one flipped bit in the
     * application part): refused, b unchanged. */
    assert_int_equal(node_restore(b, snap, len - 1, &da, &got), BFT_E_MALFORMED);
    snap[len - 3] ^= 0x40;
    assert_int_not_equal(node_restore(b, snap, len, &da, &got), BFT_E_OK);
    snap[len - 3] ^= 0x40;
    bft_node_state_digest(b, &db);
    assert_memory_equal(db.b, db0.b, 32);

    /* The matching digest: installed, and b now has a's state. */
    assert_int_equal(node_restore(b, snap, len, &da, &got), BFT_E_OK);
    assert_memory_equal(got.b, da.b, 32);
    bft_node_state_digest(b, &db);
    assert_memory_equal(db.b, da.b, 32);
    assert_int_equal(b->clients[0].low, 3);

    /* No expectation (a crash-fault leader's snapshot): installed as is. */
    struct bft_node *c = mk(2);
    assert_int_equal(node_restore(c, snap, len, NULL, &got), BFT_E_OK);
    assert_memory_equal(got.b, da.b, 32);
    free(snap);
    bft_node_destroy(a);
    bft_node_destroy(b);
    bft_node_destroy(c);
}

/* Client 1 reads client 0's order `coid` at `flags` (BFT_REQ_READ_*),
 * bound `ms` (the header's view field); returns the reply's result status
 * and header flags, or -1 if the node sent nothing. */
static int read_order(struct bft_node *n, uint8_t flags, uint64_t ms, uint64_t coid,
                      uint16_t *reply_flags)
{
    static uint64_t read_id = 1ull << 62;
    uint8_t op[BFT_ORDER_LOOKUP_LEN], body[4 + 2 + BFT_ORDER_LOOKUP_LEN], msg[256];
    size_t ol = bft_order_lookup_encode(op, 0, coid);
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    wire_put_u16(&w, 1);
    wire_put_u8(&w, (uint8_t)(BFT_REQ_READONLY | flags));
    wire_put_u8(&w, 0);
    wire_put_u16(&w, (uint16_t)ol);
    wire_put_bytes(&w, op, ol);
    struct bft_msg m = {.type = BFT_MSG_REQUEST,
                        .sender = 1,
                        .view = ms,
                        .seq = ++read_id,
                        .body = body,
                        .body_len = (uint32_t)w.len};
    size_t len = bft_msg_encode(&m, msg, sizeof msg);
    assert_true(len > 0);
    int before = replies;
    bft_node_receive(n, msg, len);
    bft_node_flush(n);
    if (replies == before) return -1;
    struct bft_msg r;
    assert_int_equal(bft_msg_decode(last_reply, last_reply_len, &r), BFT_E_OK);
    assert_int_equal(r.type, BFT_MSG_REPLY);
    *reply_flags = r.flags;
    struct wire_rd rd;
    wire_rd_init(&rd, r.body, r.body_len);
    assert_int_equal(wire_get_u32(&rd), 1);
    assert_int_equal(wire_get_u16(&rd), 1); /* one range */
    assert_int_equal(wire_get_u64(&rd), read_id);
    assert_int_equal(wire_get_u16(&rd), 1);
    uint16_t res_len = wire_get_u16(&rd);
    if (res_len == 0) return 0x100; /* an empty result (a refusal) */
    const uint8_t *res = wire_get_ptr(&rd, res_len);
    assert_non_null(res);
    return res[0];
}

/* Local reads: refused (explicit BFT_REPLY_STALE, empty result) before the
 * replica executed anything and once its last execution is older than the
 * bound; answered from its state within the bound. */
static void local_reads(int proto)
{
    assert_int_equal(crypto_init(), 0);
    struct bft_node *n = mk_proto(proto, 1);
    uint16_t fl = 0;
    clock_ms = 5000;
    assert_int_equal(read_order(n, BFT_REQ_READ_LOCAL, 50, 100, &fl), 0x100);
    assert_int_equal(fl, BFT_REPLY_STALE);
    uint8_t req[1024], batch[1100];
    size_t rl = envelope(req, sizeof req, 1, 1, 100);
    node_execute(n, 1, 0, batch, batch_of(batch, sizeof batch, req, rl), NULL, NULL);
    clock_ms = 5050; /* exactly the bound: still fresh */
    assert_int_equal(read_order(n, BFT_REQ_READ_LOCAL, 50, 100, &fl), BFT_ORDER_OK);
    assert_int_equal(fl, 0);
    assert_int_equal(read_order(n, BFT_REQ_READ_LOCAL, 50, 101, &fl), BFT_ORDER_NOT_FOUND);
    clock_ms = 5051;
    assert_int_equal(read_order(n, BFT_REQ_READ_LOCAL, 50, 100, &fl), 0x100);
    assert_int_equal(fl, BFT_REPLY_STALE);
    assert_int_equal(read_order(n, BFT_REQ_READ_LOCAL, 60, 100, &fl), BFT_ORDER_OK);
    struct bft_node_stats st;
    bft_node_stats(n, &st);
    assert_int_equal(st.reads_local, 2 + 1);
    assert_int_equal(st.reads_stale, 2);
    /* A snapshot installed by state transfer does not make the replica
     * fresh (it may be far behind): only the next executed batch does. */
    uint8_t *snap = NULL;
    size_t len = 0;
    assert_int_equal(node_snapshot(n, &snap, &len), BFT_E_OK);
    clock_ms = 9000;
    assert_int_equal(read_order(n, BFT_REQ_READ_LOCAL, 60, 100, &fl), 0x100);
    bft_digest got;
    assert_int_equal(n->io.restore(n, 1, snap, len, NULL, &got), BFT_E_OK);
    assert_int_equal(read_order(n, BFT_REQ_READ_LOCAL, 60, 100, &fl), 0x100);
    node_execute(n, 2, 0, NULL, 0, NULL, NULL);
    assert_int_equal(read_order(n, BFT_REQ_READ_LOCAL, 60, 100, &fl), BFT_ORDER_OK);
    free(snap);
    bft_node_destroy(n);
}

/* A PREPARE from replica `sender`, signed as the node under test signs
 * (null crypto: every replica key is zero here), or with a broken
 * signature. */
static size_t prepare_from(struct bft_node *n, uint32_t sender, bool good_sig, uint8_t *buf,
                           size_t cap)
{
    struct bft_msg m = {.type = BFT_MSG_PREPARE, .sender = sender, .view = 0, .seq = 1};
    size_t len = bft_msg_encode(&m, buf, cap);
    assert_true(len > 0);
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(buf, &region, &rlen);
    uint8_t sig[BFT_SIG_LEN];
    node_sign(n, BFT_MSG_PREPARE, region, rlen, sig);
    if (!good_sig) sig[0] ^= 1;
    bft_msg_set_sig(buf, sig);
    return len;
}

/* Status over the network counts, per replica, the messages accepted from
 * it: a valid message counts for its sender; a bad signature, our own id
 * arriving from outside or junk count for nobody (only as rejects). A new
 * write request handed to the core counts in requests_ordered. */
static void test_heard_from_counts_accepted_messages_only(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), 0);
    struct bft_node *n = mk(1);
    uint8_t buf[1024];
    size_t len = prepare_from(n, 2, true, buf, sizeof buf);
    bft_node_receive(n, buf, len);
    bft_node_receive(n, buf, len);
    len = prepare_from(n, 3, false, buf, sizeof buf);
    bft_node_receive(n, buf, len);
    len = prepare_from(n, 1, true, buf, sizeof buf);
    bft_node_receive(n, buf, len);
    bft_node_receive(n, (const uint8_t *)"junk", 4);
    struct bft_node_stats st;
    bft_node_stats(n, &st);
    assert_int_equal(st.heard_from[2], 2);
    assert_int_equal(st.heard_from[3], 0);
    assert_int_equal(st.heard_from[1], 0);
    assert_int_equal(st.heard_from[0], 0);
    assert_int_equal(st.rejected[BFT_REJECT_BAD_SIGNATURE], 1);
    assert_int_equal(st.rejected[BFT_REJECT_UNKNOWN_SENDER], 1);
    assert_int_equal(st.rejected[BFT_REJECT_MALFORMED], 1);
    assert_int_equal(st.requests_ordered, 0);
    len = envelope(buf, sizeof buf, 1, 1, 7);
    bft_node_receive(n, buf, len);
    bft_node_stats(n, &st);
    assert_int_equal(st.requests_ordered, 1);
    bft_node_destroy(n);
}

static void test_local_read_staleness_pbft(void **state)
{
    (void)state;
    local_reads(BFT_PROTO_PBFT);
}

/* A Raft follower answers a local read itself (no leader involved); a
 * linearizable read at a follower is not answered there. */
static void test_local_read_raft_follower(void **state)
{
    (void)state;
    if (!bft_core_ops_for(BFT_PROTO_RAFT)) skip();
    local_reads(BFT_PROTO_RAFT);
    struct bft_node *n = mk_proto(BFT_PROTO_RAFT, 2);
    uint16_t fl = 0;
    assert_int_equal(read_order(n, 0, 0, 100, &fl), -1);
    assert_int_equal(read_order(n, BFT_REQ_READ_QUORUM, 0, 100, &fl), -1);
    bft_node_destroy(n);
}

/* The linearizable path of a BFT replica is unchanged: answered at once,
 * never flagged stale, whatever the clock says. */
static void test_linearizable_read_not_timed(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), 0);
    struct bft_node *n = mk(0);
    clock_ms = 1u << 30;
    uint16_t fl = 1;
    assert_int_equal(read_order(n, 0, 0, 100, &fl), BFT_ORDER_NOT_FOUND);
    assert_int_equal(fl, 0);
    bft_node_destroy(n);
}

/* A linearizable read at a replica that has not executed up to its
 * read_floor waits (PBFT §5.1.3: the reply must reflect everything the
 * replica helped commit) and is answered once execution gets there, from
 * the state then; the wait is a bounded ring that drops its oldest. */
static void test_linearizable_read_waits_for_floor(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), 0);
    struct bft_node *n = mk(2);
    n->core->read_floor = 2; /* it sent a COMMIT for seq 2 */
    uint16_t fl = 1;
    assert_int_equal(read_order(n, 0, 0, 100, &fl), -1);
    uint8_t req[1024], batch[1100];
    size_t rl = envelope(req, sizeof req, 1, 1, 99);
    int before = replies;
    node_execute(n, 1, 0, batch, batch_of(batch, sizeof batch, req, rl), NULL, NULL);
    bft_node_flush(n);
    assert_int_equal(replies, before); /* seq 1 < floor 2: still waiting */
    rl = envelope(req, sizeof req, 2, 1, 100);
    node_execute(n, 2, 0, batch, batch_of(batch, sizeof batch, req, rl), NULL, NULL);
    bft_node_flush(n);
    assert_int_equal(replies, before + 1);
    struct bft_msg r;
    assert_int_equal(bft_msg_decode(last_reply, last_reply_len, &r), BFT_E_OK);
    /* client, one range (first, count), the result's length, its status */
    assert_int_equal(r.body[BFT_REPLY_HDR_LEN + BFT_REPLY_RANGE_HDR_LEN + 2], BFT_ORDER_OK);
    assert_int_equal(r.flags, 0);

    /* NODE_READS_WAITING + 3 reads wait; the 3 oldest are dropped. */
    n->core->read_floor = 3;
    for (int k = 0; k < NODE_READS_WAITING + 3; k++)
        assert_int_equal(read_order(n, 0, 0, 100, &fl), -1);
    struct bft_node_stats st;
    bft_node_stats(n, &st);
    assert_int_equal(st.reads_deferred, 3);
    assert_int_equal(n->reads_count, NODE_READS_WAITING);
    before = replies;
    node_execute(n, 3, 0, NULL, 0, NULL, NULL);
    bft_node_flush(n);
    assert_int_equal(replies, before + NODE_READS_WAITING);
    assert_int_equal(n->reads_count, 0);
    bft_node_destroy(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_heard_from_counts_accepted_messages_only),
        cmocka_unit_test(test_linearizable_read_waits_for_floor),
        cmocka_unit_test(test_local_read_staleness_pbft),
        cmocka_unit_test(test_local_read_raft_follower),
        cmocka_unit_test(test_linearizable_read_not_timed),
        cmocka_unit_test(test_restore_checks_digest_before_replacing),
        cmocka_unit_test(test_overlapping_envelopes_apply_each_request_once),
        cmocka_unit_test(test_window_slides_for_a_client_that_moved_on),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
