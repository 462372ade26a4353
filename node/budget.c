/* The stage accumulator of a latency budget (node/budget.h). */
#include "node/budget.h"

#include <string.h>
#include <time.h>

static void charge(struct bft_budget *b, uint64_t now_ns)
{
    /* A clock that went backwards (it does not: CLOCK_MONOTONIC) or a
     * caller's stale reading charges nothing rather than wrap. */
    if (now_ns > b->last_ns) b->ns[b->stack[b->depth - 1]] += now_ns - b->last_ns;
    if (now_ns > b->last_ns) b->last_ns = now_ns;
}

void bft_budget_start(struct bft_budget *b, int base, uint64_t now_ns)
{
    memset(b, 0, sizeof *b);
    b->stack[0] = (uint8_t)(base >= 0 && base < BFT_BUDGET_MAX_STAGES ? base : 0);
    b->depth = 1;
    b->last_ns = now_ns;
}

void bft_budget_push(struct bft_budget *b, int stage, uint64_t now_ns)
{
    if (b->depth == 0) return; /* never started: not timed */
    charge(b, now_ns);
    if (b->depth == BFT_BUDGET_DEPTH || stage < 0 || stage >= BFT_BUDGET_MAX_STAGES) {
        b->overflow++;
        return;
    }
    b->calls[stage]++;
    b->stack[b->depth++] = (uint8_t)stage;
}

void bft_budget_pop(struct bft_budget *b, uint64_t now_ns)
{
    if (b->depth == 0) return;
    charge(b, now_ns);
    if (b->overflow) {
        b->overflow--;
        return;
    }
    if (b->depth > 1) b->depth--;
}

void bft_budget_settle(struct bft_budget *b, uint64_t now_ns)
{
    if (b->depth) charge(b, now_ns);
}

uint64_t bft_budget_clock_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

const char *bft_stage_name(int stage)
{
#define BFT_STAGE_STR(name, str) str,
    static const char *const names[] = {BFT_STAGE_MAP(BFT_STAGE_STR)};
#undef BFT_STAGE_STR
    return stage >= 0 && stage < BFT_STAGE__COUNT ? names[stage] : "?";
}
