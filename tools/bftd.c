/* bftd: one replica of a bft cluster.
 *   bftd --config DIR/cluster.json --id I [--data-dir D] [--fresh] [-v]
 * Exit codes: 0 clean stop (SIGTERM/SIGINT), 2 usage or setup error. */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int main(int argc, char **argv)
{
    struct rt_options opt = {0};
    bool have_id = false;
    static const struct option longopts[] = {
        {"config", required_argument, 0, 'c'}, {"id", required_argument, 0, 'i'},
        {"data-dir", required_argument, 0, 'd'}, {"fresh", no_argument, 0, 'F'},
        {"verbose", no_argument, 0, 'v'},      {"help", no_argument, 0, 'h'},
        {0, 0, 0, 0}};
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, "c:i:d:vh", longopts, NULL)) != -1) {
        switch (c) {
        case 'c': opt.config_path = optarg; break;
        case 'i':
            if (parse_u32(optarg, &opt.id) != 0) {
                fprintf(stderr, "bftd: --id needs a non-negative integer, got '%s'\n", optarg);
                return 2;
            }
            have_id = true;
            break;
        case 'd': opt.data_dir = optarg; break;
        case 'F': opt.fresh = true; break;
        case 'v': opt.verbose++; break;
        case 'h': usage(stdout); return 0;
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
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    return rt_run(&opt, &g_stop);
}
