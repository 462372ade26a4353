/* PBFT view changes that must preserve a request committed at ONE correct
 * replica (Castro & Liskov TOCS'02 §4.4, §4.5: the safety argument of the
 * view-change protocol). The scripted scenarios of test_sim_pbft.c check
 * that a prepared request survives (a spec property: no replica executed
 * it yet, so nothing would break if it were lost); here a replica has
 * already executed the request, so a new primary that computes O wrongly
 * makes the others execute something else at that seq, and the checker
 * reports it as an agreement violation. make mutants needs them (mutants
 * pbft-vc-no-certs, pbft-nv-null-o, pbft-nv-lowest-view, pbft-commit-quorum,
 * docs/mutants.md): the random fault profiles rarely let COMMITs reach
 * exactly one replica just before a view change. Every rule is keyed by
 * message type, endpoints and view, so the schedule does not depend on
 * timing; primary = view mod n is the only PBFT knowledge used. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/sim_test.h"

#define MS 1000ull

static struct sim *mk(void)
{
    struct sim_options o;
    sim_options_default(&o, BFT_PROTO_PBFT, 4);
    o.clients = 2;
    o.request_timeout_ms = 500;
    o.read_pct = 0;
    o.verbose = getenv("SIM_VERBOSE") != NULL;
    struct sim *s = NULL;
    char err[256];
    if (sim_create(&s, &o, 7, err, sizeof(err)) != BFT_E_OK) fail_msg("sim_create: %s", err);
    sim_clients_load(s, false); /* scripted: requests only when a test submits */
    return s;
}

static void drop_in_views(struct sim *s, uint8_t type, uint64_t from, uint64_t to, uint64_t lo,
                          uint64_t hi)
{
    struct sim_rule r = {.action = SIM_RULE_DROP,
                         .type = type,
                         .from_mask = from,
                         .to_mask = to,
                         .match_view = true,
                         .view_lo = lo,
                         .view_hi = hi};
    assert_true(sim_rule_add(s, &r) >= 0);
}

static void drop(struct sim *s, uint8_t type, uint64_t from, uint64_t to)
{
    struct sim_rule r = {.action = SIM_RULE_DROP, .type = type, .from_mask = from, .to_mask = to};
    assert_true(sim_rule_add(s, &r) >= 0);
}

static uint64_t last_exec(struct sim *s, uint32_t r)
{
    struct sim_replica_status st;
    assert_int_equal(sim_replica_status(s, r, &st), BFT_E_OK);
    return st.last_executed;
}

static void assert_not_failed(struct sim *s)
{
    const char *why = NULL;
    if (sim_failed(s, &why)) fail_msg("invariant violated: %s", why);
}

struct done_ctx {
    uint32_t c;
    uint64_t req_no;
};
static bool is_done(struct sim *s, void *ctx)
{
    struct done_ctx *d = ctx;
    return sim_client_done(s, d->c, d->req_no);
}

/* Every replica executed up to seq. */
static bool all_at(struct sim *s, void *ctx)
{
    uint64_t seq = *(uint64_t *)ctx;
    for (uint32_t r = 0; r < 4; r++)
        if (last_exec(s, r) < seq) return false;
    return true;
}

static bool executed_one(struct sim *s, void *ctx)
{
    return last_exec(s, *(uint32_t *)ctx) >= 1;
}

/* Client 0's X commits in view 0 at replica 3 only (the COMMITs reach
 * nobody else); everyone else prepared it. X's retransmissions are then
 * blocked and client 1 submits Y, so a view-1 primary that forgets X's
 * certificate has Y to put at X's seq. It must re-propose X (§4.4: X is
 * prepared at 2f+1 replicas, so every VIEW-CHANGE quorum carries it). */
static void test_request_committed_at_one_replica_survives_view_change(void **state)
{
    (void)state;
    struct sim *s = mk();
    drop_in_views(s, BFT_MSG_COMMIT, SIM_MASK_REPLICAS, SIM_MASK(0) | SIM_MASK(1) | SIM_MASK(2), 0,
                  0);
    uint64_t x = sim_client_submit_order(s, 0, 0);
    assert_true(x > 0);
    sim_run_until(s, sim_now_us(s) + 200 * MS, NULL, NULL);
    /* Arranged: X executed at replica 3 and nowhere else. */
    uint64_t slot = sim_applied_seq(s, 0, x);
    assert_true(slot > 0);
    assert_int_equal(last_exec(s, 3), slot);
    for (uint32_t r = 0; r < 3; r++)
        assert_int_equal(last_exec(s, r), slot - 1);
    /* Replica 3 goes down: it cannot hand its commit certificate to the
     * others (pbft_fetch.c), so only the view change can carry X. */
    assert_int_equal(sim_crash(s, 3), BFT_E_OK);
    drop(s, BFT_MSG_REQUEST, SIM_MASK(SIM_EP_CLIENT(0)), SIM_MASK_ALL);
    uint64_t y = sim_client_submit_order(s, 1, 0);
    assert_true(y > 0);
    struct done_ctx d = {1, y};
    bool done = sim_run_until(s, sim_now_us(s) + 30 * SEC, is_done, &d);
    assert_not_failed(s);
    assert_true(done);
    assert_int_equal(sim_restart(s, 3, true), BFT_E_OK);
    assert_true(sim_run_until(s, sim_now_us(s) + 10 * SEC, all_at, &slot));
    assert_not_failed(s);
    /* X stayed at its seq everywhere; Y came after it. */
    assert_int_equal(sim_applied_seq(s, 0, x), slot);
    assert_true(sim_applied_seq(s, 1, y) > slot);
    sim_destroy(s);
}

/* TOCS'02 §4.5: replica 2 prepared X at seq 1 in view 0; in view 1 (whose
 * primary never hears replica 2's VIEW-CHANGE) Y is proposed at seq 1,
 * prepared by replicas 0, 1 and 3 and committed at replica 3 only. The
 * primary of view 2 (replica 2, holding the older certificate X) must pick
 * the certificate with the highest view, Y: picking X would make replicas
 * 0-2 execute X where replica 3 executed Y. */
static void test_higher_view_certificate_committed_at_one_replica_wins(void **state)
{
    (void)state;
    struct sim *s = mk();
    /* View 0: only replica 2 hears PREPAREs (so only it prepares X);
     * nobody commits. */
    drop_in_views(s, BFT_MSG_PREPARE, SIM_MASK_REPLICAS, SIM_MASK(0) | SIM_MASK(1) | SIM_MASK(3), 0,
                  0);
    drop_in_views(s, BFT_MSG_COMMIT, SIM_MASK_REPLICAS, SIM_MASK_REPLICAS, 0, 0);
    /* View 1: replica 2's VIEW-CHANGE never reaches the primary (1), and
     * replica 2 hears nothing of the normal case; the others prepare, and
     * only replica 3 hears the COMMITs. */
    drop_in_views(s, BFT_MSG_VIEW_CHANGE, SIM_MASK(2), SIM_MASK(1), 1, 1);
    drop_in_views(s, BFT_MSG_PRE_PREPARE, SIM_MASK_REPLICAS, SIM_MASK(2), 1, 1);
    drop_in_views(s, BFT_MSG_PREPARE, SIM_MASK_REPLICAS, SIM_MASK(2), 1, 1);
    drop_in_views(s, BFT_MSG_COMMIT, SIM_MASK_REPLICAS, SIM_MASK(0) | SIM_MASK(1) | SIM_MASK(2), 1,
                  1);
    /* Y never reaches the view-0 primary, so it is first proposed in view 1. */
    drop(s, BFT_MSG_REQUEST, SIM_MASK(SIM_EP_CLIENT(1)), SIM_MASK(0));

    uint64_t x = sim_client_submit_order(s, 0, 0);
    assert_true(x > 0);
    sim_run_until(s, sim_now_us(s) + 200 * MS, NULL, NULL);
    /* X's retransmissions would let a later primary order X afresh. */
    drop(s, BFT_MSG_REQUEST, SIM_MASK(SIM_EP_CLIENT(0)), SIM_MASK_ALL);
    uint64_t y = sim_client_submit_order(s, 1, 0);
    assert_true(y > 0);
    /* Arranged: in view 1 Y executed at replica 3 only. */
    uint32_t r3 = 3;
    assert_true(sim_run_until(s, sim_now_us(s) + 30 * SEC, executed_one, &r3));
    assert_int_equal(sim_applied_seq(s, 1, y), 1);
    for (uint32_t r = 0; r < 3; r++)
        assert_int_equal(last_exec(s, r), 0);
    /* Replica 3 goes down: it cannot hand its commit certificate to the
     * others (pbft_fetch.c), so only the view change can carry Y. */
    assert_int_equal(sim_crash(s, 3), BFT_E_OK);
    struct done_ctx d = {1, y};
    bool done = sim_run_until(s, sim_now_us(s) + 60 * SEC, is_done, &d);
    assert_not_failed(s);
    assert_true(done);
    assert_int_equal(sim_restart(s, 3, true), BFT_E_OK);
    uint64_t one = 1;
    assert_true(sim_run_until(s, sim_now_us(s) + 10 * SEC, all_at, &one));
    assert_not_failed(s);
    assert_int_equal(sim_applied_seq(s, 1, y), 1);
    struct sim_replica_status st;
    assert_int_equal(sim_replica_status(s, 0, &st), BFT_E_OK);
    assert_true(st.view >= 2);
    sim_destroy(s);
}

/* TOCS'02 §4.2: committed-local needs 2f+1 matching COMMITs, so that f+1
 * correct replicas prepared the request and one of them is in every
 * VIEW-CHANGE quorum even after f of them lose their state. Here X is
 * prepared at replicas 1 and 3 only and only replica 3 hears COMMITs (from
 * 1 and 3: f+1, one short). Then replica 1 loses its disk (the one fault)
 * and replica 3 is cut off from the other replicas (asynchrony), so the
 * view change to view 1 sees no certificate for X and Y takes seq 1. With
 * 2f+1 COMMITs needed, replica 3 never executed X and all is well; with
 * f+1 it did, and the checker reports the agreement violation. */
static void test_commit_needs_2f_plus_1_commits(void **state)
{
    (void)state;
    struct sim *s = mk();
    /* View 0: PREPAREs reach only replicas 1 and 3; COMMITs only 3. */
    drop_in_views(s, BFT_MSG_PREPARE, SIM_MASK_REPLICAS, SIM_MASK(0) | SIM_MASK(2), 0, 0);
    drop_in_views(s, BFT_MSG_COMMIT, SIM_MASK_REPLICAS, SIM_MASK(0) | SIM_MASK(1) | SIM_MASK(2), 0,
                  0);
    drop_in_views(s, BFT_MSG_COMMIT, SIM_MASK(0) | SIM_MASK(2), SIM_MASK_REPLICAS, 0, 0);
    uint64_t x = sim_client_submit_order(s, 0, 0);
    assert_true(x > 0);
    sim_run_until(s, sim_now_us(s) + 200 * MS, NULL, NULL);
    /* X is not ordered again: neither its client's retransmissions nor
     * the copies backups relay to the primary get through. */
    drop(s, BFT_MSG_REQUEST, SIM_MASK(SIM_EP_CLIENT(0)), SIM_MASK_ALL);
    drop(s, BFT_MSG_REQUEST, SIM_MASK_REPLICAS, SIM_MASK_REPLICAS);
    assert_int_equal(sim_crash(s, 1), BFT_E_OK);
    assert_int_equal(sim_restart(s, 1, false), BFT_E_OK);
    /* ...and the view-0 retransmissions do not teach it X again. */
    drop_in_views(s, BFT_MSG_PRE_PREPARE, SIM_MASK_REPLICAS, SIM_MASK(1), 0, 0);
    drop_in_views(s, BFT_MSG_PREPARE, SIM_MASK_REPLICAS, SIM_MASK(1), 0, 0);
    sim_partition(s, SIM_MASK(3), SIM_MASK(0) | SIM_MASK(1) | SIM_MASK(2));
    uint64_t y = sim_client_submit_order(s, 1, 0);
    assert_true(y > 0);
    struct done_ctx d = {1, y};
    bool done = sim_run_until(s, sim_now_us(s) + 30 * SEC, is_done, &d);
    assert_not_failed(s);
    assert_true(done);
    sim_heal_links(s);
    uint64_t seq = sim_applied_seq(s, 1, y);
    assert_true(sim_run_until(s, sim_now_us(s) + 10 * SEC, all_at, &seq));
    assert_not_failed(s);
    sim_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_request_committed_at_one_replica_survives_view_change),
        cmocka_unit_test(test_higher_view_certificate_committed_at_one_replica_wins),
        cmocka_unit_test(test_commit_needs_2f_plus_1_commits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
