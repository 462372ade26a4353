/* Raft message bodies: decoders and encoders (raft_wire.h has the
 * layouts). Every read goes through the bounded wire_rd, so a short,
 * long or hostile body is refused as BFT_REJECT_MALFORMED, never read past
 * (docs/style.md #6: invalid input is counted and dropped). */
#include <assert.h>

#include "core/raft/raft_wire.h"

/* A batch must be framed as client REQUESTs (the node re-checks and skips
 * anything else at execution; this only keeps junk out of the log). */
static bool batch_ok(const uint8_t *b, uint32_t len)
{
    if (len == 0) return true;
    struct bft_batch_iter it;
    if (bft_batch_iter_init(&it, b, len) != BFT_E_OK) return false;
    const uint8_t *raw;
    size_t rlen;
    while (bft_batch_iter_next(&it, &raw, &rlen)) {
        struct bft_msg req;
        if (bft_msg_decode(raw, rlen, &req) != BFT_E_OK || req.type != BFT_MSG_REQUEST ||
            req.payload_len != 0)
            return false;
    }
    return true;
}

bool raft_entry_next(struct wire_rd *r, struct raft_entry_ref *e)
{
    e->term = wire_get_u64(r);
    e->len = wire_get_u32(r);
    e->batch = e->len ? wire_get_ptr(r, e->len) : NULL;
    return !r->err;
}

/* Validate every entry before the handler acts on any: a term never goes
 * down along the log (Fig. 2 Log Matching) nor above the sender's term. */
static bool entries_ok(struct wire_rd r, const struct raft_append *a)
{
    uint64_t t_prev = a->prev_term;
    for (uint32_t i = 0; i < a->count; i++) {
        struct raft_entry_ref e;
        if (!raft_entry_next(&r, &e) || e.len > RAFT_ENTRY_MAX || e.term < t_prev ||
            e.term > a->term || !batch_ok(e.batch, e.len))
            return false;
        t_prev = e.term;
    }
    return wire_rd_left(&r) == 0;
}

enum bft_reject raft_decode_append(const struct bft_msg *m, struct raft_append *a)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    a->term = m->view;
    a->prev_index = m->seq;
    uint8_t flags = wire_get_u8(&r);
    a->anchor = flags & RAFT_AE_ANCHOR;
    a->prev_term = wire_get_u64(&r);
    a->commit = wire_get_u64(&r);
    a->round = wire_get_u64(&r);
    a->boot_id = a->anchor_index = 0;
    if (a->anchor) {
        a->boot_id = wire_get_u64(&r);
        a->anchor_index = wire_get_u64(&r);
    }
    a->count = wire_get_u32(&r);
    /* Term 0 has no leader; prev_index + count must not wrap. */
    if (r.err || (flags & ~RAFT_AE_ANCHOR) || a->count > RAFT_APPEND_ENTRIES_MAX || a->term == 0 ||
        a->prev_index > UINT64_MAX - RAFT_APPEND_ENTRIES_MAX - 1 || a->prev_term > a->term)
        return BFT_REJECT_MALFORMED;
    a->entries = r;
    return entries_ok(r, a) ? BFT_REJECT_NONE : BFT_REJECT_MALFORMED;
}

enum bft_reject raft_decode_append_resp(const struct bft_msg *m, struct raft_append_resp *a)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    a->term = m->view;
    a->match = m->seq;
    uint8_t flags = wire_get_u8(&r);
    a->success = flags & RAFT_AR_SUCCESS;
    a->fresh = flags & RAFT_AR_FRESH;
    a->round = wire_get_u64(&r);
    a->conflict_term = wire_get_u64(&r);
    a->conflict_index = wire_get_u64(&r);
    a->boot_id = a->fresh ? wire_get_u64(&r) : 0;
    /* A reject always names where to retry (index >= 1); a fresh replier
     * always names its incarnation. */
    if (r.err || wire_rd_left(&r) != 0 || (flags & ~(RAFT_AR_SUCCESS | RAFT_AR_FRESH)) ||
        (!a->success && a->conflict_index == 0) || (a->fresh && a->boot_id == 0))
        return BFT_REJECT_MALFORMED;
    return BFT_REJECT_NONE;
}

static bool vote_kind_ok(uint8_t kind)
{
    return kind >= RAFT_VOTE_REAL && kind <= RAFT_VOTE_PROBE;
}

enum bft_reject raft_decode_vote(const struct bft_msg *m, struct raft_vote *v)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    v->term = m->view;
    v->last_index = m->seq;
    v->kind = wire_get_u8(&r);
    v->last_term = wire_get_u64(&r);
    v->nonce = wire_get_u64(&r);
    /* Only a probe carries a nonce; a (pre-)candidate asks for term >= 1. */
    if (r.err || wire_rd_left(&r) != 0 || !vote_kind_ok(v->kind) ||
        (v->kind != RAFT_VOTE_PROBE && (v->nonce != 0 || v->term == 0)))
        return BFT_REJECT_MALFORMED;
    return BFT_REJECT_NONE;
}

enum bft_reject raft_decode_vote_resp(const struct bft_msg *m, struct raft_vote_resp *v)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    v->term = m->view;
    v->kind = wire_get_u8(&r);
    uint8_t granted = wire_get_u8(&r);
    v->granted = granted == 1;
    v->asked_term = wire_get_u64(&r);
    v->nonce = wire_get_u64(&r);
    /* A probe is never granted: it only asks for the replier's term. */
    if (r.err || wire_rd_left(&r) != 0 || !vote_kind_ok(v->kind) || granted > 1 ||
        (v->kind == RAFT_VOTE_PROBE && granted))
        return BFT_REJECT_MALFORMED;
    return BFT_REJECT_NONE;
}

enum bft_reject raft_decode_state_req(const struct bft_msg *m, struct raft_state_req *s)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    s->term = m->view;
    s->want = m->seq;
    s->snap_index = wire_get_u64(&r);
    s->offset = wire_get_u64(&r);
    if (r.err || wire_rd_left(&r) != 0) return BFT_REJECT_MALFORMED;
    return BFT_REJECT_NONE;
}

enum bft_reject raft_decode_state_resp(const struct bft_msg *m, struct raft_state_resp *s)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    s->term = m->view;
    s->snap_index = m->seq;
    s->snap_term = wire_get_u64(&r);
    s->total = wire_get_u64(&r);
    s->offset = wire_get_u64(&r);
    s->chunk = m->payload;
    s->chunk_len = m->payload_len;
    /* The chunk lies inside a snapshot of at most RAFT_SNAP_MAX bytes, and
     * the snapshot's last entry is no newer than the sender's term. */
    if (r.err || wire_rd_left(&r) != 0 || s->snap_index == 0 || s->total > RAFT_SNAP_MAX ||
        s->offset > s->total || s->chunk_len > s->total - s->offset || s->snap_term > s->term)
        return BFT_REJECT_MALFORMED;
    return BFT_REJECT_NONE;
}

/* ---- encoders ---- */

size_t raft_append_head_len(bool anchor)
{
    return 1 + 8 + 8 + 8 + (anchor ? 16 : 0) + 4;
}

void raft_put_append_head(struct wire_wr *w, const struct raft_append *a)
{
    wire_put_u8(w, a->anchor ? RAFT_AE_ANCHOR : 0);
    wire_put_u64(w, a->prev_term);
    wire_put_u64(w, a->commit);
    wire_put_u64(w, a->round);
    if (a->anchor) {
        wire_put_u64(w, a->boot_id);
        wire_put_u64(w, a->anchor_index);
    }
    wire_put_u32(w, a->count);
}

void raft_put_entry(struct wire_wr *w, const struct raft_entry_ref *e)
{
    wire_put_u64(w, e->term);
    wire_put_u32(w, e->len);
    wire_put_bytes(w, e->batch, e->len);
}

void raft_append_msg(const struct raft_append *a, const struct wire_wr *w, struct bft_msg *m)
{
    assert(!w->err);
    *m = (struct bft_msg){.type = BFT_MSG_RAFT_APPEND,
                          .view = a->term,
                          .seq = a->prev_index,
                          .body = w->buf,
                          .body_len = (uint32_t)w->len};
}

void raft_encode_append_resp(const struct raft_append_resp *a, uint8_t buf[RAFT_APPEND_RESP_MAX],
                             struct bft_msg *m)
{
    struct wire_wr w;
    wire_wr_init(&w, buf, RAFT_APPEND_RESP_MAX);
    wire_put_u8(&w, (uint8_t)((a->success ? RAFT_AR_SUCCESS : 0) | (a->fresh ? RAFT_AR_FRESH : 0)));
    wire_put_u64(&w, a->round);
    wire_put_u64(&w, a->conflict_term);
    wire_put_u64(&w, a->conflict_index);
    if (a->fresh) wire_put_u64(&w, a->boot_id);
    assert(!w.err);
    *m = (struct bft_msg){.type = BFT_MSG_RAFT_APPEND_RESP,
                          .view = a->term,
                          .seq = a->success ? a->match : 0,
                          .body = buf,
                          .body_len = (uint32_t)w.len};
}

void raft_encode_vote(const struct raft_vote *v, uint8_t buf[RAFT_VOTE_LEN], struct bft_msg *m)
{
    struct wire_wr w;
    wire_wr_init(&w, buf, RAFT_VOTE_LEN);
    wire_put_u8(&w, v->kind);
    wire_put_u64(&w, v->last_term);
    wire_put_u64(&w, v->nonce);
    assert(!w.err && w.len == RAFT_VOTE_LEN);
    *m = (struct bft_msg){.type = BFT_MSG_RAFT_VOTE,
                          .view = v->term,
                          .seq = v->last_index,
                          .body = buf,
                          .body_len = RAFT_VOTE_LEN};
}

void raft_encode_vote_resp(const struct raft_vote_resp *v, uint8_t buf[RAFT_VOTE_RESP_LEN],
                           struct bft_msg *m)
{
    struct wire_wr w;
    wire_wr_init(&w, buf, RAFT_VOTE_RESP_LEN);
    wire_put_u8(&w, v->kind);
    wire_put_u8(&w, v->granted ? 1 : 0);
    wire_put_u64(&w, v->asked_term);
    wire_put_u64(&w, v->nonce);
    assert(!w.err && w.len == RAFT_VOTE_RESP_LEN);
    *m = (struct bft_msg){.type = BFT_MSG_RAFT_VOTE_RESP,
                          .view = v->term,
                          .body = buf,
                          .body_len = RAFT_VOTE_RESP_LEN};
}

void raft_encode_state_req(const struct raft_state_req *s, uint8_t buf[RAFT_STATE_REQ_LEN],
                           struct bft_msg *m)
{
    struct wire_wr w;
    wire_wr_init(&w, buf, RAFT_STATE_REQ_LEN);
    wire_put_u64(&w, s->snap_index);
    wire_put_u64(&w, s->offset);
    assert(!w.err && w.len == RAFT_STATE_REQ_LEN);
    *m = (struct bft_msg){.type = BFT_MSG_STATE_REQ,
                          .view = s->term,
                          .seq = s->want,
                          .body = buf,
                          .body_len = RAFT_STATE_REQ_LEN};
}

void raft_encode_state_resp(const struct raft_state_resp *s, uint8_t buf[RAFT_STATE_RESP_LEN],
                            struct bft_msg *m)
{
    struct wire_wr w;
    wire_wr_init(&w, buf, RAFT_STATE_RESP_LEN);
    wire_put_u64(&w, s->snap_term);
    wire_put_u64(&w, s->total);
    wire_put_u64(&w, s->offset);
    assert(!w.err && w.len == RAFT_STATE_RESP_LEN);
    *m = (struct bft_msg){.type = BFT_MSG_STATE_RESP,
                          .view = s->term,
                          .seq = s->snap_index,
                          .body = buf,
                          .body_len = RAFT_STATE_RESP_LEN,
                          .payload = s->chunk,
                          .payload_len = s->chunk_len};
}
