/* The shared bounded pending-request queue (core/pending.h): FIFO order,
 * lookup, removal, duplicate refusal, the per-client share, the count and
 * byte bounds, growth to the bound and never past it, the out-of-memory
 * paths (tests/lib/fail_alloc.h), batches, and a randomized check against
 * a naive model. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/pending.h"
#include "tests/lib/fail_alloc.h"
#include "wire/bytes.h"

/* Small limits so bounds are reached quickly; 4 buckets so hash chains
 * hold several entries. */
#define MAX 16u
#define FIRST 2u
#define BYTES_MAX 2000u
static const struct bft_pending_limits LIM = {
    .max = MAX,
    .first = FIRST,
    .bucket_bits = 2,
    .bytes_max = BYTES_MAX,
    .client_floor = 2,
    .client_floor_bytes = 100,
};

/* A request whose bytes say who sent it: raw[i] = client + req_no + i. */
static int add(struct bft_pending *p, uint32_t client, uint64_t req_no, uint32_t len)
{
    uint8_t raw[512];
    assert_true(len <= sizeof raw);
    for (uint32_t i = 0; i < len; i++)
        raw[i] = (uint8_t)(client + req_no + i);
    return bft_pending_add(p, client, req_no, raw, len);
}

static void check_raw(const struct bft_pending *p, int32_t i)
{
    const struct bft_pending_req *r = &p->e[i];
    for (uint32_t k = 0; k < r->len; k++)
        assert_int_equal(r->raw[k], (uint8_t)(r->client + r->req_no + k));
}

/* The FIFO as req_nos, head first; returns how many. */
static uint32_t fifo(const struct bft_pending *p, uint64_t *out, uint32_t max)
{
    uint32_t k = 0;
    for (int32_t i = p->head; i >= 0; i = p->e[i].next) {
        assert_true(k < max);
        assert_true(p->e[i].used && p->e[i].queued);
        out[k++] = p->e[i].req_no;
    }
    return k;
}

static void test_fifo_order_and_lookup(void **state)
{
    (void)state;
    struct bft_pending p;
    assert_int_equal(bft_pending_init(&p, &LIM, 0), BFT_E_OK);
    assert_int_equal(bft_pending_find(&p, 1, 1), -1);
    assert_int_equal(bft_pending_oldest(&p), -1);
    for (uint64_t r = 1; r <= 9; r++)
        assert_int_equal(add(&p, (uint32_t)(r % 3), r, 10 + (uint32_t)r), BFT_E_OK);
    uint64_t got[MAX];
    assert_int_equal(fifo(&p, got, MAX), 9);
    for (uint64_t r = 1; r <= 9; r++) {
        assert_int_equal(got[r - 1], r);
        int32_t i = bft_pending_find(&p, (uint32_t)(r % 3), r);
        assert_true(i >= 0);
        assert_int_equal(p.e[i].len, 10 + r);
        check_raw(&p, i);
        assert_int_equal(bft_pending_find(&p, (uint32_t)(r % 3) + 1, r), -1); /* other client */
    }
    assert_int_equal(p.count, 9);
    assert_int_equal(p.unproposed, 9);
    assert_int_equal(p.bytes, 9 * 10 + 45);
    assert_int_equal(p.e[bft_pending_oldest(&p)].req_no, 1);
    bft_pending_free(&p);
}

static void test_remove_head_middle_tail(void **state)
{
    (void)state;
    struct bft_pending p;
    assert_int_equal(bft_pending_init(&p, &LIM, 0), BFT_E_OK);
    for (uint64_t r = 1; r <= 6; r++)
        assert_int_equal(add(&p, 7, r, 20), BFT_E_OK);
    bft_pending_remove(&p, bft_pending_find(&p, 7, 1)); /* head */
    bft_pending_remove(&p, bft_pending_find(&p, 7, 4)); /* middle */
    bft_pending_remove(&p, bft_pending_find(&p, 7, 6)); /* tail */
    int32_t gone = 3;                                   /* entry of req 4 */
    bft_pending_remove(&p, gone);                       /* not held: nothing */
    uint64_t got[MAX];
    assert_int_equal(fifo(&p, got, MAX), 3);
    assert_int_equal(got[0], 2);
    assert_int_equal(got[1], 3);
    assert_int_equal(got[2], 5);
    assert_int_equal(p.count, 3);
    assert_int_equal(p.bytes, 60);
    for (uint64_t r = 1; r <= 6; r++)
        assert_int_equal(bft_pending_find(&p, 7, r) >= 0, r == 2 || r == 3 || r == 5);
    /* Freed entries are reused last-freed first, before fresh ones. */
    assert_int_equal(add(&p, 8, 1, 5), BFT_E_OK);
    assert_int_equal(bft_pending_find(&p, 8, 1), 5);
    assert_int_equal(add(&p, 8, 2, 5), BFT_E_OK);
    assert_int_equal(bft_pending_find(&p, 8, 2), 3);
    bft_pending_clear(&p);
    assert_int_equal(p.count, 0);
    assert_int_equal(p.bytes, 0);
    assert_int_equal(p.head, -1);
    assert_int_equal(p.tail, -1);
    bft_pending_free(&p);
}

static void test_duplicate_refused_until_removed(void **state)
{
    (void)state;
    struct bft_pending p;
    assert_int_equal(bft_pending_init(&p, &LIM, 0), BFT_E_OK);
    assert_int_equal(add(&p, 1, 5, 30), BFT_E_OK);
    assert_int_equal(add(&p, 1, 5, 40), BFT_E_INVALID);
    assert_int_equal(p.count, 1);
    assert_int_equal(p.bytes, 30);
    assert_int_equal(add(&p, 2, 5, 30), BFT_E_OK); /* same req_no, other client */
    bft_pending_remove(&p, bft_pending_find(&p, 1, 5));
    assert_int_equal(add(&p, 1, 5, 40), BFT_E_OK);
    assert_int_equal(p.e[bft_pending_find(&p, 1, 5)].len, 40);
    bft_pending_free(&p);
}

/* 4 clients: each may hold max(2, 16 / 4) = 4 requests and max(100,
 * 2000 / 4) = 500 bytes. */
static void test_client_share(void **state)
{
    (void)state;
    struct bft_pending p;
    assert_int_equal(bft_pending_init(&p, &LIM, 4), BFT_E_OK);
    for (uint64_t r = 1; r <= 4; r++)
        assert_int_equal(add(&p, 0, r, 10), BFT_E_OK);
    assert_int_equal(add(&p, 0, 5, 10), BFT_E_FULL); /* over its count */
    assert_int_equal(add(&p, 1, 1, 10), BFT_E_OK);   /* the others keep theirs */
    assert_int_equal(add(&p, 2, 1, 300), BFT_E_OK);
    assert_int_equal(add(&p, 2, 2, 201), BFT_E_FULL); /* over its bytes */
    assert_int_equal(add(&p, 2, 2, 200), BFT_E_OK);   /* exactly its bytes */
    assert_int_equal(add(&p, 4, 1, 10), BFT_E_FULL);  /* not a client */
    assert_int_equal(p.count, 7);
    bft_pending_remove(&p, bft_pending_find(&p, 0, 2));
    assert_int_equal(add(&p, 0, 5, 10), BFT_E_OK); /* its share is back */
    bft_pending_clear(&p);
    for (uint64_t r = 1; r <= 4; r++)
        assert_int_equal(add(&p, 0, 10 + r, 10), BFT_E_OK);
    bft_pending_free(&p);
}

static void test_count_and_byte_bounds(void **state)
{
    (void)state;
    struct bft_pending p;
    assert_int_equal(bft_pending_init(&p, &LIM, 0), BFT_E_OK);
    for (uint64_t r = 1; r <= MAX; r++)
        assert_int_equal(add(&p, 1, r, 1), BFT_E_OK);
    assert_int_equal(add(&p, 2, 1, 1), BFT_E_FULL);
    assert_int_equal(p.free_head, -1);
    bft_pending_clear(&p);
    /* Bytes: 3 x 500 + 499 fits exactly, one byte more does not. */
    for (uint64_t r = 1; r <= 3; r++)
        assert_int_equal(add(&p, 1, r, 500), BFT_E_OK);
    assert_int_equal(add(&p, 1, 4, 501), BFT_E_FULL);
    assert_int_equal(add(&p, 1, 4, 500), BFT_E_OK);
    assert_int_equal(p.bytes, BYTES_MAX);
    assert_int_equal(add(&p, 1, 5, 1), BFT_E_FULL);
    assert_int_equal(p.count, 4);
    bft_pending_free(&p);
}

static void test_grows_to_its_bound_and_no_further(void **state)
{
    (void)state;
    struct bft_pending_limits lim = LIM;
    lim.max = 6; /* not a power of two: the last step stops at 6 */
    lim.bytes_max = 1u << 20;
    struct bft_pending p;
    assert_int_equal(bft_pending_init(&p, &lim, 0), BFT_E_OK);
    assert_null(p.e);
    assert_int_equal(p.cap, 0);
    const uint32_t want[] = {2, 2, 4, 4, 6, 6};
    for (uint64_t r = 1; r <= 6; r++) {
        assert_int_equal(add(&p, 0, r, 8), BFT_E_OK);
        assert_int_equal(p.cap, want[r - 1]);
    }
    assert_int_equal(add(&p, 0, 7, 8), BFT_E_FULL);
    assert_int_equal(p.cap, 6);
    /* Entries keep index and contents across the moves. */
    for (uint64_t r = 1; r <= 6; r++) {
        assert_int_equal(bft_pending_find(&p, 0, r), (int32_t)(r - 1));
        check_raw(&p, (int32_t)(r - 1));
    }
    /* Emptied and refilled: no growth, buffers reused. */
    bft_pending_clear(&p);
    for (uint64_t r = 1; r <= 6; r++)
        assert_int_equal(add(&p, 1, r, 4), BFT_E_OK);
    assert_int_equal(p.cap, 6);
    bft_pending_free(&p);

    assert_int_equal(
        bft_pending_init(&p, &(struct bft_pending_limits){.max = 0, .bucket_bits = 2}, 0),
        BFT_E_INVALID);
    bft_pending_free(&p);
}

static void test_take_requeue_oldest(void **state)
{
    (void)state;
    struct bft_pending p;
    assert_int_equal(bft_pending_init(&p, &LIM, 0), BFT_E_OK);
    for (uint64_t r = 1; r <= 5; r++)
        assert_int_equal(add(&p, 0, r, 8), BFT_E_OK);
    bft_pending_take(&p, 0, 7);
    bft_pending_take(&p, 2, 7);
    bft_pending_take(&p, 2, 9); /* already taken: keeps its mark */
    assert_int_equal(p.e[2].mark, 7);
    assert_int_equal(p.unproposed, 3);
    assert_int_equal(p.count, 5);
    uint64_t got[MAX];
    assert_int_equal(fifo(&p, got, MAX), 3);
    assert_int_equal(got[0], 2);
    assert_int_equal(bft_pending_oldest(&p), 1);
    bft_pending_requeue(&p, 2); /* back at the tail */
    bft_pending_requeue(&p, 3); /* queued already: nothing */
    assert_int_equal(fifo(&p, got, MAX), 4);
    assert_int_equal(got[3], 3);
    assert_int_equal(p.e[2].mark, 0);
    /* All taken: oldest is the first held entry in entry order. */
    for (int32_t i = 4; i >= 1; i--)
        bft_pending_take(&p, i, 8);
    assert_int_equal(p.head, -1);
    assert_int_equal(bft_pending_oldest(&p), 0);
    bft_pending_remove(&p, 0); /* a taken entry */
    assert_int_equal(bft_pending_oldest(&p), 1);
    /* Requeued in entry order, whatever the order they were taken in. */
    bft_pending_requeue_all(&p);
    assert_int_equal(fifo(&p, got, MAX), 4);
    for (uint32_t k = 0; k < 4; k++)
        assert_int_equal(got[k], k + 2);
    bft_pending_free(&p);
}

/* Every allocation may fail: init says so and can still be freed; add
 * says BFT_E_NOMEM, changes nothing (not even the client's share), and
 * the next add succeeds. */
static void test_out_of_memory(void **state)
{
    (void)state;
    struct bft_pending p;
    for (long n = 0; n < 3; n++) { /* buckets, then the quota's two arrays */
        fail_alloc_after(n);
        assert_int_equal(bft_pending_init(&p, &LIM, 4), BFT_E_NOMEM);
        bft_pending_free(&p);
    }
    fail_alloc_after(-1);
    assert_int_equal(bft_pending_init(&p, &LIM, 4), BFT_E_OK);
    for (uint64_t r = 1; r <= 4; r++) {
        /* The table (first at 1, then at 3), or the request's buffer. */
        for (long n = 0; n < 2; n++) {
            fail_alloc_after(n);
            int rv = add(&p, 1, r, 50);
            if (rv == BFT_E_OK) break;
            assert_int_equal(rv, BFT_E_NOMEM);
            assert_int_equal(bft_pending_find(&p, 1, r), -1);
            assert_int_equal(p.count, r - 1);
            assert_int_equal(p.bytes, 50 * (r - 1));
            assert_int_equal(bft_quota_count(&p.quota, 1), r - 1);
        }
        fail_alloc_after(-1);
        if (bft_pending_find(&p, 1, r) < 0) assert_int_equal(add(&p, 1, r, 50), BFT_E_OK);
    }
    assert_int_equal(p.count, 4);
    assert_true(p.cap <= MAX);
    /* Its share is full with 4; after a free entry is reused, a bigger
     * request needs a bigger buffer, which may fail too. */
    bft_pending_remove(&p, bft_pending_find(&p, 1, 2));
    fail_alloc_after(0);
    assert_int_equal(add(&p, 1, 9, 100), BFT_E_NOMEM);
    assert_int_equal(add(&p, 1, 9, 100), BFT_E_OK);
    fail_alloc_after(-1);
    uint64_t got[MAX];
    assert_int_equal(fifo(&p, got, MAX), 4);
    assert_int_equal(got[3], 9);
    bft_pending_free(&p);
}

/* An encoded REQUEST header as the key reads it (docs/wire.md). */
static void put_req(uint8_t *b, uint32_t client, uint64_t req_no)
{
    memset(b, 0, BFT_MSG_MIN_LEN);
    b[5] = BFT_MSG_REQUEST;
    wire_le_store(b + 8, client, 4);
    wire_le_store(b + 32, req_no, 8);
}

static void test_key_and_batch(void **state)
{
    (void)state;
    enum { K = 4, EL = 4 + BFT_MSG_MIN_LEN };
    uint8_t batch[2 + K * EL];
    wire_le_store(batch, K, 2);
    for (uint32_t k = 0; k < K; k++) {
        wire_le_store(batch + 2 + k * EL, BFT_MSG_MIN_LEN, 4);
        put_req(batch + 2 + k * EL + 4, 3, 10 + k);
    }
    batch[2 + 1 * EL + 4 + 5] = BFT_MSG_REQUEST + 1; /* element 1: not a request */
    uint32_t client;
    uint64_t req_no;
    assert_true(bft_pending_key(batch + 2 + 4, BFT_MSG_MIN_LEN, &client, &req_no));
    assert_int_equal(client, 3);
    assert_int_equal(req_no, 10);
    assert_false(bft_pending_key(batch + 2 + EL + 4, BFT_MSG_MIN_LEN, &client, &req_no));
    assert_false(bft_pending_key(batch + 2 + 4, BFT_MSG_MIN_LEN - 1, &client, &req_no));

    struct bft_pending p;
    assert_int_equal(bft_pending_init(&p, &LIM, 0), BFT_E_OK);
    for (uint64_t r = 10; r <= 13; r++)
        if (r != 12) assert_int_equal(add(&p, 3, r, 8), BFT_E_OK); /* 12 is not held */
    struct bft_batch_iter it;
    assert_int_equal(bft_batch_iter_init(&it, batch, sizeof batch), BFT_E_OK);
    int32_t i = bft_pending_batch_next(&p, &it);
    assert_int_equal(p.e[i].req_no, 10);
    i = bft_pending_batch_next(&p, &it); /* 11 is not a request, 12 not held */
    assert_int_equal(p.e[i].req_no, 13);
    assert_int_equal(bft_pending_batch_next(&p, &it), -1);
    bft_pending_free(&p);
}

/* ---- randomized check against a naive model ---- */

struct model_req {
    uint32_t client, len;
    uint64_t req_no, mark;
    uint64_t stamp; /* when it last joined the FIFO */
    int32_t at;     /* its entry in the queue */
    bool queued;
};
struct model {
    struct model_req r[MAX];
    uint32_t n;
    uint64_t stamps;
};

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* What add must answer, from the model alone (4 clients, shares of 4
 * requests and 500 bytes). */
static int model_expect_add(const struct model *m, uint32_t client, uint64_t req_no, uint32_t len)
{
    uint32_t mine = 0;
    uint64_t bytes = 0, my_bytes = 0;
    for (uint32_t k = 0; k < m->n; k++) {
        if (m->r[k].client == client && m->r[k].req_no == req_no) return BFT_E_INVALID;
        bytes += m->r[k].len;
        if (m->r[k].client == client) {
            mine++;
            my_bytes += m->r[k].len;
        }
    }
    if (m->n >= MAX || bytes + len > BYTES_MAX || client >= 4 || mine >= 4 || my_bytes + len > 500)
        return BFT_E_FULL;
    return BFT_E_OK;
}

/* The queue and the model agree: counts, bytes, every request found where
 * the model put it, and the FIFO in stamp order. */
static void model_check(const struct bft_pending *p, const struct model *m)
{
    uint64_t bytes = 0;
    uint32_t queued = 0;
    for (uint32_t k = 0; k < m->n; k++) {
        const struct model_req *r = &m->r[k];
        bytes += r->len;
        queued += r->queued;
        assert_int_equal(bft_pending_find(p, r->client, r->req_no), r->at);
        assert_int_equal(p->e[r->at].queued, r->queued);
        assert_int_equal(p->e[r->at].mark, r->mark);
        check_raw(p, r->at);
    }
    assert_int_equal(p->count, m->n);
    assert_int_equal(p->bytes, bytes);
    assert_int_equal(p->unproposed, queued);
    assert_true(p->cap <= MAX);
    uint64_t last = 0;
    uint32_t seen = 0;
    for (int32_t i = p->head; i >= 0; i = p->e[i].next, seen++) {
        const struct model_req *r = NULL;
        for (uint32_t k = 0; k < m->n && !r; k++)
            if (m->r[k].at == i) r = &m->r[k];
        assert_non_null(r);
        assert_true(r->queued && r->stamp > last);
        last = r->stamp;
    }
    assert_int_equal(seen, queued);
}

static void model_step(struct bft_pending *p, struct model *m, uint64_t *rng)
{
    uint64_t x = rng_next(rng);
    uint32_t k = m->n ? (uint32_t)(x >> 32) % m->n : 0;
    switch (x % 8) {
    case 0:
    case 1:
    case 2: { /* add */
        uint32_t client = (uint32_t)(x >> 8) % 5, len = 1 + (uint32_t)(x >> 16) % 300;
        uint64_t req_no = (x >> 40) % 24;
        int want = model_expect_add(m, client, req_no, len);
        assert_int_equal(add(p, client, req_no, len), want);
        if (want != BFT_E_OK) break;
        m->r[m->n] = (struct model_req){.client = client,
                                        .len = len,
                                        .req_no = req_no,
                                        .stamp = ++m->stamps,
                                        .queued = true,
                                        .at = bft_pending_find(p, client, req_no)};
        m->n++;
        break;
    }
    case 3: /* remove */
        if (!m->n) break;
        bft_pending_remove(p, m->r[k].at);
        m->r[k] = m->r[--m->n];
        break;
    case 4: /* take */
        if (!m->n) break;
        bft_pending_take(p, m->r[k].at, 1 + x % 5);
        if (m->r[k].queued) m->r[k].mark = 1 + x % 5;
        m->r[k].queued = false;
        break;
    case 5: /* requeue one */
        if (!m->n) break;
        bft_pending_requeue(p, m->r[k].at);
        if (!m->r[k].queued)
            m->r[k] = (struct model_req){.client = m->r[k].client,
                                         .len = m->r[k].len,
                                         .req_no = m->r[k].req_no,
                                         .stamp = ++m->stamps,
                                         .at = m->r[k].at,
                                         .queued = true};
        break;
    case 6: /* requeue all, in entry order */
        bft_pending_requeue_all(p);
        for (int32_t at = 0; at < (int32_t)MAX; at++)
            for (uint32_t j = 0; j < m->n; j++)
                if (m->r[j].at == at && !m->r[j].queued) {
                    m->r[j].queued = true;
                    m->r[j].mark = 0;
                    m->r[j].stamp = ++m->stamps;
                }
        break;
    default: /* oldest; now and then clear */
        if (x % 64 == 7) {
            bft_pending_clear(p);
            m->n = 0;
            break;
        }
        int32_t o = bft_pending_oldest(p);
        if (!m->n)
            assert_int_equal(o, -1);
        else if (p->head >= 0)
            assert_int_equal(o, p->head);
        else
            for (uint32_t j = 0; j < m->n; j++)
                assert_true(m->r[j].at >= o);
    }
}

static void test_randomized_against_model(void **state)
{
    (void)state;
    for (uint64_t seed = 1; seed <= 20; seed++) {
        struct bft_pending p;
        struct model m = {0};
        uint64_t rng = 0x9E3779B97F4A7C15ull * seed;
        assert_int_equal(bft_pending_init(&p, &LIM, 4), BFT_E_OK);
        for (int step = 0; step < 2000; step++) {
            model_step(&p, &m, &rng);
            model_check(&p, &m);
        }
        bft_pending_free(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fifo_order_and_lookup),
        cmocka_unit_test(test_remove_head_middle_tail),
        cmocka_unit_test(test_duplicate_refused_until_removed),
        cmocka_unit_test(test_client_share),
        cmocka_unit_test(test_count_and_byte_bounds),
        cmocka_unit_test(test_grows_to_its_bound_and_no_further),
        cmocka_unit_test(test_take_requeue_oldest),
        cmocka_unit_test(test_out_of_memory),
        cmocka_unit_test(test_key_and_batch),
        cmocka_unit_test(test_randomized_against_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
