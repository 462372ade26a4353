/* Chained HotStuff, adversarial TIMEOUTs (issue 12). The pacemaker is the
 * LibraBFT/DiemBFT timeout-certificate design (HotStuff PODC'19 §4.4 and §5
 * leave it abstract); docs/hotstuff.md has the rules. */
#include "tests/unit/hotstuff_fixture.h"

/* A Byzantine replica's TIMEOUT for a view a million ahead used to count as
 * "stuck" (hs_has_work) forever: with it, one honest replica's timeout was
 * enough to start the view timer of an idle replica, and so on in every
 * view after. A timeout counts only for views near ours now. */
static void test_far_future_timeout_not_counted_stuck(void **state)
{
    (void)state;
    struct hs_qc g;
    hs_qc_genesis(&g);
    timeout_to(3, 0, 1000000, &g, 0, 0, NULL, NULL);
    assert_false(H->rep[0].armed[HS_TIMER_VIEW]);
    assert_int_equal(status(0).view, 1);
    /* One honest replica stuck in view 1: f = 1 others, not f + 1. */
    timeout_to(1, 0, 1, &g, 0, 0, NULL, NULL);
    assert_false(H->rep[0].armed[HS_TIMER_VIEW]);
    /* A second one is f + 1: replica 0 joins. */
    timeout_to(2, 0, 1, &g, 0, 0, NULL, NULL);
    assert_true(H->rep[0].armed[HS_TIMER_VIEW] || status(0).in_view_change);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_far_future_timeout_not_counted_stuck, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
