/* PBFT body codec (core/pbft/pbft_wire.c): every body round-trips through
 * its encoder and decoder, and every decoder refuses truncation, trailing
 * bytes, counts over the cluster's bounds and the field errors it checks. */
#include "tests/core/pbft/pbft_wire_test_util.h"

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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emb_round_trip_and_rejects),
        cmocka_unit_test(test_view_change_round_trip),
        cmocka_unit_test(test_view_change_rejects),
        cmocka_unit_test(test_new_view_round_trip),
        cmocka_unit_test(test_new_view_rejects),
        cmocka_unit_test(test_new_view_rejects_foreign_view_change),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
