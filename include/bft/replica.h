/* bft/replica.h: run one replica of a cluster inside your own process, on
 * your own state machine (bft/app.h). It reads the same cluster.json and
 * key files as bftd and keeps the same files in its data dir: the WAL,
 * snapshots, commits.log and stats.json (docs/storage.md); it serves the
 * metrics endpoint if cluster.json asks, and follows a fault plan if given
 * one (docs/faults.md). bftd itself is a thin main over this API
 * (docs/embedding.md). */
#ifndef BFT_PUBLIC_REPLICA_H
#define BFT_PUBLIC_REPLICA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bft/app.h"
#include "bft/common.h"

/* The layout of struct bft_replica_options this header describes; a
 * replica refuses options of another version (docs/embedding.md "What is
 * stable"). */
#define BFT_REPLICA_OPTIONS_VERSION 1

/* bftd's own settings (twin instances, address overrides); NULL for an
 * embedder. Not part of the stable API. */
struct bft_replica_advanced;

/* Called once per executed operation, on the replica's thread, after the
 * application applied it: the embedder's own audit trail. After a restart
 * the replica re-executes what its WAL holds, so a seq may be seen again
 * by a new incarnation: key the trail on seq. Must not call back into the
 * replica. */
typedef void (*bft_replica_commit_fn)(void *ctx, uint64_t seq, uint32_t client, uint64_t req_no,
                                      const uint8_t *op, size_t op_len, const uint8_t *result,
                                      size_t result_len);

struct bft_replica_options {
    uint32_t version;        /* BFT_REPLICA_OPTIONS_VERSION */
    const char *config_path; /* cluster.json (bftctl keygen), required */
    uint32_t id;             /* this replica's id, 0..n-1 */
    const char *data_dir;    /* NULL: <cluster.json's dir>/replica-<id> */
    bool fresh;              /* discard the WAL and snapshots: start empty */
    int verbose;             /* > 0: progress lines on stderr */
    /* The state machine. NULL: cluster.json's "app" (orders or kv, the
     * built-in ones). When given, app->name must equal cluster.json's
     * "app" (bftctl keygen --app NAME), so that no replica runs another
     * state machine than its peers, and app->version must be
     * BFT_APP_OPS_VERSION. */
    const struct bft_app_ops *app;
    void *app_user; /* passed to app->create */
    /* Optional fault plan (docs/faults.md "Plan file") and the run's T=0
     * in CLOCK_REALTIME ms (0: now). */
    const char *plan_path;
    uint64_t plan_start_ms;
    bft_replica_commit_fn on_commit; /* optional */
    void *on_commit_ctx;
    const struct bft_replica_advanced *advanced; /* NULL */
};

struct bft_replica;

/* Set up a replica: load cluster.json and this replica's key, open (and
 * replay) its WAL, start listening and dialling its peers. Returns BFT_E_OK
 * and *out, or an error with a message in err (BFT_E_INVALID: bad options,
 * config, key or app; BFT_E_IO: a file or the network; BFT_E_NOMEM). */
BFT_API int bft_replica_create(struct bft_replica **out, const struct bft_replica_options *o,
                               char *err, size_t errlen);

/* What bft_replica_poll and bft_replica_run return. */
enum bft_replica_state {
    BFT_REPLICA_RUNNING = 0, /* poll only: one step done, call again */
    BFT_REPLICA_STOPPED = 1, /* bft_replica_stop was called; all is flushed */
    /* Storage failed (disk full, I/O error), the replica stopped promising,
     * and the disk takes writes again: destroy this replica and create it
     * again with the same options (fresh = false), which restarts it from
     * its WAL (docs/storage.md). bftd re-executes itself here. */
    BFT_REPLICA_RESUME = 2,
    BFT_REPLICA_FAILED = 3, /* the transport failed: destroy it */
};

/* One bounded step of the replica's loop, for a caller with its own loop:
 * wait at most timeout_ms for messages (negative: until the replica's next
 * timer, at most ~50 ms), handle a bounded burst of them, fire timers, make
 * the WAL durable and send. Call it from one thread at a time. */
BFT_API int bft_replica_poll(struct bft_replica *r, int timeout_ms);
/* Poll until it returns something other than BFT_REPLICA_RUNNING. */
BFT_API int bft_replica_run(struct bft_replica *r);
/* Ask run/poll to stop: they return BFT_REPLICA_STOPPED within one step
 * (at most ~50 ms). Safe from any thread and from a signal handler. */
BFT_API void bft_replica_stop(struct bft_replica *r);
/* Flush, close files and sockets, free. Not while run/poll is running in
 * another thread. NULL is ignored. */
BFT_API void bft_replica_destroy(struct bft_replica *r);

struct bft_replica_info {
    uint32_t id;
    uint64_t view; /* view (PBFT), round's view (HotStuff) or term (Raft) */
    uint32_t leader;
    bool is_leader;
    uint64_t last_executed; /* highest executed sequence number */
    /* The replica's state digest at last_executed: the app's digest with
     * the exactly-once client table; equal on replicas at the same seq. */
    bft_digest state_digest;
    bool storage_failed; /* not promising until the disk recovers */
};
/* A snapshot of the replica's progress; from the thread that polls (or
 * after run returned). */
BFT_API void bft_replica_info(const struct bft_replica *r, struct bft_replica_info *out);

#endif
