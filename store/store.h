/* store: the write-ahead log, its segments, and snapshot files
 * (docs/storage.md). The only layer below the node that touches the disk. */
#ifndef BFT_STORE_H
#define BFT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire/wire.h"

/* ------------------------------------------------------------------ */
/* Write-ahead log: records with CRC32C-style checksums, batched fsync,  */
/* recovery that tolerates (and truncates) a torn tail.                  */
/* Record on disk: u32 len | u32 crc | len bytes (little-endian).        */
/* ------------------------------------------------------------------ */
#define BFT_WAL_RECORD_MAX (4u << 20)
/* Buffered bytes past which an append writes the buffer out first (no
 * fsync): the buffer holds at most this, or one larger record until the
 * next sync (issue 14; docs/architecture.md "Bounds"). */
#define BFT_WAL_BUF_WRITE (1u << 20)
struct bft_wal;
int bft_wal_open(struct bft_wal **out, const char *path, char *err, size_t errlen);
/* Buffer one record (bounded; flushes itself when the buffer fills).
 * Returns BFT_E_OK or BFT_E_IO (disk full, ...): the caller must then stop
 * sending anything that relies on the record. */
int bft_wal_append(struct bft_wal *w, const uint8_t *rec, size_t len);
/* Write buffered records and fdatasync. BFT_E_OK or BFT_E_IO. */
int bft_wal_sync(struct bft_wal *w);
bool bft_wal_dirty(const struct bft_wal *w);
/* Bytes the append buffer holds allocated now. */
size_t bft_wal_buffer_cap(const struct bft_wal *w);
void bft_wal_close(struct bft_wal *w);
/* Replay every intact record in order; a torn or corrupt tail is cut off
 * (the file is truncated to the last good record). Returns the number of
 * records replayed, or -1 with err. A missing file replays nothing. */
long bft_wal_replay(const char *path, void (*cb)(void *ctx, const uint8_t *rec, size_t len),
                    void *ctx, char *err, size_t errlen);

/* Segmented WAL (docs/storage.md): DIR/wal-<n, 20 digits>, replayed in
 * order. Rotation starts segment n+1 with the core's compact() dump and
 * then deletes every older segment, so the WAL stays bounded. A legacy
 * single DIR/wal is renamed to segment 0 on replay (migration). */
#define BFT_WAL_SEGMENT_DEFAULT (16u << 20)
struct bft_walseg;
/* Replay every segment in order: only the newest may have a torn tail
 * (cut off); damage in an older one is an error. Returns the number of
 * records, or -1 with err. An empty directory replays nothing. */
long bft_walseg_replay(const char *dir, void (*cb)(void *ctx, const uint8_t *rec, size_t len),
                       void *ctx, char *err, size_t errlen);
/* Open the newest segment for append (creating segment 0 if none). */
int bft_walseg_open(struct bft_walseg **out, const char *dir, char *err, size_t errlen);
int bft_walseg_append(struct bft_walseg *s, const uint8_t *rec, size_t len);
int bft_walseg_sync(struct bft_walseg *s);
bool bft_walseg_dirty(const struct bft_walseg *s);
void bft_walseg_close(struct bft_walseg *s);
uint64_t bft_walseg_active_bytes(const struct bft_walseg *s); /* newest segment's size */
uint64_t bft_walseg_active_index(const struct bft_walseg *s);
/* Rotation, in two calls around the dump: begin syncs the active segment,
 * creates the next one (durable directory entry) and sends later appends
 * there; end syncs it and deletes every older segment, oldest first. Any
 * failure is BFT_E_IO and leaves the WAL failed (a storage failure). A
 * crash anywhere in between replays correctly: every segment replayed
 * after the first starts with a complete dump or is the newest one. */
int bft_walseg_rotate_begin(struct bft_walseg *s);
int bft_walseg_rotate_end(struct bft_walseg *s);

/* Snapshot files (docs/storage.md): DIR/snap-<seq, 20 digits> =
 *   "BFTSNAP1" | u32 version=1 | u32 0 | u64 seq | u64 len | u8[32] state
 *   digest | len bytes (the node's snapshot: application + exactly-once
 *   table) | u8[32] SHA-256 of everything before it.
 * Written atomically: DIR/snap-<seq>.tmp, fsync, rename, fsync of DIR. */
#define BFT_SNAPFILE_KEEP 2
#define BFT_SNAPFILE_HDR 64
struct bft_snapfile {
    uint64_t seq;
    bft_digest state;
    uint8_t *buf; /* malloc'd, len bytes */
    size_t len;
};
/* Write snapshot seq atomically, then delete older snapshot files down to
 * BFT_SNAPFILE_KEEP: the newest, the one at `pin` (the snapshot the active
 * WAL names as its base; 0: none), then the next newest. BFT_E_OK or
 * BFT_E_IO with err. */
int bft_snapfile_write(const char *dir, uint64_t seq, const bft_digest *state, const uint8_t *buf,
                       size_t len, uint64_t pin, char *err, size_t errlen);
/* Read and check one snapshot file: BFT_E_OK, BFT_E_MALFORMED (torn,
 * corrupt, wrong name) or BFT_E_IO, with err. */
int bft_snapfile_read(const char *path, struct bft_snapfile *out, char *err, size_t errlen);
/* Load up to max intact snapshots, newest first; a damaged one is
 * skipped and named in note. Returns how many (out[0..k-1], free each
 * buf), or -1 with note if the directory cannot be read. */
int bft_snapfile_load(const char *dir, struct bft_snapfile *out, int max, char *note,
                      size_t notelen);
void bft_snapfile_free(struct bft_snapfile *f);
/* The snapshot policy, bftd's and the simulator's (docs/storage.md): a
 * snapshot costs a write of the whole state, so after the first of a
 * process (`taken` == 0) one is due only once the WAL grew, since the
 * last, by min_bytes and by the last snapshot's size. Snapshot writes then
 * never outweigh the WAL writes they make deletable, and their total cost
 * stays linear in the history (one at every checkpoint was quadratic). */
bool bft_snapshot_due(uint64_t taken, uint64_t wal_since, uint64_t min_bytes, uint64_t last_len);

/* Deterministic crash points for tests: the storage code calls hook(ctx,
 * step) at each step of a snapshot write or a rotation; a non-zero return
 * stops the operation right there as a crash would (returns BFT_E_IO,
 * nothing after that step is done). NULL: no hook. Not thread-safe: tests
 * only. */
enum bft_storage_step {
    BFT_STEP_SNAP_TMP_PARTIAL = 1, /* half the temp file written */
    BFT_STEP_SNAP_TMP_WRITTEN,     /* whole temp file written, not synced */
    BFT_STEP_SNAP_TMP_SYNCED,
    BFT_STEP_SNAP_RENAMED,
    BFT_STEP_SNAP_DIR_SYNCED,
    BFT_STEP_SNAP_PRUNED, /* one old snapshot deleted */
    BFT_STEP_SEG_OLD_SYNCED,
    BFT_STEP_SEG_CREATED,
    BFT_STEP_SEG_NEW_SYNCED, /* rotate_end: the dump is durable */
    BFT_STEP_SEG_DELETED,    /* one old segment deleted */
};
void bft_storage_fault_hook(int (*hook)(void *ctx, int step), void *ctx);

#endif
