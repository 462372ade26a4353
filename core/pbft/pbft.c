/* PBFT core: lifecycle, event dispatch and shared helpers.
 * Castro & Liskov, OSDI'99 / TOCS'02. See pbft_internal.h for the layout of
 * the log, the wire bodies and the WAL records. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "core/pbft/pbft_internal.h"

/* ---- slots: L entries indexed by seq mod L (§4.3), in lazy chunks ---- */

void pbft_slot_reset(struct pbft_slot *s)
{
    /* The batch goes with its seq: kept for the slot's next seq, every one
     * of the L slots would pin the largest batch it ever held (L x
     * BFT_PAYLOAD_MAX in the worst case, ~L x 170 KB at saturation), not
     * the batches of the seqs in the window (issue 14). */
    free(s->batch);
    memset(s, 0, sizeof(*s));
}

struct pbft_slot *pbft_slot_get(struct bft_core *c, uint64_t seq)
{
    if (!pbft_in_window(c, seq)) return NULL;
    uint32_t i = (uint32_t)(seq % c->L);
    struct pbft_slot **k = &c->slot_chunk[i / PBFT_SLOT_CHUNK];
    if (!*k && !(*k = calloc(PBFT_SLOT_CHUNK, sizeof(**k)))) return NULL;
    struct pbft_slot *s = &(*k)[i % PBFT_SLOT_CHUNK];
    /* A slot in use holds a seq of the window that maps to it: one below
     * h would have been freed by the checkpoint GC (pbft_make_stable). */
    assert(!s->seq || (s->seq % c->L == i && s->seq > c->h));
    if (s->seq != seq) {
        pbft_slot_reset(s);
        s->seq = seq;
        s->view = c->view;
    }
    return s;
}

struct pbft_slot *pbft_slot_peek(struct bft_core *c, uint64_t seq)
{
    if (!pbft_in_window(c, seq)) return NULL;
    struct pbft_slot *s = pbft_slot_at(c, (uint32_t)(seq % c->L));
    return s && s->seq == seq ? s : NULL;
}

bool pbft_slot_set_batch(struct pbft_slot *s, const uint8_t *batch, uint32_t len)
{
    if (len > s->batch_cap) {
        uint8_t *p = realloc(s->batch, len);
        if (!p) return false;
        s->batch = p;
        s->batch_cap = len;
    }
    if (len) memcpy(s->batch, batch, len);
    s->batch_len = len;
    s->has_batch = true;
    return true;
}

/* ---- messages ---- */

void pbft_send_simple(struct bft_core *c, int to, uint8_t type, uint64_t view, uint64_t seq,
                      const bft_digest *d)
{
    struct bft_msg m = {.type = type, .view = view, .seq = seq};
    if (d) m.digest = *d;
    if (to < 0)
        c->io.broadcast(c->io.ctx, &m);
    else
        c->io.send(c->io.ctx, (uint32_t)to, &m);
}

void pbft_sign_own(struct bft_core *c, uint8_t type, uint64_t view, uint64_t seq,
                   const bft_digest *d, struct pbft_raw *out)
{
    struct bft_msg m = {.type = type,
                        .sender = c->self,
                        .cluster_id = c->cfg.cluster_id,
                        .view = view,
                        .seq = seq,
                        .digest = *d};
    size_t len = bft_msg_encode(&m, out->b, sizeof out->b);
    assert(len == PBFT_RAW_MAX);
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(out->b, &region, &rlen);
    uint8_t sig[BFT_SIG_LEN];
    c->env.sign(c->env.ctx, type, region, rlen, sig);
    bft_msg_set_sig(out->b, sig);
    out->len = (uint16_t)len;
}

/* An embedded message decoded by pbft_emb_decode (pbft_wire.c): ours to
 * accept only if it is of our cluster, from a replica, and (verify) signed
 * by it. */
enum bft_reject pbft_emb_check(struct bft_core *c, const struct bft_msg *e, bool verify)
{
    if (e->cluster_id != c->cfg.cluster_id) return BFT_REJECT_WRONG_CLUSTER;
    if (e->sender >= c->n) return BFT_REJECT_UNKNOWN_SENDER;
    if (!verify) return BFT_REJECT_NONE;
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(e->raw, &region, &rlen);
    if (!c->env.verify(c->env.ctx, e->sender, e->type, region, rlen, e->sig))
        return BFT_REJECT_BAD_SIGNATURE;
    return BFT_REJECT_NONE;
}

enum bft_reject pbft_embedded_check(struct bft_core *c, const uint8_t *raw, size_t len,
                                    uint8_t type, struct bft_msg *m, bool verify)
{
    enum bft_reject why = pbft_emb_decode(raw, len, type, m);
    return why != BFT_REJECT_NONE ? why : pbft_emb_check(c, m, verify);
}

void pbft_persist_view(struct bft_core *c)
{
    uint8_t rec[10];
    struct wire_wr w = {.buf = rec, .cap = sizeof rec};
    wire_put_le(&w, PBFT_REC_VIEW, 1);
    wire_put_le(&w, c->view, 8);
    wire_put_le(&w, c->in_vc ? 1 : 0, 1);
    assert(!w.err);
    c->io.persist(c->io.ctx, rec, w.len);
}

void pbft_arm_retransmit(struct bft_core *c)
{
    bft_timeout_start(&c->retx, &c->io, c->retransmit_ms);
}

/* The status timer runs for the replica's whole life: the first event of
 * any kind starts it. */
void pbft_arm_status(struct bft_core *c)
{
    if (!bft_timeout_start(&c->status, &c->io, PBFT_STATUS_TICKS * c->retransmit_ms)) return;
    pbft_monitor_arm(c);
}

/* Exponential backoff (§4.5.2): T, 2T, 4T ... per failed view change. */
uint64_t pbft_timeout_ms(const struct bft_core *c)
{
    uint32_t shift = c->vchg.attempts > 0 ? c->vchg.attempts - 1 : 0;
    if (shift > PBFT_VC_SHIFT_MAX) shift = PBFT_VC_SHIFT_MAX;
    return (uint64_t)c->cfg.request_timeout_ms << shift;
}

/* ---- lifecycle ---- */

static uint32_t pbft_slot_chunks(const struct bft_core *c)
{
    return (c->L + PBFT_SLOT_CHUNK - 1) / PBFT_SLOT_CHUNK;
}

size_t pbft_rec_floor(const struct bft_core *c)
{
    size_t raw = 2 + PBFT_RAW_MAX; /* u16 len | raw */
    size_t commit = 1 + 8 + 8 + CRYPTO_DIGEST_LEN + 4 + raw + 1 + (size_t)c->n * (1 + raw);
    size_t stable = 1 + 8 + CRYPTO_DIGEST_LEN + 1 + (size_t)c->n * raw;
    size_t nv = 1 + 8 + 8 + 8 + (size_t)c->L * sizeof(bft_digest);
    size_t floor = commit > stable ? commit : stable;
    return floor > nv ? floor : nv;
}

static void pbft_destroy(struct bft_core *c)
{
    if (!c) return;
    if (c->slot_chunk)
        for (uint32_t k = 0; k < pbft_slot_chunks(c); k++) {
            if (!c->slot_chunk[k]) continue;
            for (uint32_t i = 0; i < PBFT_SLOT_CHUNK; i++)
                free(c->slot_chunk[k][i].batch);
            free(c->slot_chunk[k]);
        }
    free(c->slot_chunk);
    for (uint32_t i = 0; i < BFT_MAX_REPLICAS; i++) {
        free(c->vchg.vcs[i].raw);
        free(c->vchg.vcs[i].certs);
        free(c->vchg.nvvcs[i].raw);
        free(c->vchg.nvvcs[i].certs);
    }
    pbft_pending_free(&c->pend);
    bft_buf_free(&c->vchg.own_vc);
    free(c->vchg.nv_dig);
    bft_buf_free(&c->vchg.nv_sent);
    for (uint32_t i = 0; i < BFT_MAX_REPLICAS; i++)
        free(c->vchg.nv_pending[i].buf);
    pbft_kept_reset(c);
    pbft_kept_free_ahead(c);
    pbft_kept_free_own(c);
    free(c->kept);
    free(c->snap.buf);
    free(c->snap.next_buf);
    free(c->xfer.buf);
    bft_buf_free(&c->rec);
    free(c);
}

/* Every timer the core runs, by its host id (PBFT_TIMER_*). */
static void init_timeouts(struct bft_core *c)
{
    bft_timeout_init(&c->vchg.request, PBFT_TIMER_VIEW_CHANGE);
    bft_timeout_init(&c->vchg.wait, PBFT_TIMER_VIEW_CHANGE);
    bft_timeout_init(&c->retx, PBFT_TIMER_RETRANSMIT);
    bft_timeout_init(&c->st.timer, PBFT_TIMER_STATE);
    bft_timeout_init(&c->status, PBFT_TIMER_STATUS);
    bft_timeout_init(&c->mon_timer, PBFT_TIMER_MONITOR);
}

static int pbft_create(struct bft_core **out, const struct bft_core_config *cfg,
                       const struct bft_env *env, const struct bft_io *io)
{
    *out = NULL;
    if (cfg->n < 4 || cfg->n > BFT_MAX_REPLICAS || cfg->self >= cfg->n) return BFT_E_INVALID;
    if (cfg->f < 1 || 3 * cfg->f + 1 > cfg->n) return BFT_E_INVALID;
    if (cfg->window == 0 || cfg->checkpoint_interval == 0 ||
        cfg->window % cfg->checkpoint_interval != 0 || cfg->window < cfg->checkpoint_interval)
        return BFT_E_INVALID;
    if (cfg->batch_max == 0 || cfg->batch_max > BFT_BATCH_MAX_ENVELOPES || cfg->pipeline_max == 0)
        return BFT_E_INVALID;
    if (cfg->window > 65535) return BFT_E_INVALID; /* u16 counts in bodies */
    struct bft_core *c = calloc(1, sizeof(*c));
    if (!c) return BFT_E_NOMEM;
    c->cfg = *cfg;
    c->env = *env;
    c->io = *io;
    c->n = cfg->n;
    c->f = cfg->f;
    c->self = cfg->self;
    c->L = cfg->window;
    c->K = cfg->checkpoint_interval;
    /* A VIEW-CHANGE must hold a prepared certificate (1 + 2f votes) for
     * every seq in the window plus the checkpoint proof in one body; shrink
     * L (deterministically, to a multiple of K) for large n. */
    size_t cert = 2 + PBFT_RAW_MAX + 1 + (size_t)2 * cfg->f * (2 + PBFT_RAW_MAX) + 4;
    size_t fixed = 8 + CRYPTO_DIGEST_LEN + 1 + (size_t)cfg->n * (2 + PBFT_RAW_MAX) + 2;
    while (c->L > c->K && fixed + c->L * cert > BFT_BODY_MAX)
        c->L -= c->K;
    if (fixed + c->L * cert > BFT_BODY_MAX) {
        free(c);
        return BFT_E_INVALID;
    }
    /* Retransmission interval derived from the request timeout: several
     * resends fit in one timeout before anyone suspects the primary. */
    c->retransmit_ms = cfg->request_timeout_ms / 5 ? cfg->request_timeout_ms / 5 : 1;
    c->next_seq = 1;
    c->st.chunk = PBFT_STATE_CHUNK;
    init_timeouts(c);
    pbft_monitor_init(c);
    c->slot_chunk = calloc(pbft_slot_chunks(c), sizeof(*c->slot_chunk));
    c->vchg.nv_dig = calloc(c->L, sizeof(bft_digest));
    /* Scratch buffers start small and grow to their bounds only when a
     * batch, a record or a VIEW-CHANGE needs it (docs/architecture.md
     * "Bounds"): a replica that never sees a big batch never holds one. */
    bool ok = c->slot_chunk && c->vchg.nv_dig &&
              bft_buf_reserve(&c->rec, pbft_rec_floor(c), PBFT_REC_MAX) != NULL;
    for (uint32_t i = 0; ok && i < c->n; i++) {
        c->vchg.vcs[i].certs = calloc(c->L, sizeof(struct pbft_vc_cert));
        c->vchg.nvvcs[i].certs = calloc(c->L, sizeof(struct pbft_vc_cert));
        ok = c->vchg.vcs[i].certs != NULL && c->vchg.nvvcs[i].certs != NULL;
    }
    if (!ok || pbft_pending_init(&c->pend, cfg->n_clients) != BFT_E_OK) {
        pbft_destroy(c);
        return BFT_E_NOMEM;
    }
    for (uint32_t i = 0; i < c->n; i++) {
        c->help_budget[i] = PBFT_HELP_BUDGET;
        c->snap_budget[i] = PBFT_STATE_BYTES_TICK;
    }
    *out = c;
    return BFT_E_OK;
}

static void pbft_status(const struct bft_core *c, struct bft_core_status *out)
{
    memset(out, 0, sizeof(*out));
    out->view = c->view;
    out->leader = pbft_primary(c, c->view);
    out->last_executed = c->last_exec;
    out->read_floor = c->read_floor;
    out->stable_checkpoint = c->h;
    out->view_changes = c->view_changes;
    out->pending_requests = c->pend.count;
    out->in_view_change = c->in_vc;
    out->is_leader = !c->in_vc && pbft_primary(c, c->view) == c->self;
}

/* ---- events ---- */

static void pbft_on_message(struct bft_core *c, const struct bft_msg *m)
{
    if (c->post_recover) pbft_post_recover(c);
    pbft_arm_status(c);
    /* The node bound the sender to its key; still never index with it
     * unchecked (docs/style.md #6). */
    if (m->sender >= c->n || m->sender == c->self) {
        c->io.reject(c->io.ctx, BFT_REJECT_UNKNOWN_SENDER);
        return;
    }
    if (m->cluster_id != c->cfg.cluster_id) {
        c->io.reject(c->io.ctx, BFT_REJECT_WRONG_CLUSTER);
        return;
    }
    switch (m->type) {
    case BFT_MSG_PRE_PREPARE:
        pbft_on_pre_prepare(c, m);
        break;
    case BFT_MSG_PREPARE:
    case BFT_MSG_COMMIT:
        pbft_on_vote(c, m);
        break;
    case BFT_MSG_CHECKPOINT:
        pbft_on_checkpoint(c, m);
        break;
    case BFT_MSG_VIEW_CHANGE:
        pbft_on_view_change(c, m);
        break;
    case BFT_MSG_NEW_VIEW:
        pbft_on_new_view(c, m);
        break;
    case BFT_MSG_STATE_REQ:
        pbft_on_state_req(c, m);
        break;
    case BFT_MSG_STATE_RESP:
        pbft_on_state_resp(c, m);
        break;
    case BFT_MSG_FETCH_REQ:
        pbft_on_fetch_req(c, m);
        break;
    case BFT_MSG_FETCH_RESP:
        pbft_on_fetch_resp_msg(c, m);
        break;
    default:
        c->io.reject(c->io.ctx, BFT_REJECT_MALFORMED);
        break;
    }
}

static void pbft_on_request_event(struct bft_core *c, const struct bft_msg *req)
{
    if (c->post_recover) pbft_post_recover(c);
    pbft_arm_status(c);
    pbft_on_request(c, req);
}

static void pbft_on_timer(struct bft_core *c, uint32_t timer)
{
    if (c->post_recover) pbft_post_recover(c);
    pbft_arm_status(c);
    switch (timer) {
    case PBFT_TIMER_VIEW_CHANGE:
        pbft_on_vc_timer(c);
        break;
    case PBFT_TIMER_RETRANSMIT:
        pbft_on_retransmit(c);
        break;
    case PBFT_TIMER_STATE:
        pbft_on_state_timer(c);
        break;
    case PBFT_TIMER_STATUS:
        pbft_on_status_timer(c);
        break;
    case PBFT_TIMER_MONITOR:
        pbft_on_monitor_timer(c);
        break;
    default:
        break;
    }
}

const struct bft_core_ops bft_pbft_ops = {
    .name = "pbft",
    .create = pbft_create,
    .destroy = pbft_destroy,
    .recover = pbft_recover,
    .compact = pbft_compact,
    .on_message = pbft_on_message,
    .on_request = pbft_on_request_event,
    .on_timer = pbft_on_timer,
    .status = pbft_status,
};
