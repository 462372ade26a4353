/* PBFT in the deterministic simulator, slow primaries under load: a slow
 * primary (and a slow successor) is voted out and throughput recovers,
 * while a healthy primary keeps its view loaded or idle (docs/pbft.md
 * "Slow primaries"). Sweeps and scripted scenarios are in test_sim_pbft.c. */
#include "tests/sim/sim_pbft_test_util.h"

/* Closed-loop load from every client, several requests in flight each, so
 * the primary has a backlog and cuts multi-envelope batches. */
static struct sim *mk_loaded(uint32_t n, uint32_t clients, uint32_t outstanding)
{
    struct sim_options o;
    sim_options_default(&o, BFT_PROTO_PBFT, n);
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

/* The faults/ `slow` behaviour delays everything the primary sends by 60%
 * of the request timeout: the request timer never expires. The backups'
 * monitor must vote it out within a few seconds, and the next view must
 * run at the fault-free rate again. */
static void test_slow_primary_voted_out_and_throughput_recovers(void **state)
{
    (void)state;
    struct sim *s = mk_loaded(4, 4, 4);
    sim_run_until(s, 2 * SEC, NULL, NULL);
    uint64_t before = completed(s, 4);
    assert_true(before > 0);
    const char *slow0[] = {"0:slow"};
    apply_faults(s, 4, slow0, 1);
    struct view_ctx v = {.mask = 0xe, .view = 1};
    assert_true(sim_run_until(s, sim_now_us(s) + 5 * SEC, all_in_view, &v));
    sim_run_until(s, sim_now_us(s) + SEC, NULL, NULL); /* settle */
    uint64_t from = completed(s, 4);
    sim_run_until(s, sim_now_us(s) + 2 * SEC, NULL, NULL);
    uint64_t after = completed(s, 4) - from;
    /* 2 s in the new view do at least half of the first 2 fault-free s. */
    assert_true(2 * after >= before);
    for (uint32_t i = 1; i < 4; i++)
        assert_int_equal(status(s, i).view, 1);
    assert_not_failed(s);
    sim_destroy(s);
}

/* f = 2: primaries 0 and 1 both turn slow. View 1 starts from the history
 * of view 0 (what primary 0 did before it slowed down), so its slow
 * primary is voted out too, and view 2 keeps working. */
static void test_slow_successor_voted_out_too(void **state)
{
    (void)state;
    struct sim *s = mk_loaded(7, 4, 4);
    sim_run_until(s, 2 * SEC, NULL, NULL);
    const char *slow01[] = {"0:slow", "1:slow"};
    apply_faults(s, 7, slow01, 2);
    struct view_ctx v = {.mask = 0x7c, .view = 2};
    assert_true(sim_run_until(s, sim_now_us(s) + 10 * SEC, all_in_view, &v));
    sim_run_until(s, sim_now_us(s) + 3 * SEC, NULL, NULL);
    for (uint32_t i = 2; i < 7; i++)
        assert_int_equal(status(s, i).view, 2);
    uint64_t from = completed(s, 4);
    sim_run_until(s, sim_now_us(s) + SEC, NULL, NULL);
    assert_true(completed(s, 4) > from);
    assert_not_failed(s);
    sim_destroy(s);
}

/* No storms: 20 s of fault-free load, then 20 s idle, then a trickle of
 * single requests: the monitor never votes anybody out. */
static void test_healthy_loaded_and_idle_cluster_keeps_its_primary(void **state)
{
    (void)state;
    struct sim *s = mk_loaded(4, 4, 4);
    sim_run_until(s, 20 * SEC, NULL, NULL);
    sim_clients_load(s, false);
    sim_run_until(s, 40 * SEC, NULL, NULL);
    for (int i = 0; i < 20; i++) {
        submit_and_wait(s, (uint32_t)i % 4, 5 * SEC);
        sim_run_until(s, sim_now_us(s) + 400 * MS, NULL, NULL);
    }
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(status(s, i).view, 0);
        assert_int_equal(status(s, i).view_changes, 0);
    }
    assert_not_failed(s);
    sim_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_slow_primary_voted_out_and_throughput_recovers),
        cmocka_unit_test(test_slow_successor_voted_out_too),
        cmocka_unit_test(test_healthy_loaded_and_idle_cluster_keeps_its_primary),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
