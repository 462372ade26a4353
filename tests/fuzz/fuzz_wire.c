/* Target fuzz_wire: the wire codec and frame parsing.
 *
 * The input is a frame (net_frame_check, net_frame_next) and, whatever the
 * frame check says, also one message (bft_msg_decode). Every message that
 * decodes is walked with the request / batch / REPLY iterators as its type
 * allows, re-encoded (it must come back byte for byte: decode accepts
 * exactly what encode writes; a REPLY body also through the REPLY writer),
 * and its signed region taken. The REPLY readers also walk the raw input
 * as a body, which must never read out of bounds. Messages from a valid
 * frame are put back in a new frame, which must check again.
 */
#include <stdio.h>

#include "net/net.h"
#include "tests/fuzz/fuzz_common.h"

static void walk_requests(const struct bft_msg *m)
{
    struct bft_req_iter it;
    bft_req_iter_init(&it, m);
    uint64_t req_no;
    const uint8_t *op;
    size_t op_len, count = 0;
    while (bft_req_iter_next(&it, &req_no, &op, &op_len)) {
        if (op_len && op[op_len - 1] == 0xff && op[0] == 0xfe) count++; /* touch the op */
        if (++count > 70000) abort(); /* count is a u16: the iterator must end */
    }
    (void)bft_req_count(m);
    (void)bft_req_flags(m);
}

static void walk_batch(const uint8_t *p, size_t len)
{
    struct bft_batch_iter bi;
    if (bft_batch_iter_init(&bi, p, len) != BFT_E_OK) return;
    const uint8_t *req;
    size_t rlen, count = 0;
    while (bft_batch_iter_next(&bi, &req, &rlen)) {
        struct bft_msg r;
        if (bft_msg_decode(req, rlen, &r) == BFT_E_OK && r.type == BFT_MSG_REQUEST)
            walk_requests(&r);
        if (++count > 70000) abort();
    }
    bft_digest d;
    bft_batch_digest(p, len, &d);
}

/* Walk a REPLY body with the readers; on an accepted body, check the rule
 * the decoder promises (ascending, disjoint ranges; covers agrees) and
 * rebuild it with the writer, which must give the same bytes. */
static void walk_reply(const uint8_t *body, size_t len, bool accepted)
{
    struct bft_reply_iter it;
    struct bft_reply_range rg;
    if (!bft_reply_iter_init(&it, body, len)) {
        if (accepted) abort();
        return;
    }
    uint8_t *again = accepted ? malloc(len ? len : 1) : NULL;
    struct bft_reply_wr w;
    if (again) bft_reply_wr_init(&w, again, len, it.client);
    uint64_t after = 0;
    size_t ranges = 0;
    while (bft_reply_iter_next(&it, &rg)) {
        if (rg.count == 0 || rg.first < after || rg.first == 0) abort();
        after = rg.first + rg.count;
        if (accepted && !bft_reply_covers(body, len, rg.first + rg.count - 1)) abort();
        if (again) bft_reply_wr_range(&w, rg.first);
        struct bft_reply_res_iter ri;
        bft_reply_res_init(&ri, &rg);
        uint64_t no;
        const uint8_t *res;
        size_t rl, n = 0;
        while (bft_reply_res_next(&ri, &no, &res, &rl)) {
            if (rl > BFT_RESULT_MAX || no != rg.first + n) abort();
            if (res < body || res + rl > body + len) {
                if (rl) abort();
            }
            if (again) bft_reply_wr_result(&w, res, rl);
            n++;
        }
        if (n != rg.count) abort();
        if (++ranges > 70000) abort(); /* n_ranges is a u16: the iterator must end */
    }
    if (accepted && (it.bad || ranges != it.n_ranges)) abort();
    if (again) {
        if (bft_reply_wr_finish(&w) != len || memcmp(again, body, len) != 0) {
            fprintf(stderr, "REPLY body rebuilt differently\n");
            abort();
        }
        free(again);
    }
}

static void one_message(const uint8_t *buf, size_t len)
{
    struct bft_msg m;
    if (bft_msg_decode(buf, len, &m) != BFT_E_OK) return;
    if (m.raw != buf || m.raw_len != len) abort();
    if (m.type == BFT_MSG_REQUEST) walk_requests(&m);
    if (m.type == BFT_MSG_REPLY) walk_reply(m.body, m.body_len, true);
    if (m.payload_len) walk_batch(m.payload, m.payload_len);
    (void)bft_msg_type_name(m.type);
    (void)bft_msg_from_client(m.type);

    size_t elen = bft_msg_encoded_len(&m);
    if (elen != len) {
        fprintf(stderr, "encoded_len %zu != decoded length %zu\n", elen, len);
        abort();
    }
    uint8_t *out = malloc(elen);
    if (!out) return;
    size_t wrote = bft_msg_encode(&m, out, elen);
    if (wrote != len || memcmp(out, buf, len) != 0) {
        fprintf(stderr, "re-encoding differs (%zu bytes vs %zu)\n", wrote, len);
        abort();
    }
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(out, &region, &rlen);
    if (region < out || region + rlen > out + elen) abort();
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    one_message(data, size);
    walk_reply(data, size, false);

    struct net_frame_iter it;
    if (net_frame_check(data, size, &it) != NET_FRAME_OK) {
        (void)net_frame_strerror(net_frame_check(data, size, &it));
        return 0;
    }
    uint8_t *again = malloc(size);
    if (!again) return 0;
    struct net_frame fr;
    net_frame_init(&fr, again, size);
    const uint8_t *msg;
    size_t len;
    size_t count = 0;
    while (net_frame_next(&it, &msg, &len)) {
        if (msg < data || msg + len > data + size) abort();
        one_message(msg, len);
        if (net_frame_add(&fr, msg, len) != 0) abort(); /* it fit before */
        if (++count > NET_FRAME_MAX_MSGS) abort();
    }
    size_t flen = net_frame_finish(&fr);
    struct net_frame_iter it2;
    if (net_frame_check(again, flen, &it2) != NET_FRAME_OK) abort();
    free(again);
    return 0;
}
