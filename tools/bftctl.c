/* bftctl: keys, local clusters, status. See `bftctl --help`. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "tools/bftctl.h"

static void usage(FILE *f)
{
    fprintf(f,
            "usage: bftctl COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  keygen   --nodes N [--clients C] --out DIR [--protocol P] [--base-port PORT]\n"
            "           write keys (PEM, mode 0600) and DIR/cluster.json\n"
            "  cluster  --protocol pbft|hotstuff|raft --nodes N --duration S [options]\n"
            "           start one bftd per replica on 127.0.0.1, drive a closed-loop order\n"
            "           load, apply faults, stop, and check safety across replicas\n"
            "  status   --config DIR/cluster.json\n"
            "           show each replica's last reported state\n"
            "  bench    [--protocols pbft,hotstuff,raft] [--nodes 4,7] [--duration S] [--out DIR]\n"
            "           one cluster run per protocol and size; JSON, CSV and PNG results\n"
            "  audit    --dir DIR\n"
            "           verify the orders audit logs: intact hash chains, replicas agree,\n"
            "           order numbers gap-free and unique\n"
            "  soak     --protocol pbft|hotstuff|raft --duration S [--nodes N] [--seed X]\n"
            "           [--wipe-prob P] [--dir DIR] [--json F]: kill -9 a random replica or\n"
            "           the leader every ~5 s under load; safety, progress, ledger, digests,\n"
            "           audit logs\n"
            "  inject   --config DIR/cluster.json [--what junk,badsig]\n"
            "  read     --config DIR/cluster.json --client ID (--order C:ID | --key K)\n"
            "           [--level linearizable|quorum|local[:MS]]: one read against a running\n"
            "           cluster at a consistency level (docs/reads.md)\n"
            "           an outsider sends junk frames and badly signed messages to every replica\n"
            "\n"
            "Run `bftctl COMMAND --help` for the options of a command.\n"
            "Exit codes: 0 ok, 2 usage/setup error, 3 safety violated, 4 no progress.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return BFT_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return BFT_EXIT_OK;
    }
    if (crypto_init() != 0) {
        fprintf(stderr, "bftctl: crypto init failed\n");
        return BFT_EXIT_USAGE;
    }
    signal(SIGPIPE, SIG_IGN);
    if (!strcmp(argv[1], "keygen")) return cmd_keygen(argc - 1, argv + 1);
    if (!strcmp(argv[1], "cluster")) return cmd_cluster(argc - 1, argv + 1);
    if (!strcmp(argv[1], "status")) return cmd_status(argc - 1, argv + 1);
    if (!strcmp(argv[1], "bench")) return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(argv[1], "inject")) return cmd_inject(argc - 1, argv + 1);
    if (!strcmp(argv[1], "audit")) return cmd_audit(argc - 1, argv + 1);
    if (!strcmp(argv[1], "soak")) return cmd_soak(argc - 1, argv + 1);
    if (!strcmp(argv[1], "read")) return cmd_read(argc - 1, argv + 1);
    fprintf(stderr, "bftctl: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return BFT_EXIT_USAGE;
}
