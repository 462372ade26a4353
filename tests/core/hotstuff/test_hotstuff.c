/* Chained HotStuff core, scripted on the core fixture (tests/lib): cores
 * driven through their ops table, every effect recorded in order, FIFO
 * links between them (no sockets), and the fixture's keyed-hash
 * signatures (one altered, or made with another replica's key, fails),
 * since most of what is tested here is about certificates: QCs (§4.2,
 * valid as §4.4 defines), vote collection (Algorithm 4 onReceiveVote),
 * proposals (Algorithm 3, with safeNode from §4.1 and Algorithm 1), the
 * 3-chain commit over consecutive views (§5, Figure 2) and voting once
 * per view (§4.4 Lemma 1). Pacemaker, restarts and sync: test_hotstuff_pacemaker.c.
 *
 * Test names start with the section they check, like etcd's
 * raft_paper_test and our PBFT and Raft tests: test_4_2_x is §4.2 of the
 * HotStuff paper (Yin, Malkhi, Reiter, Gueta, Abraham, PODC'19, arXiv
 * v6), test_alg3_x its Algorithm 3, test_diembft_x a rule of DiemBFT v4
 * (its timeout certificates, pacemaker and voting rule), and
 * test_impl_<part>_x one of our own extensions, each described in
 * docs/hotstuff.md. The line above each test names the section. */
#include "tests/core/hotstuff/hotstuff_fixture.h"
/* Algorithm 4 onReceiveVote: duplicates ignored, a QC at n - f votes. */
static void test_alg4_duplicate_vote_counts_once(void **state)
{
    (void)state;
    submit(0, 1); /* give the next leader something to propose */
    bft_digest d;
    memset(d.b, 0xab, 32);
    /* Votes for view 1 go to leader(2) = replica 2. */
    struct bft_msg v = {.type = BFT_MSG_HS_VOTE, .view = 1, .seq = 1, .digest = d};
    deliver_raw(0, 2, &v);
    deliver_raw(0, 2, &v);
    assert_int_equal(H->rep[2].rejected[BFT_REJECT_DUPLICATE], 1);
    deliver_raw(1, 2, &v);
    assert_int_equal(status(2).view, 1); /* two distinct voters: no QC */
    deliver_raw(3, 2, &v);
    assert_int_equal(status(2).view, 2); /* the third forms QC(1) */
    /* And the leader of view 2 proposes on it, carrying a QC with three
     * distinct signers. */
    assert_int_equal(count_fx(E_SEND, 2, BFT_MSG_HS_PROPOSAL), N - 1);
    struct bft_msg m = {0};
    for (uint32_t k = H->net_tail; k-- > H->net_head;) {
        struct packet *p = &H->net[k];
        if (p->fate != P_LIVE) continue;
        assert_int_equal(bft_msg_decode(p->buf, p->len, &m), BFT_E_OK);
        if (p->from == 2 && m.type == BFT_MSG_HS_PROPOSAL) break;
    }
    assert_int_equal(m.type, BFT_MSG_HS_PROPOSAL);
    assert_int_equal(m.view, 2);
    struct wire_rd r;
    wire_rd_init(&r, m.body, m.body_len);
    wire_get_ptr(&r, 32);
    struct hs_qc q;
    assert_true(hs_qc_read(&r, N, &q));
    assert_int_equal(q.view, 1);
    assert_int_equal(q.k, 3);
    assert_true(q.signer[0] != q.signer[1] && q.signer[1] != q.signer[2] &&
                q.signer[0] != q.signer[2]);
    assert_int_equal(hs_qc_verify(core(0), &q), BFT_REJECT_NONE);
}

/* A proposal for view 2 justified by a bad QC(1): nothing is accepted, no
 * vote, no view change. */
static void check_bad_qc(const struct hs_qc *q, int reason)
{
    struct blk b;
    make_block(&b, 2, q, NULL);
    propose_to(0, &b);
    assert_int_equal(H->rep[0].rejected[reason], 1);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 0);
    assert_int_equal(status(0).view, 1);
}

/* §4.2 Quorum certificates: n - f signatures by distinct replicas. */
static void test_4_2_qc_repeated_signer_rejected(void **state)
{
    (void)state;
    bft_digest d;
    memset(d.b, 0x11, 32);
    static const uint8_t rep[] = {0, 1, 1};
    struct hs_qc q;
    make_qc(&q, 1, 1, &d, rep, 3);
    check_bad_qc(&q, BFT_REJECT_DUPLICATE);
}

/* §4.2 Quorum certificates: signed by n - f of the n replicas. */
static void test_4_2_qc_unknown_or_too_few_signers_rejected(void **state)
{
    (void)state;
    bft_digest d;
    memset(d.b, 0x12, 32);
    struct hs_qc q;
    make_qc(&q, 1, 1, &d, Q012, 3);
    q.signer[2] = N; /* signer >= n */
    check_bad_qc(&q, BFT_REJECT_UNKNOWN_SENDER);
    make_qc(&q, 1, 1, &d, Q012, 2); /* 2 < 2f+1 */
    struct blk b;
    make_block(&b, 2, &q, NULL);
    propose_to(0, &b);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_MALFORMED], 1);
    assert_int_equal(status(0).view, 1);
}

/* §4.4 Safety: a QC is valid only if tverify accepts its signatures. */
static void test_4_4_qc_bad_signature_rejected(void **state)
{
    (void)state;
    bft_digest d;
    memset(d.b, 0x22, 32);
    struct hs_qc q;
    make_qc(&q, 1, 1, &d, Q012, 3);
    q.sig[1][5] ^= 1;
    check_bad_qc(&q, BFT_REJECT_BAD_SIGNATURE);
    /* A signature by the wrong replica for that slot is just as bad. */
    make_qc(&q, 1, 1, &d, Q012, 3);
    sign_vote(3, 1, 1, &d, q.sig[0]);
    struct blk b;
    make_block(&b, 2, &q, NULL);
    propose_to(0, &b);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_BAD_SIGNATURE], 2);
}

/* A proposal must carry a justify QC that is valid and certifies view
 * v-1 (or come with TC(v-1)). */
/* Algorithm 3 (§5): from leader(curView), QC to its parent; DiemBFT v4 safe_to_vote. */
static void test_alg3_proposal_needs_leader_and_valid_justify(void **state)
{
    (void)state;
    /* No body at all: no justify. */
    struct bft_msg m = {.type = BFT_MSG_HS_PROPOSAL, .view = 1, .seq = 1};
    deliver_raw(1, 0, &m);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_MALFORMED], 1);
    /* A valid QC(1), but for view 3: neither QC(2) nor TC(2). */
    struct blk chain[1];
    static const uint64_t v1[] = {1};
    make_chain(chain, v1, 1);
    struct hs_qc q;
    make_qc(&q, 1, 1, &chain[0].digest, Q012, 3);
    struct blk b;
    make_block(&b, 3, &q, NULL);
    propose_to(0, &b);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_MALFORMED], 2);
    /* The justify QC must certify the parent. */
    make_block(&b, 2, &q, NULL);
    b.body[0] ^= 1; /* parent digest != justify block */
    propose_to(0, &b);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_MALFORMED], 3);
    /* A genesis QC with signatures is no genesis QC. */
    struct hs_qc g;
    hs_qc_genesis(&g);
    g.k = 1;
    make_block(&b, 1, &g, NULL);
    propose_to(0, &b);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_MALFORMED], 4);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 0);
    /* A proposal from a replica that does not lead the view. */
    make_block(&b, 1, &(struct hs_qc){0}, NULL);
    struct bft_msg p = {
        .type = BFT_MSG_HS_PROPOSAL, .view = 1, .seq = 1, .body = b.body, .body_len = b.body_len};
    deliver_raw(2, 0, &p);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_MALFORMED], 5);
    /* The right one is voted for. */
    propose_to(0, &b);
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 1);
}

/* Algorithm 3 decides b only if b'' <- b' <- b are direct parents in
 * consecutive views. Chain over views 1, 2, 4, 5, 6, 8 (none led by the
 * receiver, replica 3): the 3-chains (1,2,4) and (2,4,5) have gaps and
 * commit nothing; (4,5,6), certified by view 8's QC(6), commits 4 and its
 * ancestors 1 and 2 first, in order. */
/* §5 Three-Chain (Figure 2: views 4, 5, 6 and 8), Algorithm 4 onCommit. */
static void test_5_three_chain_commit_needs_consecutive_views(void **state)
{
    (void)state;
    static const uint64_t views[] = {1, 2, 4, 5, 6, 8};
    struct blk c[6];
    make_chain(c, views, 6);
    for (int i = 0; i < 5; i++) {
        propose_to(3, &c[i]);
        assert_int_equal(count_fx(E_EXECUTE, 3, 0), 0);
    }
    /* c[4] (view 6) carries QC(5): b''=5, b'=4, b=2 -> gap, no commit. */
    propose_to(3, &c[5]); /* view 8 carries QC(6): 6 <- 5 <- 4 */
    assert_int_equal(count_fx(E_EXECUTE, 3, 0), 3);
    uint32_t k = 0;
    for (uint32_t i = 0; i < H->nfx; i++) {
        if (H->fx[i].kind != E_EXECUTE) continue;
        assert_int_equal(H->fx[i].seq, k + 1);
        assert_int_equal(H->fx[i].view, views[k]);
        k++;
    }
    assert_int_equal(status(3).last_executed, 3);
    /* Replica 3 voted for every block (each extends its lock). */
    assert_int_equal(core(3)->last_voted_view, 8);
}

/* The vote is durable first: the VOTE record is persisted before the vote
 * is sent (the node then flushes persists before sends). */
/* docs/hotstuff.md "What is persisted": VOTE is durable before the vote. */
static void test_impl_persist_vote_record_before_vote(void **state)
{
    (void)state;
    struct blk c[1];
    static const uint64_t v1[] = {1};
    make_chain(c, v1, 1);
    propose_to(0, &c[0]);
    int persist_at = -1, vote_at = -1;
    for (uint32_t i = 0; i < H->nfx; i++) {
        if (H->fx[i].kind == E_PERSIST && H->fx[i].type == HS_REC_VOTE && persist_at < 0)
            persist_at = (int)i;
        if (H->fx[i].kind == E_SEND && H->fx[i].type == BFT_MSG_HS_VOTE && vote_at < 0)
            vote_at = (int)i;
    }
    assert_true(persist_at >= 0 && vote_at >= 0);
    assert_true(persist_at < vote_at);
    assert_int_equal(H->fx[vote_at].to, 2); /* to the next view's leader */
}

/* Two different proposals from one leader for one view: the second is
 * rejected as equivocation and gets no vote; a repeat is a duplicate. */
/* Algorithm 4 onReceiveProposal: vote only above vheight (§4.4 Lemma 1). */
static void test_alg4_equivocating_proposal_gets_no_second_vote(void **state)
{
    (void)state;
    struct hs_qc g;
    hs_qc_genesis(&g);
    struct blk a, b;
    make_block(&a, 1, &g, NULL);
    propose_to(0, &a);
    propose_to(0, &a);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_DUPLICATE], 1);
    /* Same view, other content: a one-request batch. */
    make_block(&b, 1, &g, NULL);
    uint8_t batch[2 + 4 + BFT_MSG_MIN_LEN + 8];
    memset(batch, 0, sizeof batch);
    wire_le_store(batch, 1, 2);
    wire_le_store(batch + 2, BFT_MSG_MIN_LEN + 8, 4);
    struct bft_msg m = {.type = BFT_MSG_HS_PROPOSAL,
                        .view = 1,
                        .seq = 1,
                        .body = b.body,
                        .body_len = b.body_len,
                        .payload = batch,
                        .payload_len = sizeof batch};
    bft_batch_digest(batch, sizeof batch, &m.digest);
    deliver_raw(1, 0, &m);
    assert_int_equal(H->rep[0].rejected[BFT_REJECT_EQUIVOCATION], 1);
    /* One vote, for a; the duplicate proposal (a leader's retransmission)
     * only sent the same vote again. */
    assert_int_equal(count_fx(E_SEND, 0, BFT_MSG_HS_VOTE), 2);
    for (uint32_t i = 0; i < H->nfx; i++)
        if (H->fx[i].kind == E_SEND && H->fx[i].replica == 0 && H->fx[i].type == BFT_MSG_HS_VOTE)
            assert_true(hs_deq(&H->fx[i].digest, &a.digest));
}

/* Votes from two conflicting blocks in one view by one voter. */
/* §4.4 Lemma 1: a correct replica votes once per view. */
static void test_4_4_second_vote_of_a_voter_in_a_view_is_equivocation(void **state)
{
    (void)state;
    bft_digest d1, d2;
    memset(d1.b, 1, 32);
    memset(d2.b, 2, 32);
    struct bft_msg v = {.type = BFT_MSG_HS_VOTE, .view = 1, .seq = 1, .digest = d1};
    deliver_raw(0, 2, &v);
    v.digest = d2;
    deliver_raw(0, 2, &v);
    assert_int_equal(H->rep[2].rejected[BFT_REJECT_EQUIVOCATION], 1);
}

/* The leader of view 2 forms QC(1) from the others' votes without holding
 * block 1 (an equivocating leader of view 1 gave it another one): it
 * proposes on the QC and fetches the block. When the block arrives it
 * votes for its own proposal. It used to mark view 2 as voted when it
 * proposed, and the quorum for view 2 lacked its vote. A restart before
 * the block arrives still never proposes twice in view 2 (the WAL marks
 * the view). */
/* docs/hotstuff.md "Voting rule": a leader votes for its own proposal late. */
static void test_impl_leader_votes_for_own_proposal_once_parent_arrives(void **state)
{
    (void)state;
    struct hs_qc g;
    hs_qc_genesis(&g);
    struct blk b1;
    make_block(&b1, 1, &g, NULL);
    submit(0, 1);
    struct bft_msg v = {.type = BFT_MSG_HS_VOTE, .view = 1, .seq = 1, .digest = b1.digest};
    deliver_raw(0, 2, &v);
    deliver_raw(1, 2, &v);
    deliver_raw(3, 2, &v);
    assert_int_equal(count_fx(E_SEND, 2, BFT_MSG_HS_PROPOSAL), N - 1);
    assert_int_equal(count_fx(E_SEND, 2, BFT_MSG_HS_BLOCK_REQ), 1);
    assert_int_equal(count_fx(E_SEND, 2, BFT_MSG_HS_VOTE), 0);
    respond_block(1, 2, &b1);
    assert_int_equal(count_fx(E_SEND, 2, BFT_MSG_HS_VOTE), 1);
    for (uint32_t i = 0; i < H->nfx; i++)
        if (H->fx[i].kind == E_SEND && H->fx[i].replica == 2 && H->fx[i].type == BFT_MSG_HS_VOTE) {
            assert_int_equal(H->fx[i].view, 2);
            assert_int_equal(H->fx[i].to, 3); /* leader(3) */
        }
    assert_int_equal(status(2).view, 3);
}

static void test_impl_leader_restarted_before_parent_never_proposes_twice(void **state)
{
    (void)state;
    struct hs_qc g;
    hs_qc_genesis(&g);
    struct blk b1;
    make_block(&b1, 1, &g, NULL);
    submit(0, 1);
    struct bft_msg v = {.type = BFT_MSG_HS_VOTE, .view = 1, .seq = 1, .digest = b1.digest};
    deliver_raw(0, 2, &v);
    deliver_raw(1, 2, &v);
    deliver_raw(3, 2, &v);
    assert_int_equal(count_fx(E_SEND, 2, BFT_MSG_HS_PROPOSAL), N - 1);
    restart(2);
    /* The same QC again, and another request to propose: no second
     * proposal for view 2 (it would conflict with the first). */
    submit(0, 2);
    deliver_raw(0, 2, &v);
    deliver_raw(1, 2, &v);
    deliver_raw(3, 2, &v);
    respond_block(1, 2, &b1);
    assert_int_equal(count_fx(E_SEND, 2, BFT_MSG_HS_PROPOSAL), N - 1);
    assert_int_equal(count_fx(E_SEND, 2, BFT_MSG_HS_VOTE), 0);
    assert_true(status(2).view > 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_alg4_duplicate_vote_counts_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_4_2_qc_repeated_signer_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_4_2_qc_unknown_or_too_few_signers_rejected, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_4_4_qc_bad_signature_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alg3_proposal_needs_leader_and_valid_justify, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_5_three_chain_commit_needs_consecutive_views, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_impl_persist_vote_record_before_vote, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alg4_equivocating_proposal_gets_no_second_vote, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_4_4_second_vote_of_a_voter_in_a_view_is_equivocation,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(test_impl_leader_votes_for_own_proposal_once_parent_arrives,
                                        setup, teardown),
        cmocka_unit_test_setup_teardown(
            test_impl_leader_restarted_before_parent_never_proposes_twice, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
