/* bft/grow.h: buffers grow by doubling and never past their bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bft/grow.h"

static void test_doubles_until_the_need_fits(void **state)
{
    (void)state;
    assert_int_equal(bft_grow_cap(64, 65, 1 << 20), 128);
    assert_int_equal(bft_grow_cap(64, 1000, 1 << 20), 1024);
    assert_int_equal(bft_grow_cap(64, 64, 1 << 20), 64); /* already fits */
}

static void test_never_past_the_bound(void **state)
{
    (void)state;
    assert_int_equal(bft_grow_cap(64, 1000, 1000), 1000); /* 1024 > bound */
    assert_int_equal(bft_grow_cap(600, 700, 1000), 1000);
    assert_int_equal(bft_grow_cap(4096, 10, 1000), 1000); /* started above it */
    size_t max = (size_t)-1;
    assert_int_equal(bft_grow_cap(max / 2 + 1, max, max), max); /* no overflow */
}

static void test_zero_capacity_grows(void **state)
{
    (void)state;
    assert_int_equal(bft_grow_cap(0, 5, 100), 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubles_until_the_need_fits),
        cmocka_unit_test(test_never_past_the_bound),
        cmocka_unit_test(test_zero_capacity_grows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
