/* The network filter (faults/netfault.c): symmetric and asymmetric
 * partitions with their windows, clients never partitioned, twin
 * instances kept to their side, and rates that are statistically what
 * they say and replay exactly from the seed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "faults/faults.h"

static char err[256];

static struct fault_net *make_net(const char *const *parts, const char *net, uint64_t seed)
{
    struct fault_plan p;
    fault_plan_init(&p, 4, seed);
    for (int i = 0; parts && parts[i]; i++)
        if (fault_plan_add_partition(&p, parts[i], err, sizeof err) != BFT_E_OK)
            fail_msg("%s", err);
    if (net && fault_plan_set_net(&p, net, err, sizeof err) != BFT_E_OK) fail_msg("%s", err);
    struct fault_net *fn;
    assert_int_equal(fault_net_create(&fn, &p), BFT_E_OK);
    return fn;
}

static bool delivered(struct fault_net *fn, uint32_t from, uint32_t to, uint64_t now)
{
    struct fault_net_verdict v;
    fault_net_decide(fn, from, to, now, &v);
    return v.copies > 0;
}

static void test_symmetric_partition(void **state)
{
    (void)state;
    const char *parts[] = {"0,1|2,3@2-8", NULL};
    struct fault_net *fn = make_net(parts, NULL, 1);
    for (uint32_t a = 0; a < 4; a++)
        for (uint32_t b = 0; b < 4; b++) {
            if (a == b) continue;
            bool across = (a < 2) != (b < 2);
            assert_true(delivered(fn, a, b, 1999));
            assert_int_equal(delivered(fn, a, b, 2000), !across);
            assert_int_equal(delivered(fn, a, b, 7999), !across);
            assert_true(delivered(fn, a, b, 8000)); /* healed */
        }
    struct fault_net_verdict v;
    fault_net_decide(fn, 0, 3, 5000, &v);
    assert_int_equal(v.reason, FAULT_NET_DROP_PARTITION);
    /* Clients reach every replica, and every replica its clients. */
    for (uint32_t r = 0; r < 4; r++) {
        assert_true(delivered(fn, FAULT_CLIENT | 0, r, 5000));
        assert_true(delivered(fn, r, FAULT_CLIENT | 2, 5000));
    }
    struct fault_net_stats st;
    fault_net_stats(fn, &st);
    assert_int_equal(st.dropped_partition, 8 * 2 + 1);
    fault_net_destroy(fn);
}

static void test_asymmetric_partition(void **state)
{
    (void)state;
    const char *parts[] = {"0>1,2@1", NULL};
    struct fault_net *fn = make_net(parts, NULL, 1);
    assert_false(delivered(fn, 0, 1, 1000));
    assert_false(delivered(fn, 0, 2, 1000000));
    assert_true(delivered(fn, 0, 3, 1000)); /* not listed */
    assert_true(delivered(fn, 1, 0, 1000)); /* the other way is open */
    assert_true(delivered(fn, 2, 0, 1000));
    assert_true(delivered(fn, 1, 2, 1000));
    assert_true(delivered(fn, 0, 1, 999));
    assert_true(delivered(fn, 0, FAULT_CLIENT | 1, 1000)); /* the old leader hears clients */
    assert_true(delivered(fn, FAULT_CLIENT | 1, 0, 1000));
    fault_net_destroy(fn);
}

static void test_twin_instances(void **state)
{
    (void)state;
    struct fault_plan p;
    fault_plan_init(&p, 4, 1);
    assert_int_equal(fault_plan_add_fault(&p, "0:twin@1", err, sizeof err), BFT_E_OK);
    struct fault_net *i0, *i1;
    assert_int_equal(fault_net_create(&i0, &p), BFT_E_OK);
    assert_int_equal(fault_net_create(&i1, &p), BFT_E_OK);
    fault_net_set_twin(i0, 0, 0);
    fault_net_set_twin(i1, 0, 1);
    /* Side 0 = {1, 2}, side 1 = {3}. */
    assert_true(delivered(i0, 0, 1, 1000) && delivered(i0, 0, 2, 1000));
    assert_false(delivered(i0, 0, 3, 1000));
    assert_false(delivered(i1, 0, 1, 1000) || delivered(i1, 0, 2, 1000));
    assert_true(delivered(i1, 0, 3, 1000));
    assert_true(delivered(i1, 0, 1, 999));  /* before the twin starts */
    assert_true(delivered(i1, 1, 2, 1000)); /* others unaffected */
    fault_net_destroy(i0);
    fault_net_destroy(i1);
}

static void test_rates(void **state)
{
    (void)state;
    const char *spec = "drop=0.1,duplicate=0.05,reorder=0.2,reorder_ms=50,delay_ms=3,jitter_ms=4";
    struct fault_net *fn = make_net(NULL, spec, 77);
    enum { N = 100000 };
    uint32_t dropped = 0, dup = 0, reordered = 0;
    for (uint32_t i = 0; i < N; i++) {
        struct fault_net_verdict v;
        fault_net_decide(fn, i % 4, (i + 1) % 4, 10, &v);
        if (v.copies == 0) {
            assert_int_equal(v.reason, FAULT_NET_DROP_LOSS);
            dropped++;
            continue;
        }
        if (v.copies == 2) dup++;
        for (uint32_t c = 0; c < v.copies; c++) {
            assert_true(v.delay_ms[c] >= 3 && v.delay_ms[c] <= 3 + 4 + 50);
            if (v.delay_ms[c] > 7) reordered++;
        }
    }
    /* Binomial, N = 1e5: the standard deviation of the drop count is ~95. */
    assert_true(dropped > 9400 && dropped < 10600);
    assert_true(dup > 0.05 * (N - dropped) - 500 && dup < 0.05 * (N - dropped) + 500);
    assert_true(reordered > 15000 && reordered < 22000);
    /* Clients see the rates too (the network is not only between replicas). */
    uint32_t client_drops = 0;
    for (int i = 0; i < 10000; i++)
        client_drops += !delivered(fn, FAULT_CLIENT | 1, 0, 10);
    assert_true(client_drops > 800 && client_drops < 1200);
    fault_net_destroy(fn);

    /* Same seed, same verdicts; another seed, others. */
    struct fault_net *a = make_net(NULL, spec, 5), *b = make_net(NULL, spec, 5),
                     *c = make_net(NULL, spec, 6);
    bool differ = false;
    for (int i = 0; i < 1000; i++) {
        struct fault_net_verdict va, vb, vc;
        fault_net_decide(a, 0, 1, 10, &va);
        fault_net_decide(b, 0, 1, 10, &vb);
        fault_net_decide(c, 0, 1, 10, &vc);
        assert_memory_equal(&va, &vb, sizeof va);
        differ = differ || memcmp(&va, &vc, sizeof va) != 0;
    }
    assert_true(differ);
    fault_net_destroy(a);
    fault_net_destroy(b);
    fault_net_destroy(c);
}

static void test_rates_window(void **state)
{
    (void)state;
    struct fault_net *fn = make_net(NULL, "drop=1@2-3", 1);
    assert_true(delivered(fn, 0, 1, 1999));
    assert_false(delivered(fn, 0, 1, 2000));
    assert_false(delivered(fn, 0, 1, 2999));
    assert_true(delivered(fn, 0, 1, 3000));
    fault_net_destroy(fn);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_symmetric_partition), cmocka_unit_test(test_asymmetric_partition),
        cmocka_unit_test(test_twin_instances),      cmocka_unit_test(test_rates),
        cmocka_unit_test(test_rates_window),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
