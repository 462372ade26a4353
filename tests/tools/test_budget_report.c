/* tools/bftctl_report_budget.c: the latency budget of `bftctl cluster`
 * from known stats.json files (read back through ctl_read_stats, as a run
 * does) and known load generator figures: the leader, the per-op division,
 * the backups' mean, the share of the p50, the phases weighted by samples,
 * the printed table and the "latency_budget" JSON. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/bftctl_budget.h"

static char g_dir[64];

/* stats.json of replica id: every stage `unit` us x (stage + 1), `ops`
 * executed, phases as given. */
static void write_stats(uint32_t id, bool leader, double unit, uint64_t ops, const char *phase_us,
                        const char *phase_n)
{
    char path[200];
    snprintf(path, sizeof path, "%s/replica-%u", g_dir, id);
    assert_int_equal(mkdir(path, 0700), 0);
    snprintf(path, sizeof path, "%s/replica-%u/stats.json", g_dir, id);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"id\": %u, \"requests_executed\": %llu, \"is_leader\": %s, \"stage_us\": {", id,
            (unsigned long long)ops, leader ? "true" : "false");
    for (int s = 0; s < BFT_STAGE__COUNT; s++)
        fprintf(f, "%s\"%s\": %.0f", s ? ", " : "", bft_stage_name(s), unit * (s + 1));
    fprintf(f, "}, \"stage_calls\": {");
    for (int s = 0; s < BFT_STAGE__COUNT; s++)
        fprintf(f, "%s\"%s\": %d", s ? ", " : "", bft_stage_name(s), 50 * (s + 1));
    fprintf(f, "}, \"phase_us\": {%s}, \"phase_n\": {%s}}\n", phase_us, phase_n);
    fclose(f);
}

static void test_budget_from_known_stats(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/test_budget_report.XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    /* Replica 1 proposed the samples (it led); replica 0 says it leads now
     * but finished none: the samples decide. */
    write_stats(0, true, 1000, 100, "", "\"sampled\": 3");
    write_stats(1, false, 2000, 100,
                "\"proposed\": 20, \"prepared\": 1000, \"executed\": 2000, \"reply_sent\": 2500",
                "\"proposed\": 3, \"prepared\": 3, \"executed\": 3, \"reply_sent\": 3");
    write_stats(2, false, 3000, 100, "\"proposed\": 40, \"reply_sent\": 4500",
                "\"proposed\": 1, \"reply_sent\": 1");
    write_stats(3, false, 5000, 100, "", "");
    struct ctl_replica reps[4];
    memset(reps, 0, sizeof reps);
    for (uint32_t i = 0; i < 4; i++) {
        reps[i].id = i;
        assert_int_equal(ctl_read_stats(g_dir, &reps[i]), 0);
    }
    struct load_result *L = calloc(1, sizeof *L);
    assert_non_null(L);
    L->completed = 50;
    L->lat_ms_p50 = 4.0;
    L->budget.stage_ns[LOAD_STAGE_SIGN] = 50 * 13000;   /* 13 us per op */
    L->budget.stage_ns[LOAD_STAGE_VERIFY] = 50 * 72000; /* 72 us per op */
    L->budget.first_reply_ns = 10 * 3000000ull;
    L->budget.accept_reply_ns = 10 * 3600000ull;
    L->budget.timed = 10;

    struct ctl_budget b;
    ctl_budget_compute(reps, 4, L, &b);
    assert_true(b.have);
    assert_int_equal(b.leader, 1);
    assert_int_equal(b.backups, 3);
    assert_true(b.p50_us == 4000.0);
    /* Leader: 2000 us x (stage + 1) over 100 ops. */
    assert_true(b.row[BFT_STAGE_WAL].leader_us == 20.0 * (BFT_STAGE_WAL + 1));
    /* Backups: the mean of 1000, 3000 and 5000 x (stage + 1) / 100. */
    assert_true(b.row[BFT_STAGE_CORE].backup_us == 30.0 * (BFT_STAGE_CORE + 1));
    assert_true(b.row[BFT_STAGE_SIGN].client_us == 13.0);
    assert_true(b.row[BFT_STAGE_FSYNC].leader_calls == 0.5 * (BFT_STAGE_FSYNC + 1));
    assert_int_equal(b.row[BFT_STAGE_CORE].client_stage, -1);
    /* Share: (client + leader) / p50. */
    double want = (72.0 + 20.0 * (BFT_STAGE_VERIFY + 1)) / 4000.0;
    assert_true(b.row[BFT_STAGE_VERIFY].share_p50 > want - 1e-12 &&
                b.row[BFT_STAGE_VERIFY].share_p50 < want + 1e-12);
    assert_true(b.row[BFT_STAGE_IDLE].share_p50 < 0);
    want = (72.0 + 20.0 * (BFT_STAGE_VERIFY + 1)) / 3600.0; /* of the mean latency */
    assert_true(b.row[BFT_STAGE_VERIFY].share_mean > want - 1e-12 &&
                b.row[BFT_STAGE_VERIFY].share_mean < want + 1e-12);
    assert_true(b.row[BFT_STAGE_IDLE].share_mean < 0);
    /* Phases weighted by samples: (3 x 20 + 1 x 40) / 4, (3 x 2500 + 4500) / 4. */
    assert_int_equal(b.phase_n[BFT_PHASE_PROPOSED], 4);
    assert_true(b.phase_us[BFT_PHASE_PROPOSED] == 25.0);
    assert_true(b.phase_us[BFT_PHASE_REPLY_SENT] == 3000.0);
    assert_int_equal(b.phase_n[BFT_PHASE_PREPARED], 3);
    assert_true(b.phase_us[BFT_PHASE_PREPARED] == 1000.0);
    assert_true(b.first_reply_us == 3000.0 && b.accept_reply_us == 3600.0);

    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ctl_budget_print(f, &b);
    fclose(f);
    assert_non_null(
        strstr(text, "leader = replica 1, backups = mean of 3; p50 4000 us, mean 3600 us"));
    char line[128];
    snprintf(line, sizeof line, "    %-9s %9s %9.1f %9.1f ", "wal", "-", 20.0 * (BFT_STAGE_WAL + 1),
             30.0 * (BFT_STAGE_WAL + 1));
    char *at = strstr(text, "    wal ");
    assert_non_null(at);
    assert_int_equal(strncmp(at, line, strlen(line)), 0);
    assert_non_null(strstr(text, "first reply 3000, accepting reply 3600 (10)"));
    free(text);

    cJSON *o = cJSON_CreateObject();
    ctl_budget_json(o, &b);
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(o, "latency_budget");
    assert_true(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(x, "available")));
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(x, "stages_us_per_op");
    assert_int_equal(cJSON_GetArraySize(st), BFT_STAGE__COUNT);
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(st, "verify");
    assert_true(cJSON_GetObjectItemCaseSensitive(v, "client")->valuedouble == 72.0);
    assert_true(cJSON_IsNull(
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(st, "core"), "client")));
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(
        cJSON_GetObjectItemCaseSensitive(st, "idle"), "share_of_p50")));
    const cJSON *ph = cJSON_GetObjectItemCaseSensitive(x, "phases_us");
    assert_true(cJSON_GetObjectItemCaseSensitive(ph, "executed")->valuedouble == 2000.0);
    assert_true(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(ph, "qc1"))); /* not HotStuff */
    assert_true(cJSON_GetObjectItemCaseSensitive(x, "mean_us")->valuedouble == 3600.0);
    const cJSON *cl = cJSON_GetObjectItemCaseSensitive(x, "client_us");
    assert_true(cJSON_GetObjectItemCaseSensitive(cl, "accepting_reply")->valuedouble == 3600.0);
    cJSON_Delete(o);
    free(L);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    assert_int_equal(system(cmd), 0);
}

static void test_no_stats_no_budget(void **state)
{
    (void)state;
    struct ctl_replica reps[2];
    memset(reps, 0, sizeof reps);
    struct load_result *L = calloc(1, sizeof *L);
    assert_non_null(L);
    L->completed = 10;
    struct ctl_budget b;
    ctl_budget_compute(reps, 2, L, &b);
    assert_false(b.have);
    assert_int_equal(b.leader, -1);
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    ctl_budget_print(f, &b);
    fclose(f);
    assert_non_null(strstr(text, "latency budget  none"));
    free(text);
    free(L);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_budget_from_known_stats),
        cmocka_unit_test(test_no_stats_no_budget),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
