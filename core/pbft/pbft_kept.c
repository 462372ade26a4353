/* The committed log kept since the served snapshot (docs/pbft.md
 * "Snapshots"). A replica takes a snapshot only at some checkpoints (a copy
 * and a SHA-256 of a state of up to PBFT_SNAP_MAX bytes is too dear for
 * every K seqs), so its stable checkpoint h usually has none. What it
 * serves instead is its newest certified snapshot (at snap_seq, with that
 * checkpoint's own 2f+1 proof) and every entry from snap_seq + 1 to h with
 * the 2f+1 COMMITs that committed it: committed(m, v, n) of Castro &
 * Liskov §4.2, the same proof the log fetch uses (pbft_fetch.c). A laggard
 * restores the snapshot, replays those entries below its window and goes
 * on at h; the state it reaches at h must be the certified h_digest (§4.3).
 *
 * The entries are copied from the window when a checkpoint becomes stable
 * (pbft_make_stable garbage-collects them there) or when a laggard replays
 * them, so they are kept only while they extend the log contiguously from
 * snap_seq. The snapshot rule keeps their bytes near one snapshot's size;
 * PBFT_KEPT_SEQS and PBFT_KEPT_BYTES bound them regardless. A laggard holds
 * fetched entries that overtook their predecessors (the network reorders),
 * at most one fetch range (PBFT_FETCH_RANGE) ahead. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/pbft/pbft_internal.h"

void pbft_kept_reset(struct bft_core *c)
{
    for (uint32_t i = 0; i < c->kept_n; i++)
        free(c->kept[i]);
    c->kept_n = 0;
    c->kept_bytes = 0;
    c->kept_batch_bytes = 0;
    c->kept_broken = false;
}

/* A gap or a bound: the log since the snapshot cannot be served whole, so
 * keep nothing more until the next snapshot (taken at the next checkpoint,
 * pbft_state.c). */
static void kept_break(struct bft_core *c)
{
    PTRACE(c, "kept log broken at %llu (snap %llu)", (unsigned long long)(c->snap.seq + c->kept_n),
           (unsigned long long)c->snap.seq);
    pbft_kept_reset(c);
    c->kept_broken = true;
}

/* The entry for seq, or NULL (out of memory, or a peer's COMMIT we no
 * longer hold: raws[i] of a peer must be set). */
static struct pbft_kept_entry *entry_new(const struct bft_core *c, uint64_t seq, uint64_t view,
                                         const bft_digest *d, uint32_t mask,
                                         const struct pbft_raw *raws, const uint8_t *batch,
                                         uint32_t len)
{
    size_t raws_len = 0;
    for (uint32_t i = 0; i < c->n; i++) {
        if (!(mask & (1u << i))) continue;
        if (i != c->self && raws[i].len == 0) return NULL;
        raws_len += 3 + (i == c->self ? 0 : raws[i].len);
    }
    struct pbft_kept_entry *e = malloc(sizeof(*e) + raws_len + len);
    if (!e) return NULL;
    e->seq = seq;
    e->view = view;
    e->digest = *d;
    e->mask = mask;
    e->raws_len = (uint32_t)raws_len;
    e->batch_len = len;
    uint8_t *p = e->data;
    for (uint32_t i = 0; i < c->n; i++) {
        if (!(mask & (1u << i))) continue;
        uint16_t rl = i == c->self ? 0 : raws[i].len; /* 0: our own, regenerated */
        *p++ = (uint8_t)i;
        *p++ = (uint8_t)rl;
        *p++ = (uint8_t)(rl >> 8);
        if (rl) memcpy(p, raws[i].b, rl);
        p += rl;
    }
    if (len) memcpy(p, batch, len);
    return e;
}

static size_t entry_size(const struct pbft_kept_entry *e)
{
    return sizeof(*e) + e->raws_len + e->batch_len;
}

/* ---- Durable (pbft_rec.h KEPT). Before these records the kept log lived
 * in memory only, and a WAL rotation drops everything below h: once every
 * replica restarted (a power loss) each restored its own snapshot below h,
 * none had the entries from there to h, and the cluster stalled for good
 * with those committed batches nowhere (tests/sim/test_sim_no_result.c
 * found it: PBFT seed 1 stuck at its snapshot, 1712, below h = 1840). */

/* e's KEPT record in c->rec; its length, 0 if c->rec cannot hold it. */
static size_t kept_rec(struct bft_core *c, const struct pbft_kept_entry *e)
{
    size_t need = PBFT_KEPT_REC_HDR + (size_t)e->raws_len + e->batch_len;
    if (need > PBFT_REC_MAX) return 0;
    struct wire_wr w = pbft_rec_wr(c, need);
    if (w.err) return 0;
    wire_put_le(&w, PBFT_REC_KEPT, 1);
    wire_put_le(&w, e->seq, 8);
    wire_put_le(&w, e->view, 8);
    wire_put_bytes(&w, e->digest.b, CRYPTO_DIGEST_LEN);
    wire_put_le(&w, e->mask, 4);
    wire_put_le(&w, e->raws_len, 4);
    wire_put_le(&w, e->batch_len, 4);
    wire_put_bytes(&w, e->data, (size_t)e->raws_len + e->batch_len);
    return w.err ? 0 : w.len;
}

/* Written with the step that keeps it (no sync of its own: the step's
 * sync carries it). A record that cannot be built (short memory) leaves
 * that restart to fetch from peers, as before. */
static void kept_persist(struct bft_core *c, const struct pbft_kept_entry *e)
{
    size_t len = kept_rec(c, e);
    if (len) c->io.persist(c->io.ctx, c->rec.p, len);
}

size_t pbft_kept_rec_max(const struct bft_core *c)
{
    size_t max = 0;
    for (uint32_t i = 0; i < c->kept_n; i++) {
        size_t len = PBFT_KEPT_REC_HDR + (size_t)c->kept[i]->raws_len + c->kept[i]->batch_len;
        if (len > max) max = len;
    }
    return max;
}

bool pbft_kept_can_dump(const struct bft_core *c, uint64_t base)
{
    if (base >= c->h) return true;
    return c->snap.mask && !c->kept_broken && c->snap.seq <= base &&
           c->snap.seq + c->kept_n >= c->h;
}

void pbft_kept_dump(struct bft_core *c, uint64_t base,
                    void (*emit)(void *ctx, const uint8_t *rec, size_t len), void *ctx)
{
    for (uint32_t i = 0; i < c->kept_n; i++) {
        const struct pbft_kept_entry *e = c->kept[i];
        if (e->seq <= base) continue;
        size_t len = kept_rec(c, e);
        if (len) emit(ctx, c->rec.p, len);
    }
}

void pbft_kept_free_own(struct bft_core *c)
{
    for (uint32_t i = 0; i < c->own_n; i++)
        free(c->own[i]);
    free(c->own);
    c->own = NULL;
    c->own_n = c->own_cap = 0;
    c->own_bytes = 0;
}

void pbft_kept_recover(struct bft_core *c, const uint8_t *rec, size_t len)
{
    struct wire_rd r = {.p = rec, .len = len};
    uint64_t seq = wire_get_le(&r, 8), view = wire_get_le(&r, 8);
    const uint8_t *dp = wire_get_ptr(&r, CRYPTO_DIGEST_LEN);
    uint32_t mask = (uint32_t)wire_get_le(&r, 4);
    uint32_t raws_len = (uint32_t)wire_get_le(&r, 4), batch_len = (uint32_t)wire_get_le(&r, 4);
    if (r.err || !dp || seq == 0 || (size_t)raws_len + batch_len != len - r.off ||
        batch_len > BFT_PAYLOAD_MAX || (c->n < 32 && (mask >> c->n) != 0))
        return; /* not a record we wrote */
    uint64_t top = c->own_n ? c->own[c->own_n - 1]->seq : 0;
    if (c->own_n && seq <= top) return; /* restated by a later dump: the same entry */
    size_t size = sizeof(struct pbft_kept_entry) + raws_len + batch_len;
    /* Only a contiguous run helps; a gap starts a new one (a later dump
     * restates everything from its base). */
    if ((c->own_n && seq != top + 1) || c->own_n >= PBFT_KEPT_SEQS ||
        size > PBFT_KEPT_BYTES - c->own_bytes)
        pbft_kept_free_own(c);
    if (c->own_n == c->own_cap) {
        uint32_t cap = c->own_cap ? 2 * c->own_cap : 64;
        struct pbft_kept_entry **p = realloc(c->own, cap * sizeof(*p));
        if (!p) return;
        c->own = p;
        c->own_cap = cap;
    }
    struct pbft_kept_entry *e = malloc(size);
    if (!e) return;
    e->seq = seq;
    e->view = view;
    memcpy(e->digest.b, dp, CRYPTO_DIGEST_LEN);
    e->mask = mask;
    e->raws_len = raws_len;
    e->batch_len = batch_len;
    memcpy(e->data, rec + r.off, (size_t)raws_len + batch_len);
    c->own[c->own_n++] = e;
    c->own_bytes += size;
}

/* Append e (owned from here on: kept or freed) if it extends the kept log. */
static void kept_append(struct bft_core *c, struct pbft_kept_entry *e)
{
    uint64_t top = c->snap.seq + c->kept_n;
    if (!c->snap.mask || c->kept_broken || e->seq <= top) {
        free(e); /* nothing served, already broken, or already kept */
        return;
    }
    size_t size = entry_size(e);
    if (e->seq != top + 1 || pbft_popcount(e->mask) < 2 * c->f + 1 || c->kept_n >= PBFT_KEPT_SEQS ||
        size > PBFT_KEPT_BYTES - c->kept_bytes) {
        free(e);
        kept_break(c);
        return;
    }
    if (c->kept_n == c->kept_cap) {
        uint32_t cap = c->kept_cap ? 2 * c->kept_cap : 64;
        if (cap > PBFT_KEPT_SEQS) cap = PBFT_KEPT_SEQS;
        struct pbft_kept_entry **p = realloc(c->kept, cap * sizeof(*p));
        if (!p) {
            free(e);
            kept_break(c);
            return;
        }
        c->kept = p;
        c->kept_cap = cap;
    }
    c->kept[c->kept_n++] = e;
    c->kept_bytes += size;
    c->kept_batch_bytes += e->batch_len;
    kept_persist(c, e);
}

void pbft_kept_add(struct bft_core *c, uint64_t seq, uint64_t view, const bft_digest *d,
                   uint32_t mask, const struct pbft_raw *raws, const uint8_t *batch, uint32_t len)
{
    if (!c->snap.mask || c->kept_broken || seq <= c->snap.seq + c->kept_n) return;
    if (seq != c->snap.seq + c->kept_n + 1) {
        kept_break(c); /* a gap: do not copy what cannot be kept */
        return;
    }
    struct pbft_kept_entry *e = entry_new(c, seq, view, d, mask, raws, batch, len);
    if (!e) {
        kept_break(c);
        return;
    }
    kept_append(c, e);
}

const struct pbft_kept_entry *pbft_kept_get(const struct bft_core *c, uint64_t seq)
{
    if (!c->snap.mask || seq <= c->snap.seq || seq - c->snap.seq > c->kept_n) return NULL;
    return c->kept[seq - c->snap.seq - 1];
}

bool pbft_kept_covers(const struct bft_core *c, uint64_t seq)
{
    return c->snap.mask && !c->kept_broken && c->snap.seq + c->kept_n >= seq;
}

void pbft_kept_send(struct bft_core *c, uint32_t to, const struct pbft_kept_entry *e)
{
    uint8_t body[1 + 8 + 1 + BFT_MAX_REPLICAS * (2 + PBFT_RAW_MAX)];
    struct wire_wr w = {.buf = body, .cap = sizeof body};
    pbft_entry_put_head(&w, c->last_exec, pbft_popcount(e->mask));
    struct wire_rd r = {.p = e->data, .len = e->raws_len};
    while (r.off < r.len && !r.err) {
        wire_get_le(&r, 1); /* the sender id (the raw names it too) */
        uint16_t len = (uint16_t)wire_get_le(&r, 2);
        const uint8_t *raw = wire_get_ptr(&r, len);
        struct pbft_raw own;
        if (len == 0) {
            pbft_sign_own(c, BFT_MSG_COMMIT, e->view, e->seq, &e->digest, &own);
            raw = own.b;
            len = own.len;
        }
        pbft_emb_put(&w, raw, len);
    }
    assert(!r.err && !w.err);
    struct bft_msg out = {.type = BFT_MSG_FETCH_RESP, .view = c->view, .seq = e->seq};
    out.digest = e->digest;
    out.body = body;
    out.body_len = (uint32_t)w.len;
    out.payload = e->batch_len ? e->data + e->raws_len : NULL;
    out.payload_len = e->batch_len;
    c->io.send(c->io.ctx, to, &out);
}

void pbft_kept_free_ahead(struct bft_core *c)
{
    for (uint32_t i = 0; i < PBFT_FETCH_RANGE; i++) {
        free(c->ahead[i]);
        c->ahead[i] = NULL;
    }
}

/* Execute e at last_exec + 1 <= h; e is then kept or freed. */
static void execute_entry(struct bft_core *c, struct pbft_kept_entry *e)
{
    assert(e->seq == c->last_exec + 1 && e->seq <= c->h);
    bool ckpt = e->seq % c->K == 0;
    bft_digest state = {{0}};
    const uint8_t *batch = e->batch_len ? e->data + e->raws_len : NULL;
    c->io.execute(c->io.ctx, e->seq, e->view, batch, e->batch_len, &e->digest,
                  ckpt ? &state : NULL);
    assert(e->seq > c->last_exec); /* last_exec only grows */
    c->last_exec = e->seq;
    if (ckpt) c->last_state = state;
    pbft_batch_mark(c, batch, e->batch_len, e->seq, PBFT_BATCH_EXECUTED);
    /* Serve what we replay too: we may hold the only snapshot left. */
    kept_append(c, e);
}

void pbft_kept_replay_own(struct bft_core *c)
{
    for (uint32_t i = 0; i < c->own_n; i++) {
        struct pbft_kept_entry *e = c->own[i];
        c->own[i] = NULL;
        if (e->seq == c->last_exec + 1 && e->seq <= c->h)
            execute_entry(c, e); /* kept or freed */
        else
            free(e);
    }
    PTRACE(c, "replayed our own kept log up to %llu (h %llu)", (unsigned long long)c->last_exec,
           (unsigned long long)c->h);
    pbft_kept_free_own(c);
}

void pbft_kept_fetched(struct bft_core *c, uint64_t seq, uint64_t view, const bft_digest *d,
                       uint32_t mask, const struct pbft_raw *raws, const uint8_t *batch,
                       uint32_t len)
{
    assert(seq > c->last_exec && seq <= c->h && seq - c->last_exec <= PBFT_FETCH_RANGE);
    struct pbft_kept_entry *e = entry_new(c, seq, view, d, mask, raws, batch, len);
    if (!e) return; /* out of memory: fetched again later */
    /* The network reorders: hold entries up to one fetch range ahead. */
    struct pbft_kept_entry **slot = &c->ahead[seq % PBFT_FETCH_RANGE];
    free(*slot);
    *slot = e;
    for (;;) {
        slot = &c->ahead[(c->last_exec + 1) % PBFT_FETCH_RANGE];
        if (c->last_exec >= c->h || !*slot || (*slot)->seq != c->last_exec + 1) break;
        e = *slot;
        *slot = NULL;
        execute_entry(c, e);
    }
    if (c->last_exec < c->h) return;
    pbft_kept_free_ahead(c);
    /* At the stable checkpoint: the replayed state must be the certified
     * one. 2f+1 COMMITs per entry make a mismatch impossible with at most
     * f faulty replicas; count it if it happens all the same. */
    if (!pbft_deq(&c->last_state, &c->h_digest)) {
        PTRACE(c, "replayed state at h differs from the certified digest");
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
    }
    PTRACE(c, "replayed the kept log up to h %llu", (unsigned long long)c->h);
    if (c->st.active && c->last_exec >= c->st.seq) {
        c->st.active = false;
        bft_timeout_stop(&c->st.timer, &c->io);
    }
    if (c->next_seq <= c->last_exec) c->next_seq = c->last_exec + 1;
    pbft_try_execute(c); /* the window above h may be committed already */
    pbft_request_timer_update(c);
    pbft_try_propose(c);
}
