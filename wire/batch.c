/* Iterators over a client REQUEST envelope and over a batch, and the batch
 * digest. The iterators stay bounds-safe even on input the codec has not
 * accepted: a bad length ends the iteration, it never reads past the end. */
#include <string.h>

#include "wire/wire.h"
#include "wire/bytes.h"

/* ---- REQUEST envelope: u16 count | u8 flags | u8 reserved | ops ---- */

#define REQ_HDR_LEN 4

void bft_req_iter_init(struct bft_req_iter *it, const struct bft_msg *req)
{
    memset(it, 0, sizeof(*it));
    if (req->type != BFT_MSG_REQUEST || req->body_len < REQ_HDR_LEN) return;
    it->p = req->body;
    it->len = req->body_len;
    it->off = REQ_HDR_LEN;
    it->left = (uint16_t)wire_le_load(req->body, 2);
    it->next_req_no = req->seq;
}

bool bft_req_iter_next(struct bft_req_iter *it, uint64_t *req_no, const uint8_t **op,
                       size_t *op_len)
{
    if (it->left == 0 || it->len - it->off < 2) return false;
    size_t n = (size_t)wire_le_load(it->p + it->off, 2);
    if (n > it->len - it->off - 2) {
        it->left = 0; /* truncated: stop for good */
        return false;
    }
    *req_no = it->next_req_no++;
    *op = it->p + it->off + 2;
    *op_len = n;
    it->off += 2 + n;
    it->left--;
    return true;
}

uint16_t bft_req_count(const struct bft_msg *req)
{
    if (req->body_len < REQ_HDR_LEN) return 0;
    return (uint16_t)wire_le_load(req->body, 2);
}

uint8_t bft_req_flags(const struct bft_msg *req)
{
    if (req->body_len < REQ_HDR_LEN) return 0;
    return req->body[2];
}

/* ---- Batch: u16 count | count x (u32 len | encoded REQUEST) ----
 * init checks the whole framing up front so a bad batch is refused whole
 * and next never has to fail half way. Each entry must at least hold an
 * empty message (header + signature); what is inside is the node's to
 * decode and verify. */

int bft_batch_iter_init(struct bft_batch_iter *it, const uint8_t *batch, size_t len)
{
    memset(it, 0, sizeof(*it));
    if (!batch) return BFT_E_MALFORMED;
    struct wire_rd r;
    wire_rd_init(&r, batch, len);
    uint16_t count = wire_get_u16(&r);
    if (r.err || count == 0 || count > BFT_BATCH_MAX_ENVELOPES) return BFT_E_MALFORMED;
    for (uint16_t i = 0; i < count; i++) {
        uint32_t n = wire_get_u32(&r);
        if (r.err || n < BFT_MSG_MIN_LEN) return BFT_E_MALFORMED;
        if (!wire_get_ptr(&r, n)) return BFT_E_MALFORMED;
    }
    if (wire_rd_left(&r) != 0) return BFT_E_MALFORMED;
    it->p = batch;
    it->len = len;
    it->off = 2;
    it->left = count;
    return BFT_E_OK;
}

bool bft_batch_iter_next(struct bft_batch_iter *it, const uint8_t **req, size_t *len)
{
    if (it->left == 0 || it->len - it->off < 4) return false;
    size_t n = (size_t)wire_le_load(it->p + it->off, 4);
    if (n > it->len - it->off - 4) {
        it->left = 0;
        return false;
    }
    *req = it->p + it->off + 4;
    *len = n;
    it->off += 4 + n;
    it->left--;
    return true;
}

void bft_batch_digest(const uint8_t *batch, size_t len, bft_digest *out)
{
    crypto_sha256(batch, len, out->b);
}
