/* tests/lib/core_fixture_ext_pbft.c: what the PBFT cmocka tests
 * (tests/core/pbft/pbft_fixture.h, their adapter over core_fixture.h)
 * read or do that core_fixture.h does not offer: the fake application's
 * whole state digest and exactly-once table, the size of its snapshots,
 * and a node that loses everything (WAL and snapshot files) and starts
 * empty. Declared in tests/core/pbft/pbft_fixture.h until the lead merges
 * them into core_fixture.h. */
#include <stdlib.h>
#include <string.h>

#include "tests/lib/core_fixture_internal.h"

/* The application's state digest on node id (the hash chain over executed
 * batches, or what a restore set). */
void cf_pbft_app_state(const struct cf *cf, uint32_t id, bft_digest *out)
{
    memset(out, 0, sizeof *out);
    if (id < cf->opt.n) *out = cf->node[id].app.state;
}

/* Whether node id's application executed (client, req_no), as its
 * exactly-once table says (restored with a snapshot too). */
bool cf_pbft_app_done(const struct cf *cf, uint32_t id, uint32_t client, uint64_t req_no)
{
    return id < cf->opt.n && cf_app_done(&cf->node[id].app, client, req_no);
}

/* Bytes in one snapshot of the application (io->snapshot). */
size_t cf_pbft_snap_len(void)
{
    return CF_SNAP_LEN;
}

/* Node id loses its disk: crashed if up, its WAL and snapshot files gone,
 * then restarted with nothing to recover (a replaced machine). Returns
 * cf_restart's result. */
int cf_pbft_wipe(struct cf *cf, uint32_t id)
{
    if (id >= cf->opt.n) return BFT_E_INVALID;
    if (cf->node[id].core) cf_crash(cf, id);
    struct cf_node *nd = &cf->node[id];
    for (uint32_t r = 0; r < nd->n_wal; r++)
        free(nd->wal[r].p);
    nd->n_wal = 0;
    nd->wal_bytes = 0;
    nd->wal_full_logged = false;
    memset(nd->disk, 0, sizeof nd->disk);
    return cf_restart(cf, id);
}
