/* commits.log written in whole lines only (runtime/runtime_commits.h). */
#include "runtime/runtime_commits.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "crypto/crypto.h"

/* Offset just past the last '\n' of fd (size `size`): scanning back in
 * blocks, at most the whole file once. */
static off_t last_line_end(int fd, off_t size)
{
    char blk[4096];
    off_t end = size;
    while (end > 0) {
        off_t start = end > (off_t)sizeof blk ? end - (off_t)sizeof blk : 0;
        ssize_t got = pread(fd, blk, (size_t)(end - start), start);
        if (got != end - start) return -1;
        for (ssize_t i = got; i > 0; i--)
            if (blk[i - 1] == '\n') return start + i;
        end = start;
    }
    return 0;
}

int rt_commits_open(struct rt_commits *c, const char *path, char *err, size_t errlen)
{
    c->len = 0;
    c->cut = c->lost = 0;
    c->fd = open(path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    struct stat st;
    if (c->fd < 0 || fstat(c->fd, &st) != 0) {
        snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
        if (c->fd >= 0) close(c->fd);
        c->fd = -1;
        return -1;
    }
    off_t keep = last_line_end(c->fd, st.st_size);
    if (keep < 0 || (keep < st.st_size && ftruncate(c->fd, keep) != 0)) {
        snprintf(err, errlen, "cannot cut the torn tail of %s: %s", path,
                 keep < 0 ? "read failed" : strerror(errno));
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->cut = (uint64_t)(st.st_size - keep);
    c->size = keep;
    return 0;
}

void rt_commits_flush(struct rt_commits *c)
{
    if (c->fd < 0 || c->len == 0) return;
    size_t off = 0;
    while (off < c->len) {
        ssize_t w = write(c->fd, c->buf + off, c->len - off);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR) continue;
        break;
    }
    if (off == c->len) {
        c->size += (off_t)off;
    } else if (ftruncate(c->fd, c->size) == 0) {
        /* Disk full or an I/O error: drop what did not fit, whole. */
        for (size_t i = 0; i < c->len; i++)
            c->lost += c->buf[i] == '\n';
    } else {
        /* Cannot even cut it back: stop writing rather than glue lines
         * to a torn one (the next open cuts the tail). */
        close(c->fd);
        c->fd = -1;
    }
    c->len = 0;
}

void rt_commits_add(struct rt_commits *c, uint64_t seq, uint64_t view, const bft_digest *batch,
                    const bft_digest *state)
{
    if (c->fd < 0) return;
    /* A line: two u64 (at most 20 digits each), two 64-hex digests. */
    if (RT_COMMITS_BUF - c->len <
        20 + 1 + 20 + 1 + 2 * CRYPTO_DIGEST_LEN + 1 + 2 * CRYPTO_DIGEST_LEN + 2)
        rt_commits_flush(c);
    char b[2 * CRYPTO_DIGEST_LEN + 1], s[2 * CRYPTO_DIGEST_LEN + 1];
    crypto_to_hex(batch->b, CRYPTO_DIGEST_LEN, b);
    crypto_to_hex(state->b, CRYPTO_DIGEST_LEN, s);
    int n = snprintf(c->buf + c->len, RT_COMMITS_BUF - c->len, "%llu %llu %s %s\n",
                     (unsigned long long)seq, (unsigned long long)view, b, s);
    if (n > 0 && (size_t)n < RT_COMMITS_BUF - c->len) c->len += (size_t)n;
}

void rt_commits_close(struct rt_commits *c)
{
    if (c->fd < 0) return;
    rt_commits_flush(c);
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
}
