/* Client library: read consistency levels (docs/reads.md). What goes on
 * the wire at each level, how many answers each level needs, a local
 * read's explicit stale refusal and its move to the next replica, the
 * ordered fallback once every replica refused, and the "level[:ms]"
 * syntax. A fake host records sends and completions; replies are signed
 * here with real Ed25519 replica keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "wire/wire.h"

#define N 4
#define F 1
#define CLUSTER 0xC2u
#define CLIENT_ID 5
#define MAX_SENT 64
#define MAX_DONE 16
#define MSG_CAP (BFT_HDR_LEN + 4096 + BFT_SIG_LEN)

struct fake {
    int n_sent, n_done;
    struct {
        uint32_t to;
        size_t len;
        uint8_t msg[MSG_CAP];
    } sent[MAX_SENT];
    struct {
        uint64_t id;
        char res[BFT_RESULT_MAX + 1];
    } done[MAX_DONE];
    struct crypto_keypair replica[N], client;
};

static void fake_send(void *ctx, uint32_t replica, const uint8_t *msg, size_t len)
{
    struct fake *fk = ctx;
    assert_true(fk->n_sent < MAX_SENT && len <= MSG_CAP);
    fk->sent[fk->n_sent].to = replica;
    fk->sent[fk->n_sent].len = len;
    memcpy(fk->sent[fk->n_sent].msg, msg, len);
    fk->n_sent++;
}

static void fake_done(void *ctx, uint64_t id, const uint8_t *res, size_t len)
{
    struct fake *fk = ctx;
    assert_true(fk->n_done < MAX_DONE && len <= BFT_RESULT_MAX);
    fk->done[fk->n_done].id = id;
    memcpy(fk->done[fk->n_done].res, res, len);
    fk->done[fk->n_done].res[len] = 0;
    fk->n_done++;
}

static int setup(void **state)
{
    if (crypto_init() != 0) return -1;
    struct fake *fk = calloc(1, sizeof *fk);
    uint8_t seed[CRYPTO_SEED_LEN];
    for (uint8_t i = 0; i <= N; i++) {
        memset(seed, i + 1, sizeof seed);
        crypto_keypair_from_seed(i < N ? &fk->replica[i] : &fk->client, seed);
    }
    *state = fk;
    return 0;
}

static int teardown(void **state)
{
    free(*state);
    return 0;
}

static struct bft_client *make(struct fake *fk, int protocol)
{
    struct bft_client_config cfg = {.protocol = protocol,
                                    .n = protocol == BFT_PROTO_RAFT ? 3 : N,
                                    .f = F,
                                    .id = CLIENT_ID,
                                    .cluster_id = CLUSTER,
                                    .key = fk->client,
                                    .retransmit_ms = 100,
                                    .envelope = 1,
                                    .max_outstanding = 8};
    for (int i = 0; i < N; i++)
        memcpy(cfg.replica_pk[i], fk->replica[i].pk, CRYPTO_PK_LEN);
    struct bft_client_host host = {.ctx = fk, .send = fake_send, .done = fake_done};
    struct bft_client *c = NULL;
    assert_int_equal(bft_client_create(&c, &cfg, &host), BFT_E_OK);
    return c;
}

/* A signed one-result REPLY from `from` for request/read `first`. */
static void reply(struct fake *fk, struct bft_client *c, uint32_t from, uint64_t first,
                  uint16_t flags, const char *result, uint64_t now_ms)
{
    uint8_t body[BFT_REPLY_HDR_LEN + BFT_REPLY_RANGE_LEN(1, 64)];
    struct bft_reply_wr w;
    bft_reply_wr_init(&w, body, sizeof body, CLIENT_ID);
    bft_reply_wr_range(&w, first);
    bft_reply_wr_result(&w, (const uint8_t *)result, strlen(result));
    size_t off = bft_reply_wr_finish(&w);
    assert_true(off > 0);
    struct bft_msg m = {.type = BFT_MSG_REPLY,
                        .flags = flags,
                        .sender = from,
                        .cluster_id = CLUSTER,
                        .seq = 1,
                        .body = body,
                        .body_len = (uint32_t)off};
    uint8_t msg[MSG_CAP];
    size_t len = bft_msg_encode(&m, msg, sizeof msg);
    assert_true(len > 0);
    const uint8_t *region;
    size_t rlen;
    uint8_t sig[BFT_SIG_LEN];
    bft_msg_signed_region(msg, &region, &rlen);
    crypto_sign_msg(&fk->replica[from], BFT_MSG_REPLY, CLUSTER, region, rlen, sig);
    bft_msg_set_sig(msg, sig);
    bft_client_on_reply(c, msg, len, now_ms);
}

static struct bft_msg sent_msg(struct fake *fk, int i)
{
    struct bft_msg m;
    assert_int_equal(bft_msg_decode(fk->sent[i].msg, fk->sent[i].len, &m), BFT_E_OK);
    assert_int_equal(m.type, BFT_MSG_REQUEST);
    return m;
}

static uint64_t read_at(struct bft_client *c, int level, uint32_t ms, uint64_t now)
{
    return bft_client_read_at(c, (const uint8_t *)"get", 3, level, ms, now);
}

static void test_level_names_parse(void **state)
{
    (void)state;
    int l = -1;
    uint32_t ms = 7;
    assert_int_equal(bft_read_level_parse("linearizable", &l, &ms), 0);
    assert_int_equal(l, BFT_READ_LINEARIZABLE);
    assert_int_equal(ms, 0);
    assert_int_equal(bft_read_level_parse("quorum", &l, &ms), 0);
    assert_int_equal(l, BFT_READ_QUORUM);
    assert_int_equal(bft_read_level_parse("local", &l, &ms), 0);
    assert_int_equal(l, BFT_READ_LOCAL);
    assert_int_equal(ms, BFT_READ_STALENESS_DEFAULT_MS);
    assert_int_equal(bft_read_level_parse("local:25", &l, &ms), 0);
    assert_int_equal(ms, 25);
    const char *bad[] = {"",         "lin",      "local:",         "local:0",           "local:-3",
                         "local:5x", "quorum:5", "linearizable:1", "local:99999999999", "LOCAL"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(bft_read_level_parse(bad[i], &l, &ms), -1);
    assert_string_equal(bft_read_level_name(BFT_READ_QUORUM), "quorum");
    assert_null(bft_read_level_name(BFT_READ_LEVELS));
}

static void test_invalid_level_refused(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make(fk, BFT_PROTO_PBFT);
    assert_int_equal(read_at(c, 3, 0, 0), 0);
    assert_int_equal(read_at(c, -1, 0, 0), 0);
    assert_int_equal(read_at(c, BFT_READ_LOCAL, 0, 0), 0); /* a local read needs a bound */
    assert_int_equal(fk->n_sent, 0);
    bft_client_destroy(c);
}

/* BFT quorum: ordered through consensus from the start (f+1 matching
 * replies of its execution), completing under the read's id. */
static void test_bft_quorum_is_ordered(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make(fk, BFT_PROTO_PBFT);
    uint64_t id = read_at(c, BFT_READ_QUORUM, 0, 0);
    assert_true(id != 0);
    assert_int_equal(fk->n_sent, 1); /* one ordered request, to the primary */
    struct bft_msg m = sent_msg(fk, 0);
    assert_int_equal(bft_req_flags(&m), 0);
    assert_int_equal(m.seq, 1);
    assert_int_equal(bft_client_read_fallback(c, id), 1);
    reply(fk, c, 0, 1, 0, "v", 0);
    assert_int_equal(fk->n_done, 0);
    reply(fk, c, 2, 1, 0, "v", 0);
    assert_int_equal(fk->n_done, 1);
    assert_int_equal(fk->done[0].id, id);
    bft_client_destroy(c);
}

/* Raft quorum: a read-only request flagged quorum, to the leader, whose
 * reply alone completes it (the leader ran a ReadIndex round). */
static void test_raft_quorum_flag(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make(fk, BFT_PROTO_RAFT);
    uint64_t id = read_at(c, BFT_READ_QUORUM, 0, 0);
    assert_int_equal(fk->n_sent, 1);
    struct bft_msg m = sent_msg(fk, 0);
    assert_int_equal(bft_req_flags(&m), BFT_REQ_READONLY | BFT_REQ_READ_QUORUM);
    assert_int_equal(m.seq, id);
    reply(fk, c, fk->sent[0].to, id, 0, "v", 0);
    assert_int_equal(fk->n_done, 1);
    bft_client_destroy(c);
}

/* Local: one replica asked, the bound in the header's view field, its
 * single signed answer accepted; answers from others are ignored. */
static void test_local_one_answer(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make(fk, BFT_PROTO_PBFT);
    uint64_t id = read_at(c, BFT_READ_LOCAL, 40, 0);
    assert_int_equal(fk->n_sent, 1);
    struct bft_msg m = sent_msg(fk, 0);
    assert_int_equal(bft_req_flags(&m), BFT_REQ_READONLY | BFT_REQ_READ_LOCAL);
    assert_int_equal(m.view, 40);
    uint32_t asked = fk->sent[0].to;
    reply(fk, c, (asked + 1) % N, id, 0, "other", 0);
    assert_int_equal(fk->n_done, 0);
    reply(fk, c, asked, id, 0, "mine", 0);
    assert_int_equal(fk->n_done, 1);
    assert_string_equal(fk->done[0].res, "mine");
    bft_client_destroy(c);
}

/* A stale refusal moves the read to the next replica, with the same
 * signed bytes; a timeout does too; once all n replicas refused or timed
 * out, the read is ordered. */
static void test_local_refusal_then_next_then_ordered(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make(fk, BFT_PROTO_HOTSTUFF);
    uint64_t id = read_at(c, BFT_READ_LOCAL, 10, 0);
    uint32_t seen = 0;
    seen |= 1u << fk->sent[0].to;
    reply(fk, c, fk->sent[0].to, id, BFT_REPLY_STALE, "", 0);
    assert_int_equal(fk->n_sent, 2);
    assert_int_equal(fk->n_done, 0);
    assert_int_equal(fk->sent[1].len, fk->sent[0].len);
    assert_memory_equal(fk->sent[1].msg, fk->sent[0].msg, fk->sent[0].len);
    seen |= 1u << fk->sent[1].to;
    assert_int_equal(__builtin_popcount(seen), 2);
    /* The second one times out. */
    assert_int_equal(bft_client_tick(c, 50), 50);
    bft_client_tick(c, 100);
    assert_int_equal(fk->n_sent, 3);
    seen |= 1u << fk->sent[2].to;
    reply(fk, c, fk->sent[2].to, id, BFT_REPLY_STALE, "", 100);
    seen |= 1u << fk->sent[3].to;
    assert_int_equal(seen, (1u << N) - 1); /* each replica asked once */
    struct bft_client_stats st;
    bft_client_stats(c, &st);
    assert_int_equal(st.read_refusals, 2);
    assert_int_equal(st.read_fallbacks, 0);
    reply(fk, c, fk->sent[3].to, id, BFT_REPLY_STALE, "", 100);
    bft_client_stats(c, &st);
    assert_int_equal(st.read_fallbacks, 1);
    uint64_t req = bft_client_read_fallback(c, id);
    assert_true(req != 0);
    for (uint32_t r = 0; r < F + 1; r++)
        reply(fk, c, r, req, 0, "ordered", 100);
    assert_int_equal(fk->n_done, 1);
    assert_int_equal(fk->done[0].id, id);
    assert_string_equal(fk->done[0].res, "ordered");
    bft_client_destroy(c);
}

/* A stale flag on anything but a local read is a bad reply. */
static void test_stale_flag_only_for_local(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make(fk, BFT_PROTO_PBFT);
    uint64_t id = read_at(c, BFT_READ_LINEARIZABLE, 0, 0);
    reply(fk, c, 0, id, BFT_REPLY_STALE, "", 0);
    struct bft_client_stats st;
    bft_client_stats(c, &st);
    assert_int_equal(st.bad_replies, 1);
    assert_int_equal(st.read_refusals, 0);
    bft_client_destroy(c);
}

/* Reads outstanding are bounded (16) whatever the level. */
static void test_reads_bounded(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make(fk, BFT_PROTO_RAFT);
    int ok = 0;
    for (int i = 0; i < 20; i++)
        ok += read_at(c, i % 2 ? BFT_READ_LOCAL : BFT_READ_QUORUM, 5, 0) != 0;
    assert_int_equal(ok, 16);
    bft_client_destroy(c);
}

/* The decoder's rules for the level bits (docs/wire.md): only on a
 * one-op read-only request, not both, and a local read names a bound in
 * 1..UINT32_MAX ms. A STALE flag is defined on REPLY only. */
static int decode_req(uint8_t flags, uint16_t count, uint64_t view)
{
    uint8_t body[4 + 2 * (2 + 3)], msg[256];
    size_t off = 0;
    body[off++] = (uint8_t)count;
    body[off++] = 0;
    body[off++] = flags;
    body[off++] = 0;
    for (uint16_t i = 0; i < count; i++) {
        body[off++] = 3;
        body[off++] = 0;
        memcpy(body + off, "get", 3);
        off += 3;
    }
    struct bft_msg m = {.type = BFT_MSG_REQUEST,
                        .sender = 1,
                        .view = view,
                        .seq = 9,
                        .body = body,
                        .body_len = (uint32_t)off};
    size_t len = bft_msg_encode(&m, msg, sizeof msg);
    assert_true(len > 0);
    struct bft_msg d;
    return bft_msg_decode(msg, len, &d);
}

static void test_wire_read_flags(void **state)
{
    (void)state;
    const uint8_t RO = BFT_REQ_READONLY, Q = BFT_REQ_READ_QUORUM, L = BFT_REQ_READ_LOCAL;
    assert_int_equal(decode_req(RO, 1, 0), BFT_E_OK);
    assert_int_equal(decode_req(RO | Q, 1, 0), BFT_E_OK);
    assert_int_equal(decode_req(RO | L, 1, 25), BFT_E_OK);
    assert_int_equal(decode_req(Q, 1, 0), BFT_E_MALFORMED);          /* not read-only */
    assert_int_equal(decode_req(RO | Q | L, 1, 5), BFT_E_MALFORMED); /* two levels */
    assert_int_equal(decode_req(RO | L, 1, 0), BFT_E_MALFORMED);     /* no bound */
    assert_int_equal(decode_req(RO | L, 1, 1ull << 32), BFT_E_MALFORMED);
    assert_int_equal(decode_req(RO | L, 2, 5), BFT_E_MALFORMED); /* one op per read */
    assert_int_equal(decode_req(0x08, 1, 0), BFT_E_MALFORMED);   /* undefined bit */
    /* REPLY: the STALE and NO_RESULT flags decode, any other flag does not. */
    /* client 0, one range: first 1, one empty result */
    uint8_t body[BFT_REPLY_HDR_LEN + BFT_REPLY_RANGE_LEN(1, 0)] = {0}, msg[256];
    body[4] = 1;
    body[6] = 1;
    body[14] = 1;
    struct bft_msg r = {
        .type = BFT_MSG_REPLY, .sender = 0, .seq = 1, .body = body, .body_len = sizeof body};
    struct bft_msg d;
    r.flags = BFT_REPLY_STALE;
    size_t len = bft_msg_encode(&r, msg, sizeof msg);
    assert_int_equal(bft_msg_decode(msg, len, &d), BFT_E_OK);
    assert_int_equal(d.flags, BFT_REPLY_STALE);
    r.flags = BFT_REPLY_NO_RESULT; /* a closed request: also one empty result */
    len = bft_msg_encode(&r, msg, sizeof msg);
    assert_int_equal(bft_msg_decode(msg, len, &d), BFT_E_OK);
    r.flags = 0x0004;
    len = bft_msg_encode(&r, msg, sizeof msg);
    assert_int_equal(bft_msg_decode(msg, len, &d), BFT_E_MALFORMED);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_level_names_parse),
        cmocka_unit_test(test_wire_read_flags),
        cmocka_unit_test_setup_teardown(test_invalid_level_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bft_quorum_is_ordered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_raft_quorum_flag, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_one_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_local_refusal_then_next_then_ordered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stale_flag_only_for_local, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reads_bounded, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
