/* Replies (docs/wire.md "REPLY"): a replica answers this client once per
 * executed batch, one range of results per envelope the batch held,
 * signed once. The client checks the signature once per REPLY, and only
 * if some range still holds a result it wants; then each request's result
 * counts as that replica's vote for that request: f+1 matching votes
 * complete it for BFT (PBFT §4.1: at least one is honest), the leader's
 * alone for Raft. How a replica groups its results into replies changes
 * nothing the client accepts. */
#include <assert.h>
#include <string.h>

#include "client/client_internal.h"

/* Believed view: the (f+1)-th highest view any replica reported, so at least
 * one honest replica has reached it and a lone liar cannot push the client
 * towards a primary of a view that does not exist. */
static void learn_view(struct bft_client *c, uint32_t replica, uint64_t view)
{
    if (view <= c->replica_view[replica]) return;
    c->replica_view[replica] = view;
    uint64_t v[BFT_MAX_REPLICAS];
    memcpy(v, c->replica_view, sizeof v);
    for (uint32_t k = 0; k <= c->cfg.f; k++) { /* partial selection sort */
        uint32_t best = k;
        for (uint32_t i = k + 1; i < c->cfg.n; i++)
            if (v[i] > v[best]) best = i;
        uint64_t t = v[k];
        v[k] = v[best];
        v[best] = t;
    }
    if (v[c->cfg.f] > c->view) {
        c->view = v[c->cfg.f];
        if (c->cfg.protocol == BFT_PROTO_PBFT) c->leader = (uint32_t)(c->view % c->cfg.n);
    }
}

/* A BFT_REPLY_NO_RESULT vote is recorded as the hash of more bytes than
 * any result has (BFT_RESULT_MAX), so it matches other such votes and no
 * result. */
static void no_result_hash(uint8_t out[CRYPTO_DIGEST_LEN])
{
    uint8_t mark[BFT_RESULT_MAX + 1];
    memset(mark, 0xff, sizeof mark);
    crypto_sha256(mark, sizeof mark, out);
}

static void complete(struct bft_client *c, uint64_t id, bool no_result, const uint8_t *res,
                     size_t res_len)
{
    if (no_result && c->host.no_result)
        c->host.no_result(c->host.ctx, id);
    else
        c->host.done(c->host.ctx, id, no_result ? (const uint8_t *)"" : res,
                     no_result ? 0 : res_len);
}

/* Record replica r's result for a pending request; complete the request when
 * enough distinct replicas agree (f+1 for BFT, the leader alone for Raft).
 * A "no result" vote completes it without a result. */
static void record_result(struct bft_client *c, struct client_slot *s, uint32_t r, bool no_result,
                          const uint8_t *res, size_t res_len)
{
    s->replied |= 1u << r;
    if (is_bft(c)) {
        /* A hash per replica instead of every result: n x 32 bytes a slot. */
        uint8_t *mine = hash_of(c, s->req_no, r);
        if (no_result)
            no_result_hash(mine);
        else
            crypto_sha256(res, res_len, mine);
        uint32_t match = 0;
        for (uint32_t i = 0; i < c->cfg.n; i++)
            if ((s->replied & (1u << i)) &&
                memcmp(hash_of(c, s->req_no, i), mine, CRYPTO_DIGEST_LEN) == 0)
                match++;
        if (match < c->cfg.f + 1) return;
    }

    uint64_t req_no = s->req_no;
    struct client_slot *head = slot_of(c, s->env_first);
    assert(head->env_left > 0);
    s->done = true;
    head->env_left--;
    c->stats.completed++;
    /* Free slots before the callback so a closed-loop caller can submit
     * its next request from inside done(). */
    client_advance_window(c);
    for (uint32_t i = 0; i < CLIENT_READS; i++) {
        struct client_read *rd = &c->reads[i];
        if (rd->id && rd->fallback == req_no) { /* a read that fell back */
            uint64_t id = rd->id;
            rd->id = 0;
            complete(c, id, no_result, res, res_len);
            return;
        }
    }
    complete(c, req_no, no_result, res, res_len);
}

/* Does the range hold a result replica r has not given yet for a request
 * still pending? Only the part inside the window is looked at, so a long
 * range costs at most the window. */
static bool range_useful(struct bft_client *c, uint32_t r, const struct bft_reply_range *rg)
{
    uint64_t end = rg->first + rg->count; /* the decoder ruled out a wrap */
    uint64_t lo = rg->first > c->oldest ? rg->first : c->oldest;
    uint64_t hi = end < c->unsent ? end : c->unsent;
    for (uint64_t q = lo; q < hi; q++) {
        const struct client_slot *s = client_pending(c, q);
        if (s && !(s->replied & (1u << r))) return true;
    }
    return false;
}

/* The replica's signature over the whole REPLY (BFT; Raft trusts its
 * leader). A bad one counts in bad_replies. */
static bool reply_signed(struct bft_client *c, const struct bft_msg *m)
{
    if (!is_bft(c) || c->cfg.null_crypto) return true;
    const uint8_t *region;
    size_t region_len;
    bft_msg_signed_region(m->raw, &region, &region_len);
    if (crypto_verify_msg(c->cfg.replica_pk[m->sender], BFT_MSG_REPLY, c->cfg.cluster_id, region,
                          region_len, m->sig))
        return true;
    c->stats.bad_replies++;
    return false;
}

/* The answer to a read-only request: one range of one result, alone in
 * its REPLY (a replica answers a read as it arrives, never in a batch). */
static void on_read_reply(struct bft_client *c, const struct bft_msg *m,
                          const struct bft_reply_iter *it, const struct bft_reply_range *rg,
                          uint64_t now_ms)
{
    if (it->n_ranges != 1 || rg->count != 1) {
        c->stats.bad_replies++;
        return;
    }
    struct client_read *rd = client_read_of(c, rg->first);
    if (!rd || (rd->replied & (1u << m->sender))) return; /* late, or answered */
    /* A local read takes only the answer of the replica it asked now. */
    if (rd->level == BFT_READ_LOCAL && m->sender != rd->target) return;
    if (m->flags & BFT_REPLY_NO_RESULT) {
        c->stats.bad_replies++; /* a read is answered from state, never closed */
        return;
    }
    if ((m->flags & BFT_REPLY_STALE) && rd->level != BFT_READ_LOCAL) {
        c->stats.bad_replies++; /* only a local read can be refused as stale */
        return;
    }
    if (!reply_signed(c, m)) return;
    if (m->flags & BFT_REPLY_STALE) { /* refused: ask the next replica */
        c->stats.read_refusals++;
        client_local_ask_next(c, rd, now_ms);
        return;
    }
    struct bft_reply_res_iter ri;
    bft_reply_res_init(&ri, rg);
    uint64_t id;
    const uint8_t *res;
    size_t res_len;
    if (!bft_reply_res_next(&ri, &id, &res, &res_len)) {
        c->stats.bad_replies++;
        return;
    }
    client_read_reply(c, rd, m->sender, res, res_len, now_ms);
}

void bft_client_on_reply(struct bft_client *c, const uint8_t *msg, size_t len, uint64_t now_ms)
{
    c->stats.replies++;
    struct bft_msg m;
    struct bft_reply_iter it;
    struct bft_reply_range rg;
    /* The decoder checked the layout (ranges ascending, disjoint, each of
     * 1..BFT_ENVELOPE_MAX_OPS results); the iterators stay bounded anyway. */
    if (bft_msg_decode(msg, len, &m) != BFT_E_OK || m.type != BFT_MSG_REPLY ||
        m.sender >= c->cfg.n || m.cluster_id != c->cfg.cluster_id ||
        !bft_reply_iter_init(&it, m.body, m.body_len) || it.client != c->cfg.id ||
        !bft_reply_iter_next(&it, &rg)) {
        c->stats.bad_replies++;
        return;
    }
    if (rg.first & CLIENT_READ_BIT) {
        on_read_reply(c, &m, &it, &rg, now_ms);
        return;
    }
    if (m.flags & BFT_REPLY_STALE) {
        c->stats.bad_replies++; /* only a local read can be refused as stale */
        return;
    }
    bool no_result = (m.flags & BFT_REPLY_NO_RESULT) != 0;
    /* Cheap relevance check before the expensive signature check. Ranges
     * outside the window are ignored, not held against the replica: a late
     * reply, or one to another client object of the same id (a session's
     * retries, client/session_ops.c), looks the same. A range that reaches
     * the read numbers cannot come from an honest replica (it executes
     * nothing at or above 2^62, node_exec.c): the reply is dropped. */
    bool useful = false;
    do {
        if (rg.first + rg.count > CLIENT_READ_BIT) {
            c->stats.bad_replies++;
            return;
        }
        useful = useful || range_useful(c, m.sender, &rg);
    } while (bft_reply_iter_next(&it, &rg));
    if (it.bad) {
        c->stats.bad_replies++;
        return;
    }
    if (!useful || !reply_signed(c, &m)) return;
    if (is_bft(c))
        learn_view(c, m.sender, m.view);
    else
        c->leader = m.sender; /* only the Raft leader replies */

    bft_reply_iter_init(&it, m.body, m.body_len);
    while (bft_reply_iter_next(&it, &rg)) {
        struct bft_reply_res_iter ri;
        bft_reply_res_init(&ri, &rg);
        uint64_t req_no;
        const uint8_t *res;
        size_t res_len;
        while (bft_reply_res_next(&ri, &req_no, &res, &res_len)) {
            /* Re-checked per request: done() may have submitted and sent. */
            struct client_slot *s = client_pending(c, req_no);
            if (!s || (s->replied & (1u << m.sender))) continue; /* one vote per replica */
            record_result(c, s, m.sender, no_result, res, res_len);
        }
    }
}
