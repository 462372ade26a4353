/* bftctl bench: the cost of tolerating liars, measured. Runs `bftctl
 * cluster` once per (protocol, nodes) on this machine, one after another,
 * with the same load, and writes bench.json, bench.csv and (if gnuplot is
 * installed) bench.png. Every figure comes from the runs' own JSON. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stddef.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/bftctl.h"
#include "tools/bftctl_bench.h"

#define BENCH_MAX 32

int bench_run_one(const char *self, const char *out, const char *tag, struct bench_row *r,
                  double dur, uint32_t clients, uint32_t envelope, uint32_t outstanding)
{
    char json[PATH_MAX], nodes[16], d[32], c[16], e[16], w[16];
    snprintf(json, sizeof json, "%s/%s.json", out, tag);
    snprintf(nodes, sizeof nodes, "%u", r->nodes);
    snprintf(d, sizeof d, "%g", dur);
    snprintf(c, sizeof c, "%u", clients);
    snprintf(e, sizeof e, "%u", envelope);
    snprintf(w, sizeof w, "%u", outstanding);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(BFT_EXIT_EXEC_FAILED);
        char *av[24];
        int ac = 0;
        const char *fixed[] = {"bftctl",        "cluster", "--protocol", r->protocol,
                               "--nodes",       nodes,     "--duration", d,
                               "--clients",     c,         "--envelope", e,
                               "--outstanding", w,         "--json",     json};
        for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++)
            av[ac++] = (char *)fixed[i];
        if (r->transport) {
            av[ac++] = "--transport";
            av[ac++] = r->transport == CTL_TRANSPORT_NNG ? "nng" : "direct";
        }
        if (r->sign) av[ac++] = "--sign";
        av[ac] = NULL;
        execv(self, av);
        _exit(BFT_EXIT_EXEC_FAILED);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    r->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : BFT_EXIT_KILLED;
    FILE *f = fopen(json, "r");
    if (!f) return -1;
    char *buf = malloc(1 << 20);
    size_t n = buf ? fread(buf, 1, (1 << 20) - 1, f) : 0;
    fclose(f);
    if (!buf) return -1;
    buf[n] = 0;
    cJSON *o = cJSON_Parse(buf);
    free(buf);
    if (!o) return -1;
#define NUM(k)                                                                                     \
    (cJSON_IsNumber(cJSON_GetObjectItem(o, k)) ? cJSON_GetObjectItem(o, k)->valuedouble : 0)
    r->ops_s = NUM("throughput_ops_s");
    r->msgs_op = NUM("msgs_per_op");
    r->bytes_op = NUM("bytes_per_op");
    r->cpu_us_op = NUM("cpu_us_per_op");
    r->committed = NUM("committed_ops");
    cJSON *lat = cJSON_GetObjectItem(o, "latency_ms");
    r->p50 = cJSON_GetObjectItem(lat, "p50") ? cJSON_GetObjectItem(lat, "p50")->valuedouble : 0;
    r->p99 = cJSON_GetObjectItem(lat, "p99") ? cJSON_GetObjectItem(lat, "p99")->valuedouble : 0;
    r->signs = r->verifies = r->rss_kib_max = 0;
    const cJSON *rep;
    cJSON_ArrayForEach(rep, cJSON_GetObjectItem(o, "replicas"))
    {
        const cJSON *sg = cJSON_GetObjectItem(rep, "signs"),
                    *vf = cJSON_GetObjectItem(rep, "verifies");
        const cJSON *rss = cJSON_GetObjectItem(rep, "rss_kib");
        if (cJSON_IsNumber(sg)) r->signs += sg->valuedouble;
        if (cJSON_IsNumber(vf)) r->verifies += vf->valuedouble;
        if (cJSON_IsNumber(rss) && rss->valuedouble > r->rss_kib_max)
            r->rss_kib_max = rss->valuedouble;
    }
    cJSON *s = cJSON_GetObjectItem(o, "safety");
    snprintf(r->safety, sizeof r->safety, "%s", cJSON_IsString(s) ? s->valuestring : "?");
    cJSON_Delete(o);
    return 0;
}

static void plot(const char *out)
{
    if (system("command -v gnuplot >/dev/null 2>&1") != 0) {
        fprintf(stderr, "bftctl bench: gnuplot not installed; skipping bench.png\n");
        return;
    }
    char cmd[PATH_MAX * 3];
    /* Both panels start at zero (a bar chart whose axis starts elsewhere
     * inflates differences); latency is on a log scale, so a 1.5 s p99
     * outlier does not flatten every other bar; the legend sits outside. */
    snprintf(cmd, sizeof cmd,
             "cd '%s' && gnuplot -e \"set terminal png size 1100,500; set output 'bench.png'; "
             "set datafile separator ','; set style data histograms; set style fill solid; "
             "set multiplot layout 1,2; set xtics rotate by -30; set yrange [0:*]; "
             "set title 'throughput (ops/s)'; plot 'bench.csv' using 4:xtic(1) notitle; "
             "set title 'latency p50 / p99 (ms, log scale)'; set logscale y; set yrange [*:*]; "
             "set key outside top center horizontal; "
             "plot 'bench.csv' using 5:xtic(1) title 'p50', '' using 6 title 'p99'; "
             "unset multiplot\"",
             out);
    if (system(cmd) != 0) fprintf(stderr, "bftctl bench: gnuplot failed\n");
}

struct bench_opts {
    const char *protos, *nodes, *out;
    double dur;
    uint32_t clients, envelope, outstanding;
    bool sign_raft, equal_n, sweep;
    uint32_t max_points;
    int transport; /* CTL_TRANSPORT_* */
};

#define OFF(field) offsetof(struct bench_opts, field)
static const struct cli_opt k_opts[] = {
    {"protocols", 0, "LIST", CLI_STR, OFF(protos), 0, 0, NULL,
     "comma-separated (default pbft,hotstuff,raft)"},
    {"nodes", 0, "LIST", CLI_STR, OFF(nodes), 0, 0, NULL, "node counts, 3..16 (default 4,7)"},
    {"duration", 0, "S", CLI_DOUBLE, OFF(dur), 1, 600, NULL, "seconds per run (default 10)"},
    {"clients", 0, "C", CLI_U32, OFF(clients), 1, 256, NULL, "closed-loop clients (default 8)"},
    {"envelope", 0, "K", CLI_U32, OFF(envelope), 1, 256, NULL,
     "requests per client signature (default 1)"},
    {"outstanding", 0, "W", CLI_U32, OFF(outstanding), 1, 256, NULL,
     "envelopes in flight per client (default 1)"},
    {"sign-raft", 0, NULL, CLI_FLAG, OFF(sign_raft), 0, 0, NULL, "add a signed Raft row"},
    {"raft-equal-n", 0, NULL, CLI_FLAG, OFF(equal_n), 0, 0, NULL,
     "raft at the same n, not 2f+1 for the same f"},
    {"out", 0, "DIR", CLI_STR, OFF(out), 0, 0, NULL, "where the results go (default bench-out)"},
    {"transport", 0, "direct|nng", CLI_FN, OFF(transport), 0, 0, ctl_opt_transport,
     "the clusters' transport (default direct; bftctl cluster --transport)"},
    {"sweep", 0, NULL, CLI_FLAG, OFF(sweep), 0, 0, NULL,
     "raise the requests in flight until throughput stops rising; curves and the\n"
     "crypto bound in DIR/sweep.{csv,json,png} (--clients and --outstanding ignored)"},
    {"max-points", 0, "K", CLI_U32, OFF(max_points), 2, 13, NULL,
     "--sweep: most points per series (default 13)"},
};
#undef OFF

static const struct cli_spec k_spec = {
    .prog = "bftctl bench",
    .synopsis = "bftctl bench [--protocols pbft,hotstuff,raft] [--nodes 4,7] [--duration S]\n"
                "                    [--clients C] [--envelope K] [--outstanding W] [--sign-raft]\n"
                "                    [--raft-equal-n] [--transport T] [--out DIR]\n"
                "       bftctl bench --sweep [--protocols ...] [--nodes 4] [--duration S]\n"
                "                    [--envelope K] [--max-points K] [--transport T] [--out DIR]",
    .intro = "Runs one cluster per protocol and node count (raft uses 2f+1 nodes for the\n"
             "same f unless --raft-equal-n), then writes DIR/bench.json, bench.csv, bench.png.\n",
    .opts = k_opts,
    .n_opts = sizeof k_opts / sizeof *k_opts,
    .outro = "Exit codes: 0 every run safe, 1 some run not safe, 2 usage.\n",
};

/* One row per (protocol, node count[, signed]); the count, or -1. */
static int plan_rows(const struct bench_opts *o, struct bench_row *rows)
{
    char protos[128];
    uint32_t nrows = 0;
    snprintf(protos, sizeof protos, "%s", o->protos);
    char *psave = NULL;
    for (char *p = strtok_r(protos, ",", &psave); p; p = strtok_r(NULL, ",", &psave)) {
        int proto = bft_protocol_parse(p);
        if (proto < 0) {
            fprintf(stderr, "bftctl bench: unknown protocol '%s'\n", p);
            return -1;
        }
        char nb[64];
        snprintf(nb, sizeof nb, "%s", o->nodes);
        char *save = NULL;
        for (char *q = strtok_r(nb, ",", &save); q; q = strtok_r(NULL, ",", &save)) {
            char *end;
            long n = strtol(q, &end, 10);
            if (*end || n < 3 || n > BFT_MAX_REPLICAS) {
                fprintf(stderr, "bftctl bench: bad node count '%s'\n", q);
                return -1;
            }
            uint32_t nn = (uint32_t)n;
            /* Raft at the same f: 2f+1 nodes (n=4 -> 3, n=7 -> 5). */
            if (proto == BFT_PROTO_RAFT && !o->equal_n) nn = 2 * ((nn - 1) / 3) + 1;
            for (int sg = 0; sg <= (proto == BFT_PROTO_RAFT && o->sign_raft); sg++) {
                if (nrows == BENCH_MAX) break;
                struct bench_row *r = &rows[nrows++];
                memset(r, 0, sizeof *r);
                snprintf(r->protocol, sizeof r->protocol, "%s", bft_protocol_name(proto));
                r->nodes = nn;
                r->sign = sg;
                r->transport = o->transport;
            }
        }
    }
    return (int)nrows;
}

static void write_csv(const char *out, const struct bench_row *rows, uint32_t nrows)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/bench.csv", out);
    FILE *f = fopen(path, "w");
    if (!f) return;
    for (uint32_t i = 0; i < nrows; i++) {
        const struct bench_row *r = &rows[i];
        fprintf(f, "%s-n%u,%s,%u,%.1f,%.3f,%.3f,%.2f,%.0f,%.0f,%s\n",
                r->sign ? "raft+sign" : r->protocol, r->nodes, r->protocol, r->nodes, r->ops_s,
                r->p50, r->p99, r->msgs_op, r->bytes_op, r->cpu_us_op, r->safety);
    }
    fclose(f);
}

static void write_json(const char *out, const struct bench_row *rows, uint32_t nrows)
{
    cJSON *arr = cJSON_CreateArray();
    for (uint32_t i = 0; i < nrows; i++) {
        const struct bench_row *r = &rows[i];
        cJSON *o = cJSON_CreateObject();
        cJSON_AddStringToObject(o, "protocol", r->protocol);
        cJSON_AddNumberToObject(o, "nodes", r->nodes);
        cJSON_AddBoolToObject(o, "sign", r->sign);
        cJSON_AddNumberToObject(o, "throughput_ops_s", r->ops_s);
        cJSON_AddNumberToObject(o, "p50_ms", r->p50);
        cJSON_AddNumberToObject(o, "p99_ms", r->p99);
        cJSON_AddNumberToObject(o, "msgs_per_op", r->msgs_op);
        cJSON_AddNumberToObject(o, "bytes_per_op", r->bytes_op);
        cJSON_AddNumberToObject(o, "cpu_us_per_op", r->cpu_us_op);
        cJSON_AddStringToObject(o, "safety", r->safety);
        cJSON_AddNumberToObject(o, "exit_code", r->exit_code);
        cJSON_AddItemToArray(arr, o);
    }
    char *txt = cJSON_Print(arr);
    cJSON_Delete(arr);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/bench.json", out);
    FILE *f = fopen(path, "w");
    if (f && txt) fprintf(f, "%s\n", txt);
    if (f) fclose(f);
    free(txt);
}

int cmd_bench(int argc, char **argv)
{
    struct bench_opts o = {.protos = "pbft,hotstuff,raft",
                           .nodes = "4,7",
                           .out = "bench-out",
                           .dur = 10,
                           .clients = 8,
                           .envelope = 1,
                           .outstanding = 1,
                           .max_points = 13};
    enum cli_result cr = cli_parse(&k_spec, argc, argv, &o, NULL);
    if (cr != CLI_PARSED) return cr == CLI_HELP ? BFT_EXIT_OK : BFT_EXIT_USAGE;
    struct bench_row rows[BENCH_MAX];
    int nr = plan_rows(&o, rows);
    if (nr < 0) return BFT_EXIT_USAGE;
    uint32_t nrows = (uint32_t)nr;
    if (mkdir(o.out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "bftctl bench: cannot create %s: %s\n", o.out, strerror(errno));
        return BFT_EXIT_USAGE;
    }
    char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) return BFT_EXIT_USAGE;
    self[sl] = 0;
    if (o.sweep) return bench_sweep(self, o.out, rows, nrows, o.dur, o.envelope, o.max_points);
    printf("%-16s %5s %10s %8s %8s %8s %9s %10s %8s\n", "protocol", "nodes", "ops/s", "p50_ms",
           "p99_ms", "msgs/op", "bytes/op", "cpu_us/op", "safety");
    fflush(stdout); /* before fork: the children must not inherit it */
    for (uint32_t i = 0; i < nrows; i++) {
        struct bench_row *r = &rows[i];
        char tag[96];
        snprintf(tag, sizeof tag, "%.15s-n%u%s", r->protocol, r->nodes, r->sign ? "-sign" : "");
        if (bench_run_one(self, o.out, tag, r, o.dur, o.clients, o.envelope, o.outstanding) != 0)
            snprintf(r->safety, sizeof r->safety, "error");
        printf("%-16s %5u %10.0f %8.2f %8.2f %8.1f %9.0f %10.0f %8s\n",
               r->sign ? "raft+sign" : r->protocol, r->nodes, r->ops_s, r->p50, r->p99, r->msgs_op,
               r->bytes_op, r->cpu_us_op, r->safety);
        fflush(stdout);
    }
    write_csv(o.out, rows, nrows);
    write_json(o.out, rows, nrows);
    plot(o.out);
    printf("wrote %s/bench.json, %s/bench.csv, %s/bench.png\n", o.out, o.out, o.out);
    for (uint32_t i = 0; i < nrows; i++)
        if (strcmp(rows[i].safety, "ok") != 0) return BFT_EXIT_FAIL;
    return BFT_EXIT_OK;
}
