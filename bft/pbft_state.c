/* State transfer (Castro & Liskov OSDI'99 §4.3 "a replica ... may need to
 * fetch state", TOCS'02 §6.2, simplified to one snapshot message): a
 * replica that learns of a stable checkpoint it has not reached asks the
 * replicas that certified it for their state at that checkpoint. The reply
 * carries the 2f+1 CHECKPOINT messages that prove the state digest, and the
 * restored state must hash to it. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "bft/pbft_internal.h"

static void send_state_req(struct bft_core *c)
{
    /* Ask one certifier at a time, rotating, so a silent one cannot stall
     * us and we do not pull n snapshots at once. */
    for (uint32_t k = 0; k < c->n; k++) {
        uint32_t to = (c->st_peer + k) % c->n;
        if (to == c->self || !(c->st_mask & (1u << to))) continue;
        c->st_peer = to + 1;
        struct bft_msg m = {.type = BFT_MSG_STATE_REQ, .view = c->view, .seq = c->st_seq};
        c->io.send(c->io.ctx, to, &m);
        return;
    }
}

static void arm_state_timer(struct bft_core *c)
{
    if (c->st_timer_armed) return;
    c->st_timer_armed = true;
    c->io.set_timer(c->io.ctx, PBFT_TIMER_STATE, 2 * c->retransmit_ms);
}

void pbft_state_note(struct bft_core *c, uint64_t seq, const bft_digest *d,
                     const struct pbft_raw *proof, uint32_t mask, bool urgent)
{
    if (seq <= c->last_exec) return;
    if (!c->st_active || seq > c->st_seq) {
        c->st_active = true;
        c->st_seq = seq;
        c->st_digest = *d;
        c->st_mask = mask;
        for (uint32_t i = 0; i < c->n; i++) c->st_proof[i] = proof[i];
    }
    if (urgent) {
        pbft_make_stable(c, c->st_seq, &c->st_digest, c->st_proof, c->st_mask, true);
        send_state_req(c);
    }
    arm_state_timer(c);
}

void pbft_on_state_timer(struct bft_core *c)
{
    c->st_timer_armed = false;
    if (!c->st_active || c->last_exec >= c->st_seq) {
        c->st_active = false;
        return;
    }
    /* Still behind after a grace period: give up on the log below the
     * certified checkpoint and fetch the state. */
    if (c->st_seq > c->h)
        pbft_make_stable(c, c->st_seq, &c->st_digest, c->st_proof, c->st_mask, true);
    send_state_req(c);
    arm_state_timer(c);
}

static bool keep_snapshot(struct bft_core *c, uint64_t seq, const bft_digest *state)
{
    const uint8_t *buf;
    size_t len;
    if (c->io.snapshot(c->io.ctx, &buf, &len) != BFT_E_OK || len > BFT_PAYLOAD_MAX) return false;
    if (len > c->snap_cap) {
        uint8_t *p = realloc(c->snap, len);
        if (!p) return false;
        c->snap = p;
        c->snap_cap = len;
    }
    if (len) memcpy(c->snap, buf, len);
    c->snap_len = len;
    c->snap_seq = seq;
    c->snap_digest = *state;
    c->snap_mask = 0;
    if (seq == c->h && pbft_deq(state, &c->h_digest)) {
        c->snap_mask = c->h_proof_mask;
        for (uint32_t i = 0; i < c->n; i++) c->snap_proof[i] = c->h_proof[i];
    }
    return true;
}

/* Snapshots are taken only at checkpoint seqs and only while someone asks
 * for state: a snapshot of the whole application is not free. */
void pbft_state_snapshot_checkpoint(struct bft_core *c, uint64_t seq, const bft_digest *state)
{
    if (!c->snap_wanted) return;
    if (keep_snapshot(c, seq, state)) c->snap_wanted = false;
}

static void send_state_resp(struct bft_core *c, uint32_t to)
{
    struct pbft_wr w = {.p = c->body, .cap = BFT_BODY_MAX};
    pbft_put(&w, 0, 1); /* kind: state */
    pbft_put(&w, pbft_popcount(c->snap_mask), 1);
    for (uint32_t i = 0; i < c->n; i++) {
        if (!(c->snap_mask & (1u << i))) continue;
        pbft_put(&w, c->snap_proof[i].len, 2);
        pbft_put_bytes(&w, c->snap_proof[i].b, c->snap_proof[i].len);
    }
    assert(!w.err);
    struct bft_msg m = {.type = BFT_MSG_STATE_RESP, .view = c->view, .seq = c->snap_seq};
    m.digest = c->snap_digest;
    m.body = c->body;
    m.body_len = (uint32_t)w.len;
    m.payload = c->snap_len ? c->snap : NULL;
    m.payload_len = (uint32_t)c->snap_len;
    c->io.send(c->io.ctx, to, &m);
}

void pbft_on_state_req(struct bft_core *c, const struct bft_msg *m)
{
    if (m->body_len == 1 && m->body[0] == 1) {
        pbft_on_fetch_req(c, m);
        return;
    }
    if (m->body_len != 0) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    if (c->h == 0 || m->seq > c->h) return; /* nothing certified to give yet */
    if (c->help_budget[m->sender] == 0) {
        c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
        return;
    }
    /* Serve a snapshot taken at a checkpoint whose 2f+1 proof we hold. */
    if (!(c->snap_len && c->snap_mask && c->snap_seq >= m->seq)) {
        if (c->last_exec == c->h && pbft_deq(&c->last_state, &c->h_digest)) {
            if (!keep_snapshot(c, c->h, &c->last_state)) return;
        } else {
            /* Take one at our next checkpoint; the asker retries. */
            c->snap_wanted = true;
            return;
        }
    }
    if (c->snap_seq < c->h) c->snap_wanted = true; /* refresh for the next asker */
    c->help_budget[m->sender] = 0; /* one snapshot per tick per asker */
    c->helped = true;
    pbft_arm_retransmit(c);
    send_state_resp(c, m->sender);
}

void pbft_on_state_resp(struct bft_core *c, const struct bft_msg *m)
{
    if (m->body_len >= 1 && m->body[0] == 1) {
        pbft_on_fetch_resp(c, m);
        return;
    }
    if (m->body_len < 1 || m->body[0] != 0) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    if (m->seq <= c->last_exec || m->seq < c->h || m->seq % c->K != 0) {
        c->io.reject(c->io.ctx, BFT_REJECT_DUPLICATE);
        return;
    }
    struct pbft_rd r = {.p = m->body, .len = m->body_len, .off = 1};
    uint32_t k = (uint32_t)pbft_get(&r, 1);
    struct pbft_raw proof[BFT_MAX_REPLICAS];
    uint32_t mask = 0;
    if (k > c->n) r.err = true;
    for (uint32_t i = 0; i < k && !r.err; i++) {
        uint16_t len = (uint16_t)pbft_get(&r, 2);
        const uint8_t *p = pbft_get_ptr(&r, len);
        if (!p) break;
        struct bft_msg e;
        int why = pbft_embedded_check(c, p, len, BFT_MSG_CHECKPOINT, &e, true);
        if (why >= 0) {
            c->io.reject(c->io.ctx, why);
            return;
        }
        if (e.seq != m->seq || !pbft_deq(&e.digest, &m->digest) || (mask & (1u << e.sender))) {
            r.err = true;
            break;
        }
        mask |= 1u << e.sender;
        proof[e.sender].len = len;
        memcpy(proof[e.sender].b, p, len);
    }
    if (r.err || r.off != r.len || pbft_popcount(mask) < 2 * c->f + 1) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    bft_digest state = {{0}};
    int rv = c->io.restore(c->io.ctx, m->seq, m->payload_len ? m->payload : NULL, m->payload_len,
                           &state);
    if (rv != BFT_E_OK || !pbft_deq(&state, &m->digest)) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    c->last_exec = m->seq;
    c->last_state = state;
    if (m->seq > c->h) pbft_make_stable(c, m->seq, &m->digest, proof, mask, true);
    /* Requests executed inside the transferred state would otherwise stay
     * pending forever; clients retransmit what is still outstanding. */
    pbft_pending_clear(&c->pend);
    struct pbft_raw own;
    pbft_sign_own(c, BFT_MSG_CHECKPOINT, c->view, m->seq, &state, &own);
    pbft_ckpt_insert(c, c->self, m->seq, &state, own.b, own.len);
    if (c->st_active && c->last_exec >= c->st_seq) {
        c->st_active = false;
        if (c->st_timer_armed) c->io.cancel_timer(c->io.ctx, PBFT_TIMER_STATE);
        c->st_timer_armed = false;
    }
    if (c->next_seq <= c->last_exec) c->next_seq = c->last_exec + 1;
    pbft_try_execute(c);
    pbft_request_timer_update(c);
    pbft_try_propose(c);
    /* The responder is ahead: pull what it executed after the checkpoint. */
    pbft_fetch_request(c, (int)m->sender);
}
