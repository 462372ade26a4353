/* bftd: one replica of a bft cluster.
 *   bftd --config DIR/cluster.json --id I [--data-dir D] [--fresh] [-v]
 *        [--plan PLAN.json --plan-start-ms MS] [--twin-instance K]
 *        [--listen URL] [--peer ID=URL]...
 * Exit codes: 0 clean stop (SIGTERM/SIGINT), 2 usage or setup error, 1 it
 * could not restart itself after a storage failure (docs/architecture.md
 * "Storage failures"). */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "crypto/crypto.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"
#include "runtime/runtime.h"

static volatile sig_atomic_t g_stop;

static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static int parse_plan_start(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    (void)prog;
    (void)o;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (!*arg || *end || errno || arg[0] == '-') {
        fprintf(stderr, "bftd: --plan-start-ms needs milliseconds, got '%s'\n", arg);
        return -1;
    }
    ((struct rt_options *)ctx)->plan_start_ms = v;
    return 0;
}

static int parse_twin_instance(const char *prog, const struct cli_opt *o, void *ctx,
                               const char *arg)
{
    (void)prog;
    uint32_t u;
    if (cli_uint("bftd", o->name, arg, 0, 1, &u) != 0) return -1;
    ((struct rt_options *)ctx)->twin_instance = (int)u;
    return 0;
}

/* "ID=URL" into one of BFT_MAX_REPLICAS slots; arg is argv's own string,
 * so the URL can stay in place. */
static int parse_peer_url(const char *flag, const char *arg, uint32_t *n, uint32_t *id,
                          const char **url)
{
    char idbuf[16];
    const char *eq = strchr(arg, '=');
    if (!eq || *n == BFT_MAX_REPLICAS || (size_t)(eq - arg) >= sizeof idbuf) {
        fprintf(stderr, "bftd: --%s wants ID=URL, got '%s'\n", flag, arg);
        return -1;
    }
    memcpy(idbuf, arg, (size_t)(eq - arg));
    idbuf[eq - arg] = 0;
    if (cli_uint("bftd", flag, idbuf, 0, BFT_MAX_REPLICAS - 1, id) != 0) return -1;
    *url = eq + 1;
    (*n)++;
    return 0;
}

static int parse_peer(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    (void)prog;
    struct rt_options *opt = ctx;
    uint32_t k = opt->n_peer_overrides;
    return parse_peer_url(o->name, arg, &opt->n_peer_overrides,
                          &opt->peer_override[k < BFT_MAX_REPLICAS ? k : 0].id,
                          &opt->peer_override[k < BFT_MAX_REPLICAS ? k : 0].url);
}

static int parse_twin_peer(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    (void)prog;
    struct rt_options *opt = ctx;
    uint32_t k = opt->n_twin_peers;
    return parse_peer_url(o->name, arg, &opt->n_twin_peers,
                          &opt->twin_peer[k < BFT_MAX_REPLICAS ? k : 0].id,
                          &opt->twin_peer[k < BFT_MAX_REPLICAS ? k : 0].url);
}

#define OFF(field) offsetof(struct rt_options, field)
static const struct cli_opt k_opts[] = {
    {"config", 'c', "PATH", CLI_STR, OFF(config_path), 0, 0, NULL, "cluster.json (required)"},
    {"id", 'i', "I", CLI_U32, OFF(id), 0, UINT32_MAX, NULL, "replica id, 0..n-1 (required)"},
    {"data-dir", 'd', "DIR", CLI_STR, OFF(data_dir), 0, 0, NULL,
     "WAL, commit log and stats (default DIR/replica-I)"},
    {"fresh", 0, NULL, CLI_FLAG, OFF(fresh), 0, 0, NULL,
     "discard the WAL and start with empty state"},
    {"verbose", 'v', NULL, CLI_COUNT, OFF(verbose), 0, 0, NULL, "log to stderr"},
    {"plan", 0, "FILE", CLI_STR, OFF(plan_path), 0, 0, NULL,
     "fault plan (docs/faults.md \"Plan file\"): this replica's\nByzantine behaviours, "
     "partitions and network rates"},
    {"plan-start-ms", 0, "MS", CLI_FN, 0, 0, 0, parse_plan_start,
     "the run's T=0 in CLOCK_REALTIME ms (default: now)"},
    {"twin-instance", 0, "K", CLI_FN, 0, 0, 0, parse_twin_instance,
     "this is instance K (0/1) of a twin replica"},
    {"listen", 0, "URL", CLI_STR, OFF(listen), 0, 0, NULL,
     "listen here instead of cluster.json's address"},
    {"peer", 0, "ID=URL", CLI_FN, 0, 0, 0, parse_peer,
     "dial replica ID at URL instead of cluster.json's\n(repeatable)"},
    {"twin-peer", 0, "ID=URL", CLI_FN, 0, 0, 0, parse_twin_peer,
     "replica ID's twin instance: sends to ID go there while\nthe plan's twin window for ID "
     "is open (repeatable)"},
};
#undef OFF

static const struct cli_spec k_spec = {
    .prog = "bftd",
    .synopsis = "bftd --config DIR/cluster.json --id I [--data-dir DIR] [--fresh] [-v]\n"
                "            [--plan FILE] [--plan-start-ms MS] [--twin-instance K]\n"
                "            [--listen URL] [--peer ID=URL]... [--twin-peer ID=URL]...",
    .intro = "\nRuns replica I of the cluster described by cluster.json (written by\n"
             "`bftctl keygen`). Its private key is read from the cluster's keys dir.\n",
    .opts = k_opts,
    .n_opts = sizeof k_opts / sizeof *k_opts,
    .outro = "Stops cleanly on SIGTERM or SIGINT. Exit codes: 0 clean stop, 2 usage or setup\n"
             "error, 1 it could not restart itself after its storage recovered.\n",
};

/* Storage failed and is writable again (rt_run): start anew from the WAL,
 * as after a crash, in the same process (same pid for whoever supervises
 * it). The first start's --fresh must not wipe the WAL this time. */
static void resume(int argc, char **argv)
{
    char **av = calloc((size_t)argc + 1, sizeof *av);
    if (!av) _exit(BFT_EXIT_FAIL);
    int k = 0;
    for (int i = 0; i < argc; i++)
        if (strcmp(argv[i], "--fresh") != 0) av[k++] = argv[i];
    av[k] = NULL;
    fflush(NULL);
    execv("/proc/self/exe", av);
    fprintf(stderr, "bftd: cannot restart itself: %s\n", strerror(errno));
    _exit(BFT_EXIT_FAIL);
}

int main(int argc, char **argv)
{
    struct rt_options opt = {.twin_instance = -1};
    uint64_t seen;
    enum cli_result r = cli_parse(&k_spec, argc, argv, &opt, &seen);
    if (r != CLI_PARSED) return r == CLI_HELP ? BFT_EXIT_OK : BFT_EXIT_USAGE;
    if (!opt.config_path || !cli_given(&k_spec, seen, "id")) {
        fprintf(stderr, "bftd: --config and --id are required\n");
        cli_usage(&k_spec, stderr);
        return BFT_EXIT_USAGE;
    }
    if (crypto_init() != 0) {
        fprintf(stderr, "bftd: crypto init failed\n");
        return BFT_EXIT_USAGE;
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
