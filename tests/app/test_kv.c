/* The key-value application (app/app_kv.c): put/get/delete against a
 * reference model, bounds, an order-independent digest, snapshot/restore. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "app/app_internal.h"
#include "app/app.h"
#include "wire/wire.h"

static const struct bft_app_ops *A = &bft_app_kv;
static uint8_t res[BFT_RESULT_MAX];

static size_t run(void *app, uint8_t kind, const char *key, const void *val, size_t vlen)
{
    uint8_t op[8 + BFT_KV_KEY_MAX + BFT_KV_VALUE_MAX];
    size_t n = bft_kv_encode(op, kind, key, strlen(key), val, vlen);
    size_t r = A->apply(app, 1, 1, 1, op, n, res);
    assert_true(r >= 1 && r <= BFT_RESULT_MAX);
    return r;
}

static void put(void *app, const char *key, const char *val)
{
    assert_int_equal(run(app, BFT_KV_PUT, key, val, strlen(val)), 1);
    assert_int_equal(res[0], BFT_KV_OK);
}

static void expect_get(void *app, const char *key, const char *val /* NULL: absent */)
{
    size_t n = run(app, BFT_KV_GET, key, NULL, 0);
    if (!val) {
        assert_int_equal(n, 1);
        assert_int_equal(res[0], BFT_KV_NOT_FOUND);
        return;
    }
    assert_int_equal(res[0], BFT_KV_OK);
    assert_int_equal(n, 1 + strlen(val));
    assert_memory_equal(res + 1, val, strlen(val));
}

static uint8_t del(void *app, const char *key)
{
    assert_int_equal(run(app, BFT_KV_DELETE, key, NULL, 0), 1);
    return res[0];
}

static void digest_of(void *app, bft_digest *d)
{
    A->digest(app, d);
}

static void test_put_get_delete(void **state)
{
    (void)state;
    void *kv = A->create(NULL);
    assert_non_null(kv);
    expect_get(kv, "a", NULL);
    put(kv, "a", "1");
    put(kv, "b", "");
    expect_get(kv, "a", "1");
    expect_get(kv, "b", "");
    put(kv, "a", "longer value");
    expect_get(kv, "a", "longer value");
    assert_int_equal(del(kv, "a"), BFT_KV_OK);
    expect_get(kv, "a", NULL);
    assert_int_equal(del(kv, "a"), BFT_KV_NOT_FOUND);
    expect_get(kv, "b", "");
    /* GET/DELETE without the (empty) vlen field are accepted too. */
    uint8_t op[8] = {BFT_KV_GET, 1, 0, 'b'};
    assert_int_equal(A->apply(kv, 1, 1, 1, op, 4, res), 1);
    assert_int_equal(res[0], BFT_KV_OK);
    op[0] = BFT_KV_DELETE;
    assert_int_equal(A->apply(kv, 1, 1, 1, op, 4, res), 1);
    assert_int_equal(res[0], BFT_KV_OK);
    expect_get(kv, "b", NULL);
    /* query answers GET and nothing else. */
    put(kv, "q", "v");
    uint8_t qop[16];
    size_t n = bft_kv_encode(qop, BFT_KV_GET, "q", 1, NULL, 0);
    assert_int_equal(A->query(kv, qop, n, res), 2);
    assert_int_equal(res[0], BFT_KV_OK);
    assert_int_equal(res[1], 'v');
    n = bft_kv_encode(qop, BFT_KV_DELETE, "q", 1, NULL, 0);
    assert_int_equal(A->query(kv, qop, n, res), 1);
    assert_int_equal(res[0], BFT_KV_INVALID);
    expect_get(kv, "q", "v");
    A->destroy(kv);
}

static void expect_invalid(void *kv, const uint8_t *op, size_t len)
{
    assert_int_equal(A->apply(kv, 1, 1, 1, op, len, res), 1);
    assert_int_equal(res[0], BFT_KV_INVALID);
}

static void test_invalid_ops(void **state)
{
    (void)state;
    void *kv = A->create(NULL);
    put(kv, "k", "v");
    bft_digest before, after;
    digest_of(kv, &before);
    static uint8_t op[1024];
    size_t n;
    expect_invalid(kv, op, 0);
    expect_invalid(kv, NULL, 0);
    n = bft_kv_encode(op, BFT_KV_PUT, "k", 1, "w", 1);
    expect_invalid(kv, op, n - 1); /* short value */
    op[n] = 0;
    expect_invalid(kv, op, n + 1); /* trailing */
    expect_invalid(kv, op, 4);     /* PUT without vlen */
    op[0] = 0;
    expect_invalid(kv, op, n); /* kind 0 */
    op[0] = 4;
    expect_invalid(kv, op, n); /* kind 4 */
    n = bft_kv_encode(op, BFT_KV_PUT, "", 0, "w", 1);
    expect_invalid(kv, op, n); /* empty key */
    static uint8_t big[300];
    memset(big, 'k', sizeof(big));
    n = bft_kv_encode(op, BFT_KV_PUT, big, BFT_KV_KEY_MAX + 1, "w", 1);
    expect_invalid(kv, op, n); /* key too long */
    n = bft_kv_encode(op, BFT_KV_PUT, "k", 1, big, BFT_KV_VALUE_MAX + 1);
    expect_invalid(kv, op, n); /* value too long */
    n = bft_kv_encode(op, BFT_KV_GET, "k", 1, "w", 1);
    expect_invalid(kv, op, n); /* GET with a value */
    n = bft_kv_encode(op, BFT_KV_DELETE, "k", 1, "w", 1);
    expect_invalid(kv, op, n); /* DELETE with a value */
    n = bft_kv_encode(op, BFT_KV_GET, "k", 1, NULL, 0);
    op[1] = 5; /* klen past the end */
    expect_invalid(kv, op, n);
    digest_of(kv, &after);
    assert_memory_equal(before.b, after.b, 32);
    expect_get(kv, "k", "v");
    A->destroy(kv);
}

static void test_bounds(void **state)
{
    (void)state;
    void *kv = bft_kv_create_bounded(4);
    assert_non_null(kv);
    put(kv, "a", "1"), put(kv, "b", "2"), put(kv, "c", "3"), put(kv, "d", "4");
    run(kv, BFT_KV_PUT, "e", "5", 1);
    assert_int_equal(res[0], BFT_KV_FULL);
    expect_get(kv, "e", NULL);
    put(kv, "a", "overwrite is not growth");
    assert_int_equal(del(kv, "b"), BFT_KV_OK);
    put(kv, "e", "5");
    /* Largest key and value: the GET result fills BFT_RESULT_MAX. */
    char key[BFT_KV_KEY_MAX + 1], val[BFT_KV_VALUE_MAX + 1];
    memset(key, 'K', BFT_KV_KEY_MAX), key[BFT_KV_KEY_MAX] = 0;
    memset(val, 'V', BFT_KV_VALUE_MAX), val[BFT_KV_VALUE_MAX] = 0;
    assert_int_equal(del(kv, "c"), BFT_KV_OK);
    put(kv, key, val);
    assert_int_equal(run(kv, BFT_KV_GET, key, NULL, 0), BFT_RESULT_MAX);
    expect_get(kv, key, val);
    /* A snapshot with more keys than the bound is refused. */
    void *big = A->create(NULL);
    for (int i = 0; i < 5; i++)
        put(big, (char[]){(char)('a' + i), 0}, "x");
    uint8_t *snap;
    size_t len;
    assert_int_equal(A->snapshot(big, &snap, &len), BFT_E_OK);
    assert_int_not_equal(A->restore(kv, snap, len), BFT_E_OK);
    free(snap);
    assert_null(bft_kv_create_bounded(0));
    A->destroy(kv), A->destroy(big);
}

/* Random ops over a small key space against a plain array model: exercises
 * collisions, growth, backward-shift deletion and the move-last-into-hole. */
#define MODEL_KEYS 700
static uint64_t rng = 88172645463325252ull;
static uint64_t next_rand(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return rng;
}

static void test_against_model(void **state)
{
    (void)state;
    void *kv = A->create(NULL);
    static char model[MODEL_KEYS][16];
    static bool live[MODEL_KEYS];
    memset(live, 0, sizeof(live));
    for (int step = 0; step < 30000; step++) {
        int k = (int)(next_rand() % MODEL_KEYS);
        char key[16], val[16];
        snprintf(key, sizeof(key), "key%d", k);
        switch (next_rand() % 3) {
        case 0:
            snprintf(val, sizeof(val), "v%d", step);
            put(kv, key, val);
            memcpy(model[k], val, sizeof(val));
            live[k] = true;
            break;
        case 1:
            assert_int_equal(del(kv, key), live[k] ? BFT_KV_OK : BFT_KV_NOT_FOUND);
            live[k] = false;
            break;
        default:
            expect_get(kv, key, live[k] ? model[k] : NULL);
        }
    }
    for (int k = 0; k < MODEL_KEYS; k++) {
        char key[16];
        snprintf(key, sizeof(key), "key%d", k);
        expect_get(kv, key, live[k] ? model[k] : NULL);
    }
    A->destroy(kv);
}

static void fill(void *kv, int from, int to, int step, const char *tag)
{
    for (int i = from; i != to; i += step) {
        char key[16], val[32];
        snprintf(key, sizeof(key), "k%d", i);
        snprintf(val, sizeof(val), "%s%d", tag, i * 3);
        put(kv, key, val);
    }
}

static void test_digest_order_independent(void **state)
{
    (void)state;
    void *a = A->create(NULL), *b = A->create(NULL), *c = A->create(NULL), *d = A->create(NULL);
    bft_digest da, db, dc, dd, empty;
    digest_of(a, &empty);
    fill(a, 0, 500, 1, "v");
    fill(b, 499, -1, -1, "v");
    /* c: other values first, then overwritten; a key added and deleted. */
    fill(c, 0, 500, 1, "old");
    put(c, "transient", "x");
    fill(c, 250, 500, 1, "v");
    fill(c, 0, 250, 1, "v");
    assert_int_equal(del(c, "transient"), BFT_KV_OK);
    fill(d, 0, 500, 1, "v");
    put(d, "k7", "different");
    digest_of(a, &da), digest_of(b, &db), digest_of(c, &dc), digest_of(d, &dd);
    assert_memory_equal(da.b, db.b, 32);
    assert_memory_equal(da.b, dc.b, 32);
    assert_memory_not_equal(da.b, dd.b, 32);
    assert_memory_not_equal(da.b, empty.b, 32);
    /* Key/value boundaries matter: ("ab","c") != ("a","bc"). */
    void *x = A->create(NULL), *y = A->create(NULL);
    put(x, "ab", "c");
    put(y, "a", "bc");
    bft_digest dx, dy;
    digest_of(x, &dx), digest_of(y, &dy);
    assert_memory_not_equal(dx.b, dy.b, 32);
    /* Deleting everything returns to the empty digest. */
    assert_int_equal(del(x, "ab"), BFT_KV_OK);
    digest_of(x, &dx);
    assert_memory_equal(dx.b, empty.b, 32);
    A->destroy(a), A->destroy(b), A->destroy(c), A->destroy(d), A->destroy(x), A->destroy(y);
}

static void test_snapshot_restore(void **state)
{
    (void)state;
    void *a = A->create(NULL), *b = A->create(NULL), *r = A->create(NULL);
    fill(a, 0, 600, 1, "v");
    fill(b, 599, -1, -1, "v");
    put(r, "stale", "gone after restore");
    uint8_t *sa, *sb;
    size_t la, lb;
    assert_int_equal(A->snapshot(a, &sa, &la), BFT_E_OK);
    assert_int_equal(A->snapshot(b, &sb, &lb), BFT_E_OK);
    /* Same contents, different histories: byte-identical snapshots. */
    assert_int_equal(la, lb);
    assert_memory_equal(sa, sb, la);
    assert_int_equal(A->restore(r, sa, la), BFT_E_OK);
    bft_digest da, dr;
    digest_of(a, &da), digest_of(r, &dr);
    assert_memory_equal(da.b, dr.b, 32);
    expect_get(r, "k123", "v369");
    expect_get(r, "stale", NULL);
    /* The restored table keeps working like the original. */
    put(a, "new", "1"), put(r, "new", "1");
    assert_int_equal(del(a, "k5"), BFT_KV_OK);
    assert_int_equal(del(r, "k5"), BFT_KV_OK);
    digest_of(a, &da), digest_of(r, &dr);
    assert_memory_equal(da.b, dr.b, 32);

    /* Truncated or corrupted snapshots fail and leave r as it was. */
    bft_digest before, after;
    digest_of(r, &before);
    for (size_t cut = 0; cut < la; cut += (cut < 200 ? 1 : 13))
        assert_int_not_equal(A->restore(r, sa, cut), BFT_E_OK);
    for (size_t i = 0; i < la; i += 11) {
        sa[i] ^= 0x01;
        assert_int_not_equal(A->restore(r, sa, la), BFT_E_OK);
        sa[i] ^= 0x01;
    }
    digest_of(r, &after);
    assert_memory_equal(before.b, after.b, 32);
    expect_get(r, "new", "1");
    free(sa), free(sb);
    A->destroy(a), A->destroy(b), A->destroy(r);
}

/* Snapshots must list keys strictly ascending: an unsorted or repeated
 * key is refused even when the stored sum is consistent with the entries. */
static void test_snapshot_key_order(void **state)
{
    (void)state;
    void *a = A->create(NULL), *r = A->create(NULL);
    put(a, "a", "1"), put(a, "b", "2");
    uint8_t *snap;
    size_t len;
    assert_int_equal(A->snapshot(a, &snap, &len), BFT_E_OK);
    /* Header 40 bytes, then two 4-byte entries: 1 'a' 1 '1' | 1 'b' 1 '2'. */
    assert_int_equal(len, 40 + 8);
    assert_int_equal(snap[41], 'a');
    assert_int_equal(A->restore(r, snap, len), BFT_E_OK);
    uint8_t swapped[48];
    memcpy(swapped, snap, 40);
    memcpy(swapped + 40, snap + 44, 4);
    memcpy(swapped + 44, snap + 40, 4);
    assert_int_not_equal(A->restore(r, swapped, sizeof(swapped)), BFT_E_OK);
    /* ("a","1") twice, with sum = 2 x element hash (a correct multiset sum). */
    void *one = A->create(NULL);
    put(one, "a", "1");
    uint8_t *s1;
    size_t l1;
    assert_int_equal(A->snapshot(one, &s1, &l1), BFT_E_OK);
    uint8_t dup[48];
    memcpy(dup, s1, 40);
    dup[4] = 2;
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        unsigned v = 2u * s1[8 + i] + carry;
        dup[8 + i] = (uint8_t)v;
        carry = v >> 8;
    }
    memcpy(dup + 40, s1 + 40, 4);
    memcpy(dup + 44, s1 + 40, 4);
    assert_int_not_equal(A->restore(r, dup, sizeof(dup)), BFT_E_OK);
    expect_get(r, "b", "2"); /* r still holds the good restore */
    free(snap), free(s1);
    A->destroy(a), A->destroy(r), A->destroy(one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_put_get_delete),
        cmocka_unit_test(test_invalid_ops),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_against_model),
        cmocka_unit_test(test_digest_order_independent),
        cmocka_unit_test(test_snapshot_restore),
        cmocka_unit_test(test_snapshot_key_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
