/* The WAL. What a HotStuff replica promises it persists before it says
 * it: the last voted view (vheight, Algorithm 3: never vote twice in a
 * view, and a leader never proposes twice in one) and the locked QC
 * (b_lock). Both are io->persist records of the step that makes the
 * promise, and the node makes them durable before any of that step's sends
 * leave. Committed blocks are logged too (and a snapshot restored by state
 * transfer), because the application restarts empty: recover() re-executes
 * them, so a restarted replica is back where it was without needing
 * others to still hold the state. Each block we vote for is logged before
 * the vote (a certified block must survive its voters' restarts); other
 * uncommitted blocks are fetched again by block sync. Records replay in
 * order before any other event. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/grow.h"
#include "core/hotstuff/hotstuff_internal.h"

static void recover_block(struct bft_core *c, struct wire_rd *r, bool committed);
static void recover_snap(struct bft_core *c, struct wire_rd *r);
static void recover_snap_part(struct bft_core *c, struct wire_rd *r);
static void recover_snap_end(struct bft_core *c, struct wire_rd *r);
static void recover_base(struct bft_core *c, struct wire_rd *r);

void hs_persist_vote(struct bft_core *c, uint64_t view, uint64_t height, const bft_digest *block)
{
    uint8_t rec[1 + 8 + 8 + CRYPTO_DIGEST_LEN];
    struct wire_wr w;
    wire_wr_init(&w, rec, sizeof rec);
    wire_put_u8(&w, HS_REC_VOTE);
    wire_put_u64(&w, view);
    wire_put_u64(&w, height);
    wire_put_bytes(&w, block->b, CRYPTO_DIGEST_LEN);
    assert(!w.err && w.len == sizeof rec);
    c->io.persist(c->io.ctx, rec, w.len);
}

void hs_persist_lock(struct bft_core *c)
{
    uint8_t rec[HS_REC_MAX];
    struct wire_wr w;
    wire_wr_init(&w, rec, sizeof rec);
    wire_put_u8(&w, HS_REC_LOCK);
    hs_qc_write(&w, &c->locked_qc);
    assert(!w.err);
    c->io.persist(c->io.ctx, rec, w.len);
}

/* Our own records: still parsed with the bounded reader, and a damaged one
 * is skipped rather than trusted. */
void hs_recover(struct bft_core *c, const uint8_t *rec, size_t len)
{
    struct wire_rd r;
    wire_rd_init(&r, rec, len);
    uint8_t type = wire_get_u8(&r);
    c->post_recover = true;
    if (type == HS_REC_VOTE) {
        uint64_t view = wire_get_u64(&r), height = wire_get_u64(&r);
        bft_digest block;
        wire_get_bytes(&r, block.b, CRYPTO_DIGEST_LEN);
        if (r.err || wire_rd_left(&r) != 0) return;
        if (view > c->last_voted_view) c->last_voted_view = view;
        if (!hs_is_zero(&block)) hs_note_vote_height(c, height);
        if (!hs_is_zero(&block) && (!c->my_vote.valid || view > c->my_vote.view)) {
            c->my_vote.valid = true;
            c->my_vote.view = view;
            c->my_vote.height = height;
            c->my_vote.block = block;
        }
        return;
    }
    if (type == HS_REC_LOCK) {
        struct hs_qc q;
        if (!hs_qc_read(&r, c->n, &q) || wire_rd_left(&r) != 0) return;
        if (q.view > c->locked_qc.view) c->locked_qc = q;
        if (q.view > c->high_qc.view) c->high_qc = q;
        return;
    }
    if (type == HS_REC_COMMIT) recover_block(c, &r, true);
    if (type == HS_REC_BLOCK) recover_block(c, &r, false);
    if (type == HS_REC_SNAP) recover_snap(c, &r);
    if (type == HS_REC_SNAP_PART) recover_snap_part(c, &r);
    if (type == HS_REC_SNAP_END) recover_snap_end(c, &r);
    if (type == HS_REC_BASE) recover_base(c, &r);
}

/* First event after recovery: resume in the view after the last vote. */
void hs_post_recover(struct bft_core *c)
{
    c->post_recover = false;
    uint64_t v = c->last_voted_view + 1;
    if (c->high_qc.view + 1 > v) v = c->high_qc.view + 1;
    if (v > c->view) c->view = v;
    c->proposed_view = c->last_voted_view;
    /* Connect the voted blocks the WAL gave back above the root. */
    hs_store_reconnect(c);
    hs_timer_update(c);
}

/* The record scratch grows to the records written into it, up to
 * HS_REC_BIG (docs/architecture.md "Bounds"): a replica whose blocks are
 * small never holds a full batch's worth. */
static size_t block_rec_need(const struct hs_block *b)
{
    return HS_BLOCK_REC_FIXED + (size_t)b->batch_len;
}

/* A COMMIT / BLOCK record of b to emit; false (nothing emitted) if the
 * scratch cannot grow to hold it. */
static bool write_block(struct bft_core *c, uint8_t type, const struct hs_block *b,
                        void (*emit)(void *ctx, const uint8_t *rec, size_t len), void *ctx)
{
    uint8_t *rec = bft_buf_reserve(&c->rec, block_rec_need(b), HS_REC_BIG);
    if (!rec) return false;
    struct wire_wr w;
    wire_wr_init(&w, rec, c->rec.cap);
    wire_put_u8(&w, type);
    wire_put_u64(&w, b->view);
    wire_put_u64(&w, b->height);
    wire_put_bytes(&w, b->parent.b, CRYPTO_DIGEST_LEN);
    wire_put_bytes(&w, b->batch_digest.b, CRYPTO_DIGEST_LEN);
    hs_qc_write(&w, &b->justify);
    wire_put_u32(&w, b->batch_len);
    wire_put_bytes(&w, b->batch, b->batch_len);
    assert(!w.err);
    emit(ctx, rec, w.len);
    return true;
}

static bool persist_block(struct bft_core *c, uint8_t type, const struct hs_block *b)
{
    return write_block(c, type, b, c->io.persist, c->io.ctx);
}

bool hs_persist_commit(struct bft_core *c, const struct hs_block *b)
{
    return persist_block(c, HS_REC_COMMIT, b);
}

/* A block we vote for is logged with the vote: a QC may certify it with our
 * vote, and if every replica that held it restarted without it, nobody
 * could serve it again and nobody could vote on its children. */
bool hs_persist_block(struct bft_core *c, const struct hs_block *b)
{
    return persist_block(c, HS_REC_BLOCK, b);
}

#define SNAP_END_REC_LEN (1 + 8 + CRYPTO_DIGEST_LEN + CRYPTO_DIGEST_LEN + 4)

bool hs_snapshot_rec_room(struct bft_core *c, uint32_t len)
{
    size_t need = 1 + 8 + 4 + (size_t)(len < HS_STATE_CHUNK ? len : HS_STATE_CHUNK);
    if (need < SNAP_END_REC_LEN) need = SNAP_END_REC_LEN;
    return bft_buf_reserve(&c->rec, need, HS_REC_BIG) != NULL;
}

/* A restored snapshot: SNAP_PART records of at most HS_STATE_CHUNK bytes
 * (a snapshot may be larger than one WAL record), then SNAP_END. The
 * caller made room first (hs_snapshot_rec_room), before it restored the
 * snapshot, so the records are never left half written. */
void hs_persist_snapshot(struct bft_core *c, const struct hs_claim *k, const uint8_t *snap,
                         uint32_t len)
{
    assert(c->rec.p && c->rec.cap >= SNAP_END_REC_LEN &&
           c->rec.cap >= 1 + 8 + 4 + (size_t)(len < HS_STATE_CHUNK ? len : HS_STATE_CHUNK));
    struct wire_wr w;
    for (uint32_t off = 0; off < len; off += HS_STATE_CHUNK) {
        uint32_t part = len - off < HS_STATE_CHUNK ? len - off : HS_STATE_CHUNK;
        wire_wr_init(&w, c->rec.p, c->rec.cap);
        wire_put_u8(&w, HS_REC_SNAP_PART);
        wire_put_u64(&w, k->seq);
        wire_put_u32(&w, off);
        wire_put_bytes(&w, snap + off, part);
        assert(!w.err);
        c->io.persist(c->io.ctx, c->rec.p, w.len);
    }
    wire_wr_init(&w, c->rec.p, c->rec.cap);
    wire_put_u8(&w, HS_REC_SNAP_END);
    wire_put_u64(&w, k->seq);
    wire_put_bytes(&w, k->block.b, CRYPTO_DIGEST_LEN);
    wire_put_bytes(&w, k->state.b, CRYPTO_DIGEST_LEN);
    wire_put_u32(&w, len);
    assert(!w.err && w.len == SNAP_END_REC_LEN);
    c->io.persist(c->io.ctx, c->rec.p, w.len);
}

/* A committed block: re-execute it if it extends what we rebuilt so far.
 * A voted block (not committed): back into the store, unconnected, above
 * the root; the first event after recovery connects what it can. */
static void recover_block(struct bft_core *c, struct wire_rd *r, bool committed)
{
    struct hs_wire_block w;
    memset(&w, 0, sizeof w);
    w.view = wire_get_u64(r);
    w.height = wire_get_u64(r);
    wire_get_bytes(r, w.parent.b, CRYPTO_DIGEST_LEN);
    wire_get_bytes(r, w.batch_digest.b, CRYPTO_DIGEST_LEN);
    if (!hs_qc_read(r, c->n, &w.justify)) return;
    w.batch_len = wire_get_u32(r);
    w.batch = wire_get_ptr(r, w.batch_len);
    if (r->err || wire_rd_left(r) != 0 || w.batch_len > BFT_PAYLOAD_MAX) return;
    hs_block_digest(w.view, w.height, &w.parent, &w.batch_digest, &w.justify, &w.digest);
    if (!committed) {
        if (w.height <= c->root_height) return;
        if (hs_block_insert(c, &w, c->self) && w.justify.view > c->high_qc.view)
            c->high_qc = w.justify;
        return;
    }
    if (c->st.exec_blocked || w.height != c->root_height + 1 || !hs_deq(&w.parent, &c->root))
        return;
    struct hs_block *b = hs_block_insert(c, &w, c->self);
    if (!b) return;
    if (!b->connected) {
        b->connected = true;
        c->n_unconnected--;
    }
    if (w.justify.view > c->high_qc.view) c->high_qc = w.justify;
    hs_execute_block(c, b);
}

static void restore_snap(struct bft_core *c, const struct hs_claim *k, const uint8_t *snap,
                         uint32_t len);

static void recover_snap(struct bft_core *c, struct wire_rd *r)
{
    struct hs_claim k;
    k.seq = wire_get_u64(r);
    wire_get_bytes(r, k.block.b, CRYPTO_DIGEST_LEN);
    wire_get_bytes(r, k.state.b, CRYPTO_DIGEST_LEN);
    uint32_t len = wire_get_u32(r);
    const uint8_t *snap = wire_get_ptr(r, len);
    if (r->err || wire_rd_left(r) != 0 || k.seq <= c->root_height) return;
    restore_snap(c, &k, snap, len);
}

/* Pieces of a snapshot, in order, into the state-transfer assembly. */
static void recover_snap_part(struct bft_core *c, struct wire_rd *r)
{
    struct hs_assembly *a = &c->st.assembly;
    uint64_t seq = wire_get_u64(r);
    uint32_t off = wire_get_u32(r);
    uint32_t len = (uint32_t)wire_rd_left(r);
    const uint8_t *p = wire_get_ptr(r, len);
    if (r->err) return;
    if (off == 0) {
        a->on = false;
        a->len = 0;
        a->claim.seq = seq;
    }
    if (seq != a->claim.seq || off != a->len || len > HS_SNAP_MAX - a->len) return;
    if (a->len + len > a->cap) {
        size_t cap =
            bft_grow_cap(a->cap ? a->cap : HS_STATE_CHUNK, (size_t)a->len + len, HS_SNAP_MAX);
        uint8_t *b = realloc(a->buf, cap);
        if (!b) return;
        a->buf = b;
        a->cap = (uint32_t)cap;
    }
    /* An empty chunk is legal input; with nothing assembled yet buf is
     * NULL, and memcpy(NULL, p, 0) is undefined (fuzz_wal, UBSan). */
    if (len == 0) return;
    memcpy(a->buf + a->len, p, len);
    a->len += len;
}

static void recover_snap_end(struct bft_core *c, struct wire_rd *r)
{
    struct hs_assembly *a = &c->st.assembly;
    struct hs_claim k;
    k.seq = wire_get_u64(r);
    wire_get_bytes(r, k.block.b, CRYPTO_DIGEST_LEN);
    wire_get_bytes(r, k.state.b, CRYPTO_DIGEST_LEN);
    uint32_t len = wire_get_u32(r);
    bool ok = !r->err && wire_rd_left(r) == 0 && k.seq == a->claim.seq && len == a->len;
    a->len = 0;
    a->claim.seq = 0;
    if (!ok || k.seq <= c->root_height) return;
    restore_snap(c, &k, len ? a->buf : NULL, len);
}

static void restore_snap(struct bft_core *c, const struct hs_claim *kp, const uint8_t *snap,
                         uint32_t len)
{
    struct hs_claim k = *kp;
    bft_digest state = {{0}};
    if (c->io.restore(c->io.ctx, k.seq, len ? snap : NULL, len, &k.state, &state) != BFT_E_OK ||
        !hs_deq(&state, &k.state)) {
        c->st.exec_blocked = true; /* cannot happen unless the WAL lies */
        return;
    }
    c->st.exec_blocked = false;
    c->root = k.block;
    c->root_height = k.seq;
    c->root_view = 0;
    c->last_state = state;
}

/* ---- WAL compaction (docs/storage.md) ----
 * The dump: our vote (vheight) and lock, a BASE record naming the durable
 * snapshot at height `base` and its block, the committed blocks from there
 * to the root, and every block held above the root (a superset of those we
 * voted for). Recovery loads the snapshot for BASE (io->load_snapshot) and
 * re-executes the committed blocks on top, as it does for a full WAL. */

static void recover_base(struct bft_core *c, struct wire_rd *r)
{
    uint64_t seq = wire_get_u64(r);
    bft_digest block;
    wire_get_bytes(r, block.b, CRYPTO_DIGEST_LEN);
    if (r->err || wire_rd_left(r) != 0 || seq <= c->root_height) return;
    bft_digest state = {{0}};
    /* No snapshot (or a damaged one): the root stays where it is, the
     * committed blocks after BASE do not connect, and the replica catches
     * up from its peers (block sync, else state transfer). */
    if (!c->io.load_snapshot || c->io.load_snapshot(c->io.ctx, seq, &state) != BFT_E_OK) return;
    c->st.exec_blocked = false;
    c->root = block;
    c->root_height = seq;
    c->root_view = 0;
    c->last_state = state;
}

static void emit_vote(void (*emit)(void *, const uint8_t *, size_t), void *ctx, uint64_t view,
                      uint64_t height, const bft_digest *block)
{
    uint8_t rec[1 + 8 + 8 + CRYPTO_DIGEST_LEN];
    struct wire_wr w;
    wire_wr_init(&w, rec, sizeof rec);
    wire_put_u8(&w, HS_REC_VOTE);
    wire_put_u64(&w, view);
    wire_put_u64(&w, height);
    wire_put_bytes(&w, block->b, CRYPTO_DIGEST_LEN);
    assert(!w.err && w.len == sizeof rec);
    emit(ctx, rec, w.len);
}

int hs_compact(struct bft_core *c, uint64_t base,
               void (*emit)(void *ctx, const uint8_t *rec, size_t len), void *ctx)
{
    if (base == 0 || base > c->root_height || c->st.exec_blocked) return BFT_E_AGAIN;
    /* The committed chain from the root down to base + 1 must be held. */
    int32_t chain[HS_BLOCKS_MAX];
    uint32_t k = 0;
    bft_digest at = c->root;
    for (uint64_t h = c->root_height; h > base; h--) {
        struct hs_block *b = hs_block_get(c, &at);
        if (!b || !b->committed || b->height != h || k == HS_BLOCKS_MAX) return BFT_E_AGAIN;
        chain[k++] = b->idx;
        at = b->parent;
    }
    /* Room in the record scratch for the largest block record of the dump
     * before any record is emitted, already in the check without emit (the
     * host checks, then dumps): a dump cut short by a lack of memory would
     * lose blocks. */
    size_t need = 0;
    for (uint32_t i = 0; i < k; i++)
        if (block_rec_need(hs_blk(c, chain[i])) > need) need = block_rec_need(hs_blk(c, chain[i]));
    for (int32_t i = 0; i < (int32_t)c->blocks_hwm; i++) {
        const struct hs_block *b = hs_blk(c, i);
        if (b->used && b->height > c->root_height && block_rec_need(b) > need)
            need = block_rec_need(b);
    }
    if (need && !bft_buf_reserve(&c->rec, need, HS_REC_BIG)) return BFT_E_AGAIN; /* out of memory */
    if (!emit) return BFT_E_OK;
    static const bft_digest zero;
    if (c->my_vote.valid)
        emit_vote(emit, ctx, c->my_vote.view, c->my_vote.height, &c->my_vote.block);
    /* The last view we proposed in counts as voted for a restart (never
     * propose twice), even while our own vote for it is still to come. */
    uint64_t marked = c->proposed_view > c->last_voted_view ? c->proposed_view : c->last_voted_view;
    if (!c->my_vote.valid || c->my_vote.view < marked) emit_vote(emit, ctx, marked, 0, &zero);
    uint8_t rec[HS_REC_MAX];
    struct wire_wr w;
    wire_wr_init(&w, rec, sizeof rec);
    wire_put_u8(&w, HS_REC_LOCK);
    hs_qc_write(&w, &c->locked_qc);
    assert(!w.err);
    emit(ctx, rec, w.len);
    wire_wr_init(&w, rec, sizeof rec);
    wire_put_u8(&w, HS_REC_BASE);
    wire_put_u64(&w, base);
    wire_put_bytes(&w, at.b, CRYPTO_DIGEST_LEN);
    assert(!w.err);
    emit(ctx, rec, w.len);
    bool ok = true; /* the scratch holds the largest record: no allocation below */
    for (uint32_t i = k; i-- > 0;)
        ok &= write_block(c, HS_REC_COMMIT, hs_blk(c, chain[i]), emit, ctx);
    for (int32_t i = 0; i < (int32_t)c->blocks_hwm; i++) {
        const struct hs_block *b = hs_blk(c, i);
        if (b->used && b->height > c->root_height) ok &= write_block(c, HS_REC_BLOCK, b, emit, ctx);
    }
    assert(ok);
    return BFT_E_OK;
}
