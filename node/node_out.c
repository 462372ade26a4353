/* The node's outbox: everything a step sends waits here until
 * bft_node_flush has made the step's WAL records durable (persist before you
 * promise: etcd's Ready.MustSync, docs/style.md #2). Bounded in bytes and
 * entries; when full it flushes early rather than grow past the bounds.
 * Below them the arena and the entry table grow by doubling as needed. */
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "node/node_internal.h"

static bool outbox_room(struct bft_node *n, size_t bytes, uint32_t entries)
{
    return n->arena_len + bytes <= NODE_OUTBOX_BYTES && n->n_out + entries <= NODE_OUTBOX_ENTRIES;
}

/* Grow the arena and the entry table (doubling, never past the bounds)
 * so that `bytes` and `entries` more fit; outbox_room has checked the
 * bounds. False if out of memory. */
static bool outbox_grow(struct bft_node *n, size_t bytes, uint32_t entries)
{
    size_t need = n->arena_len + bytes;
    if (need > n->arena_cap) {
        size_t cap = bft_grow_cap(n->arena_cap, need, NODE_OUTBOX_BYTES);
        uint8_t *a = realloc(n->arena, cap);
        if (!a) return false;
        n->arena = a;
        n->arena_cap = (uint32_t)cap;
    }
    uint32_t want = n->n_out + entries;
    if (want > n->out_cap) {
        uint32_t cap = (uint32_t)bft_grow_cap(n->out_cap, want, NODE_OUTBOX_ENTRIES);
        struct node_out *o = realloc(n->out, (size_t)cap * sizeof *o);
        if (!o) return false;
        n->out = o;
        n->out_cap = cap;
    }
    return true;
}

/* Reserve `bytes` in the arena for `entries` destinations; flushes first if
 * the bounds are reached. Returns NULL if the item can never fit, or if
 * the outbox cannot grow (out of memory: the message is dropped, as a
 * lossy network would). */
static uint8_t *outbox_reserve(struct bft_node *n, size_t bytes, uint32_t entries)
{
    if (bytes > NODE_OUTBOX_BYTES || entries > NODE_OUTBOX_ENTRIES) return NULL;
    if (!outbox_room(n, bytes, entries)) bft_node_flush(n);
    if (!outbox_grow(n, bytes, entries)) return NULL;
    uint8_t *p = n->arena + n->arena_len;
    return p;
}

static void outbox_push(struct bft_node *n, uint32_t dest, uint32_t off, uint32_t len)
{
    if (dest & NODE_DEST_AHEAD) n->n_ahead++;
    struct node_out *o = &n->out[n->n_out++];
    o->dest = dest;
    o->off = off;
    o->len = len;
}

bool node_queue_raw(struct bft_node *n, uint32_t dest, const uint8_t *buf, size_t len)
{
    uint8_t *p = outbox_reserve(n, len, 1);
    if (!p) return false;
    memcpy(p, buf, len);
    uint32_t off = n->arena_len;
    n->arena_len += (uint32_t)len;
    outbox_push(n, dest, off, (uint32_t)len);
    return true;
}

bool node_queue_msg(struct bft_node *n, const struct bft_msg *m, bool broadcast, uint32_t dest)
{
    uint32_t entries = broadcast ? n->cfg.core.n - 1 : 1;
    if (m->type == BFT_MSG_REQUEST) {
        /* Forwarding a client request keeps the client's signature. */
        if (broadcast) {
            for (uint32_t i = 0; i < n->cfg.core.n; i++)
                if (i != n->cfg.core.self) node_queue_raw(n, i, m->raw, m->raw_len);
            return true;
        }
        return node_queue_raw(n, dest, m->raw, m->raw_len);
    }
    struct bft_msg out = *m;
    out.sender = n->cfg.core.self;
    out.cluster_id = n->cfg.core.cluster_id;
    size_t len = bft_msg_encoded_len(&out);
    /* An unencodable message we are about to send is our bug, not input. */
    if (len > NODE_OUTBOX_BYTES || entries > NODE_OUTBOX_ENTRIES) abort();
    uint8_t *p = outbox_reserve(n, len, entries);
    if (!p) return false; /* out of memory: dropped */
    size_t got = bft_msg_encode(&out, p, len);
    if (got != len) abort();
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(p, &region, &rlen);
    uint8_t sig[BFT_SIG_LEN];
    if (n->cfg.core.protocol == BFT_PROTO_RAFT && !n->cfg.sign_replica_msgs)
        memset(sig, 0, sizeof sig); /* crash-fault model: unsigned */
    else
        node_sign(n, m->type, region, rlen, sig);
    bft_msg_set_sig(p, sig);
    uint32_t off = n->arena_len;
    n->arena_len += (uint32_t)len;
    if (broadcast) {
        for (uint32_t i = 0; i < n->cfg.core.n; i++)
            if (i != n->cfg.core.self) outbox_push(n, i, off, (uint32_t)len);
    } else {
        outbox_push(n, dest, off, (uint32_t)len);
    }
    node_phase_queued(n, &out);
    return true;
}

static void send_one(struct bft_node *n, const struct node_out *o)
{
    const uint8_t *p = n->arena + o->off;
    if (o->dest & NODE_DEST_CLIENT) {
        if (n->host.send_client)
            n->host.send_client(n->host.ctx, o->dest & ~NODE_DEST_CLIENT, p, o->len);
    } else {
        n->host.send(n->host.ctx, o->dest & ~NODE_DEST_AHEAD, p, o->len);
    }
    n->stats.msgs_sent++;
    n->stats.bytes_sent += o->len;
}

void bft_node_flush(struct bft_node *n)
{
    /* The snapshot a core took during the step: every core copies it
     * before returning (core.h io->snapshot), so holding ours until the
     * next one would only keep a second copy of the whole state alive
     * (issue 14). */
    free(n->snap);
    n->snap = NULL;
    n->snap_len = 0;
    if (n->n_out == 0 && !n->dirty) return;
    bool ok = true;
    /* Sends that need not wait for the disk leave first and travel while
     * it works (bft_io.send_ahead); only worth it if there is a sync. */
    bool ahead = n->dirty && n->host.sync && n->n_ahead > 0;
    if (ahead) {
        node_stage_in(n, BFT_STAGE_SEND);
        for (uint32_t i = 0; i < n->n_out; i++)
            if (n->out[i].dest & NODE_DEST_AHEAD) send_one(n, &n->out[i]);
        if (n->host.push) n->host.push(n->host.ctx);
        node_stage_out(n);
    }
    if (n->dirty && n->host.sync) {
        node_stage_in(n, BFT_STAGE_FSYNC);
        ok = n->host.sync(n->host.ctx) == 0;
        node_stage_out(n);
    }
    n->dirty = false;
    node_stage_in(n, BFT_STAGE_SEND);
    for (uint32_t i = 0; ok && i < n->n_out; i++)
        if (!ahead || !(n->out[i].dest & NODE_DEST_AHEAD)) send_one(n, &n->out[i]);
    /* A burst (a primary answering 128 clients in one step) may have grown
     * the arena towards NODE_OUTBOX_BYTES: once a step uses less than a
     * quarter of it, shrink it back and regrow on demand (issue 14). */
    if (n->arena_cap > NODE_OUTBOX_KEEP && n->arena_len < n->arena_cap / 4) {
        uint8_t *a = realloc(n->arena, NODE_OUTBOX_BYTES_INIT);
        if (a) {
            n->arena = a;
            n->arena_cap = NODE_OUTBOX_BYTES_INIT;
        }
    }
    n->n_out = 0;
    n->n_ahead = 0;
    n->arena_len = 0;
    node_stage_out(n);
    if (ok) node_phase_flushed(n);
}
