/* Checkpoints, watermarks and garbage collection (Castro & Liskov OSDI'99
 * §4.3, TOCS'02 §4.3): every K executed seqs a replica multicasts
 * <CHECKPOINT, n, d, i>; 2f+1 matching ones make the checkpoint stable, the
 * low watermark h moves to n and the log up to n is discarded. The 2f+1
 * messages are kept: they prove the checkpoint in VIEW-CHANGE and
 * STATE-RESP messages. */
#include <assert.h>
#include <string.h>

#include "core/pbft/pbft_internal.h"

static void persist_stable(struct bft_core *c)
{
    /* Fits the floor c->rec always holds (pbft_rec_floor). */
    struct wire_wr w = pbft_rec_wr(c, pbft_rec_floor(c));
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
    c->io.persist(c->io.ctx, w.buf, w.len);
}

void pbft_make_stable(struct bft_core *c, uint64_t seq, const bft_digest *d,
                      const struct pbft_raw *proof, uint32_t mask, bool persist)
{
    if (seq <= c->h) return;
    uint64_t old_h = c->h;
    c->h = seq;
    c->h_digest = *d;
    c->h_proof_mask = mask;
    for (uint32_t i = 0; i < c->n; i++) {
        if (mask & (1u << i))
            c->h_proof[i] = proof[i];
        else
            c->h_proof[i].len = 0;
    }
    if (persist) persist_stable(c);
    pbft_state_on_stable(c, seq, d, proof, mask);
    /* GC: slots at or below the new h are free (their seq no longer maps
     * into the window), everything above stays. Executed ones move to the
     * log kept since the served snapshot (pbft_kept.c). */
    for (uint64_t s = old_h + 1; s <= seq && s - old_h <= c->L; s++) {
        struct pbft_slot *sl = pbft_slot_at(c, (uint32_t)(s % c->L));
        if (!sl) continue; /* never used */
        if (sl->seq == s && sl->executed && sl->has_batch)
            pbft_kept_add(c, s, sl->proof_view, &sl->digest, sl->proof_mask, sl->commit_raw,
                          sl->batch, sl->batch_len);
        if (sl->seq && sl->seq <= seq) pbft_slot_reset(sl);
    }
    if (seq - old_h > c->L)
        for (uint32_t i = 0; i < c->L; i++) {
            struct pbft_slot *sl = pbft_slot_at(c, i);
            if (sl && sl->seq && sl->seq <= seq) pbft_slot_reset(sl);
        }
    pbft_try_propose(c); /* the window moved */
}

/* Count senders with (seq, d); on 2f+1 the checkpoint is stable. */
static void check_stable(struct bft_core *c, uint64_t seq, const bft_digest *d)
{
    struct pbft_raw proof[BFT_MAX_REPLICAS];
    uint32_t mask = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        for (uint32_t j = 0; j < PBFT_CKPT_RING; j++) {
            const struct pbft_ckpt *k = &c->ck[i][j];
            if (k->seq == seq && pbft_deq(&k->digest, d)) {
                mask |= 1u << i;
                proof[i] = k->raw;
            }
        }
    }
    if (pbft_popcount(mask) < 2 * c->f + 1 || seq <= c->h) return;
    if (c->last_exec >= seq) {
        pbft_make_stable(c, seq, d, proof, mask, true);
        return;
    }
    /* Certified state we have not reached: maybe we just lag by a few
     * batches, maybe we fell out of the window (§4.3, state transfer). */
    pbft_state_note(c, seq, d, proof, mask, seq > c->h + c->L);
}

void pbft_ckpt_insert(struct bft_core *c, uint32_t from, uint64_t seq, const bft_digest *d,
                      const uint8_t *raw, size_t raw_len)
{
    struct pbft_ckpt *ring = c->ck[from];
    struct pbft_ckpt *victim = NULL;
    for (uint32_t j = 0; j < PBFT_CKPT_RING; j++) {
        struct pbft_ckpt *k = &ring[j];
        if (k->seq == 0 || k->seq <= c->h) {
            victim = k;
            break;
        }
        if (!victim || k->seq < victim->seq) victim = k;
    }
    if (victim->seq > seq) return; /* keep the higher ones (bounded ring) */
    victim->seq = seq;
    victim->digest = *d;
    victim->raw.len = (uint16_t)raw_len;
    memcpy(victim->raw.b, raw, raw_len);
}

void pbft_checkpoint_own(struct bft_core *c, uint64_t seq, const bft_digest *state)
{
    uint8_t rec[41];
    struct wire_wr w = {.buf = rec, .cap = sizeof rec};
    wire_put_le(&w, PBFT_REC_CKPT, 1);
    wire_put_le(&w, seq, 8);
    wire_put_bytes(&w, state->b, CRYPTO_DIGEST_LEN);
    assert(!w.err);
    c->io.persist(c->io.ctx, rec, w.len);
    pbft_send_simple(c, -1, BFT_MSG_CHECKPOINT, c->view, seq, state);
    struct pbft_raw own;
    pbft_sign_own(c, BFT_MSG_CHECKPOINT, c->view, seq, state, &own);
    pbft_ckpt_insert(c, c->self, seq, state, own.b, own.len);
    pbft_state_snapshot_checkpoint(c, seq, state, false);
    pbft_arm_retransmit(c);
    check_stable(c, seq, state);
}

bool pbft_checkpoint_retransmit(struct bft_core *c)
{
    const struct pbft_ckpt *best = NULL;
    for (uint32_t j = 0; j < PBFT_CKPT_RING; j++) {
        const struct pbft_ckpt *k = &c->ck[c->self][j];
        if (k->seq > c->h && (!best || k->seq > best->seq)) best = k;
    }
    if (!best) return false;
    pbft_send_simple(c, -1, BFT_MSG_CHECKPOINT, c->view, best->seq, &best->digest);
    return true;
}

void pbft_on_checkpoint(struct bft_core *c, const struct bft_msg *m)
{
    if (m->seq == 0 || m->seq % c->K != 0 || m->body_len != 0 || m->payload_len != 0 || !m->raw ||
        m->raw_len != PBFT_RAW_MAX) {
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        return;
    }
    if (m->seq <= c->h) {
        /* Already stable here. A repeated one means its sender has not seen
         * 2f+1 yet (CHECKPOINTs get lost too): hand it our proof. */
        if (c->help_budget[m->sender] && pbft_popcount(c->h_proof_mask) >= 2 * c->f + 1) {
            c->help_budget[m->sender]--;
            c->helped = true;
            pbft_arm_retransmit(c);
            pbft_send_checkpoint_proof(c, m->sender);
        }
        return;
    }
    const struct pbft_ckpt *ring = c->ck[m->sender];
    for (uint32_t j = 0; j < PBFT_CKPT_RING; j++) {
        if (ring[j].seq != m->seq) continue;
        c->io.reject(c->io.ctx, pbft_deq(&ring[j].digest, &m->digest) ? BFT_REJECT_DUPLICATE
                                                                      : BFT_REJECT_EQUIVOCATION);
        return;
    }
    pbft_ckpt_insert(c, m->sender, m->seq, &m->digest, m->raw, m->raw_len);
    check_stable(c, m->seq, &m->digest);
    if (pbft_behind(c)) pbft_arm_retransmit(c); /* fetch on the next tick */
}

/* f+1 replicas report checkpoints above what we executed: at least one
 * correct replica got there, so we are behind even if no checkpoint is
 * stable yet (an idle cluster sends nothing else that would tell us). */
bool pbft_behind(const struct bft_core *c)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (i == c->self) continue;
        for (uint32_t j = 0; j < PBFT_CKPT_RING; j++)
            if (c->ck[i][j].seq > c->last_exec) {
                k++;
                break;
            }
    }
    return k >= c->f + 1;
}
