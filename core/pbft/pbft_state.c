/* State transfer (Castro & Liskov OSDI'99 §4.3 "a replica ... may need to
 * fetch state", TOCS'02 §6.2, simplified to one snapshot per checkpoint
 * instead of a partition tree): a replica that learns of a stable
 * checkpoint it has not reached asks the other replicas, one at a time, for
 * their snapshot at that checkpoint or later. The snapshot travels in
 * chunks (it can outgrow one message) from one peer; the first chunk
 * carries the 2f+1 CHECKPOINT messages that prove the state digest, every
 * chunk the snapshot's length and SHA-256, and the restored state must hash
 * to the certified digest. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/pbft/pbft_internal.h"

/* Ask for the first chunk of a snapshot at st_seq or later. Rotate over
 * every other replica, not only the certifiers: any replica whose stable
 * checkpoint is at or above st_seq holds a servable snapshot (one that
 * restored its state by transfer too), and a certifier may have crashed
 * and lost its copy since. */
static void send_state_req(struct bft_core *c)
{
    for (uint32_t k = 0; k < c->n; k++) {
        uint32_t to = (c->st.peer + k) % c->n;
        if (to == c->self) continue;
        c->st.peer = to + 1;
        PTRACE(c, "state req %llu to %u", (unsigned long long)c->st.seq, to);
        struct bft_msg m = {.type = BFT_MSG_STATE_REQ, .view = c->view, .seq = c->st.seq};
        c->io.send(c->io.ctx, to, &m);
        return;
    }
}

/* Ask the peer serving the snapshot being assembled for its next chunk. */
static void send_chunk_req(struct bft_core *c)
{
    uint8_t body[PBFT_SREQ_MAX];
    struct pbft_state_req q = {.kind = PBFT_SREQ_CHUNK, .offset = (uint32_t)c->xfer.off};
    struct bft_msg m = {.type = BFT_MSG_STATE_REQ, .view = c->view, .seq = c->xfer.seq};
    m.body = body;
    m.body_len = (uint32_t)pbft_state_req_encode(&q, body);
    c->io.send(c->io.ctx, c->xfer.from, &m);
}

static void arm_state_timer(struct bft_core *c)
{
    bft_timeout_start(&c->st.timer, &c->io, 2 * c->retransmit_ms);
}

void pbft_state_note(struct bft_core *c, uint64_t seq, const bft_digest *d,
                     const struct pbft_raw *proof, uint32_t mask, bool urgent)
{
    if (seq <= c->last_exec) return;
    PTRACE(c, "state note %llu urgent %d active %d", (unsigned long long)seq, urgent, c->st.active);
    if (!c->st.active || seq > c->st.seq) {
        c->st.active = true;
        c->st.seq = seq;
        c->st.digest = *d;
        c->st.mask = mask;
        for (uint32_t i = 0; i < c->n; i++)
            c->st.proof[i] = proof[i];
    }
    if (urgent) {
        pbft_make_stable(c, c->st.seq, &c->st.digest, c->st.proof, c->st.mask, true);
        /* A transfer under way goes on (its peer restarts it on a newer
         * snapshot if it dropped the old one); the state timer covers a
         * peer that went quiet. */
        if (!c->xfer.active) send_state_req(c);
    }
    arm_state_timer(c);
}

void pbft_on_state_timer(struct bft_core *c)
{
    bft_timeout_fired(&c->st.timer);
    if (!c->st.active || c->last_exec >= c->st.seq) {
        c->st.active = false;
        c->xfer.active = false;
        return;
    }
    /* Still behind after a grace period: give up on the log below the
     * certified checkpoint and fetch the state. */
    if (c->st.seq > c->h)
        pbft_make_stable(c, c->st.seq, &c->st.digest, c->st.proof, c->st.mask, true);
    /* Restored below h (or just behind it): pull the kept log of the
     * others from what we executed (pbft_kept.c). */
    if (c->last_exec < c->h) pbft_fetch_request(c, -1, 1);
    if (c->xfer.active && c->xfer.stall++ < 3) {
        send_chunk_req(c); /* a chunk or its request was lost */
    } else {
        c->xfer.active = false; /* the serving peer went quiet: ask another */
        send_state_req(c);
    }
    arm_state_timer(c);
}

/* The application snapshot into `next` (taken at checkpoint seq): the
 * node's buffer itself when it hands it over (io->snapshot_take), else a
 * copy. */
static bool take_snapshot(struct bft_core *c, uint64_t seq, const bft_digest *state)
{
    const uint8_t *buf;
    uint8_t *own = NULL;
    size_t len;
    if (c->snap.too_big) return false;
    int rv = c->io.snapshot_take ? c->io.snapshot_take(c->io.ctx, &own, &len)
                                 : c->io.snapshot(c->io.ctx, &buf, &len);
    if (rv != BFT_E_OK) return false;
    if (c->io.snapshot_take) buf = own;
    if (len > PBFT_SNAP_MAX) {
        /* More than a transfer may assemble (above every application's
         * largest state): stop trying (counted). */
        free(own);
        c->snap.too_big = true;
        c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
        return false;
    }
    if (own) {
        free(c->snap.next_buf);
        c->snap.next_buf = own;
        c->snap.next_cap = len;
    } else if (len > c->snap.next_cap) {
        uint8_t *p = realloc(c->snap.next_buf, len);
        if (!p) return false;
        c->snap.next_buf = p;
        c->snap.next_cap = len;
    }
    if (len && !own) memcpy(c->snap.next_buf, buf, len);
    c->snap.next_len = len;
    c->snap.next_seq = seq;
    c->snap.next_digest = *state;
    crypto_sha256(c->snap.next_buf, len, c->snap.next_sha.b);
    c->snap.taken++;
    return true;
}

void pbft_state_on_stable(struct bft_core *c, uint64_t seq, const bft_digest *d,
                          const struct pbft_raw *proof, uint32_t mask)
{
    if (!c->snap.next_buf || c->snap.next_seq != seq || !pbft_deq(&c->snap.next_digest, d)) return;
    /* The pending snapshot is certified now: promote it. The one it
     * replaces is freed, not kept as the next one's buffer: a spare copy
     * of the whole state between snapshots is what issue 14 found holding
     * most of a saturated replica's memory. */
    free(c->snap.buf);
    c->snap.buf = c->snap.next_buf;
    c->snap.cap = c->snap.next_cap;
    c->snap.len = c->snap.next_len;
    c->snap.seq = seq;
    c->snap.digest = *d;
    c->snap.sha = c->snap.next_sha;
    c->snap.mask = mask;
    for (uint32_t i = 0; i < c->n; i++)
        if (mask & (1u << i)) c->snap.proof[i] = proof[i];
    c->snap.next_buf = NULL;
    c->snap.next_cap = 0;
    c->snap.next_len = 0;
    c->snap.next_seq = 0;
    pbft_kept_reset(c); /* the log it replaces */
    /* A certified state: the host may keep it on disk (docs/storage.md). */
    if (c->io.checkpoint) c->io.checkpoint(c->io.ctx, seq, d, c->snap.buf, c->snap.len);
}

/* The log since our served snapshot if we took none at seq (the kept log
 * up to h, the window up to seq), counted as the WAL writes it at least:
 * each batch plus PBFT_LOG_SEQ_BYTES. */
static uint64_t log_bytes_since_snapshot(struct bft_core *c, uint64_t seq)
{
    uint64_t bytes = c->kept_batch_bytes + (uint64_t)c->kept_n * PBFT_LOG_SEQ_BYTES;
    for (uint64_t s = c->h + 1; s <= seq && s - c->h <= c->L; s++) {
        const struct pbft_slot *sl = pbft_slot_peek(c, s);
        if (sl) bytes += PBFT_LOG_SEQ_BYTES + sl->batch_len;
    }
    return bytes;
}

/* The snapshot rule (docs/pbft.md "Snapshots"): a snapshot costs a copy
 * and a SHA-256 of the whole state, so take one at a checkpoint only when
 * the log it would replace (what a laggard replays after our served
 * snapshot) holds at least as many bytes as that snapshot: the copying is
 * amortised over the log, the kept log stays near one snapshot's size, and
 * the host, which writes a snapshot once the WAL grew by its size
 * (docs/storage.md), takes each one offered.
 * Always when nothing is served yet or the kept log broke. Not while one
 * taken at an earlier checkpoint still waits for its 2f+1 proof. */
static bool snapshot_due(struct bft_core *c, uint64_t seq)
{
    if (c->snap.next_seq > c->h && c->snap.next_seq < seq) return false;
    if (!c->snap.mask || c->kept_broken) return true;
    return log_bytes_since_snapshot(c, seq) >= c->snap.len;
}

/* A snapshot is taken at a checkpoint we execute when it is due and served
 * once that checkpoint is stable; in between the kept log (pbft_kept.c)
 * carries a laggard from the served snapshot to h. Taking it only when
 * someone asks can deadlock: when the replica that fell behind is needed
 * for progress (it is the primary, or one of only 2f+1 live replicas), no
 * later checkpoint ever comes. */
void pbft_state_snapshot_checkpoint(struct bft_core *c, uint64_t seq, const bft_digest *state,
                                    bool force)
{
    if (force || snapshot_due(c, seq)) take_snapshot(c, seq, state);
}

/* One chunk of our served snapshot; the first carries the 2f+1 proof. The
 * body is at most a few KiB (the proof of n <= BFT_MAX_REPLICAS), so it is
 * built on the stack. */
static void send_state_chunk(struct bft_core *c, uint32_t to, size_t off, size_t len)
{
    uint8_t body[1 + 4 + 4 + CRYPTO_DIGEST_LEN + 1 + BFT_MAX_REPLICAS * (2 + PBFT_RAW_MAX)];
    struct wire_wr w = {.buf = body, .cap = sizeof body};
    uint32_t k = off == 0 ? pbft_popcount(c->snap.mask) : 0;
    pbft_chunk_put_head(&w, (uint32_t)c->snap.len, (uint32_t)off, &c->snap.sha, k);
    for (uint32_t i = 0; k && i < c->n; i++)
        if (c->snap.mask & (1u << i)) pbft_emb_put(&w, c->snap.proof[i].b, c->snap.proof[i].len);
    assert(!w.err);
    struct bft_msg m = {.type = BFT_MSG_STATE_RESP, .view = c->view, .seq = c->snap.seq};
    m.digest = c->snap.digest;
    m.body = body;
    m.body_len = (uint32_t)w.len;
    m.payload = len ? c->snap.buf + off : NULL;
    m.payload_len = (uint32_t)len;
    c->io.send(c->io.ctx, to, &m);
}

void pbft_on_state_req(struct bft_core *c, const struct bft_msg *m)
{
    struct pbft_state_req q;
    if (pbft_state_req_decode(m, &q) != BFT_REJECT_NONE) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    if (q.kind == PBFT_SREQ_RELAY) {
        pbft_on_relay_req(c, m);
        return;
    }
    size_t off = q.offset;
    PTRACE(c, "got state req %llu off %zu from %u snap %llu/%zu", (unsigned long long)m->seq, off,
           m->sender, (unsigned long long)c->snap.seq, c->snap.len);
    if (c->h == 0 || m->seq > c->h) return; /* nothing certified to give yet */
    /* Serve a snapshot taken at a checkpoint whose 2f+1 proof we hold, at
     * seq or later, or older with the kept log from it up to seq. */
    if (!(c->snap.mask && (c->snap.seq >= m->seq || pbft_kept_covers(c, m->seq)))) {
        if (c->last_exec != c->h || !pbft_deq(&c->last_state, &c->h_digest) ||
            !take_snapshot(c, c->h, &c->last_state))
            return; /* the asker retries; our next stable checkpoint will do */
        pbft_state_on_stable(c, c->h, &c->h_digest, c->h_proof, c->h_proof_mask);
        if (!(c->snap.mask && c->snap.seq >= m->seq)) return;
    }
    /* A continuation of a snapshot we no longer hold restarts the asker
     * on our newer one. */
    if (off && c->snap.seq != m->seq) off = 0;
    if (off && off >= c->snap.len) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    size_t len = c->snap.len - off;
    if (len > c->st.chunk) len = c->st.chunk;
    if (c->snap_budget[m->sender] < len) {
        c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD); /* bytes per asker per tick */
        return;
    }
    c->snap_budget[m->sender] -= (uint32_t)len;
    c->helped = true;
    pbft_arm_retransmit(c);
    send_state_chunk(c, m->sender, off, len);
}

/* CHECKPOINT messages proving (seq, d) from distinct replicas; copies them
 * into proof by sender. The caller checks there are 2f+1 (§4.3). */
enum bft_reject pbft_ckpt_proof_check(struct bft_core *c, uint64_t seq, const bft_digest *d,
                                      const struct pbft_emb_list *l, struct pbft_raw *proof,
                                      uint32_t *mask)
{
    *mask = 0;
    for (uint32_t i = 0; i < l->count; i++) {
        const struct bft_msg *e = &l->m[i];
        enum bft_reject why = pbft_emb_check(c, e, true);
        if (why != BFT_REJECT_NONE) return why;
        if (e->seq != seq || !pbft_deq(&e->digest, d) || (*mask & (1u << e->sender)))
            return BFT_REJECT_MALFORMED;
        *mask |= 1u << e->sender;
        proof[e->sender].len = (uint16_t)e->raw_len;
        memcpy(proof[e->sender].b, e->raw, e->raw_len);
    }
    return BFT_REJECT_NONE;
}

/* The assembled snapshot is complete: install it (§4.3 state transfer). */
static void install_snapshot(struct bft_core *c)
{
    c->xfer.active = false;
    bft_digest sha;
    crypto_sha256(c->xfer.buf, c->xfer.total, sha.b);
    if (!pbft_deq(&sha, &c->xfer.sha)) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        send_state_req(c); /* that peer lied: ask the next one */
        return;
    }
    bft_digest state = {{0}};
    /* The node installs it only if its state digest is the certified one;
     * otherwise our state stays as it was. */
    int rv = c->io.restore(c->io.ctx, c->xfer.seq, c->xfer.total ? c->xfer.buf : NULL,
                           c->xfer.total, &c->xfer.digest, &state);
    if (rv != BFT_E_OK || !pbft_deq(&state, &c->xfer.digest)) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        send_state_req(c);
        return;
    }
    uint64_t seq = c->xfer.seq;
    PTRACE(c, "restored state %llu (%zu bytes) from %u", (unsigned long long)seq, c->xfer.total,
           c->xfer.from);
    c->last_exec = seq;
    c->last_state = state;
    if (seq > c->h) pbft_make_stable(c, seq, &c->xfer.digest, c->xfer.proof, c->xfer.mask, true);
    /* Serve what we restored: it may be the only copy of this checkpoint
     * left (its certifiers may have restarted empty since). */
    free(c->snap.buf); /* as in pbft_state_on_stable: no spare copy */
    c->snap.buf = c->xfer.buf;
    c->snap.cap = c->xfer.cap;
    c->snap.len = c->xfer.total;
    c->snap.seq = seq;
    c->snap.digest = c->xfer.digest;
    c->snap.sha = c->xfer.sha;
    c->snap.mask = c->xfer.mask;
    for (uint32_t i = 0; i < c->n; i++)
        c->snap.proof[i] = c->xfer.proof[i];
    c->xfer.buf = NULL;
    c->xfer.cap = 0;
    pbft_kept_reset(c); /* kept from now on: what we replay up to h, then the window */
    if (c->io.checkpoint)
        c->io.checkpoint(c->io.ctx, seq, &c->xfer.digest, c->snap.buf, c->snap.len);
    /* Requests executed inside the transferred state would otherwise stay
     * pending forever; clients retransmit what is still outstanding. */
    pbft_pending_clear(&c->pend);
    struct pbft_raw own;
    pbft_sign_own(c, BFT_MSG_CHECKPOINT, c->view, seq, &state, &own);
    pbft_ckpt_insert(c, c->self, seq, &state, own.b, own.len);
    if (c->st.active && c->last_exec >= c->st.seq) {
        c->st.active = false;
        bft_timeout_stop(&c->st.timer, &c->io);
    }
    if (c->next_seq <= c->last_exec) c->next_seq = c->last_exec + 1;
    pbft_try_execute(c);
    pbft_request_timer_update(c);
    pbft_try_propose(c);
    /* The responder is ahead: pull what it executed after the checkpoint. */
    pbft_fetch_request(c, (int)c->xfer.from, PBFT_FETCH_RANGE);
}

/* The first chunk of a snapshot, with its proof: start assembling it. */
static bool start_assembly(struct bft_core *c, const struct bft_msg *m,
                           const struct pbft_chunk_wire *cw)
{
    /* A new transfer: only if it is newer than the one in progress, or
     * its peer restarts it. */
    if (c->xfer.active && m->seq < c->xfer.seq) return false;
    if (c->xfer.active && m->seq == c->xfer.seq && m->sender != c->xfer.from) return false;
    struct pbft_raw proof[BFT_MAX_REPLICAS];
    uint32_t mask;
    enum bft_reject why = pbft_ckpt_proof_check(c, m->seq, &m->digest, &cw->proof, proof, &mask);
    if (why == BFT_REJECT_NONE && pbft_popcount(mask) < 2 * c->f + 1) why = BFT_REJECT_MALFORMED;
    if (why != BFT_REJECT_NONE) {
        c->io.reject(c->io.ctx, why);
        return false;
    }
    if (cw->total > c->xfer.cap) {
        uint8_t *p = realloc(c->xfer.buf, cw->total);
        if (!p) return false; /* short memory: as if the chunk never came */
        c->xfer.buf = p;
        c->xfer.cap = cw->total;
    }
    c->xfer.active = true;
    c->xfer.from = m->sender;
    c->xfer.seq = m->seq;
    c->xfer.digest = m->digest;
    c->xfer.sha = cw->sha;
    c->xfer.total = cw->total;
    c->xfer.off = 0;
    c->xfer.mask = mask;
    for (uint32_t i = 0; i < c->n; i++)
        c->xfer.proof[i] = proof[i];
    if (!c->st.active || m->seq > c->st.seq) {
        c->st.active = true;
        c->st.seq = m->seq;
        c->st.digest = m->digest;
        c->st.mask = mask;
        for (uint32_t i = 0; i < c->n; i++)
            c->st.proof[i] = proof[i];
    }
    arm_state_timer(c);
    return true;
}

/* A chunk of the snapshot being assembled (STATE-RESP kind 0). */
static void on_state_chunk(struct bft_core *c, const struct bft_msg *m)
{
    /* A snapshot below our h is fine while we have not executed it: its
     * server replays us the kept log from it up to h (pbft_kept.c). */
    if (m->seq <= c->last_exec || m->seq % c->K != 0) {
        c->io.reject(c->io.ctx, BFT_REJECT_DUPLICATE);
        return;
    }
    struct pbft_limits lim = pbft_limits_of(c);
    struct pbft_chunk_wire cw;
    if (pbft_chunk_decode(m, &lim, PBFT_SNAP_MAX, PBFT_STATE_CHUNK, &cw) != BFT_REJECT_NONE) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    size_t off = cw.offset, want = m->payload_len;
    if (off == 0) {
        if (!start_assembly(c, m, &cw)) return;
    } else if (!c->xfer.active || m->sender != c->xfer.from || m->seq != c->xfer.seq ||
               !pbft_deq(&m->digest, &c->xfer.digest) || !pbft_deq(&cw.sha, &c->xfer.sha) ||
               cw.total != c->xfer.total || off != c->xfer.off) {
        c->io.reject(c->io.ctx, BFT_REJECT_DUPLICATE); /* stale or foreign chunk */
        return;
    }
    if (want) memcpy(c->xfer.buf + off, m->payload, want);
    c->xfer.off = off + want;
    c->xfer.stall = 0;
    if (c->xfer.off == c->xfer.total)
        install_snapshot(c);
    else
        send_chunk_req(c);
}

void pbft_on_state_resp(struct bft_core *c, const struct bft_msg *m)
{
    switch (pbft_resp_kind(m)) {
    case PBFT_SRESP_CHUNK:
        on_state_chunk(c, m);
        return;
    case PBFT_SRESP_RELAY:
        pbft_on_relay_resp(c, m);
        return;
    default:
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
}
