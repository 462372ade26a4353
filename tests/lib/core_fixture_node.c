/* tests/lib/core_fixture_node.c: what happens to one node of the core
 * fixture: client requests, timers and the virtual clock, crash and
 * restart from the WAL, status. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/core_fixture_internal.h"

/* ---- client requests ---- */

/* One envelope of `ops` operations, signed with the client's key. Each
 * operation names its (client, request number), so batches differ. */
static uint8_t *build_request(uint32_t client, uint64_t first, uint32_t ops, bool readonly,
                              size_t *len)
{
    uint8_t body[4 + CF_OPS_MAX * (2 + 8)];
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    wire_put_u16(&w, (uint16_t)ops);
    wire_put_u8(&w, readonly ? BFT_REQ_READONLY : 0);
    wire_put_u8(&w, 0);
    for (uint32_t i = 0; i < ops; i++) {
        wire_put_u16(&w, 8);
        wire_put_u64(&w, ((uint64_t)client << 32) | (first + i));
    }
    struct bft_msg m = {.type = BFT_MSG_REQUEST,
                        .sender = client,
                        .cluster_id = CF_CLUSTER,
                        .seq = first,
                        .body = body,
                        .body_len = (uint32_t)w.len};
    *len = bft_msg_encoded_len(&m);
    uint8_t *buf = malloc(*len);
    if (!buf || w.err || bft_msg_encode(&m, buf, *len) != *len) {
        free(buf);
        return NULL;
    }
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(buf, &region, &rlen);
    uint8_t sig[BFT_SIG_LEN];
    cf_sig(CF_CLIENT_KEY + client, BFT_MSG_REQUEST, region, rlen, sig);
    bft_msg_set_sig(buf, sig);
    return buf;
}

/* Build the envelope and hand it to the nodes in to_mask. */
static uint64_t send_request(struct cf *cf, uint32_t client, uint64_t first, uint32_t ops,
                             uint32_t to_mask, bool readonly)
{
    size_t len;
    uint8_t *buf = build_request(client, first, ops, readonly, &len);
    if (!buf) {
        cf_logf(cf, "request: out of memory");
        return 0;
    }
    struct bft_msg m;
    if (bft_msg_decode(buf, len, &m) != BFT_E_OK) {
        cf_logf(cf, "request: the fixture built an undecodable REQUEST");
        first = 0;
    } else {
        for (uint32_t i = 0; i < cf->opt.n; i++)
            if ((to_mask & (1u << i)) && cf->node[i].core) cf_node_request(cf, &cf->node[i], &m);
    }
    free(buf);
    return first;
}

uint64_t cf_request(struct cf *cf, uint32_t client, uint32_t ops, uint32_t to_mask, bool readonly)
{
    if (client >= CF_MAX_CLIENTS || ops < 1 || ops > CF_OPS_MAX ||
        cf->next_req[client] + ops > CF_REQS_MAX) {
        cf_logf(cf, "request: client %u ops %u out of bounds (clients < %u, ops 1..%u)", client,
                ops, CF_MAX_CLIENTS, CF_OPS_MAX);
        return 0;
    }
    uint64_t first = cf->next_req[client];
    cf->next_req[client] += ops;
    cf->last[client] = (struct cf_last_req){first, ops, readonly};
    return send_request(cf, client, first, ops, to_mask, readonly);
}

uint64_t cf_resend(struct cf *cf, uint32_t client, uint32_t to_mask)
{
    if (client >= CF_MAX_CLIENTS || cf->last[client].first == 0) {
        cf_logf(cf, "resend: client %u sent no request yet", client);
        return 0;
    }
    const struct cf_last_req *l = &cf->last[client];
    return send_request(cf, client, l->first, l->ops, to_mask, l->readonly);
}

/* ---- timers ---- */

static void fire(struct cf *cf, uint32_t id, uint32_t timer)
{
    struct cf_node *nd = &cf->node[id];
    nd->armed[timer] = false;
    char name[24];
    cf_log_line(cf, CF_LOG_TIMER, "%u timer %s fired", id,
                cf_timer_name(cf, timer, name, sizeof name));
    cf->ops->on_timer(nd->core, timer);
}

bool cf_fire(struct cf *cf, uint32_t id, uint32_t timer)
{
    if (id >= cf->opt.n || timer >= CF_TIMERS || !cf->node[id].core || !cf->node[id].armed[timer])
        return false;
    fire(cf, id, timer);
    return true;
}

bool cf_timer_armed(const struct cf *cf, uint32_t id, uint32_t timer)
{
    return id < cf->opt.n && timer < CF_TIMERS && cf->node[id].core && cf->node[id].armed[timer];
}

/* Timers fired by one advance, at most: a core that re-arms a zero-delay
 * timer forever would otherwise never let the test end. */
#define CF_FIRES_MAX 10000

static void advance(struct cf *cf, uint64_t ms, bool settle)
{
    uint64_t target = cf->now_ms + ms;
    for (uint32_t fires = 0;; fires++) {
        uint32_t best_id = 0, best_t = 0;
        bool found = false;
        for (uint32_t i = 0; i < cf->opt.n; i++) {
            const struct cf_node *nd = &cf->node[i];
            if (!nd->core) continue;
            for (uint32_t t = 0; t < CF_TIMERS; t++) {
                if (!nd->armed[t] || nd->deadline_ms[t] > target) continue;
                if (found && nd->deadline_ms[t] >= cf->node[best_id].deadline_ms[best_t]) continue;
                best_id = i, best_t = t, found = true;
            }
        }
        if (!found) break;
        if (fires == CF_FIRES_MAX) {
            cf_logf(cf, "advance: stopped after %u timers", fires);
            break;
        }
        uint64_t at = cf->node[best_id].deadline_ms[best_t];
        if (at > cf->now_ms) cf->now_ms = at;
        fire(cf, best_id, best_t);
        if (settle) cf_stabilize(cf);
    }
    cf->now_ms = target;
}

void cf_advance(struct cf *cf, uint64_t ms)
{
    advance(cf, ms, false);
}

void cf_run(struct cf *cf, uint64_t ms)
{
    cf_stabilize(cf);
    advance(cf, ms, true);
}

/* ---- crash and restart ---- */

int cf_lose_snapshot(struct cf *cf, uint32_t id, uint64_t seq)
{
    if (id >= cf->opt.n) return BFT_E_INVALID;
    for (uint32_t i = 0; i < CF_DISK_SNAPS; i++) {
        struct cf_snapfile *f = &cf->node[id].disk[i];
        if (!f->used || f->seq != seq) continue;
        memset(f, 0, sizeof *f);
        return BFT_E_OK;
    }
    return BFT_E_NOTFOUND;
}

int cf_crash(struct cf *cf, uint32_t id)
{
    if (id >= cf->opt.n || !cf->node[id].core) return BFT_E_INVALID;
    struct cf_node *nd = &cf->node[id];
    cf->ops->destroy(nd->core);
    nd->core = NULL;
    memset(nd->armed, 0, sizeof nd->armed);
    memset(&nd->app, 0, sizeof nd->app); /* the application's memory is gone */
    /* Its connections close: nothing in flight to or from it arrives. */
    for (uint32_t j = 0; j < cf->opt.n; j++) {
        cf_drop(cf, id, j);
        cf_drop(cf, j, id);
    }
    return BFT_E_OK;
}

int cf_restart(struct cf *cf, uint32_t id)
{
    if (id >= cf->opt.n || cf->node[id].core) return BFT_E_INVALID;
    struct cf_node *nd = &cf->node[id];
    /* A node that cannot come back (core create failed) stays down. */
    int rv = cf_node_start(cf, id);
    if (rv != BFT_E_OK) return rv;
    /* Replay only what was there at the crash: the core may append while
     * it recovers (as sim/replica.c does). */
    uint32_t n_at_crash = nd->n_wal;
    if (cf->ops->recover)
        for (uint32_t r = 0; r < n_at_crash; r++)
            cf->ops->recover(nd->core, nd->wal[r].p, nd->wal[r].len);
    return BFT_E_OK;
}

bool cf_is_down(const struct cf *cf, uint32_t id)
{
    return id >= cf->opt.n || !cf->node[id].core;
}

/* ---- status ---- */

bool cf_status(const struct cf *cf, uint32_t id, struct bft_core_status *st)
{
    if (cf_is_down(cf, id)) return false;
    cf->ops->status(cf->node[id].core, st);
    return true;
}

void cf_state_hex(const struct cf *cf, uint32_t id, char out[9])
{
    cf_short_digest(&cf->node[id].app.state, out);
}
