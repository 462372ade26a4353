/* Chained HotStuff, adversarial: certificates a Byzantine replica crafts
 * (issue 12). Every QC and TC that justifies anything is verified in full
 * (§4.2: a QC is n - f votes; §4.4: it is valid only if its signatures
 * verify; the TC is DiemBFT v4's certificate, as valid as the 2f+1
 * timeout statements in it); what a replica stores, logs and forwards is
 * only ever a copy it verified.
 *
 * Test names start with the section they check, like etcd's
 * raft_paper_test and our PBFT and Raft tests: test_4_2_x is §4.2 of the
 * HotStuff paper (Yin, Malkhi, Reiter, Gueta, Abraham, PODC'19, arXiv
 * v6), test_alg3_x its Algorithm 3, test_diembft_x a rule of DiemBFT v4
 * (its timeout certificates, pacemaker and voting rule), and
 * test_impl_<part>_x one of our own extensions, each described in
 * docs/hotstuff.md. The line above each test names the section. */
#include "tests/core/hotstuff/hotstuff_fixture.h"

static void garble_qc(struct hs_qc *q)
{
    for (uint32_t i = 0; i < q->k; i++)
        q->sig[i][0] ^= 0xff;
}

/* Replica 0 holds a verified QC(1). The Byzantine leader of view 2 then
 * proposes on a copy of QC(1) with the same (view, height, block) and
 * garbage signatures: the copy is verified (and rejected), not taken for
 * the cached one, so it never reaches the block store, the WAL, block-sync
 * answers or high_qc, where others would reject it. */
/* §4.4 Safety: QC validity is tverify; docs/hotstuff.md "Quorum certificates" cache. */
static void test_4_4_cached_qc_copy_with_bad_signatures_rejected(void **state)
{
    (void)state;
    static const uint64_t v1[] = {1};
    struct blk c[1];
    make_chain(c, v1, 1);
    propose_to(0, &c[0]);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 1);
    struct hs_qc g;
    hs_qc_genesis(&g);
    /* Replica 1 times out in view 2 with the genuine QC(1): verified and
     * remembered by replica 0. */
    timeout_to(1, 0, 2, &chain_qc[0], 0, 0, NULL, NULL);
    assert_int_equal(core(0)->high_qc.view, 1);
    struct hs_qc forged = chain_qc[0];
    garble_qc(&forged);
    struct blk b;
    make_block(&b, 2, &forged, NULL);
    propose_to(0, &b);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_BAD_SIGNATURE], 1);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 1); /* no vote for it */
    assert_null(hs_block_get(core(0), &b.digest));
    /* high_qc is still the genuine copy. */
    assert_int_equal(hs_qc_verify(core(1), &core(0)->high_qc), BFT_REJECT_NONE);
    /* The genuine proposal on the genuine QC(1) is still voted for. */
    make_block(&b, 2, &chain_qc[0], NULL);
    propose_to(0, &b);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 2);
}

/* Replica 0 holds the genuine TC(2), whose signers reported high QCs of
 * view 1. The Byzantine leader of view 3 then proposes on the genesis QC
 * with a forged TC(2) (garbage signatures, every reported high QC at view
 * 0) so that the genesis justify passes the "justify at least every
 * reported QC" rule. A TC at or below high_tc used to pass unverified;
 * now every TC that justifies a proposal is verified (or is the very copy
 * verified before), and the proposal is rejected. */
/* DiemBFT v4 safe_to_vote: a TC justifies only with 2f+1 valid timeout signatures. */
static void test_diembft_forged_tc_at_high_tc_rejected(void **state)
{
    (void)state;
    struct hs_qc g;
    hs_qc_genesis(&g);
    struct hs_tc tc2, forged;
    make_tc(&tc2, 2, 1);
    timeout_to(1, 0, 3, &g, 0, 0, NULL, &tc2);
    assert_int_equal(core(0)->high_tc.view, 2);
    assert_int_equal(status(0).view, 3);
    make_tc(&forged, 2, 0);
    for (uint32_t i = 0; i < forged.k; i++)
        forged.sig[i][0] ^= 0xff;
    struct blk b;
    make_block(&b, 3, &g, &forged);
    propose_to(0, &b);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_BAD_SIGNATURE], 1);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 0);
    /* high_tc is still the genuine one. */
    assert_int_equal(hs_tc_max_hqc(&core(0)->high_tc), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_4_4_cached_qc_copy_with_bad_signatures_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_diembft_forged_tc_at_high_tc_rejected, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
