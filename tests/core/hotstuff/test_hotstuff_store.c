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

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_impl_store_blocks_do_not_move),
        cmocka_unit_test(test_impl_store_bound_is_blocks_max),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
