/* tests/lib/core_fixture_io.c: the fake bft_env and bft_io of one fixture
 * node. Every effect is carried out (packets queued, records kept, the
 * fake application advanced) and written to the effect log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/lib/core_fixture_internal.h"
#include "wire/hash.h"

/* ---- env: keyed-hash signatures ---- */

/* Not cryptography: a keyed hash, so a message altered in flight or
 * signed under another id fails to verify, deterministically. */
void cf_sig(uint32_t key_id, uint32_t domain, const uint8_t *region, size_t len,
            uint8_t sig[BFT_SIG_LEN])
{
    uint64_t h = bft_mix64(((uint64_t)key_id << 32) ^ domain ^ BFT_GOLDEN64);
    for (size_t i = 0; i < len; i++)
        h = bft_mix64(h ^ region[i]) + i;
    for (size_t w = 0; w < BFT_SIG_LEN / 8; w++)
        wire_le_store(sig + 8 * w, bft_mix64(h + w * BFT_GOLDEN64), 8);
}

/* Sign as key_id in the fixture's mode (null_sigs: zeros). */
static void sign_as(const struct cf *cf, uint32_t key_id, uint32_t domain, const uint8_t *region,
                    size_t len, uint8_t sig[BFT_SIG_LEN])
{
    if (cf->opt.null_sigs)
        memset(sig, 0, BFT_SIG_LEN);
    else
        cf_sig(key_id, domain, region, len, sig);
}

bool cf_sig_ok(const struct cf *cf, uint32_t key_id, uint32_t domain, const uint8_t *region,
               size_t len, const uint8_t sig[BFT_SIG_LEN])
{
    if (cf->opt.null_sigs) return sig[0] != CF_BAD_SIG;
    uint8_t want[BFT_SIG_LEN];
    cf_sig(key_id, domain, region, len, want);
    return memcmp(want, sig, BFT_SIG_LEN) == 0;
}

static void env_sign(void *ctx, uint32_t domain, const uint8_t *region, size_t len,
                     uint8_t sig[BFT_SIG_LEN])
{
    struct cf_node *nd = ctx;
    sign_as(nd->cf, nd->id, domain, region, len, sig);
}

static bool env_verify(void *ctx, uint32_t signer, uint32_t domain, const uint8_t *region,
                       size_t len, const uint8_t sig[BFT_SIG_LEN])
{
    struct cf_node *nd = ctx;
    if (signer >= nd->cf->opt.n) return false;
    return cf_sig_ok(nd->cf, signer, domain, region, len, sig);
}

static bool env_verify_request(void *ctx, const struct bft_msg *req)
{
    struct cf_node *nd = ctx;
    if (req->type != BFT_MSG_REQUEST || req->sender >= CF_MAX_CLIENTS || !req->raw) return false;
    const uint8_t *region;
    size_t len;
    bft_msg_signed_region(req->raw, &region, &len);
    return cf_sig_ok(nd->cf, CF_CLIENT_KEY + req->sender, BFT_MSG_REQUEST, region, len, req->sig);
}

static uint64_t env_random(void *ctx)
{
    struct cf_node *nd = ctx;
    return bft_splitmix64(&nd->rng);
}

/* ---- io: messages ---- */

/* Encode as the node does: sender and cluster set here, signed by the
 * sender's key. A client REQUEST the core forwards travels as it came. */
uint8_t *cf_encode_as(const struct cf *cf, uint32_t from, const struct bft_msg *in, size_t *len)
{
    if (in->type == BFT_MSG_REQUEST && in->raw) {
        uint8_t *buf = malloc(in->raw_len);
        if (buf) memcpy(buf, in->raw, in->raw_len);
        *len = in->raw_len;
        return buf;
    }
    struct bft_msg m = *in;
    m.sender = from;
    m.cluster_id = CF_CLUSTER;
    memset(m.sig, 0, sizeof m.sig);
    *len = bft_msg_encoded_len(&m);
    uint8_t *buf = malloc(*len ? *len : 1);
    if (!buf || bft_msg_encode(&m, buf, *len) != *len) {
        free(buf);
        return NULL;
    }
    cf_sign_as(cf, from, buf, *len);
    return buf;
}

void cf_sign_as(const struct cf *cf, uint32_t from, uint8_t *buf, size_t len)
{
    if (len < BFT_MSG_MIN_LEN) return;
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(buf, &region, &rlen);
    uint8_t sig[BFT_SIG_LEN];
    sign_as(cf, from, buf[5], region, rlen, sig);
    bft_msg_set_sig(buf, sig);
}

static void send_to(struct cf_node *nd, uint32_t to, const struct bft_msg *m)
{
    size_t len;
    uint8_t *buf = cf_encode_as(nd->cf, nd->id, m, &len);
    if (!buf) {
        cf_log_line(nd->cf, CF_LOG_NET, "%u: cannot encode %s (bug or no memory)", nd->id,
                    bft_msg_type_name(m->type));
        return;
    }
    cf_net_push(nd->cf, nd->id, to, buf, len);
    free(buf);
}

static void io_send(void *ctx, uint32_t to, const struct bft_msg *m)
{
    struct cf_node *nd = ctx;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%u->%u", nd->id, to);
    cf_log_msg(nd->cf, CF_LOG_SEND, prefix, m);
    cf_observe(nd->cf,
               &(struct cf_effect){.kind = CF_LOG_SEND, .node = nd->id, .to = to, .msg = m});
    if (to >= nd->cf->opt.n || to == nd->id) return; /* logged: a core bug shows */
    send_to(nd, to, m);
}

static void io_broadcast(void *ctx, const struct bft_msg *m)
{
    struct cf_node *nd = ctx;
    char prefix[32];
    snprintf(prefix, sizeof prefix, "%u->*", nd->id);
    cf_log_msg(nd->cf, CF_LOG_SEND, prefix, m);
    cf_observe(nd->cf, &(struct cf_effect){
                           .kind = CF_LOG_SEND, .node = nd->id, .to = CF_BROADCAST, .msg = m});
    for (uint32_t i = 0; i < nd->cf->opt.n; i++)
        if (i != nd->id) send_to(nd, i, m);
}

/* ---- io: durability ---- */

static void io_persist(void *ctx, const uint8_t *rec, size_t len)
{
    struct cf_node *nd = ctx;
    struct cf *cf = nd->cf;
    char text[64];
    cf_record_text(cf->opt.protocol, rec, len, text, sizeof text);
    cf_log_line(cf, CF_LOG_PERSIST, "%u persist %s", nd->id, text);
    cf_observe(
        cf, &(struct cf_effect){.kind = CF_LOG_PERSIST, .node = nd->id, .data = rec, .len = len});
    uint8_t *p = malloc(len ? len : 1);
    if (nd->n_wal == CF_WAL_MAX || nd->wal_bytes + len > CF_WAL_BYTES_MAX || !p) {
        free(p);
        if (!nd->wal_full_logged)
            cf_log_line(cf, CF_LOG_PERSIST, "%u WAL bound hit: record lost", nd->id);
        nd->wal_full_logged = true;
        return;
    }
    if (len) memcpy(p, rec, len);
    nd->wal[nd->n_wal++] = (struct cf_rec){p, len};
    nd->wal_bytes += len;
}

static void io_checkpoint(void *ctx, uint64_t seq, const bft_digest *state, const uint8_t *snap,
                          size_t len)
{
    struct cf_node *nd = ctx;
    const uint8_t *own = snap;
    if (!snap) { /* the application is at seq now */
        own = nd->snapbuf;
        len = CF_SNAP_LEN;
        memcpy(nd->snapbuf, nd->app.state.b, CRYPTO_DIGEST_LEN);
        wire_le_store(nd->snapbuf + CRYPTO_DIGEST_LEN, nd->app.last_seq, 8);
        memcpy(nd->snapbuf + CRYPTO_DIGEST_LEN + 8, nd->app.done, CF_DONE_BYTES);
    }
    if (len != CF_SNAP_LEN) {
        cf_log_line(nd->cf, CF_LOG_CKPT, "%u checkpoint s=%llu: snapshot of %zu bytes refused",
                    nd->id, (unsigned long long)seq, len);
        return;
    }
    /* Keep the newest CF_DISK_SNAPS files: replace the oldest. */
    uint32_t slot = 0;
    for (uint32_t i = 0; i < CF_DISK_SNAPS; i++) {
        if (!nd->disk[i].used) {
            slot = i;
            break;
        }
        if (nd->disk[i].seq < nd->disk[slot].seq) slot = i;
    }
    struct cf_snapfile *f = &nd->disk[slot];
    f->used = true;
    f->seq = seq;
    memcpy(f->buf, own, CF_SNAP_LEN);
    memcpy(f->state.b, state ? state->b : own, CRYPTO_DIGEST_LEN);
    char hex[9];
    cf_short_digest(&f->state, hex);
    cf_log_line(nd->cf, CF_LOG_CKPT, "%u checkpoint s=%llu state=%s", nd->id,
                (unsigned long long)seq, hex);
}

/* ---- io: the application ---- */

bool cf_app_done(const struct cf_app *a, uint32_t client, uint64_t req_no)
{
    if (client >= CF_MAX_CLIENTS || req_no >= CF_REQS_MAX) return false;
    size_t bit = (size_t)client * CF_REQS_MAX + req_no;
    return (a->done[bit / 8] >> (bit % 8)) & 1;
}

static void app_mark(struct cf_app *a, const uint8_t *raw, size_t len, uint32_t *ops)
{
    struct bft_msg req;
    if (bft_msg_decode(raw, len, &req) != BFT_E_OK) return;
    struct bft_req_iter it;
    bft_req_iter_init(&it, &req);
    uint64_t req_no;
    const uint8_t *op;
    size_t op_len;
    while (bft_req_iter_next(&it, &req_no, &op, &op_len)) {
        (*ops)++;
        if (req.sender >= CF_MAX_CLIENTS || req_no >= CF_REQS_MAX) continue;
        size_t bit = (size_t)req.sender * CF_REQS_MAX + req_no;
        a->done[bit / 8] |= (uint8_t)(1u << (bit % 8));
    }
}

static void io_execute(void *ctx, uint64_t seq, uint64_t view, const uint8_t *batch, size_t len,
                       const bft_digest *batch_digest, bft_digest *state)
{
    struct cf_node *nd = ctx;
    struct cf_app *a = &nd->app;
    uint32_t ops = 0;
    struct bft_batch_iter it;
    if (len && bft_batch_iter_init(&it, batch, len) == BFT_E_OK) {
        const uint8_t *raw;
        size_t rlen;
        while (bft_batch_iter_next(&it, &raw, &rlen))
            app_mark(a, raw, rlen, &ops);
    }
    /* The state digest chains every executed batch: replicas agree on it
     * exactly when they executed the same batches in the same order. */
    uint8_t seqb[8];
    wire_le_store(seqb, seq, 8);
    uint8_t in[CRYPTO_DIGEST_LEN + 8];
    memcpy(in, batch_digest->b, CRYPTO_DIGEST_LEN);
    memcpy(in + CRYPTO_DIGEST_LEN, seqb, 8);
    crypto_sha256_2(a->state.b, CRYPTO_DIGEST_LEN, in, sizeof in, a->state.b);
    bool in_order = seq == a->last_seq + 1;
    a->last_seq = seq;
    if (state) *state = a->state;
    char d[9], s[9];
    cf_short_digest(batch_digest, d);
    cf_short_digest(&a->state, s);
    cf_log_line(nd->cf, CF_LOG_EXEC, "%u exec s=%llu v=%llu d=%s ops=%u state=%s%s", nd->id,
                (unsigned long long)seq, (unsigned long long)view, d, ops, s,
                in_order ? "" : " OUT-OF-ORDER");
    cf_observe(nd->cf, &(struct cf_effect){.kind = CF_LOG_EXEC,
                                           .node = nd->id,
                                           .data = batch,
                                           .len = len,
                                           .seq = seq,
                                           .view = view,
                                           .digest = batch_digest,
                                           .state = &a->state});
}

static int io_snapshot(void *ctx, const uint8_t **buf, size_t *len)
{
    struct cf_node *nd = ctx;
    memcpy(nd->snapbuf, nd->app.state.b, CRYPTO_DIGEST_LEN);
    wire_le_store(nd->snapbuf + CRYPTO_DIGEST_LEN, nd->app.last_seq, 8);
    memcpy(nd->snapbuf + CRYPTO_DIGEST_LEN + 8, nd->app.done, CF_DONE_BYTES);
    *buf = nd->snapbuf;
    *len = CF_SNAP_LEN;
    return BFT_E_OK;
}

/* Like the node: check the digest before replacing anything. */
static int app_restore(struct cf_node *nd, uint64_t seq, const uint8_t *buf, size_t len,
                       const bft_digest *expect, bft_digest *state)
{
    if (len != CF_SNAP_LEN) return BFT_E_MALFORMED;
    if (expect && memcmp(buf, expect->b, CRYPTO_DIGEST_LEN) != 0) return BFT_E_MALFORMED;
    memcpy(nd->app.state.b, buf, CRYPTO_DIGEST_LEN);
    nd->app.last_seq = seq;
    memcpy(nd->app.done, buf + CRYPTO_DIGEST_LEN + 8, CF_DONE_BYTES);
    *state = nd->app.state;
    return BFT_E_OK;
}

static int io_restore(void *ctx, uint64_t seq, const uint8_t *buf, size_t len,
                      const bft_digest *expect, bft_digest *state)
{
    struct cf_node *nd = ctx;
    int rv = app_restore(nd, seq, buf, len, expect, state);
    char s[9];
    cf_short_digest(&nd->app.state, s);
    cf_log_line(nd->cf, CF_LOG_CKPT, "%u restore s=%llu %s state=%s", nd->id,
                (unsigned long long)seq, rv == BFT_E_OK ? "ok" : "refused", s);
    return rv;
}

static int io_load_snapshot(void *ctx, uint64_t seq, bft_digest *state)
{
    struct cf_node *nd = ctx;
    for (uint32_t i = 0; i < CF_DISK_SNAPS; i++) {
        struct cf_snapfile *f = &nd->disk[i];
        if (!f->used || f->seq != seq) continue;
        int rv = app_restore(nd, seq, f->buf, CF_SNAP_LEN, &f->state, state);
        cf_log_line(nd->cf, CF_LOG_CKPT, "%u load_snapshot s=%llu %s", nd->id,
                    (unsigned long long)seq, rv == BFT_E_OK ? "ok" : "refused");
        return rv == BFT_E_OK ? BFT_E_OK : BFT_E_NOTFOUND;
    }
    cf_log_line(nd->cf, CF_LOG_CKPT, "%u load_snapshot s=%llu none", nd->id,
                (unsigned long long)seq);
    return BFT_E_NOTFOUND;
}

static uint64_t io_snapshot_below(void *ctx, uint64_t seq)
{
    const struct cf_node *nd = ctx;
    uint64_t best = 0;
    for (uint32_t i = 0; i < CF_DISK_SNAPS; i++)
        if (nd->disk[i].used && nd->disk[i].seq < seq && nd->disk[i].seq > best)
            best = nd->disk[i].seq;
    return best;
}

/* ---- io: timers, rejects, reads ---- */

static void io_set_timer(void *ctx, uint32_t timer, uint64_t after_ms)
{
    struct cf_node *nd = ctx;
    char name[24];
    cf_log_line(nd->cf, CF_LOG_TIMER, "%u timer %s +%llums", nd->id,
                cf_timer_name(nd->cf, timer, name, sizeof name), (unsigned long long)after_ms);
    cf_observe(nd->cf, &(struct cf_effect){
                           .kind = CF_LOG_TIMER, .node = nd->id, .timer = timer, .ms = after_ms});
    if (timer >= CF_TIMERS) return; /* logged above; the core's bug shows in the output */
    nd->armed[timer] = true;
    nd->deadline_ms[timer] = nd->cf->now_ms + after_ms;
}

static void io_cancel_timer(void *ctx, uint32_t timer)
{
    struct cf_node *nd = ctx;
    char name[24];
    cf_log_line(nd->cf, CF_LOG_TIMER, "%u timer %s cancel", nd->id,
                cf_timer_name(nd->cf, timer, name, sizeof name));
    cf_observe(nd->cf, &(struct cf_effect){
                           .kind = CF_LOG_TIMER, .node = nd->id, .timer = timer, .cancel = true});
    if (timer < CF_TIMERS) nd->armed[timer] = false;
}

static void io_reject(void *ctx, int reason)
{
    struct cf_node *nd = ctx;
    const char *name = bft_reject_name(reason);
    cf_log_line(nd->cf, CF_LOG_REJECT, "%u reject %s", nd->id, name ? name : "(unknown reason)");
    cf_observe(nd->cf,
               &(struct cf_effect){.kind = CF_LOG_REJECT, .node = nd->id, .reason = reason});
}

static void io_read_ready(void *ctx, const uint8_t *req, size_t len)
{
    struct cf_node *nd = ctx;
    struct bft_msg m;
    if (bft_msg_decode(req, len, &m) != BFT_E_OK) {
        cf_log_line(nd->cf, CF_LOG_READ, "%u read_ready (undecodable)", nd->id);
        return;
    }
    cf_log_line(nd->cf, CF_LOG_READ, "%u read_ready client=%u req=%llu applied=%llu", nd->id,
                m.sender, (unsigned long long)m.seq, (unsigned long long)nd->app.last_seq);
    cf_observe(nd->cf, &(struct cf_effect){.kind = CF_LOG_READ, .node = nd->id, .msg = &m});
}

void cf_node_bind(struct cf_node *nd)
{
    nd->env = (struct bft_env){.ctx = nd,
                               .sign = env_sign,
                               .verify = env_verify,
                               .verify_request = env_verify_request,
                               .random = env_random};
    nd->io = (struct bft_io){.ctx = nd,
                             .send = io_send,
                             .broadcast = io_broadcast,
                             .persist = io_persist,
                             .execute = io_execute,
                             .set_timer = io_set_timer,
                             .cancel_timer = io_cancel_timer,
                             .snapshot = io_snapshot,
                             .restore = io_restore,
                             .checkpoint = io_checkpoint,
                             .load_snapshot = io_load_snapshot,
                             .snapshot_below = io_snapshot_below,
                             .reject = io_reject,
                             .read_ready = io_read_ready};
}
