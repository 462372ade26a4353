/* Per-phase wall latency of sampled write requests (docs/design.md
 * "Latency budget"). The cores are pure and keep no clock (docs/style.md
 * #1), so the phases are read from what the node sees them do: the
 * proposal that carries the request leaves (PBFT PRE-PREPARE, HotStuff
 * proposal: Castro & Liskov §4.2, Yin et al. §5; Raft AppendEntries:
 * Ongaro & Ousterhout §5.3), the primary's own COMMIT leaves (PBFT:
 * prepared, 2f+1 matching PREPAREs with the PRE-PREPARE, §4.2), the
 * HotStuff leader's next proposals (each carries a new QC), the
 * request is executed and its reply queued, and the reply leaves after the
 * step's WAL sync. Only write requests the node hands to its core are
 * sampled, one in NODE_PHASE_EVERY, in fixed slots: a few clock readings
 * per sample and a scan of the slots only while one is open. */
#include <string.h>

#include "node/node_internal.h"

const char *bft_phase_name(int phase)
{
#define BFT_PHASE_STR(name, str) str,
    static const char *const names[] = {BFT_PHASE_MAP(BFT_PHASE_STR)};
#undef BFT_PHASE_STR
    return phase >= 0 && phase < BFT_PHASE__COUNT ? names[phase] : "?";
}

static void slot_free(struct node_phase *p, struct node_phase_slot *s)
{
    s->used = false;
    p->in_use--;
}

void node_phase_arrive(struct bft_node *n, const struct bft_msg *req)
{
    struct node_phase *p = &n->phase;
    /* The 16th, 32nd, ... arrival: not the first, which at start-up
     * waits for an election and would dominate the means. */
    if (!n->host.budget || ++p->arrivals % NODE_PHASE_EVERY) return;
    struct node_phase_slot *s = NULL, *oldest = NULL;
    for (uint32_t i = 0; i < NODE_PHASE_SLOTS; i++) {
        struct node_phase_slot *c = &p->slot[i];
        if (!c->used) {
            s = c;
            break;
        }
        if (!oldest || c->t0_ns < oldest->t0_ns) oldest = c;
    }
    if (!s) { /* all taken by samples that did not finish here */
        s = oldest;
        slot_free(p, s);
        p->stats.evicted++;
    }
    memset(s, 0, sizeof *s);
    s->used = true;
    s->client = req->sender;
    s->req_no = req->seq;
    s->t0_ns = bft_budget_clock_ns();
    p->in_use++;
    p->stats.sampled++;
}

static struct node_phase_slot *find(struct node_phase *p, uint32_t client, uint64_t req_no)
{
    for (uint32_t i = 0; i < NODE_PHASE_SLOTS; i++) {
        struct node_phase_slot *s = &p->slot[i];
        if (s->used && s->client == client && s->req_no == req_no) return s;
    }
    return NULL;
}

/* A PRE-PREPARE or proposal we send: the sampled envelopes in its batch
 * were proposed now, at m->seq. */
static void proposed_batch(struct node_phase *p, const struct bft_msg *m, uint64_t now)
{
    struct bft_batch_iter it;
    if (bft_batch_iter_init(&it, m->payload, m->payload_len) != BFT_E_OK) return;
    const uint8_t *raw;
    size_t len;
    while (bft_batch_iter_next(&it, &raw, &len)) {
        struct bft_msg r;
        if (bft_msg_decode(raw, len, &r) != BFT_E_OK) continue;
        struct node_phase_slot *s = find(p, r.sender, r.seq);
        if (!s || s->proposed) continue;
        s->proposed = true;
        s->seq = m->seq;
        s->t_ns[BFT_PHASE_PROPOSED] = now;
    }
}

void node_phase_queued(struct bft_node *n, const struct bft_msg *m)
{
    struct node_phase *p = &n->phase;
    if (!p->in_use) return;
    uint64_t now = bft_budget_clock_ns();
    switch (m->type) {
    case BFT_MSG_HS_PROPOSAL:
        /* Chained HotStuff (Yin et al. §5): a leader proposes the next
         * block as soon as the QC of the last one forms, and carries it.
         * Our proposal at height h + k says the k-th QC of the chain that
         * starts at a sampled block of height h has formed here; the third
         * makes a 3-chain and commits it. A leader's window of views
         * (docs/hotstuff.md) keeps the next proposals on the same replica;
         * a chain that passes to another leader is not seen here. */
        for (uint32_t i = 0; i < NODE_PHASE_SLOTS; i++) {
            struct node_phase_slot *s = &p->slot[i];
            if (!s->used || !s->proposed) continue;
            for (int k = 1; k <= 3; k++)
                if (m->seq >= s->seq + (uint64_t)k && !s->t_ns[BFT_PHASE_QC1 + k - 1])
                    s->t_ns[BFT_PHASE_QC1 + k - 1] = now;
        }
        if (m->payload_len) proposed_batch(p, m, now);
        break;
    case BFT_MSG_PRE_PREPARE:
        if (m->payload_len) proposed_batch(p, m, now);
        break;
    case BFT_MSG_RAFT_APPEND:
        /* The entries travel in a Raft-private body the node does not
         * parse: the first AppendEntries queued after the arrival stands
         * for the one that carries it (docs/benchmarks.md says so). */
        for (uint32_t i = 0; i < NODE_PHASE_SLOTS; i++) {
            struct node_phase_slot *s = &p->slot[i];
            if (!s->used || s->proposed) continue;
            s->proposed = true;
            s->t_ns[BFT_PHASE_PROPOSED] = now;
        }
        break;
    case BFT_MSG_COMMIT:
        for (uint32_t i = 0; i < NODE_PHASE_SLOTS; i++) {
            struct node_phase_slot *s = &p->slot[i];
            if (s->used && s->proposed && s->seq == m->seq && !s->t_ns[BFT_PHASE_PREPARED])
                s->t_ns[BFT_PHASE_PREPARED] = now;
        }
        break;
    default:
        break;
    }
}

void node_phase_replied(struct bft_node *n, uint32_t client, uint64_t req_no)
{
    struct node_phase *p = &n->phase;
    if (!p->in_use) return;
    struct node_phase_slot *s = find(p, client, req_no);
    if (!s || s->reply_queued) return;
    s->reply_queued = true;
    s->t_ns[BFT_PHASE_EXECUTED] = bft_budget_clock_ns();
}

void node_phase_flushed(struct bft_node *n)
{
    struct node_phase *p = &n->phase;
    if (!p->in_use) return;
    uint64_t now = 0;
    for (uint32_t i = 0; i < NODE_PHASE_SLOTS; i++) {
        struct node_phase_slot *s = &p->slot[i];
        if (!s->used || !s->reply_queued) continue;
        if (!s->proposed) { /* a backup's sample: the phases were elsewhere */
            p->stats.unproposed++;
            slot_free(p, s);
            continue;
        }
        if (!now) now = bft_budget_clock_ns();
        s->t_ns[BFT_PHASE_REPLY_SENT] = now;
        for (int ph = 0; ph < BFT_PHASE__COUNT; ph++) {
            if (!s->t_ns[ph] || s->t_ns[ph] < s->t0_ns) continue;
            p->stats.sum_ns[ph] += s->t_ns[ph] - s->t0_ns;
            p->stats.count[ph]++;
        }
        slot_free(p, s);
    }
}
