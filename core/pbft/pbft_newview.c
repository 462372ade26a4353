/* View change, second half (Castro & Liskov OSDI'99 §4.4): the new primary
 * computes O from 2f+1 VIEW-CHANGEs and multicasts <NEW-VIEW, v+1, V, O>;
 * every backup recomputes O from the same VIEW-CHANGEs and refuses a
 * NEW-VIEW that differs, then everyone enters v+1. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/pbft/pbft_internal.h"

static void reject(struct bft_core *c, int why)
{
    c->io.reject(c->io.ctx, why);
}

/* min-s = the latest stable checkpoint in V; max-s = the highest prepared
 * seq in V; for each n in (min-s, max-s]: the digest of the certificate
 * with the highest view, or null (§4.4). `set` is in ascending replica
 * order, so the result is the same at every replica. */
void pbft_nv_compute(const struct bft_core *c, const pbft_vc_set set, uint32_t nset,
                     uint64_t *min_s, bft_digest *min_d, int *min_src, uint64_t *max_s,
                     bft_digest *dig, int *src_vc, uint32_t *src_cert)
{
    uint64_t lo = 0, hi = 0;
    int lo_src = 0;
    for (uint32_t i = 0; i < nset; i++) {
        const struct pbft_vc *v = set[i];
        if (v->h > lo || i == 0) {
            lo = v->h;
            lo_src = (int)i;
        }
    }
    hi = lo;
    for (uint32_t i = 0; i < nset; i++) {
        const struct pbft_vc *v = set[i];
        for (uint32_t j = 0; j < v->ncert; j++)
            if (v->certs[j].seq > hi) hi = v->certs[j].seq;
    }
    assert(hi - lo <= c->L);
    for (uint64_t k = 0; k < hi - lo; k++) {
        src_vc[k] = -1;
        src_cert[k] = 0;
        memset(dig[k].b, 0, sizeof dig[k].b);
    }
    for (uint32_t i = 0; i < nset; i++) {
        const struct pbft_vc *v = set[i];
        for (uint32_t j = 0; j < v->ncert; j++) {
            const struct pbft_vc_cert *ct = &v->certs[j];
            if (ct->seq <= lo) continue;
            uint64_t k = ct->seq - lo - 1;
            if (src_vc[k] >= 0 && set[src_vc[k]]->certs[src_cert[k]].view >= ct->view) continue;
            src_vc[k] = (int)i;
            src_cert[k] = j;
            dig[k] = ct->digest;
        }
    }
    *min_s = lo;
    *min_d = set[lo_src]->h_digest;
    *min_src = lo_src;
    *max_s = hi;
}

static void persist_nv(struct bft_core *c)
{
    /* Fits the floor c->rec always holds (pbft_rec_floor). */
    struct wire_wr w = pbft_rec_wr(c, pbft_rec_floor(c));
    wire_put_le(&w, PBFT_REC_NV, 1);
    wire_put_le(&w, c->vchg.nv_view, 8);
    wire_put_le(&w, c->vchg.nv_min, 8);
    wire_put_le(&w, c->vchg.nv_max, 8);
    for (uint64_t k = 0; k < c->vchg.nv_max - c->vchg.nv_min; k++)
        wire_put_bytes(&w, c->vchg.nv_dig[k].b, CRYPTO_DIGEST_LEN);
    assert(!w.err);
    c->io.persist(c->io.ctx, w.buf, w.len);
}

/* Adopt the checkpoint proven in V (C of the VIEW-CHANGE with the highest
 * h, §4.4) when it is newer than ours; fetch its state if we are behind. */
static void adopt_checkpoint(struct bft_core *c, const struct pbft_vc *v, uint64_t min_s,
                             const bft_digest *min_d)
{
    struct pbft_raw proof[BFT_MAX_REPLICAS];
    uint32_t mask = 0;
    for (uint32_t i = 0; i < v->nproof; i++) {
        struct bft_msg e;
        /* Checked when the VIEW-CHANGE was stored (pbft_vc_load). */
        if (pbft_emb_decode(v->proof[i], v->proof_len[i], BFT_MSG_CHECKPOINT, &e) !=
                BFT_REJECT_NONE ||
            e.sender >= c->n)
            continue;
        mask |= 1u << e.sender;
        proof[e.sender].len = v->proof_len[i];
        memcpy(proof[e.sender].b, v->proof[i], v->proof_len[i]);
    }
    pbft_make_stable(c, min_s, min_d, proof, mask, true);
    if (c->last_exec < min_s) pbft_state_note(c, min_s, min_d, proof, mask, true);
}

/* The new primary re-proposes O as ordinary PRE-PREPAREs in the new view
 * (§4.4), with the batch we hold or the one a VIEW-CHANGE carried. */
static void repropose_o(struct bft_core *c, const pbft_vc_set set, uint64_t min_s, uint64_t max_s,
                        const int *srcv, const uint32_t *srcc)
{
    for (uint64_t seq = (min_s > c->h ? min_s : c->h) + 1; seq <= max_s; seq++) {
        uint64_t k = seq - min_s - 1;
        const bft_digest *d = &c->vchg.nv_dig[k];
        const uint8_t *batch = NULL;
        uint32_t len = 0;
        if (!pbft_is_null(d)) {
            struct pbft_slot *s = pbft_slot_peek(c, seq);
            if (s && s->has_batch && s->batch_len && pbft_deq(&s->digest, d)) {
                batch = s->batch;
                len = s->batch_len;
            } else if (srcv[k] >= 0 && set[srcv[k]]->certs[srcc[k]].batch) {
                batch = set[srcv[k]]->certs[srcc[k]].batch;
                len = set[srcv[k]]->certs[srcc[k]].batch_len;
            } else {
                continue; /* nobody sent us the batch: cannot re-propose */
            }
        }
        pbft_propose_at(c, seq, d, batch, len);
        struct pbft_slot *s = pbft_slot_peek(c, seq);
        if (s) pbft_batch_mark(c, s->batch, s->batch_len, seq, PBFT_BATCH_PROPOSED);
    }
    c->next_seq = (max_s > c->h ? max_s : c->h) + 1;
    if (c->next_seq <= c->last_exec) c->next_seq = c->last_exec + 1;
}

void pbft_enter_new_view(struct bft_core *c, uint64_t view, const pbft_vc_set set, uint32_t nset)
{
    int *srcv = malloc(c->L * sizeof(int));
    uint32_t *srcc = malloc(c->L * sizeof(uint32_t));
    if (!srcv || !srcc) {
        free(srcv);
        free(srcc);
        return; /* out of memory: stay in view change; the timer retries */
    }
    uint64_t min_s, max_s;
    bft_digest min_d;
    int min_src;
    pbft_nv_compute(c, set, nset, &min_s, &min_d, &min_src, &max_s, c->vchg.nv_dig, srcv, srcc);

    c->view = view;
    PTRACE(c, "enter new view %llu min %llu max %llu", (unsigned long long)view,
           (unsigned long long)min_s, (unsigned long long)max_s);
    c->in_vc = false;
    pbft_vc_timers_stop(c);
    c->view_changes++;
    c->vchg.nv_view = view;
    c->vchg.nv_min = min_s;
    c->vchg.nv_max = max_s;
    for (uint32_t i = 0; i < c->n; i++) /* waiting NEW-VIEWs up to this view are moot */
        if (c->vchg.nv_pending[i].view <= view) c->vchg.nv_pending[i].len = 0;
    pbft_persist_view(c);
    persist_nv(c);

    if (min_s > c->h) adopt_checkpoint(c, set[min_src], min_s, &min_d);
    /* Votes of older views are void; certificates and batches stay. */
    for (uint32_t i = 0; i < c->L; i++) {
        struct pbft_slot *s = pbft_slot_at(c, i);
        if (!s || !s->seq) continue;
        s->view = view;
        s->has_pp = s->sent_prepare = s->sent_commit = s->prepared = false;
        s->committed = pbft_has_proof(c, s); /* a certificate outlives its view */
        s->prep_mask = s->commit_mask = 0;
        s->pp.len = 0;
    }
    pbft_pending_unmark_all(&c->pend);
    if (pbft_primary(c, view) == c->self) repropose_o(c, set, min_s, max_s, srcv, srcc);
    free(srcv);
    free(srcc);
    pbft_request_timer_update(c);
    pbft_try_propose(c);
    pbft_arm_retransmit(c);
}

/* Pick 2f+1 VIEW-CHANGEs for our view, ours included, ascending ids. */
static uint32_t pick_set(const struct bft_core *c, pbft_vc_set set, uint32_t *ids)
{
    uint32_t k = 0;
    uint32_t others = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        bool mine = i == c->self;
        if (!c->vchg.vcs[i].valid || c->vchg.vcs[i].view != c->view) continue;
        if (!mine && others == 2 * c->f) continue; /* leave room for ours */
        if (!mine) others++;
        ids[k] = i;
        set[k++] = &c->vchg.vcs[i];
    }
    return k;
}

void pbft_try_new_view(struct bft_core *c)
{
    if (!c->in_vc || pbft_primary(c, c->view) != c->self || c->vchg.nv_sent_view == c->view) return;
    if (!c->vchg.vcs[c->self].valid || c->vchg.vcs[c->self].view != c->view) return;
    pbft_vc_set set;
    uint32_t ids[BFT_MAX_REPLICAS];
    uint32_t nset = pick_set(c, set, ids);
    if (nset < 2 * c->f + 1) return;
    /* nv_sent grows to at most this body's size (docs/architecture.md
     * "Bounds"), before O is computed into nv_dig: with L digests (the
     * most O has) and every VIEW-CHANGE embedded, or BFT_BODY_MAX. */
    size_t need = pbft_nv_head_len(nset, c->L);
    for (uint32_t i = 0; i < nset; i++)
        need += 4 + set[i]->len;
    if (need > BFT_BODY_MAX) need = BFT_BODY_MAX;
    int *srcv = malloc(c->L * sizeof(int));
    uint32_t *srcc = malloc(c->L * sizeof(uint32_t));
    if (!srcv || !srcc || !bft_buf_reserve(&c->vchg.nv_sent, need, BFT_BODY_MAX)) {
        free(srcv);
        free(srcc);
        return;
    }
    uint64_t min_s, max_s;
    bft_digest min_d;
    int min_src;
    pbft_nv_compute(c, set, nset, &min_s, &min_d, &min_src, &max_s, c->vchg.nv_dig, srcv, srcc);
    free(srcv);
    free(srcc);
    struct pbft_nv_wire nv = {.min_s = min_s, .max_s = max_s, .min_d = min_d, .nref = nset};
    for (uint32_t i = 0; i < nset; i++) {
        nv.ref_from[i] = ids[i];
        nv.ref_id[i] = set[i]->id;
    }
    nv.ndig = (uint32_t)(max_s - min_s);
    nv.digs = c->vchg.nv_dig[0].b;
    /* Embed the VIEW-CHANGEs that fit one body; the rest are referenced
     * only (backups use the copy they received directly). */
    size_t len = pbft_nv_head_len(nset, nv.ndig);
    for (uint32_t i = 0; i < nset; i++) {
        const struct pbft_vc *v = set[i];
        if (len + 4 + v->len > BFT_BODY_MAX) continue;
        nv.emb[nv.nemb].raw = v->raw;
        nv.emb[nv.nemb++].raw_len = v->len;
        len += 4 + v->len;
    }
    struct wire_wr w;
    wire_wr_init(&w, c->vchg.nv_sent.p, c->vchg.nv_sent.cap);
    pbft_nv_encode(&w, &nv);
    assert(!w.err && w.len == len); /* nv_sent was reserved for it */
    c->vchg.nv_sent_len = (uint32_t)w.len;
    c->vchg.nv_sent_view = c->view;
    c->vchg.nv_sent_seq = max_s;
    struct bft_msg m = {.type = BFT_MSG_NEW_VIEW, .view = c->view, .seq = max_s};
    m.body = c->vchg.nv_sent.p;
    m.body_len = c->vchg.nv_sent_len;
    c->io.broadcast(c->io.ctx, &m);
    pbft_enter_new_view(c, c->view, set, nset);
}

/* Keep a NEW-VIEW until the VIEW-CHANGEs it names arrive, in its sender's
 * own slot (the sender is the primary of m->view, checked by the caller):
 * a newer one from the same primary replaces it, nobody else's does. */
static void keep_pending(struct bft_core *c, const struct bft_msg *m)
{
    struct pbft_nv_wait *w = &c->vchg.nv_pending[m->sender];
    if (w->len && w->view > m->view) return;
    if (m->raw_len > w->cap) {
        uint8_t *p = realloc(w->buf, m->raw_len);
        if (!p) return;
        w->buf = p;
        w->cap = m->raw_len;
    }
    memcpy(w->buf, m->raw, m->raw_len);
    w->len = m->raw_len;
    w->view = m->view;
}

/* Store the VIEW-CHANGEs the NEW-VIEW carries (each checked like one
 * received directly); a VIEW-CHANGE its sender already moved past is kept
 * aside in nvvcs. BFT_REJECT_NONE if all are fine. */
static enum bft_reject nv_store_embedded(struct bft_core *c, const struct pbft_nv_wire *nv)
{
    for (uint32_t i = 0; i < nv->nemb; i++) {
        const struct bft_msg *v = &nv->emb[i];
        if (v->cluster_id != c->cfg.cluster_id) return BFT_REJECT_WRONG_CLUSTER;
        if (v->sender == c->self) continue; /* we hold our own */
        const uint8_t *region;
        size_t rlen;
        bft_msg_signed_region(v->raw, &region, &rlen);
        if (!c->env.verify(c->env.ctx, v->sender, BFT_MSG_VIEW_CHANGE, region, rlen, v->sig))
            return BFT_REJECT_BAD_SIGNATURE;
        enum bft_reject why = pbft_vc_store(c, v);
        if (why == BFT_REJECT_STALE_VIEW) /* its sender moved on: keep it aside */
            why = pbft_vc_load(c, v, &c->vchg.nvvcs[v->sender]);
        if (why != BFT_REJECT_NONE && why != BFT_REJECT_DUPLICATE) return why;
    }
    return BFT_REJECT_NONE;
}

/* V: the VIEW-CHANGEs the NEW-VIEW names, by sender and digest; false if
 * one has not arrived yet. */
static bool nv_find_set(struct bft_core *c, const struct pbft_nv_wire *nv, uint64_t view,
                        pbft_vc_set set)
{
    for (uint32_t i = 0; i < nv->nref; i++) {
        const struct pbft_vc *cand[2] = {&c->vchg.vcs[nv->ref_from[i]],
                                         &c->vchg.nvvcs[nv->ref_from[i]]};
        set[i] = NULL;
        for (int j = 0; j < 2 && !set[i]; j++)
            if (cand[j]->valid && cand[j]->view == view && pbft_deq(&cand[j]->id, &nv->ref_id[i]))
                set[i] = cand[j];
        if (!set[i]) return false;
    }
    return true;
}

/* Recompute O from V (§4.4) and compare with the primary's. OVERLOAD if
 * memory for the computation is short: that is ours, not the primary's
 * fault. */
static enum bft_reject nv_check_o(struct bft_core *c, const struct pbft_nv_wire *nv,
                                  const pbft_vc_set set)
{
    int *srcv = malloc(c->L * sizeof(int));
    uint32_t *srcc = malloc(c->L * sizeof(uint32_t));
    bft_digest *mine = malloc(c->L * sizeof(bft_digest));
    enum bft_reject why = BFT_REJECT_OVERLOAD;
    if (srcv && srcc && mine) {
        uint64_t lo, hi;
        bft_digest lo_d;
        int lo_src;
        pbft_nv_compute(c, set, nv->nref, &lo, &lo_d, &lo_src, &hi, mine, srcv, srcc);
        bool same =
            lo == nv->min_s && hi == nv->max_s && pbft_deq(&lo_d, &nv->min_d) &&
            (nv->ndig == 0 || memcmp(mine, nv->digs, (size_t)nv->ndig * CRYPTO_DIGEST_LEN) == 0);
        why = same ? BFT_REJECT_NONE : BFT_REJECT_EQUIVOCATION;
    }
    free(srcv);
    free(srcc);
    free(mine);
    return why;
}

void pbft_on_new_view(struct bft_core *c, const struct bft_msg *m)
{
    if (m->view < c->view || (m->view == c->view && !c->in_vc)) {
        reject(c, m->view < c->view ? BFT_REJECT_STALE_VIEW : BFT_REJECT_DUPLICATE);
        return;
    }
    if (m->sender != pbft_primary(c, m->view) || m->payload_len != 0 || !m->raw) {
        reject(c, BFT_REJECT_MALFORMED);
        return;
    }
    struct pbft_limits lim = pbft_limits_of(c);
    struct pbft_nv_wire nv;
    enum bft_reject why = pbft_nv_decode(m, &lim, &nv);
    if (why == BFT_REJECT_NONE) why = nv_store_embedded(c, &nv);
    if (why != BFT_REJECT_NONE) {
        reject(c, why);
        return;
    }
    pbft_vc_set set;
    if (!nv_find_set(c, &nv, m->view, set)) {
        keep_pending(c, m); /* wait for the VIEW-CHANGEs it names */
        return;
    }
    why = nv_check_o(c, &nv, set);
    PTRACE(c, "new view %llu from %u same %d", (unsigned long long)m->view, m->sender,
           why == BFT_REJECT_NONE);
    if (why != BFT_REJECT_NONE) {
        reject(c, why);
        return;
    }
    pbft_enter_new_view(c, m->view, set, nv.nref);
    pbft_try_execute(c);
}

void pbft_retry_pending_nv(struct bft_core *c)
{
    for (uint32_t i = 0; i < c->n; i++) {
        struct pbft_nv_wait *w = &c->vchg.nv_pending[i];
        if (!w->len) continue;
        /* Take it out: processing it may keep it again (still waiting). */
        uint8_t *buf = w->buf;
        uint32_t len = w->len, cap = w->cap;
        *w = (struct pbft_nv_wait){0};
        struct bft_msg m;
        if (bft_msg_decode(buf, len, &m) == BFT_E_OK &&
            (m.view > c->view || (m.view == c->view && c->in_vc)))
            pbft_on_new_view(c, &m);
        if (!w->buf) {
            w->buf = buf; /* keep the buffer for next time */
            w->cap = cap;
        } else {
            free(buf);
        }
    }
}
