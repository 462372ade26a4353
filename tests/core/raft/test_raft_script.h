/* Scripting helpers for the Raft core tests (included by
 * test_raft_fixture.h): election-safety bookkeeping, WAL records that give a
 * replica a durable past, and peeking at queued messages and at effects. */
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
        if (cf_is_down(fx->cf, i)) continue;
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

/* The core replays the record and the node's WAL keeps it (so a restart
 * replays it again). A WAL too small for the script is only an error if
 * the test restarts that node (fx_restart checks). */
FX_FN void fx_rec(struct fx_node *nd, const uint8_t *rec, size_t len)
{
    struct fx *fx = nd->fx;
    struct bft_core *c = fx_core(fx, nd->id);
    assert_non_null(c);
    bft_raft_ops.recover(c, rec, len);
    int rv = cf_wal_append(fx->cf, nd->id, rec, len);
    if (rv == BFT_E_FULL)
        nd->wal_short = true;
    else
        assert_int_equal(rv, BFT_E_OK);
    fx_note(nd, FX_EV_PERSIST, 0, rec[0], len);
    fx_sync(fx);
}

FX_FN void fx_rec_hard(struct fx_node *nd, uint64_t term, uint32_t voted, uint64_t floor,
                       bool anchored)
{
    uint8_t rec[22];
    rec[0] = RAFT_REC_HARD;
    wire_le_store(rec + 1, term, 8);
    wire_le_store(rec + 9, voted, 4);
    wire_le_store(rec + 13, floor, 8);
    rec[21] = anchored ? 1 : 0;
    fx_rec(nd, rec, sizeof rec);
}

FX_FN void fx_rec_entry(struct fx_node *nd, uint64_t index, uint64_t term)
{
    uint8_t rec[21];
    rec[0] = RAFT_REC_ENTRY;
    wire_le_store(rec + 1, index, 8);
    wire_le_store(rec + 9, term, 8);
    wire_le_store(rec + 17, 0, 4); /* empty batch */
    fx_rec(nd, rec, sizeof rec);
}

FX_FN void fx_rec_commit(struct fx_node *nd, uint64_t index)
{
    uint8_t rec[9];
    rec[0] = RAFT_REC_COMMIT;
    wire_le_store(rec + 1, index, 8);
    fx_rec(nd, rec, sizeof rec);
}

/* Records a core emits (a compaction dump, bft_core_ops.compact), kept to
 * become a node's whole WAL. */
#define FX_RECS_MAX 256
struct fx_recs {
    uint8_t *p[FX_RECS_MAX];
    size_t len[FX_RECS_MAX];
    size_t n;
};

FX_FN void fx_recs_emit(void *ctx, const uint8_t *rec, size_t len)
{
    struct fx_recs *r = ctx;
    assert_true(r->n < FX_RECS_MAX);
    r->p[r->n] = malloc(len ? len : 1);
    assert_non_null(r->p[r->n]);
    memcpy(r->p[r->n], rec, len);
    r->len[r->n++] = len;
}

FX_FN void fx_recs_free(struct fx_recs *r)
{
    for (size_t k = 0; k < r->n; k++)
        free(r->p[k]);
    r->n = 0;
}

/* Crash node i, replace its disk with one whose WAL is `r` and no
 * snapshot, and restart it: a fresh core replays r alone. */
FX_FN void fx_restart_with_wal(struct fx *fx, uint32_t i, const struct fx_recs *r)
{
    fx_crash(fx, i);
    assert_int_equal(cf_lose_disk(fx->cf, i, true), BFT_E_OK);
    for (size_t k = 0; k < r->n; k++)
        assert_int_equal(cf_wal_append(fx->cf, i, r->p[k], r->len[k]), BFT_E_OK);
    fx->node[i].wal_short = false;
    fx_restart(fx, i, true);
}

/* ---- peeking ---- */

/* Count queued messages of a type (optionally to one node). */
FX_FN size_t fx_queued(struct fx *fx, uint8_t type, int to)
{
    size_t k = 0;
    for (size_t i = 0; i < fx->len; i++) {
        const struct fx_msg *m = fx_peek(fx, i);
        if (m->len < 6 || m->buf[5] != type) continue;
        if (to >= 0 && m->to != (uint32_t)to) continue;
        k++;
    }
    return k;
}

/* Did node nd persist a record of `len` bytes among its effects from
 * index `from` on? */
FX_FN bool fx_persisted_len(const struct fx_node *nd, size_t from, size_t len)
{
    assert_false(nd->ev_lost);
    for (size_t k = from; k < nd->n_ev; k++)
        if (nd->ev[k].kind == FX_EV_PERSIST && nd->ev[k].len == len) return true;
    return false;
}

/* The length of the last record node nd persisted. */
FX_FN size_t fx_last_persist_len(const struct fx_node *nd)
{
    assert_false(nd->ev_lost);
    for (size_t k = nd->n_ev; k-- > 0;)
        if (nd->ev[k].kind == FX_EV_PERSIST) return nd->ev[k].len;
    fail_msg("node %u persisted nothing", nd->id);
    return 0;
}

#endif
