/* commits.log: every execution of a replica, one line per seq
 * ("SEQ VIEW BATCH_HEX STATE_HEX\n"), which bftctl compares across
 * replicas (tools/bftctl_check.c). It is an observation log, not state:
 * a line that never reaches the disk costs one comparison, but a torn or
 * glued line would read as a divergence. So lines reach the file only
 * whole: buffered, written with write(2) in whole lines, a short write
 * undone with ftruncate, and a torn tail (kill -9 mid-write) cut when the
 * log is opened, before anything is appended after it. */
#ifndef BFT_RUNTIME_COMMITS_H
#define BFT_RUNTIME_COMMITS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire/wire.h"

#define RT_COMMITS_BUF 65536 /* buffered bytes; a full buffer is written out */

struct rt_commits {
    int fd;        /* -1: not open */
    off_t size;    /* the file's size: whole lines only */
    size_t len;    /* buffered bytes (whole lines) */
    uint64_t cut;  /* torn-tail bytes cut at open */
    uint64_t lost; /* lines dropped by a failed write */
    char buf[RT_COMMITS_BUF];
};

/* Open (create) PATH for appending, cutting a torn tail; 0, or -1 with
 * err set. */
int rt_commits_open(struct rt_commits *c, const char *path, char *err, size_t errlen);
/* Buffer one execution's line (written out when the buffer is full). */
void rt_commits_add(struct rt_commits *c, uint64_t seq, uint64_t view, const bft_digest *batch,
                    const bft_digest *state);
/* Write the buffered lines; on a short or failed write the file is cut
 * back to its last whole line and those lines are dropped (counted). */
void rt_commits_flush(struct rt_commits *c);
void rt_commits_close(struct rt_commits *c);

#endif
