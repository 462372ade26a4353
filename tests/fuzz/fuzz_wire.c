/* Target fuzz_wire: the wire codec and frame parsing.
 *
 * The input is a frame (net_frame_check, net_frame_next) and, whatever the
 * frame check says, also one message (bft_msg_decode). Every message that
 * decodes is walked with the request / batch iterators as its type allows,
 * re-encoded (it must come back byte for byte: decode accepts exactly what
 * encode writes), and its signed region taken. Messages from a valid frame
 * are put back in a new frame, which must check again.
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

static void one_message(const uint8_t *buf, size_t len)
{
    struct bft_msg m;
    if (bft_msg_decode(buf, len, &m) != BFT_E_OK) return;
    if (m.raw != buf || m.raw_len != len) abort();
    if (m.type == BFT_MSG_REQUEST) walk_requests(&m);
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
