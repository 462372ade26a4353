/* One batch verification for the node and the HotStuff core
 * (core/batch_verify.c): the digest binds the bytes, the batch parses,
 * every envelope is a client REQUEST without payload, from a known client,
 * that its client signed. Each refusal names its reason. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

#define CLIENTS 4

static uint32_t g_bad_client = UINT32_MAX; /* its signatures do not verify */
static uint32_t g_verified;

static bool verify_request(void *ctx, const struct bft_msg *req)
{
    (void)ctx;
    g_verified++;
    return req->sender != g_bad_client;
}

static const struct bft_env g_env = {.verify_request = verify_request};

/* One encoded REQUEST from client `sender`, one op. */
static size_t make_req(uint8_t *out, size_t cap, uint8_t type, uint32_t sender, bool payload)
{
    uint8_t body[8];
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    wire_put_u16(&w, 1);  /* count */
    wire_put_u8(&w, 0);   /* flags */
    wire_put_u8(&w, 0);   /* reserved */
    wire_put_u16(&w, 1);  /* op length */
    wire_put_u8(&w, 'x'); /* op */
    static const uint8_t pay[3] = {1, 2, 3};
    struct bft_msg m = {.type = type,
                        .sender = sender,
                        .cluster_id = 5,
                        .seq = 1,
                        .body = body,
                        .body_len = (uint32_t)w.len,
                        .payload = payload ? pay : NULL,
                        .payload_len = payload ? sizeof pay : 0};
    size_t len = bft_msg_encode(&m, out, cap);
    assert_true(len > 0);
    return len;
}

/* A batch of the given envelopes. */
static size_t make_batch(uint8_t *out, size_t cap, uint8_t *reqs[], const size_t lens[], uint16_t n)
{
    struct wire_wr w;
    wire_wr_init(&w, out, cap);
    wire_put_u16(&w, n);
    for (uint16_t i = 0; i < n; i++) {
        wire_put_u32(&w, (uint32_t)lens[i]);
        wire_put_bytes(&w, reqs[i], lens[i]);
    }
    assert_false(w.err);
    return w.len;
}

static uint8_t g_r0[512], g_r1[512], g_batch[2048];

static int verify_pair(uint8_t type1, uint32_t sender1, bool payload1, bool good_digest)
{
    size_t lens[2] = {make_req(g_r0, sizeof g_r0, BFT_MSG_REQUEST, 0, false),
                      make_req(g_r1, sizeof g_r1, type1, sender1, payload1)};
    uint8_t *reqs[2] = {g_r0, g_r1};
    size_t len = make_batch(g_batch, sizeof g_batch, reqs, lens, 2);
    bft_digest d;
    bft_batch_digest(g_batch, len, &d);
    if (!good_digest) d.b[0] ^= 1;
    return bft_batch_verify(&g_env, CLIENTS, g_batch, len, &d);
}

static void test_good_batch_passes(void **state)
{
    (void)state;
    g_verified = 0;
    assert_int_equal(verify_pair(BFT_MSG_REQUEST, 3, false, true), BFT_REJECT_NONE);
    assert_int_equal(g_verified, 2); /* every request checked */
}

static void test_digest_must_bind_batch(void **state)
{
    (void)state;
    g_verified = 0;
    assert_int_equal(verify_pair(BFT_MSG_REQUEST, 3, false, false), BFT_REJECT_MALFORMED);
    assert_int_equal(g_verified, 0); /* refused before any signature work */
}

static void test_unparsable_batch(void **state)
{
    (void)state;
    uint8_t junk[6] = {2, 0, 0xff, 0xff, 0, 0}; /* two envelopes, the first too long */
    bft_digest d;
    bft_batch_digest(junk, sizeof junk, &d);
    assert_int_equal(bft_batch_verify(&g_env, CLIENTS, junk, sizeof junk, &d),
                     BFT_REJECT_MALFORMED);
}

static void test_only_plain_requests(void **state)
{
    (void)state;
    /* An envelope that is not a REQUEST, or a REQUEST with a payload. */
    assert_int_equal(verify_pair(BFT_MSG_HS_VOTE, 1, false, true), BFT_REJECT_MALFORMED);
    assert_int_equal(verify_pair(BFT_MSG_REQUEST, 1, true, true), BFT_REJECT_MALFORMED);
}

static void test_unknown_client(void **state)
{
    (void)state;
    assert_int_equal(verify_pair(BFT_MSG_REQUEST, CLIENTS, false, true), BFT_REJECT_UNKNOWN_SENDER);
    /* n_clients 0: the range is not known here, the signature decides. */
    size_t lens[1] = {make_req(g_r1, sizeof g_r1, BFT_MSG_REQUEST, CLIENTS, false)};
    uint8_t *reqs[1] = {g_r1};
    size_t len = make_batch(g_batch, sizeof g_batch, reqs, lens, 1);
    bft_digest d;
    bft_batch_digest(g_batch, len, &d);
    assert_int_equal(bft_batch_verify(&g_env, 0, g_batch, len, &d), BFT_REJECT_NONE);
}

static void test_forged_request(void **state)
{
    (void)state;
    g_bad_client = 2;
    assert_int_equal(verify_pair(BFT_MSG_REQUEST, 2, false, true), BFT_REJECT_BAD_SIGNATURE);
    g_bad_client = UINT32_MAX;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_batch_passes), cmocka_unit_test(test_digest_must_bind_batch),
        cmocka_unit_test(test_unparsable_batch),  cmocka_unit_test(test_only_plain_requests),
        cmocka_unit_test(test_unknown_client),    cmocka_unit_test(test_forged_request),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
