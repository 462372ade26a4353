/* The Raft cmocka tests' view of the one core fixture (tests/lib/
 * core_fixture.h, issue 13). The cluster, the fake env and io, the
 * application, the WAL, the network links and the timers are the
 * fixture's; this header keeps only what the tests read, filled by the
 * fixture's observer (per node: sends and persists in order, executions,
 * rejects, reads, timer delays), and the delivery order they were written
 * against: ONE global FIFO. Every packet the fixture queues is remembered
 * here as (from, to) with its bytes, in the order sent (a broadcast is one
 * entry per destination, in id order, as the fixture queues it), and is
 * delivered with cf_deliver(from, to, 1); each link is FIFO, so this
 * reproduces the order of sending exactly. Nothing moves and no timer
 * fires until the test says so.
 *
 * A partition cuts delivery, not sending (through the fixture's filter): a
 * packet queued across the cut is dropped when its turn comes, one queued
 * before a heal arrives. Requests are handed straight to a core, as a
 * client at that replica. fx_restart loses the node's snapshot files
 * (cf_lose_disk): a restarted replica re-executes from its WAL or pulls
 * state by transfer (§7), which is what these tests were written for;
 * fx_restart_keep_snapshots keeps them (docs/storage.md). */
#ifndef TEST_RAFT_FIXTURE_H
#define TEST_RAFT_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/raft/raft.h"
#include "core/raft/raft_internal.h"
#include "tests/lib/core_fixture.h"
#include "wire/hash.h"
#include "wire/wire.h"

#define FX_FN static inline __attribute__((unused))
#define FX_MAX_MSGS 65536  /* packets in the global FIFO */
#define FX_MAX_EVENTS 4096 /* sends and persists remembered per node */
#define FX_TIMERS CF_TIMERS

enum { FX_EV_PERSIST = 1, FX_EV_SEND = 2 };

/* One queued packet: the fixture holds it on link from->to; these bytes
 * are the same (the fixture's encoding), for tests that look inside. */
struct fx_msg {
    uint32_t from, to;
    uint8_t *buf;
    size_t len;
};

struct fx_node {
    struct fx *fx;
    uint32_t id;
    uint64_t after_ms[FX_TIMERS]; /* the last delay each timer was set to */
    /* Effects in order: a send (per destination) or a persist. */
    struct {
        uint8_t kind, type, rec_type;
        size_t len; /* persist: the record's length */
    } ev[FX_MAX_EVENTS];
    size_t n_ev;
    bool ev_lost;   /* more effects than FX_MAX_EVENTS: searches refuse */
    bool wal_short; /* a scripted record did not fit in the WAL */
    /* The application as the tests see it. */
    uint64_t executed;  /* last sequence applied (executed or restored) */
    uint32_t exec_reqs; /* requests in them */
    uint64_t restores;  /* snapshots installed by state transfer */
    uint64_t rejects[BFT_REJECT__COUNT];
    uint64_t reads_ready;
};

struct fx {
    uint32_t n;
    struct bft_core_config cfg; /* every node's config (self and cluster aside) */
    struct cf *cf;
    struct fx_node node[CF_MAX_NODES];
    struct fx_msg *q; /* the global FIFO: a ring of FX_MAX_MSGS */
    size_t head, len;
    uint32_t on_link[CF_MAX_NODES][CF_MAX_NODES]; /* entries of q per link */
    bool cut[CF_MAX_NODES][CF_MAX_NODES];
    bool only;           /* fx_run_only: deliver only these types */
    uint64_t only_types; /* bit per type below 64 */
    uint64_t sent_by_type[256];
};

FX_FN struct bft_core *fx_core(const struct fx *fx, uint32_t i)
{
    return cf_core(fx->cf, i);
}

FX_FN uint64_t fx_cluster(const struct fx *fx)
{
    return cf_config(fx->cf, 0)->cluster_id;
}

FX_FN bool fx_armed(const struct fx *fx, uint32_t i, uint32_t t)
{
    return cf_timer_armed(fx->cf, i, t);
}

/* The k-th packet from the front of the global FIFO (k < fx->len). */
FX_FN struct fx_msg *fx_peek(struct fx *fx, size_t k)
{
    assert_true(k < fx->len);
    return &fx->q[(fx->head + k) % FX_MAX_MSGS];
}

/* The application's state digest on node i (its first 32 bits): replicas
 * that executed the same batches in the same order agree on it. */
FX_FN uint64_t fx_state(const struct fx *fx, uint32_t i)
{
    char hex[9];
    cf_state_hex(fx->cf, i, hex);
    return strtoull(hex, NULL, 16);
}

/* ---- the effect log: what the observer does not carry ---- */

/* Only the lines read below: snapshot restores, and the fixture's own
 * errors (an encoding or a record it could not keep). */
#define FX_LOG_MASK (CF_LOG_CKPT | CF_LOG_NET | CF_LOG_PERSIST | CF_LOG_READ)

FX_FN void fx_log_line(struct fx *fx, const char *line)
{
    /* A restore installs the application state at s (state transfer; a
     * snapshot loaded from disk would too, but restarts lose them). */
    unsigned id;
    unsigned long long s;
    char what[16], word[16];
    if (sscanf(line, "%u %15s s=%llu %15s", &id, what, &s, word) == 4 && id < fx->n &&
        strcmp(word, "ok") == 0) {
        if (strcmp(what, "restore") == 0) fx->node[id].restores++;
        if (strcmp(what, "restore") == 0 || strcmp(what, "load_snapshot") == 0)
            fx->node[id].executed = s;
        return;
    }
    /* What the old fixture asserted: every packet encodes and arrives
     * intact, every record is kept, every read is a well-formed request. */
    static const char *const bad[] = {"cannot encode",      "undecodable", "bad signature",
                                      "link full",          "no memory",   "WAL bound hit",
                                      "more lines not kept"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++)
        if (strstr(line, bad[k])) fail_msg("core fixture: %s", line);
}

/* Read the lines logged since the last call (at most CF_LOG_MAX lines are
 * kept between two reads: every step of the adapter calls this). */
FX_FN void fx_sync(struct fx *fx)
{
    char *log = cf_log_take(fx->cf);
    assert_non_null(log);
    char *line = log;
    while (*line) {
        char *nl = strchr(line, '\n');
        if (nl) *nl = '\0';
        fx_log_line(fx, line);
        if (!nl) break;
        line = nl + 1;
    }
    free(log);
}

/* ---- the observer: effects as the fixture's io carried them out ---- */

FX_FN void fx_note(struct fx_node *nd, uint8_t kind, uint8_t type, uint8_t rec_type, size_t len)
{
    if (nd->n_ev == FX_MAX_EVENTS) {
        nd->ev_lost = true;
        return;
    }
    nd->ev[nd->n_ev].kind = kind;
    nd->ev[nd->n_ev].type = type;
    nd->ev[nd->n_ev].rec_type = rec_type;
    nd->ev[nd->n_ev].len = len;
    nd->n_ev++;
}

/* Remember a packet the fixture is about to queue on from->to. */
FX_FN void fx_enqueue(struct fx *fx, uint32_t from, uint32_t to, const struct bft_msg *m)
{
    assert_true(fx->len < FX_MAX_MSGS);
    /* A full link would drop it: the order here would no longer match. */
    assert_true(cf_queued(fx->cf, from, to) < CF_LINK_MAX);
    size_t len;
    uint8_t *buf = cf_encode_as(fx->cf, from, m, &len);
    assert_non_null(buf);
    fx->q[(fx->head + fx->len++) % FX_MAX_MSGS] = (struct fx_msg){from, to, buf, len};
    fx->on_link[from][to]++;
}

FX_FN void fx_on_send(struct fx *fx, const struct cf_effect *e)
{
    struct fx_node *nd = &fx->node[e->node];
    bool all = e->to == CF_BROADCAST;
    if (!all) {
        assert_true(e->to < fx->n);
        assert_int_not_equal(e->to, e->node);
    }
    if (e->msg->type != BFT_MSG_REQUEST) assert_int_equal(e->msg->flags, 0);
    for (uint32_t to = all ? 0 : e->to; to <= (all ? fx->n - 1 : e->to); to++) {
        if (to == e->node) continue;
        fx_note(nd, FX_EV_SEND, e->msg->type, 0, 0);
        fx->sent_by_type[e->msg->type]++;
        /* The fixture queues nothing for a node that is down. */
        if (!cf_is_down(fx->cf, to)) fx_enqueue(fx, e->node, to, e->msg);
    }
}

FX_FN void fx_on_exec(struct fx *fx, const struct cf_effect *e)
{
    struct fx_node *nd = &fx->node[e->node];
    fx_sync(fx); /* a snapshot restored just before moves `executed` */
    /* In order, exactly once, consecutive from 1 (or from a restore). */
    assert_int_equal(e->seq, nd->executed + 1);
    assert_true((e->data == NULL) == (e->len == 0));
    nd->executed = e->seq;
    if (e->len >= 2) nd->exec_reqs += (uint32_t)wire_le_load(e->data, 2);
}

FX_FN void fx_observe(void *arg, const struct cf_effect *e)
{
    struct fx *fx = arg;
    struct fx_node *nd = &fx->node[e->node];
    switch (e->kind) {
    case CF_LOG_SEND:
        fx_on_send(fx, e);
        break;
    case CF_LOG_PERSIST:
        assert_true(e->len > 0);
        fx_note(nd, FX_EV_PERSIST, 0, e->data[0], e->len);
        break;
    case CF_LOG_EXEC:
        fx_on_exec(fx, e);
        break;
    case CF_LOG_TIMER:
        assert_true(e->timer < FX_TIMERS);
        if (!e->cancel) nd->after_ms[e->timer] = e->ms;
        break;
    case CF_LOG_REJECT:
        assert_true(e->reason >= BFT_REJECT__FIRST && e->reason < BFT_REJECT__COUNT);
        nd->rejects[e->reason]++;
        break;
    case CF_LOG_READ:
        nd->reads_ready++;
        break;
    default:
        fail_msg("unexpected effect kind %u", e->kind);
    }
}

/* Partitions and fx_run_only act when a packet's turn comes. */
FX_FN bool fx_filter(void *arg, uint32_t from, uint32_t to, const struct bft_msg *m)
{
    struct fx *fx = arg;
    if (fx->cut[from][to]) return true;
    return fx->only && (m->type >= 64 || !((fx->only_types >> m->type) & 1));
}

/* ---- lifecycle ---- */

/* Every node's config is fx->cfg (as tuned by the test), with the
 * fixture's cluster id, which its encoder stamps on every packet. */
FX_FN void fx_tune(void *arg, uint32_t id, struct bft_core_config *c)
{
    const struct fx *fx = arg;
    uint64_t cluster = c->cluster_id;
    *c = fx->cfg;
    c->self = id;
    c->cluster_id = cluster;
}

/* A fixture with default config and no nodes yet: tests may tune fx->cfg
 * and then call fx_start_nodes. */
FX_FN struct fx *fx_alloc(uint32_t n)
{
    assert_true(n >= 1 && n <= CF_MAX_NODES);
    struct fx *fx = calloc(1, sizeof(*fx));
    assert_non_null(fx);
    fx->n = n;
    fx->q = calloc(FX_MAX_MSGS, sizeof(*fx->q));
    assert_non_null(fx->q);
    bft_core_config_defaults(&fx->cfg, BFT_PROTO_RAFT, n, 0);
    fx->cfg.request_timeout_ms = 100;
    for (uint32_t i = 0; i < n; i++) {
        fx->node[i].fx = fx;
        fx->node[i].id = i;
    }
    return fx;
}

FX_FN struct fx *fx_start_nodes(struct fx *fx)
{
    struct cf_options o = {.protocol = BFT_PROTO_RAFT, .n = fx->n, .tune = fx_tune, .tune_arg = fx};
    char err[128];
    int rv = cf_create(&fx->cf, &o, err, sizeof err);
    if (rv != BFT_E_OK) fail_msg("cf_create: %s", err);
    cf_set_observer(fx->cf, fx_observe, fx);
    cf_set_filter(fx->cf, fx_filter, fx);
    cf_set_log_mask(fx->cf, FX_LOG_MASK);
    return fx;
}

FX_FN struct fx *fx_new(uint32_t n)
{
    return fx_start_nodes(fx_alloc(n));
}

FX_FN void fx_forget_queue(struct fx *fx)
{
    for (size_t k = 0; k < fx->len; k++)
        free(fx_peek(fx, k)->buf);
    fx->head = fx->len = 0;
    memset(fx->on_link, 0, sizeof fx->on_link);
}

FX_FN void fx_free(struct fx *fx)
{
    fx_sync(fx);
    cf_destroy(fx->cf);
    fx_forget_queue(fx);
    free(fx->q);
    free(fx);
}

#include "test_raft_drive.h"
#include "test_raft_script.h"

#endif
