/* Write-ahead log: "persist before you promise" (docs/design.md "Durability",
 * docs/style.md #2). A record on disk is
 *     u32 len | u32 crc | len bytes          (little-endian)
 * with crc = CRC-32C (Castagnoli) over the 4 length bytes followed by the
 * record bytes. Covering the length too means a zero-filled tail (what a
 * crash can leave after a file grew) is never taken for an empty record:
 * CRC-32C of four zero bytes is not zero.
 *
 * Appends are buffered in memory (written out past BFT_WAL_BUF_WRITE
 * bytes, the buffer never above WAL_BUF_MAX) and made durable
 * in batches by bft_wal_sync (write + fdatasync), so one fsync covers every
 * record of a step. A failed write or sync leaves the WAL failed for good:
 * the kernel may have dropped the dirty pages, so retrying a later fsync
 * could "succeed" over a lost record (the PostgreSQL fsyncgate lesson), and
 * the caller must never promise on it.
 *
 * Recovery replays records in order and stops at the first torn or corrupt
 * one (short header, length above BFT_WAL_RECORD_MAX, short body, CRC
 * mismatch), truncating the file there so the next append starts clean.
 * So a caller replays first, then opens for append.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/grow.h"
#include "store/store_internal.h"

#define WAL_HDR_LEN 8u
#define WAL_BUF_MAX (8u << 20)   /* the buffer's capacity at most */
#define WAL_BUF_INIT (64u << 10) /* the buffer starts here and doubles as appends need */
_Static_assert(WAL_BUF_MAX >= WAL_HDR_LEN + BFT_WAL_RECORD_MAX, "one record fits the buffer");
_Static_assert(BFT_WAL_BUF_WRITE <= WAL_BUF_MAX, "the write threshold fits the buffer");

struct bft_wal {
    int fd;
    bool failed;   /* sticky: see the top of the file */
    bool unsynced; /* bytes written since the last fdatasync */
    size_t len;    /* buffered bytes */
    size_t cap;    /* WAL_BUF_INIT..WAL_BUF_MAX: grown as appends need, shrunk at sync */
    uint8_t *buf;
};

/* ---- CRC-32C, reflected polynomial 0x82F63B78, table-driven. ---- */

static uint32_t crc_table[256];

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1u)));
        crc_table[i] = c;
    }
}

static uint32_t crc_update(uint32_t crc, const uint8_t *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        crc = crc_table[(crc ^ p[i]) & 0xffu] ^ (crc >> 8);
    return crc;
}

static uint32_t record_crc(const uint8_t len_le[4], const uint8_t *rec, size_t len)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, crc_init);
    uint32_t crc = crc_update(0xffffffffu, len_le, 4);
    return ~crc_update(crc, rec, len);
}

static void put_u32le(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32le(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- Writing ---- */

int wal_sync_dir(const char *dir)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return -1;
    int rv;
    do
        rv = fsync(fd);
    while (rv != 0 && errno == EINTR);
    close(fd);
    return rv;
}

/* fsync the directory holding path, so a newly created file's entry is
 * durable too (otherwise a crash can lose the whole file). */
static int sync_parent_dir(const char *path)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else if ((size_t)(slash - path) < sizeof dir)
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    else
        return -1;
    return wal_sync_dir(dir);
}

int bft_wal_open(struct bft_wal **out, const char *path, char *err, size_t errlen)
{
    *out = NULL;
    struct bft_wal *w = calloc(1, sizeof *w);
    if (w) w->buf = malloc(WAL_BUF_INIT);
    if (w) w->cap = WAL_BUF_INIT;
    if (!w || !w->buf) {
        if (w) free(w);
        set_err(err, errlen, "wal: out of memory");
        return BFT_E_NOMEM;
    }
    bool created = false;
    w->fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC);
    if (w->fd < 0 && errno == ENOENT) {
        w->fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
        created = true;
    }
    if (w->fd < 0 || (created && sync_parent_dir(path) != 0)) {
        set_err(err, errlen, "wal: open %s: %s", path, strerror(errno));
        bft_wal_close(w);
        return BFT_E_IO;
    }
    *out = w;
    return BFT_E_OK;
}

void bft_wal_close(struct bft_wal *w)
{
    if (!w) return;
    /* Closing does not sync: whatever was not synced was never promised. */
    if (w->fd >= 0) close(w->fd);
    free(w->buf);
    free(w);
}

size_t bft_wal_buffer_cap(const struct bft_wal *w)
{
    return w->cap;
}

bool bft_wal_dirty(const struct bft_wal *w)
{
    return w->len > 0 || w->unsynced;
}

/* Write the buffer out (no fsync). Handles short writes and EINTR. */
static int write_buffer(struct bft_wal *w)
{
    size_t off = 0;
    while (off < w->len) {
        ssize_t k = write(w->fd, w->buf + off, w->len - off);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) {
            w->failed = true;
            return BFT_E_IO;
        }
        off += (size_t)k;
        w->unsynced = true;
    }
    w->len = 0;
    return BFT_E_OK;
}

int bft_wal_append(struct bft_wal *w, const uint8_t *rec, size_t len)
{
    if (w->failed) return BFT_E_IO;
    /* A caller bug, not a disk fault: refuse it without failing the WAL. */
    if (len > BFT_WAL_RECORD_MAX || (len > 0 && !rec)) return BFT_E_INVALID;
    /* Written out (not synced) before the buffer passes BFT_WAL_BUF_WRITE:
     * a burst of big records (a backup taking a run of PRE-PREPAREs) would
     * otherwise grow it to WAL_BUF_MAX and keep it there (issue 14); one
     * write() per MiB costs nothing next to the fsync. */
    if (w->len > 0 && w->len + WAL_HDR_LEN + len > BFT_WAL_BUF_WRITE && write_buffer(w) != BFT_E_OK)
        return BFT_E_IO;
    size_t need = w->len + WAL_HDR_LEN + len;
    if (need > w->cap) {
        size_t cap = bft_grow_cap(w->cap, need, WAL_BUF_MAX);
        uint8_t *b = realloc(w->buf, cap);
        if (!b) { /* out of memory: a failed append like a disk fault (sticky) */
            w->failed = true;
            return BFT_E_IO;
        }
        w->buf = b;
        w->cap = cap;
    }
    uint8_t *p = w->buf + w->len;
    put_u32le(p, (uint32_t)len);
    put_u32le(p + 4, record_crc(p, rec, len));
    if (len) memcpy(p + WAL_HDR_LEN, rec, len);
    w->len += WAL_HDR_LEN + len;
    return BFT_E_OK;
}

int bft_wal_sync(struct bft_wal *w)
{
    if (w->failed) return BFT_E_IO;
    if (write_buffer(w) != BFT_E_OK) return BFT_E_IO;
    /* Grown past the write threshold for one large record (a snapshot
     * part, a big batch): give it back now that it is written. */
    if (w->cap > BFT_WAL_BUF_WRITE) {
        uint8_t *b = realloc(w->buf, BFT_WAL_BUF_WRITE);
        if (b) {
            w->buf = b;
            w->cap = BFT_WAL_BUF_WRITE;
        }
    }
    if (!w->unsynced) return BFT_E_OK;
    int rv;
    do
        rv = fdatasync(w->fd);
    while (rv != 0 && errno == EINTR);
    if (rv != 0) {
        w->failed = true;
        return BFT_E_IO;
    }
    w->unsynced = false;
    return BFT_E_OK;
}

/* ---- Recovery ---- */

/* Length of the intact prefix of map[0, size), calling cb per record. */
static size_t scan(const uint8_t *map, size_t size, long *count,
                   void (*cb)(void *ctx, const uint8_t *rec, size_t len), void *ctx)
{
    size_t off = 0;
    while (size - off >= WAL_HDR_LEN) {
        uint32_t len = get_u32le(map + off);
        if (len > BFT_WAL_RECORD_MAX || size - off - WAL_HDR_LEN < len) break;
        const uint8_t *rec = map + off + WAL_HDR_LEN;
        if (record_crc(map + off, rec, len) != get_u32le(map + off + 4)) break;
        cb(ctx, rec, len);
        (*count)++;
        off += WAL_HDR_LEN + len;
    }
    return off;
}

long wal_replay_file(const char *path, void (*cb)(void *ctx, const uint8_t *rec, size_t len),
                     void *ctx, bool last, char *err, size_t errlen)
{
    int fd = open(path, (last ? O_RDWR : O_RDONLY) | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) return 0;
        set_err(err, errlen, "wal: open %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        set_err(err, errlen, "wal: stat %s: %s", path, strerror(errno));
        close(fd);
        return -1;
    }
    size_t size = (size_t)st.st_size;
    long count = 0;
    size_t good = 0;
    if (size > 0) {
        void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (map == MAP_FAILED) {
            set_err(err, errlen, "wal: mmap %s: %s", path, strerror(errno));
            close(fd);
            return -1;
        }
        good = scan(map, size, &count, cb, ctx);
        munmap(map, size);
    }
    if (good < size && !last) {
        /* Only the newest segment can have a torn tail: an older one was
         * synced whole before the next was created (docs/storage.md). */
        set_err(err, errlen,
                "wal: %s is damaged at byte %zu of %zu (not the newest segment: refusing to "
                "start; restore the directory or wipe it to rejoin by state transfer)",
                path, good, size);
        close(fd);
        return -1;
    }
    if (good < size && (ftruncate(fd, (off_t)good) != 0 || fdatasync(fd) != 0)) {
        set_err(err, errlen, "wal: truncate %s to %zu: %s", path, good, strerror(errno));
        close(fd);
        return -1;
    }
    close(fd);
    return count;
}

long bft_wal_replay(const char *path, void (*cb)(void *ctx, const uint8_t *rec, size_t len),
                    void *ctx, char *err, size_t errlen)
{
    return wal_replay_file(path, cb, ctx, true, err, errlen);
}
