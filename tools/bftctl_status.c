/* bftctl status: ask every replica over the network (GET /status on its
 * status address, docs/design.md "bftctl status") and print one row per
 * replica; --watch refreshes, --json prints the pages as served. */
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config/cluster.h"
#include "tools/bftctl.h"
#include "tools/bftctl_status.h"

static volatile sig_atomic_t g_stop;
static void on_signal(int sig)
{
    (void)sig;
    g_stop = 1;
}

static uint64_t unix_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

struct status_args {
    const char *cfg;
    bool json;
    double watch_s;
    uint32_t count, timeout_ms;
};

/* --watch [SECONDS]: the argument is optional, so it is a flag here and
 * --every carries the period. */
#define OFF(field) offsetof(struct status_args, field)
static const struct cli_opt k_opts[] = {
    {"config", 0, "PATH", CLI_STR, OFF(cfg), 0, 0, NULL, "cluster.json (required)"},
    {"json", 0, NULL, CLI_FLAG, OFF(json), 0, 0, NULL, "print JSON (every replica's page)"},
    {"watch", 0, "SECONDS", CLI_DOUBLE, OFF(watch_s), 0.2, 3600, NULL,
     "refresh every SECONDS until interrupted (or --count)"},
    {"count", 0, "K", CLI_U32, OFF(count), 1, 1000000, NULL, "with --watch: stop after K rounds"},
    {"timeout", 0, "MS", CLI_U32, OFF(timeout_ms), 10, 60000, NULL,
     "wait at most MS for each replica (default 2000)"},
};
#undef OFF

static const struct cli_spec k_spec = {
    .prog = "bftctl status",
    .synopsis = "bftctl status --config DIR/cluster.json [--watch SECONDS [--count K]] [--json]\n"
                "                     [--timeout MS]",
    .intro = "Asks every replica for its status page (GET /status on replicas[i].status,\n"
             "else metrics_base PORT+i) and prints role, view or term, leader, committed\n"
             "seq, age of the last commit, peers heard within 3 s, WAL and snapshot bytes,\n"
             "rejects by reason, and \"no quorum since T\" when the replica has work it\n"
             "has not been able to commit for 3 s (docs/design.md \"bftctl status\").\n",
    .opts = k_opts,
    .n_opts = sizeof k_opts / sizeof *k_opts,
    .outro = "Exit codes: 0 every replica answered (the last round with --watch),\n"
             "2 usage or a bad config, 4 some replica did not answer.\n",
};

int cmd_status(int argc, char **argv)
{
    struct status_args a = {.timeout_ms = 2000};
    enum cli_result cr = cli_parse(&k_spec, argc, argv, &a, NULL);
    if (cr != CLI_PARSED) return cr == CLI_HELP ? BFT_EXIT_OK : BFT_EXIT_USAGE;
    if (!a.cfg) {
        fprintf(stderr, "bftctl status: --config is required\n");
        cli_usage(&k_spec, stderr);
        return BFT_EXIT_USAGE;
    }
    if (a.count && a.watch_s == 0) {
        fprintf(stderr, "bftctl status: --count needs --watch\n");
        return BFT_EXIT_USAGE;
    }
    struct bft_cluster cl;
    char err[512];
    if (bft_cluster_load(&cl, a.cfg, err, sizeof err) != 0) {
        fprintf(stderr, "bftctl status: %s\n", err);
        return BFT_EXIT_USAGE;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    bool tty = isatty(STDOUT_FILENO) && !a.json;
    struct ctl_status_row rows[BFT_MAX_REPLICAS];
    int rc = BFT_EXIT_OK;
    for (uint32_t round = 0; !g_stop; round++) {
        uint32_t got = ctl_status_fetch(&cl, (int)a.timeout_ms, rows);
        if (a.watch_s > 0 && tty) printf("\033[H\033[2J"); /* redraw in place */
        if (a.json)
            ctl_status_print_json(stdout, &cl, rows, unix_ms());
        else
            ctl_status_print(stdout, &cl, rows, unix_ms());
        fflush(stdout);
        ctl_status_rows_free(rows, cl.n);
        rc = got == cl.n ? BFT_EXIT_OK : BFT_EXIT_NO_PROGRESS;
        if (a.watch_s == 0 || (a.count && round + 1 >= a.count)) break;
        /* Sleep in short steps so that Ctrl-C ends the watch at once. */
        for (double slept = 0; slept < a.watch_s && !g_stop; slept += 0.1)
            usleep(100000);
        if (!tty && !a.json) printf("\n");
    }
    bft_cluster_free(&cl);
    return rc;
}
