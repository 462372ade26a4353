/* The fault actor: a Byzantine replica's voice. It sits between the node
 * (which encodes and signs honestly) and the transport, so every protocol
 * core runs unchanged while its messages are dropped, delayed, rewritten,
 * re-signed with the replica's real key, or joined by traffic of its own.
 * One outgoing message becomes 0..k emitted ones; a tick adds junk, flood
 * and replay traffic, bounded per call so the Byzantine process itself stays
 * bounded (docs/style.md #7). Which behaviour wins when several are active is
 * fixed (docs/faults.md "Combining behaviours"). */
#include <stdlib.h>
#include <string.h>

#include "faults/actor_internal.h"

#define DEFAULT_SLOW_PCT 60
#define DEFAULT_JUNK_PER_TICK 4
#define DEFAULT_REPLAY_PER_TICK 4

static void actor_free_slots(struct actor_slot *s, uint32_t count)
{
    for (uint32_t i = 0; i < count; i++)
        free(s[i].buf);
}

void fault_actor_destroy(struct fault_actor *a)
{
    if (!a) return;
    free(a->scratch_a);
    free(a->scratch_b);
    free(a->payload);
    free(a->items);
    free(a->item_len);
    actor_free_slots(a->ring, ACTOR_RING);
    actor_free_slots(a->reqs, ACTOR_REQS);
    free(a);
}

int fault_actor_create(struct fault_actor **out, const struct fault_actor_config *cfg, char *err,
                       size_t errlen)
{
    if (!cfg->plan || cfg->n == 0 || cfg->n > BFT_MAX_REPLICAS || cfg->self >= cfg->n)
        return fault_err(err, errlen, BFT_E_INVALID, "fault actor: bad shape n=%u self=%u", cfg->n,
                         cfg->self);
    struct fault_actor *a = calloc(1, sizeof *a);
    if (!a) return fault_err(err, errlen, BFT_E_NOMEM, "fault actor: out of memory");
    a->cfg = *cfg;
    a->cfg.plan = NULL;
    a->params = cfg->plan->params;
    for (uint32_t i = 0; i < cfg->plan->n_faults && i < FAULT_MAX_FAULTS; i++)
        if (cfg->plan->fault[i].replica == cfg->self)
            a->entry[a->n_entries++] = cfg->plan->fault[i];
    a->rng = fault_seed_mix(cfg->plan->seed, 0xac70 + cfg->self);
    a->scratch_a = malloc(ACTOR_MSG_MAX);
    a->scratch_b = malloc(ACTOR_MSG_MAX);
    a->payload = malloc(BFT_PAYLOAD_MAX);
    a->items = malloc(BFT_BATCH_MAX_ENVELOPES * sizeof *a->items);
    a->item_len = malloc(BFT_BATCH_MAX_ENVELOPES * sizeof *a->item_len);
    bool ok = a->scratch_a && a->scratch_b && a->payload && a->items && a->item_len;
    for (uint32_t i = 0; ok && i < ACTOR_RING; i++)
        ok = (a->ring[i].buf = malloc(ACTOR_RING_MSG_MAX)) != NULL;
    for (uint32_t i = 0; ok && i < ACTOR_REQS; i++)
        ok = (a->reqs[i].buf = malloc(ACTOR_REQ_MAX)) != NULL;
    if (!ok) {
        fault_actor_destroy(a);
        return fault_err(err, errlen, BFT_E_NOMEM, "fault actor: out of memory");
    }
    /* withhold: serve only `keep` peers, the ones after us in id order. */
    uint32_t keep = a->params.withhold_keep ? a->params.withhold_keep : (cfg->f ? cfg->f : 1);
    for (uint32_t k = 1; k < cfg->n && keep; k++, keep--)
        a->withhold_mask |= 1u << ((cfg->self + k) % cfg->n);
    uint32_t base = cfg->request_timeout_ms ? cfg->request_timeout_ms : 1000;
    uint32_t pct = a->params.slow_pct ? a->params.slow_pct : DEFAULT_SLOW_PCT;
    a->slow_ms = a->params.slow_delay_ms ? a->params.slow_delay_ms : (uint64_t)base * pct / 100;
    if (cfg->byzzfuzz) {
        a->bf = *cfg->byzzfuzz;
    } else {
        /* byzzfuzz without a schedule: draw one from the plan's seed. */
        struct byzzfuzz_config bc = {.n = cfg->n,
                                     .byz = cfg->self,
                                     .rounds = 10,
                                     .proc_faults = 4,
                                     .net_faults = 0,
                                     .round_ms = base};
        if (byzzfuzz_generate(&a->bf, &bc, a->rng, err, errlen) != BFT_E_OK) {
            fault_actor_destroy(a);
            return BFT_E_INVALID;
        }
    }
    *out = a;
    return BFT_E_OK;
}

bool fault_actor_active(const struct fault_actor *a, uint64_t now_ms, int behaviour)
{
    for (uint32_t i = 0; i < a->n_entries; i++)
        if (a->entry[i].behaviour == behaviour && fault_window_active(&a->entry[i].win, now_ms))
            return true;
    return false;
}

void fault_actor_stats(const struct fault_actor *a, struct fault_actor_stats *out)
{
    *out = a->st;
}

/* ---- helpers shared by the behaviours ---- */

bool actor_half_b(const struct fault_actor *a, uint32_t dest)
{
    /* The same split as the twins': the first half of the other replicas
     * in id order gets the original, the rest the variant. */
    return fault_twin_side_of(a->cfg.n, a->cfg.self, dest) == 1;
}

void actor_out(struct fault_actor *a, uint64_t now_ms, uint32_t dest, const uint8_t *msg,
               size_t len, uint64_t delay_ms, fault_emit_fn emit, void *ctx)
{
    bool client = dest & FAULT_CLIENT;
    uint32_t id = FAULT_DEST_ID(dest);
    if (!client && (id >= a->cfg.n || id == a->cfg.self)) return;
    if (!client && fault_actor_active(a, now_ms, FAULT_WITHHOLD) &&
        !(a->withhold_mask & (1u << id))) {
        a->st.dropped++;
        return;
    }
    if (fault_actor_active(a, now_ms, FAULT_SLOW)) delay_ms += a->slow_ms;
    emit(ctx, dest, msg, len, delay_ms);
}

static void ring_put(struct actor_slot *ring, uint32_t cap, uint32_t *next, uint32_t *count,
                     const uint8_t *msg, size_t len, uint8_t type, size_t max)
{
    if (len == 0 || len > max) return;
    /* A broadcast reaches us once per destination: keep one copy. */
    uint32_t last = (*next + cap - 1) % cap;
    if (*count && ring[last].len == len && memcmp(ring[last].buf, msg, len) == 0) return;
    struct actor_slot *s = &ring[*next];
    memcpy(s->buf, msg, len);
    s->len = (uint32_t)len;
    s->type = type;
    *next = (*next + 1) % cap;
    if (*count < cap) (*count)++;
}

const struct actor_slot *actor_ring_pick(struct fault_actor *a, bool random, bool proposal,
                                         const uint8_t *skip, size_t skip_len)
{
    if (a->ring_count == 0) return NULL;
    uint32_t start = random ? (uint32_t)fault_rng_below(&a->rng, a->ring_count) : 0;
    for (uint32_t k = 0; k < a->ring_count; k++) {
        /* Walk backwards from the newest (offset by start when random). */
        uint32_t back = (start + k) % a->ring_count;
        const struct actor_slot *s = &a->ring[(a->ring_next + ACTOR_RING - 1 - back) % ACTOR_RING];
        if (skip && s->len == skip_len && memcmp(s->buf, skip, skip_len) == 0) continue;
        if (proposal && s->type != BFT_MSG_PRE_PREPARE && s->type != BFT_MSG_HS_PROPOSAL &&
            s->type != BFT_MSG_RAFT_APPEND)
            continue;
        return s;
    }
    return NULL;
}

void actor_learn_requests(struct fault_actor *a, const struct bft_msg *m)
{
    if (m->type == BFT_MSG_REQUEST) {
        ring_put(a->reqs, ACTOR_REQS, &a->req_next, &a->req_count, m->raw, m->raw_len, m->type,
                 ACTOR_REQ_MAX);
        return;
    }
    if (!actor_is_proposal(m) || m->payload_len == 0) return;
    struct bft_batch_iter it;
    if (bft_batch_iter_init(&it, m->payload, m->payload_len) != BFT_E_OK) return;
    const uint8_t *req;
    size_t len;
    for (int k = 0; k < 4 && bft_batch_iter_next(&it, &req, &len); k++)
        ring_put(a->reqs, ACTOR_REQS, &a->req_next, &a->req_count, req, len, BFT_MSG_REQUEST,
                 ACTOR_REQ_MAX);
}

/* ---- one outgoing message ---- */

static void replay_one(struct fault_actor *a, uint64_t now_ms, uint32_t dest, const uint8_t *msg,
                       size_t len, fault_emit_fn emit, void *ctx)
{
    const struct actor_slot *s = actor_ring_pick(a, true, false, msg, len);
    if (!s) return;
    a->st.injected++;
    actor_out(a, now_ms, dest, s->buf, s->len, 0, emit, ctx);
}

static void pass(struct fault_actor *a, uint64_t now_ms, uint32_t dest, const uint8_t *msg,
                 size_t len, fault_emit_fn emit, void *ctx)
{
    a->st.passed++;
    actor_out(a, now_ms, dest, msg, len, 0, emit, ctx);
}

static void transform(struct fault_actor *a, uint64_t now_ms, uint32_t dest,
                      const struct bft_msg *m, const uint8_t *msg, size_t len, fault_emit_fn emit,
                      void *ctx)
{
    const struct byzzfuzz_proc_fault *pf;
    if (fault_actor_active(a, now_ms, FAULT_BYZZFUZZ) &&
        (pf = byzzfuzz_fault_at(&a->bf, dest, now_ms)) != NULL) {
        actor_byzzfuzz(a, now_ms, dest, m, msg, len, pf, emit, ctx);
    } else if (fault_actor_active(a, now_ms, FAULT_EQUIVOCATE)) {
        actor_equivocate(a, now_ms, dest, m, msg, len, emit, ctx);
    } else if (fault_actor_active(a, now_ms, FAULT_FORGE)) {
        /* The genuine message, then one claiming to be another replica
         * (alternately a third one and the receiver itself), signed with
         * our own key: receivers must refuse it as bad_signature. */
        pass(a, now_ms, dest, msg, len, emit, ctx);
        uint32_t other = (a->cfg.self + 1 + a->forge_next % (a->cfg.n - 1)) % a->cfg.n;
        uint32_t claim = a->forge_next++ % 2 ? dest : other;
        size_t l = actor_rewrite(a, msg, len, a->scratch_b, NULL, NULL, NULL, &claim, true);
        a->st.rewritten++;
        actor_out(a, now_ms, dest, a->scratch_b, l, 0, emit, ctx);
    } else if (fault_actor_active(a, now_ms, FAULT_BADSIG)) {
        size_t l = actor_badsig(a, msg, len, a->scratch_b);
        a->st.rewritten++;
        actor_out(a, now_ms, dest, a->scratch_b, l, 0, emit, ctx);
    } else if (fault_actor_active(a, now_ms, FAULT_STALE)) {
        if (m->view > 0) {
            uint64_t back = 1 + fault_rng_below(&a->rng, m->view < 3 ? m->view : 3);
            uint64_t view = m->view - back;
            size_t l = actor_rewrite(a, msg, len, a->scratch_b, &view, NULL, NULL, NULL, false);
            a->st.rewritten++;
            actor_out(a, now_ms, dest, a->scratch_b, l, 0, emit, ctx);
        } else {
            /* View 0 has no past view: send something from our past. */
            const struct actor_slot *s = actor_ring_pick(a, true, false, msg, len);
            if (s) {
                a->st.rewritten++;
                actor_out(a, now_ms, dest, s->buf, s->len, 0, emit, ctx);
            } else {
                pass(a, now_ms, dest, msg, len, emit, ctx);
            }
        }
    } else if (fault_actor_active(a, now_ms, FAULT_JUNK) && fault_rng_below(&a->rng, 4) == 0) {
        size_t l = actor_corrupt(a, msg, len, a->scratch_b, ACTOR_MSG_MAX);
        a->st.rewritten++;
        actor_out(a, now_ms, dest, a->scratch_b, l, 0, emit, ctx);
    } else {
        pass(a, now_ms, dest, msg, len, emit, ctx);
    }
}

void fault_actor_outgoing(struct fault_actor *a, uint64_t now_ms, uint32_t dest, const uint8_t *msg,
                          size_t len, fault_emit_fn emit, void *ctx)
{
    a->st.seen++;
    if (fault_actor_active(a, now_ms, FAULT_SILENT)) {
        a->st.dropped++;
        return;
    }
    if (dest & FAULT_CLIENT) { /* replies: delayed if slow, never rewritten */
        pass(a, now_ms, dest, msg, len, emit, ctx);
        return;
    }
    struct bft_msg m;
    bool ok = bft_msg_decode(msg, len, &m) == BFT_E_OK;
    if (!ok || m.type == BFT_MSG_REQUEST || a->cfg.n < 2) {
        /* Not ours to rewrite: client-signed forwards, or bytes we cannot
         * read. */
        if (ok && m.type == BFT_MSG_REQUEST) actor_learn_requests(a, &m);
        pass(a, now_ms, dest, msg, len, emit, ctx);
        return;
    }
    if (m.view > a->max_view) a->max_view = m.view;
    if (m.seq > a->max_seq && m.seq < UINT64_MAX / 2) a->max_seq = m.seq;
    actor_learn_requests(a, &m);
    transform(a, now_ms, dest, &m, msg, len, emit, ctx);
    if (fault_actor_active(a, now_ms, FAULT_REPLAY) && fault_rng_below(&a->rng, 2) == 0)
        replay_one(a, now_ms, dest, msg, len, emit, ctx);
    ring_put(a->ring, ACTOR_RING, &a->ring_next, &a->ring_count, msg, len, m.type,
             ACTOR_RING_MSG_MAX);
}

/* ---- spontaneous traffic ---- */

static uint32_t random_peer(struct fault_actor *a)
{
    if (a->cfg.n < 2) return a->cfg.self;
    return (a->cfg.self + 1 + (uint32_t)fault_rng_below(&a->rng, a->cfg.n - 1)) % a->cfg.n;
}

void fault_actor_tick(struct fault_actor *a, uint64_t now_ms, fault_emit_fn emit, void *ctx)
{
    if (a->cfg.n < 2 || fault_actor_active(a, now_ms, FAULT_SILENT)) return;
    if (fault_actor_active(a, now_ms, FAULT_JUNK)) {
        uint32_t k = a->params.junk_per_tick ? a->params.junk_per_tick : DEFAULT_JUNK_PER_TICK;
        for (uint32_t i = 0; i < k; i++) {
            uint32_t dest = random_peer(a);
            const struct actor_slot *s =
                fault_rng_below(&a->rng, 2) ? actor_ring_pick(a, true, false, NULL, 0) : NULL;
            size_t l;
            if (s) {
                l = actor_corrupt(a, s->buf, s->len, a->scratch_b, ACTOR_MSG_MAX);
            } else {
                l = actor_junk(a, a->scratch_b, ACTOR_MSG_MAX);
                /* Half of the random blobs go out as whole transport
                 * frames, to test the frame parser too. */
                if (fault_rng_below(&a->rng, 2)) dest |= FAULT_RAW_FRAME;
            }
            a->st.injected++;
            actor_out(a, now_ms, dest, a->scratch_b, l, 0, emit, ctx);
        }
    }
    if (fault_actor_active(a, now_ms, FAULT_REPLAY)) {
        uint32_t k =
            a->params.replay_per_tick ? a->params.replay_per_tick : DEFAULT_REPLAY_PER_TICK;
        for (uint32_t i = 0; i < k; i++)
            replay_one(a, now_ms, random_peer(a), NULL, 0, emit, ctx);
    }
    if (fault_actor_active(a, now_ms, FAULT_FLOOD)) actor_flood(a, now_ms, emit, ctx);
}
