/* The fault actor (faults/actor.c, mutate.c): each behaviour's effect on
 * crafted PRE_PREPAREs, PREPAREs and COMMITs, checked by decoding what comes
 * out and verifying its signature the way a receiver would; time windows;
 * bounds on spontaneous traffic; pluggable signers. Equivocation and
 * ByzzFuzz are in test_faults_equivocate.c. */
#include "test_faults_fixture.h"

static void test_silent(void **state)
{
    (void)state;
    const char *specs[] = {"0:silent@1-2", NULL};
    struct fault_actor *a = make_actor(4, 0, specs, BFT_PROTO_PBFT, NULL);
    size_t len = make_pre_prepare(pp, sizeof pp, 3, 0, 1);
    broadcast(a, 999, 4, 0, pp, len); /* before the window: passes */
    assert_int_equal(cap.count, 3);
    for (uint32_t i = 0; i < 3; i++)
        assert_memory_equal(cap.e[i].msg, pp, len);
    cap_reset();
    broadcast(a, 1000, 4, 0, pp, len);
    fault_actor_outgoing(a, 1500, FAULT_CLIENT | 3, pp, len, on_emit, &cap);
    fault_actor_tick(a, 1500, on_emit, &cap);
    assert_int_equal(cap.count, 0);
    broadcast(a, 2000, 4, 0, pp, len); /* after: passes again */
    assert_int_equal(cap.count, 3);
    assert_true(fault_actor_active(a, 1000, FAULT_SILENT));
    assert_false(fault_actor_active(a, 2000, FAULT_SILENT));
    struct fault_actor_stats st;
    fault_actor_stats(a, &st);
    assert_int_equal(st.seen, 10);
    assert_int_equal(st.dropped, 4);
    fault_actor_destroy(a);
}

static void test_badsig(void **state)
{
    (void)state;
    const char *specs[] = {"0:badsig", NULL};
    struct fault_actor *a = make_actor(4, 0, specs, BFT_PROTO_PBFT, NULL);
    size_t len = make_pre_prepare(pp, sizeof pp, 2, 0, 1);
    assert_true(verifies(pp, len, 0));
    for (int k = 0; k < 20; k++)
        broadcast(a, 0, 4, 0, pp, len);
    assert_int_equal(cap.count, 60);
    for (uint32_t i = 0; i < cap.count; i++) {
        struct bft_msg m = decode_ok(&cap.e[i]); /* well-formed */
        assert_int_equal(m.type, BFT_MSG_PRE_PREPARE);
        assert_int_equal(cap.e[i].len, len);
        assert_false(verifies(cap.e[i].msg, cap.e[i].len, 0));
    }
    fault_actor_destroy(a);
}

static void test_forge(void **state)
{
    (void)state;
    const char *specs[] = {"1:forge", NULL};
    struct fault_actor *a = make_actor(4, 1, specs, BFT_PROTO_PBFT, NULL);
    bft_digest d = {{9}};
    uint8_t vote[512];
    size_t vl = make_vote(vote, sizeof vote, BFT_MSG_COMMIT, 1, 0, 5, &d);
    uint32_t claimed_dest = 0, claimed_other = 0;
    for (int k = 0; k < 4; k++) {
        cap_reset();
        fault_actor_outgoing(a, 0, 2, vote, vl, on_emit, &cap);
        assert_int_equal(cap.count, 2);
        assert_memory_equal(cap.e[0].msg, vote, vl); /* the genuine one */
        struct bft_msg m = decode_ok(&cap.e[1]);
        assert_int_not_equal(m.sender, 1);
        assert_false(verifies(cap.e[1].msg, cap.e[1].len, m.sender)); /* claimed: fails */
        /* ...because it is signed with the forger's own key. */
        const uint8_t *region;
        size_t rlen;
        bft_msg_signed_region(cap.e[1].msg, &region, &rlen);
        assert_true(crypto_verify_msg(keys[1].pk, m.type, CLUSTER, region, rlen, m.sig));
        if (m.sender == 2)
            claimed_dest++;
        else
            claimed_other++;
    }
    assert_true(claimed_dest > 0 && claimed_other > 0);
    fault_actor_destroy(a);
}

static void test_replay(void **state)
{
    (void)state;
    const char *specs[] = {"0:replay", NULL};
    struct fault_params params = {.replay_per_tick = 5};
    struct fault_actor *a = make_actor(4, 0, specs, BFT_PROTO_PBFT, &params);
    uint8_t old[3][512];
    size_t old_len[3];
    for (int i = 0; i < 3; i++) {
        bft_digest d = {{(uint8_t)i}};
        old_len[i] = make_vote(old[i], sizeof old[i], BFT_MSG_PREPARE, 0, 0, 1 + (uint64_t)i, &d);
        broadcast(a, 0, 4, 0, old[i], old_len[i]);
    }
    cap_reset();
    fault_actor_tick(a, 10, on_emit, &cap);
    assert_int_equal(cap.count, 5);
    for (uint32_t i = 0; i < cap.count; i++) {
        bool match = false;
        for (int k = 0; k < 3; k++)
            match = match ||
                    (cap.e[i].len == old_len[k] && memcmp(cap.e[i].msg, old[k], old_len[k]) == 0);
        assert_true(match);
        assert_true(verifies(cap.e[i].msg, cap.e[i].len, 0)); /* genuinely signed */
        assert_int_not_equal(cap.e[i].dest, 0);
    }
    fault_actor_destroy(a);
}

static void test_stale(void **state)
{
    (void)state;
    const char *specs[] = {"0:stale", NULL};
    struct fault_actor *a = make_actor(4, 0, specs, BFT_PROTO_PBFT, NULL);
    size_t len = make_pre_prepare(pp, sizeof pp, 2, 5, 40);
    broadcast(a, 0, 4, 0, pp, len);
    assert_int_equal(cap.count, 3);
    for (uint32_t i = 0; i < cap.count; i++) {
        struct bft_msg m = decode_ok(&cap.e[i]);
        assert_true(m.view < 5 && m.view >= 2);
        assert_true(m.seq == 40);
        assert_true(verifies(cap.e[i].msg, cap.e[i].len, 0));
    }
    fault_actor_destroy(a);
}

static void test_flood_bounded(void **state)
{
    (void)state;
    const char *specs[] = {"3:flood@1", NULL};
    struct fault_params params = {.flood_per_tick = 50};
    struct fault_actor *a = make_actor(4, 3, specs, BFT_PROTO_PBFT, &params);
    fault_actor_tick(a, 0, on_emit, &cap); /* before its window */
    assert_int_equal(cap.count, 0);
    bft_digest d = {{7}};
    uint8_t vote[512];
    size_t vl = make_vote(vote, sizeof vote, BFT_MSG_PREPARE, 3, 1, 100, &d);
    broadcast(a, 1000, 4, 3, vote, vl);
    for (int t = 0; t < 10; t++) {
        cap_reset();
        fault_actor_tick(a, 1000 + 10 * (uint64_t)t, on_emit, &cap);
        assert_true(cap.count <= 50);
        assert_true(cap.count >= 30); /* it really floods */
        for (uint32_t i = 0; i < cap.count; i++) {
            struct bft_msg m = decode_ok(&cap.e[i]);
            assert_true(m.type == BFT_MSG_PREPARE || m.type == BFT_MSG_COMMIT);
            assert_true(m.seq >= 100);
            assert_true(verifies(cap.e[i].msg, cap.e[i].len, 3));
            assert_true(cap.e[i].dest < 3);
        }
    }
    fault_actor_destroy(a);
}

static void test_junk(void **state)
{
    (void)state;
    const char *specs[] = {"1:junk", NULL};
    struct fault_params params = {.junk_per_tick = 8};
    struct fault_actor *a = make_actor(4, 1, specs, BFT_PROTO_PBFT, &params);
    bft_digest d = {{7}};
    uint8_t vote[512];
    size_t vl = make_vote(vote, sizeof vote, BFT_MSG_PREPARE, 1, 1, 3, &d);
    uint32_t corrupted = 0, passed = 0;
    for (int k = 0; k < 200; k++) {
        cap_reset();
        fault_actor_outgoing(a, 0, 0, vote, vl, on_emit, &cap);
        assert_int_equal(cap.count, 1);
        struct bft_msg m;
        if (cap.e[0].len == vl && memcmp(cap.e[0].msg, vote, vl) == 0) {
            passed++;
        } else {
            corrupted++;
            assert_int_not_equal(bft_msg_decode(cap.e[0].msg, cap.e[0].len, &m), BFT_E_OK);
        }
    }
    assert_true(corrupted > 20 && passed > 100); /* about one in four */
    cap_reset();
    fault_actor_tick(a, 0, on_emit, &cap);
    assert_int_equal(cap.count, 8);
    for (uint32_t i = 0; i < cap.count; i++) {
        struct bft_msg m;
        assert_int_not_equal(bft_msg_decode(cap.e[i].msg, cap.e[i].len, &m), BFT_E_OK);
        assert_true(FAULT_DEST_ID(cap.e[i].dest) != 1 && FAULT_DEST_ID(cap.e[i].dest) < 4);
    }
    fault_actor_destroy(a);
}

static void test_slow_and_withhold(void **state)
{
    (void)state;
    const char *specs[] = {"0:slow", NULL};
    struct fault_actor *a = make_actor(4, 0, specs, BFT_PROTO_PBFT, NULL);
    size_t len = make_pre_prepare(pp, sizeof pp, 2, 0, 1);
    broadcast(a, 0, 4, 0, pp, len);
    fault_actor_outgoing(a, 0, FAULT_CLIENT | 5, pp, len, on_emit, &cap);
    assert_int_equal(cap.count, 4);
    for (uint32_t i = 0; i < 4; i++) {
        assert_int_equal(cap.e[i].delay_ms, 600); /* 60% of the 1000 ms timeout */
        assert_memory_equal(cap.e[i].msg, pp, len);
    }
    assert_int_equal(cap.e[3].dest, FAULT_CLIENT | 5);
    fault_actor_destroy(a);
    cap_reset();

    struct fault_params params = {.slow_delay_ms = 123};
    a = make_actor(4, 0, specs, BFT_PROTO_PBFT, &params);
    fault_actor_outgoing(a, 0, 1, pp, len, on_emit, &cap);
    assert_int_equal(cap.e[0].delay_ms, 123);
    fault_actor_destroy(a);
    cap_reset();

    const char *wspecs[] = {"2:withhold", NULL};
    a = make_actor(7, 2, wspecs, BFT_PROTO_PBFT, NULL); /* f = 2 */
    bft_digest d = {{1}};
    uint8_t vote[512];
    size_t vl = make_vote(vote, sizeof vote, BFT_MSG_COMMIT, 2, 0, 1, &d);
    broadcast(a, 0, 7, 2, vote, vl);
    assert_int_equal(cap.count, 2);
    assert_int_equal(cap.e[0].dest, 3);
    assert_int_equal(cap.e[1].dest, 4);
    fault_actor_destroy(a);
}

/* The simulator plugs its own signer (null crypto). */
static void null_sign(void *ctx, uint32_t domain, const uint8_t *region, size_t len,
                      uint8_t sig[BFT_SIG_LEN])
{
    (*(int *)ctx)++;
    memset(sig, 0, BFT_SIG_LEN);
    crypto_sha256_2(&domain, sizeof domain, region, len, sig);
}

static void sign_whole(void *ctx, uint8_t *msg, size_t len)
{
    (*(int *)ctx)++;
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(msg, len, &m), BFT_E_OK);
    uint8_t sig[BFT_SIG_LEN];
    memset(sig, 0xab, sizeof sig);
    bft_msg_set_sig(msg, sig);
}

static void test_custom_signer(void **state)
{
    (void)state;
    struct fault_plan p;
    char err[256];
    fault_plan_init(&p, 4, 1);
    assert_int_equal(fault_plan_add_fault(&p, "1:stale", err, sizeof err), BFT_E_OK);
    int calls = 0;
    struct fault_actor_config c = {.plan = &p,
                                   .protocol = BFT_PROTO_PBFT,
                                   .n = 4,
                                   .f = 1,
                                   .self = 1,
                                   .cluster_id = CLUSTER,
                                   .sign = null_sign,
                                   .sign_ctx = &calls};
    struct fault_actor *a;
    assert_int_equal(fault_actor_create(&a, &c, err, sizeof err), BFT_E_OK);
    bft_digest d = {{4}};
    uint8_t vote[512];
    size_t vl = make_vote(vote, sizeof vote, BFT_MSG_PREPARE, 1, 3, 1, &d);
    fault_actor_outgoing(a, 0, 0, vote, vl, on_emit, &cap);
    assert_int_equal(calls, 1);
    struct bft_msg m = decode_ok(&cap.e[0]);
    const uint8_t *region;
    size_t rlen;
    bft_msg_signed_region(cap.e[0].msg, &region, &rlen);
    uint8_t want[BFT_SIG_LEN] = {0};
    uint32_t domain = BFT_MSG_PREPARE;
    crypto_sha256_2(&domain, sizeof domain, region, rlen, want);
    assert_memory_equal(m.sig, want, sizeof want);
    fault_actor_destroy(a);

    /* A signer of whole encoded messages (the simulator's sim_sign_as). */
    cap_reset();
    c.sign = NULL;
    c.sign_encoded = sign_whole;
    assert_int_equal(fault_actor_create(&a, &c, err, sizeof err), BFT_E_OK);
    fault_actor_outgoing(a, 0, 0, vote, vl, on_emit, &cap);
    assert_int_equal(calls, 2);
    m = decode_ok(&cap.e[0]);
    memset(want, 0xab, sizeof want);
    assert_memory_equal(m.sig, want, sizeof want);
    assert_true(m.view < 3);
    fault_actor_destroy(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_silent, teardown_each),
        cmocka_unit_test_teardown(test_badsig, teardown_each),
        cmocka_unit_test_teardown(test_forge, teardown_each),
        cmocka_unit_test_teardown(test_replay, teardown_each),
        cmocka_unit_test_teardown(test_stale, teardown_each),
        cmocka_unit_test_teardown(test_flood_bounded, teardown_each),
        cmocka_unit_test_teardown(test_junk, teardown_each),
        cmocka_unit_test_teardown(test_slow_and_withhold, teardown_each),
        cmocka_unit_test_teardown(test_custom_signer, teardown_each),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
