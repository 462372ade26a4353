/* Rewriting one encoded message: header fields changed and re-signed with
 * the replica's real key (stale, forge, ByzzFuzz), signatures broken
 * (badsig), frames made malformed (junk). The wire layout is bft.h's fixed
 * header; the signature covers [4, 72 + body_len) under domain = type. */
#include <string.h>

#include "faults/actor_internal.h"
#include "net/net.h"

bool actor_signed(const uint8_t *msg, size_t len)
{
    size_t body_len = (size_t)wire_le_load(msg + HDR_BODY_LEN, 4);
    if (len < BFT_MSG_MIN_LEN || body_len > len - BFT_MSG_MIN_LEN) return false;
    const uint8_t *sig = msg + BFT_HDR_LEN + body_len;
    for (int i = 0; i < BFT_SIG_LEN; i++)
        if (sig[i]) return true;
    return false; /* Raft without --sign sends zero signatures */
}

void actor_resign(struct fault_actor *a, uint8_t *buf, size_t len)
{
    if (a->cfg.sign_encoded) {
        a->cfg.sign_encoded(a->cfg.sign_ctx, buf, len);
        return;
    }
    const uint8_t *region;
    size_t rlen;
    uint8_t sig[BFT_SIG_LEN];
    bft_msg_signed_region(buf, &region, &rlen);
    if (a->cfg.sign)
        a->cfg.sign(a->cfg.sign_ctx, buf[HDR_TYPE], region, rlen, sig);
    else
        crypto_sign_msg(&a->cfg.key, buf[HDR_TYPE], a->cfg.cluster_id, region, rlen, sig);
    bft_msg_set_sig(buf, sig);
}

size_t actor_rewrite(struct fault_actor *a, const uint8_t *msg, size_t len, uint8_t *out,
                     const uint64_t *view, const uint64_t *seq, const bft_digest *digest,
                     const uint32_t *sender, bool force_sign)
{
    /* Callers pass messages bft_msg_decode accepted: the header is there. */
    memcpy(out, msg, len);
    if (view) wire_le_store(out + HDR_VIEW, *view, 8);
    if (seq) wire_le_store(out + HDR_SEQ, *seq, 8);
    if (digest) memcpy(out + HDR_DIGEST, digest->b, sizeof digest->b);
    if (sender) wire_le_store(out + HDR_SENDER, *sender, 4);
    if (force_sign || actor_signed(msg, len)) actor_resign(a, out, len);
    return len;
}

size_t actor_badsig(struct fault_actor *a, const uint8_t *msg, size_t len, uint8_t *out)
{
    memcpy(out, msg, len);
    size_t body_len = (size_t)wire_le_load(out + HDR_BODY_LEN, 4);
    uint8_t *sig = out + BFT_HDR_LEN + body_len;
    /* One flipped bit anywhere in an Ed25519 signature makes it fail. */
    sig[fault_rng_below(&a->rng, BFT_SIG_LEN)] ^= (uint8_t)(1u << fault_rng_below(&a->rng, 8));
    return len;
}

enum corrupt_kind {
    CORRUPT_TRUNCATE,
    CORRUPT_VERSION,
    CORRUPT_BODY_LEN,
    CORRUPT_TYPE,
    CORRUPT_PAYLOAD_LEN,
    CORRUPT_TRAILING,
    CORRUPT__COUNT
};

size_t actor_corrupt(struct fault_actor *a, const uint8_t *msg, size_t len, uint8_t *out,
                     size_t cap)
{
    if (len < BFT_MSG_MIN_LEN || len + 16 > cap) return actor_junk(a, out, cap);
    memcpy(out, msg, len);
    switch (fault_rng_below(&a->rng, CORRUPT__COUNT)) {
    case CORRUPT_TRUNCATE:
        return 1 + fault_rng_below(&a->rng, len - 1);
    case CORRUPT_VERSION:
        out[4] = (uint8_t)(2 + fault_rng_below(&a->rng, 250));
        return len;
    case CORRUPT_BODY_LEN: {
        uint32_t bl = (uint32_t)wire_le_load(out + HDR_BODY_LEN, 4);
        wire_le_store(out + HDR_BODY_LEN, bl + 1 + (uint32_t)fault_rng_below(&a->rng, 1u << 20), 4);
        return len;
    }
    case CORRUPT_TYPE:
        out[HDR_TYPE] = (uint8_t)(200 + fault_rng_below(&a->rng, 56));
        return len;
    case CORRUPT_PAYLOAD_LEN: {
        uint32_t pl = (uint32_t)wire_le_load(out, 4);
        wire_le_store(out, pl + 1 + (uint32_t)fault_rng_below(&a->rng, UINT32_MAX - pl - 1), 4);
        return len;
    }
    default: {
        size_t extra = 1 + fault_rng_below(&a->rng, 16);
        for (size_t i = 0; i < extra; i++)
            out[len + i] = (uint8_t)fault_rng_next(&a->rng);
        return len + extra;
    }
    }
}

size_t actor_junk(struct fault_actor *a, uint8_t *out, size_t cap)
{
    size_t len = 1 + fault_rng_below(&a->rng, cap < 512 ? cap : 512);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t r = fault_rng_next(&a->rng);
        for (size_t k = 0; k < 8 && i + k < len; k++)
            out[i + k] = (uint8_t)(r >> (8 * k));
    }
    return len;
}

/* ByzzFuzz small-scope mutations (Winter et al., OOPSLA'23 §3.2): a round
 * or view number off by one, an earlier proposal in place of this message,
 * one corrupted field; re-signed, because the mutating process is a
 * Byzantine replica with a valid key, not the network. */
void actor_byzzfuzz(struct fault_actor *a, uint64_t now_ms, uint32_t dest, const struct bft_msg *m,
                    const uint8_t *msg, size_t len, const struct byzzfuzz_proc_fault *pf,
                    fault_emit_fn emit, void *ctx)
{
    int mut = (int)(fault_seed_mix(pf->seed, a->bf_count++) % BYZZFUZZ__COUNT);
    uint64_t v;
    bft_digest d;
    size_t l = 0;
    a->st.rewritten++;
    if (mut == BYZZFUZZ_RESEND) {
        const struct actor_slot *s = actor_ring_pick(a, false, true, msg, len);
        if (s) {
            actor_out(a, now_ms, dest, s->buf, s->len, 0, emit, ctx);
            return;
        }
        mut = BYZZFUZZ_VIEW_INC;
    }
    if ((mut == BYZZFUZZ_VIEW_DEC && m->view == 0) || (mut == BYZZFUZZ_SEQ_DEC && m->seq == 0))
        mut--; /* *_DEC follows *_INC in the enum */
    if (mut == BYZZFUZZ_BODY && m->body_len == 0) mut = BYZZFUZZ_DIGEST;
    switch (mut) {
    case BYZZFUZZ_VIEW_INC:
    case BYZZFUZZ_VIEW_DEC:
        v = mut == BYZZFUZZ_VIEW_INC ? m->view + 1 : m->view - 1;
        l = actor_rewrite(a, msg, len, a->scratch_b, &v, NULL, NULL, NULL, false);
        break;
    case BYZZFUZZ_SEQ_INC:
    case BYZZFUZZ_SEQ_DEC:
        v = mut == BYZZFUZZ_SEQ_INC ? m->seq + 1 : m->seq - 1;
        l = actor_rewrite(a, msg, len, a->scratch_b, NULL, &v, NULL, NULL, false);
        break;
    case BYZZFUZZ_DIGEST:
        d = m->digest;
        d.b[fault_rng_below(&a->rng, sizeof d.b)] ^= 0xff;
        l = actor_rewrite(a, msg, len, a->scratch_b, NULL, NULL, &d, NULL, false);
        break;
    default: /* BYZZFUZZ_BODY */
        memcpy(a->scratch_b, msg, len);
        a->scratch_b[BFT_HDR_LEN + fault_rng_below(&a->rng, m->body_len)] ^= 0xff;
        if (actor_signed(msg, len)) actor_resign(a, a->scratch_b, len);
        l = len;
        break;
    }
    actor_out(a, now_ms, dest, a->scratch_b, l, 0, emit, ctx);
}
