/* Client library: a pure state machine (no sockets, no clock: the caller
 * passes now_ms and carries out sends through bft_client_host).
 *
 * Exactly-once (PBFT, Castro & Liskov OSDI'99 §4.1; Raft §8): each request
 * has a number, increasing by one from 1; a retransmission carries the SAME
 * signed bytes and the same numbers, so a replica that already executed it
 * answers from its reply cache instead of executing twice.
 *
 * Several requests share one signature (an "envelope", docs/design.md): the
 * REQUEST message has seq = first request number and a body of
 * u16 count | u8 flags | u8 0 | count x (u16 op_len | op).
 *
 * Acceptance (PBFT §4.1): a BFT client waits for f+1 replies from distinct
 * replicas with identical results, since at least one of them is honest.
 * A Raft client accepts the leader's reply. Replies are matched per
 * request (client_reply.c): one REPLY answers every envelope of this
 * client that a batch executed.
 *
 * Memory is fixed at create time: `cap` request slots (max_outstanding,
 * at most CLIENT_CAP) indexed by req_no % cap, each with room for one op and
 * one result hash per replica, plus two scratch buffers for one envelope.
 * The slots form a window: a request number may be assigned only while it
 * is less than `cap` above the first request of the oldest envelope that
 * still has an incomplete request. Envelope metadata lives in the slot of
 * its first request, which is therefore never reused before the whole
 * envelope completes.
 */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_internal.h"
#include "wire/bytes.h"

int bft_client_create(struct bft_client **out, const struct bft_client_config *cfg,
                      const struct bft_client_host *host)
{
    *out = NULL;
    if (cfg->protocol != BFT_PROTO_PBFT && cfg->protocol != BFT_PROTO_HOTSTUFF &&
        cfg->protocol != BFT_PROTO_RAFT)
        return BFT_E_INVALID;
    if (cfg->n == 0 || cfg->n > BFT_MAX_REPLICAS || cfg->f + 1 > cfg->n) return BFT_E_INVALID;
    if (cfg->envelope == 0 || cfg->envelope > BFT_ENVELOPE_MAX_OPS) return BFT_E_INVALID;
    if (cfg->max_outstanding == 0 || cfg->retransmit_ms == 0) return BFT_E_INVALID;
    if (cfg->first_req_no >= CLIENT_READ_BIT - CLIENT_CAP) return BFT_E_INVALID;
    if (!host->send || !host->done) return BFT_E_INVALID;

    struct bft_client *c = calloc(1, sizeof *c);
    if (!c) return BFT_E_NOMEM;
    c->cfg = *cfg;
    c->host = *host;
    c->cap = cfg->max_outstanding < CLIENT_CAP ? cfg->max_outstanding : CLIENT_CAP;
    c->env_ops = cfg->envelope < c->cap ? cfg->envelope : c->cap;
    size_t body_full = 4 + (size_t)c->env_ops * (2 + BFT_OP_MAX);
    c->body_max = body_full < BFT_BODY_MAX ? body_full : BFT_BODY_MAX;
    c->msg_cap = BFT_HDR_LEN + c->body_max + BFT_SIG_LEN;
    c->slots = calloc(c->cap, sizeof *c->slots);
    c->ops = malloc((size_t)c->cap * BFT_OP_MAX);
    c->hashes = malloc((size_t)c->cap * cfg->n * sizeof *c->hashes);
    c->body = malloc(c->body_max);
    c->msg = malloc(c->msg_cap);
    if (!c->slots || !c->ops || !c->hashes || !c->body || !c->msg) {
        bft_client_destroy(c);
        return BFT_E_NOMEM;
    }
    c->next_req_no = c->oldest = c->unsent = cfg->first_req_no ? cfg->first_req_no : 1;
    *out = c;
    return BFT_E_OK;
}

void bft_client_destroy(struct bft_client *c)
{
    if (!c) return;
    free(c->slots);
    free(c->ops);
    free(c->hashes);
    free(c->body);
    free(c->msg);
    /* The config holds the client's secret key. */
    explicit_bzero(&c->cfg.key, sizeof c->cfg.key);
    free(c);
}

void bft_client_stats(const struct bft_client *c, struct bft_client_stats *out)
{
    *out = c->stats;
}

/* Encode envelope [first, first+count) into c->msg with the given
 * signature. Deterministic: the same slots and signature give the same
 * bytes, which is what makes a retransmission byte-identical. */
static size_t encode_envelope(struct bft_client *c, uint64_t first, uint16_t count,
                              const uint8_t sig[BFT_SIG_LEN])
{
    struct wire_wr w;
    wire_wr_init(&w, c->body, c->body_max);
    wire_put_u16(&w, count);
    wire_put_u8(&w, 0); /* flags: read-write */
    wire_put_u8(&w, 0); /* reserved */
    for (uint16_t i = 0; i < count; i++) {
        const struct client_slot *s = slot_of(c, first + i);
        assert(s->req_no == first + i);
        wire_put_u16(&w, s->op_len);
        wire_put_bytes(&w, op_of(c, first + i), s->op_len);
    }
    assert(!w.err); /* submit keeps every envelope within body_max */
    struct bft_msg m = {
        .type = BFT_MSG_REQUEST,
        .sender = c->cfg.id,
        .cluster_id = c->cfg.cluster_id,
        .seq = first,
        .body = c->body,
        .body_len = (uint32_t)w.len,
    };
    memcpy(m.sig, sig, BFT_SIG_LEN);
    size_t len = bft_msg_encode(&m, c->msg, c->msg_cap);
    assert(len > 0);
    return len;
}

void client_send_all(struct bft_client *c, size_t len)
{
    for (uint32_t r = 0; r < c->cfg.n; r++)
        c->host.send(c->host.ctx, r, c->msg, len);
}

/* Seal the unsent requests into one signed envelope and send it the first
 * time: PBFT to the believed primary (§4.1: "sends the request to the
 * primary"), HotStuff to every replica (each leader keeps a window of 256
 * views, docs/hotstuff.md "Leader windows", but a timeout moves everyone to
 * the next window's leader, and reputation may reorder them, so the client
 * cannot know the next one), Raft to the believed leader. */
void client_send_unsent(struct bft_client *c, uint64_t now_ms)
{
    if (c->unsent == c->next_req_no) return;
    uint64_t first = c->unsent;
    uint16_t count = (uint16_t)(c->next_req_no - first);
    struct client_slot *head = slot_of(c, first);
    for (uint16_t i = 0; i < count; i++)
        slot_of(c, first + i)->env_first = first;
    head->env_count = head->env_left = count;
    head->interval_ms = c->cfg.retransmit_ms;
    head->deadline_ms = now_ms + c->cfg.retransmit_ms;
    memset(head->sig, 0, sizeof head->sig);
    size_t len = encode_envelope(c, first, count, head->sig);
    if (!c->cfg.null_crypto) {
        const uint8_t *region;
        size_t region_len;
        bft_msg_signed_region(c->msg, &region, &region_len);
        crypto_sign_msg(&c->cfg.key, BFT_MSG_REQUEST, c->cfg.cluster_id, region, region_len,
                        head->sig);
        bft_msg_set_sig(c->msg, head->sig);
    }
    c->unsent = c->next_req_no;
    c->unsent_body = 0;
    if (c->cfg.protocol == BFT_PROTO_HOTSTUFF)
        client_send_all(c, len);
    else
        c->host.send(c->host.ctx, c->leader, c->msg, len);
}

uint64_t bft_client_submit(struct bft_client *c, const uint8_t *op, size_t len, uint64_t now_ms)
{
    /* The codec refuses empty and oversized ops: refuse them here. */
    if (!op || len == 0 || len > BFT_OP_MAX) return 0;
    if (c->next_req_no - c->oldest >= c->cap) return 0; /* BFT_E_FULL */
    if (4 + c->unsent_body + 2 + len > c->body_max) client_send_unsent(c, now_ms);
    uint64_t req_no = c->next_req_no++;
    struct client_slot *s = slot_of(c, req_no);
    assert(s->req_no == 0);
    memset(s, 0, sizeof *s);
    s->req_no = req_no;
    s->op_len = (uint16_t)len;
    memcpy(op_of(c, req_no), op, len);
    c->unsent_body += 2 + len;
    c->stats.submitted++;
    if (c->next_req_no - c->unsent >= c->env_ops) client_send_unsent(c, now_ms);
    return req_no;
}

void bft_client_flush(struct bft_client *c, uint64_t now_ms)
{
    client_send_unsent(c, now_ms);
}

uint32_t bft_client_room(const struct bft_client *c)
{
    uint64_t used = c->next_req_no - c->oldest;
    return used >= c->cap ? 0 : (uint32_t)(c->cap - used);
}

/* Free the slots of fully completed envelopes at the bottom of the window. */
void client_advance_window(struct bft_client *c)
{
    while (c->oldest < c->unsent) {
        struct client_slot *head = slot_of(c, c->oldest);
        assert(head->req_no == c->oldest && head->env_first == c->oldest);
        if (head->env_left > 0) break;
        uint64_t end = c->oldest + head->env_count;
        for (uint64_t r = c->oldest; r < end; r++)
            slot_of(c, r)->req_no = 0;
        c->oldest = end;
    }
}

struct client_slot *client_pending(struct bft_client *c, uint64_t req_no)
{
    if (req_no < c->oldest || req_no >= c->unsent) return NULL;
    struct client_slot *s = slot_of(c, req_no);
    if (s->req_no != req_no || s->done) return NULL;
    return s;
}

uint32_t bft_client_tick(struct bft_client *c, uint64_t now_ms)
{
    uint64_t next = UINT64_MAX;
    for (uint32_t i = 0; i < CLIENT_READS; i++) {
        struct client_read *rd = &c->reads[i];
        if (!rd->id || rd->fallback) continue;
        if (rd->deadline_ms <= now_ms) {
            if (rd->level == BFT_READ_LOCAL)
                client_local_ask_next(c, rd, now_ms);
            else
                client_read_fall_back(c, rd, now_ms);
        }
        if (rd->id && !rd->fallback && rd->deadline_ms < next) next = rd->deadline_ms;
    }
    bool rotated = false;
    uint64_t r = c->oldest;
    while (r < c->unsent) {
        struct client_slot *head = slot_of(c, r);
        assert(head->req_no == r && head->env_first == r);
        uint64_t end = r + head->env_count;
        if (head->env_left > 0) {
            if (head->deadline_ms <= now_ms) {
                size_t len = encode_envelope(c, r, head->env_count, head->sig);
                if (is_bft(c)) {
                    /* PBFT §4.1: a client that times out broadcasts the
                     * request to all replicas, so backups learn of it and
                     * can suspect a faulty primary. */
                    client_send_all(c, len);
                } else {
                    /* Raft: the leader may be gone; try the next replica
                     * (once per tick, however many envelopes are late). */
                    if (!rotated) c->leader = (c->leader + 1) % c->cfg.n;
                    rotated = true;
                    c->host.send(c->host.ctx, c->leader, c->msg, len);
                }
                c->stats.retransmits++;
                uint64_t max = (uint64_t)c->cfg.retransmit_ms * CLIENT_BACKOFF_MAX;
                uint64_t twice = (uint64_t)head->interval_ms * 2;
                head->interval_ms = twice < max ? twice : max;
                head->deadline_ms = now_ms + head->interval_ms;
            }
            if (head->deadline_ms < next) next = head->deadline_ms;
        }
        r = end;
    }
    if (next == UINT64_MAX) return UINT32_MAX;
    uint64_t wait = next - now_ms;
    return wait >= UINT32_MAX ? UINT32_MAX - 1 : (uint32_t)wait;
}

void bft_client_peers_up(struct bft_client *c, uint64_t mask, uint64_t now_ms)
{
    if (!mask) return;
    for (uint64_t r = c->oldest; r < c->unsent;) {
        struct client_slot *head = slot_of(c, r);
        /* In backoff: retransmitted at least once already. */
        if (head->env_left > 0 && head->interval_ms > c->cfg.retransmit_ms) {
            head->interval_ms = c->cfg.retransmit_ms;
            head->deadline_ms = now_ms;
        }
        r += head->env_count;
    }
}

int bft_client_abandon(struct bft_client *c, uint64_t req_no)
{
    struct client_slot *s = client_pending(c, req_no);
    if (!s) return -1;
    struct client_slot *head = slot_of(c, s->env_first);
    assert(head->env_left > 0);
    s->done = true;
    head->env_left--;
    c->stats.abandoned++;
    client_advance_window(c);
    return 0;
}

uint64_t bft_client_next_req_no(const struct bft_client *c)
{
    return c->next_req_no;
}
