/* A replica that lies to clients (TOCS'02 §4.1: "the client waits for f+1
 * replies with valid signatures from different replicas, and with the same
 * result"). No faults/ behaviour touches client replies, so without this
 * test a client that accepted the first reply would pass every simulator
 * profile: honest replicas never disagree about a result. Here replica 3
 * (f = 1, n = 4) rewrites every result it sends a client -- the order_seq of
 * each order result, acknowledged or read -- and re-signs the reply with its
 * real key. Honest replicas' replies are untouched, so a client that needs
 * f+1 matching replies (2f+1 for a read) never accepts the lie; one that
 * needs fewer acknowledges an order_seq no honest replica applied, which the
 * checker reports ("orders: ... acknowledged with order_seq X, applied as
 * Y", or a read that finds the wrong order_seq). make mutants relies on it
 * (mutant client-reply-quorum, docs/mutants.md). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/app.h"
#include "tests/sim/sim_test.h"

#define LIAR 3
#define LIE 1000003ull /* added to every order_seq the liar reports */

struct liar {
    uint64_t rewritten; /* results changed */
};

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static void put_le64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* REPLY body (wire/wire.h): u32 client | u16 n_ranges | ranges of
 * (u64 first | u16 count | count x (u16 len | result)); an order result is
 * u8 status | u64 order_seq (bft.h). Only replies to clients are touched:
 * every order result in every range is rewritten in place. */
static int lie_on_send(void *ctx, struct sim *s, uint32_t from, int to_ep, uint8_t *msg,
                       size_t *len, size_t cap)
{
    (void)cap;
    struct liar *l = ctx;
    struct bft_msg m;
    struct bft_reply_iter it;
    struct bft_reply_range rg;
    if (to_ep < SIM_EP_CLIENT_BASE || bft_msg_decode(msg, *len, &m) != BFT_E_OK ||
        m.type != BFT_MSG_REPLY || !bft_reply_iter_init(&it, m.body, m.body_len))
        return SIM_SEND_PASS;
    bool changed = false;
    while (bft_reply_iter_next(&it, &rg)) {
        struct bft_reply_res_iter ri;
        bft_reply_res_init(&ri, &rg);
        uint64_t no;
        const uint8_t *res;
        size_t rl;
        while (bft_reply_res_next(&ri, &no, &res, &rl)) {
            uint8_t *p = msg + (res - msg); /* the result's bytes in our buffer */
            if (rl == BFT_ORDER_RES_LEN && le64(p + 1) != 0) {
                put_le64(p + 1, le64(p + 1) + LIE);
                changed = true;
            }
        }
    }
    if (!changed) return SIM_SEND_PASS;
    assert_int_equal(sim_sign_as(s, from, msg, *len), BFT_E_OK);
    l->rewritten++;
    return SIM_SEND_PASS;
}

/* Load for `secs` virtual seconds with the liar in place; no invariant may
 * break, and the liar must really have lied. */
static void run_with_liar(int protocol, uint64_t seed, uint64_t secs)
{
    struct sim_options o;
    sim_options_default(&o, protocol, 4);
    o.read_pct = 50;
    struct sim *s;
    char err[256];
    if (sim_create(&s, &o, seed, err, sizeof err) != BFT_E_OK) fail_msg("sim_create: %s", err);
    struct liar l = {0};
    sim_set_behaviour(s, LIAR, &(struct sim_behaviour){.ctx = &l, .on_send = lie_on_send});
    sim_run_until(s, secs * SEC, NULL, NULL);
    const char *why = NULL;
    if (sim_failed(s, &why))
        fail_msg("seed %llu: invariant violated: %s", (unsigned long long)seed, why);
    struct sim_stats st;
    sim_stats(s, &st);
    assert_true(l.rewritten > 0);
    assert_true(st.ops_completed > 0);
    sim_destroy(s);
}

static void test_pbft_clients_ignore_a_lying_replica(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= scaled(5); seed++)
        run_with_liar(BFT_PROTO_PBFT, seed, 3);
}

static void test_hotstuff_clients_ignore_a_lying_replica(void **state)
{
    (void)state;
    if (!have_hotstuff()) skip();
    for (uint64_t seed = 1; seed <= scaled(5); seed++)
        run_with_liar(BFT_PROTO_HOTSTUFF, seed, 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pbft_clients_ignore_a_lying_replica),
        cmocka_unit_test(test_hotstuff_clients_ignore_a_lying_replica),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
