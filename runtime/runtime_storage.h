/* bftd's storage (docs/storage.md): the segmented WAL, durable snapshots
 * and rotation, around a node. Failures are reported to the caller, which
 * turns them into its storage-failure path (runtime.c storage_failed). */
#ifndef BFT_RUNTIME_STORAGE_H
#define BFT_RUNTIME_STORAGE_H

#include <stdio.h>

#include "node/node.h"
#include "store/store.h"
#include "wire/wire.h"

struct rt_storage {
    char dir[600];
    struct bft_walseg *wal;  /* NULL while replaying */
    uint64_t segment_bytes;  /* rotate past this (BFT_WAL_SEGMENT_BYTES) */
    uint64_t snap_min_bytes; /* WAL bytes between snapshots (BFT_SNAPSHOT_MIN_BYTES) */
    uint64_t since_snap;     /* WAL bytes appended since the last snapshot */
    uint64_t rotated_base;   /* the node's snapshot base at the last rotation */
    uint64_t snapshots, snapshots_skipped, rotations, snapshot_us, rotate_us;
    uint64_t last_snapshot_seq, last_snapshot_bytes;
    int loaded;          /* snapshots loaded at open */
    char load_note[512]; /* damaged snapshots skipped at open */
};

/* Read the sizes from the environment, discard everything on `fresh`,
 * hand the intact snapshots to the node, replay the WAL into it, open the
 * WAL for append. 0, or -1 with err. */
int rt_storage_open(struct rt_storage *s, const char *dir, bool fresh, struct bft_node *node,
                    uint32_t id, char *err, size_t errlen);
int rt_storage_append(struct rt_storage *s, const uint8_t *rec, size_t len);
int rt_storage_sync(struct rt_storage *s);
/* host->save_snapshot: 0 written, 1 skipped (not wanted, above), -1
 * failed with err. The WAL is synced first, so the
 * records the snapshot's seq relies on are on disk before it. */
/* host->snapshot_wanted: not while replaying, and not before the WAL grew
 * by max(snap_min_bytes, the last snapshot's size) since the last one. */
bool rt_storage_snapshot_wanted(struct rt_storage *s, uint64_t seq);
int rt_storage_save_snapshot(struct rt_storage *s, uint64_t seq, const bft_digest *state,
                             const uint8_t *snap, size_t len, char *err, size_t errlen);
/* Between steps: rotate the WAL if the active segment is over its size
 * and the node has a newer snapshot to compact against. 0 (rotated or
 * nothing to do), -1 failed with err. */
int rt_storage_maybe_rotate(struct rt_storage *s, struct bft_node *node, char *err, size_t errlen);
/* Bytes of WAL segments and snapshot files in the directory now. */
uint64_t rt_storage_disk_bytes(const struct rt_storage *s);
/* The "storage" object of stats.json; restored: the seq of the snapshot
 * the node restored at start (bft_node_stats.snapshot_loaded, 0: none). */
void rt_storage_stats_json(const struct rt_storage *s, uint64_t restored, FILE *f);
void rt_storage_close(struct rt_storage *s);

#endif
