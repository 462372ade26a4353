/* The load generator's window (tools/loadgen_window.c): it must never spin
 * when the client library refuses a submit. The library frees request
 * slots only when the OLDEST envelope completes (client/client.c), so after
 * out-of-order completions the load generator's own count of requests in
 * flight is lower than the slots the library holds. The old refill loop
 * (`while (in_flight < target) submit()`) then called submit forever at
 * 100% CPU and the fault timeline stopped with it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "app/app.h"
#include "wire/wire.h"
#include "app/app_internal.h"
#include "tools/loadgen_ledger.h"
#include "tools/loadgen_reads.h"
#include "tools/loadgen_window.h"

/* ---- a model of the client library's window ---- */
#define MCAP 64
struct model {
    uint32_t cap;
    uint64_t next, oldest; /* like client/client.c: next_req_no, oldest */
    bool done[MCAP];       /* by req % cap */
    uint32_t calls, refused;
};

static uint32_t m_room(void *ctx)
{
    struct model *m = ctx;
    return (uint32_t)(m->cap - (m->next - m->oldest));
}

static bool m_submit(void *ctx)
{
    struct model *m = ctx;
    m->calls++;
    /* A spinning caller: fail here instead of hanging the test. */
    if (m->calls > 10 * m->cap) fail_msg("refill keeps calling submit (%u calls)", m->calls);
    if (m->next - m->oldest >= m->cap) {
        m->refused++;
        return false;
    }
    m->done[m->next % m->cap] = false;
    m->next++;
    return true;
}

static void m_complete(struct model *m, uint64_t req)
{
    m->done[req % m->cap] = true;
    while (m->oldest < m->next && m->done[m->oldest % m->cap])
        m->oldest++;
}

static uint32_t fill(struct model *m, uint32_t *in_flight, uint32_t target)
{
    struct lg_window_ops ops = {.ctx = m, .room = m_room, .submit = m_submit};
    m->calls = 0;
    uint32_t n = lg_window_fill(in_flight, target, &ops);
    assert_true(m->calls <= target);
    return n;
}

/* The hang of issue 10: the oldest request is still pending, every later
 * one completed. The load generator has room by its own count, the library
 * has none: fill must return at once, submitting nothing. */
static void test_out_of_order_does_not_spin(void **state)
{
    (void)state;
    struct model m = {.cap = 8, .next = 1, .oldest = 1};
    uint32_t in_flight = 0;
    assert_int_equal(fill(&m, &in_flight, 8), 8);
    assert_int_equal(in_flight, 8);
    for (uint64_t r = 2; r <= 8; r++) {
        m_complete(&m, r);
        in_flight--; /* done() */
    }
    assert_int_equal(in_flight, 1);
    assert_int_equal(m_room(&m), 0);
    assert_int_equal(fill(&m, &in_flight, 8), 0);
    assert_int_equal(in_flight, 1);
    assert_int_equal(m.refused, 0);
    /* The oldest completes: the whole window is free again. */
    m_complete(&m, 1);
    in_flight--;
    assert_int_equal(fill(&m, &in_flight, 8), 8);
    assert_int_equal(in_flight, 8);
}

/* Random completion order for many steps: every fill is bounded, nothing
 * is ever refused, the count never exceeds the target, and once everything
 * completes the window fills up completely again (no drift). */
static void test_random_completions(void **state)
{
    (void)state;
    struct model m = {.cap = MCAP, .next = 1, .oldest = 1};
    uint32_t in_flight = 0, target = MCAP;
    srand(7);
    uint64_t pending[MCAP];
    uint32_t np = 0;
    for (int step = 0; step < 20000; step++) {
        uint64_t before = m.next;
        fill(&m, &in_flight, target);
        for (uint64_t r = before; r < m.next; r++)
            pending[np++] = r;
        assert_true(in_flight <= target);
        assert_int_equal(in_flight, np);
        uint32_t k = np ? (uint32_t)(rand() % 4) : 0;
        for (uint32_t j = 0; j < k && np; j++) {
            uint32_t i = (uint32_t)rand() % np;
            /* now and then hold back the oldest for a while */
            if (pending[i] == m.oldest && rand() % 8) continue;
            m_complete(&m, pending[i]);
            pending[i] = pending[--np];
            in_flight--;
        }
    }
    assert_int_equal(m.refused, 0);
    while (np) {
        m_complete(&m, pending[--np]);
        in_flight--;
    }
    assert_int_equal(in_flight, 0);
    assert_int_equal(fill(&m, &in_flight, target), target);
}

/* ---- the real client library: bft_client_room ---- */
static uint32_t done_count;
static void null_send(void *ctx, uint32_t r, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)r, (void)msg, (void)len;
}
static void count_done(void *ctx, uint64_t req, const uint8_t *res, size_t len)
{
    (void)ctx, (void)req, (void)res, (void)len;
    done_count++;
}

/* An unsigned Raft reply (accepted from the leader) for one request. */
static void raft_reply(struct bft_client *c, uint32_t from, uint64_t req)
{
    uint8_t body[4 + 2 + 8 + 2 + 2];
    size_t off = 0;
    memset(body, 0, sizeof body);
    off += 4;        /* client 0 */
    body[off++] = 1; /* one range (docs/wire.md) */
    body[off++] = 0;
    for (int i = 0; i < 8; i++)
        body[off++] = (uint8_t)(req >> (8 * i));
    body[off++] = 1; /* count */
    body[off++] = 0;
    body[off++] = 2; /* result "ok" */
    body[off++] = 0;
    uint8_t full[sizeof body + 2];
    memcpy(full, body, off);
    full[off++] = 'o';
    full[off++] = 'k';
    struct bft_msg m = {.type = BFT_MSG_REPLY,
                        .sender = from,
                        .cluster_id = 1,
                        .view = 1,
                        .seq = 1,
                        .body = full,
                        .body_len = (uint32_t)off};
    uint8_t msg[BFT_HDR_LEN + 64 + BFT_SIG_LEN];
    size_t len = bft_msg_encode(&m, msg, sizeof msg);
    assert_true(len > 0);
    bft_client_on_reply(c, msg, len, 0);
}

struct real {
    struct bft_client *c;
};
static uint32_t r_room(void *ctx)
{
    return bft_client_room(((struct real *)ctx)->c);
}
static uint32_t r_calls;
static bool r_submit(void *ctx)
{
    if (++r_calls > 1000) fail_msg("refill keeps calling submit");
    const uint8_t op[] = "x";
    return bft_client_submit(((struct real *)ctx)->c, op, 1, 0) != 0;
}

static void test_client_room(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), 0);
    struct bft_client_config cfg = {.protocol = BFT_PROTO_RAFT,
                                    .n = 3,
                                    .f = 1,
                                    .id = 0,
                                    .cluster_id = 1,
                                    .retransmit_ms = 100,
                                    .envelope = 1,
                                    .max_outstanding = 4,
                                    .null_crypto = true};
    struct bft_client_host h = {.ctx = NULL, .send = null_send, .done = count_done};
    struct real rc;
    assert_int_equal(bft_client_create(&rc.c, &cfg, &h), BFT_E_OK);
    struct lg_window_ops ops = {.ctx = &rc, .room = r_room, .submit = r_submit};
    assert_int_equal(bft_client_room(rc.c), 4);
    uint32_t in_flight = 0;
    assert_int_equal(lg_window_fill(&in_flight, 4, &ops), 4);
    assert_int_equal(bft_client_room(rc.c), 0);
    /* Requests 2..4 complete, 1 does not. */
    for (uint64_t r = 2; r <= 4; r++)
        raft_reply(rc.c, 0, r);
    assert_int_equal(done_count, 3);
    in_flight -= 3;
    assert_int_equal(bft_client_room(rc.c), 0); /* slots still held */
    r_calls = 0;
    assert_int_equal(lg_window_fill(&in_flight, 4, &ops), 0);
    assert_int_equal(r_calls, 0);
    raft_reply(rc.c, 0, 1);
    in_flight--;
    assert_int_equal(bft_client_room(rc.c), 4);
    assert_int_equal(lg_window_fill(&in_flight, 4, &ops), 4);
    bft_client_destroy(rc.c);
}

/* ---- the acknowledgement ledger ---- */
static void add_rows(struct ledger *l, const uint64_t (*rows)[3], size_t n)
{
    for (size_t i = 0; i < n; i++)
        assert_true(ledger_add(l, (uint32_t)rows[i][0], 0, rows[i][1], rows[i][2], rows[i][2]));
    ledger_sort(l);
}

static void test_ledger(void **state)
{
    (void)state;
    /* acks: (client, coid, order_seq) */
    static const uint64_t acks_rows[][3] = {{0, 1, 1}, {1, 1, 2}, {0, 2, 3}, {1, 2, 4}};
    static const uint64_t good[][3] = {{0, 1, 1}, {1, 1, 2}, {0, 2, 3}, {1, 2, 4}, {0, 3, 5}};
    static const uint64_t wrong[][3] = {{0, 1, 1}, {1, 1, 2}, {0, 2, 4}, {1, 2, 3}};
    static const uint64_t lost[][3] = {{0, 1, 1}, {1, 1, 2}, {1, 2, 4}};
    static const uint64_t twice[][3] = {{0, 1, 1}, {1, 1, 2}, {0, 2, 3}, {0, 2, 3}, {1, 2, 4}};
    static const uint64_t head[][3] = {{0, 1, 1}, {1, 1, 2}};
    static const uint64_t tail[][3] = {{0, 2, 3}, {1, 2, 4}};
    struct ledger acks = {0}, lg[6] = {{0}};
    add_rows(&acks, acks_rows, 4);
    add_rows(&lg[0], good, 5);
    add_rows(&lg[1], wrong, 4);
    add_rows(&lg[2], lost, 3);
    add_rows(&lg[3], twice, 5);
    add_rows(&lg[4], head, 2);
    add_rows(&lg[5], tail, 2);
    struct ledger_result r;

    struct ledger_replica ok1[] = {{.id = 0, .log = &lg[0]}};
    ledger_check(&acks, ok1, 1, &r);
    assert_int_equal(r.ok, 4);
    assert_true(ledger_clean(&r));

    struct ledger_replica bad[] = {{.id = 1, .log = &lg[1]}};
    ledger_check(&acks, bad, 1, &r);
    assert_int_equal(r.mismatch, 2);
    assert_true(ledger_violated(&r));
    assert_string_equal(r.ex_what, "mismatch");

    /* Missing / repeated: violations on a replica never killed, reported
     * apart on one killed with SIGKILL. */
    struct ledger_replica live[] = {{.id = 2, .log = &lg[2]}, {.id = 3, .log = &lg[3]}};
    ledger_check(&acks, live, 2, &r);
    assert_int_equal(r.missing_live, 1);
    assert_int_equal(r.repeated_live, 1);
    assert_true(ledger_violated(&r));
    struct ledger_replica killed[] = {{.id = 2, .killed = true, .log = &lg[2]},
                                      {.id = 3, .killed = true, .log = &lg[3]}};
    ledger_check(&acks, killed, 2, &r);
    assert_int_equal(r.missing_killed, 1);
    assert_int_equal(r.repeated_killed, 1);
    assert_true(ledger_violated(&r)); /* the audit log survives kill -9 */

    /* A log that ends early (down at the end, or behind): orders past its
     * last line are not reached, not missing. One that lacks orders below
     * its last line (a wiped replica that did not write the orders it
     * installed by state transfer) is missing them. */
    struct ledger_replica gone[] = {{.id = 4, .killed = true, .log = &lg[4]}};
    ledger_check(&acks, gone, 1, &r);
    assert_int_equal(r.ok, 2);
    assert_int_equal(r.not_reached, 2);
    assert_true(ledger_clean(&r));
    struct ledger_replica wiped[] = {{.id = 5, .killed = true, .log = &lg[5]}};
    ledger_check(&acks, wiped, 1, &r);
    assert_int_equal(r.ok, 2);
    assert_int_equal(r.missing_killed, 2);
    assert_true(ledger_violated(&r));

    ledger_free(&acks);
    for (int i = 0; i < 6; i++)
        ledger_free(&lg[i]);
}

/* ---- reads by level (loadgen_reads.c) ---- */
static void test_reads_levels_and_latency(void **state)
{
    (void)state;
    struct lg_reads r;
    assert_int_equal(lg_reads_init(&r, 7, 4), -1); /* not a level */
    /* mix: the levels in turn */
    assert_int_equal(lg_reads_init(&r, LOAD_READ_MIX, 4), 0);
    for (int k = 0; k < 6; k++)
        assert_int_equal(lg_reads_next_level(&r), k % BFT_READ_LEVELS);
    lg_reads_free(&r);
    /* One level: always it; samples beyond cap counted, not kept. */
    assert_int_equal(lg_reads_init(&r, BFT_READ_LOCAL, 4), 0);
    assert_int_equal(lg_reads_next_level(&r), BFT_READ_LOCAL);
    assert_int_equal(lg_reads_next_level(&r), BFT_READ_LOCAL);
    const uint64_t lat_us[] = {4000, 1000, 3000, 2000, 500};
    for (int k = 0; k < 5; k++) {
        lg_reads_issued(&r, BFT_READ_LOCAL);
        lg_reads_done(&r, BFT_READ_LOCAL, lat_us[k], k != 2);
    }
    lg_reads_issued(&r, BFT_READ_LOCAL); /* one still in flight */
    struct load_reads out[BFT_READ_LEVELS];
    lg_reads_summary(&r, out);
    assert_int_equal(out[BFT_READ_LOCAL].issued, 6);
    assert_int_equal(out[BFT_READ_LOCAL].completed, 5);
    assert_int_equal(out[BFT_READ_LOCAL].found, 4);
    /* Kept: 4000 1000 3000 2000 (the fifth, 500, beyond cap 4). */
    assert_true(out[BFT_READ_LOCAL].lat_ms_p50 == 3.0); /* index round(0.5 * 3) = 2 */
    assert_true(out[BFT_READ_LOCAL].lat_ms_p99 == 4.0);
    assert_true(out[BFT_READ_LOCAL].lat_ms_max == 4.0);
    assert_int_equal(out[BFT_READ_QUORUM].completed, 0);
    assert_true(out[BFT_READ_QUORUM].lat_ms_p99 == 0);
    lg_reads_free(&r);
}

static void test_read_ops(void **state)
{
    (void)state;
    uint8_t op[BFT_OP_MAX], want[BFT_OP_MAX];
    size_t len = lg_read_op(true, 3, 42, op);
    assert_int_equal(len, bft_order_lookup_encode(want, 3, 42));
    assert_memory_equal(op, want, len);
    len = lg_read_op(false, 3, 1042, op);
    assert_int_equal(len, bft_kv_encode(want, BFT_KV_GET, "c3-42", 5, NULL, 0));
    assert_memory_equal(op, want, len);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reads_levels_and_latency),
        cmocka_unit_test(test_read_ops),
        cmocka_unit_test(test_out_of_order_does_not_spin),
        cmocka_unit_test(test_random_completions),
        cmocka_unit_test(test_client_room),
        cmocka_unit_test(test_ledger),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
