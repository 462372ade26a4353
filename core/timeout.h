/* core/timeout.h: one core timer and whether it is running. A core arms
 * and cancels timers through the host (bft_io.set_timer / cancel_timer,
 * identified by a small core-chosen id) and must remember which ones are
 * running: re-arming a running timer would push its deadline back (a
 * leader that keeps a replica busy could then starve its view change), and
 * cancelling one that is not running is a wasted effect. This replaces a
 * loose `bool x_armed` per timer with one type whose helpers keep the flag
 * and the host in step. */
#ifndef BFT_CORE_TIMEOUT_H
#define BFT_CORE_TIMEOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"

struct bft_timeout {
    uint32_t id; /* the core's timer id, given to the host */
    bool armed;  /* set_timer called and neither fired nor cancelled since */
};

static inline void bft_timeout_init(struct bft_timeout *t, uint32_t id)
{
    t->id = id;
    t->armed = false;
}

/* (Re)start the timer: fires after_ms from now, whatever it was doing. */
static inline void bft_timeout_restart(struct bft_timeout *t, const struct bft_io *io,
                                       uint64_t after_ms)
{
    io->set_timer(io->ctx, t->id, after_ms);
    t->armed = true;
}

/* Start the timer only if it is not running; true if it was started. */
static inline bool bft_timeout_start(struct bft_timeout *t, const struct bft_io *io,
                                     uint64_t after_ms)
{
    if (t->armed) return false;
    bft_timeout_restart(t, io, after_ms);
    return true;
}

/* Stop the timer if it is running. */
static inline void bft_timeout_stop(struct bft_timeout *t, const struct bft_io *io)
{
    if (t->armed) io->cancel_timer(io->ctx, t->id);
    t->armed = false;
}

/* The host reported that the timer fired: it is no longer running. */
static inline void bft_timeout_fired(struct bft_timeout *t)
{
    t->armed = false;
}

#endif
