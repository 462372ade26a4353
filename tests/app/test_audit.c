/* The orders audit log line: format/parse round trip, and any change to a
 * field, the previous hash or the line's own hash is detected. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "app/app.h"
#include "wire/wire.h"
#include "crypto/crypto.h"

static struct bft_audit_entry sample(void)
{
    struct bft_audit_entry e;
    memset(&e, 0, sizeof e);
    e.order_seq = 42;
    e.seq = 17;
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

/* The audit chain is the orders application's chain: the lines of its
 * orders, linked from 32 zero bytes, end at the head its digest covers,
 * digest = SHA-256(head || u64 next order number). So the state digest
 * that checkpoints certify certifies the audit trail too. */
static void test_chain_is_the_applications(void **state)
{
    (void)state;
    void *app = bft_app_orders.create(NULL);
    assert_non_null(app);
    uint8_t op[BFT_ORDER_OP_LEN], res[BFT_RESULT_MAX];
    const char *sym[3] = {"AAPL", "MSFT", "IBM"};
    for (uint64_t i = 0; i < 3; i++) {
        bft_order_encode(op, 500 + i, sym[i], (uint8_t)(1 + i % 2), 10, 100 + (int64_t)i);
        assert_true(bft_app_orders.apply(app, 40 + i, 7, i + 1, op, sizeof op, res) > 0);
    }
    assert_int_equal(bft_orders_count(app), 3);
    uint8_t head[32] = {0};
    for (uint64_t k = 1; k <= 3; k++) {
        struct bft_audit_entry e;
        assert_int_equal(bft_orders_entry(app, k, &e), 0);
        assert_int_equal(e.seq, 40 + k - 1); /* the consensus seq is recorded */
        memcpy(e.prev, head, 32);
        char line[BFT_AUDIT_LINE_MAX];
        assert_true(bft_audit_format(&e, line, sizeof line) > 0);
        memcpy(head, e.hash, 32);
    }
    assert_int_equal(bft_orders_entry(app, 4, &(struct bft_audit_entry){0}), -1);
    uint8_t next[8] = {4};
    bft_digest want, got;
    crypto_sha256_2(head, 32, next, 8, want.b);
    bft_app_orders.digest(app, &got);
    assert_memory_equal(want.b, got.b, 32);
    bft_app_orders.destroy(app);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_chain_links),
        cmocka_unit_test(test_chain_is_the_applications),
        cmocka_unit_test(test_tamper_detected),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
