/* tests/lib/core_fixture.c: the cluster of the core fixture: creating
 * the cores, client requests, the FIFO network, timers and the virtual
 * clock, crash and restart from the WAL (see core_fixture.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hotstuff/hotstuff.h"
#include "core/pbft/pbft.h"
#include "core/raft/raft.h"
#include "tests/lib/core_fixture_internal.h"

static const struct bft_core_ops *ops_for(int protocol)
{
    switch (protocol) {
    case BFT_PROTO_PBFT:
        return &bft_pbft_ops;
    case BFT_PROTO_HOTSTUFF:
        return &bft_hotstuff_ops;
    case BFT_PROTO_RAFT:
        return &bft_raft_ops;
    default:
        return NULL;
    }
}

const struct cf_names *cf_names_for(int protocol)
{
    switch (protocol) {
    case BFT_PROTO_PBFT:
        return &cf_names_pbft;
    case BFT_PROTO_HOTSTUFF:
        return &cf_names_hotstuff;
    case BFT_PROTO_RAFT:
        return &cf_names_raft;
    default:
        return NULL;
    }
}

static void node_config(struct cf *cf, uint32_t id, struct bft_core_config *c)
{
    const struct cf_options *o = &cf->opt;
    bft_core_config_defaults(c, o->protocol, o->n, id);
    c->cluster_id = CF_CLUSTER;
    c->n_clients = CF_MAX_CLIENTS;
    if (o->batch_max) c->batch_max = o->batch_max;
    if (o->pipeline_max) c->pipeline_max = o->pipeline_max;
    if (o->window) c->window = o->window;
    if (o->checkpoint_interval) c->checkpoint_interval = o->checkpoint_interval;
    if (o->request_timeout_ms) c->request_timeout_ms = o->request_timeout_ms;
    if (o->leader_views) c->leader_views = o->leader_views;
    if (o->no_reputation) c->leader_reputation = 0;
    if (o->tune) o->tune(o->tune_arg, id, c);
}

/* A fresh core for node id (its WAL and snapshots are kept elsewhere). */
int cf_node_start(struct cf *cf, uint32_t id)
{
    struct cf_node *nd = &cf->node[id];
    memset(nd->armed, 0, sizeof nd->armed);
    memset(&nd->app, 0, sizeof nd->app);
    /* Like the node: the jitter stream is fixed per replica, so a run
     * replays exactly (a restarted replica starts it again). */
    nd->rng = CF_CLUSTER ^ ((uint64_t)id << 32);
    node_config(cf, id, &nd->cfg);
    return cf->ops->create(&nd->core, &nd->cfg, &nd->env, &nd->io);
}

int cf_create(struct cf **out, const struct cf_options *opt, char *err, size_t errlen)
{
    const struct bft_core_ops *ops = ops_for(opt->protocol);
    if (!ops) {
        snprintf(err, errlen, "unknown protocol %d", opt->protocol);
        return BFT_E_INVALID;
    }
    if (opt->n < 1 || opt->n > CF_MAX_NODES) {
        snprintf(err, errlen, "n=%u: need 1..%u nodes", opt->n, CF_MAX_NODES);
        return BFT_E_INVALID;
    }
    struct cf *cf = calloc(1, sizeof *cf);
    if (!cf) {
        snprintf(err, errlen, "out of memory");
        return BFT_E_NOMEM;
    }
    cf->opt = *opt;
    cf->ops = ops;
    cf->mask = CF_LOG_DEFAULT;
    for (uint32_t c = 0; c < CF_MAX_CLIENTS; c++)
        cf->next_req[c] = 1;
    for (uint32_t i = 0; i < opt->n; i++) {
        struct cf_node *nd = &cf->node[i];
        nd->cf = cf;
        nd->id = i;
        cf_node_bind(nd);
        int rv = cf_node_start(cf, i);
        if (rv != BFT_E_OK) {
            snprintf(err, errlen, "cannot create %s core %u: %s", ops->name, i, bft_strerror(rv));
            cf_destroy(cf);
            return rv;
        }
    }
    *out = cf;
    return BFT_E_OK;
}

static void link_clear(struct cf_link *l)
{
    for (uint32_t k = 0; k < l->count; k++)
        free(l->ring[(l->head + k) % CF_LINK_MAX].buf);
    l->head = l->count = 0;
}

void cf_destroy(struct cf *cf)
{
    if (!cf) return;
    for (uint32_t i = 0; i < cf->opt.n; i++) {
        struct cf_node *nd = &cf->node[i];
        if (nd->core) cf->ops->destroy(nd->core);
        for (uint32_t r = 0; r < nd->n_wal; r++)
            free(nd->wal[r].p);
        for (uint32_t j = 0; j < cf->opt.n; j++) {
            link_clear(&cf->link[i][j]);
            free(cf->link[i][j].ring);
        }
    }
    free(cf->log);
    free(cf);
}

uint32_t cf_n(const struct cf *cf)
{
    return cf->opt.n;
}

const struct bft_core_ops *cf_ops(const struct cf *cf)
{
    return cf->ops;
}

void cf_set_observer(struct cf *cf, cf_observer fn, void *arg)
{
    cf->observer = fn;
    cf->observer_arg = arg;
}

void cf_set_filter(struct cf *cf, cf_filter fn, void *arg)
{
    cf->filter = fn;
    cf->filter_arg = arg;
}

struct bft_core *cf_core(const struct cf *cf, uint32_t id)
{
    return id < cf->opt.n ? cf->node[id].core : NULL;
}

const struct bft_core_config *cf_config(const struct cf *cf, uint32_t id)
{
    return id < cf->opt.n ? &cf->node[id].cfg : NULL;
}

uint64_t cf_now(const struct cf *cf)
{
    return cf->now_ms;
}

/* ---- the network ---- */

void cf_net_push(struct cf *cf, uint32_t from, uint32_t to, const uint8_t *buf, size_t len)
{
    const char *why = NULL;
    if (!cf->node[from].core || !cf->node[to].core)
        why = "node down";
    else if (cf->partitioned && cf->group[from] != cf->group[to])
        why = "partition";
    else if (cf->link[from][to].count == CF_LINK_MAX)
        why = "link full";
    struct cf_link *l = &cf->link[from][to];
    if (!why && !l->ring && !(l->ring = calloc(CF_LINK_MAX, sizeof *l->ring))) why = "no memory";
    uint8_t *copy = why ? NULL : malloc(len);
    if (!why && !copy) why = "no memory";
    if (why) {
        cf_log_line(cf, CF_LOG_NET, "net %u->%u %s dropped (%s)", from, to,
                    len > 5 ? bft_msg_type_name(buf[5]) : "?", why);
        return;
    }
    memcpy(copy, buf, len);
    l->ring[(l->head + l->count) % CF_LINK_MAX] = (struct cf_pkt){copy, (uint32_t)len};
    l->count++;
}

/* A client REQUEST arriving at a node: the node's own filtering first
 * (node/node.c receive_request): reads go to on_read, executed requests
 * are answered from the table and never reach the core. */
void cf_node_request(struct cf *cf, struct cf_node *nd, const struct bft_msg *m)
{
    if (bft_req_flags(m) & BFT_REQ_READONLY) {
        if (cf->ops->on_read)
            cf->ops->on_read(nd->core, m);
        else
            cf_log_line(cf, CF_LOG_READ, "%u read client=%u req=%llu answered by the node", nd->id,
                        m->sender, (unsigned long long)m->seq);
        return;
    }
    if (cf_app_done(&nd->app, m->sender, m->seq)) {
        cf_log_line(cf, CF_LOG_EXEC, "%u request client=%u req=%llu already executed", nd->id,
                    m->sender, (unsigned long long)m->seq);
        return;
    }
    cf->ops->on_request(nd->core, m);
}

/* Decode and check as the node does (node/node.c bft_node_receive):
 * only well-formed messages with a good signature reach the core. */
static void deliver(struct cf *cf, uint32_t from, uint32_t to, const uint8_t *buf, size_t len)
{
    struct cf_node *nd = &cf->node[to];
    struct bft_msg m;
    if (bft_msg_decode(buf, len, &m) != BFT_E_OK) {
        cf_log_line(cf, CF_LOG_NET, "net %u->%u undecodable, dropped", from, to);
        return;
    }
    char prefix[32];
    snprintf(prefix, sizeof prefix, "recv %u->%u", from, to);
    cf_log_msg(cf, CF_LOG_RECV, prefix, &m);
    if (cf->filter && cf->filter(cf->filter_arg, from, to, &m)) {
        cf_log_line(cf, CF_LOG_NET, "net %u->%u %s dropped (test filter)", from, to,
                    bft_msg_type_name(m.type));
        return;
    }
    if (m.type == BFT_MSG_REQUEST) {
        cf_node_request(cf, nd, &m);
        return;
    }
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(m.raw, &region, &rlen);
    if (m.sender != from || !cf_sig_ok(cf, m.sender, m.type, region, rlen, m.sig)) {
        cf_log_line(cf, CF_LOG_NET, "net %u->%u bad signature, dropped", from, to);
        return;
    }
    cf->ops->on_message(nd->core, &m);
}

void cf_receive(struct cf *cf, uint32_t from, uint32_t to, const uint8_t *buf, size_t len)
{
    if (from < cf->opt.n && to < cf->opt.n && cf->node[to].core) deliver(cf, from, to, buf, len);
}

void cf_push(struct cf *cf, uint32_t from, uint32_t to, const uint8_t *buf, size_t len)
{
    if (from < cf->opt.n && to < cf->opt.n) cf_net_push(cf, from, to, buf, len);
}

uint32_t cf_deliver(struct cf *cf, uint32_t from, uint32_t to, uint32_t max)
{
    if (from >= cf->opt.n || to >= cf->opt.n) return 0;
    struct cf_link *l = &cf->link[from][to];
    uint32_t k = l->count < max ? l->count : max;
    for (uint32_t i = 0; i < k; i++) {
        if (!l->count) return i; /* a crash in between cleared the link */
        struct cf_pkt p = l->ring[l->head];
        l->head = (l->head + 1) % CF_LINK_MAX;
        l->count--;
        if (cf->node[to].core) deliver(cf, from, to, p.buf, p.len);
        free(p.buf);
    }
    return k;
}

uint32_t cf_deliver_round(struct cf *cf)
{
    uint32_t now[CF_MAX_NODES][CF_MAX_NODES];
    for (uint32_t i = 0; i < cf->opt.n; i++)
        for (uint32_t j = 0; j < cf->opt.n; j++)
            now[i][j] = cf->link[i][j].count;
    uint32_t k = 0;
    for (uint32_t i = 0; i < cf->opt.n; i++)
        for (uint32_t j = 0; j < cf->opt.n; j++)
            k += cf_deliver(cf, i, j, now[i][j]);
    return k;
}

static uint32_t queued_total(const struct cf *cf)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < cf->opt.n; i++)
        for (uint32_t j = 0; j < cf->opt.n; j++)
            k += cf->link[i][j].count;
    return k;
}

bool cf_stabilize(struct cf *cf)
{
    uint32_t steps = 0;
    while (queued_total(cf) > 0) {
        if (steps >= CF_STEPS_MAX) {
            cf_logf(cf, "stabilize: stopped after %u packets, %u still queued", steps,
                    queued_total(cf));
            return false;
        }
        steps += cf_deliver_round(cf);
    }
    return true;
}

uint32_t cf_drop(struct cf *cf, uint32_t from, uint32_t to)
{
    if (from >= cf->opt.n || to >= cf->opt.n) return 0;
    uint32_t k = cf->link[from][to].count;
    link_clear(&cf->link[from][to]);
    return k;
}

uint32_t cf_queued(const struct cf *cf, uint32_t from, uint32_t to)
{
    return from < cf->opt.n && to < cf->opt.n ? cf->link[from][to].count : 0;
}

void cf_partition(struct cf *cf, const uint8_t group[CF_MAX_NODES])
{
    memcpy(cf->group, group, sizeof cf->group);
    cf->partitioned = true;
    for (uint32_t i = 0; i < cf->opt.n; i++)
        for (uint32_t j = 0; j < cf->opt.n; j++)
            if (group[i] != group[j]) link_clear(&cf->link[i][j]);
}

void cf_heal(struct cf *cf)
{
    cf->partitioned = false;
}
