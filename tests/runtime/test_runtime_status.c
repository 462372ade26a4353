/* runtime/runtime_status.c: peers heard within the window, "no quorum
 * since" (work, no commit for a whole window, since the later of the last
 * commit and the start of the work), the JSON page, and the status HTTP
 * server answering GET /status with the last published page. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>

#include "runtime/runtime_status.h"

#define W 3000u

static void test_peers_heard_within_window(void **state)
{
    (void)state;
    struct rt_status_track t;
    struct bft_node_stats st;
    memset(&st, 0, sizeof st);
    rt_status_track_init(&t, 4, 1, 3, W, 1000);
    uint32_t mask;
    assert_int_equal(rt_status_reachable(&t, 1000, &mask), 1); /* itself */
    assert_int_equal(mask, 1u << 1);
    st.heard_from[0] = 5;
    st.heard_from[3] = 1;
    rt_status_observe(&t, &st, 2000);
    assert_int_equal(rt_status_reachable(&t, 2000, &mask), 3);
    assert_int_equal(mask, (1u << 0) | (1u << 1) | (1u << 3));
    st.heard_from[0] = 6; /* 0 again at 4000, 3 silent since 2000 */
    rt_status_observe(&t, &st, 4000);
    assert_int_equal(rt_status_reachable(&t, 5000, &mask), 3);
    assert_int_equal(rt_status_reachable(&t, 5001, &mask), 2);
    assert_int_equal(mask, (1u << 0) | (1u << 1));
    rt_status_observe(&t, &st, 7001);
    assert_int_equal(rt_status_reachable(&t, 7001, &mask), 1);
}

static void test_idle_replica_is_not_short_of_quorum(void **state)
{
    (void)state;
    struct rt_status_track t;
    struct bft_node_stats st;
    memset(&st, 0, sizeof st);
    rt_status_track_init(&t, 4, 0, 3, W, 1000);
    for (uint64_t now = 1000; now < 20000; now += 200)
        rt_status_observe(&t, &st, now);
    assert_int_equal(t.no_quorum_ms, 0);
}

static void test_work_without_commit_is_short_since_the_work_began(void **state)
{
    (void)state;
    struct rt_status_track t;
    struct bft_node_stats st;
    memset(&st, 0, sizeof st);
    rt_status_track_init(&t, 4, 0, 3, W, 1000);
    st.last_executed = 10;
    rt_status_observe(&t, &st, 2000); /* a commit at 2000 */
    rt_status_observe(&t, &st, 5000); /* idle */
    st.requests_ordered = 1;          /* a request at 6000, never committed */
    uint64_t now = 6000;
    for (; now < 6000 + W; now += 200) {
        rt_status_observe(&t, &st, now);
        assert_int_equal(t.no_quorum_ms, 0); /* not a whole window yet */
    }
    rt_status_observe(&t, &st, 6000 + W);
    assert_int_equal(t.no_quorum_ms, 6000); /* the work, not the older commit */
    rt_status_observe(&t, &st, 20000);
    assert_int_equal(t.no_quorum_ms, 6000);
    st.last_executed = 11; /* progress again: no longer short */
    rt_status_observe(&t, &st, 20200);
    assert_int_equal(t.no_quorum_ms, 0);
}

static void test_view_change_without_commit_is_short(void **state)
{
    (void)state;
    struct rt_status_track t;
    struct bft_node_stats st;
    memset(&st, 0, sizeof st);
    rt_status_track_init(&t, 4, 0, 3, W, 1000);
    st.in_view_change = true;
    rt_status_observe(&t, &st, 1000);
    rt_status_observe(&t, &st, 1000 + W - 1);
    assert_int_equal(t.no_quorum_ms, 0);
    rt_status_observe(&t, &st, 1000 + W);
    assert_int_equal(t.no_quorum_ms, 1000);
    st.in_view_change = false; /* the view change completed */
    rt_status_observe(&t, &st, 9000);
    assert_int_equal(t.no_quorum_ms, 0);
}

/* Commits keep coming while requests keep arriving: never short. */
static void test_steady_load_is_not_short(void **state)
{
    (void)state;
    struct rt_status_track t;
    struct bft_node_stats st;
    memset(&st, 0, sizeof st);
    rt_status_track_init(&t, 4, 0, 3, W, 1000);
    for (uint64_t now = 1000; now < 30000; now += 200) {
        st.requests_ordered++;
        if (now % 1000 == 0) st.last_executed++;
        rt_status_observe(&t, &st, now);
        assert_int_equal(t.no_quorum_ms, 0);
    }
}

static cJSON *render(const struct rt_status_track *t, const struct bft_node_stats *st, int protocol)
{
    struct rt_status_info in = {.id = 1,
                                .n = 4,
                                .f = 1,
                                .protocol = protocol,
                                .wal_bytes = 4096,
                                .snapshot_bytes = 512,
                                .storage_error = "",
                                .now_ms = 10000,
                                .now_unix_ms = 1700000000000ull};
    char *text = rt_status_render(t, st, &in);
    assert_non_null(text);
    cJSON *o = cJSON_Parse(text);
    assert_non_null(o);
    free(text);
    return o;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsNumber(v));
    return v->valuedouble;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    assert_true(cJSON_IsString(v));
    return v->valuestring;
}

static void test_page_fields(void **state)
{
    (void)state;
    struct rt_status_track t;
    struct bft_node_stats st;
    memset(&st, 0, sizeof st);
    rt_status_track_init(&t, 4, 1, 3, W, 1000);
    st.heard_from[2] = 1;
    st.last_executed = 42;
    st.view = 3;
    st.leader = 3;
    st.rejected[BFT_REJECT_BAD_SIGNATURE] = 7;
    rt_status_observe(&t, &st, 9000);
    st.in_view_change = true;
    rt_status_observe(&t, &st, 9000); /* work from 9000 */
    t.no_quorum_ms = 6000;            /* as if short since 6000 */
    cJSON *o = render(&t, &st, BFT_PROTO_PBFT);
    assert_int_equal(num(o, "id"), 1);
    assert_string_equal(str(o, "protocol"), "pbft");
    assert_string_equal(str(o, "role"), "view-change");
    assert_string_equal(str(o, "view_kind"), "view");
    assert_int_equal(num(o, "view"), 3);
    assert_int_equal(num(o, "leader"), 3);
    assert_int_equal(num(o, "committed_seq"), 42);
    assert_int_equal(num(o, "last_commit_ms_ago"), 1000);
    assert_int_equal(num(o, "wal_bytes"), 4096);
    assert_int_equal(num(o, "snapshot_bytes"), 512);
    assert_int_equal(num(o, "peers_reachable_count"), 2);
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "no_quorum")));
    assert_true(num(o, "no_quorum_since_unix_ms") == 1700000000000.0 - 4000.0);
    assert_int_equal(num(o, "no_quorum_ms"), 4000);
    const cJSON *rej = cJSON_GetObjectItemCaseSensitive(o, "rejected");
    assert_int_equal(num(rej, "bad_signature"), 7);
    assert_int_equal(cJSON_GetArraySize(rej), BFT_REJECT__COUNT - BFT_REJECT__FIRST);
    const cJSON *ago = cJSON_GetObjectItemCaseSensitive(o, "heard_ms_ago");
    assert_int_equal(cJSON_GetArraySize(ago), 4);
    assert_true(cJSON_GetArrayItem(ago, 0)->valuedouble == -1); /* never */
    assert_true(cJSON_GetArrayItem(ago, 2)->valuedouble == 1000);
    cJSON_Delete(o);
    st.in_view_change = false;
    st.is_leader = true;
    o = render(&t, &st, BFT_PROTO_RAFT);
    assert_string_equal(str(o, "role"), "leader");
    assert_string_equal(str(o, "view_kind"), "term");
    cJSON_Delete(o);
}

static void test_roles(void **state)
{
    (void)state;
    struct bft_node_stats st;
    memset(&st, 0, sizeof st);
    assert_string_equal(rt_status_role(BFT_PROTO_PBFT, &st), "backup");
    assert_string_equal(rt_status_role(BFT_PROTO_HOTSTUFF, &st), "replica");
    assert_string_equal(rt_status_role(BFT_PROTO_RAFT, &st), "follower");
    st.in_view_change = true;
    assert_string_equal(rt_status_role(BFT_PROTO_RAFT, &st), "candidate");
    assert_string_equal(rt_status_role(BFT_PROTO_PBFT, &st), "view-change");
    st.in_view_change = false;
    st.is_leader = true;
    assert_string_equal(rt_status_role(BFT_PROTO_PBFT, &st), "primary");
    assert_string_equal(rt_status_role(BFT_PROTO_HOTSTUFF, &st), "leader");
}

/* GET /status over loopback returns what was published last. */
static void test_server_serves_last_page(void **state)
{
    (void)state;
    struct rt_status_server *s = NULL;
    char err[256];
    int port = 0, rv = -1;
    for (int k = 0; k < 50 && rv != 0; k++) {
        port = 20000 + (int)((unsigned)rand() % 20000);
        char url[64];
        snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
        rv = rt_status_server_start(&s, url, err, sizeof err);
    }
    assert_int_equal(rv, 0);
    const char *page = "{\"id\": 3, \"x\": true}";
    rt_status_server_publish(s, page, strlen(page));
    char url[80];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/status", port);
    nng_url *u;
    nng_http_client *cli;
    nng_http_req *req;
    nng_http_res *res;
    nng_aio *aio;
    assert_int_equal(nng_url_parse(&u, url), 0);
    assert_int_equal(nng_http_client_alloc(&cli, u), 0);
    assert_int_equal(nng_http_req_alloc(&req, u), 0);
    assert_int_equal(nng_http_res_alloc(&res), 0);
    assert_int_equal(nng_aio_alloc(&aio, NULL, NULL), 0);
    nng_aio_set_timeout(aio, 5000);
    nng_http_client_transact(cli, req, res, aio);
    nng_aio_wait(aio);
    assert_int_equal(nng_aio_result(aio), 0);
    assert_int_equal(nng_http_res_get_status(res), 200);
    void *body;
    size_t len;
    nng_http_res_get_data(res, &body, &len);
    assert_int_equal(len, strlen(page));
    assert_memory_equal(body, page, len);
    /* Stopped: the address serves nothing any more (a replica destroyed
     * and created again in one process needs it free). */
    rt_status_server_stop(s);
    nng_http_res_free(res);
    assert_int_equal(nng_http_res_alloc(&res), 0);
    nng_http_client_transact(cli, req, res, aio);
    nng_aio_wait(aio);
    assert_int_not_equal(nng_aio_result(aio), 0);
    nng_aio_free(aio);
    nng_http_res_free(res);
    nng_http_req_free(req);
    nng_http_client_free(cli);
    nng_url_free(u);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_peers_heard_within_window),
        cmocka_unit_test(test_idle_replica_is_not_short_of_quorum),
        cmocka_unit_test(test_work_without_commit_is_short_since_the_work_began),
        cmocka_unit_test(test_view_change_without_commit_is_short),
        cmocka_unit_test(test_steady_load_is_not_short),
        cmocka_unit_test(test_page_fields),
        cmocka_unit_test(test_roles),
        cmocka_unit_test(test_server_serves_last_page),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
