/* Unit tests of the core fixture (tests/lib/core_fixture.h): bad shapes
 * are refused, every protocol commits a request through bft_core_ops
 * alone with equal states everywhere, the network drops what a partition
 * or a crash cuts, timers fire only when armed, and a restart replays the
 * WAL. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "tests/lib/core_fixture.h"

static struct cf *make(int protocol, uint32_t n)
{
    struct cf_options o = {.protocol = protocol, .n = n};
    struct cf *cf = NULL;
    char err[128];
    assert_int_equal(cf_create(&cf, &o, err, sizeof err), BFT_E_OK);
    return cf;
}

static void drain(struct cf *cf)
{
    free(cf_log_take(cf));
}

static void test_bad_shapes(void **state)
{
    (void)state;
    struct cf *cf = NULL;
    char err[128];
    struct cf_options o = {.protocol = 99, .n = 4};
    assert_int_equal(cf_create(&cf, &o, err, sizeof err), BFT_E_INVALID);
    assert_non_null(strstr(err, "unknown protocol"));
    o = (struct cf_options){.protocol = BFT_PROTO_PBFT, .n = CF_MAX_NODES + 1};
    assert_int_equal(cf_create(&cf, &o, err, sizeof err), BFT_E_INVALID);
    o.n = 0;
    assert_int_equal(cf_create(&cf, &o, err, sizeof err), BFT_E_INVALID);
    assert_null(cf);
}

/* Drive a cluster until node 0..n-1 executed seq 1 (Raft: elect first). */
static void commit_one(int protocol, uint32_t n)
{
    struct cf *cf = make(protocol, n);
    if (protocol == BFT_PROTO_RAFT) {
        cf_run(cf, 1);
        assert_true(cf_fire(cf, 0, (uint32_t)cf_timer_parse(cf, "election")));
        assert_true(cf_stabilize(cf));
    }
    assert_int_not_equal(cf_request(cf, 0, 2, 1u, false), 0);
    cf_run(cf, 300);
    char *log = cf_log_take(cf);
    assert_non_null(strstr(log, "exec s="));
    free(log);
    char first[9];
    cf_state_hex(cf, 0, first);
    for (uint32_t i = 0; i < n; i++) {
        struct bft_core_status st;
        assert_true(cf_status(cf, i, &st));
        assert_true(st.last_executed >= 1);
        char hex[9];
        cf_state_hex(cf, i, hex);
        assert_string_equal(hex, first);
    }
    cf_destroy(cf);
}

static void test_every_protocol_commits(void **state)
{
    (void)state;
    commit_one(BFT_PROTO_PBFT, 4);
    commit_one(BFT_PROTO_HOTSTUFF, 4);
    commit_one(BFT_PROTO_RAFT, 3);
}

static void test_network_and_partition(void **state)
{
    (void)state;
    struct cf *cf = make(BFT_PROTO_PBFT, 4);
    cf_request(cf, 0, 1, 1u, false); /* primary 0 broadcasts a pre-prepare */
    assert_int_equal(cf_queued(cf, 0, 1), 1);
    assert_int_equal(cf_drop(cf, 0, 1), 1);
    assert_int_equal(cf_queued(cf, 0, 1), 0);
    uint8_t group[CF_MAX_NODES] = {0, 0, 1, 1};
    cf_partition(cf, group);
    assert_int_equal(cf_queued(cf, 0, 2), 0);     /* cut links are emptied */
    assert_int_equal(cf_deliver(cf, 0, 9, 5), 0); /* bad ids: nothing */
    cf_set_log_mask(cf, CF_LOG_NET);
    cf_resend(cf, 0, 1u);
    drain(cf);
    cf_heal(cf);
    cf_destroy(cf);
}

static void test_timers_fire_only_when_armed(void **state)
{
    (void)state;
    struct cf *cf = make(BFT_PROTO_RAFT, 3);
    int start = cf_timer_parse(cf, "start");
    assert_true(start > 0);
    assert_int_equal(cf_timer_parse(cf, "no_such_timer"), -1);
    assert_true(cf_timer_armed(cf, 1, (uint32_t)start));
    assert_false(cf_fire(cf, 1, 60)); /* never armed */
    assert_true(cf_fire(cf, 1, (uint32_t)start));
    assert_false(cf_timer_armed(cf, 1, (uint32_t)start));
    assert_false(cf_fire(cf, 1, (uint32_t)start));
    drain(cf);
    cf_destroy(cf);
}

static void test_crash_and_restart_replays_wal(void **state)
{
    (void)state;
    struct cf *cf = make(BFT_PROTO_RAFT, 3);
    cf_run(cf, 1);
    assert_true(cf_fire(cf, 0, (uint32_t)cf_timer_parse(cf, "election")));
    cf_stabilize(cf);
    struct bft_core_status before;
    assert_true(cf_status(cf, 2, &before));
    assert_int_equal(cf_crash(cf, 2), BFT_E_OK);
    assert_true(cf_is_down(cf, 2));
    assert_int_equal(cf_crash(cf, 2), BFT_E_INVALID);
    struct bft_core_status st;
    assert_false(cf_status(cf, 2, &st));
    assert_int_equal(cf_restart(cf, 2), BFT_E_OK);
    assert_int_equal(cf_restart(cf, 2), BFT_E_INVALID);
    assert_true(cf_status(cf, 2, &st));
    assert_int_equal(st.view, before.view); /* the term came back from the WAL */
    drain(cf);
    cf_destroy(cf);
}

static void test_request_bounds(void **state)
{
    (void)state;
    struct cf *cf = make(BFT_PROTO_PBFT, 4);
    assert_int_equal(cf_request(cf, CF_MAX_CLIENTS, 1, 1u, false), 0);
    assert_int_equal(cf_request(cf, 0, 0, 1u, false), 0);
    assert_int_equal(cf_request(cf, 0, CF_OPS_MAX + 1, 1u, false), 0);
    assert_int_equal(cf_resend(cf, 1, 1u), 0); /* client 1 sent nothing */
    char *log = cf_log_take(cf);
    assert_non_null(strstr(log, "out of bounds"));
    assert_non_null(strstr(log, "sent no request yet"));
    free(log);
    assert_int_equal(cf_request(cf, 0, 3, 1u, false), 1);
    assert_int_equal(cf_request(cf, 0, 1, 1u, false), 4); /* numbers continue */
    drain(cf);
    cf_destroy(cf);
}

/* The hooks the programmatic tests use: the observer sees each effect
 * with its fields, the filter drops what it says, tune changes configs,
 * and under null signatures a forged message from a peer is accepted
 * unless its signature starts with CF_BAD_SIG. */
struct seen {
    uint32_t sends, execs, persists, timers, rejects;
    uint64_t last_exec_seq;
    uint32_t dropped;
};

static void observe(void *arg, const struct cf_effect *e)
{
    struct seen *s = arg;
    switch (e->kind) {
    case CF_LOG_SEND:
        assert_non_null(e->msg);
        s->sends++;
        break;
    case CF_LOG_EXEC:
        assert_non_null(e->digest);
        assert_non_null(e->state);
        s->execs++;
        s->last_exec_seq = e->seq;
        break;
    case CF_LOG_PERSIST:
        assert_true(e->len > 0);
        s->persists++;
        break;
    case CF_LOG_TIMER:
        s->timers++;
        break;
    case CF_LOG_REJECT:
        s->rejects++;
        break;
    default:
        break;
    }
}

static bool drop_commits_to_3(void *arg, uint32_t from, uint32_t to, const struct bft_msg *m)
{
    struct seen *s = arg;
    (void)from;
    if (to != 3 || m->type != BFT_MSG_COMMIT) return false;
    s->dropped++;
    return true;
}

static void tune_timeout(void *arg, uint32_t id, struct bft_core_config *c)
{
    (void)arg;
    c->request_timeout_ms = 1000 + id;
}

static void test_hooks(void **state)
{
    (void)state;
    struct seen s = {0};
    struct cf_options o = {
        .protocol = BFT_PROTO_PBFT, .n = 4, .null_sigs = true, .tune = tune_timeout};
    struct cf *cf = NULL;
    char err[128];
    assert_int_equal(cf_create(&cf, &o, err, sizeof err), BFT_E_OK);
    assert_int_equal(cf_config(cf, 2)->request_timeout_ms, 1002);
    cf_set_observer(cf, observe, &s);
    cf_set_filter(cf, drop_commits_to_3, &s);
    assert_int_not_equal(cf_request(cf, 0, 1, 1u, false), 0);
    assert_true(cf_stabilize(cf));
    assert_true(s.sends > 0 && s.persists > 0 && s.timers > 0);
    assert_int_equal(s.execs, 3); /* 3 saw no COMMIT */
    assert_int_equal(s.last_exec_seq, 1);
    assert_true(s.dropped >= 3);
    struct bft_core_status st;
    assert_true(cf_status(cf, 3, &st));
    assert_int_equal(st.last_executed, 0);
    assert_non_null(cf_core(cf, 3));
    cf_set_filter(cf, NULL, NULL);
    /* A forged CHECKPOINT from 1 to 3: accepted under null signatures,
     * dropped when its signature starts with CF_BAD_SIG. */
    struct bft_msg m = {.type = BFT_MSG_CHECKPOINT, .view = 0, .seq = 1000};
    size_t len;
    uint8_t *buf = cf_encode_as(cf, 1, &m, &len);
    assert_non_null(buf);
    drain(cf);
    cf_receive(cf, 1, 3, buf, len);
    char *log = cf_log_take(cf);
    assert_null(strstr(log, "bad signature"));
    free(log);
    buf[BFT_HDR_LEN] = CF_BAD_SIG;
    cf_receive(cf, 1, 3, buf, len);
    log = cf_log_take(cf);
    assert_non_null(strstr(log, "bad signature"));
    free(log);
    cf_push(cf, 1, 3, buf, len);
    assert_int_equal(cf_queued(cf, 1, 3), 1);
    free(buf);
    cf_set_observer(cf, NULL, NULL);
    drain(cf);
    cf_destroy(cf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_shapes),
        cmocka_unit_test(test_every_protocol_commits),
        cmocka_unit_test(test_network_and_partition),
        cmocka_unit_test(test_timers_fire_only_when_armed),
        cmocka_unit_test(test_crash_and_restart_replays_wal),
        cmocka_unit_test(test_request_bounds),
        cmocka_unit_test(test_hooks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
