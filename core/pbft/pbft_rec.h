/* Private to the PBFT core: the write-ahead log records it persists
 * before it sends what relies on them (docs/style.md #2, docs/storage.md)
 * and replays in pbft_recover.c. */
#ifndef BFT_PBFT_REC_H
#define BFT_PBFT_REC_H

#include <stddef.h>

#include "wire/wire.h"

#define PBFT_REC_MAX ((size_t)BFT_PAYLOAD_MAX + 8192)

/* WAL record types (first byte). Layouts, after the type byte:
 * VIEW:   u64 view | u8 in_view_change
 * PP:     u64 view | u64 seq | digest | u16 len | pre-prepare raw (0 = own)
 *         | u32 batch_len | batch.  A backup's PP record also stands for its
 *         own PREPARE (it always prepares what it accepts).
 * COMMIT: u64 view | u64 seq | digest | u32 voters | u16 len | pp raw
 *         | u8 k | k x (u8 id | u16 len | PREPARE raw)  (prepared cert + own
 *         COMMIT; own prepare is regenerated)
 * CKPT:   u64 seq | digest                 (own checkpoint)
 * STABLE: u64 seq | digest | u8 k | k x (u16 len | CHECKPOINT raw)
 * NV:     u64 view | u64 min_s | u64 max_s | (max_s - min_s) x digest
 * FLOOR:  u64 read_floor  (compaction dumps only, docs/storage.md: the
 *         highest seq we sent a COMMIT for, which the COMMIT records of a
 *         dump may no longer imply)
 * KEPT:   u64 seq | u64 view | digest | u32 mask | u32 raws_len
 *         | u32 batch_len | raws | batch  (a kept-log entry, pbft_kept.h:
 *         written when it joins the kept log, restated by every dump, so a
 *         replica that restarts from its own snapshot below h replays up
 *         to h from its own disk, even when every replica restarted) */
enum {
    PBFT_REC_VIEW = 1,
    PBFT_REC_PP = 2,
    PBFT_REC_COMMIT = 3,
    PBFT_REC_CKPT = 4,
    PBFT_REC_STABLE = 5,
    PBFT_REC_NV = 6,
    PBFT_REC_FLOOR = 7,
    PBFT_REC_KEPT = 8,
};
#define PBFT_KEPT_REC_HDR (1 + 8 + 8 + 32 + 4 + 4 + 4)

#endif
