/* bftctl bench internals shared by the fixed-load table (bftctl_bench.c)
 * and the saturation sweep (bftctl_bench_sweep.c). */
#ifndef BFT_TOOLS_BFTCTL_BENCH_H
#define BFT_TOOLS_BFTCTL_BENCH_H

#include <stdbool.h>
#include <stdint.h>

struct bench_row {
    char protocol[16];
    uint32_t nodes;
    bool sign;
    int transport; /* CTL_TRANSPORT_* for `bftctl cluster --transport` (0: its default) */
    int exit_code;
    double ops_s, p50, p99, msgs_op, bytes_op, cpu_us_op;
    double committed;
    double signs, verifies; /* summed over the replicas */
    double rss_kib_max;     /* the largest replica's resident set */
    char safety[16];
};

/* One `bftctl cluster` run (self is bftctl's own path) with this load,
 * its JSON at out/<tag>.json; fills r from it. 0, or -1 if the run left no
 * readable JSON (r->exit_code says why). */
int bench_run_one(const char *self, const char *out, const char *tag, struct bench_row *r,
                  double dur, uint32_t clients, uint32_t envelope, uint32_t outstanding);

/* The saturation sweep (`bftctl bench --sweep`): rows are the (protocol,
 * nodes) pairs to sweep. Returns a tool exit code. */
int bench_sweep(const char *self, const char *out, const struct bench_row *rows, uint32_t nrows,
                double dur, uint32_t envelope, uint32_t max_points);

#endif
