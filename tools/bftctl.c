/* bftctl: keys, local clusters, status. See `bftctl --help`. */
#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "crypto/crypto.h"
#include "tools/bftctl.h"

/* One row per command: its name, the synopsis after the name, what it
 * does, and its entry point. The help and the dispatch read the same
 * table, so a description cannot end up under another command. */
static const struct ctl_command {
    const char *name, *synopsis, *what;
    int (*run)(int argc, char **argv);
} k_commands[] = {
    {"keygen", "--nodes N [--clients C] --out DIR [--protocol P] [--base-port PORT]",
     "write keys (PEM, mode 0600) and DIR/cluster.json", cmd_keygen},
    {"cluster", "--protocol pbft|hotstuff|raft --nodes N --duration S [options]",
     "start one bftd per replica on 127.0.0.1, drive a closed-loop order\n"
     "load, apply faults, stop, and check safety across replicas",
     cmd_cluster},
    {"status", "--config DIR/cluster.json [--watch S [--count K]] [--json]",
     "ask every replica over the network: role, view, leader, commits,\n"
     "peers heard, WAL/snapshot bytes, rejects, \"no quorum since\"",
     cmd_status},
    {"bench", "[--protocols pbft,hotstuff,raft] [--nodes 4,7] [--duration S] [--out DIR]",
     "one cluster run per protocol and size; JSON, CSV and PNG results", cmd_bench},
    {"audit", "--dir DIR",
     "verify the orders audit logs: intact hash chains, replicas agree,\n"
     "order numbers gap-free and unique",
     cmd_audit},
    {"soak",
     "--protocol pbft|hotstuff|raft --duration S [--nodes N] [--seed X]\n"
     "[--wipe-prob P] [--clients C] [--dir DIR] [--json F]",
     "kill -9 a random replica or the leader every ~5 s under load; safety,\n"
     "progress, ledger, digests, audit logs",
     cmd_soak},
    {"inject", "--config DIR/cluster.json [--what junk,badsig]",
     "an outsider sends junk frames and badly signed messages to every replica", cmd_inject},
    {"read",
     "--config DIR/cluster.json --client ID (--order C:ID | --key K)\n"
     "[--level linearizable|quorum|local[:MS]] [--timeout MS]",
     "one read against a running cluster at a consistency level (docs/reads.md)", cmd_read},
    {"submit",
     "--config DIR/cluster.json --client ID (--order SYM:buy|sell:QTY:PRICE[:COID] |\n"
     "--kv-put K=V | --kv-del K | --op-hex HEX) [--req-no N] [--timeout MS]",
     "place one operation against a running cluster; --req-no retries it\n"
     "exactly once (exit 4: unknown outcome, retry command printed)",
     cmd_submit},
    /* Against replicas started by hand, on one host or many (docs/deploy.md). */
    {"load",
     "--config DIR/cluster.json [--clients C] [--outstanding K] [--duration S]\n"
     "[--ledger FILE] [--json FILE]",
     "closed-loop orders against a running cluster; acknowledged orders to FILE", cmd_load},
    {"check", "--config DIR/cluster.json [--dir DIR] [--ledger FILE] [--killed I,J]",
     "bftctl cluster's safety checks over the data dirs of stopped replicas", cmd_check},
};
#define N_COMMANDS (sizeof k_commands / sizeof *k_commands)

/* Lines of s, each indented by `indent` spaces. */
static void put_lines(FILE *f, int indent, const char *s)
{
    while (*s) {
        const char *nl = strchr(s, '\n');
        int len = nl ? (int)(nl - s) : (int)strlen(s);
        fprintf(f, "%*s%.*s\n", indent, "", len, s);
        s = nl ? nl + 1 : s + len;
    }
}

static void usage(FILE *f)
{
    fprintf(f, "usage: bftctl COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        const struct ctl_command *c = &k_commands[i];
        const char *nl = strchr(c->synopsis, '\n');
        int len = nl ? (int)(nl - c->synopsis) : (int)strlen(c->synopsis);
        fprintf(f, "  %-8s %.*s\n", c->name, len, c->synopsis);
        if (nl) put_lines(f, 11, nl + 1);
        put_lines(f, 11, c->what);
    }
    fprintf(f, "\nRun `bftctl COMMAND --help` for the options of a command.\n"
               "Exit codes: 0 ok, 1 a bench run not safe or an inject transport error,\n"
               "2 usage/setup error, 3 safety violated, 4 no progress or no answer.\n");
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
    for (size_t i = 0; i < N_COMMANDS; i++)
        if (!strcmp(argv[1], k_commands[i].name)) return k_commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "bftctl: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return BFT_EXIT_USAGE;
}
