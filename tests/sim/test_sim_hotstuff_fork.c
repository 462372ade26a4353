/* Chained HotStuff must not fork a block that ONE correct replica
 * committed (PODC'19 §4.2, §5 Algorithm 3; the DiemBFT v4 timeout rule;
 * docs/hotstuff.md). The random fault profiles rarely let a 3-chain
 * complete at exactly one replica, or build a conflicting branch around
 * it, so the rules that keep a later leader off such a block were never
 * put to the test (make mutants: hs-lock-and-tc-rule, hs-qc-verify-count,
 * hs-commit-gap; docs/mutants.md).
 *
 * n = 4, f = 1, leader windows without reputation: the leader of view v is
 * (v / 256) mod 4, so replica 1 leads views 256-511, 1280-1535, ... and
 * the votes of a view in its window go to itself. Replica 1 is Byzantine
 * (the one fault): its own node's proposals never leave it, and this
 * file's forger proposes for it, signing with its real key (sim_sign_as),
 * from a script of blocks. The forger turns the votes replicas 2 and 3
 * send it (and its own) into QCs that it keeps to itself, builds TCs from
 * the timeout statements it sees on the wire, and answers block requests.
 * The forged blocks reach replicas 2 and 3 (the voters) unless the script
 * says otherwise. A block that an honest rule must refuse is refused on
 * the unmutated tree (no honest vote for it: asserted); with the rule
 * broken, the branch commits a block at seq 1 that conflicts with what a
 * correct replica executed there, and the checker reports agreement.
 * Every rule is keyed by message type, endpoints and view, so the
 * schedule does not depend on timing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/hotstuff/hotstuff_internal.h"
#include "tests/sim/sim_test.h"

#define MS 1000ull
#define N 4
#define QUORUM 3
#define BYZ 1            /* the forger's replica */
#define W 256ull         /* leader window */
#define VOTERS 0xcu      /* replicas 2 and 3 */
#define LONE 0           /* the replica that commits (or holds a chain) alone */
#define STEPS_MAX 12     /* blocks in a script */
#define TIMEOUTS_MAX 256 /* harvested timeout statements */
#define REQS_MAX 16      /* block requests waiting for an answer */
#define NONE UINT32_MAX

/* One forged block. parent: a script index, or NONE for genesis (justify
 * = the genesis QC); otherwise justify = a QC for the parent made of the
 * voters' votes and replica 1's, or of replica 1's vote alone (lone_qc).
 * batch: the client whose first request it carries, or -1 (empty).
 * has_tc: the first view of a window, entered by a TC; tc_any: any TC
 * will do, else one whose signers report high QCs no higher than the
 * justify (what an honest proposer has). to: receivers; 0 = never
 * proposed, only handed out when asked for (block sync). */
struct step {
    uint64_t view, height;
    uint32_t parent;
    int batch;
    bool has_tc, tc_any, lone_qc;
    uint32_t to;
};

struct fblock {
    struct hs_qc justify;
    bft_digest parent, digest, batch_digest;
    const uint8_t *batch;
    uint32_t batch_len;
    uint8_t vote_sig[N][BFT_SIG_LEN];
    uint32_t voted; /* replicas whose vote for it reached replica 1 */
};

struct tmo {
    uint64_t view, hqc_view;
    uint32_t signer;
    uint8_t sig[BFT_SIG_LEN];
};

static struct {
    struct sim *s;
    const struct step *script;
    uint32_t nsteps;
    bool on;          /* the forger proposes */
    bool mute;        /* replica 1's node says nothing at all */
    bool core_leads;  /* replica 1's node proposed in its first window */
    uint32_t hold_at; /* script index not to propose yet (NONE: none) */
    uint64_t cluster_id;
    /* One-request batches: the first request of clients 0 and 1. */
    uint8_t batch[2][2 + 4 + BFT_MSG_MIN_LEN + BFT_BODY_MAX];
    uint32_t batch_len[2];
    struct fblock blk[STEPS_MAX];
    uint32_t sent;        /* script[0..sent) built */
    struct hs_tc last_tc; /* the TC of the last proposal that carried one */
    uint64_t honest_votes;
    struct tmo to[TIMEOUTS_MAX];
    uint32_t nto;
    struct {
        bft_digest d;
        int from_ep;
    } req[REQS_MAX];
    uint32_t nreq;
} F;

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

/* Run until pred, reporting an invariant violation before a timeout. */
static void run_to(struct sim *s, uint64_t us, sim_pred_fn pred, void *ctx)
{
    bool ok = sim_run_until(s, sim_now_us(s) + us, pred, ctx);
    assert_not_failed(s);
    assert_true(ok);
}

static void note_timeout(const struct bft_msg *m)
{
    struct wire_rd r;
    struct hs_qc q;
    wire_rd_init(&r, m->body, m->body_len);
    if (!hs_qc_read(&r, N, &q)) return;
    const uint8_t *sig = wire_get_ptr(&r, BFT_SIG_LEN);
    if (r.err || m->sender >= N) return;
    for (uint32_t i = 0; i < F.nto; i++)
        if (F.to[i].view == m->view && F.to[i].signer == m->sender) return;
    if (F.nto == TIMEOUTS_MAX) return;
    struct tmo *t = &F.to[F.nto++];
    t->view = m->view;
    t->hqc_view = q.view;
    t->signer = m->sender;
    memcpy(t->sig, sig, BFT_SIG_LEN);
}

/* Records what the forger needs: the first requests of clients 0 and 1
 * (for batches), the timeout statements on the wire (for its TCs), the
 * votes sent to replica 1 and the block requests asked of it. forge_step
 * acts. */
static void tap(void *ctx, struct sim *s, int from, int to, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)s;
    struct bft_msg m;
    if (bft_msg_decode(msg, len, &m) != BFT_E_OK) return;
    int c = from - SIM_EP_CLIENT(0);
    if (m.type == BFT_MSG_REQUEST && (c == 0 || c == 1) && F.batch_len[c] == 0) {
        assert_true(len + 6 <= sizeof F.batch[c]);
        wire_le_store(F.batch[c], 1, 2);
        wire_le_store(F.batch[c] + 2, len, 4);
        memcpy(F.batch[c] + 6, msg, len);
        F.batch_len[c] = (uint32_t)len + 6;
        return;
    }
    if (from >= 0 && from < N && F.cluster_id == 0) F.cluster_id = m.cluster_id;
    if (m.type == BFT_MSG_HS_TIMEOUT) {
        note_timeout(&m);
        return;
    }
    if (from == BYZ && m.type == BFT_MSG_HS_PROPOSAL && m.view >= W) F.core_leads = true;
    if (to != BYZ || from < 0 || from >= N) return;
    if (m.type == BFT_MSG_HS_VOTE) {
        for (uint32_t k = 0; k < F.sent; k++) {
            struct fblock *b = &F.blk[k];
            if (F.script[k].view != m.view || !hs_deq(&b->digest, &m.digest)) continue;
            if (b->voted & (1u << from)) continue;
            memcpy(b->vote_sig[from], m.sig, BFT_SIG_LEN);
            b->voted |= 1u << from;
            if (VOTERS & (1u << from)) F.honest_votes++;
        }
    } else if (m.type == BFT_MSG_HS_BLOCK_REQ && F.nreq < REQS_MAX) {
        F.req[F.nreq].d = m.digest;
        F.req[F.nreq].from_ep = from;
        F.nreq++;
    }
}

/* Replica 1's own node: its proposals and block answers never leave it,
 * and nothing at all while it is muted. */
static int byz_node(void *ctx, struct sim *s, uint32_t from, int to_ep, uint8_t *msg, size_t *len,
                    size_t cap)
{
    (void)ctx, (void)s, (void)from, (void)to_ep, (void)cap;
    struct bft_msg m;
    if (F.mute) return SIM_SEND_DROP;
    if (bft_msg_decode(msg, *len, &m) != BFT_E_OK) return SIM_SEND_PASS;
    return m.type == BFT_MSG_HS_PROPOSAL || m.type == BFT_MSG_HS_BLOCK_RESP ? SIM_SEND_DROP
                                                                            : SIM_SEND_PASS;
}

static void forger_start(struct sim *s, const struct step *script, uint32_t n)
{
    assert_true(n <= STEPS_MAX);
    memset(&F, 0, sizeof F);
    F.s = s;
    F.script = script;
    F.nsteps = n;
    F.hold_at = NONE;
    sim_set_tap(s, tap, NULL);
    struct sim_behaviour beh = {.ctx = NULL, .on_send = byz_node};
    sim_set_behaviour(s, BYZ, &beh);
}

static void send_as_byz(struct bft_msg *m, int to)
{
    static uint8_t buf[BFT_MSG_MIN_LEN + BFT_BODY_MAX + BFT_PAYLOAD_MAX];
    m->sender = BYZ;
    m->cluster_id = F.cluster_id;
    size_t len = bft_msg_encode(m, buf, sizeof buf);
    assert_true(len > 0);
    assert_int_equal(sim_sign_as(F.s, BYZ, buf, len), BFT_E_OK);
    assert_int_equal(sim_inject(F.s, BYZ, to, buf, len, 1 * MS), BFT_E_OK);
}

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

/* A TC leading to `view` (a window's first view), the newest view first,
 * from the statements seen on the wire: with !any, only signers that
 * report high QCs no higher than max_hqc. */
static bool make_tc(uint64_t view, bool any, uint64_t max_hqc, struct hs_tc *tc)
{
    for (uint64_t v = view - 1; v >= view - W && v > 0; v--) {
        memset(tc, 0, sizeof(*tc));
        tc->view = v;
        for (uint32_t i = 0; i < F.nto && tc->k < QUORUM; i++) {
            const struct tmo *t = &F.to[i];
            if (t->view != v || (!any && t->hqc_view > max_hqc)) continue;
            tc->signer[tc->k] = (uint8_t)t->signer;
            tc->hqc_view[tc->k] = t->hqc_view;
            memcpy(tc->sig[tc->k], t->sig, BFT_SIG_LEN);
            tc->k++;
        }
        if (tc->k == QUORUM) return true;
    }
    return false;
}

static void send_block(uint8_t type, uint32_t k, const struct hs_tc *tc, int to)
{
    static uint8_t body[BFT_BODY_MAX];
    const struct fblock *b = &F.blk[k];
    struct wire_wr w;
    wire_wr_init(&w, body, sizeof body);
    wire_put_bytes(&w, b->parent.b, 32);
    hs_qc_write(&w, &b->justify);
    wire_put_u8(&w, tc ? 1 : 0);
    if (tc) hs_tc_write(&w, tc);
    assert_false(w.err);
    struct bft_msg m = {.type = type,
                        .view = F.script[k].view,
                        .seq = F.script[k].height,
                        .digest = b->batch_digest,
                        .body = body,
                        .body_len = (uint32_t)w.len,
                        .payload = b->batch,
                        .payload_len = b->batch_len};
    send_as_byz(&m, to);
}

/* The justify of script[k]: the genesis QC, or a QC for its parent. */
static bool make_justify(uint32_t k, struct hs_qc *q)
{
    const struct step *st = &F.script[k];
    if (st->parent == NONE) {
        hs_qc_genesis(q);
        return true;
    }
    const struct fblock *p = &F.blk[st->parent];
    const struct step *ps = &F.script[st->parent];
    if (!st->lone_qc && (p->voted & VOTERS) != VOTERS) return false;
    *q = (struct hs_qc){.view = ps->view, .height = ps->height, .block = p->digest};
    byz_vote_sig(q->view, q->height, &q->block, q->sig[q->k]);
    q->signer[q->k++] = BYZ;
    for (uint8_t r = 0; r < N && !st->lone_qc; r++) {
        if (!(VOTERS & (1u << r))) continue;
        memcpy(q->sig[q->k], p->vote_sig[r], BFT_SIG_LEN);
        q->signer[q->k++] = r;
    }
    return true;
}

/* After every step: answer block requests, then build and propose the
 * next block of the script once what it needs is there (its parent's QC,
 * a TC, its batch). Never ends the run. */
static bool forge_step(struct sim *s, void *ctx)
{
    (void)s, (void)ctx;
    for (uint32_t i = 0; i < F.nreq; i++)
        for (uint32_t k = 0; k < F.sent; k++)
            if (hs_deq(&F.blk[k].digest, &F.req[i].d))
                send_block(BFT_MSG_HS_BLOCK_RESP, k, NULL, F.req[i].from_ep);
    F.nreq = 0;
    if (!F.on || F.sent == F.nsteps || F.sent == F.hold_at || F.cluster_id == 0) return false;
    uint32_t k = F.sent;
    const struct step *st = &F.script[k];
    struct fblock *b = &F.blk[k];
    memset(b, 0, sizeof(*b));
    if (!make_justify(k, &b->justify)) return false;
    struct hs_tc tc;
    if (st->has_tc && !make_tc(st->view, st->tc_any, b->justify.view, &tc)) return false;
    if (st->has_tc) F.last_tc = tc;
    b->parent = b->justify.block;
    if (st->batch >= 0) {
        if (F.batch_len[st->batch] == 0) return false;
        b->batch = F.batch[st->batch];
        b->batch_len = F.batch_len[st->batch];
        bft_batch_digest(b->batch, b->batch_len, &b->batch_digest);
    }
    hs_block_digest(st->view, st->height, &b->parent, &b->batch_digest, &b->justify, &b->digest);
    for (int r = 0; r < N; r++)
        if (st->to & (1u << r)) send_block(BFT_MSG_HS_PROPOSAL, k, st->has_tc ? &tc : NULL, r);
    F.sent++;
    return false;
}

static bool sent_upto(struct sim *s, void *ctx)
{
    forge_step(s, NULL);
    return F.sent >= *(uint32_t *)ctx;
}

static struct sim *mk(void)
{
    struct sim_options o;
    sim_options_default(&o, BFT_PROTO_HOTSTUFF, N);
    o.clients = 2;
    o.request_timeout_ms = 500;
    o.read_pct = 0;
    o.leader_windows_only = true;
    o.verbose = getenv("SIM_VERBOSE") != NULL;
    struct sim *s = NULL;
    char err[256];
    if (sim_create(&s, &o, 7, err, sizeof(err)) != BFT_E_OK) fail_msg("sim_create: %s", err);
    sim_clients_load(s, false); /* scripted: requests only when a test submits */
    return s;
}

/* ---- a block committed at one replica, then a Byzantine leader ---- */

static bool core_leads(struct sim *s, void *ctx)
{
    (void)s, (void)ctx;
    return F.core_leads;
}

/* Client 0's X goes into B0 (view 1); replica 0 builds B1, B2 on it and,
 * with QC(B2), B3 (view 4), which completes the 3-chain B0 <- B1 <- B2
 * and so commits X at replica 0 only: B3 reaches nobody. Replica 0 then
 * crashes. Replicas 1-3 time out, assemble QC(B2) from the votes riding
 * in their timeouts and form TC(4) (every signer reports QC(B2), view 3),
 * which leads to view 256: replica 1's window, where the forger speaks and
 * replica 1's node is muted. Replicas 2 and 3 are locked on B0 (QC(B0),
 * view 1: B1's justify, seen in B2). Returns X's req_no. */
static uint64_t commit_at_one_replica(struct sim *s, const struct step *script, uint32_t n)
{
    forger_start(s, script, n);
    struct sim_rule r = {.action = SIM_RULE_DROP,
                         .type = BFT_MSG_HS_PROPOSAL,
                         .from_mask = SIM_MASK(LONE),
                         .to_mask = SIM_MASK_REPLICAS,
                         .match_view = true,
                         .view_lo = 4,
                         .view_hi = W - 1};
    assert_true(sim_rule_add(s, &r) >= 0);
    uint64_t x = sim_client_submit_order(s, 0, 0);
    assert_true(x > 0);
    sim_run_until(s, sim_now_us(s) + 300 * MS, NULL, NULL);
    assert_not_failed(s);
    /* Arranged: X executed at seq 1 at replica 0 and nowhere else. */
    assert_int_equal(sim_applied_seq(s, 0, x), 1);
    assert_int_equal(last_exec(s, LONE), 1);
    assert_int_equal(last_exec(s, 2), 0);
    assert_int_equal(last_exec(s, 3), 0);
    assert_int_equal(sim_crash(s, LONE), BFT_E_OK);
    run_to(s, 10 * SEC, core_leads, NULL);
    F.mute = true;
    return x;
}

/* Let the forger work, check that nobody voted for its branch, bring
 * replica 0 back and require X at seq 1 everywhere. */
static void forge_and_recover(struct sim *s, uint64_t x)
{
    F.on = true;
    uint32_t all = F.nsteps;
    sim_run_until(s, sim_now_us(s) + 5 * SEC, sent_upto, &all);
    sim_run_until(s, sim_now_us(s) + SEC, forge_step, NULL);
    assert_not_failed(s);
    assert_true(F.sent >= 1);
    /* The forged proposal carried TC(4), whose signers report QC(B2). */
    assert_int_equal(F.last_tc.view, 4);
    assert_int_equal(hs_tc_max_hqc(&F.last_tc), 3);
    assert_int_equal(F.honest_votes, 0);
    F.on = false;
    assert_int_equal(sim_restart(s, LONE, true), BFT_E_OK);
    for (uint32_t t = 0; t < 60 && (last_exec(s, 2) < 1 || last_exec(s, 3) < 1); t++)
        sim_run_until(s, sim_now_us(s) + SEC, NULL, NULL);
    assert_not_failed(s);
    assert_true(last_exec(s, 2) >= 1);
    assert_true(last_exec(s, 3) >= 1);
    assert_int_equal(sim_applied_seq(s, 0, x), 1);
    struct sim_replica_status st;
    assert_int_equal(sim_replica_status(s, 2, &st), BFT_E_OK);
    assert_true(st.view >= 2 * W); /* moved on to replica 2's window */
}

/* §4.2 safeNode and the DiemBFT v4 rule for a proposal after a TC: Z, on
 * genesis, carries TC(4), whose signers report QC(B2) (view 3), and the
 * genesis QC. Replicas 2 and 3 are locked on B0, which Z does not extend,
 * and the justify is older than what the TC reports: either rule refuses
 * Z. Accepted, Z <- Z1 <- Z2 with QC(Z2) in Z3 commits the empty Z at
 * seq 1, where replica 0 executed X. */
static void test_lock_and_tc_rule_keep_a_lone_commit(void **state)
{
    (void)state;
    if (!have_hotstuff()) return;
    static const struct step script[] = {
        {W, 1, NONE, -1, true, true, false, VOTERS},
        {W + 1, 2, 0, -1, false, false, false, VOTERS},
        {W + 2, 3, 1, -1, false, false, false, VOTERS},
        {W + 3, 4, 2, -1, false, false, false, VOTERS},
    };
    struct sim *s = mk();
    uint64_t x = commit_at_one_replica(s, script, 4);
    forge_and_recover(s, x);
    sim_destroy(s);
}

/* §4.2: a QC is n - f = 2f+1 votes from distinct replicas. Z1 (view 256)
 * carries TC(4) and a QC for Z0 (height 1, on genesis, view 255) signed by
 * replica 1 alone: newer than the lock and at least as high as the TC
 * reports, so only the QC's size stands in the way. Z0 itself is never
 * proposed, only handed out when asked for (block sync). Accepted, Z0
 * (255) <- Z1 <- Z2 with QC(Z2) in Z3 commits the empty Z0 at seq 1. */
static void test_qc_needs_2f_plus_1_votes(void **state)
{
    (void)state;
    if (!have_hotstuff()) return;
    static const struct step script[] = {
        {W - 1, 1, NONE, -1, false, false, false, 0},
        {W, 2, 0, -1, true, true, true, VOTERS},
        {W + 1, 3, 1, -1, false, false, false, VOTERS},
        {W + 2, 4, 2, -1, false, false, false, VOTERS},
        {W + 3, 5, 3, -1, false, false, false, VOTERS},
    };
    struct sim *s = mk();
    uint64_t x = commit_at_one_replica(s, script, 5);
    forge_and_recover(s, x);
    sim_destroy(s);
}

/* ---- the commit rule's consecutive views (hs-commit-gap) ---- */

/* PODC'19 §5, Algorithm 3: the 3-chain b <- b' <- b'' commits b only if
 * b''.parent = b' and b'.parent = b with consecutive views. With gaps, the
 * chain can sit on top of a QC for a conflicting block formed in a view
 * inside a gap, and a later proposal justified by that QC passes both the
 * lock (only as high as b's QC) and the timeout rule (the TC's signers
 * report high QCs no higher than the gap). Every honest leader's proposal
 * is dropped, so each of their windows ends in a TC; replica 1's node
 * holds no request (its dropped proposals are empty blocks, none equal to
 * a forged one, so its own vote never completes a QC for one). X and V
 * are the first requests of clients 0 and 1:
 *
 *   view 256   b0 = {X} on genesis            voters 2, 3  QC(b0) hidden
 *   view 1280  Z  = {V} on genesis, TC         voters 2, 3  QC(Z) hidden
 *   view 2304  b1 on b0, justify QC(b0), TC    voters 2, 3
 *   view 3328  Y  on Z,  justify QC(Z),  TC    voters 2, 3
 *   view 4352  b2 on b1, justify QC(b1), TC    voters 2, 3
 *   view 4353  b3 on b2, justify QC(b2)        to replica 0 only
 *
 * Each TC's signers report high QCs no higher than the new block's
 * justify and no replica is locked above it (a lock is the justify of the
 * justify), so every honest rule holds. Replica 0 sees the 3-chain
 * b0 <- b1 <- b2 (views 256, 2304, 4352): not consecutive, so it commits
 * nothing, and it crashes before its high QC (QC(b2)) reaches anyone.
 * Then the forger, in view 5376, extends Y with QC(Y) (view 3328, above
 * QC(b1), the highest QC replicas 2 and 3 hold; their lock is QC(b0)):
 * Y1, Y2, Y3, Y4 in consecutive views commit Z (V at seq 1) at replicas 2
 * and 3. Correct, since b0 was never committed: X is ordered later. With
 * the gap rule broken, replica 0 executed X at seq 1: agreement. */
enum { B0, Z, B1, Y, B2, B3, Y1, Y2, Y3, Y4, GAP_STEPS };
static const struct step GAP[GAP_STEPS] = {
    [B0] = {1 * W, 1, NONE, 0, true, false, false, VOTERS},
    [Z] = {5 * W, 1, NONE, 1, true, false, false, VOTERS},
    [B1] = {9 * W, 2, B0, -1, true, false, false, VOTERS},
    [Y] = {13 * W, 2, Z, -1, true, false, false, VOTERS},
    [B2] = {17 * W, 3, B1, -1, true, false, false, VOTERS},
    [B3] = {17 * W + 1, 4, B2, -1, false, false, false, 1u << LONE},
    [Y1] = {21 * W, 3, Y, -1, true, false, false, VOTERS},
    [Y2] = {21 * W + 1, 4, Y1, -1, false, false, false, VOTERS},
    [Y3] = {21 * W + 2, 5, Y2, -1, false, false, false, VOTERS},
    [Y4] = {21 * W + 3, 6, Y3, -1, false, false, false, VOTERS},
};

static bool lone_voted(struct sim *s, void *ctx)
{
    forge_step(s, ctx);
    return F.sent > B3 && (F.blk[B3].voted & (1u << LONE));
}

static void test_commit_needs_consecutive_views(void **state)
{
    (void)state;
    if (!have_hotstuff()) return;
    struct sim *s = mk();
    forger_start(s, GAP, GAP_STEPS);
    struct sim_rule r = {.action = SIM_RULE_DROP,
                         .type = BFT_MSG_HS_PROPOSAL,
                         .from_mask = SIM_MASK(0) | SIM_MASK(2) | SIM_MASK(3),
                         .to_mask = SIM_MASK_REPLICAS};
    int rule = sim_rule_add(s, &r);
    assert_true(rule >= 0);
    struct sim_rule r1 = {.action = SIM_RULE_DROP,
                          .type = BFT_MSG_REQUEST,
                          .from_mask = SIM_MASK_ALL,
                          .to_mask = SIM_MASK(BYZ)};
    assert_true(sim_rule_add(s, &r1) >= 0);
    uint64_t x = sim_client_submit_order(s, 0, 0);
    assert_true(x > 0);
    uint64_t v = sim_client_submit_order(s, 1, 0);
    assert_true(v > 0);
    F.on = true;
    F.hold_at = Y1;
    /* b3 reaches replica 0, which fetches b2, b1, b0 from replica 1 and
     * votes for b3. */
    run_to(s, 600 * SEC, lone_voted, NULL);
    /* It must have committed nothing: checked at the end, so that a wrong
     * commit shows as the agreement violation it leads to. */
    uint64_t lone_exec = last_exec(s, LONE);
    assert_int_equal(sim_crash(s, LONE), BFT_E_OK);
    F.hold_at = NONE;
    uint32_t all = GAP_STEPS;
    run_to(s, 600 * SEC, sent_upto, &all);
    sim_run_until(s, sim_now_us(s) + 300 * MS, forge_step, NULL);
    assert_not_failed(s);
    /* Z's branch committed at replicas 2 and 3: Z, Y, Y1 at seqs 1-3. */
    assert_true(last_exec(s, 2) >= 3);
    assert_true(last_exec(s, 3) >= 3);
    /* The forger stops, the honest leaders speak again, replica 0 comes
     * back: X is ordered after Z's branch, everywhere. */
    F.on = false;
    sim_rule_remove(s, rule);
    assert_int_equal(sim_restart(s, LONE, true), BFT_E_OK);
    for (uint32_t t = 0; t < 120 && !sim_client_done(s, 0, x); t++)
        sim_run_until(s, sim_now_us(s) + SEC, NULL, NULL);
    assert_not_failed(s);
    assert_true(sim_client_done(s, 0, x));
    assert_int_equal(lone_exec, 0);
    assert_int_equal(sim_applied_seq(s, 1, v), 1);
    assert_true(sim_applied_seq(s, 0, x) > 3);
    sim_destroy(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lock_and_tc_rule_keep_a_lone_commit),
        cmocka_unit_test(test_qc_needs_2f_plus_1_votes),
        cmocka_unit_test(test_commit_needs_consecutive_views),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
