#ifndef BFT_RUNTIME_SYNCER_H
#define BFT_RUNTIME_SYNCER_H

/* A background fdatasync for one file whose durability may trail its
 * writes by a bounded time (the orders audit log: docs/architecture.md
 * "Audit log"). The owner writes (write(2)) on its own thread and kicks;
 * the syncer thread runs fdatasync at most once per RT_SYNCER_EVERY_MS, so
 * many kicks share one sync (group commit) and the owner's loop never
 * waits for the disk. A failed sync is sticky (fsyncgate, store/wal.c). */

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

/* Lines written are durable within this, plus one fdatasync. */
#define RT_SYNCER_EVERY_MS 5

struct rt_syncer {
    int fd;
    bool running;
    pthread_t thr;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool kicked, stop; /* under mu */
    atomic_bool failed;
    atomic_uint_fast64_t syncs; /* fdatasyncs done */
};

/* Start the thread for fd (borrowed: it must stay open until stop).
 * 0, or -1 (no thread: the caller syncs synchronously instead). */
int rt_syncer_start(struct rt_syncer *s, int fd);
/* Ask for a sync of what has been written so far. Never blocks on I/O. */
void rt_syncer_kick(struct rt_syncer *s);
/* A background sync failed: nothing written since the last good sync may
 * be trusted to be on disk. */
bool rt_syncer_failed(const struct rt_syncer *s);
/* Stop and join the thread (a pending kick is synced first). Idempotent. */
void rt_syncer_stop(struct rt_syncer *s);

#endif
