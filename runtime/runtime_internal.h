/* Private to the replica runtime (the .c files of runtime/): the state of one replica
 * (struct bft_replica of bft/replica.h). */
#ifndef BFT_RUNTIME_INTERNAL_H
#define BFT_RUNTIME_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config/cluster.h"
#include "crypto/crypto.h"
#include "net/net.h"
#include "node/node.h"
#include "runtime/runtime.h"
#include "runtime/runtime_audit.h"
#include "runtime/runtime_commits.h"
#include "runtime/runtime_faults.h"
#include "runtime/runtime_metrics.h"
#include "runtime/runtime_storage.h"
#include "runtime/runtime_status.h"

#define RT_MAX_TIMERS 64
#define RT_BURST_FRAMES 64
#define RT_CLIENT_PEER_BASE BFT_MAX_REPLICAS
/* Reply bytes queued toward one client (net_limit_peer), all clients
 * together at most NET_SHARED_QUEUE_BYTES: a client that stops reading
 * costs its own replies (it retransmits, the reply cache answers), not the
 * replica's memory. 1 MiB is 16 replies to full envelopes (256 results of
 * BFT_RESULT_MAX bytes), more than a client keeps in flight
 * (docs/design.md "Transport"). */
#define RT_CLIENT_QUEUE_BYTES (1u << 20)
#define RT_STATS_EVERY_MS 200
#define RT_AUDIT_FILL_PER_TICK 65536u /* audit lines written from a snapshot per stats tick */
#define RT_PROBE_EVERY_MS 1000        /* storage probe while writes fail */
#define RT_PROBE_BYTES (1u << 20)     /* headroom the probe asks for */
#define RT_TWIN_PEER_BASE (NET_MAX_PEERS - BFT_MAX_REPLICAS) /* a twin's second instance */

struct rt {
    struct bft_cluster cl;
    uint32_t id;
    struct net_transport *net;
    struct bft_node *node;
    struct rt_storage store; /* WAL segments and snapshots (runtime_storage.c) */
    bool wal_failed;         /* WAL, snapshot or rotation: storage_failed */
    bool audit_failed;
    char storage_err[512];     /* why the replica stopped promising ("" if it did not) */
    struct rt_commits commits; /* commits.log (fd -1 until opened) */
    char dir[600];
    uint64_t timer_due[RT_MAX_TIMERS]; /* 0 = not armed */
    uint64_t start_ms;
    uint64_t junk_frames;
    struct rt_faults *faults;   /* NULL: no plan */
    struct rt_audit audit;      /* orders app only */
    struct rt_metrics *metrics; /* NULL: not configured */
    uint8_t (*client_pk)[CRYPTO_PK_LEN];
    bool twin_peer[BFT_MAX_REPLICAS];
    /* Status over the network (runtime_status_host.c). */
    struct rt_status_track status_track;
    struct rt_status_server *status; /* NULL: no status address */
    bool audit_on;                   /* the orders app: audit.log (runtime_audit.c) */
    bft_replica_commit_fn on_commit;
    void *on_commit_ctx;
    char err[2048];          /* why setup failed */
    atomic_int stop;         /* bft_replica_stop: lock-free, so signal-safe */
    bool finished;           /* the final flush is done (rt_finish) */
    bool exit_after_destroy; /* bft_replica_advanced */
    uint64_t last_stats_ms, last_probe_ms;
    /* Where the event loop's time goes (docs/design.md "Latency budget"):
     * the loop charges idle, recv and send, the node the rest. */
    struct bft_budget budget;
};

/* runtime.c: the node's host callbacks and the setup from cluster.json
 * and the options; BFT_E_OK, or an error with rt->err set. */
int rt_setup(struct rt *rt, const struct bft_replica_options *opt,
             const struct bft_replica_advanced *adv);
/* A WAL, snapshot or audit write failed: stop promising (runtime.c). */
void rt_storage_failed(struct rt *rt, bool *flag, const char *what, int err);

/* runtime_stats.c: DIR/stats.json (docs/design.md "Files"), every
 * RT_STATS_EVERY_MS and on exit (final). */
void rt_write_stats(struct rt *rt, bool final);
/* runtime_status_host.c: start the status page if `serve` and the
 * replica has a status address (0, or -1 with err); observe and publish, every tick. */
int rt_status_setup(struct rt *rt, bool serve, char *err, size_t errlen);
void rt_status_tick(struct rt *rt, const struct bft_node_stats *st);
/* The latency budget's members of stats.json (docs/design.md "Latency
 * budget"), each after ", ": stage_us, stage_us_per_op (by `ops`
 * executed; 0 when none), phase_us and phase_n. */
void rt_stats_budget_json(FILE *f, const struct bft_budget *b, const struct bft_phase_stats *ph,
                          uint64_t ops);
/* The members of "rejected" (one per reason) and its closing brace. */
void rt_stats_rejected_json(FILE *f, const uint64_t rejected[BFT_REJECT__COUNT]);

#endif
