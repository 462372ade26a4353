/* tests/lib/core_fixture_ext_raft.c: two disk hooks the Raft cmocka tests
 * (tests/core/raft/test_raft_fixture.h) need and core_fixture.h lacks:
 * losing a node's disk (the Raft disk-loss guard, docs/raft.md, is tested
 * by restarting a replica with nothing on it), and writing records into a
 * node's WAL (a scripted durable past that a restart replays, and a
 * compaction dump replayed as the new WAL, docs/storage.md). Declared in
 * that header until the lead folds them into core_fixture.h. */
#include <stdlib.h>
#include <string.h>

#include "tests/lib/core_fixture_internal.h"

/* Lose node id's durable snapshots, and with `wal` its WAL too (a replaced
 * drive). The node must be down, as a disk is only replaced then:
 * BFT_E_OK, or BFT_E_INVALID. */
int cf_lose_disk(struct cf *cf, uint32_t id, bool wal)
{
    if (id >= cf->opt.n || cf->node[id].core) return BFT_E_INVALID;
    struct cf_node *nd = &cf->node[id];
    memset(nd->disk, 0, sizeof nd->disk);
    if (!wal) return BFT_E_OK;
    for (uint32_t r = 0; r < nd->n_wal; r++)
        free(nd->wal[r].p);
    nd->n_wal = 0;
    nd->wal_bytes = 0;
    nd->wal_full_logged = false;
    return BFT_E_OK;
}

/* Append a record to node id's WAL as if its core had persisted it; the
 * core is not told (the caller replays it through ops->recover if the
 * core should know). Within the WAL's bounds (CF_WAL_MAX records,
 * CF_WAL_BYTES_MAX bytes): BFT_E_OK, BFT_E_FULL when full, BFT_E_NOMEM,
 * or BFT_E_INVALID for a bad id. */
int cf_wal_append(struct cf *cf, uint32_t id, const uint8_t *rec, size_t len)
{
    if (id >= cf->opt.n) return BFT_E_INVALID;
    struct cf_node *nd = &cf->node[id];
    if (nd->n_wal == CF_WAL_MAX || nd->wal_bytes + len > CF_WAL_BYTES_MAX) return BFT_E_FULL;
    uint8_t *p = malloc(len ? len : 1);
    if (!p) return BFT_E_NOMEM;
    if (len) memcpy(p, rec, len);
    nd->wal[nd->n_wal++] = (struct cf_rec){p, len};
    nd->wal_bytes += len;
    return BFT_E_OK;
}
