/* Read-only requests (docs/reads.md): linearizable reads answered from
 * the replicas' state (PBFT §5.1.3), quorum reads, local reads with a
 * staleness bound, and the fall back to an ordered request when a read
 * cannot complete. The state is struct client_read in client_internal.h. */
#include <string.h>

#include "client/client_internal.h"
#include "wire/bytes.h"

static size_t encode_read(struct bft_client *c, const struct client_read *rd)
{
    struct wire_wr w;
    wire_wr_init(&w, c->body, c->body_max);
    uint8_t flags = BFT_REQ_READONLY;
    if (rd->level == BFT_READ_QUORUM) flags |= BFT_REQ_READ_QUORUM;
    if (rd->level == BFT_READ_LOCAL) flags |= BFT_REQ_READ_LOCAL;
    wire_put_u16(&w, 1);
    wire_put_u8(&w, flags);
    wire_put_u8(&w, 0);
    wire_put_u16(&w, rd->op_len);
    wire_put_bytes(&w, rd->op, rd->op_len);
    struct bft_msg m = {.type = BFT_MSG_REQUEST,
                        .sender = c->cfg.id,
                        .cluster_id = c->cfg.cluster_id,
                        .view = rd->level == BFT_READ_LOCAL ? rd->staleness_ms : 0,
                        .seq = rd->id,
                        .body = c->body,
                        .body_len = (uint32_t)w.len};
    memcpy(m.sig, rd->sig, BFT_SIG_LEN);
    return bft_msg_encode(&m, c->msg, c->msg_cap);
}

/* Sign the read once: a local read that moves on to the next replica
 * resends the same bytes. */
static size_t encode_read_signed(struct bft_client *c, struct client_read *rd)
{
    size_t mlen = encode_read(c, rd);
    if (!c->cfg.null_crypto) {
        const uint8_t *region;
        size_t rl;
        bft_msg_signed_region(c->msg, &region, &rl);
        crypto_sign_msg(&c->cfg.key, BFT_MSG_REQUEST, c->cfg.cluster_id, region, rl, rd->sig);
        bft_msg_set_sig(c->msg, rd->sig);
    }
    return mlen;
}

/* A local read asks one replica at a time, each at most once, starting
 * from one spread by client id so clients do not all load one replica.
 * When every replica has refused or timed out, the read is ordered. */
void client_local_ask_next(struct bft_client *c, struct client_read *rd, uint64_t now_ms)
{
    uint32_t all = c->cfg.n >= 32 ? UINT32_MAX : (1u << c->cfg.n) - 1;
    if ((rd->asked & all) == all) {
        client_read_fall_back(c, rd, now_ms);
        return;
    }
    uint32_t r = rd->asked ? (rd->target + 1) % c->cfg.n : (c->cfg.id + rd->id) % c->cfg.n;
    while (rd->asked & (1u << r))
        r = (r + 1) % c->cfg.n;
    rd->target = r;
    rd->asked |= 1u << r;
    rd->deadline_ms = now_ms + c->cfg.retransmit_ms;
    size_t mlen = encode_read(c, rd); /* rd->sig: signed at issue */
    c->host.send(c->host.ctx, r, c->msg, mlen);
}

uint64_t bft_client_read_at(struct bft_client *c, const uint8_t *op, size_t len, int level,
                            uint32_t staleness_ms, uint64_t now_ms)
{
    if (!op || len == 0 || len > BFT_OP_MAX || c->body_max < 6 + len) return 0;
    if (level != BFT_READ_LINEARIZABLE && level != BFT_READ_QUORUM && level != BFT_READ_LOCAL)
        return 0;
    if (level == BFT_READ_LOCAL && staleness_ms == 0) return 0;
    struct client_read *rd = NULL;
    for (uint32_t i = 0; i < CLIENT_READS && !rd; i++)
        if (!c->reads[i].id) rd = &c->reads[i];
    if (!rd) return 0; /* bounded */
    memset(rd, 0, sizeof *rd);
    rd->id = CLIENT_READ_BIT | ++c->next_read;
    rd->level = (uint8_t)level;
    rd->staleness_ms = level == BFT_READ_LOCAL ? staleness_ms : 0;
    rd->op_len = (uint16_t)len;
    memcpy(rd->op, op, len);
    rd->deadline_ms = now_ms + c->cfg.retransmit_ms;
    if (level == BFT_READ_QUORUM && is_bft(c)) {
        /* BFT quorum: ordered through consensus, f+1 matching replies of
         * its execution (docs/reads.md). If the window is full, the next
         * tick past the deadline tries again. */
        client_read_fall_back(c, rd, now_ms);
        return rd->id;
    }
    size_t mlen = encode_read_signed(c, rd);
    if (level == BFT_READ_LOCAL) {
        client_local_ask_next(c, rd, now_ms); /* the same signed bytes, to one replica */
    } else if (is_bft(c)) {
        client_send_all(c, mlen);
    } else {
        c->host.send(c->host.ctx, c->leader, c->msg, mlen);
    }
    return rd->id;
}

uint64_t bft_client_read(struct bft_client *c, const uint8_t *op, size_t len, uint64_t now_ms)
{
    return bft_client_read_at(c, op, len, BFT_READ_LINEARIZABLE, 0, now_ms);
}

uint64_t bft_client_read_fallback(const struct bft_client *c, uint64_t read_id)
{
    for (uint32_t i = 0; i < CLIENT_READS; i++)
        if (read_id && c->reads[i].id == read_id) return c->reads[i].fallback;
    return 0;
}

void client_read_fall_back(struct bft_client *c, struct client_read *rd, uint64_t now_ms)
{
    uint64_t req = bft_client_submit(c, rd->op, rd->op_len, now_ms);
    if (!req) { /* window full: try again at the next tick past this */
        rd->deadline_ms = now_ms + c->cfg.retransmit_ms;
        return;
    }
    rd->fallback = req;
    c->stats.read_fallbacks++;
    client_send_unsent(c, now_ms);
}

static uint32_t read_matches(const struct client_read *rd, uint32_t n, uint32_t r)
{
    uint32_t match = 0;
    for (uint32_t k = 0; k < n; k++)
        if ((rd->replied & (1u << k)) && !memcmp(rd->hash[r], rd->hash[k], CRYPTO_DIGEST_LEN))
            match++;
    return match;
}

void client_read_reply(struct bft_client *c, struct client_read *rd, uint32_t r, const uint8_t *res,
                       size_t res_len, uint64_t now_ms)
{
    rd->replied |= 1u << r;
    crypto_sha256(res, res_len, rd->hash[r]);
    /* A local read trusts the one replica it asked (docs/reads.md). */
    uint32_t need = is_bft(c) && rd->level != BFT_READ_LOCAL ? 2 * c->cfg.f + 1 : 1;
    if (read_matches(rd, c->cfg.n, r) >= need) {
        uint64_t id = rd->id;
        rd->id = 0;
        c->stats.completed++;
        c->host.done(c->host.ctx, id, res, res_len);
        return;
    }
    /* If 2f+1 matching replies can no longer happen, order it instead. */
    uint32_t best = 0, answered = 0;
    for (uint32_t i = 0; i < c->cfg.n; i++) {
        if (!(rd->replied & (1u << i))) continue;
        answered++;
        uint32_t m = read_matches(rd, c->cfg.n, i);
        if (m > best) best = m;
    }
    if (best + (c->cfg.n - answered) < need) client_read_fall_back(c, rd, now_ms);
}

struct client_read *client_read_of(struct bft_client *c, uint64_t first)
{
    for (uint32_t i = 0; i < CLIENT_READS; i++)
        if (c->reads[i].id == first && !c->reads[i].fallback) return &c->reads[i];
    return NULL;
}

int bft_client_read_abandon(struct bft_client *c, uint64_t read_id)
{
    for (uint32_t i = 0; i < CLIENT_READS; i++) {
        struct client_read *rd = &c->reads[i];
        if (!read_id || rd->id != read_id) continue;
        if (!rd->fallback || bft_client_abandon(c, rd->fallback) != 0) c->stats.abandoned++;
        rd->id = 0;
        return 0;
    }
    return -1;
}
