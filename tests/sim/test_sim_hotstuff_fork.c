/* Chained HotStuff must not fork a block that ONE correct replica
 * committed (PODC'19 §4.2, §5 Algorithm 3; the DiemBFT v4 timeout rule,
 * docs/hotstuff.md). The random fault profiles rarely let a 3-chain
 * complete at exactly one replica before a leader change, so the rules
 * that keep a later leader off that block were never put to the test
 * (make mutants: hs-lock-and-tc-rule, hs-qc-verify-count; docs/mutants.md).
 *
 * Both scenarios start alike (n = 4, f = 1, leader windows without
 * reputation: replica 0 leads views 1-255, replica 1 views 256-511).
 * Client 0's X goes into B0 (view 1); replica 0 builds B1, B2 on it and,
 * with QC(B2), B3 (view 4), which completes the 3-chain B0 <- B1 <- B2
 * and so commits X at replica 0 only: B3 reaches nobody. Replica 0 then
 * crashes. Replicas 1-3 time out, assemble QC(B2) from the votes riding in
 * their timeouts and form TC(4) (every signer reports QC(B2), view 3),
 * which leads to view 256, led by replica 1.
 *
 * Replica 1 is Byzantine (the one fault): its own node is silenced and
 * this file's forger speaks for it, signing with its real key, collecting
 * the votes sent to it (views 256+ are its window, so the next leader is
 * itself) and answering block requests. It builds a branch that conflicts
 * with B0 and offers it to replicas 2 and 3:
 *   - an empty block at height 1 on genesis, justified by TC(4) and the
 *     genesis QC: the TC says its signers hold QC(B2), so the justify is
 *     too old (DiemBFT v4) and, for a replica locked on B0, not newer than
 *     the lock (safeNode, §4.2);
 *   - a block on an unproposed height-1 block Z0, justified by TC(4) and a
 *     QC for Z0 in view 255 signed by replica 1 alone: a QC needs 2f+1
 *     distinct valid votes (§4.2).
 * Refused, nothing happens: replica 0 restarts, the honest replicas move
 * on to replica 2's window and commit X at seq 1 everywhere. Accepted, the
 * forger gathers real QCs on its branch, its 3-chain commits an empty
 * block at seq 1 at replicas 2 and 3, and the checker reports agreement
 * (replica 0 executed X there). Every rule is keyed by message type,
 * endpoints and view, so the schedule does not depend on timing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bft/hotstuff_internal.h"
#include "tests/sim/sim_test.h"

#define MS 1000ull
#define N 4
#define BYZ 1             /* the forger's replica */
#define FIRST_VIEW 256    /* replica 1's window: TC(4) leads here */
#define CHAIN_MAX 8       /* blocks the forger builds */
#define REQS_MAX 16       /* block requests waiting for an answer */
#define HONEST_VOTERS 0xc /* replicas 2 and 3 */

struct fblock {
    uint64_t view, height;
    bft_digest parent, digest;
    struct hs_qc justify;
    bool has_tc, proposed;
    uint8_t vote_sig[N][BFT_SIG_LEN];
    uint32_t voted; /* mask of replicas whose vote for it reached replica 1 */
};

/* Replica 1, Byzantine: the forger. */
struct forger {
    struct sim *s;
    bool have_tc, on;
    struct hs_tc tc;
    uint64_t cluster_id;
    struct fblock blk[CHAIN_MAX];
    uint32_t nblk;
    uint32_t proposals; /* proposals to send in all, the first blk[first] */
    uint32_t first, sent;
    struct {
        bft_digest d;
        int from_ep;
    } req[REQS_MAX];
    uint32_t nreq;
    uint64_t honest_votes; /* votes by 2 and 3 for forged blocks */
};

static struct forger F;

static struct sim *mk(void)
{
    struct sim_options o;
    sim_options_default(&o, BFT_PROTO_HOTSTUFF, N);
    o.clients = 2;
    o.request_timeout_ms = 500;
    o.read_pct = 0;
    o.leader_windows_only = true; /* the leader of view v is (v / 256) mod n */
    o.verbose = getenv("SIM_VERBOSE") != NULL;
    struct sim *s = NULL;
    char err[256];
    if (sim_create(&s, &o, 7, err, sizeof(err)) != BFT_E_OK) fail_msg("sim_create: %s", err);
    sim_clients_load(s, false); /* scripted: requests only when a test submits */
    return s;
}

static uint64_t last_exec(struct sim *s, uint32_t r)
{
    struct sim_replica_status st;
    assert_int_equal(sim_replica_status(s, r, &st), BFT_E_OK);
    return st.last_executed;
}

static void assert_not_failed(struct sim *s)
{
    const char *why = NULL;
    if (sim_failed(s, &why)) fail_msg("invariant violated: %s", why);
}

static struct fblock *find_block(uint64_t view, uint64_t height, const bft_digest *d)
{
    for (uint32_t i = 0; i < F.nblk; i++)
        if (F.blk[i].view == view && F.blk[i].height == height && hs_deq(&F.blk[i].digest, d))
            return &F.blk[i];
    return NULL;
}

/* Sees every message put on the wire: TC(4) in replica 1's own proposal
 * (which its behaviour then drops), the votes sent to replica 1 and the
 * block requests asked of it. Only records; forge_step acts. */
static void tap(void *ctx, struct sim *s, int from, int to, const uint8_t *msg, size_t len)
{
    (void)ctx;
    (void)s;
    struct bft_msg m;
    if (bft_msg_decode(msg, len, &m) != BFT_E_OK) return;
    if (from == BYZ && m.type == BFT_MSG_HS_PROPOSAL && !F.have_tc) {
        struct net_rd r;
        struct hs_qc q;
        net_rd_init(&r, m.body, m.body_len);
        net_get_ptr(&r, 32);
        if (!hs_qc_read(&r, N, &q) || net_get_u8(&r) != 1 || !hs_tc_read(&r, N, &F.tc)) return;
        F.have_tc = true;
        F.cluster_id = m.cluster_id;
        return;
    }
    if (to != BYZ || !F.on || from < 0 || from >= N) return;
    if (m.type == BFT_MSG_HS_VOTE) {
        struct fblock *b = find_block(m.view, m.seq, &m.digest);
        if (!b || (b->voted & (1u << from))) return;
        memcpy(b->vote_sig[from], m.sig, BFT_SIG_LEN);
        b->voted |= 1u << from;
        if (HONEST_VOTERS & (1u << from)) F.honest_votes++;
    } else if (m.type == BFT_MSG_HS_BLOCK_REQ && F.nreq < REQS_MAX) {
        F.req[F.nreq].d = m.digest;
        F.req[F.nreq].from_ep = from;
        F.nreq++;
    }
}

/* Replica 1's node says nothing of its own once the forger speaks: its
 * proposals never leave it, and nothing else once the forger is on. */
static int silence(void *ctx, struct sim *s, uint32_t from, int to_ep, uint8_t *msg, size_t *len,
                   size_t cap)
{
    (void)ctx, (void)s, (void)from, (void)to_ep, (void)cap;
    struct bft_msg m;
    if (F.on || F.have_tc) return SIM_SEND_DROP;
    if (bft_msg_decode(msg, *len, &m) == BFT_E_OK && m.type == BFT_MSG_HS_PROPOSAL)
        return SIM_SEND_DROP;
    return SIM_SEND_PASS;
}

/* Encode, sign as replica 1 (its real key) and put on the wire to `to`. */
static void send_as_byz(struct bft_msg *m, int to)
{
    static uint8_t buf[BFT_MSG_MIN_LEN + BFT_BODY_MAX];
    m->sender = BYZ;
    m->cluster_id = F.cluster_id;
    size_t len = bft_msg_encode(m, buf, sizeof buf);
    assert_true(len > 0);
    assert_int_equal(sim_sign_as(F.s, BYZ, buf, len), BFT_E_OK);
    assert_int_equal(sim_inject(F.s, BYZ, to, buf, len, 1 * MS), BFT_E_OK);
}

/* Replica 1's own vote signature for (view, height, block). */
static void byz_vote_sig(uint64_t view, uint64_t height, const bft_digest *d,
                         uint8_t sig[BFT_SIG_LEN])
{
    uint8_t buf[BFT_MSG_MIN_LEN];
    struct bft_msg m = {.type = BFT_MSG_HS_VOTE,
                        .sender = BYZ,
                        .cluster_id = F.cluster_id,
                        .view = view,
                        .seq = height,
                        .digest = *d};
    size_t len = bft_msg_encode(&m, buf, sizeof buf);
    assert_int_equal(len, BFT_MSG_MIN_LEN);
    assert_int_equal(sim_sign_as(F.s, BYZ, buf, len), BFT_E_OK);
    struct bft_msg back;
    assert_int_equal(bft_msg_decode(buf, len, &back), BFT_E_OK);
    memcpy(sig, back.sig, BFT_SIG_LEN);
}

/* An empty block; its digest as the receivers compute it. */
static struct fblock *add_block(uint64_t view, uint64_t height, const bft_digest *parent,
                                const struct hs_qc *justify, bool has_tc)
{
    assert_true(F.nblk < CHAIN_MAX);
    struct fblock *b = &F.blk[F.nblk++];
    memset(b, 0, sizeof(*b));
    b->view = view;
    b->height = height;
    b->parent = *parent;
    b->justify = *justify;
    b->has_tc = has_tc;
    static const bft_digest zero;
    hs_block_digest(view, height, parent, &zero, justify, &b->digest);
    return b;
}

static void send_block(uint8_t type, const struct fblock *b, int to)
{
    static uint8_t body[BFT_BODY_MAX];
    struct net_wr w;
    net_wr_init(&w, body, sizeof body);
    net_put_bytes(&w, b->parent.b, 32);
    hs_qc_write(&w, &b->justify);
    bool tc = type == BFT_MSG_HS_PROPOSAL && b->has_tc;
    net_put_u8(&w, tc ? 1 : 0);
    if (tc) hs_tc_write(&w, &F.tc);
    assert_false(w.err);
    struct bft_msg m = {
        .type = type, .view = b->view, .seq = b->height, .body = body, .body_len = (uint32_t)w.len};
    send_as_byz(&m, to);
}

static void propose(struct fblock *b)
{
    b->proposed = true;
    for (int r = 0; r < N; r++)
        if (HONEST_VOTERS & (1u << r)) send_block(BFT_MSG_HS_PROPOSAL, b, r);
    F.sent++;
}

/* After every step: answer block requests, and once both honest voters
 * voted for the newest forged proposal, turn their votes and replica 1's
 * into a real QC and propose the next block on it (consecutive views, so
 * that a 3-chain commits). Never ends the run. */
static bool forge_step(struct sim *s, void *ctx)
{
    (void)s, (void)ctx;
    if (!F.have_tc || !F.on) return false;
    for (uint32_t i = 0; i < F.nreq; i++)
        for (uint32_t k = 0; k < F.nblk; k++)
            if (hs_deq(&F.blk[k].digest, &F.req[i].d))
                send_block(BFT_MSG_HS_BLOCK_RESP, &F.blk[k], F.req[i].from_ep);
    F.nreq = 0;
    if (F.sent == 0) {
        propose(&F.blk[F.first]);
        return false;
    }
    struct fblock *last = &F.blk[F.nblk - 1];
    if (F.sent >= F.proposals || (last->voted & HONEST_VOTERS) != HONEST_VOTERS) return false;
    struct hs_qc q = {.view = last->view, .height = last->height, .block = last->digest};
    byz_vote_sig(last->view, last->height, &last->digest, q.sig[q.k]);
    q.signer[q.k++] = BYZ;
    for (uint8_t r = 0; r < N; r++) {
        if (!(HONEST_VOTERS & (1u << r))) continue;
        memcpy(q.sig[q.k], last->vote_sig[r], BFT_SIG_LEN);
        q.signer[q.k++] = r;
    }
    propose(add_block(last->view + 1, last->height + 1, &last->digest, &q, false));
    return false;
}

static bool tc_seen(struct sim *s, void *ctx)
{
    (void)s, (void)ctx;
    return F.have_tc;
}

/* The common start: X committed at replica 0 alone, replica 0 down,
 * replicas 1-3 in view 256 with TC(4) in hand (the forger must speak
 * before they time that view out too). Returns X's req_no. */
static uint64_t commit_at_one_replica(struct sim *s)
{
    memset(&F, 0, sizeof F);
    F.s = s;
    sim_set_tap(s, tap, NULL);
    struct sim_behaviour beh = {.ctx = NULL, .on_send = silence};
    sim_set_behaviour(s, BYZ, &beh);
    /* B3 and anything later of replica 0's window reaches nobody. */
    struct sim_rule r = {.action = SIM_RULE_DROP,
                         .type = BFT_MSG_HS_PROPOSAL,
                         .from_mask = SIM_MASK(0),
                         .to_mask = SIM_MASK_REPLICAS,
                         .match_view = true,
                         .view_lo = 4,
                         .view_hi = FIRST_VIEW - 1};
    assert_true(sim_rule_add(s, &r) >= 0);
    uint64_t x = sim_client_submit_order(s, 0, 0);
    assert_true(x > 0);
    sim_run_until(s, sim_now_us(s) + 300 * MS, NULL, NULL);
    assert_not_failed(s);
    /* Arranged: X executed at seq 1 at replica 0 and nowhere else. */
    assert_int_equal(sim_applied_seq(s, 0, x), 1);
    assert_int_equal(last_exec(s, 0), 1);
    assert_int_equal(last_exec(s, 2), 0);
    assert_int_equal(last_exec(s, 3), 0);
    assert_int_equal(sim_crash(s, 0), BFT_E_OK);
    /* Replicas 1-3 time out and form TC(4); replica 1 then proposes in
     * view 256 (dropped: the tap keeps its TC). */
    sim_run_until(s, sim_now_us(s) + 10 * SEC, tc_seen, NULL);
    assert_not_failed(s);
    assert_true(F.have_tc);
    assert_int_equal(F.tc.view, 4);
    assert_int_equal(hs_tc_max_hqc(&F.tc), 3); /* every signer holds QC(B2) */
    return x;
}

/* Let the forger work, then check that nobody voted for its branch, bring
 * replica 0 back and require X at seq 1 everywhere. */
static void forge_and_recover(struct sim *s, uint64_t x)
{
    F.on = true;
    sim_run_until(s, sim_now_us(s) + 5 * SEC, forge_step, NULL);
    assert_not_failed(s);
    assert_true(F.sent >= 1);
    assert_int_equal(F.honest_votes, 0);
    F.on = false;
    assert_int_equal(sim_restart(s, 0, true), BFT_E_OK);
    struct sim_replica_status st;
    for (uint64_t t = 0; t < 60 && (last_exec(s, 2) < 1 || last_exec(s, 3) < 1); t++)
        sim_run_until(s, sim_now_us(s) + SEC, NULL, NULL);
    assert_not_failed(s);
    assert_true(last_exec(s, 2) >= 1);
    assert_true(last_exec(s, 3) >= 1);
    assert_int_equal(sim_applied_seq(s, 0, x), 1);
    assert_int_equal(sim_replica_status(s, 2, &st), BFT_E_OK);
    assert_true(st.view >= 2 * FIRST_VIEW); /* replica 2's window */
}

/* §4.2 safeNode and the DiemBFT v4 rule for a proposal after a TC: the
 * forger's block on genesis carries TC(4), whose signers all report
 * QC(B2) (view 3), and the genesis QC. Replicas 2 and 3 are locked on B0
 * (QC(B0), view 1, from B2's justify), which the block does not extend,
 * and the justify is older than what the TC reports: either rule refuses
 * it. */
static void test_lock_and_tc_rule_keep_a_lone_commit(void **state)
{
    (void)state;
    if (!have_hotstuff()) return;
    struct sim *s = mk();
    uint64_t x = commit_at_one_replica(s);
    struct hs_qc genesis;
    hs_qc_genesis(&genesis);
    static const bft_digest zero;
    add_block(FIRST_VIEW, 1, &zero, &genesis, true);
    F.first = 0;
    F.proposals = 4; /* Z <- Z1 <- Z2 <- Z3 commits Z at seq 1 */
    forge_and_recover(s, x);
    sim_destroy(s);
}

/* §4.2: a QC is n - f = 2f+1 votes from distinct replicas. The forger's
 * block Z1 (view 256) carries TC(4) and a QC for Z0 (height 1, on
 * genesis, view 255) signed by replica 1 alone: newer than the lock and
 * at least as high as the TC reports, so only the QC's size stands in the
 * way. Z0 itself is handed out when asked for (block sync). */
static void test_qc_needs_2f_plus_1_votes(void **state)
{
    (void)state;
    if (!have_hotstuff()) return;
    struct sim *s = mk();
    uint64_t x = commit_at_one_replica(s);
    struct hs_qc genesis;
    hs_qc_genesis(&genesis);
    static const bft_digest zero;
    struct fblock *z0 = add_block(FIRST_VIEW - 1, 1, &zero, &genesis, false);
    struct hs_qc forged = {.view = z0->view, .height = 1, .block = z0->digest, .k = 1};
    forged.signer[0] = BYZ;
    byz_vote_sig(z0->view, 1, &z0->digest, forged.sig[0]);
    add_block(FIRST_VIEW, 2, &z0->digest, &forged, true);
    F.first = 1;
    F.proposals = 4; /* Z0 (255) <- Z1 <- Z2 with QC(Z2) in Z3 commits Z0 */
    forge_and_recover(s, x);
    sim_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lock_and_tc_rule_keep_a_lone_commit),
        cmocka_unit_test(test_qc_needs_2f_plus_1_votes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
