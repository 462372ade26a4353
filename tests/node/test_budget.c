/* node/budget.c: the stage accumulator charges every ns between two
 * readings to exactly one stage (the innermost), so the stages add up to
 * the wall time; its nesting is bounded. Times are made up: the
 * accumulator never reads the clock itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "node/budget.h"

static uint64_t total(const struct bft_budget *b)
{
    uint64_t t = 0;
    for (int s = 0; s < BFT_BUDGET_MAX_STAGES; s++)
        t += b->ns[s];
    return t;
}

static void test_nested_stages_are_exclusive(void **state)
{
    (void)state;
    struct bft_budget b;
    bft_budget_start(&b, BFT_STAGE_OTHER, 1000);
    bft_budget_push(&b, BFT_STAGE_IDLE, 1100); /* other 100 */
    bft_budget_pop(&b, 1600);                  /* idle 500 */
    bft_budget_push(&b, BFT_STAGE_CORE, 1600);
    bft_budget_push(&b, BFT_STAGE_EXECUTE, 1650); /* core 50 */
    bft_budget_push(&b, BFT_STAGE_SIGN, 1700);    /* execute 50 */
    bft_budget_pop(&b, 1713);                     /* sign 13 */
    bft_budget_pop(&b, 1720);                     /* execute 7 */
    bft_budget_pop(&b, 1730);                     /* core 10 */
    bft_budget_settle(&b, 1800);                  /* other 70 */
    assert_int_equal(b.ns[BFT_STAGE_OTHER], 170);
    assert_int_equal(b.ns[BFT_STAGE_IDLE], 500);
    assert_int_equal(b.ns[BFT_STAGE_CORE], 60);
    assert_int_equal(b.ns[BFT_STAGE_EXECUTE], 57);
    assert_int_equal(b.ns[BFT_STAGE_SIGN], 13);
    assert_int_equal(total(&b), 800); /* the wall time from start to settle */
    assert_int_equal(b.depth, 1);
    assert_int_equal(b.calls[BFT_STAGE_IDLE], 1);
    assert_int_equal(b.calls[BFT_STAGE_SIGN], 1);
    assert_int_equal(b.calls[BFT_STAGE_OTHER], 0); /* the base is never entered */
}

static void test_depth_is_bounded_and_pops_match(void **state)
{
    (void)state;
    struct bft_budget b;
    bft_budget_start(&b, BFT_STAGE_OTHER, 0);
    uint64_t t = 0;
    for (int i = 0; i < BFT_BUDGET_DEPTH + 3; i++)
        bft_budget_push(&b, BFT_STAGE_VERIFY, t += 10);
    assert_int_equal(b.depth, BFT_BUDGET_DEPTH);
    assert_int_equal(b.overflow, 4); /* the base takes one level */
    for (int i = 0; i < BFT_BUDGET_DEPTH + 3; i++)
        bft_budget_pop(&b, t += 10);
    assert_int_equal(b.depth, 1);
    assert_int_equal(b.overflow, 0);
    /* The base is never popped: an extra pop changes nothing. */
    bft_budget_pop(&b, t += 10);
    assert_int_equal(b.depth, 1);
    assert_int_equal(total(&b), t);
    /* A stage outside the accumulator is an overflow, not a write. */
    bft_budget_push(&b, BFT_BUDGET_MAX_STAGES, t += 10);
    assert_int_equal(b.overflow, 1);
    bft_budget_pop(&b, t += 10);
    assert_int_equal(total(&b), t);
}

static void test_not_started_and_stale_readings_charge_nothing(void **state)
{
    (void)state;
    struct bft_budget b;
    memset(&b, 0, sizeof b);
    bft_budget_push(&b, BFT_STAGE_CORE, 100);
    bft_budget_pop(&b, 200);
    bft_budget_settle(&b, 300);
    assert_int_equal(total(&b), 0);
    bft_budget_start(&b, BFT_STAGE_OTHER, 1000);
    bft_budget_push(&b, BFT_STAGE_WAL, 900); /* earlier than the last reading */
    bft_budget_pop(&b, 1200);
    assert_int_equal(b.ns[BFT_STAGE_WAL], 200);
    assert_int_equal(total(&b), 200);
}

static void test_stage_names(void **state)
{
    (void)state;
    assert_string_equal(bft_stage_name(BFT_STAGE_IDLE), "idle");
    assert_string_equal(bft_stage_name(BFT_STAGE_WAL), "wal");
    assert_string_equal(bft_stage_name(BFT_STAGE_OTHER), "other");
    assert_string_equal(bft_stage_name(BFT_STAGE__COUNT), "?");
    uint64_t a = bft_budget_clock_ns(), b = bft_budget_clock_ns();
    assert_true(a > 0 && b >= a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_nested_stages_are_exclusive),
        cmocka_unit_test(test_depth_is_bounded_and_pops_match),
        cmocka_unit_test(test_not_started_and_stale_readings_charge_nothing),
        cmocka_unit_test(test_stage_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
