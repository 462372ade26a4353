/* PBFT body codec (core/pbft/pbft_wire.c): every body round-trips through
 * its encoder and decoder, and every decoder refuses truncation, trailing
 * bytes, counts over the cluster's bounds and the field errors it checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/pbft/pbft_wire.h"

#define CLUSTER 0x5eedull
static const struct pbft_limits LIM = {.n = 4, .f = 1, .K = 4, .L = 8};

static bft_digest dig(uint8_t v)
{
    bft_digest d;
    memset(d.b, v, sizeof d.b);
    return d;
}

/* An embedded raw: a bodiless signed message of `type` (fake signature). */
static void make_raw(uint8_t *out, uint8_t type, uint32_t sender, uint64_t view, uint64_t seq,
                     uint8_t d)
{
    struct bft_msg m = {.type = type, .sender = sender, .cluster_id = CLUSTER};
    m.view = view;
    m.seq = seq;
    m.digest = dig(d);
    memset(m.sig, 0x5a, sizeof m.sig);
    assert_int_equal(bft_msg_encode(&m, out, PBFT_RAW_MAX), PBFT_RAW_MAX);
}

static void put_raw(struct wire_wr *w, uint8_t type, uint32_t sender, uint64_t view, uint64_t seq,
                    uint8_t d)
{
    uint8_t raw[PBFT_RAW_MAX];
    make_raw(raw, type, sender, view, seq, d);
    pbft_emb_put(w, raw, PBFT_RAW_MAX);
}

static struct bft_msg body_msg(uint8_t type, const uint8_t *body, size_t len)
{
    struct bft_msg m = {.type = type, .view = 5, .seq = 4, .body = body};
    m.body_len = (uint32_t)len;
    return m;
}

/* ---- embedded messages ---- */

static void test_emb_round_trip_and_rejects(void **state)
{
    (void)state;
    uint8_t raw[PBFT_RAW_MAX];
    make_raw(raw, BFT_MSG_COMMIT, 2, 7, 9, 0x33);
    struct bft_msg e;
    assert_int_equal(pbft_emb_decode(raw, sizeof raw, BFT_MSG_COMMIT, &e), BFT_REJECT_NONE);
    assert_int_equal(e.sender, 2);
    assert_int_equal(e.view, 7);
    assert_int_equal(e.seq, 9);
    assert_int_equal(e.cluster_id, CLUSTER);
    assert_memory_equal(e.digest.b, dig(0x33).b, CRYPTO_DIGEST_LEN);
    assert_ptr_equal(e.raw, raw);
    assert_int_equal(pbft_emb_decode(raw, sizeof raw - 1, BFT_MSG_COMMIT, &e),
                     BFT_REJECT_MALFORMED);
    assert_int_equal(pbft_emb_decode(NULL, sizeof raw, BFT_MSG_COMMIT, &e), BFT_REJECT_MALFORMED);
    assert_int_equal(pbft_emb_decode(raw, sizeof raw, BFT_MSG_PREPARE, &e), BFT_REJECT_MALFORMED);
    /* payload_len, version, flags and body_len must be what a bodiless,
     * stripped message has. */
    const size_t offs[] = {0, 4, 6, 12};
    for (size_t i = 0; i < sizeof offs / sizeof offs[0]; i++) {
        uint8_t bad[PBFT_RAW_MAX];
        memcpy(bad, raw, sizeof bad);
        bad[offs[i]] ^= 1;
        assert_int_equal(pbft_emb_decode(bad, sizeof bad, BFT_MSG_COMMIT, &e),
                         BFT_REJECT_MALFORMED);
    }
}

/* ---- VIEW-CHANGE ---- */

/* h = 4 with 3 CHECKPOINTs; certificates at 5 (batch "abc"), 6 (null) and
 * 7 (batch omitted), each a pre-prepare of view 1 (primary 1) and 2
 * prepares. Knobs break one field at a time. */
struct vc_knobs {
    uint64_t h;
    uint32_t nproof, ncert, nprep;
    uint32_t null_blen; /* batch_len written for the null certificate */
    uint8_t cert_type;  /* type of the first certificate's pre-prepare */
};
static const struct vc_knobs VC_OK = {
    .h = 4, .nproof = 3, .ncert = 3, .nprep = 2, .cert_type = BFT_MSG_PRE_PREPARE};

static size_t build_vc(uint8_t *buf, size_t cap, const struct vc_knobs *k)
{
    struct wire_wr w;
    wire_wr_init(&w, buf, cap);
    bft_digest hd = k->h ? dig(0x44) : dig(0);
    pbft_vc_put_head(&w, k->h, &hd, k->nproof);
    for (uint32_t i = 0; i < k->nproof; i++)
        put_raw(&w, BFT_MSG_CHECKPOINT, i, 0, k->h, 0x44);
    size_t pos = pbft_vc_begin_certs(&w);
    static const uint8_t ds[3] = {0x55, 0, 0x66};
    for (uint32_t c = 0; c < k->ncert; c++) {
        uint8_t d = ds[c % 3];
        put_raw(&w, c == 0 ? k->cert_type : BFT_MSG_PRE_PREPARE, 1, 1, 5 + c, d);
        wire_put_u8(&w, (uint8_t)k->nprep);
        for (uint32_t j = 0; j < k->nprep; j++)
            put_raw(&w, BFT_MSG_PREPARE, j == 0 ? 0 : 2 + j - 1, 1, 5 + c, d);
        if (c % 3 == 0)
            pbft_vc_put_batch(&w, (const uint8_t *)"abc", 3, false);
        else if (c % 3 == 1)
            wire_put_u32(&w, k->null_blen);
        else
            pbft_vc_put_batch(&w, NULL, 0, true);
    }
    pbft_vc_put_ncert(&w, pos, (uint16_t)k->ncert);
    assert_false(w.err);
    return w.len;
}

static uint8_t vcbuf[16384];

static enum bft_reject vc_with(struct vc_knobs k)
{
    size_t len = build_vc(vcbuf, sizeof vcbuf, &k);
    struct pbft_vc_wire vc;
    return pbft_vc_decode(vcbuf, len, &LIM, &vc);
}

static void test_view_change_round_trip(void **state)
{
    (void)state;
    size_t len = build_vc(vcbuf, sizeof vcbuf, &VC_OK);
    struct pbft_vc_wire vc;
    assert_int_equal(pbft_vc_decode(vcbuf, len, &LIM, &vc), BFT_REJECT_NONE);
    assert_int_equal(vc.h, 4);
    assert_memory_equal(vc.h_digest.b, dig(0x44).b, CRYPTO_DIGEST_LEN);
    assert_int_equal(vc.proof.count, 3);
    assert_int_equal(vc.proof.m[2].sender, 2);
    assert_int_equal(vc.proof.m[2].type, BFT_MSG_CHECKPOINT);
    assert_int_equal(vc.ncert, 3);
    struct pbft_vc_wire_cert ct;
    assert_true(pbft_vc_next_cert(&vc, &ct));
    assert_int_equal(ct.pp.seq, 5);
    assert_int_equal(ct.prep.count, 2);
    assert_int_equal(ct.prep.m[1].sender, 2);
    assert_int_equal(ct.batch_len, 3);
    assert_memory_equal(ct.batch, "abc", 3);
    assert_false(ct.omitted);
    assert_true(pbft_vc_next_cert(&vc, &ct));
    assert_int_equal(ct.pp.seq, 6);
    assert_null(ct.batch);
    assert_false(ct.omitted);
    assert_true(pbft_vc_next_cert(&vc, &ct));
    assert_int_equal(ct.pp.seq, 7);
    assert_null(ct.batch);
    assert_true(ct.omitted);
    assert_false(pbft_vc_next_cert(&vc, &ct));
    /* The initial checkpoint: no proof, null digest. */
    struct vc_knobs k0 = VC_OK;
    k0.h = 0;
    k0.nproof = 0;
    k0.ncert = 0;
    assert_int_equal(vc_with(k0), BFT_REJECT_NONE);
}

static void test_view_change_rejects(void **state)
{
    (void)state;
    size_t len = build_vc(vcbuf, sizeof vcbuf, &VC_OK);
    struct pbft_vc_wire vc;
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal(pbft_vc_decode(vcbuf, cut, &LIM, &vc), BFT_REJECT_MALFORMED);
    vcbuf[len] = 0;
    assert_int_equal(pbft_vc_decode(vcbuf, len + 1, &LIM, &vc), BFT_REJECT_MALFORMED);
    struct vc_knobs k = VC_OK;
    k.nproof = 5; /* over n */
    assert_int_equal(vc_with(k), BFT_REJECT_MALFORMED);
    k = VC_OK;
    k.nproof = 2; /* under 2f+1 */
    assert_int_equal(vc_with(k), BFT_REJECT_MALFORMED);
    k = VC_OK;
    k.h = 6; /* not a checkpoint */
    assert_int_equal(vc_with(k), BFT_REJECT_MALFORMED);
    k = VC_OK;
    k.h = 0; /* the initial checkpoint has no proof */
    assert_int_equal(vc_with(k), BFT_REJECT_MALFORMED);
    k = VC_OK;
    k.ncert = 9; /* over L */
    assert_int_equal(vc_with(k), BFT_REJECT_MALFORMED);
    k = VC_OK;
    k.nprep = 1; /* under 2f */
    assert_int_equal(vc_with(k), BFT_REJECT_MALFORMED);
    k = VC_OK;
    k.nprep = 4; /* a prepare from every replica, the primary included */
    assert_int_equal(vc_with(k), BFT_REJECT_MALFORMED);
    k = VC_OK;
    k.null_blen = 1; /* a null request has no batch */
    assert_int_equal(vc_with(k), BFT_REJECT_MALFORMED);
    k = VC_OK;
    k.cert_type = BFT_MSG_COMMIT; /* not a pre-prepare */
    assert_int_equal(vc_with(k), BFT_REJECT_MALFORMED);
    /* A non-null certificate with an empty batch. */
    struct wire_wr w;
    wire_wr_init(&w, vcbuf, sizeof vcbuf);
    bft_digest z = dig(0);
    pbft_vc_put_head(&w, 0, &z, 0);
    pbft_vc_put_ncert(&w, pbft_vc_begin_certs(&w), 1);
    put_raw(&w, BFT_MSG_PRE_PREPARE, 1, 1, 1, 0x55);
    wire_put_u8(&w, 2);
    put_raw(&w, BFT_MSG_PREPARE, 0, 1, 1, 0x55);
    put_raw(&w, BFT_MSG_PREPARE, 2, 1, 1, 0x55);
    wire_put_u32(&w, 0);
    assert_int_equal(pbft_vc_decode(vcbuf, w.len, &LIM, &vc), BFT_REJECT_MALFORMED);
}

/* ---- NEW-VIEW ---- */

static uint8_t nvbuf[32768], embbuf[4][4096];

/* NEW-VIEW(5): min 4, max 6, refs 0, 1, 2, two digests, VIEW-CHANGEs of
 * replicas 0 and 2 embedded. */
static void good_nv(struct pbft_nv_wire *nv, uint8_t *digs)
{
    memset(nv, 0, sizeof(*nv));
    nv->min_s = 4;
    nv->max_s = 6;
    nv->min_d = dig(0x44);
    nv->nref = 3;
    for (uint32_t i = 0; i < 3; i++) {
        nv->ref_from[i] = i;
        nv->ref_id[i] = dig((uint8_t)(0x10 + i));
    }
    nv->ndig = 2;
    memset(digs, 0x77, 2 * CRYPTO_DIGEST_LEN);
    nv->digs = digs;
    size_t vlen = build_vc(vcbuf, sizeof vcbuf, &VC_OK);
    for (uint32_t i = 0; i < 2; i++) {
        struct bft_msg v = {.type = BFT_MSG_VIEW_CHANGE, .sender = 2 * i, .view = 5, .seq = 4};
        v.cluster_id = CLUSTER;
        v.body = vcbuf;
        v.body_len = (uint32_t)vlen;
        size_t l = bft_msg_encode(&v, embbuf[i], sizeof embbuf[i]);
        assert_true(l > 0);
        nv->emb[i].raw = embbuf[i];
        nv->emb[i].raw_len = (uint32_t)l;
    }
    nv->nemb = 2;
}

static enum bft_reject nv_decode_of(const struct pbft_nv_wire *nv, struct pbft_nv_wire *out,
                                    size_t *len_out)
{
    struct wire_wr w;
    wire_wr_init(&w, nvbuf, sizeof nvbuf);
    pbft_nv_encode(&w, nv);
    assert_false(w.err);
    if (len_out) *len_out = w.len;
    struct bft_msg m = body_msg(BFT_MSG_NEW_VIEW, nvbuf, w.len);
    return pbft_nv_decode(&m, &LIM, out);
}

static void test_new_view_round_trip(void **state)
{
    (void)state;
    uint8_t digs[2 * CRYPTO_DIGEST_LEN];
    struct pbft_nv_wire nv, out;
    good_nv(&nv, digs);
    size_t len;
    assert_int_equal(nv_decode_of(&nv, &out, &len), BFT_REJECT_NONE);
    assert_int_equal(len, pbft_nv_head_len(3, 2) + 2 * 4 + nv.emb[0].raw_len + nv.emb[1].raw_len);
    assert_int_equal(out.min_s, 4);
    assert_int_equal(out.max_s, 6);
    assert_memory_equal(out.min_d.b, nv.min_d.b, CRYPTO_DIGEST_LEN);
    assert_int_equal(out.nref, 3);
    assert_int_equal(out.ref_from[2], 2);
    assert_memory_equal(out.ref_id[1].b, dig(0x11).b, CRYPTO_DIGEST_LEN);
    assert_int_equal(out.ndig, 2);
    assert_memory_equal(out.digs, digs, sizeof digs);
    assert_int_equal(out.nemb, 2);
    assert_int_equal(out.emb[1].sender, 2);
    assert_int_equal(out.emb[1].type, BFT_MSG_VIEW_CHANGE);
}

static void test_new_view_rejects(void **state)
{
    (void)state;
    uint8_t digs[2 * CRYPTO_DIGEST_LEN];
    struct pbft_nv_wire nv, out;
    good_nv(&nv, digs);
    size_t len;
    assert_int_equal(nv_decode_of(&nv, &out, &len), BFT_REJECT_NONE);
    for (size_t cut = 0; cut < len; cut++) {
        struct bft_msg m = body_msg(BFT_MSG_NEW_VIEW, nvbuf, cut);
        assert_int_equal(pbft_nv_decode(&m, &LIM, &out), BFT_REJECT_MALFORMED);
    }
    struct bft_msg m = body_msg(BFT_MSG_NEW_VIEW, nvbuf, len + 1);
    assert_int_equal(pbft_nv_decode(&m, &LIM, &out), BFT_REJECT_MALFORMED);
    struct pbft_nv_wire bad = nv;
    bad.nref = 2; /* under 2f+1 */
    assert_int_equal(nv_decode_of(&bad, &out, NULL), BFT_REJECT_MALFORMED);
    bad = nv;
    bad.nref = 5; /* over n */
    bad.ref_from[3] = 3;
    bad.ref_from[4] = 4;
    assert_int_equal(nv_decode_of(&bad, &out, NULL), BFT_REJECT_MALFORMED);
    bad = nv;
    bad.ref_from[2] = 1; /* not ascending */
    assert_int_equal(nv_decode_of(&bad, &out, NULL), BFT_REJECT_MALFORMED);
    bad = nv;
    bad.ref_from[2] = 4; /* not a replica */
    assert_int_equal(nv_decode_of(&bad, &out, NULL), BFT_REJECT_MALFORMED);
    bad = nv;
    bad.max_s = 3; /* below min_s */
    assert_int_equal(nv_decode_of(&bad, &out, NULL), BFT_REJECT_MALFORMED);
    bad = nv;
    bad.max_s = 4 + LIM.L + 1; /* O wider than the window */
    assert_int_equal(nv_decode_of(&bad, &out, NULL), BFT_REJECT_MALFORMED);
    bad = nv;
    bad.ndig = 1; /* not max_s - min_s */
    assert_int_equal(nv_decode_of(&bad, &out, NULL), BFT_REJECT_MALFORMED);
    bad = nv;
    bad.nemb = 5; /* over n */
    for (uint32_t i = 2; i < 5; i++)
        bad.emb[i] = nv.emb[0];
    assert_int_equal(nv_decode_of(&bad, &out, NULL), BFT_REJECT_MALFORMED);
    bad = nv;
    bad.emb[1].raw_len -= 1; /* an embedded message that does not decode */
    assert_int_equal(nv_decode_of(&bad, &out, NULL), BFT_REJECT_MALFORMED);
}

static void test_new_view_rejects_foreign_view_change(void **state)
{
    (void)state;
    uint8_t digs[2 * CRYPTO_DIGEST_LEN];
    struct pbft_nv_wire nv, out;
    good_nv(&nv, digs);
    size_t vlen = build_vc(vcbuf, sizeof vcbuf, &VC_OK);
    const struct {
        uint8_t type;
        uint64_t view;
        uint32_t sender;
    } cases[] = {
        {BFT_MSG_NEW_VIEW, 5, 0}, {BFT_MSG_VIEW_CHANGE, 4, 0}, {BFT_MSG_VIEW_CHANGE, 5, 4}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct bft_msg v = {.type = cases[i].type, .sender = cases[i].sender, .seq = 4};
        v.view = cases[i].view;
        v.body = vcbuf;
        v.body_len = (uint32_t)vlen;
        size_t l = bft_msg_encode(&v, embbuf[3], sizeof embbuf[3]);
        assert_true(l > 0);
        struct pbft_nv_wire bad = nv;
        bad.emb[0].raw = embbuf[3];
        bad.emb[0].raw_len = (uint32_t)l;
        assert_int_equal(nv_decode_of(&bad, &out, NULL), BFT_REJECT_MALFORMED);
    }
}

/* ---- STATE-REQ ---- */

static void test_state_req_round_trip_and_rejects(void **state)
{
    (void)state;
    const struct pbft_state_req qs[] = {{.kind = PBFT_SREQ_FIRST},
                                        {.kind = PBFT_SREQ_CHUNK, .offset = 262144},
                                        {.kind = PBFT_SREQ_RELAY}};
    const size_t lens[] = {0, 5, 1};
    for (size_t i = 0; i < 3; i++) {
        uint8_t body[PBFT_SREQ_MAX + 1];
        size_t len = pbft_state_req_encode(&qs[i], body);
        assert_int_equal(len, lens[i]);
        struct bft_msg m = body_msg(BFT_MSG_STATE_REQ, body, len);
        struct pbft_state_req q;
        assert_int_equal(pbft_state_req_decode(&m, &q), BFT_REJECT_NONE);
        assert_int_equal(q.kind, qs[i].kind);
        assert_int_equal(q.offset, qs[i].offset);
        if (len > 1) { /* truncated */
            m.body_len = (uint32_t)len - 1;
            assert_int_equal(pbft_state_req_decode(&m, &q), BFT_REJECT_MALFORMED);
        }
        if (len > 0) { /* trailing */
            body[len] = 0;
            m.body_len = (uint32_t)len + 1;
            assert_int_equal(pbft_state_req_decode(&m, &q), BFT_REJECT_MALFORMED);
        }
    }
    /* Unknown kinds, log fetch (kind 1) included: it has its own type. */
    uint8_t unknown[3] = {4, 64, 0};
    struct bft_msg m = body_msg(BFT_MSG_STATE_REQ, unknown, 1);
    struct pbft_state_req q;
    assert_int_equal(pbft_state_req_decode(&m, &q), BFT_REJECT_MALFORMED);
    unknown[0] = 1;
    m.body_len = 3;
    assert_int_equal(pbft_state_req_decode(&m, &q), BFT_REJECT_MALFORMED);
}

/* ---- FETCH-REQ ---- */

static void test_fetch_req_round_trip_and_rejects(void **state)
{
    (void)state;
    uint8_t body[PBFT_FETCH_REQ_LEN + 1];
    pbft_fetch_req_encode(300, body);
    struct bft_msg m = body_msg(BFT_MSG_FETCH_REQ, body, PBFT_FETCH_REQ_LEN);
    uint16_t count;
    assert_int_equal(pbft_fetch_req_decode(&m, &count), BFT_REJECT_NONE);
    assert_int_equal(count, 300);
    m.body_len = 1;
    assert_int_equal(pbft_fetch_req_decode(&m, &count), BFT_REJECT_MALFORMED);
    m.body_len = 3;
    assert_int_equal(pbft_fetch_req_decode(&m, &count), BFT_REJECT_MALFORMED);
    m.body_len = 0;
    assert_int_equal(pbft_fetch_req_decode(&m, &count), BFT_REJECT_MALFORMED);
}

/* ---- STATE-RESP ---- */

static uint8_t rbuf[4096];
static const uint8_t payload[16] = {1, 2, 3};

static struct bft_msg chunk_msg(uint32_t total, uint32_t off, uint32_t k, uint32_t want)
{
    struct wire_wr w;
    wire_wr_init(&w, rbuf, sizeof rbuf);
    bft_digest sha = dig(0x99);
    pbft_chunk_put_head(&w, total, off, &sha, k);
    for (uint32_t i = 0; i < k; i++)
        put_raw(&w, BFT_MSG_CHECKPOINT, i, 0, 4, 0x44);
    assert_false(w.err);
    struct bft_msg m = body_msg(BFT_MSG_STATE_RESP, rbuf, w.len);
    m.payload = payload;
    m.payload_len = want;
    return m;
}

static enum bft_reject chunk(uint32_t total, uint32_t off, uint32_t k, uint32_t want)
{
    struct bft_msg m = chunk_msg(total, off, k, want);
    struct pbft_chunk_wire cw;
    return pbft_chunk_decode(&m, &LIM, 64, 16, &cw);
}

static void test_state_chunk_round_trip_and_rejects(void **state)
{
    (void)state;
    struct bft_msg m = chunk_msg(40, 0, 3, 16);
    assert_int_equal(pbft_resp_kind(&m), PBFT_SRESP_CHUNK);
    struct pbft_chunk_wire cw;
    assert_int_equal(pbft_chunk_decode(&m, &LIM, 64, 16, &cw), BFT_REJECT_NONE);
    assert_int_equal(cw.total, 40);
    assert_int_equal(cw.offset, 0);
    assert_memory_equal(cw.sha.b, dig(0x99).b, CRYPTO_DIGEST_LEN);
    assert_int_equal(cw.proof.count, 3);
    assert_int_equal(cw.proof.m[1].sender, 1);
    assert_int_equal(chunk(40, 32, 0, 8), BFT_REJECT_NONE); /* the last chunk */
    assert_int_equal(chunk(0, 0, 3, 0), BFT_REJECT_NONE);   /* an empty snapshot */
    for (uint32_t cut = 0; cut < m.body_len; cut++) {
        struct bft_msg t = m;
        t.body_len = cut;
        assert_int_equal(pbft_chunk_decode(&t, &LIM, 64, 16, &cw), BFT_REJECT_MALFORMED);
    }
    m.body_len++; /* trailing */
    assert_int_equal(pbft_chunk_decode(&m, &LIM, 64, 16, &cw), BFT_REJECT_MALFORMED);
    assert_int_equal(chunk(65, 0, 3, 16), BFT_REJECT_MALFORMED);  /* over snap_max */
    assert_int_equal(chunk(40, 41, 0, 0), BFT_REJECT_MALFORMED);  /* offset past the end */
    assert_int_equal(chunk(40, 32, 0, 9), BFT_REJECT_MALFORMED);  /* past the end */
    assert_int_equal(chunk(64, 0, 3, 17), BFT_REJECT_MALFORMED);  /* over chunk_max */
    assert_int_equal(chunk(40, 16, 0, 0), BFT_REJECT_MALFORMED);  /* empty, not the end */
    assert_int_equal(chunk(40, 0, 0, 16), BFT_REJECT_MALFORMED);  /* first without proof */
    assert_int_equal(chunk(40, 16, 3, 16), BFT_REJECT_MALFORMED); /* proof after the first */
    assert_int_equal(chunk(40, 0, 5, 16), BFT_REJECT_MALFORMED);  /* over n */
    rbuf[0] = PBFT_FRESP_ENTRY;
    assert_int_equal(pbft_chunk_decode(&m, &LIM, 64, 16, &cw), BFT_REJECT_MALFORMED);
}

static struct bft_msg entry_msg(uint32_t k)
{
    struct wire_wr w;
    wire_wr_init(&w, rbuf, sizeof rbuf);
    pbft_entry_put_head(&w, 77, k);
    for (uint32_t i = 0; i < k; i++)
        put_raw(&w, BFT_MSG_COMMIT, i, 2, 9, 0x55);
    assert_false(w.err);
    return body_msg(BFT_MSG_FETCH_RESP, rbuf, w.len);
}

static void test_log_entry_round_trip_and_rejects(void **state)
{
    (void)state;
    struct bft_msg m = entry_msg(3);
    assert_int_equal(pbft_resp_kind(&m), PBFT_FRESP_ENTRY);
    struct pbft_entry_wire ew;
    assert_int_equal(pbft_entry_decode(&m, &LIM, &ew), BFT_REJECT_NONE);
    assert_int_equal(ew.their_exec, 77);
    assert_int_equal(ew.commits.count, 3);
    assert_int_equal(ew.commits.m[2].type, BFT_MSG_COMMIT);
    assert_int_equal(ew.commits.m[2].seq, 9);
    for (uint32_t cut = 0; cut < m.body_len; cut++) {
        struct bft_msg t = m;
        t.body_len = cut;
        assert_int_equal(pbft_entry_decode(&t, &LIM, &ew), BFT_REJECT_MALFORMED);
    }
    m.body_len++;
    assert_int_equal(pbft_entry_decode(&m, &LIM, &ew), BFT_REJECT_MALFORMED);
    m = entry_msg(2); /* under 2f+1 */
    assert_int_equal(pbft_entry_decode(&m, &LIM, &ew), BFT_REJECT_MALFORMED);
    m = entry_msg(5); /* over n */
    assert_int_equal(pbft_entry_decode(&m, &LIM, &ew), BFT_REJECT_MALFORMED);
    m = entry_msg(3);
    rbuf[0] = PBFT_FRESP_CKPT;
    assert_int_equal(pbft_entry_decode(&m, &LIM, &ew), BFT_REJECT_MALFORMED);
}

static struct bft_msg ckpt_msg(uint32_t k)
{
    struct wire_wr w;
    wire_wr_init(&w, rbuf, sizeof rbuf);
    pbft_ckpt_proof_put_head(&w, k);
    for (uint32_t i = 0; i < k; i++)
        put_raw(&w, BFT_MSG_CHECKPOINT, i, 0, 8, 0x44);
    assert_false(w.err);
    return body_msg(BFT_MSG_FETCH_RESP, rbuf, w.len);
}

static void test_checkpoint_proof_round_trip_and_rejects(void **state)
{
    (void)state;
    struct bft_msg m = ckpt_msg(4);
    assert_int_equal(pbft_resp_kind(&m), PBFT_FRESP_CKPT);
    struct pbft_emb_list l;
    assert_int_equal(pbft_ckpt_proof_decode(&m, &LIM, &l), BFT_REJECT_NONE);
    assert_int_equal(l.count, 4);
    assert_int_equal(l.m[3].sender, 3);
    assert_int_equal(l.m[3].seq, 8);
    for (uint32_t cut = 0; cut < m.body_len; cut++) {
        struct bft_msg t = m;
        t.body_len = cut;
        assert_int_equal(pbft_ckpt_proof_decode(&t, &LIM, &l), BFT_REJECT_MALFORMED);
    }
    m.body_len++;
    assert_int_equal(pbft_ckpt_proof_decode(&m, &LIM, &l), BFT_REJECT_MALFORMED);
    m = ckpt_msg(5); /* over n */
    assert_int_equal(pbft_ckpt_proof_decode(&m, &LIM, &l), BFT_REJECT_MALFORMED);
    m = ckpt_msg(1);
    rbuf[0] = PBFT_SRESP_CHUNK;
    assert_int_equal(pbft_ckpt_proof_decode(&m, &LIM, &l), BFT_REJECT_MALFORMED);
}

static void test_relay_round_trip_and_rejects(void **state)
{
    (void)state;
    uint8_t raw[PBFT_RAW_MAX];
    make_raw(raw, BFT_MSG_PRE_PREPARE, 1, 5, 9, 0x55);
    struct wire_wr w;
    wire_wr_init(&w, rbuf, sizeof rbuf);
    pbft_relay_resp_put(&w, raw, sizeof raw);
    assert_false(w.err);
    struct bft_msg m = body_msg(BFT_MSG_STATE_RESP, rbuf, w.len);
    assert_int_equal(pbft_resp_kind(&m), PBFT_SRESP_RELAY);
    const uint8_t *got;
    uint16_t len;
    assert_int_equal(pbft_relay_resp_decode(&m, &got, &len), BFT_REJECT_NONE);
    assert_int_equal(len, sizeof raw);
    assert_memory_equal(got, raw, sizeof raw);
    for (uint32_t cut = 0; cut < w.len; cut++) {
        struct bft_msg t = m;
        t.body_len = cut;
        assert_int_equal(pbft_relay_resp_decode(&t, &got, &len), BFT_REJECT_MALFORMED);
    }
    m.body_len++;
    assert_int_equal(pbft_relay_resp_decode(&m, &got, &len), BFT_REJECT_MALFORMED);
    m.body_len--;
    rbuf[0] = PBFT_SRESP_CHUNK;
    assert_int_equal(pbft_relay_resp_decode(&m, &got, &len), BFT_REJECT_MALFORMED);
}

static void test_resp_kind_unknown(void **state)
{
    (void)state;
    uint8_t b[1] = {4};
    struct bft_msg m = body_msg(BFT_MSG_STATE_RESP, b, 1);
    assert_int_equal(pbft_resp_kind(&m), -1);
    m.body_len = 0;
    assert_int_equal(pbft_resp_kind(&m), -1);
    /* Each kind belongs to one type: a log entry is not a STATE-RESP, a
     * snapshot chunk not a FETCH-RESP. */
    b[0] = PBFT_FRESP_ENTRY;
    m.body_len = 1;
    assert_int_equal(pbft_resp_kind(&m), -1);
    m.type = BFT_MSG_FETCH_RESP;
    assert_int_equal(pbft_resp_kind(&m), PBFT_FRESP_ENTRY);
    b[0] = PBFT_SRESP_CHUNK;
    assert_int_equal(pbft_resp_kind(&m), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emb_round_trip_and_rejects),
        cmocka_unit_test(test_view_change_round_trip),
        cmocka_unit_test(test_view_change_rejects),
        cmocka_unit_test(test_new_view_round_trip),
        cmocka_unit_test(test_new_view_rejects),
        cmocka_unit_test(test_new_view_rejects_foreign_view_change),
        cmocka_unit_test(test_state_req_round_trip_and_rejects),
        cmocka_unit_test(test_fetch_req_round_trip_and_rejects),
        cmocka_unit_test(test_state_chunk_round_trip_and_rejects),
        cmocka_unit_test(test_log_entry_round_trip_and_rejects),
        cmocka_unit_test(test_checkpoint_proof_round_trip_and_rejects),
        cmocka_unit_test(test_relay_round_trip_and_rejects),
        cmocka_unit_test(test_resp_kind_unknown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
