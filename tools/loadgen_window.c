/* See loadgen_window.h. */
#include "tools/loadgen_window.h"

uint32_t lg_window_fill(uint32_t *in_flight, uint32_t target, const struct lg_window_ops *ops)
{
    if (*in_flight >= target) return 0;
    uint32_t want = target - *in_flight;
    uint32_t room = ops->room(ops->ctx);
    if (want > room) want = room;
    uint32_t done = 0;
    for (uint32_t k = 0; k < want; k++) { /* bounded by target */
        if (!ops->submit(ops->ctx)) break;
        done++;
        (*in_flight)++;
    }
    return done;
}
