/* core/grow.h: buffers and arrays grow by doubling and never past their
 * bound; bft_buf and bft_grow_array keep their contents as they grow,
 * bft_grow_array zeroes what it adds, and a failed allocation
 * (tests/lib/fail_alloc.h) leaves both as they were. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/grow.h"
#include "tests/lib/fail_alloc.h"

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

struct item {
    uint64_t a;
    uint32_t b;
};

static void test_array_grows_from_first_by_doubling_to_max(void **state)
{
    (void)state;
    struct item *e = NULL;
    uint32_t cap = 0;
    const uint32_t need[] = {1, 4, 5, 9, 12};
    const uint32_t want[] = {4, 4, 8, 12, 12}; /* first 4, doubling, max 12 */
    for (size_t k = 0; k < sizeof need / sizeof need[0]; k++) {
        struct item *g = bft_grow_array(e, sizeof *e, &cap, need[k], 4, 12);
        assert_non_null(g);
        if (cap == 4 || k == 4) assert_true(e == NULL || g == e); /* fits: same array */
        e = g;
        assert_int_equal(cap, want[k]);
        /* The old items kept their values; the new ones are zero. */
        for (uint32_t i = 0; i < cap; i++) {
            if (e[i].b) {
                assert_int_equal(e[i].a, 100 + i);
                assert_int_equal(e[i].b, i + 1);
            } else {
                assert_int_equal(e[i].a, 0);
            }
        }
        for (uint32_t i = 0; i < need[k]; i++)
            e[i] = (struct item){.a = 100 + i, .b = i + 1};
    }
    assert_null(bft_grow_array(e, sizeof *e, &cap, 13, 4, 12)); /* past the bound */
    assert_int_equal(cap, 12);
    assert_int_equal(e[11].a, 111); /* and unchanged */
    free(e);
}

static void test_array_unchanged_when_memory_is_short(void **state)
{
    (void)state;
    uint32_t cap = 0;
    fail_alloc_after(0);
    assert_null(bft_grow_array(NULL, 8, &cap, 1, 2, 64));
    assert_int_equal(cap, 0);
    uint64_t *e = bft_grow_array(NULL, sizeof *e, &cap, 2, 2, 64);
    assert_non_null(e);
    e[0] = 7;
    e[1] = 8;
    fail_alloc_after(0);
    assert_null(bft_grow_array(e, sizeof *e, &cap, 3, 2, 64));
    assert_int_equal(cap, 2);
    assert_int_equal(e[1], 8); /* still ours, still whole */
    e = bft_grow_array(e, sizeof *e, &cap, 3, 2, 64);
    assert_non_null(e);
    assert_int_equal(cap, 4);
    assert_int_equal(e[0], 7);
    assert_int_equal(e[2], 0);
    free(e);
    /* A size whose bound would overflow size_t is refused, not wrapped. */
    cap = 0;
    assert_null(bft_grow_array(NULL, SIZE_MAX / 2, &cap, 1, 1, 4));
    assert_int_equal(cap, 0);
}

static void test_buf_unchanged_when_memory_is_short(void **state)
{
    (void)state;
    struct bft_buf b = {0};
    uint8_t *p = bft_buf_reserve(&b, 10, 4096);
    assert_non_null(p);
    p[0] = 42;
    fail_alloc_after(0);
    assert_null(bft_buf_reserve(&b, 1000, 4096));
    assert_ptr_equal(b.p, p);
    assert_int_equal(b.cap, 256);
    assert_int_equal(b.p[0], 42);
    bft_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_doubles_until_the_need_fits),
        cmocka_unit_test(test_never_past_the_bound),
        cmocka_unit_test(test_zero_capacity_grows),
        cmocka_unit_test(test_buf_grows_keeps_contents_and_stops_at_the_bound),
        cmocka_unit_test(test_array_grows_from_first_by_doubling_to_max),
        cmocka_unit_test(test_array_unchanged_when_memory_is_short),
        cmocka_unit_test(test_buf_unchanged_when_memory_is_short),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
