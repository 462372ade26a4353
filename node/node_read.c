/* How a replica answers read-only requests (docs/reads.md): the
 * linearizable read-only optimisation with a bounded queue of reads that
 * wait for execution to catch up, and local reads with a staleness bound. */
#include <string.h>
#include <time.h>

#include "node/node_internal.h"
#include "wire/bytes.h"

/* Answer every op of a read-only request from the application's current
 * state (app->query), as one REPLY of one range (docs/wire.md). Built on
 * the stack: nothing grows (one envelope's range, BFT_REPLY_RANGE_MAX). */
static void reply_from_state(struct bft_node *n, const struct bft_msg *m,
                             const struct bft_core_status *st)
{
    uint8_t body[BFT_REPLY_HDR_LEN + BFT_REPLY_RANGE_MAX];
    struct bft_reply_wr w;
    bft_reply_wr_init(&w, body, sizeof body, m->sender);
    bft_reply_wr_range(&w, m->seq);
    struct bft_req_iter it;
    bft_req_iter_init(&it, m);
    uint64_t req_no;
    const uint8_t *op;
    size_t op_len;
    while (bft_req_iter_next(&it, &req_no, &op, &op_len)) {
        size_t rl = n->cfg.app->query ? n->cfg.app->query(n->app, op, op_len, n->result) : 0;
        bft_reply_wr_result(&w, n->result, rl);
    }
    size_t body_len = bft_reply_wr_finish(&w);
    if (!body_len) return; /* the request decoded, so this cannot happen */
    struct bft_msg rep = {.type = BFT_MSG_REPLY,
                          .view = st->view,
                          .seq = st->last_executed,
                          .body = body,
                          .body_len = (uint32_t)body_len};
    node_queue_msg(n, &rep, false, NODE_DEST_CLIENT | m->sender);
}

/* Read-only optimisation (Castro & Liskov, TOCS'02 §5.1.3): answered from
 * the current state without ordering; a BFT client needs 2f+1 matching
 * replies. A replica answers only once it has executed everything it
 * helped commit when the read arrived (st.read_floor: in PBFT every seq it
 * sent a COMMIT for, WAL included; in HotStuff the block two below its
 * highest vote). A write acknowledged before the read was committed by
 * 2f+1 replicas, and any 2f+1 repliers include an honest one of them, which
 * then answers with the write: so 2f+1 matching stale answers cannot exist,
 * after a restart (the state rolled back to the last snapshot) or with a
 * Twin answering from its old state. Answering later, from a newer state,
 * keeps that: the read is still in progress.
 *
 * A replica not caught up keeps the read in a bounded ring
 * (NODE_READS_WAITING) with the floor at its arrival and answers it once it
 * executes that far (node_reads_serve). Under a steady write load a replica
 * has nearly always sent a COMMIT it has not executed yet (and a chained
 * HotStuff replica trails its floor by a block), so without the wait
 * almost every read went unanswered until the client's timeout. When the
 * ring is full the oldest wait is dropped: its client falls back to an
 * ordered request, as for a read that is never answered. */
void node_answer_read(struct bft_node *n, const struct bft_msg *m)
{
    struct bft_core_status st;
    n->ops->status(n->core, &st);
    if (st.last_executed >= st.read_floor) {
        reply_from_state(n, m, &st);
        return;
    }
    if (m->raw_len > NODE_READ_RAW_MAX) {
        n->stats.reads_deferred++;
        return;
    }
    if (n->reads_count == NODE_READS_WAITING) { /* drop the oldest */
        n->reads_head = (n->reads_head + 1) % NODE_READS_WAITING;
        n->reads_count--;
        n->stats.reads_deferred++;
    }
    struct node_read_wait *w =
        &n->reads_wait[(n->reads_head + n->reads_count) % NODE_READS_WAITING];
    w->floor = st.read_floor;
    w->len = m->raw_len;
    memcpy(w->raw, m->raw, m->raw_len);
    n->reads_count++;
}

void node_reads_serve(struct bft_node *n, uint64_t executed)
{
    /* read_floor never decreases within an incarnation, so the ring is in
     * floor order: serve from the head. */
    while (n->reads_count) {
        struct node_read_wait *w = &n->reads_wait[n->reads_head];
        if (w->floor > executed) return;
        n->reads_head = (n->reads_head + 1) % NODE_READS_WAITING;
        n->reads_count--;
        struct bft_msg m;
        if (bft_msg_decode(w->raw, w->len, &m) != BFT_E_OK) continue; /* decoded on arrival */
        struct bft_core_status st;
        n->ops->status(n->core, &st);
        reply_from_state(n, &m, &st);
    }
}

uint64_t node_now_ms(struct bft_node *n)
{
    if (n->host.now_ms) return n->host.now_ms(n->host.ctx);
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void node_mark_fresh(struct bft_node *n)
{
    n->exec_ms = node_now_ms(n);
    n->exec_ever = true;
}

/* A local read (docs/reads.md): one replica answers from its own state,
 * and the client trusts that one (signed) answer. The only promise is
 * freshness on this replica's clock: it executed a committed batch no more
 * than the read's bound (ms, in the header's view field) before answering.
 * Unlike the linearizable path it does not wait for read_floor: what it
 * executed is committed, which is all a local read promises. Otherwise it
 * refuses explicitly (BFT_REPLY_STALE, one empty result) so the client can
 * ask another replica. */
void node_answer_local(struct bft_node *n, const struct bft_msg *m)
{
    struct bft_core_status st;
    n->ops->status(n->core, &st);
    uint64_t now = node_now_ms(n);
    bool fresh = n->exec_ever && now >= n->exec_ms && now - n->exec_ms <= m->view;
    if (fresh) {
        n->stats.reads_local++;
        reply_from_state(n, m, &st);
        return;
    }
    n->stats.reads_stale++;
    node_queue_empty_reply(n, m->sender, m->seq, 1, BFT_REPLY_STALE, &st);
}
