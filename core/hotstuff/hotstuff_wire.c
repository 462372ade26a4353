/* The HotStuff message codec: the single source of the body layouts
 * (hotstuff_wire.h, docs/wire.md). Decoders check shape only, never core
 * state or signatures, and return BFT_REJECT_NONE or a reason; every read
 * goes through the bounded wire_rd, so a short or oversized body is
 * refused, never read past (docs/style.md #6, #7). */
#include <string.h>

#include "core/hotstuff/hotstuff_wire.h"

static bool digest_is_zero(const bft_digest *d)
{
    static const bft_digest zero;
    return memcmp(d->b, zero.b, sizeof d->b) == 0;
}

/* ---- certificates ---- */

bool hs_qc_read(struct wire_rd *r, uint32_t n, struct hs_qc *q)
{
    q->view = wire_get_u64(r);
    q->height = wire_get_u64(r);
    wire_get_bytes(r, q->block.b, CRYPTO_DIGEST_LEN);
    q->k = wire_get_u8(r);
    if (r->err || q->k > n) return false;
    for (uint32_t i = 0; i < q->k; i++) {
        q->signer[i] = wire_get_u8(r);
        wire_get_bytes(r, q->sig[i], BFT_SIG_LEN);
    }
    return !r->err;
}

void hs_qc_write(struct wire_wr *w, const struct hs_qc *q)
{
    wire_put_u64(w, q->view);
    wire_put_u64(w, q->height);
    wire_put_bytes(w, q->block.b, CRYPTO_DIGEST_LEN);
    wire_put_u8(w, q->k);
    for (uint32_t i = 0; i < q->k; i++) {
        wire_put_u8(w, q->signer[i]);
        wire_put_bytes(w, q->sig[i], BFT_SIG_LEN);
    }
}

bool hs_tc_read(struct wire_rd *r, uint32_t n, struct hs_tc *t)
{
    t->view = wire_get_u64(r);
    t->k = wire_get_u8(r);
    if (r->err || t->k > n) return false;
    for (uint32_t i = 0; i < t->k; i++) {
        t->signer[i] = wire_get_u8(r);
        t->hqc_view[i] = wire_get_u64(r);
        wire_get_bytes(r, t->sig[i], BFT_SIG_LEN);
    }
    return !r->err;
}

void hs_tc_write(struct wire_wr *w, const struct hs_tc *t)
{
    wire_put_u64(w, t->view);
    wire_put_u8(w, t->k);
    for (uint32_t i = 0; i < t->k; i++) {
        wire_put_u8(w, t->signer[i]);
        wire_put_u64(w, t->hqc_view[i]);
        wire_put_bytes(w, t->sig[i], BFT_SIG_LEN);
    }
}

void hs_timeout_region(uint64_t view, uint64_t hqc_view, uint8_t region[HS_TIMEOUT_REGION_LEN])
{
    struct wire_wr w;
    wire_wr_init(&w, region, HS_TIMEOUT_REGION_LEN);
    wire_put_bytes(&w, "HSTO", 4);
    wire_put_u64(&w, view);
    wire_put_u64(&w, hqc_view);
}

/* ---- blocks: HS_PROPOSAL and HS_BLOCK_RESP ---- */

void hs_block_digest(uint64_t view, uint64_t height, const bft_digest *parent,
                     const bft_digest *batch_digest, const struct hs_qc *justify, bft_digest *out)
{
    uint8_t buf[8 + 8 + CRYPTO_DIGEST_LEN + CRYPTO_DIGEST_LEN + 8 + 8 + CRYPTO_DIGEST_LEN];
    struct wire_wr w;
    wire_wr_init(&w, buf, sizeof buf);
    wire_put_u64(&w, view);
    wire_put_u64(&w, height);
    wire_put_bytes(&w, parent->b, CRYPTO_DIGEST_LEN);
    wire_put_bytes(&w, batch_digest->b, CRYPTO_DIGEST_LEN);
    wire_put_u64(&w, justify->view);
    wire_put_u64(&w, justify->height);
    wire_put_bytes(&w, justify->block.b, CRYPTO_DIGEST_LEN);
    crypto_sha256(buf, w.len, out->b);
}

int hs_block_decode(const struct bft_msg *m, uint32_t n, struct hs_wire_block *out)
{
    memset(out, 0, sizeof(*out));
    if (m->type != BFT_MSG_HS_PROPOSAL && m->type != BFT_MSG_HS_BLOCK_RESP)
        return BFT_REJECT_MALFORMED;
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    wire_get_bytes(&r, out->parent.b, CRYPTO_DIGEST_LEN);
    if (!hs_qc_read(&r, n, &out->justify)) return BFT_REJECT_MALFORMED;
    uint8_t has_tc = wire_get_u8(&r);
    /* Only a proposal carries the TC that let its leader into its view. */
    if (r.err || has_tc > 1 || (has_tc && m->type != BFT_MSG_HS_PROPOSAL))
        return BFT_REJECT_MALFORMED;
    out->has_tc = has_tc;
    if (has_tc && !hs_tc_read(&r, n, &out->tc)) return BFT_REJECT_MALFORMED;
    if (wire_rd_left(&r) != 0) return BFT_REJECT_MALFORMED;
    out->view = m->view;
    out->height = m->seq;
    out->batch_digest = m->digest;
    out->batch = m->payload_len ? m->payload : NULL;
    out->batch_len = m->payload_len;
    /* The block extends its justify node, one height up, in a later view
     * (Algorithm 3: createLeaf(qc_high.node, ...)). */
    if (memcmp(out->parent.b, out->justify.block.b, CRYPTO_DIGEST_LEN) != 0 || out->height == 0 ||
        out->height - 1 != out->justify.height || out->view <= out->justify.view)
        return BFT_REJECT_MALFORMED;
    /* An empty block names the all-zero batch digest. */
    if (out->batch_len == 0 && !digest_is_zero(&out->batch_digest)) return BFT_REJECT_MALFORMED;
    hs_block_digest(out->view, out->height, &out->parent, &out->batch_digest, &out->justify,
                    &out->digest);
    return BFT_REJECT_NONE;
}

bool hs_block_encode(const struct hs_wire_block *b, uint8_t type, uint8_t *buf, size_t cap,
                     struct bft_msg *m)
{
    struct wire_wr w;
    wire_wr_init(&w, buf, cap);
    wire_put_bytes(&w, b->parent.b, CRYPTO_DIGEST_LEN);
    hs_qc_write(&w, &b->justify);
    wire_put_u8(&w, b->has_tc ? 1 : 0);
    if (b->has_tc) hs_tc_write(&w, &b->tc);
    if (w.err) return false;
    *m = (struct bft_msg){.type = type,
                          .view = b->view,
                          .seq = b->height,
                          .digest = b->batch_digest,
                          .body = buf,
                          .body_len = (uint32_t)w.len,
                          .payload = b->batch_len ? b->batch : NULL,
                          .payload_len = b->batch_len};
    return true;
}

/* ---- HS_VOTE ---- */

int hs_vote_decode(const struct bft_msg *m, struct hs_vote_msg *out)
{
    if (m->type != BFT_MSG_HS_VOTE || m->body_len != 0 || m->payload_len != 0 || m->view == 0 ||
        m->seq == 0)
        return BFT_REJECT_MALFORMED;
    out->view = m->view;
    out->height = m->seq;
    out->block = m->digest;
    memcpy(out->sig, m->sig, BFT_SIG_LEN);
    return BFT_REJECT_NONE;
}

void hs_vote_encode(const struct hs_vote_msg *v, struct bft_msg *m)
{
    *m = (struct bft_msg){
        .type = BFT_MSG_HS_VOTE, .view = v->view, .seq = v->height, .digest = v->block};
}

/* ---- HS_TIMEOUT ---- */

static void vote_read(struct wire_rd *r, struct hs_carried_vote *v)
{
    v->view = wire_get_u64(r);
    v->height = wire_get_u64(r);
    wire_get_bytes(r, v->block.b, CRYPTO_DIGEST_LEN);
    wire_get_bytes(r, v->sig, BFT_SIG_LEN);
}

int hs_timeout_decode(const struct bft_msg *m, uint32_t n, struct hs_timeout_msg *out)
{
    memset(out, 0, sizeof(*out));
    if (m->type != BFT_MSG_HS_TIMEOUT || m->view == 0 || m->payload_len != 0)
        return BFT_REJECT_MALFORMED;
    out->view = m->view;
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    if (!hs_qc_read(&r, n, &out->high_qc)) return BFT_REJECT_MALFORMED;
    wire_get_bytes(&r, out->sig, BFT_SIG_LEN);
    uint8_t has_vote = wire_get_u8(&r);
    if (r.err || has_vote > 1) return BFT_REJECT_MALFORMED;
    out->has_vote = has_vote;
    if (has_vote) vote_read(&r, &out->vote);
    uint8_t has_tc = wire_get_u8(&r);
    if (r.err || has_tc > 1) return BFT_REJECT_MALFORMED;
    out->has_tc = has_tc;
    if (has_tc && !hs_tc_read(&r, n, &out->tc)) return BFT_REJECT_MALFORMED;
    if (wire_rd_left(&r) != 0) return BFT_REJECT_MALFORMED;
    /* What a timeout for `view` may carry is from before that view. */
    if (out->high_qc.view >= m->view || (has_tc && out->tc.view >= m->view))
        return BFT_REJECT_MALFORMED;
    if (has_vote && (out->vote.view == 0 || out->vote.height == 0 || out->vote.view > m->view))
        return BFT_REJECT_MALFORMED;
    return BFT_REJECT_NONE;
}

bool hs_timeout_encode(const struct hs_timeout_msg *t, uint8_t *buf, size_t cap, struct bft_msg *m)
{
    struct wire_wr w;
    wire_wr_init(&w, buf, cap);
    hs_qc_write(&w, &t->high_qc);
    wire_put_bytes(&w, t->sig, BFT_SIG_LEN);
    wire_put_u8(&w, t->has_vote ? 1 : 0);
    if (t->has_vote) {
        wire_put_u64(&w, t->vote.view);
        wire_put_u64(&w, t->vote.height);
        wire_put_bytes(&w, t->vote.block.b, CRYPTO_DIGEST_LEN);
        wire_put_bytes(&w, t->vote.sig, BFT_SIG_LEN);
    }
    wire_put_u8(&w, t->has_tc ? 1 : 0);
    if (t->has_tc) hs_tc_write(&w, &t->tc);
    if (w.err) return false;
    *m = (struct bft_msg){
        .type = BFT_MSG_HS_TIMEOUT, .view = t->view, .body = buf, .body_len = (uint32_t)w.len};
    return true;
}

/* ---- HS_BLOCK_REQ ---- */

int hs_block_req_decode(const struct bft_msg *m, struct hs_block_req *out)
{
    if (m->type != BFT_MSG_HS_BLOCK_REQ || m->body_len != 0 || m->payload_len != 0 || m->seq == 0)
        return BFT_REJECT_MALFORMED;
    out->want = m->digest;
    out->count = m->seq;
    return BFT_REJECT_NONE;
}

void hs_block_req_encode(const struct hs_block_req *q, uint64_t view, struct bft_msg *m)
{
    *m = (struct bft_msg){
        .type = BFT_MSG_HS_BLOCK_REQ, .view = view, .seq = q->count, .digest = q->want};
}

/* ---- STATE_REQ ---- */

int hs_state_req_decode(const struct bft_msg *m, struct hs_state_req *out)
{
    memset(out, 0, sizeof(*out));
    if (m->type != BFT_MSG_STATE_REQ || m->payload_len != 0 ||
        (m->body_len != 0 && m->body_len != HS_STATE_CHUNK_REQ_LEN))
        return BFT_REJECT_MALFORMED;
    out->last_exec = m->seq;
    out->chunk = m->body_len == HS_STATE_CHUNK_REQ_LEN;
    if (out->chunk) {
        struct wire_rd r;
        wire_rd_init(&r, m->body, m->body_len);
        out->snap_seq = wire_get_u64(&r);
        out->off = wire_get_u32(&r);
    }
    return BFT_REJECT_NONE;
}

bool hs_state_req_encode(const struct hs_state_req *q, uint64_t view, uint8_t *buf, size_t cap,
                         struct bft_msg *m)
{
    struct wire_wr w;
    wire_wr_init(&w, buf, cap);
    if (q->chunk) {
        wire_put_u64(&w, q->snap_seq);
        wire_put_u32(&w, q->off);
    }
    if (w.err) return false;
    *m = (struct bft_msg){.type = BFT_MSG_STATE_REQ,
                          .view = view,
                          .seq = q->last_exec,
                          .body = w.len ? buf : NULL,
                          .body_len = (uint32_t)w.len};
    return true;
}

/* ---- STATE_RESP ---- */

/* The chunk [off, off + len) of a `total`-byte snapshot: within bounds,
 * and only the last chunk (or an empty snapshot) may be empty. */
static bool chunk_ok(const struct bft_msg *m, uint32_t total, uint32_t off)
{
    if (m->seq == 0 && (m->payload_len != 0 || total != 0)) return false;
    if (total > HS_SNAP_MAX || off > total || m->payload_len > total - off) return false;
    if (m->payload_len > HS_STATE_CHUNK) return false;
    return !(off + m->payload_len < total && m->payload_len == 0);
}

int hs_state_resp_decode(const struct bft_msg *m, struct hs_state_resp *out)
{
    memset(out, 0, sizeof(*out));
    if (m->type != BFT_MSG_STATE_RESP) return BFT_REJECT_MALFORMED;
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    out->snap.seq = m->seq;
    out->snap.state = m->digest;
    wire_get_bytes(&r, out->snap.block.b, CRYPTO_DIGEST_LEN);
    out->nclaims = wire_get_u8(&r);
    if (r.err || out->nclaims > HS_CLAIMS) return BFT_REJECT_MALFORMED;
    for (uint32_t i = 0; i < out->nclaims; i++) {
        out->claims[i].seq = wire_get_u64(&r);
        wire_get_bytes(&r, out->claims[i].state.b, CRYPTO_DIGEST_LEN);
        wire_get_bytes(&r, out->claims[i].block.b, CRYPTO_DIGEST_LEN);
    }
    out->total = wire_get_u32(&r);
    out->off = wire_get_u32(&r);
    if (r.err || wire_rd_left(&r) != 0 || !chunk_ok(m, out->total, out->off))
        return BFT_REJECT_MALFORMED;
    out->chunk = m->payload_len ? m->payload : NULL;
    out->chunk_len = m->payload_len;
    return BFT_REJECT_NONE;
}

bool hs_state_resp_encode(const struct hs_state_resp *s, uint64_t view, uint8_t *buf, size_t cap,
                          struct bft_msg *m)
{
    struct wire_wr w;
    wire_wr_init(&w, buf, cap);
    wire_put_bytes(&w, s->snap.block.b, CRYPTO_DIGEST_LEN);
    wire_put_u8(&w, s->nclaims);
    for (uint32_t i = 0; i < s->nclaims && i < HS_CLAIMS; i++) {
        wire_put_u64(&w, s->claims[i].seq);
        wire_put_bytes(&w, s->claims[i].state.b, CRYPTO_DIGEST_LEN);
        wire_put_bytes(&w, s->claims[i].block.b, CRYPTO_DIGEST_LEN);
    }
    wire_put_u32(&w, s->total);
    wire_put_u32(&w, s->off);
    if (w.err || s->nclaims > HS_CLAIMS) return false;
    *m = (struct bft_msg){.type = BFT_MSG_STATE_RESP,
                          .view = view,
                          .seq = s->snap.seq,
                          .digest = s->snap.state,
                          .body = buf,
                          .body_len = (uint32_t)w.len,
                          .payload = s->chunk_len ? s->chunk : NULL,
                          .payload_len = s->chunk_len};
    return true;
}
