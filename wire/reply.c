/* The REPLY body (docs/wire.md "REPLY"): one signed answer per client and
 * executed batch, covering every envelope of that client in the batch as a
 * range of results (issue 14: one signature per client per batch instead
 * of one per envelope). The layout rule lives here once: the decoder
 * (wire.c check_reply), the writer the node and its reads use, and the
 * readers of the client library, the load generator and the simulator. */
#include <string.h>

#include "wire/wire.h"
#include "wire/bytes.h"

_Static_assert(BFT_REPLY_MAX_RANGES <= UINT16_MAX, "n_ranges is a u16");
/* The largest possible range is far below the body bound, so a writer
 * with BFT_BODY_MAX of room always fits a whole envelope. */
_Static_assert(BFT_REPLY_HDR_LEN + BFT_REPLY_RANGE_MAX <= BFT_BODY_MAX, "a range fits a body");

/* One range's header and results; false if they do not parse. `after`
 * is the first request number the range may start at (ranges ascend and
 * are disjoint), updated past this range. */
static bool range_parse(struct wire_rd *r, uint64_t *after, struct bft_reply_range *rg)
{
    rg->first = wire_get_u64(r);
    rg->count = wire_get_u16(r);
    if (r->err || rg->count == 0 || rg->count > BFT_ENVELOPE_MAX_OPS) return false;
    if (rg->first == 0 || rg->first < *after || rg->first > UINT64_MAX - rg->count) return false;
    size_t start = r->off;
    for (uint16_t i = 0; i < rg->count; i++) {
        uint16_t res_len = wire_get_u16(r);
        if (r->err || res_len > BFT_RESULT_MAX) return false;
        if (res_len && !wire_get_ptr(r, res_len)) return false;
    }
    rg->results = r->p + start;
    rg->results_len = r->off - start;
    *after = rg->first + rg->count;
    return true;
}

bool bft_reply_body_valid(const uint8_t *body, size_t len)
{
    struct bft_reply_iter it;
    if (!bft_reply_iter_init(&it, body, len)) return false;
    if (it.n_ranges == 0 || it.n_ranges > BFT_REPLY_MAX_RANGES) return false;
    struct bft_reply_range rg;
    while (bft_reply_iter_next(&it, &rg)) {
    }
    return !it.bad && wire_rd_left(&it.r) == 0;
}

/* ---- Writer ---- */

void bft_reply_wr_init(struct bft_reply_wr *rw, uint8_t *buf, size_t cap, uint32_t client)
{
    memset(rw, 0, sizeof *rw);
    wire_wr_init(&rw->w, buf, cap);
    wire_put_u32(&rw->w, client);
    wire_put_u16(&rw->w, 0); /* n_ranges, set by finish */
}

/* Close the open range: its count goes into its header. */
static void range_close(struct bft_reply_wr *rw)
{
    if (rw->n_ranges == 0 || rw->w.err) return;
    if (rw->count == 0) rw->bad = true;
    wire_le_store(rw->w.buf + rw->range_off + 8, rw->count, 2);
}

void bft_reply_wr_range(struct bft_reply_wr *rw, uint64_t first)
{
    range_close(rw);
    if (rw->n_ranges == BFT_REPLY_MAX_RANGES) rw->bad = true;
    rw->n_ranges++;
    rw->count = 0;
    rw->range_off = rw->w.len;
    wire_put_u64(&rw->w, first);
    wire_put_u16(&rw->w, 0);
}

void bft_reply_wr_result(struct bft_reply_wr *rw, const uint8_t *res, size_t len)
{
    if (rw->n_ranges == 0 || rw->count == BFT_ENVELOPE_MAX_OPS || len > BFT_RESULT_MAX) {
        rw->bad = true;
        return;
    }
    rw->count++;
    wire_put_u16(&rw->w, (uint16_t)len);
    wire_put_bytes(&rw->w, res, len);
}

void bft_reply_wr_range_encoded(struct bft_reply_wr *rw, uint64_t first, uint16_t count,
                                const uint8_t *results, size_t len)
{
    bft_reply_wr_range(rw, first);
    if (count == 0 || count > BFT_ENVELOPE_MAX_OPS) rw->bad = true;
    rw->count = count;
    wire_put_bytes(&rw->w, results, len);
}

size_t bft_reply_wr_finish(struct bft_reply_wr *rw)
{
    range_close(rw);
    if (rw->w.err || rw->bad || rw->n_ranges == 0) return 0;
    wire_le_store(rw->w.buf + 4, rw->n_ranges, 2);
    return rw->w.len;
}

/* ---- Readers ---- */

bool bft_reply_iter_init(struct bft_reply_iter *it, const uint8_t *body, size_t len)
{
    memset(it, 0, sizeof *it);
    wire_rd_init(&it->r, body, body ? len : 0);
    it->client = wire_get_u32(&it->r);
    it->n_ranges = it->left = wire_get_u16(&it->r);
    if (it->r.err) {
        it->bad = true;
        it->left = 0;
        return false;
    }
    return true;
}

bool bft_reply_iter_next(struct bft_reply_iter *it, struct bft_reply_range *rg)
{
    if (it->left == 0 || it->bad) return false;
    if (!range_parse(&it->r, &it->after, rg)) {
        it->bad = true;
        it->left = 0;
        return false;
    }
    it->left--;
    return true;
}

void bft_reply_res_init(struct bft_reply_res_iter *ri, const struct bft_reply_range *rg)
{
    wire_rd_init(&ri->r, rg->results, rg->results_len);
    ri->left = rg->count;
    ri->next_req_no = rg->first;
}

bool bft_reply_res_next(struct bft_reply_res_iter *ri, uint64_t *req_no, const uint8_t **res,
                        size_t *len)
{
    if (ri->left == 0) return false;
    uint16_t n = wire_get_u16(&ri->r);
    const uint8_t *p = wire_get_ptr(&ri->r, n);
    if (ri->r.err) {
        ri->left = 0;
        return false;
    }
    *req_no = ri->next_req_no++;
    *res = p ? p : (const uint8_t *)"";
    *len = n;
    ri->left--;
    return true;
}

bool bft_reply_covers(const uint8_t *body, size_t len, uint64_t req_no)
{
    struct bft_reply_iter it;
    struct bft_reply_range rg;
    if (!bft_reply_iter_init(&it, body, len)) return false;
    while (bft_reply_iter_next(&it, &rg)) {
        if (req_no < rg.first) return false; /* ascending: none further on */
        if (req_no - rg.first < rg.count) return true;
    }
    return false;
}
