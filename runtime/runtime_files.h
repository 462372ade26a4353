/* bftd's files in its data dir (runtime/runtime_files.c). */
#ifndef BFT_RUNTIME_FILES_H
#define BFT_RUNTIME_FILES_H

#include <stdbool.h>
#include <stddef.h>

/* VmRSS of this process in KiB (0 if unknown). */
long rt_rss_kib(void);
/* The peak RSS of the process (VmHWM), KiB. */
long rt_rss_hwm_kib(void);
/* Replace DIR/stats.json with text (in place when the disk is full). */
void rt_publish_stats(const char *dir, const char *text, size_t len);
/* mkdir -p, mode 0700; 0 or -1 (errno). */
int rt_mkdir_p(const char *path);
/* Can dir take probe_bytes of writes, synced? The probe file is removed. */
bool rt_storage_writable(const char *dir, size_t probe_bytes);

#endif
