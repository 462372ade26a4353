/* Scripting helpers for the Raft core tests (included by
 * test_raft_fixture.h): election-safety bookkeeping, WAL records that give a
 * replica a durable past, and peeking at queued messages. */
#ifndef TEST_RAFT_SCRIPT_H
#define TEST_RAFT_SCRIPT_H

/* Election safety (§5.2, Fig. 3): at most one leader per term, checked
 * against every leader the test has seen. */
struct fx_terms {
    uint64_t term[256];
    uint32_t leader[256];
    uint32_t n;
};

FX_FN void fx_check_safety(struct fx *fx, struct fx_terms *seen)
{
    for (uint32_t i = 0; i < fx->n; i++) {
        if (fx->node[i].down) continue;
        struct bft_core_status st = fx_status(fx, i);
        if (!st.is_leader) continue;
        bool found = false;
        for (uint32_t k = 0; k < seen->n; k++) {
            if (seen->term[k] != st.view) continue;
            assert_int_equal(seen->leader[k], i);
            found = true;
        }
        if (!found && seen->n < 256) {
            seen->term[seen->n] = st.view;
            seen->leader[seen->n++] = i;
        }
    }
}

/* ---- WAL records, for scripting a replica's durable past ---- */

FX_FN void fx_rec_hard(struct fx_node *nd, uint64_t term, uint32_t voted, uint64_t floor,
                       bool anchored)
{
    uint8_t rec[22];
    rec[0] = RAFT_REC_HARD;
    wire_le_store(rec + 1, term, 8);
    wire_le_store(rec + 9, voted, 4);
    wire_le_store(rec + 13, floor, 8);
    rec[21] = anchored ? 1 : 0;
    bft_raft_ops.recover(nd->core, rec, sizeof rec);
    fx_io_persist(nd, rec, sizeof rec);
}

FX_FN void fx_rec_entry(struct fx_node *nd, uint64_t index, uint64_t term)
{
    uint8_t rec[21];
    rec[0] = RAFT_REC_ENTRY;
    wire_le_store(rec + 1, index, 8);
    wire_le_store(rec + 9, term, 8);
    wire_le_store(rec + 17, 0, 4); /* empty batch */
    bft_raft_ops.recover(nd->core, rec, sizeof rec);
    fx_io_persist(nd, rec, sizeof rec);
}

FX_FN void fx_rec_commit(struct fx_node *nd, uint64_t index)
{
    uint8_t rec[9];
    rec[0] = RAFT_REC_COMMIT;
    wire_le_store(rec + 1, index, 8);
    bft_raft_ops.recover(nd->core, rec, sizeof rec);
    fx_io_persist(nd, rec, sizeof rec);
}

/* Count queued messages of a type (optionally to one node). */
FX_FN size_t fx_queued(struct fx *fx, uint8_t type, int to)
{
    size_t k = 0;
    for (size_t i = fx->head; i < fx->head + fx->len; i++) {
        if (fx->q[i].len < 6 || fx->q[i].buf[5] != type) continue;
        if (to >= 0 && fx->q[i].to != (uint32_t)to) continue;
        k++;
    }
    return k;
}

#endif
