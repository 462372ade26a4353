/* The orders audit log line: format/parse round trip, and any change to a
 * field, the previous hash or the line's own hash is detected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bft/bft.h"

static struct bft_audit_entry sample(void)
{
    struct bft_audit_entry e;
    memset(&e, 0, sizeof e);
    e.order_seq = 42;
    e.seq = 17;
    e.view = 2;
    e.client = 3;
    e.client_order_id = 9001;
    strcpy(e.symbol, "AAPL");
    e.side = 1;
    e.qty = 100;
    e.price = -5; /* the line format must not care about sign */
    memset(e.prev, 0xab, 32);
    return e;
}

static void test_round_trip(void **state)
{
    (void)state;
    struct bft_audit_entry e = sample(), d;
    char line[BFT_AUDIT_LINE_MAX];
    size_t n = bft_audit_format(&e, line, sizeof line);
    assert_true(n > 0 && line[n - 1] == '\n');
    assert_int_equal(bft_audit_parse(line, &d), 0);
    assert_int_equal(d.order_seq, 42);
    assert_int_equal(d.client_order_id, 9001);
    assert_string_equal(d.symbol, "AAPL");
    assert_int_equal(d.price, -5);
    assert_memory_equal(d.hash, e.hash, 32);
    assert_memory_equal(d.prev, e.prev, 32);
}

static void test_chain_links(void **state)
{
    (void)state;
    struct bft_audit_entry a = sample(), b = sample();
    char la[BFT_AUDIT_LINE_MAX], lb[BFT_AUDIT_LINE_MAX];
    bft_audit_format(&a, la, sizeof la);
    memcpy(b.prev, a.hash, 32);
    b.order_seq = 43;
    bft_audit_format(&b, lb, sizeof lb);
    struct bft_audit_entry pb;
    assert_int_equal(bft_audit_parse(lb, &pb), 0);
    assert_memory_equal(pb.prev, a.hash, 32);
    /* Same fields, different predecessor: different hash. */
    struct bft_audit_entry c = sample();
    c.order_seq = 43;
    bft_audit_format(&c, lb, sizeof lb);
    assert_memory_not_equal(c.hash, b.hash, 32);
}

static void test_tamper_detected(void **state)
{
    (void)state;
    struct bft_audit_entry e = sample(), d;
    char line[BFT_AUDIT_LINE_MAX];
    size_t n = bft_audit_format(&e, line, sizeof line);
    /* Change each digit of the fields before the hashes, one at a time. */
    char *hashes = strrchr(line, ' ');
    hashes = memrchr(line, ' ', (size_t)(hashes - line)); /* start of prev */
    int tested = 0;
    for (char *p = line; p < hashes; p++) {
        if (*p < '0' || *p > '8') continue;
        char t[BFT_AUDIT_LINE_MAX];
        memcpy(t, line, n + 1);
        t[p - line] = (char)(*p + 1);
        assert_int_equal(bft_audit_parse(t, &d), -1);
        tested++;
    }
    assert_true(tested > 10);
    /* A changed previous hash or own hash. */
    char t[BFT_AUDIT_LINE_MAX];
    memcpy(t, line, n + 1);
    t[hashes - line + 1] = t[hashes - line + 1] == 'a' ? 'b' : 'a';
    assert_int_equal(bft_audit_parse(t, &d), -1);
    memcpy(t, line, n + 1);
    t[n - 2] = t[n - 2] == 'a' ? 'b' : 'a';
    assert_int_equal(bft_audit_parse(t, &d), -1);
    assert_int_equal(bft_audit_parse("garbage\n", &d), -1);
    assert_int_equal(bft_audit_parse("", &d), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_chain_links),
        cmocka_unit_test(test_tamper_detected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
