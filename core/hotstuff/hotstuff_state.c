/* State transfer, for a replica further behind than the block history the
 * others keep (or restarted with an empty application): it asks everyone
 * (STATE_REQ) and restores a snapshot once f+1 replicas, so at least one
 * honest, claim the same (seq, state digest, committed block). Replicas
 * record such a claim at every checkpoint seq (a multiple of
 * checkpoint_interval) and take a snapshot only when asked: at the next
 * checkpoint, or at once if nothing executed since the last request (an
 * idle cluster reaches no checkpoint, but then all honest replicas sit at
 * the same seq). After the restore the committed block becomes the root of
 * the block tree and block sync fetches what lies above it. PBFT's state
 * transfer (OSDI'99 §4.3) proves the digest with 2f+1 checkpoint messages;
 * here f+1 matching signed responses are the proof.
 *
 * A snapshot travels in chunks of HS_STATE_CHUNK bytes (Castro-Liskov
 * TOCS'02 §6.2 fetch the state in pieces too): every response carries the
 * first chunk, and once an offer has f+1 support the asker fetches the rest
 * from that one replica, chunk by chunk (STATE_REQ with the snapshot seq
 * and the offset it needs). io->restore checks the assembled bytes against
 * the claimed state digest, so a liar's chunks only cost a retry with
 * another replica. Before chunks, the orders state outgrew one message
 * (BFT_PAYLOAD_MAX) after ~12,800 orders and a replica restarted after a
 * few seconds down could never catch up again. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "core/hotstuff/hotstuff_internal.h"

static void send_req(struct bft_core *c)
{
    struct hs_state_req q = {.last_exec = c->root_height};
    struct bft_msg m;
    bool ok = hs_state_req_encode(&q, c->view, NULL, 0, &m);
    assert(ok); /* no body: always fits */
    (void)ok;
    c->io.broadcast(c->io.ctx, &m);
}

/* Ask the replica we assemble from for the next chunk. */
static void send_chunk_req(struct bft_core *c)
{
    struct hs_assembly *a = &c->st.assembly;
    uint8_t body[HS_STATE_CHUNK_REQ_LEN];
    struct hs_state_req q = {
        .last_exec = c->root_height, .chunk = true, .snap_seq = a->claim.seq, .off = a->len};
    struct bft_msg m;
    bool ok = hs_state_req_encode(&q, c->view, body, sizeof body, &m);
    assert(ok); /* body is HS_STATE_CHUNK_REQ_LEN */
    (void)ok;
    c->io.send(c->io.ctx, a->src, &m);
}

static void asm_stop(struct bft_core *c)
{
    c->st.assembly.on = false;
    c->st.assembly.len = 0;
}

/* Append bytes at the assembly's end; false if they do not fit. */
static bool asm_append(struct hs_assembly *a, const uint8_t *p, uint32_t len)
{
    if (len > a->total - a->len) return false;
    if (a->len + len > a->cap) {
        size_t cap = bft_grow_cap(a->cap ? a->cap : HS_STATE_CHUNK, (size_t)a->len + len, a->total);
        uint8_t *b = realloc(a->buf, cap);
        if (!b) return false;
        a->buf = b;
        a->cap = (uint32_t)cap;
    }
    if (len) memcpy(a->buf + a->len, p, len);
    a->len += len;
    return true;
}

static void clear_offers(struct bft_core *c)
{
    for (uint32_t i = 0; i < BFT_MAX_REPLICAS; i++) {
        struct hs_offer *o = &c->st.offers[i];
        o->nclaims = 0;
        memset(&o->snap, 0, sizeof o->snap);
        o->snap_len = 0;
    }
}

void hs_state_start(struct bft_core *c)
{
    if (c->st.active) return;
    c->st.active = true;
    clear_offers(c);
    asm_stop(c);
    send_req(c);
    bft_timeout_start(&c->st.timer, &c->io, c->cfg.request_timeout_ms);
}

void hs_on_state_timer(struct bft_core *c)
{
    bft_timeout_fired(&c->st.timer);
    if (!c->st.active) return;
    struct hs_assembly *a = &c->st.assembly;
    if (a->on && a->progress) {
        /* Still coming: ask again in case a chunk or request was lost. */
        a->progress = false;
        send_chunk_req(c);
    } else {
        if (a->on) {
            /* The source went quiet: drop its offer, ask everyone again. */
            c->st.offers[a->src].snap.seq = 0;
            asm_stop(c);
        }
        send_req(c);
    }
    bft_timeout_restart(&c->st.timer, &c->io, c->cfg.request_timeout_ms);
}

void hs_state_free(struct bft_core *c)
{
    for (uint32_t i = 0; i < BFT_MAX_REPLICAS; i++)
        free(c->st.offers[i].snap_buf);
    free(c->st.snap_buf);
    free(c->st.assembly.buf);
}

static void add_claim(struct bft_core *c, uint64_t seq, const bft_digest *block,
                      const bft_digest *state)
{
    uint32_t last = (c->st.claims_next + HS_CLAIMS - 1) % HS_CLAIMS;
    if (c->st.claims[last].seq == seq) return;
    struct hs_claim *k = &c->st.claims[c->st.claims_next++ % HS_CLAIMS];
    k->seq = seq;
    k->block = *block;
    k->state = *state;
}

static void send_resp(struct bft_core *c, uint32_t to, uint64_t above, uint32_t off);

static void take_snapshot(struct bft_core *c, uint64_t seq, const bft_digest *block,
                          const bft_digest *state)
{
    const uint8_t *buf;
    uint8_t *own = NULL;
    size_t len;
    /* The node's buffer itself when it hands it over (io->snapshot_take:
     * no second copy of the state), else a copy. */
    int rv = c->io.snapshot_take ? c->io.snapshot_take(c->io.ctx, &own, &len)
                                 : c->io.snapshot(c->io.ctx, &buf, &len);
    if (rv != BFT_E_OK) return;
    if (c->io.snapshot_take) buf = own;
    if (len > HS_SNAP_MAX) {
        free(own);
        return;
    }
    if (own) {
        free(c->st.snap_buf);
        c->st.snap_buf = own;
        c->st.snap_cap = (uint32_t)len;
    } else if (len > c->st.snap_cap) {
        uint8_t *p = realloc(c->st.snap_buf, len);
        if (!p) return;
        c->st.snap_buf = p;
        c->st.snap_cap = (uint32_t)len;
    }
    if (len && !own) memcpy(c->st.snap_buf, buf, len);
    c->st.snap_len = len;
    c->st.snap.seq = seq;
    c->st.snap.block = *block;
    c->st.snap.state = *state;
    c->st.snap_wanted = false;
    add_claim(c, seq, block, state);
    /* Offer it now to those who asked for it, rather than at their next
     * retry a timeout later. */
    uint32_t askers = c->st.snap_askers;
    c->st.snap_askers = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if ((askers >> i & 1) && seq > c->st.snap_ask_seq[i])
            send_resp(c, i, c->st.snap_ask_seq[i], 0);
}

void hs_state_executed(struct bft_core *c, uint64_t seq, const bft_digest *block,
                       const bft_digest *state)
{
    c->last_state = *state;
    if (seq % c->cfg.checkpoint_interval != 0) return;
    add_claim(c, seq, block, state);
    /* The application is at seq now: the host may keep it on disk. */
    if (c->io.checkpoint) c->io.checkpoint(c->io.ctx, seq, state, NULL, 0);
    if (c->st.snap_wanted) take_snapshot(c, seq, block, state);
}

/* Our recent claims and, if newer than `above`, our snapshot's chunk at
 * `off`. */
static void send_resp(struct bft_core *c, uint32_t to, uint64_t above, uint32_t off)
{
    bool with = c->st.snap.seq > above && off <= c->st.snap_len;
    uint8_t *body = hs_body(c, HS_STATE_RESP_BODY_MAX);
    if (!body) return; /* out of memory: as if lost; the asker retries */
    struct hs_state_resp r = {0};
    for (uint32_t i = 0; i < HS_CLAIMS; i++)
        if (c->st.claims[i].seq != 0) r.claims[r.nclaims++] = c->st.claims[i];
    if (with) {
        r.snap = c->st.snap;
        r.total = (uint32_t)c->st.snap_len;
        r.off = off;
        uint32_t len = r.total - off;
        r.chunk_len = len > HS_STATE_CHUNK ? HS_STATE_CHUNK : len;
        r.chunk = r.chunk_len ? c->st.snap_buf + off : NULL;
    }
    struct bft_msg m;
    if (!hs_state_resp_encode(&r, c->view, body, c->body.cap, &m)) return;
    c->io.send(c->io.ctx, to, &m);
}

void hs_on_state_req(struct bft_core *c, uint32_t from, const struct hs_state_req *q)
{
    if (c->root_height <= q->last_exec || c->st.exec_blocked) return; /* nothing newer to give */
    /* A snapshot costs a whole copy of the state: rate-limited per peer. */
    if (c->sync.budget[from] < HS_SYNC_BATCH) {
        hs_reject(c, BFT_REJECT_OVERLOAD);
        return;
    }
    c->sync.budget[from] -= HS_SYNC_BATCH;
    if (q->chunk) {
        /* The next chunk of a snapshot we offered. If we replaced it since,
         * the first chunk of the new one tells the asker to start over. */
        bool same = q->snap_seq == c->st.snap.seq && q->off < c->st.snap_len;
        send_resp(c, from, q->last_exec, same ? q->off : 0);
        return;
    }
    /* Want a snapshot if ours is behind our root: taken at the next
     * checkpoint, which the replicas asked at the same time share; or now,
     * if nothing executed since the last request (idle: no checkpoint
     * comes, all honest replicas sit at one seq, and their snapshots must
     * be of that seq: one left at an earlier idle seq matches nobody's). */
    if (c->st.snap.seq < c->root_height) {
        if (!c->st.snap_wanted || c->st.snap_wanted_at != c->root_height) {
            /* (Re)start the idle clock: a wish from an older root that no
             * checkpoint fulfilled must not block the idle snapshot. */
            c->st.snap_wanted = true;
            c->st.snap_wanted_at = c->root_height;
        } else {
            /* Idle since the last request. */
            take_snapshot(c, c->root_height, &c->root, &c->last_state);
        }
        if (c->st.snap_wanted) {
            c->st.snap_askers |= 1u << from;
            c->st.snap_ask_seq[from] = q->last_exec;
        }
    }
    send_resp(c, from, q->last_exec, 0);
}

static bool claim_eq(const struct hs_claim *a, const struct hs_claim *b)
{
    return a->seq == b->seq && hs_deq(&a->state, &b->state) && hs_deq(&a->block, &b->block);
}

static bool claimed(const struct hs_offer *o, const struct hs_claim *k)
{
    if (o->snap.seq && claim_eq(&o->snap, k)) return true;
    for (uint32_t i = 0; i < o->nclaims; i++)
        if (claim_eq(&o->claims[i], k)) return true;
    return false;
}

static void restored(struct bft_core *c, const struct hs_claim *k, const bft_digest *state)
{
    c->st.exec_blocked = false;
    c->root = k->block;
    c->root_height = k->seq;
    c->root_view = 0;
    c->last_state = *state;
    c->st.active = false;
    bft_timeout_stop(&c->st.timer, &c->io);
    clear_offers(c);
    asm_stop(c);
    add_claim(c, k->seq, &k->block, state);
    /* Requests executed inside the state would stay pending forever;
     * clients retransmit what is still outstanding. */
    hs_pending_clear(&c->pend);
    hs_store_reconnect(c);
    hs_sync_resume(c);
}

/* The assembly is complete: restore it if it is the state f+1 claimed. */
static void finish(struct bft_core *c)
{
    struct hs_assembly *a = &c->st.assembly;
    struct hs_claim k = a->claim;
    /* Block sync goes on while the chunks come in, and its commits may
     * have taken us to the snapshot or past it: restoring it then moved
     * the state back and the blocks above it executed a second time
     * (exactly-once; test_hotstuff_state_restore_never_moves_back in
     * tests/sim/test_sim_regressions.c). Drop it; if we are still behind,
     * the state timer asks for a newer one. */
    if (k.seq <= c->root_height) {
        asm_stop(c);
        return;
    }
    /* Room for its WAL records before the state is replaced, so a
     * restored snapshot is always logged. Out of memory: drop the
     * assembly; the state timer asks again. */
    if (!hs_snapshot_rec_room(c, a->len)) {
        asm_stop(c);
        hs_reject(c, BFT_REJECT_OVERLOAD);
        return;
    }
    bft_digest state = {{0}};
    int rv = c->io.restore(c->io.ctx, k.seq, a->len ? a->buf : NULL, a->len, &k.state, &state);
    if (rv == BFT_E_OK && hs_deq(&state, &k.state)) {
        hs_persist_snapshot(c, &k, a->buf, a->len);
        if (c->io.checkpoint) c->io.checkpoint(c->io.ctx, k.seq, &state, a->buf, a->len);
        restored(c, &k, &state);
        return;
    }
    /* A lying snapshot: the node refused it and our state is as it was.
     * Drop the offer and wait for another. */
    c->st.offers[a->src].snap.seq = 0;
    asm_stop(c);
    hs_reject(c, BFT_REJECT_MALFORMED);
}

static void try_restore(struct bft_core *c)
{
    if (c->st.assembly.on) return;
    for (uint32_t j = 0; j < c->n; j++) {
        struct hs_offer *o = &c->st.offers[j];
        if (o->snap.seq <= c->root_height) continue;
        uint32_t support = 0;
        for (uint32_t i = 0; i < c->n; i++)
            support += claimed(&c->st.offers[i], &o->snap);
        if (support < c->f + 1) continue;
        /* Assemble it from j, starting with the chunk it sent. */
        struct hs_assembly *a = &c->st.assembly;
        a->on = true;
        a->progress = true;
        a->src = j;
        a->claim = o->snap;
        a->total = o->snap_total;
        a->len = 0;
        if (!asm_append(a, o->snap_buf, o->snap_len)) {
            o->snap.seq = 0;
            asm_stop(c);
            continue;
        }
        if (a->len == a->total)
            finish(c);
        else
            send_chunk_req(c);
        return;
    }
}

/* A later chunk of the snapshot we assemble: only the one we asked our
 * source for. */
static void on_chunk(struct bft_core *c, uint32_t from, const struct hs_state_resp *r)
{
    struct hs_assembly *a = &c->st.assembly;
    if (!a->on || from != a->src || r->snap.seq != a->claim.seq || r->total != a->total ||
        !hs_deq(&r->snap.state, &a->claim.state) || !hs_deq(&r->snap.block, &a->claim.block)) {
        hs_reject(c, BFT_REJECT_OUT_OF_WINDOW);
        return;
    }
    if (r->off != a->len) {
        hs_reject(c, BFT_REJECT_DUPLICATE); /* a resend crossed the answer */
        return;
    }
    if (!asm_append(a, r->chunk, r->chunk_len)) {
        hs_reject(c, BFT_REJECT_OVERLOAD);
        return;
    }
    a->progress = true;
    if (a->len == a->total)
        finish(c);
    else
        send_chunk_req(c);
}

/* An offer (claims and the first chunk). From our source, a new snapshot
 * replaces the one we were assembling. */
static void on_offer(struct bft_core *c, uint32_t from, const struct hs_state_resp *r)
{
    struct hs_assembly *a = &c->st.assembly;
    if (a->on && from == a->src) asm_stop(c);
    struct hs_offer *o = &c->st.offers[from];
    o->nclaims = r->nclaims;
    memcpy(o->claims, r->claims, r->nclaims * sizeof(r->claims[0]));
    if (r->snap.seq > c->root_height) {
        if (r->chunk_len > o->snap_cap) {
            uint8_t *p = realloc(o->snap_buf, r->chunk_len);
            if (!p) return; /* out of memory: the offer is dropped, as if lost */
            o->snap_buf = p;
            o->snap_cap = r->chunk_len;
        }
        if (r->chunk_len) memcpy(o->snap_buf, r->chunk, r->chunk_len);
        o->snap_len = r->chunk_len;
        o->snap_total = r->total;
        o->snap = r->snap;
    }
    try_restore(c);
}

void hs_on_state_resp(struct bft_core *c, uint32_t from, const struct hs_state_resp *r)
{
    if (!c->st.active) {
        hs_reject(c, BFT_REJECT_DUPLICATE);
        return;
    }
    if (r->off > 0)
        on_chunk(c, from, r);
    else
        on_offer(c, from, r);
}
