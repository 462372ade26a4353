/* Private to the storage modules (wal.c, wal_seg.c, snapfile.c). */
#ifndef BFT_WAL_INTERNAL_H
#define BFT_WAL_INTERNAL_H

#include <stdbool.h>

#include "store/store.h"

/* Replay one WAL file. last: the newest segment, whose torn tail is cut
 * off; any other segment must be intact to its end, or this fails. */
long wal_replay_file(const char *path, void (*cb)(void *ctx, const uint8_t *rec, size_t len),
                     void *ctx, bool last, char *err, size_t errlen);
/* fsync a directory (after creating, renaming or deleting an entry). */
int wal_sync_dir(const char *dir);
/* The test hook (bft_storage_fault_hook): true if the operation must stop
 * ("crash") at this step. */
bool storage_crash_at(int step);

#endif
