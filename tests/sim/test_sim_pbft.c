/* PBFT in the deterministic simulator: seed sweeps (every seed is a whole
 * run with faults, then a liveness phase) and scripted scenarios, one test
 * per property, named for what it proves (Castro & Liskov, OSDI'99 /
 * TOCS'02). The scenarios arrange message loss with sim rules; primary =
 * view mod n is the only PBFT knowledge here. */
#include "tests/sim/sim_pbft_test_util.h"

static void test_sweep_500_seeds_n4_default_profile(void **state)
{
    (void)state;
    sweep(4, 500);
}

static void test_sweep_100_seeds_n7_default_profile(void **state)
{
    (void)state;
    sweep(7, 100);
}

/* One seed decides the whole run: running it twice gives the same run. */
static void test_same_seed_same_run(void **state)
{
    (void)state;
    struct sim_options o;
    sim_options_default(&o, BFT_PROTO_PBFT, 4);
    o.fault_phase_min_us = o.fault_phase_max_us = 2 * SEC;
    o.liveness_ops = 5;
    struct sim_result a, b;
    assert_int_equal(sim_run_seed(&o, 99, &a), BFT_E_OK);
    assert_int_equal(sim_run_seed(&o, 99, &b), BFT_E_OK);
    assert_true(a.stats.events > 0);
    assert_int_equal(a.stats.events, b.stats.events);
    assert_int_equal(a.stats.msgs_sent, b.stats.msgs_sent);
    assert_int_equal(a.stats.ops_completed, b.stats.ops_completed);
    assert_int_equal(a.max_executed, b.max_executed);
    assert_int_equal(a.virtual_us, b.virtual_us);
    assert_int_equal(a.passed, b.passed);
}

/* The checker is not vacuous: a divergent batch, a request nobody
 * submitted and a double apply are each reported. */
static void test_checker_reports_violations(void **state)
{
    (void)state;
    bft_digest d1 = {{1}}, d2 = {{2}};
    struct sim *s = mk(4, 1, 0, 0);
    sim_check_execute(s, 0, 5000, &d1, &d1);
    assert_false(sim_failed(s, NULL));
    sim_check_execute(s, 1, 5000, &d2, &d1);
    const char *why = NULL;
    assert_true(sim_failed(s, &why));
    assert_non_null(strstr(why, "agreement"));
    sim_destroy(s);

    s = mk(4, 1, 0, 0);
    uint8_t op[4] = {1, 2, 3, 4};
    sim_check_apply(s, 2, 0, 77, 10, op, sizeof(op));
    assert_true(sim_failed(s, &why));
    assert_non_null(strstr(why, "validity"));
    sim_destroy(s);

    s = mk(4, 1, 0, 0);
    assert_int_equal(sim_check_submitted(s, 0, 77, op, sizeof(op)), BFT_E_OK);
    sim_check_apply(s, 2, 0, 77, 10, op, sizeof(op));
    assert_false(sim_failed(s, NULL));
    sim_check_apply(s, 3, 0, 77, 11, op, sizeof(op));
    assert_true(sim_failed(s, &why));
    assert_non_null(strstr(why, "exactly-once"));
    sim_destroy(s);
}

/* ---- scripted scenarios ---- */

/* §4.4: the primary crashes; backups time out, move to view 1, and the
 * new primary orders new requests. */
static void test_primary_crash_view_change_progress_resumes(void **state)
{
    (void)state;
    struct sim *s = mk(4, 2, 0, 0);
    uint64_t r1 = submit_and_wait(s, 0, 2 * SEC);
    assert_true(sim_applied_seq(s, 0, r1) > 0);
    assert_int_equal(sim_crash(s, 0), BFT_E_OK);
    uint64_t r2 = submit_and_wait(s, 1, 30 * SEC);
    assert_true(sim_applied_seq(s, 1, r2) > sim_applied_seq(s, 0, r1));
    for (uint32_t r = 1; r < 4; r++)
        assert_true(status(s, r).view >= 1);
    submit_and_wait(s, 0, 5 * SEC); /* and keeps going in the new view */
    assert_not_failed(s);
    sim_destroy(s);
}

/* A primary that drops everything it sends looks alive but says nothing:
 * the backups must still change view. */
static void test_primary_silent_view_change(void **state)
{
    (void)state;
    struct sim *s = mk(4, 1, 0, 0);
    submit_and_wait(s, 0, 2 * SEC);
    drop(s, 0, SIM_MASK(0), SIM_MASK_ALL);
    uint64_t r = submit_and_wait(s, 0, 30 * SEC);
    assert_true(sim_applied_seq(s, 0, r) > 0);
    for (uint32_t i = 1; i < 4; i++)
        assert_true(status(s, i).view >= 1);
    assert_not_failed(s);
    sim_destroy(s);
}

/* Records the seq and view of every PRE-PREPARE a replica sends. */
struct pp_log {
    uint32_t n;
    struct {
        uint32_t from;
        uint64_t view, seq;
    } e[4096];
};
static void tap_pre_prepares(void *ctx, struct sim *s, int from, int to, const uint8_t *msg,
                             size_t len)
{
    (void)s;
    (void)to;
    struct pp_log *l = ctx;
    struct bft_msg m;
    if (from >= BFT_MAX_REPLICAS || l->n >= 4096) return;
    if (bft_msg_decode(msg, len, &m) != BFT_E_OK || m.type != BFT_MSG_PRE_PREPARE) return;
    if (m.payload_len == 0) return; /* null requests */
    for (uint32_t i = 0; i < l->n; i++)
        if (l->e[i].from == m.sender && l->e[i].view == m.view && l->e[i].seq == m.seq) return;
    l->e[l->n].from = m.sender;
    l->e[l->n].view = m.view;
    l->e[l->n].seq = m.seq;
    l->n++;
}
/* The first batch replica `from` pre-prepared in `view` above seq `above`. */
static uint64_t first_pp_seq(const struct pp_log *l, uint32_t from, uint64_t view, uint64_t above)
{
    for (uint32_t i = 0; i < l->n; i++)
        if (l->e[i].from == from && l->e[i].view == view && l->e[i].seq > above) return l->e[i].seq;
    return 0;
}

struct applied_ctx {
    uint32_t c;
    uint64_t req_no;
};
static bool is_applied(struct sim *s, void *ctx)
{
    struct applied_ctx *a = ctx;
    return sim_applied_seq(s, a->c, a->req_no) != 0;
}

/* §4.4 / TOCS §4.5.1: a request prepared at only one correct replica (not
 * the new primary) is carried by that replica's VIEW-CHANGE into the new
 * view at the same seq. The client's retransmissions are blocked, so the
 * only way the request can commit is through the certificate. */
static void test_value_prepared_at_one_replica_survives_view_change(void **state)
{
    (void)state;
    struct sim *s = mk(4, 2, 0, 0);
    struct pp_log *pp = calloc(1, sizeof(*pp));
    sim_set_tap(s, tap_pre_prepares, pp);
    submit_and_wait(s, 0, 2 * SEC);
    uint64_t before = sim_max_executed(s);
    /* Only replica 2 hears PREPAREs; nobody hears COMMITs. */
    int r_prep = drop(s, BFT_MSG_PREPARE, SIM_MASK_REPLICAS, replicas_mask(0xb));
    int r_commit = drop(s, BFT_MSG_COMMIT, SIM_MASK_REPLICAS, SIM_MASK_REPLICAS);
    uint64_t x = sim_client_submit_order(s, 0, 0);
    assert_true(x > 0);
    sim_run_until(s, sim_now_us(s) + 300 * MS, NULL, NULL);
    assert_int_equal(sim_max_executed(s), before); /* prepared, not committed */
    uint64_t slot = first_pp_seq(pp, 0, 0, before);
    assert_true(slot > before);
    assert_int_equal(sim_crash(s, 0), BFT_E_OK);
    sim_rule_remove(s, r_prep);
    sim_rule_remove(s, r_commit);
    drop(s, BFT_MSG_REQUEST, SIM_MASK(SIM_EP_CLIENT(0)), SIM_MASK_ALL);
    uint64_t y = sim_client_submit_order(s, 1, 0);
    assert_true(y > 0);
    assert_true(wait_done(s, 1, y, 30 * SEC));
    struct applied_ctx a = {0, x};
    assert_true(sim_run_until(s, sim_now_us(s) + 10 * SEC, is_applied, &a));
    assert_int_equal(sim_applied_seq(s, 0, x), slot);
    assert_true(sim_applied_seq(s, 1, y) != slot);
    assert_not_failed(s);
    free(pp);
    sim_destroy(s);
}

static int drop_in_views(struct sim *s, uint8_t type, uint64_t from, uint64_t to, uint64_t lo,
                         uint64_t hi)
{
    struct sim_rule r = {.action = SIM_RULE_DROP,
                         .type = type,
                         .from_mask = from,
                         .to_mask = to,
                         .match_view = true,
                         .view_lo = lo,
                         .view_hi = hi};
    int id = sim_rule_add(s, &r);
    assert_true(id >= 0);
    return id;
}

/* TOCS §4.5: replica 2 prepared X at seq s in view 0, replica 3 prepared Y
 * at the same seq in view 1; the primary of view 2 (replica 2 itself) must
 * pick the certificate from the higher view, Y, not its own. Every rule is
 * keyed by view, so the schedule does not depend on timing. */
static void test_conflicting_prepared_certificates_higher_view_wins(void **state)
{
    (void)state;
    struct sim *s = mk(4, 2, 0, 0);
    struct pp_log *pp = calloc(1, sizeof(*pp));
    sim_set_tap(s, tap_pre_prepares, pp);
    /* Views 0-1: nobody commits; replicas 0 and 1 never prepare. */
    drop_in_views(s, BFT_MSG_COMMIT, SIM_MASK_REPLICAS, SIM_MASK_REPLICAS, 0, 1);
    drop_in_views(s, BFT_MSG_PREPARE, SIM_MASK_REPLICAS, replicas_mask(0x3), 0, 1);
    /* View 0: only replica 2 prepares. View 1: only replica 3. */
    drop_in_views(s, BFT_MSG_PREPARE, SIM_MASK_REPLICAS, SIM_MASK(3), 0, 0);
    drop_in_views(s, BFT_MSG_PREPARE, SIM_MASK_REPLICAS, SIM_MASK(2), 1, 1);
    /* The primary of view 1 never hears replica 2's certificate; the
     * primary of view 2 hears replicas 1 and 3, so 3's must be in its set. */
    drop_in_views(s, BFT_MSG_VIEW_CHANGE, SIM_MASK(2), SIM_MASK(1), 1, 1);
    drop_in_views(s, BFT_MSG_VIEW_CHANGE, SIM_MASK(0), SIM_MASK(2), 2, 2);
    /* Y never reaches the view-0 primary, so it is proposed first in view 1. */
    drop(s, BFT_MSG_REQUEST, SIM_MASK(SIM_EP_CLIENT(1)), SIM_MASK(0));

    uint64_t x = sim_client_submit_order(s, 0, 0);
    assert_true(x > 0);
    sim_run_until(s, sim_now_us(s) + 200 * MS, NULL, NULL);
    uint64_t slot = first_pp_seq(pp, 0, 0, 0);
    assert_true(slot > 0);
    /* X's retransmissions would let a later primary order X afresh. */
    drop(s, BFT_MSG_REQUEST, SIM_MASK(SIM_EP_CLIENT(0)), SIM_MASK_ALL);
    uint64_t y = sim_client_submit_order(s, 1, 0);
    assert_true(y > 0);
    struct view_ctx v2 = {0xf, 2};
    if (!sim_run_until(s, sim_now_us(s) + 60 * SEC, all_in_view, &v2))
        fail_msg("replicas did not reach view 2: views %llu %llu %llu %llu",
                 (unsigned long long)status(s, 0).view, (unsigned long long)status(s, 1).view,
                 (unsigned long long)status(s, 2).view, (unsigned long long)status(s, 3).view);
    uint64_t slot_y = first_pp_seq(pp, 1, 1, 0);
    if (slot_y != slot)
        fail_msg("could not arrange the conflict: X at seq %llu in view 0, Y at seq %llu in "
                 "view 1",
                 (unsigned long long)slot, (unsigned long long)slot_y);
    struct applied_ctx a = {1, y};
    assert_true(sim_run_until(s, sim_now_us(s) + 20 * SEC, is_applied, &a));
    assert_int_equal(sim_applied_seq(s, 1, y), slot);
    assert_true(sim_applied_seq(s, 0, x) != slot);
    assert_not_failed(s);
    free(pp);
    sim_destroy(s);
}

struct settle_ctx {
    uint32_t mask;
};
static bool all_at_max(struct sim *s, void *ctx)
{
    struct settle_ctx *c = ctx;
    if (!sim_clients_idle(s)) return false;
    for (uint32_t r = 0; r < BFT_MAX_REPLICAS; r++) {
        if (!(c->mask >> r & 1)) continue;
        struct sim_replica_status st;
        sim_replica_status(s, r, &st);
        if (!st.up || st.last_executed != sim_max_executed(s)) return false;
    }
    return true;
}

/* §4.3 / TOCS §5.3.2: a replica that lost its disk restarts empty, fetches
 * the state at a stable checkpoint instead of replaying history, and ends
 * with the same state digest as everyone else. */
static void test_empty_restart_catches_up_by_state_transfer(void **state)
{
    (void)state;
    struct sim *s = mk(4, 3, 16, 64);
    sim_clients_load(s, true);
    sim_run_until(s, 1 * SEC, NULL, NULL);
    assert_int_equal(sim_crash(s, 3), BFT_E_OK);
    sim_run_until(s, 3 * SEC, NULL, NULL);
    uint64_t missed = sim_max_executed(s);
    assert_true(missed > 64 + 16); /* beyond its window: it must fetch state */
    assert_int_equal(sim_restart(s, 3, false), BFT_E_OK);
    sim_run_until(s, 6 * SEC, NULL, NULL);
    sim_clients_load(s, false);
    struct settle_ctx all = {0xf};
    assert_true(sim_run_until(s, sim_now_us(s) + 20 * SEC, all_at_max, &all));
    struct sim_replica_status r0 = status(s, 0), r3 = status(s, 3);
    assert_int_equal(r3.last_executed, r0.last_executed);
    assert_memory_equal(r3.state_digest.b, r0.state_digest.b, 32);
    /* It skipped history: fewer batches executed than seqs it holds. */
    assert_true(r3.stats.batches_executed < r3.last_executed);
    assert_not_failed(s);
    sim_destroy(s);
}

/* TOCS §4.6: a replica killed and restarted from its WAL keeps its promises
 * and, its application having restarted empty, catches up with the others
 * (from the log or by state transfer) while the load goes on. */
static void test_wal_restart_catches_up(void **state)
{
    (void)state;
    struct sim *s = mk(4, 3, 0, 0);
    sim_clients_load(s, true);
    sim_run_until(s, 1 * SEC, NULL, NULL);
    assert_int_equal(sim_crash(s, 1), BFT_E_OK);
    sim_run_until(s, 1500 * MS, NULL, NULL);
    assert_int_equal(sim_restart(s, 1, true), BFT_E_OK);
    sim_run_until(s, 4 * SEC, NULL, NULL);
    sim_clients_load(s, false);
    struct settle_ctx all = {0xf};
    if (!sim_run_until(s, sim_now_us(s) + 20 * SEC, all_at_max, &all))
        fail_msg("replica 1 at seq %llu, others at %llu",
                 (unsigned long long)status(s, 1).last_executed,
                 (unsigned long long)sim_max_executed(s));
    assert_memory_equal(status(s, 1).state_digest.b, status(s, 0).state_digest.b, 32);
    assert_not_failed(s);
    sim_destroy(s);
}

/* §4.2 / docs/style.md #7: a validly signed PREPARE far above the high
 * watermark is counted as out_of_window and dropped; ten thousand of them
 * do not grow memory. */
static void test_far_out_of_window_message_dropped_without_memory_growth(void **state)
{
    (void)state;
    struct sim *s = mk(4, 1, 0, 0);
    submit_and_wait(s, 0, 2 * SEC);
    sim_run_until(s, sim_now_us(s) + 1 * SEC, NULL, NULL);
    struct sim_replica_status before = status(s, 2);
    uint8_t buf[BFT_MSG_MIN_LEN];
    struct bft_msg m = {.type = BFT_MSG_PREPARE,
                        .sender = 1,
                        .cluster_id = 0x51b5u,
                        .view = before.view,
                        .seq = 1ull << 40,
                        .digest = {{0xab}}};
    size_t len = bft_msg_encode(&m, buf, sizeof(buf));
    assert_int_equal(len, sizeof(buf));
    const int count = 10000, chunk = 1000;
    size_t heap0 = 0;
    for (int i = 0; i < count; i++) {
        m.seq = (1ull << 40) + (uint64_t)i; /* each one distinct */
        assert_int_equal(bft_msg_encode(&m, buf, sizeof(buf)), sizeof(buf));
        assert_int_equal(sim_sign_as(s, 1, buf, len), BFT_E_OK);
        assert_int_equal(sim_inject(s, 1, 2, buf, len, 10), BFT_E_OK);
        if ((i + 1) % chunk) continue;
        /* Deliver each chunk; measure after the first, when the simulator's
         * own buffers have reached their working size. */
        sim_run_until(s, sim_now_us(s) + 100 * MS, NULL, NULL);
        if (i + 1 == chunk) heap0 = sim_heap_bytes();
    }
    size_t heap1 = sim_heap_bytes();
    struct sim_replica_status after = status(s, 2);
    uint64_t rejected = after.stats.rejected[BFT_REJECT_OUT_OF_WINDOW] -
                        before.stats.rejected[BFT_REJECT_OUT_OF_WINDOW];
    assert_int_equal(rejected, (uint64_t)count);
    /* 9000 more hostile messages: no more than a few KiB of drift. */
    if (heap1 > heap0 + 16384)
        fail_msg("memory grew by %zu bytes over 9000 out-of-window messages", heap1 - heap0);
    submit_and_wait(s, 0, 5 * SEC); /* and the replica still works */
    assert_not_failed(s);
    sim_destroy(s);
}

/* §4.2: a vote counts once per sender. Replica 1 hears COMMITs only from
 * replica 2, each delivered twice: with its own that is two distinct
 * votes, short of 2f+1 = 3, so it must not execute however many copies
 * arrive; the copies are counted as duplicates. */
static void test_vote_delivered_twice_counts_once(void **state)
{
    (void)state;
    struct sim *s = mk(4, 1, 0, 0);
    drop(s, BFT_MSG_COMMIT, SIM_MASK(0) | SIM_MASK(3), SIM_MASK(1));
    /* and no log fetch: the idle status probe would legitimately bring
     * replica 1 the 2f+1 COMMITs it is denied here */
    drop(s, BFT_MSG_FETCH_RESP, SIM_MASK(0) | SIM_MASK(2) | SIM_MASK(3), SIM_MASK(1));
    struct sim_rule dup = {.action = SIM_RULE_DUPLICATE,
                           .type = BFT_MSG_COMMIT,
                           .from_mask = SIM_MASK(2),
                           .to_mask = SIM_MASK(1)};
    int dup_id = sim_rule_add(s, &dup);
    assert_true(dup_id >= 0);
    uint64_t r = submit_and_wait(s, 0, 5 * SEC);
    sim_run_until(s, sim_now_us(s) + 500 * MS, NULL, NULL);
    uint64_t seq = sim_applied_seq(s, 0, r);
    assert_true(seq > 0);
    assert_true(sim_rule_hits(s, dup_id) > 0);
    struct sim_replica_status r1 = status(s, 1), r2 = status(s, 2);
    assert_true(r2.last_executed >= seq);
    assert_true(r1.last_executed < seq);
    assert_true(r1.stats.rejected[BFT_REJECT_DUPLICATE] > 0);
    assert_not_failed(s);
    sim_destroy(s);
}

/* §4.5.2 liveness: when the next primary is dead too, the view change to
 * view 1 times out and the replicas move on to view 2 (timeouts double). */
static void test_two_view_changes_in_a_row(void **state)
{
    (void)state;
    struct sim *s = mk(7, 1, 0, 0);
    submit_and_wait(s, 0, 2 * SEC);
    assert_int_equal(sim_crash(s, 0), BFT_E_OK);
    assert_int_equal(sim_crash(s, 1), BFT_E_OK);
    uint64_t r = submit_and_wait(s, 0, 60 * SEC);
    assert_true(sim_applied_seq(s, 0, r) > 0);
    for (uint32_t i = 2; i < 7; i++)
        assert_true(status(s, i).view >= 2);
    assert_not_failed(s);
    sim_destroy(s);
}

/* §4.4: the backup's timer belongs to one request. Client 1's requests
 * never reach the primary (neither directly nor relayed by a backup), while
 * client 0's keep executing: a primary that censors one client. The
 * stream of other executions must not keep postponing the deadline; the
 * backups change view and the next primary orders client 1's request. */
static void test_censored_client_forces_view_change(void **state)
{
    (void)state;
    struct sim *s = mk(4, 2, 0, 0);
    drop(s, BFT_MSG_REQUEST, SIM_MASK(SIM_EP_CLIENT(1)) | replicas_mask(0xe), SIM_MASK(0));
    submit_and_wait(s, 0, 2 * SEC);
    uint64_t censored = sim_client_submit_order(s, 1, 0);
    assert_true(censored > 0);
    uint32_t executed = 0;
    for (int i = 0; i < 200 && !sim_client_done(s, 1, censored); i++) {
        submit_and_wait(s, 0, 20 * SEC);
        executed++;
        sim_run_until(s, sim_now_us(s) + 50 * MS, NULL, NULL);
    }
    assert_true(sim_client_done(s, 1, censored));
    assert_true(executed > 5); /* others' requests executed meanwhile */
    for (uint32_t i = 0; i < 4; i++)
        assert_true(status(s, i).view >= 1);
    assert_not_failed(s);
    sim_destroy(s);
}

/* An idle replica that missed the last commits learns of its gap from its
 * periodic status probe (Castro's thesis §5.2), not only from the next
 * request: replica 3 hears nothing from its peers during one request (so
 * it has no vote of its own to retransmit), then nothing happens, and it
 * must still execute that request. */
static void test_idle_laggard_catches_up(void **state)
{
    (void)state;
    struct sim *s = mk(4, 1, 0, 0);
    submit_and_wait(s, 0, 2 * SEC);
    int id = drop(s, 0, SIM_MASK_REPLICAS, SIM_MASK(3));
    uint64_t r = submit_and_wait(s, 0, 2 * SEC);
    uint64_t seq = sim_applied_seq(s, 0, r);
    sim_run_until(s, sim_now_us(s) + 100 * MS, NULL, NULL);
    assert_true(status(s, 3).last_executed < seq);
    sim_rule_remove(s, id);
    sim_run_until(s, sim_now_us(s) + 5 * SEC, NULL, NULL);
    assert_true(status(s, 3).last_executed >= seq);
    assert_not_failed(s);
    sim_destroy(s);
}

/* ---- a slow primary (Aardvark, NSDI'09 §4.3; core/pbft/pbft_monitor.c) ---- */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_checker_reports_violations),
        cmocka_unit_test(test_same_seed_same_run),
        cmocka_unit_test(test_primary_crash_view_change_progress_resumes),
        cmocka_unit_test(test_primary_silent_view_change),
        cmocka_unit_test(test_value_prepared_at_one_replica_survives_view_change),
        cmocka_unit_test(test_conflicting_prepared_certificates_higher_view_wins),
        cmocka_unit_test(test_empty_restart_catches_up_by_state_transfer),
        cmocka_unit_test(test_wal_restart_catches_up),
        cmocka_unit_test(test_far_out_of_window_message_dropped_without_memory_growth),
        cmocka_unit_test(test_vote_delivered_twice_counts_once),
        cmocka_unit_test(test_two_view_changes_in_a_row),
        cmocka_unit_test(test_censored_client_forces_view_change),
        cmocka_unit_test(test_idle_laggard_catches_up),
        cmocka_unit_test(test_sweep_500_seeds_n4_default_profile),
        cmocka_unit_test(test_sweep_100_seeds_n7_default_profile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
