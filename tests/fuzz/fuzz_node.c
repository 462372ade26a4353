/* Targets fuzz_node_pbft, fuzz_node_hotstuff, fuzz_node_raft (this file
 * compiled with FUZZ_PROTO = BFT_PROTO_*): one replica of the shared
 * cluster (fuzz_common.h) driven by a Byzantine peer that holds a valid
 * key, with its timers firing, client requests arriving, and crashes.
 *
 * Input: u8 self (which replica we are, mod n), then records
 *   0 message   u8 from | u8 flags | u16 len | len bytes
 *               The bytes are an encoded message. Unless flags & 1, the
 *               header's sender becomes `from` (mod n) and its cluster id
 *               ours; if flags & 2 the digest is recomputed over the
 *               payload (so a batch binds); then it is signed as replica
 *               `from` (null crypto, a key the peer really holds) unless
 *               flags & 4. The node receives it and flushes.
 *   1 timer     u8 t: the t-th armed timer (mod the number armed) fires
 *   2 request   u8 client | u8 count | u8 flags | u16 first_req_no, count
 *               NEW orders (u8 qty each) in one client envelope
 *   3 restart   the node crashes and restarts from the records it
 *               persisted (bft_node_recover), as bftd does
 *   4 raw       u16 len | len bytes received as they are
 *   5 flood     u8 from | u8 count: `count` copies of the last message
 *   other kinds are skipped.
 * The harness asserts nothing about the protocol (the simulator does):
 * only that no input crashes the replica or trips a sanitizer.
 */
#include <stdio.h>

#include "node/node.h"
#include "app/app.h"
#include "node/node_internal.h"
#include "net/net.h"
#include "tests/fuzz/fuzz_common.h"

#ifndef FUZZ_PROTO
#define FUZZ_PROTO BFT_PROTO_PBFT
#endif

#define MAX_TIMERS 256
#define WAL_MAX_BYTES (2u << 20)
#define MSG_MAX (64u << 10)

struct harness {
    bool armed[MAX_TIMERS];
    uint8_t **wal;
    size_t *wal_len;
    size_t wal_n, wal_cap, wal_bytes;
    size_t sends;
};

static void h_send(void *ctx, uint32_t to, const uint8_t *msg, size_t len)
{
    struct harness *h = ctx;
    (void)to;
    /* Everything the node sends must decode: it signs its own output. */
    struct bft_msg m;
    if (bft_msg_decode(msg, len, &m) != BFT_E_OK) abort();
    h->sends++;
}
static void h_persist(void *ctx, const uint8_t *rec, size_t len)
{
    struct harness *h = ctx;
    if (h->wal_bytes + len > WAL_MAX_BYTES) return;
    if (h->wal_n == h->wal_cap) {
        size_t cap = h->wal_cap ? h->wal_cap * 2 : 64;
        uint8_t **w = realloc(h->wal, cap * sizeof *w);
        if (!w) return;
        h->wal = w;
        size_t *l = realloc(h->wal_len, cap * sizeof *l);
        if (!l) return;
        h->wal_len = l;
        h->wal_cap = cap;
    }
    uint8_t *copy = malloc(len ? len : 1);
    if (!copy) return;
    memcpy(copy, rec, len);
    h->wal[h->wal_n] = copy;
    h->wal_len[h->wal_n++] = len;
    h->wal_bytes += len;
}
static void h_set_timer(void *ctx, uint32_t t, uint64_t ms)
{
    struct harness *h = ctx;
    (void)ms;
    if (t < MAX_TIMERS) h->armed[t] = true;
}
static void h_cancel_timer(void *ctx, uint32_t t)
{
    struct harness *h = ctx;
    if (t < MAX_TIMERS) h->armed[t] = false;
}

/* Signers: one node per replica id, used only for bft_node_sign_encoded. */
static struct bft_node *signer[BFT_MAX_REPLICAS];

static struct bft_node *make_node(struct harness *h, uint32_t self)
{
    static struct bft_host host;
    host = (struct bft_host){.ctx = h,
                             .send = h_send,
                             .send_client = h_send,
                             .persist = h_persist,
                             .set_timer = h_set_timer,
                             .cancel_timer = h_cancel_timer};
    struct bft_node_config cfg;
    fz_node_config(&cfg, FUZZ_PROTO, self);
    struct bft_node *n = NULL;
    char err[256];
    if (bft_node_create(&n, &cfg, &host, err, sizeof err) != BFT_E_OK) abort();
    return n;
}

static void init_signers(void)
{
    static struct harness dummy;
    if (signer[0]) return;
    for (uint32_t i = 0; i < fz_nodes(FUZZ_PROTO); i++)
        signer[i] = make_node(&dummy, i);
}

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static void put_u64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Turn the input bytes into a message from replica `from`. */
static void forge(uint8_t *buf, size_t len, uint32_t from, uint8_t flags)
{
    if (len < BFT_MSG_MIN_LEN) return;
    if (!(flags & 1)) {
        put_u32(buf + 8, from);
        put_u64(buf + 16, FZ_CLUSTER_ID);
    }
    struct bft_msg m;
    if ((flags & 2) && bft_msg_decode(buf, len, &m) == BFT_E_OK && m.payload_len) {
        bft_digest d;
        bft_batch_digest(m.payload, m.payload_len, &d);
        memcpy(buf + 40, d.b, 32);
    }
    if (!(flags & 4)) (void)bft_node_sign_encoded(signer[from], buf, len);
}

static size_t client_request(struct fz *in, uint8_t *buf, size_t cap)
{
    uint32_t client = fz_u8(in) % (FZ_CLIENTS + 1); /* one unknown client */
    uint8_t count = fz_u8(in) % 9;
    uint8_t flags = fz_u8(in) & 3;
    uint64_t first = fz_u16(in);
    uint8_t body[4 + 8 * (2 + BFT_ORDER_OP_LEN)];
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    wire_put_u16(&w, count);
    wire_put_u8(&w, flags & BFT_REQ_READONLY);
    wire_put_u8(&w, 0);
    for (uint8_t i = 0; i < count; i++) {
        uint8_t op[BFT_ORDER_OP_LEN];
        size_t ol = fz_order(op, first + i, (uint8_t)(1 + (flags >> 1)), fz_u8(in));
        wire_put_u16(&w, (uint16_t)ol);
        wire_put_bytes(&w, op, ol);
    }
    if (w.err) return 0;
    struct bft_msg m = {
        .type = BFT_MSG_REQUEST, .sender = client, .cluster_id = FZ_CLUSTER_ID, .seq = first};
    m.body = body;
    m.body_len = (uint32_t)w.len;
    return bft_msg_encode(&m, buf, cap);
}

static void fire_timer(struct harness *h, struct bft_node *n, uint8_t pick)
{
    uint32_t ids[MAX_TIMERS], k = 0;
    for (uint32_t t = 0; t < MAX_TIMERS; t++)
        if (h->armed[t]) ids[k++] = t;
    if (!k) return;
    uint32_t t = ids[pick % k];
    h->armed[t] = false; /* a fired timer is no longer armed */
    bft_node_timer(n, t);
}

static void wal_free(struct harness *h)
{
    for (size_t i = 0; i < h->wal_n; i++)
        free(h->wal[i]);
    free(h->wal);
    free(h->wal_len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init_signers();
    struct fz in = {.p = data, .len = size};
    uint32_t n_rep = fz_nodes(FUZZ_PROTO);
    uint32_t self = fz_u8(&in) % n_rep;
    struct harness *h = calloc(1, sizeof *h);
    if (!h) return 0;
    struct bft_node *node = make_node(h, self);
    bft_node_flush(node);
    static uint8_t buf[MSG_MAX], last[MSG_MAX];
    size_t last_len = 0;
    unsigned steps = 0;
    while (fz_more(&in) && steps++ < 4096) {
        uint8_t kind = fz_u8(&in);
        switch (kind % 8) {
        case 0: {
            uint32_t from = fz_u8(&in) % n_rep;
            uint8_t flags = fz_u8(&in);
            size_t len;
            const uint8_t *p = fz_bytes(&in, fz_u16(&in), &len);
            /* An exact-size copy: a read past the message is caught. */
            uint8_t *m = malloc(len ? len : 1);
            if (!m) break;
            memcpy(m, p, len);
            forge(m, len, from, flags);
            bft_node_receive(node, m, len);
            memcpy(last, m, len);
            last_len = len;
            free(m);
            break;
        }
        case 1:
            fire_timer(h, node, fz_u8(&in));
            break;
        case 2: {
            size_t len = client_request(&in, buf, sizeof buf);
            if (len) bft_node_receive(node, buf, len);
            break;
        }
        case 3: {
            bft_node_destroy(node);
            memset(h->armed, 0, sizeof h->armed);
            node = make_node(h, self);
            /* Replay only what was there at the crash: the node may
             * persist while it recovers. */
            size_t count = h->wal_n;
            for (size_t i = 0; i < count; i++)
                bft_node_recover(node, h->wal[i], h->wal_len[i]);
            break;
        }
        case 4: {
            size_t len;
            const uint8_t *p = fz_bytes(&in, fz_u16(&in), &len);
            uint8_t *m = malloc(len ? len : 1);
            if (!m) break;
            memcpy(m, p, len);
            bft_node_receive(node, m, len);
            free(m);
            break;
        }
        case 5: {
            uint32_t from = fz_u8(&in) % n_rep;
            uint8_t count = fz_u8(&in) % 32;
            if (!last_len) break;
            memcpy(buf, last, last_len);
            forge(buf, last_len, from, 0);
            for (uint8_t i = 0; i < count; i++)
                bft_node_receive(node, buf, last_len);
            break;
        }
        default:
            break;
        }
        bft_node_flush(node);
    }
    struct bft_node_stats st;
    bft_node_stats(node, &st);
    if (getenv("FUZZ_VERBOSE")) {
        uint64_t rej = 0;
        for (int i = BFT_REJECT__FIRST; i < BFT_REJECT__COUNT; i++)
            rej += st.rejected[i];
        fprintf(stderr,
                "replica %u: %llu batches executed, view %llu, %llu received, %llu rejected, "
                "%zu sent, %zu WAL records\n",
                self, (unsigned long long)st.batches_executed, (unsigned long long)st.view,
                (unsigned long long)st.msgs_received, (unsigned long long)rej, h->sends, h->wal_n);
    }
    bft_node_destroy(node);
    wal_free(h);
    free(h);
    return 0;
}
