/* The public replica API (bft/replica.h) over the runtime. One thread
 * polls (nng has its own I/O threads); each step:
 *   receive a burst of frames -> step the node for each message
 *   fire due timers
 *   bft_node_flush: fsync the WAL if this burst persisted anything, then
 *                   hand the buffered sends to the transport
 *   net_flush: one coalesced frame per peer
 * Group commit falls out of the burst: many promises, one fsync. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bft/replica.h"
#include "crypto/crypto.h"
#include "net/net.h"
#include "node/node.h"
#include "runtime/runtime.h"
#include "runtime/runtime_files.h"
#include "runtime/runtime_internal.h"

/* Wait at most this long per step with no timer due and no fault plan:
 * also the latency of bft_replica_stop (bft/replica.h says ~50 ms). */
#define RT_IDLE_WAIT_MS 50

static void handle_frame(struct rt *rt, const uint8_t *frame, size_t len)
{
    struct net_frame_iter it;
    if (net_frame_check(frame, len, &it) != NET_FRAME_OK) {
        /* Junk on the wire: counted and dropped whole. */
        bft_node_reject(rt->node, BFT_REJECT_MALFORMED);
        return;
    }
    const uint8_t *msg;
    size_t mlen;
    while (net_frame_next(&it, &msg, &mlen))
        bft_node_receive(rt->node, msg, mlen);
}

static void fire_timers(struct rt *rt, uint64_t now)
{
    for (uint32_t t = 0; t < RT_MAX_TIMERS; t++) {
        if (rt->timer_due[t] && rt->timer_due[t] <= now) {
            rt->timer_due[t] = 0;
            bft_node_timer(rt->node, t);
        }
    }
}

static int next_wait_ms(const struct rt *rt, uint64_t now)
{
    uint64_t wait = rt->faults ? (uint64_t)rt_faults_wait_ms(rt->faults) : RT_IDLE_WAIT_MS;
    for (uint32_t t = 0; t < RT_MAX_TIMERS; t++) {
        if (!rt->timer_due[t]) continue;
        uint64_t d = rt->timer_due[t] > now ? rt->timer_due[t] - now : 0;
        if (d < wait) wait = d;
    }
    return (int)wait;
}

int bft_replica_create(struct bft_replica **out, const struct bft_replica_options *o, char *err,
                       size_t errlen)
{
    static const struct bft_replica_advanced no_advanced = {.twin_instance = -1};
    if (out) *out = NULL;
    if (!out || !o || !o->config_path) {
        snprintf(err, errlen, "bft_replica_create: options and config_path are required");
        return BFT_E_INVALID;
    }
    if (o->version != BFT_REPLICA_OPTIONS_VERSION) {
        snprintf(err, errlen, "replica options version %u, this library speaks version %u",
                 o->version, BFT_REPLICA_OPTIONS_VERSION);
        return BFT_E_INVALID;
    }
    /* Idempotent; an embedder need not know the library uses libsodium. */
    if (crypto_init() != 0) {
        snprintf(err, errlen, "crypto init failed");
        return BFT_E_INVALID;
    }
    struct rt *rt = calloc(1, sizeof *rt);
    if (!rt) {
        snprintf(err, errlen, "out of memory");
        return BFT_E_NOMEM;
    }
    rt->commits.fd = -1;
    atomic_init(&rt->stop, 0);
    const struct bft_replica_advanced *adv = o->advanced ? o->advanced : &no_advanced;
    rt->exit_after_destroy = adv->exit_after_destroy;
    int rv = rt_setup(rt, o, adv);
    if (rv != BFT_E_OK) {
        snprintf(err, errlen, "%s", rt->err);
        rt->finished = true; /* nothing ran: nothing to flush */
        bft_replica_destroy((struct bft_replica *)rt);
        return rv;
    }
    rt->start_ms = rt_now_ms();
    /* Timed from here: the WAL replay above is not a request's cost. */
    bft_budget_start(&rt->budget, BFT_STAGE_OTHER, bft_budget_clock_ns());
    *out = (struct bft_replica *)rt;
    return BFT_E_OK;
}

/* The last flush of what this incarnation holds, once: sends, commits.log
 * and the final stats.json. */
static void finish(struct rt *rt)
{
    if (rt->finished) return;
    rt->finished = true;
    bft_node_flush(rt->node);
    net_flush(rt->net);
    rt_commits_flush(&rt->commits);
    rt_write_stats(rt, true);
}

/* The periodic work after a step: stats, audit catch-up, the storage
 * probe. BFT_REPLICA_RESUME once failed storage takes writes again. */
static int housekeeping(struct rt *rt, uint64_t now)
{
    if (now - rt->last_stats_ms >= RT_STATS_EVERY_MS) {
        /* Orders installed by state transfer, in bounded slices. */
        rt_audit_catch_up(&rt->audit, RT_AUDIT_FILL_PER_TICK);
        rt_commits_flush(&rt->commits);
        rt_write_stats(rt, false);
        rt->last_stats_ms = now;
    }
    if ((rt->wal_failed || rt->audit_failed) && now - rt->last_probe_ms >= RT_PROBE_EVERY_MS) {
        rt->last_probe_ms = now;
        if (rt_storage_writable(rt->dir, RT_PROBE_BYTES)) {
            fprintf(stderr, "bftd %u: storage is writable again; restarting from the WAL\n",
                    rt->id);
            return BFT_REPLICA_RESUME;
        }
    }
    return BFT_REPLICA_RUNNING;
}

int bft_replica_poll(struct bft_replica *r, int timeout_ms)
{
    struct rt *rt = (struct rt *)r;
    if (rt->finished) return BFT_REPLICA_STOPPED;
    if (atomic_load(&rt->stop)) {
        finish(rt);
        return BFT_REPLICA_STOPPED;
    }
    uint64_t now = rt_now_ms();
    int wait = next_wait_ms(rt, now);
    if (timeout_ms >= 0 && timeout_ms < wait) wait = timeout_ms;
    uint8_t *frame;
    size_t len;
    /* Stage stamps (node/budget.h): a handful of clock readings per
     * poll, none per message here (the node adds its own per stage). */
    bft_budget_push(&rt->budget, BFT_STAGE_IDLE, bft_budget_clock_ns());
    int got = net_recv(rt->net, wait, &frame, &len);
    uint64_t woke_ns = bft_budget_clock_ns(); /* idle ends where recv starts */
    bft_budget_pop(&rt->budget, woke_ns);
    bft_budget_push(&rt->budget, BFT_STAGE_RECV, woke_ns);
    for (int i = 0; got == 1 && i < RT_BURST_FRAMES; i++) {
        handle_frame(rt, frame, len);
        net_frame_free(frame);
        got = net_recv(rt->net, 0, &frame, &len);
    }
    if (got == 1) { /* burst limit reached: keep it for the next round */
        handle_frame(rt, frame, len);
        net_frame_free(frame);
    }
    bft_budget_pop(&rt->budget, bft_budget_clock_ns());
    if (got < 0) {
        fprintf(stderr, "bftd %u: the transport failed; stopping\n", rt->id);
        finish(rt);
        return BFT_REPLICA_FAILED;
    }
    now = rt_now_ms();
    fire_timers(rt, now);
    bft_node_flush(rt->node);
    if (!rt->wal_failed) {
        char why[200];
        errno = 0;
        if (rt_storage_maybe_rotate(&rt->store, rt->node, why, sizeof why) != 0)
            rt_storage_failed(rt, &rt->wal_failed, why, errno);
    }
    if (rt->faults) rt_faults_poll(rt->faults);
    bft_budget_push(&rt->budget, BFT_STAGE_SEND, bft_budget_clock_ns());
    net_flush(rt->net);
    bft_budget_pop(&rt->budget, bft_budget_clock_ns());
    if (housekeeping(rt, now) == BFT_REPLICA_RESUME) {
        finish(rt);
        return BFT_REPLICA_RESUME;
    }
    return BFT_REPLICA_RUNNING;
}

int bft_replica_run(struct bft_replica *r)
{
    int rv;
    while ((rv = bft_replica_poll(r, -1)) == BFT_REPLICA_RUNNING) {
    }
    return rv;
}

void bft_replica_stop(struct bft_replica *r)
{
    if (r) atomic_store(&((struct rt *)r)->stop, 1);
}

void bft_replica_destroy(struct bft_replica *r)
{
    struct rt *rt = (struct rt *)r;
    if (!rt) return;
    if (rt->node && rt->net) finish(rt);
    rt_commits_close(&rt->commits);
    rt_audit_close(&rt->audit);
    rt_storage_close(&rt->store);
    if (rt->node) bft_node_destroy(rt->node);
    rt_faults_close(rt->faults);
    /* An embedder's process goes on (and may create this replica again on
     * the same addresses): close the sockets and the metrics server. bftd
     * exits or re-executes itself next and leaves them to the kernel
     * (net_abandon). */
    if (rt->exit_after_destroy) {
        net_abandon(rt->net);
    } else {
        rt_status_server_stop(rt->status);
        rt_metrics_stop(rt->metrics);
        if (rt->net) net_close(rt->net);
    }
    free(rt->client_pk);
    bft_cluster_free(&rt->cl);
    free(rt);
}

void bft_replica_info(const struct bft_replica *r, struct bft_replica_info *out)
{
    const struct rt *rt = (const struct rt *)r;
    struct bft_node_stats st;
    memset(out, 0, sizeof *out);
    out->id = rt->id;
    out->storage_failed = rt->wal_failed || rt->audit_failed;
    if (!rt->node) return;
    bft_node_stats(rt->node, &st);
    out->view = st.view;
    out->leader = st.leader;
    out->is_leader = st.is_leader;
    out->last_executed = st.last_executed;
    out->state_digest = st.state_digest;
}
