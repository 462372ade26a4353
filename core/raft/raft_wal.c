/* Raft durable state (Fig. 2 "Persistent state on all servers": currentTerm,
 * votedFor, log[]) as WAL records, and recovery from them. The node makes a
 * step's records durable before any of the step's sends leave, so a vote or
 * an AppendEntries ack never outruns the state it promises.
 *
 * Executed state lives in memory only. Recovery rebuilds term, vote and the
 * log; COMMIT records are hints of how far the log was known committed (a
 * commit index is never wrong once known, §5.4), so at the first event after
 * replay (raft_start) the replica re-executes its committed prefix from the
 * start of its in-memory log before it hears from anyone. Replay itself has
 * no effects. If the prefix is not all in memory (the WAL outgrew the
 * in-memory bound, or a SNAP record says a snapshot from a peer replaced
 * the log), the state up to the log's start comes back by state transfer
 * (raft_snapshot.c). */
#include <assert.h>
#include <string.h>

#include "core/raft/raft_internal.h"
#include "wire/bytes.h"

#define HARD_REC_LEN (1 + 8 + 4 + 8 + 1)

/* The HARD record (Fig. 2 currentTerm and votedFor, plus the disk-loss
 * guard's floor and anchor) into buf. */
static void hard_record(const struct bft_core *c, uint8_t buf[HARD_REC_LEN])
{
    struct wire_wr w;
    wire_wr_init(&w, buf, HARD_REC_LEN);
    wire_put_u8(&w, RAFT_REC_HARD);
    wire_put_u64(&w, c->term);
    wire_put_u32(&w, c->voted_for);
    wire_put_u64(&w, c->vote_floor);
    wire_put_u8(&w, c->anchored ? 1 : 0);
    assert(!w.err && w.len == HARD_REC_LEN);
}

void raft_persist_hard(struct bft_core *c)
{
    uint8_t rec[HARD_REC_LEN];
    hard_record(c, rec);
    c->io.persist(c->io.ctx, rec, sizeof rec);
}

/* One ENTRY record into c->rec, grown to the record's size (an entry is at
 * most RAFT_ENTRY_MAX, so a record is within RAFT_REC_MAX). NULL if memory
 * is short. */
static const uint8_t *entry_record(struct bft_core *c, uint64_t index, const struct raft_entry *e,
                                   size_t *len)
{
    size_t need = RAFT_REC_ENTRY_HDR + (size_t)e->len;
    if (!bft_buf_reserve(&c->rec, need, RAFT_REC_MAX)) return NULL;
    struct wire_wr w;
    wire_wr_init(&w, c->rec.p, c->rec.cap);
    wire_put_u8(&w, RAFT_REC_ENTRY);
    wire_put_u64(&w, index);
    wire_put_u64(&w, e->term);
    wire_put_u32(&w, e->len);
    wire_put_bytes(&w, e->batch, e->len);
    assert(!w.err && w.len == need);
    *len = w.len;
    return c->rec.p;
}

bool raft_persist_entry(struct bft_core *c, uint64_t index)
{
    const struct raft_entry *e = raft_log_at(&c->log, index);
    assert(e);
    size_t len;
    const uint8_t *rec = entry_record(c, index, e, &len);
    if (!rec) return false;
    c->io.persist(c->io.ctx, rec, len);
    return true;
}

void raft_persist_commit(struct bft_core *c)
{
    uint8_t rec[9];
    rec[0] = RAFT_REC_COMMIT;
    wire_le_store(rec + 1, c->commit, 8);
    c->io.persist(c->io.ctx, rec, sizeof rec);
    c->commit_hint = c->commit;
}

void raft_persist_snap(struct bft_core *c, uint64_t index, uint64_t term)
{
    uint8_t rec[17];
    rec[0] = RAFT_REC_SNAP;
    wire_le_store(rec + 1, index, 8);
    wire_le_store(rec + 9, term, 8);
    c->io.persist(c->io.ctx, rec, sizeof rec);
}

/* Room for one more entry while replaying. Nothing executes during replay
 * (the host is not ready for effects yet; raft_start re-executes), so when
 * the WAL holds more than the in-memory bound the oldest committed entries
 * are dropped: the state up to them then comes by state transfer. */
static bool replay_room(struct bft_core *c)
{
    if (!raft_log_full(&c->log)) return true;
    if (c->commit >= c->log.start) {
        uint64_t upto = c->log.start + RAFT_LOG_CAP / 8;
        if (upto > c->commit) upto = c->commit;
        raft_log_compact(&c->log, upto);
        c->snap_len = 0; /* a snapshot we held is gone with the process */
        c->snap_index = 0;
    }
    return !raft_log_full(&c->log);
}

static void recover_entry(struct bft_core *c, struct wire_rd *r)
{
    uint64_t index = wire_get_u64(r);
    uint64_t term = wire_get_u64(r);
    uint32_t len = wire_get_u32(r);
    const uint8_t *batch = len ? wire_get_ptr(r, len) : NULL;
    if (r->err || wire_rd_left(r) != 0 || index == 0 || len > RAFT_ENTRY_MAX) goto bad;
    if (index < c->log.start) return; /* under a snapshot already */
    if (index > c->log.last + 1) goto bad;
    if (index <= c->log.last) {
        if (index <= c->commit) return; /* committed entries never change */
        raft_log_truncate(&c->log, index);
    }
    if (!replay_room(c)) goto bad;
    if (!raft_log_append(&c->log, term, batch, len)) goto bad;
    return;
bad:
    c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
}

static void recover_snap(struct bft_core *c, uint64_t index, uint64_t term)
{
    uint64_t t;
    if (c->log.start == 1 && raft_log_term(&c->log, index, &t) && t == term) {
        /* The whole prefix is in the WAL after all: re-execute it. */
    } else {
        raft_log_install(&c->log, index, term);
        /* The state up to index from the durable snapshot the host saved
         * there (docs/storage.md); without it, by state transfer. */
        bft_digest st;
        if (c->applied < index && c->log.start == index + 1 && c->io.load_snapshot &&
            c->io.load_snapshot(c->io.ctx, index, &st) == BFT_E_OK)
            c->applied = index;
    }
    if (c->commit < index) c->commit = index;
    if (c->commit > c->log.last) c->commit = c->log.last;
}

void raft_recover(struct bft_core *c, const uint8_t *rec, size_t len)
{
    struct wire_rd r;
    wire_rd_init(&r, rec, len);
    uint8_t type = wire_get_u8(&r);
    switch (type) {
    case RAFT_REC_HARD: {
        uint64_t term = wire_get_u64(&r);
        uint32_t voted = wire_get_u32(&r);
        uint64_t floor = wire_get_u64(&r);
        uint8_t anchored = wire_get_u8(&r);
        if (r.err || wire_rd_left(&r) != 0 || anchored > 1 || (voted != RAFT_NONE && voted >= c->n))
            break;
        c->term = term;
        c->voted_for = voted;
        c->vote_floor = floor;
        c->anchored = anchored == 1;
        return;
    }
    case RAFT_REC_ENTRY:
        recover_entry(c, &r);
        return;
    case RAFT_REC_COMMIT: {
        uint64_t idx = wire_get_u64(&r);
        if (r.err || wire_rd_left(&r) != 0) break;
        c->commit_hint = idx;
        if (idx > c->log.last) idx = c->log.last;
        if (idx > c->commit) c->commit = idx;
        return;
    }
    case RAFT_REC_SNAP: {
        uint64_t idx = wire_get_u64(&r);
        uint64_t term = wire_get_u64(&r);
        if (r.err || wire_rd_left(&r) != 0 || idx == 0) break;
        recover_snap(c, idx, term);
        return;
    }
    default:
        break;
    }
    c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
}

/* WAL compaction (docs/storage.md): the hard state, a SNAP record for the
 * durable snapshot at `base`, every log entry after it, and the commit
 * index. Needs base within what the log still holds (its term known and
 * the entries after it in memory). */
int raft_compact(struct bft_core *c, uint64_t base,
                 void (*emit)(void *ctx, const uint8_t *rec, size_t len), void *ctx)
{
    uint64_t term;
    if (base == 0 || base > c->applied || base + 1 < c->log.start ||
        !raft_log_term(&c->log, base, &term))
        return BFT_E_AGAIN;
    /* Room for the largest ENTRY record first, so that saying "can" (emit
     * NULL) means the dump cannot fail halfway; memory short is a reason
     * it cannot now (the caller tries again at its next rotation). */
    uint32_t big = 0;
    for (uint64_t i = base + 1; i <= c->log.last; i++) {
        const struct raft_entry *e = raft_log_at(&c->log, i);
        if (e->len > big) big = e->len;
    }
    if (!bft_buf_reserve(&c->rec, RAFT_REC_ENTRY_HDR + (size_t)big, RAFT_REC_MAX))
        return BFT_E_AGAIN;
    if (!emit) return BFT_E_OK;
    uint8_t small[HARD_REC_LEN];
    hard_record(c, small);
    emit(ctx, small, sizeof small);
    small[0] = RAFT_REC_SNAP;
    wire_le_store(small + 1, base, 8);
    wire_le_store(small + 9, term, 8);
    emit(ctx, small, 17);
    for (uint64_t i = base + 1; i <= c->log.last; i++) {
        const struct raft_entry *e = raft_log_at(&c->log, i);
        assert(e);
        size_t len;
        const uint8_t *rec = entry_record(c, i, e, &len);
        assert(rec); /* room reserved above */
        emit(ctx, rec, len);
    }
    small[0] = RAFT_REC_COMMIT;
    wire_le_store(small + 1, c->commit, 8);
    emit(ctx, small, 9);
    return BFT_E_OK;
}
