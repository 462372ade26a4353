/* bftd: one replica of a bft cluster.
 *   bftd --config DIR/cluster.json --id I [--data-dir D] [--fresh] [-v]
 *        [--plan PLAN.json --plan-start-ms MS] [--twin-instance K]
 *        [--listen URL] [--peer ID=URL]...
 * Exit codes: 0 clean stop (SIGTERM/SIGINT), 2 usage or setup error, 1 it
 * could not restart itself after a storage failure (docs/architecture.md
 * "Storage failures"). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "tools/runtime.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bftd --config DIR/cluster.json --id I [--data-dir DIR] [--fresh] [-v]\n"
               "\n"
               "Runs replica I of the cluster described by cluster.json (written by\n"
               "`bftctl keygen`). Its private key is read from the cluster's keys dir.\n"
               "  --config PATH    cluster.json\n"
               "  --id I           replica id (0..n-1)\n"
               "  --data-dir DIR   WAL, commit log and stats (default DIR/replica-I)\n"
               "  --fresh          discard the WAL and start with empty state\n"
               "  -v, --verbose    log to stderr\n"
               "  --plan FILE      fault plan (docs/faults.md \"Plan file\"): this replica's\n"
               "                   Byzantine behaviours, partitions and network rates\n"
               "  --plan-start-ms MS  the run's T=0 in CLOCK_REALTIME ms (default: now)\n"
               "  --twin-instance K   this is instance K (0/1) of a twin replica\n"
               "  --listen URL     listen here instead of cluster.json's address\n"
               "  --peer ID=URL    dial replica ID at URL instead of cluster.json's\n"
               "  --twin-peer ID=URL  replica ID's twin instance: sends to ID go there while\n"
               "                   the plan's twin window for ID is open\n"
               "Stops cleanly on SIGTERM or SIGINT.\n");
}

static int parse_u32(const char *s, uint32_t *out)
{
    char *end;
    if (!s || !*s) return -1;
    unsigned long v = strtoul(s, &end, 10);
    if (*end || v > 0xffffffffUL || s[0] == '-') return -1;
    *out = (uint32_t)v;
    return 0;
}

/* Storage failed and is writable again (rt_run): start anew from the WAL,
 * as after a crash, in the same process (same pid for whoever supervises
 * it). The first start's --fresh must not wipe the WAL this time. */
static void resume(int argc, char **argv)
{
    char **av = calloc((size_t)argc + 1, sizeof *av);
    if (!av) _exit(1);
    int k = 0;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--fresh") != 0) av[k++] = argv[i];
    av[k] = NULL;
    fflush(NULL);
    execv("/proc/self/exe", av);
    fprintf(stderr, "bftd: cannot restart itself: %s\n", strerror(errno));
    _exit(1);
}

int main(int argc, char **argv)
{
    struct rt_options opt = {.twin_instance = -1};
    uint32_t u;
    bool have_id = false;
    static const struct option longopts[] = {{"config", required_argument, 0, 'c'},
                                             {"id", required_argument, 0, 'i'},
                                             {"data-dir", required_argument, 0, 'd'},
                                             {"fresh", no_argument, 0, 'F'},
                                             {"verbose", no_argument, 0, 'v'},
                                             {"help", no_argument, 0, 'h'},
                                             {"plan", required_argument, 0, 'P'},
                                             {"plan-start-ms", required_argument, 0, 'S'},
                                             {"twin-instance", required_argument, 0, 'T'},
                                             {"listen", required_argument, 0, 'L'},
                                             {"peer", required_argument, 0, 'E'},
                                             {"twin-peer", required_argument, 0, 'W'},
                                             {0, 0, 0, 0}};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "c:i:d:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c':
            opt.config_path = optarg;
            break;
        case 'i':
            if (parse_u32(optarg, &opt.id) != 0) {
                fprintf(stderr, "bftd: --id needs a non-negative integer, got '%s'\n", optarg);
                return 2;
            }
            have_id = true;
            break;
        case 'd':
            opt.data_dir = optarg;
            break;
        case 'F':
            opt.fresh = true;
            break;
        case 'P':
            opt.plan_path = optarg;
            break;
        case 'S': {
            char *end;
            opt.plan_start_ms = strtoull(optarg, &end, 10);
            if (*end || !*optarg) {
                fprintf(stderr, "bftd: --plan-start-ms needs milliseconds, got '%s'\n", optarg);
                return 2;
            }
            break;
        }
        case 'T':
            if (parse_u32(optarg, &u) != 0 || u > 1) {
                fprintf(stderr, "bftd: --twin-instance is 0 or 1, got '%s'\n", optarg);
                return 2;
            }
            opt.twin_instance = (int)u;
            break;
        case 'L':
            opt.listen = optarg;
            break;
        case 'W': {
            char *eq = strchr(optarg, '=');
            if (!eq || opt.n_twin_peers == BFT_MAX_REPLICAS) {
                fprintf(stderr, "bftd: --twin-peer wants ID=URL, got '%s'\n", optarg);
                return 2;
            }
            *eq = 0;
            if (parse_u32(optarg, &u) != 0) {
                fprintf(stderr, "bftd: --twin-peer: bad replica id '%s'\n", optarg);
                return 2;
            }
            opt.twin_peer[opt.n_twin_peers].id = u;
            opt.twin_peer[opt.n_twin_peers++].url = eq + 1;
            break;
        }
        case 'E': {
            char *eq = strchr(optarg, '=');
            if (!eq || opt.n_peer_overrides == BFT_MAX_REPLICAS) {
                fprintf(stderr, "bftd: --peer wants ID=URL, got '%s'\n", optarg);
                return 2;
            }
            *eq = 0;
            if (parse_u32(optarg, &u) != 0) {
                fprintf(stderr, "bftd: --peer: bad replica id '%s'\n", optarg);
                return 2;
            }
            opt.peer_override[opt.n_peer_overrides].id = u;
            opt.peer_override[opt.n_peer_overrides++].url = eq + 1;
            break;
        }
        case 'v':
            opt.verbose++;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            fprintf(stderr, "bftd: unknown or incomplete option '%s'\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "bftd: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (!opt.config_path || !have_id) {
        fprintf(stderr, "bftd: --config and --id are required\n");
        usage(stderr);
        return 2;
    }
    if (crypto_init() != 0) {
        fprintf(stderr, "bftd: crypto init failed\n");
        return 2;
    }
    if (opt.plan_path && !opt.plan_start_ms) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        opt.plan_start_ms = (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    int rv = rt_run(&opt, &g_stop);
    if (rv == RT_RESUME) resume(argc, argv);
    return rv;
}
