/* bftctl bench: the cost of tolerating liars, measured. Runs `bftctl
 * cluster` once per (protocol, nodes) on this machine, one after another,
 * with the same load, and writes bench.json, bench.csv and (if gnuplot is
 * installed) bench.png. Every figure comes from the runs' own JSON. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tools/bftctl.h"

#define BENCH_MAX 32

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bftctl bench [--protocols pbft,hotstuff,raft] [--nodes 4,7] [--duration S]\n"
            "                    [--clients C] [--envelope K] [--outstanding W] [--sign-raft]\n"
            "                    [--out DIR]\n"
            "Runs one cluster per protocol and node count (raft uses 2f+1 nodes for the\n"
            "same f unless --raft-equal-n), then writes DIR/bench.json, bench.csv, bench.png.\n");
}

struct row {
    char protocol[16];
    uint32_t nodes;
    bool sign;
    int exit_code;
    double ops_s, p50, p99, msgs_op, bytes_op, cpu_us_op;
    double committed;
    char safety[16];
};

static int run_one(const char *self, const char *out, struct row *r, double dur, uint32_t clients,
                   uint32_t envelope, uint32_t outstanding)
{
    char json[PATH_MAX], nodes[16], d[32], c[16], e[16], w[16];
    snprintf(json, sizeof json, "%s/%s-n%u%s.json", out, r->protocol, r->nodes,
             r->sign ? "-sign" : "");
    snprintf(nodes, sizeof nodes, "%u", r->nodes);
    snprintf(d, sizeof d, "%g", dur);
    snprintf(c, sizeof c, "%u", clients);
    snprintf(e, sizeof e, "%u", envelope);
    snprintf(w, sizeof w, "%u", outstanding);
    pid_t pid = fork();
    if (pid == 0) {
        if (!freopen("/dev/null", "w", stdout)) _exit(BFT_EXIT_EXEC_FAILED);
        execl(self, "bftctl", "cluster", "--protocol", r->protocol, "--nodes", nodes, "--duration",
              d, "--clients", c, "--envelope", e, "--outstanding", w, "--json", json,
              r->sign ? "--sign" : NULL, (char *)NULL);
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
    snprintf(
        cmd, sizeof cmd,
        "cd '%s' && gnuplot -e \"set terminal png size 1000,450; set output 'bench.png'; "
        "set datafile separator ','; set style data histograms; set style fill solid; "
        "set multiplot layout 1,2; set xtics rotate by -30; set title 'throughput (ops/s)'; "
        "plot 'bench.csv' using 4:xtic(1) notitle; set title 'latency p50 / p99 (ms)'; "
        "plot 'bench.csv' using 5:xtic(1) title 'p50', '' using 6 title 'p99'; unset multiplot\"",
        out);
    if (system(cmd) != 0) fprintf(stderr, "bftctl bench: gnuplot failed\n");
}

int cmd_bench(int argc, char **argv)
{
    static const struct option lo[] = {{"protocols", 1, 0, 'p'},
                                       {"nodes", 1, 0, 'n'},
                                       {"duration", 1, 0, 'd'},
                                       {"out", 1, 0, 'o'},
                                       {"clients", 1, 0, 'c'},
                                       {"envelope", 1, 0, 'e'},
                                       {"outstanding", 1, 0, 'w'},
                                       {"sign-raft", 0, 0, 's'},
                                       {"raft-equal-n", 0, 0, 'E'},
                                       {"help", 0, 0, 'h'},
                                       {0, 0, 0, 0}};
    char protos[128] = "pbft,hotstuff,raft", nodes[64] = "4,7";
    const char *out = "bench-out";
    double dur = 10;
    uint32_t clients = 8, envelope = 1, outstanding = 1;
    bool sign_raft = false, equal_n = false;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        char *end;
        switch (ch) {
        case 'p':
            snprintf(protos, sizeof protos, "%s", optarg);
            break;
        case 'n':
            snprintf(nodes, sizeof nodes, "%s", optarg);
            break;
        case 'o':
            out = optarg;
            break;
        case 's':
            sign_raft = true;
            break;
        case 'E':
            equal_n = true;
            break;
        case 'd':
            dur = strtod(optarg, &end);
            if (*end || dur < 1 || dur > 600) {
                fprintf(stderr, "bftctl bench: --duration needs 1..600 seconds\n");
                return BFT_EXIT_USAGE;
            }
            break;
        case 'c':
        case 'e':
        case 'w': {
            long v = strtol(optarg, &end, 10);
            if (*end || v < 1 || v > 256) {
                fprintf(stderr, "bftctl bench: %s needs 1..256\n", argv[optind - 1]);
                return BFT_EXIT_USAGE;
            }
            if (ch == 'c')
                clients = (uint32_t)v;
            else if (ch == 'e')
                envelope = (uint32_t)v;
            else
                outstanding = (uint32_t)v;
            break;
        }
        case 'h':
            usage(stdout);
            return BFT_EXIT_OK;
        default:
            fprintf(stderr, "bftctl bench: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return BFT_EXIT_USAGE;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bftctl bench: unexpected argument '%s'\n", argv[optind]);
        return BFT_EXIT_USAGE;
    }
    struct row rows[BENCH_MAX];
    uint32_t nrows = 0;
    for (char *p = strtok(protos, ","); p; p = strtok(NULL, ",")) {
        int proto = bft_protocol_parse(p);
        if (proto < 0) {
            fprintf(stderr, "bftctl bench: unknown protocol '%s'\n", p);
            return BFT_EXIT_USAGE;
        }
        char nb[64];
        snprintf(nb, sizeof nb, "%s", nodes);
        char *save = NULL;
        for (char *q = strtok_r(nb, ",", &save); q; q = strtok_r(NULL, ",", &save)) {
            long n = strtol(q, NULL, 10);
            if (n < 3 || n > BFT_MAX_REPLICAS) {
                fprintf(stderr, "bftctl bench: bad node count '%s'\n", q);
                return BFT_EXIT_USAGE;
            }
            uint32_t nn = (uint32_t)n;
            /* Raft at the same f: 2f+1 nodes (n=4 -> 3, n=7 -> 5). */
            if (proto == BFT_PROTO_RAFT && !equal_n) nn = 2 * ((nn - 1) / 3) + 1;
            for (int sg = 0; sg <= (proto == BFT_PROTO_RAFT && sign_raft); sg++) {
                if (nrows == BENCH_MAX) break;
                struct row *r = &rows[nrows++];
                memset(r, 0, sizeof *r);
                snprintf(r->protocol, sizeof r->protocol, "%s", bft_protocol_name(proto));
                r->nodes = nn;
                r->sign = sg;
            }
        }
    }
    if (mkdir(out, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "bftctl bench: cannot create %s: %s\n", out, strerror(errno));
        return BFT_EXIT_USAGE;
    }
    char self[PATH_MAX];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) return BFT_EXIT_USAGE;
    self[sl] = 0;
    printf("%-16s %5s %10s %8s %8s %8s %9s %10s %8s\n", "protocol", "nodes", "ops/s", "p50_ms",
           "p99_ms", "msgs/op", "bytes/op", "cpu_us/op", "safety");
    fflush(stdout); /* before fork: the children must not inherit it */
    for (uint32_t i = 0; i < nrows; i++) {
        struct row *r = &rows[i];
        if (run_one(self, out, r, dur, clients, envelope, outstanding) != 0) {
            snprintf(r->safety, sizeof r->safety, "error");
        }
        printf("%-16s %5u %10.0f %8.2f %8.2f %8.1f %9.0f %10.0f %8s\n",
               r->sign ? "raft+sign" : r->protocol, r->nodes, r->ops_s, r->p50, r->p99, r->msgs_op,
               r->bytes_op, r->cpu_us_op, r->safety);
        fflush(stdout);
    }
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/bench.csv", out);
    FILE *f = fopen(path, "w");
    if (f) {
        for (uint32_t i = 0; i < nrows; i++) {
            const struct row *r = &rows[i];
            fprintf(f, "%s-n%u,%s,%u,%.1f,%.3f,%.3f,%.2f,%.0f,%.0f,%s\n",
                    r->sign ? "raft+sign" : r->protocol, r->nodes, r->protocol, r->nodes, r->ops_s,
                    r->p50, r->p99, r->msgs_op, r->bytes_op, r->cpu_us_op, r->safety);
        }
        fclose(f);
    }
    cJSON *arr = cJSON_CreateArray();
    for (uint32_t i = 0; i < nrows; i++) {
        const struct row *r = &rows[i];
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
    snprintf(path, sizeof path, "%s/bench.json", out);
    f = fopen(path, "w");
    if (f && txt) fprintf(f, "%s\n", txt);
    if (f) fclose(f);
    free(txt);
    plot(out);
    printf("wrote %s/bench.json, %s/bench.csv, %s/bench.png\n", out, out, out);
    for (uint32_t i = 0; i < nrows; i++)
        if (strcmp(rows[i].safety, "ok") != 0) return BFT_EXIT_FAIL;
    return BFT_EXIT_OK;
}
