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
        wire_put_bytes(&w, c->vchg.nv_dig[k].b, 32);
    assert(!w.err);
    c->io.persist(c->io.ctx, w.buf, w.len);
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

    /* Adopt the checkpoint proven in V if it is newer than ours. */
    if (min_s > c->h) {
        const struct pbft_vc *v = set[min_src];
        struct pbft_raw proof[BFT_MAX_REPLICAS];
        uint32_t mask = 0;
        for (uint32_t i = 0; i < v->nproof; i++) {
            uint32_t from = (uint32_t)wire_le_load(v->proof[i] + 8, 4);
            if (from >= c->n || v->proof_len[i] != PBFT_RAW_MAX) continue;
            mask |= 1u << from;
            proof[from].len = v->proof_len[i];
            memcpy(proof[from].b, v->proof[i], v->proof_len[i]);
        }
        pbft_make_stable(c, min_s, &min_d, proof, mask, true);
        if (c->last_exec < min_s) pbft_state_note(c, min_s, &min_d, proof, mask, true);
    }
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
    if (pbft_primary(c, view) == c->self) {
        /* Re-propose O as ordinary PRE-PREPAREs in the new view. */
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
    size_t need = 8 + 32 + 8 + 1 + (size_t)nset * (4 + 32) + 2 + (size_t)c->L * 32 + 1;
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
    struct wire_wr w = {.buf = c->vchg.nv_sent.p, .cap = c->vchg.nv_sent.cap};
    wire_put_le(&w, min_s, 8);
    wire_put_bytes(&w, min_d.b, 32);
    wire_put_le(&w, max_s, 8);
    wire_put_le(&w, nset, 1);
    for (uint32_t i = 0; i < nset; i++) {
        wire_put_le(&w, ids[i], 4);
        wire_put_bytes(&w, set[i]->id.b, 32);
    }
    wire_put_le(&w, max_s - min_s, 2);
    for (uint64_t k = 0; k < max_s - min_s; k++)
        wire_put_bytes(&w, c->vchg.nv_dig[k].b, 32);
    size_t epos = w.len;
    wire_put_le(&w, 0, 1);
    assert(!w.err);
    uint8_t nemb = 0;
    for (uint32_t i = 0; i < nset; i++) {
        const struct pbft_vc *v = set[i];
        if (w.len + 4 + v->len > BFT_BODY_MAX) continue; /* referenced only */
        wire_put_le(&w, v->len, 4);
        wire_put_bytes(&w, v->raw, v->len);
        nemb++;
    }
    assert(!w.err);
    w.buf[epos] = nemb;
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
    struct wire_rd r = {.p = m->body, .len = m->body_len};
    uint64_t min_s = wire_get_le(&r, 8);
    const uint8_t *min_d = wire_get_ptr(&r, 32);
    uint64_t max_s = wire_get_le(&r, 8);
    uint32_t nref = (uint32_t)wire_get_le(&r, 1);
    if (r.err || nref < 2 * c->f + 1 || nref > c->n || max_s < min_s || max_s - min_s > c->L) {
        reject(c, BFT_REJECT_MALFORMED);
        return;
    }
    uint32_t from_ids[BFT_MAX_REPLICAS];
    const uint8_t *ids[BFT_MAX_REPLICAS];
    for (uint32_t i = 0; i < nref; i++) {
        uint32_t from = (uint32_t)wire_get_le(&r, 4);
        ids[i] = wire_get_ptr(&r, 32);
        if (r.err || from >= c->n || (i > 0 && from <= from_ids[i - 1])) {
            reject(c, BFT_REJECT_MALFORMED);
            return;
        }
        from_ids[i] = from;
    }
    uint32_t ndig = (uint32_t)wire_get_le(&r, 2);
    const uint8_t *digs = wire_get_ptr(&r, (size_t)ndig * 32);
    uint32_t nemb = (uint32_t)wire_get_le(&r, 1);
    if (r.err || ndig != max_s - min_s || nemb > c->n) {
        reject(c, BFT_REJECT_MALFORMED);
        return;
    }
    for (uint32_t i = 0; i < nemb; i++) {
        uint32_t len = (uint32_t)wire_get_le(&r, 4);
        const uint8_t *p = wire_get_ptr(&r, len);
        struct bft_msg v;
        if (!p || bft_msg_decode(p, len, &v) != BFT_E_OK || v.type != BFT_MSG_VIEW_CHANGE ||
            v.view != m->view || v.sender >= c->n) {
            reject(c, BFT_REJECT_MALFORMED);
            return;
        }
        if (v.cluster_id != c->cfg.cluster_id) {
            reject(c, BFT_REJECT_WRONG_CLUSTER);
            return;
        }
        if (v.sender == c->self) continue; /* we hold our own */
        const uint8_t *region;
        size_t rlen;
        bft_msg_signed_region(v.raw, &region, &rlen);
        if (!c->env.verify(c->env.ctx, v.sender, BFT_MSG_VIEW_CHANGE, region, rlen, v.sig)) {
            reject(c, BFT_REJECT_BAD_SIGNATURE);
            return;
        }
        int why = pbft_vc_store(c, &v);
        if (why == BFT_REJECT_STALE_VIEW) /* its sender moved on: keep it aside */
            why = pbft_vc_load(c, &v, &c->vchg.nvvcs[v.sender]);
        if (why >= 0 && why != BFT_REJECT_DUPLICATE) {
            reject(c, why);
            return;
        }
    }
    if (r.off != r.len) {
        reject(c, BFT_REJECT_MALFORMED);
        return;
    }
    pbft_vc_set set;
    for (uint32_t i = 0; i < nref; i++) {
        const struct pbft_vc *cand[2] = {&c->vchg.vcs[from_ids[i]], &c->vchg.nvvcs[from_ids[i]]};
        set[i] = NULL;
        for (int j = 0; j < 2 && !set[i]; j++)
            if (cand[j]->valid && cand[j]->view == m->view &&
                memcmp(cand[j]->id.b, ids[i], 32) == 0)
                set[i] = cand[j];
        if (!set[i]) {
            keep_pending(c, m); /* wait for the VIEW-CHANGEs it names */
            return;
        }
    }
    /* Recompute O from V and refuse a primary that lies about it. */
    int *srcv = malloc(c->L * sizeof(int));
    uint32_t *srcc = malloc(c->L * sizeof(uint32_t));
    bft_digest *mine = malloc(c->L * sizeof(bft_digest));
    bool same = false;
    if (srcv && srcc && mine) {
        uint64_t lo, hi;
        bft_digest lo_d;
        int lo_src;
        pbft_nv_compute(c, set, nref, &lo, &lo_d, &lo_src, &hi, mine, srcv, srcc);
        same = lo == min_s && hi == max_s && memcmp(lo_d.b, min_d, 32) == 0 &&
               (ndig == 0 || memcmp(mine, digs, (size_t)ndig * 32) == 0);
    }
    free(srcv);
    free(srcc);
    free(mine);
    PTRACE(c, "new view %llu from %u same %d", (unsigned long long)m->view, m->sender, same);
    if (!same) {
        reject(c, BFT_REJECT_EQUIVOCATION);
        return;
    }
    pbft_enter_new_view(c, m->view, set, nref);
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
