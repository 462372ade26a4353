/* Execution: committed batches are applied to the application in order,
 * each (client, request number) at most once, and every executed request is
 * answered (Castro & Liskov §4.1, §4.2 "executes the operation ... sends a
 * reply"): one signed REPLY per client per batch covers all its envelopes
 * (node_reply.c). The exactly-once table is part of the
 * replicated state: it is covered by the state digest and travels in
 * snapshots, otherwise state transfer could revive executed requests. */
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "wire/bytes.h"

/* Request numbers start at 1, so a fresh window starts there. */
struct node_client *node_clients_new(uint32_t count)
{
    struct node_client *c = calloc(count ? count : 1, sizeof *c);
    for (uint32_t i = 0; c && i < count; i++)
        c[i].low = 1;
    return c;
}

static bool client_untouched(const struct node_client *c)
{
    return c->low == 1 && c->bits[0] == 0;
}

static bool table_test(const struct node_client *c, uint64_t req_no)
{
    if (req_no < c->low) return true;
    uint64_t i = req_no - c->low;
    if (i >= NODE_CLIENT_WINDOW) return false;
    return (c->bits[i / 64] >> (i % 64)) & 1;
}

/* Mark req_no executed and slide the window over the executed prefix.
 * Returns false if req_no is beyond the window (refused, deterministic). */
static bool table_set(struct node_client *c, uint64_t req_no)
{
    if (req_no < c->low) return true;
    uint64_t i = req_no - c->low;
    if (i >= NODE_CLIENT_WINDOW) return false;
    c->bits[i / 64] |= 1ull << (i % 64);
    while (c->bits[0] & 1) {
        /* shift the bitmap right by one bit */
        for (size_t w = 0; w < NODE_CLIENT_WINDOW / 64; w++) {
            uint64_t next = w + 1 < NODE_CLIENT_WINDOW / 64 ? c->bits[w + 1] : 0;
            c->bits[w] = (c->bits[w] >> 1) | (next << 63);
        }
        c->low++;
    }
    return true;
}

/* Move the window up so that `top` fits in it: the numbers that fall below
 * the new low and never executed are abandoned, never executed later (a
 * number below low counts as executed). A client moves its window this way
 * when it starts a new session above its old numbers (client sessions seed
 * their numbers, docs/design.md "Request numbers across sessions") or left
 * a request it gave up on behind; it can only abandon its own requests. */
/* Ordered request numbers stay below 2^62 (the client library numbers its
 * read-only requests above it), so low + the window never wraps. */
#define NODE_REQ_NO_LIMIT (1ull << 62)

static void table_slide(struct node_client *c, uint64_t top)
{
    if (top < c->low + NODE_CLIENT_WINDOW) return;
    uint64_t shift = top - (c->low + NODE_CLIENT_WINDOW) + 1;
    if (shift >= NODE_CLIENT_WINDOW) {
        memset(c->bits, 0, sizeof c->bits);
    } else {
        size_t words = (size_t)(shift / 64), bits = (size_t)(shift % 64);
        for (size_t w = 0; w < NODE_CLIENT_WINDOW / 64; w++) {
            size_t from = w + words;
            uint64_t lo = from < NODE_CLIENT_WINDOW / 64 ? c->bits[from] : 0;
            uint64_t hi = from + 1 < NODE_CLIENT_WINDOW / 64 ? c->bits[from + 1] : 0;
            c->bits[w] = bits ? (lo >> bits) | (hi << (64 - bits)) : lo;
        }
    }
    c->low += shift;
    while (c->bits[0] & 1) /* an executed prefix may now sit at the bottom */
        table_set(c, c->low);
}

bool node_already_executed(struct bft_node *n, const struct bft_msg *req)
{
    if (!table_test(&n->clients[req->sender], req->seq)) return false;
    /* Without the cached reply the client would retry forever: the table
     * travels in snapshots and the reply cache does not, so after every
     * replica restarted from a snapshot taken past the request (or the
     * cache's byte bound evicted it) nobody could answer (docs/wire.md
     * "REPLY", found as bftsim --protocol raft --nodes 3 --seeds 1631). */
    if (!node_reply_resend(n, req->sender, req->seq))
        node_reply_no_result(n, req->sender, req->seq, bft_req_count(req));
    return true;
}

/* Apply one envelope; its results join the client's reply for this batch
 * (node_reply.c). */
static void exec_envelope(struct bft_node *n, uint64_t seq, uint64_t view,
                          const struct bft_msg *req)
{
    struct node_client *c = &n->clients[req->sender];
    uint16_t count = bft_req_count(req);
    /* The envelope is atomic: executed whole or skipped whole. Every
     * request number is checked, not only the first: a client that signs
     * overlapping envelopes must not get a request applied twice (the
     * exactly-once contract in bft.h). */
    for (uint16_t i = 0; i < count; i++)
        if (table_test(c, req->seq + i)) return;
    /* Beyond the window: the client moved on; slide rather than refuse,
     * so a client that abandoned a request (or a new session seeded above
     * the old numbers) is not locked out. Deterministic: every replica
     * slides the same way at the same envelope. */
    if (req->seq >= NODE_REQ_NO_LIMIT - count) { /* no wrap: count <= 65535 */
        bft_node_reject(n, BFT_REJECT_OUT_OF_WINDOW);
        return;
    }
    table_slide(c, req->seq + count - 1);
    node_reply_open(n, req->sender, req->seq, count);
    struct bft_req_iter it;
    bft_req_iter_init(&it, req);
    uint64_t req_no;
    const uint8_t *op;
    size_t op_len;
    while (bft_req_iter_next(&it, &req_no, &op, &op_len)) {
        size_t rl = n->cfg.app->apply(n->app, seq, req->sender, req_no, op, op_len, n->result);
        if (rl > BFT_RESULT_MAX) abort(); /* application bug */
        table_set(c, req_no);
        n->stats.requests_executed++;
        if (n->host.on_apply) n->host.on_apply(n->host.ctx, req->sender, req_no, seq, op, op_len);
        if (n->host.on_result) {
            n->host.on_result(n->host.ctx, req->sender, req_no, seq, view, op, op_len, n->result,
                              rl);
            /* The host may have written a durable record of it (bftd's
             * audit log): the reply waits for the next sync. */
            n->dirty = true;
        }
        node_reply_result(n, n->result, rl);
    }
}

void node_execute(struct bft_node *n, uint64_t seq, uint64_t view, const uint8_t *batch, size_t len,
                  const bft_digest *batch_digest, bft_digest *state)
{
    node_replies_begin(n, seq, view);
    if (batch && len) {
        struct bft_batch_iter it;
        if (bft_batch_iter_init(&it, batch, len) == BFT_E_OK) {
            const uint8_t *raw;
            size_t rlen;
            while (bft_batch_iter_next(&it, &raw, &rlen)) {
                struct bft_msg req;
                /* Checked when the batch was accepted; a batch that fails
                 * here was corrupted in our own memory or WAL. Skipping is
                 * deterministic across honest replicas that hold it. */
                if (bft_msg_decode(raw, rlen, &req) != BFT_E_OK || req.type != BFT_MSG_REQUEST ||
                    req.sender >= n->cfg.n_clients)
                    continue;
                exec_envelope(n, seq, view, &req);
            }
        }
    }
    node_replies_end(n); /* one REPLY per client of this batch */
    n->stats.batches_executed++;
    n->stats.last_executed = seq;
    node_mark_fresh(n);
    node_reads_serve(n, seq);
    bft_digest app;
    n->cfg.app->digest(n->app, &app);
    if (state) bft_node_state_digest(n, state);
    if (n->host.on_execute) n->host.on_execute(n->host.ctx, seq, view, batch_digest, &app);
}

/* Digest of the exactly-once table: clients in id order, (low, bitmap). */
static void table_digest(const struct node_client *clients, uint32_t count, bft_digest *out)
{
    uint8_t acc[32] = {0};
    uint8_t buf[32 + 4 + 8 + NODE_CLIENT_WINDOW / 8];
    for (uint32_t i = 0; i < count; i++) {
        const struct node_client *c = &clients[i];
        if (client_untouched(c)) continue;
        memcpy(buf, acc, 32);
        wire_le_store(buf + 32, i, 4);
        wire_le_store(buf + 36, c->low, 8);
        for (size_t w = 0; w < NODE_CLIENT_WINDOW / 64; w++)
            wire_le_store(buf + 44 + 8 * w, c->bits[w], 8);
        crypto_sha256(buf, sizeof buf, acc);
    }
    memcpy(out->b, acc, 32);
}

void node_table_digest(struct bft_node *n, bft_digest *out)
{
    table_digest(n->clients, n->cfg.n_clients, out);
}

static void state_digest(const struct bft_app_ops *ops, void *app,
                         const struct node_client *clients, uint32_t count, bft_digest *out)
{
    bft_digest a, t;
    ops->digest(app, &a);
    table_digest(clients, count, &t);
    crypto_sha256_2(a.b, 32, t.b, 32, out->b);
}

const void *bft_node_app(const struct bft_node *n)
{
    return n->app;
}

void bft_node_state_digest(struct bft_node *n, bft_digest *out)
{
    state_digest(n->cfg.app, n->app, n->clients, n->cfg.n_clients, out);
}

/* Snapshot: u32 n_clients | per touched client (u32 id, u64 low, bitmap)
 * terminated by id 0xffffffff | u32 app_len | app snapshot. */
int node_snapshot(struct bft_node *n, uint8_t **buf, size_t *len)
{
    uint8_t *app = NULL;
    size_t app_len = 0;
    int rv = n->cfg.app->snapshot(n->app, &app, &app_len);
    if (rv != BFT_E_OK) return rv;
    size_t per = 4 + 8 + NODE_CLIENT_WINDOW / 8;
    size_t cap = 4 + (size_t)n->cfg.n_clients * per + 4 + 4;
    uint8_t *p = malloc(cap);
    if (!p) {
        free(app);
        return BFT_E_NOMEM;
    }
    struct wire_wr w;
    wire_wr_init(&w, p, cap);
    wire_put_u32(&w, n->cfg.n_clients);
    for (uint32_t i = 0; i < n->cfg.n_clients; i++) {
        const struct node_client *c = &n->clients[i];
        if (client_untouched(c)) continue;
        wire_put_u32(&w, i);
        wire_put_u64(&w, c->low);
        for (size_t k = 0; k < NODE_CLIENT_WINDOW / 64; k++)
            wire_put_u64(&w, c->bits[k]);
    }
    wire_put_u32(&w, 0xffffffffu);
    wire_put_u32(&w, (uint32_t)app_len);
    /* The table goes in front of the application's bytes in the app's own
     * buffer (malloc'd, ours to free: bft/app.h): a second buffer the size
     * of the state would double the memory a snapshot costs (issue 14). */
    uint8_t *all = w.err || app_len > SIZE_MAX - w.len ? NULL : realloc(app, w.len + app_len);
    if (!all) {
        free(app);
        free(p);
        return BFT_E_NOMEM;
    }
    if (app_len) memmove(all + w.len, all, app_len);
    memcpy(all, p, w.len);
    free(p);
    *buf = all;
    *len = w.len + app_len;
    return BFT_E_OK;
}

/* Build the snapshot's state beside ours (a fresh application instance
 * and exactly-once table), check its digest, and only then swap it in: a
 * snapshot that lies costs the asker nothing but the bytes. */
int node_restore(struct bft_node *n, const uint8_t *buf, size_t len, const bft_digest *expect,
                 bft_digest *state)
{
    struct wire_rd r;
    wire_rd_init(&r, buf, len);
    if (wire_get_u32(&r) != n->cfg.n_clients) return BFT_E_MALFORMED;
    struct node_client *fresh = node_clients_new(n->cfg.n_clients);
    if (!fresh) return BFT_E_NOMEM;
    void *app_new = NULL;
    for (;;) {
        uint32_t id = wire_get_u32(&r);
        if (r.err) goto bad;
        if (id == 0xffffffffu) break;
        if (id >= n->cfg.n_clients) goto bad;
        fresh[id].low = wire_get_u64(&r);
        for (size_t k = 0; k < NODE_CLIENT_WINDOW / 64; k++)
            fresh[id].bits[k] = wire_get_u64(&r);
    }
    uint32_t app_len = wire_get_u32(&r);
    const uint8_t *app = wire_get_ptr(&r, app_len);
    if (r.err || wire_rd_left(&r) != 0) goto bad;
    app_new = n->cfg.app->create(n->cfg.app_user);
    if (!app_new) {
        free(fresh);
        return BFT_E_NOMEM;
    }
    if (n->cfg.app->restore(app_new, app, app_len) != BFT_E_OK) goto bad;
    bft_digest got;
    state_digest(n->cfg.app, app_new, fresh, n->cfg.n_clients, &got);
    if (expect && memcmp(got.b, expect->b, 32) != 0) goto bad;
    n->cfg.app->destroy(n->app);
    n->app = app_new;
    node_clients_free(n);
    n->clients = fresh;
    *state = got;
    return BFT_E_OK;
bad:
    if (app_new) n->cfg.app->destroy(app_new);
    free(fresh);
    return BFT_E_MALFORMED;
}

void node_clients_free(struct bft_node *n)
{
    if (!n->clients) return;
    for (uint32_t i = 0; i < n->cfg.n_clients; i++)
        node_reply_cache_free(&n->clients[i]);
    free(n->clients);
    n->clients = NULL;
}
