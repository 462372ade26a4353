/* Defaults of a core's configuration, one set for all three cores. */
#include <string.h>

#include "core/core.h"

void bft_core_config_defaults(struct bft_core_config *c, int protocol, uint32_t n, uint32_t self)
{
    memset(c, 0, sizeof *c); /* fields added later default to 0 */
    c->protocol = protocol;
    c->n = n;
    c->self = self;
    c->f = protocol == BFT_PROTO_RAFT ? (n ? (n - 1) / 2 : 0) : (n ? (n - 1) / 3 : 0);
    c->cluster_id = 0;
    c->batch_max = 64;
    c->pipeline_max = 2;
    c->window = 256;
    c->checkpoint_interval = 64;
    /* One base timeout for all three cores. A shorter one for HotStuff
     * (400 ms) made a crashed leader cheaper in real clusters but let the
     * simulator's slow, lossy networks starve it of commits (regression
     * test test_hotstuff_base_timeout_keeps_liveness_on_slow_networks in
     * tests/sim/test_sim_regressions.c). */
    c->request_timeout_ms = 1000;
    /* HotStuff leaders keep 256 consecutive views and a timeout passes the
     * lead to the next replica's window. Rotating every view, n = 4 with
     * one crashed replica has only three live leaders in a row, and a
     * 3-chain over consecutive views commits once per timeout; with 32
     * views a live window lasted ~70 ms against the dead one's 1 s timeout
     * (docs/hotstuff.md, "Leader windows"). */
    c->leader_views = 256;
    /* ... and a leader whose window ended in a TC is skipped in the next
     * turns (docs/hotstuff.md, "Leader reputation"). */
    c->leader_reputation = 1;
}
