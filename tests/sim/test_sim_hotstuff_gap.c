/* Chained HotStuff commits b only on a 3-chain of consecutive views
 * (PODC'19 §5, Algorithm 3: "b''.parent = b' and b'.parent = b" with the
 * views one apart; docs/hotstuff.md). With gaps, a 3-chain can sit on top
 * of a QC for a conflicting block that was formed in a view inside a gap,
 * and a later proposal justified by that QC passes both the lock (which is
 * only as high as b's QC) and the timeout rule (a TC reports high QCs no
 * higher than the gap). make mutants' hs-commit-gap (docs/mutants.md)
 * needs this counterexample: no random profile builds it.
 *
 * n = 4, f = 1, leader windows without reputation (the leader of view v
 * is (v / 256) mod 4). Replica 1 is Byzantine (the one fault): its own
 * node's proposals never leave it (its timeouts do), and this file's
 * forger proposes for it in its windows (views 256 + 1024k), signing with
 * its real key. Each QC is formed by the forger from the votes replicas 2
 * and 3 send it (the next view's leader is itself) and kept to itself, so
 * honest replicas learn a QC only from a block that carries it. Every
 * honest leader's proposal is dropped, so each window of theirs ends in a
 * TC. With X the only client request:
 *
 *   view 256   b0 = {X} on genesis            voters 2, 3  QC(b0) hidden
 *   view 1280  Z  = {} on genesis, TC          voters 2, 3  QC(Z) hidden
 *   view 2304  b1 on b0, justify QC(b0), TC    voters 2, 3
 *   view 3328  Y  on Z,  justify QC(Z),  TC    voters 2, 3
 *   view 4352  b2 on b1, justify QC(b1), TC    voters 2, 3
 *   view 4353  b3 on b2, justify QC(b2)        to replica 0 only
 *
 * Each TC's signers report high QCs no higher than the new block's
 * justify, and no replica is locked above it (a lock is the justify of the
 * justify), so every honest rule holds. Replica 0 sees the 3-chain
 * b0 <- b1 <- b2 (views 256, 2304, 4352): not consecutive, so it commits
 * nothing, and it crashes. Then the forger, in view 5376, extends Y with
 * QC(Y) (view 3328 > 2304, the highest QC replicas 2 and 3 hold; their
 * lock is QC(b0), view 256): Y1, Y2, Y3, Y4 in consecutive views commit Z
 * at seq 1 at replicas 2 and 3. Correct: b0 was never committed, X is
 * ordered later. With the gap rule broken, replica 0 executed X at seq 1
 * and the checker reports agreement. */
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
#define BYZ 1
#define W 256ull         /* leader window */
#define VOTERS 0xcu      /* replicas 2 and 3 */
#define LONE 0           /* the replica that sees b3 */
#define TIMEOUTS_MAX 256 /* harvested timeout statements */
#define REQS_MAX 16      /* block requests waiting for an answer */
#define NONE UINT32_MAX

enum { B0, Z, B1, Y, B2, B3, Y1, Y2, Y3, Y4, NBLK };

struct step {
    uint64_t view, height;
    uint32_t parent; /* index, or NONE for genesis */
    int batch;       /* client whose request it carries, or -1 */
    bool has_tc;
    uint32_t to; /* replica mask */
};

/* The script of the comment above. */
static const struct step SCRIPT[NBLK] = {
    [B0] = {1 * W, 1, NONE, 0, true, VOTERS},
    [Z] = {5 * W, 1, NONE, 1, true, VOTERS},
    [B1] = {9 * W, 2, B0, -1, true, VOTERS},
    [Y] = {13 * W, 2, Z, -1, true, VOTERS},
    [B2] = {17 * W, 3, B1, -1, true, VOTERS},
    [B3] = {17 * W + 1, 4, B2, -1, false, 1u << LONE},
    [Y1] = {21 * W, 3, Y, -1, true, VOTERS},
    [Y2] = {21 * W + 1, 4, Y1, -1, false, VOTERS},
    [Y3] = {21 * W + 2, 5, Y2, -1, false, VOTERS},
    [Y4] = {21 * W + 3, 6, Y3, -1, false, VOTERS},
};

struct fblock {
    bool built;
    struct hs_qc justify;
    bft_digest parent, digest, batch_digest;
    const uint8_t *batch;
    uint32_t batch_len;
    uint8_t vote_sig[N][BFT_SIG_LEN];
    uint32_t voted;
};

struct tmo {
    uint64_t view, hqc_view;
    uint32_t signer;
    uint8_t sig[BFT_SIG_LEN];
};

static struct {
    struct sim *s;
    bool on, lone_crashed;
    uint64_t cluster_id;
    /* One-request batches: client 0's X (b0) and client 1's V (Z). */
    uint8_t batch[2][2 + 4 + BFT_MSG_MIN_LEN + BFT_BODY_MAX];
    uint32_t batch_len[2];
    struct fblock blk[NBLK];
    uint32_t sent; /* SCRIPT[0..sent) proposed */
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
    struct net_rd r;
    struct hs_qc q;
    net_rd_init(&r, m->body, m->body_len);
    if (!hs_qc_read(&r, N, &q)) return;
    const uint8_t *sig = net_get_ptr(&r, BFT_SIG_LEN);
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

/* Records what the forger needs: client 0's request (for b0's batch), the
 * timeout statements on the wire (for its TCs), the votes sent to replica
 * 1 and the block requests asked of it. forge_step acts. */
static void tap(void *ctx, struct sim *s, int from, int to, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)s;
    struct bft_msg m;
    if (bft_msg_decode(msg, len, &m) != BFT_E_OK) return;
    int c = from - SIM_EP_CLIENT(0);
    if (m.type == BFT_MSG_REQUEST && (c == 0 || c == 1) && F.batch_len[c] == 0) {
        assert_true(len + 6 <= sizeof F.batch[c]);
        net_le_store(F.batch[c], 1, 2);
        net_le_store(F.batch[c] + 2, len, 4);
        memcpy(F.batch[c] + 6, msg, len);
        F.batch_len[c] = (uint32_t)len + 6;
        return;
    }
    if (from >= 0 && from < N && F.cluster_id == 0) F.cluster_id = m.cluster_id;
    if (m.type == BFT_MSG_HS_TIMEOUT) {
        note_timeout(&m);
        return;
    }
    if (to != BYZ || from < 0 || from >= N) return;
    if (m.type == BFT_MSG_HS_VOTE) {
        for (uint32_t k = 0; k < F.sent; k++) {
            struct fblock *b = &F.blk[k];
            if (SCRIPT[k].view != m.view || !hs_deq(&b->digest, &m.digest)) continue;
            memcpy(b->vote_sig[from], m.sig, BFT_SIG_LEN);
            b->voted |= 1u << from;
        }
    } else if (m.type == BFT_MSG_HS_BLOCK_REQ && F.nreq < REQS_MAX) {
        F.req[F.nreq].d = m.digest;
        F.req[F.nreq].from_ep = from;
        F.nreq++;
    }
}

/* Replica 1's own node: its proposals never leave it. */
static int no_proposals(void *ctx, struct sim *s, uint32_t from, int to_ep, uint8_t *msg,
                        size_t *len, size_t cap)
{
    (void)ctx, (void)s, (void)from, (void)to_ep, (void)cap;
    struct bft_msg m;
    if (bft_msg_decode(msg, *len, &m) != BFT_E_OK) return SIM_SEND_PASS;
    return m.type == BFT_MSG_HS_PROPOSAL || m.type == BFT_MSG_HS_BLOCK_RESP ? SIM_SEND_DROP
                                                                            : SIM_SEND_PASS;
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

/* A TC leading to `view` (a window start) whose signers all report high
 * QCs no higher than max_hqc, from the statements seen on the wire. */
static bool make_tc(uint64_t view, uint64_t max_hqc, struct hs_tc *tc)
{
    for (uint64_t v = view - W; v < view; v++) {
        memset(tc, 0, sizeof(*tc));
        tc->view = v;
        for (uint32_t i = 0; i < F.nto && tc->k < 3; i++) {
            const struct tmo *t = &F.to[i];
            if (t->view != v || t->hqc_view > max_hqc) continue;
            tc->signer[tc->k] = (uint8_t)t->signer;
            tc->hqc_view[tc->k] = t->hqc_view;
            memcpy(tc->sig[tc->k], t->sig, BFT_SIG_LEN);
            tc->k++;
        }
        if (tc->k == 3) return true;
    }
    return false;
}

static void send_block(uint8_t type, uint32_t k, const struct hs_tc *tc, int to)
{
    static uint8_t body[BFT_BODY_MAX];
    const struct fblock *b = &F.blk[k];
    struct net_wr w;
    net_wr_init(&w, body, sizeof body);
    net_put_bytes(&w, b->parent.b, 32);
    hs_qc_write(&w, &b->justify);
    net_put_u8(&w, tc ? 1 : 0);
    if (tc) hs_tc_write(&w, tc);
    assert_false(w.err);
    struct bft_msg m = {.type = type,
                        .view = SCRIPT[k].view,
                        .seq = SCRIPT[k].height,
                        .digest = b->batch_digest,
                        .body = body,
                        .body_len = (uint32_t)w.len,
                        .payload = b->batch,
                        .payload_len = b->batch_len};
    send_as_byz(&m, to);
}

/* The next step of the script, once what it needs is there: the QC of its
 * parent (both voters' votes) and, for a window's first view, a TC. */
static bool forge_step(struct sim *s, void *ctx)
{
    (void)s, (void)ctx;
    for (uint32_t i = 0; i < F.nreq; i++)
        for (uint32_t k = 0; k < F.sent; k++)
            if (hs_deq(&F.blk[k].digest, &F.req[i].d))
                send_block(BFT_MSG_HS_BLOCK_RESP, k, NULL, F.req[i].from_ep);
    F.nreq = 0;
    if (!F.on || F.sent == NBLK || F.cluster_id == 0) return false;
    uint32_t k = F.sent;
    const struct step *st = &SCRIPT[k];
    if (k == Y1 && !F.lone_crashed) return false;
    struct fblock *b = &F.blk[k];
    memset(b, 0, sizeof(*b));
    if (st->parent == NONE) {
        hs_qc_genesis(&b->justify);
    } else {
        struct fblock *p = &F.blk[st->parent];
        if ((p->voted & VOTERS) != VOTERS) return false;
        struct hs_qc *q = &b->justify;
        *q = (struct hs_qc){.view = SCRIPT[st->parent].view,
                            .height = SCRIPT[st->parent].height,
                            .block = p->digest};
        byz_vote_sig(q->view, q->height, &q->block, q->sig[q->k]);
        q->signer[q->k++] = BYZ;
        for (uint8_t r = 0; r < N; r++) {
            if (!(VOTERS & (1u << r))) continue;
            memcpy(q->sig[q->k], p->vote_sig[r], BFT_SIG_LEN);
            q->signer[q->k++] = r;
        }
    }
    struct hs_tc tc;
    if (st->has_tc && !make_tc(st->view, b->justify.view, &tc)) return false;
    b->parent = b->justify.block;
    if (st->batch >= 0) {
        if (F.batch_len[st->batch] == 0) return false;
        b->batch = F.batch[st->batch];
        b->batch_len = F.batch_len[st->batch];
        bft_batch_digest(b->batch, b->batch_len, &b->batch_digest);
    }
    hs_block_digest(st->view, st->height, &b->parent, &b->batch_digest, &b->justify, &b->digest);
    b->built = true;
    for (int r = 0; r < N; r++)
        if (st->to & (1u << r)) send_block(BFT_MSG_HS_PROPOSAL, k, st->has_tc ? &tc : NULL, r);
    F.sent++;
    return false;
}

static bool sent_all(struct sim *s, void *ctx)
{
    forge_step(s, ctx);
    return F.sent >= *(uint32_t *)ctx;
}

static bool lone_voted(struct sim *s, void *ctx)
{
    forge_step(s, ctx);
    return F.blk[B3].voted & (1u << LONE);
}

static void test_commit_needs_consecutive_views(void **state)
{
    (void)state;
    if (!have_hotstuff()) return;
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
    sim_clients_load(s, false);
    memset(&F, 0, sizeof F);
    F.s = s;
    sim_set_tap(s, tap, NULL);
    struct sim_behaviour beh = {.ctx = NULL, .on_send = no_proposals};
    sim_set_behaviour(s, BYZ, &beh);
    /* Every honest leader's window ends in a TC. */
    struct sim_rule r = {.action = SIM_RULE_DROP,
                         .type = BFT_MSG_HS_PROPOSAL,
                         .from_mask = SIM_MASK(0) | SIM_MASK(2) | SIM_MASK(3),
                         .to_mask = SIM_MASK_REPLICAS};
    int rule = sim_rule_add(s, &r);
    assert_true(rule >= 0);
    /* Replica 1's own node never holds a request: its (dropped) proposals
     * are empty blocks, none of them equal to a forged one, so its own
     * vote never completes a QC for one. */
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
    uint32_t upto = B3 + 1;
    run_to(s, 600 * SEC, sent_all, &upto);
    /* b3 reached replica 0, which fetched b2, b1, b0 from replica 1 and
     * voted for b3. */
    run_to(s, 10 * SEC, lone_voted, NULL);
    /* Replica 0 holds the gapped 3-chain (and must have committed
     * nothing: checked at the end, so that a wrong commit shows as the
     * agreement violation it leads to). It goes down before its high QC,
     * QC(b2), reaches anyone. */
    uint64_t lone_exec = last_exec(s, LONE);
    assert_int_equal(sim_crash(s, LONE), BFT_E_OK);
    F.lone_crashed = true;
    upto = NBLK;
    run_to(s, 600 * SEC, sent_all, &upto);
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
        cmocka_unit_test(test_commit_needs_consecutive_views),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
