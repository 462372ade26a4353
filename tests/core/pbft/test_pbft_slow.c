/* PBFT core: the primary performance monitor (core/pbft/pbft_monitor.c), after
 * Aardvark (Clement et al., NSDI'09, §4.3 "adaptive view change"). A
 * primary that delays every PRE-PREPARE by a little less than the request
 * timeout is never caught by the request timer (§4.4); backups measure how
 * long a backlogged primary takes to fill a freed pipeline slot and vote it
 * out when it falls short of what the recent views achieved, never below a
 * bounded bar, and never without a backlog.
 *
 * Scripted on backup 1 alone (n = 4, T = 1000 ms, one monitor tick = 50 ms,
 * pipeline_max = 2): primary 0's PRE-PREPAREs and the votes of 2 and 3 are
 * injected; the other cores are down. */
#include "core/core.h"
#include "pbft_fixture.h"
#include "pbft_script.h"

#define TICK_MS 50

static void setup_backup(struct fx *fx)
{
    struct bft_core_config cfg;
    bft_core_config_defaults(&cfg, BFT_PROTO_PBFT, 4, 0); /* pipeline_max 2, T 1000 ms */
    fx_init_cfg(fx, 4, &cfg);
    fx->node[0].down = fx->node[2].down = fx->node[3].down = true;
}

/* Primary 0 pre-prepares seqs *seq and *seq+1 (`env` envelopes each, the
 * shape of a batch cut under backlog); 2 and 3 vote; backup 1 executes
 * both. Then `gap` monitor ticks pass before the primary's next batches. */
static void pair_then_wait(struct fx *fx, uint64_t *seq, uint32_t env, uint32_t gap)
{
    for (int k = 0; k < 2; k++, (*seq)++)
        if (env == 1) {
            bft_digest d;
            commit_seq(fx, 1, *seq, &d);
        } else {
            bft_digest d;
            struct bft_msg pp = make_pp(0, *seq, *seq * 16, env, &d);
            fx_inject(fx, 0, 1, &pp);
            send_vote(fx, 2, 1, BFT_MSG_PREPARE, *seq, &d);
            send_vote(fx, 2, 1, BFT_MSG_COMMIT, *seq, &d);
            send_vote(fx, 3, 1, BFT_MSG_COMMIT, *seq, &d);
        }
    for (uint32_t t = 0; t < gap; t++)
        fx_advance(fx, TICK_MS);
    fx_clear_effects(&fx->node[1]);
}

/* Replica 3 is away: backup 1 executes a seq only once the primary's own
 * COMMIT arrives, and a slow primary sends that COMMIT as late as its next
 * PRE-PREPAREs. Measured from our execution the primary would look prompt;
 * measured from the 2f backup COMMITs (the primary's own completes its
 * quorum there and then) it is `gap` ticks late. */
static void pair_primary_in_quorum(struct fx *fx, uint64_t *seq, uint32_t gap)
{
    bft_digest d[2];
    for (int k = 0; k < 2; k++) {
        struct bft_msg pp = make_pp(0, *seq + (uint64_t)k, (*seq + (uint64_t)k) * 16, 8, &d[k]);
        fx_inject(fx, 0, 1, &pp);
        send_vote(fx, 2, 1, BFT_MSG_PREPARE, *seq + (uint64_t)k, &d[k]);
        send_vote(fx, 2, 1, BFT_MSG_COMMIT, *seq + (uint64_t)k, &d[k]);
    }
    for (uint32_t t = 0; t < gap; t++)
        fx_advance(fx, TICK_MS);
    for (int k = 0; k < 2; k++)
        send_vote(fx, 0, 1, BFT_MSG_COMMIT, *seq + (uint64_t)k, &d[k]);
    *seq += 2;
    fx_clear_effects(&fx->node[1]);
}

static bool voted_out(struct fx *fx)
{
    struct bft_core_status st = fx_status(&fx->node[1]);
    return st.view >= 1;
}

/* The attack of issue 10: the primary keeps a backlog (8-envelope batches)
 * but sends each pair of PRE-PREPAREs 12 ticks (0.6 T) after the slot
 * freed, under the request timeout. Backup 1 must move to view 1, and do
 * so within a few seconds (the bar starts at T and halves
 * per half-second window down to T/5). */
static void test_aardvark_4_3_slow_primary_voted_out(void **state)
{
    (void)state;
    struct fx fx;
    setup_backup(&fx);
    uint64_t seq = 1;
    uint32_t rounds = 0;
    while (!voted_out(&fx) && rounds < 40) {
        pair_then_wait(&fx, &seq, 8, 12);
        rounds++;
    }
    assert_true(voted_out(&fx));
    assert_true(fx_status(&fx.node[1]).in_view_change);
    assert_true(rounds * 12 * TICK_MS <= 6000); /* within 6 s of load */
    assert_int_equal(fx.node[1].core->mon_complaints, 1);
    fx_free(&fx);
}

static void test_aardvark_4_3_slow_primary_in_commit_quorum_voted_out(void **state)
{
    (void)state;
    struct fx fx;
    setup_backup(&fx);
    uint64_t seq = 1;
    for (int r = 0; r < 40 && !voted_out(&fx); r++)
        pair_primary_in_quorum(&fx, &seq, 12);
    assert_true(voted_out(&fx));
    assert_int_equal(fx.node[1].core->mon_complaints, 1);
    fx_free(&fx);
}

/* A primary that fills a freed slot at once is never deposed, however long
 * the run, and an idle backup never complains. */
static void test_aardvark_4_3_prompt_primary_and_idle_cluster_kept(void **state)
{
    (void)state;
    struct fx fx;
    setup_backup(&fx);
    uint64_t seq = 1;
    for (int r = 0; r < 300; r++) /* 30 s of load, one tick between pairs */
        pair_then_wait(&fx, &seq, 8, 1);
    for (int t = 0; t < 600; t++) /* then 30 s idle */
        fx_advance(&fx, TICK_MS);
    assert_false(voted_out(&fx));
    assert_int_equal(fx.node[1].core->mon_complaints, 0);
    fx_free(&fx);
}

/* Low load: every request is proposed alone as it arrives (no backlog), so
 * the time between batches is the clients', not the primary's: the same
 * 12-tick gaps with one-envelope batches must not depose it. */
static void test_aardvark_4_3_low_load_gaps_not_judged(void **state)
{
    (void)state;
    struct fx fx;
    setup_backup(&fx);
    uint64_t seq = 1;
    for (int r = 0; r < 60; r++)
        pair_then_wait(&fx, &seq, 1, 12);
    assert_false(voted_out(&fx));
    fx_free(&fx);
}

/* Bounded: the bar never tightens below what the recent views achieved
 * (Aardvark: 90% of the best of the last n views). If the best of the
 * previous views was 12 ticks, a primary at 12 ticks stays; the same
 * primary is deposed when an earlier view did better. */
static void test_aardvark_4_3_bar_bounded_by_recent_views(void **state)
{
    (void)state;
    struct fx fx;
    setup_backup(&fx);
    fx.node[1].core->mon_past[0] = 12;
    uint64_t seq = 1;
    for (int r = 0; r < 60; r++)
        pair_then_wait(&fx, &seq, 8, 12);
    assert_false(voted_out(&fx));
    fx_free(&fx);

    setup_backup(&fx);
    fx.node[1].core->mon_past[0] = 1;
    seq = 1;
    for (int r = 0; r < 60 && !voted_out(&fx); r++)
        pair_then_wait(&fx, &seq, 8, 12);
    assert_true(voted_out(&fx));
    fx_free(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_aardvark_4_3_slow_primary_voted_out),
        cmocka_unit_test(test_aardvark_4_3_slow_primary_in_commit_quorum_voted_out),
        cmocka_unit_test(test_aardvark_4_3_prompt_primary_and_idle_cluster_kept),
        cmocka_unit_test(test_aardvark_4_3_low_load_gaps_not_judged),
        cmocka_unit_test(test_aardvark_4_3_bar_bounded_by_recent_views),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
