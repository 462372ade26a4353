/* The load generator's per-client window, kept apart from the network so a
 * unit test can drive it (tests/tools/test_loadgen.c). */
#ifndef BFT_TOOLS_LOADGEN_WINDOW_H
#define BFT_TOOLS_LOADGEN_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

struct lg_window_ops {
    void *ctx;
    /* Free request slots in the client library (bft_client_room). */
    uint32_t (*room)(void *ctx);
    /* Submit one request; false if the library refused it. */
    bool (*submit)(void *ctx);
};

/* Top up one client: submit while the load generator's own count of
 * requests in flight is below `target` AND the library says it has room,
 * and stop at the first refusal. The library frees slots only when its
 * oldest envelope completes, so after out-of-order completions it may have
 * less room than target - *in_flight: it is asked, never assumed. Makes at
 * most target submit calls; returns how many succeeded (*in_flight grows by
 * as many). */
uint32_t lg_window_fill(uint32_t *in_flight, uint32_t target, const struct lg_window_ops *ops);

#endif
