/* sim: the seeded network. Every message is copied onto the event heap with
 * a latency drawn from the current parameters; on the way it may meet a
 * Byzantine behaviour (the sender's), a message rule (scripted drop or
 * duplicate), a partition (replica links only: clients always reach every
 * replica, docs/design.md "Partition specs"), loss, duplication and reordering,
 * after TigerBeetle's packet simulator. The wire holds at most
 * inflight_max messages; beyond that a message is dropped and counted, so a
 * flooding run cannot grow memory without bound (docs/style.md #7). */
#include <stdlib.h>
#include <string.h>

#include "node/node.h"
#include "sim/sim_internal.h"

/* The type byte of the fixed header (bft.h: offset 5). Read directly so
 * rules work on any message, even one the codec would refuse. */
uint8_t sim_msg_type(const uint8_t *msg, size_t len)
{
    return len > 5 ? msg[5] : 0;
}

/* The header's view (or term), offset 24 (bft.h), little-endian. */
static uint64_t msg_view(const uint8_t *msg, size_t len)
{
    uint64_t v = 0;
    if (len < 32) return UINT64_MAX;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | msg[24 + i];
    return v;
}

static bool ep_is_replica(int ep)
{
    return ep >= 0 && ep < BFT_MAX_REPLICAS;
}

static struct sim_rule_slot *match_rule(struct sim *s, int from_ep, int to_ep, const uint8_t *msg,
                                        size_t len)
{
    uint8_t type = sim_msg_type(msg, len);
    for (int i = 0; i < SIM_RULES_MAX; i++) {
        struct sim_rule_slot *sl = &s->rules[i];
        const struct sim_rule *r = &sl->r;
        if (!sl->used) continue;
        if (r->type && r->type != type) continue;
        if (!(r->from_mask & SIM_MASK(from_ep)) || !(r->to_mask & SIM_MASK(to_ep))) continue;
        if (s->now_us < r->after_us || (r->until_us && s->now_us >= r->until_us)) continue;
        if (r->count && sl->hits >= r->count) continue;
        if (r->match_view) {
            uint64_t v = msg_view(msg, len);
            if (v < r->view_lo || v > r->view_hi) continue;
        }
        sl->hits++;
        return sl;
    }
    return NULL;
}

static void put_on_wire(struct sim *s, int from_ep, int to_ep, const uint8_t *msg, size_t len,
                        uint64_t delay_us)
{
    if (s->inflight >= s->o.inflight_max) {
        s->st.dropped_inflight++;
        return;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) {
        s->st.dropped_inflight++;
        return;
    }
    memcpy(copy, msg, len);
    struct sim_event e = {
        .at_us = s->now_us + delay_us,
        .kind = SIM_EV_DELIVER,
        .from_ep = (uint8_t)from_ep,
        .to_ep = (uint8_t)to_ep,
        .incarnation = ep_is_replica(to_ep) ? s->rep[to_ep].incarnation : 0,
        .len = (uint32_t)len,
        .data = copy,
    };
    if (sim_heap_push(&s->heap, &e) != BFT_E_OK) {
        free(copy);
        sim_fail(s, "event heap full (%u events)", SIM_EVENTS_MAX);
        return;
    }
    s->inflight++;
    if (s->inflight > s->st.inflight_peak) s->st.inflight_peak = s->inflight;
}

static uint64_t draw_latency(struct sim *s)
{
    uint64_t d = sim_rng_range(&s->net_rng, s->net.latency_min_us, s->net.latency_max_us);
    if (sim_rng_ppm(&s->net_rng, s->net.reorder_ppm))
        d += sim_rng_range(&s->net_rng, 0, s->net.reorder_us);
    return d;
}

#define SIM_BEHAVIOUR_SLACK 4096

/* One copy from endpoint to endpoint: rules, partitions (the simulator's
 * own cuts, twin splits and Twins rounds, the plan's network filter), then
 * loss, duplication and latency. Fault-actor output comes through here
 * too, so a Byzantine replica cannot jump a partition. */
void sim_net_wire(struct sim *s, int from_ep, int to_ep, const uint8_t *msg, size_t len,
                  uint64_t extra_us)
{
    bool dup = false;
    struct sim_rule_slot *rule = match_rule(s, from_ep, to_ep, msg, len);
    if (rule && rule->r.action == SIM_RULE_DROP) {
        s->st.dropped_rule++;
        return;
    }
    if (rule && rule->r.action == SIM_RULE_DUPLICATE) dup = true;
    if (from_ep == to_ep) { /* loopback: no network in between */
        put_on_wire(s, from_ep, to_ep, msg, len, extra_us);
        return;
    }
    bool replicas = ep_is_replica(from_ep) && ep_is_replica(to_ep);
    uint32_t from_id = sim_ep_replica(s, from_ep), to_id = sim_ep_replica(s, to_ep);
    if (replicas && (s->cut[from_id] & (1u << to_id))) {
        s->st.dropped_partition++;
        return;
    }
    if (replicas && !sim_byz_can_talk(s, from_ep, to_ep)) {
        s->st.dropped_partition++;
        s->twin_cut++;
        return;
    }
    struct fault_net_verdict v = {.copies = 1};
    if (s->faults_on && s->fnet) {
        uint64_t now_ms = (s->now_us - s->plan_t0_us) / 1000;
        fault_net_decide(s->fnet, from_id, to_id, now_ms, &v);
        if (v.copies == 0) {
            if (v.reason == FAULT_NET_DROP_LOSS)
                s->st.dropped_loss++;
            else
                s->st.dropped_partition++;
            return;
        }
    }
    for (uint32_t k = 0; k < v.copies; k++) {
        if (sim_rng_ppm(&s->net_rng, s->net.loss_ppm)) {
            s->st.dropped_loss++;
            continue;
        }
        if (k == 1) s->st.duplicated++;
        uint64_t d = draw_latency(s) + extra_us + v.delay_ms[k] * 1000;
        put_on_wire(s, from_ep, to_ep, msg, len, d);
        if (dup || sim_rng_ppm(&s->net_rng, s->net.dup_ppm)) {
            s->st.duplicated++;
            put_on_wire(s, from_ep, to_ep, msg, len, d + 1 + draw_latency(s));
            dup = false;
        }
    }
}

/* `to` is a replica id (delivered to every running instance of it) or a
 * client endpoint. */
void sim_net_send(struct sim *s, int from_ep, int to, const uint8_t *msg, size_t len)
{
    if (s->failed) return;
    s->st.msgs_sent++;
    if (s->tap) s->tap(s->tap_ctx, s, from_ep, to, msg, len);
    uint8_t *owned = NULL;
    if (ep_is_replica(from_ep) && s->rep[from_ep].behaviour.on_send) {
        /* The behaviour rewrites a private copy with room to grow. */
        size_t cap = len + SIM_BEHAVIOUR_SLACK;
        owned = malloc(cap);
        if (!owned) return;
        memcpy(owned, msg, len);
        const struct sim_behaviour *b = &s->rep[from_ep].behaviour;
        if (b->on_send(b->ctx, s, sim_ep_replica(s, from_ep), to, owned, &len, cap) ==
                SIM_SEND_DROP ||
            len > cap) {
            free(owned);
            s->st.dropped_rule++;
            return;
        }
        msg = owned;
    }
    sim_byz_send(s, from_ep, to, msg, len);
    free(owned);
}

int sim_inject(struct sim *s, int from_ep, int to_ep, const uint8_t *msg, size_t len,
               uint64_t delay_us)
{
    if (from_ep < 0 || from_ep >= SIM_EP_CLIENT(SIM_MAX_CLIENTS) || to_ep < 0 ||
        to_ep >= SIM_EP_CLIENT(SIM_MAX_CLIENTS) || !msg || len == 0)
        return BFT_E_INVALID;
    put_on_wire(s, from_ep, to_ep, msg, len, delay_us);
    return BFT_E_OK;
}

void sim_net_deliver(struct sim *s, struct sim_event *e)
{
    s->inflight--;
    int to = e->to_ep;
    if (ep_is_replica(to)) {
        struct sim_replica *rp = &s->rep[to];
        if (!rp->node || rp->incarnation != e->incarnation) {
            s->st.dropped_down++;
            return;
        }
        s->st.msgs_delivered++;
        bft_node_receive(rp->node, e->data, e->len);
        bft_node_flush(rp->node);
        sim_replica_compact(rp);
        return;
    }
    uint32_t c = (uint32_t)(to - SIM_EP_CLIENT_BASE);
    if (c >= s->o.clients) {
        s->st.dropped_down++;
        return;
    }
    s->st.msgs_delivered++;
    sim_client_receive(s, c, e->data, e->len);
}

/* ---- Parameters, partitions and rules. ---- */

void sim_net_set(struct sim *s, const struct sim_net_params *p)
{
    s->net = *p;
    if (s->net.latency_max_us < s->net.latency_min_us)
        s->net.latency_max_us = s->net.latency_min_us;
}

void sim_net_get(const struct sim *s, struct sim_net_params *p)
{
    *p = s->net;
}

void sim_link_cut(struct sim *s, uint32_t from, uint32_t to, bool cut)
{
    if (from >= BFT_MAX_REPLICAS || to >= BFT_MAX_REPLICAS || from == to) return;
    if (cut)
        s->cut[from] |= 1u << to;
    else
        s->cut[from] &= ~(1u << to);
}

void sim_partition_asym(struct sim *s, uint32_t from_mask, uint32_t to_mask)
{
    for (uint32_t a = 0; a < s->o.n; a++)
        for (uint32_t b = 0; b < s->o.n; b++)
            if ((from_mask >> a & 1) && (to_mask >> b & 1)) sim_link_cut(s, a, b, true);
}

void sim_partition(struct sim *s, uint32_t a_mask, uint32_t b_mask)
{
    sim_partition_asym(s, a_mask, b_mask);
    sim_partition_asym(s, b_mask, a_mask);
}

void sim_heal_links(struct sim *s)
{
    memset(s->cut, 0, sizeof(s->cut));
}

int sim_rule_add(struct sim *s, const struct sim_rule *r)
{
    if (r->action != SIM_RULE_DROP && r->action != SIM_RULE_DUPLICATE) return -1;
    for (int i = 0; i < SIM_RULES_MAX; i++) {
        if (s->rules[i].used) continue;
        s->rules[i] = (struct sim_rule_slot){.used = true, .r = *r};
        return i;
    }
    return -1;
}

void sim_rule_remove(struct sim *s, int id)
{
    if (id >= 0 && id < SIM_RULES_MAX) s->rules[id].used = false;
}

void sim_rules_clear(struct sim *s)
{
    for (int i = 0; i < SIM_RULES_MAX; i++)
        s->rules[i].used = false;
}

uint64_t sim_rule_hits(const struct sim *s, int id)
{
    if (id < 0 || id >= SIM_RULES_MAX) return 0;
    return s->rules[id].hits;
}
