/* View change, first half (Castro & Liskov OSDI'99 §4.4, TOCS'02 §4.4-4.5):
 * timers, <VIEW-CHANGE, v+1, n, C, P, i> construction and full validation,
 * and the liveness rules of §4.5.2 (exponential timeouts, joining on f+1).
 * NEW-VIEW is in pbft_newview.c. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/pbft/pbft_internal.h"

static void reject(struct bft_core *c, int why)
{
    c->io.reject(c->io.ctx, why);
}

/* ---- building our VIEW-CHANGE ---- */

static size_t cert_size(const struct bft_core *c, const struct pbft_cert *ct)
{
    (void)c;
    return 2 + PBFT_RAW_MAX + 1 + (size_t)pbft_popcount(ct->voters) * (2 + PBFT_RAW_MAX) + 4;
}

static void put_raw(struct wire_wr *w, const struct pbft_raw *r)
{
    pbft_emb_put(w, r->b, r->len);
}

/* Whether slot sl's certificate goes with its batch: batches fill what the
 * certificates leave of the body, in seq order; a null one has none. */
static bool vc_batch_fits(const struct pbft_slot *sl, size_t *budget)
{
    const struct pbft_cert *ct = &sl->cert;
    if (pbft_is_null(&ct->digest)) return false;
    bool have = sl->has_batch && pbft_deq(&sl->digest, &ct->digest);
    if (!have || sl->batch_len > *budget) return false;
    *budget -= sl->batch_len;
    return true;
}

/* One prepared certificate of P (§4.4): our own pre-prepare and prepare
 * are re-signed (deterministic), then the batch if it fits the budget. */
static void put_cert(struct bft_core *c, struct wire_wr *w, const struct pbft_slot *sl,
                     size_t *budget)
{
    const struct pbft_cert *ct = &sl->cert;
    struct pbft_raw tmp;
    if (ct->pp.len == 0) {
        pbft_sign_own(c, BFT_MSG_PRE_PREPARE, ct->view, sl->seq, &ct->digest, &tmp);
        put_raw(w, &tmp);
    } else {
        put_raw(w, &ct->pp);
    }
    wire_put_u8(w, (uint8_t)pbft_popcount(ct->voters));
    for (uint32_t i = 0; i < c->n; i++) {
        if (!(ct->voters & (1u << i))) continue;
        if (ct->prep[i].len == 0) {
            pbft_sign_own(c, BFT_MSG_PREPARE, ct->view, sl->seq, &ct->digest, &tmp);
            put_raw(w, &tmp);
        } else {
            put_raw(w, &ct->prep[i]);
        }
    }
    if (pbft_is_null(&ct->digest))
        pbft_vc_put_batch(w, NULL, 0, false);
    else if (vc_batch_fits(sl, budget))
        pbft_vc_put_batch(w, sl->batch, sl->batch_len, false);
    else
        pbft_vc_put_batch(w, NULL, 0, true);
}

/* C = the stable checkpoint and its 2f+1 proof; P = a prepared certificate
 * for every seq above h prepared here, with its batch so the new primary
 * can re-propose it (as much as fits in one body). Returns the body's
 * length, 0 if memory is short. */
static uint32_t build_vc_body(struct bft_core *c)
{
    size_t head = 8 + CRYPTO_DIGEST_LEN + 1;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->h_proof_mask & (1u << i)) head += 2 + c->h_proof[i].len;
    size_t fixed = head + 2;
    for (uint64_t s = c->h + 1; s <= c->h + c->L; s++) {
        struct pbft_slot *sl = pbft_slot_peek(c, s);
        if (sl && sl->cert.valid) fixed += cert_size(c, &sl->cert);
    }
    /* A certificate set that does not fit a body cannot happen with the
     * configured bounds (L x (1+2f) votes); it would be our bug. */
    assert(fixed <= BFT_BODY_MAX);
    /* own_vc grows to this body's size, not to BFT_BODY_MAX
     * (docs/architecture.md "Bounds"). */
    size_t budget = BFT_BODY_MAX - fixed, need = fixed;
    for (uint64_t s = c->h + 1; s <= c->h + c->L; s++) {
        struct pbft_slot *sl = pbft_slot_peek(c, s);
        if (sl && sl->cert.valid && vc_batch_fits(sl, &budget)) need += sl->batch_len;
    }
    if (!bft_buf_reserve(&c->vchg.own_vc, need, BFT_BODY_MAX)) return 0;
    struct wire_wr w;
    wire_wr_init(&w, c->vchg.own_vc.p, c->vchg.own_vc.cap);
    pbft_vc_put_head(&w, c->h, &c->h_digest, pbft_popcount(c->h_proof_mask));
    for (uint32_t i = 0; i < c->n; i++)
        if (c->h_proof_mask & (1u << i)) put_raw(&w, &c->h_proof[i]);
    budget = BFT_BODY_MAX - fixed;
    size_t npos = pbft_vc_begin_certs(&w);
    uint16_t ncert = 0;
    for (uint64_t s = c->h + 1; s <= c->h + c->L; s++) {
        struct pbft_slot *sl = pbft_slot_peek(c, s);
        if (!sl || !sl->cert.valid) continue;
        put_cert(c, &w, sl, &budget);
        ncert++;
    }
    pbft_vc_put_ncert(&w, npos, ncert);
    /* need counted every raw as PBFT_RAW_MAX bytes, as the budget does;
     * one recovered from the WAL may be shorter. */
    assert(!w.err && w.len <= need);
    return (uint32_t)w.len;
}

void pbft_resend_own_vc(struct bft_core *c)
{
    if (!c->in_vc || !c->vchg.own_vc_len) return;
    struct bft_msg m = {.type = BFT_MSG_VIEW_CHANGE, .view = c->view, .seq = c->h};
    m.body = c->vchg.own_vc.p;
    m.body_len = c->vchg.own_vc_len;
    c->io.broadcast(c->io.ctx, &m);
}

/* Keep our own VIEW-CHANGE in the store exactly as the others see it. */
static void store_own_vc(struct bft_core *c)
{
    struct bft_msg m = {.type = BFT_MSG_VIEW_CHANGE,
                        .sender = c->self,
                        .cluster_id = c->cfg.cluster_id,
                        .view = c->view,
                        .seq = c->h,
                        .body = c->vchg.own_vc.p,
                        .body_len = c->vchg.own_vc_len};
    /* Encoded in c->rec, grown to this message's length. */
    struct wire_wr w = pbft_rec_wr(c, bft_msg_encoded_len(&m));
    if (w.err) return; /* short memory: stored when the VIEW-CHANGE is rebuilt */
    size_t len = bft_msg_encode(&m, w.buf, w.cap);
    assert(len);
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(w.buf, &region, &rlen);
    uint8_t sig[BFT_SIG_LEN];
    c->env.sign(c->env.ctx, BFT_MSG_VIEW_CHANGE, region, rlen, sig);
    bft_msg_set_sig(w.buf, sig);
    struct bft_msg d;
    int rv = bft_msg_decode(w.buf, len, &d);
    assert(rv == BFT_E_OK);
    (void)rv;
    /* Our own message passes our own checks; OVERLOAD is short memory
     * (stored when the VIEW-CHANGE is rebuilt). */
    rv = (int)pbft_vc_store(c, &d);
    assert(rv == BFT_REJECT_NONE || rv == BFT_REJECT_DUPLICATE || rv == BFT_REJECT_OVERLOAD);
}

/* §4.4: move to view v+1, stop accepting normal-case messages, multicast
 * VIEW-CHANGE. The new-view wait timer starts once 2f+1 VIEW-CHANGEs for
 * the view are in (§4.5.2). */
void pbft_start_view_change(struct bft_core *c, uint64_t view)
{
    if (view < c->view || (view == c->view && c->in_vc)) return;
    PTRACE(c, "start view change -> %llu", (unsigned long long)view);
    c->view = view;
    c->in_vc = true;
    pbft_vc_timers_stop(c);
    pbft_persist_view(c);
    c->vchg.own_vc_len = build_vc_body(c);
    if (c->vchg.own_vc_len) store_own_vc(c); /* 0: short memory, nothing to send */
    pbft_resend_own_vc(c);
    pbft_arm_retransmit(c);
    pbft_vc_check_progress(c);
    pbft_retry_pending_nv(c);
}

void pbft_on_vc_timer(struct bft_core *c)
{
    bft_timeout_fired(&c->vchg.request);
    bft_timeout_fired(&c->vchg.wait);
    /* Request timer expired, or no NEW-VIEW in time: try the next view,
     * waiting twice as long this time (§4.5.2). */
    if (!c->in_vc && pbft_primary(c, c->view) == c->self) return;
    /* Progress since the last probe means we were catching up and may not
     * have executed the request yet; a few restarts, no more, or a primary
     * that orders everyone else's requests could censor ours forever. */
    if (!c->in_vc && c->probes > 0 && c->probe_exec != c->last_exec &&
        c->probe_resets < PBFT_PROBE_RESETS) {
        c->probes = 0;
        c->probe_resets++;
    }
    /* Fetching state means we are behind and cannot judge the primary;
     * still, a transfer that never completes delays suspicion only boundedly. */
    bool catching_up = c->st.active && c->probes < 4 * PBFT_PROBES;
    if (!c->in_vc && (catching_up || c->probes < PBFT_PROBES)) {
        /* Before suspecting the primary, ask whether the others executed
         * past us (we may have missed their messages): a short probe. */
        c->probes++;
        c->probe_exec = c->last_exec;
        pbft_fetch_request(c, -1, 1);
        bft_timeout_restart(&c->vchg.request, &c->io, c->retransmit_ms);
        return;
    }
    c->probes = 0;
    c->watching = false;
    c->vchg.attempts++;
    pbft_start_view_change(c, c->view + 1);
}

void pbft_vc_check_progress(struct bft_core *c)
{
    if (!c->in_vc) return;
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if (c->vchg.vcs[i].valid && c->vchg.vcs[i].view == c->view) k++;
    if (k >= 2 * c->f + 1) bft_timeout_start(&c->vchg.wait, &c->io, pbft_timeout_ms(c));
    if (k >= 2 * c->f + 1 && pbft_primary(c, c->view) == c->self) pbft_try_new_view(c);
}

/* ---- validating a VIEW-CHANGE ---- */

/* C (§4.4): 2f+1 CHECKPOINTs for (h, h_digest) from distinct replicas
 * (the count was checked by the decoder). */
static enum bft_reject vc_check_proof(struct bft_core *c, const struct pbft_vc_wire *w, bool verify)
{
    uint32_t seen = 0;
    for (uint32_t i = 0; i < w->proof.count; i++) {
        const struct bft_msg *e = &w->proof.m[i];
        enum bft_reject why = pbft_emb_check(c, e, verify);
        if (why != BFT_REJECT_NONE) return why;
        if (e->seq != w->h || !pbft_deq(&e->digest, &w->h_digest) || (seen & (1u << e->sender)))
            return BFT_REJECT_MALFORMED;
        seen |= 1u << e->sender;
    }
    return BFT_REJECT_NONE;
}

/* One prepared certificate of P (§4.2 prepared(m, v, n, i)): a PRE-PREPARE
 * of an older view signed by its primary, above the previous one and in
 * the window above h, and 2f PREPAREs for it from distinct backups. */
static enum bft_reject vc_check_cert(struct bft_core *c, uint64_t vc_view, uint64_t h,
                                     uint64_t prev, const struct pbft_vc_wire_cert *ct, bool verify)
{
    const struct bft_msg *pp = &ct->pp;
    enum bft_reject why = pbft_emb_check(c, pp, verify);
    if (why != BFT_REJECT_NONE) return why;
    if (pp->view >= vc_view || pp->sender != pbft_primary(c, pp->view) || pp->seq <= prev ||
        pp->seq - h > c->L)
        return BFT_REJECT_MALFORMED;
    uint32_t voters = 0;
    for (uint32_t j = 0; j < ct->prep.count; j++) {
        const struct bft_msg *e = &ct->prep.m[j];
        why = pbft_emb_check(c, e, verify);
        if (why != BFT_REJECT_NONE) return why;
        if (e->view != pp->view || e->seq != pp->seq || !pbft_deq(&e->digest, &pp->digest) ||
            e->sender == pp->sender || (voters & (1u << e->sender)))
            return BFT_REJECT_MALFORMED;
        voters |= 1u << e->sender;
    }
    if (verify && ct->batch) {
        struct bft_batch_iter it;
        bft_digest bd;
        bft_batch_digest(ct->batch, ct->batch_len, &bd);
        if (!pbft_deq(&bd, &pp->digest) ||
            bft_batch_iter_init(&it, ct->batch, ct->batch_len) != BFT_E_OK)
            return BFT_REJECT_MALFORMED;
    }
    return BFT_REJECT_NONE;
}

/* Validate the VIEW-CHANGE body of m; with out, load it (pointers into m). */
static enum bft_reject vc_parse(struct bft_core *c, const struct bft_msg *m, struct pbft_vc *out,
                                bool verify)
{
    struct pbft_limits lim = pbft_limits_of(c);
    struct pbft_vc_wire w;
    if (pbft_vc_decode(m->body, m->body_len, &lim, &w) != BFT_REJECT_NONE)
        return BFT_REJECT_MALFORMED;
    enum bft_reject why = vc_check_proof(c, &w, verify);
    if (why != BFT_REJECT_NONE) return why;
    uint64_t prev = w.h;
    struct pbft_vc_wire_cert ct;
    for (uint32_t i = 0; pbft_vc_next_cert(&w, &ct); i++) {
        why = vc_check_cert(c, m->view, w.h, prev, &ct, verify);
        if (why != BFT_REJECT_NONE) return why;
        prev = ct.pp.seq;
        if (out) {
            struct pbft_vc_cert *oc = &out->certs[i];
            oc->seq = ct.pp.seq;
            oc->view = ct.pp.view;
            oc->digest = ct.pp.digest;
            oc->batch = ct.batch;
            oc->batch_len = ct.batch ? ct.batch_len : 0;
        }
    }
    if (out) {
        out->h = w.h;
        out->h_digest = w.h_digest;
        out->nproof = w.proof.count;
        for (uint32_t i = 0; i < w.proof.count; i++) {
            out->proof[i] = w.proof.m[i].raw;
            out->proof_len[i] = (uint16_t)w.proof.m[i].raw_len;
        }
        out->ncert = w.ncert;
    }
    return BFT_REJECT_NONE;
}

enum bft_reject pbft_vc_load(struct bft_core *c, const struct bft_msg *m, struct pbft_vc *v)
{
    if (m->type != BFT_MSG_VIEW_CHANGE || m->payload_len != 0 || !m->raw || m->sender >= c->n)
        return BFT_REJECT_MALFORMED;
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(m->raw, &region, &rlen);
    bft_digest id;
    crypto_sha256(region, rlen, id.b);
    enum bft_reject why = vc_parse(c, m, NULL, true);
    if (why != BFT_REJECT_NONE) return why;
    /* Valid: keep a copy and re-parse it so pointers refer to our copy. */
    if (m->raw_len > v->cap) {
        uint8_t *p = realloc(v->raw, m->raw_len);
        if (!p) return BFT_REJECT_OVERLOAD;
        v->raw = p;
        v->cap = m->raw_len;
    }
    memcpy(v->raw, m->raw, m->raw_len);
    v->len = m->raw_len;
    struct bft_msg copy;
    if (bft_msg_decode(v->raw, v->len, &copy) != BFT_E_OK) {
        v->valid = false;
        return BFT_REJECT_MALFORMED;
    }
    why = vc_parse(c, &copy, v, false);
    assert(why == BFT_REJECT_NONE); /* our copy of what just passed */
    v->valid = true;
    v->view = m->view;
    v->id = id;
    return BFT_REJECT_NONE;
}

enum bft_reject pbft_vc_store(struct bft_core *c, const struct bft_msg *m)
{
    if (m->sender >= c->n) return BFT_REJECT_MALFORMED;
    struct pbft_vc *v = &c->vchg.vcs[m->sender];
    if (v->valid && v->view > m->view) return BFT_REJECT_STALE_VIEW;
    if (v->valid && v->view == m->view && m->raw) {
        const uint8_t *region;
        size_t rlen;
        bft_msg_signed_region(m->raw, &region, &rlen);
        bft_digest id;
        crypto_sha256(region, rlen, id.b);
        if (pbft_deq(&v->id, &id)) return BFT_REJECT_DUPLICATE;
    }
    return pbft_vc_load(c, m, v);
}

/* §4.5.2: f+1 VIEW-CHANGEs for views above ours mean at least one correct
 * replica timed out; join the highest view that f+1 of them reached. */
static void maybe_join(struct bft_core *c)
{
    uint64_t views[BFT_MAX_REPLICAS];
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if (i != c->self && c->vchg.vcs[i].valid && c->vchg.vcs[i].view > c->view)
            views[k++] = c->vchg.vcs[i].view;
    if (k < c->f + 1) return;
    for (uint32_t i = 1; i < k; i++) /* sort descending (k <= 16) */
        for (uint32_t j = i; j > 0 && views[j] > views[j - 1]; j--) {
            uint64_t t = views[j];
            views[j] = views[j - 1];
            views[j - 1] = t;
        }
    c->vchg.attempts++;
    pbft_start_view_change(c, views[c->f]);
}

/* Liveness for a replica left in an older view (it missed the VIEW-CHANGEs
 * and the NEW-VIEW, e.g. behind a partition, and a primary never times
 * out): f+1 replicas sending PRE-PREPAREs, PREPAREs or COMMITs in view v
 * include a correct one, so v was entered with a valid NEW-VIEW. Moving
 * up is always safe (§4.4: a VIEW-CHANGE only promises to leave older
 * views); our VIEW-CHANGE for v makes its primary resend the NEW-VIEW,
 * which we validate as usual. A single (possibly faulty) replica cannot
 * move us: it takes f+1. One u64 per replica, so bounded. */
void pbft_note_view(struct bft_core *c, uint32_t from, uint64_t view)
{
    if (from >= c->n || view <= c->vchg.seen_view[from]) return;
    c->vchg.seen_view[from] = view;
    uint64_t views[BFT_MAX_REPLICAS];
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n; i++)
        if (i != c->self && c->vchg.seen_view[i] > c->view) views[k++] = c->vchg.seen_view[i];
    if (k < c->f + 1) return;
    for (uint32_t i = 1; i < k; i++) /* sort descending (k <= 16) */
        for (uint32_t j = i; j > 0 && views[j] > views[j - 1]; j--) {
            uint64_t t = views[j];
            views[j] = views[j - 1];
            views[j - 1] = t;
        }
    PTRACE(c, "f+1 replicas work in view %llu: join it", (unsigned long long)views[c->f]);
    pbft_start_view_change(c, views[c->f]);
}

static void resend_new_view(struct bft_core *c, uint32_t to)
{
    if (c->vchg.nv_sent_view != c->view || !c->vchg.nv_sent.p || c->help_budget[to] == 0) return;
    c->help_budget[to]--;
    c->helped = true;
    struct bft_msg m = {.type = BFT_MSG_NEW_VIEW, .view = c->view, .seq = c->vchg.nv_sent_seq};
    m.body = c->vchg.nv_sent.p;
    m.body_len = c->vchg.nv_sent_len;
    c->io.send(c->io.ctx, to, &m);
    pbft_arm_retransmit(c);
}

void pbft_on_view_change(struct bft_core *c, const struct bft_msg *m)
{
    if (m->view < c->view || (m->view == c->view && !c->in_vc)) {
        /* A replica still asking for the view we already run missed the
         * NEW-VIEW: the primary sends it again. */
        if (m->view == c->view && pbft_primary(c, c->view) == c->self)
            resend_new_view(c, m->sender);
        reject(c, BFT_REJECT_STALE_VIEW);
        return;
    }
    enum bft_reject why = pbft_vc_store(c, m);
    if (why != BFT_REJECT_NONE) {
        reject(c, why);
        return;
    }
    maybe_join(c);
    pbft_vc_check_progress(c);
    pbft_retry_pending_nv(c);
}
