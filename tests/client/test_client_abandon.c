/* The pure client's pieces the session relies on (client/client.h): a
 * first request number other than 1, giving up on a request or a read
 * (no more retransmissions, the slot freed, a late reply ignored), and the
 * next number it will hand out. */
#include "client_test_util.h"

static struct bft_client *make_from(struct fake *fk, uint64_t first, uint32_t max_outstanding)
{
    struct bft_client_config cfg = {.protocol = BFT_PROTO_PBFT,
                                    .n = N,
                                    .f = F,
                                    .id = CLIENT_ID,
                                    .cluster_id = CLUSTER,
                                    .key = fk->client,
                                    .retransmit_ms = 100,
                                    .envelope = 1,
                                    .max_outstanding = max_outstanding,
                                    .first_req_no = first};
    for (int i = 0; i < N; i++)
        memcpy(cfg.replica_pk[i], fk->replica[i].pk, CRYPTO_PK_LEN);
    struct bft_client_host host = {.ctx = fk, .send = fake_send, .done = fake_done};
    struct bft_client *c = NULL;
    assert_int_equal(bft_client_create(&c, &cfg, &host), BFT_E_OK);
    return c;
}

static void test_first_req_no(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_from(fk, 1000000, 4);
    assert_int_equal(bft_client_next_req_no(c), 1000000);
    assert_int_equal(submit(c, "a", 0), 1000000);
    check_request(fk, &fk->sent[0], 1000000, 1);
    assert_int_equal(bft_client_next_req_no(c), 1000001);
    reply1(fk, c, 0, 0, 1000000, "r");
    reply1(fk, c, 1, 0, 1000000, "r");
    assert_int_equal(fk->n_done, 1);
    assert_int_equal(fk->done[0].req_no, 1000000);
    bft_client_destroy(c);
    /* Numbers up in the read id space are refused at create. */
    struct bft_client_config cfg = {.protocol = BFT_PROTO_PBFT,
                                    .n = N,
                                    .f = F,
                                    .retransmit_ms = 100,
                                    .envelope = 1,
                                    .max_outstanding = 1,
                                    .first_req_no = 1ull << 62};
    struct bft_client_host host = {.ctx = fk, .send = fake_send, .done = fake_done};
    assert_int_equal(bft_client_create(&c, &cfg, &host), BFT_E_INVALID);
}

static void test_abandon_frees_and_ignores_late_replies(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_from(fk, 5, 1);
    assert_int_equal(submit(c, "a", 0), 5);
    assert_int_equal(bft_client_room(c), 0);
    assert_int_equal(bft_client_abandon(c, 5), 0);
    assert_int_equal(bft_client_abandon(c, 5), -1); /* once */
    assert_int_equal(bft_client_abandon(c, 99), -1);
    assert_int_equal(bft_client_room(c), 1);
    int sent = fk->n_sent;
    assert_int_equal(bft_client_tick(c, 1000), UINT32_MAX); /* nothing to resend */
    assert_int_equal(fk->n_sent, sent);
    reply1(fk, c, 0, 0, 5, "late");
    reply1(fk, c, 1, 0, 5, "late");
    assert_int_equal(fk->n_done, 0);
    /* The next request takes the next number: 5 is not reused. */
    assert_int_equal(submit(c, "b", 1000), 6);
    struct bft_client_stats st;
    bft_client_stats(c, &st);
    assert_int_equal(st.abandoned, 1);
    bft_client_destroy(c);
}

static void test_read_abandon(void **state)
{
    struct fake *fk = *state;
    struct bft_client *c = make_from(fk, 7, 4);
    uint64_t id = bft_client_read_at(c, (const uint8_t *)"q", 1, BFT_READ_QUORUM, 0, 0);
    assert_true(id != 0);
    /* BFT quorum reads are ordered: the read took request number 7. */
    assert_int_equal(bft_client_read_fallback(c, id), 7);
    assert_int_equal(bft_client_read_abandon(c, id), 0);
    assert_int_equal(bft_client_read_abandon(c, id), -1);
    assert_int_equal(bft_client_room(c), 4); /* its ordered request is gone too */
    reply1(fk, c, 0, 0, 7, "v");
    reply1(fk, c, 1, 0, 7, "v");
    assert_int_equal(fk->n_done, 0);
    bft_client_destroy(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_first_req_no, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abandon_frees_and_ignores_late_replies, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_read_abandon, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
