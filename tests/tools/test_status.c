/* bftctl status (tools/bftctl_status_*.c): a page rendered by the replica
 * (runtime/runtime_status.c) parses back field for field, the table says
 * "no quorum since" with the time, an unreachable replica gets its reason,
 * --json is JSON holding each page, and junk pages are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <cmocka.h>

#include "runtime/runtime_status.h"
#include "tools/bftctl_status.h"

/* 2026-12-07 02:00:00 UTC */
#define NOW_UNIX_MS 1796608800000ull

static char *page(bool short_of_quorum)
{
    struct rt_status_track t;
    struct bft_node_stats st;
    memset(&st, 0, sizeof st);
    rt_status_track_init(&t, 4, 2, 3, 3000, 1000);
    st.heard_from[0] = st.heard_from[3] = 1;
    st.last_executed = 77;
    st.view = 5;
    st.leader = 1;
    st.rejected[BFT_REJECT_MALFORMED] = 2;
    rt_status_observe(&t, &st, 4000);
    if (short_of_quorum) {
        st.requests_ordered = 1;
        rt_status_observe(&t, &st, 5000);
        rt_status_observe(&t, &st, 9000); /* short since 5000: 4 s */
    }
    struct rt_status_info in = {.id = 2,
                                .n = 4,
                                .f = 1,
                                .protocol = BFT_PROTO_PBFT,
                                .wal_bytes = 3u << 20,
                                .snapshot_bytes = 2048,
                                .storage_error = "",
                                .now_ms = 9000,
                                .now_unix_ms = NOW_UNIX_MS};
    char *text = rt_status_render(&t, &st, &in);
    assert_non_null(text);
    return text;
}

static void test_page_parses_back(void **state)
{
    (void)state;
    char *text = page(true);
    struct ctl_status_row r;
    memset(&r, 0, sizeof r);
    assert_int_equal(ctl_status_parse(text, strlen(text), &r), 0);
    assert_true(r.answered);
    assert_string_equal(r.role, "backup");
    assert_string_equal(r.view_kind, "view");
    assert_int_equal(r.view, 5);
    assert_int_equal(r.leader, 1);
    assert_int_equal(r.committed, 77);
    assert_int_equal(r.wal_bytes, 3u << 20);
    assert_int_equal(r.snapshot_bytes, 2048);
    assert_int_equal(r.n, 4);
    assert_int_equal(r.reachable, 1); /* heard at 4000; the window ended at 7000 */
    assert_int_equal(r.reachable_mask, 1u << 2);
    assert_int_equal(r.rejected[BFT_REJECT_MALFORMED], 2);
    assert_true(r.no_quorum);
    assert_true(r.no_quorum_ms == 4000);
    assert_true(r.no_quorum_since_unix_ms == (double)(NOW_UNIX_MS - 4000));
    free(text);
}

static void test_junk_pages_refused(void **state)
{
    (void)state;
    static const char *const junk[] = {"", "[]", "{\"id\": 1}", "<html>", "{\"committed_seq\""};
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        struct ctl_status_row r;
        memset(&r, 0, sizeof r);
        assert_int_equal(ctl_status_parse(junk[i], strlen(junk[i]), &r), -1);
        assert_false(r.answered);
        assert_true(strstr(r.error, "not a status page") != NULL);
    }
}

static struct bft_cluster cluster(void)
{
    struct bft_cluster cl;
    memset(&cl, 0, sizeof cl);
    cl.protocol = BFT_PROTO_PBFT;
    cl.n = 2;
    cl.f = 0;
    cl.cluster_id = 0xabc;
    return cl;
}

static void rows_for(struct ctl_status_row rows[2], char *text)
{
    memset(rows, 0, 2 * sizeof *rows);
    rows[0].id = 0;
    snprintf(rows[0].url, sizeof rows[0].url, "http://10.77.0.1:7100");
    snprintf(rows[0].error, sizeof rows[0].error, "no answer (timed out)");
    rows[1].id = 1;
    snprintf(rows[1].url, sizeof rows[1].url, "http://10.77.0.2:7101");
    assert_int_equal(ctl_status_parse(text, strlen(text), &rows[1]), 0);
    rows[1].raw = text;
}

static void test_table(void **state)
{
    (void)state;
    struct bft_cluster cl = cluster();
    struct ctl_status_row rows[2];
    rows_for(rows, page(true));
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    ctl_status_print(f, &cl, rows, NOW_UNIX_MS);
    fclose(f);
    assert_non_null(strstr(out, "1/2 replicas answered at 02:00:00 UTC"));
    assert_non_null(strstr(out, "unreachable: no answer (timed out)"));
    assert_non_null(strstr(out, "no quorum since 01:59:56 UTC (4 s)"));
    assert_non_null(strstr(out, "malformed:2"));
    assert_non_null(strstr(out, "3.0M"));
    free(out);
    ctl_status_rows_free(rows, 2);
    rows_for(rows, page(false));
    out = NULL;
    f = open_memstream(&out, &len);
    ctl_status_print(f, &cl, rows, NOW_UNIX_MS);
    fclose(f);
    assert_null(strstr(out, "no quorum"));
    free(out);
    ctl_status_rows_free(rows, 2);
}

static void test_json(void **state)
{
    (void)state;
    struct bft_cluster cl = cluster();
    struct ctl_status_row rows[2];
    rows_for(rows, page(true));
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    ctl_status_print_json(f, &cl, rows, NOW_UNIX_MS);
    fclose(f);
    cJSON *o = cJSON_Parse(out);
    assert_non_null(o);
    assert_int_equal(cJSON_GetObjectItem(o, "answered")->valueint, 1);
    const cJSON *reps = cJSON_GetObjectItem(o, "replicas");
    assert_int_equal(cJSON_GetArraySize(reps), 2);
    const cJSON *r0 = cJSON_GetArrayItem(reps, 0), *r1 = cJSON_GetArrayItem(reps, 1);
    assert_true(cJSON_IsFalse(cJSON_GetObjectItem(r0, "answered")));
    assert_string_equal(cJSON_GetObjectItem(r0, "error")->valuestring, "no answer (timed out)");
    const cJSON *st = cJSON_GetObjectItem(r1, "status");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItem(st, "no_quorum")));
    assert_int_equal(cJSON_GetObjectItem(st, "committed_seq")->valueint, 77);
    cJSON_Delete(o);
    free(out);
    ctl_status_rows_free(rows, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_page_parses_back),
        cmocka_unit_test(test_junk_pages_refused),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
