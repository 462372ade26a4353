/* sim: fault profiles and whole runs from one seed (TigerBeetle VOPR).
 *
 * sim_run_seed() turns a seed into options (fault phase length, clients,
 * latency), a fault schedule and a client schedule, then runs
 *   1. the safety phase: faults from the profile, never more than f
 *      replicas faulty at once (crashed, restarted with empty state, or cut
 *      off by a partition); the checker runs on every step;
 *   2. the liveness phase: heal everything (restart crashed replicas from
 *      their WAL, remove partitions, stop loss) and require, within a
 *      bounded virtual time, that every client completes its outstanding
 *      requests plus some new ones, that the log grows by two checkpoint
 *      intervals (so a replica left behind can catch up by state transfer),
 *      and that once the load stops at least n - f replicas (the core: 2f+1
 *      for BFT at n = 3f+1, a majority for Raft) execute up to the same
 *      highest seq.
 * The profile only ever looks at replicas through sim.h, so it is the same
 * for every protocol. */
#include <stdio.h>
#include <string.h>

#include "client/client.h"
#include "sim/sim_internal.h"

const char *sim_profile_name(int profile)
{
#define SIM_PROFILE_STR(name, str) [SIM_FAULTS_##name] = str,
    static const char *const names[SIM_FAULTS__COUNT] = {SIM_PROFILE_MAP(SIM_PROFILE_STR)};
#undef SIM_PROFILE_STR
    if (profile < 0 || profile >= SIM_FAULTS__COUNT) return "unknown";
    return names[profile];
}

int sim_profile_parse(const char *s)
{
    for (int i = 0; s && i < SIM_FAULTS__COUNT; i++)
        if (strcmp(s, sim_profile_name(i)) == 0) return i;
    return -1;
}

struct fault_run {
    struct sim_rng rng;
    int profile;
    uint64_t end_us;
    uint32_t part_mask; /* replicas counted faulty because of a partition */
    struct sim_net_params base;
    /* restarts profile */
    uint32_t victim;             /* next replica to kill */
    uint64_t period_us, down_us; /* from the seed */
    uint64_t caught_up_seq;      /* every up replica must reach this */
    uint64_t last_seq, last_change_us;
    uint32_t reconnecting; /* replica whose links are cut after its restart */
};

static bool is_faulty(struct sim *s, struct fault_run *fr, uint32_t r)
{
    return !s->rep[r].node || s->rep[r].torn_armed || s->rep[r].amnesiac ||
           (fr->part_mask >> r & 1);
}

static uint32_t faulty_count(struct sim *s, struct fault_run *fr)
{
    uint32_t k = 0;
    for (uint32_t r = 0; r < s->o.n; r++)
        k += is_faulty(s, fr, r);
    return k;
}

/* A random healthy replica; half the time the busiest sender since the last
 * tick, which is the leader in every protocol we run (it broadcasts the
 * batches), so "crash the primary" needs no protocol knowledge. */
static int pick_healthy(struct sim *s, struct fault_run *fr)
{
    uint32_t healthy[BFT_MAX_REPLICAS], k = 0;
    int busiest = -1;
    for (uint32_t r = 0; r < s->o.n; r++) {
        if (is_faulty(s, fr, r)) continue;
        healthy[k++] = r;
        if (busiest < 0 || s->rep[r].sent_window > s->rep[busiest].sent_window) busiest = (int)r;
    }
    if (k == 0) return -1;
    if (sim_rng_below(&fr->rng, 2) == 0) return busiest;
    return (int)healthy[sim_rng_below(&fr->rng, k)];
}

static void step_lossy(struct sim *s, struct fault_run *fr)
{
    struct sim_net_params p = fr->base;
    if (sim_rng_below(&fr->rng, 4) == 0) { /* calm spell */
        sim_net_set(s, &p);
        sim_log(s, "network calm");
        return;
    }
    p.latency_max_us = p.latency_max_us * sim_rng_range(&fr->rng, 1, 5);
    p.loss_ppm = (uint32_t)sim_rng_range(&fr->rng, 0, 150000);
    p.dup_ppm = (uint32_t)sim_rng_range(&fr->rng, 0, 50000);
    p.reorder_ppm = (uint32_t)sim_rng_range(&fr->rng, 0, 200000);
    p.reorder_us = sim_rng_range(&fr->rng, 1000, 50000);
    sim_net_set(s, &p);
    sim_log(s, "network loss %u ppm dup %u ppm reorder %u ppm (+%llu us) latency <= %llu us",
            p.loss_ppm, p.dup_ppm, p.reorder_ppm, (unsigned long long)p.reorder_us,
            (unsigned long long)p.latency_max_us);
}

/* A BFT protocol tolerates any behaviour of f replicas, amnesia included; a
 * crash-fault protocol (Raft) assumes stable storage, so a lost disk is
 * outside its model and the profile never injects one there. */
static bool amnesia_tolerated(const struct sim *s)
{
    return s->o.protocol != BFT_PROTO_RAFT;
}

static void step_crash(struct sim *s, struct fault_run *fr)
{
    uint32_t down[BFT_MAX_REPLICAS], k = 0;
    for (uint32_t r = 0; r < s->o.n; r++)
        if (!s->rep[r].node) down[k++] = r;
    bool full = faulty_count(s, fr) >= s->f;
    if (k > 0 && (full || sim_rng_below(&fr->rng, 2) == 0)) {
        uint32_t r = down[sim_rng_below(&fr->rng, k)];
        /* Losing the disk is amnesia: the replica may now contradict what it
         * promised, so it stays counted against f for the rest of the phase. */
        bool keep_wal = sim_rng_below(&fr->rng, 100) >= 15 || !amnesia_tolerated(s);
        s->rep[r].amnesiac = s->rep[r].amnesiac || !keep_wal;
        sim_restart(s, r, keep_wal);
        return;
    }
    if (full) return;
    int r = pick_healthy(s, fr);
    if (r < 0) return;
    /* Half the crashes land in the middle of a sync: the step's records
     * are lost, what it sent ahead of the sync is out. */
    if (sim_rng_below(&fr->rng, 2) == 0)
        sim_crash_in_sync(s, (uint32_t)r);
    else
        sim_crash(s, (uint32_t)r);
}

static void step_partition(struct sim *s, struct fault_run *fr)
{
    if (fr->part_mask && sim_rng_below(&fr->rng, 2) == 0) {
        sim_heal_links(s);
        fr->part_mask = 0;
        sim_log(s, "partition healed");
        return;
    }
    if (fr->part_mask) return;
    uint32_t budget = s->f > faulty_count(s, fr) ? s->f - faulty_count(s, fr) : 0;
    if (budget == 0) return;
    uint32_t all = (uint32_t)((1ull << s->o.n) - 1);
    if (sim_rng_below(&fr->rng, 2) == 0) {
        /* Symmetric: isolate a minority group of at most `budget`. */
        uint32_t size = (uint32_t)sim_rng_range(&fr->rng, 1, budget), group = 0;
        for (uint32_t i = 0; i < size; i++) {
            int r = pick_healthy(s, fr);
            if (r < 0) break;
            group |= 1u << r;
            fr->part_mask |= 1u << r; /* so pick_healthy skips it next */
        }
        if (!group) return;
        sim_partition(s, group, all & ~group);
        sim_log(s, "partition: group 0x%x cut from 0x%x", group, all & ~group);
        return;
    }
    /* Asymmetric: one replica cannot send to (or cannot hear from) some
     * others; a leader that cannot send is the "silent primary". */
    int a = pick_healthy(s, fr);
    if (a < 0) return;
    uint32_t others = all & ~(1u << a);
    uint32_t to = (uint32_t)sim_rng_range(&fr->rng, 1, (1ull << s->o.n) - 1) & others;
    if (!to) to = others;
    bool outgoing = sim_rng_below(&fr->rng, 2) == 0;
    if (outgoing)
        sim_partition_asym(s, 1u << a, to);
    else
        sim_partition_asym(s, to, 1u << a);
    fr->part_mask = 1u << a;
    sim_log(s, "partition: %u %s 0x%x", (unsigned)a, outgoing ? "cannot send to" : "cannot hear",
            to);
}

static void fault_tick(struct sim *s, void *ctx)
{
    struct fault_run *fr = ctx;
    if (s->now_us >= fr->end_us) return;
    int p = fr->profile;
    if (p == SIM_FAULTS_DEFAULT) {
        static const int mix[] = {SIM_FAULTS_LOSSY, SIM_FAULTS_CRASH, SIM_FAULTS_PARTITION};
        p = mix[sim_rng_below(&fr->rng, 3)];
    }
    if (p == SIM_FAULTS_LOSSY) step_lossy(s, fr);
    if (p == SIM_FAULTS_CRASH) step_crash(s, fr);
    if (p == SIM_FAULTS_PARTITION) step_partition(s, fr);
    for (uint32_t r = 0; r < s->o.n; r++)
        s->rep[r].sent_window = 0;
    sim_at(s, s->now_us + sim_rng_range(&fr->rng, 100000, 1500000), fault_tick, fr);
}

/* The restarts profile: what a real cluster saw under
 * `bftctl cluster --fault 1:crash@4-6 --fault 2:crash@9-11 ...` (issue
 * 10): one replica at a time is killed and restarted from its WAL
 * `down_us` later (1.5-2.5 s: a real restart is a new process with empty
 * memory, timers re-armed from scratch), every `period_us` (4-6 s), under
 * continuous client load; the restarted replica's links to its peers come
 * back 0-300 ms after it does (reconnection). The other replicas must keep committing, and a
 * restarted replica must catch up: the liveness phase after healing would
 * not notice a replica left behind for good (n - f replicas suffice
 * there), yet the next crash of another replica then stalls the cluster.
 * Checked while the faults run:
 *   - no stall: the highest executed seq advances at least every
 *     4 x request_timeout (one timeout per dead leader, with backoff);
 *   - catch-up: one second before each crash every up replica's seq is
 *     noted, and at the crash every up replica must have executed at
 *     least that much (it follows the cluster within ~1 s). */
static void restarts_probe(struct sim *s, void *ctx)
{
    struct fault_run *fr = ctx;
    if (s->failed || s->now_us >= fr->end_us) return;
    uint64_t m = sim_max_executed(s);
    if (m != fr->last_seq) {
        fr->last_seq = m;
        fr->last_change_us = s->now_us;
    }
    uint64_t bound = 4000ull * s->node_cfg.core.request_timeout_ms;
    if (s->now_us - fr->last_change_us > bound) {
        sim_fail(s, "restarts: no commit for %llu ms (max seq %llu)",
                 (unsigned long long)((s->now_us - fr->last_change_us) / 1000),
                 (unsigned long long)m);
        return;
    }
    sim_at(s, s->now_us + 100000, restarts_probe, fr);
}

static void restarts_note(struct sim *s, void *ctx)
{
    struct fault_run *fr = ctx;
    fr->caught_up_seq = sim_max_executed(s);
}

/* A restarted process reconnects to its peers: nng dials again with
 * backoff, so for a while after a restart its links are down (both ways). */
static void restarts_links(struct sim *s, struct fault_run *fr, bool cut)
{
    uint32_t r = fr->reconnecting;
    for (uint32_t p = 0; p < s->o.n; p++) {
        if (p == r) continue;
        sim_link_cut(s, r, p, cut);
        sim_link_cut(s, p, r, cut);
    }
}

static void restarts_reconnect(struct sim *s, void *ctx)
{
    restarts_links(s, ctx, false);
}

static void restarts_up(struct sim *s, void *ctx)
{
    struct fault_run *fr = ctx;
    restarts_links(s, fr, true);
    uint64_t delay = sim_rng_range(&fr->rng, 0, 300000);
    sim_log(s, "restarts: replica %u reconnects in %llu ms", fr->reconnecting,
            (unsigned long long)(delay / 1000));
    sim_at(s, s->now_us + delay, restarts_reconnect, fr);
}

static void restarts_tick(struct sim *s, void *ctx)
{
    struct fault_run *fr = ctx;
    if (s->failed || s->now_us + fr->down_us >= fr->end_us) return;
    for (uint32_t r = 0; r < s->o.n; r++) {
        struct sim_replica_status st;
        sim_replica_status(s, r, &st);
        if (st.up && st.last_executed < fr->caught_up_seq) {
            sim_fail(s,
                     "restarts: replica %u left behind (seq %llu, the cluster had %llu a "
                     "second ago, now %llu)",
                     r, (unsigned long long)st.last_executed, (unsigned long long)fr->caught_up_seq,
                     (unsigned long long)sim_max_executed(s));
            return;
        }
    }
    uint32_t r = fr->victim;
    fr->victim = (fr->victim + 1 + (uint32_t)sim_rng_below(&fr->rng, s->o.n - 1)) % s->o.n;
    sim_crash(s, r);
    sim_schedule_restart(s, s->now_us + fr->down_us, r, true);
    fr->reconnecting = r;
    sim_at(s, s->now_us + fr->down_us - 1, restarts_up, fr); /* links down first */
    sim_log(s, "restarts: replica %u killed for %llu ms", r,
            (unsigned long long)(fr->down_us / 1000));
    sim_at(s, s->now_us + fr->period_us - 1000000, restarts_note, fr);
    sim_at(s, s->now_us + fr->period_us, restarts_tick, fr);
}

static void restarts_setup(struct sim *s, struct fault_run *fr)
{
    fr->period_us = sim_rng_range(&fr->rng, 4000000, 6000000);
    fr->down_us = sim_rng_range(&fr->rng, 1500000, 2500000);
    fr->victim = (uint32_t)sim_rng_below(&fr->rng, s->o.n);
    fr->last_change_us = 0;
    sim_at(s, sim_rng_range(&fr->rng, 1000000, 4000000), restarts_tick, fr);
    sim_at(s, 100000, restarts_probe, fr);
}

/* Heal: the liveness phase runs on a healthy, fully connected cluster. */
static void heal(struct sim *s, struct fault_run *fr)
{
    sim_faults_stop(s);
    sim_heal_links(s);
    fr->part_mask = 0;
    sim_net_set(s, &fr->base);
    for (uint32_t r = 0; r < s->o.n; r++) {
        s->rep[r].amnesiac = false;
        if (!s->rep[r].node) sim_restart(s, r, true);
    }
    sim_log(s, "healed: liveness phase begins");
}

struct live_goal {
    uint64_t want[SIM_MAX_CLIENTS];
    uint64_t seq;
};

static bool enough_ops(struct sim *s, void *ctx)
{
    struct live_goal *g = ctx;
    if (sim_max_executed(s) < g->seq) return false;
    for (uint32_t c = 0; c < s->o.clients; c++)
        if (s->cli[c].completed < g->want[c]) return false;
    return true;
}

static bool settled(struct sim *s, void *ctx)
{
    (void)ctx;
    return sim_clients_idle(s) && sim_converged(s) >= s->o.n - s->f;
}

static void describe_stall(struct sim *s, char *out, size_t cap)
{
    size_t off = 0;
    off += (size_t)snprintf(out + off, cap - off, "max seq %llu;",
                            (unsigned long long)sim_max_executed(s));
    for (uint32_t r = 0; r < s->o.n && off < cap; r++) {
        struct sim_replica_status st;
        sim_replica_status(s, r, &st);
        off += (size_t)snprintf(out + off, cap - off, " r%u v%llu@%llu", r,
                                (unsigned long long)st.view, (unsigned long long)st.last_executed);
    }
    for (uint32_t c = 0; c < s->o.clients && off < cap; c++) {
        if (s->cli[c].n_reads)
            off += (size_t)snprintf(out + off, cap - off, " c%u:%u reads pending", c,
                                    s->cli[c].n_reads);
        if (off >= cap) break;
        if (!s->cli[c].n_pending) continue;
        struct bft_client_stats cs;
        bft_client_stats(s->cli[c].cl, &cs);
        /* Whether the oldest pending request was ordered tells a lost
         * reply from a request that never committed. */
        uint64_t req = s->cli[c].pending[0].req_no;
        for (uint32_t i = 1; i < s->cli[c].n_pending; i++)
            if (s->cli[c].pending[i].req_no < req) req = s->cli[c].pending[i].req_no;
        off += (size_t)snprintf(out + off, cap - off,
                                " c%u:%u pending (req %llu applied at seq %llu, %llu retransmits)",
                                c, s->cli[c].n_pending, (unsigned long long)req,
                                (unsigned long long)sim_applied_seq(s, c, req),
                                (unsigned long long)cs.retransmits);
    }
}

static void fill_result(struct sim *s, struct sim_result *res)
{
    const char *reason = NULL;
    res->passed = !sim_failed(s, &reason);
    if (reason) snprintf(res->reason, sizeof(res->reason), "%s", reason);
    res->virtual_us = s->now_us;
    res->max_executed = sim_max_executed(s);
    for (uint32_t r = 0; r < s->o.n; r++) {
        struct sim_replica_status st;
        sim_replica_status(s, r, &st);
        if (st.view > res->max_view) res->max_view = st.view;
    }
    sim_stats(s, &res->stats);
    sim_fault_stats(s, &res->faults);
}

int sim_run_seed(const struct sim_options *o, uint64_t seed, struct sim_result *res)
{
    memset(res, 0, sizeof(*res));
    res->seed = seed;
    struct fault_run fr = {.profile = o->faults};
    sim_rng_seed(&fr.rng, seed, 3);
    /* The seed picks the options within the profile. */
    struct sim_options ro = *o;
    ro.clients = (uint32_t)sim_rng_range(&fr.rng, o->clients > 1 ? 2 : 1, o->clients);
    ro.outstanding = (uint32_t)sim_rng_range(&fr.rng, 1, o->outstanding);
    ro.latency_max_us = sim_rng_range(&fr.rng, o->latency_min_us, o->latency_max_us);
    res->fault_phase_us = sim_rng_range(&fr.rng, o->fault_phase_min_us, o->fault_phase_max_us);
    fr.end_us = res->fault_phase_us;

    struct sim *s = NULL;
    char err[SIM_REASON_LEN];
    int rv = sim_create(&s, &ro, seed, err, sizeof(err));
    if (rv != BFT_E_OK) {
        snprintf(res->reason, sizeof(res->reason), "%s", err);
        return rv;
    }
    sim_net_get(s, &fr.base);
    sim_log(s, "seed %llu: %s n=%u f=%u clients=%u outstanding=%u faults=%s for %llu us",
            (unsigned long long)seed, bft_protocol_name(o->protocol), ro.n, s->f, ro.clients,
            ro.outstanding, sim_profile_name(o->faults), (unsigned long long)fr.end_us);
    if (o->faults <= SIM_FAULTS_DEFAULT && o->faults != SIM_FAULTS_NONE)
        sim_at(s, sim_rng_range(&fr.rng, 50000, 1000000), fault_tick, &fr);
    if (o->faults == SIM_FAULTS_RESTARTS) restarts_setup(s, &fr);
    if (sim_byz_profile_setup(s, o, seed, fr.end_us, err, sizeof(err)) != BFT_E_OK) {
        snprintf(res->reason, sizeof(res->reason), "fault setup: %.480s", err);
        sim_destroy(s);
        return BFT_E_INVALID;
    }

    /* 1. Safety phase. */
    sim_run_until(s, fr.end_us, NULL, NULL);
    /* 2. Liveness phase. */
    if (!s->failed) {
        heal(s, &fr);
        uint64_t deadline = s->now_us + o->liveness_us;
        /* Enough new work that replicas which fell behind during the faults
         * see two more checkpoints and can fetch state (PBFT catches a
         * lagging replica up at a stable checkpoint, TOCS §5.3.2). */
        uint32_t k = s->node_cfg.core.checkpoint_interval;
        struct live_goal g = {.seq = sim_max_executed(s) + (k && k < 256 ? 2 * k + 2 : 512)};
        for (uint32_t c = 0; c < ro.clients; c++)
            g.want[c] = s->cli[c].completed + s->cli[c].n_pending + o->liveness_ops;
        bool ok = sim_run_until(s, deadline, enough_ops, &g);
        if (ok) {
            sim_clients_load(s, false);
            ok = sim_run_until(s, deadline, settled, NULL);
        }
        if (!ok && !s->failed) {
            char why[SIM_REASON_LEN - 64];
            describe_stall(s, why, sizeof(why));
            sim_fail(s, "liveness: not settled %llu ms after healing (%s)",
                     (unsigned long long)(o->liveness_us / 1000), why);
        }
    }
    fill_result(s, res);
    sim_destroy(s);
    return BFT_E_OK;
}
