/* bftctl soak: kill -9 soak on top of `bftctl cluster`. It draws a fault
 * schedule from a seed (a random replica or the current leader killed with
 * SIGKILL every ~5 s, down ~2 s, sometimes restarted with a wiped disk; one
 * replica down at a time, so never more than f), prints it with the seed so
 * that a run can be replayed, runs it with the same code as `bftctl
 * cluster` (ctl_cluster_exec), and ends with a table: safety, progress
 * after the last restart, the acknowledgement ledger, equal state digests,
 * intact and agreeing audit logs. Exit 0 all good, 3 safety / ledger /
 * audit violation, 4 no progress (or a replica that never caught up),
 * 2 usage or setup error. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/bftctl_run.h"
#include "wire/hash.h"

#define SOAK_WARMUP_S 3.0 /* healthy load before the first kill */
#define SOAK_TAIL_S 5.0   /* healthy load after the last restart */
#define SOAK_MIN_S 12.0

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bftctl soak --protocol pbft|hotstuff|raft --duration S [options]\n"
            "  --nodes N          replicas (default 4; raft 3)\n"
            "  --seed X           seed of the schedule (default: from the clock; printed)\n"
            "  --wipe-prob P      chance that a kill also wipes the disk (default 0.2)\n"
            "  --clients C        closed-loop clients (default 4)\n"
            "  --dir DIR          keep the run (keys, WALs, logs, ledger.csv) in DIR\n"
            "  --json OUT.json    the cluster result plus a \"soak\" section\n"
            "Every ~5 s a random replica or the current leader is killed with SIGKILL\n"
            "(down ~2 s, then restarted from its WAL, or with an empty disk), one at a\n"
            "time, from %.0f s after the start until %.0f s before the end.\n"
            "Exit codes: 0 all good, 2 usage/setup error, 3 safety, ledger or audit\n"
            "violation, 4 no progress after the last restart or a replica not caught up.\n",
            SOAK_WARMUP_S, SOAK_TAIL_S);
}

static int num(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "bftctl soak: %s needs a number in [%g, %g], got '%s'\n", flag, lo, hi,
                s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

/* splitmix64: the schedule is a pure function of the seed. */
static uint64_t next_u64(uint64_t *s)
{
    return bft_splitmix64(s);
}

static double uniform(uint64_t *s)
{
    return (double)(next_u64(s) >> 11) / (double)(1ull << 53);
}

struct soak_opts {
    int protocol;
    uint32_t nodes, clients;
    double duration_s, wipe_prob;
    uint64_t seed;
    const char *dir, *json;
};

/* The schedule: at most max events as --fault specs. One replica is down
 * at a time (each event ends before the next starts). */
static uint32_t make_schedule(const struct soak_opts *o, char (*spec)[48], uint32_t max)
{
    uint64_t s = o->seed;
    uint32_t k = 0;
    double t = SOAK_WARMUP_S + 2 * uniform(&s);
    while (k < max) { /* bounded: max events, and t grows by >= 3.5 s a step */
        double down = 1.5 + uniform(&s);
        if (t + down + SOAK_TAIL_S > o->duration_s) break;
        bool leader = uniform(&s) < 1.0 / 3;
        uint32_t id = (uint32_t)(uniform(&s) * o->nodes) % o->nodes;
        bool wipe = uniform(&s) < o->wipe_prob;
        char who[16];
        if (leader)
            snprintf(who, sizeof who, "leader");
        else
            snprintf(who, sizeof who, "%u", id);
        snprintf(spec[k++], sizeof spec[0], "%s:%s@%.2f-%.2f", who, wipe ? "wipe" : "crash", t,
                 t + down);
        t += down + 2 + 2 * uniform(&s);
    }
    return k;
}

static int parse(struct soak_opts *o, int argc, char **argv)
{
    static const struct option lo[] = {{"protocol", 1, 0, 'p'},  {"nodes", 1, 0, 'n'},
                                       {"duration", 1, 0, 'd'},  {"seed", 1, 0, 's'},
                                       {"wipe-prob", 1, 0, 'w'}, {"clients", 1, 0, 'c'},
                                       {"dir", 1, 0, 'D'},       {"json", 1, 0, 'j'},
                                       {"help", 0, 0, 'h'},      {0, 0, 0, 0}};
    bool have_p = false, have_d = false, have_seed = false;
    double v;
    o->protocol = -1;
    o->wipe_prob = 0.2;
    o->clients = 4;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'p':
            o->protocol = bft_protocol_parse(optarg);
            if (o->protocol < 0) {
                fprintf(stderr, "bftctl soak: unknown protocol '%s' (pbft, hotstuff, raft)\n",
                        optarg);
                return -1;
            }
            have_p = true;
            break;
        case 'n':
            if (num("--nodes", optarg, 3, BFT_MAX_REPLICAS, &v)) return -1;
            o->nodes = (uint32_t)v;
            break;
        case 'd':
            if (num("--duration", optarg, SOAK_MIN_S, LOAD_MAX_SECONDS - 1, &v)) return -1;
            o->duration_s = v;
            have_d = true;
            break;
        case 's': {
            char *end;
            errno = 0;
            unsigned long long x = strtoull(optarg, &end, 0);
            if (!*optarg || *end || errno || optarg[0] == '-') {
                fprintf(stderr, "bftctl soak: --seed needs an unsigned integer, got '%s'\n",
                        optarg);
                return -1;
            }
            o->seed = x;
            have_seed = true;
            break;
        }
        case 'w':
            if (num("--wipe-prob", optarg, 0, 1, &v)) return -1;
            o->wipe_prob = v;
            break;
        case 'c':
            if (num("--clients", optarg, 1, 256, &v)) return -1;
            o->clients = (uint32_t)v;
            break;
        case 'D':
            o->dir = optarg;
            break;
        case 'j':
            o->json = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            fprintf(stderr, "bftctl soak: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bftctl soak: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!have_p || !have_d) {
        fprintf(stderr, "bftctl soak: --protocol and --duration are required\n");
        usage(stderr);
        return -1;
    }
    if (!o->nodes) o->nodes = o->protocol == BFT_PROTO_RAFT ? 3 : 4;
    if (ctl_default_f(o->protocol, o->nodes) < 1) {
        fprintf(stderr, "bftctl soak: %s needs at least %u nodes\n", bft_protocol_name(o->protocol),
                o->protocol == BFT_PROTO_RAFT ? 3 : 4);
        return -1;
    }
    if (!have_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o->seed = ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec;
    }
    return 0;
}

struct soak_row {
    const char *name;
    bool ok;
    char detail[400];
};

/* Honest replicas up at the end: all at the same seq with the same digest. */
static bool digests_equal(const struct ctl_run *run, char *detail, size_t cap)
{
    uint64_t top = 0, low = UINT64_MAX;
    const char *ref = NULL;
    bool same = true;
    uint32_t up = 0, lag = 0;
    for (uint32_t i = 0; i < run->nodes; i++) {
        const struct ctl_replica *r = &run->reps[i];
        if (!r->honest || r->killed || !r->have_stats) continue;
        up++;
        if (r->committed_seq > top) top = r->committed_seq;
        if (r->committed_seq < low) low = r->committed_seq;
    }
    for (uint32_t i = 0; i < run->nodes; i++) {
        const struct ctl_replica *r = &run->reps[i];
        if (!r->honest || r->killed || !r->have_stats) continue;
        if (r->committed_seq != top) {
            lag = i;
            continue;
        }
        if (!ref)
            ref = r->state_digest;
        else if (strcmp(ref, r->state_digest) != 0)
            same = false;
    }
    if (!up) {
        snprintf(detail, cap, "no replica reported its state");
        return false;
    }
    if (!same) {
        snprintf(detail, cap, "replicas at seq %llu hold different digests",
                 (unsigned long long)top);
        return false;
    }
    if (low != top) {
        snprintf(detail, cap, "replica %u stopped at seq %llu, others at %llu (not caught up)", lag,
                 (unsigned long long)run->reps[lag].committed_seq, (unsigned long long)top);
        return false;
    }
    snprintf(detail, cap, "%u replicas at seq %llu, digest %.16s", up, (unsigned long long)top,
             ref ? ref : "-");
    return true;
}

static void add_json(const char *path, const struct soak_opts *o, char (*spec)[48], uint32_t n,
                     const struct soak_row *rows, uint32_t n_rows, int rc)
{
    FILE *f = fopen(path, "r");
    cJSON *root = NULL;
    if (f) {
        fseek(f, 0, SEEK_END);
        long len = ftell(f);
        fseek(f, 0, SEEK_SET);
        char *buf = len > 0 ? malloc((size_t)len + 1) : NULL;
        if (buf && fread(buf, 1, (size_t)len, f) == (size_t)len) {
            buf[len] = 0;
            root = cJSON_Parse(buf);
        }
        free(buf);
        fclose(f);
    }
    if (!root) root = cJSON_CreateObject();
    cJSON *s = cJSON_AddObjectToObject(root, "soak");
    char seed[32];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    cJSON_AddStringToObject(s, "seed", seed);
    cJSON_AddNumberToObject(s, "wipe_prob", o->wipe_prob);
    cJSON *sch = cJSON_AddArrayToObject(s, "schedule");
    for (uint32_t i = 0; i < n; i++)
        cJSON_AddItemToArray(sch, cJSON_CreateString(spec[i]));
    cJSON *t = cJSON_AddObjectToObject(s, "checks");
    for (uint32_t i = 0; i < n_rows; i++) {
        cJSON *x = cJSON_AddObjectToObject(t, rows[i].name);
        cJSON_AddBoolToObject(x, "ok", rows[i].ok);
        cJSON_AddStringToObject(x, "detail", rows[i].detail);
    }
    cJSON_AddNumberToObject(s, "exit_code", rc);
    char *txt = cJSON_Print(root);
    cJSON_Delete(root);
    f = txt ? fopen(path, "w") : NULL;
    if (!f || fputs(txt, f) < 0 || fputc('\n', f) == EOF)
        fprintf(stderr, "bftctl soak: cannot write %s\n", path);
    if (f) fclose(f);
    free(txt);
}

int cmd_soak(int argc, char **argv)
{
    struct soak_opts o;
    memset(&o, 0, sizeof o);
    if (parse(&o, argc, argv) != 0) return BFT_EXIT_USAGE;
    static char spec[CTL_MAX_FAULTS][48];
    uint32_t n = make_schedule(&o, spec, CTL_MAX_FAULTS - 1);
    printf("bftctl soak: %s n=%u, %.0f s, seed %llu, wipe probability %.2f, %u kills\n",
           bft_protocol_name(o.protocol), o.nodes, o.duration_s, (unsigned long long)o.seed,
           o.wipe_prob, n);
    printf("  replay: bftctl soak --protocol %s --nodes %u --duration %g --seed %llu "
           "--wipe-prob %g\n",
           bft_protocol_name(o.protocol), o.nodes, o.duration_s, (unsigned long long)o.seed,
           o.wipe_prob);
    for (uint32_t i = 0; i < n; i++)
        printf("  schedule %3u  --fault %s\n", i + 1, spec[i]);

    /* The same run as `bftctl cluster` with these arguments. */
    char nodes[16], dur[32], clients[16];
    snprintf(nodes, sizeof nodes, "%u", o.nodes);
    snprintf(dur, sizeof dur, "%g", o.duration_s);
    snprintf(clients, sizeof clients, "%u", o.clients);
    static char *av[2 * CTL_MAX_FAULTS + 24];
    int ac = 0;
    av[ac++] = "cluster";
    av[ac++] = "--protocol";
    av[ac++] = (char *)bft_protocol_name(o.protocol);
    av[ac++] = "--nodes";
    av[ac++] = nodes;
    av[ac++] = "--duration";
    av[ac++] = dur;
    av[ac++] = "--clients";
    av[ac++] = clients;
    av[ac++] = "--outstanding";
    av[ac++] = "2";
    for (uint32_t i = 0; i < n; i++) {
        av[ac++] = "--fault";
        av[ac++] = spec[i];
    }
    if (o.dir) {
        av[ac++] = "--dir";
        av[ac++] = (char *)o.dir;
    }
    if (o.json) {
        av[ac++] = "--json";
        av[ac++] = (char *)o.json;
    }
    av[ac] = NULL;
    struct ctl_run *run = ctl_run_new();
    if (!run) return BFT_EXIT_USAGE;
    int rc = BFT_EXIT_USAGE;
    if (ctl_cluster_args(run, ac, av) != 0) goto out;
    int crc = ctl_cluster_exec(run);
    if (crc == BFT_EXIT_USAGE || crc == BFT_EXIT_FAIL || !run->load || !run->reps) {
        rc = crc;
        goto out;
    }

    struct soak_row rows[5];
    memset(rows, 0, sizeof rows);
    /* 1. safety: honest replicas agree at every seq, clients never saw an
     * order number twice. */
    struct ctl_verdict v;
    ctl_check_safety(run->reps, run->nodes, &v);
    rows[0].name = "safety";
    rows[0].ok = v.safe && !run->load->dup_order_seq;
    if (!v.safe)
        snprintf(rows[0].detail, sizeof rows[0].detail, "divergence at seq %llu (%s)",
                 (unsigned long long)v.bad_seq, v.bad_what);
    else if (run->load->dup_order_seq)
        snprintf(rows[0].detail, sizeof rows[0].detail, "%llu order numbers given twice",
                 (unsigned long long)run->load->dup_order_seq);
    else
        snprintf(rows[0].detail, sizeof rows[0].detail, "%llu seq comparisons",
                 (unsigned long long)v.common_seqs);
    /* 2. progress after the last restart. */
    struct ctl_phases ph;
    ctl_phases(run, &ph);
    rows[1].name = "progress";
    rows[1].ok = ph.progressed || !ph.core_up;
    snprintf(rows[1].detail, sizeof rows[1].detail,
             "%llu ops (%.0f ops/s) after the last restart at t=%.1f s; %.0f ops/s before the "
             "first kill; longest window without commits %.2f s",
             (unsigned long long)ph.after.ops, ph.after.ops_s, ph.sched.settle_s, ph.before.ops_s,
             run->load->longest_gap_s);
    /* 3. ledger: every acknowledged order exactly once with the same order
     * number on every honest replica (a killed replica may lack what it
     * caught up on by state transfer; repeated lines fail). */
    const struct ledger_result *lr = &run->ledger;
    rows[2].name = "ledger";
    rows[2].ok = run->have_ledger && !ledger_violated(lr) && !lr->repeated_killed;
    if (!run->have_ledger)
        snprintf(rows[2].detail, sizeof rows[2].detail, "not checked: %s", run->ledger_err);
    else
        snprintf(rows[2].detail, sizeof rows[2].detail,
                 "%llu acks: %llu ok, %llu mismatched, %llu missing / %llu repeated on replicas "
                 "never killed, %llu repeated / %llu missing on killed replicas",
                 (unsigned long long)lr->acks, (unsigned long long)lr->ok,
                 (unsigned long long)lr->mismatch, (unsigned long long)lr->missing_live,
                 (unsigned long long)lr->repeated_live, (unsigned long long)lr->repeated_killed,
                 (unsigned long long)lr->missing_killed);
    /* 4. equal state digests. */
    rows[3].name = "digests";
    rows[3].ok = digests_equal(run, rows[3].detail, sizeof rows[3].detail);
    /* 5. audit logs intact and identical: `bftctl audit` over the run. */
    rows[4].name = "audit";
    printf("bftctl soak: bftctl audit --dir %s\n", run->dir);
    fflush(stdout);
    char *aav[] = {"audit", "--dir", run->dir, NULL};
    int arc = cmd_audit(3, aav);
    rows[4].ok = arc == BFT_EXIT_OK;
    snprintf(rows[4].detail, sizeof rows[4].detail, "bftctl audit exit %d", arc);

    printf("\nsoak %s n=%u seed %llu: %u kills in %.0f s\n", bft_protocol_name(o.protocol), o.nodes,
           (unsigned long long)o.seed, n, run->load->elapsed_s);
    for (uint32_t i = 0; i < 5; i++)
        printf("  %-9s %-4s  %s\n", rows[i].name, rows[i].ok ? "ok" : "FAIL", rows[i].detail);
    if (!rows[0].ok || !rows[2].ok || !rows[4].ok)
        rc = BFT_EXIT_UNSAFE;
    else if (!rows[1].ok || !rows[3].ok)
        rc = BFT_EXIT_NO_PROGRESS;
    else
        rc = BFT_EXIT_OK;
    printf("soak: %s (exit %d)\n",
           rc == BFT_EXIT_OK       ? "all good"
           : rc == BFT_EXIT_UNSAFE ? "SAFETY, LEDGER OR AUDIT VIOLATION"
                              : "NO PROGRESS",
           rc);
    if (o.json) add_json(o.json, &o, spec, n, rows, 5, rc);
out:
    ctl_run_free(run);
    return rc;
}
