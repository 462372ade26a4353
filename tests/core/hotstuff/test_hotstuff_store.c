/* The HotStuff block store (core/hotstuff/hotstuff_block.c) allocates its
 * slots in chunks of HS_BLOCK_CHUNK as they are first used: a block never
 * moves once stored (callers hold pointers), slots are taken lowest first,
 * and the bound is still HS_BLOCKS_MAX blocks, past which a stray or old
 * block makes room (docs/hotstuff.md "Block sync"; ours, test_impl_).
 *
 * Test names start with the section they check, like etcd's
 * raft_paper_test and our PBFT and Raft tests: test_4_2_x is §4.2 of the
 * HotStuff paper (Yin, Malkhi, Reiter, Gueta, Abraham, PODC'19, arXiv
 * v6), test_alg3_x its Algorithm 3, test_diembft_x a rule of DiemBFT v4
 * (its timeout certificates, pacemaker and voting rule), and
 * test_impl_<part>_x one of our own extensions, each described in
 * docs/hotstuff.md. The line above each test names the section. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"
#include "core/hotstuff/hotstuff_internal.h"

static struct hs_wire_block wire(uint32_t k, uint8_t *batch)
{
    struct hs_wire_block w;
    memset(&w, 0, sizeof w);
    w.view = k + 1;
    w.height = k + 1;
    memcpy(w.digest.b, &k, sizeof k);
    w.digest.b[31] = 0xd1;
    memset(batch, (uint8_t)k, 16);
    w.batch = batch;
    w.batch_len = 16;
    return w;
}

static struct bft_core *store(void)
{
    struct bft_core *c = calloc(1, sizeof *c);
    assert_non_null(c);
    assert_int_equal(hs_store_init(c), BFT_E_OK);
    assert_int_equal(c->blocks_hwm, 0);
    return c;
}
static void drop(struct bft_core *c)
{
    hs_store_free(c);
    free(c);
}

/* docs/hotstuff.md "Block sync": the block store (stored blocks never move). */
static void test_impl_store_blocks_do_not_move(void **state)
{
    (void)state;
    struct bft_core *c = store();
    uint8_t batch[16];
    struct hs_wire_block w0 = wire(0, batch);
    struct hs_block *first = hs_block_insert(c, &w0, 1);
    assert_non_null(first);
    assert_int_equal(first->idx, 0);
    for (uint32_t k = 1; k < 3 * HS_BLOCK_CHUNK + 5; k++) {
        struct hs_wire_block w = wire(k, batch);
        struct hs_block *b = hs_block_insert(c, &w, 1);
        assert_non_null(b);
        assert_int_equal(b->idx, (int32_t)k); /* lowest free slot */
    }
    assert_int_equal(c->blocks_hwm, 3 * HS_BLOCK_CHUNK + 5);
    assert_ptr_equal(hs_block_get(c, &w0.digest), first);
    for (uint32_t k = 0; k < c->blocks_hwm; k++) {
        struct hs_wire_block w = wire(k, batch);
        struct hs_block *b = hs_block_get(c, &w.digest);
        assert_non_null(b);
        assert_int_equal(b->height, k + 1);
        assert_int_equal(b->batch[15], (uint8_t)k);
        /* Inserting it again returns the stored block. */
        assert_ptr_equal(hs_block_insert(c, &w, 2), b);
    }
    drop(c);
}

/* docs/hotstuff.md "Block sync" and "Bounds and rejects": the store holds 1024. */
static void test_impl_store_bound_is_blocks_max(void **state)
{
    (void)state;
    struct bft_core *c = store();
    uint8_t batch[16];
    for (uint32_t k = 0; k < HS_BLOCKS_MAX; k++) {
        struct hs_wire_block w = wire(k, batch);
        assert_non_null(hs_block_insert(c, &w, 1));
    }
    assert_int_equal(c->n_blocks, HS_BLOCKS_MAX);
    assert_int_equal(c->blocks_hwm, HS_BLOCKS_MAX);
    /* Full of unconnected strays: the lowest one makes room, and the new
     * block takes its slot. */
    struct hs_wire_block w = wire(HS_BLOCKS_MAX, batch);
    struct hs_block *b = hs_block_insert(c, &w, 1);
    assert_non_null(b);
    assert_int_equal(b->idx, 0);
    assert_int_equal(c->n_blocks, HS_BLOCKS_MAX);
    struct hs_wire_block w0 = wire(0, batch);
    assert_null(hs_block_get(c, &w0.digest));
    drop(c);
}

/* issue 14: a block that leaves the store takes its batch with it; the
 * slot's next block holds its own batch, not the capacity of the largest
 * one the slot ever held (HS_BLOCKS_MAX x BFT_PAYLOAD_MAX otherwise). */
static void test_impl_store_removed_block_frees_its_batch(void **state)
{
    (void)state;
    struct bft_core *c = store();
    static uint8_t big[64u << 10];
    uint8_t batch[16];
    struct hs_wire_block w = wire(0, batch);
    w.batch = big;
    w.batch_len = sizeof big;
    struct hs_block *b = hs_block_insert(c, &w, 1);
    assert_non_null(b);
    assert_int_equal(b->batch_cap, sizeof big);
    for (uint32_t k = 1; k < HS_BLOCKS_MAX; k++) {
        w = wire(k, batch);
        assert_non_null(hs_block_insert(c, &w, 1));
    }
    w = wire(HS_BLOCKS_MAX, batch); /* evicts block 0, takes its slot */
    b = hs_block_insert(c, &w, 1);
    assert_non_null(b);
    assert_int_equal(b->idx, 0);
    assert_int_equal(b->batch_len, 16);
    assert_int_equal(b->batch_cap, 16);
    drop(c);
}

static uint8_t *handed;
static int take(void *ctx, uint8_t **buf, size_t *len)
{
    (void)ctx;
    *len = 1000;
    *buf = malloc(*len);
    assert_non_null(*buf);
    memset(*buf, 0x5a, *len);
    handed = *buf;
    return BFT_E_OK;
}

/* issue 14: a snapshot the node hands over (io->snapshot_take) is served
 * as it is, not copied; the one it replaces is freed (ASan). */
static void test_impl_state_snapshot_taken_over_not_copied(void **state)
{
    (void)state;
    struct bft_core *c = calloc(1, sizeof *c);
    assert_non_null(c);
    c->cfg.checkpoint_interval = 4;
    c->io.snapshot_take = take;
    bft_digest blk = {{1}}, st = {{2}};
    for (uint64_t seq = 4; seq <= 8; seq += 4) {
        c->st.snap_wanted = true;
        hs_state_executed(c, seq, &blk, &st);
        assert_ptr_equal(c->st.snap_buf, handed);
        assert_int_equal(c->st.snap_len, 1000);
        assert_int_equal(c->st.snap.seq, seq);
    }
    free(c->st.snap_buf);
    free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_impl_store_blocks_do_not_move),
        cmocka_unit_test(test_impl_store_bound_is_blocks_max),
        cmocka_unit_test(test_impl_store_removed_block_frees_its_batch),
        cmocka_unit_test(test_impl_state_snapshot_taken_over_not_copied),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
