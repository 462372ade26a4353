/* sim: one replica's host. Implements the bft_host vtable over the virtual
 * network, the virtual clock and an in-memory WAL, and crash / restart:
 * a crash drops the node and every pending event addressed to it (events
 * carry the incarnation they were queued for); a restart builds a new node
 * and replays its WAL through bft_node_recover, or starts it empty so it
 * must catch up by state transfer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node/node.h"
#include "store/store.h"
#include "sim/sim_internal.h"

static void host_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len)
{
    struct sim_replica *rp = ctx;
    struct sim *s = rp->sim;
    if (rp->doomed) return; /* crashed in a sync: nothing more leaves */
    if (replica >= s->o.n) {
        sim_fail(s, "replica %u sent to unknown replica %u", rp->id, replica);
        return;
    }
    rp->sent_window++;
    sim_net_send(s, (int)rp->ep, (int)replica, msg, len);
}

static void host_send_client(void *ctx, uint32_t client, const uint8_t *msg, size_t len)
{
    struct sim_replica *rp = ctx;
    struct sim *s = rp->sim;
    if (rp->doomed) return;
    if (client >= s->o.clients) return; /* a reply to a client we do not run */
    if (rp->honest) sim_check_local_answer(s, rp->ep, client, msg, len);
    sim_net_send(s, (int)rp->ep, SIM_EP_CLIENT(client), msg, len);
}

/* The record is written at once; it is durable once host_sync covers it
 * (synced_len), which every step does before its sends leave, except
 * those sent ahead. sim_crash_in_sync loses what no sync covered. */
static void host_persist(void *ctx, const uint8_t *rec, size_t len)
{
    struct sim_replica *rp = ctx;
    struct sim *s = rp->sim;
    if (rp->doomed) return;
    if (rp->wal_bytes + len > SIM_WAL_BYTES_MAX) {
        sim_fail(s, "replica %u WAL exceeds %u bytes", rp->id, SIM_WAL_BYTES_MAX);
        return;
    }
    if (rp->wal_len == rp->wal_cap) {
        size_t cap = rp->wal_cap ? rp->wal_cap * 2 : 256;
        struct sim_wal_rec *w = realloc(rp->wal, cap * sizeof(*w));
        if (!w) {
            sim_fail(s, "out of memory for replica %u WAL", rp->id);
            return;
        }
        rp->wal = w;
        rp->wal_cap = cap;
    }
    uint8_t *p = malloc(len ? len : 1);
    if (!p) {
        sim_fail(s, "out of memory for replica %u WAL", rp->id);
        return;
    }
    memcpy(p, rec, len);
    rp->wal[rp->wal_len++] = (struct sim_wal_rec){.p = p, .len = (uint32_t)len};
    rp->wal_bytes += len;
    rp->since_snap += 8 + len; /* with its record header, as bftd counts */
}

/* Durable snapshots: saved under bftd's policy (bft_snapshot_due, none
 * while the WAL replays) and kept in memory as bftd keeps its files
 * (BFT_SNAPFILE_KEEP: the newest and the one the WAL is compacted onto,
 * compact_base, see bft_snapfile_write); a saved one is always "written". */
static bool host_snapshot_wanted(void *ctx, uint64_t seq)
{
    (void)seq;
    struct sim_replica *rp = ctx;
    return !rp->replaying && bft_snapshot_due(rp->snaps_taken, rp->since_snap,
                                              SIM_SNAPSHOT_MIN_BYTES, rp->last_snap_len);
}

static int host_save_snapshot(void *ctx, uint64_t seq, const bft_digest *state, const uint8_t *snap,
                              size_t len)
{
    struct sim_replica *rp = ctx;
    if (!host_snapshot_wanted(ctx, seq)) return 1;
    rp->since_snap = 0;
    rp->last_snap_len = len;
    rp->snaps_taken++;
    uint32_t slot = rp->n_snaps;
    if (slot == BFT_SNAPFILE_KEEP) {
        slot = rp->snaps[0].seq < rp->snaps[1].seq ? 0 : 1;
        if (rp->compact_base != 0 && rp->snaps[slot].seq == rp->compact_base) slot = 1 - slot;
        bft_snapfile_free(&rp->snaps[slot]);
    }
    uint8_t *p = malloc(len ? len : 1);
    if (!p) {
        sim_fail(rp->sim, "out of memory for replica %u snapshot", rp->id);
        return -1;
    }
    if (len) memcpy(p, snap, len);
    rp->snaps[slot] = (struct bft_snapfile){.seq = seq, .state = *state, .buf = p, .len = len};
    if (slot == rp->n_snaps) rp->n_snaps++;
    return 0;
}

int sim_damage_snapshot(struct sim *s, uint32_t r)
{
    if (r >= s->o.n) return BFT_E_INVALID;
    struct sim_replica *rp = &s->rep[r];
    if (rp->n_snaps == 0) return BFT_E_NOTFOUND;
    uint32_t newest = rp->n_snaps == 2 && rp->snaps[1].seq > rp->snaps[0].seq ? 1 : 0;
    bft_snapfile_free(&rp->snaps[newest]);
    rp->snaps[newest] = rp->snaps[rp->n_snaps - 1];
    rp->n_snaps--;
    return BFT_E_OK;
}

int sim_snaps_copy(struct sim_replica *dst, const struct sim_replica *src)
{
    for (uint32_t i = 0; i < src->n_snaps; i++) {
        const struct bft_snapfile *f = &src->snaps[i];
        uint8_t *p = malloc(f->len ? f->len : 1);
        if (!p) return BFT_E_NOMEM;
        if (f->len) memcpy(p, f->buf, f->len);
        dst->snaps[i] =
            (struct bft_snapfile){.seq = f->seq, .state = f->state, .buf = p, .len = f->len};
    }
    dst->n_snaps = src->n_snaps;
    return BFT_E_OK;
}

struct compact_ctx {
    struct sim_wal_rec *recs;
    size_t len, cap, bytes;
    bool failed;
};

static void compact_emit(void *ctx, const uint8_t *rec, size_t len)
{
    struct compact_ctx *k = ctx;
    if (k->failed) return;
    if (k->len == k->cap) {
        size_t cap = k->cap ? k->cap * 2 : 256;
        struct sim_wal_rec *w = realloc(k->recs, cap * sizeof(*w));
        if (!w) {
            k->failed = true;
            return;
        }
        k->recs = w;
        k->cap = cap;
    }
    uint8_t *p = malloc(len ? len : 1);
    if (!p) {
        k->failed = true;
        return;
    }
    memcpy(p, rec, len);
    k->recs[k->len++] = (struct sim_wal_rec){.p = p, .len = (uint32_t)len};
    k->bytes += len;
}

/* The simulator's rotation: the WAL becomes the core's dump at once (the
 * crash points in between are tests/store/test_wal_seg.c's business). */
void sim_replica_compact(struct sim_replica *rp)
{
    if (!rp->node || rp->wal_bytes < SIM_WAL_COMPACT_BYTES) return;
    uint64_t base = bft_node_snapshot_base(rp->node);
    if (base <= rp->compact_base || bft_node_compact(rp->node, NULL, NULL) != BFT_E_OK) return;
    struct compact_ctx k = {0};
    bft_node_compact(rp->node, compact_emit, &k);
    if (k.failed) {
        for (size_t i = 0; i < k.len; i++)
            free(k.recs[i].p);
        free(k.recs);
        sim_fail(rp->sim, "out of memory compacting replica %u WAL", rp->id);
        return;
    }
    for (size_t i = 0; i < rp->wal_len; i++)
        free(rp->wal[i].p);
    free(rp->wal);
    rp->wal = k.recs;
    rp->wal_len = k.len;
    rp->wal_cap = k.cap;
    rp->wal_bytes = k.bytes;
    rp->synced_len = k.len; /* the rotation syncs the new segment */
    rp->compact_base = base;
    rp->sim->st.compactions++;
}

static void crash_action(struct sim *s, void *ctx);

/* Sends queued ahead of the sync are on the wire now (bft_host.push). */
static void host_push(void *ctx)
{
    struct sim_replica *rp = ctx;
    rp->pushed = true;
}

/* The step's records become durable, unless sim_crash_in_sync asked for a
 * crash now: then they are lost, the sync fails (the node sends nothing
 * else of the step) and the crash follows at once. It waits for a sync
 * after an ahead send, the case that matters (docs/design.md
 * "Durability"), for up to SIM_TORN_WAIT_US, then takes any sync with
 * new records. */
static int host_sync(void *ctx)
{
    struct sim_replica *rp = ctx;
    struct sim *s = rp->sim;
    bool pushed = rp->pushed;
    rp->pushed = false;
    if (rp->doomed) return -1;
    if (rp->torn_armed && rp->wal_len > rp->synced_len &&
        (pushed || s->now_us >= rp->torn_armed + SIM_TORN_WAIT_US)) {
        sim_log(s, "replica %u crashes in its sync: %zu record(s) lost%s", rp->id,
                rp->wal_len - rp->synced_len, pushed ? ", sent ahead of it" : "");
        for (size_t i = rp->synced_len; i < rp->wal_len; i++) {
            rp->wal_bytes -= rp->wal[i].len;
            free(rp->wal[i].p);
        }
        rp->wal_len = rp->synced_len;
        rp->torn_armed = 0;
        rp->doomed = true;
        s->st.torn_crashes++;
        s->st.torn_ahead += pushed;
        sim_at(s, s->now_us, crash_action, (void *)(uintptr_t)rp->ep);
        return -1;
    }
    rp->synced_len = rp->wal_len;
    return 0;
}

static void queue_timer(struct sim_replica *rp, uint32_t timer, uint64_t at_us)
{
    struct sim *s = rp->sim;
    struct sim_event e = {.at_us = at_us,
                          .kind = SIM_EV_TIMER,
                          .to_ep = (uint8_t)rp->ep,
                          .incarnation = rp->incarnation,
                          .arg = timer};
    if (sim_heap_push(&s->heap, &e) != BFT_E_OK) {
        sim_fail(s, "event heap full (%u events)", SIM_EVENTS_MAX);
        return;
    }
    rp->timers[timer].queued = true;
    rp->timers[timer].queued_us = at_us;
}

/* One heap event per timer at a time where possible: re-arming later only
 * moves the deadline, and the queued event re-queues itself when it fires
 * early, so a core that re-arms on every message cannot fill the heap. */
static void host_set_timer(void *ctx, uint32_t timer, uint64_t after_ms)
{
    struct sim_replica *rp = ctx;
    if (timer >= SIM_TIMERS_MAX) {
        sim_fail(rp->sim, "replica %u timer id %u >= %u", rp->id, timer, SIM_TIMERS_MAX);
        return;
    }
    if (after_ms > UINT64_MAX / 2000) after_ms = UINT64_MAX / 2000;
    struct sim_timer *t = &rp->timers[timer];
    t->armed = true;
    t->deadline_us = rp->sim->now_us + after_ms * 1000;
    if (!t->queued || t->queued_us > t->deadline_us) queue_timer(rp, timer, t->deadline_us);
}

static void host_cancel_timer(void *ctx, uint32_t timer)
{
    struct sim_replica *rp = ctx;
    if (timer < SIM_TIMERS_MAX) rp->timers[timer].armed = false;
}

void sim_replica_timer(struct sim *s, struct sim_event *e)
{
    struct sim_replica *rp = &s->rep[e->to_ep];
    if (!rp->node || rp->incarnation != e->incarnation) return;
    struct sim_timer *t = &rp->timers[e->arg];
    if (t->queued && t->queued_us == e->at_us) t->queued = false;
    if (!t->armed) return;
    if (t->deadline_us > s->now_us) {
        if (!t->queued || t->queued_us > t->deadline_us) queue_timer(rp, e->arg, t->deadline_us);
        return;
    }
    t->armed = false;
    bft_node_timer(rp->node, e->arg);
    bft_node_flush(rp->node);
    sim_replica_compact(rp);
}

/* The virtual clock, in ms: the node times local reads' staleness with it
 * (docs/reads.md), so runs stay reproducible. */
static uint64_t host_now_ms(void *ctx)
{
    struct sim_replica *rp = ctx;
    return rp->sim->now_us / 1000;
}

static void host_on_execute(void *ctx, uint64_t seq, uint64_t view, const bft_digest *batch,
                            const bft_digest *state)
{
    (void)view; /* a seq may commit in different views at different replicas */
    struct sim_replica *rp = ctx;
    rp->exec_us = rp->sim->now_us;
    rp->exec_ever = true;
    sim_check_execute(rp->sim, rp->id, seq, batch, state);
}

static void host_on_apply(void *ctx, uint32_t client, uint64_t req_no, uint64_t seq,
                          const uint8_t *op, size_t op_len)
{
    struct sim_replica *rp = ctx;
    sim_check_apply(rp->sim, rp->id, client, req_no, seq, op, op_len);
}

static void host_on_result(void *ctx, uint32_t client, uint64_t req_no, uint64_t seq, uint64_t view,
                           const uint8_t *op, size_t op_len, const uint8_t *result,
                           size_t result_len)
{
    (void)req_no;
    (void)seq;
    (void)view;
    struct sim_replica *rp = ctx;
    sim_check_result(rp->sim, rp->id, client, op, op_len, result, result_len);
}

void sim_wal_free(struct sim_replica *rp)
{
    for (size_t i = 0; i < rp->wal_len; i++)
        free(rp->wal[i].p);
    free(rp->wal);
    rp->wal = NULL;
    rp->wal_len = rp->wal_cap = rp->wal_bytes = rp->synced_len = 0;
    for (uint32_t i = 0; i < rp->n_snaps; i++)
        bft_snapfile_free(&rp->snaps[i]);
    rp->n_snaps = 0;
    rp->compact_base = 0;
}

int sim_replica_start(struct sim *s, uint32_t r, bool replay_wal)
{
    struct sim_replica *rp = &s->rep[r];
    rp->incarnation++;
    memset(rp->timers, 0, sizeof(rp->timers));
    rp->exec_min = 0;
    rp->apply_min = 0;
    rp->exec_ever = false;
    rp->since_snap = rp->last_snap_len = rp->snaps_taken = 0; /* a new process */
    sim_check_new_incarnation(s, r);
    rp->host = (struct bft_host){
        .ctx = rp,
        .send = host_send,
        .send_client = host_send_client,
        .persist = host_persist,
        .sync = host_sync,
        .push = host_push,
        .set_timer = host_set_timer,
        .cancel_timer = host_cancel_timer,
        .on_execute = host_on_execute,
        .on_apply = host_on_apply,
        .on_result = host_on_result,
        .save_snapshot = host_save_snapshot,
        .snapshot_wanted = host_snapshot_wanted,
        .now_ms = host_now_ms,
    };
    struct bft_node_config cfg = s->node_cfg;
    cfg.core.self = rp->id; /* a twin instance runs its twin's id and key */
    cfg.self_key = s->rep_key[rp->id];
    char err[256] = "";
    struct bft_node *node = NULL;
    int rv = bft_node_create(&node, &cfg, &rp->host, err, sizeof(err));
    if (rv != BFT_E_OK) {
        sim_fail(s, "replica %u: bft_node_create: %s (%s)", r, bft_strerror(rv), err);
        return rv;
    }
    rp->node = node;
    if (replay_wal) {
        for (uint32_t i = 0; i < rp->n_snaps; i++)
            bft_node_add_snapshot(node, rp->snaps[i].seq, &rp->snaps[i].state, rp->snaps[i].buf,
                                  rp->snaps[i].len);
        /* Replay only what was there at the crash: the node may append
         * while it recovers. */
        size_t len = rp->wal_len;
        rp->replaying = true;
        for (size_t i = 0; i < len && !s->failed; i++)
            bft_node_recover(node, rp->wal[i].p, rp->wal[i].len);
        rp->replaying = false;
    }
    bft_node_flush(node);
    return BFT_E_OK;
}

int sim_crash(struct sim *s, uint32_t r)
{
    if (r >= s->o.n || !s->rep[r].node) return BFT_E_INVALID;
    struct sim_replica *rp = &s->rep[r];
    bft_node_destroy(rp->node);
    rp->node = NULL;
    rp->doomed = false;
    rp->torn_armed = 0;
    rp->pushed = false;
    rp->incarnation++; /* everything queued for the old node is now stale */
    memset(rp->timers, 0, sizeof(rp->timers));
    s->st.crashes++;
    sim_log(s, "crash replica %u", r);
    return BFT_E_OK;
}

int sim_restart(struct sim *s, uint32_t r, bool keep_wal)
{
    if (r >= s->o.n || s->rep[r].node) return BFT_E_INVALID;
    if (!keep_wal) sim_wal_free(&s->rep[r]);
    s->st.restarts++;
    sim_log(s, "restart replica %u %s", r, keep_wal ? "from its WAL" : "with empty state");
    return sim_replica_start(s, r, keep_wal);
}

static void crash_action(struct sim *s, void *ctx)
{
    sim_crash(s, (uint32_t)(uintptr_t)ctx);
}

/* No sync with new records came in time: crash plainly. */
static void torn_fallback(struct sim *s, void *ctx)
{
    uint32_t r = (uint32_t)(uintptr_t)ctx;
    if (s->rep[r].node && s->rep[r].torn_armed && !s->rep[r].doomed) sim_crash(s, r);
}

int sim_crash_in_sync(struct sim *s, uint32_t r)
{
    if (r >= s->o.n || !s->rep[r].node) return BFT_E_INVALID;
    struct sim_replica *rp = &s->rep[r];
    if (rp->torn_armed || rp->doomed) return BFT_E_OK;
    rp->torn_armed = s->now_us ? s->now_us : 1;
    sim_log(s, "replica %u will crash in its next sync", r);
    return sim_at(s, s->now_us + SIM_TORN_GIVE_UP_US, torn_fallback, (void *)(uintptr_t)r);
}

static void restart_action(struct sim *s, void *ctx)
{
    uintptr_t v = (uintptr_t)ctx;
    sim_restart(s, (uint32_t)(v >> 1), (v & 1) != 0);
}

int sim_schedule_crash(struct sim *s, uint64_t at_us, uint32_t r)
{
    if (r >= s->o.n) return BFT_E_INVALID;
    return sim_at(s, at_us, crash_action, (void *)(uintptr_t)r);
}

int sim_schedule_restart(struct sim *s, uint64_t at_us, uint32_t r, bool keep_wal)
{
    if (r >= s->o.n) return BFT_E_INVALID;
    return sim_at(s, at_us, restart_action, (void *)(((uintptr_t)r << 1) | (keep_wal ? 1 : 0)));
}

void sim_set_behaviour(struct sim *s, uint32_t r, const struct sim_behaviour *b)
{
    if (r >= s->o.n) return;
    if (b && b->on_send) {
        s->rep[r].behaviour = *b;
        s->rep[r].honest = false;
    } else {
        s->rep[r].behaviour = (struct sim_behaviour){0};
    }
}
