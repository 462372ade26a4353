/* Equivocation (faults/behaviour.c) and ByzzFuzz mutations (mutate.c):
 * two validly signed, conflicting proposals to disjoint halves, always the
 * same variant to the same half; votes for both digests; Raft entries in an
 * opaque body; ByzzFuzz runs replay exactly from a seed. */
#include "test_faults_fixture.h"

static uint8_t pp2[16384];

static void check_equivocation(uint32_t n, int count)
{
    const char *specs[] = {"0:equivocate", NULL};
    struct fault_actor *a = make_actor(n, 0, specs, BFT_PROTO_PBFT, NULL);
    size_t len = make_pre_prepare(pp, sizeof pp, count, 2, 17);
    struct bft_msg orig;
    assert_int_equal(bft_msg_decode(pp, len, &orig), BFT_E_OK);
    /* Twice: the same half must get the same variant every time. */
    broadcast(a, 0, n, 0, pp, len);
    broadcast(a, 5, n, 0, pp, len);
    assert_int_equal(cap.count, 2 * (n - 1));
    uint32_t half_a = 0, half_b = 0;
    const struct emitted *variant = NULL;
    for (uint32_t i = 0; i < cap.count; i++) {
        const struct emitted *e = &cap.e[i];
        struct bft_msg m = decode_ok(e);
        assert_true(verifies(e->msg, e->len, 0));
        assert_int_equal(m.type, BFT_MSG_PRE_PREPARE);
        assert_true(m.view == 2 && m.seq == 17);
        bft_digest d;
        bft_batch_digest(m.payload, m.payload_len, &d);
        assert_memory_equal(&d, &m.digest, sizeof d); /* a well-formed proposal */
        bool is_orig = e->len == len && memcmp(e->msg, pp, len) == 0;
        /* Original to the first half of the others in id order. */
        assert_int_equal(is_orig, e->dest <= (n - 1 + 1) / 2);
        if (is_orig) {
            half_a |= 1u << e->dest;
            continue;
        }
        half_b |= 1u << e->dest;
        assert_memory_not_equal(&m.digest, &orig.digest, sizeof d);
        if (!variant) variant = e;
        assert_int_equal(e->len, variant->len);
        assert_memory_equal(e->msg, variant->msg, e->len);
    }
    assert_int_equal(half_a & half_b, 0);
    assert_int_equal(half_a | half_b, ((1u << n) - 1) & ~1u);
    assert_non_null(variant);
    struct bft_msg v = decode_ok(variant);
    struct bft_batch_iter it;
    assert_int_equal(bft_batch_iter_init(&it, v.payload, v.payload_len), BFT_E_OK);
    assert_int_equal(it.left, count == 1 ? 2 : count);

    /* As a voter at the same (view, seq) it votes for both digests, the
     * variant's first to the half that got the variant. */
    cap_reset();
    uint8_t vote[512];
    size_t vl = make_vote(vote, sizeof vote, BFT_MSG_PREPARE, 0, 2, 17, &orig.digest);
    broadcast(a, 10, n, 0, vote, vl);
    assert_int_equal(cap.count, 2 * (n - 1));
    for (uint32_t i = 0; i < cap.count; i += 2) {
        assert_int_equal(cap.e[i].dest, cap.e[i + 1].dest);
        struct bft_msg m1 = decode_ok(&cap.e[i]), m2 = decode_ok(&cap.e[i + 1]);
        assert_true(verifies(cap.e[i].msg, cap.e[i].len, 0));
        assert_true(verifies(cap.e[i + 1].msg, cap.e[i + 1].len, 0));
        assert_int_equal(m1.type, BFT_MSG_PREPARE);
        assert_true(m1.view == m2.view && m1.seq == m2.seq);
        assert_memory_not_equal(&m1.digest, &m2.digest, sizeof m1.digest);
        bool b = cap.e[i].dest > (n - 1 + 1) / 2;
        const struct bft_msg *first_orig = b ? &m2 : &m1, *other = b ? &m1 : &m2;
        assert_memory_equal(&first_orig->digest, &orig.digest, sizeof orig.digest);
        assert_memory_equal(&other->digest, &v.digest, sizeof v.digest);
    }
    struct fault_actor_stats st;
    fault_actor_stats(a, &st);
    assert_true(st.equivocated >= 2 * (n - 1) / 2);
    fault_actor_destroy(a);
    cap_reset();
}

static void test_equivocate_pre_prepare(void **state)
{
    (void)state;
    check_equivocation(4, 3);
    check_equivocation(7, 2);
    check_equivocation(4, 1); /* a single request is doubled */
}

static void test_equivocate_hotstuff_vote(void **state)
{
    (void)state;
    const char *specs[] = {"2:equivocate", NULL};
    struct fault_actor *a = make_actor(4, 2, specs, BFT_PROTO_HOTSTUFF, NULL);
    bft_digest d = {{1, 2, 3}};
    uint8_t vote[512];
    size_t vl = make_vote(vote, sizeof vote, BFT_MSG_HS_VOTE, 2, 9, 0, &d);
    fault_actor_outgoing(a, 0, 3, vote, vl, on_emit, &cap); /* to the next leader only */
    assert_int_equal(cap.count, 2);
    struct bft_msg m1 = decode_ok(&cap.e[0]), m2 = decode_ok(&cap.e[1]);
    assert_true(verifies(cap.e[0].msg, cap.e[0].len, 2) && verifies(cap.e[1].msg, cap.e[1].len, 2));
    assert_memory_not_equal(&m1.digest, &m2.digest, sizeof d);
    assert_true(m1.view == 9 && m2.view == 9);
    fault_actor_destroy(a);
}

/* Raft: entries live in an opaque body; requests of equal length are
 * swapped, unsigned messages stay unsigned; grants go to every candidate. */
static void test_raft_equivocation(void **state)
{
    (void)state;
    const char *specs[] = {"0:equivocate", NULL};
    struct fault_actor *a = make_actor(3, 0, specs, BFT_PROTO_RAFT, NULL);
    uint8_t body[1024];
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    wire_put_u64(&w, 3); /* some core-defined prefix */
    for (int i = 0; i < 2; i++) {
        uint8_t req[256];
        size_t l = make_request(req, sizeof req, 10 + (uint64_t)i, (uint8_t)(0x61 + i));
        wire_put_u64(&w, 3); /* entry term */
        wire_put_u32(&w, (uint32_t)l);
        wire_put_bytes(&w, req, l);
    }
    struct bft_msg m = {.type = BFT_MSG_RAFT_APPEND,
                        .sender = 0,
                        .cluster_id = CLUSTER,
                        .view = 3,
                        .seq = 7,
                        .body = body,
                        .body_len = (uint32_t)w.len};
    size_t len = bft_msg_encode(&m, pp, sizeof pp); /* zero signature: unsigned Raft */
    broadcast(a, 0, 3, 0, pp, len);
    assert_int_equal(cap.count, 2);
    assert_int_equal(cap.e[0].dest, 1);
    assert_memory_equal(cap.e[0].msg, pp, len);
    assert_int_equal(cap.e[1].dest, 2);
    assert_int_equal(cap.e[1].len, len);
    assert_memory_not_equal(cap.e[1].msg, pp, len);
    struct bft_msg v = decode_ok(&cap.e[1]);
    uint8_t zero[BFT_SIG_LEN] = {0};
    assert_memory_equal(v.sig, zero, sizeof zero);
    /* The two requests traded places, intact. */
    size_t off0 = 8 + 12, l0 = (w.len - 8) / 2 - 12;
    struct bft_msg r;
    assert_int_equal(bft_msg_decode(v.body + off0, l0, &r), BFT_E_OK);
    assert_int_equal(r.seq, 11);

    cap_reset();
    m = (struct bft_msg){.type = BFT_MSG_RAFT_VOTE_RESP, .cluster_id = CLUSTER, .view = 4};
    uint8_t grant[8] = {1};
    m.body = grant;
    m.body_len = sizeof grant;
    len = bft_msg_encode(&m, pp2, sizeof pp2);
    fault_actor_outgoing(a, 0, 1, pp2, len, on_emit, &cap);
    assert_int_equal(cap.count, 2);
    assert_int_equal(cap.e[0].dest, 1);
    assert_int_equal(cap.e[1].dest, 2);
    assert_memory_equal(cap.e[1].msg, pp2, len);
    fault_actor_destroy(a);
}

static uint64_t run_byzzfuzz(uint64_t seed)
{
    struct byzzfuzz_schedule s;
    char err[256];
    struct byzzfuzz_config bc = {
        .n = 4, .byz = 0, .rounds = 4, .proc_faults = 6, .net_faults = 2, .round_ms = 100};
    assert_int_equal(byzzfuzz_generate(&s, &bc, seed, err, sizeof err), BFT_E_OK);
    struct fault_plan p;
    fault_plan_init(&p, 4, seed);
    assert_int_equal(byzzfuzz_to_plan(&s, &p, err, sizeof err), BFT_E_OK);
    struct fault_actor_config c = {.plan = &p,
                                   .protocol = BFT_PROTO_PBFT,
                                   .n = 4,
                                   .f = 1,
                                   .self = 0,
                                   .cluster_id = CLUSTER,
                                   .request_timeout_ms = 1000,
                                   .key = keys[0],
                                   .byzzfuzz = &s};
    struct fault_actor *a;
    assert_int_equal(fault_actor_create(&a, &c, err, sizeof err), BFT_E_OK);
    uint64_t h = 1469598103934665603ull;
    uint32_t mutated = 0;
    cap_reset();
    for (uint64_t t = 0; t < 400; t += 10) {
        size_t len = make_pre_prepare(pp, sizeof pp, 2, 0, 1 + t / 10);
        uint32_t before = cap.count;
        broadcast(a, t, 4, 0, pp, len);
        for (uint32_t i = before; i < cap.count; i++) {
            const struct emitted *e = &cap.e[i];
            if (e->len != len || memcmp(e->msg, pp, len) != 0) {
                mutated++;
                /* A mutation is aimed at the recipients of this round. */
                assert_non_null(byzzfuzz_fault_at(&s, e->dest, t));
                assert_true(verifies(e->msg, e->len, 0)); /* re-signed: valid */
            }
            for (size_t k = 0; k < e->len; k++)
                h = (h ^ e->msg[k]) * 1099511628211ull;
            h = (h ^ e->dest) * 1099511628211ull;
        }
    }
    assert_true(mutated > 0);
    fault_actor_destroy(a);
    cap_reset();
    return h;
}

static void test_byzzfuzz_deterministic(void **state)
{
    (void)state;
    uint64_t a = run_byzzfuzz(11), b = run_byzzfuzz(11), c = run_byzzfuzz(12);
    assert_true(a == b);
    assert_true(a != c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_equivocate_pre_prepare, teardown_each),
        cmocka_unit_test_teardown(test_equivocate_hotstuff_vote, teardown_each),
        cmocka_unit_test_teardown(test_raft_equivocation, teardown_each),
        cmocka_unit_test_teardown(test_byzzfuzz_deterministic, teardown_each),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
