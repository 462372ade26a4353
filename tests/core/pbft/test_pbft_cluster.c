/* PBFT core, whole clusters on the scripted network with a virtual clock:
 * lossy links, a partitioned replica that catches up (§4.3 state transfer
 * and log fetch), and an equivocating primary (§4.4). After every step the
 * executed logs of all replicas must agree (safety). */
#include "core/core.h"
#include "pbft_fixture.h"
#include "wire/hash.h"

static uint32_t g_loss_pct;

static bool lossy(struct fx *fx, uint32_t from, uint32_t to, const struct bft_msg *m)
{
    (void)from, (void)to, (void)m;
    return fx_rand(fx) % 100 < g_loss_pct;
}

/* Safety: for every seq two replicas both executed, the same batch. */
static void check_agreement(struct fx *fx)
{
    for (uint32_t a = 0; a < fx->n; a++)
        for (uint32_t b = a + 1; b < fx->n; b++) {
            const struct fx_node *x = &fx->node[a], *y = &fx->node[b];
            uint32_t i = 0, j = 0;
            while (i < x->nexec && j < y->nexec) {
                if (x->exec_seq[i] < y->exec_seq[j]) {
                    i++;
                } else if (x->exec_seq[i] > y->exec_seq[j]) {
                    j++;
                } else {
                    assert_memory_equal(x->exec_digest[i].b, y->exec_digest[j].b, 32);
                    i++, j++;
                }
            }
        }
}

static bool all_done(struct fx *fx, uint64_t reqs)
{
    for (uint32_t i = 0; i < fx->n; i++)
        for (uint64_t r = 1; r <= reqs; r++)
            if (!fx_done(&fx->node[i], 7, r)) return false;
    return true;
}

/* Clients send each request to every replica and retransmit it until every
 * replica has executed it (replicas that did answer from their table). */
static void drive(struct fx *fx, uint64_t reqs, uint64_t limit_ms)
{
    uint64_t next = 1;
    for (uint64_t t = 0; t < limit_ms && !all_done(fx, reqs); t += 20) {
        for (int k = 0; k < 3 && next <= reqs; k++, next++)
            for (uint32_t i = 0; i < fx->n; i++)
                if (!fx->node[i].down) fx_submit(fx, i, 7, next);
        if (t % 500 == 0)
            for (uint64_t r = 1; r < next; r++)
                for (uint32_t i = 0; i < fx->n; i++)
                    if (!fx->node[i].down) fx_submit(fx, i, 7, r);
        fx_run(fx);
        fx_advance(fx, 20);
        check_agreement(fx);
    }
}

static struct bft_core_config small(uint32_t n)
{
    struct bft_core_config cfg;
    bft_core_config_defaults(&cfg, BFT_PROTO_PBFT, n, 0);
    cfg.window = 16;
    cfg.checkpoint_interval = 4;
    cfg.pipeline_max = 4;
    cfg.batch_max = 4;
    return cfg;
}

/* §4.2 with retransmission: 15% of replica messages are lost, yet every
 * request executes everywhere, in the same order. */
static void test_lossy_network_all_execute_same_order(void **state)
{
    (void)state;
    struct bft_core_config cfg = small(4);
    struct fx fx;
    fx_init_cfg(&fx, 4, &cfg);
    fx.rng = BFT_GOLDEN64;
    g_loss_pct = 15;
    fx.drop = lossy;
    drive(&fx, 120, 120000);
    assert_true(all_done(&fx, 120));
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(fx_status(&fx.node[i]).pending_requests, 0);
    fx_free(&fx);
}

/* §4.3: a replica cut off while the others move past its window catches
 * up by state transfer plus log fetch, and does not disturb the view. */
static void test_partitioned_replica_catches_up(void **state)
{
    (void)state;
    struct bft_core_config cfg = small(4);
    struct fx fx;
    fx_init_cfg(&fx, 4, &cfg);
    fx.node[3].down = true;
    drive(&fx, 60, 60000);
    assert_int_equal(fx.node[3].nexec, 0);
    assert_true(fx_status(&fx.node[0]).stable_checkpoint > cfg.window);
    fx.node[3].down = false;
    drive(&fx, 80, 60000);
    assert_true(all_done(&fx, 80));
    assert_true(fx.node[3].restores >= 1);
    assert_int_equal(fx_status(&fx.node[3]).last_executed, fx_status(&fx.node[0]).last_executed);
    assert_memory_equal(fx.node[3].state.b, fx.node[0].state.b, 32);
    for (uint32_t i = 0; i < 4; i++)
        assert_int_equal(fx_status(&fx.node[i]).view, 0);
    fx_free(&fx);
}

/* §4.4: a primary that equivocates (different batches for the same seq to
 * different backups) commits neither; the view change carries the batch
 * prepared by a quorum to the new primary, which never received it, and
 * everyone executes exactly that one. */
static void test_equivocating_primary_replaced(void **state)
{
    (void)state;
    struct fx fx;
    fx_init(&fx, 4);
    fx.node[0].down = true; /* replica 0 is scripted by the test */
    uint8_t ba[1024], bb[1024];
    uint32_t la = fx_batch(ba, sizeof ba, 7, 1, 1);
    uint32_t lb = fx_batch(bb, sizeof bb, 7, 2, 1);
    bft_digest da, db;
    bft_batch_digest(ba, la, &da);
    bft_batch_digest(bb, lb, &db);
    struct bft_msg pa = {
        .type = BFT_MSG_PRE_PREPARE, .seq = 1, .digest = da, .payload = ba, .payload_len = la};
    struct bft_msg pb = {
        .type = BFT_MSG_PRE_PREPARE, .seq = 1, .digest = db, .payload = bb, .payload_len = lb};
    for (uint32_t i = 1; i < 4; i++) {
        fx_submit(&fx, i, 7, 1);
        fx_submit(&fx, i, 7, 2);
    }
    fx_inject(&fx, 0, 1, &pa);
    fx_inject(&fx, 0, 2, &pb);
    fx_inject(&fx, 0, 3, &pb);
    fx_run(&fx);
    for (uint32_t i = 1; i < 4; i++)
        assert_int_equal(fx.node[i].nexec, 0);
    assert_true(pbft_slot_at(fx.node[2].core, 1)->prepared);
    for (int round = 0; round <= PBFT_PROBES; round++)
        for (uint32_t i = 1; i < 4; i++)
            fx_fire(&fx, i, PBFT_TIMER_VIEW_CHANGE);
    fx_run(&fx);
    for (uint32_t i = 1; i < 4; i++) {
        struct fx_node *nd = &fx.node[i];
        assert_int_equal(fx_status(nd).view, 1);
        assert_true(nd->nexec >= 1);
        assert_memory_equal(nd->exec_digest[0].b, db.b, 32);
    }
    /* Request 1 (only in the losing batch) still gets executed after. */
    for (uint32_t i = 1; i < 4; i++)
        assert_int_equal(fx.node[i].nexec, 2);
    check_agreement(&fx);
    fx_free(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lossy_network_all_execute_same_order),
        cmocka_unit_test(test_partitioned_replica_catches_up),
        cmocka_unit_test(test_equivocating_primary_replaced),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
