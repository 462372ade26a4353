#ifndef BFT_RUNTIME_AUDIT_H
#define BFT_RUNTIME_AUDIT_H

#include <stdio.h>

#include "node/node.h"
#include "runtime/runtime_syncer.h"
#include "wire/wire.h"

struct rt_audit {
    FILE *f;
    uint8_t prev[32];    /* hash of the last line */
    uint64_t last_order; /* order_seq of the last line (valid when lines) */
    uint64_t lines;      /* intact lines in the tail read at open plus lines written */
    uint64_t cut_bytes;  /* torn tail cut at open */
    uint64_t filled;     /* lines written from the application's state */
    uint64_t gaps;       /* orders missing with no application to fill them */
    /* The node whose orders application fills gaps (bft_node_app: the
     * pointer changes when a snapshot is installed), or NULL. */
    const struct bft_node *node;
    bool unsynced; /* written since the last rt_audit_sync */
    bool failed;   /* a write or sync failed: no further promises */
    /* After rt_audit_start_syncer: fdatasync in the background, off the
     * replies' path (docs/architecture.md "Audit log"). */
    struct rt_syncer syncer;
};
/* Open DIR/audit.log, cutting a torn tail; 0, or -1 with err set (the log
 * cannot be read or written, or is damaged before its torn tail). Reads
 * only the log's tail (1 MiB, more if that holds no intact line). */
int rt_audit_open(struct rt_audit *a, const char *dir, char *err, size_t errlen);
/* An executed request's result: append a line if it accepted an order
 * that the log does not hold yet. */
void rt_audit_result(struct rt_audit *a, uint32_t client, uint64_t seq, const uint8_t *op,
                     size_t op_len, const uint8_t *res, size_t res_len);
/* Write the lines of orders the application holds and the log lacks
 * (installed by state transfer), at most max; returns how many. */
uint64_t rt_audit_catch_up(struct rt_audit *a, uint64_t max);
/* Make every appended line durable now (fflush + fdatasync); 0 or -1
 * (sticky). At open, at close, and without a background syncer. */
int rt_audit_sync(struct rt_audit *a);
/* Sync in the background from now on (rt_audit_write). 0, or -1: no
 * thread, and rt_audit_write syncs synchronously. */
int rt_audit_start_syncer(struct rt_audit *a);
/* Part of the node's group commit, before replies leave: hand every
 * appended line to the kernel (write(2)), so kill -9 cannot lose it, and
 * have the syncer make it durable within RT_SYNCER_EVERY_MS. 0, or -1 if a
 * write or an earlier background sync failed (sticky). */
int rt_audit_write(struct rt_audit *a);
void rt_audit_close(struct rt_audit *a);

#endif
