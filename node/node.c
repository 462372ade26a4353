/* The replica node: binds a pure protocol core to an application, the
 * exactly-once table, and signing. Input is decoded, bound to its sender's
 * key and verified here, once, before the core sees it; anything bad is
 * counted by reason and dropped (docs/style.md #6: never assert on peer input).
 * bftd and the simulator drive the same node. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "node/node_internal.h"
#include "wire/bytes.h"
#include "wire/hash.h"

static void recovery_done(struct bft_node *n);
static void drop_disk(struct bft_node *n);

/* ---- environment for the core ---- */

static void env_sign(void *ctx, uint32_t domain, const uint8_t *region, size_t len,
                     uint8_t sig[BFT_SIG_LEN])
{
    node_sign(ctx, domain, region, len, sig);
}

static bool env_verify(void *ctx, uint32_t signer, uint32_t domain, const uint8_t *region,
                       size_t len, const uint8_t sig[BFT_SIG_LEN])
{
    return node_verify_replica(ctx, signer, domain, region, len, sig);
}

static bool env_verify_request(void *ctx, const struct bft_msg *req)
{
    return node_verify_request(ctx, req);
}

static uint64_t env_random(void *ctx)
{
    /* Deterministic per replica: cores use it only for jitter (Raft
     * election timeouts), so the simulator replays it exactly. splitmix64. */
    struct bft_node *n = ctx;
    return bft_splitmix64(&n->rng);
}

/* ---- effects of the core ---- */

static void io_send(void *ctx, uint32_t to, const struct bft_msg *m)
{
    struct bft_node *n = ctx;
    if (to >= n->cfg.core.n || to == n->cfg.core.self) return;
    node_queue_msg(n, m, false, to);
}

static void io_send_ahead(void *ctx, uint32_t to, const struct bft_msg *m)
{
    struct bft_node *n = ctx;
    if (to >= n->cfg.core.n || to == n->cfg.core.self) return;
    node_queue_msg(n, m, false, to | NODE_DEST_AHEAD);
}

static void io_broadcast(void *ctx, const struct bft_msg *m)
{
    node_queue_msg(ctx, m, true, 0);
}

static void io_persist(void *ctx, const uint8_t *rec, size_t len)
{
    struct bft_node *n = ctx;
    if (!n->host.persist) return;
    node_stage_in(n, BFT_STAGE_WAL);
    n->host.persist(n->host.ctx, rec, len);
    node_stage_out(n);
    n->dirty = true;
}

static void io_execute(void *ctx, uint64_t seq, uint64_t view, const uint8_t *batch, size_t len,
                       const bft_digest *batch_digest, bft_digest *state)
{
    node_stage_in(ctx, BFT_STAGE_EXECUTE);
    node_execute(ctx, seq, view, batch, len, batch_digest, state);
    node_stage_out(ctx);
}

static void io_set_timer(void *ctx, uint32_t timer, uint64_t after_ms)
{
    struct bft_node *n = ctx;
    n->host.set_timer(n->host.ctx, timer, after_ms);
}

static void io_cancel_timer(void *ctx, uint32_t timer)
{
    struct bft_node *n = ctx;
    n->host.cancel_timer(n->host.ctx, timer);
}

static int io_snapshot(void *ctx, const uint8_t **buf, size_t *len)
{
    struct bft_node *n = ctx;
    free(n->snap);
    n->snap = NULL;
    n->snap_len = 0;
    int rv = node_snapshot(n, &n->snap, &n->snap_len);
    if (rv != BFT_E_OK) return rv;
    *buf = n->snap;
    *len = n->snap_len;
    return BFT_E_OK;
}

static int io_snapshot_take(void *ctx, uint8_t **buf, size_t *len)
{
    return node_snapshot(ctx, buf, len);
}

static int io_restore(void *ctx, uint64_t seq, const uint8_t *buf, size_t len,
                      const bft_digest *expect, bft_digest *state)
{
    struct bft_node *n = ctx;
    int rv = node_restore(n, buf, len, expect, state);
    if (rv != BFT_E_OK) return rv;
    /* Not fresh yet: a local read waits for the next executed batch (the
     * snapshot may be far behind what the cluster committed). Waiting
     * linearizable reads may be answered from it. */
    n->stats.last_executed = seq;
    node_reads_serve(n, seq);
    return BFT_E_OK;
}

/* The core says the state at seq is committed: hand it to the host's
 * durable snapshot writer (docs/storage.md). */
static void io_checkpoint(void *ctx, uint64_t seq, const bft_digest *state, const uint8_t *snap,
                          size_t len)
{
    struct bft_node *n = ctx;
    if (!n->host.save_snapshot || seq <= n->base) return;
    if (n->host.snapshot_wanted && !n->host.snapshot_wanted(n->host.ctx, seq)) return;
    uint8_t *own = NULL;
    if (!snap) {
        if (node_snapshot(n, &own, &len) != BFT_E_OK) return;
        snap = own;
    }
    bft_digest d;
    if (!state) {
        bft_node_state_digest(n, &d);
        state = &d;
    }
    if (n->host.save_snapshot(n->host.ctx, seq, state, snap, len) == 0) n->base = seq;
    free(own);
}

static int io_load_snapshot(void *ctx, uint64_t seq, bft_digest *state)
{
    struct bft_node *n = ctx;
    for (uint32_t i = 0; i < n->n_disk; i++) {
        const struct bft_snapfile *f = &n->disk[i];
        if (f->seq != seq) continue;
        /* The file's own digest is checked against the restored state
         * (node_restore), so a file that passed its checksum but does not
         * hold what it claims is refused too. */
        if (node_restore(n, f->buf, f->len, &f->state, state) != BFT_E_OK) return BFT_E_NOTFOUND;
        /* The replayed WAL builds on this snapshot: the host keeps the
         * file until the next rotation (bft_node_wal_base). A seq the
         * core only probed (PBFT tries older checkpoints) is not pinned. */
        n->wal_base = seq;
        n->stats.last_executed = seq;
        n->stats.snapshot_loaded = seq;
        return BFT_E_OK;
    }
    return BFT_E_NOTFOUND;
}

static uint64_t io_snapshot_below(void *ctx, uint64_t seq)
{
    const struct bft_node *n = ctx;
    uint64_t best = 0;
    for (uint32_t i = 0; i < n->n_disk; i++)
        if (n->disk[i].seq < seq && n->disk[i].seq > best) best = n->disk[i].seq;
    return best;
}

static void io_reject(void *ctx, int reason)
{
    bft_node_reject(ctx, reason);
}

static void io_read_ready(void *ctx, const uint8_t *req, size_t len)
{
    struct bft_msg m;
    if (bft_msg_decode(req, len, &m) != BFT_E_OK || m.type != BFT_MSG_REQUEST) return;
    node_answer_read(ctx, &m);
}

/* ---- lifecycle ---- */

int bft_node_create(struct bft_node **out, const struct bft_node_config *cfg,
                    const struct bft_host *host, char *err, size_t errlen)
{
    const struct bft_core_ops *ops = bft_core_ops_for(cfg->core.protocol);
    if (!ops) {
        snprintf(err, errlen, "protocol %s is not built", bft_protocol_name(cfg->core.protocol));
        return BFT_E_INVALID;
    }
    if (!cfg->app) {
        snprintf(err, errlen, "no application");
        return BFT_E_INVALID;
    }
    /* The ops table may come from an embedder built against other headers
     * (bft/app.h): refuse a layout we do not know before calling it. */
    if (cfg->app->version != BFT_APP_OPS_VERSION) {
        snprintf(err, errlen, "application ops version %u, this library speaks version %u",
                 cfg->app->version, BFT_APP_OPS_VERSION);
        return BFT_E_INVALID;
    }
    if (!cfg->app->create || !cfg->app->destroy || !cfg->app->apply || !cfg->app->query ||
        !cfg->app->digest || !cfg->app->snapshot || !cfg->app->restore) {
        snprintf(err, errlen, "application ops: every function is required");
        return BFT_E_INVALID;
    }
    if (cfg->core.n == 0 || cfg->core.n > BFT_MAX_REPLICAS || cfg->core.self >= cfg->core.n ||
        cfg->n_clients > BFT_MAX_CLIENTS) {
        snprintf(err, errlen, "bad cluster shape: n=%u self=%u clients=%u", cfg->core.n,
                 cfg->core.self, cfg->n_clients);
        return BFT_E_INVALID;
    }
    struct bft_node *n = calloc(1, sizeof *n);
    if (!n) goto nomem;
    n->cfg = *cfg;
    n->host = *host;
    n->ops = ops;
    node_crypto_init(n);
    n->rng = cfg->random_seed ? cfg->random_seed
                              : cfg->core.cluster_id ^ ((uint64_t)cfg->core.self << 32);
    n->clients = node_clients_new(cfg->n_clients);
    n->arena = malloc(NODE_OUTBOX_BYTES_INIT);
    n->arena_cap = NODE_OUTBOX_BYTES_INIT;
    n->out = malloc(NODE_OUTBOX_ENTRIES_INIT * sizeof *n->out);
    n->out_cap = NODE_OUTBOX_ENTRIES_INIT;
    n->vcache = cfg->null_crypto ? NULL : crypto_vcache_new(1u << 16);
    n->app = cfg->app->create(cfg->app_user);
    n->reads_wait = malloc(NODE_READS_WAITING * sizeof *n->reads_wait);
    if (!n->clients || !n->arena || !n->out || !n->app || !n->reads_wait ||
        (!cfg->null_crypto && !n->vcache))
        goto nomem_free;
    n->env = (struct bft_env){.ctx = n,
                              .sign = env_sign,
                              .verify = env_verify,
                              .verify_request = env_verify_request,
                              .random = env_random};
    n->io = (struct bft_io){.ctx = n,
                            .send = io_send,
                            .send_ahead = io_send_ahead,
                            .broadcast = io_broadcast,
                            .persist = io_persist,
                            .execute = io_execute,
                            .set_timer = io_set_timer,
                            .cancel_timer = io_cancel_timer,
                            .snapshot = io_snapshot,
                            .snapshot_take = io_snapshot_take,
                            .restore = io_restore,
                            .checkpoint = io_checkpoint,
                            .load_snapshot = io_load_snapshot,
                            .snapshot_below = io_snapshot_below,
                            .reject = io_reject,
                            .read_ready = io_read_ready};
    n->cfg.core.n_clients = cfg->n_clients; /* per-client quotas (client_quota.h) */
    int rv = ops->create(&n->core, &n->cfg.core, &n->env, &n->io);
    if (rv != BFT_E_OK) {
        snprintf(err, errlen, "cannot create %s core: %s", ops->name, bft_strerror(rv));
        bft_node_destroy(n);
        return rv;
    }
    *out = n;
    return BFT_E_OK;
nomem_free:
    bft_node_destroy(n);
nomem:
    snprintf(err, errlen, "out of memory");
    return BFT_E_NOMEM;
}

void bft_node_destroy(struct bft_node *n)
{
    if (!n) return;
    if (n->core) n->ops->destroy(n->core);
    if (n->app) n->cfg.app->destroy(n->app);
    crypto_vcache_free(n->vcache);
    node_clients_free(n);
    node_replies_free(n);
    free(n->arena);
    free(n->out);
    free(n->snap);
    drop_disk(n);
    free(n->reads_wait);
    free(n);
}

void bft_node_recover(struct bft_node *n, const uint8_t *rec, size_t len)
{
    if (n->ops->recover) n->ops->recover(n->core, rec, len);
}

static void drop_disk(struct bft_node *n)
{
    for (uint32_t i = 0; i < n->n_disk; i++)
        bft_snapfile_free(&n->disk[i]);
    n->n_disk = 0;
}

int bft_node_add_snapshot(struct bft_node *n, uint64_t seq, const bft_digest *state,
                          const uint8_t *snap, size_t len)
{
    if (n->disk_loaded) return BFT_E_INVALID; /* only before the first event */
    uint32_t slot = n->n_disk;
    if (slot == BFT_SNAPFILE_KEEP) { /* replace the oldest */
        slot = 0;
        for (uint32_t i = 1; i < n->n_disk; i++)
            if (n->disk[i].seq < n->disk[slot].seq) slot = i;
        if (n->disk[slot].seq >= seq) return BFT_E_OK;
        bft_snapfile_free(&n->disk[slot]);
    }
    uint8_t *p = malloc(len ? len : 1);
    if (!p) return BFT_E_NOMEM;
    if (len) memcpy(p, snap, len);
    n->disk[slot] = (struct bft_snapfile){.seq = seq, .state = *state, .buf = p, .len = len};
    if (slot == n->n_disk) n->n_disk++;
    if (seq > n->base) n->base = seq;
    return BFT_E_OK;
}

uint64_t bft_node_snapshot_base(const struct bft_node *n)
{
    return n->base;
}

uint64_t bft_node_wal_base(const struct bft_node *n)
{
    return n->wal_base;
}

int bft_node_compact(struct bft_node *n, void (*emit)(void *ctx, const uint8_t *rec, size_t len),
                     void *ctx)
{
    if (!n->ops->compact) return BFT_E_AGAIN;
    return n->ops->compact(n->core, n->base, emit, ctx);
}

/* Recovery ends with the first event (cores finish it there): the loaded
 * snapshots are no longer needed. */
static void recovery_done(struct bft_node *n)
{
    if (n->disk_loaded) return;
    n->disk_loaded = true;
    drop_disk(n);
}

void bft_node_reject(struct bft_node *n, int reason)
{
    if (reason >= BFT_REJECT__FIRST && reason < BFT_REJECT__COUNT) n->stats.rejected[reason]++;
}

/* ---- input ---- */

static void receive_request(struct bft_node *n, const struct bft_msg *m)
{
    if (m->sender >= n->cfg.n_clients) {
        bft_node_reject(n, BFT_REJECT_UNKNOWN_SENDER);
        return;
    }
    if (!node_verify_request(n, m)) {
        bft_node_reject(n, BFT_REJECT_BAD_SIGNATURE);
        return;
    }
    if (bft_req_flags(m) & BFT_REQ_READONLY) {
        if (bft_req_flags(m) & BFT_REQ_READ_LOCAL)
            node_answer_local(n, m); /* any replica, any protocol */
        else if (n->ops->on_read)
            n->ops->on_read(n->core, m);
        else
            node_answer_read(n, m);
        return;
    }
    if (node_already_executed(n, m)) return; /* cached reply re-sent */
    n->stats.requests_ordered++;
    node_phase_arrive(n, m);
    node_stage_in(n, BFT_STAGE_CORE);
    n->ops->on_request(n->core, m);
    node_stage_out(n);
    recovery_done(n);
}

void bft_node_receive(struct bft_node *n, const uint8_t *buf, size_t len)
{
    struct bft_msg m;
    n->stats.msgs_received++;
    if (bft_msg_decode(buf, len, &m) != BFT_E_OK) {
        bft_node_reject(n, BFT_REJECT_MALFORMED);
        return;
    }
    if (m.cluster_id != n->cfg.core.cluster_id) {
        bft_node_reject(n, BFT_REJECT_WRONG_CLUSTER);
        return;
    }
    if (m.type == BFT_MSG_REQUEST) {
        receive_request(n, &m);
        return;
    }
    if (m.type == BFT_MSG_REPLY) { /* replicas never take replies */
        bft_node_reject(n, BFT_REJECT_MALFORMED);
        return;
    }
    /* A replica message must come from another replica's key; our own id
     * arriving from the network is a forgery or a twin. */
    if (m.sender >= n->cfg.core.n || m.sender == n->cfg.core.self) {
        bft_node_reject(n, BFT_REJECT_UNKNOWN_SENDER);
        return;
    }
    if (n->ops->needless && n->ops->needless(n->core, &m)) {
        n->stats.needless++;
        return;
    }
    bool signed_msgs = n->cfg.core.protocol != BFT_PROTO_RAFT || n->cfg.sign_replica_msgs;
    if (signed_msgs) {
        const uint8_t *region;
        size_t rlen;
        bft_msg_signed_region(m.raw, &region, &rlen);
        if (!node_verify_replica(n, m.sender, m.type, region, rlen, m.sig)) {
            bft_node_reject(n, BFT_REJECT_BAD_SIGNATURE);
            return;
        }
    }
    if (m.type == BFT_MSG_PRE_PREPARE && m.payload_len == 0) {
        /* Only a null request may travel without its batch. */
        static const bft_digest zero;
        if (memcmp(m.digest.b, zero.b, 32) != 0) {
            bft_node_reject(n, BFT_REJECT_MALFORMED);
            return;
        }
    }
    if ((m.type == BFT_MSG_PRE_PREPARE || m.type == BFT_MSG_HS_PROPOSAL) && m.payload_len) {
        int why = node_check_batch(n, &m);
        if (why != BFT_REJECT_NONE) {
            bft_node_reject(n, why);
            return;
        }
    }
    n->stats.heard_from[m.sender]++;
    node_stage_in(n, BFT_STAGE_CORE);
    n->ops->on_message(n->core, &m);
    node_stage_out(n);
    recovery_done(n);
}

void bft_node_timer(struct bft_node *n, uint32_t timer)
{
    node_stage_in(n, BFT_STAGE_CORE);
    n->ops->on_timer(n->core, timer);
    node_stage_out(n);
    recovery_done(n);
}

void bft_node_stats(const struct bft_node *n, struct bft_node_stats *out)
{
    *out = n->stats;
    struct bft_core_status st;
    n->ops->status(n->core, &st);
    out->view = st.view;
    out->view_changes = st.view_changes;
    out->last_executed = st.last_executed;
    out->stable_checkpoint = st.stable_checkpoint;
    out->leader = st.leader;
    out->in_view_change = st.in_view_change;
    out->is_leader = st.is_leader;
    out->snapshot_base = n->base;
    out->phase = n->phase.stats;
    bft_node_state_digest((struct bft_node *)n, &out->state_digest);
}

int bft_node_sign_encoded(struct bft_node *n, uint8_t *msg, size_t len)
{
    struct bft_msg m;
    if (bft_msg_decode(msg, len, &m) != BFT_E_OK) return BFT_E_INVALID;
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(msg, &region, &rlen);
    uint8_t sig[BFT_SIG_LEN];
    node_sign(n, m.type, region, rlen, sig);
    bft_msg_set_sig(msg, sig);
    return BFT_E_OK;
}
