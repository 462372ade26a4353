/* REPLYs that cover several envelopes (client/client_reply.c, docs/wire.md
 * "REPLY"): results are matched per request across ranges and replies;
 * the signature is checked only if some range is still useful, once per
 * REPLY; a liar's malformed range list (overlapping, out of order, count
 * 0, too long, reaching the read numbers, a read mixed with writes) is
 * counted in bad_replies and changes nothing, and ranges outside the
 * window are ignored without blame; NO_RESULT votes close a request only
 * with f+1 of them (Raft: the leader's). */
#include "tests/client/client_test_util.h"

static const char *const AB[] = {"a", "b"}, *const CD[] = {"c", "d"}, *const EF[] = {"e", "f"};

/* A client with envelopes of 2 and 6 requests sent: [1,2] [3,4] [5,6]. */
static struct bft_client *three_envelopes(struct fake *fk, int protocol)
{
    struct bft_client *c = make_client(fk, protocol, 2, 16, false);
    static const char *const ops[] = {"o1", "o2", "o3", "o4", "o5", "o6"};
    for (uint64_t i = 0; i < 6; i++)
        assert_int_equal(submit(c, ops[i], 0), i + 1);
    return c;
}

static struct bft_client_stats stats(const struct bft_client *c)
{
    struct bft_client_stats st;
    bft_client_stats(c, &st);
    return st;
}

static bool completed(const struct fake *fk, uint64_t req_no, const char *res)
{
    for (int i = 0; i < fk->n_done; i++)
        if (fk->done[i].req_no == req_no)
            return fk->done[i].len == strlen(res) &&
                   memcmp(fk->done[i].res, res, fk->done[i].len) == 0;
    return false;
}

/* One REPLY per replica per batch: ranges from different replies and
 * different groupings still count per request, f+1 matching. */
static void test_results_matched_per_request_across_ranges(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = three_envelopes(fk, BFT_PROTO_PBFT);
    /* Replica 0 executed [1,2] and [5,6] in one batch, [3,4] later. */
    const struct test_range r0[] = {{1, 2, AB}, {5, 2, EF}};
    reply_ranges(c, &fk->replica[0], 0, CLIENT_ID, 0, 2, r0);
    assert_int_equal(fk->n_done, 0);
    /* Replica 2 had all three in one batch. */
    const struct test_range r2[] = {{1, 2, AB}, {3, 2, CD}, {5, 2, EF}};
    reply_ranges(c, &fk->replica[2], 2, CLIENT_ID, 0, 3, r2);
    assert_int_equal(fk->n_done, 4); /* 1, 2, 5, 6 have f+1 = 2 */
    assert_true(completed(fk, 1, "a") && completed(fk, 2, "b"));
    assert_true(completed(fk, 5, "e") && completed(fk, 6, "f"));
    reply_n(c, &fk->replica[0], 0, CLIENT_ID, 0, 3, 2, CD);
    assert_int_equal(fk->n_done, 6);
    assert_true(completed(fk, 3, "c") && completed(fk, 4, "d"));
    assert_int_equal(stats(c).bad_replies, 0);
    bft_client_destroy(c);
}

/* The cheap check comes first: a REPLY none of whose ranges is useful
 * (all done, or already answered by that replica) is dropped before its
 * signature is looked at, so even a forged one is not counted as bad. */
static void test_signature_checked_only_when_useful(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = three_envelopes(fk, BFT_PROTO_PBFT);
    const struct test_range all[] = {{1, 2, AB}, {3, 2, CD}, {5, 2, EF}};
    reply_ranges(c, &fk->replica[0], 0, CLIENT_ID, 0, 3, all);
    /* Replica 0 again, now with a bad signature: nothing new in it. */
    reply_ranges(c, &fk->replica[1], 0, CLIENT_ID, 0, 3, all);
    assert_int_equal(stats(c).bad_replies, 0);
    /* Replica 1 with a bad signature: useful, so checked, and refused. */
    reply_ranges(c, &fk->replica[2], 1, CLIENT_ID, 0, 3, all);
    assert_int_equal(stats(c).bad_replies, 1);
    assert_int_equal(fk->n_done, 0);
    reply_ranges(c, &fk->replica[3], 3, CLIENT_ID, 0, 3, all);
    assert_int_equal(fk->n_done, 6);
    /* Everything done: a forged reply is dropped unchecked. */
    reply_ranges(c, NULL, 1, CLIENT_ID, 0, 3, all);
    assert_int_equal(stats(c).bad_replies, 1);
    bft_client_destroy(c);
}

/* A liar's REPLY body, signed with its real key. */
static void liar_body(struct fake *fk, struct bft_client *c, const uint8_t *body, size_t len)
{
    reply_body(c, &fk->replica[1], 1, 0, body, len);
}

/* u32 client | u16 n_ranges, then ranges of (first, count, count x "x"). */
static size_t raw_ranges(uint8_t *body, size_t cap, uint16_t n_ranges, const uint64_t *first,
                         const uint16_t *count, uint16_t claimed)
{
    struct wire_wr w;
    wire_wr_init(&w, body, cap);
    wire_put_u32(&w, CLIENT_ID);
    wire_put_u16(&w, claimed);
    for (uint16_t i = 0; i < n_ranges; i++) {
        wire_put_u64(&w, first[i]);
        wire_put_u16(&w, count[i]);
        for (uint16_t k = 0; k < count[i]; k++) {
            wire_put_u16(&w, 1);
            wire_put_u8(&w, 'x');
        }
    }
    assert_false(w.err);
    return w.len;
}

/* Every broken range list counts once in bad_replies and records
 * nothing: afterwards two honest replicas still complete every request
 * with their result, not the liar's. */
static void test_liar_ranges_counted_and_dropped(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = three_envelopes(fk, BFT_PROTO_PBFT);
    static uint8_t body[4096];
    const uint64_t R = 1ull << 62; /* where read ids start */
    struct {
        uint16_t n;
        uint64_t first[3];
        uint16_t count[3];
        uint16_t claimed; /* n_ranges in the header */
    } bad[] = {
        {2, {1, 2}, {2, 2}, 2},                  /* overlapping */
        {2, {3, 1}, {2, 2}, 2},                  /* out of order */
        {2, {1, 1}, {2, 2}, 2},                  /* the same range twice */
        {1, {1}, {0}, 1},                        /* count 0 */
        {1, {1}, {BFT_ENVELOPE_MAX_OPS + 1}, 1}, /* too long */
        {1, {1}, {2}, 0},                        /* no range claimed */
        {1, {1}, {2}, 2},                        /* more ranges claimed than sent */
        {2, {1, 3}, {2, 2}, 1},                  /* fewer: trailing bytes */
        {1, {0}, {2}, 1},                        /* request number 0 */
        {1, {UINT64_MAX}, {1}, 1},               /* wraps */
        {1, {R - 1}, {2}, 1},                    /* an ordered range into the read numbers */
        {2, {1, R + 1}, {2, 1}, 2},              /* writes and a read in one reply */
        {2, {R + 1, R + 2}, {1, 1}, 2},          /* a read answered with two ranges */
        {1, {R + 1}, {2}, 1},                    /* a read answered with two results */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len =
            raw_ranges(body, sizeof body, bad[i].n, bad[i].first, bad[i].count, bad[i].claimed);
        liar_body(fk, c, body, len);
        assert_int_equal(stats(c).bad_replies, i + 1);
    }
    /* A liar's STALE flag on ordered results. */
    const struct test_range ok[] = {{1, 2, AB}, {3, 2, CD}, {5, 2, EF}};
    uint8_t good[256];
    struct bft_reply_wr w;
    bft_reply_wr_init(&w, good, sizeof good, CLIENT_ID);
    for (int i = 0; i < 3; i++) {
        bft_reply_wr_range(&w, ok[i].first);
        for (int k = 0; k < 2; k++)
            bft_reply_wr_result(&w, (const uint8_t *)ok[i].results[k], 1);
    }
    size_t gl = bft_reply_wr_finish(&w);
    reply_flagged(fk, c, 1, BFT_REPLY_STALE, good, gl, 0);
    /* ... and its NO_RESULT flag on results that are not empty. */
    reply_flagged(fk, c, 1, BFT_REPLY_NO_RESULT, good, gl, 0);
    size_t n_bad = sizeof bad / sizeof bad[0] + 2;
    assert_int_equal(stats(c).bad_replies, n_bad);
    assert_int_equal(fk->n_done, 0);

    /* The liar's vote was never recorded: "x" never completes anything,
     * and two honest replicas complete all six. */
    reply_ranges(c, &fk->replica[0], 0, CLIENT_ID, 0, 3, ok);
    assert_int_equal(fk->n_done, 0);
    reply_ranges(c, &fk->replica[2], 2, CLIENT_ID, 0, 3, ok);
    assert_int_equal(fk->n_done, 6);
    assert_true(completed(fk, 1, "a") && completed(fk, 6, "f"));
    assert_int_equal(stats(c).bad_replies, n_bad);
    bft_client_destroy(c);
}

/* Ranges outside the window are ignored, not blamed: a late reply and
 * the reply to another client object of the same id (a session's retry)
 * look the same. A range partly inside counts for the part inside. */
static void test_ranges_outside_the_window_ignored(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_client(fk, BFT_PROTO_PBFT, 1, 16, false);
    assert_int_equal(submit(c, "op", 0), 1);
    static const char *const X8[] = {"x", "x", "x", "x", "x", "x", "x", "x"};
    const struct test_range ahead[] = {{100, 8, X8}};
    reply_ranges(c, &fk->replica[1], 1, CLIENT_ID, 0, 1, ahead);
    assert_int_equal(stats(c).bad_replies, 0);
    /* [1, 9) reaches past what was sent: request 1 counts. */
    const struct test_range partly[] = {{1, 8, X8}, {100, 8, X8}};
    reply_ranges(c, &fk->replica[1], 1, CLIENT_ID, 0, 2, partly);
    reply_ranges(c, &fk->replica[2], 2, CLIENT_ID, 0, 2, partly);
    assert_int_equal(fk->n_done, 1);
    assert_true(completed(fk, 1, "x"));
    assert_int_equal(stats(c).bad_replies, 0);
    /* Submitted later, request 2 gets no vote from those old replies. */
    assert_int_equal(submit(c, "op", 0), 2);
    reply1(fk, c, 3, 0, 2, "y");
    assert_int_equal(fk->n_done, 1);
    bft_client_destroy(c);
}

/* Raft: the leader's one REPLY completes every request in it. */
static void test_raft_leader_reply_completes_all_ranges(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = three_envelopes(fk, BFT_PROTO_RAFT);
    const struct test_range r[] = {{1, 2, AB}, {3, 2, CD}, {5, 2, EF}};
    reply_ranges(c, NULL, 2, CLIENT_ID, 0, 3, r); /* Raft replies are unsigned */
    assert_int_equal(fk->n_done, 6);
    assert_true(completed(fk, 4, "d"));
    assert_int_equal(stats(c).bad_replies, 0);
    bft_client_destroy(c);
}

static struct {
    int n;
    uint64_t req_no[8];
} closed;

static void on_no_result(void *ctx, uint64_t req_no)
{
    (void)ctx;
    assert_true(closed.n < 8);
    closed.req_no[closed.n++] = req_no;
}

/* A NO_RESULT reply for [first, first + count): empty results. */
static size_t no_result_body(uint8_t *body, size_t cap, uint64_t first, uint16_t count)
{
    struct bft_reply_wr w;
    bft_reply_wr_init(&w, body, cap, CLIENT_ID);
    bft_reply_wr_range(&w, first);
    for (uint16_t i = 0; i < count; i++)
        bft_reply_wr_result(&w, NULL, 0);
    return bft_reply_wr_finish(&w);
}

/* Closed without a result (docs/wire.md "REPLY"): f+1 matching NO_RESULT
 * votes complete a request through no_result, never as a result; they do
 * not match a result, so one honest result and one NO_RESULT complete
 * nothing; a host without no_result gets done with an empty result; the
 * Raft leader's alone is enough. */
static void test_no_result_needs_f_plus_1(void **state)
{
    struct fake *fk = *state;
    memset(&closed, 0, sizeof closed);
    struct bft_client_host host = {.done = fake_done, .no_result = on_no_result};
    struct bft_client *c = make_client_host(fk, BFT_PROTO_PBFT, 2, 16, false, &host);
    assert_int_equal(submit(c, "o1", 0), 1);
    assert_int_equal(submit(c, "o2", 0), 2);
    uint8_t body[256];
    size_t len = no_result_body(body, sizeof body, 1, 2);
    reply_flagged(fk, c, 0, BFT_REPLY_NO_RESULT, body, len, 0);
    reply_n(c, &fk->replica[1], 1, CLIENT_ID, 0, 1, 2, AB); /* one real result each */
    assert_int_equal(closed.n + fk->n_done, 0);
    reply_flagged(fk, c, 2, BFT_REPLY_NO_RESULT, body, len, 0); /* f+1 = 2 closed */
    assert_int_equal(closed.n, 2);
    assert_int_equal(closed.req_no[0], 1);
    assert_int_equal(closed.req_no[1], 2);
    assert_int_equal(fk->n_done, 0);
    assert_int_equal(stats(c).bad_replies, 0);
    bft_client_destroy(c);

    /* Raft, and a host without no_result: the leader's alone, as done
     * with an empty result. */
    c = make_client(fk, BFT_PROTO_RAFT, 1, 16, false);
    assert_int_equal(submit(c, "o1", 0), 1);
    reply_flagged(fk, c, 1, BFT_REPLY_NO_RESULT, body, no_result_body(body, sizeof body, 1, 1), 0);
    assert_int_equal(fk->n_done, 1);
    assert_int_equal(fk->done[0].req_no, 1);
    assert_int_equal(fk->done[0].len, 0);
    bft_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_results_matched_per_request_across_ranges, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_signature_checked_only_when_useful, setup, teardown),
        cmocka_unit_test_setup_teardown(test_liar_ranges_counted_and_dropped, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ranges_outside_the_window_ignored, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raft_leader_reply_completes_all_ranges, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_no_result_needs_f_plus_1, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
