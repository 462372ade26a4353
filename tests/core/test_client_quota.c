/* The per-client share of a pending queue (core/client_quota.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/client_quota.h"

static void test_share_floor_and_release(void **state)
{
    (void)state;
    struct bft_client_quota q;
    assert_int_equal(bft_quota_init(&q, 4, 100, 10, 1000, 100), 0);
    assert_int_equal(q.per_client, 25); /* capacity / clients */
    assert_int_equal(q.per_client_bytes, 250);
    for (int i = 0; i < 25; i++)
        assert_true(bft_quota_take(&q, 0, 1));
    assert_false(bft_quota_take(&q, 0, 1)); /* at its share */
    assert_true(bft_quota_take(&q, 1, 1));  /* the others keep theirs */
    assert_int_equal(bft_quota_count(&q, 0), 25);
    bft_quota_put(&q, 0, 1);
    assert_true(bft_quota_take(&q, 0, 1));
    assert_false(bft_quota_take(&q, 4, 1));   /* not a client */
    assert_false(bft_quota_take(&q, 2, 251)); /* over its byte share */
    assert_true(bft_quota_take(&q, 2, 250));
    bft_quota_reset(&q);
    assert_true(bft_quota_take(&q, 0, 1));
    bft_quota_put(&q, 3, 1); /* nothing queued: stays at zero */
    assert_int_equal(bft_quota_count(&q, 3), 0);
    bft_quota_free(&q);

    assert_int_equal(bft_quota_init(&q, 1000, 100, 10, 1000, 100), 0);
    assert_int_equal(q.per_client, 10); /* many clients: the floor */
    bft_quota_free(&q);

    assert_int_equal(bft_quota_init(&q, 0, 100, 10, 1000, 100), 0); /* unknown: no quota */
    for (int i = 0; i < 1000; i++)
        assert_true(bft_quota_take(&q, 7, 1000));
    bft_quota_free(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_share_floor_and_release),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
