/* bftctl soak: kill -9 soak on top of `bftctl cluster`. It draws a fault
 * schedule from a seed (a random replica or the current leader killed with
 * SIGKILL every ~5 s, down ~2 s, sometimes restarted with a wiped disk; one
 * replica down at a time, so never more than f), prints it with the seed so
 * that a run can be replayed, runs it with the same code as `bftctl
 * cluster` (ctl_cluster_exec), and ends with a table of checks
 * (bftctl_soak_report.c). Exit 0 all good, 3 safety / ledger / audit
 * violation, 4 no progress (or a replica that never caught up), 2 usage or
 * setup error. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tools/bftctl_run.h"
#include "wire/hash.h"

/* The help text (k_spec) quotes these two. */
#define SOAK_WARMUP_S 3.0 /* healthy load before the first kill */
#define SOAK_TAIL_S 5.0   /* healthy load after the last restart */
#define SOAK_MIN_S 12.0
#define SOAK_SPEC_MAX 48

struct soak_opts {
    int protocol;
    uint32_t nodes, clients;
    double duration_s, wipe_prob;
    uint64_t seed;
    const char *dir, *json;
    bool have_seed, clients_given;
    int transport; /* CTL_TRANSPORT_* */
};

static int opt_seed(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    (void)o;
    struct soak_opts *so = ctx;
    char *end;
    errno = 0;
    unsigned long long x = strtoull(arg, &end, 0);
    if (!*arg || *end || errno || arg[0] == '-') {
        fprintf(stderr, "%s: --seed needs an unsigned integer, got '%s'\n", prog, arg);
        return -1;
    }
    so->seed = x;
    so->have_seed = true;
    return 0;
}

#define OFF(field) offsetof(struct soak_opts, field)
static const struct cli_opt k_opts[] = {
    {"protocol", 0, "P", CLI_FN, OFF(protocol), 0, 0, ctl_opt_protocol,
     "pbft, hotstuff or raft (required)"},
    {"duration", 0, "S", CLI_DOUBLE, OFF(duration_s), SOAK_MIN_S, LOAD_MAX_SECONDS - 1, NULL,
     "seconds of load (required)"},
    {"nodes", 0, "N", CLI_U32, OFF(nodes), 3, BFT_MAX_REPLICAS, NULL,
     "replicas (default 4; raft 3)"},
    {"seed", 0, "X", CLI_FN, 0, 0, 0, opt_seed,
     "seed of the schedule (default: from the clock; printed)"},
    {"wipe-prob", 0, "P", CLI_DOUBLE, OFF(wipe_prob), 0, 1, NULL,
     "chance that a kill also wipes the disk (default 0.2)"},
    {"clients", 0, "C", CLI_U32, OFF(clients), 1, 256, NULL, "closed-loop clients (default 4)"},
    {"transport", 0, "direct|nng", CLI_FN, OFF(transport), 0, 0, ctl_opt_transport,
     "direct (default, tcp+direct://) or nng (tcp://)"},
    {"dir", 0, "DIR", CLI_STR, OFF(dir), 0, 0, NULL,
     "keep the run (keys, WALs, logs, ledger.csv) in DIR"},
    {"json", 0, "OUT.json", CLI_STR, OFF(json), 0, 0, NULL,
     "the cluster result plus a \"soak\" section"},
};
#undef OFF

static const struct cli_spec k_spec = {
    .prog = "bftctl soak",
    .synopsis = "bftctl soak --protocol pbft|hotstuff|raft --duration S [options]",
    .opts = k_opts,
    .n_opts = sizeof k_opts / sizeof *k_opts,
    .outro = "Every ~5 s a random replica or the current leader is killed with SIGKILL\n"
             "(down ~2 s, then restarted from its WAL, or with an empty disk), one at a\n"
             "time, from 3 s after the start until 5 s before the end.\n"
             "Exit codes: 0 all good, 2 usage/setup error, 3 safety, ledger or audit\n"
             "violation, 4 no progress after the last restart or a replica not caught up.\n",
};

static double uniform(uint64_t *s)
{
    return (double)(bft_splitmix64(s) >> 11) / (double)(1ull << 53);
}

/* The schedule, a pure function of the seed (splitmix64): at most max
 * events as --fault specs. One replica is down at a time (each event ends
 * before the next starts). */
static uint32_t make_schedule(const struct soak_opts *o, char (*spec)[SOAK_SPEC_MAX], uint32_t max)
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

/* BFT_EXIT_OK, or the exit code (help, or a message printed). */
static int parse(struct soak_opts *o, int argc, char **argv)
{
    uint64_t seen;
    o->protocol = -1;
    o->wipe_prob = 0.2;
    o->clients = 4;
    enum cli_result r = cli_parse(&k_spec, argc, argv, o, &seen);
    if (r != CLI_PARSED) return r == CLI_HELP ? BFT_EXIT_OK : BFT_EXIT_USAGE;
    o->clients_given = cli_given(&k_spec, seen, "clients");
    if (o->protocol < 0 || !cli_given(&k_spec, seen, "duration")) {
        fprintf(stderr, "bftctl soak: --protocol and --duration are required\n");
        cli_usage(&k_spec, stderr);
        return BFT_EXIT_USAGE;
    }
    if (!o->nodes) o->nodes = o->protocol == BFT_PROTO_RAFT ? 3 : 4;
    if (ctl_default_f(o->protocol, o->nodes) < 1) {
        fprintf(stderr, "bftctl soak: %s needs at least %u nodes\n", bft_protocol_name(o->protocol),
                o->protocol == BFT_PROTO_RAFT ? 3 : 4);
        return BFT_EXIT_USAGE;
    }
    if (!o->have_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        o->seed = ((uint64_t)ts.tv_sec * 1000003u) ^ (uint64_t)ts.tv_nsec;
    }
    return -1; /* parsed: go on */
}

/* The seed, the line that replays this run (every flag that shapes it)
 * and the schedule. */
static void print_header(const struct soak_opts *o, char (*spec)[SOAK_SPEC_MAX], uint32_t n)
{
    printf("bftctl soak: %s n=%u, %.0f s, seed %llu, wipe probability %.2f, %u kills\n",
           bft_protocol_name(o->protocol), o->nodes, o->duration_s, (unsigned long long)o->seed,
           o->wipe_prob, n);
    printf("  replay: bftctl soak --protocol %s --nodes %u --duration %g --seed %llu "
           "--wipe-prob %g",
           bft_protocol_name(o->protocol), o->nodes, o->duration_s, (unsigned long long)o->seed,
           o->wipe_prob);
    if (o->clients_given) printf(" --clients %u", o->clients);
    if (o->transport)
        printf(" --transport %s", o->transport == CTL_TRANSPORT_NNG ? "nng" : "direct");
    printf("\n");
    for (uint32_t i = 0; i < n; i++)
        printf("  schedule %3u  --fault %s\n", i + 1, spec[i]);
}

#define SOAK_ARGV (2 * CTL_MAX_FAULTS + 24)
/* The same run as `bftctl cluster` with these arguments; argc. */
static int cluster_argv(const struct soak_opts *o, char (*spec)[SOAK_SPEC_MAX], uint32_t n,
                        char **av, char num[3][32])
{
    snprintf(num[0], sizeof num[0], "%u", o->nodes);
    snprintf(num[1], sizeof num[0], "%g", o->duration_s);
    snprintf(num[2], sizeof num[0], "%u", o->clients);
    int ac = 0;
    av[ac++] = "cluster";
    av[ac++] = "--protocol";
    av[ac++] = (char *)bft_protocol_name(o->protocol);
    av[ac++] = "--nodes";
    av[ac++] = num[0];
    av[ac++] = "--duration";
    av[ac++] = num[1];
    av[ac++] = "--clients";
    av[ac++] = num[2];
    av[ac++] = "--outstanding";
    av[ac++] = "2";
    if (o->transport) {
        av[ac++] = "--transport";
        av[ac++] = o->transport == CTL_TRANSPORT_NNG ? "nng" : "direct";
    }
    for (uint32_t i = 0; i < n; i++) {
        av[ac++] = "--fault";
        av[ac++] = spec[i];
    }
    if (o->dir) {
        av[ac++] = "--dir";
        av[ac++] = (char *)o->dir;
    }
    if (o->json) {
        av[ac++] = "--json";
        av[ac++] = (char *)o->json;
    }
    av[ac] = NULL;
    return ac;
}

int cmd_soak(int argc, char **argv)
{
    struct soak_opts o;
    memset(&o, 0, sizeof o);
    int rc = parse(&o, argc, argv);
    if (rc >= 0) return rc;
    static char spec[CTL_MAX_FAULTS][SOAK_SPEC_MAX];
    static char *av[SOAK_ARGV];
    char num[3][32];
    uint32_t n = make_schedule(&o, spec, CTL_MAX_FAULTS - 1);
    print_header(&o, spec, n);
    int ac = cluster_argv(&o, spec, n, av, num);
    struct ctl_run *run = ctl_run_new();
    if (!run) return BFT_EXIT_USAGE;
    rc = BFT_EXIT_USAGE;
    if (ctl_cluster_args(run, ac, av) != 0) goto out;
    rc = ctl_cluster_exec(run);
    if (rc == BFT_EXIT_USAGE || rc == BFT_EXIT_FAIL || !run->load || !run->reps) goto out;
    struct soak_row rows[SOAK_CHECKS];
    ctl_soak_checks(run, rows);
    printf("\nsoak %s n=%u seed %llu: %u kills in %.0f s\n", bft_protocol_name(o.protocol), o.nodes,
           (unsigned long long)o.seed, n, run->load->elapsed_s);
    rc = ctl_soak_verdict(rows);
    if (o.json) ctl_soak_json(o.json, o.seed, o.wipe_prob, spec, n, rows, rc);
out:
    ctl_run_free(run);
    return rc;
}
