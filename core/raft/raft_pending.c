/* Client requests at the leader: a bounded FIFO of verified REQUESTs, cut
 * into log entries adaptively (like the PBFT primary): at once while fewer
 * than pipeline_max entries are uncommitted, otherwise they accumulate and
 * the next commit cuts a batch of up to batch_max. Followers forward a
 * request to the leader they know, or drop it (the client retries
 * round-robin); exactly-once comes from the node's client table, and a
 * small cache keeps a retry from being appended twice in one term.
 *
 * Why not the shared queue of core/pending.h (PBFT, HotStuff): Raft's
 * queue is only ever consumed whole from its head, never searched,
 * removed from in the middle or put back, so a ring is all it needs; the
 * shared queue would add a hash table per replica and a second duplicate
 * check that refuses what the seen cache (a lossy cache) lets through
 * today, a change of behaviour. The bound, the per-client share
 * (client_quota.h) and the doubling growth (core/grow.h) are the same. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/raft/raft_internal.h"
#include "wire/bytes.h"
#include "wire/hash.h"

int raft_pending_init(struct bft_core *c)
{
    c->pend = calloc(RAFT_PENDING_CAP_INIT, sizeof(*c->pend));
    c->reads = calloc(RAFT_READS_CAP_INIT, sizeof(*c->reads));
    if (!c->pend || !c->reads) return BFT_E_NOMEM;
    c->pend_cap = RAFT_PENDING_CAP_INIT;
    c->reads_cap = RAFT_READS_CAP_INIT;
    if (bft_quota_init(&c->quota, c->cfg.n_clients, RAFT_PENDING_MAX, RAFT_QUOTA_FLOOR,
                       RAFT_PENDING_BYTES_MAX, RAFT_QUOTA_FLOOR_BYTES) != 0)
        return BFT_E_NOMEM;
    return BFT_E_OK;
}

void raft_pending_free(struct bft_core *c)
{
    if (c->pend)
        for (uint32_t i = 0; i < c->pend_cap; i++)
            free(c->pend[i].raw);
    if (c->reads)
        for (uint32_t i = 0; i < c->reads_cap; i++)
            free(c->reads[i].raw);
    free(c->pend);
    free(c->reads);
    for (uint32_t i = 0; i < RAFT_SEEN_SLOTS / RAFT_SEEN_PAGE; i++) {
        free(c->seen[i]);
        c->seen[i] = NULL;
    }
    bft_quota_free(&c->quota);
    c->pend = NULL;
    c->reads = NULL;
    c->pend_cap = c->reads_cap = 0;
}

bool raft_ring_grow(void **ring, uint32_t *cap, uint32_t head, size_t size, uint32_t max)
{
    uint32_t old = *cap;
    if (old >= max) return false;
    uint8_t *p = bft_grow_array(*ring, size, cap, (size_t)old + 1, old, max);
    if (!p) return false;
    assert(*cap >= old + head); /* doubled: room behind the old end for the front */
    /* Full ring: live slots are [head, old) then [0, head). Move the
     * wrapped front behind the old end (bft_grow_array zeroed the new
     * slots); the slots it leaves start empty. */
    memcpy(p + (size_t)old * size, p, (size_t)head * size);
    memset(p, 0, (size_t)head * size);
    *ring = p;
    return true;
}

void raft_pending_clear(struct bft_core *c)
{
    c->pend_head = c->pend_count = 0;
    c->pend_bytes = 0;
    bft_quota_reset(&c->quota);
}

/* The cache slot of (client, req_no), its page allocated on first use;
 * NULL if memory is short. */
static struct raft_seen *seen_slot(struct bft_core *c, uint32_t client, uint64_t req_no)
{
    uint32_t i = (uint32_t)(bft_hash_request(client, req_no) & (RAFT_SEEN_SLOTS - 1));
    struct raft_seen **page = &c->seen[i / RAFT_SEEN_PAGE];
    if (!*page) *page = calloc(RAFT_SEEN_PAGE, sizeof(**page));
    return *page ? &(*page)[i % RAFT_SEEN_PAGE] : NULL;
}

void raft_on_request(struct bft_core *c, const struct bft_msg *req)
{
    if (!raft_is_leader(c) && c->leader != RAFT_NONE && c->leader != c->self) {
        c->io.send(c->io.ctx, c->leader, req);
        return;
    }
    /* No leader known (an election is on, e.g. every replica just
     * restarted): hold the request in the bounded queue below instead of
     * dropping it. We propose it if we win; raft_forward_pending hands it
     * to the leader we learn of. Dropped, it waited for the client's next
     * retransmission, up to 8 x 500 ms after a long outage: a real
     * cluster whose replicas all restarted stalled 5-7 s. */
    /* One request must fit in one entry with the batch framing. */
    if (req->raw_len + 2 + 4 > RAFT_ENTRY_MAX) {
        c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
        return;
    }
    struct raft_seen *s = seen_slot(c, req->sender, req->seq);
    if (!s) {
        c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
        return;
    }
    if (s->term == c->term && s->client == req->sender && s->req_no == req->seq) {
        /* Already queued or in the log of this term: it will commit. */
        c->io.reject(c->io.ctx, BFT_REJECT_DUPLICATE);
        return;
    }
    /* Bounded, and fair: one client gets at most its share (client_quota.h). */
    if (c->pend_count >= RAFT_PENDING_MAX ||
        c->pend_bytes + req->raw_len > RAFT_PENDING_BYTES_MAX ||
        !bft_quota_take(&c->quota, req->sender, req->raw_len)) {
        c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
        return;
    }
    if (c->pend_count == c->pend_cap &&
        !raft_ring_grow((void **)&c->pend, &c->pend_cap, c->pend_head, sizeof(*c->pend),
                        RAFT_PENDING_MAX)) {
        bft_quota_put(&c->quota, req->sender, req->raw_len);
        c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
        return;
    }
    struct raft_req *q = &c->pend[(c->pend_head + c->pend_count) % c->pend_cap];
    if (q->cap < req->raw_len) {
        uint8_t *p = realloc(q->raw, req->raw_len);
        if (!p) {
            bft_quota_put(&c->quota, req->sender, req->raw_len);
            c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
            return;
        }
        q->raw = p;
        q->cap = req->raw_len;
    }
    memcpy(q->raw, req->raw, req->raw_len);
    q->len = req->raw_len;
    q->client = req->sender;
    c->pend_count++;
    c->pend_bytes += req->raw_len;
    *s = (struct raft_seen){.client = req->sender, .req_no = req->seq, .term = c->term};
    raft_propose(c);
}

void raft_forward_pending(struct bft_core *c)
{
    if (raft_is_leader(c) || c->leader == RAFT_NONE || c->leader == c->self) return;
    for (uint32_t k = 0; k < c->pend_count; k++) {
        const struct raft_req *q = &c->pend[(c->pend_head + k) % c->pend_cap];
        struct bft_msg m;
        /* Our own copy of a request the node decoded and verified. */
        if (bft_msg_decode(q->raw, q->len, &m) == BFT_E_OK) c->io.send(c->io.ctx, c->leader, &m);
    }
    raft_pending_clear(c);
}

bool raft_leader_append(struct bft_core *c, const uint8_t *batch, uint32_t len)
{
    if (raft_log_full(&c->log)) raft_maybe_compact(c, true);
    if (!raft_log_append(&c->log, c->term, batch, len)) return false;
    if (!raft_persist_entry(c, c->log.last)) {
        /* No memory for its record: an entry that is not durable must
         * not be sent or counted; retried like a full log. */
        raft_log_truncate(&c->log, c->log.last);
        return false;
    }
    return true;
}

/* Cut one entry from the head of the queue into c->buf: as many requests
 * as fit in RAFT_ENTRY_MAX, the scratch grown to their size first. */
static uint32_t cut_batch(struct bft_core *c, uint32_t *taken)
{
    size_t need = 2;
    uint32_t k = 0;
    while (k < c->pend_count && k < c->cfg.batch_max) {
        const struct raft_req *q = &c->pend[(c->pend_head + k) % c->pend_cap];
        if (need + 4 + q->len > RAFT_ENTRY_MAX) break;
        need += 4 + q->len;
        k++;
    }
    *taken = k;
    if (!bft_buf_reserve(&c->buf, need, RAFT_ENTRY_MAX)) return 0;
    struct wire_wr w;
    wire_wr_init(&w, c->buf.p, c->buf.cap);
    wire_put_u16(&w, (uint16_t)k);
    for (uint32_t i = 0; i < k; i++) {
        const struct raft_req *q = &c->pend[(c->pend_head + i) % c->pend_cap];
        wire_put_u32(&w, q->len);
        wire_put_bytes(&w, q->raw, q->len);
    }
    assert(!w.err && w.len == need);
    return (uint32_t)w.len;
}

void raft_propose(struct bft_core *c)
{
    bool any = false;
    while (raft_is_leader(c) && c->pend_count > 0 &&
           c->log.last - c->commit < c->cfg.pipeline_max) {
        uint32_t k = 0, len = cut_batch(c, &k);
        if (k == 0 || len == 0) break;
        if (!raft_leader_append(c, c->buf.p, len)) break; /* log full: retry on commit */
        for (uint32_t i = 0; i < k; i++) {
            struct raft_req *q = &c->pend[c->pend_head];
            c->pend_bytes -= q->len;
            bft_quota_put(&c->quota, q->client, q->len);
            c->pend_head = (c->pend_head + 1) % c->pend_cap;
            c->pend_count--;
        }
        for (uint32_t p = 0; p < c->n; p++)
            if (p != c->self) raft_send_append(c, p, false);
        any = true;
    }
    if (any && c->maj == 1) raft_advance_commit(c);
}
