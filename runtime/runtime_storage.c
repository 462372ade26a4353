/* bftd's storage (docs/storage.md): a segmented WAL, durable snapshots
 * written at the cores' checkpoints, and rotation between steps.
 *
 * Restart order: the newest intact snapshots go to the node first (it
 * offers them to the core through io->load_snapshot while the core
 * replays), then every WAL segment replays in order, then the newest
 * segment opens for append. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node/node.h"
#include "store/store.h"
#include "runtime/runtime_storage.h"

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static uint64_t env_bytes(const char *name, uint64_t dflt, uint64_t min)
{
    const char *v = getenv(name);
    if (!v || !*v) return dflt;
    char *end;
    unsigned long long x = strtoull(v, &end, 10);
    if (*end || x < min) return dflt;
    return x;
}

/* Storage files: WAL segments, the legacy WAL, snapshots and their temp
 * files. Other files of the data dir (audit.log, commits.log, stats) are
 * not ours. */
static bool ours(const char *name)
{
    return !strcmp(name, "wal") || !strncmp(name, "wal-", 4) || !strncmp(name, "snap-", 5);
}

static void discard(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!ours(e->d_name)) continue;
        char p[1200];
        snprintf(p, sizeof p, "%s/%s", dir, e->d_name);
        unlink(p);
    }
    closedir(d);
}

static void replay_cb(void *ctx, const uint8_t *rec, size_t len)
{
    bft_node_recover(ctx, rec, len);
}

/* Test hook (tests/e2e/storage_crash.sh): BFT_STORAGE_CRASH_AT="ID:STEP[:SKIP]"
 * makes replica ID's storage stop at the (SKIP+1)-th bft_storage_step STEP
 * as a crash would, once per data directory (the marker file
 * DIR/crash-injected says it happened), so the replica takes its storage
 * failure path, resumes (re-exec) and recovers from the files exactly as
 * the crash left them. */
static struct {
    int step;
    long skip;
    char marker[700];
} crash;

static int crash_hook(void *ctx, int step)
{
    (void)ctx;
    if (step != crash.step || crash.skip-- > 0) return 0;
    FILE *f = fopen(crash.marker, "w");
    if (f) fclose(f);
    bft_storage_fault_hook(NULL, NULL);
    fprintf(stderr, "bftd: storage crash injected at step %d\n", step);
    errno = EIO;
    return 1;
}

static void crash_setup(const char *dir, uint32_t id)
{
    const char *v = getenv("BFT_STORAGE_CRASH_AT");
    unsigned who;
    int step;
    long skip = 0;
    if (!v || sscanf(v, "%u:%d:%ld", &who, &step, &skip) < 2 || who != id) return;
    snprintf(crash.marker, sizeof crash.marker, "%s/crash-injected", dir);
    if (access(crash.marker, F_OK) == 0) return;
    crash.step = step;
    crash.skip = skip;
    bft_storage_fault_hook(crash_hook, NULL);
}

int rt_storage_open(struct rt_storage *s, const char *dir, bool fresh, struct bft_node *node,
                    uint32_t id, char *err, size_t errlen)
{
    memset(s, 0, sizeof *s);
    snprintf(s->dir, sizeof s->dir, "%s", dir);
    crash_setup(dir, id);
    s->segment_bytes = env_bytes("BFT_WAL_SEGMENT_BYTES", BFT_WAL_SEGMENT_DEFAULT, 4096);
    s->snap_min_bytes = env_bytes("BFT_SNAPSHOT_MIN_BYTES", s->segment_bytes / 4, 0);
    if (fresh) discard(dir);
    struct bft_snapfile snaps[BFT_SNAPFILE_KEEP];
    int k = bft_snapfile_load(dir, snaps, BFT_SNAPFILE_KEEP, s->load_note, sizeof s->load_note);
    if (k < 0) {
        snprintf(err, errlen, "snapshots: %s", s->load_note);
        return -1;
    }
    int rv = 0;
    for (int i = 0; i < k; i++) {
        if (rv == 0 && bft_node_add_snapshot(node, snaps[i].seq, &snaps[i].state, snaps[i].buf,
                                             snaps[i].len) != BFT_E_OK) {
            snprintf(err, errlen, "snapshots: out of memory");
            rv = -1;
        }
        bft_snapfile_free(&snaps[i]);
    }
    if (rv != 0) return -1;
    s->loaded = k;
    if (bft_walseg_replay(dir, replay_cb, node, err, errlen) < 0) return -1;
    /* The snapshot the WAL on disk is based on: kept (pinned) until the
     * next rotation moves the base, and any newer snapshot may rotate. */
    s->rotated_base = bft_node_wal_base(node);
    if (bft_walseg_open(&s->wal, dir, err, errlen) != BFT_E_OK) return -1;
    return 0;
}

int rt_storage_append(struct rt_storage *s, const uint8_t *rec, size_t len)
{
    if (!s->wal) return 0; /* replaying: the record is already on disk */
    if (bft_walseg_append(s->wal, rec, len) != BFT_E_OK) return -1;
    s->since_snap += 8 + len;
    return 0;
}

int rt_storage_sync(struct rt_storage *s)
{
    return !s->wal || bft_walseg_sync(s->wal) == BFT_E_OK ? 0 : -1;
}

bool rt_storage_snapshot_wanted(struct rt_storage *s, uint64_t seq)
{
    (void)seq;
    /* While replaying, the state is being rebuilt from what is on disk. */
    if (!s->wal) return false;
    if (!bft_snapshot_due(s->snapshots, s->since_snap, s->snap_min_bytes, s->last_snapshot_bytes)) {
        s->snapshots_skipped++;
        return false;
    }
    return true;
}

int rt_storage_save_snapshot(struct rt_storage *s, uint64_t seq, const bft_digest *state,
                             const uint8_t *snap, size_t len, char *err, size_t errlen)
{
    if (!rt_storage_snapshot_wanted(s, seq)) return 1;
    uint64_t t0 = now_us();
    if (bft_walseg_sync(s->wal) != BFT_E_OK) {
        snprintf(err, errlen, "WAL sync before snapshot %llu", (unsigned long long)seq);
        return -1;
    }
    if (bft_snapfile_write(s->dir, seq, state, snap, len, s->rotated_base, err, errlen) != BFT_E_OK)
        return -1;
    s->snapshots++;
    s->snapshot_us += now_us() - t0;
    s->since_snap = 0;
    s->last_snapshot_seq = seq;
    s->last_snapshot_bytes = len;
    return 0;
}

static void emit_cb(void *ctx, const uint8_t *rec, size_t len)
{
    struct rt_storage *s = ctx;
    if (bft_walseg_append(s->wal, rec, len) != BFT_E_OK) return; /* sticky: rotate_end fails */
}

int rt_storage_maybe_rotate(struct rt_storage *s, struct bft_node *node, char *err, size_t errlen)
{
    if (!s->wal || bft_walseg_active_bytes(s->wal) < s->segment_bytes) return 0;
    uint64_t base = bft_node_snapshot_base(node);
    if (base <= s->rotated_base || bft_node_compact(node, NULL, NULL) != BFT_E_OK) return 0;
    uint64_t t0 = now_us();
    if (bft_walseg_rotate_begin(s->wal) != BFT_E_OK) {
        snprintf(err, errlen, "WAL rotation: new segment");
        return -1;
    }
    bft_node_compact(node, emit_cb, s);
    if (bft_walseg_rotate_end(s->wal) != BFT_E_OK) {
        snprintf(err, errlen, "WAL rotation: dump or delete");
        return -1;
    }
    s->rotated_base = base;
    s->rotations++;
    s->rotate_us += now_us() - t0;
    return 0;
}

uint64_t rt_storage_disk_bytes(const struct rt_storage *s)
{
    DIR *d = opendir(s->dir);
    if (!d) return 0;
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!ours(e->d_name)) continue;
        char p[1200];
        struct stat st;
        snprintf(p, sizeof p, "%s/%s", s->dir, e->d_name);
        if (stat(p, &st) == 0) total += (uint64_t)st.st_size;
    }
    closedir(d);
    return total;
}

void rt_storage_stats_json(const struct rt_storage *s, uint64_t restored, FILE *f)
{
    fprintf(f,
            ", \"storage\": {\"disk_bytes\": %llu, \"wal_segment\": %llu, "
            "\"wal_segment_bytes\": %llu, \"segment_max\": %llu, \"snapshots_written\": %llu, "
            "\"snapshots_skipped\": %llu, \"snapshot_seq\": %llu, \"snapshot_bytes\": %llu, "
            "\"snapshot_ms\": %.1f, \"rotations\": %llu, \"rotate_ms\": %.1f, "
            "\"snapshots_loaded\": %d, \"snapshot_restored\": %llu}",
            (unsigned long long)rt_storage_disk_bytes(s),
            (unsigned long long)(s->wal ? bft_walseg_active_index(s->wal) : 0),
            (unsigned long long)(s->wal ? bft_walseg_active_bytes(s->wal) : 0),
            (unsigned long long)s->segment_bytes, (unsigned long long)s->snapshots,
            (unsigned long long)s->snapshots_skipped, (unsigned long long)s->last_snapshot_seq,
            (unsigned long long)s->last_snapshot_bytes, s->snapshot_us / 1000.0,
            (unsigned long long)s->rotations, s->rotate_us / 1000.0, s->loaded,
            (unsigned long long)restored);
}

void rt_storage_close(struct rt_storage *s)
{
    bft_walseg_close(s->wal);
    s->wal = NULL;
}
