/* Target fuzz_restore: application snapshot restore (bft_app_orders and
 * bft_app_kv .restore) and the node's state transfer hook (node_restore).
 *
 * Input: u8 what | snapshot bytes
 *   what % 3 == 0: orders .restore; 1: kv .restore. A restore that
 *     succeeds must snapshot again to bytes that restore to the same
 *     digest (what was installed is what the digest says).
 *   2: node_restore on a replica with state of its own. With no expected
 *     digest; if that installs, a second replica given the digest it
 *     reported must install it too and reach the same digest, and a third
 *     given a wrong digest must refuse and keep its state exactly.
 */
#include <stdio.h>

#include "node/node.h"
#include "app/app.h"
#include "node/node_internal.h"
#include "tests/fuzz/fuzz_common.h"

static void app_roundtrip(const struct bft_app_ops *ops, const uint8_t *buf, size_t len)
{
    void *a = ops->create(NULL);
    if (!a) return;
    bft_digest before, after;
    ops->digest(a, &before);
    if (ops->restore(a, buf, len) != BFT_E_OK) {
        ops->digest(a, &after);
        if (memcmp(before.b, after.b, 32) != 0) {
            fprintf(stderr, "%s: a refused restore changed the state\n", ops->name);
            abort();
        }
        ops->destroy(a);
        return;
    }
    ops->digest(a, &after);
    uint8_t *snap = NULL;
    size_t slen = 0;
    if (ops->snapshot(a, &snap, &slen) == BFT_E_OK) {
        void *b = ops->create(NULL);
        if (b) {
            bft_digest db;
            if (ops->restore(b, snap, slen) != BFT_E_OK) {
                fprintf(stderr, "%s: own snapshot does not restore\n", ops->name);
                abort();
            }
            ops->digest(b, &db);
            if (memcmp(db.b, after.b, 32) != 0) {
                fprintf(stderr, "%s: snapshot round trip changed the digest\n", ops->name);
                abort();
            }
            /* Answer an op on the restored state: must not crash. */
            uint8_t op[BFT_ORDER_OP_LEN], res[BFT_RESULT_MAX];
            size_t ol = fz_order(op, 1, 1, 5);
            (void)ops->apply(b, 1000000, 0, 1, op, ol, res);
            ops->destroy(b);
        }
        free(snap);
    }
    ops->destroy(a);
}

static void h_send(void *ctx, uint32_t to, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)to, (void)msg, (void)len;
}
static void h_timer(void *ctx, uint32_t t, uint64_t ms)
{
    (void)ctx, (void)t, (void)ms;
}
static void h_cancel(void *ctx, uint32_t t)
{
    (void)ctx, (void)t;
}

/* node_restore is the node's hook (client table and application): the
 * core takes no part in it, so the replicas run the protocol whose replica
 * is cheapest to create and destroy (Raft: its buffers start small), not
 * one whose creation would dominate every input. */
static struct bft_node *mk(uint32_t self)
{
    struct bft_node_config cfg;
    fz_node_config(&cfg, BFT_PROTO_RAFT, self);
    struct bft_host host = {
        .send = h_send, .send_client = h_send, .set_timer = h_timer, .cancel_timer = h_cancel};
    struct bft_node *n = NULL;
    char err[256];
    if (bft_node_create(&n, &cfg, &host, err, sizeof err) != BFT_E_OK) abort();
    /* State of its own: one order executed for client 1. */
    uint8_t op[BFT_ORDER_OP_LEN], res[BFT_RESULT_MAX];
    size_t ol = fz_order(op, 42, 2, 7);
    (void)n->cfg.app->apply(n->app, 1, 1, 1, op, ol, res);
    return n;
}

static void node_case(const uint8_t *buf, size_t len)
{
    struct bft_node *a = mk(0);
    bft_digest got, d0, d1;
    bft_node_state_digest(a, &d0);
    if (node_restore(a, buf, len, NULL, &got) != BFT_E_OK) {
        bft_node_state_digest(a, &d1);
        if (memcmp(d0.b, d1.b, 32) != 0) abort();
        bft_node_destroy(a);
        return;
    }
    bft_node_state_digest(a, &d1);
    if (memcmp(d1.b, got.b, 32) != 0) {
        fprintf(stderr, "node_restore reported a digest that is not the state's\n");
        abort();
    }
    struct bft_node *b = mk(1);
    bft_digest gb, db;
    if (node_restore(b, buf, len, &got, &gb) != BFT_E_OK || memcmp(gb.b, got.b, 32) != 0) {
        fprintf(stderr, "node_restore refused the digest it produced itself\n");
        abort();
    }
    bft_node_state_digest(b, &db);
    if (memcmp(db.b, got.b, 32) != 0) abort();
    bft_node_destroy(b);

    struct bft_node *c = mk(2);
    bft_digest wrong = got, gc, dc0, dc1;
    wrong.b[31] ^= 0x80;
    bft_node_state_digest(c, &dc0);
    if (node_restore(c, buf, len, &wrong, &gc) == BFT_E_OK) {
        fprintf(stderr, "node_restore accepted a wrong digest\n");
        abort();
    }
    bft_node_state_digest(c, &dc1);
    if (memcmp(dc0.b, dc1.b, 32) != 0) abort();
    bft_node_destroy(c);
    bft_node_destroy(a);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!size) return 0;
    struct bft_node_config cfg;
    fz_node_config(&cfg, BFT_PROTO_RAFT, 0); /* crypto_init */
    switch (data[0] % 3) {
    case 0:
        app_roundtrip(&bft_app_orders, data + 1, size - 1);
        break;
    case 1:
        app_roundtrip(&bft_app_kv, data + 1, size - 1);
        break;
    default:
        node_case(data + 1, size - 1);
        break;
    }
    return 0;
}
