/* bftctl bench --sweep: find each protocol's saturation point by itself.
 *
 * For every (protocol, nodes) it runs `bftctl cluster` at a rising number
 * of requests in flight (clients x outstanding x envelope, the ladder
 * below) until throughput stops rising: two points in a row within 5% of
 * the best so far. It writes the throughput-latency curves (sweep.csv,
 * sweep.json, sweep.png) and, per point, the crypto bound measured in the
 * same run (docs/benchmarks.md "The crypto bound"):
 *
 *   bound = cores x 1e6 / (sign_us x signs/op + verify_us x verifies/op)
 *
 * with sign_us and verify_us timed here on this machine, and signs/op,
 * verifies/op summed over the replicas of that run (the client's own
 * signing and reply checks are not counted, so the bound is generous to
 * the replicas and our ratio to it is, if anything, understated). */
#include <cjson/cJSON.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "tools/bftctl.h"
#include "tools/bftctl_bench.h"

/* (clients, outstanding): in flight grows roughly x2 per step. */
static const uint32_t k_ladder[][2] = {{1, 1},   {1, 2},    {1, 4},   {2, 4},  {4, 4},
                                       {8, 4},   {16, 4},   {32, 4},  {32, 8}, {32, 16},
                                       {64, 16}, {128, 16}, {256, 16}};
#define LADDER_LEN (sizeof k_ladder / sizeof *k_ladder)
#define SATURATED_GAIN 1.05 /* a point must beat the best by 5% to count as rising */
#define SATURATED_AFTER 2   /* points in a row that did not */

struct point {
    uint32_t clients, outstanding, in_flight;
    struct bench_row r;
    double signs_op, verifies_op, bound, ratio;
};

struct crypto_cost {
    double sign_us, verify_us;
    long cores;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Median of 5 timed batches of 400 signs and 400 verifies of a 256-byte
 * message (about a PREPARE's signed body), with the cluster's domain
 * separation, through the same functions the replicas call. */
static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void measure_crypto(struct crypto_cost *c)
{
    struct crypto_keypair kp;
    crypto_keypair_generate(&kp);
    uint8_t msg[256], sig[CRYPTO_SIG_LEN];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 7);
    double s[5], v[5];
    volatile unsigned ok = 0;
    for (int b = 0; b < 5; b++) {
        double t0 = now_s();
        for (int i = 0; i < 400; i++) {
            msg[0] = (uint8_t)i;
            crypto_sign_msg(&kp, 1, 42, msg, sizeof msg, sig);
        }
        double t1 = now_s();
        for (int i = 0; i < 400; i++)
            ok += crypto_verify_msg(kp.pk, 1, 42, msg, sizeof msg, sig);
        double t2 = now_s();
        s[b] = (t1 - t0) * 1e6 / 400;
        v[b] = (t2 - t1) * 1e6 / 400;
    }
    qsort(s, 5, sizeof *s, cmp_double);
    qsort(v, 5, sizeof *v, cmp_double);
    c->sign_us = s[2];
    c->verify_us = v[2];
    c->cores = sysconf(_SC_NPROCESSORS_ONLN);
    if (c->cores < 1) c->cores = 1;
    (void)ok;
}

static void fill_bound(struct point *p, const struct crypto_cost *c)
{
    double ops = p->r.committed;
    p->signs_op = ops > 0 ? p->r.signs / ops : 0;
    p->verifies_op = ops > 0 ? p->r.verifies / ops : 0;
    double us = c->sign_us * p->signs_op + c->verify_us * p->verifies_op;
    p->bound = us > 0 ? (double)c->cores * 1e6 / us : 0;
    p->ratio = p->bound > 0 ? p->r.ops_s / p->bound : 0;
}

static const char *series_name(const struct bench_row *r, char *buf, size_t cap)
{
    snprintf(buf, cap, "%s-n%u", r->sign ? "raft+sign" : r->protocol, r->nodes);
    return buf;
}

static void write_series_dat(const char *out, const char *name, const struct point *pts, uint32_t n)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/sweep-%s.dat", out, name);
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "# ops_s p50_ms p99_ms in_flight\n");
    for (uint32_t i = 0; i < n; i++)
        if (pts[i].r.ops_s > 0)
            fprintf(f, "%.1f %.3f %.3f %u\n", pts[i].r.ops_s, pts[i].r.p50, pts[i].r.p99,
                    pts[i].in_flight);
    fclose(f);
}

/* One plot: throughput on x from zero, latency on a log y axis (p50 solid,
 * p99 dashed, one colour per series), the legend below the plot so it is
 * never clipped. */
static void plot_sweep(const char *out, char names[][32], uint32_t nseries)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fprintf(stderr, "bftctl bench: gnuplot not installed; skipping sweep.png\n");
        return;
    }
    char script[PATH_MAX];
    snprintf(script, sizeof script, "%s/sweep.gp", out);
    FILE *f = fopen(script, "w");
    if (!f) return;
    fprintf(f, "set terminal pngcairo size 1100,700 font ',11'\nset output 'sweep.png'\n"
               "set title 'Throughput and latency as requests in flight rise'\n"
               "set xlabel 'throughput (ops/s)'\nset ylabel 'latency (ms, log scale)'\n"
               "set xrange [0:*]\nset logscale y\nset grid xtics ytics mytics\n"
               "set key below maxrows 2 width 2\n");
    fprintf(f, "plot ");
    for (uint32_t i = 0; i < nseries; i++)
        fprintf(f,
                "%s'sweep-%s.dat' using 1:2 with linespoints lw 2 pt 7 lc %u title '%s p50', "
                "'sweep-%s.dat' using 1:3 with linespoints lw 1 dt 2 pt 6 lc %u title '%s p99'",
                i ? ", " : "", names[i], i + 1, names[i], names[i], i + 1, names[i]);
    fprintf(f, "\n");
    fclose(f);
    char cmd[PATH_MAX + 64];
    snprintf(cmd, sizeof cmd, "cd '%s' && gnuplot sweep.gp", out);
    if (system(cmd) != 0) {
        /* pngcairo may be missing: the plain png terminal draws the same. */
        snprintf(cmd, sizeof cmd,
                 "cd '%s' && sed -i 's/pngcairo size 1100,700 font .,11./png size 1100,700/' "
                 "sweep.gp && gnuplot sweep.gp",
                 out);
        if (system(cmd) != 0) fprintf(stderr, "bftctl bench: gnuplot failed\n");
    }
}

static cJSON *point_json(const struct point *p)
{
    cJSON *o = cJSON_CreateObject();
    cJSON_AddNumberToObject(o, "clients", p->clients);
    cJSON_AddNumberToObject(o, "outstanding", p->outstanding);
    cJSON_AddNumberToObject(o, "in_flight", p->in_flight);
    cJSON_AddNumberToObject(o, "throughput_ops_s", p->r.ops_s);
    cJSON_AddNumberToObject(o, "p50_ms", p->r.p50);
    cJSON_AddNumberToObject(o, "p99_ms", p->r.p99);
    cJSON_AddNumberToObject(o, "signs_per_op", p->signs_op);
    cJSON_AddNumberToObject(o, "verifies_per_op", p->verifies_op);
    cJSON_AddNumberToObject(o, "crypto_bound_ops_s", p->bound);
    cJSON_AddNumberToObject(o, "crypto_bound_ratio", p->ratio);
    cJSON_AddNumberToObject(o, "rss_mib_max", p->r.rss_kib_max / 1024);
    cJSON_AddStringToObject(o, "safety", p->r.safety);
    return o;
}

/* Sweep one series; returns the points run (into pts) and sets *best. */
static uint32_t sweep_series(const char *self, const char *out, const struct bench_row *proto,
                             double dur, uint32_t envelope, uint32_t max_points,
                             const struct crypto_cost *cc, struct point *pts, uint32_t *best,
                             bool *unsafe)
{
    uint32_t n = 0, flat = 0;
    *best = 0;
    char name[32];
    series_name(proto, name, sizeof name);
    for (uint32_t k = 0; k < LADDER_LEN && n < max_points; k++) {
        struct point *p = &pts[n];
        memset(p, 0, sizeof *p);
        p->r = *proto;
        p->clients = k_ladder[k][0];
        p->outstanding = k_ladder[k][1];
        p->in_flight = p->clients * p->outstanding * envelope;
        char tag[96];
        snprintf(tag, sizeof tag, "sweep-%.31s-c%u-w%u", name, p->clients, p->outstanding);
        if (bench_run_one(self, out, tag, &p->r, dur, p->clients, envelope, p->outstanding) != 0)
            snprintf(p->r.safety, sizeof p->r.safety, "error");
        fill_bound(p, cc);
        printf("%-12s %6u %5u x %-3u %10.0f %9.2f %9.2f %7.2f %7.2f %10.0f %6.0f%% %7.1f %s\n",
               name, p->in_flight, p->clients, p->outstanding, p->r.ops_s, p->r.p50, p->r.p99,
               p->signs_op, p->verifies_op, p->bound, 100 * p->ratio, p->r.rss_kib_max / 1024,
               p->r.safety);
        fflush(stdout);
        n++;
        if (strcmp(p->r.safety, "ok") != 0) {
            *unsafe = true;
            break;
        }
        if (p->r.ops_s >= SATURATED_GAIN * pts[*best].r.ops_s || n == 1) {
            flat = 0;
        } else if (++flat >= SATURATED_AFTER) {
            if (p->r.ops_s > pts[*best].r.ops_s) *best = n - 1;
            break;
        }
        if (p->r.ops_s > pts[*best].r.ops_s) *best = n - 1;
    }
    return n;
}

int bench_sweep(const char *self, const char *out, const struct bench_row *rows, uint32_t nrows,
                double dur, uint32_t envelope, uint32_t max_points)
{
    struct crypto_cost cc;
    measure_crypto(&cc);
    printf("crypto on this machine: sign %.1f us, verify %.1f us, %ld cores\n", cc.sign_us,
           cc.verify_us, cc.cores);
    printf("%-12s %6s %11s %10s %9s %9s %7s %7s %10s %7s %7s %s\n", "series", "flight",
           "clients x w", "ops/s", "p50_ms", "p99_ms", "sign/op", "vrfy/op", "bound/s", "ratio",
           "rss_MiB", "safety");
    fflush(stdout);
    cJSON *root = cJSON_CreateObject();
    cJSON *c = cJSON_AddObjectToObject(root, "crypto");
    cJSON_AddNumberToObject(c, "sign_us", cc.sign_us);
    cJSON_AddNumberToObject(c, "verify_us", cc.verify_us);
    cJSON_AddNumberToObject(c, "cores", (double)cc.cores);
    cJSON_AddNumberToObject(root, "duration_s", dur);
    cJSON_AddNumberToObject(root, "envelope", envelope);
    cJSON *series = cJSON_AddArrayToObject(root, "series");
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/sweep.csv", out);
    FILE *csv = fopen(path, "w");
    if (csv)
        fprintf(csv, "series,protocol,nodes,clients,outstanding,envelope,in_flight,ops_s,p50_ms,"
                     "p99_ms,signs_per_op,verifies_per_op,crypto_bound_ops_s,crypto_bound_ratio,"
                     "rss_mib_max,safety\n");
    static char names[32][32];
    static struct point pts[LADDER_LEN];
    bool unsafe = false;
    uint32_t nseries = 0;
    struct {
        char name[32];
        struct point p;
    } sat[32];
    for (uint32_t i = 0; i < nrows && nseries < 32; i++) {
        uint32_t best, n = sweep_series(self, out, &rows[i], dur, envelope, max_points, &cc, pts,
                                        &best, &unsafe);
        series_name(&rows[i], names[nseries], sizeof names[nseries]);
        write_series_dat(out, names[nseries], pts, n);
        cJSON *s = cJSON_CreateObject();
        cJSON_AddStringToObject(s, "series", names[nseries]);
        cJSON_AddStringToObject(s, "protocol", rows[i].protocol);
        cJSON_AddNumberToObject(s, "nodes", rows[i].nodes);
        cJSON *arr = cJSON_AddArrayToObject(s, "points");
        for (uint32_t k = 0; k < n; k++) {
            cJSON_AddItemToArray(arr, point_json(&pts[k]));
            if (csv)
                fprintf(csv, "%s,%s,%u,%u,%u,%u,%u,%.1f,%.3f,%.3f,%.3f,%.3f,%.0f,%.4f,%.1f,%s\n",
                        names[nseries], rows[i].protocol, rows[i].nodes, pts[k].clients,
                        pts[k].outstanding, envelope, pts[k].in_flight, pts[k].r.ops_s,
                        pts[k].r.p50, pts[k].r.p99, pts[k].signs_op, pts[k].verifies_op,
                        pts[k].bound, pts[k].ratio, pts[k].r.rss_kib_max / 1024, pts[k].r.safety);
        }
        cJSON_AddItemToObject(s, "saturation", point_json(&pts[best]));
        cJSON_AddItemToArray(series, s);
        snprintf(sat[nseries].name, sizeof sat[nseries].name, "%s", names[nseries]);
        sat[nseries].p = pts[best];
        nseries++;
        if (unsafe) break;
    }
    if (csv) fclose(csv);
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    snprintf(path, sizeof path, "%s/sweep.json", out);
    FILE *f = fopen(path, "w");
    if (f && txt) fprintf(f, "%s\n", txt);
    if (f) fclose(f);
    free(txt);
    plot_sweep(out, names, nseries);
    printf("\nsaturation (the best point of each sweep):\n");
    printf("%-12s %10s %9s %9s %6s %10s %7s\n", "series", "ops/s", "p50_ms", "p99_ms", "flight",
           "bound/s", "ratio");
    for (uint32_t i = 0; i < nseries; i++)
        printf("%-12s %10.0f %9.2f %9.2f %6u %10.0f %6.0f%%\n", sat[i].name, sat[i].p.r.ops_s,
               sat[i].p.r.p50, sat[i].p.r.p99, sat[i].p.in_flight, sat[i].p.bound,
               100 * sat[i].p.ratio);
    printf("wrote %s/sweep.csv, %s/sweep.json, %s/sweep.png\n", out, out, out);
    return unsafe ? BFT_EXIT_FAIL : BFT_EXIT_OK;
}
