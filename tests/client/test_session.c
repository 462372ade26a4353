/* The client session (include/bft/client.h) without real replicas: option
 * and setup errors, the request-number rule across sessions (state file,
 * lock, clock seed), timeouts that end in "unknown outcome", bounds, and
 * the callback thread. Then against four fake replicas in this process
 * (HotStuff clients send to all; one replica lies): results accepted on
 * f+1 matching replies, and a retry under an executed number gets the
 * original result. Addresses are ipc:// in a temporary directory. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bft/client.h"
#include "client/session_internal.h"
#include "config/cluster.h"
#include "crypto/crypto.h"
#include "net/net.h"
#include "wire/bytes.h"
#include "wire/wire.h"

#define NREP 4
#define CLUSTER_ID 0x5e55u
#define FAKE_MAX 128 /* requests a fake replica remembers */
static char dir[64];
static char cfg_path[128];
static struct crypto_keypair rkeys[NREP], ckeys[2];

/* cluster.json with NREP replicas and 2 clients, and their keys. */
static int setup(void **state)
{
    (void)state;
    assert_int_equal(crypto_init(), 0);
    snprintf(dir, sizeof dir, "/tmp/bft-test-session-XXXXXX");
    assert_non_null(mkdtemp(dir));
    struct bft_cluster c;
    memset(&c, 0, sizeof c);
    snprintf(c.dir, sizeof c.dir, "%s", dir);
    snprintf(c.keys_dir, sizeof c.keys_dir, "%s/keys", dir);
    char cmd[160];
    snprintf(cmd, sizeof cmd, "mkdir -p %s/keys", dir);
    assert_int_equal(system(cmd), 0);
    c.cluster_id = CLUSTER_ID;
    c.protocol = BFT_PROTO_HOTSTUFF;
    c.f = 1;
    c.n = NREP;
    snprintf(c.app, sizeof c.app, "orders");
    c.batch_max = 16;
    for (uint32_t i = 0; i < NREP; i++) {
        uint8_t seed[CRYPTO_SEED_LEN] = {(uint8_t)(i + 1)};
        crypto_keypair_from_seed(&rkeys[i], seed);
        c.replicas[i].id = i;
        snprintf(c.replicas[i].address, sizeof c.replicas[i].address, "ipc://%s/r%u", dir, i);
        memcpy(c.replicas[i].pk, rkeys[i].pk, CRYPTO_PK_LEN);
    }
    struct bft_cluster_client clients[2];
    memset(clients, 0, sizeof clients);
    c.clients = clients;
    c.n_clients = 2;
    char err[256], path[256];
    for (uint32_t i = 0; i < 2; i++) {
        uint8_t seed[CRYPTO_SEED_LEN] = {(uint8_t)(100 + i)};
        crypto_keypair_from_seed(&ckeys[i], seed);
        clients[i].id = i;
        snprintf(clients[i].address, sizeof clients[i].address, "ipc://%s/c%u", dir, i);
        memcpy(clients[i].pk, ckeys[i].pk, CRYPTO_PK_LEN);
        bft_cluster_client_key_path(&c, i, path, sizeof path);
        assert_int_equal(crypto_key_write_pem(path, &ckeys[i], err, sizeof err), 0);
    }
    snprintf(cfg_path, sizeof cfg_path, "%s/cluster.json", dir);
    assert_int_equal(bft_cluster_save(&c, cfg_path, err, sizeof err), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[160];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct bft_session_options opts(uint32_t client)
{
    return (struct bft_session_options){.version = BFT_SESSION_OPTIONS_VERSION,
                                        .config_path = cfg_path,
                                        .client_id = client,
                                        .timeout_ms = 200,
                                        .retransmit_ms = 50};
}

static void expect_open_fails(const struct bft_session_options *o, int rv, const char *msg)
{
    struct bft_session *s = (struct bft_session *)1;
    char err[512] = "";
    assert_int_equal(bft_session_open(&s, o, err, sizeof err), rv);
    assert_null(s);
    if (!strstr(err, msg)) fail_msg("error '%s' lacks '%s'", err, msg);
}

static void test_bad_options(void **state)
{
    (void)state;
    expect_open_fails(NULL, BFT_E_INVALID, "no options");
    struct bft_session_options o = opts(0);
    o.version = 99;
    expect_open_fails(&o, BFT_E_INVALID, "version 99");
    o = opts(0);
    o.config_path = NULL;
    expect_open_fails(&o, BFT_E_INVALID, "config_path is required");
    o = opts(0);
    o.max_outstanding = BFT_SESSION_OUTSTANDING_MAX + 1;
    expect_open_fails(&o, BFT_E_INVALID, "max_outstanding");
}

static void test_bad_config_and_keys(void **state)
{
    (void)state;
    struct bft_session_options o = opts(0);
    char missing[160];
    snprintf(missing, sizeof missing, "%s/nope.json", dir);
    o.config_path = missing;
    expect_open_fails(&o, BFT_E_INVALID, "nope.json");
    o = opts(5);
    expect_open_fails(&o, BFT_E_INVALID, "has clients 0..1");
    o = opts(0);
    char key[160];
    snprintf(key, sizeof key, "%s/keys/absent.pem", dir);
    o.key_path = key;
    expect_open_fails(&o, BFT_E_INVALID, "client 0 key");
    /* Client 1's key presented as client 0. */
    snprintf(key, sizeof key, "%s/keys/client-1.pem", dir);
    o.key_path = key;
    expect_open_fails(&o, BFT_E_INVALID, "is not client 0's key");
}

/* The rule itself: the file's number if there is one, else the clock. */
static void test_reqno_rule(void **state)
{
    (void)state;
    assert_int_equal(session_reqno_first(true, 42, 1000000), 42);
    assert_int_equal(session_reqno_first(false, 0, 1000000), 1000000);
    assert_int_equal(session_reqno_first(false, 0, 0), 1);
    uint64_t v = 0;
    assert_int_equal(session_reqno_parse("00000000000000000017\n", 21, &v), 0);
    assert_int_equal(v, 17);
    assert_int_equal(session_reqno_parse("17", 2, &v), 0);
    assert_int_equal(session_reqno_parse("", 0, &v), -1);
    assert_int_equal(session_reqno_parse("0\n", 2, &v), -1);
    assert_int_equal(session_reqno_parse("12x\n", 4, &v), -1);
    assert_int_equal(session_reqno_parse("5\n\n", 3, &v), -1);
    assert_int_equal(session_reqno_parse("99999999999999999999\n", 21, &v), -1);
}

static uint64_t file_value(const char *path)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    unsigned long long v = 0;
    assert_int_equal(fscanf(f, "%llu", &v), 1);
    fclose(f);
    return v;
}

/* Reservation before use, the exact next number at close, the lock, and a
 * malformed file refused rather than guessed at. */
static void test_reqno_file(void **state)
{
    (void)state;
    char path[160], err[512];
    snprintf(path, sizeof path, "%s/rq", dir);
    unlink(path);
    struct session_reqno a, b;
    uint64_t next;
    assert_int_equal(session_reqno_open(&a, path, 5000, &next, err, sizeof err), BFT_E_OK);
    assert_int_equal(next, 5000); /* no file: the clock */
    assert_int_equal(file_value(path), 5000 + BFT_SESSION_REQNO_BLOCK);
    assert_int_equal(session_reqno_open(&b, path, 9999, &next, err, sizeof err), BFT_E_AGAIN);
    assert_non_null(strstr(err, "another session"));
    /* Using numbers up to the margin extends the reservation first. */
    assert_int_equal(session_reqno_reserve(&a, 5040), BFT_E_OK);
    assert_int_equal(file_value(path), 5040 + BFT_SESSION_REQNO_BLOCK);
    session_reqno_close(&a, 5041);
    assert_int_equal(file_value(path), 5041);
    /* The next session starts there, whatever the clock says. */
    assert_int_equal(session_reqno_open(&b, path, 1, &next, err, sizeof err), BFT_E_OK);
    assert_int_equal(next, 5041);
    session_reqno_close(&b, 5041);
    FILE *f = fopen(path, "w");
    fputs("garbage\n", f);
    fclose(f);
    assert_int_equal(session_reqno_open(&b, path, 1, &next, err, sizeof err), BFT_E_MALFORMED);
    assert_non_null(strstr(err, "malformed"));
    unlink(path);
}

static const uint8_t k_op[] = {1, 2, 3};

/* No replica runs: a submit ends "unknown" at its timeout; the numbers of
 * two successive sessions never repeat; a retry must name a number that
 * was handed out. */
static void test_unknown_outcome_and_numbers(void **state)
{
    (void)state;
    struct bft_session_options o = opts(0);
    struct bft_session *s;
    char err[512];
    assert_int_equal(bft_session_open(&s, &o, err, sizeof err), BFT_E_OK);
    struct bft_outcome out;
    assert_int_equal(bft_session_submit(s, k_op, sizeof k_op, 100, &out), BFT_E_OK);
    assert_int_equal(out.status, BFT_OUTCOME_UNKNOWN);
    assert_true(out.latency_us >= 100000);
    assert_int_equal(out.result_len, 0);
    uint64_t first = out.req_no;
    assert_int_equal(bft_session_submit(s, k_op, sizeof k_op, 50, &out), BFT_E_OK);
    assert_int_equal(out.req_no, first + 1);
    struct bft_session_stats st;
    bft_session_stats(s, &st);
    assert_int_equal(st.unknown, 2);
    assert_int_equal(st.next_req_no, first + 2);
    assert_true(st.retransmits > 0); /* it kept trying until the timeout */
    /* Retry: only a handed-out number; it is the same request again. */
    assert_int_equal(bft_session_retry(s, first + 2, k_op, sizeof k_op, 50, &out), BFT_E_INVALID);
    assert_int_equal(bft_session_retry(s, first, k_op, sizeof k_op, 50, &out), BFT_E_OK);
    assert_int_equal(out.status, BFT_OUTCOME_UNKNOWN);
    assert_int_equal(out.req_no, first);
    /* Bad arguments. */
    assert_int_equal(bft_session_submit(s, k_op, 0, 50, &out), BFT_E_INVALID);
    assert_int_equal(bft_session_submit(s, k_op, BFT_OP_MAX + 1, 50, &out), BFT_E_INVALID);
    assert_int_equal(bft_session_read(s, k_op, sizeof k_op, 7, 0, 50, &out), BFT_E_INVALID);
    assert_int_equal(bft_session_read(s, k_op, sizeof k_op, BFT_READ_LOCAL, 0, 50, &out),
                     BFT_E_INVALID);
    assert_int_equal(bft_session_read(s, k_op, sizeof k_op, BFT_READ_LINEARIZABLE, 0, 50, &out),
                     BFT_E_OK);
    assert_int_equal(out.status, BFT_OUTCOME_UNKNOWN);
    bft_session_close(s);
    /* The next session of client 0 continues above every number used. */
    assert_int_equal(bft_session_open(&s, &o, err, sizeof err), BFT_E_OK);
    assert_int_equal(bft_session_submit(s, k_op, sizeof k_op, 20, &out), BFT_E_OK);
    assert_true(out.req_no >= first + 2);
    /* Two at once for one client id: the second is refused. */
    struct bft_session *s2 = NULL;
    assert_int_equal(bft_session_open(&s2, &o, err, sizeof err), BFT_E_AGAIN);
    bft_session_close(s);
}

struct cb_log {
    pthread_mutex_t mu;
    int calls, unknown;
    bool other_thread;
    pthread_t caller;
    int nested_rv;
    struct bft_session *s;
};

static void on_done(void *ctx, const struct bft_outcome *out)
{
    struct cb_log *l = ctx;
    pthread_mutex_lock(&l->mu);
    l->calls++;
    if (out->status == BFT_OUTCOME_UNKNOWN) l->unknown++;
    l->other_thread = !pthread_equal(pthread_self(), l->caller);
    /* A blocking call from a callback would wait on its own thread. */
    struct bft_outcome o;
    if (l->s) l->nested_rv = bft_session_submit(l->s, k_op, sizeof k_op, 10, &o);
    l->s = NULL;
    pthread_mutex_unlock(&l->mu);
}

/* Async: bounded by max_outstanding; callbacks on the session thread; a
 * request still in flight at close completes "unknown" before close
 * returns. */
static void test_async_bounds_and_close(void **state)
{
    (void)state;
    struct bft_session_options o = opts(1);
    o.max_outstanding = 2;
    o.timeout_ms = 60000; /* only close ends them */
    struct bft_session *s;
    char err[512];
    assert_int_equal(bft_session_open(&s, &o, err, sizeof err), BFT_E_OK);
    struct cb_log l = {.mu = PTHREAD_MUTEX_INITIALIZER, .caller = pthread_self()};
    uint64_t r1 = 0, r2 = 0;
    assert_int_equal(bft_session_submit_async(s, k_op, sizeof k_op, on_done, &l, &r1), BFT_E_OK);
    assert_int_equal(bft_session_submit_async(s, k_op, sizeof k_op, on_done, &l, &r2), BFT_E_OK);
    assert_int_equal(r2, r1 + 1);
    assert_int_equal(bft_session_submit_async(s, k_op, sizeof k_op, on_done, &l, NULL), BFT_E_FULL);
    struct bft_outcome out;
    assert_int_equal(bft_session_submit(s, k_op, sizeof k_op, 10, &out), BFT_E_FULL);
    assert_int_equal(bft_session_submit_async(s, k_op, sizeof k_op, NULL, NULL, NULL),
                     BFT_E_INVALID);
    bft_session_close(s);
    assert_int_equal(l.calls, 2);
    assert_int_equal(l.unknown, 2);

    /* Callbacks run on the session's thread, and may not block there. */
    o.timeout_ms = 30;
    assert_int_equal(bft_session_open(&s, &o, err, sizeof err), BFT_E_OK);
    l.calls = 0;
    l.s = s;
    l.nested_rv = -1;
    assert_int_equal(bft_session_submit_async(s, k_op, sizeof k_op, on_done, &l, NULL), BFT_E_OK);
    for (int i = 0; i < 200; i++) { /* bounded: 2 s */
        pthread_mutex_lock(&l.mu);
        int calls = l.calls;
        pthread_mutex_unlock(&l.mu);
        if (calls) break;
        usleep(10000);
    }
    assert_int_equal(l.calls, 1);
    assert_true(l.other_thread);
    assert_int_equal(l.nested_rv, BFT_E_INVALID);
    bft_session_close(s);
}

/* ---- Four fake replicas in this process ---- */

struct fake {
    struct net_transport *rx[NREP], *tx[NREP];
    pthread_t th;
    atomic_bool stop; /* set by the test thread, read by the fake's */
    /* What each replica executed: request number -> result (dedup). */
    uint64_t nos[NREP][FAKE_MAX];
    uint8_t res[NREP][FAKE_MAX][16];
    uint32_t count[NREP];
    uint32_t executions[NREP];
};

/* Reply to one REQUEST as replica r: execute it once (result: the op's
 * first byte and the number of requests executed before it), answer a
 * repeat from the table. Replica 3 lies about every result. */
static void fake_request(struct fake *fk, uint32_t r, const uint8_t *m, size_t ml)
{
    struct bft_msg req;
    if (bft_msg_decode(m, ml, &req) != BFT_E_OK || req.type != BFT_MSG_REQUEST) return;
    struct bft_req_iter it;
    bft_req_iter_init(&it, &req);
    uint64_t no;
    const uint8_t *op;
    size_t op_len;
    if (!bft_req_iter_next(&it, &no, &op, &op_len)) return;
    uint8_t *res = NULL;
    for (uint32_t i = 0; i < fk->count[r]; i++)
        if (fk->nos[r][i] == no) res = fk->res[r][i];
    if (!res) {
        assert_true(fk->count[r] < FAKE_MAX);
        res = fk->res[r][fk->count[r]];
        fk->nos[r][fk->count[r]++] = no;
        memset(res, 0, 16);
        res[0] = op[0];
        res[1] = (uint8_t)fk->executions[r]++;
        if (r == 3) res[2] = 0xee;
    }
    uint8_t body[64];
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    wire_put_u32(&w, req.sender);
    wire_put_u16(&w, 1); /* one range (docs/wire.md) */
    wire_put_u64(&w, no);
    wire_put_u16(&w, 1);
    wire_put_u16(&w, 16);
    wire_put_bytes(&w, res, 16);
    struct bft_msg rep = {.type = BFT_MSG_REPLY,
                          .sender = r,
                          .cluster_id = CLUSTER_ID,
                          .seq = 1,
                          .body = body,
                          .body_len = (uint32_t)w.len};
    uint8_t buf[512];
    size_t len = bft_msg_encode(&rep, buf, sizeof buf);
    assert_true(len > 0);
    const uint8_t *region;
    size_t rl;
    uint8_t sig[BFT_SIG_LEN];
    bft_msg_signed_region(buf, &region, &rl);
    crypto_sign_msg(&rkeys[r], BFT_MSG_REPLY, CLUSTER_ID, region, rl, sig);
    bft_msg_set_sig(buf, sig);
    net_send(fk->tx[r], req.sender, buf, len);
    net_flush(fk->tx[r]);
}

static void *fake_main(void *arg)
{
    struct fake *fk = arg;
    while (!atomic_load(&fk->stop)) {
        for (uint32_t r = 0; r < NREP; r++) {
            uint8_t *frame;
            size_t len;
            if (net_recv(fk->rx[r], 2, &frame, &len) != 1) continue;
            struct net_frame_iter it;
            const uint8_t *m;
            size_t ml;
            if (net_frame_check(frame, len, &it) == NET_FRAME_OK)
                while (net_frame_next(&it, &m, &ml))
                    fake_request(fk, r, m, ml);
            net_frame_free(frame);
        }
    }
    return NULL;
}

static void fake_start(struct fake *fk)
{
    memset(fk, 0, sizeof *fk);
    atomic_init(&fk->stop, false);
    char url[128], err[256];
    for (uint32_t r = 0; r < NREP; r++) {
        snprintf(url, sizeof url, "ipc://%s/r%u", dir, r);
        assert_int_equal(net_open(&fk->rx[r], url, err, sizeof err), 0);
        assert_int_equal(net_open(&fk->tx[r], NULL, err, sizeof err), 0);
        for (uint32_t c = 0; c < 2; c++) {
            snprintf(url, sizeof url, "ipc://%s/c%u", dir, c);
            assert_int_equal(net_add_peer(fk->tx[r], c, url, err, sizeof err), 0);
        }
    }
    assert_int_equal(pthread_create(&fk->th, NULL, fake_main, fk), 0);
}

static void fake_stop(struct fake *fk)
{
    atomic_store(&fk->stop, true);
    pthread_join(fk->th, NULL);
    for (uint32_t r = 0; r < NREP; r++) {
        net_close(fk->rx[r]);
        net_close(fk->tx[r]);
    }
}

/* f+1 matching replies (replica 3 lies and is outvoted); two sessions in a
 * row both get executed; a retry of an executed number returns the first
 * result, even with other bytes (the replicas key on the number). */
static void test_against_fake_replicas(void **state)
{
    (void)state;
    static struct fake fk;
    fake_start(&fk);
    struct bft_session_options o = opts(0);
    o.timeout_ms = 5000;
    struct bft_session *s;
    char err[512];
    assert_int_equal(bft_session_open(&s, &o, err, sizeof err), BFT_E_OK);
    const uint8_t a[] = {0xa1}, b[] = {0xb2};
    struct bft_outcome out, again;
    assert_int_equal(bft_session_submit(s, a, 1, 5000, &out), BFT_E_OK);
    assert_int_equal(out.status, BFT_OUTCOME_DONE);
    assert_int_equal(out.result_len, 16);
    assert_int_equal(out.result[0], 0xa1);
    assert_int_equal(out.result[2], 0); /* not the liar's */
    bft_session_close(s);
    assert_int_equal(bft_session_open(&s, &o, err, sizeof err), BFT_E_OK);
    assert_int_equal(bft_session_submit(s, b, 1, 5000, &again), BFT_E_OK);
    assert_int_equal(again.status, BFT_OUTCOME_DONE);
    assert_true(again.req_no > out.req_no);
    assert_int_equal(again.result[0], 0xb2);
    assert_int_equal(again.result[1], out.result[1] + 1); /* executed, not a cached reply */
    struct bft_outcome retry;
    assert_int_equal(bft_session_retry(s, out.req_no, b, 1, 5000, &retry), BFT_E_OK);
    assert_int_equal(retry.status, BFT_OUTCOME_DONE);
    assert_int_equal(retry.req_no, out.req_no);
    assert_memory_equal(retry.result, out.result, 16);
    bft_session_close(s);
    fake_stop(&fk);
    for (uint32_t r = 0; r < 3; r++)
        assert_int_equal(fk.executions[r], 2);
}

/* Many threads at once, blocking and async: every request done once, each
 * under its own number (the session's mutex serialises the client). */
#define THREADS 4
#define PER_THREAD 8
struct worker {
    struct bft_session *s;
    uint64_t nos[PER_THREAD];
    int done;
};

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    for (int i = 0; i < PER_THREAD; i++) {
        struct bft_outcome out;
        uint8_t op = (uint8_t)i;
        if (bft_session_submit(w->s, &op, 1, 10000, &out) == BFT_E_OK &&
            out.status == BFT_OUTCOME_DONE && out.result[0] == op) {
            w->nos[i] = out.req_no;
            w->done++;
        }
    }
    return NULL;
}

static void on_async(void *ctx, const struct bft_outcome *out)
{
    struct cb_log *l = ctx;
    pthread_mutex_lock(&l->mu);
    l->calls++;
    if (out->status != BFT_OUTCOME_DONE) l->unknown++;
    pthread_mutex_unlock(&l->mu);
}

static void test_concurrent_callers(void **state)
{
    (void)state;
    static struct fake fk;
    fake_start(&fk);
    struct bft_session_options o = opts(1);
    o.timeout_ms = 10000;
    struct bft_session *s;
    char err[512];
    assert_int_equal(bft_session_open(&s, &o, err, sizeof err), BFT_E_OK);
    struct worker w[THREADS];
    pthread_t th[THREADS];
    memset(w, 0, sizeof w);
    for (int t = 0; t < THREADS; t++) {
        w[t].s = s;
        assert_int_equal(pthread_create(&th[t], NULL, worker_main, &w[t]), 0);
    }
    struct cb_log l = {.mu = PTHREAD_MUTEX_INITIALIZER};
    int sent = 0;
    for (int i = 0; i < PER_THREAD; i++) {
        uint8_t op = 0x80;
        if (bft_session_submit_async(s, &op, 1, on_async, &l, NULL) == BFT_E_OK) sent++;
    }
    for (int t = 0; t < THREADS; t++)
        pthread_join(th[t], NULL);
    for (int i = 0; i < 1000; i++) { /* bounded: 10 s */
        pthread_mutex_lock(&l.mu);
        int calls = l.calls;
        pthread_mutex_unlock(&l.mu);
        if (calls == sent) break;
        usleep(10000);
    }
    bft_session_close(s);
    fake_stop(&fk);
    assert_int_equal(sent, PER_THREAD);
    assert_int_equal(l.calls, sent);
    assert_int_equal(l.unknown, 0);
    for (int t = 0; t < THREADS; t++) {
        assert_int_equal(w[t].done, PER_THREAD);
        for (int u = 0; u < THREADS; u++)
            for (int i = 0; i < PER_THREAD; i++)
                for (int j = 0; j < PER_THREAD; j++)
                    if (t != u || i != j) assert_true(w[t].nos[i] != w[u].nos[j]);
    }
    for (uint32_t r = 0; r < 3; r++)
        assert_int_equal(fk.executions[r], THREADS * PER_THREAD + PER_THREAD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_options),
        cmocka_unit_test(test_bad_config_and_keys),
        cmocka_unit_test(test_reqno_rule),
        cmocka_unit_test(test_reqno_file),
        cmocka_unit_test(test_unknown_outcome_and_numbers),
        cmocka_unit_test(test_async_bounds_and_close),
        cmocka_unit_test(test_against_fake_replicas),
        cmocka_unit_test(test_concurrent_callers),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
