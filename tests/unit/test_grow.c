/* core/grow.h: buffers grow by doubling and never past their bound; bft_buf
 * keeps its contents as it grows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/grow.h"

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

static void test_buf_grows_keeps_contents_and_stops_at_the_bound(void **state)
{
    (void)state;
    struct bft_buf b = {0};
    uint8_t *p = bft_buf_reserve(&b, 10, 4096);
    assert_non_null(p);
    assert_int_equal(b.cap, 256); /* starts small */
    memcpy(p, "0123456789", 10);
    p = bft_buf_reserve(&b, 1000, 4096);
    assert_non_null(p);
    assert_int_equal(b.cap, 1024);
    assert_memory_equal(p, "0123456789", 10);
    assert_ptr_equal(bft_buf_reserve(&b, 100, 4096), p); /* fits: no realloc */
    assert_null(bft_buf_reserve(&b, 4097, 4096));        /* past the bound */
    assert_int_equal(b.cap, 1024);                       /* and unchanged */
    assert_non_null(bft_buf_reserve(&b, 4096, 4096));
    assert_int_equal(b.cap, 4096);
    bft_buf_free(&b);
    assert_null(b.p);
    assert_int_equal(b.cap, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubles_until_the_need_fits),
        cmocka_unit_test(test_never_past_the_bound),
        cmocka_unit_test(test_zero_capacity_grows),
        cmocka_unit_test(test_buf_grows_keeps_contents_and_stops_at_the_bound),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
