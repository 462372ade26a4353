/* The node outbox (node/node_out.c): the arena and the entry table start
 * small and grow by doubling, never past NODE_OUTBOX_BYTES and
 * NODE_OUTBOX_ENTRIES; at a bound the outbox flushes early, as before it
 * grew lazily. Everything queued is delivered once, in order, byte for
 * byte, and only by a flush. Entries marked to go ahead of the sync
 * (bft_io.send_ahead: the Raft leader's appends, Raft §10.2.1) leave and
 * are pushed before the sync; everything else only after a good sync. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/node.h"
#include "app/app.h"
#include "core/core.h"
#include "wire/wire.h"
#include "node/node_internal.h"
#include "crypto/crypto.h"

static const uint8_t client_pk[1][CRYPTO_PK_LEN];

/* What the host was given: per send, destination, length and a check
 * that the bytes are the ones queued (every byte = message number). */
static uint32_t sent, bad;
static uint32_t last_dest;
static size_t last_len;
static void rec_send(void *ctx, uint32_t to, const uint8_t *msg, size_t len)
{
    (void)ctx;
    for (size_t i = 0; i < len; i++)
        if (msg[i] != (uint8_t)sent) {
            bad++;
            break;
        }
    last_dest = to;
    last_len = len;
    sent++;
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

/* A node of `proto` with n replicas on `host`; its start-up sends are
 * flushed and forgotten. */
static struct bft_node *mk_on(enum bft_protocol proto, uint32_t n_rep, const struct bft_host *host)
{
    struct bft_node_config cfg;
    memset(&cfg, 0, sizeof cfg);
    bft_core_config_defaults(&cfg.core, proto, n_rep, 0);
    cfg.app = &bft_app_orders;
    cfg.n_clients = 1;
    cfg.client_pk = client_pk;
    cfg.null_crypto = true;
    uint8_t seed[CRYPTO_SEED_LEN] = {1};
    crypto_keypair_from_seed(&cfg.self_key, seed);
    struct bft_node *n = NULL;
    char err[128];
    assert_int_equal(bft_node_create(&n, &cfg, host, err, sizeof err), BFT_E_OK);
    bft_node_flush(n);
    return n;
}

static struct bft_node *mk(void)
{
    struct bft_host host = {.send = rec_send,
                            .send_client = rec_send,
                            .persist = no_persist,
                            .set_timer = no_timer,
                            .cancel_timer = no_cancel};
    struct bft_node *n = mk_on(BFT_PROTO_PBFT, 4, &host);
    sent = bad = 0;
    return n;
}

/* Queue message k (len bytes of value k) for replica k % 3 + 1. */
static void queue(struct bft_node *n, uint32_t k, size_t len, uint8_t *buf)
{
    memset(buf, (uint8_t)k, len);
    node_queue_raw(n, k % 3 + 1, buf, len);
}

static void test_starts_small_and_grows(void **state)
{
    (void)state;
    struct bft_node *n = mk();
    assert_int_equal(n->arena_cap, NODE_OUTBOX_BYTES_INIT);
    assert_int_equal(n->out_cap, NODE_OUTBOX_ENTRIES_INIT);
    static uint8_t buf[1000];
    uint32_t count = 2 * NODE_OUTBOX_ENTRIES_INIT; /* 512 KB, 512 entries */
    for (uint32_t k = 0; k < count; k++)
        queue(n, k, sizeof buf, buf);
    assert_int_equal(sent, 0); /* nothing leaves before the flush */
    assert_true(n->arena_cap >= count * sizeof buf && n->arena_cap <= NODE_OUTBOX_BYTES);
    assert_true(n->out_cap >= count && n->out_cap <= NODE_OUTBOX_ENTRIES);
    bft_node_flush(n);
    assert_int_equal(sent, count);
    assert_int_equal(bad, 0);
    assert_int_equal(last_dest, (count - 1) % 3 + 1);
    assert_int_equal(last_len, sizeof buf);
    bft_node_destroy(n);
}

/* At the byte bound the outbox flushes early: 1 MiB messages, the ninth
 * does not fit in 8 MiB with the eight before it. */
static void test_byte_bound_flushes_early(void **state)
{
    (void)state;
    struct bft_node *n = mk();
    size_t len = 1u << 20;
    uint8_t *buf = malloc(len);
    assert_non_null(buf);
    uint32_t per = NODE_OUTBOX_BYTES / (uint32_t)len;
    for (uint32_t k = 0; k < per; k++)
        queue(n, k, len, buf);
    assert_int_equal(sent, 0);
    assert_int_equal(n->arena_cap, NODE_OUTBOX_BYTES);
    queue(n, per, len, buf);
    assert_int_equal(sent, per); /* the first `per` went out to make room */
    assert_int_equal(n->arena_cap, NODE_OUTBOX_BYTES);
    bft_node_flush(n);
    assert_int_equal(sent, per + 1);
    assert_int_equal(bad, 0);
    /* Bigger than the whole arena: never queued. */
    uint8_t *huge = calloc(1, (size_t)NODE_OUTBOX_BYTES + 1);
    assert_non_null(huge);
    node_queue_raw(n, 1, huge, (size_t)NODE_OUTBOX_BYTES + 1);
    bft_node_flush(n);
    assert_int_equal(sent, per + 1);
    free(huge);
    free(buf);
    bft_node_destroy(n);
}

/* issue 14: the arena a burst grew is kept while steps use it, and given
 * back after a step that used less than a quarter of it; the next burst
 * grows it again. */
static void test_arena_shrinks_after_burst(void **state)
{
    (void)state;
    struct bft_node *n = mk();
    size_t len = 1u << 20;
    uint8_t *buf = calloc(1, len);
    assert_non_null(buf);
    for (uint32_t k = 0; k < 4; k++)
        queue(n, k, len, buf);
    assert_true(n->arena_cap >= 4 * len);
    bft_node_flush(n);
    assert_true(n->arena_cap >= 4 * len); /* the step used all of it */
    queue(n, 4, 100, buf);                /* message k carries the byte k: sent in order */
    bft_node_flush(n);
    assert_int_equal(n->arena_cap, NODE_OUTBOX_BYTES_INIT);
    for (uint32_t k = 5; k < 8; k++)
        queue(n, k, len, buf);
    bft_node_flush(n);
    assert_int_equal(sent, 4 + 1 + 3);
    assert_int_equal(bad, 0);
    free(buf);
    bft_node_destroy(n);
}

/* At the entry bound likewise. */
static void test_entry_bound_flushes_early(void **state)
{
    (void)state;
    struct bft_node *n = mk();
    uint8_t buf[8];
    for (uint32_t k = 0; k < NODE_OUTBOX_ENTRIES; k++)
        queue(n, k, sizeof buf, buf);
    assert_int_equal(sent, 0);
    assert_int_equal(n->out_cap, NODE_OUTBOX_ENTRIES);
    queue(n, NODE_OUTBOX_ENTRIES, sizeof buf, buf);
    assert_int_equal(sent, NODE_OUTBOX_ENTRIES);
    bft_node_flush(n);
    assert_int_equal(sent, NODE_OUTBOX_ENTRIES + 1);
    assert_int_equal(bad, 0);
    assert_int_equal(n->out_cap, NODE_OUTBOX_ENTRIES);
    bft_node_destroy(n);
}

/* The order of host events in a flush: 's<dest>' send, 'P' push, 'S'
 * sync. */
static char events[64];
static size_t n_events;
static int sync_rv;
static void ev_send(void *ctx, uint32_t to, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)msg, (void)len;
    if (n_events + 2 < sizeof events) {
        events[n_events++] = 's';
        events[n_events++] = (char)('0' + to);
    }
}
static void ev_push(void *ctx)
{
    (void)ctx;
    if (n_events + 1 < sizeof events) events[n_events++] = 'P';
}
static int ev_sync(void *ctx)
{
    (void)ctx;
    if (n_events + 1 < sizeof events) events[n_events++] = 'S';
    return sync_rv;
}

static struct bft_node *mk_ev(void)
{
    struct bft_host host = {.send = ev_send,
                            .send_client = ev_send,
                            .persist = no_persist,
                            .sync = ev_sync,
                            .push = ev_push,
                            .set_timer = no_timer,
                            .cancel_timer = no_cancel};
    struct bft_node *n = mk_on(BFT_PROTO_RAFT, 3, &host);
    memset(events, 0, sizeof events);
    n_events = 0;
    sync_rv = 0;
    return n;
}

static void queue_three(struct bft_node *n)
{
    uint8_t a[8] = {0}, b[8] = {0}, c[8] = {0};
    node_queue_raw(n, 1, a, sizeof a);                   /* a vote or ack */
    node_queue_raw(n, 2 | NODE_DEST_AHEAD, b, sizeof b); /* an append */
    node_queue_raw(n, 2, c, sizeof c);
}

static void test_ahead_leaves_before_the_sync(void **state)
{
    (void)state;
    struct bft_node *n = mk_ev();
    queue_three(n);
    n->dirty = true; /* this step persisted something */
    bft_node_flush(n);
    assert_string_equal(events, "s2PSs1s2");
    bft_node_destroy(n);
}

/* If the sync fails, only what was allowed ahead of it has left. */
static void test_failed_sync_drops_the_rest_not_the_ahead(void **state)
{
    (void)state;
    struct bft_node *n = mk_ev();
    queue_three(n);
    n->dirty = true;
    sync_rv = -1;
    bft_node_flush(n);
    assert_string_equal(events, "s2PS");
    assert_int_equal(n->n_out, 0);
    assert_int_equal(n->n_ahead, 0);
    bft_node_destroy(n);
}

/* Nothing to sync: no push, no reordering, everything in queue order. */
static void test_without_a_sync_order_is_kept(void **state)
{
    (void)state;
    struct bft_node *n = mk_ev();
    queue_three(n);
    bft_node_flush(n);
    assert_string_equal(events, "s1s2s2");
    bft_node_destroy(n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_starts_small_and_grows),
        cmocka_unit_test(test_byte_bound_flushes_early),
        cmocka_unit_test(test_arena_shrinks_after_burst),
        cmocka_unit_test(test_entry_bound_flushes_early),
        cmocka_unit_test(test_ahead_leaves_before_the_sync),
        cmocka_unit_test(test_failed_sync_drops_the_rest_not_the_ahead),
        cmocka_unit_test(test_without_a_sync_order_is_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
