/* The replica runtime behind bft/replica.h: one thread that receives
 * frames, steps the node, fires timers, makes WAL records durable and
 * flushes coalesced sends. This header holds what bftd sets beyond the
 * public options. */
#ifndef BFT_RUNTIME_H
#define BFT_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "bft/replica.h"
#include "wire/wire.h"

/* bftd's own settings (struct bft_replica_options.advanced), for fault
 * injection (docs/faults.md): which instance of a twin this is (-1: none),
 * an own listen address instead of cluster.json's (a twin's second
 * instance), and peer addresses to dial instead of cluster.json's. */
struct bft_replica_advanced {
    int twin_instance;
    const char *listen;
    uint32_t n_peer_overrides;
    struct {
        uint32_t id;
        const char *url;
    } peer_override[BFT_MAX_REPLICAS];
    /* A twin's second instance: while the plan's twin window for that
     * replica is open, sends to it go to this address instead. */
    uint32_t n_twin_peers;
    struct {
        uint32_t id;
        const char *url;
    } twin_peer[BFT_MAX_REPLICAS];
    /* The process exits or re-executes itself right after destroy: leave
     * the sockets to the kernel (net_abandon: nng 1.5.2's nng_close can
     * hang while frames are in flight). */
    bool exit_after_destroy;
};

uint64_t rt_now_ms(void);

#endif
