/* Private to bftctl status (tools/bftctl_status*.c): each replica's status
 * page, fetched over the network (docs/design.md "bftctl status"). */
#ifndef BFT_TOOLS_BFTCTL_STATUS_H
#define BFT_TOOLS_BFTCTL_STATUS_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "config/cluster.h"
#include "wire/wire.h"

#define CTL_STATUS_BODY_MAX 65536 /* a page is ~1.5 KiB; anything larger is refused */

struct ctl_status_row {
    uint32_t id;
    char url[160];   /* status address ("" when cluster.json gives none) */
    bool answered;   /* a page that parsed */
    char error[160]; /* why not */
    char *raw;       /* the page as received (malloc'd; --json) */
    bool starting;   /* the replica has not published its first page yet */
    char role[16], view_kind[8], digest[65], storage_error[160];
    uint64_t view, committed, wal_bytes, snapshot_bytes, view_changes;
    int leader;                /* -1: none known */
    double last_commit_ms_ago; /* -1: none since it started */
    bool no_quorum;
    double no_quorum_since_unix_ms, no_quorum_ms;
    uint32_t reachable, n;
    uint32_t reachable_mask;
    uint64_t rejected[BFT_REJECT__COUNT];
};

/* Parse one page into r (r->id and r->url are left alone). 0, or -1 with
 * r->error set. */
int ctl_status_parse(const char *text, size_t len, struct ctl_status_row *r);
/* GET /status from every replica at once, each bounded by timeout_ms.
 * Returns how many answered. */
uint32_t ctl_status_fetch(const struct bft_cluster *cl, int timeout_ms,
                          struct ctl_status_row *rows);
void ctl_status_rows_free(struct ctl_status_row *rows, uint32_t n);
/* The table, and the JSON document (one object per replica with its page
 * as served, or its error). */
void ctl_status_print(FILE *f, const struct bft_cluster *cl, const struct ctl_status_row *rows,
                      uint64_t now_unix_ms);
void ctl_status_print_json(FILE *f, const struct bft_cluster *cl, const struct ctl_status_row *rows,
                           uint64_t now_unix_ms);

#endif
