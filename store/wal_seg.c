/* The WAL in segments (docs/storage.md "WAL segments"): DIR/wal-<n> with
 * n in 20 digits, each a plain bft_wal file (records, CRC, group commit).
 *
 * Rotation keeps the WAL bounded. The host calls it when the active
 * segment is over its size and a newer durable snapshot exists:
 *   begin: sync the active segment (whole, so only the newest segment can
 *          ever have a torn tail), create wal-<n+1>, fsync DIR;
 *   the host appends the core's compact() dump to the new segment;
 *   end:   sync the new segment, delete the older ones oldest first,
 *          fsync DIR.
 * Replay reads every segment in order. A crash before `end` synced the
 * dump leaves the old segments whole and a new one with part of a dump
 * (records that restate the current state: replaying them after the full
 * history changes nothing). A crash while deleting leaves a suffix of the
 * old segments, each of which starts with a complete dump (or is segment
 * 0, the beginning of history) and all of which are whole. */
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"

#define SEG_SCAN_MAX 4096 /* segments looked at; normally 1 or 2 exist */

struct bft_walseg {
    char dir[3800];
    uint64_t index; /* active segment */
    uint64_t bytes; /* its size */
    struct bft_wal *w;
    bool failed;
};

static void set_err(char *err, size_t errlen, const char *fmt, const char *a, const char *b)
{
    if (err && errlen) snprintf(err, errlen, fmt, a, b);
}

static bool parse_seg(const char *name, uint64_t *n)
{
    if (strncmp(name, "wal-", 4) != 0 || strlen(name) != 24) return false;
    uint64_t v = 0;
    for (int i = 4; i < 24; i++) {
        if (name[i] < '0' || name[i] > '9') return false;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *n = v;
    return true;
}

static void seg_path(char *out, size_t cap, const char *dir, uint64_t n)
{
    snprintf(out, cap, "%s/wal-%020" PRIu64, dir, n);
}

static int cmp_asc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Segment numbers in dir, ascending; -1 if unreadable or too many. */
static int list_segs(const char *dir, uint64_t *out, int max)
{
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 0 : -1;
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t n;
        if (!parse_seg(e->d_name, &n)) continue;
        if (k == max) {
            closedir(d);
            errno = E2BIG;
            return -1;
        }
        out[k++] = n;
    }
    closedir(d);
    qsort(out, (size_t)k, sizeof *out, cmp_asc);
    return k;
}

/* Migration: the single-file WAL of earlier versions becomes segment 0
 * (its records are the same format). Only when no segment exists yet. */
static int migrate_legacy(const char *dir, char *err, size_t errlen)
{
    char legacy[4000], seg0[4000];
    snprintf(legacy, sizeof legacy, "%s/wal", dir);
    seg_path(seg0, sizeof seg0, dir, 0);
    if (access(legacy, F_OK) != 0) return 0;
    if (rename(legacy, seg0) != 0 || wal_sync_dir(dir) != 0) {
        set_err(err, errlen, "wal: cannot rename %s to %s", legacy, seg0);
        return -1;
    }
    return 0;
}

long bft_walseg_replay(const char *dir, void (*cb)(void *ctx, const uint8_t *rec, size_t len),
                       void *ctx, char *err, size_t errlen)
{
    uint64_t *segs = malloc(SEG_SCAN_MAX * sizeof *segs);
    if (!segs) return -1;
    int k = list_segs(dir, segs, SEG_SCAN_MAX);
    if (k == 0) {
        if (migrate_legacy(dir, err, errlen) != 0) {
            free(segs);
            return -1;
        }
        k = list_segs(dir, segs, SEG_SCAN_MAX);
    }
    if (k < 0) {
        set_err(err, errlen, "wal: cannot list %s: %s", dir, strerror(errno));
        free(segs);
        return -1;
    }
    long total = 0;
    for (int i = 0; i < k; i++) {
        char p[4000];
        seg_path(p, sizeof p, dir, segs[i]);
        long n = wal_replay_file(p, cb, ctx, i == k - 1, err, errlen);
        if (n < 0) {
            free(segs);
            return -1;
        }
        total += n;
    }
    free(segs);
    return total;
}

static int open_active(struct bft_walseg *s, char *err, size_t errlen)
{
    char p[4000];
    seg_path(p, sizeof p, s->dir, s->index);
    struct stat st;
    s->bytes = stat(p, &st) == 0 ? (uint64_t)st.st_size : 0;
    return bft_wal_open(&s->w, p, err, errlen);
}

int bft_walseg_open(struct bft_walseg **out, const char *dir, char *err, size_t errlen)
{
    *out = NULL;
    if (strlen(dir) >= sizeof((struct bft_walseg *)0)->dir) {
        set_err(err, errlen, "wal: directory name too long: %s%s", dir, "");
        return BFT_E_INVALID;
    }
    struct bft_walseg *s = calloc(1, sizeof *s);
    uint64_t *segs = malloc(SEG_SCAN_MAX * sizeof *segs);
    if (!s || !segs) {
        free(s);
        free(segs);
        return BFT_E_NOMEM;
    }
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    int k = list_segs(dir, segs, SEG_SCAN_MAX);
    if (k < 0) {
        set_err(err, errlen, "wal: cannot list %s: %s", dir, strerror(errno));
        free(segs);
        free(s);
        return BFT_E_IO;
    }
    s->index = k ? segs[k - 1] : 0;
    free(segs);
    int rv = open_active(s, err, errlen);
    if (rv != BFT_E_OK) {
        free(s);
        return rv;
    }
    *out = s;
    return BFT_E_OK;
}

int bft_walseg_append(struct bft_walseg *s, const uint8_t *rec, size_t len)
{
    if (s->failed) return BFT_E_IO;
    int rv = bft_wal_append(s->w, rec, len);
    if (rv == BFT_E_OK) s->bytes += 8 + len;
    return rv;
}

int bft_walseg_sync(struct bft_walseg *s)
{
    if (s->failed) return BFT_E_IO;
    return bft_wal_sync(s->w);
}

bool bft_walseg_dirty(const struct bft_walseg *s)
{
    return bft_wal_dirty(s->w);
}

uint64_t bft_walseg_active_bytes(const struct bft_walseg *s)
{
    return s->bytes;
}

uint64_t bft_walseg_active_index(const struct bft_walseg *s)
{
    return s->index;
}

void bft_walseg_close(struct bft_walseg *s)
{
    if (!s) return;
    bft_wal_close(s->w);
    free(s);
}

static int fail(struct bft_walseg *s)
{
    s->failed = true; /* sticky, like bft_wal (fsyncgate) */
    return BFT_E_IO;
}

int bft_walseg_rotate_begin(struct bft_walseg *s)
{
    if (s->failed || bft_wal_sync(s->w) != BFT_E_OK) return fail(s);
    if (storage_crash_at(BFT_STEP_SEG_OLD_SYNCED)) return fail(s);
    struct bft_wal *old = s->w;
    uint64_t old_index = s->index;
    s->index++;
    s->w = NULL;
    char e[200];
    /* bft_wal_open creates the file and fsyncs the directory. */
    if (open_active(s, e, sizeof e) != BFT_E_OK) {
        s->w = old;
        s->index = old_index;
        return fail(s);
    }
    bft_wal_close(old);
    if (storage_crash_at(BFT_STEP_SEG_CREATED)) return fail(s);
    return BFT_E_OK;
}

int bft_walseg_rotate_end(struct bft_walseg *s)
{
    if (s->failed || bft_wal_sync(s->w) != BFT_E_OK) return fail(s);
    if (storage_crash_at(BFT_STEP_SEG_NEW_SYNCED)) return fail(s);
    uint64_t *segs = malloc(SEG_SCAN_MAX * sizeof *segs);
    if (!segs) return fail(s);
    int k = list_segs(s->dir, segs, SEG_SCAN_MAX);
    int rv = k < 0 ? BFT_E_IO : BFT_E_OK;
    bool removed = false;
    for (int i = 0; i < k && rv == BFT_E_OK && segs[i] < s->index; i++) {
        char p[4000];
        seg_path(p, sizeof p, s->dir, segs[i]);
        if (unlink(p) != 0 && errno != ENOENT) rv = BFT_E_IO;
        removed = true;
        if (rv == BFT_E_OK && storage_crash_at(BFT_STEP_SEG_DELETED)) rv = BFT_E_IO;
    }
    free(segs);
    if (rv == BFT_E_OK && removed && wal_sync_dir(s->dir) != 0) rv = BFT_E_IO;
    return rv == BFT_E_OK ? BFT_E_OK : fail(s);
}
