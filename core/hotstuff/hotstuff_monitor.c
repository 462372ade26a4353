/* Leader performance monitor: replicas give up on a leader that proposes
 * much more slowly than it could.
 *
 * The view timer only deposes a leader whose views stop. A leader that
 * delays every proposal by a little less than the view timeout keeps its
 * whole window of W consecutive views (hs_leader) and cuts throughput by
 * an order of magnitude: the attack of Clement et al., "Making Byzantine
 * Fault Tolerant Systems Tolerate Byzantine Faults" (Aardvark, NSDI'09),
 * and of Aublin et al., "RBFT: Redundant Byzantine Fault Tolerance"
 * (ICDCS'13). Aardvark's answer (§4.3) is that replicas monitor the
 * leader against what the leaders of the last terms achieved (90% of the
 * best), give a new leader a grace period, raise the expectation
 * periodically, and change leader when it falls short. pbft_monitor.c does
 * this for PBFT; this file does it for chained HotStuff with a latency
 * that needs no knowledge of the offered load:
 *
 * - Sample. While there is work an honest leader proposes for view v as
 *   soon as it holds QC(v-1) (hs_try_propose proposes at once, empty if
 *   need be, while uncommitted blocks carry requests), and a replica
 *   enters v when it votes in v-1 (Algorithm 3), i.e. about when the
 *   leader can form that QC: one message delay later the leader has it,
 *   one more and its proposal is here. A replica that entered v with work
 *   (hs_has_work; or from the first tick with pending requests, if it
 *   entered idle) samples the ticks from then to the arrival of the
 *   leader's proposal for v. Not only batches of two or more envelopes
 *   as in pbft_monitor.c: with closed-loop clients a slow leader carries
 *   the whole backlog in one block and proposes empty blocks for the next
 *   views, so full blocks are too rare to judge it in time. Entered v
 *   only through the proposal's own justify: the sample is 0. An idle
 *   cluster produces no samples: never judged.
 * - Time. The core has no clock: a periodic timer (HS_TIMER_MONITOR, T/20,
 *   running only while there is work) counts ticks; samples are in ticks,
 *   hence deterministic.
 * - Term. The leader's term is its window of W views (view / W). Views
 *   change every block in HotStuff, so measurements, the grace and the
 *   bar belong to the term, not to a view. With W = 1 no term lasts long
 *   enough to be judged: the monitor is for leader windows. A term
 *   entered through a TC is judged only from its leader's first proposal
 *   (after_tc): the leader may not hold the TC yet, and one that never
 *   proposes is the view timer's.
 * - Window. Every HS_MON_WINDOW ticks (T/10) a window is closed and its
 *   mean wait per view taken, in 1/HS_MON_FP ticks; a view still waiting
 *   for its proposal counts with the ticks waited so far (window_mean).
 *   The mean, not the median: a leader whose proposal misses two replicas
 *   in one view of six (the `junk` fault) has a median of 0 and a tenth
 *   of the healthy rate (issue 10). A replica waits for the next proposal
 *   from one vote to the next, so a window's waits add up to about its
 *   length and the mean is about the window over the views in it: fine
 *   grained (1/256 tick) although each sample is whole ticks. A window
 *   without samples keeps collecting for up to four windows, then is
 *   dropped.
 * - Bar. The first HS_MON_GRACE windows of a term are not judged while
 *   there is no history (their mean still becomes history). Then the
 *   largest acceptable mean starts at T (what the view timer tolerates
 *   anyway), or at twice the floor when earlier terms left a history, and
 *   halves after every judged window down to a floor: max(HS_MON_FLOOR =
 *   T/80, 2B) where B is the lowest mean wait per view of the last
 *   HS_MON_TERMS terms with measurements (Aardvark: the best of the last n
 *   views; a term's mean over all its windows, not its best window, and
 *   twice it, so that the windows of an honest leader on a lossy network
 *   are not held to its luckiest one), and without any history
 *   HS_MON_FLOOR_FRESH = T/20. So a leader about as good as the recent
 *   ones is never deposed and honest leaders are not rotated forever, a
 *   fresh replica is lenient, and a leader 20 times slower than the
 *   recent ones is not kept for being under T/20 per view (the old floor,
 *   under which a `junk` leader at 4% of the healthy rate kept its turns
 *   for seconds: docs/hotstuff.md).
 * - Give up. HS_MON_STRIKES consecutive judged windows over the bar: the
 *   replica sends HS_TIMEOUT for its current view as if the view timer
 *   fired (hs_give_up_view), and keeps doing so in every later view of
 *   the same term (hs_monitor_enter_view), like a complaining request
 *   timer. f+1 such timeouts pull the other honest replicas into the view
 *   (hs_on_timeout_msg), 2f+1 form the TC, and the TC moves everyone to
 *   the next leader's window (hs_view_after_tc). f Byzantine replicas
 *   alone cannot depose anybody. The next leader is measured the same way. */
#include <string.h>

#include "core/hotstuff/hotstuff_internal.h"

static void window_reset(struct bft_core *c)
{
    c->mon.win_ticks = 0;
    c->mon.nsamples = 0;
    c->mon.lag_sum = 0;
}

/* The tightest bar. With a history: twice the lowest mean wait per view
 * of the last terms (Aardvark's "the best of the last n views", with room
 * for the windows of an honest leader to vary), and at least
 * HS_MON_FLOOR. Without one (a new or a restarted replica):
 * HS_MON_FLOOR_FRESH, lenient until leaders were seen. */
static uint32_t floor_bar(const struct bft_core *c)
{
    uint32_t best = UINT32_MAX;
    for (uint32_t i = 0; i < HS_MON_TERMS; i++)
        if (c->mon.past[i] < best) best = c->mon.past[i];
    if (best == UINT32_MAX) return HS_MON_FLOOR_FRESH;
    uint64_t rel = 2 * (uint64_t)best + 1;
    if (rel < HS_MON_FLOOR) rel = HS_MON_FLOOR;
    return rel < UINT32_MAX / 4 ? (uint32_t)rel : UINT32_MAX / 4;
}

/* A term starts lenient: T (what the view timer tolerates anyway), or
 * twice the floor when earlier terms showed what a leader can do. */
static uint32_t start_bar(const struct bft_core *c)
{
    uint32_t t = HS_MON_TICK_DIV * HS_MON_FP, twice = 2 * floor_bar(c);
    bool history = false;
    for (uint32_t i = 0; i < HS_MON_TERMS; i++)
        history = history || c->mon.past[i] != UINT32_MAX;
    return history && twice < t ? twice : t;
}

void hs_monitor_init(struct bft_core *c)
{
    bft_timeout_init(&c->mon.timer, HS_TIMER_MONITOR);
    c->mon.ms = c->cfg.request_timeout_ms / HS_MON_TICK_DIV;
    if (c->mon.ms == 0) c->mon.ms = 1;
    c->mon.term = c->view / c->leader_views;
    c->mon.leader = hs_leader(c, c->view);
    for (uint32_t i = 0; i < HS_MON_TERMS; i++)
        c->mon.past[i] = UINT32_MAX;
    c->mon.allowed = start_bar(c);
    window_reset(c);
}

void hs_monitor_arm(struct bft_core *c)
{
    if (!c->pm.view_timer.armed && c->pend.count == 0) return;
    bft_timeout_start(&c->mon.timer, &c->io, c->mon.ms);
}

/* A new leader term: remember the last one's mean wait per view, start
 * lenient. */
static void sync_term(struct bft_core *c)
{
    uint64_t term = c->view / c->leader_views;
    uint32_t leader = hs_leader(c, c->view);
    if (term == c->mon.term && leader == c->mon.leader) return;
    if (c->mon.term_n) {
        uint64_t m = c->mon.term_lag * HS_MON_FP / c->mon.term_n;
        c->mon.past[c->mon.past_next] = m < UINT32_MAX ? (uint32_t)m : UINT32_MAX - 1;
        c->mon.past_next = (c->mon.past_next + 1) % HS_MON_TERMS;
    }
    c->mon.term = term;
    c->mon.leader = leader;
    c->mon.term_lag = 0;
    c->mon.term_n = 0;
    c->mon.windows = 0;
    c->mon.bad = 0;
    c->mon.complain = false;
    c->mon.after_tc = false;
    c->mon.allowed = start_bar(c);
    window_reset(c);
}

bool hs_monitor_enter_view(struct bft_core *c, uint32_t old_leader, bool by_timeout)
{
    /* A TC or another leader ends the complaint (the next leader gets a
     * fresh term, as the request timer's complaint does). */
    if (by_timeout || hs_leader(c, c->view) != old_leader) c->mon.complain = false;
    sync_term(c);
    /* A TC starts a term whose leader may not hold the TC yet (timeouts
     * reach replicas at different times, e.g. after a partition heals):
     * not judged until its first proposal shows it does. A leader that
     * never proposes is the view timer's. */
    if (by_timeout) c->mon.after_tc = true;
    c->mon.view = c->view;
    c->mon.started = hs_has_work(c);
    c->mon.start_tick = c->mon.tick;
    return c->mon.complain && hs_leader(c, c->view) != c->self;
}

void hs_monitor_on_proposal(struct bft_core *c, const struct hs_wire_block *w)
{
    sync_term(c);
    if (c->mon.after_tc && w->view / c->leader_views == c->mon.term &&
        hs_leader(c, w->view) == c->mon.leader) {
        /* The term's first proposal after its TC: judged from here on. */
        c->mon.after_tc = false;
        c->mon.started = false;
        window_reset(c);
        return;
    }
    if (w->view != c->view || c->mon.view != c->view || !c->mon.started) return;
    c->mon.started = false; /* one sample per view */
    if (hs_leader(c, c->view) == c->self) return;
    c->mon.lag_sum += c->mon.tick - c->mon.start_tick;
    c->mon.nsamples++;
}

/* The mean wait per view of the window, in 1/HS_MON_FP ticks. A view
 * still waiting for its proposal counts with the ticks it waited so far
 * (and its clock restarts, so the next window counts only the rest): a
 * leader that takes longer than a window per proposal is judged within a
 * window too. */
static uint32_t window_mean(struct bft_core *c)
{
    if (c->mon.started && c->mon.view == c->view && c->mon.tick > c->mon.start_tick) {
        c->mon.lag_sum += c->mon.tick - c->mon.start_tick;
        c->mon.nsamples++;
        c->mon.start_tick = c->mon.tick;
    }
    if (c->mon.nsamples == 0) return 0;
    uint64_t m = c->mon.lag_sum * HS_MON_FP / c->mon.nsamples;
    return m < UINT32_MAX ? (uint32_t)m : UINT32_MAX - 1;
}

void hs_monitor_on_timer(struct bft_core *c)
{
    bft_timeout_fired(&c->mon.timer);
    c->mon.tick++;
    hs_monitor_arm(c);
    sync_term(c);
    /* Entered the view idle: the clock starts with the work. */
    if (!c->mon.started && c->mon.view == c->view && c->pend.count > 0 && !c->pm.timed_out &&
        c->last_voted_view < c->view) {
        c->mon.started = true;
        c->mon.start_tick = c->mon.tick;
    }
    if (hs_leader(c, c->view) == c->self || c->mon.complain || c->mon.after_tc) {
        window_reset(c);
        return;
    }
    if (++c->mon.win_ticks < HS_MON_WINDOW) return;
    uint32_t mean = window_mean(c);
    if (c->mon.nsamples < HS_MON_MIN_SAMPLES) {
        if (c->mon.win_ticks >= 4 * HS_MON_WINDOW) window_reset(c); /* too little load */
        return;
    }
    /* A grace window is not judged, but it is a measurement: it becomes
     * history (short terms of fast leaders rarely last past the grace). */
    c->mon.term_lag += c->mon.lag_sum;
    c->mon.term_n += c->mon.nsamples;
    window_reset(c);
    /* Grace only while there is no history (start_bar is lenient then). */
    bool history = false;
    for (uint32_t i = 0; i < HS_MON_TERMS; i++)
        history = history || c->mon.past[i] != UINT32_MAX;
    if (++c->mon.windows <= HS_MON_GRACE && !history) return;
    c->mon.bad = mean > c->mon.allowed ? c->mon.bad + 1 : 0;
    uint32_t floor = floor_bar(c);
    uint32_t next = c->mon.allowed / 2;
    c->mon.allowed = next > floor ? next : floor;
    if (c->mon.bad < HS_MON_STRIKES) return;
    /* Give up on this leader's term: time out now and in its later views. */
    c->mon.complaints++;
    c->mon.bad = 0;
    c->mon.complain = true;
    hs_give_up_view(c);
}

/* Replicas give up on a slow leader's term a little apart, and in between
 * the others keep voting: a replica that voted in v is in v+1 when the
 * complaints for v arrive, so the timeouts split over v and v+1 and no TC
 * forms until a view timer fires (and backs off). Two rules line them up,
 * both only within the current leader's term:
 * - a replica that itself gives up on the term follows another replica's
 *   timeout one view ahead (it refuses every view of the term anyway);
 * - a replica whose own monitor already counts a strike against the
 *   leader, and sees f+1 timeouts (one honest) for the views just below
 *   its own, gives up its current view too: those replicas do not vote
 *   there, so its view is unlikely to get a proposal. */
void hs_monitor_on_timeout(struct bft_core *c, uint64_t view)
{
    uint32_t leader = hs_leader(c, c->view);
    if (leader == c->self || hs_leader(c, view) != leader ||
        view / c->leader_views != c->view / c->leader_views)
        return;
    if (c->mon.complain && view == c->view + 1) {
        hs_advance_view(c, view, false); /* times out `view` (complaint) */
        return;
    }
    if (c->pm.timed_out || c->mon.bad == 0 || view >= c->view || view + HS_STUCK_VIEWS < c->view)
        return;
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        const struct hs_timeout_rec *t = hs_to_high(c, i);
        if (i != c->self && t && t->view < c->view && t->view + HS_STUCK_VIEWS >= c->view &&
            t->view / c->leader_views == c->view / c->leader_views)
            k++;
    }
    if (k >= c->f + 1) hs_give_up_view(c);
}
