/* HotStuff's leader performance monitor in the deterministic simulator
 * (core/hotstuff/hotstuff_monitor.c, docs/hotstuff.md "Leader performance
 * monitor"): a leader that turns slow (faults/ `slow`: everything it sends
 * is delayed by 60% of the view timeout, so no view times out) loses its
 * window of views, and throughput recovers. Leader of view v = (v / 256)
 * mod n (leader windows). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sim/sim.h"
#include "sim/sim_internal.h"

#define MS 1000ull
#define SEC 1000000ull
#define W 256

static struct sim *mk_loaded(uint32_t n, uint32_t clients, uint32_t outstanding)
{
    struct sim_options o;
    sim_options_default(&o, BFT_PROTO_HOTSTUFF, n);
    o.clients = clients;
    o.outstanding = outstanding;
    o.request_timeout_ms = 500;
    o.verbose = getenv("SIM_VERBOSE") != NULL;
    struct sim *s = NULL;
    char err[256];
    if (sim_create(&s, &o, 11, err, sizeof(err)) != BFT_E_OK) fail_msg("sim_create: %s", err);
    return s;
}

static void apply_faults(struct sim *s, uint32_t n, const char *const *specs, uint32_t k)
{
    struct fault_plan p;
    char err[256];
    fault_plan_init(&p, n, 5);
    for (uint32_t i = 0; i < k; i++)
        if (fault_plan_add_fault(&p, specs[i], err, sizeof(err)) != BFT_E_OK) fail_msg("%s", err);
    if (sim_apply_plan(s, &p, NULL, err, sizeof(err)) != BFT_E_OK) fail_msg("%s", err);
}

static uint64_t completed(struct sim *s, uint32_t clients)
{
    uint64_t k = 0;
    for (uint32_t c = 0; c < clients; c++)
        k += sim_client_completed(s, c);
    return k;
}

static struct sim_replica_status status(struct sim *s, uint32_t r)
{
    struct sim_replica_status st;
    assert_int_equal(sim_replica_status(s, r, &st), BFT_E_OK);
    return st;
}

static void assert_not_failed(struct sim *s)
{
    const char *why = NULL;
    if (sim_failed(s, &why)) fail_msg("invariant violated: %s", why);
}

struct view_ctx {
    uint32_t mask;
    uint64_t view;
};
static bool all_in_view(struct sim *s, void *ctx)
{
    struct view_ctx *v = ctx;
    for (uint32_t r = 0; r < BFT_MAX_REPLICAS; r++) {
        if (!(v->mask >> r & 1)) continue;
        struct sim_replica_status st;
        sim_replica_status(s, r, &st);
        if (!st.up || st.view < v->view) return false;
    }
    return true;
}

/* The leader of the current window turns slow 2 s in. The others give up on its window within a
 * few seconds (a TC moves them to leader 1's window), and over the next
 * 10 s, which include the slow leader's later turns, the cluster does at
 * least half of its fault-free rate. */
static void test_slow_leader_loses_window_and_throughput_recovers(void **state)
{
    (void)state;
    struct sim *s = mk_loaded(4, 4, 4);
    sim_run_until(s, 2 * SEC, NULL, NULL);
    uint64_t before = completed(s, 4);
    assert_true(before > 0);
    /* The current leader turns slow. */
    uint64_t view = status(s, 1).view;
    uint32_t leader = (uint32_t)(view / W % 4);
    char spec[16];
    snprintf(spec, sizeof spec, "%u:slow", leader);
    const char *slow[] = {spec};
    apply_faults(s, 4, slow, 1);
    struct view_ctx v = {.mask = 0xfu & ~(1u << leader), .view = (view / W + 1) * W};
    assert_true(sim_run_until(s, sim_now_us(s) + 5 * SEC, all_in_view, &v));
    uint64_t from = completed(s, 4);
    sim_run_until(s, sim_now_us(s) + 10 * SEC, NULL, NULL);
    uint64_t after = completed(s, 4) - from;
    if (getenv("SIM_VERBOSE"))
        fprintf(stderr, "before %llu / 2 s, after %llu / 10 s, view %llu\n",
                (unsigned long long)before, (unsigned long long)after,
                (unsigned long long)status(s, 1).view);
    /* 10 s with the slow leader around do at least half of 5 x 2 s. */
    assert_true(2 * after >= 5 * before);
    assert_not_failed(s);
    sim_destroy(s);
}

/* No storms: 20 s of fault-free load, then 20 s idle, then a trickle: no
 * view is ever given up (no TC), so no view change at all. */
static void test_healthy_loaded_and_idle_cluster_keeps_its_leaders(void **state)
{
    (void)state;
    struct sim *s = mk_loaded(4, 4, 4);
    sim_run_until(s, 20 * SEC, NULL, NULL);
    sim_clients_load(s, false);
    sim_run_until(s, 40 * SEC, NULL, NULL);
    for (int i = 0; i < 20; i++) {
        uint64_t r = sim_client_submit_order(s, (uint32_t)i % 4, 0);
        assert_true(r > 0);
        sim_run_until(s, sim_now_us(s) + 400 * MS, NULL, NULL);
        assert_true(sim_client_done(s, (uint32_t)i % 4, r));
    }
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(status(s, i).view_changes, 0);
    assert_true(completed(s, 4) > 0);
    assert_not_failed(s);
    sim_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_leader_loses_window_and_throughput_recovers),
        cmocka_unit_test(test_healthy_loaded_and_idle_cluster_keeps_its_leaders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
