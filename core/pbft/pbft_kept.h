/* Private to the PBFT core, included by pbft_internal.h: the committed log
 * kept since the served snapshot (pbft_kept.c), so a laggard that restores
 * an older snapshot can replay up to the stable checkpoint. */
#ifndef BFT_PBFT_KEPT_H
#define BFT_PBFT_KEPT_H

#include <stdbool.h>
#include <stdint.h>

#include "core/pbft/pbft_wire.h"

struct bft_core;
struct pbft_raw;

struct pbft_kept_entry {
    uint64_t seq, view; /* view of the COMMITs */
    bft_digest digest;
    uint32_t mask;      /* COMMIT senders (our own is regenerated) */
    uint32_t raws_len;  /* bytes of (u16 len | COMMIT raw) for mask minus us */
    uint32_t batch_len; /* the batch follows the raws */
    uint8_t data[];
};
/* Drop everything kept: the served snapshot moved (or never was). */
void pbft_kept_reset(struct bft_core *c);
/* A committed, executed entry leaves the window (or was replayed below
 * h): keep it if it extends the kept log contiguously. raws[i] for i in
 * mask; len 0 or i == self means our own COMMIT (regenerated). */
void pbft_kept_add(struct bft_core *c, uint64_t seq, uint64_t view, const bft_digest *d,
                   uint32_t mask, const struct pbft_raw *raws, const uint8_t *batch, uint32_t len);
const struct pbft_kept_entry *pbft_kept_get(const struct bft_core *c, uint64_t seq);
/* We serve `snap` plus the kept log up to seq (a laggard asking for the
 * state at seq can restore and replay). */
bool pbft_kept_covers(const struct bft_core *c, uint64_t seq);
/* Send one kept entry as a log-fetch answer (FETCH-RESP kind 1). */
void pbft_kept_send(struct bft_core *c, uint32_t to, const struct pbft_kept_entry *e);
/* A fetched committed entry (2f+1 COMMITs checked) at last_exec < seq <=
 * h, at most PBFT_FETCH_RANGE ahead: we restored a snapshot older than the
 * stable checkpoint. Held until its predecessors came, then executed below
 * the window and kept. */
void pbft_kept_fetched(struct bft_core *c, uint64_t seq, uint64_t view, const bft_digest *d,
                       uint32_t mask, const struct pbft_raw *raws, const uint8_t *batch,
                       uint32_t len);
void pbft_kept_free_ahead(struct bft_core *c);
/* WAL: restate every kept entry above `base` as a KEPT record (the
 * compact() dump); false if the kept log does not reach from base to h,
 * which a dump needs (a replica restarting from the snapshot at base must
 * find every entry up to h on its own disk). */
bool pbft_kept_can_dump(const struct bft_core *c, uint64_t base);
/* The largest KEPT record the kept log needs, so a dump reserves c->rec
 * before its first record and cannot skip one half way. */
size_t pbft_kept_rec_max(const struct bft_core *c);
void pbft_kept_dump(struct bft_core *c, uint64_t base,
                    void (*emit)(void *ctx, const uint8_t *rec, size_t len), void *ctx);
/* Recovery: a KEPT record (after its type byte) joins c->own. */
void pbft_kept_recover(struct bft_core *c, const uint8_t *rec, size_t len);
/* After restoring our own snapshot at last_exec < h: execute the entries
 * read back from the WAL from last_exec + 1 as far as they reach (at most
 * h); frees them all. */
void pbft_kept_replay_own(struct bft_core *c);
void pbft_kept_free_own(struct bft_core *c);

#endif
