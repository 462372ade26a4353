/* bftd's runtime: one thread that receives frames, steps the node, fires
 * timers, makes WAL records durable and flushes coalesced sends. */
#ifndef BFT_RUNTIME_H
#define BFT_RUNTIME_H

#include <signal.h>
#include <stdint.h>

#include "tools/exit_codes.h"
#include "wire/wire.h"

struct rt_options {
    const char *config_path;
    uint32_t id;
    const char *data_dir; /* default: <cluster dir>/replica-<id> */
    bool fresh;           /* ignore any existing WAL (start empty) */
    int verbose;
    /* Fault injection (docs/faults.md): the plan file, the run's T=0 in
     * CLOCK_REALTIME ms, which instance of a twin this is (-1: none), an
     * own listen address instead of cluster.json's (a twin's second
     * instance), and peer addresses to dial instead of cluster.json's. */
    const char *plan_path;
    uint64_t plan_start_ms;
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
};

/* Run until *stop becomes non-zero. Returns BFT_EXIT_OK on a clean stop, BFT_EXIT_USAGE on a setup
 * error (message already printed to stderr), or RT_RESUME when storage
 * failed and became writable again: the caller starts the replica anew
 * from its WAL (bftd re-executes itself), which discards whatever this
 * incarnation held in memory but could not make durable. */
#define RT_RESUME 75
int rt_run(const struct rt_options *opt, volatile sig_atomic_t *stop);

uint64_t rt_now_ms(void);

#endif
