/* bftctl cluster: a local cluster, one bftd process per replica on
 * 127.0.0.1, a closed-loop order load, timed faults, a clean stop, and a
 * safety verdict from the replicas' own commit logs. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include "node/node.h"
#include "client/client.h"
#include "config/cluster.h"
#include "app/app.h"
#include "core/core.h"
#include "tools/bftctl_check.h"
#include "tools/bftctl_run.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bftctl cluster --protocol pbft|hotstuff|raft --nodes N --duration S [options]\n"
            "  --clients C         closed-loop clients (default 4)\n"
            "  --batch B           max requests per batch (default 64)\n"
            "  --envelope K        requests per client signature (default 1)\n"
            "  --outstanding W     envelopes in flight per client (default 1)\n"
            "  --app orders|kv     application (default orders)\n"
            "  --payload BYTES     kv value size (default 16)\n"
            "  --sign              raft: sign replica messages too\n"
            "  --reads PCT         each client also keeps up to 2 reads in flight: a free\n"
            "                      read slot issues a LOOKUP of its latest acknowledged order\n"
            "                      with this chance (%%; default 0: none); latency per level\n"
            "  --read-level L      linearizable (default), quorum, local[:MS] (staleness\n"
            "                      bound, default 100 ms) or mix (docs/reads.md)\n"
            "  --fault ID:BEHAVIOUR[@T0[-T1]]   e.g. 0:crash@3 (repeatable); behaviours:\n"
            "                      crash wipe silent slow equivocate junk badsig replay stale\n"
            "                      flood withhold forge twin byzzfuzz (docs/faults.md)\n"
            "  --partition 'A,B|C,D[@T0-T1]'  symmetric; 'A>B,C[@T0-T1]' asymmetric (repeatable;\n"
            "                      clients are never partitioned)\n"
            "  --net drop=P,duplicate=P,reorder=P,reorder_ms=MS,delay_ms=MS,jitter_ms=MS[@T0-T1]\n"
            "  --drop P --duplicate P --reorder P --delay-ms MS   the same, one rate each\n"
            "  --scenario FILE.json  run a scenario (scenarios/*.json): its faults, nodes and\n"
            "                      duration (--duration compresses its timeline); exit 0 iff\n"
            "                      the outcome matches its expectation\n"
            "  --inject junk,badsig  an outsider sends junk frames and badly signed\n"
            "                      messages to every replica halfway through the run\n"
            "  --dir DIR           keep cluster.json, keys, WALs and logs in DIR\n"
            "  --json OUT.json     write the result as JSON\n"
            "  --base-port PORT    first replica port (default: a free range)\n"
            "  --quiet             print only the verdict line\n"
            "Exit codes: 0 safe and progressed, 2 usage/setup error, 3 safety violated\n"
            "(incl. an acknowledged order not held exactly once with its order number by an\n"
            "honest replica), 4 no commits after the last fault healed although 2f+1 honest\n"
            "replicas (raft: a majority) are up at the end; the load is extended to end at\n"
            "least 3 s after the last heal. With --scenario: 0 outcome as expected, 3 safety\n"
            "other than expected, 4 progress other than expected.\n");
}

static int num(const char *flag, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || !*s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "bftctl cluster: %s needs a number in [%g, %g], got '%s'\n", flag, lo, hi,
                s ? s : "");
        return -1;
    }
    *out = v;
    return 0;
}

static const char *k_behaviours[] = {"crash",  "silent", "slow",  "equivocate", "junk",
                                     "badsig", "replay", "stale", "flood",      "withhold",
                                     "forge",  "twin",   "wipe"};

static int parse_fault(const char *s, struct ctl_fault *f, uint32_t n)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", s);
    char *colon = strchr(buf, ':');
    if (!colon) goto bad;
    *colon = 0;
    char *end;
    /* "leader": whichever replica leads when the fault fires (crash and
     * wipe only), e.g. to kill the Raft leader wherever the election put it. */
    f->by_leader = !strcmp(buf, "leader");
    long id = f->by_leader ? 0 : strtol(buf, &end, 10);
    if (f->by_leader) end = buf + strlen(buf);
    if (*end || buf[0] == 0 || id < 0 || (uint32_t)id >= n) {
        fprintf(stderr, "bftctl cluster: --fault '%s': replica id must be 0..%u\n", s, n - 1);
        return -1;
    }
    char *beh = colon + 1, *at = strchr(beh, '@');
    f->t0 = 0;
    f->t1 = -1;
    if (at) {
        *at = 0;
        char *dash = strchr(at + 1, '-');
        if (dash) *dash = 0;
        f->t0 = strtod(at + 1, &end);
        if (*end || at[1] == 0 || f->t0 < 0) goto bad;
        if (dash) {
            f->t1 = strtod(dash + 1, &end);
            if (*end || dash[1] == 0 || f->t1 <= f->t0) goto bad;
        }
    }
    bool known = false;
    for (size_t i = 0; i < sizeof k_behaviours / sizeof *k_behaviours; i++)
        if (!strcmp(beh, k_behaviours[i])) known = true;
    if (!known) {
        fprintf(stderr, "bftctl cluster: --fault '%s': unknown behaviour '%s'\n", s, beh);
        return -1;
    }
    if (f->by_leader && strcmp(beh, "crash") != 0 && strcmp(beh, "wipe") != 0) {
        fprintf(stderr, "bftctl cluster: --fault '%s': 'leader' works with crash and wipe only\n",
                s);
        return -1;
    }
    /* wipe: killed at T0, restarted at T1 with empty state (no WAL), so it
     * must catch up by state transfer. Default T1 = T0 + 2 s. */
    if (!strcmp(beh, "wipe") && f->t1 < 0) f->t1 = f->t0 + 2;
    f->replica = (uint32_t)id;
    snprintf(f->behaviour, sizeof f->behaviour, "%s", beh);
    return 0;
bad:
    fprintf(stderr, "bftctl cluster: --fault '%s': expected ID:BEHAVIOUR[@T0[-T1]]\n", s);
    return -1;
}

static bool port_free(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return false;
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = bind(fd, (struct sockaddr *)&a, sizeof a) == 0;
    close(fd);
    return ok;
}

/* A base port with n replica ports and the client port free. */
/* Lowest port the kernel hands out to outgoing connections: listening
 * ports are picked below it, or a dialer elsewhere on the machine can take
 * one between our check and bftd's listen ("Address in use" at start). */
static unsigned ephemeral_low(void)
{
    unsigned lo = 32768, hi = 60999;
    FILE *f = fopen("/proc/sys/net/ipv4/ip_local_port_range", "r");
    if (f) {
        if (fscanf(f, "%u %u", &lo, &hi) != 2) lo = 32768;
        fclose(f);
    }
    return lo;
}

static uint16_t pick_ports(uint32_t n)
{
    srand((unsigned)(getpid() ^ time(NULL)));
    unsigned lo = ephemeral_low();
    unsigned bases = lo > 10000 + 100 ? (lo - 10000) / 100 - 1 : 0;
    if (bases == 0) bases = 400; /* odd kernel setting: the old range */
    for (int tries = 0; tries < 200; tries++) {
        uint16_t base = (uint16_t)(10000 + (rand() % bases) * 100);
        bool ok = port_free((uint16_t)(base + 99));
        for (uint32_t i = 0; ok && i < n; i++)
            ok = port_free((uint16_t)(base + i));
        if (ok) return base;
    }
    return 0;
}

static void self_dir(char *out, size_t cap)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0) {
        snprintf(out, cap, ".");
        return;
    }
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    snprintf(out, cap, "%s", exe);
}

void ctl_child_dies_with(pid_t parent)
{
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(BFT_EXIT_FAIL); /* it died before prctl */
}

pid_t ctl_spawn_replica(const struct ctl_run *run, uint32_t id, bool fresh)
{
    char idbuf[16], cfg[700], logp[700], buf[CTL_PLAN_ARGS][700];
    const char *argv[CTL_PLAN_ARGV + 8];
    snprintf(idbuf, sizeof idbuf, "%u", id);
    snprintf(cfg, sizeof cfg, "%s/cluster.json", run->dir);
    snprintf(logp, sizeof logp, "%s/replica-%u.log", run->dir, id);
    fflush(stdout); /* or the child prints our buffer again */
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0) return pid;
    ctl_child_dies_with(parent);
    FILE *lf = freopen(logp, "a", stderr);
    (void)lf;
    if (!freopen("/dev/null", "w", stdout)) _exit(BFT_EXIT_EXEC_FAILED);
    int a = 0;
    argv[a++] = "bftd";
    argv[a++] = "--config";
    argv[a++] = cfg;
    argv[a++] = "--id";
    argv[a++] = idbuf;
    argv[a++] = "-v";
    if (fresh) argv[a++] = "--fresh";
    ctl_plan_args(run, id, 0, argv + a, buf);
    execv(run->bftd, (char *const *)argv);
    fprintf(stderr, "exec %s: %s\n", run->bftd, strerror(errno));
    _exit(BFT_EXIT_EXEC_FAILED);
}

static int parse_args(struct ctl_run *run, int argc, char **argv)
{
    static const struct option lo[] = {
        {"protocol", 1, 0, 'p'},   {"nodes", 1, 0, 'n'},    {"duration", 1, 0, 'd'},
        {"clients", 1, 0, 'c'},    {"batch", 1, 0, 'b'},    {"payload", 1, 0, 'P'},
        {"sign", 0, 0, 's'},       {"envelope", 1, 0, 'e'}, {"fault", 1, 0, 'f'},
        {"partition", 1, 0, 'x'},  {"scenario", 1, 0, 'S'}, {"dir", 1, 0, 'D'},
        {"json", 1, 0, 'j'},       {"app", 1, 0, 'a'},      {"outstanding", 1, 0, 'o'},
        {"base-port", 1, 0, 'B'},  {"inject", 1, 0, 'i'},   {"quiet", 0, 0, 'q'},
        {"net", 1, 0, 'N'},        {"drop", 1, 0, 'r'},     {"duplicate", 1, 0, 'u'},
        {"reorder", 1, 0, 'R'},    {"delay-ms", 1, 0, 'y'}, {"reads", 1, 0, 'G'},
        {"read-level", 1, 0, 'L'}, {"help", 0, 0, 'h'},     {0, 0, 0, 0}};
    double v;
    bool have_p = false, have_n = false, have_d = false;
    opterr = 0;
    optind = 1;
    int ch;
    while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
        switch (ch) {
        case 'p':
            run->protocol = bft_protocol_parse(optarg);
            if (run->protocol < 0) {
                fprintf(stderr, "bftctl cluster: unknown protocol '%s' (pbft, hotstuff, raft)\n",
                        optarg);
                return -1;
            }
            have_p = true;
            break;
        case 'n':
            if (num("--nodes", optarg, 1, BFT_MAX_REPLICAS, &v)) return -1;
            run->nodes = (uint32_t)v;
            have_n = run->nodes_set = true;
            break;
        case 'd':
            if (num("--duration", optarg, 0.5, LOAD_MAX_SECONDS - 1, &v)) return -1;
            run->duration_s = v;
            have_d = run->duration_set = true;
            break;
        case 'r':
            if (num("--drop", optarg, 0, 1, &v)) return -1;
            run->drop = v;
            break;
        case 'u':
            if (num("--duplicate", optarg, 0, 1, &v)) return -1;
            run->duplicate = v;
            break;
        case 'R':
            if (num("--reorder", optarg, 0, 1, &v)) return -1;
            run->reorder = v;
            break;
        case 'y':
            if (num("--delay-ms", optarg, 0, 60000, &v)) return -1;
            run->delay_ms = v;
            break;
        case 'N':
            run->net_arg = optarg;
            break;
        case 'c':
            if (num("--clients", optarg, 1, 256, &v)) return -1;
            run->clients = (uint32_t)v;
            break;
        case 'b':
            if (num("--batch", optarg, 1, BFT_BATCH_MAX_ENVELOPES, &v)) return -1;
            run->batch = (uint32_t)v;
            break;
        case 'P':
            if (num("--payload", optarg, 0, BFT_RESULT_MAX - 1, &v)) return -1;
            run->payload = (uint32_t)v;
            break;
        case 'e':
            if (num("--envelope", optarg, 1, BFT_ENVELOPE_MAX_OPS, &v)) return -1;
            run->envelope = (uint32_t)v;
            break;
        case 'o':
            if (num("--outstanding", optarg, 1, 16, &v)) return -1;
            run->outstanding = (uint32_t)v;
            break;
        case 'B':
            if (num("--base-port", optarg, 1024, 65000, &v)) return -1;
            run->base_port = (uint16_t)v;
            break;
        case 's':
            run->sign = true;
            break;
        case 'q':
            run->quiet = true;
            break;
        case 'f':
            if (run->n_faults == CTL_MAX_FAULTS) {
                fprintf(stderr, "bftctl cluster: at most %d --fault flags\n", CTL_MAX_FAULTS);
                return -1;
            }
            run->fault_args[run->n_faults++] = optarg;
            break;
        case 'x':
            if (run->n_partitions == FAULT_MAX_PARTITIONS) {
                fprintf(stderr, "bftctl cluster: at most %d --partition flags\n",
                        FAULT_MAX_PARTITIONS);
                return -1;
            }
            run->partition_args[run->n_partitions++] = optarg;
            break;
        case 'S':
            run->scenario_path = optarg;
            break;
        case 'D':
            run->dir_arg = optarg;
            break;
        case 'j':
            run->json_path = optarg;
            break;
        case 'a':
            if (!bft_app_for(optarg)) {
                fprintf(stderr, "bftctl cluster: unknown app '%s' (orders, kv)\n", optarg);
                return -1;
            }
            snprintf(run->app, sizeof run->app, "%s", optarg);
            break;
        case 'i':
            for (char *tok = strtok(optarg, ","); tok; tok = strtok(NULL, ",")) {
                if (!strcmp(tok, "junk"))
                    run->inject_junk = true;
                else if (!strcmp(tok, "badsig"))
                    run->inject_badsig = true;
                else {
                    fprintf(stderr, "bftctl cluster: --inject takes junk and/or badsig, got '%s'\n",
                            tok);
                    return -1;
                }
            }
            break;
        case 'G':
            if (num("--reads", optarg, 0, 100, &v)) return -1;
            run->read_pct = (uint32_t)v;
            break;
        case 'L':
            if (!strcmp(optarg, "mix")) {
                run->read_level = LOAD_READ_MIX;
            } else if (bft_read_level_parse(optarg, &run->read_level, &run->read_staleness_ms)) {
                fprintf(stderr,
                        "bftctl cluster: --read-level wants linearizable, quorum, "
                        "local[:MS] (MS >= 1) or mix, got '%s'\n",
                        optarg);
                return -1;
            }
            run->read_level_arg = optarg;
            break;
        case 'h':
            usage(stdout);
            exit(0);
        default:
            fprintf(stderr, "bftctl cluster: unknown or incomplete option '%s'\n",
                    argv[optind - 1]);
            usage(stderr);
            return -1;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bftctl cluster: unexpected argument '%s'\n", argv[optind]);
        return -1;
    }
    if (!have_p || ((!have_n || !have_d) && !run->scenario_path)) {
        fprintf(stderr, "bftctl cluster: --protocol, --nodes and --duration are required "
                        "(--nodes and --duration default to the scenario's with --scenario)\n");
        usage(stderr);
        return -1;
    }
    if (!bft_core_ops_for(run->protocol)) {
        fprintf(stderr, "bftctl cluster: protocol %s is not built yet\n",
                bft_protocol_name(run->protocol));
        return -1;
    }
    /* --fault: crash and wipe are bftctl's (kill / restart); every other
     * behaviour goes into the plan each bftd carries out. */
    for (uint32_t i = 0; i < run->n_faults; i++) {
        if (parse_fault(run->fault_args[i], &run->faults[i],
                        run->nodes_set ? run->nodes : BFT_MAX_REPLICAS) != 0)
            return -1;
        if (!strcmp(run->faults[i].behaviour, "crash") || !strcmp(run->faults[i].behaviour, "wipe"))
            continue;
        run->plan_fault_args[run->n_fault_args_plan++] = run->fault_args[i];
    }
    if (ctl_build_plan(run) != 0) return -1;
    for (uint32_t i = 0; i < run->n_faults; i++)
        if (run->faults[i].replica >= run->nodes) {
            fprintf(stderr, "bftctl cluster: fault on replica %u: nodes are 0..%u\n",
                    run->faults[i].replica, run->nodes - 1);
            return -1;
        }
    uint32_t f = ctl_default_f(run->protocol, run->nodes);
    if (f < 1) {
        fprintf(stderr, "bftctl cluster: %s needs at least %u nodes\n",
                bft_protocol_name(run->protocol), run->protocol == BFT_PROTO_RAFT ? 3 : 4);
        return -1;
    }
    return 0;
}

static uint64_t realtime_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct ctl_run *ctl_run_new(void)
{
    struct ctl_run *run = calloc(1, sizeof *run);
    if (!run) return NULL;
    run->clients = 4;
    run->batch = 64;
    run->envelope = 1;
    run->outstanding = 1;
    run->payload = 16;
    run->read_level = BFT_READ_LINEARIZABLE;
    run->read_staleness_ms = BFT_READ_STALENESS_DEFAULT_MS;
    run->drop = run->duplicate = run->reorder = run->delay_ms = -1;
    snprintf(run->app, sizeof run->app, "orders");
    return run;
}

void ctl_run_free(struct ctl_run *run)
{
    if (!run) return;
    if (run->reps)
        for (uint32_t i = 0; i < run->nodes; i++)
            free(run->reps[i].log);
    free(run->reps);
    if (run->load) ledger_free(&run->load->acks);
    free(run->load);
    bft_cluster_free(&run->cl);
    free(run);
}

int ctl_cluster_args(struct ctl_run *run, int argc, char **argv)
{
    return parse_args(run, argc, argv);
}

int cmd_cluster(int argc, char **argv)
{
    struct ctl_run *run = ctl_run_new();
    if (!run) return BFT_EXIT_USAGE;
    int rc = BFT_EXIT_USAGE;
    if (parse_args(run, argc, argv) == 0) rc = ctl_cluster_exec(run);
    ctl_run_free(run);
    return rc;
}

int ctl_cluster_exec(struct ctl_run *run)
{
    int rc = BFT_EXIT_USAGE;
    char err[512];
    /* Progress is judged after the last heal: make sure the load runs on
     * for a while after it (a scenario has its own progress_after_s). */
    run->asked_duration_s = run->duration_s;
    if (!run->have_expect) {
        struct ctl_schedule s;
        ctl_schedule(run, run->duration_s, &s);
        if (s.any && run->duration_s - s.settle_s < CTL_HEALTHY_MIN_S) {
            run->duration_s = s.settle_s + CTL_HEALTHY_MIN_S;
            if (!run->quiet)
                printf("bftctl cluster: load extended from %.1f s to %.1f s so that %.0f s of "
                       "load follow the last heal at t=%.1f s\n",
                       run->asked_duration_s, run->duration_s, CTL_HEALTHY_MIN_S, s.settle_s);
        }
    }

    /* Directory and keys. */
    if (run->dir_arg) {
        snprintf(run->dir, sizeof run->dir, "%s", run->dir_arg);
        if (mkdir(run->dir, 0700) != 0 && errno != EEXIST) {
            fprintf(stderr, "bftctl cluster: cannot create %s: %s\n", run->dir, strerror(errno));
            goto out;
        }
    } else {
        snprintf(run->dir, sizeof run->dir, "/tmp/bft-cluster-XXXXXX");
        if (!mkdtemp(run->dir)) {
            fprintf(stderr, "bftctl cluster: mkdtemp: %s\n", strerror(errno));
            goto out;
        }
    }
    uint16_t base = run->base_port ? run->base_port : pick_ports(run->nodes);
    if (!base) {
        fprintf(stderr, "bftctl cluster: no free port range on 127.0.0.1\n");
        goto out;
    }
    struct keygen_opts ko = {.out_dir = run->dir,
                             .protocol = run->protocol,
                             .nodes = run->nodes,
                             .clients = run->clients,
                             .f = ctl_default_f(run->protocol, run->nodes),
                             .app = run->app,
                             .batch_max = run->batch,
                             .sign = run->sign,
                             .base_port = base,
                             .client_port = (uint16_t)(base + 99)};
    if (ctl_keygen(&ko, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl cluster: keygen: %s\n", err);
        goto out;
    }
    char cfg[700];
    snprintf(cfg, sizeof cfg, "%s/cluster.json", run->dir);
    if (bft_cluster_load(&run->cl, cfg, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl cluster: %s\n", err);
        goto out;
    }
    char sd[PATH_MAX];
    self_dir(sd, sizeof sd);
    const char *env_bftd = getenv("BFTD");
    snprintf(run->bftd, sizeof run->bftd, "%s", env_bftd ? env_bftd : sd);
    if (!env_bftd) strncat(run->bftd, "/bftd", sizeof run->bftd - strlen(run->bftd) - 1);
    if (access(run->bftd, X_OK) != 0) {
        fprintf(stderr, "bftctl cluster: cannot run %s (set BFTD=path/to/bftd)\n", run->bftd);
        goto out;
    }

    run->reps = calloc(run->nodes, sizeof *run->reps);
    if (!run->reps) goto out;
    for (uint32_t i = 0; i < run->nodes; i++)
        run->twin_port[i] = (uint16_t)(base + 50 + i);
    /* Raft: a crash-fault protocol is only broken from the leader's seat.
     * The liar starts first and the others ~0.9 s later, so its election
     * timer (randomised in [T, 2T)) tends to fire first; then, before T=0,
     * any other leader is restarted until the liar leads
     * (ctl_settle_leader). */
    uint64_t head_ms = run->head_start >= 0 ? 900 : 0;
    uint64_t settle_ms = run->head_start >= 0 ? 9000 : 0;
    run->plan_start_ms = realtime_ms() + head_ms + settle_ms + 300;
    if (ctl_write_plan(run) != 0) goto out;
    for (uint32_t k = 0; k < run->nodes; k++) {
        uint32_t i = run->head_start >= 0 ? (k + (uint32_t)run->head_start) % run->nodes : k;
        run->reps[i].id = i;
        /* crash faults are honest; a Byzantine replica may lie in its logs */
        run->reps[i].honest = !run->have_plan || !fault_plan_byzantine(&run->plan, i);
        if (k == 1 && head_ms) usleep((useconds_t)head_ms * 1000);
        run->reps[i].pid = ctl_spawn_replica(run, i, false);

        if (run->reps[i].pid < 0) {
            fprintf(stderr, "bftctl cluster: fork: %s\n", strerror(errno));
            ctl_stop_all(run);
            goto out;
        }
    }
    if (!run->quiet) {
        printf("bft cluster: %s n=%u f=%u, %u clients, batch %u, envelope %u, %.1f s, dir %s\n",
               bft_protocol_name(run->protocol), run->nodes, run->cl.f, run->clients, run->batch,
               run->envelope, run->duration_s, run->dir);
        for (uint32_t i = 0; i < run->plan.n_partitions && run->have_plan; i++) {
            char spec[FAULT_SPEC_MAX];
            fault_partition_format(&run->plan.partition[i], spec, sizeof spec);
            printf("  partition %s\n", spec);
        }
        if (run->head_start >= 0)
            printf("  raft: replica %d started 0.9 s ahead so that it leads\n", run->head_start);
        for (uint32_t i = 0; i < run->nodes; i++)
            if (run->twin[i])
                printf("  twin: a second bftd runs replica %u (same id and key) on port %u\n", i,
                       (unsigned)run->twin_port[i]);
    }
    if (run->head_start >= 0) {
        ctl_settle_leader(run);
        if (!run->quiet)
            printf("  raft: liar %d %s before T=0 (%u leader restarts)\n", run->head_start,
                   run->liar_leads ? "leads" : "does NOT lead", run->leader_bounces);
        uint64_t now = realtime_ms();
        if (now + 300 < run->plan_start_ms)
            usleep((useconds_t)(run->plan_start_ms - now - 300) * 1000);
    }
    usleep(300000); /* let listeners come up; clients retransmit anyway */
    for (uint32_t i = 0; i < run->nodes; i++) {
        int st;
        if (waitpid(run->reps[i].pid, &st, WNOHANG) == run->reps[i].pid) {
            fprintf(stderr, "bftctl cluster: replica %u exited at start (see %s/replica-%u.log)\n",
                    i, run->dir, i);
            run->reps[i].pid = 0;
            ctl_stop_all(run);
            goto out;
        }
    }

    struct load_opts lo = {.cl = &run->cl,
                           .clients = run->clients,
                           .envelope = run->envelope,
                           .outstanding = run->outstanding,
                           .payload = run->payload,
                           .duration_s = run->duration_s,
                           .quiet = run->quiet,
                           .on_tick = ctl_on_tick,
                           .tick_ctx = run,
                           .read_pct = run->read_pct,
                           .read_level = run->read_level,
                           .read_staleness_ms = run->read_staleness_ms};
    run->load = calloc(1, sizeof *run->load);
    if (!run->load || ctl_load_run(&lo, run->load, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl cluster: load: %s\n", run->load ? err : "out of memory");
        ctl_stop_all(run);
        goto out;
    }
    if (run->inject_pid > 0) waitpid(run->inject_pid, NULL, 0);
    ctl_quiesce(run);
    ctl_stop_all(run);
    for (uint32_t i = 0; i < run->nodes; i++) {
        ctl_read_stats(run->dir, &run->reps[i]);
        ctl_read_commits(run->dir, &run->reps[i]);
    }
    if (!strcmp(run->app, "orders")) {
        if (ctl_ledger_csv(run->dir, &run->load->acks) != 0)
            fprintf(stderr, "bftctl cluster: cannot write %s/ledger.csv\n", run->dir);
        run->have_ledger =
            ctl_ledger_run(run->dir, run->reps, run->nodes, &run->load->acks, &run->ledger,
                           run->ledger_err, sizeof run->ledger_err) == 0;
    }
    rc = ctl_report(run);
out:
    return rc;
}
