/* Target fuzz_client: client reply handling (bft_client_on_reply) on a
 * client of the shared cluster that has requests outstanding.
 *
 * Input: u8 protocol (mod 3) | u8 envelope (1..8 requests per signature)
 *        | then records
 *   0 reply    u16 len | len bytes: a REPLY as some replica sent it (the
 *              client uses null crypto: any signature passes, so what is
 *              exercised is everything after the signature check)
 *   1 tick     u16 ms: time advances, overdue requests are retransmitted
 *   2 submit   u8 count: more orders (until the client is full)
 *   3 read     one read-only request
 *   4 flush
 * The client starts with 6 orders submitted and flushed. Completions must
 * name request numbers the client handed out, each at most once.
 */
#include <stdio.h>

#include "node/node.h"
#include "client/client.h"
#include "app/app.h"
#include "tests/fuzz/fuzz_common.h"

#define MAX_REQ 4096

static uint8_t done_count[MAX_REQ + 64];
static uint64_t issued;

static void c_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)replica;
    struct bft_msg m;
    if (bft_msg_decode(msg, len, &m) != BFT_E_OK || m.type != BFT_MSG_REQUEST) {
        fprintf(stderr, "client sent something that is not a REQUEST\n");
        abort();
    }
}

static void c_done(void *ctx, uint64_t req_no, const uint8_t *result, size_t len)
{
    (void)ctx, (void)result;
    if (len > BFT_RESULT_MAX) abort();
    /* Ordered requests are numbered from 1; reads have ids of their own. */
    if (req_no >= 1 && req_no <= issued && req_no < MAX_REQ) {
        if (done_count[req_no]++) {
            fprintf(stderr, "request %llu completed twice\n", (unsigned long long)req_no);
            abort();
        }
    }
}

static uint64_t submit(struct bft_client *c, uint64_t now)
{
    uint8_t op[BFT_ORDER_OP_LEN];
    size_t ol = fz_order(op, issued + 1, 1, 10);
    uint64_t r = bft_client_submit(c, op, ol, now);
    if (r) issued = r;
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int protos[3] = {BFT_PROTO_PBFT, BFT_PROTO_HOTSTUFF, BFT_PROTO_RAFT};
    struct fz in = {.p = data, .len = size};
    int proto = protos[fz_u8(&in) % 3];
    struct bft_node_config nc;
    fz_node_config(&nc, proto, 0); /* crypto_init, replica keys */
    struct bft_client_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.protocol = proto;
    cfg.n = nc.core.n;
    cfg.f = nc.core.f;
    cfg.id = 0;
    cfg.cluster_id = FZ_CLUSTER_ID;
    memcpy(cfg.replica_pk, nc.replica_pk, sizeof cfg.replica_pk);
    fz_key(&cfg.key, 2, 0);
    cfg.retransmit_ms = 100;
    cfg.envelope = 1 + fz_u8(&in) % 8;
    cfg.max_outstanding = 64;
    cfg.null_crypto = true;
    struct bft_client_host host = {.send = c_send, .done = c_done};
    struct bft_client *c = NULL;
    if (bft_client_create(&c, &cfg, &host) != BFT_E_OK) abort();
    memset(done_count, 0, sizeof done_count);
    issued = 0;
    uint64_t now = 1000;
    for (int i = 0; i < 6; i++)
        submit(c, now);
    bft_client_flush(c, now);
    unsigned steps = 0;
    while (fz_more(&in) && steps++ < 4096) {
        switch (fz_u8(&in) % 5) {
        case 0: {
            size_t len;
            const uint8_t *p = fz_bytes(&in, fz_u16(&in), &len);
            uint8_t *m = malloc(len ? len : 1); /* exact length: overreads caught */
            if (!m) break;
            memcpy(m, p, len);
            bft_client_on_reply(c, m, len, now);
            free(m);
            break;
        }
        case 1:
            now += fz_u16(&in);
            (void)bft_client_tick(c, now);
            break;
        case 2: {
            uint8_t k = fz_u8(&in) % 16;
            for (uint8_t i = 0; i < k; i++)
                submit(c, now);
            break;
        }
        case 3: {
            uint8_t op[BFT_ORDER_OP_LEN];
            size_t ol = fz_order(op, 7, 1, 1);
            (void)bft_client_read(c, op, ol, now);
            break;
        }
        default:
            bft_client_flush(c, now);
            break;
        }
    }
    struct bft_client_stats st;
    bft_client_stats(c, &st);
    (void)bft_client_room(c);
    bft_client_destroy(c);
    return 0;
}
