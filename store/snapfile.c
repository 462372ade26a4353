/* Snapshot files (docs/storage.md "Snapshots"): the node's snapshot
 * (application state, which for orders carries the audit chain head, plus
 * the exactly-once client table) at a committed seq, so a restart loads it
 * instead of replaying the whole history or fetching it from peers.
 *
 * Layout (bft.h): a 64-byte header, the payload, and a SHA-256 trailer
 * over header and payload. A torn file fails the length check, a flipped
 * bit the hash; either way the loader falls back to the previous file.
 *
 * Atomic write (the classic recipe; PostgreSQL and etcd do the same):
 * write DIR/snap-<seq>.tmp, fsync it, rename it over the final name, fsync
 * DIR so the rename is durable. A crash at any step leaves either no file
 * of that name or the whole one; a stale .tmp is removed by the next
 * write. Only then are older snapshots deleted, keeping BFT_SNAPFILE_KEEP:
 * the newest one may still be damaged later (bad sector), and then the
 * previous one is the fallback. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "crypto/crypto.h"

#define SNAP_MAGIC "BFTSNAP1"
#define SNAP_VERSION 1u
#define SNAP_TRAILER 32u
#define SNAP_SCAN_MAX 64          /* snapshot files looked at in one directory */
#define SNAP_LEN_MAX (1ull << 34) /* 16 GiB: far above any app's bound */

static int (*fault_hook)(void *ctx, int step);
static void *fault_ctx;

void bft_storage_fault_hook(int (*hook)(void *ctx, int step), void *ctx)
{
    fault_hook = hook;
    fault_ctx = ctx;
}

bool storage_crash_at(int step)
{
    return fault_hook && fault_hook(fault_ctx, step) != 0;
}

static void le_store(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t le_load(const uint8_t *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static int write_all(int fd, const uint8_t *p, size_t len)
{
    while (len) {
        ssize_t k = write(fd, p, len);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return -1;
        p += k;
        len -= (size_t)k;
    }
    return 0;
}

/* Parse "snap-<20 digits>" (exactly); false for anything else. */
static bool parse_name(const char *name, uint64_t *seq)
{
    if (strncmp(name, "snap-", 5) != 0 || strlen(name) != 25) return false;
    uint64_t v = 0;
    for (int i = 5; i < 25; i++) {
        if (name[i] < '0' || name[i] > '9') return false;
        v = v * 10 + (uint64_t)(name[i] - '0');
    }
    *seq = v;
    return true;
}

static int cmp_desc(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Seqs of the snapshot files in dir, newest first (at most max; if there
 * are more, the newest max). Removes stale temp files when prune_tmp. */
static int list_snaps(const char *dir, uint64_t *seqs, int max, bool prune_tmp)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    uint64_t all[SNAP_SCAN_MAX];
    int k = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint64_t seq;
        if (parse_name(e->d_name, &seq)) {
            if (k < SNAP_SCAN_MAX) {
                all[k++] = seq;
            } else { /* keep the newest SNAP_SCAN_MAX */
                qsort(all, (size_t)k, sizeof *all, cmp_desc);
                if (seq > all[k - 1]) all[k - 1] = seq;
            }
        } else if (prune_tmp && strncmp(e->d_name, "snap-", 5) == 0 && strlen(e->d_name) == 29 &&
                   strcmp(e->d_name + 25, ".tmp") == 0) {
            char p[4200];
            snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
            unlink(p); /* a write that crashed before its rename */
        }
    }
    closedir(d);
    qsort(all, (size_t)k, sizeof *all, cmp_desc);
    if (k > max) k = max;
    memcpy(seqs, all, (size_t)k * sizeof *seqs);
    return k;
}

static void snap_path(char *out, size_t cap, const char *dir, uint64_t seq, bool tmp)
{
    snprintf(out, cap, "%s/snap-%020" PRIu64 "%s", dir, seq, tmp ? ".tmp" : "");
}

/* Keep BFT_SNAPFILE_KEEP snapshots: the newest, the one the active WAL
 * names as its base (pin; 0: none), then the next newest; delete the
 * rest, oldest first. The pinned one must survive: the WAL holds only what
 * lies above it, so without it a restart could rebuild nothing from disk
 * (if every replica restarted at once, no peer could send the state). */
static int prune(const char *dir, uint64_t pin)
{
    uint64_t seqs[SNAP_SCAN_MAX];
    int k = list_snaps(dir, seqs, SNAP_SCAN_MAX, true);
    if (k < 0) return -1;
    bool keep[SNAP_SCAN_MAX] = {false};
    int left = BFT_SNAPFILE_KEEP;
    if (k > 0) {
        keep[0] = true; /* seqs are newest first */
        left--;
    }
    for (int i = 1; i < k && pin != 0 && left > 0; i++)
        if (seqs[i] == pin) {
            keep[i] = true;
            left--;
        }
    for (int i = 1; i < k && left > 0; i++)
        if (!keep[i]) {
            keep[i] = true;
            left--;
        }
    bool removed = false;
    for (int i = k - 1; i >= 0; i--) {
        if (keep[i]) continue;
        char p[4200];
        snap_path(p, sizeof p, dir, seqs[i], false);
        if (unlink(p) != 0 && errno != ENOENT) return -1;
        removed = true;
        if (storage_crash_at(BFT_STEP_SNAP_PRUNED)) return -1;
    }
    return removed ? wal_sync_dir(dir) : 0;
}

int bft_snapfile_write(const char *dir, uint64_t seq, const bft_digest *state, const uint8_t *buf,
                       size_t len, uint64_t pin, char *err, size_t errlen)
{
    uint8_t hdr[BFT_SNAPFILE_HDR] = {0};
    memcpy(hdr, SNAP_MAGIC, 8);
    le_store(hdr + 8, SNAP_VERSION, 4);
    le_store(hdr + 16, seq, 8);
    le_store(hdr + 24, len, 8);
    memcpy(hdr + 32, state->b, 32);
    uint8_t sha[32];
    crypto_sha256_2(hdr, sizeof hdr, buf, len, sha);
    char tmp[4200], fin[4200];
    snap_path(tmp, sizeof tmp, dir, seq, true);
    snap_path(fin, sizeof fin, dir, seq, false);
    const char *what = "create";
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) goto fail;
    what = "write";
    size_t half = len / 2;
    if (write_all(fd, hdr, sizeof hdr) != 0 || write_all(fd, buf, half) != 0) goto fail_fd;
    if (storage_crash_at(BFT_STEP_SNAP_TMP_PARTIAL)) goto crash_fd;
    if (write_all(fd, buf + half, len - half) != 0 || write_all(fd, sha, sizeof sha) != 0)
        goto fail_fd;
    if (storage_crash_at(BFT_STEP_SNAP_TMP_WRITTEN)) goto crash_fd;
    what = "fsync";
    if (fsync(fd) != 0) goto fail_fd;
    if (close(fd) != 0) goto fail;
    if (storage_crash_at(BFT_STEP_SNAP_TMP_SYNCED)) goto crash;
    what = "rename";
    if (rename(tmp, fin) != 0) goto fail;
    if (storage_crash_at(BFT_STEP_SNAP_RENAMED)) goto crash;
    what = "fsync of the directory";
    if (wal_sync_dir(dir) != 0) goto fail;
    if (storage_crash_at(BFT_STEP_SNAP_DIR_SYNCED)) goto crash;
    what = "delete of an old snapshot";
    if (prune(dir, pin) != 0) goto fail;
    return BFT_E_OK;
fail_fd:
    close(fd);
fail:
    snprintf(err, errlen, "snapshot %s: %s: %s", fin, what, strerror(errno));
    return BFT_E_IO;
crash_fd:
    close(fd);
crash:
    snprintf(err, errlen, "snapshot %s: crash injected", fin);
    return BFT_E_IO;
}

int bft_snapfile_read(const char *path, struct bft_snapfile *out, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    uint64_t name_seq;
    if (!parse_name(base, &name_seq)) {
        snprintf(err, errlen, "%s: not a snapshot file name", path);
        return BFT_E_MALFORMED;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return BFT_E_IO;
    }
    struct stat st;
    uint8_t hdr[BFT_SNAPFILE_HDR];
    int rv = BFT_E_MALFORMED;
    uint8_t *body = NULL;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        rv = BFT_E_IO;
        goto out;
    }
    if ((uint64_t)st.st_size < BFT_SNAPFILE_HDR + SNAP_TRAILER ||
        pread(fd, hdr, sizeof hdr, 0) != (ssize_t)sizeof hdr) {
        snprintf(err, errlen, "%s: truncated (%lld bytes)", path, (long long)st.st_size);
        goto out;
    }
    uint64_t len = le_load(hdr + 24, 8);
    if (memcmp(hdr, SNAP_MAGIC, 8) != 0 || le_load(hdr + 8, 4) != SNAP_VERSION ||
        le_load(hdr + 16, 8) != name_seq || len > SNAP_LEN_MAX) {
        snprintf(err, errlen, "%s: bad header", path);
        goto out;
    }
    if ((uint64_t)st.st_size != BFT_SNAPFILE_HDR + len + SNAP_TRAILER) {
        snprintf(err, errlen, "%s: %lld bytes, header says %llu (torn)", path,
                 (long long)st.st_size,
                 (unsigned long long)(BFT_SNAPFILE_HDR + len + SNAP_TRAILER));
        goto out;
    }
    body = malloc(len + SNAP_TRAILER);
    if (!body) {
        snprintf(err, errlen, "%s: out of memory", path);
        rv = BFT_E_NOMEM;
        goto out;
    }
    size_t got = 0;
    while (got < len + SNAP_TRAILER) {
        ssize_t k = pread(fd, body + got, len + SNAP_TRAILER - got, (off_t)(sizeof hdr + got));
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) break;
        got += (size_t)k;
    }
    if (got != len + SNAP_TRAILER) {
        snprintf(err, errlen, "%s: short read", path);
        rv = BFT_E_IO;
        goto out;
    }
    uint8_t sha[32];
    crypto_sha256_2(hdr, sizeof hdr, body, len, sha);
    if (memcmp(sha, body + len, 32) != 0) {
        snprintf(err, errlen, "%s: checksum mismatch (corrupt)", path);
        goto out;
    }
    out->seq = name_seq;
    memcpy(out->state.b, hdr + 32, 32);
    out->buf = body;
    out->len = len;
    body = NULL;
    rv = BFT_E_OK;
out:
    free(body);
    close(fd);
    return rv;
}

int bft_snapfile_load(const char *dir, struct bft_snapfile *out, int max, char *note,
                      size_t notelen)
{
    if (notelen) note[0] = 0;
    uint64_t seqs[SNAP_SCAN_MAX];
    int k = list_snaps(dir, seqs, SNAP_SCAN_MAX, false);
    if (k < 0) {
        if (errno == ENOENT) return 0;
        snprintf(note, notelen, "%s: %s", dir, strerror(errno));
        return -1;
    }
    int got = 0;
    for (int i = 0; i < k && got < max; i++) {
        char p[4200], why[300];
        snap_path(p, sizeof p, dir, seqs[i], false);
        if (bft_snapfile_read(p, &out[got], why, sizeof why) == BFT_E_OK) {
            got++;
            continue;
        }
        size_t used = strlen(note);
        if (used < notelen)
            snprintf(note + used, notelen - used, "%sskipped %s", used ? "; " : "", why);
    }
    return got;
}

void bft_snapfile_free(struct bft_snapfile *f)
{
    free(f->buf);
    f->buf = NULL;
    f->len = 0;
}

bool bft_snapshot_due(uint64_t taken, uint64_t wal_since, uint64_t min_bytes, uint64_t last_len)
{
    uint64_t need = min_bytes > last_len ? min_bytes : last_len;
    return taken == 0 || wal_since >= need;
}
