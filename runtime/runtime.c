/* The replica runtime's host callbacks (what the node asks of its host)
 * and its setup from cluster.json and the options (bft/replica.h). The
 * loop and the public functions are in runtime/replica.c. */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node/node.h"
#include "app/app.h"
#include "core/core.h"
#include "config/cluster.h"
#include "config/cluster_net.h" /* plain or TLS transport from cluster.json */
#include "crypto/crypto.h"
#include "net/net.h"
#include "runtime/runtime.h"
#include "runtime/runtime_internal.h"
#include "runtime/runtime_files.h"
#include "runtime/runtime_audit.h"
#include "runtime/runtime_commits.h"
#include "runtime/runtime_storage.h"
#include "runtime/runtime_metrics.h"
#include "runtime/runtime_faults.h"
#include "wire/hash.h"

uint64_t rt_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* ---- host callbacks ---- */

static void send_client(struct rt *rt, uint32_t client, const uint8_t *msg, size_t len)
{
    if (client >= rt->cl.n_clients) return;
    uint32_t peer = RT_CLIENT_PEER_BASE + client;
    if (!net_has_peer(rt->net, peer)) {
        char err[256];
        if (bft_cluster_net_add_client(&rt->cl, rt->net, peer, client, err, sizeof err) != 0) {
            fprintf(stderr, "bftd %u: client %u: %s\n", rt->id, client, err);
            return;
        }
        /* Cannot fail: the peer was just added and holds nothing. */
        (void)net_limit_peer(rt->net, peer, RT_CLIENT_QUEUE_BYTES, true);
    }
    net_send(rt->net, peer, msg, len);
}

/* What leaves the process, after the fault plan (if any). */
static void xmit(void *ctx, uint32_t dest, const uint8_t *msg, size_t len)
{
    struct rt *rt = ctx;
    uint32_t id = FAULT_DEST_ID(dest);
    if (dest & FAULT_CLIENT) {
        send_client(rt, id, msg, len);
    } else if (id < rt->cl.n && id != rt->id) {
        if (rt->twin_peer[id] && rt_faults_twin_active(rt->faults, id)) id += RT_TWIN_PEER_BASE;
        if (dest & FAULT_RAW_FRAME)
            net_send_raw(rt->net, id, msg, len);
        else
            net_send(rt->net, id, msg, len);
    }
}

static void h_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len)
{
    struct rt *rt = ctx;
    /* WAL replay runs before the transport is up; a core that re-executes
     * logged commits (HotStuff) fills the outbox with replies, and a full
     * outbox flushes. Those went out before the crash; the node keeps the
     * last replies cached for clients that retransmit. */
    if (!rt->net) return;
    if (rt->faults)
        rt_faults_send(rt->faults, replica, msg, len);
    else
        net_send(rt->net, replica, msg, len);
}

static void h_send_client(void *ctx, uint32_t client, const uint8_t *msg, size_t len)
{
    struct rt *rt = ctx;
    if (!rt->net) return; /* WAL replay (h_send) */
    if (rt->faults)
        rt_faults_send(rt->faults, FAULT_CLIENT | client, msg, len);
    else
        send_client(rt, client, msg, len);
}

/* A WAL or audit write failed (disk full, I/O error): the replica stops
 * promising (the node drops a step's sends when its sync fails), says why
 * on stderr, in stats.json and in the metrics, and probes the disk until it
 * takes writes again (bft_replica_poll). Failures are sticky per file handle: see
 * store/wal.c on fsyncgate. */
void rt_storage_failed(struct rt *rt, bool *flag, const char *what, int err)
{
    if (*flag) return;
    *flag = true;
    snprintf(rt->storage_err, sizeof rt->storage_err, "%s failed: %s", what,
             err ? strerror(err) : "error");
    fprintf(stderr, "bftd %u: %s: no promises (votes, replies) until storage is writable again\n",
            rt->id, rt->storage_err);
}

static void h_persist(void *ctx, const uint8_t *rec, size_t len)
{
    struct rt *rt = ctx;
    if (rt->wal_failed) return;
    errno = 0;
    if (rt_storage_append(&rt->store, rec, len) != 0)
        rt_storage_failed(rt, &rt->wal_failed, "WAL write", errno);
}

static bool h_snapshot_wanted(void *ctx, uint64_t seq)
{
    struct rt *rt = ctx;
    return !rt->wal_failed && rt_storage_snapshot_wanted(&rt->store, seq);
}

/* A durable snapshot (docs/storage.md). A failed write is a storage
 * failure like a failed WAL write: the replica stops promising until the
 * disk takes writes again, then restarts from what is on disk. */
static int h_save_snapshot(void *ctx, uint64_t seq, const bft_digest *state, const uint8_t *snap,
                           size_t len)
{
    struct rt *rt = ctx;
    if (rt->wal_failed) return -1;
    char why[300];
    errno = 0;
    int rv = rt_storage_save_snapshot(&rt->store, seq, state, snap, len, why, sizeof why);
    if (rv < 0) rt_storage_failed(rt, &rt->wal_failed, why, errno);
    return rv;
}

/* Sends that go ahead of the sync (the Raft leader's appends) leave now. */
static void h_push(void *ctx)
{
    struct rt *rt = ctx;
    if (rt->net) net_flush(rt->net);
}

/* The node's group commit: the WAL records of this step become durable,
 * and its audit lines reach the kernel (durable within RT_SYNCER_EVERY_MS),
 * before any of its sends (votes, replies) leave. */
static int h_sync(void *ctx)
{
    struct rt *rt = ctx;
    if (rt->wal_failed || rt->audit_failed) return -1;
    errno = 0;
    /* During WAL replay the WAL is not open for append yet: there is
     * nothing of it to sync, but re-executed orders may have written
     * audit lines. */
    if (rt_storage_sync(&rt->store) != 0) {
        rt_storage_failed(rt, &rt->wal_failed, "WAL sync", errno);
        return -1;
    }
    if (rt_audit_write(&rt->audit) != 0) {
        rt_storage_failed(rt, &rt->audit_failed, "audit log write or sync", errno);
        return -1;
    }
    return 0;
}

static void h_set_timer(void *ctx, uint32_t timer, uint64_t after_ms)
{
    struct rt *rt = ctx;
    if (timer >= RT_MAX_TIMERS) abort(); /* a core bug, not input */
    rt->timer_due[timer] = rt_now_ms() + after_ms;
    if (rt->timer_due[timer] == 0) rt->timer_due[timer] = 1;
}

static void h_cancel_timer(void *ctx, uint32_t timer)
{
    struct rt *rt = ctx;
    if (timer < RT_MAX_TIMERS) rt->timer_due[timer] = 0;
}

static void h_on_execute(void *ctx, uint64_t seq, uint64_t view, const bft_digest *batch,
                         const bft_digest *state)
{
    struct rt *rt = ctx;
    /* WAL replay runs before commits.log is open: a core that re-executes
     * its logged commits on recover (HotStuff) must not crash the restart.
     * Those seqs were logged by the previous incarnation. */
    rt_commits_add(&rt->commits, seq, view, batch, state);
}

static void h_on_result(void *ctx, uint32_t client, uint64_t req_no, uint64_t seq, uint64_t view,
                        const uint8_t *op, size_t op_len, const uint8_t *res, size_t res_len)
{
    struct rt *rt = ctx;
    (void)view;
    if (rt->audit_on) rt_audit_result(&rt->audit, client, seq, op, op_len, res, res_len);
    if (rt->on_commit)
        rt->on_commit(rt->on_commit_ctx, seq, client, req_no, op, op_len, res, res_len);
}

/* ---- setup ---- */

/* A setup error: the message goes to rt->err (bft_replica_create copies it
 * out); returns code. */
#define FAIL(code, ...) (snprintf(rt->err, sizeof rt->err, __VA_ARGS__), (code))

/* The cluster, this replica's key (it must match cluster.json) and its
 * data dir. */
static int setup_identity(struct rt *rt, const struct bft_replica_options *opt,
                          struct bft_node_config *nc)
{
    char err[512];
    if (bft_cluster_load(&rt->cl, opt->config_path, err, sizeof err) != BFT_E_OK)
        return FAIL(BFT_E_INVALID, "%s", err);
    if (opt->id >= rt->cl.n)
        return FAIL(BFT_E_INVALID, "id %u is not a replica of this cluster (n=%u)", opt->id,
                    rt->cl.n);
    rt->id = opt->id;
    char keypath[700];
    bft_cluster_replica_key_path(&rt->cl, opt->id, keypath, sizeof keypath);
    if (crypto_key_read_pem(keypath, &nc->self_key, err, sizeof err) != 0)
        return FAIL(BFT_E_INVALID, "replica %u key: %s", opt->id, err);
    if (memcmp(nc->self_key.pk, rt->cl.replicas[opt->id].pk, CRYPTO_PK_LEN) != 0)
        return FAIL(BFT_E_INVALID, "key %s does not match replica %u's public_key in %s", keypath,
                    opt->id, opt->config_path);
    if (opt->data_dir)
        snprintf(rt->dir, sizeof rt->dir, "%s", opt->data_dir);
    else
        snprintf(rt->dir, sizeof rt->dir, "%s/replica-%u", rt->cl.dir, opt->id);
    if (rt_mkdir_p(rt->dir) != 0)
        return FAIL(BFT_E_IO, "cannot create %s: %s", rt->dir, strerror(errno));
    return BFT_E_OK;
}

/* The node's configuration from cluster.json, and the application: the
 * embedder's, or cluster.json's built-in one. */
static int setup_config(struct rt *rt, const struct bft_replica_options *opt,
                        struct bft_node_config *nc)
{
    bft_core_config_defaults(&nc->core, rt->cl.protocol, rt->cl.n, opt->id);
    nc->core.f = rt->cl.f;
    nc->core.cluster_id = rt->cl.cluster_id;
    if (rt->cl.batch_max) nc->core.batch_max = rt->cl.batch_max;
    nc->app = opt->app ? opt->app : bft_app_for(rt->cl.app);
    nc->app_user = opt->app_user;
    if (!nc->app)
        return FAIL(BFT_E_INVALID,
                    "app '%s' (cluster.json) is not built in (orders, kv): run it through the "
                    "replica API with its bft_app_ops (docs/embedding.md)",
                    rt->cl.app);
    /* Every replica of a cluster must run the same state machine: a replica
     * of another app would execute the same log into another state. */
    if (opt->app && (!opt->app->name || strcmp(opt->app->name, rt->cl.app) != 0))
        return FAIL(BFT_E_INVALID, "app '%s' but cluster.json says \"app\": \"%s\"",
                    opt->app->name ? opt->app->name : "(no name)", rt->cl.app);
    /* The orders audit trail reads the orders application's own state. */
    rt->audit_on = nc->app == &bft_app_orders;
    for (uint32_t i = 0; i < rt->cl.n; i++)
        memcpy(nc->replica_pk[i], rt->cl.replicas[i].pk, CRYPTO_PK_LEN);
    uint8_t(*cpk)[CRYPTO_PK_LEN] = calloc(rt->cl.n_clients ? rt->cl.n_clients : 1, CRYPTO_PK_LEN);
    if (!cpk) return FAIL(BFT_E_NOMEM, "out of memory");
    rt->client_pk = cpk;
    for (uint32_t i = 0; i < rt->cl.n_clients; i++)
        memcpy(cpk[i], rt->cl.clients[i].pk, CRYPTO_PK_LEN);
    nc->n_clients = rt->cl.n_clients;
    nc->client_pk = (const uint8_t(*)[CRYPTO_PK_LEN])cpk; /* freed after the node */
    nc->sign_replica_msgs = rt->cl.sign;
    /* Fresh entropy per process: a restarted incarnation must not repeat
     * its predecessor's random choices (Raft election timeouts). */
    if (crypto_random_bytes(&nc->random_seed, sizeof nc->random_seed) != 0 || nc->random_seed == 0)
        nc->random_seed = rt_now_ms() ^ ((uint64_t)getpid() << 32) ^ BFT_GOLDEN64;

    return BFT_E_OK;
}

static int setup_node(struct rt *rt, const struct bft_node_config *nc)
{
    char err[512];
    struct bft_host host = {.ctx = rt,
                            .send = h_send,
                            .send_client = h_send_client,
                            .persist = h_persist,
                            .sync = h_sync,
                            .push = h_push,
                            .set_timer = h_set_timer,
                            .cancel_timer = h_cancel_timer,
                            .on_execute = h_on_execute,
                            .save_snapshot = h_save_snapshot,
                            .snapshot_wanted = h_snapshot_wanted,
                            .on_result = rt->audit_on || rt->on_commit ? h_on_result : NULL,
                            .budget = &rt->budget};
    int rv = bft_node_create(&rt->node, nc, &host, err, sizeof err);
    if (rv != BFT_E_OK) return FAIL(rv, "%s", err);
    return BFT_E_OK;
}

/* audit.log, the WAL and snapshots (replayed here), metrics, commits.log. */
static int setup_files(struct rt *rt, const struct bft_replica_options *opt,
                       const struct bft_replica_advanced *adv)
{
    char err[512];
    /* The audit log opens before replay: orders that replay executes again
     * and the log lacks (their lines died with the process) are written. */
    if (rt->audit_on) {
        if (rt_audit_open(&rt->audit, rt->dir, err, sizeof err) != 0)
            return FAIL(BFT_E_IO, "replica %u: %s", opt->id, err);
        rt->audit.node = rt->node;
        if (rt->audit.cut_bytes && opt->verbose)
            fprintf(stderr, "bftd %u: audit.log: cut a torn tail of %llu bytes\n", opt->id,
                    (unsigned long long)rt->audit.cut_bytes);
    }
    if (rt_storage_open(&rt->store, rt->dir, opt->fresh, rt->node, opt->id, err, sizeof err) != 0)
        return FAIL(BFT_E_IO, "replica %u: storage in %s: %s", opt->id, rt->dir, err);
    if (rt->store.load_note[0]) fprintf(stderr, "bftd %u: %s\n", opt->id, rt->store.load_note);
    if (rt_audit_sync(&rt->audit) != 0)
        return FAIL(BFT_E_IO, "replica %u: cannot write %s/audit.log: %s", opt->id, rt->dir,
                    strerror(errno));
    /* From here the audit log's fdatasync runs off the replies' path; if
     * no thread can be started, rt_audit_write syncs in line instead. */
    if (rt->audit_on && rt_audit_start_syncer(&rt->audit) != 0 && opt->verbose)
        fprintf(stderr, "bftd %u: audit.log: no syncer thread, syncing in line\n", opt->id);
    if (rt->cl.metrics_base[0]) {
        /* metrics_base "http://HOST:PORT": replica i serves PORT + i. */
        char url[128];
        const char *colon = strrchr(rt->cl.metrics_base, ':');
        long port = colon ? strtol(colon + 1, NULL, 10) : 0;
        if (!colon || port <= 0 || port + opt->id > 65535)
            return FAIL(BFT_E_INVALID, "metrics_base '%s' needs a port", rt->cl.metrics_base);
        snprintf(url, sizeof url, "%.*s:%ld", (int)(colon - rt->cl.metrics_base),
                 rt->cl.metrics_base, port + (long)opt->id);
        if (rt_metrics_start(&rt->metrics, url, err, sizeof err) != 0)
            return FAIL(BFT_E_IO, "replica %u: %s", opt->id, err);
    }
    /* Status over the network (runtime_status_host.c). A second instance
     * listening elsewhere (a twin) leaves the status address to the first. */
    if (rt_status_setup(rt, adv->listen == NULL, err, sizeof err) != 0)
        return FAIL(BFT_E_IO, "replica %u: %s", opt->id, err);
    char cpath[700];
    snprintf(cpath, sizeof cpath, "%s/commits.log", rt->dir);
    /* Append: a restarted replica's new executions are checked against
     * what its earlier incarnation executed (a torn tail is cut first). */
    if (rt_commits_open(&rt->commits, cpath, err, sizeof err) != 0)
        return FAIL(BFT_E_IO, "replica %u: %s", opt->id, err);
    return BFT_E_OK;
}

static int setup_faults(struct rt *rt, const struct bft_replica_options *opt,
                        const struct bft_replica_advanced *adv, const struct bft_node_config *nc)
{
    char err[512];
    if (opt->plan_path) {
        uint64_t start_ms = opt->plan_start_ms;
        if (!start_ms) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            start_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
        }
        struct rt_faults_config fc = {.plan_path = opt->plan_path,
                                      .start_realtime_ms = start_ms,
                                      .twin_instance = adv->twin_instance,
                                      .protocol = rt->cl.protocol,
                                      .n = rt->cl.n,
                                      .f = rt->cl.f,
                                      .self = opt->id,
                                      .cluster_id = rt->cl.cluster_id,
                                      .request_timeout_ms = nc->core.request_timeout_ms,
                                      .key = nc->self_key,
                                      .xmit = xmit,
                                      .ctx = rt};
        int rv = rt_faults_open(&rt->faults, &fc, err, sizeof err);
        if (rv != BFT_E_OK) return FAIL(rv, "fault plan: %s", err);
    }
    return BFT_E_OK;
}

/* Listen, and dial every peer (and a twin's second instance). */
static int setup_net(struct rt *rt, const struct bft_replica_options *opt,
                     const struct bft_replica_advanced *adv)
{
    char err[512];
    const char *listen = adv->listen ? adv->listen : rt->cl.replicas[opt->id].address;
    if (bft_cluster_net_open(&rt->cl, false, opt->id, listen, &rt->net, err, sizeof err) != 0)
        return FAIL(BFT_E_IO, "replica %u: %s", opt->id, err);
    for (uint32_t i = 0; i < rt->cl.n; i++) {
        if (i == opt->id) continue;
        const char *url = rt->cl.replicas[i].address;
        for (uint32_t k = 0; k < adv->n_peer_overrides; k++)
            if (adv->peer_override[k].id == i) url = adv->peer_override[k].url;
        if (bft_cluster_net_add_replica(&rt->cl, rt->net, i, i, url, err, sizeof err) != 0)
            return FAIL(BFT_E_IO, "replica %u: peer %u: %s", opt->id, i, err);
    }
    for (uint32_t k = 0; k < adv->n_twin_peers; k++) {
        uint32_t i = adv->twin_peer[k].id;
        if (i >= rt->cl.n || i == opt->id || !rt->faults) continue;
        if (bft_cluster_net_add_replica(&rt->cl, rt->net, RT_TWIN_PEER_BASE + i, i,
                                        adv->twin_peer[k].url, err, sizeof err) != 0)
            return FAIL(BFT_E_IO, "replica %u: twin of %u: %s", opt->id, i, err);
        rt->twin_peer[i] = true;
    }
    if (opt->verbose)
        fprintf(stderr,
                "bftd %u: %s n=%u f=%u listening on %s, %d snapshot(s) loaded (base %llu)\n",
                opt->id, bft_protocol_name(rt->cl.protocol), rt->cl.n, rt->cl.f, listen,
                rt->store.loaded, (unsigned long long)bft_node_snapshot_base(rt->node));
    return BFT_E_OK;
}

int rt_setup(struct rt *rt, const struct bft_replica_options *opt,
             const struct bft_replica_advanced *adv)
{
    struct bft_node_config nc;
    memset(&nc, 0, sizeof nc);
    rt->on_commit = opt->on_commit;
    rt->on_commit_ctx = opt->on_commit_ctx;
    int rv = setup_identity(rt, opt, &nc);
    if (rv == BFT_E_OK) rv = setup_config(rt, opt, &nc);
    if (rv == BFT_E_OK) rv = setup_node(rt, &nc);
    if (rv == BFT_E_OK) rv = setup_files(rt, opt, adv);
    if (rv == BFT_E_OK) rv = setup_faults(rt, opt, adv, &nc);
    if (rv == BFT_E_OK) rv = setup_net(rt, opt, adv);
    return rv;
}
