/* bftd's files in its data dir: stats.json published so bftctl can read
 * it even on a full disk, the data dir created, the probe that tells when
 * storage takes writes again, and the process's RSS for the stats. */
#include <errno.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "runtime/runtime_files.h"

/* A "Name: N kB" field of /proc/self/status, 0 if it cannot be read. */
static long status_kib(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    long v = 0;
    size_t n = strlen(field);
    while (fgets(line, sizeof line, f))
        if (strncmp(line, field, n) == 0 && line[n] == ':' && sscanf(line + n + 1, "%ld", &v) == 1)
            break;
    fclose(f);
    return v;
}

long rt_rss_kib(void)
{
    return status_kib("VmRSS");
}

long rt_rss_hwm_kib(void)
{
    return status_kib("VmHWM");
}

/* DIR/stats.json, replaced atomically (temp file and rename). When the
 * disk is full that fails, and the file is overwritten in place instead:
 * the blocks it already has take the new text, so a replica whose disk
 * filled up can still say why it stopped promising. */
void rt_publish_stats(const char *dir, const char *text, size_t len)
{
    char path[700], tmp[710];
    snprintf(path, sizeof path, "%s/stats.json", dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (f) {
        bool ok = fwrite(text, 1, len, f) == len;
        if (fclose(f) == 0 && ok && rename(tmp, path) == 0) return;
        unlink(tmp);
    }
    int fd = open(path, O_WRONLY);
    if (fd < 0) return;
    struct stat st;
    if (fstat(fd, &st) == 0 && (size_t)st.st_size > len) {
        /* Pad with spaces up to the old size: the JSON stays valid and no
         * block is freed or allocated. */
        char pad[256];
        memset(pad, ' ', sizeof pad);
        if (pwrite(fd, text, len, 0) == (ssize_t)len) {
            for (off_t off = (off_t)len; off < st.st_size;) {
                size_t k = (size_t)(st.st_size - off) < sizeof pad ? (size_t)(st.st_size - off)
                                                                   : sizeof pad;
                if (pwrite(fd, pad, k, off) != (ssize_t)k) break;
                off += (off_t)k;
            }
        }
    } else {
        if (pwrite(fd, text, len, 0) == (ssize_t)len) (void)ftruncate(fd, (off_t)len);
    }
    close(fd);
}

int rt_mkdir_p(const char *path)
{
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s", path);
    for (char *p = tmp + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(tmp, 0700) != 0 && errno != EEXIST) return -1;
        *p = '/';
    }
    return mkdir(tmp, 0700) != 0 && errno != EEXIST ? -1 : 0;
}

/* After a failed WAL or audit write: can the data dir take writes again?
 * Writes and syncs probe_bytes (headroom, so the replica does not fail
 * again at once), then removes the probe. */
bool rt_storage_writable(const char *dir, size_t probe_bytes)
{
    char path[700];
    snprintf(path, sizeof path, "%s/.storage-probe", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return false;
    static const uint8_t zero[65536];
    bool ok = true;
    for (size_t done = 0; ok && done < probe_bytes; done += sizeof zero)
        ok = write(fd, zero, sizeof zero) == (ssize_t)sizeof zero;
    ok = ok && fdatasync(fd) == 0;
    close(fd);
    unlink(path);
    return ok;
}
