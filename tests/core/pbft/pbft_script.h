/* Helpers shared by the scripted PBFT tests: a pre-prepare from primary 0,
 * votes, driving one seq to execution at a backup. */
#ifndef PBFT_SCRIPT_H
#define PBFT_SCRIPT_H

#include "core/core.h"
#include "pbft_fixture.h"

static uint8_t g_batch[1 << 16];

/* The client of scripted batches. It was 9 on the old fixture; tests/lib's
 * env verifies requests of clients below CF_MAX_CLIENTS only (and its
 * application's exactly-once table holds only those), so it is 6, a client
 * no test uses otherwise. */
#define SCRIPT_CLIENT 6

/* A PRE-PREPARE from primary 0 for `count` requests of SCRIPT_CLIENT. */
static inline struct bft_msg make_pp(uint64_t view, uint64_t seq, uint64_t first_req,
                                     uint32_t count, bft_digest *d)
{
    uint32_t len = fx_batch(g_batch, sizeof g_batch, SCRIPT_CLIENT, first_req, count);
    bft_batch_digest(g_batch, len, d);
    struct bft_msg m = {.type = BFT_MSG_PRE_PREPARE, .view = view, .seq = seq, .digest = *d};
    m.payload = g_batch;
    m.payload_len = len;
    return m;
}

static inline void send_vote(struct fx *fx, uint32_t from, uint32_t to, uint8_t type, uint64_t seq,
                             const bft_digest *d)
{
    struct bft_msg v = fx_vote(type, 0, seq, d);
    fx_inject(fx, from, to, &v);
}

/* Drive one seq to execution at backup `to` (n=4): pre-prepare from 0,
 * a prepare from 2, commits from 2 and 3. */
static inline void commit_seq(struct fx *fx, uint32_t to, uint64_t seq, bft_digest *d)
{
    struct bft_msg pp = make_pp(0, seq, seq * 10, 1, d);
    fx_inject(fx, 0, to, &pp);
    send_vote(fx, 2, to, BFT_MSG_PREPARE, seq, d);
    send_vote(fx, 2, to, BFT_MSG_COMMIT, seq, d);
    send_vote(fx, 3, to, BFT_MSG_COMMIT, seq, d);
}

static inline uint32_t used_slots(const struct bft_core *c)
{
    uint32_t k = 0;
    for (uint32_t i = 0; i < c->L; i++) {
        const struct pbft_slot *s = pbft_slot_at(c, i);
        k += s && s->seq != 0;
    }
    return k;
}

static inline struct bft_core_config small_window(uint32_t n)
{
    struct bft_core_config cfg;
    bft_core_config_defaults(&cfg, BFT_PROTO_PBFT, n, 0);
    cfg.window = 8;
    cfg.checkpoint_interval = 4;
    return cfg;
}

#endif
