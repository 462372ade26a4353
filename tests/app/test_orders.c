/* The order router (app/app_orders.c): unique gap-free order numbers, DUP on
 * retry, INVALID and FULL without consuming numbers, history digests, and
 * snapshot/restore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/app_internal.h"
#include "app/app.h"
#include "wire/wire.h"

static const struct bft_app_ops *A = &bft_app_orders;

/* Apply one NEW order; return its status and number. */
static uint8_t new_order(void *app, uint32_t client, uint64_t coid, const char *sym, uint8_t side,
                         uint32_t qty, int64_t price, uint64_t *seq_out)
{
    uint8_t op[BFT_ORDER_OP_LEN], res[BFT_RESULT_MAX];
    assert_int_equal(bft_order_encode(op, coid, sym, side, qty, price), BFT_ORDER_OP_LEN);
    size_t n = A->apply(app, 1, client, coid, op, sizeof(op), res);
    uint8_t status;
    assert_int_equal(bft_order_result_decode(res, n, &status, seq_out), BFT_E_OK);
    return status;
}

static uint64_t expect_new(void *app, uint32_t client, uint64_t coid, uint64_t want)
{
    uint64_t seq;
    assert_int_equal(new_order(app, client, coid, "AAPL", 1, 10, 1500, &seq), BFT_ORDER_OK);
    assert_true(seq == want);
    return seq;
}

static uint8_t lookup(void *app, uint32_t client, uint64_t coid, uint64_t *seq)
{
    uint8_t op[BFT_ORDER_LOOKUP_LEN], res[BFT_RESULT_MAX], status;
    size_t n = A->query(app, op, bft_order_lookup_encode(op, client, coid), res);
    assert_int_equal(bft_order_result_decode(res, n, &status, seq), BFT_E_OK);
    return status;
}

static void digest_of(void *app, bft_digest *d)
{
    A->digest(app, d);
}

static void test_gap_free_numbering(void **state)
{
    (void)state;
    void *app = A->create(NULL);
    assert_non_null(app);
    /* 3 clients interleaved, past the initial table size (grows twice). */
    uint64_t want = 1;
    for (uint64_t i = 0; i < 1500; i++)
        for (uint32_t c = 1; c <= 3; c++)
            expect_new(app, c, 1000 + i, want++);
    for (uint64_t i = 0; i < 1500; i += 37)
        for (uint32_t c = 1; c <= 3; c++) {
            uint64_t seq;
            assert_int_equal(lookup(app, c, 1000 + i, &seq), BFT_ORDER_OK);
            assert_true(seq == i * 3 + c);
        }
    uint64_t seq;
    assert_int_equal(lookup(app, 4, 1000, &seq), BFT_ORDER_NOT_FOUND);
    assert_true(seq == 0);
    A->destroy(app);
}

static void test_retry_is_dup_without_gap(void **state)
{
    (void)state;
    void *app = A->create(NULL);
    expect_new(app, 7, 555, 1);
    expect_new(app, 8, 1, 2);
    uint64_t seq;
    /* Retry (even with different fields) returns the original number. */
    assert_int_equal(new_order(app, 7, 555, "AAPL", 1, 10, 1500, &seq), BFT_ORDER_DUP);
    assert_true(seq == 1);
    assert_int_equal(new_order(app, 7, 555, "MSFT", 2, 99, 7, &seq), BFT_ORDER_DUP);
    assert_true(seq == 1);
    /* The same client order id from another client is a different order. */
    expect_new(app, 8, 555, 3);
    expect_new(app, 7, 556, 4);
    A->destroy(app);
}

static void test_invalid_consumes_nothing(void **state)
{
    (void)state;
    void *app = A->create(NULL);
    bft_digest before, after;
    digest_of(app, &before);
    uint8_t good[BFT_ORDER_OP_LEN], op[64], res[BFT_RESULT_MAX], status;
    bft_order_encode(good, 1, "IBM", 2, 5, 100);
    struct {
        size_t off, len;
        uint8_t byte;
    } bad[] = {
        {0, BFT_ORDER_OP_LEN - 1, 0}, /* short */
        {0, BFT_ORDER_OP_LEN + 1, 0}, /* long */
        {0, BFT_ORDER_OP_LEN, 7},     /* unknown kind */
        {0, BFT_ORDER_OP_LEN, 0},     /* kind 0 */
        {17, BFT_ORDER_OP_LEN, 0},    /* side 0 */
        {17, BFT_ORDER_OP_LEN, 3},    /* side 3 */
        {9, BFT_ORDER_OP_LEN, 0},     /* empty symbol */
        {13, BFT_ORDER_OP_LEN, 'X'},  /* symbol byte after the NUL padding */
        {10, BFT_ORDER_OP_LEN, ' '},  /* space inside the symbol */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memcpy(op, good, sizeof(good));
        op[BFT_ORDER_OP_LEN] = 0;
        op[bad[i].off] = bad[i].byte;
        uint64_t seq = 99;
        size_t n = A->apply(app, 1, 1, 1, op, bad[i].len, res);
        assert_int_equal(bft_order_result_decode(res, n, &status, &seq), BFT_E_OK);
        assert_int_equal(status, BFT_ORDER_INVALID);
        assert_true(seq == 0);
    }
    uint64_t seq;
    assert_int_equal(new_order(app, 1, 1, "IBM", 1, 0, 100, &seq), BFT_ORDER_INVALID); /* qty 0 */
    assert_int_equal(new_order(app, 1, 1, "IBM", 1, 5, 0, &seq), BFT_ORDER_INVALID);
    assert_int_equal(new_order(app, 1, 1, "IBM", 1, 5, -3, &seq), BFT_ORDER_INVALID);
    size_t n = A->apply(app, 1, 1, 1, op, 0, res); /* empty op */
    assert_int_equal(bft_order_result_decode(res, n, &status, &seq), BFT_E_OK);
    assert_int_equal(status, BFT_ORDER_INVALID);
    /* A malformed LOOKUP through apply is INVALID too. */
    uint8_t lk[BFT_ORDER_LOOKUP_LEN + 1] = {BFT_ORDER_KIND_LOOKUP};
    n = A->apply(app, 1, 1, 1, lk, sizeof(lk), res);
    assert_int_equal(bft_order_result_decode(res, n, &status, &seq), BFT_E_OK);
    assert_int_equal(status, BFT_ORDER_INVALID);

    digest_of(app, &after);
    assert_memory_equal(before.b, after.b, 32);
    expect_new(app, 1, 1, 1); /* nothing was consumed */
    /* query does not order: a NEW through query is refused, changes nothing. */
    n = A->query(app, good, sizeof(good), res);
    assert_int_equal(bft_order_result_decode(res, n, &status, &seq), BFT_E_OK);
    assert_int_equal(status, BFT_ORDER_INVALID);
    expect_new(app, 1, 2, 2);
    A->destroy(app);
}

static void test_digest_is_history(void **state)
{
    (void)state;
    void *a = A->create(NULL), *b = A->create(NULL), *c = A->create(NULL), *d = A->create(NULL);
    bft_digest da, db, dc, dd, empty;
    digest_of(a, &empty);
    for (uint64_t i = 1; i <= 100; i++) {
        uint64_t seq;
        new_order(a, (uint32_t)(i % 4), i, "AAPL", 1, 10, 100 + (int64_t)i, &seq);
        new_order(b, (uint32_t)(i % 4), i, "AAPL", 1, 10, 100 + (int64_t)i, &seq);
        /* c: orders 50 and 51 swapped; d: order 70 at another price. */
        uint64_t j = i == 50 ? 51 : i == 51 ? 50 : i;
        new_order(c, (uint32_t)(j % 4), j, "AAPL", 1, 10, 100 + (int64_t)j, &seq);
        new_order(d, (uint32_t)(i % 4), i, "AAPL", 1, 10, i == 70 ? 1 : 100 + (int64_t)i, &seq);
        if (i % 10 == 0) { /* retries and junk do not change the history */
            new_order(b, (uint32_t)(i % 4), i, "AAPL", 1, 10, 100 + (int64_t)i, &seq);
            new_order(b, 1, i, "AAPL", 9, 10, 1, &seq);
        }
    }
    digest_of(a, &da);
    digest_of(b, &db);
    digest_of(c, &dc);
    digest_of(d, &dd);
    assert_memory_equal(da.b, db.b, 32);
    assert_memory_not_equal(da.b, dc.b, 32);
    assert_memory_not_equal(da.b, dd.b, 32);
    assert_memory_not_equal(da.b, empty.b, 32);
    A->destroy(a), A->destroy(b), A->destroy(c), A->destroy(d);
}

static void test_snapshot_restore_round_trip(void **state)
{
    (void)state;
    void *a = A->create(NULL), *b = A->create(NULL);
    for (uint64_t i = 1; i <= 2000; i++)
        expect_new(a, (uint32_t)(i % 5), i, i);
    expect_new(b, 9, 9, 1); /* b has other state, replaced by restore */
    uint8_t *snap;
    size_t len;
    assert_int_equal(A->snapshot(a, &snap, &len), BFT_E_OK);
    assert_int_equal(A->restore(b, snap, len), BFT_E_OK);
    bft_digest da, db;
    digest_of(a, &da);
    digest_of(b, &db);
    assert_memory_equal(da.b, db.b, 32);
    /* Numbering continues; old orders are remembered; b's old order is gone. */
    uint64_t seq;
    assert_int_equal(new_order(b, 3, 3, "AAPL", 1, 10, 1500, &seq), BFT_ORDER_DUP);
    assert_true(seq == 3);
    assert_int_equal(lookup(b, 9, 9, &seq), BFT_ORDER_NOT_FOUND);
    expect_new(a, 1, 5000, 2001);
    expect_new(b, 1, 5000, 2001);
    digest_of(a, &da);
    digest_of(b, &db);
    assert_memory_equal(da.b, db.b, 32);
    /* An empty table snapshots and restores too. */
    void *e = A->create(NULL);
    uint8_t *esnap;
    size_t elen;
    assert_int_equal(A->snapshot(e, &esnap, &elen), BFT_E_OK);
    assert_int_equal(A->restore(b, esnap, elen), BFT_E_OK);
    expect_new(b, 1, 5000, 1);
    free(esnap);
    free(snap);
    A->destroy(a), A->destroy(b), A->destroy(e);
}

static void test_bad_snapshot_keeps_state(void **state)
{
    (void)state;
    void *a = A->create(NULL), *b = A->create(NULL);
    for (uint64_t i = 1; i <= 40; i++)
        expect_new(a, 1, i, i);
    for (uint64_t i = 1; i <= 3; i++)
        expect_new(b, 2, i, i);
    bft_digest before, after;
    digest_of(b, &before);
    uint8_t *snap;
    size_t len;
    assert_int_equal(A->snapshot(a, &snap, &len), BFT_E_OK);
    for (size_t cut = 0; cut < len; cut++)
        assert_int_not_equal(A->restore(b, snap, cut), BFT_E_OK);
    /* One flipped byte anywhere: bad magic, count, chain, or a record that
     * is then invalid or no longer matches the chain. */
    for (size_t i = 0; i < len; i += 7) {
        snap[i] ^= 0x40;
        assert_int_not_equal(A->restore(b, snap, len), BFT_E_OK);
        snap[i] ^= 0x40;
    }
    assert_int_not_equal(A->restore(b, NULL, 0), BFT_E_OK);
    digest_of(b, &after);
    assert_memory_equal(before.b, after.b, 32);
    expect_new(b, 2, 4, 4);
    uint64_t seq;
    assert_int_equal(lookup(b, 1, 1, &seq), BFT_ORDER_NOT_FOUND);
    free(snap);
    A->destroy(a), A->destroy(b);
}

/* A snapshot that repeats an order (same client and client order id) is
 * refused even when its chain was recomputed to match. Records are 49
 * bytes after a 40-byte header (the audit record, app/audit.c); the coid
 * sits at record offset 20. */
static void test_snapshot_with_duplicate_refused(void **state)
{
    (void)state;
    void *a = A->create(NULL), *b = A->create(NULL);
    expect_new(a, 1, 1, 1);
    expect_new(a, 1, 2, 2);
    uint8_t *snap;
    size_t len;
    assert_int_equal(A->snapshot(a, &snap, &len), BFT_E_OK);
    assert_int_equal(len, 40 + 2 * 49);
    uint8_t *rec2 = snap + 40 + 49;
    assert_int_equal(rec2[20], 2);
    rec2[20] = 1;
    uint8_t chain[32] = {0};
    crypto_sha256_2(chain, 32, snap + 40, 49, chain);
    crypto_sha256_2(chain, 32, rec2, 49, snap + 8);
    assert_int_not_equal(A->restore(b, snap, len), BFT_E_OK);
    /* The same recomputation without the duplicate is accepted. */
    rec2[20] = 3;
    memset(chain, 0, sizeof(chain));
    crypto_sha256_2(chain, 32, snap + 40, 49, chain);
    crypto_sha256_2(chain, 32, rec2, 49, snap + 8);
    assert_int_equal(A->restore(b, snap, len), BFT_E_OK);
    uint64_t seq;
    assert_int_equal(lookup(b, 1, 3, &seq), BFT_ORDER_OK);
    assert_true(seq == 2);
    free(snap);
    A->destroy(a), A->destroy(b);
}

static void test_full_table(void **state)
{
    (void)state;
    void *app = bft_orders_create_bounded(5);
    assert_non_null(app);
    for (uint64_t i = 1; i <= 5; i++)
        expect_new(app, 1, i, i);
    uint64_t seq;
    assert_int_equal(new_order(app, 1, 6, "AAPL", 1, 10, 1500, &seq), BFT_ORDER_FULL);
    assert_true(seq == 0);
    assert_int_equal(new_order(app, 1, 2, "AAPL", 1, 10, 1500, &seq), BFT_ORDER_DUP);
    assert_true(seq == 2);
    /* A snapshot bigger than the bound is refused. */
    void *big = A->create(NULL);
    for (uint64_t i = 1; i <= 6; i++)
        expect_new(big, 1, i, i);
    uint8_t *snap;
    size_t len;
    assert_int_equal(A->snapshot(big, &snap, &len), BFT_E_OK);
    assert_int_not_equal(A->restore(app, snap, len), BFT_E_OK);
    free(snap);
    assert_null(bft_orders_create_bounded(0));
    A->destroy(app), A->destroy(big);
}

static void test_encodings_and_registry(void **state)
{
    (void)state;
    uint8_t op[BFT_ORDER_OP_LEN];
    bft_order_encode(op, 0x0102030405060708ull, "TOOLONGSYMBOL", 2, 300, -1);
    assert_int_equal(op[0], 1);
    assert_int_equal(op[1], 0x08); /* little-endian */
    assert_memory_equal(op + 9, "TOOLONGS", 8);
    assert_int_equal(op[17], 2);
    uint8_t res[BFT_ORDER_RES_LEN] = {BFT_ORDER_DUP, 5, 0, 0, 0, 0, 0, 0, 1}, status;
    uint64_t seq;
    assert_int_equal(bft_order_result_decode(res, sizeof(res), &status, &seq), BFT_E_OK);
    assert_int_equal(status, BFT_ORDER_DUP);
    assert_true(seq == 0x0100000000000005ull);
    assert_int_equal(bft_order_result_decode(res, 8, &status, &seq), BFT_E_MALFORMED);
    res[0] = 77;
    assert_int_equal(bft_order_result_decode(res, sizeof(res), &status, &seq), BFT_E_MALFORMED);

    assert_ptr_equal(bft_app_for("orders"), &bft_app_orders);
    assert_ptr_equal(bft_app_for("kv"), &bft_app_kv);
    assert_null(bft_app_for("nope"));
    assert_null(bft_app_for(NULL));
    assert_string_equal(bft_app_orders.name, "orders");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gap_free_numbering),
        cmocka_unit_test(test_retry_is_dup_without_gap),
        cmocka_unit_test(test_invalid_consumes_nothing),
        cmocka_unit_test(test_digest_is_history),
        cmocka_unit_test(test_snapshot_restore_round_trip),
        cmocka_unit_test(test_bad_snapshot_keeps_state),
        cmocka_unit_test(test_snapshot_with_duplicate_refused),
        cmocka_unit_test(test_full_table),
        cmocka_unit_test(test_encodings_and_registry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
