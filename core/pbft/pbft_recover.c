/* Recovery from our own WAL records (layouts in pbft_internal.h): rebuild
 * what this replica promised (view, accepted pre-prepares, own prepares and
 * commits with their certificates, checkpoints, the last NEW-VIEW's O) so a
 * restarted replica never contradicts itself (TOCS'02 §4.6 "stable log").
 * The application restarts from our newest snapshot: at the stable
 * checkpoint, or below it and then our own kept entries (KEPT records)
 * up to it, or else by state transfer from peers. */
#include <assert.h>
#include <string.h>

#include "core/pbft/pbft_internal.h"

static bool get_raw(struct wire_rd *r, struct pbft_raw *out)
{
    uint16_t len = (uint16_t)wire_get_le(r, 2);
    const uint8_t *p = wire_get_ptr(r, len);
    if (!p || len > PBFT_RAW_MAX) return false;
    out->len = len;
    memcpy(out->b, p, len);
    return true;
}

static void recover_pp(struct bft_core *c, struct wire_rd *r)
{
    uint64_t view = wire_get_le(r, 8), seq = wire_get_le(r, 8);
    bft_digest d;
    const uint8_t *dp = wire_get_ptr(r, CRYPTO_DIGEST_LEN);
    struct pbft_raw pp;
    if (!dp || !get_raw(r, &pp)) return;
    memcpy(d.b, dp, CRYPTO_DIGEST_LEN);
    uint32_t blen = (uint32_t)wire_get_le(r, 4);
    const uint8_t *batch = wire_get_ptr(r, blen);
    if (r->err) return;
    struct pbft_slot *s = pbft_slot_get(c, seq);
    if (!s || !pbft_slot_set_batch(s, batch, blen)) return;
    if (s->view != view) {
        s->prep_mask = s->commit_mask = 0;
        s->sent_prepare = s->sent_commit = s->prepared = s->committed = false;
    }
    s->view = view;
    s->has_pp = true;
    s->digest = d;
    s->pp = pp;
    if (s->cert.valid && !pbft_deq(&s->cert.digest, &d)) s->cert.valid = false;
    if (pbft_primary(c, view) != c->self) {
        s->sent_prepare = true;
        s->prep_mask |= 1u << c->self;
        s->prep_d[c->self] = d;
        s->prep_raw[c->self].len = 0;
    }
}

static void recover_commit(struct bft_core *c, struct wire_rd *r)
{
    uint64_t view = wire_get_le(r, 8), seq = wire_get_le(r, 8);
    const uint8_t *dp = wire_get_ptr(r, CRYPTO_DIGEST_LEN);
    uint32_t voters = (uint32_t)wire_get_le(r, 4);
    struct pbft_cert ct;
    memset(&ct, 0, sizeof ct);
    if (!dp || !get_raw(r, &ct.pp)) return;
    memcpy(ct.digest.b, dp, CRYPTO_DIGEST_LEN);
    ct.view = view;
    ct.voters = voters & ((1u << c->n) - 1);
    if (pbft_popcount(ct.voters) > 2 * c->f) return; /* never written by us */
    uint32_t k = (uint32_t)wire_get_le(r, 1);
    for (uint32_t i = 0; i < k && !r->err; i++) {
        uint32_t id = (uint32_t)wire_get_le(r, 1);
        struct pbft_raw raw;
        if (!get_raw(r, &raw) || id >= c->n) return;
        ct.prep[id] = raw;
    }
    if (r->err) return;
    struct pbft_slot *s = pbft_slot_get(c, seq);
    if (!s) return;
    ct.valid = true;
    s->cert = ct;
    if (s->view == view && s->has_pp && pbft_deq(&s->digest, &ct.digest)) {
        s->prepared = true;
        s->sent_commit = true;
        if (seq > c->read_floor) c->read_floor = seq;
        s->commit_mask |= 1u << c->self;
        s->commit_d[c->self] = ct.digest;
    }
}

static void recover_stable(struct bft_core *c, struct wire_rd *r)
{
    uint64_t seq = wire_get_le(r, 8);
    const uint8_t *dp = wire_get_ptr(r, CRYPTO_DIGEST_LEN);
    uint32_t k = (uint32_t)wire_get_le(r, 1);
    struct pbft_raw proof[BFT_MAX_REPLICAS];
    uint32_t mask = 0;
    for (uint32_t i = 0; i < k && !r->err; i++) {
        struct pbft_raw raw;
        if (!get_raw(r, &raw) || raw.len < BFT_HDR_LEN) return;
        uint32_t from = (uint32_t)wire_le_load(raw.b + 8, 4);
        if (from >= c->n) return;
        proof[from] = raw;
        mask |= 1u << from;
    }
    if (r->err || !dp) return;
    bft_digest d;
    memcpy(d.b, dp, CRYPTO_DIGEST_LEN);
    pbft_make_stable(c, seq, &d, proof, mask, false);
}

void pbft_recover(struct bft_core *c, const uint8_t *rec, size_t len)
{
    struct wire_rd r = {.p = rec, .len = len};
    uint32_t type = (uint32_t)wire_get_le(&r, 1);
    c->post_recover = true;
    switch (type) {
    case PBFT_REC_VIEW:
        c->view = wire_get_le(&r, 8);
        c->in_vc = wire_get_le(&r, 1) != 0;
        break;
    case PBFT_REC_PP:
        recover_pp(c, &r);
        break;
    case PBFT_REC_COMMIT:
        recover_commit(c, &r);
        break;
    case PBFT_REC_CKPT: {
        uint64_t seq = wire_get_le(&r, 8);
        const uint8_t *dp = wire_get_ptr(&r, CRYPTO_DIGEST_LEN);
        if (!dp || seq <= c->h) break;
        bft_digest d;
        memcpy(d.b, dp, CRYPTO_DIGEST_LEN);
        struct pbft_raw own;
        pbft_sign_own(c, BFT_MSG_CHECKPOINT, c->view, seq, &d, &own);
        pbft_ckpt_insert(c, c->self, seq, &d, own.b, own.len);
        break;
    }
    case PBFT_REC_STABLE:
        recover_stable(c, &r);
        break;
    case PBFT_REC_NV: {
        uint64_t view = wire_get_le(&r, 8), lo = wire_get_le(&r, 8), hi = wire_get_le(&r, 8);
        if (r.err || hi < lo || hi - lo > c->L) break;
        const uint8_t *digs = wire_get_ptr(&r, (size_t)(hi - lo) * CRYPTO_DIGEST_LEN);
        if (!digs) break;
        c->vchg.nv_view = view;
        c->vchg.nv_min = lo;
        c->vchg.nv_max = hi;
        if (hi > lo) memcpy(c->vchg.nv_dig, digs, (size_t)(hi - lo) * CRYPTO_DIGEST_LEN);
        break;
    }
    case PBFT_REC_KEPT:
        pbft_kept_recover(c, rec + 1, len - 1);
        break;
    case PBFT_REC_FLOOR: {
        uint64_t floor = wire_get_le(&r, 8);
        if (!r.err && floor > c->read_floor) c->read_floor = floor;
        break;
    }
    default:
        break; /* not ours or damaged: the WAL checks integrity */
    }
}

/* The stable checkpoint the WAL gave back, from the durable snapshot the
 * host saved at it (docs/storage.md): certified by 2f+1, so the restored
 * state must hash to h_digest. Anything else (no snapshot at h, a damaged
 * one, an older one) leaves the state to state transfer. */
static bool load_stable(struct bft_core *c)
{
    bft_digest st = {{0}};
    if (!c->io.load_snapshot) return false;
    if (c->io.load_snapshot(c->io.ctx, c->h, &st) != BFT_E_OK) {
        /* Not every checkpoint has a snapshot (pbft_state.c): an older one
         * of ours (saved only once certified) still spares the transfer if
         * the others kept the log from it up to h (pbft_kept.c); we replay
         * it and must reach h_digest. We hold no proof for it, so we do
         * not serve it. */
        uint64_t (*below)(void *, uint64_t) = c->io.snapshot_below;
        for (uint64_t s = below ? below(c->io.ctx, c->h) : 0; s && c->h - s <= PBFT_KEPT_SEQS;
             s = below(c->io.ctx, s)) {
            if (s % c->K || c->io.load_snapshot(c->io.ctx, s, &st) != BFT_E_OK) continue;
            PTRACE(c, "restart from our snapshot %llu below h", (unsigned long long)s);
            c->last_exec = s;
            c->last_state = st;
            break;
        }
        /* Our own WAL's kept entries may reach h (KEPT records): then no
         * peer is needed, which matters when every replica restarted. */
        pbft_kept_replay_own(c);
        if (c->last_exec != c->h || !pbft_deq(&c->last_state, &c->h_digest)) return false;
        st = c->last_state;
    } else {
        pbft_kept_free_own(c);
        if (!pbft_deq(&st, &c->h_digest)) return false;
        c->last_exec = c->h;
        c->last_state = st;
    }
    /* Serve it again (the peers that certified it may have lost it). */
    pbft_state_snapshot_checkpoint(c, c->h, &st, true);
    pbft_state_on_stable(c, c->h, &c->h_digest, c->h_proof, c->h_proof_mask);
    struct pbft_raw own;
    pbft_sign_own(c, BFT_MSG_CHECKPOINT, c->view, c->h, &st, &own);
    pbft_ckpt_insert(c, c->self, c->h, &st, own.b, own.len);
    return true;
}

/* First event after recovery: re-arm what the old process had armed. */
void pbft_post_recover(struct bft_core *c)
{
    c->post_recover = false;
    uint64_t top = c->h;
    if (c->vchg.nv_view == c->view && c->vchg.nv_max > top) top = c->vchg.nv_max;
    for (uint32_t i = 0; i < c->L; i++) {
        const struct pbft_slot *s = pbft_slot_at(c, i);
        if (s && s->seq && s->has_pp && s->view == c->view && s->seq > top) top = s->seq;
    }
    c->next_seq = top + 1;
    if (c->in_vc) {
        c->in_vc = false; /* rebuild and resend our VIEW-CHANGE */
        pbft_start_view_change(c, c->view);
    }
    if (c->h > c->last_exec && !load_stable(c))
        pbft_state_note(c, c->h, &c->h_digest, c->h_proof, c->h_proof_mask, true);
    pbft_kept_free_own(c);
    pbft_arm_retransmit(c);
}

/* ---- WAL compaction (docs/storage.md): the records above, restating the
 * current state. Replayed alone they rebuild what replaying the whole
 * history did: the view, the last NEW-VIEW, the stable checkpoint with its
 * proof, our checkpoints above it, every window slot's accepted
 * pre-prepare and prepared certificate, and the read floor. The application state at h comes
 * from the snapshot file (load_stable) or, failing that, from peers. ---- */

/* c->rec was grown for the largest PP record before the dump began
 * (reserve_dump), so this cannot fail half way through a dump. */
static void emit_pp(struct bft_core *c, const struct pbft_slot *s,
                    void (*emit)(void *, const uint8_t *, size_t), void *ctx)
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
    emit(ctx, w.buf, w.len);
}

/* The COMMIT record of slot s's certificate in c->rec (layout in
 * pbft_internal.h): written when the slot commits (persist_commit) and
 * again by the compact() dump. Returns its length. It fits the floor
 * c->rec holds from creation on (pbft_rec_floor), so it cannot fail. */
size_t pbft_commit_rec(struct bft_core *c, const struct pbft_slot *s)
{
    const struct pbft_cert *ct = &s->cert;
    struct wire_wr w = pbft_rec_wr(c, pbft_rec_floor(c));
    wire_put_le(&w, PBFT_REC_COMMIT, 1);
    wire_put_le(&w, ct->view, 8);
    wire_put_le(&w, s->seq, 8);
    wire_put_bytes(&w, ct->digest.b, CRYPTO_DIGEST_LEN);
    wire_put_le(&w, ct->voters, 4);
    wire_put_le(&w, ct->pp.len, 2);
    wire_put_bytes(&w, ct->pp.b, ct->pp.len);
    size_t kpos = w.len;
    wire_put_le(&w, 0, 1);
    uint8_t k = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (!(ct->voters & (1u << i)) || ct->prep[i].len == 0) continue;
        wire_put_le(&w, i, 1);
        wire_put_le(&w, ct->prep[i].len, 2);
        wire_put_bytes(&w, ct->prep[i].b, ct->prep[i].len);
        k++;
    }
    assert(!w.err);
    w.buf[kpos] = k;
    return w.len;
}

static void emit_cert(struct bft_core *c, const struct pbft_slot *s,
                      void (*emit)(void *, const uint8_t *, size_t), void *ctx)
{
    size_t len = pbft_commit_rec(c, s);
    emit(ctx, c->rec.p, len);
}

/* Grow c->rec for the largest PP record the dump writes: the hosts ask
 * (emit NULL) before they start a new WAL segment, so a short memory
 * stops the rotation before the first record, not in the middle. */
static bool reserve_dump(struct bft_core *c)
{
    size_t need = 0;
    for (uint64_t seq = c->h + 1; seq <= c->h + c->L; seq++) {
        const struct pbft_slot *s = pbft_slot_peek(c, seq);
        if (!s || !s->has_pp || !s->has_batch) continue;
        size_t len = pbft_pp_rec_len(s->pp.len, s->batch_len);
        if (len > need) need = len;
    }
    size_t kept = pbft_kept_rec_max(c);
    if (kept > need) need = kept;
    return bft_buf_reserve(&c->rec, need, PBFT_REC_MAX) != NULL;
}

int pbft_compact(struct bft_core *c, uint64_t base,
                 void (*emit)(void *ctx, const uint8_t *rec, size_t len), void *ctx)
{
    /* h names the snapshot recovery asks for; below it the dump restates
     * the kept log from base, or waits for a snapshot it can reach from. */
    if (!pbft_kept_can_dump(c, base)) return BFT_E_AGAIN;
    if (!reserve_dump(c)) return BFT_E_NOMEM;
    if (!emit) return BFT_E_OK;
    pbft_kept_dump(c, base, emit, ctx);
    uint8_t small[10];
    struct wire_wr w = {.buf = small, .cap = sizeof small};
    wire_put_le(&w, PBFT_REC_VIEW, 1);
    wire_put_le(&w, c->view, 8);
    wire_put_le(&w, c->in_vc ? 1 : 0, 1);
    assert(!w.err);
    emit(ctx, small, w.len);
    uint8_t floor[9];
    w = (struct wire_wr){.buf = floor, .cap = sizeof floor};
    wire_put_le(&w, PBFT_REC_FLOOR, 1);
    wire_put_le(&w, c->read_floor, 8);
    assert(!w.err);
    emit(ctx, floor, w.len);
    if (c->vchg.nv_view) {
        w = pbft_rec_wr(c, pbft_rec_floor(c));
        wire_put_le(&w, PBFT_REC_NV, 1);
        wire_put_le(&w, c->vchg.nv_view, 8);
        wire_put_le(&w, c->vchg.nv_min, 8);
        wire_put_le(&w, c->vchg.nv_max, 8);
        for (uint64_t k = 0; k < c->vchg.nv_max - c->vchg.nv_min; k++)
            wire_put_bytes(&w, c->vchg.nv_dig[k].b, CRYPTO_DIGEST_LEN);
        assert(!w.err);
        emit(ctx, w.buf, w.len);
    }
    if (c->h) {
        w = pbft_rec_wr(c, pbft_rec_floor(c));
        wire_put_le(&w, PBFT_REC_STABLE, 1);
        wire_put_le(&w, c->h, 8);
        wire_put_bytes(&w, c->h_digest.b, CRYPTO_DIGEST_LEN);
        wire_put_le(&w, pbft_popcount(c->h_proof_mask), 1);
        for (uint32_t i = 0; i < c->n; i++) {
            if (!(c->h_proof_mask & (1u << i))) continue;
            wire_put_le(&w, c->h_proof[i].len, 2);
            wire_put_bytes(&w, c->h_proof[i].b, c->h_proof[i].len);
        }
        assert(!w.err);
        emit(ctx, w.buf, w.len);
    }
    for (uint32_t j = 0; j < PBFT_CKPT_RING; j++) {
        const struct pbft_ckpt *k = &c->ck[c->self][j];
        if (k->seq <= c->h) continue;
        uint8_t rec[41];
        w = (struct wire_wr){.buf = rec, .cap = sizeof rec};
        wire_put_le(&w, PBFT_REC_CKPT, 1);
        wire_put_le(&w, k->seq, 8);
        wire_put_bytes(&w, k->digest.b, CRYPTO_DIGEST_LEN);
        assert(!w.err);
        emit(ctx, rec, w.len);
    }
    /* Slots in seq order. A certificate from an older view than the slot's
     * pre-prepare was written before it, and recovery relies on that order
     * (a new pre-prepare with another digest voids the old certificate). */
    for (uint64_t seq = c->h + 1; seq <= c->h + c->L; seq++) {
        const struct pbft_slot *s = pbft_slot_peek(c, seq);
        if (!s) continue;
        bool cert = s->cert.valid, pp = s->has_pp && s->has_batch;
        if (cert && (!pp || s->cert.view < s->view)) emit_cert(c, s, emit, ctx);
        if (pp) emit_pp(c, s, emit, ctx);
        if (cert && pp && s->cert.view >= s->view) emit_cert(c, s, emit, ctx);
    }
    return BFT_E_OK;
}
