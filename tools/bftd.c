/* bftd: one replica of a bft cluster.
 *   bftd --config DIR/cluster.json --id I [--data-dir D] [--fresh] [-v]
 *        [--plan PLAN.json --plan-start-ms MS] [--twin-instance K]
 *        [--listen URL] [--peer ID=URL]...
 * A thin main over the public replica API (bft/replica.h): flags, signals,
 * and re-executing itself when the storage recovers.
 * Exit codes: 0 clean stop (SIGTERM/SIGINT), 2 usage or setup error, 1 its
 * transport failed or it could not restart itself after a storage failure
 * (docs/architecture.md "Storage failures"). */
#include <errno.h>
#include <stddef.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bft/replica.h"
#include "runtime/runtime.h"
#include "tools/cli.h"
#include "tools/exit_codes.h"

/* The public options and bftd's own (runtime/runtime.h). */
struct bftd_args {
    struct bft_replica_options opt;
    struct bft_replica_advanced adv;
};

/* bft_replica_stop is async-signal-safe (bft/replica.h). A signal that
 * comes while the replica is being set up is kept in g_stop_early. */
static struct bft_replica *volatile g_replica;
static volatile sig_atomic_t g_stop_early;

static void on_signal(int sig)
{
    (void)sig;
    g_stop_early = 1;
    if (g_replica) bft_replica_stop(g_replica);
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
    ((struct bftd_args *)ctx)->opt.plan_start_ms = v;
    return 0;
}

static int parse_twin_instance(const char *prog, const struct cli_opt *o, void *ctx,
                               const char *arg)
{
    (void)prog;
    uint32_t u;
    if (cli_uint("bftd", o->name, arg, 0, 1, &u) != 0) return -1;
    ((struct bftd_args *)ctx)->adv.twin_instance = (int)u;
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
    struct bft_replica_advanced *opt = &((struct bftd_args *)ctx)->adv;
    uint32_t k = opt->n_peer_overrides;
    return parse_peer_url(o->name, arg, &opt->n_peer_overrides,
                          &opt->peer_override[k < BFT_MAX_REPLICAS ? k : 0].id,
                          &opt->peer_override[k < BFT_MAX_REPLICAS ? k : 0].url);
}

static int parse_twin_peer(const char *prog, const struct cli_opt *o, void *ctx, const char *arg)
{
    (void)prog;
    struct bft_replica_advanced *opt = &((struct bftd_args *)ctx)->adv;
    uint32_t k = opt->n_twin_peers;
    return parse_peer_url(o->name, arg, &opt->n_twin_peers,
                          &opt->twin_peer[k < BFT_MAX_REPLICAS ? k : 0].id,
                          &opt->twin_peer[k < BFT_MAX_REPLICAS ? k : 0].url);
}

#define OFF(field) offsetof(struct bftd_args, opt.field)
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
    {"listen", 0, "URL", CLI_STR, offsetof(struct bftd_args, adv.listen), 0, 0, NULL,
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
             "error, 1 its transport failed or it could not restart itself after its\n"
             "storage recovered.\n",
};

/* Storage failed and is writable again (BFT_REPLICA_RESUME): start anew
 * from the WAL,
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
    struct bftd_args a = {.opt = {.version = BFT_REPLICA_OPTIONS_VERSION},
                          .adv = {.twin_instance = -1, .exit_after_destroy = true}};
    uint64_t seen;
    enum cli_result r = cli_parse(&k_spec, argc, argv, &a, &seen);
    if (r != CLI_PARSED) return r == CLI_HELP ? BFT_EXIT_OK : BFT_EXIT_USAGE;
    if (!a.opt.config_path || !cli_given(&k_spec, seen, "id")) {
        fprintf(stderr, "bftd: --config and --id are required\n");
        cli_usage(&k_spec, stderr);
        return BFT_EXIT_USAGE;
    }
    a.opt.advanced = &a.adv;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char err[2048];
    struct bft_replica *rep;
    if (bft_replica_create(&rep, &a.opt, err, sizeof err) != BFT_E_OK) {
        fprintf(stderr, "bftd: %s\n", err);
        return BFT_EXIT_USAGE;
    }
    g_replica = rep;
    if (g_stop_early) bft_replica_stop(rep);
    int rv = bft_replica_run(rep);
    bft_replica_destroy(rep);
    if (rv == BFT_REPLICA_RESUME) resume(argc, argv);
    return rv == BFT_REPLICA_STOPPED ? BFT_EXIT_OK : BFT_EXIT_FAIL;
}
