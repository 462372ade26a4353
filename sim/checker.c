/* sim: the invariant checker, after TigerBeetle's state_checker (every
 * replica commits the same checksum chain) and canonical/raft's fixture
 * (election safety checked after every step). Only honest replicas are
 * checked; a replica given a Byzantine behaviour is ignored.
 *
 *  agreement     every honest replica that executed seq executed the same
 *                batch digest and reached the same state digest (PBFT
 *                TOCS'02 4.1 safety: committed logs are prefixes of one
 *                another);
 *  validity      every applied (client, req_no, op) was submitted by that
 *                client with exactly those op bytes;
 *  exactly-once  a (client, req_no) is applied at one seq on every replica,
 *                and at most once per replica incarnation;
 *  order         within one incarnation executed seqs strictly increase.
 */
#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "app/app.h"
#include "app/app_internal.h"
#include "sim/sim_internal.h"
#include "wire/hash.h"

#define EMPTY UINT32_MAX

static uint64_t fnv1a(const uint8_t *p, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static size_t slot_of(size_t cap, uint32_t client, uint64_t req_no)
{
    return (size_t)bft_hash_request(client, req_no) & (cap - 1);
}

static struct sim_req_rec *find(const struct sim_checker *c, uint32_t client, uint64_t req_no)
{
    if (!c->req_cap) return NULL;
    for (size_t i = slot_of(c->req_cap, client, req_no);; i = (i + 1) & (c->req_cap - 1)) {
        struct sim_req_rec *r = &c->reqs[i];
        if (r->client == EMPTY) return NULL;
        if (r->client == client && r->req_no == req_no) return r;
    }
}

static int grow_reqs(struct sim_checker *c)
{
    size_t cap = c->req_cap ? c->req_cap * 2 : 4096;
    if (cap > SIM_SEQ_MAX) return BFT_E_FULL;
    struct sim_req_rec *t = malloc(cap * sizeof(*t));
    if (!t) return BFT_E_NOMEM;
    for (size_t i = 0; i < cap; i++)
        t[i].client = EMPTY;
    for (size_t i = 0; i < c->req_cap; i++) {
        struct sim_req_rec *r = &c->reqs[i];
        if (r->client == EMPTY) continue;
        size_t j = slot_of(cap, r->client, r->req_no);
        while (t[j].client != EMPTY)
            j = (j + 1) & (cap - 1);
        t[j] = *r;
    }
    free(c->reqs);
    c->reqs = t;
    c->req_cap = cap;
    return BFT_E_OK;
}

void sim_checker_free(struct sim_checker *c)
{
    for (uint32_t i = 0; i < SIM_MAX_CLIENTS; i++)
        free(c->orders[i]);
    free(c->reqs);
    free(c->seqs);
    memset(c, 0, sizeof(*c));
}

int sim_check_submitted(struct sim *s, uint32_t client, uint64_t req_no, const uint8_t *op,
                        size_t len)
{
    struct sim_checker *c = &s->chk;
    if (find(c, client, req_no)) {
        sim_fail(s, "client %u reused req_no %llu", client, (unsigned long long)req_no);
        return BFT_E_INVALID;
    }
    if ((c->req_len + 1) * 2 > c->req_cap && grow_reqs(c) != BFT_E_OK) {
        sim_fail(s, "checker request table full");
        return BFT_E_FULL;
    }
    size_t i = slot_of(c->req_cap, client, req_no);
    while (c->reqs[i].client != EMPTY)
        i = (i + 1) & (c->req_cap - 1);
    c->reqs[i] = (struct sim_req_rec){
        .client = client, .req_no = req_no, .op_hash = fnv1a(op, len), .op_len = (uint32_t)len};
    c->req_len++;
    return BFT_E_OK;
}

void sim_check_apply(struct sim *s, uint32_t r, uint32_t client, uint64_t req_no, uint64_t seq,
                     const uint8_t *op, size_t len)
{
    struct sim_replica *rp = &s->rep[r];
    if (!rp->honest) return;
    struct sim_req_rec *rec = find(&s->chk, client, req_no);
    if (!rec) {
        sim_violation(
            s, "validity: replica %u applied client %u req %llu at seq %llu, never submitted", r,
            client, (unsigned long long)req_no, (unsigned long long)seq);
        return;
    }
    if (rec->op_len != len || rec->op_hash != fnv1a(op, len)) {
        sim_violation(s, "validity: replica %u applied client %u req %llu with other op bytes", r,
                      client, (unsigned long long)req_no);
        return;
    }
    if (rec->seq == 0) {
        rec->seq = seq;
    } else if (rec->seq != seq) {
        sim_violation(
            s, "exactly-once: client %u req %llu applied at seq %llu and at seq %llu (replica %u)",
            client, (unsigned long long)req_no, (unsigned long long)rec->seq,
            (unsigned long long)seq, r);
        return;
    }
    if (rec->applied_mask & (1u << r)) {
        sim_violation(s, "exactly-once: replica %u applied client %u req %llu twice", r, client,
                      (unsigned long long)req_no);
        return;
    }
    rec->applied_mask |= 1u << r;
    if (seq < rp->apply_min) {
        sim_violation(s, "order: replica %u applied at seq %llu after seq %llu", r,
                      (unsigned long long)seq, (unsigned long long)rp->apply_min);
        return;
    }
    rp->apply_min = seq;
}

static void hex8(const bft_digest *d, char out[17])
{
    static const char hx[] = "0123456789abcdef";
    for (int i = 0; i < 8; i++) {
        out[2 * i] = hx[d->b[i] >> 4];
        out[2 * i + 1] = hx[d->b[i] & 15];
    }
    out[16] = 0;
}

void sim_check_execute(struct sim *s, uint32_t r, uint64_t seq, const bft_digest *batch,
                       const bft_digest *state)
{
    struct sim_replica *rp = &s->rep[r];
    if (!rp->honest) return;
    struct sim_checker *c = &s->chk;
    if (seq < rp->exec_min) {
        sim_violation(s, "order: replica %u executed seq %llu after seq %llu", r,
                      (unsigned long long)seq, (unsigned long long)(rp->exec_min - 1));
        return;
    }
    rp->exec_min = seq + 1;
    if (seq >= SIM_SEQ_MAX) {
        sim_fail(s, "seq %llu beyond the checker's bound", (unsigned long long)seq);
        return;
    }
    if (seq >= c->seq_cap) {
        size_t cap = c->seq_cap ? c->seq_cap : 4096;
        while (cap <= seq)
            cap *= 2;
        struct sim_seq_rec *t = realloc(c->seqs, cap * sizeof(*t));
        if (!t) {
            sim_fail(s, "out of memory in the checker");
            return;
        }
        memset(t + c->seq_cap, 0, (cap - c->seq_cap) * sizeof(*t));
        c->seqs = t;
        c->seq_cap = cap;
    }
    struct sim_seq_rec *rec = &c->seqs[seq];
    if (!rec->set) {
        rec->set = true;
        rec->batch = batch ? *batch : (bft_digest){{0}};
        rec->state = state ? *state : (bft_digest){{0}};
        if (seq > c->max_seq) c->max_seq = seq;
        return;
    }
    char a[17], b[17];
    if (batch && memcmp(batch, &rec->batch, sizeof(*batch)) != 0) {
        hex8(&rec->batch, a);
        hex8(batch, b);
        sim_violation(s,
                      "agreement: replica %u executed batch %s.. at seq %llu, another replica %s..",
                      r, b, (unsigned long long)seq, a);
        return;
    }
    if (state && memcmp(state, &rec->state, sizeof(*state)) != 0) {
        hex8(&rec->state, a);
        hex8(state, b);
        sim_violation(
            s, "agreement: replica %u state digest %s.. after seq %llu, another replica %s..", r, b,
            (unsigned long long)seq, a);
    }
}

void sim_check_new_incarnation(struct sim *s, uint32_t r)
{
    struct sim_checker *c = &s->chk;
    for (size_t i = 0; i < c->req_cap; i++)
        if (c->reqs[i].client != EMPTY) c->reqs[i].applied_mask &= ~(1u << r);
}

uint64_t sim_applied_seq(const struct sim *s, uint32_t client, uint64_t req_no)
{
    const struct sim_req_rec *rec = find(&s->chk, client, req_no);
    return rec ? rec->seq : 0;
}

uint64_t sim_max_executed(const struct sim *s)
{
    return s->chk.max_seq;
}

bool sim_executed_at(const struct sim *s, uint64_t seq, bft_digest *batch, bft_digest *state)
{
    if (seq >= s->chk.seq_cap || !s->chk.seqs[seq].set) return false;
    if (batch) *batch = s->chk.seqs[seq].batch;
    if (state) *state = s->chk.seqs[seq].state;
    return true;
}

/* ---- Orders and reads ----
 *
 * An order (client, client_order_id) is written once, by the first NEW that
 * the order router accepts, and never changes: a LOOKUP of it is a read of
 * a register that goes from "not found" to "order_seq X" once. A history of
 * such reads and writes is linearizable iff
 *   - a read that finds the order returns X, and finds it only once the
 *     NEW has committed (the simulator knows: an honest replica applied
 *     it), and
 *   - a read that does not find it was issued before the order became
 *     visible: before any client had it acknowledged, and before any other
 *     read that found it had returned (a new-old inversion otherwise).
 * "Before" compares ticks of the checker's logical clock (s->chk.lclock),
 * not times or event numbers, so an acknowledgement and a read issued in
 * the same event or at the same virtual microsecond are still ordered as
 * they happened. */
/* Levels (docs/reads.md). Linearizable and quorum reads are held to the
 * rules above. A local read promises less, and exactly this is checked:
 *   - no uncommitted write: a read that finds the order finds it only once
 *     an honest replica applied it, with its one order_seq (as above);
 *   - freshness: the honest replica whose answer is sent executed a
 *     committed batch no more than the read's bound before answering, on
 *     the replica's ms clock (sim_check_local_answer, at the send);
 * and nothing about orders acknowledged before it was issued (a local
 * read may miss them), so a local read neither fails for not finding an
 * acknowledged order nor makes an order visible to later reads. */

#define NEVER UINT64_MAX
#define ORDER_ID_BITS 40

static struct sim_order_rec *order_rec(struct sim *s, uint32_t client, uint64_t order_id,
                                       bool create)
{
    struct sim_checker *c = &s->chk;
    if (client >= SIM_MAX_CLIENTS || (order_id >> ORDER_ID_BITS) != (uint64_t)client + 1)
        return NULL; /* not an id the simulated clients hand out */
    uint64_t k = order_id & ((1ull << ORDER_ID_BITS) - 1);
    if (k >= SIM_SEQ_MAX) return NULL;
    if (k >= c->orders_cap[client]) {
        if (!create) return NULL;
        size_t cap = c->orders_cap[client] ? c->orders_cap[client] : 1024;
        while (cap <= k)
            cap *= 2;
        struct sim_order_rec *t = realloc(c->orders[client], cap * sizeof(*t));
        if (!t) {
            sim_fail(s, "out of memory in the checker");
            return NULL;
        }
        for (size_t i = c->orders_cap[client]; i < cap; i++)
            t[i] = (struct sim_order_rec){.commit_us = NEVER, .visible_us = NEVER};
        c->orders[client] = t;
        c->orders_cap[client] = cap;
    }
    return &c->orders[client][k];
}

void sim_check_result(struct sim *s, uint32_t r, uint32_t client, const uint8_t *op, size_t op_len,
                      const uint8_t *res, size_t res_len)
{
    if (!s->rep[r].honest || op_len != BFT_ORDER_OP_LEN || op[0] != BFT_ORDER_KIND_NEW) return;
    uint8_t status;
    uint64_t order_seq;
    if (bft_order_result_decode(res, res_len, &status, &order_seq) != BFT_E_OK ||
        (status != BFT_ORDER_OK && status != BFT_ORDER_DUP))
        return;
    uint64_t order_id = 0;
    char sym[9];
    uint8_t side;
    uint32_t qty;
    int64_t price;
    if (bft_order_decode(op, op_len, &order_id, sym, &side, &qty, &price) != 0) return;
    struct sim_order_rec *o = order_rec(s, client, order_id, true);
    if (!o) return;
    if (o->commit_us == NEVER) {
        o->commit_us = s->now_us;
        o->commit_ev = ++s->chk.lclock;
    }
    if (o->order_seq == 0) {
        o->order_seq = order_seq;
    } else if (o->order_seq != order_seq) {
        sim_violation(s,
                      "orders: replica %u gave client %u order %llu order_seq %llu, earlier %llu "
                      "(applied or acknowledged)",
                      r, client, (unsigned long long)order_id, (unsigned long long)order_seq,
                      (unsigned long long)o->order_seq);
    }
}

static void make_visible(struct sim *s, struct sim_order_rec *o)
{
    if (o->visible_us != NEVER) return;
    o->visible_us = s->now_us;
    o->visible_ev = ++s->chk.lclock;
}

void sim_check_order_acked(struct sim *s, uint32_t client, uint64_t order_id, uint64_t order_seq)
{
    struct sim_order_rec *o = order_rec(s, client, order_id, true);
    if (!o) return;
    /* Not applied by an honest replica yet: only a Raft leader that is not
     * honest can answer so early (a BFT client needs f+1 matching replies,
     * one of them honest). Remember the number: an honest replica that
     * applies the order later must give it the same one, and a read must
     * find it. */
    if (o->order_seq == 0) o->order_seq = order_seq;
    if (o->order_seq != order_seq) {
        sim_violation(
            s, "orders: client %u order %llu acknowledged with order_seq %llu, applied as %llu",
            client, (unsigned long long)order_id, (unsigned long long)order_seq,
            (unsigned long long)o->order_seq);
        return;
    }
    make_visible(s, o);
}

void sim_check_local_answer(struct sim *s, uint32_t r, uint32_t c, const uint8_t *msg, size_t len)
{
    struct bft_msg m;
    struct bft_reply_iter it;
    struct bft_reply_range rg;
    if (bft_msg_decode(msg, len, &m) != BFT_E_OK || m.type != BFT_MSG_REPLY ||
        !bft_reply_iter_init(&it, m.body, m.body_len) || !bft_reply_iter_next(&it, &rg))
        return;
    uint64_t first = rg.first; /* a read is answered alone, in one range */
    const struct sim_client *cl = &s->cli[c];
    for (uint32_t i = 0; i < cl->n_reads; i++) {
        if (cl->reads[i].id != first || cl->reads[i].level != BFT_READ_LOCAL) continue;
        if (m.flags & BFT_REPLY_STALE) {
            s->st.local_refusals++;
            return;
        }
        const struct sim_replica *rp = &s->rep[r];
        uint64_t now_ms = s->now_us / 1000, exec_ms = rp->exec_us / 1000;
        s->st.local_answers++;
        if (!rp->exec_ever || now_ms - exec_ms > s->o.read_staleness_ms)
            sim_violation(
                s,
                "local read too stale: replica %u answered client %u's local read at %llu "
                "ms; its last execution was %s%llu ms, bound %u ms",
                rp->id, c, (unsigned long long)now_ms, rp->exec_ever ? "at " : "never, ",
                (unsigned long long)(rp->exec_ever ? exec_ms : 0), s->o.read_staleness_ms);
        return;
    }
}

void sim_check_read(struct sim *s, uint32_t reader, int level, uint32_t client, uint64_t order_id,
                    uint64_t issued_us, uint64_t issued_ev, const uint8_t *res, size_t res_len)
{
    uint8_t status = 0;
    uint64_t order_seq = 0;
    if (bft_order_result_decode(res, res_len, &status, &order_seq) != BFT_E_OK ||
        (status != BFT_ORDER_OK && status != BFT_ORDER_NOT_FOUND)) {
        sim_violation(s, "read: client %u accepted a bad LOOKUP result (status %u, %zu bytes)",
                      reader, status, res_len);
        return;
    }
    struct sim_order_rec *o = order_rec(s, client, order_id, true);
    if (s->failed) return;
    if (status == BFT_ORDER_NOT_FOUND) {
        if (level == BFT_READ_LOCAL) return; /* may miss acknowledged orders */
        if (o && o->visible_us != NEVER && o->visible_ev < issued_ev)
            sim_violation(
                s,
                "stale read (%s): client %u LOOKUP of client %u order %llu issued at %llu us "
                "returned not found at %llu us; the order (order_seq %llu, committed at "
                "%llu us) was acknowledged or read at %llu us",
                bft_read_level_name(level), reader, client, (unsigned long long)order_id,
                (unsigned long long)issued_us, (unsigned long long)s->now_us,
                (unsigned long long)o->order_seq, (unsigned long long)o->commit_us,
                (unsigned long long)o->visible_us);
        return;
    }
    if (!o || o->commit_us == NEVER) {
        sim_violation(
            s,
            "read of uncommitted write (%s): client %u LOOKUP of client %u order %llu (issued "
            "at %llu us) found order_seq %llu at %llu us, but no honest replica has "
            "applied that order",
            bft_read_level_name(level), reader, client, (unsigned long long)order_id,
            (unsigned long long)issued_us, (unsigned long long)order_seq,
            (unsigned long long)s->now_us);
        return;
    }
    if (o->order_seq != order_seq) {
        sim_violation(s,
                      "read: client %u LOOKUP of client %u order %llu found order_seq %llu, the "
                      "order has %llu",
                      reader, client, (unsigned long long)order_id, (unsigned long long)order_seq,
                      (unsigned long long)o->order_seq);
        return;
    }
    if (level != BFT_READ_LOCAL) make_visible(s, o);
}
