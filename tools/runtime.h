/* bftd's runtime: one thread that receives frames, steps the node, fires
 * timers, makes WAL records durable and flushes coalesced sends. */
#ifndef BFT_TOOLS_RUNTIME_H
#define BFT_TOOLS_RUNTIME_H

#include <signal.h>
#include <stdint.h>

#include "bft/bft.h"

struct rt_options {
    const char *config_path;
    uint32_t id;
    const char *data_dir;   /* default: <cluster dir>/replica-<id> */
    bool fresh;             /* ignore any existing WAL (start empty) */
    int verbose;
};

/* Run until *stop becomes non-zero. Returns 0 on a clean stop, 2 on a setup
 * error (message already printed to stderr). */
int rt_run(const struct rt_options *opt, volatile sig_atomic_t *stop);

uint64_t rt_now_ms(void);

#endif
