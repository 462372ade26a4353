/* Raft leader stickiness and the lease (Ongaro's dissertation §4.2.3,
 * §6.4.1): a replica that heard from a live leader within the minimum
 * election timeout refuses (pre-)votes, so no other leader can be elected
 * while the leader's lease holds, and a lease read at the leader sees every
 * acknowledged order. Without it (mutant raft-sticky-votes, docs/mutants.md)
 * the scenario below elects a second leader while the first still serves
 * lease reads.
 *
 * n = 3: leader L, follower F, candidate C. C is cut off from L, so its
 * election timer fires; F still hears L and must refuse C. Whatever F sends
 * L in a term above L's is dropped, so L does not learn of a new term from
 * F and keeps its lease as long as F's last ack allows. If C is elected
 * anyway, client A's order is committed by C and F (A's requests to L are
 * dropped, so A moves on), and client B's linearizable LOOKUP at L, served
 * from L's lease, does not find it: the read checker reports a stale read.
 * With stickiness C is never elected, A's order goes through F to L, and
 * the read finds it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node/node.h"
#include "core/core.h"
#include "tests/sim/sim_test.h"

#define MS 1000ull

static int leader(struct sim *s)
{
    return sim_test_leader(s, 3);
}

struct wait_order {
    uint32_t client;
    uint64_t req_no;
};
static bool order_done(struct sim *s, void *ctx)
{
    const struct wait_order *w = ctx;
    return sim_client_done(s, w->client, w->req_no);
}
struct wait_read {
    uint32_t client;
    uint64_t id;
};
static bool read_done(struct sim *s, void *ctx)
{
    const struct wait_read *w = ctx;
    return sim_client_read_done(s, w->client, w->id);
}
static bool is_leader(struct sim *s, void *ctx)
{
    struct sim_replica_status st;
    assert_int_equal(sim_replica_status(s, *(uint32_t *)ctx, &st), BFT_E_OK);
    return st.up && st.stats.is_leader;
}

/* One run; returns whether C was elected while L led (the scenario the
 * rule forbids), and fails the test on any invariant violation. */
static bool sticky_scenario(uint64_t seed)
{
    struct sim_options o;
    sim_options_default(&o, BFT_PROTO_RAFT, 3);
    o.clients = 2;
    o.request_timeout_ms = 500; /* election timeout: lease 437 ms */
    o.client_retransmit_ms = 20;
    o.read_pct = 0;
    o.verbose = getenv("SIM_VERBOSE") != NULL;
    struct sim *s = NULL;
    char err[256];
    if (sim_create(&s, &o, seed, err, sizeof err) != BFT_E_OK) fail_msg("sim_create: %s", err);
    sim_clients_load(s, false);
    sim_run_until(s, 3 * SEC, NULL, NULL);
    int l = leader(s);
    assert_true(l >= 0);
    uint32_t L = (uint32_t)l, F = (L + 1) % 3, C = (L + 2) % 3;
    /* Both clients learn that L leads (a Raft reply comes from the leader). */
    struct wait_order wa = {0, sim_client_submit_order(s, 0, sim_client_order_id(0, 1))};
    struct wait_order wb = {1, sim_client_submit_order(s, 1, sim_client_order_id(1, 1))};
    assert_true(sim_run_until(s, sim_now_us(s) + 3 * SEC, order_done, &wa));
    assert_true(sim_run_until(s, sim_now_us(s) + 3 * SEC, order_done, &wb));
    struct sim_replica_status st;
    assert_int_equal(sim_replica_status(s, L, &st), BFT_E_OK);
    struct sim_rule quiet = {.action = SIM_RULE_DROP,
                             .from_mask = SIM_MASK(F),
                             .to_mask = SIM_MASK(L),
                             .match_view = true,
                             .view_lo = st.view + 1,
                             .view_hi = UINT64_MAX};
    assert_true(sim_rule_add(s, &quiet) >= 0);
    /* C stops hearing from L: its election timer runs out. */
    sim_partition(s, 1u << L, 1u << C);
    bool elected = sim_run_until(s, sim_now_us(s) + 3 * SEC, is_leader, &C);
    /* A's order, not through L. */
    struct sim_rule no_l = {.action = SIM_RULE_DROP,
                            .type = BFT_MSG_REQUEST,
                            .from_mask = SIM_MASK(SIM_EP_CLIENT(0)),
                            .to_mask = SIM_MASK(L)};
    if (elected) assert_true(sim_rule_add(s, &no_l) >= 0);
    struct wait_order w2 = {0, sim_client_submit_order(s, 0, sim_client_order_id(0, 2))};
    assert_true(sim_run_until(s, sim_now_us(s) + 5 * SEC, order_done, &w2));
    /* B, which still believes L leads, reads A's acknowledged order (at L). */
    struct wait_read wr = {1, sim_client_read(s, 1, 0, sim_client_order_id(0, 2))};
    assert_true(wr.id != 0);
    bool read = sim_run_until(s, sim_now_us(s) + 10 * SEC, read_done, &wr);
    const char *why = NULL;
    if (sim_failed(s, &why)) fail_msg("seed %llu: %s", (unsigned long long)seed, why);
    assert_true(read);
    sim_destroy(s);
    return elected;
}

static void test_raft_follower_hearing_leader_refuses_votes(void **state)
{
    (void)state;
    if (!bft_core_ops_for(BFT_PROTO_RAFT)) skip();
    for (uint64_t seed = 1; seed <= 5; seed++)
        assert_false(sticky_scenario(seed));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raft_follower_hearing_leader_refuses_votes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
