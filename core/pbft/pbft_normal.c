/* Normal-case operation (Castro & Liskov OSDI'99 §4.2-4.3, TOCS'02 §4.2):
 * request, PRE-PREPARE, PREPARE, COMMIT, in-order execution, batching and
 * pipelining inside the watermark window, and retransmission. */
#include <assert.h>
#include <string.h>

#include "core/pbft/pbft_internal.h"

static void reject(struct bft_core *c, int why)
{
    c->io.reject(c->io.ctx, why);
}

static bool is_primary(const struct bft_core *c)
{
    return pbft_primary(c, c->view) == c->self;
}

/* What became of a batch, for the queued requests it carries:
 * - PBFT_BATCH_PROPOSED: proposed at seq, so not to be proposed again;
 * - PBFT_BATCH_EXECUTED: executed, so no longer queued;
 * - PBFT_BATCH_LOST: proposed at seq, but seq committed another batch (one
 *   fetched with its commit certificate, e.g. a twin's); those still
 *   marked at seq go back to the queue, or the primary would think them
 *   in flight forever and never propose them again. */
void pbft_batch_mark(struct bft_core *c, const uint8_t *batch, uint32_t len, uint64_t seq, int what)
{
    struct bft_batch_iter it;
    if (!batch || !len || bft_batch_iter_init(&it, batch, len) != BFT_E_OK) return;
    const uint8_t *raw;
    size_t rlen;
    while (bft_batch_iter_next(&it, &raw, &rlen)) {
        uint32_t client;
        uint64_t req_no;
        if (!pbft_req_key(raw, rlen, &client, &req_no)) continue;
        int32_t i = pbft_pending_find(&c->pend, client, req_no);
        if (i < 0) continue;
        if (what == PBFT_BATCH_PROPOSED)
            pbft_pending_mark(&c->pend, i, seq);
        else if (what == PBFT_BATCH_EXECUTED)
            pbft_pending_remove(&c->pend, i);
        else if (c->pend.e[i].mark == seq)
            pbft_pending_requeue(&c->pend, i);
    }
}

static void watch_start(struct bft_core *c, int32_t i)
{
    c->watching = true;
    c->watch_client = c->pend.e[i].client;
    c->watch_req = c->pend.e[i].req_no;
    c->probes = 0;
    c->probe_resets = 0;
    bft_timeout_restart(&c->vchg.request, &c->io, pbft_timeout_ms(c));
}

/* §4.4: a backup starts its timer when it receives a request and the timer
 * is not running; it stops the timer when it no longer waits for that
 * request, and restarts it if it waits for another. The deadline belongs to
 * one request: re-arming it whenever anything executes would let a primary
 * censor one client forever while it orders everyone else's requests. */
void pbft_request_timer_update(struct bft_core *c)
{
    if (c->in_vc) return;
    int32_t i = is_primary(c) ? -1 : pbft_pending_oldest(&c->pend);
    if (i < 0) {
        c->watching = false;
        bft_timeout_stop(&c->vchg.request, &c->io);
        return;
    }
    if (c->vchg.request.armed && c->watching &&
        pbft_pending_find(&c->pend, c->watch_client, c->watch_req) >= 0)
        return; /* still waiting for the same request: keep its deadline */
    watch_start(c, i);
}

/* §4.1: the primary orders requests; a backup keeps the request (to watch
 * the primary) and relays it byte-for-byte with the client's signature. */
void pbft_on_request(struct bft_core *c, const struct bft_msg *req)
{
    if (req->type != BFT_MSG_REQUEST || !req->raw || req->raw_len == 0) {
        reject(c, BFT_REJECT_MALFORMED);
        return;
    }
    int why = pbft_pending_add(&c->pend, req);
    if (why != BFT_REJECT_NONE) {
        reject(c, why);
        /* A duplicate is a client retransmission: the primary may have
         * missed the first copy, so relay it again. */
        if (why == BFT_REJECT_DUPLICATE && !is_primary(c) && !c->in_vc)
            c->io.send(c->io.ctx, pbft_primary(c, c->view), req);
        return;
    }
    if (c->in_vc) return;
    if (is_primary(c)) {
        pbft_try_propose(c);
        return;
    }
    c->io.send(c->io.ctx, pbft_primary(c, c->view), req);
    pbft_request_timer_update(c);
}

/* The caller made room for the record in c->rec first (pbft_pp_rec_len),
 * before changing the slot, so a short memory refuses the pre-prepare
 * instead of leaving it accepted but not logged. */
static void persist_pp(struct bft_core *c, const struct pbft_slot *s)
{
    struct wire_wr w = pbft_rec_wr(c, pbft_pp_rec_len(s->pp.len, s->batch_len));
    wire_put_le(&w, PBFT_REC_PP, 1);
    wire_put_le(&w, s->view, 8);
    wire_put_le(&w, s->seq, 8);
    wire_put_bytes(&w, s->digest.b, CRYPTO_DIGEST_LEN);
    wire_put_le(&w, s->pp.len, 2);
    wire_put_bytes(&w, s->pp.b, s->pp.len);
    wire_put_le(&w, s->batch_len, 4);
    wire_put_bytes(&w, s->batch, s->batch_len);
    assert(!w.err);
    c->io.persist(c->io.ctx, w.buf, w.len);
}

static void send_pre_prepare(struct bft_core *c, const struct pbft_slot *s)
{
    struct bft_msg m = {.type = BFT_MSG_PRE_PREPARE, .view = s->view, .seq = s->seq};
    m.digest = s->digest;
    m.payload = s->batch_len ? s->batch : NULL;
    m.payload_len = s->batch_len;
    c->io.broadcast(c->io.ctx, &m);
}

/* The primary assigns seq to a batch (§4.2 pre-prepare phase): persist
 * first, then multicast <PRE-PREPARE, v, n, d> with the batch. */
void pbft_propose_at(struct bft_core *c, uint64_t seq, const bft_digest *d, const uint8_t *batch,
                     uint32_t len)
{
    struct pbft_slot *s = pbft_slot_get(c, seq);
    if (!s) return;
    /* A committed seq keeps its batch: O (§4.4) always carries it. */
    if (pbft_has_proof(c, s) && !pbft_deq(&s->digest, d)) return;
    if (!bft_buf_reserve(&c->rec, pbft_pp_rec_len(0, len), PBFT_REC_MAX)) return;
    if (s->batch != batch && !pbft_slot_set_batch(s, batch, len)) return;
    s->has_batch = true;
    s->view = c->view;
    if (s->cert.valid && !pbft_deq(&s->cert.digest, d)) s->cert.valid = false; /* see §4.4 */
    s->digest = *d;
    s->has_pp = true;
    s->pp.len = 0; /* our own: regenerated for certificates */
    s->prep_mask = s->commit_mask = 0;
    s->sent_prepare = s->sent_commit = s->prepared = false;
    s->committed = pbft_has_proof(c, s);
    persist_pp(c, s);
    send_pre_prepare(c, s);
    pbft_arm_retransmit(c);
}

/* Adaptive batching: a batch is cut whenever fewer than pipeline_max seqs
 * are in flight and the next seq is inside (h, h+L]. Under low load each
 * request goes out alone; under load requests wait for a pipeline slot and
 * accumulate into bigger batches. */
void pbft_try_propose(struct bft_core *c)
{
    if (!is_primary(c) || c->in_vc) return;
    if (c->next_seq <= c->last_exec) c->next_seq = c->last_exec + 1;
    if (c->next_seq <= c->h) c->next_seq = c->h + 1;
    while (c->pend.unproposed > 0 && c->next_seq - 1 - c->last_exec < c->cfg.pipeline_max &&
           pbft_in_window(c, c->next_seq)) {
        uint64_t seq = c->next_seq;
        struct pbft_slot *s = pbft_slot_get(c, seq);
        if (!s) break; /* short memory: retried at the next request or tick */
        if (s->executed || pbft_has_proof(c, s)) {
            /* Committed already (fetched with its certificate, e.g. from a
             * later view while we still think we lead this one): its batch
             * is final, never overwrite it with a new proposal. */
            c->next_seq++;
            continue;
        }
        /* Build the batch in c->rec: u16 count | (u32 len | raw)*, at most
         * BFT_PAYLOAD_MAX bytes. Measure it first so c->rec grows once to
         * what this batch needs. */
        size_t need = 2;
        uint16_t count = 0;
        for (int32_t i = c->pend.head; i >= 0 && count < c->cfg.batch_max; i = c->pend.e[i].next) {
            if (need + 4 + c->pend.e[i].len > BFT_PAYLOAD_MAX) break;
            need += 4 + c->pend.e[i].len;
            count++;
        }
        if (count == 0) break; /* a request larger than a batch: never */
        struct wire_wr w = pbft_rec_wr(c, need);
        if (w.err) break;
        wire_put_le(&w, count, 2);
        for (int32_t i = c->pend.head; count > 0; count--) {
            struct bft_pending_req *r = &c->pend.e[i];
            int32_t next = r->next;
            wire_put_le(&w, r->len, 4);
            wire_put_bytes(&w, r->raw, r->len);
            pbft_pending_mark(&c->pend, i, seq);
            i = next;
        }
        assert(!w.err && w.len == need);
        bft_digest d;
        bft_batch_digest(w.buf, w.len, &d);
        if (!pbft_slot_set_batch(s, w.buf, (uint32_t)w.len)) break;
        c->next_seq++;
        pbft_propose_at(c, seq, &d, s->batch, s->batch_len);
    }
}

static void send_prepare(struct bft_core *c, struct pbft_slot *s)
{
    s->sent_prepare = true;
    s->prep_mask |= 1u << c->self;
    s->prep_d[c->self] = s->digest;
    s->prep_raw[c->self].len = 0;
    pbft_send_simple(c, -1, BFT_MSG_PREPARE, s->view, s->seq, &s->digest);
}

static void persist_commit(struct bft_core *c, const struct pbft_slot *s)
{
    size_t len = pbft_commit_rec(c, s);
    c->io.persist(c->io.ctx, c->rec.p, len);
}

static uint32_t count_votes(const struct bft_core *c, uint32_t mask, const bft_digest *dv,
                            const bft_digest *d, uint32_t skip)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if ((mask & (1u << i)) && i != skip && pbft_deq(&dv[i], d)) k++;
    return k;
}

/* prepared(m, v, n, i): the pre-prepare plus 2f matching PREPAREs from
 * distinct backups (§4.2); committed-local: prepared plus 2f+1 matching
 * COMMITs (§4.2). Votes for another digest never count. */
static void check_progress(struct bft_core *c, struct pbft_slot *s)
{
    uint32_t prim = pbft_primary(c, s->view);
    if (s->has_pp && !s->prepared &&
        count_votes(c, s->prep_mask, s->prep_d, &s->digest, prim) >= 2 * c->f) {
        s->prepared = true;
        struct pbft_cert *ct = &s->cert;
        memset(ct, 0, sizeof(*ct));
        ct->valid = true;
        ct->view = s->view;
        ct->digest = s->digest;
        ct->pp = s->pp;
        for (uint32_t i = 0; i < c->n && pbft_popcount(ct->voters) < 2 * c->f; i++) {
            if (!(s->prep_mask & (1u << i)) || i == prim || !pbft_deq(&s->prep_d[i], &s->digest))
                continue;
            ct->voters |= 1u << i;
            ct->prep[i] = s->prep_raw[i];
        }
        persist_commit(c, s);
        s->sent_commit = true;
        if (s->seq > c->read_floor) c->read_floor = s->seq;
        s->commit_mask |= 1u << c->self;
        s->commit_d[c->self] = s->digest;
        s->commit_raw[c->self].len = 0; /* regenerated when needed */
        pbft_send_simple(c, -1, BFT_MSG_COMMIT, s->view, s->seq, &s->digest);
        pbft_arm_retransmit(c);
    }
    /* 2f backups committed: the primary, whose own COMMIT completes the
     * quorum, can execute this seq and reuse its pipeline slot now. */
    if (s->prepared && !s->mon_ready && prim != c->self &&
        count_votes(c, s->commit_mask, s->commit_d, &s->digest, prim) >= 2 * c->f)
        pbft_monitor_slot_free(c, s);
    /* 2f+1 matching COMMITs are committed(m, v, n) even where our own
     * PREPAREs got lost (f+1 correct replicas prepared d at n; the log
     * fetch relies on the same, pbft_fetch.c): a replica the others'
     * PREPAREs missed, often the primary, would otherwise wait for a view
     * change, because replicas that executed n no longer resend them. */
    bool batch = s->prepared || (s->has_pp && s->has_batch);
    if (batch && !s->committed && !pbft_has_proof(c, s) &&
        count_votes(c, s->commit_mask, s->commit_d, &s->digest, UINT32_MAX) >= 2 * c->f + 1) {
        s->committed = true;
        /* Keep the 2f+1 COMMITs: they let a laggard execute this seq. */
        s->proof_view = s->view;
        s->proof_mask = 0;
        for (uint32_t i = 0; i < c->n && pbft_popcount(s->proof_mask) < 2 * c->f + 1; i++)
            if ((s->commit_mask & (1u << i)) && pbft_deq(&s->commit_d[i], &s->digest))
                s->proof_mask |= 1u << i;
        pbft_try_execute(c);
    }
}

/* §4.2: a backup accepts <PRE-PREPARE, v, n, d> if it is in view v, the
 * sender is primary(v), h < n <= H, and it has not accepted a different d
 * for (v, n). After a NEW-VIEW, n in O must carry O's digest (§4.4).
 * raw: the signed pre-prepare with its payload stripped (PBFT_RAW_MAX
 * bytes, payload_len not yet zeroed). relayed: it came from a backup
 * (pbft_relay.c), signed by the primary all the same; the performance
 * monitor only samples what the primary delivered itself. */
static void accept_pre_prepare(struct bft_core *c, const struct bft_msg *m, const uint8_t *raw,
                               bool relayed)
{
    if (m->view != c->view || c->in_vc) {
        if (!relayed && m->view > c->view && m->sender == pbft_primary(c, m->view))
            pbft_note_view(c, m->sender, m->view);
        reject(c, BFT_REJECT_STALE_VIEW);
        return;
    }
    if (m->sender != pbft_primary(c, m->view) || m->body_len != 0) {
        reject(c, BFT_REJECT_MALFORMED);
        return;
    }
    if (!pbft_in_window(c, m->seq)) {
        reject(c, BFT_REJECT_OUT_OF_WINDOW);
        return;
    }
    bool in_o = c->vchg.nv_view == c->view && m->seq > c->vchg.nv_min && m->seq <= c->vchg.nv_max;
    if (in_o && !pbft_deq(&m->digest, &c->vchg.nv_dig[m->seq - c->vchg.nv_min - 1])) {
        reject(c, BFT_REJECT_EQUIVOCATION);
        return;
    }
    /* Null requests only come from a NEW-VIEW's O set. */
    if (pbft_is_null(&m->digest) != (m->payload_len == 0) || (!in_o && m->payload_len == 0)) {
        reject(c, BFT_REJECT_MALFORMED);
        return;
    }
    struct pbft_slot *s = pbft_slot_get(c, m->seq);
    if (!s) {
        reject(c, BFT_REJECT_OVERLOAD); /* short memory */
        return;
    }
    if (s->view != c->view) {
        /* Left over from an older view: its votes are void now. */
        s->view = c->view;
        s->has_pp = s->sent_prepare = s->sent_commit = s->prepared = false;
        s->committed = pbft_has_proof(c, s);
        s->prep_mask = s->commit_mask = 0;
    }
    if (s->has_pp) {
        reject(c,
               pbft_deq(&s->digest, &m->digest) ? BFT_REJECT_DUPLICATE : BFT_REJECT_EQUIVOCATION);
        return;
    }
    if ((s->executed || s->committed) && !pbft_deq(&s->digest, &m->digest)) {
        reject(c, BFT_REJECT_EQUIVOCATION);
        return;
    }
    if (!bft_buf_reserve(&c->rec, pbft_pp_rec_len(PBFT_RAW_MAX, m->payload_len), PBFT_REC_MAX) ||
        !pbft_slot_set_batch(s, m->payload, m->payload_len)) {
        reject(c, BFT_REJECT_OVERLOAD);
        return;
    }
    s->has_pp = true;
    s->digest = m->digest;
    memcpy(s->pp.b, raw, PBFT_RAW_MAX);
    memset(s->pp.b, 0, 4); /* payload_len is unsigned: strip the payload */
    s->pp.len = PBFT_RAW_MAX;
    if (s->cert.valid && !pbft_deq(&s->cert.digest, &s->digest)) {
        /* O overrode our old certificate: it was not committed (§4.4). */
        s->cert.valid = false;
    }
    persist_pp(c, s);
    send_prepare(c, s);
    pbft_arm_retransmit(c);
    if (!in_o && !relayed) pbft_monitor_on_pp(c, m->seq, m->payload, m->payload_len);
    if (!in_o) pbft_monitor_on_delivery(c, relayed);
    check_progress(c, s);
}

void pbft_on_pre_prepare(struct bft_core *c, const struct bft_msg *m)
{
    uint32_t stripped = m->raw_len - m->payload_len;
    if (m->view == c->view && !c->in_vc &&
        (!m->raw || m->raw_len < m->payload_len || stripped != PBFT_RAW_MAX)) {
        reject(c, BFT_REJECT_MALFORMED);
        return;
    }
    accept_pre_prepare(c, m, m->raw, false);
}

void pbft_on_relayed_pre_prepare(struct bft_core *c, const struct bft_msg *m, const uint8_t *raw)
{
    accept_pre_prepare(c, m, raw, true);
}

/* A replica that retransmits votes for a seq we executed is lagging: send
 * it our own messages for that seq (bounded per sender per tick). */
static void help_laggard(struct bft_core *c, uint32_t to, struct pbft_slot *s)
{
    if (c->help_budget[to] == 0) return;
    c->help_budget[to]--;
    c->helped = true;
    if (s->sent_prepare) pbft_send_simple(c, (int)to, BFT_MSG_PREPARE, s->view, s->seq, &s->digest);
    if (s->sent_commit) pbft_send_simple(c, (int)to, BFT_MSG_COMMIT, s->view, s->seq, &s->digest);
    pbft_arm_retransmit(c);
}

void pbft_on_vote(struct bft_core *c, const struct bft_msg *m)
{
    bool prepare = m->type == BFT_MSG_PREPARE;
    if (m->view != c->view || c->in_vc) {
        if (m->view > c->view) pbft_note_view(c, m->sender, m->view);
        reject(c, BFT_REJECT_STALE_VIEW);
        return;
    }
    if (!pbft_in_window(c, m->seq)) {
        reject(c, BFT_REJECT_OUT_OF_WINDOW);
        return;
    }
    if (m->body_len != 0 || m->payload_len != 0 || !m->raw || m->raw_len != PBFT_RAW_MAX ||
        (prepare && m->sender == pbft_primary(c, m->view))) {
        reject(c, BFT_REJECT_MALFORMED);
        return;
    }
    struct pbft_slot *s = pbft_slot_get(c, m->seq);
    if (!s) {
        reject(c, BFT_REJECT_OVERLOAD); /* short memory */
        return;
    }
    if (s->view != c->view) {
        s->view = c->view;
        s->has_pp = s->sent_prepare = s->sent_commit = s->prepared = false;
        s->committed = pbft_has_proof(c, s);
        s->prep_mask = s->commit_mask = 0;
    }
    uint32_t bit = 1u << m->sender;
    uint32_t *mask = prepare ? &s->prep_mask : &s->commit_mask;
    bft_digest *dv = prepare ? s->prep_d : s->commit_d;
    if (*mask & bit) {
        bool same = pbft_deq(&dv[m->sender], &m->digest);
        reject(c, same ? BFT_REJECT_DUPLICATE : BFT_REJECT_EQUIVOCATION);
        if (same && s->executed) help_laggard(c, m->sender, s);
        return;
    }
    *mask |= bit;
    dv[m->sender] = m->digest;
    /* The voter holds the pre-prepare we lack: ask it (pbft_relay.c). */
    if (!s->has_pp) pbft_relay_on_vote(c, s, m->sender, &m->digest);
    /* Primary: earlier pre-prepares this backup has not voted for were
     * lost on the way (pbft_relay.c). */
    pbft_relay_on_backup_vote(c, m->sender, m->seq, &m->digest);
    struct pbft_raw *keep = prepare ? &s->prep_raw[m->sender]
                                    : (pbft_has_proof(c, s) ? NULL : &s->commit_raw[m->sender]);
    if (keep) {
        memcpy(keep->b, m->raw, PBFT_RAW_MAX);
        keep->len = PBFT_RAW_MAX;
    }
    check_progress(c, s);
}

/* Execute committed batches strictly in seq order, each exactly once
 * (§4.2 "executes the operation after all requests with lower sequence
 * numbers"). */
void pbft_try_execute(struct bft_core *c)
{
    bool progressed = false;
    for (;;) {
        struct pbft_slot *s = pbft_slot_peek(c, c->last_exec + 1);
        if (!s || !s->committed || s->executed || !s->has_batch) break;
        bft_digest state = {{0}};
        bool null = s->batch_len == 0;
        /* The full state digest (application + exactly-once table) is only
         * needed at checkpoints (§4.3); asking for it on every batch would
         * hash the client table on the hot path. last_state is read only
         * when last_exec is the stable checkpoint h, a multiple of K. */
        bool ckpt = s->seq % c->K == 0;
        c->io.execute(c->io.ctx, s->seq, s->view, null ? NULL : s->batch, s->batch_len, &s->digest,
                      ckpt ? &state : NULL);
        s->executed = true;
        if (!s->mon_ready) pbft_monitor_slot_free(c, s);
        assert(s->seq == c->last_exec + 1); /* in seq order: last_exec only grows */
        c->last_exec = s->seq;
        if (ckpt) c->last_state = state;
        progressed = true;
        if (s->view == c->view) c->vchg.attempts = 0; /* the view works (§4.5.2) */
        pbft_batch_mark(c, s->batch, s->batch_len, s->seq, PBFT_BATCH_EXECUTED);
        if (ckpt) pbft_checkpoint_own(c, s->seq, &state);
    }
    if (!progressed) return;
    if (c->st.active && c->last_exec >= c->st.seq) {
        c->st.active = false;
        bft_timeout_stop(&c->st.timer, &c->io);
    }
    pbft_request_timer_update(c);
    pbft_try_propose(c);
}

/* Resend our own messages for slots not yet executed here (lossy links),
 * or our VIEW-CHANGE while the view change is in progress. */
void pbft_on_retransmit(struct bft_core *c)
{
    bft_timeout_fired(&c->retx);
    bool again = c->helped;
    c->helped = false;
    for (uint32_t i = 0; i < c->n; i++) {
        c->help_budget[i] = PBFT_HELP_BUDGET;
        c->snap_budget[i] = PBFT_STATE_BYTES_TICK;
    }
    if (pbft_checkpoint_retransmit(c)) again = true;
    if (c->in_vc || pbft_behind(c)) {
        /* Pull committed entries we missed (their proof does not depend on
         * the view, so this also works during a view change). */
        pbft_fetch_request(c, -1, 1);
        again = true;
    }
    if (c->in_vc) {
        pbft_resend_own_vc(c);
    } else {
        if (pbft_relay_retransmit(c)) again = true;
        uint32_t sent = 0;
        for (uint64_t seq = pbft_scan_start(c); seq <= c->h + c->L; seq++) {
            struct pbft_slot *s = pbft_slot_peek(c, seq);
            if (!s || s->executed || s->view != c->view) continue;
            if (!(s->has_pp && s->pp.len == 0) && !s->sent_prepare && !s->sent_commit) continue;
            /* Give every message one full tick before resending it: under
             * load most slots complete well within it. */
            again = true;
            if (s->retx_age++ == 0) continue;
            bool mine = false;
            if (s->has_pp && s->pp.len == 0 && pbft_primary(c, s->view) == c->self) {
                send_pre_prepare(c, s);
                mine = true;
            }
            if (s->sent_prepare) {
                pbft_send_simple(c, -1, BFT_MSG_PREPARE, s->view, s->seq, &s->digest);
                mine = true;
            }
            if (s->sent_commit) {
                pbft_send_simple(c, -1, BFT_MSG_COMMIT, s->view, s->seq, &s->digest);
                mine = true;
            }
            if (mine) {
                again = true;
                if (++sent >= PBFT_RETRANSMIT_BURST) break;
            }
        }
    }
    if (again) pbft_arm_retransmit(c);
}
