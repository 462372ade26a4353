/* Replies: one signed REPLY per client per executed batch, and the reply
 * cache that answers retransmissions (docs/wire.md "REPLY").
 *
 * Castro & Liskov (§4.1) send one reply per request; with envelopes the
 * replica answered once per envelope, and under load a batch carries many
 * envelopes of the same client (32 clients x 16 outstanding), so replies
 * were most of a replica's signatures (issue 14: 4.5 signatures per op).
 * Here execution only collects each envelope's results; when the batch
 * ends every client with results gets one REPLY whose ranges cover all its
 * envelopes, signed once. The client matches results per request, so how
 * the replica groups them changes nothing it accepts. */
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "node/node_internal.h"
#include "wire/bytes.h"

_Static_assert(NODE_REPLY_BODY_MAX >= BFT_REPLY_HDR_LEN + BFT_REPLY_RANGE_MAX,
               "an envelope's range always fits one reply");
_Static_assert(NODE_REPLY_BODY_MAX <= BFT_BODY_MAX, "a reply body is a message body");
_Static_assert(NODE_REPLY_PENDING_MAX >= BFT_REPLY_RANGE_MAX, "a whole envelope fits pending");

/* ---- The reply cache ---- */

static void reply_drop(struct node_client *c, struct node_reply *r)
{
    c->reply_bytes -= r->cap;
    free(r->msg);
    memset(r, 0, sizeof *r);
}

/* Keep msg as the newest reply; past NODE_REPLY_CACHE_BYTES the oldest
 * others go (ring order from next_reply is oldest first). Returns the
 * replies evicted. */
static uint32_t cache_reply(struct node_client *c, uint64_t lo, uint64_t hi, const uint8_t *msg,
                            uint32_t len)
{
    uint32_t k = c->next_reply;
    struct node_reply *r = &c->replies[k];
    if (c->filled <= k) c->filled = k + 1;
    c->next_reply = (k + 1) % NODE_REPLY_CACHE;
    /* Exact size when it grows or is far too big: the slot's last reply
     * may have been a large one. */
    if (r->cap < len || r->cap / 2 > len) {
        uint8_t *p = realloc(r->msg, len);
        if (!p) {
            reply_drop(c, r);
            return 0;
        }
        c->reply_bytes = c->reply_bytes - r->cap + len;
        r->msg = p;
        r->cap = len;
    }
    memcpy(r->msg, msg, len);
    r->len = len;
    r->lo = lo;
    r->hi = hi;
    uint32_t evicted = 0;
    for (uint32_t j = c->next_reply; c->reply_bytes > NODE_REPLY_CACHE_BYTES && j != k;
         j = (j + 1) % NODE_REPLY_CACHE) {
        if (!c->replies[j].msg) continue;
        reply_drop(c, &c->replies[j]);
        evicted++;
    }
    return evicted;
}

bool node_reply_resend(struct bft_node *n, uint32_t client, uint64_t req_no)
{
    struct node_client *c = &n->clients[client];
    for (uint32_t i = 0; i < c->filled; i++) {
        const struct node_reply *r = &c->replies[i];
        if (!r->len || req_no < r->lo || req_no >= r->hi) continue;
        /* Our own encoding: the body length is in the header. */
        size_t body_len = (size_t)wire_le_load(r->msg + 12, 4);
        if (!bft_reply_covers(r->msg + BFT_HDR_LEN, body_len, req_no)) continue;
        /* A request number is executed once, so one reply covers it. */
        node_queue_raw(n, NODE_DEST_CLIENT | client, r->msg, r->len);
        return true;
    }
    return false;
}

bool node_queue_empty_reply(struct bft_node *n, uint32_t client, uint64_t first, uint16_t count,
                            uint16_t flags, const struct bft_core_status *st)
{
    if (count == 0 || count > BFT_ENVELOPE_MAX_OPS || first > UINT64_MAX - count) return false;
    uint8_t body[BFT_REPLY_HDR_LEN + BFT_REPLY_RANGE_LEN(BFT_ENVELOPE_MAX_OPS, 0)];
    struct bft_reply_wr w;
    bft_reply_wr_init(&w, body, sizeof body, client);
    bft_reply_wr_range(&w, first);
    for (uint16_t i = 0; i < count; i++)
        bft_reply_wr_result(&w, NULL, 0);
    size_t body_len = bft_reply_wr_finish(&w);
    if (!body_len) return false;
    struct bft_msg rep = {.type = BFT_MSG_REPLY,
                          .flags = flags,
                          .view = st->view,
                          .seq = st->last_executed,
                          .body = body,
                          .body_len = (uint32_t)body_len};
    return node_queue_msg(n, &rep, false, NODE_DEST_CLIENT | client);
}

void node_reply_no_result(struct bft_node *n, uint32_t client, uint64_t first, uint16_t count)
{
    struct bft_core_status st;
    n->ops->status(n->core, &st);
    /* Raft's client takes the leader's reply alone (as in seal). */
    if (n->cfg.core.protocol == BFT_PROTO_RAFT && !st.is_leader) return;
    if (!node_queue_empty_reply(n, client, first, count, BFT_REPLY_NO_RESULT, &st)) return;
    n->stats.replies_no_result++;
    const struct node_out *o = &n->out[n->n_out - 1];
    n->stats.replies_evicted +=
        cache_reply(&n->clients[client], first, first + count, n->arena + o->off, o->len);
}

void node_reply_cache_free(struct node_client *c)
{
    for (uint32_t k = 0; k < c->filled; k++)
        free(c->replies[k].msg);
}

/* ---- Collecting a batch's results ---- */

static void seal(struct bft_node *n);

void node_replies_begin(struct bft_node *n, uint64_t seq, uint64_t view)
{
    n->rep.seq = seq;
    n->rep.view = view;
}

/* Room for `bytes` more pending result bytes (doubling, from 4 KiB). */
static bool pending_room(struct node_replies *rp, size_t bytes)
{
    const size_t max = NODE_REPLY_PENDING_MAX + BFT_REPLY_RANGE_MAX;
    size_t need = rp->len + bytes;
    if (need <= rp->cap) return true;
    if (need > max) return false;
    size_t cap = bft_grow_cap(rp->cap ? rp->cap : 4096, need, max);
    uint8_t *p = realloc(rp->buf, cap);
    if (!p) return false;
    rp->buf = p;
    rp->cap = (uint32_t)cap;
    return true;
}

void node_reply_open(struct bft_node *n, uint32_t client, uint64_t first, uint16_t count)
{
    struct node_replies *rp = &n->rep;
    size_t worst = 2 * (size_t)count + (size_t)count * BFT_RESULT_MAX;
    if (rp->len + worst > NODE_REPLY_PENDING_MAX || rp->n_part == BFT_BATCH_MAX_ENVELOPES) seal(n);
    struct node_reply_part *p = bft_grow_array(rp->part, sizeof *p, &rp->part_cap, rp->n_part + 1,
                                               64, BFT_BATCH_MAX_ENVELOPES);
    if (p) rp->part = p; /* it may have moved even if the buffer cannot grow */
    /* Out of memory: this envelope goes unanswered, as if the reply were
     * lost; its retransmission finds no cached reply either. */
    rp->open_bad = !p || !pending_room(rp, worst);
    if (rp->open_bad) return;
    p = &rp->part[rp->n_part++];
    p->client = client;
    p->first = first;
    p->count = count;
    p->off = rp->len;
    p->len = 0;
}

void node_reply_result(struct bft_node *n, const uint8_t *res, size_t len)
{
    struct node_replies *rp = &n->rep;
    if (rp->open_bad) return;
    /* node_reply_open reserved room for count results of the largest
     * size; the application's result is at most BFT_RESULT_MAX (node
     * aborts otherwise). */
    struct node_reply_part *p = &rp->part[rp->n_part - 1];
    wire_le_store(rp->buf + rp->len, len, 2);
    if (len) memcpy(rp->buf + rp->len + 2, res, len);
    rp->len += 2 + (uint32_t)len;
    p->len += 2 + (uint32_t)len;
}

/* By client, then request number: a client's ranges ascend in its reply
 * whatever order the batch had them in (docs/wire.md). */
static int part_cmp(const void *a, const void *b)
{
    const struct node_reply_part *x = a, *y = b;
    if (x->client != y->client) return x->client < y->client ? -1 : 1;
    return x->first < y->first ? -1 : x->first > y->first;
}

/* Sign, queue and cache one REPLY to `client` made of parts [from, to). */
static void emit(struct bft_node *n, uint32_t client, uint32_t from, uint32_t to, bool leader)
{
    struct node_replies *rp = &n->rep;
    struct bft_reply_wr w;
    bft_reply_wr_init(&w, rp->body, NODE_REPLY_BODY_MAX, client);
    for (uint32_t i = from; i < to; i++) {
        const struct node_reply_part *p = &rp->part[i];
        bft_reply_wr_range_encoded(&w, p->first, p->count, rp->buf + p->off, p->len);
    }
    size_t body_len = bft_reply_wr_finish(&w);
    if (!body_len) abort(); /* emit's caller sized it: our bug */
    struct bft_msg rep = {.type = BFT_MSG_REPLY,
                          .view = rp->view,
                          .seq = rp->seq,
                          .body = rp->body,
                          .body_len = (uint32_t)body_len};
    if (node_queue_msg(n, &rep, false, NODE_DEST_CLIENT | client)) {
        struct node_out *o = &n->out[n->n_out - 1];
        const struct node_reply_part *last = &rp->part[to - 1];
        n->stats.replies_evicted +=
            cache_reply(&n->clients[client], rp->part[from].first, last->first + last->count,
                        n->arena + o->off, o->len);
        /* Raft (crash-fault): the client takes one reply, from the leader;
         * the followers' replies would only be traffic. They stay cached,
         * so a follower that becomes leader answers a retry. The reply is
         * the arena's last bytes, so they go too. */
        if (!leader) {
            n->arena_len -= o->len;
            n->n_out--;
        }
    }
    for (uint32_t i = from; i < to; i++)
        node_phase_replied(n, client, rp->part[i].first);
}

/* Sign, queue and cache every client's REPLY for what is pending. */
static void seal(struct bft_node *n)
{
    struct node_replies *rp = &n->rep;
    if (rp->n_part) {
        if (!rp->body) rp->body = malloc(NODE_REPLY_BODY_MAX);
        if (!rp->body) { /* out of memory: these replies are lost */
            rp->n_part = 0;
            rp->len = 0;
            return;
        }
        bool leader = true;
        if (n->cfg.core.protocol == BFT_PROTO_RAFT) {
            struct bft_core_status st;
            n->ops->status(n->core, &st);
            leader = st.is_leader;
        }
        qsort(rp->part, rp->n_part, sizeof *rp->part, part_cmp);
        uint32_t from = 0;
        size_t size = BFT_REPLY_HDR_LEN;
        for (uint32_t i = 0; i < rp->n_part; i++) {
            const struct node_reply_part *p = &rp->part[i];
            size_t add = BFT_REPLY_RANGE_HDR_LEN + p->len;
            if (i > from &&
                (p->client != rp->part[from].client || size + add > NODE_REPLY_BODY_MAX)) {
                emit(n, rp->part[from].client, from, i, leader);
                from = i;
                size = BFT_REPLY_HDR_LEN;
            }
            size += add;
        }
        emit(n, rp->part[from].client, from, rp->n_part, leader);
    }
    rp->n_part = 0;
    rp->len = 0;
}

void node_replies_end(struct bft_node *n)
{
    struct node_replies *rp = &n->rep;
    seal(n);
    /* A batch of large results may have grown the buffer: do not keep it. */
    if (rp->cap > NODE_REPLY_KEEP) {
        free(rp->buf);
        rp->buf = NULL;
        rp->cap = 0;
    }
}

void node_replies_free(struct bft_node *n)
{
    free(n->rep.buf);
    free(n->rep.part);
    free(n->rep.body);
    memset(&n->rep, 0, sizeof n->rep);
}
