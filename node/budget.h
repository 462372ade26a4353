/* A latency budget: where a process's wall time goes, by stage
 * (docs/design.md "Latency budget"). One accumulator charges every
 * nanosecond between two clock readings to exactly one stage, the one on
 * top of a small stack: a stage entered inside another (a signature made
 * while executing) is charged to itself and not to its caller, so the
 * stages add up to the wall time. Fixed size, no allocation; the caller
 * reads the clock (bft_budget_clock_ns), so the accumulator itself is pure
 * and tested with made-up times. A NULL accumulator means "not timed": the
 * simulator never times, so its runs do not change. */
#ifndef BFT_NODE_BUDGET_H
#define BFT_NODE_BUDGET_H

#include <stdint.h>

#define BFT_BUDGET_MAX_STAGES 12
#define BFT_BUDGET_DEPTH 8

struct bft_budget {
    uint64_t ns[BFT_BUDGET_MAX_STAGES];    /* time charged to each stage */
    uint64_t calls[BFT_BUDGET_MAX_STAGES]; /* times each stage was entered */
    uint64_t last_ns;                      /* the last clock reading */
    uint8_t stack[BFT_BUDGET_DEPTH];       /* stack[depth - 1] is charged */
    uint32_t depth;
    /* Pushes beyond BFT_BUDGET_DEPTH (a bug in the caller's nesting, not
     * input): their time stays with the top stage, and their pops only
     * undo them. */
    uint32_t overflow;
};

/* Start with `base` as the stage charged when nothing else is. */
void bft_budget_start(struct bft_budget *b, int base, uint64_t now_ns);
/* Charge the time since the last reading to the current stage, then make
 * `stage` current. */
void bft_budget_push(struct bft_budget *b, int stage, uint64_t now_ns);
/* Charge the time since the last reading to the current stage, then return
 * to the one below it. The base stage is never popped. */
void bft_budget_pop(struct bft_budget *b, uint64_t now_ns);
/* Charge the time up to now without changing stage (before a report). */
void bft_budget_settle(struct bft_budget *b, uint64_t now_ns);
/* CLOCK_MONOTONIC in ns. */
uint64_t bft_budget_clock_ns(void);

/* The replica's stages (runtime/replica.c and node/ push them). */
#define BFT_STAGE_MAP(X)                                                                           \
    X(IDLE, "idle")       /* waiting for input in the poll */                                      \
    X(RECV, "recv")       /* taking frames from the transport, decoding, the client table */       \
    X(VERIFY, "verify")   /* signature checks of replica and client messages */                    \
    X(CORE, "core")       /* the protocol core's handlers, less what they call below */            \
    X(WAL, "wal")         /* WAL appends (buffered writes) */                                      \
    X(FSYNC, "fsync")     /* the fdatasync before a step's sends leave (durability wait) */        \
    X(EXECUTE, "execute") /* applying committed requests to the application */                     \
    X(SIGN, "sign")       /* signing phase messages and replies */                                 \
    X(SEND, "send")       /* handing frames to the transport */                                    \
    X(OTHER, "other")     /* timers, housekeeping, stats */
#define BFT_STAGE_ENUM(name, str) BFT_STAGE_##name,
enum bft_stage { BFT_STAGE_MAP(BFT_STAGE_ENUM) BFT_STAGE__COUNT };
_Static_assert(BFT_STAGE__COUNT <= BFT_BUDGET_MAX_STAGES, "stages fit the accumulator");
const char *bft_stage_name(int stage);

#endif
