/* The typed codec of PBFT message bodies (layouts in pbft_wire.h, which
 * docs/wire.md points at). Decoders check structure and return a reject
 * reason; handlers take the decoded structs. */
#include "core/pbft/pbft_wire.h"

#include <string.h>

static bool is_null(const bft_digest *d)
{
    static const bft_digest zero;
    return memcmp(d->b, zero.b, sizeof zero.b) == 0;
}

static void get_digest(struct wire_rd *r, bft_digest *d)
{
    wire_get_bytes(r, d->b, CRYPTO_DIGEST_LEN);
}

/* The fixed layout of a bodiless message (vote, checkpoint, stripped
 * pre-prepare). Parsed here rather than by bft_msg_decode because a
 * stripped PRE-PREPARE (no payload) is not a valid wire message. */
enum bft_reject pbft_emb_decode(const uint8_t *raw, size_t len, uint8_t type, struct bft_msg *m)
{
    if (!raw || len != PBFT_RAW_MAX) return BFT_REJECT_MALFORMED;
    struct wire_rd r;
    wire_rd_init(&r, raw, len);
    uint32_t payload_len = wire_get_u32(&r);
    uint8_t version = wire_get_u8(&r), t = wire_get_u8(&r);
    uint16_t flags = wire_get_u16(&r);
    memset(m, 0, sizeof(*m));
    m->type = type;
    m->sender = wire_get_u32(&r);
    uint32_t body_len = wire_get_u32(&r);
    m->cluster_id = wire_get_u64(&r);
    m->view = wire_get_u64(&r);
    m->seq = wire_get_u64(&r);
    get_digest(&r, &m->digest);
    wire_get_bytes(&r, m->sig, BFT_SIG_LEN);
    m->raw = raw;
    m->raw_len = (uint32_t)len;
    if (r.err || payload_len != 0 || version != BFT_WIRE_VERSION || t != type || flags != 0 ||
        body_len != 0)
        return BFT_REJECT_MALFORMED;
    return BFT_REJECT_NONE;
}

void pbft_emb_put(struct wire_wr *w, const uint8_t *raw, uint16_t len)
{
    wire_put_u16(w, len);
    wire_put_bytes(w, raw, len);
}

/* count x (u16 len | raw of `type`). */
static enum bft_reject get_list(struct wire_rd *r, uint32_t count, uint8_t type,
                                struct pbft_emb_list *out)
{
    if (count > BFT_MAX_REPLICAS) return BFT_REJECT_MALFORMED;
    out->count = count;
    for (uint32_t i = 0; i < count; i++) {
        uint16_t len = wire_get_u16(r);
        const uint8_t *p = wire_get_ptr(r, len);
        if (!p || pbft_emb_decode(p, len, type, &out->m[i]) != BFT_REJECT_NONE)
            return BFT_REJECT_MALFORMED;
    }
    return BFT_REJECT_NONE;
}

/* ---- VIEW-CHANGE ---- */

/* One certificate; lim NULL when walking an already checked body. */
static enum bft_reject get_cert(struct wire_rd *r, const struct pbft_limits *lim,
                                struct pbft_vc_wire_cert *out)
{
    uint16_t len = wire_get_u16(r);
    const uint8_t *p = wire_get_ptr(r, len);
    if (!p || pbft_emb_decode(p, len, BFT_MSG_PRE_PREPARE, &out->pp) != BFT_REJECT_NONE)
        return BFT_REJECT_MALFORMED;
    uint32_t nprep = wire_get_u8(r);
    /* 2f matching PREPAREs from backups (§4.2 prepared). */
    if (r->err || (lim && (nprep < 2 * lim->f || nprep >= lim->n))) return BFT_REJECT_MALFORMED;
    if (get_list(r, nprep, BFT_MSG_PREPARE, &out->prep) != BFT_REJECT_NONE)
        return BFT_REJECT_MALFORMED;
    uint32_t blen = wire_get_u32(r);
    out->omitted = false;
    out->batch = NULL;
    out->batch_len = 0;
    if (r->err) return BFT_REJECT_MALFORMED;
    if (is_null(&out->pp.digest)) return blen == 0 ? BFT_REJECT_NONE : BFT_REJECT_MALFORMED;
    if (blen == PBFT_BATCH_OMITTED) {
        out->omitted = true;
        return BFT_REJECT_NONE;
    }
    out->batch = wire_get_ptr(r, blen);
    out->batch_len = blen;
    return out->batch && blen ? BFT_REJECT_NONE : BFT_REJECT_MALFORMED;
}

enum bft_reject pbft_vc_decode(const uint8_t *body, size_t len, const struct pbft_limits *lim,
                               struct pbft_vc_wire *out)
{
    struct wire_rd r;
    wire_rd_init(&r, body, len);
    out->h = wire_get_u64(&r);
    get_digest(&r, &out->h_digest);
    uint32_t nproof = wire_get_u8(&r);
    if (r.err || nproof > lim->n || out->h % lim->K != 0) return BFT_REJECT_MALFORMED;
    /* C is empty for the initial checkpoint, else 2f+1 CHECKPOINTs. */
    if (out->h == 0 ? (nproof != 0 || !is_null(&out->h_digest)) : nproof < 2 * lim->f + 1)
        return BFT_REJECT_MALFORMED;
    if (get_list(&r, nproof, BFT_MSG_CHECKPOINT, &out->proof) != BFT_REJECT_NONE)
        return BFT_REJECT_MALFORMED;
    out->ncert = wire_get_u16(&r);
    if (r.err || out->ncert > lim->L) return BFT_REJECT_MALFORMED;
    wire_rd_init(&out->certs, r.p + r.off, r.len - r.off);
    struct pbft_vc_wire_cert ct;
    for (uint32_t i = 0; i < out->ncert; i++)
        if (get_cert(&r, lim, &ct) != BFT_REJECT_NONE) return BFT_REJECT_MALFORMED;
    return r.err || r.off != r.len ? BFT_REJECT_MALFORMED : BFT_REJECT_NONE;
}

bool pbft_vc_next_cert(struct pbft_vc_wire *vc, struct pbft_vc_wire_cert *out)
{
    if (wire_rd_left(&vc->certs) == 0) return false;
    return get_cert(&vc->certs, NULL, out) == BFT_REJECT_NONE;
}

void pbft_vc_put_head(struct wire_wr *w, uint64_t h, const bft_digest *hd, uint32_t nproof)
{
    wire_put_u64(w, h);
    wire_put_bytes(w, hd->b, CRYPTO_DIGEST_LEN);
    wire_put_u8(w, (uint8_t)nproof);
}

size_t pbft_vc_begin_certs(struct wire_wr *w)
{
    size_t pos = w->len;
    wire_put_u16(w, 0);
    return pos;
}

void pbft_vc_put_ncert(struct wire_wr *w, size_t pos, uint16_t ncert)
{
    if (w->err || pos + 2 > w->len) {
        w->err = true;
        return;
    }
    wire_le_store(w->buf + pos, ncert, 2);
}

void pbft_vc_put_batch(struct wire_wr *w, const uint8_t *batch, uint32_t len, bool omitted)
{
    if (omitted) {
        wire_put_u32(w, PBFT_BATCH_OMITTED);
        return;
    }
    wire_put_u32(w, batch ? len : 0);
    if (batch) wire_put_bytes(w, batch, len);
}

/* ---- NEW-VIEW ---- */

static enum bft_reject get_refs(struct wire_rd *r, const struct pbft_limits *lim,
                                struct pbft_nv_wire *out)
{
    out->nref = wire_get_u8(r);
    /* V holds 2f+1 VIEW-CHANGEs (§4.4), one per replica. */
    if (r->err || out->nref < 2 * lim->f + 1 || out->nref > lim->n) return BFT_REJECT_MALFORMED;
    for (uint32_t i = 0; i < out->nref; i++) {
        uint32_t from = wire_get_u32(r);
        get_digest(r, &out->ref_id[i]);
        if (r->err || from >= lim->n || (i > 0 && from <= out->ref_from[i - 1]))
            return BFT_REJECT_MALFORMED;
        out->ref_from[i] = from;
    }
    return BFT_REJECT_NONE;
}

enum bft_reject pbft_nv_decode(const struct bft_msg *m, const struct pbft_limits *lim,
                               struct pbft_nv_wire *out)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    out->min_s = wire_get_u64(&r);
    get_digest(&r, &out->min_d);
    out->max_s = wire_get_u64(&r);
    if (r.err || out->max_s < out->min_s || out->max_s - out->min_s > lim->L)
        return BFT_REJECT_MALFORMED;
    if (get_refs(&r, lim, out) != BFT_REJECT_NONE) return BFT_REJECT_MALFORMED;
    out->ndig = wire_get_u16(&r);
    out->digs = wire_get_ptr(&r, (size_t)out->ndig * CRYPTO_DIGEST_LEN);
    out->nemb = wire_get_u8(&r);
    if (r.err || out->ndig != out->max_s - out->min_s || out->nemb > lim->n)
        return BFT_REJECT_MALFORMED;
    for (uint32_t i = 0; i < out->nemb; i++) {
        uint32_t len = wire_get_u32(&r);
        const uint8_t *p = wire_get_ptr(&r, len);
        struct bft_msg *v = &out->emb[i];
        if (!p || bft_msg_decode(p, len, v) != BFT_E_OK || v->type != BFT_MSG_VIEW_CHANGE ||
            v->view != m->view || v->sender >= lim->n)
            return BFT_REJECT_MALFORMED;
    }
    return r.off == r.len ? BFT_REJECT_NONE : BFT_REJECT_MALFORMED;
}

size_t pbft_nv_head_len(uint32_t nref, uint32_t ndig)
{
    return 8 + CRYPTO_DIGEST_LEN + 8 + 1 + (size_t)nref * (4 + CRYPTO_DIGEST_LEN) + 2 +
           (size_t)ndig * CRYPTO_DIGEST_LEN + 1;
}

void pbft_nv_encode(struct wire_wr *w, const struct pbft_nv_wire *nv)
{
    wire_put_u64(w, nv->min_s);
    wire_put_bytes(w, nv->min_d.b, CRYPTO_DIGEST_LEN);
    wire_put_u64(w, nv->max_s);
    wire_put_u8(w, (uint8_t)nv->nref);
    for (uint32_t i = 0; i < nv->nref; i++) {
        wire_put_u32(w, nv->ref_from[i]);
        wire_put_bytes(w, nv->ref_id[i].b, CRYPTO_DIGEST_LEN);
    }
    wire_put_u16(w, (uint16_t)nv->ndig);
    wire_put_bytes(w, nv->digs, (size_t)nv->ndig * CRYPTO_DIGEST_LEN);
    wire_put_u8(w, (uint8_t)nv->nemb);
    for (uint32_t i = 0; i < nv->nemb; i++) {
        wire_put_u32(w, nv->emb[i].raw_len);
        wire_put_bytes(w, nv->emb[i].raw, nv->emb[i].raw_len);
    }
}

/* ---- STATE-REQ ---- */

enum bft_reject pbft_state_req_decode(const struct bft_msg *m, struct pbft_state_req *out)
{
    memset(out, 0, sizeof(*out));
    if (m->body_len == 0) return BFT_REJECT_NONE; /* PBFT_SREQ_FIRST */
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    out->kind = wire_get_u8(&r);
    if (out->kind == PBFT_SREQ_CHUNK)
        out->offset = wire_get_u32(&r);
    else if (out->kind != PBFT_SREQ_RELAY)
        return BFT_REJECT_MALFORMED;
    return r.err || r.off != r.len ? BFT_REJECT_MALFORMED : BFT_REJECT_NONE;
}

size_t pbft_state_req_encode(const struct pbft_state_req *q, uint8_t body[PBFT_SREQ_MAX])
{
    struct wire_wr w;
    wire_wr_init(&w, body, PBFT_SREQ_MAX);
    if (q->kind == PBFT_SREQ_FIRST) return 0;
    wire_put_u8(&w, q->kind);
    if (q->kind == PBFT_SREQ_CHUNK) wire_put_u32(&w, q->offset);
    return w.len;
}

/* ---- FETCH-REQ ---- */

enum bft_reject pbft_fetch_req_decode(const struct bft_msg *m, uint16_t *count)
{
    *count = 0;
    if (m->body_len != PBFT_FETCH_REQ_LEN) return BFT_REJECT_MALFORMED;
    *count = (uint16_t)wire_le_load(m->body, 2);
    return BFT_REJECT_NONE;
}

void pbft_fetch_req_encode(uint16_t count, uint8_t body[PBFT_FETCH_REQ_LEN])
{
    wire_le_store(body, count, 2);
}

/* ---- STATE-RESP and FETCH-RESP ---- */

int pbft_resp_kind(const struct bft_msg *m)
{
    if (m->body_len < 1) return -1;
    uint8_t k = m->body[0];
    if (m->type == BFT_MSG_STATE_RESP && (k == PBFT_SRESP_CHUNK || k == PBFT_SRESP_RELAY)) return k;
    if (m->type == BFT_MSG_FETCH_RESP && (k == PBFT_FRESP_ENTRY || k == PBFT_FRESP_CKPT)) return k;
    return -1;
}

enum bft_reject pbft_chunk_decode(const struct bft_msg *m, const struct pbft_limits *lim,
                                  size_t snap_max, size_t chunk_max, struct pbft_chunk_wire *out)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    uint8_t kind = wire_get_u8(&r);
    out->total = wire_get_u32(&r);
    out->offset = wire_get_u32(&r);
    get_digest(&r, &out->sha);
    uint32_t k = wire_get_u8(&r);
    size_t total = out->total, off = out->offset, want = m->payload_len;
    /* Chunks of up to chunk_max bytes (a responder may send less). */
    if (r.err || kind != PBFT_SRESP_CHUNK || total > snap_max || off > total ||
        want > total - off || want > chunk_max || (off < total && want == 0) ||
        (off == 0) != (k > 0) || k > lim->n)
        return BFT_REJECT_MALFORMED;
    if (get_list(&r, k, BFT_MSG_CHECKPOINT, &out->proof) != BFT_REJECT_NONE)
        return BFT_REJECT_MALFORMED;
    return r.off == r.len ? BFT_REJECT_NONE : BFT_REJECT_MALFORMED;
}

enum bft_reject pbft_entry_decode(const struct bft_msg *m, const struct pbft_limits *lim,
                                  struct pbft_entry_wire *out)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    uint8_t kind = wire_get_u8(&r);
    out->their_exec = wire_get_u64(&r);
    uint32_t k = wire_get_u8(&r);
    /* committed(m, v, n) takes 2f+1 COMMITs (§4.2). */
    if (r.err || kind != PBFT_FRESP_ENTRY || k < 2 * lim->f + 1 || k > lim->n)
        return BFT_REJECT_MALFORMED;
    if (get_list(&r, k, BFT_MSG_COMMIT, &out->commits) != BFT_REJECT_NONE)
        return BFT_REJECT_MALFORMED;
    return r.off == r.len ? BFT_REJECT_NONE : BFT_REJECT_MALFORMED;
}

enum bft_reject pbft_ckpt_proof_decode(const struct bft_msg *m, const struct pbft_limits *lim,
                                       struct pbft_emb_list *out)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    uint8_t kind = wire_get_u8(&r);
    uint32_t k = wire_get_u8(&r);
    if (r.err || kind != PBFT_FRESP_CKPT || k > lim->n) return BFT_REJECT_MALFORMED;
    if (get_list(&r, k, BFT_MSG_CHECKPOINT, out) != BFT_REJECT_NONE) return BFT_REJECT_MALFORMED;
    return r.off == r.len ? BFT_REJECT_NONE : BFT_REJECT_MALFORMED;
}

enum bft_reject pbft_relay_resp_decode(const struct bft_msg *m, const uint8_t **raw, uint16_t *len)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    uint8_t kind = wire_get_u8(&r);
    *len = wire_get_u16(&r);
    *raw = wire_get_ptr(&r, *len);
    if (r.err || kind != PBFT_SRESP_RELAY || r.off != r.len) return BFT_REJECT_MALFORMED;
    return BFT_REJECT_NONE;
}

void pbft_chunk_put_head(struct wire_wr *w, uint32_t total, uint32_t offset, const bft_digest *sha,
                         uint32_t k)
{
    wire_put_u8(w, PBFT_SRESP_CHUNK);
    wire_put_u32(w, total);
    wire_put_u32(w, offset);
    wire_put_bytes(w, sha->b, CRYPTO_DIGEST_LEN);
    wire_put_u8(w, (uint8_t)k);
}

void pbft_entry_put_head(struct wire_wr *w, uint64_t their_exec, uint32_t k)
{
    wire_put_u8(w, PBFT_FRESP_ENTRY);
    wire_put_u64(w, their_exec);
    wire_put_u8(w, (uint8_t)k);
}

void pbft_ckpt_proof_put_head(struct wire_wr *w, uint32_t k)
{
    wire_put_u8(w, PBFT_FRESP_CKPT);
    wire_put_u8(w, (uint8_t)k);
}

void pbft_relay_resp_put(struct wire_wr *w, const uint8_t *raw, uint16_t len)
{
    wire_put_u8(w, PBFT_SRESP_RELAY);
    pbft_emb_put(w, raw, len);
}
