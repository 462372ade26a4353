/* Raft's current-term commit rule (Ongaro & Ousterhout ATC'14 §5.4.2,
 * Figure 8): a leader commits by counting replicas only an entry of its own
 * term. An entry of an older term stored on a majority can still be
 * overwritten by a leader of a term in between, so committing it directly
 * (mutant raft-commit-old-term, docs/mutants.md) lets one replica execute
 * it while the others later execute something else at that index.
 *
 * In this implementation a new leader appends its no-op before it sends
 * anything, so a follower that acknowledges an old entry acknowledges the
 * no-op with it, unless the AppendEntries is cut by its entry bound
 * (RAFT_APPEND_ENTRIES_MAX = 256, core/raft/raft_internal.h). The scenario makes
 * that cut land exactly on the old entry: two replicas lag exactly 256
 * entries behind it. With n = 5 (replicas named by role, the first leader
 * A, then F, B, S and T):
 *   1. S and T are cut off while A commits 255 entries with F and B.
 *   2. A and F are cut off from B, S, T; A appends X (term t), which only
 *      F stores. B is elected (term tb > t) by S and T; its no-op at X's
 *      index reaches nobody.
 *   3. B crashes, the links heal. A or F (call it L) is elected (term
 *      tL > tb); L's AppendEntries to the other of A and F are dropped. S
 *      and T get one AppendEntries of 256 entries ending at X and ack X;
 *      what L sends them after that ack is dropped. X is now on a majority
 *      (L, S, T) but L's no-op on none but L: the rule says wait.
 *   4. L and the other crash; B restarts and is elected by S and T (its
 *      last term tb beats their t) and puts its no-op at X's index.
 * Had L executed X in step 3, the checker reports agreement in step 4.
 * Message rules act when a message is sent, so a tap installs the step-3
 * drop when S or T sends its ack of X. Every rule is keyed by endpoints and
 * message type; the only Raft knowledge used is the entry bound above and
 * that one order submitted to an idle leader is one log entry. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tests/sim/sim_test.h"

#define MS 1000ull
#define N 5
#define CUT 256 /* RAFT_APPEND_ENTRIES_MAX, core/raft/raft_internal.h */

struct fig8 {
    struct sim *s;
    uint32_t a, f, b, st[2]; /* roles, see the header */
    uint32_t l, other;       /* step 3: the leader and the other of a, f */
    uint64_t x;              /* X's index */
    int cut_rule[2];         /* step 3: L -> S, L -> T, once acked */
};

static uint64_t last_exec(struct sim *s, uint32_t r)
{
    struct sim_replica_status st;
    assert_int_equal(sim_replica_status(s, r, &st), BFT_E_OK);
    return st.last_executed;
}

static int leader(struct sim *s)
{
    return sim_test_leader(s, N);
}

static bool has_leader(struct sim *s, void *ctx)
{
    (void)ctx;
    return leader(s) >= 0;
}

struct leader_in {
    uint64_t mask;
};
static bool leader_among(struct sim *s, void *ctx)
{
    int l = leader(s);
    return l >= 0 && (((struct leader_in *)ctx)->mask & SIM_MASK(l));
}

struct done_ctx {
    uint32_t c;
    uint64_t req_no;
};
static bool is_done(struct sim *s, void *ctx)
{
    struct done_ctx *d = ctx;
    return sim_client_done(s, d->c, d->req_no);
}

static int drop(struct sim *s, uint8_t type, uint64_t from, uint64_t to)
{
    struct sim_rule r = {.action = SIM_RULE_DROP, .type = type, .from_mask = from, .to_mask = to};
    int id = sim_rule_add(s, &r);
    assert_true(id >= 0);
    return id;
}

/* Step 3: once S or T acks X, what L sends it afterwards is dropped. */
static void tap(void *ctx, struct sim *s, int from_ep, int to_ep, const uint8_t *msg, size_t len)
{
    struct fig8 *t = ctx;
    struct bft_msg m;
    if (to_ep != (int)t->l || bft_msg_decode(msg, len, &m) != BFT_E_OK) return;
    if (m.type != BFT_MSG_RAFT_APPEND_RESP || m.seq != t->x) return;
    for (int i = 0; i < 2; i++)
        if (from_ep == (int)t->st[i] && t->cut_rule[i] < 0)
            t->cut_rule[i] = drop(s, BFT_MSG_RAFT_APPEND, SIM_MASK(t->l), SIM_MASK(t->st[i]));
}

static bool both_acked(struct sim *s, void *ctx)
{
    (void)s;
    struct fig8 *t = ctx;
    return t->cut_rule[0] >= 0 && t->cut_rule[1] >= 0;
}

static bool all_at(struct sim *s, void *ctx)
{
    uint64_t seq = *(uint64_t *)ctx;
    for (uint32_t r = 0; r < N; r++)
        if (last_exec(s, r) < seq) return false;
    return true;
}

/* SIM_VERBOSE: each replica's term, last executed seq and role. */
static void dump(struct sim *s, const char *what)
{
    if (!getenv("SIM_VERBOSE")) return;
    for (uint32_t r = 0; r < N; r++) {
        struct sim_replica_status st;
        sim_replica_status(s, r, &st);
        fprintf(stderr, "%s: r%u up %d term %llu exec %llu leader %d\n", what, r, st.up,
                (unsigned long long)st.view, (unsigned long long)st.last_executed,
                st.stats.is_leader);
    }
}

static void assert_not_failed(struct sim *s)
{
    const char *why = NULL;
    if (sim_failed(s, &why)) fail_msg("invariant violated: %s", why);
}

static void test_old_term_entry_commits_only_with_current_term_entry(void **state)
{
    (void)state;
    struct sim_options o;
    sim_options_default(&o, BFT_PROTO_RAFT, N);
    o.clients = 1;
    o.request_timeout_ms = 500;
    o.read_pct = 0;
    o.verbose = getenv("SIM_VERBOSE") != NULL;
    struct fig8 t = {.cut_rule = {-1, -1}};
    char err[256];
    if (sim_create(&t.s, &o, 8, err, sizeof(err)) != BFT_E_OK) fail_msg("sim_create: %s", err);
    struct sim *s = t.s;
    sim_clients_load(s, false);

    /* A first order: a leader, and every replica at the same index. */
    uint64_t first = sim_client_submit_order(s, 0, 0);
    struct done_ctx d = {0, first};
    assert_true(sim_run_until(s, sim_now_us(s) + 20 * SEC, is_done, &d));
    uint64_t k = last_exec(s, (uint32_t)leader(s));
    assert_true(sim_run_until(s, sim_now_us(s) + 5 * SEC, all_at, &k));
    t.a = (uint32_t)leader(s);
    uint32_t o4[4], j = 0;
    for (uint32_t r = 0; r < N; r++)
        if (r != t.a) o4[j++] = r;
    t.f = o4[0];
    t.b = o4[1];
    t.st[0] = o4[2];
    t.st[1] = o4[3];
    uint32_t st_mask = (1u << t.st[0]) | (1u << t.st[1]);
    uint32_t af_mask = (1u << t.a) | (1u << t.f);

    /* Step 1: 255 entries committed without S and T. */
    sim_partition(s, st_mask, af_mask | (1u << t.b));
    for (uint32_t i = 0; i < CUT - 1; i++) {
        d.req_no = sim_client_submit_order(s, 0, 0);
        assert_true(d.req_no > 0);
        assert_true(sim_run_until(s, sim_now_us(s) + 10 * SEC, is_done, &d));
    }
    assert_int_equal(leader(s), (int)t.a);
    t.x = last_exec(s, t.a) + 1;
    assert_int_equal(t.x, k + CUT);
    assert_int_equal(last_exec(s, t.st[0]), k);
    assert_int_equal(last_exec(s, t.st[1]), k);

    /* Step 2: X at A and F only; B elected by S and T, its entries kept
     * to itself. */
    sim_heal_links(s);
    sim_partition(s, af_mask, st_mask | (1u << t.b));
    int quiet_b = drop(s, BFT_MSG_RAFT_APPEND, SIM_MASK(t.b), SIM_MASK_REPLICAS);
    uint64_t xo = sim_client_submit_order(s, 0, 0);
    assert_true(xo > 0);
    sim_run_until(s, sim_now_us(s) + 100 * MS, NULL, NULL);
    /* X is not ordered again (its client's retransmissions). */
    drop(s, BFT_MSG_REQUEST, SIM_MASK(SIM_EP_CLIENT(0)), SIM_MASK_ALL);
    struct leader_in want_b = {SIM_MASK(t.b)};
    assert_true(sim_run_until(s, sim_now_us(s) + 20 * SEC, leader_among, &want_b));
    sim_run_until(s, sim_now_us(s) + 2 * SEC, NULL, NULL); /* A steps down (check-quorum) */

    /* Step 3: B down, links healed; L (A or F) sends S and T one cut
     * AppendEntries ending at X, the other of A and F hears nothing. */
    assert_int_equal(sim_crash(s, t.b), BFT_E_OK);
    sim_rule_remove(s, quiet_b);
    sim_heal_links(s);
    int quiet_af = drop(s, BFT_MSG_RAFT_APPEND, af_mask, af_mask);
    struct leader_in want_l = {af_mask};
    assert_true(sim_run_until(s, sim_now_us(s) + 20 * SEC, leader_among, &want_l));
    t.l = (uint32_t)leader(s);
    t.other = t.l == t.a ? t.f : t.a;
    if (o.verbose)
        fprintf(stderr, "roles: A %u F %u B %u S %u T %u; L %u, X at %llu\n", t.a, t.f, t.b,
                t.st[0], t.st[1], t.l, (unsigned long long)t.x);
    sim_set_tap(s, tap, &t);
    assert_true(sim_run_until(s, sim_now_us(s) + 10 * SEC, both_acked, &t));
    /* The acks arrive (one latency; well within an election timeout, so L
     * is still the leader and nobody else can be). */
    sim_run_until(s, sim_now_us(s) + 50 * MS, NULL, NULL);
    assert_not_failed(s);
    assert_int_equal(leader(s), (int)t.l);
    sim_set_tap(s, NULL, NULL);
    dump(s, "step3");

    /* Step 4: L and the other down, B back: elected by S and T, it puts
     * its own entry at X's index. */
    assert_int_equal(sim_crash(s, t.l), BFT_E_OK);
    assert_int_equal(sim_crash(s, t.other), BFT_E_OK);
    for (int i = 0; i < 2; i++)
        sim_rule_remove(s, t.cut_rule[i]);
    sim_rule_remove(s, quiet_af);
    assert_int_equal(sim_restart(s, t.b, true), BFT_E_OK);
    assert_true(sim_run_until(s, sim_now_us(s) + 20 * SEC, has_leader, NULL));
    dump(s, "step4");
    assert_int_equal(leader(s), (int)t.b);
    sim_run_until(s, sim_now_us(s) + 2 * SEC, NULL, NULL);
    assert_not_failed(s);
    assert_true(last_exec(s, t.st[0]) >= t.x);

    /* Everyone back: one history. */
    assert_int_equal(sim_restart(s, t.l, true), BFT_E_OK);
    assert_int_equal(sim_restart(s, t.other, true), BFT_E_OK);
    uint64_t top = last_exec(s, t.b);
    assert_true(sim_run_until(s, sim_now_us(s) + 20 * SEC, all_at, &top));
    assert_not_failed(s);
    sim_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_old_term_entry_commits_only_with_current_term_entry),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
