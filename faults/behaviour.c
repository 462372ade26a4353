/* Equivocation and flooding: the behaviours that need to understand what a
 * message says.
 *
 * Equivocation (PBFT OSDI'99 §4: a faulty primary may assign one seq to two
 * batches; HotStuff PODC'19 §4: a faulty leader may propose two blocks in
 * one view): our replica's own proposal goes to the first half of the other
 * replicas, and a conflicting, validly signed variant for the same
 * (view, seq) to the rest. The variant is a function of the original only,
 * so every member of a half sees the same one however often it is sent. As
 * a voter it votes for both digests. Raft entries live in a body whose
 * layout belongs to the Raft core, so there the variant swaps embedded
 * client requests of equal length, which keeps every length field valid. */
#include <string.h>

#include "faults/actor_internal.h"
#include "net/net.h"

bool actor_is_proposal(const struct bft_msg *m)
{
    return ((m->type == BFT_MSG_PRE_PREPARE || m->type == BFT_MSG_HS_PROPOSAL) &&
            m->payload_len > 0) ||
           (m->type == BFT_MSG_RAFT_APPEND && m->body_len > 0);
}

static bool is_vote(uint8_t type)
{
    return type == BFT_MSG_PREPARE || type == BFT_MSG_COMMIT || type == BFT_MSG_HS_VOTE;
}

static void eq_put(struct fault_actor *a, const struct bft_msg *m, const bft_digest *variant)
{
    struct actor_eq *e = &a->eq[a->eq_next];
    a->eq_next = (a->eq_next + 1) % ACTOR_EQ;
    *e = (struct actor_eq){
        .used = true, .view = m->view, .seq = m->seq, .orig = m->digest, .variant = *variant};
}

/* The digest our second vote is for: the variant we proposed ourselves at
 * (view, seq) if any, else one derived from the digest. */
static void other_digest(const struct fault_actor *a, const struct bft_msg *m, bft_digest *out)
{
    for (uint32_t i = 0; i < ACTOR_EQ; i++) {
        const struct actor_eq *e = &a->eq[i];
        if (!e->used || e->view != m->view || e->seq != m->seq) continue;
        if (memcmp(&e->orig, &m->digest, sizeof m->digest) == 0) {
            *out = e->variant;
            return;
        }
        if (memcmp(&e->variant, &m->digest, sizeof m->digest) == 0) {
            *out = e->orig;
            return;
        }
    }
    static const char tag[] = "bft-fault-equivocate";
    crypto_sha256_2(tag, sizeof tag, m->digest.b, sizeof m->digest.b, out->b);
}

/* PRE_PREPARE / HS_PROPOSAL: the batch with its requests rotated (or, if
 * they are all the same, one dropped; a single request is doubled, since a
 * batch may not be empty), a new digest, re-signed. */
static size_t batch_variant(struct fault_actor *a, const struct bft_msg *m)
{
    struct bft_batch_iter it;
    if (bft_batch_iter_init(&it, m->payload, m->payload_len) != BFT_E_OK) return 0;
    uint32_t k = 0;
    const uint8_t *p;
    size_t l;
    while (k < BFT_BATCH_MAX_ENVELOPES && bft_batch_iter_next(&it, &p, &l)) {
        a->items[k] = p;
        a->item_len[k++] = (uint32_t)l;
    }
    if (k == 0) return 0;
    bool all_same = true;
    for (uint32_t i = 1; i < k && all_same; i++)
        all_same = a->item_len[i] == a->item_len[0] &&
                   memcmp(a->items[i], a->items[0], a->item_len[0]) == 0;
    struct wire_wr w;
    wire_wr_init(&w, a->payload, BFT_PAYLOAD_MAX);
    if (k == 1) {
        wire_put_u16(&w, 2);
        for (int i = 0; i < 2; i++) {
            wire_put_u32(&w, a->item_len[0]);
            wire_put_bytes(&w, a->items[0], a->item_len[0]);
        }
    } else {
        uint32_t count = all_same ? k - 1 : k;
        wire_put_u16(&w, (uint16_t)count);
        for (uint32_t i = 0; i < count; i++) {
            uint32_t j = all_same ? i : (i + 1) % k;
            wire_put_u32(&w, a->item_len[j]);
            wire_put_bytes(&w, a->items[j], a->item_len[j]);
        }
    }
    if (w.err) return 0;
    struct bft_msg v = *m;
    v.payload = a->payload;
    v.payload_len = (uint32_t)w.len;
    bft_batch_digest(a->payload, w.len, &v.digest);
    size_t len = bft_msg_encode(&v, a->scratch_a, ACTOR_MSG_MAX);
    if (len == 0) return 0;
    if (actor_signed(m->raw, m->raw_len)) actor_resign(a, a->scratch_a, len);
    eq_put(a, m, &v.digest);
    return len;
}

/* Client REQUESTs embedded whole in an opaque body, found by their header
 * (version 1, type REQUEST, no payload) and a full strict decode. */
static uint32_t find_requests(const uint8_t *body, size_t len, uint32_t *off, uint32_t *slen)
{
    uint32_t k = 0;
    size_t o = 0;
    while (o + BFT_MSG_MIN_LEN <= len && k < ACTOR_SPANS) {
        const uint8_t *h = body + o;
        if (h[4] == BFT_WIRE_VERSION && h[5] == BFT_MSG_REQUEST && wire_le_load(h, 4) == 0) {
            size_t bl = (size_t)wire_le_load(h + HDR_BODY_LEN, 4);
            size_t total = BFT_MSG_MIN_LEN + bl;
            struct bft_msg r;
            if (bl <= BFT_BODY_MAX && total <= len - o &&
                bft_msg_decode(h, total, &r) == BFT_E_OK) {
                off[k] = (uint32_t)o;
                slen[k++] = (uint32_t)total;
                o += total;
                continue;
            }
        }
        o++;
    }
    return k;
}

/* RAFT_APPEND: swap two different embedded requests of equal length, or
 * put in one we proposed earlier; every length in the body stays right. */
static size_t raft_variant(struct fault_actor *a, const struct bft_msg *m)
{
    uint32_t off[ACTOR_SPANS], slen[ACTOR_SPANS];
    uint32_t k = find_requests(m->body, m->body_len, off, slen);
    if (k == 0) return 0;
    memcpy(a->scratch_a, m->raw, m->raw_len);
    uint8_t *body = a->scratch_a + BFT_HDR_LEN;
    bool done = false;
    for (uint32_t i = 0; i < k && !done; i++)
        for (uint32_t j = i + 1; j < k && !done; j++) {
            if (slen[i] != slen[j] || memcmp(body + off[i], body + off[j], slen[i]) == 0) continue;
            uint8_t tmp[ACTOR_REQ_MAX];
            if (slen[i] > sizeof tmp) continue;
            memcpy(tmp, body + off[i], slen[i]);
            memcpy(body + off[i], body + off[j], slen[i]);
            memcpy(body + off[j], tmp, slen[i]);
            done = true;
        }
    for (uint32_t r = 0; r < a->req_count && !done; r++) {
        const struct actor_slot *s = &a->reqs[r];
        if (s->len == slen[0] && memcmp(s->buf, body + off[0], s->len) != 0) {
            memcpy(body + off[0], s->buf, s->len);
            done = true;
        }
    }
    if (!done) return 0;
    if (actor_signed(m->raw, m->raw_len)) actor_resign(a, a->scratch_a, m->raw_len);
    return m->raw_len;
}

static size_t variant_of(struct fault_actor *a, const struct bft_msg *m)
{
    const uint8_t *region;
    size_t rlen;
    uint8_t h[32];
    bft_msg_signed_region(m->raw, &region, &rlen);
    crypto_sha256(region, rlen, h);
    if (a->variant_ok && memcmp(h, a->variant_of, sizeof h) == 0) return a->variant_len;
    size_t len = m->type == BFT_MSG_RAFT_APPEND ? raft_variant(a, m) : batch_variant(a, m);
    memcpy(a->variant_of, h, sizeof h);
    a->variant_len = len;
    a->variant_ok = true;
    return len;
}

void actor_equivocate(struct fault_actor *a, uint64_t now_ms, uint32_t dest,
                      const struct bft_msg *m, const uint8_t *msg, size_t len, fault_emit_fn emit,
                      void *ctx)
{
    if (actor_is_proposal(m)) {
        size_t vlen = variant_of(a, m);
        if (vlen && actor_half_b(a, dest)) {
            a->st.equivocated++;
            actor_out(a, now_ms, dest, a->scratch_a, vlen, 0, emit, ctx);
        } else {
            a->st.passed++;
            actor_out(a, now_ms, dest, msg, len, 0, emit, ctx);
        }
        return;
    }
    if (is_vote(m->type)) {
        /* Vote for both: each half hears first the vote that matches the
         * proposal it was given, then the other one. */
        bft_digest d;
        other_digest(a, m, &d);
        size_t l = actor_rewrite(a, msg, len, a->scratch_b, NULL, NULL, &d, NULL, false);
        bool b = actor_half_b(a, dest);
        a->st.equivocated++;
        actor_out(a, now_ms, dest, b ? a->scratch_b : msg, l, 0, emit, ctx);
        actor_out(a, now_ms, dest, b ? msg : a->scratch_b, l, 0, emit, ctx);
        return;
    }
    a->st.passed++;
    actor_out(a, now_ms, dest, msg, len, 0, emit, ctx);
    if (m->type == BFT_MSG_RAFT_VOTE_RESP) {
        /* Raft grants carry no candidate id: the same response sent to
         * every other candidate of the term is a vote for each of them. */
        a->st.equivocated++;
        for (uint32_t r = 0; r < a->cfg.n; r++)
            if (r != dest && r != a->cfg.self) actor_out(a, now_ms, r, msg, len, 0, emit, ctx);
    }
}

/* Flood (docs/design.md: "a slow or flooding peer can never stall a replica"):
 * signed votes for random digests, some just above the current seq (inside
 * any window, where they occupy log slots) and more far beyond it, plus
 * byte-identical duplicates of recent messages (a quarter). Raft gets only the
 * duplicates: its bodies are the Raft core's to define. */
void actor_flood(struct fault_actor *a, uint64_t now_ms, fault_emit_fn emit, void *ctx)
{
    uint32_t k = a->params.flood_per_tick ? a->params.flood_per_tick : 64;
    for (uint32_t i = 0; i < k; i++) {
        uint32_t dest =
            (a->cfg.self + 1 + (uint32_t)fault_rng_below(&a->rng, a->cfg.n - 1)) % a->cfg.n;
        uint64_t r = fault_rng_below(&a->rng, 4);
        if (r == 0 || a->cfg.protocol == BFT_PROTO_RAFT) {
            const struct actor_slot *s = actor_ring_pick(a, true, false, NULL, 0);
            if (s) {
                a->st.injected++;
                actor_out(a, now_ms, dest, s->buf, s->len, 0, emit, ctx);
            }
            continue;
        }
        struct bft_msg v = {0};
        v.sender = a->cfg.self;
        v.cluster_id = a->cfg.cluster_id;
        if (a->cfg.protocol == BFT_PROTO_HOTSTUFF) {
            v.type = BFT_MSG_HS_VOTE;
            v.view = r == 1 ? a->max_view + fault_rng_below(&a->rng, 4)
                            : a->max_view + 1000 + fault_rng_below(&a->rng, 1000000);
            v.seq = a->max_seq + fault_rng_below(&a->rng, 64);
        } else {
            v.type = fault_rng_below(&a->rng, 2) ? BFT_MSG_PREPARE : BFT_MSG_COMMIT;
            v.view = a->max_view;
            v.seq = r == 1 ? a->max_seq + 1 + fault_rng_below(&a->rng, 64)
                           : a->max_seq + 1000 + fault_rng_below(&a->rng, 1000000);
        }
        for (size_t b = 0; b < sizeof v.digest.b; b += 8)
            wire_le_store(v.digest.b + b, fault_rng_next(&a->rng), 8);
        size_t len = bft_msg_encode(&v, a->scratch_b, ACTOR_MSG_MAX);
        actor_resign(a, a->scratch_b, len);
        a->st.injected++;
        actor_out(a, now_ms, dest, a->scratch_b, len, 0, emit, ctx);
    }
}
