/* Primary performance monitor: backups vote out a primary that orders
 * requests much more slowly than it could.
 *
 * PBFT's request timer (§4.4) only deposes a primary that does not order a
 * request within T. A primary that delays every PRE-PREPARE by a little
 * less than T keeps its place and cuts throughput by an order of magnitude:
 * the attack of Clement et al., "Making Byzantine Fault Tolerant Systems
 * Tolerate Byzantine Faults" (Aardvark, NSDI'09), and of Aublin et al.,
 * "RBFT: Redundant Byzantine Fault Tolerance" (ICDCS'13). Aardvark's answer
 * (§4.3) is that backups monitor the primary against what the primaries of
 * the last views achieved (90% of the best), let a new primary start with
 * a grace period, raise the expectation periodically, and change views
 * when the primary falls short. This file does that with a latency
 * measure that needs no knowledge of the offered load (in this system
 * clients send requests to the primary only, §4.1, so backups do not see
 * the demand):
 *
 * - Sample. Under backlog an honest primary cuts its next batch as soon as
 *   a pipeline slot frees: seq m may be proposed once seq m - P executed
 *   (P = pipeline_max, pbft_try_propose). A batch of two or more envelopes
 *   is the evidence of that backlog: a primary with a free slot proposes
 *   each request on arrival, alone, so several envelopes in one batch
 *   waited for a slot. For such a PRE-PREPARE(m) of the primary (not a
 *   re-proposal of O), a backup samples the ticks from the moment seq
 *   m - P was free for the primary to the PRE-PREPARE's arrival (0 if it
 *   arrives first). Free: 2f backups COMMITted it (the primary's own
 *   COMMIT completes its quorum, so it can execute), or we executed it.
 *   Not our execution alone: when the quorum needs the primary's COMMIT, a
 *   primary that delays everything it sends would look prompt against it.
 *   An idle or lightly loaded cluster produces no samples: never judged.
 * - Time. The core has no clock: a periodic timer (PBFT_TIMER_MONITOR,
 *   T/20) counts ticks; samples are in ticks, hence deterministic.
 * - Window. Every PBFT_MON_WINDOW ticks (T/2) a window with at least
 *   PBFT_MON_MIN_SAMPLES samples, or one sample of a whole window or
 *   more, is closed and its median taken (robust to a stall that delays a
 *   few batches). A window short of samples keeps
 *   collecting for up to four windows, then is dropped.
 * - Bar. The first PBFT_MON_GRACE windows of a view are not judged. Then
 *   the largest acceptable median starts at T (in ticks: what the request
 *   timer tolerates anyway), or at twice the floor when earlier views left
 *   a history, and halves after every judged window (Aardvark raises its
 *   expectation periodically; here the latency bar tightens) down to a
 *   floor: max(PBFT_MON_FLOOR, B / 0.9 + 1) where B is the lowest window
 *   median of the last PBFT_MON_VIEWS views with measurements (Aardvark:
 *   90% of the best of the last n views). The floor bounds the tightening,
 *   so a primary as good as the recent ones, or as good as T/5, is never
 *   deposed, and honest primaries are not rotated forever: a cluster
 *   whose honest latency is above T/5 loses at most a few views before its
 *   own history relaxes the floor.
 * - Complaint. PBFT_MON_STRIKES consecutive judged windows over the bar:
 *   the backup moves to view v+1 as if its request timer expired (§4.4).
 *   f+1 such backups bring the others along (§4.5.2), so f faulty backups
 *   cannot depose anybody. The next primary is measured the same way, so
 *   a slow successor is voted out too.
 * - Delivery. A backup fetches a pre-prepare it lacks from a replica that
 *   voted for it (pbft_relay.c), so a primary that sends its pre-prepares
 *   to only some backups (faults/ `withhold`) would no longer stall and
 *   be deposed by the request timer; it would keep its place and cost
 *   every seq two message delays. The relay must not shield it: a window
 *   (PBFT_MON_WINDOW ticks) in which at least PBFT_MON_RELAY_MIN of the
 *   primary's pre-prepares were accepted and most of them only through a
 *   relay is a strike against the primary, PBFT_MON_STRIKES consecutive
 *   ones a complaint (as above: f+1 backups must agree). A primary whose
 *   messages are merely lost or corrupted now and then (a lossy link, or
 *   faults/ `junk`: a quarter of them) stays below half and keeps its
 *   place; it costs a round trip per loss, not a view. */
#include <string.h>

#include "core/pbft/pbft_internal.h"

static void delivery_reset(struct bft_core *c)
{
    c->mon_pp_direct = c->mon_pp_relayed = 0;
    c->mon_relay_ticks = 0;
}

static void window_reset(struct bft_core *c)
{
    c->mon_win_ticks = 0;
    c->mon_nsamples = 0;
    memset(c->mon_hist, 0, sizeof c->mon_hist);
}

static uint32_t floor_bar(const struct bft_core *c)
{
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < PBFT_MON_VIEWS; i++)
        if (c->mon_past[i] < best) best = c->mon_past[i];
    uint32_t f = PBFT_MON_FLOOR;
    if (best != UINT32_MAX) {
        uint32_t rel = (best * 10 + 8) / 9 + 1; /* ceil(best / 0.9) + 1 */
        if (rel > f) f = rel;
    }
    return f;
}

/* A view starts lenient: T (what the request timer tolerates anyway), or
 * twice the floor when earlier views showed what a primary can do. */
static uint32_t start_bar(const struct bft_core *c)
{
    uint32_t t = PBFT_MON_TICK_DIV, twice = 2 * floor_bar(c);
    bool history = false;
    for (uint32_t i = 0; i < PBFT_MON_VIEWS; i++)
        history = history || c->mon_past[i] != UINT32_MAX;
    return history && twice < t ? twice : t;
}

void pbft_monitor_init(struct bft_core *c)
{
    c->mon_ms = c->cfg.request_timeout_ms / PBFT_MON_TICK_DIV;
    if (c->mon_ms == 0) c->mon_ms = 1;
    c->mon_view = c->view;
    c->mon_view_best = UINT32_MAX;
    for (uint32_t i = 0; i < PBFT_MON_VIEWS; i++)
        c->mon_past[i] = UINT32_MAX;
    c->mon_allowed = start_bar(c);
    window_reset(c);
}

void pbft_monitor_arm(struct bft_core *c)
{
    bft_timeout_start(&c->mon_timer, &c->io, c->mon_ms);
}

/* A new view: remember the best of the last one, start lenient again. */
static void sync_view(struct bft_core *c)
{
    if (c->mon_view == c->view) return;
    if (c->mon_view_best != UINT32_MAX) {
        c->mon_past[c->mon_past_next] = c->mon_view_best;
        c->mon_past_next = (c->mon_past_next + 1) % PBFT_MON_VIEWS;
    }
    c->mon_view = c->view;
    c->mon_view_best = UINT32_MAX;
    c->mon_windows = 0;
    c->mon_bad = 0;
    c->mon_allowed = start_bar(c);
    c->mon_relay_bad = 0;
    delivery_reset(c);
    window_reset(c);
}

void pbft_monitor_slot_free(struct bft_core *c, struct pbft_slot *s)
{
    if (c->in_vc) return;
    s->mon_ready = true;
    s->mon_view = c->view;
    s->mon_tick = c->mon_tick;
}

void pbft_monitor_on_pp(struct bft_core *c, uint64_t seq, const uint8_t *batch, uint32_t len)
{
    sync_view(c);
    if (c->in_vc || pbft_primary(c, c->view) == c->self) return;
    if (len < 2 || wire_le_load(batch, 2) < 2) return; /* no evidence of a backlog */
    uint64_t p = c->cfg.pipeline_max;
    if (seq <= p) return;
    const struct pbft_slot *prev = pbft_slot_peek(c, seq - p);
    if (!prev || prev->view != c->view) return;
    uint64_t lag = 0;
    if (prev->mon_ready) {
        if (prev->mon_view != c->view) return; /* freed in an older view */
        lag = c->mon_tick - prev->mon_tick;
    } else if (!prev->has_pp) {
        return;
    }
    c->mon_hist[lag < PBFT_MON_HIST ? lag : PBFT_MON_HIST - 1]++;
    c->mon_nsamples++;
}

static uint32_t window_median(const struct bft_core *c)
{
    uint32_t half = (c->mon_nsamples + 1) / 2, acc = 0;
    for (uint32_t i = 0; i < PBFT_MON_HIST; i++) {
        acc += c->mon_hist[i];
        if (acc >= half) return i;
    }
    return PBFT_MON_HIST - 1;
}

void pbft_monitor_on_delivery(struct bft_core *c, bool relayed)
{
    sync_view(c);
    if (c->in_vc || pbft_primary(c, c->view) == c->self) return;
    if (relayed)
        c->mon_pp_relayed++;
    else
        c->mon_pp_direct++;
}

static void complain(struct bft_core *c)
{
    c->mon_complaints++;
    c->mon_bad = 0;
    c->mon_relay_bad = 0;
    c->probes = 0;
    c->watching = false;
    c->vchg.attempts++;
    pbft_start_view_change(c, c->view + 1);
}

/* One tick of the delivery window; at its end: were most of the primary's
 * pre-prepares relayed? True if that makes PBFT_MON_STRIKES windows in a
 * row (a complaint is due). */
static bool judge_delivery(struct bft_core *c)
{
    if (++c->mon_relay_ticks < PBFT_MON_WINDOW) return false;
    uint32_t total = c->mon_pp_direct + c->mon_pp_relayed;
    uint32_t relayed = c->mon_pp_relayed;
    delivery_reset(c);
    if (total < PBFT_MON_RELAY_MIN) return false; /* too little to judge */
    c->mon_relay_bad = 2 * relayed > total ? c->mon_relay_bad + 1 : 0;
    PTRACE(c, "monitor delivery: %u of %u relayed, strikes %u", relayed, total, c->mon_relay_bad);
    return c->mon_relay_bad >= PBFT_MON_STRIKES;
}

void pbft_on_monitor_timer(struct bft_core *c)
{
    bft_timeout_fired(&c->mon_timer);
    pbft_monitor_arm(c);
    c->mon_tick++;
    sync_view(c);
    if (c->in_vc || pbft_primary(c, c->view) == c->self) {
        window_reset(c);
        delivery_reset(c);
        return;
    }
    if (judge_delivery(c)) {
        PTRACE(c, "monitor: most pre-prepares relayed, twice: vote out primary %u",
               pbft_primary(c, c->view));
        window_reset(c);
        complain(c);
        return;
    }
    if (++c->mon_win_ticks < PBFT_MON_WINDOW) return;
    /* Two samples, or one that waited a whole window. A primary that
     * holds each batch back by L ticks cuts at most pipeline_max batches
     * per L, and in a real cluster only about every other one carries a
     * backlog (measured: one sample per 1.2 s with a primary 600 ms slow),
     * so waiting for a second sample gave it a second window per strike:
     * 4-5 s instead of 2 before the backups complained. A lone short
     * sample is not enough: on a lossy network one lost PRE-PREPARE then
     * deposed honest primaries (docs/pbft.md "Slow primaries"). */
    bool enough = c->mon_nsamples >= PBFT_MON_MIN_SAMPLES ||
                  (c->mon_nsamples == 1 && window_median(c) >= PBFT_MON_WINDOW);
    if (!enough) {
        if (c->mon_win_ticks >= 4 * PBFT_MON_WINDOW) window_reset(c); /* too little load */
        return;
    }
    uint32_t med = window_median(c);
    PTRACE(c, "monitor window: %u samples median %u bar %u", c->mon_nsamples, med, c->mon_allowed);
    window_reset(c);
    if (++c->mon_windows <= PBFT_MON_GRACE) return;
    if (med < c->mon_view_best) c->mon_view_best = med;
    c->mon_bad = med > c->mon_allowed ? c->mon_bad + 1 : 0;
    uint32_t floor = floor_bar(c);
    uint32_t next = c->mon_allowed / 2;
    c->mon_allowed = next > floor ? next : floor;
    if (c->mon_bad < PBFT_MON_STRIKES) return;
    PTRACE(c, "monitor: median %u ticks over the bar twice: vote out primary %u", med,
           pbft_primary(c, c->view));
    complain(c);
}
