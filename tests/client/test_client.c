/* Client library: f+1 matching replies from distinct replicas (PBFT §4.1),
 * signature checks, retransmission with identical bytes, envelopes, the
 * outstanding bound, primary learning, and the Raft and HotStuff send
 * policies. A fake host records every send and every completion; replies
 * are built and signed here with real Ed25519 replica keys. */
#include "tests/client/client_test_util.h"

static void test_quorum_of_distinct_matching_replies(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 1, 16, false);
    assert_int_equal(submit(c, "op", 0), 1);
    assert_int_equal(fk->n_sent, 1);
    assert_int_equal(fk->sent[0].to, 0); /* the initial primary */
    check_request(fk, &fk->sent[0], 1, 1);

    reply1(fk, c, 0, 0, 1, "A");
    reply1(fk, c, 0, 0, 1, "A"); /* same replica again: one vote */
    assert_int_equal(fk->n_done, 0);
    reply1(fk, c, 1, 0, 1, "B"); /* mismatching result */
    assert_int_equal(fk->n_done, 0);
    reply1(fk, c, 2, 0, 1, "B"); /* second B from a distinct replica: f+1 */
    assert_int_equal(fk->n_done, 1);
    assert_int_equal(fk->done[0].req_no, 1);
    assert_int_equal(fk->done[0].len, 1);
    assert_memory_equal(fk->done[0].res, "B", 1);
    reply1(fk, c, 3, 0, 1, "B"); /* late reply for a completed request */
    assert_int_equal(fk->n_done, 1);

    struct bft_client_stats st;
    bft_client_stats(c, &st);
    assert_int_equal(st.submitted, 1);
    assert_int_equal(st.completed, 1);
    assert_int_equal(st.replies, 5);
    assert_int_equal(st.bad_replies, 0);
    assert_int_equal(bft_client_tick(c, 1000), UINT32_MAX); /* idle */
    bft_client_destroy(c);
}

static void test_bad_replies_rejected(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 1, 16, false);
    assert_int_equal(submit(c, "op", 0), 1);
    const char *a = "A";
    /* Replica 1's reply signed with replica 2's key. */
    reply_n(c, &fk->replica[2], 1, CLIENT_ID, 0, 1, 1, &a);
    /* Unsigned (all-zero signature). */
    reply_n(c, NULL, 3, CLIENT_ID, 0, 1, 1, &a);
    /* Sender outside the cluster, and a reply meant for another client. */
    reply_n(c, &fk->replica[0], 9, CLIENT_ID, 0, 1, 1, &a);
    reply_n(c, &fk->replica[0], 0, CLIENT_ID + 1, 0, 1, 1, &a);
    /* Not a message at all. */
    static const uint8_t junk[200] = {1, 2, 3};
    bft_client_on_reply(c, junk, sizeof junk, 0);
    struct bft_client_stats st;
    bft_client_stats(c, &st);
    assert_int_equal(st.bad_replies, 5);
    assert_int_equal(st.replies, 5);

    /* None of them counted: one honest reply is still not enough. */
    reply1(fk, c, 0, 0, 1, "A");
    assert_int_equal(fk->n_done, 0);
    /* The forged replica can still vote with its real signature. */
    reply1(fk, c, 1, 0, 1, "A");
    assert_int_equal(fk->n_done, 1);
    /* Replies for unknown requests are ignored, not counted as bad. */
    reply1(fk, c, 2, 0, 42, "A");
    bft_client_stats(c, &st);
    assert_int_equal(st.bad_replies, 5);
    assert_int_equal(st.replies, 8);
    bft_client_destroy(c);
}

static void test_retransmit_to_all_with_identical_bytes(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 1, 16, false);
    assert_int_equal(submit(c, "order-1", 1000), 1);
    assert_int_equal(fk->n_sent, 1);
    struct sent first = fk->sent[0];

    assert_int_equal(bft_client_tick(c, 1050), 50);
    assert_int_equal(fk->n_sent, 1);
    assert_int_equal(bft_client_tick(c, 1100), 200); /* sent; next wait doubles */
    assert_int_equal(fk->n_sent, 1 + N);
    for (int i = 1; i <= N; i++) {
        assert_int_equal(fk->sent[i].to, i - 1);
        assert_int_equal(fk->sent[i].len, first.len);
        assert_memory_equal(fk->sent[i].msg, first.msg, first.len);
        check_request(fk, &fk->sent[i], 1, 1);
    }
    /* Backoff 200, 400, 800, then capped at 8 x 100. */
    assert_int_equal(bft_client_tick(c, 1300), 400);
    assert_int_equal(bft_client_tick(c, 1700), 800);
    assert_int_equal(bft_client_tick(c, 2500), 800);
    assert_int_equal(bft_client_tick(c, 2600), 700);
    assert_int_equal(fk->n_sent, 1 + 4 * N);
    for (int i = 1; i < fk->n_sent; i++)
        assert_memory_equal(fk->sent[i].msg, first.msg, first.len);
    struct bft_client_stats st;
    bft_client_stats(c, &st);
    assert_int_equal(st.retransmits, 4);

    /* Once it completes, nothing is retransmitted. */
    reply1(fk, c, 0, 0, 1, "ok");
    reply1(fk, c, 3, 0, 1, "ok");
    assert_int_equal(fk->n_done, 1);
    assert_int_equal(bft_client_tick(c, 10000), UINT32_MAX);
    assert_int_equal(fk->n_sent, 1 + 4 * N);
    bft_client_destroy(c);
}

static void test_envelope_of_k_ops(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 4, 64, false);
    for (uint64_t i = 1; i <= 3; i++)
        assert_int_equal(submit(c, "op", 0), i);
    assert_int_equal(fk->n_sent, 0); /* waits for the envelope to fill */
    assert_int_equal(bft_client_tick(c, 0), UINT32_MAX);
    assert_int_equal(submit(c, "op4", 0), 4);
    assert_int_equal(fk->n_sent, 1);
    check_request(fk, &fk->sent[0], 1, 4);
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(fk->sent[0].msg, fk->sent[0].len, &m), BFT_E_OK);
    assert_int_equal(m.body_len, 4 + 3 * (2 + 2) + (2 + 3));

    /* One reply per replica covers the whole envelope. */
    const char *res[4] = {"r1", "r2", "r3", "r4"};
    reply_n(c, &fk->replica[1], 1, CLIENT_ID, 0, 1, 4, res);
    assert_int_equal(fk->n_done, 0);
    reply_n(c, &fk->replica[2], 2, CLIENT_ID, 0, 1, 4, res);
    assert_int_equal(fk->n_done, 4);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(fk->done[i].req_no, i + 1);
        assert_memory_equal(fk->done[i].res, res[i], 2);
    }

    /* A partial envelope goes out on flush, numbered on from 5. */
    assert_int_equal(submit(c, "op5", 10), 5);
    assert_int_equal(submit(c, "op6", 10), 6);
    assert_int_equal(fk->n_sent, 1);
    bft_client_flush(c, 10);
    assert_int_equal(fk->n_sent, 2);
    check_request(fk, &fk->sent[1], 5, 2);
    bft_client_flush(c, 10); /* nothing left to send */
    assert_int_equal(fk->n_sent, 2);
    bft_client_destroy(c);
}

static void test_max_outstanding_enforced(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 1, 3, false);
    for (uint64_t i = 1; i <= 3; i++)
        assert_int_equal(submit(c, "op", 0), i);
    assert_int_equal(submit(c, "op", 0), 0);
    assert_int_equal(submit(c, "op", 0), 0);
    reply1(fk, c, 0, 0, 1, "x");
    reply1(fk, c, 1, 0, 1, "x");
    assert_int_equal(fk->n_done, 1);
    assert_int_equal(submit(c, "op", 0), 4); /* numbering never skips */
    assert_int_equal(submit(c, "op", 0), 0);
    /* Invalid ops are refused too. */
    assert_int_equal(bft_client_submit(c, (const uint8_t *)"", 0, 0), 0);
    struct bft_client_stats st;
    bft_client_stats(c, &st);
    assert_int_equal(st.submitted, 4);
    bft_client_destroy(c);
}

static void test_primary_learned_from_reply_view(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 1, 16, false);
    assert_int_equal(submit(c, "a", 0), 1);
    assert_int_equal(fk->sent[0].to, 0);
    /* One replica claiming view 7 is not believed (could be a liar)... */
    reply1(fk, c, 3, 7, 1, "r");
    assert_int_equal(submit(c, "b", 0), 2);
    assert_int_equal(fk->sent[1].to, 0);
    /* ...but f+1 replicas at view >= 5 are: primary = 5 mod 4 = 1. */
    reply1(fk, c, 2, 5, 1, "r");
    assert_int_equal(fk->n_done, 1);
    assert_int_equal(submit(c, "c", 0), 3);
    assert_int_equal(fk->n_sent, 3);
    assert_int_equal(fk->sent[2].to, 1);
    bft_client_destroy(c);
}

static void test_hotstuff_first_send_to_all(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_HOTSTUFF, 1, 16, false);
    assert_int_equal(submit(c, "a", 0), 1);
    assert_int_equal(fk->n_sent, N);
    for (int i = 0; i < N; i++)
        assert_int_equal(fk->sent[i].to, i);
    reply1(fk, c, 0, 3, 1, "r");
    reply1(fk, c, 1, 3, 1, "r");
    assert_int_equal(fk->n_done, 1);
    bft_client_destroy(c);
}

static void test_raft_follows_leader(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_RAFT, 1, 16, false);
    assert_int_equal(submit(c, "a", 0), 1);
    assert_int_equal(fk->sent[0].to, 0);
    /* Timeout: try the next replica, one at a time, round-robin. */
    bft_client_tick(c, 100);
    assert_int_equal(fk->n_sent, 2);
    assert_int_equal(fk->sent[1].to, 1);
    assert_memory_equal(fk->sent[1].msg, fk->sent[0].msg, fk->sent[0].len);
    bft_client_tick(c, 300);
    assert_int_equal(fk->n_sent, 3);
    assert_int_equal(fk->sent[2].to, 2);
    /* The leader's reply alone completes it (Raft signs nothing by
     * default: an unsigned reply is accepted), and its sender is leader. */
    const char *r = "ok";
    reply_n(c, NULL, 2, CLIENT_ID, 4, 1, 1, &r);
    assert_int_equal(fk->n_done, 1);
    assert_int_equal(submit(c, "b", 0), 2);
    assert_int_equal(fk->sent[3].to, 2);
    bft_client_destroy(c);
}

static void test_null_crypto(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 1, 16, true);
    assert_int_equal(submit(c, "a", 0), 1);
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(fk->sent[0].msg, fk->sent[0].len, &m), BFT_E_OK);
    static const uint8_t zero[BFT_SIG_LEN];
    assert_memory_equal(m.sig, zero, BFT_SIG_LEN);
    const char *r = "ok";
    reply_n(c, NULL, 0, CLIENT_ID, 0, 1, 1, &r);
    assert_int_equal(fk->n_done, 0); /* still f+1 */
    reply_n(c, NULL, 1, CLIENT_ID, 0, 1, 1, &r);
    assert_int_equal(fk->n_done, 1);
    bft_client_destroy(c);
}

/* A replica that reconnects (restarted) gets the requests waiting out a
 * backoff at once: they are due now and their backoff starts over. A
 * request not yet in backoff keeps its deadline. */
static void test_reconnect_ends_the_backoff(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_RAFT, 1, 16, false);
    assert_int_equal(submit(c, "order-1", 1000), 1);
    assert_int_equal(bft_client_tick(c, 1100), 200); /* retransmitted once */
    assert_int_equal(bft_client_tick(c, 1300), 400); /* and again */
    assert_int_equal(submit(c, "order-2", 1350), 2); /* first send only */
    int sent = fk->n_sent;
    bft_client_peers_up(c, 0, 1400); /* nobody came back: nothing */
    assert_int_equal(bft_client_tick(c, 1400), 50);
    assert_int_equal(fk->n_sent, sent);
    bft_client_peers_up(c, 1u << 1, 1400);
    assert_int_equal(bft_client_tick(c, 1400), 50); /* request 2's deadline */
    assert_int_equal(fk->n_sent, sent + 1);         /* request 1, now */
    check_request(fk, &fk->sent[sent], 1, 1);
    /* Request 1's backoff started over: 100, doubled to 200 when sent at
     * 1400, so next at 1600 (not at 1700 + 800); request 2 at 1450. */
    assert_int_equal(bft_client_tick(c, 1450), 150);
    assert_int_equal(bft_client_tick(c, 1600), 50);
    assert_int_equal(fk->n_sent, sent + 3);
    bft_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_quorum_of_distinct_matching_replies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_replies_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retransmit_to_all_with_identical_bytes, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_envelope_of_k_ops, setup, teardown),
        cmocka_unit_test_setup_teardown(test_max_outstanding_enforced, setup, teardown),
        cmocka_unit_test_setup_teardown(test_primary_learned_from_reply_view, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hotstuff_first_send_to_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raft_follows_leader, setup, teardown),
        cmocka_unit_test_setup_teardown(test_null_crypto, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconnect_ends_the_backoff, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
