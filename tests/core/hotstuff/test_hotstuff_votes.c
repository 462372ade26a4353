/* Chained HotStuff vote collection under Byzantine voters (issue 12), at
 * n = 7 (f = 2): §4.2 and §5 Algorithm 3, a QC is n - f votes for one
 * block from distinct replicas, each voting once per view (§4.4 Lemma 1).
 *
 * Test names start with the section they check, like etcd's
 * raft_paper_test and our PBFT and Raft tests: test_4_2_x is §4.2 of the
 * HotStuff paper (Yin, Malkhi, Reiter, Gueta, Abraham, PODC'19, arXiv
 * v6), test_alg3_x its Algorithm 3, test_diembft_x a rule of DiemBFT v4
 * (its timeout certificates, pacemaker and voting rule), and
 * test_impl_<part>_x one of our own extensions, each described in
 * docs/hotstuff.md. The line above each test names the section. */
#define N 7
#include "tests/core/hotstuff/hotstuff_fixture.h"

/* The leader of view 2 (replica 2) collects votes for view 1. Byzantine
 * replicas 5 and 6 send votes for junk blocks in views 1..4 -- directly,
 * and inside TIMEOUT messages, which anyone may receive -- before the
 * honest votes arrive. With 8 shared vote slots their 8 votes used to
 * evict the honest block's collector, every honest vote was refused as
 * OVERLOAD and no QC formed. Each replica's votes are kept apart now (one
 * per view), so junk only ever takes the sender's own room. */
/* docs/hotstuff.md "Quorum certificates", Vote collection: records per voter. */
static void test_impl_qc_byzantine_votes_cannot_jam_collection(void **state)
{
    (void)state;
    struct hs_qc g;
    hs_qc_genesis(&g);
    struct blk b1;
    make_block(&b1, 1, &g, NULL);
    propose_to(2, &b1); /* replica 2 votes for itself (leader of view 2) */
    assert_int_equal(status(2).view, 2);
    for (uint32_t byz = 5; byz <= 6; byz++) {
        bft_digest junk;
        memset(junk.b, (int)(0x40 + byz), 32);
        struct bft_msg v = {.type = BFT_MSG_HS_VOTE, .view = 1, .seq = 1, .digest = junk};
        deliver_raw(byz, 2, &v);
        for (uint64_t view = 2; view <= 4; view++) {
            junk.b[0] = (uint8_t)view;
            timeout_to(byz, 2, view + 1, &g, view, view, &junk, NULL);
        }
    }
    assert_int_equal(core(2)->high_qc.view, 0);
    /* The honest votes: replicas 0, 3 and 4 get the proposal; replica 1,
     * its leader, voted for its own block. */
    propose_to(0, &b1);
    propose_to(3, &b1);
    propose_to(4, &b1);
    struct bft_msg own = {.type = BFT_MSG_HS_VOTE, .view = 1, .seq = 1, .digest = b1.digest};
    deliver_raw(1, 2, &own);
    run();
    assert_int_equal(H->rep[2].rejected[BFT_REJECT_OVERLOAD], 0);
    assert_int_equal(core(2)->high_qc.view, 1);
    assert_true(hs_deq(&core(2)->high_qc.block, &b1.digest));
    assert_int_equal(core(2)->high_qc.k, FX_QUORUM);
    assert_int_equal(hs_qc_verify(core(0), &core(2)->high_qc), BFT_REJECT_NONE);
    /* Verify only until the quorum (bft_core_ops.needless): a vote for a
     * view the QC already covers is dropped before its signature check;
     * a vote for a later view, our own id or another cluster is not. */
    struct bft_msg late = {.type = BFT_MSG_HS_VOTE,
                           .view = 1,
                           .seq = 1,
                           .digest = b1.digest,
                           .sender = 5,
                           .cluster_id = core(2)->cfg.cluster_id};
    assert_true(bft_hotstuff_ops.needless(core(2), &late));
    struct bft_msg next = late;
    next.view = 2;
    assert_false(bft_hotstuff_ops.needless(core(2), &next));
    struct bft_msg self = late;
    self.sender = 2;
    assert_false(bft_hotstuff_ops.needless(core(2), &self));
    struct bft_msg other = late;
    other.cluster_id ^= 1;
    assert_false(bft_hotstuff_ops.needless(core(2), &other));
    struct bft_msg prop = late;
    prop.type = BFT_MSG_HS_PROPOSAL;
    assert_false(bft_hotstuff_ops.needless(core(2), &prop));
}

/* An honest replica votes once per view (§4.4 Lemma 1). The collector
 * keeps a voter's first vote and one other (docs/hotstuff.md "Vote
 * collection"): the same vote again is a duplicate, whether direct or
 * inside a TIMEOUT; another block is an equivocation, counted and kept;
 * a third block is counted and dropped. */
/* §4.4 Lemma 1: one vote per replica per view, also inside TIMEOUTs. */
static void test_4_4_one_vote_per_replica_per_view(void **state)
{
    (void)state;
    struct hs_qc g;
    hs_qc_genesis(&g);
    bft_digest d1, d2, d3;
    memset(d1.b, 1, 32);
    memset(d2.b, 2, 32);
    memset(d3.b, 3, 32);
    struct bft_msg v = {.type = BFT_MSG_HS_VOTE, .view = 1, .seq = 1, .digest = d1};
    deliver_raw(5, 2, &v);
    deliver_raw(5, 2, &v);
    assert_int_equal(H->rep[2].rejected[BFT_REJECT_DUPLICATE], 1);
    v.digest = d2;
    deliver_raw(5, 2, &v);
    assert_int_equal(H->rep[2].rejected[BFT_REJECT_EQUIVOCATION], 1);
    timeout_to(5, 2, 2, &g, 1, 1, &d2, NULL);
    assert_int_equal(H->rep[2].rejected[BFT_REJECT_DUPLICATE], 2);
    v.digest = d3;
    deliver_raw(5, 2, &v);
    assert_int_equal(H->rep[2].rejected[BFT_REJECT_EQUIVOCATION], 2);
    /* Four more distinct voters for d1 make the QC (quorum 5). */
    v.digest = d1;
    for (uint32_t i = 0; i < 4; i++)
        deliver_raw(i == 2 ? 6 : i, 2, &v);
    assert_int_equal(core(2)->high_qc.view, 1);
    assert_true(hs_deq(&core(2)->high_qc.block, &d1));
}

/* An equivocating voter whose vote for another digest arrives before its
 * vote for the real block: the second one counts. The quorum here needs
 * it (replica 6 is silent), as it did in bftsim with an equivocating
 * replica at n = 4 when the next leader had been given another block;
 * the view used to end in a timeout that excluded that honest leader. */
/* docs/hotstuff.md "Quorum certificates", Vote collection: an equivocator's second vote. */
static void test_impl_qc_equivocating_voters_second_vote_counts(void **state)
{
    (void)state;
    bft_digest d1, d2;
    memset(d1.b, 1, 32);
    memset(d2.b, 2, 32);
    struct bft_msg v = {.type = BFT_MSG_HS_VOTE, .view = 1, .seq = 1, .digest = d2};
    deliver_raw(5, 2, &v);
    v.digest = d1;
    for (uint32_t i = 0; i < 5; i++)
        if (i != 2) deliver_raw(i, 2, &v);
    assert_int_equal(core(2)->high_qc.view, 0); /* four votes for d1 */
    deliver_raw(5, 2, &v);
    assert_int_equal(H->rep[2].rejected[BFT_REJECT_EQUIVOCATION], 1);
    assert_int_equal(core(2)->high_qc.view, 1);
    assert_true(hs_deq(&core(2)->high_qc.block, &d1));
    assert_int_equal(core(2)->high_qc.k, FX_QUORUM);
    assert_int_equal(hs_qc_verify(core(0), &core(2)->high_qc), BFT_REJECT_NONE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_impl_qc_byzantine_votes_cannot_jam_collection, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_4_4_one_vote_per_replica_per_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_impl_qc_equivocating_voters_second_vote_counts, setup,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
