/* Out of memory while a batch's replies are built (node/node_reply.c):
 * whichever allocation fails (the part array, the results buffer, the
 * reply body, the outbox, a reply cache slot), the batch still executes
 * whole, the replica neither crashes nor reads freed memory (run under
 * ASan), a reply is at worst lost, as on a lossy network, and the next
 * batch is answered normally. Allocations fail on demand through the
 * linker (tests/lib/fail_alloc.h, CMakeLists.txt). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/app.h"
#include "crypto/crypto.h"
#include "node/node_internal.h"
#include "tests/lib/fail_alloc.h"
#include "wire/bytes.h"
#include "wire/wire.h"
#include "tests/node/node_test_host.h"

#define CLIENTS 4
static const uint8_t client_pk[CLIENTS][CRYPTO_PK_LEN];
static uint32_t replies, bad;

/* Count the REPLYs; no allocation here (it would be counted too). */
static void count(void *ctx, uint32_t to, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)to;
    struct bft_msg m;
    if (bft_msg_decode(msg, len, &m) != BFT_E_OK || m.type != BFT_MSG_REPLY) bad++;
    replies++;
}

static struct bft_node *mk(void)
{
    struct bft_node_config cfg;
    memset(&cfg, 0, sizeof cfg);
    bft_core_config_defaults(&cfg.core, BFT_PROTO_PBFT, 4, 1);
    cfg.app = &bft_app_orders;
    cfg.n_clients = CLIENTS;
    cfg.client_pk = client_pk;
    cfg.null_crypto = true;
    uint8_t seed[CRYPTO_SEED_LEN] = {3};
    crypto_keypair_from_seed(&cfg.self_key, seed);
    struct bft_host host = {.send = no_send,
                            .send_client = count,
                            .persist = no_persist,
                            .set_timer = no_timer,
                            .cancel_timer = no_cancel};
    struct bft_node *n = NULL;
    char err[128];
    assert_int_equal(bft_node_create(&n, &cfg, &host, err, sizeof err), BFT_E_OK);
    bft_node_flush(n);
    return n;
}

/* A batch of two envelopes of two NEW orders per client, numbered from
 * `first` (client order ids from coid0). */
static size_t batch(uint8_t *out, size_t cap, uint64_t first, uint64_t coid0)
{
    struct wire_wr b;
    wire_wr_init(&b, out, cap);
    wire_put_u16(&b, 2 * CLIENTS);
    for (uint32_t e = 0; e < 2 * CLIENTS; e++) {
        uint8_t body[4 + 2 * (2 + BFT_ORDER_OP_LEN)], msg[512];
        struct wire_wr w;
        wire_wr_init(&w, body, sizeof body);
        wire_put_u16(&w, 2);
        wire_put_u8(&w, 0);
        wire_put_u8(&w, 0);
        for (uint64_t i = 0; i < 2; i++) {
            uint8_t op[BFT_ORDER_OP_LEN];
            size_t ol = bft_order_encode(op, coid0 + 2 * e + i, "ACME", 1, 10, 100);
            wire_put_u16(&w, (uint16_t)ol);
            wire_put_bytes(&w, op, ol);
        }
        struct bft_msg m = {.type = BFT_MSG_REQUEST,
                            .sender = e % CLIENTS,
                            .seq = first + 2 * (e / CLIENTS),
                            .body = body,
                            .body_len = (uint32_t)w.len};
        size_t len = bft_msg_encode(&m, msg, sizeof msg);
        assert_true(len > 0);
        wire_put_u32(&b, (uint32_t)len);
        wire_put_bytes(&b, msg, len);
    }
    assert_false(b.err);
    return b.len;
}

static void test_any_failed_allocation_loses_at_most_replies(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), 0);
    static uint8_t b1[8192], b2[8192];
    size_t l1 = batch(b1, sizeof b1, 1, 1000), l2 = batch(b2, sizeof b2, 5, 2000);
    bool all_failed_paths_done = false;
    long k = 0;
    for (; k < 64 && !all_failed_paths_done; k++) {
        struct bft_node *n = mk();
        replies = bad = 0;
        fail_alloc_after(k);
        node_execute(n, 1, 0, b1, l1, NULL, NULL);
        bft_node_flush(n);
        /* Still armed: the k-th allocation was not reached at all. */
        all_failed_paths_done = fail_alloc_countdown >= 0;
        fail_alloc_after(-1);
        assert_int_equal(n->stats.requests_executed, 4 * CLIENTS);
        assert_true(replies <= CLIENTS);
        assert_int_equal(bad, 0);
        for (uint32_t c = 0; c < CLIENTS; c++) /* resends what is cached */
            node_reply_resend(n, c, 3);
        bft_node_flush(n);
        /* The next batch is answered whole: one REPLY per client. */
        replies = 0;
        node_execute(n, 2, 0, b2, l2, NULL, NULL);
        bft_node_flush(n);
        assert_int_equal(n->stats.requests_executed, 8 * CLIENTS);
        assert_int_equal(replies, CLIENTS);
        assert_int_equal(bad, 0);
        bft_node_destroy(n);
    }
    assert_true(all_failed_paths_done); /* every allocation of the batch was failed once */
    print_message("%ld allocations in a batch, each failed once\n", k - 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_any_failed_allocation_loses_at_most_replies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
