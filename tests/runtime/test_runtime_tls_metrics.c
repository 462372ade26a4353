/* runtime/runtime_metrics.c: the TLS refusal counter (docs/tls.md) is on
 * the metrics page, labelled by replica, with its type line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "runtime/runtime_metrics.h"

static void test_tls_refused_rendered(void **state)
{
    (void)state;
    struct bft_node_stats st;
    struct net_peer_stats ns;
    memset(&st, 0, sizeof st);
    memset(&ns, 0, sizeof ns);
    ns.tls_refused = 7;
    char page[16384];
    size_t len = rt_metrics_render(page, sizeof page, 2, "pbft", &st, &ns, 0.5, 1000, false);
    assert_true(len > 0 && len < sizeof page);
    assert_non_null(strstr(page, "# TYPE bft_tls_refused_total counter\n"));
    assert_non_null(strstr(page, "bft_tls_refused_total{replica=\"2\"} 7\n"));
    ns.tls_refused = 0;
    rt_metrics_render(page, sizeof page, 0, "raft", &st, &ns, 0.5, 1000, false);
    assert_non_null(strstr(page, "bft_tls_refused_total{replica=\"0\"} 0\n"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_tls_refused_rendered)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
