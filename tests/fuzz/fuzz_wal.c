/* Target fuzz_wal: WAL replay (bft_wal_replay) over a file written from
 * the input, and the cores' recover paths fed with what it replays.
 *
 * Input: u8 protocol (mod 3: pbft, hotstuff, raft) | u8 mode | u8 self | rest
 *   mode & 1: rest is records (u16 len | bytes), appended through
 *             bft_wal_append so their checksums are right, then the
 *             last (mode >> 1) & 63 bytes are cut off the file (a torn
 *             tail) or, if mode & 0x80, one byte in the file is flipped;
 *   else:     rest is the WAL file's bytes as they are.
 * Every record replayed goes to bft_node_recover on a fresh replica, which
 * then fires its armed timers once and flushes. A second replay of the same
 * (now truncated) file must replay the same number of records and leave
 * the file unchanged: recovery is idempotent.
 *
 * The file is on /dev/shm when it is there: the WAL fsyncs on sync and on
 * repair, and an fsync to a disk file system per input would dominate.
 * It is emptied, not unlinked, between inputs: an unlink, a create and
 * the directory fsync that bft_wal_open does for a new file, per input,
 * are the harness's cost, not the replay's. It is removed at exit.
 */
#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include "node/node.h"
#include "store/store.h"
#include "tests/fuzz/fuzz_common.h"

static char path[64];
static bool armed[256];

static void h_send(void *ctx, uint32_t to, const uint8_t *msg, size_t len)
{
    (void)ctx, (void)to, (void)msg, (void)len;
}
static void h_persist(void *ctx, const uint8_t *rec, size_t len)
{
    (void)ctx, (void)rec, (void)len;
}
static void h_set(void *ctx, uint32_t t, uint64_t ms)
{
    (void)ctx, (void)ms;
    if (t < 256) armed[t] = true;
}
static void h_cancel(void *ctx, uint32_t t)
{
    (void)ctx;
    if (t < 256) armed[t] = false;
}

static void on_record(void *ctx, const uint8_t *rec, size_t len)
{
    bft_node_recover(ctx, rec, len);
}
static void count_record(void *ctx, const uint8_t *rec, size_t len)
{
    (void)rec, (void)len;
    (*(long *)ctx)++;
}

static long file_size(void)
{
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static bool write_file(const uint8_t *p, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return false;
    bool ok = fwrite(p, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static void remove_file(void)
{
    unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!path[0]) {
        const char *dir = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
        snprintf(path, sizeof path, "%s/bft-fuzz-wal.%d", dir, (int)getpid());
        unlink(path); /* a file left by a crashed run of the same pid */
        atexit(remove_file);
    }
    struct fz in = {.p = data, .len = size};
    static const int protos[3] = {BFT_PROTO_PBFT, BFT_PROTO_HOTSTUFF, BFT_PROTO_RAFT};
    int proto = protos[fz_u8(&in) % 3];
    uint8_t mode = fz_u8(&in);
    uint32_t self = fz_u8(&in) % fz_nodes(proto);
    char err[256];
    /* Start from an empty file (the first input creates it). */
    if (truncate(path, 0) != 0 && errno != ENOENT) abort();
    if (mode & 1) {
        struct bft_wal *w = NULL;
        if (bft_wal_open(&w, path, err, sizeof err) != BFT_E_OK) abort();
        while (fz_more(&in)) {
            size_t len;
            const uint8_t *p = fz_bytes(&in, fz_u16(&in), &len);
            if (bft_wal_append(w, p, len) != BFT_E_OK) abort();
        }
        if (bft_wal_sync(w) != BFT_E_OK) abort();
        bft_wal_close(w);
        long sz = file_size();
        uint32_t cut = (mode >> 1) & 63;
        if (mode & 0x80) {
            if (sz > 0) {
                FILE *f = fopen(path, "r+b");
                if (f) {
                    long at = (long)((cut * 2654435761u) % (uint32_t)sz);
                    fseek(f, at, SEEK_SET);
                    int c = fgetc(f);
                    fseek(f, at, SEEK_SET);
                    fputc(c ^ (1 << (cut & 7)), f);
                    fclose(f);
                }
            }
        } else if (cut && sz > 0) {
            if (truncate(path, sz > (long)cut ? sz - (long)cut : 0) != 0) abort();
        }
    } else if (!write_file(in.p + in.off, in.len - in.off)) {
        abort();
    }

    struct bft_node_config cfg;
    fz_node_config(&cfg, proto, self);
    struct bft_host host = {.send = h_send,
                            .send_client = h_send,
                            .persist = h_persist,
                            .set_timer = h_set,
                            .cancel_timer = h_cancel};
    memset(armed, 0, sizeof armed);
    struct bft_node *n = NULL;
    if (bft_node_create(&n, &cfg, &host, err, sizeof err) != BFT_E_OK) abort();
    long got = bft_wal_replay(path, on_record, n, err, sizeof err);
    long size_after = file_size();
    for (uint32_t t = 0; t < 256; t++)
        if (armed[t]) {
            armed[t] = false;
            bft_node_timer(n, t);
        }
    bft_node_flush(n);
    bft_node_destroy(n);

    if (got >= 0) {
        long again = 0;
        long got2 = bft_wal_replay(path, count_record, &again, err, sizeof err);
        if (got2 != got || again != got || file_size() != size_after) {
            fprintf(stderr, "second replay: %ld records (first %ld), size %ld -> %ld\n", got2, got,
                    size_after, file_size());
            abort();
        }
    }
    return 0;
}
