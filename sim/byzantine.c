/* sim: Byzantine replicas (behaviours live in faults/).
 *
 * A faulty replica's outgoing messages go through its fault actor, which
 * turns each into 0..k messages (equivocating variants, forged senders,
 * corrupted copies, delays) and adds tick traffic (junk, flood, replay);
 * every emitted copy then meets the same network as honest traffic
 * (sim_net_wire: rules, partitions, the plan's filter, loss), so a liar
 * cannot jump a partition. A Byzantine replica keeps its real key: the
 * actor re-signs as itself through bft_node_sign_encoded (null crypto).
 *
 * Twins (Bano et al., OPODIS'21): a second node with the same id and key
 * runs in an extra endpoint slot (n, n+1, ...). Messages to the id go to
 * every instance; which ones arrive is decided per round by the Twins
 * scenario, or by the plan's twin split (fault_twin_side_of). */
#include <stdlib.h>
#include <string.h>

#include "node/node.h"
#include "sim/sim_internal.h"

#define SIM_ACTOR_TICK_US 10000

int sim_sign_as(struct sim *s, uint32_t r, uint8_t *msg, size_t len)
{
    if (r >= s->o.n || !s->rep[r].node || len < BFT_MSG_MIN_LEN) return BFT_E_INVALID;
    return bft_node_sign_encoded(s->rep[r].node, msg, len);
}

void sim_set_tap(struct sim *s, sim_tap_fn fn, void *ctx)
{
    s->tap = fn;
    s->tap_ctx = ctx;
}

uint32_t sim_ep_replica(const struct sim *s, int ep)
{
    if (ep >= 0 && ep < BFT_MAX_REPLICAS) return s->rep[ep].id;
    return FAULT_CLIENT | (uint32_t)(ep - SIM_EP_CLIENT_BASE);
}

static uint64_t plan_now_ms(const struct sim *s)
{
    return (s->now_us - s->plan_t0_us) / 1000;
}

/* Instance number of an endpoint: 0 for the replica's own slot, 1 for its
 * twin slot. */
static uint32_t instance_of(const struct sim *s, int ep)
{
    return ep >= (int)s->o.n ? 1 : 0;
}

bool sim_byz_can_talk(struct sim *s, int from_ep, int to_ep)
{
    if (!s->faults_on) return true;
    if (s->twins_mode) {
        /* Identities: replica i is endpoint i, the twin instance is n. */
        uint32_t r = twins_round_at(&s->twins, plan_now_ms(s));
        return twins_can_talk(&s->twins, r, (uint32_t)from_ep, (uint32_t)to_ep);
    }
    if (!s->n_twin_slots) return true;
    uint32_t a = s->rep[from_ep].id, b = s->rep[to_ep].id;
    /* A twin's instance k talks only to the peers of side k (plan twin). */
    int ta = s->twin_ep[a], tb = s->twin_ep[b];
    if (ta >= 0 && s->rep[ta].node && fault_twin_side_of(s->o.n, a, b) != instance_of(s, from_ep))
        return false;
    if (tb >= 0 && s->rep[tb].node && fault_twin_side_of(s->o.n, b, a) != instance_of(s, to_ep))
        return false;
    /* The two sides are two partitions (Twins §3: each twin lives in its
     * own partition), so honest peers of different sides are cut too;
     * otherwise a crash-fault protocol's single vote per term would hide
     * the twin. */
    for (uint32_t t = 0; t < s->o.n; t++) {
        int te = s->twin_ep[t];
        if (te < 0 || !s->rep[te].node || t == a || t == b) continue;
        if (fault_twin_side_of(s->o.n, t, a) != fault_twin_side_of(s->o.n, t, b)) return false;
    }
    return true;
}

/* To a replica id: every running instance of it, except the sender's own
 * instances (a node never messages itself). */
static void route(struct sim *s, int from_ep, int to, const uint8_t *msg, size_t len,
                  uint64_t extra_us)
{
    if (to >= BFT_MAX_REPLICAS) {
        sim_net_wire(s, from_ep, to, msg, len, extra_us);
        return;
    }
    bool from_replica = from_ep < BFT_MAX_REPLICAS;
    if (from_replica && s->rep[from_ep].id == (uint32_t)to && from_ep != to) return;
    sim_net_wire(s, from_ep, to, msg, len, extra_us);
    int t = s->twin_ep[to];
    if (t >= 0 && s->rep[t].node && t != from_ep) sim_net_wire(s, from_ep, t, msg, len, extra_us);
}

struct emit_ctx {
    struct sim *s;
    int from_ep;
};

static void actor_emit(void *ctx, uint32_t dest, const uint8_t *msg, size_t len, uint64_t delay_ms)
{
    struct emit_ctx *e = ctx;
    struct sim *s = e->s;
    uint32_t id = FAULT_DEST_ID(dest);
    int to;
    if (dest & FAULT_CLIENT) {
        if (id >= s->o.clients) return;
        to = SIM_EP_CLIENT(id);
    } else {
        if (id >= s->o.n || id == s->rep[e->from_ep].id) return;
        to = (int)id;
    }
    if (len == 0) return;
    route(s, e->from_ep, to, msg, len, delay_ms * 1000);
}

void sim_byz_send(struct sim *s, int from_ep, int to, const uint8_t *msg, size_t len)
{
    if (from_ep < BFT_MAX_REPLICAS && s->faults_on) {
        uint32_t id = s->rep[from_ep].id;
        struct fault_actor *a = (uint32_t)from_ep == id ? s->actor[id] : NULL;
        if (a) {
            uint32_t dest = to >= BFT_MAX_REPLICAS
                                ? FAULT_CLIENT | (uint32_t)(to - SIM_EP_CLIENT_BASE)
                                : (uint32_t)to;
            struct emit_ctx e = {s, from_ep};
            fault_actor_outgoing(a, plan_now_ms(s), dest, msg, len, actor_emit, &e);
            return;
        }
    }
    route(s, from_ep, to, msg, len, 0);
}

static void actor_tick(struct sim *s, void *ctx)
{
    (void)ctx;
    if (!s->faults_on) return;
    for (uint32_t r = 0; r < s->o.n; r++) {
        if (!s->actor[r] || !s->rep[r].node) continue;
        struct emit_ctx e = {s, (int)r};
        fault_actor_tick(s->actor[r], plan_now_ms(s), actor_emit, &e);
    }
    sim_at(s, s->now_us + SIM_ACTOR_TICK_US, actor_tick, NULL);
}

static void sign_encoded(void *ctx, uint8_t *msg, size_t len)
{
    struct sim_replica *rp = ctx;
    if (rp->node) bft_node_sign_encoded(rp->node, msg, len);
}

/* ---- twin instances ---- */

static int twin_start(struct sim *s, uint32_t twin)
{
    if (s->twin_ep[twin] >= 0) return BFT_E_OK;
    uint32_t slot = s->o.n + s->n_twin_slots;
    if (slot >= BFT_MAX_REPLICAS) return BFT_E_FULL;
    s->n_twin_slots++;
    struct sim_replica *rp = &s->rep[slot];
    rp->sim = s;
    rp->id = twin;
    rp->ep = slot;
    rp->honest = false;
    s->twin_ep[twin] = (int)slot;
    sim_log(s, "twin: second instance of replica %u starts as endpoint %u", twin, slot);
    /* A clone: the key and the disk (a copied VM). A fresh twin would not
     * do: Raft's disk-loss guard keeps a replica without a WAL from
     * voting until most others answer it, which a partitioned twin never
     * gets; a clone remembers its votes and log, so it acts at once. */
    struct sim_replica *orig = &s->rep[twin];
    for (size_t i = 0; i < orig->wal_len; i++) {
        if (rp->wal_len == rp->wal_cap) {
            size_t cap = rp->wal_cap ? rp->wal_cap * 2 : 256;
            struct sim_wal_rec *w = realloc(rp->wal, cap * sizeof(*w));
            if (!w) return BFT_E_NOMEM;
            rp->wal = w;
            rp->wal_cap = cap;
        }
        uint8_t *p = malloc(orig->wal[i].len ? orig->wal[i].len : 1);
        if (!p) return BFT_E_NOMEM;
        memcpy(p, orig->wal[i].p, orig->wal[i].len);
        rp->wal[rp->wal_len++] = (struct sim_wal_rec){.p = p, .len = orig->wal[i].len};
        rp->wal_bytes += orig->wal[i].len;
    }
    if (sim_snaps_copy(rp, orig) != BFT_E_OK) return BFT_E_NOMEM;
    return sim_replica_start(s, slot, true);
}

static void twin_stop(struct sim *s, uint32_t twin)
{
    int slot = s->twin_ep[twin];
    if (slot < 0 || !s->rep[slot].node) return;
    bft_node_destroy(s->rep[slot].node);
    s->rep[slot].node = NULL;
    s->rep[slot].incarnation++;
    sim_log(s, "twin: second instance of replica %u stops", twin);
}

static void edge_action(struct sim *s, void *ctx)
{
    uintptr_t v = (uintptr_t)ctx;
    uint32_t r = (uint32_t)(v >> 2);
    bool twin = (v & 2) != 0, start = (v & 1) != 0;
    if (!s->faults_on) return;
    if (twin) {
        if (start) {
            if (twin_start(s, r) != BFT_E_OK) sim_fail(s, "no endpoint slot for twin of %u", r);
        } else {
            twin_stop(s, r);
        }
        return;
    }
    if (start)
        sim_crash(s, r);
    else
        sim_restart(s, r, true);
}

static void schedule_edge(struct sim *s, uint64_t from_ms, uint64_t until_ms, uint32_t r, bool twin)
{
    uintptr_t base = ((uintptr_t)r << 2) | (twin ? 2 : 0);
    sim_at(s, s->plan_t0_us + from_ms * 1000, edge_action, (void *)(base | 1));
    if (until_ms != FAULT_FOREVER && until_ms < UINT64_MAX / 2000)
        sim_at(s, s->plan_t0_us + until_ms * 1000, edge_action, (void *)base);
}

static void dishonest_action(struct sim *s, void *ctx)
{
    uint32_t r = (uint32_t)(uintptr_t)ctx;
    if (s->faults_on) s->rep[r].honest = false;
}

/* A faulty replica stops being honest for the checker when the plan is
 * applied, or (o.honest_until_fault: scenarios) when its first non-crash
 * window opens: until then it runs the protocol as written, and what it
 * executes and answers is checked like any other replica's. */
static void mark_dishonest(struct sim *s, uint32_t r)
{
    if (!s->o.honest_until_fault) {
        s->rep[r].honest = false;
        return;
    }
    uint64_t from_ms = FAULT_FOREVER;
    for (uint32_t i = 0; i < s->plan.n_faults; i++) {
        const struct fault_entry *e = &s->plan.fault[i];
        if (e->replica == r && e->behaviour != FAULT_CRASH && e->win.from_ms < from_ms)
            from_ms = e->win.from_ms;
    }
    if (from_ms < UINT64_MAX / 2000)
        sim_at(s, s->plan_t0_us + from_ms * 1000, dishonest_action, (void *)(uintptr_t)r);
}

int sim_apply_plan(struct sim *s, const struct fault_plan *p, const struct byzzfuzz_schedule *bz,
                   char *err, size_t errlen)
{
    if (s->have_plan || s->twins_mode) {
        snprintf(err, errlen, "one fault plan per run");
        return BFT_E_INVALID;
    }
    struct fault_plan plan = *p;
    plan.n = s->o.n;
    int rv = fault_plan_validate(&plan, err, errlen);
    if (rv != BFT_E_OK) return rv;
    s->plan = plan;
    s->have_plan = true;
    s->faults_on = true;
    s->plan_t0_us = s->now_us;
    rv = fault_net_create(&s->fnet, &s->plan);
    if (rv != BFT_E_OK) {
        snprintf(err, errlen, "out of memory");
        return rv;
    }
    bool any_actor = false;
    for (uint32_t r = 0; r < s->o.n; r++) {
        if (fault_plan_byzantine(&s->plan, r)) mark_dishonest(s, r);
        bool needs_actor = false;
        for (uint32_t i = 0; i < s->plan.n_faults; i++) {
            const struct fault_entry *e = &s->plan.fault[i];
            if (e->replica != r) continue;
            if (e->behaviour == FAULT_CRASH || e->behaviour == FAULT_TWIN)
                schedule_edge(s, e->win.from_ms, e->win.until_ms, r, e->behaviour == FAULT_TWIN);
            else
                needs_actor = true;
        }
        if (!needs_actor) continue;
        struct fault_actor_config ac = {
            .plan = &s->plan,
            .protocol = s->o.protocol,
            .n = s->o.n,
            .f = s->f,
            .self = r,
            .cluster_id = s->node_cfg.core.cluster_id,
            .request_timeout_ms = s->node_cfg.core.request_timeout_ms,
            .key = s->rep_key[r],
            .sign_encoded = sign_encoded,
            .sign_ctx = &s->rep[r],
            .byzzfuzz = bz,
        };
        rv = fault_actor_create(&s->actor[r], &ac, err, errlen);
        if (rv != BFT_E_OK) return rv;
        any_actor = true;
    }
    if (any_actor) sim_at(s, s->now_us + SIM_ACTOR_TICK_US, actor_tick, NULL);
    sim_log(s, "fault plan applied: %u faults, %u partitions", s->plan.n_faults,
            s->plan.n_partitions);
    return BFT_E_OK;
}

int sim_apply_twins(struct sim *s, const struct twins_scenario *ts, char *err, size_t errlen)
{
    if (s->have_plan || s->twins_mode) {
        snprintf(err, errlen, "one fault plan per run");
        return BFT_E_INVALID;
    }
    if (!twins_scenario_valid(ts) || ts->n != s->o.n || ts->twin >= s->o.n) {
        snprintf(err, errlen, "Twins scenario does not fit n=%u", s->o.n);
        return BFT_E_INVALID;
    }
    s->twins = *ts;
    s->twins_mode = true;
    s->faults_on = true;
    s->plan_t0_us = s->now_us;
    s->rep[ts->twin].honest = false;
    int rv = twin_start(s, ts->twin);
    if (rv != BFT_E_OK) snprintf(err, errlen, "no endpoint slot for the twin");
    return rv;
}

void sim_faults_stop(struct sim *s)
{
    if (!s->faults_on) return;
    s->faults_on = false;
    for (uint32_t r = 0; r < s->o.n; r++)
        twin_stop(s, r);
    sim_log(s, "Byzantine faults stop");
}

void sim_fault_stats(const struct sim *s, struct sim_fault_stats *out)
{
    memset(out, 0, sizeof(*out));
    for (uint32_t r = 0; r < BFT_MAX_REPLICAS; r++) {
        if (!s->actor[r]) continue;
        struct fault_actor_stats a;
        fault_actor_stats(s->actor[r], &a);
        out->actor.seen += a.seen;
        out->actor.passed += a.passed;
        out->actor.dropped += a.dropped;
        out->actor.rewritten += a.rewritten;
        out->actor.equivocated += a.equivocated;
        out->actor.injected += a.injected;
    }
    out->twin_cut = s->twin_cut;
}

void sim_byz_free(struct sim *s)
{
    for (uint32_t r = 0; r < BFT_MAX_REPLICAS; r++) {
        if (s->actor[r]) fault_actor_destroy(s->actor[r]);
        s->actor[r] = NULL;
    }
    if (s->fnet) fault_net_destroy(s->fnet);
    s->fnet = NULL;
}
