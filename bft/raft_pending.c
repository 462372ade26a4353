/* Client requests at the leader: a bounded FIFO of verified REQUESTs, cut
 * into log entries adaptively (like the PBFT primary): at once while fewer
 * than pipeline_max entries are uncommitted, otherwise they accumulate and
 * the next commit cuts a batch of up to batch_max. Followers forward a
 * request to the leader they know, or drop it (the client retries
 * round-robin); exactly-once comes from the node's client table, and a
 * small cache keeps a retry from being appended twice in one term. */
#include <stdlib.h>
#include <string.h>

#include "bft/raft_internal.h"
#include "net/net.h"

int raft_pending_init(struct bft_core *c)
{
    c->pend = calloc(RAFT_PENDING_MAX, sizeof(*c->pend));
    c->seen = calloc(RAFT_SEEN_SLOTS, sizeof(*c->seen));
    c->reads = calloc(RAFT_READS_MAX, sizeof(*c->reads));
    if (!c->pend || !c->seen || !c->reads) return BFT_E_NOMEM;
    if (bft_quota_init(&c->quota, c->cfg.n_clients, RAFT_PENDING_MAX, RAFT_QUOTA_FLOOR,
                       RAFT_PENDING_BYTES_MAX, RAFT_QUOTA_FLOOR_BYTES) != 0)
        return BFT_E_NOMEM;
    return BFT_E_OK;
}

void raft_pending_free(struct bft_core *c)
{
    if (c->pend)
        for (uint32_t i = 0; i < RAFT_PENDING_MAX; i++)
            free(c->pend[i].raw);
    if (c->reads)
        for (uint32_t i = 0; i < RAFT_READS_MAX; i++)
            free(c->reads[i].raw);
    free(c->pend);
    free(c->seen);
    free(c->reads);
    bft_quota_free(&c->quota);
    c->pend = NULL;
    c->seen = NULL;
    c->reads = NULL;
}

void raft_pending_clear(struct bft_core *c)
{
    c->pend_head = c->pend_count = 0;
    c->pend_bytes = 0;
    bft_quota_reset(&c->quota);
}

static struct raft_seen *seen_slot(struct bft_core *c, uint32_t client, uint64_t req_no)
{
    uint64_t k = (req_no * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)client * 0xc2b2ae3d27d4eb4full);
    return &c->seen[(k ^ (k >> 31)) & (RAFT_SEEN_SLOTS - 1)];
}

void raft_on_request(struct bft_core *c, const struct bft_msg *req)
{
    if (!raft_is_leader(c)) {
        if (c->leader != RAFT_NONE && c->leader != c->self) c->io.send(c->io.ctx, c->leader, req);
        return;
    }
    /* One request must fit in one entry with the batch framing. */
    if (req->raw_len + 2 + 4 > RAFT_ENTRY_MAX) {
        c->io.reject(c->io.ctx, BFT_REJECT_OVERLOAD);
        return;
    }
    struct raft_seen *s = seen_slot(c, req->sender, req->seq);
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
    struct raft_req *q = &c->pend[(c->pend_head + c->pend_count) % RAFT_PENDING_MAX];
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

bool raft_leader_append(struct bft_core *c, const uint8_t *batch, uint32_t len)
{
    if (raft_log_full(&c->log)) raft_maybe_compact(c, true);
    if (!raft_log_append(&c->log, c->term, batch, len)) return false;
    raft_persist_entry(c, c->log.last);
    return true;
}

/* Cut one entry from the head of the queue into c->buf. */
static uint32_t cut_batch(struct bft_core *c, uint32_t *taken)
{
    struct net_wr w;
    net_wr_init(&w, c->buf, RAFT_ENTRY_MAX);
    net_put_u16(&w, 0);
    uint32_t k = 0;
    while (k < c->pend_count && k < c->cfg.batch_max) {
        const struct raft_req *q = &c->pend[(c->pend_head + k) % RAFT_PENDING_MAX];
        if (w.len + 4 + q->len > RAFT_ENTRY_MAX) break;
        net_put_u32(&w, q->len);
        net_put_bytes(&w, q->raw, q->len);
        k++;
    }
    net_le_store(c->buf, k, 2);
    *taken = k;
    return w.err ? 0 : (uint32_t)w.len;
}

void raft_propose(struct bft_core *c)
{
    bool any = false;
    while (raft_is_leader(c) && c->pend_count > 0 &&
           c->log.last - c->commit < c->cfg.pipeline_max) {
        uint32_t k = 0, len = cut_batch(c, &k);
        if (k == 0 || len == 0) break;
        if (!raft_leader_append(c, c->buf, len)) break; /* log full: retry on commit */
        for (uint32_t i = 0; i < k; i++) {
            struct raft_req *q = &c->pend[c->pend_head];
            c->pend_bytes -= q->len;
            bft_quota_put(&c->quota, q->client, q->len);
            c->pend_head = (c->pend_head + 1) % RAFT_PENDING_MAX;
            c->pend_count--;
        }
        for (uint32_t p = 0; p < c->n; p++)
            if (p != c->self) raft_send_append(c, p, false);
        any = true;
    }
    if (any && c->maj == 1) raft_advance_commit(c);
}
