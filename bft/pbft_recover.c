/* Recovery from our own WAL records (layouts in pbft_internal.h): rebuild
 * what this replica promised (view, accepted pre-prepares, own prepares and
 * commits with their certificates, checkpoints, the last NEW-VIEW's O) so a
 * restarted replica never contradicts itself (TOCS'02 §4.6 "stable log").
 * The application restarts empty, so execution resumes by state transfer
 * from the stable checkpoint (or from the log if none is stable yet). */
#include <string.h>

#include "bft/pbft_internal.h"

static bool get_raw(struct pbft_rd *r, struct pbft_raw *out)
{
    uint16_t len = (uint16_t)pbft_get(r, 2);
    const uint8_t *p = pbft_get_ptr(r, len);
    if (!p || len > PBFT_RAW_MAX) return false;
    out->len = len;
    memcpy(out->b, p, len);
    return true;
}

static void recover_pp(struct bft_core *c, struct pbft_rd *r)
{
    uint64_t view = pbft_get(r, 8), seq = pbft_get(r, 8);
    bft_digest d;
    const uint8_t *dp = pbft_get_ptr(r, 32);
    struct pbft_raw pp;
    if (!dp || !get_raw(r, &pp)) return;
    memcpy(d.b, dp, 32);
    uint32_t blen = (uint32_t)pbft_get(r, 4);
    const uint8_t *batch = pbft_get_ptr(r, blen);
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

static void recover_commit(struct bft_core *c, struct pbft_rd *r)
{
    uint64_t view = pbft_get(r, 8), seq = pbft_get(r, 8);
    const uint8_t *dp = pbft_get_ptr(r, 32);
    uint32_t voters = (uint32_t)pbft_get(r, 4);
    struct pbft_cert ct;
    memset(&ct, 0, sizeof ct);
    if (!dp || !get_raw(r, &ct.pp)) return;
    memcpy(ct.digest.b, dp, 32);
    ct.view = view;
    ct.voters = voters & ((1u << c->n) - 1);
    if (pbft_popcount(ct.voters) > 2 * c->f) return; /* never written by us */
    uint32_t k = (uint32_t)pbft_get(r, 1);
    for (uint32_t i = 0; i < k && !r->err; i++) {
        uint32_t id = (uint32_t)pbft_get(r, 1);
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

static void recover_stable(struct bft_core *c, struct pbft_rd *r)
{
    uint64_t seq = pbft_get(r, 8);
    const uint8_t *dp = pbft_get_ptr(r, 32);
    uint32_t k = (uint32_t)pbft_get(r, 1);
    struct pbft_raw proof[BFT_MAX_REPLICAS];
    uint32_t mask = 0;
    for (uint32_t i = 0; i < k && !r->err; i++) {
        struct pbft_raw raw;
        if (!get_raw(r, &raw) || raw.len < BFT_HDR_LEN) return;
        uint32_t from = (uint32_t)pbft_le(raw.b + 8, 4);
        if (from >= c->n) return;
        proof[from] = raw;
        mask |= 1u << from;
    }
    if (r->err || !dp) return;
    bft_digest d;
    memcpy(d.b, dp, 32);
    pbft_make_stable(c, seq, &d, proof, mask, false);
}

void pbft_recover(struct bft_core *c, const uint8_t *rec, size_t len)
{
    struct pbft_rd r = {.p = rec, .len = len};
    uint32_t type = (uint32_t)pbft_get(&r, 1);
    c->post_recover = true;
    switch (type) {
    case PBFT_REC_VIEW:
        c->view = pbft_get(&r, 8);
        c->in_vc = pbft_get(&r, 1) != 0;
        break;
    case PBFT_REC_PP:
        recover_pp(c, &r);
        break;
    case PBFT_REC_COMMIT:
        recover_commit(c, &r);
        break;
    case PBFT_REC_CKPT: {
        uint64_t seq = pbft_get(&r, 8);
        const uint8_t *dp = pbft_get_ptr(&r, 32);
        if (!dp || seq <= c->h) break;
        bft_digest d;
        memcpy(d.b, dp, 32);
        struct pbft_raw own;
        pbft_sign_own(c, BFT_MSG_CHECKPOINT, c->view, seq, &d, &own);
        pbft_ckpt_insert(c, c->self, seq, &d, own.b, own.len);
        break;
    }
    case PBFT_REC_STABLE:
        recover_stable(c, &r);
        break;
    case PBFT_REC_NV: {
        uint64_t view = pbft_get(&r, 8), lo = pbft_get(&r, 8), hi = pbft_get(&r, 8);
        if (r.err || hi < lo || hi - lo > c->L) break;
        const uint8_t *digs = pbft_get_ptr(&r, (size_t)(hi - lo) * 32);
        if (!digs) break;
        c->nv_view = view;
        c->nv_min = lo;
        c->nv_max = hi;
        if (hi > lo) memcpy(c->nv_dig, digs, (size_t)(hi - lo) * 32);
        break;
    }
    default:
        break; /* not ours or damaged: the WAL checks integrity */
    }
}

/* First event after recovery: re-arm what the old process had armed. */
void pbft_post_recover(struct bft_core *c)
{
    c->post_recover = false;
    uint64_t top = c->h;
    if (c->nv_view == c->view && c->nv_max > top) top = c->nv_max;
    for (uint32_t i = 0; i < c->L; i++) {
        const struct pbft_slot *s = &c->slots[i];
        if (s->seq && s->has_pp && s->view == c->view && s->seq > top) top = s->seq;
    }
    c->next_seq = top + 1;
    if (c->in_vc) {
        c->in_vc = false; /* rebuild and resend our VIEW-CHANGE */
        pbft_start_view_change(c, c->view);
    }
    if (c->h > c->last_exec)
        pbft_state_note(c, c->h, &c->h_digest, c->h_proof, c->h_proof_mask, true);
    pbft_arm_retransmit(c);
}
