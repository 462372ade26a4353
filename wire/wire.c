/* Message codec: the fixed 72-byte header, body, signature and payload laid
 * out in bft.h ("Messages"), with a per-type structural validator.
 *
 * The decoder rejects, never trusts (docs/design.md "Messages and crypto"): every
 * length is bounded and must add up exactly, the version and type are
 * checked, header flags must be ones the type defines, and the body of each
 * type is parsed to its last byte. Signatures are checked by the node, not
 * here. The encoder trusts its caller (a core, or the fault module crafting
 * junk on purpose) and only asserts what it needs to write memory safely.
 */
#include <assert.h>
#include <string.h>

#include "wire/wire.h"
#include "wire/bytes.h"

/* Header field offsets (bft.h). */
enum {
    OFF_PAYLOAD_LEN = 0,
    OFF_VERSION = 4,
    OFF_TYPE = 5,
    OFF_FLAGS = 6,
    OFF_SENDER = 8,
    OFF_BODY_LEN = 12,
    OFF_CLUSTER = 16,
    OFF_VIEW = 24,
    OFF_SEQ = 32,
    OFF_DIGEST = 40,
};

/* The layout is a contract: check it at compile time (docs/style.md #8). */
_Static_assert(BFT_HDR_LEN == 4 + 1 + 1 + 2 + 4 + 4 + 8 + 8 + 8 + 32, "header layout");
_Static_assert(OFF_DIGEST + sizeof(bft_digest) == BFT_HDR_LEN, "digest ends the header");
_Static_assert(sizeof(bft_digest) == CRYPTO_DIGEST_LEN, "digest is SHA-256");
_Static_assert(BFT_SIGNED_OFF == OFF_VERSION, "signature covers the header from version on");
_Static_assert(BFT_SIG_LEN == CRYPTO_SIG_LEN, "signature is Ed25519");
_Static_assert(BFT_MSG_MIN_LEN == BFT_HDR_LEN + BFT_SIG_LEN, "empty message");
/* raw_len is a u32: the largest legal message must fit. */
_Static_assert((uint64_t)BFT_HDR_LEN + BFT_BODY_MAX + BFT_SIG_LEN + BFT_PAYLOAD_MAX <= UINT32_MAX,
               "largest message fits raw_len");
_Static_assert(BFT_ENVELOPE_MAX_OPS <= UINT16_MAX && BFT_OP_MAX <= UINT16_MAX &&
                   BFT_RESULT_MAX <= UINT16_MAX,
               "counts and lengths fit their u16 fields");

/* ---- Type-specific body validators: one per type, all-or-nothing. ---- */

typedef bool (*body_check_fn)(const struct bft_msg *m);

/* REQUEST: u16 count | u8 flags | u8 reserved | count x (u16 op_len | op).
 * Request numbers seq .. seq+count-1 (exactly-once needs seq >= 1). */
static bool check_request(const struct bft_msg *m)
{
    struct wire_rd r;
    wire_rd_init(&r, m->body, m->body_len);
    uint16_t count = wire_get_u16(&r);
    uint8_t flags = wire_get_u8(&r);
    uint8_t reserved = wire_get_u8(&r);
    if (r.err || count == 0 || count > BFT_ENVELOPE_MAX_OPS) return false;
    if ((flags & ~BFT_REQ_FLAGS_ALL) != 0 || reserved != 0) return false;
    /* A level is a property of a read (docs/reads.md): one op, one level,
     * and a local read names its staleness bound (ms, in `view`). */
    if (flags & (BFT_REQ_READ_QUORUM | BFT_REQ_READ_LOCAL)) {
        if (!(flags & BFT_REQ_READONLY) || count != 1) return false;
        if ((flags & BFT_REQ_READ_QUORUM) && (flags & BFT_REQ_READ_LOCAL)) return false;
        if ((flags & BFT_REQ_READ_LOCAL) && (m->view == 0 || m->view > UINT32_MAX)) return false;
    }
    if (m->seq == 0 || m->seq > UINT64_MAX - count) return false;
    for (uint16_t i = 0; i < count; i++) {
        uint16_t op_len = wire_get_u16(&r);
        if (r.err || op_len == 0 || op_len > BFT_OP_MAX) return false;
        if (!wire_get_ptr(&r, op_len)) return false;
    }
    return wire_rd_left(&r) == 0;
}

/* REPLY: u32 client_id | u16 n_ranges | ranges (wire/reply.c). */
static bool check_reply(const struct bft_msg *m)
{
    if (!bft_reply_body_valid(m->body, m->body_len)) return false;
    if (m->flags == (BFT_REPLY_STALE | BFT_REPLY_NO_RESULT)) return false;
    if (!(m->flags & (BFT_REPLY_STALE | BFT_REPLY_NO_RESULT))) return true;
    /* A refusal or a closed number: one range of empty results. */
    struct bft_reply_iter it;
    struct bft_reply_range rg;
    if (!bft_reply_iter_init(&it, m->body, m->body_len) || it.n_ranges != 1 ||
        !bft_reply_iter_next(&it, &rg))
        return false;
    return rg.results_len == 2 * (size_t)rg.count; /* every u16 length is 0 */
}

/* PRE-PREPARE <v, n, d> (PBFT OSDI'99 §4.2): the header carries view, seq
 * and batch digest; the batch rides as the payload. Only its framing is
 * checked here; the node decodes and verifies each inner request and checks
 * the digest. */
static bool check_pre_prepare(const struct bft_msg *m)
{
    struct bft_batch_iter it;
    if (m->body_len != 0) return false;
    /* An empty payload is a null request (NEW-VIEW gap filler, §4.4) or a
     * pre-prepare embedded in a certificate with its batch stripped; the
     * node refuses the latter from the network. */
    if (m->payload_len == 0) return true;
    return bft_batch_iter_init(&it, m->payload, m->payload_len) == BFT_E_OK;
}

/* PREPARE, COMMIT, CHECKPOINT, HS_VOTE say everything in the header
 * (view/seq/digest), so any body is malformed. */
static bool check_prepare(const struct bft_msg *m)
{
    return m->body_len == 0;
}
static bool check_commit(const struct bft_msg *m)
{
    return m->body_len == 0;
}
static bool check_checkpoint(const struct bft_msg *m)
{
    return m->body_len == 0;
}
static bool check_hs_vote(const struct bft_msg *m)
{
    return m->body_len == 0;
}

/* PBFT log fetch: u16 count (core/pbft/pbft_wire.h). */
static bool check_fetch_req(const struct bft_msg *m)
{
    return m->body_len == 2;
}

/* Bodies owned by the protocol cores (certificates, QCs, Raft entries): the
 * generic length checks apply, the owner validates the layout. Give a type
 * its own function here once its layout is fixed. */
static bool check_opaque(const struct bft_msg *m)
{
    (void)m;
    return true;
}

/* One row per message type: header flags the type defines (none yet),
 * whether it may carry an unsigned payload, and its body validator. */
#define PAYLOAD_NO false
#define PAYLOAD_YES true
#define WIRE_RULES(X)                                                                              \
    X(REQUEST, 0, PAYLOAD_NO, check_request)                                                       \
    X(REPLY, BFT_REPLY_STALE | BFT_REPLY_NO_RESULT, PAYLOAD_NO, check_reply)                       \
    X(PRE_PREPARE, 0, PAYLOAD_YES, check_pre_prepare)                                              \
    X(PREPARE, 0, PAYLOAD_NO, check_prepare)                                                       \
    X(COMMIT, 0, PAYLOAD_NO, check_commit)                                                         \
    X(CHECKPOINT, 0, PAYLOAD_NO, check_checkpoint)                                                 \
    X(VIEW_CHANGE, 0, PAYLOAD_NO, check_opaque)                                                    \
    X(NEW_VIEW, 0, PAYLOAD_NO, check_opaque)                                                       \
    X(STATE_REQ, 0, PAYLOAD_NO, check_opaque)                                                      \
    X(STATE_RESP, 0, PAYLOAD_YES, check_opaque)                                                    \
    X(FETCH_REQ, 0, PAYLOAD_NO, check_fetch_req)                                                   \
    X(FETCH_RESP, 0, PAYLOAD_YES, check_opaque)                                                    \
    X(HS_PROPOSAL, 0, PAYLOAD_YES, check_opaque)                                                   \
    X(HS_VOTE, 0, PAYLOAD_NO, check_hs_vote)                                                       \
    X(HS_TIMEOUT, 0, PAYLOAD_NO, check_opaque)                                                     \
    X(HS_BLOCK_REQ, 0, PAYLOAD_NO, check_opaque)                                                   \
    X(HS_BLOCK_RESP, 0, PAYLOAD_YES, check_opaque)                                                 \
    X(RAFT_APPEND, 0, PAYLOAD_NO, check_opaque)                                                    \
    X(RAFT_APPEND_RESP, 0, PAYLOAD_NO, check_opaque)                                               \
    X(RAFT_VOTE, 0, PAYLOAD_NO, check_opaque)                                                      \
    X(RAFT_VOTE_RESP, 0, PAYLOAD_NO, check_opaque)

struct wire_rule {
    bool known;
    bool payload;
    uint16_t flags;
    body_check_fn check;
};

/* Every type has exactly one row: the names must exist (BFT_MSG_##name),
 * a duplicate row is a -Woverride-init error, and the counts must match. */
#define WIRE_RULE_ROW(name, fl, pl, fn) [BFT_MSG_##name] = {true, pl, fl, fn},
static const struct wire_rule rules[256] = {WIRE_RULES(WIRE_RULE_ROW)};
#define WIRE_COUNT_RULE(name, fl, pl, fn) +1
#define WIRE_COUNT_TYPE(name, val, str) +1
_Static_assert(0 WIRE_RULES(WIRE_COUNT_RULE) == 0 BFT_MSG_TYPE_MAP(WIRE_COUNT_TYPE),
               "one wire rule per message type");

/* ---- Decode ---- */

int bft_msg_decode(const uint8_t *buf, size_t len, struct bft_msg *m)
{
    if (!buf || len < BFT_MSG_MIN_LEN) return BFT_E_MALFORMED;
    uint32_t payload_len = (uint32_t)wire_le_load(buf + OFF_PAYLOAD_LEN, 4);
    uint32_t body_len = (uint32_t)wire_le_load(buf + OFF_BODY_LEN, 4);
    struct bft_msg d = {
        .type = buf[OFF_TYPE],
        .flags = (uint16_t)wire_le_load(buf + OFF_FLAGS, 2),
        .sender = (uint32_t)wire_le_load(buf + OFF_SENDER, 4),
        .cluster_id = wire_le_load(buf + OFF_CLUSTER, 8),
        .view = wire_le_load(buf + OFF_VIEW, 8),
        .seq = wire_le_load(buf + OFF_SEQ, 8),
        .body_len = body_len,
        .payload_len = payload_len,
    };
    if (buf[OFF_VERSION] != BFT_WIRE_VERSION) return BFT_E_MALFORMED;
    const struct wire_rule *rule = &rules[d.type];
    if (!rule->known) return BFT_E_MALFORMED;
    if ((d.flags & ~rule->flags) != 0) return BFT_E_MALFORMED;
    if (body_len > BFT_BODY_MAX || payload_len > BFT_PAYLOAD_MAX) return BFT_E_MALFORMED;
    if (payload_len != 0 && !rule->payload) return BFT_E_MALFORMED;
    /* Both lengths are bounded above, so this sum cannot overflow. */
    size_t body_off = BFT_HDR_LEN, sig_off = body_off + body_len, pay_off = sig_off + BFT_SIG_LEN;
    if (len != pay_off + payload_len) return BFT_E_MALFORMED;

    memcpy(d.digest.b, buf + OFF_DIGEST, sizeof(d.digest.b));
    d.body = buf + body_off;
    memcpy(d.sig, buf + sig_off, BFT_SIG_LEN);
    d.payload = buf + pay_off;
    d.raw = buf;
    d.raw_len = (uint32_t)len;
    if (!rule->check(&d)) return BFT_E_MALFORMED;
    *m = d;
    return BFT_E_OK;
}

/* ---- Encode ---- */

size_t bft_msg_encoded_len(const struct bft_msg *m)
{
    return (size_t)BFT_HDR_LEN + m->body_len + BFT_SIG_LEN + m->payload_len;
}

size_t bft_msg_encode(const struct bft_msg *m, uint8_t *buf, size_t cap)
{
    assert(m->body || m->body_len == 0);
    assert(m->payload || m->payload_len == 0);
    size_t need = bft_msg_encoded_len(m);
    if (!buf || cap < need) return 0;
    wire_le_store(buf + OFF_PAYLOAD_LEN, m->payload_len, 4);
    buf[OFF_VERSION] = BFT_WIRE_VERSION;
    buf[OFF_TYPE] = m->type;
    wire_le_store(buf + OFF_FLAGS, m->flags, 2);
    wire_le_store(buf + OFF_SENDER, m->sender, 4);
    wire_le_store(buf + OFF_BODY_LEN, m->body_len, 4);
    wire_le_store(buf + OFF_CLUSTER, m->cluster_id, 8);
    wire_le_store(buf + OFF_VIEW, m->view, 8);
    wire_le_store(buf + OFF_SEQ, m->seq, 8);
    memcpy(buf + OFF_DIGEST, m->digest.b, sizeof(m->digest.b));
    uint8_t *p = buf + BFT_HDR_LEN;
    if (m->body_len) memcpy(p, m->body, m->body_len);
    p += m->body_len;
    memcpy(p, m->sig, BFT_SIG_LEN);
    p += BFT_SIG_LEN;
    if (m->payload_len) memcpy(p, m->payload, m->payload_len);
    return need;
}

/* The signature covers [4, 72 + body_len): the header except payload_len,
 * plus the body. The payload is bound through the header digest instead,
 * so a large batch is hashed once, not signed byte by byte. The caller
 * passes a buffer it encoded (or one bft_msg_decode accepted). */
void bft_msg_signed_region(const uint8_t *encoded, const uint8_t **region, size_t *len)
{
    size_t body_len = (size_t)wire_le_load(encoded + OFF_BODY_LEN, 4);
    *region = encoded + BFT_SIGNED_OFF;
    *len = BFT_HDR_LEN - BFT_SIGNED_OFF + body_len;
}

void bft_msg_set_sig(uint8_t *encoded, const uint8_t sig[BFT_SIG_LEN])
{
    size_t body_len = (size_t)wire_le_load(encoded + OFF_BODY_LEN, 4);
    memcpy(encoded + BFT_HDR_LEN + body_len, sig, BFT_SIG_LEN);
}
