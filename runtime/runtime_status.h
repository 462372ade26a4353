/* Status over the network (docs/design.md "bftctl status"): each replica
 * serves a JSON document at GET /status on its status address
 * (cluster.json replicas[i].status). The main loop observes the node every
 * stats tick and renders the page; the HTTP handler (an nng thread) only
 * copies the last page under a mutex, as the metrics page does, so it
 * never touches replica state.
 *
 * The tracker below turns the node's counters into times, because the node
 * and the cores have no clock (docs/style.md #1): a peer counts as heard
 * at the first tick its heard_from counter moved, a commit at the first
 * tick last_executed moved. */
#ifndef BFT_RUNTIME_STATUS_H
#define BFT_RUNTIME_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node/node.h"
#include "wire/wire.h"

/* A peer heard within this window counts as reachable, and a replica with
 * work that has not committed within it is "short of a quorum". Three
 * seconds: several heartbeat/retransmission periods of every protocol at
 * the default timeouts, and short enough for an operator watching. */
#define RT_STATUS_WINDOW_MS 3000u

struct rt_status_track {
    uint32_t n, self, quorum;
    uint64_t window_ms;
    uint64_t start_ms;
    uint64_t heard_count[BFT_MAX_REPLICAS];
    uint64_t heard_ms[BFT_MAX_REPLICAS]; /* 0: never */
    uint64_t last_exec, commit_ms;       /* commit_ms 0: none since start */
    uint64_t requests, request_ms;       /* the last new write request arrived */
    uint64_t work_ms;                    /* the current stretch with work began (0: idle) */
    uint64_t no_quorum_ms;               /* "no quorum since" (0: not short) */
};

/* quorum: replicas a commit needs (2f+1, Raft a majority). */
void rt_status_track_init(struct rt_status_track *t, uint32_t n, uint32_t self, uint32_t quorum,
                          uint64_t window_ms, uint64_t now_ms);
/* One observation of the node. A replica is short of a quorum when it has
 * work it cannot finish (a view change or election in progress, or a
 * write request that arrived after its last commit) and has not committed
 * for a whole window; it has been since the later of its last commit and
 * the start of that work. */
void rt_status_observe(struct rt_status_track *t, const struct bft_node_stats *st, uint64_t now_ms);
/* Replicas heard within the window, this one included; mask bit i set for
 * each (bit self always). */
uint32_t rt_status_reachable(const struct rt_status_track *t, uint64_t now_ms, uint32_t *mask);

/* What the page says besides the node's stats. */
struct rt_status_info {
    uint32_t id, n, f;
    int protocol;
    uint64_t wal_bytes, snapshot_bytes;
    const char *storage_error; /* "" when storage is fine */
    uint64_t now_ms;           /* monotonic, as the tracker's */
    uint64_t now_unix_ms;      /* CLOCK_REALTIME, to print "since" as a date */
};
/* The JSON document (malloc'd, NUL-terminated; NULL if out of memory). */
char *rt_status_render(const struct rt_status_track *t, const struct bft_node_stats *st,
                       const struct rt_status_info *info);
/* "primary"/"backup"/"view-change" (PBFT), "leader"/"replica"/"view-change"
 * (HotStuff), "leader"/"follower"/"candidate" (Raft). */
const char *rt_status_role(int protocol, const struct bft_node_stats *st);
/* Bytes of WAL segments and of snapshot files in a data dir. */
void rt_status_disk(const char *dir, uint64_t *wal_bytes, uint64_t *snapshot_bytes);

/* The HTTP side. url like "http://10.0.0.2:9100"; the page is at /status.
 * 0, or -1 with err. */
struct rt_status_server;
int rt_status_server_start(struct rt_status_server **out, const char *url, char *err,
                           size_t errlen);
/* Replace the page (copied). */
void rt_status_server_publish(struct rt_status_server *s, const char *page, size_t len);
/* Stop serving and free; NULL is ignored. */
void rt_status_server_stop(struct rt_status_server *s);

#endif
