/* Request numbers across sessions (include/bft/client.h, docs/embedding-
 * client.md): replicas execute a (client, request number) at most once and
 * answer a repeated number from their reply cache, so a new session must
 * never reuse a number an earlier session of the same client id handed
 * out, or its new operation would get the old result. The state file keeps
 * the first number no session handed out; a session reserves numbers ahead
 * in blocks and makes the reservation durable before sending any of them
 * (persist before promise, docs/style.md #2), so even a crash leaves the
 * file above every number sent. A clean close writes back the exact next
 * number, so successive sessions leave no gap. The file is flock'd while
 * the session lives: two concurrent sessions of one client id would hand
 * out the same numbers. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "client/session_internal.h"

/* Ordered numbers stay below 2^62: the pure client numbers reads above. */
#define REQNO_LIMIT ((1ull << 62) - BFT_SESSION_OUTSTANDING_MAX - 2 * BFT_SESSION_REQNO_BLOCK)
#define REQNO_FILE_MAX 64 /* "NNN\n": 20 digits and a newline fit */

uint64_t session_reqno_first(bool have_file, uint64_t file_next, uint64_t now_us)
{
    if (have_file) return file_next;
    return now_us ? now_us : 1;
}

int session_reqno_parse(const char *buf, size_t len, uint64_t *next)
{
    uint64_t v = 0;
    size_t i = 0;
    for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
        if (v > (REQNO_LIMIT - 9) / 10) return -1;
        v = v * 10 + (uint64_t)(buf[i] - '0');
    }
    if (i == 0 || v == 0 || v >= REQNO_LIMIT) return -1;
    if (i < len && buf[i] == '\n') i++;
    if (i != len) return -1;
    *next = v;
    return 0;
}

/* Write `next` over the whole file and fsync: one small write at offset 0
 * (within one disk sector) so it lands whole or not at all. */
static int write_next(int fd, uint64_t next)
{
    char line[32];
    int n = snprintf(line, sizeof line, "%020" PRIu64 "\n", next);
    if (pwrite(fd, line, (size_t)n, 0) != n) return -1;
    if (ftruncate(fd, n) != 0) return -1;
    return fsync(fd);
}

int session_reqno_open(struct session_reqno *rq, const char *path, uint64_t now_us, uint64_t *next,
                       char *err, size_t errlen)
{
    rq->fd = -1;
    if (strlen(path) >= sizeof rq->path) {
        snprintf(err, errlen, "state file path too long: %s", path);
        return BFT_E_INVALID;
    }
    snprintf(rq->path, sizeof rq->path, "%s", path);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        snprintf(err, errlen, "state file %s: %s (set state_path to a writable file)", path,
                 strerror(errno));
        return BFT_E_IO;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        close(fd);
        snprintf(err, errlen, "state file %s: %s", path,
                 e == EWOULDBLOCK ? "locked: another session of this client id is open"
                                  : strerror(e));
        return e == EWOULDBLOCK ? BFT_E_AGAIN : BFT_E_IO;
    }
    char buf[REQNO_FILE_MAX];
    ssize_t got = pread(fd, buf, sizeof buf, 0);
    if (got < 0 || got == (ssize_t)sizeof buf) {
        snprintf(err, errlen, "state file %s: %s", path,
                 got < 0 ? strerror(errno) : "too long: not a request-number file");
        close(fd);
        return got < 0 ? BFT_E_IO : BFT_E_MALFORMED;
    }
    uint64_t file_next = 0;
    if (got > 0 && session_reqno_parse(buf, (size_t)got, &file_next) != 0) {
        /* Guessing here could reuse numbers; the user decides. */
        snprintf(err, errlen,
                 "state file %s: malformed (expected one request number); remove it to "
                 "number from the clock",
                 path);
        close(fd);
        return BFT_E_MALFORMED;
    }
    *next = session_reqno_first(got > 0, file_next, now_us);
    rq->fd = fd;
    rq->reserved_hi = 0;
    if (session_reqno_reserve(rq, *next) != BFT_E_OK) {
        snprintf(err, errlen, "state file %s: cannot write: %s", path, strerror(errno));
        close(fd);
        rq->fd = -1;
        return BFT_E_IO;
    }
    return BFT_E_OK;
}

int session_reqno_reserve(struct session_reqno *rq, uint64_t next)
{
    if (rq->reserved_hi >= next + SESSION_REQNO_MARGIN) return BFT_E_OK;
    uint64_t hi = next + BFT_SESSION_REQNO_BLOCK;
    if (hi >= REQNO_LIMIT) return BFT_E_IO; /* numbers exhausted: ~1.5e5 years of us */
    if (write_next(rq->fd, hi) != 0) return BFT_E_IO;
    rq->reserved_hi = hi;
    return BFT_E_OK;
}

void session_reqno_close(struct session_reqno *rq, uint64_t next)
{
    if (rq->fd < 0) return;
    /* If this write fails the file keeps the reservation: still above
     * every number sent, only a gap. */
    (void)write_next(rq->fd, next);
    flock(rq->fd, LOCK_UN);
    close(rq->fd);
    rq->fd = -1;
}
