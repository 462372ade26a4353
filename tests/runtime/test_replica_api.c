/* The public replica API (bft/replica.h): whole clusters of a user-defined
 * state machine (tests/runtime/counter_app.c) in one process, one thread
 * per replica polling through bft_replica_poll, on loopback; a client of
 * the in-tree client library over net/ orders operations and reads; every
 * replica must end with the same state digest. And the bad inputs an
 * embedder can hand create, each refused with a clear message. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "bft/bft.h"
#include "client/client.h"
#include "config/cluster.h"
#include "crypto/crypto.h"
#include "net/net.h"
#include "tests/runtime/counter_app.h"
#include "tests/runtime/replica_fixture.h"

#define OPS 20
#define INITIAL 1000u
#define CONVERGE_TIMEOUT_MS 20000

/* ---- replicas: one thread each, polling ---- */

struct rep {
    struct bft_replica *r;
    pthread_t th;
    pthread_mutex_t mu;
    struct bft_replica_info info; /* published after every poll, under mu */
    int rv;
    /* on_commit: runs on the replica's thread */
    uint64_t commits, last_seq; /* adds executed; the last seq seen */
    bool seq_went_back;
};

static void on_commit(void *ctx, uint64_t seq, uint32_t client, uint64_t req_no, const uint8_t *op,
                      size_t op_len, const uint8_t *res, size_t res_len)
{
    struct rep *p = ctx;
    (void)client;
    (void)req_no;
    (void)res;
    (void)res_len;
    if (seq < p->last_seq) p->seq_went_back = true;
    p->last_seq = seq;
    /* Adds only: a read the client had to order (its fallback) is
     * executed too. */
    if (op_len == COUNTER_OP_LEN && op[0] == COUNTER_ADD) p->commits++;
}

static void *rep_main(void *arg)
{
    struct rep *p = arg;
    struct bft_replica_info info;
    int rv;
    while ((rv = bft_replica_poll(p->r, 20)) == BFT_REPLICA_RUNNING) {
        bft_replica_info(p->r, &info);
        pthread_mutex_lock(&p->mu);
        p->info = info;
        pthread_mutex_unlock(&p->mu);
    }
    p->rv = rv;
    return NULL;
}

static struct counter_config g_counter_cfg = {.initial = INITIAL};

static int create_replica(const struct cluster_dir *cd, uint32_t id, bool fresh, struct rep *p,
                          char *err, size_t errlen)
{
    struct bft_replica_options o = {.version = BFT_REPLICA_OPTIONS_VERSION,
                                    .config_path = cd->cfg,
                                    .id = id,
                                    .fresh = fresh,
                                    .app = &counter_app,
                                    .app_user = &g_counter_cfg,
                                    .on_commit = on_commit,
                                    .on_commit_ctx = p};
    return bft_replica_create(&p->r, &o, err, errlen);
}

/* Every replica's published info: the same last_executed (>= min_seq)
 * and state digest; waits up to the bound. */
static bool replicas_agree(struct rep *reps, uint32_t n, uint64_t min_seq,
                           struct bft_replica_info *out)
{
    uint64_t deadline = mono_ms() + CONVERGE_TIMEOUT_MS;
    while (mono_ms() < deadline) {
        struct bft_replica_info first, x;
        bool same = true;
        for (uint32_t i = 0; i < n; i++) {
            pthread_mutex_lock(&reps[i].mu);
            x = reps[i].info;
            pthread_mutex_unlock(&reps[i].mu);
            if (i == 0) first = x;
            if (x.last_executed < min_seq || x.last_executed != first.last_executed ||
                memcmp(&x.state_digest, &first.state_digest, sizeof first.state_digest) != 0)
                same = false;
        }
        if (same) {
            *out = first;
            return true;
        }
        usleep(20000);
    }
    return false;
}

/* Create replicas 0..n-1 and start their threads. */
static void start_all(const struct cluster_dir *cd, struct rep *reps, uint32_t n, bool fresh)
{
    char err[1024];
    memset(reps, 0, n * sizeof *reps);
    for (uint32_t i = 0; i < n; i++) {
        pthread_mutex_init(&reps[i].mu, NULL);
        int rv = create_replica(cd, i, fresh, &reps[i], err, sizeof err);
        if (rv != BFT_E_OK) fail_msg("replica %u: %s", i, err);
    }
    for (uint32_t i = 0; i < n; i++)
        assert_int_equal(pthread_create(&reps[i].th, NULL, rep_main, &reps[i]), 0);
}

/* Wait for one digest everywhere, stop every replica from this thread,
 * and check how each ended; min_adds: adds each must have executed in
 * this incarnation. A replica may execute more between the agreement and
 * the stop (a Raft leader's no-op after an election): at the end,
 * replicas at the same seq must still have the same digest. */
static void stop_all(struct rep *reps, uint32_t n, uint64_t min_adds,
                     struct bft_replica_info *agreed)
{
    if (!replicas_agree(reps, n, 1, agreed)) fail_msg("replicas did not agree on a state digest");
    struct bft_replica_info end[BFT_MAX_REPLICAS];
    for (uint32_t i = 0; i < n; i++)
        bft_replica_stop(reps[i].r);
    for (uint32_t i = 0; i < n; i++) {
        assert_int_equal(pthread_join(reps[i].th, NULL), 0);
        assert_int_equal(reps[i].rv, BFT_REPLICA_STOPPED);
        assert_int_equal(bft_replica_poll(reps[i].r, 0), BFT_REPLICA_STOPPED);
        bft_replica_info(reps[i].r, &end[i]);
        assert_int_equal(end[i].id, i);
        assert_true(end[i].last_executed >= agreed->last_executed);
        assert_true(reps[i].commits >= min_adds);
        assert_false(reps[i].seq_went_back);
        bft_replica_destroy(reps[i].r);
        pthread_mutex_destroy(&reps[i].mu);
    }
    for (uint32_t i = 0; i < n; i++)
        for (uint32_t j = 0; j < n; j++)
            if (end[i].last_executed == end[j].last_executed)
                assert_memory_equal(&end[i].state_digest, &end[j].state_digest,
                                    sizeof end[i].state_digest);
}

/* Order add(a): the answer must be the running sum. */
static void add(struct cli *k, uint64_t a, uint64_t want)
{
    uint8_t op[COUNTER_OP_LEN];
    uint64_t value = 0;
    k->done = false;
    k->want = bft_client_submit(k->c, op, counter_op(op, COUNTER_ADD, a), mono_ms());
    assert_true(k->want != 0);
    if (!client_wait(k)) fail_msg("add %llu: no answer", (unsigned long long)a);
    /* The app got app_user (INITIAL) and ordered every add once. */
    assert_int_equal(counter_result(k->res, k->res_len, &value), 0);
    assert_int_equal(value, want);
}

static void run_cluster(int protocol, uint32_t n)
{
    struct cluster_dir cd;
    make_cluster(&cd, protocol, n);
    struct rep reps[BFT_MAX_REPLICAS];
    start_all(&cd, reps, n, true);
    struct cli k;
    memset(&k, 0, sizeof k);
    open_client(&cd, &k);
    uint64_t sum = INITIAL;
    for (uint64_t a = 1; a <= OPS; a++) {
        sum += a;
        add(&k, a, sum);
    }
    /* A linearizable read (docs/reads.md) through app->query. */
    uint8_t op[COUNTER_OP_LEN];
    uint64_t value = 0;
    k.done = false;
    k.want = bft_client_read(k.c, op, counter_op(op, COUNTER_GET, 0), mono_ms());
    assert_true(k.want != 0);
    assert_true(client_wait(&k));
    assert_int_equal(counter_result(k.res, k.res_len, &value), 0);
    assert_int_equal(value, sum);
    /* Every replica executed every add, once, in seq order. */
    struct bft_replica_info agreed;
    stop_all(reps, n, OPS, &agreed);
    printf("%s n=%u: %d adds, value %llu, every replica at seq %llu with one digest\n",
           bft_protocol_name(protocol), n, OPS, (unsigned long long)value,
           (unsigned long long)agreed.last_executed);

    /* destroy closed the sockets and the files: the same replicas come
     * back on their addresses from their WALs (what an embedder does on
     * BFT_REPLICA_RESUME) and go on from the same state. */
    start_all(&cd, reps, n, false);
    sum += OPS + 1;
    add(&k, OPS + 1, sum);
    stop_all(reps, n, 1, &agreed);
    printf("  after a restart of every replica from its WAL: value %llu at seq %llu\n",
           (unsigned long long)sum, (unsigned long long)agreed.last_executed);

    bft_client_destroy(k.c);
    net_close(k.net);
    remove_cluster(&cd);
}

static void test_pbft_cluster_of_a_user_app(void **state)
{
    (void)state;
    run_cluster(BFT_PROTO_PBFT, 4);
}

static void test_hotstuff_cluster_of_a_user_app(void **state)
{
    (void)state;
    run_cluster(BFT_PROTO_HOTSTUFF, 4);
}

static void test_raft_cluster_of_a_user_app(void **state)
{
    (void)state;
    run_cluster(BFT_PROTO_RAFT, 3);
}

/* ---- bad input: refused with a clear message, nothing left behind ---- */

static void expect_refused(const struct bft_replica_options *o, int want, const char *needle)
{
    struct bft_replica *r = (struct bft_replica *)&r; /* must become NULL */
    char err[1024] = "";
    int rv = bft_replica_create(&r, o, err, sizeof err);
    if (rv != want) fail_msg("got %s ('%s'), want %s", bft_strerror(rv), err, bft_strerror(want));
    assert_null(r);
    if (!strstr(err, needle)) fail_msg("error '%s' does not say '%s'", err, needle);
}

static void test_bad_input_is_refused(void **state)
{
    (void)state;
    struct cluster_dir cd;
    make_cluster(&cd, BFT_PROTO_PBFT, 4);
    struct bft_replica_options o = {.version = BFT_REPLICA_OPTIONS_VERSION,
                                    .config_path = cd.cfg,
                                    .id = 1,
                                    .app = &counter_app};
    /* Options of another layout. */
    struct bft_replica_options v = o;
    v.version = BFT_REPLICA_OPTIONS_VERSION + 1;
    expect_refused(&v, BFT_E_INVALID, "options version 2");
    /* App ops of another layout, or with a hole. */
    struct bft_app_ops ops = counter_app;
    ops.version = BFT_APP_OPS_VERSION + 1;
    v = o;
    v.app = &ops;
    expect_refused(&v, BFT_E_INVALID, "application ops version 2");
    ops = counter_app;
    ops.restore = NULL;
    expect_refused(&v, BFT_E_INVALID, "every function is required");
    /* No config, a missing one, an id outside the cluster. */
    v = o;
    v.config_path = NULL;
    expect_refused(&v, BFT_E_INVALID, "config_path");
    v.config_path = "/nonexistent/cluster.json";
    expect_refused(&v, BFT_E_INVALID, "/nonexistent/cluster.json");
    v = o;
    v.id = 4;
    expect_refused(&v, BFT_E_INVALID, "not a replica");
    /* An app other than the one cluster.json names: it would execute the
     * same log into another state than its peers. */
    ops = counter_app;
    ops.name = "bank";
    v = o;
    v.app = &ops;
    expect_refused(&v, BFT_E_INVALID, "app 'bank' but cluster.json says \"app\": \"counter\"");
    /* No app given: cluster.json's "counter" is not built in. */
    v = o;
    v.app = NULL;
    expect_refused(&v, BFT_E_INVALID, "app 'counter' (cluster.json) is not built in");
    /* This replica's key file is missing. */
    char key[300];
    snprintf(key, sizeof key, "%s/keys/replica-1.pem", cd.dir);
    if (access(key, F_OK) != 0) {
        struct bft_cluster cl;
        char e[512];
        assert_int_equal(bft_cluster_load(&cl, cd.cfg, e, sizeof e), BFT_E_OK);
        bft_cluster_replica_key_path(&cl, 1, key, sizeof key);
        bft_cluster_free(&cl);
    }
    assert_int_equal(unlink(key), 0);
    expect_refused(&o, BFT_E_INVALID, "replica 1 key");
    /* A fault plan that is not there. */
    v = o;
    v.id = 2;
    v.plan_path = "/nonexistent/plan.json";
    expect_refused(&v, BFT_E_IO, "fault plan: cannot open /nonexistent/plan.json");
    remove_cluster(&cd);
}

int main(void)
{
    if (crypto_init() != 0) return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input_is_refused),
        cmocka_unit_test(test_pbft_cluster_of_a_user_app),
        cmocka_unit_test(test_hotstuff_cluster_of_a_user_app),
        cmocka_unit_test(test_raft_cluster_of_a_user_app),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
