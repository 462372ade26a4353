/* bftd's side of the status page: where it listens, and one observation
 * and page per stats tick (runtime_status.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "runtime/runtime.h"
#include "runtime/runtime_internal.h"
#include "runtime/runtime_status.h"

static uint64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int rt_status_setup(struct rt *rt, bool serve, char *err, size_t errlen)
{
    /* 2f+1 for PBFT and HotStuff (Castro & Liskov §3), a majority for Raft. */
    uint32_t quorum = rt->cl.protocol == BFT_PROTO_RAFT ? rt->cl.n / 2 + 1 : 2 * rt->cl.f + 1;
    rt_status_track_init(&rt->status_track, rt->cl.n, rt->id, quorum, RT_STATUS_WINDOW_MS,
                         rt_now_ms());
    char url[160];
    if (!serve || bft_cluster_status_url(&rt->cl, rt->id, url, sizeof url) != 0) return 0;
    return rt_status_server_start(&rt->status, url, err, errlen);
}

void rt_status_tick(struct rt *rt, const struct bft_node_stats *st)
{
    uint64_t now = rt_now_ms();
    rt_status_observe(&rt->status_track, st, now);
    if (!rt->status) return;
    struct rt_status_info in = {.id = rt->id,
                                .n = rt->cl.n,
                                .f = rt->cl.f,
                                .protocol = rt->cl.protocol,
                                .storage_error = rt->storage_err,
                                .now_ms = now,
                                .now_unix_ms = unix_ms()};
    rt_status_disk(rt->dir, &in.wal_bytes, &in.snapshot_bytes);
    char *page = rt_status_render(&rt->status_track, st, &in);
    if (!page) return; /* out of memory: the last page stays */
    rt_status_server_publish(rt->status, page, strlen(page));
    free(page);
}
